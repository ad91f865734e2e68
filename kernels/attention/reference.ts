/**
 * CPU reference of causal multi-head self-attention (Vaswani et al., "Attention Is All You Need",
 * arXiv 1706.03762, eq. 1) on a fused qkv tensor, in float64:
 *
 *   S = q·kᵀ/√Dh (keys j ≤ query t only),  P = softmax(S) row-wise,  y = P·v,
 *
 * per (batch, head). qkv is [B·T, 3·D] (row b·T + t, features [q | k | v], head h at columns
 * h·Dh … (h+1)·Dh − 1 of each part, D = H·Dh); y is [B·T, D] in the same head layout. The forward
 * also returns the row log-sum-exp lse[b, h, t] = log Σ_j exp(S_tj), which the GPU backward uses
 * to recompute P (Dao et al., "FlashAttention", arXiv 2205.14135, Alg. 2).
 *
 * The backward applies the softmax Jacobian directly (FlashAttention, appendix B.2):
 * dv_j = Σ_t P_tj dy_t, dP_tj = dy_t·v_j, dS_tj = P_tj (dP_tj − Σ_j' P_tj' dP_tj'),
 * dq_t = Σ_j dS_tj k_j/√Dh, dk_j = Σ_t dS_tj q_t/√Dh.
 *
 * @module
 */

/**
 * Attention shape: qkv [batch·seq, 3·heads·headDim].
 *
 * @example
 * ```ts
 * import type { AttentionDims } from "./reference.ts";
 * const dims: AttentionDims = { batch: 2, seq: 17, heads: 2, headDim: 16 };
 * ```
 */
export interface AttentionDims {
  /** Sequences. */
  readonly batch: number;
  /** Tokens per sequence. */
  readonly seq: number;
  /** Attention heads (H). */
  readonly heads: number;
  /** Features per head (Dh). */
  readonly headDim: number;
}

/**
 * Throws a RangeError unless every dimension is a positive integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkAttentionDims } from "./reference.ts";
 * assert.throws(() => checkAttentionDims({ batch: 1, seq: 0, heads: 1, headDim: 8 }), RangeError);
 * ```
 */
export function checkAttentionDims(dims: AttentionDims): void {
  for (const name of ["batch", "seq", "heads", "headDim"] as const) {
    const v = dims[name];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`attention ${name} must be a positive integer, got ${v}`);
    }
  }
}

/**
 * The largest head dimension the GPU kernels take (kernels/attention/mod.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_HEAD_DIM } from "./reference.ts";
 * assert.equal(MAX_HEAD_DIM, 128);
 * ```
 */
export const MAX_HEAD_DIM = 128;

/**
 * Throws a RangeError unless `heads` and `headDim` are positive integers and `headDim` is at most
 * {@link MAX_HEAD_DIM}: the head layouts the GPU kernels compile for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkAttentionConfig } from "./reference.ts";
 * checkAttentionConfig({ heads: 12, headDim: 64 });
 * assert.throws(() => checkAttentionConfig({ heads: 1, headDim: 256 }), /at most 128/);
 * ```
 */
export function checkAttentionConfig(
  config: { readonly heads: number; readonly headDim: number },
): void {
  checkAttentionDims({ batch: 1, seq: 1, ...config });
  if (config.headDim > MAX_HEAD_DIM) {
    throw new RangeError(
      `attention headDim must be at most ${MAX_HEAD_DIM}, got ${config.headDim}`,
    );
  }
}

function checkLength(what: string, x: ArrayLike<number>, n: number): void {
  if (x.length !== n) {
    throw new RangeError(`attention: ${what} has ${x.length} values, expected ${n}`);
  }
}

/** Softmax probabilities P[t][j] (j ≤ t) of one (batch, head), and each row's log-sum-exp. */
function probabilities(
  qkv: ArrayLike<number>,
  dims: AttentionDims,
  b: number,
  h: number,
): { p: Float64Array[]; lse: Float64Array } {
  const { seq, heads, headDim } = dims;
  const width = 3 * heads * headDim;
  const q0 = h * headDim;
  const k0 = heads * headDim + q0;
  const scale = 1 / Math.sqrt(headDim);
  const p: Float64Array[] = [];
  const lse = new Float64Array(seq);
  for (let t = 0; t < seq; t++) {
    const row = new Float64Array(t + 1);
    const qa = (b * seq + t) * width + q0;
    let max = -Infinity;
    for (let j = 0; j <= t; j++) {
      const ka = (b * seq + j) * width + k0;
      let s = 0;
      for (let d = 0; d < headDim; d++) s += qkv[qa + d] * qkv[ka + d];
      row[j] = s * scale;
      max = Math.max(max, row[j]);
    }
    let sum = 0;
    for (let j = 0; j <= t; j++) sum += row[j] = Math.exp(row[j] - max);
    for (let j = 0; j <= t; j++) row[j] /= sum;
    lse[t] = max + Math.log(sum);
    p.push(row);
  }
  return { p, lse };
}

/**
 * Causal attention forward: y [B·T, D] and lse [B, H, T] (float64).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionForward } from "./reference.ts";
 * // T = 2, one head of size 1, q = k = 0: row 0 sees v_0, row 1 averages v_0 and v_1.
 * const qkv = [0, 0, 2, 0, 0, 4]; // rows [q | k | v]
 * const { y, lse } = attentionForward(qkv, { batch: 1, seq: 2, heads: 1, headDim: 1 });
 * assert.deepEqual([...y], [2, 3]);
 * assert.deepEqual([...lse], [0, Math.log(2)]);
 * ```
 */
export function attentionForward(
  qkv: ArrayLike<number>,
  dims: AttentionDims,
): { y: Float64Array; lse: Float64Array } {
  checkAttentionDims(dims);
  const { batch, seq, heads, headDim } = dims;
  const d = heads * headDim;
  checkLength("qkv", qkv, batch * seq * 3 * d);
  const y = new Float64Array(batch * seq * d);
  const lse = new Float64Array(batch * heads * seq);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const { p, lse: rowLse } = probabilities(qkv, dims, b, h);
      lse.set(rowLse, (b * heads + h) * seq);
      const v0 = 2 * d + h * headDim;
      for (let t = 0; t < seq; t++) {
        const ya = (b * seq + t) * d + h * headDim;
        for (let j = 0; j <= t; j++) {
          const va = (b * seq + j) * 3 * d + v0;
          for (let e = 0; e < headDim; e++) y[ya + e] += p[t][j] * qkv[va + e];
        }
      }
    }
  }
  return { y, lse };
}

/**
 * Causal attention backward: dqkv [B·T, 3·D] (dq | dk | dv) from qkv and dy [B·T, D] (float64).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionBackward } from "./reference.ts";
 * // T = 1: y = v, so dv = dy and dq = dk = 0.
 * const dqkv = attentionBackward([1, 2, 3], [5], { batch: 1, seq: 1, heads: 1, headDim: 1 });
 * assert.deepEqual([...dqkv], [0, 0, 5]);
 * ```
 */
export function attentionBackward(
  qkv: ArrayLike<number>,
  dy: ArrayLike<number>,
  dims: AttentionDims,
): Float64Array {
  checkAttentionDims(dims);
  const { batch, seq, heads, headDim } = dims;
  const d = heads * headDim;
  checkLength("qkv", qkv, batch * seq * 3 * d);
  checkLength("dy", dy, batch * seq * d);
  const scale = 1 / Math.sqrt(headDim);
  const dqkv = new Float64Array(batch * seq * 3 * d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const { p } = probabilities(qkv, dims, b, h);
      const [q0, k0, v0] = [0, d, 2 * d].map((o) => o + h * headDim);
      const at = (t: number) => (b * seq + t) * 3 * d;
      for (let t = 0; t < seq; t++) {
        const ga = (b * seq + t) * d + h * headDim;
        const dp = new Float64Array(t + 1);
        let rowDot = 0;
        for (let j = 0; j <= t; j++) {
          for (let e = 0; e < headDim; e++) {
            dp[j] += dy[ga + e] * qkv[at(j) + v0 + e];
            dqkv[at(j) + v0 + e] += p[t][j] * dy[ga + e];
          }
          rowDot += p[t][j] * dp[j];
        }
        for (let j = 0; j <= t; j++) {
          const ds = p[t][j] * (dp[j] - rowDot) * scale;
          for (let e = 0; e < headDim; e++) {
            dqkv[at(t) + q0 + e] += ds * qkv[at(j) + k0 + e];
            dqkv[at(j) + k0 + e] += ds * qkv[at(t) + q0 + e];
          }
        }
      }
    }
  }
  return dqkv;
}
