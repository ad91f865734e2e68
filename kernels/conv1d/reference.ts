/**
 * CPU reference for Mamba-2's causal depthwise conv1d followed by SiLU, forward and backward, in
 * float64 (the oracle for `kernels/conv1d/mod.ts`). Gu & Dao 2023, "Mamba", §3.4 and Dao & Gu 2024,
 * "Transformers are SSMs" (Mamba-2), §7: a short causal convolution over each channel of the
 * `xBC` projection, then SiLU.
 *
 * Rows are `m = b·T + t` of a row-major `[batch·T, C]` tensor; each channel `c` has its own window
 * of `K` taps `w[c, 0…K−1]` and a bias:
 *
 * - `pre[m, c] = bias[c] + Σ_k w[c, k] · x[m − (K−1) + k, c]`, where taps before the start of the
 *   row's sequence (`t − (K−1) + k < 0`) read zero: causal, zero-padded, per sequence;
 * - `y = silu(pre) = pre·σ(pre)`.
 *
 * Backward, with `dpre = dy · silu'(pre)` and `silu'(p) = σ(p)·(1 + p·(1 − σ(p)))`:
 * `dx[t, c] = Σ_k w[c, k] · dpre[t + (K−1) − k, c]` (rows past the sequence's end are zero),
 * `dw[c, k] = Σ_m dpre[m, c] · x[m − (K−1) + k, c]`, `dbias[c] = Σ_m dpre[m, c]`.
 *
 * The op's contract: windows of 1…{@link MAX_CONV_WINDOW} taps (default {@link CONV_WINDOW}), and
 * the GPU backward's row blocks from `normBlocks` (kernels/norm/reference.ts), which fix the
 * size of its scratch buffer ({@link convScratchElements}).
 *
 * @module
 */

import { normBlocks } from "../norm/reference.ts";

/**
 * Taps per channel when none is given (Mamba-2's `d_conv`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONV_WINDOW } from "./reference.ts";
 * assert.equal(CONV_WINDOW, 4);
 * ```
 */
export const CONV_WINDOW = 4;

/**
 * The largest window the GPU kernels (unrolled over the taps) take.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_CONV_WINDOW } from "./reference.ts";
 * assert.equal(MAX_CONV_WINDOW, 16);
 * ```
 */
export const MAX_CONV_WINDOW = 16;

/**
 * Channels `C` and window `K` (default {@link CONV_WINDOW}) of a kernel configuration; a
 * RangeError naming a bad field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConvConfig } from "./reference.ts";
 * assert.deepEqual(checkConvConfig({ channels: 1152 }), { C: 1152, K: 4 });
 * assert.throws(() => checkConvConfig({ channels: 8, window: 17 }), /window must be/);
 * ```
 */
export function checkConvConfig(
  config: { readonly channels: number; readonly window?: number },
): { C: number; K: number } {
  const { channels: C, window: K = CONV_WINDOW } = config;
  if (!Number.isInteger(C) || C < 1) {
    throw new RangeError(`conv1d: channels must be a positive integer, got ${C}`);
  }
  if (!Number.isInteger(K) || K < 1 || K > MAX_CONV_WINDOW) {
    throw new RangeError(
      `conv1d: window must be an integer in [1, ${MAX_CONV_WINDOW}], got ${K}`,
    );
  }
  return { C, K };
}

/**
 * Rows (`batch · seq`) of a batch; a RangeError naming a bad dimension.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConvRows } from "./reference.ts";
 * assert.equal(checkConvRows({ batch: 2, seq: 512 }), 1024);
 * assert.throws(() => checkConvRows({ batch: 0, seq: 512 }), /batch must be/);
 * ```
 */
export function checkConvRows(dims: { readonly batch: number; readonly seq: number }): number {
  for (const name of ["batch", "seq"] as const) {
    if (!Number.isInteger(dims[name]) || dims[name] < 1) {
      throw new RangeError(`conv1d: ${name} must be a positive integer, got ${dims[name]}`);
    }
  }
  return dims.batch * dims.seq;
}

/**
 * f32 elements of the GPU backward's scratch buffer (`blocks · C·(K+1)`, row blocks of
 * `batch·seq` rows from `normBlocks`); needs no GPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convScratchElements } from "./reference.ts";
 * const elements = convScratchElements({ channels: 1152, window: 4 }, { batch: 8, seq: 512 });
 * assert.equal(elements, 512 * 1152 * 5); // 512 row blocks × C·(K + 1)
 * ```
 */
export function convScratchElements(
  config: { readonly channels: number; readonly window?: number },
  dims: { readonly batch: number; readonly seq: number },
): number {
  const { C, K } = checkConvConfig(config);
  return normBlocks(checkConvRows(dims)).blocks * C * (K + 1);
}

/**
 * Shape of a causal convolution: `batch` sequences of `seq` rows, `channels` channels, `window`
 * taps.
 *
 * @example
 * ```ts
 * import type { ConvDims } from "./reference.ts";
 * const dims: ConvDims = { batch: 2, seq: 512, channels: 1152, window: 4 };
 * console.log(dims.batch * dims.seq); // rows
 * ```
 */
export interface ConvDims {
  /** Sequences. */
  readonly batch: number;
  /** Rows per sequence (T). */
  readonly seq: number;
  /** Channels (C). */
  readonly channels: number;
  /** Taps per channel (K). */
  readonly window: number;
}

const sigmoid = (a: number) => 1 / (1 + Math.exp(-a));

/** `pre[m, c]` (before SiLU) for every row and channel. */
function preActivation(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number>,
  dims: ConvDims,
): Float64Array {
  const { batch, seq, channels: C, window: K } = dims;
  const pre = new Float64Array(batch * seq * C);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seq; t++) {
      const m = b * seq + t;
      for (let c = 0; c < C; c++) {
        let s = bias[c];
        for (let k = 0; k < K; k++) {
          const src = t - (K - 1) + k;
          if (src >= 0) s += w[c * K + k] * x[(b * seq + src) * C + c];
        }
        pre[m * C + c] = s;
      }
    }
  }
  return pre;
}

/**
 * Forward pass: `y = silu(conv(x) + bias)`, `[batch·seq, channels]`, for a contiguous `x` of that
 * shape, `w` `[channels, window]` and `bias` `[channels]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { causalConvForward } from "./reference.ts";
 * // One channel, taps [1, 2]: pre = [2·1, 1·1 + 2·3] = [2, 7] (the first row sees a zero pad).
 * const y = causalConvForward([1, 3], [1, 2], [0], { batch: 1, seq: 2, channels: 1, window: 2 });
 * assert.ok(Math.abs(y[0] - 2 / (1 + Math.exp(-2))) < 1e-15);
 * assert.ok(Math.abs(y[1] - 7 / (1 + Math.exp(-7))) < 1e-15);
 * ```
 */
export function causalConvForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number>,
  dims: ConvDims,
): Float64Array {
  return preActivation(x, w, bias, dims).map((p) => p * sigmoid(p));
}

/**
 * Gradients of a causal convolution with SiLU.
 *
 * @example
 * ```ts
 * import type { ConvGrads } from "./reference.ts";
 * const f64 = (n: number) => new Float64Array(n);
 * const grads: ConvGrads = { dx: f64(4), dw: f64(4), dBias: f64(2) };
 * console.log(grads.dw.length);
 * ```
 */
export interface ConvGrads {
  /** Input gradient `[batch·seq, channels]`. */
  readonly dx: Float64Array;
  /** Weight gradient `[channels, window]`. */
  readonly dw: Float64Array;
  /** Bias gradient `[channels]`. */
  readonly dBias: Float64Array;
}

/**
 * Backward pass given the output gradient `dy` `[batch·seq, channels]` (recomputes `pre`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { causalConvBackward } from "./reference.ts";
 * // With a zero pre-activation silu'(0) = 1/2, so dpre = dy/2.
 * const dims = { batch: 1, seq: 2, channels: 1, window: 2 };
 * const { dx, dw, dBias } = causalConvBackward([0, 0], [1, 2], [0], [1, 1], dims);
 * assert.deepEqual([...dx, ...dw, ...dBias], [1.5, 1, 0, 0, 1]);
 * ```
 */
export function causalConvBackward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number>,
  dy: ArrayLike<number>,
  dims: ConvDims,
): ConvGrads {
  const { batch, seq, channels: C, window: K } = dims;
  const dpre = preActivation(x, w, bias, dims).map((p, i) => {
    const s = sigmoid(p);
    return dy[i] * s * (1 + p * (1 - s));
  });
  const dx = new Float64Array(batch * seq * C);
  const dw = new Float64Array(C * K);
  const dBias = new Float64Array(C);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seq; t++) {
      const m = b * seq + t;
      for (let c = 0; c < C; c++) {
        const g = dpre[m * C + c];
        dBias[c] += g;
        let sx = 0;
        for (let k = 0; k < K; k++) {
          const src = t - (K - 1) + k;
          if (src >= 0) dw[c * K + k] += g * x[(b * seq + src) * C + c];
          const dst = t + (K - 1) - k;
          if (dst < seq) sx += w[c * K + k] * dpre[(b * seq + dst) * C + c];
        }
        dx[m * C + c] = sx;
      }
    }
  }
  return { dx, dw, dBias };
}
