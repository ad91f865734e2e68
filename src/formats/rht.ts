/**
 * The Random Hadamard Transform (NUMERICS.md §3): `x' = ((x ⊙ s)·H_d)·(1/√d)` on consecutive
 * blocks of `d` elements along each row, with `H_d` the Sylvester Hadamard matrix.
 *
 * The summation order is part of the definition: an in-place butterfly over strides 1, 2, 4, …,
 * each add rounded to FP32 (subnormals flushed), then one FP32 multiply by `fp32(1/√d)` (exact for
 * d = 16 and 64). The WGSL kernels use the same order and are bit-identical.
 *
 * @module
 */

import { add32, mul32, sub32 } from "./fp32.ts";
import { mix32, randomBits } from "./rng.ts";

/**
 * TransformerEngine's fixed Wgrad sign vector (`get_wgrad_sign_vector`), also torchao's default;
 * one vector for every layer and step, as in the paper. For d > 16 it repeats with period 16.
 */
export const RHT_SIGNS_16: readonly number[] = [
  1,
  1,
  1,
  -1,
  1,
  -1,
  -1,
  -1,
  -1,
  -1,
  -1,
  1,
  -1,
  1,
  -1,
  -1,
];

/** Transform sizes the kernels support. */
export const RHT_SIZES: readonly number[] = [16, 32, 64, 128];

/** The default sign vector for a transform of size `d`. */
export function defaultSigns(d: number): number[] {
  return Array.from({ length: d }, (_, i) => RHT_SIGNS_16[i % 16]);
}

/** Options of {@link hadamard}. */
export interface HadamardOptions {
  /** Block size d: 16 (default), 32, 64 or 128. */
  size?: number;
  /**
   * d entries of ±1 (all +1: a deterministic Hadamard); defaults to {@link RHT_SIGNS_16} repeated.
   * `"random"`: one vector per step, drawn ({@link randomSigns}) from the stream of
   * `QuantizeOptions.rhtTensorId` (default the tensor's own id) at the seed and step, as Quartet II
   * re-randomizes it; the two operands of a GEMM must share it.
   */
  signs?: readonly number[] | "random";
}

/** Salt that separates the sign stream of a tensor's key from its rounding stream ("SIGN"). */
export const RHT_SIGN_SALT = 0x5349474e;

/**
 * The random sign vector of size `d` for stream key `key` (a tensor at a step, src/formats/rng.ts):
 * sign j is −1 where bit j % 32 of `randomBits(mix32(key ^ RHT_SIGN_SALT), ⌊j / 32⌋)` is set. The
 * WGSL quantizer derives the same bits from the key it is given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomSigns } from "./rht.ts";
 * assert.deepEqual(randomSigns(7, 16), randomSigns(7, 16));
 * assert.notDeepEqual(randomSigns(7, 16), randomSigns(8, 16));
 * assert.ok(randomSigns(7, 64).every((s) => s === 1 || s === -1));
 * ```
 */
export function randomSigns(key: number, d: number): number[] {
  const signKey = mix32((key ^ RHT_SIGN_SALT) >>> 0);
  return Array.from(
    { length: d },
    (_, j) => ((randomBits(signKey, j >> 5) >>> (j & 31)) & 1) ? -1 : 1,
  );
}

/**
 * Checks hadamard arguments and returns the resolved size and signs; random signs come from `key`
 * (the tensor's stream key at this step), which they then require.
 */
export function resolveHadamard(cols: number, opts: HadamardOptions = {}, key?: number): {
  size: number;
  signs: number[];
} {
  const size = opts.size ?? 16;
  if (!RHT_SIZES.includes(size)) {
    throw new RangeError(`size must be one of ${RHT_SIZES.join(", ")}, got ${size}`);
  }
  if (cols % size !== 0) {
    throw new RangeError(`cols (${cols}) must be a multiple of the Hadamard size ${size}`);
  }
  if (opts.signs === "random" && key === undefined) {
    throw new RangeError(`random RHT signs need the tensor's stream key`);
  }
  const signs = opts.signs === "random"
    ? randomSigns(key!, size)
    : opts.signs
    ? [...opts.signs]
    : defaultSigns(size);
  if (signs.length !== size || signs.some((s) => s !== 1 && s !== -1)) {
    throw new RangeError(
      `signs must hold ${size} entries of +1 or -1, got [${signs.join(", ")}]`,
    );
  }
  return { size, signs };
}

/** The FP32 scale `fp32(1/√d)` applied after the butterfly. */
export function hadamardScale(d: number): number {
  return Math.fround(1 / Math.sqrt(d));
}

/** Transforms `v[off, off+d)` in place (v holds FP32 values). */
export function hadamardBlock(
  v: Float32Array | number[],
  off: number,
  signs: readonly number[],
): void {
  const d = signs.length;
  for (let i = 0; i < d; i++) if (signs[i] < 0) v[off + i] = -v[off + i];
  for (let h = 1; h < d; h *= 2) {
    for (let i = 0; i < d; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = v[off + j];
        const b = v[off + j + h];
        v[off + j] = add32(a, b);
        v[off + j + h] = sub32(a, b);
      }
    }
  }
  const s = hadamardScale(d);
  for (let i = 0; i < d; i++) v[off + i] = mul32(v[off + i], s);
}
