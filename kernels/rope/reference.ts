/**
 * CPU reference of rotary position embedding (RoPE; Su et al., "RoFormer: Enhanced Transformer with
 * Rotary Position Embedding", arXiv 2104.09864, §3.2.2 and the element-wise form of §3.4.2) in the GPT-NeoX "rotate half" pairing:
 * within each head, feature i is rotated together with feature i + Dh/2 by the angle t·θ_i at
 * position t, θ_i = base^(−2i/Dh), i < Dh/2:
 *
 *   x'_i = x_i·cos − x_{i+Dh/2}·sin,   x'_{i+Dh/2} = x_{i+Dh/2}·cos + x_i·sin.
 *
 * It acts on the q and k parts of a fused qkv tensor [B·T, 3·D] (row b·T + t, features
 * [q | k | v], head h at columns h·Dh … (h+1)·Dh − 1 of each part) and leaves v alone. The
 * backward pass is the inverse (transposed) rotation applied to dq and dk.
 *
 * The cos/sin table is computed in float64 and rounded to f32 once ({@link ropeTable}); the GPU
 * kernel uploads the same table, and the rotations here run in float64 on those f32 values.
 *
 * @module
 */

/**
 * Shape of a fused qkv tensor [batch·seq, 3·heads·headDim].
 *
 * @example
 * ```ts
 * import type { RopeDims } from "./reference.ts";
 * const dims: RopeDims = { batch: 2, seq: 5, heads: 2, headDim: 8 };
 * ```
 */
export interface RopeDims {
  /** Sequences. */
  readonly batch: number;
  /** Tokens per sequence. */
  readonly seq: number;
  /** Attention heads. */
  readonly heads: number;
  /** Features per head (even). */
  readonly headDim: number;
}

/**
 * The default RoPE base, 10000 (RoFormer §3.2.2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ROPE_BASE, ropeTable } from "./reference.ts";
 * assert.deepEqual(ropeTable(2, 4, ROPE_BASE), ropeTable(2, 4));
 * ```
 */
export const ROPE_BASE = 10000;

/**
 * Throws a RangeError unless `dims` are positive integers with an even head dimension and `base`
 * is a finite number above 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkRopeDims } from "./reference.ts";
 * assert.throws(() => checkRopeDims({ batch: 1, seq: 4, heads: 2, headDim: 7 }), RangeError);
 * ```
 */
export function checkRopeDims(dims: RopeDims, base = ROPE_BASE): void {
  for (const name of ["batch", "seq", "heads", "headDim"] as const) {
    const v = dims[name];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`RoPE ${name} must be a positive integer, got ${v}`);
    }
  }
  if (dims.headDim % 2 !== 0) {
    throw new RangeError(`RoPE headDim must be even, got ${dims.headDim}`);
  }
  if (!(Number.isFinite(base) && base > 0)) {
    throw new RangeError(`RoPE base must be a positive finite number, got ${base}`);
  }
}

/**
 * The rotation table [seq, headDim/2, 2]: entry (t, i) holds f32(cos(t·θ_i)), f32(sin(t·θ_i)) with
 * θ_i = base^(−2i/headDim), computed in float64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ropeTable } from "./reference.ts";
 * const table = ropeTable(3, 4); // θ = [1, 0.01]
 * assert.equal(table[0], 1); // cos(0)
 * assert.equal(table[2 * 2 + 1], Math.fround(Math.sin(1))); // t = 1, i = 0
 * assert.equal(table[4 * 2 + 2 + 1], Math.fround(Math.sin(0.02))); // t = 2, i = 1
 * ```
 */
export function ropeTable(seq: number, headDim: number, base = ROPE_BASE): Float32Array {
  const half = headDim / 2;
  const table = new Float32Array(seq * half * 2);
  for (let t = 0; t < seq; t++) {
    for (let i = 0; i < half; i++) {
      const angle = t * base ** (-2 * i / headDim);
      table[(t * half + i) * 2] = Math.cos(angle);
      table[(t * half + i) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

/** Rotates the q and k parts of every row by +angle (`sign` 1) or −angle (`sign` −1). */
function rotate(
  x: ArrayLike<number>,
  dims: RopeDims,
  base: number,
  sign: 1 | -1,
): Float64Array {
  checkRopeDims(dims, base);
  const { batch, seq, heads, headDim } = dims;
  const d = heads * headDim;
  const half = headDim / 2;
  if (x.length !== batch * seq * 3 * d) {
    throw new RangeError(`RoPE: qkv has ${x.length} values, expected ${batch * seq * 3 * d}`);
  }
  const table = ropeTable(seq, headDim, base);
  const out = Float64Array.from(x);
  for (let row = 0; row < batch * seq; row++) {
    const t = row % seq;
    for (let part = 0; part < 2; part++) {
      for (let h = 0; h < heads; h++) {
        const at = row * 3 * d + part * d + h * headDim;
        for (let i = 0; i < half; i++) {
          const c = table[(t * half + i) * 2];
          const s = sign * table[(t * half + i) * 2 + 1];
          const a = x[at + i];
          const b = x[at + i + half];
          out[at + i] = a * c - b * s;
          out[at + i + half] = b * c + a * s;
        }
      }
    }
  }
  return out;
}

/**
 * RoPE forward: a copy of `qkv` [B·T, 3·D] with q and k rotated (float64 arithmetic).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ropeForward } from "./reference.ts";
 * // One head of size 2 (θ_0 = 1): at t = 1, q = (1, 0) turns by 1 radian; v is unchanged.
 * const qkv = [0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 5, 6];
 * const y = ropeForward(qkv, { batch: 1, seq: 2, heads: 1, headDim: 2 });
 * assert.equal(y[6], Math.fround(Math.cos(1)));
 * assert.equal(y[7], Math.fround(Math.sin(1)));
 * assert.deepEqual([...y.subarray(10)], [5, 6]);
 * ```
 */
export function ropeForward(
  qkv: ArrayLike<number>,
  dims: RopeDims,
  base = ROPE_BASE,
): Float64Array {
  return rotate(qkv, dims, base, 1);
}

/**
 * RoPE backward: the gradient with respect to the un-rotated qkv, given the gradient `dqkv` with
 * respect to the rotated one; the rotation is orthogonal, so this is the rotation by −angle
 * (dv passes through).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ropeBackward, ropeForward } from "./reference.ts";
 * const dims = { batch: 1, seq: 3, heads: 1, headDim: 4 };
 * const x = Array.from({ length: 36 }, (_, i) => Math.sin(i));
 * const back = ropeBackward(ropeForward(x, dims), dims);
 * assert.ok(back.every((v, i) => Math.abs(v - x[i]) < 1e-7));
 * ```
 */
export function ropeBackward(
  dqkv: ArrayLike<number>,
  dims: RopeDims,
  base = ROPE_BASE,
): Float64Array {
  return rotate(dqkv, dims, base, -1);
}
