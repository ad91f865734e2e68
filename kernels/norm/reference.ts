/**
 * CPU reference for RMSNorm and LayerNorm over the rows of a row-major `[rows, d]` tensor, forward
 * and backward, in float64 (the oracle the GPU kernels in `kernels/norm/mod.ts` are tested against).
 *
 * RMSNorm (Zhang & Sennrich 2019, eq. 4): `r = 1/sqrt(mean(x²) + eps)`, `y = x·r·g`. With
 * `x̂ = x·r` and `q = dy·g`, the chain rule through `∂r/∂x_i = −r³·x_i/d` gives
 * `dx = r·(q − x̂·mean(q·x̂))` and `dg = Σ_rows dy·x̂`.
 *
 * LayerNorm (Ba et al. 2016, eq. 3, biased variance): `μ = mean(x)`, `r = 1/sqrt(mean((x−μ)²) +
 * eps)`, `y = (x−μ)·r·w + b`. With `x̂ = (x−μ)·r` and `q = dy·w`,
 * `dx = r·(q − mean(q) − x̂·mean(q·x̂))`, `dw = Σ_rows dy·x̂`, `db = Σ_rows dy`.
 *
 * @module
 */

/**
 * Row statistics and output of an RMSNorm forward pass.
 *
 * @example
 * ```ts
 * import { type RmsNormForward, rmsNormForward } from "./reference.ts";
 * const out: RmsNormForward = rmsNormForward([1, 2, 3, 4], [1, 1], 2, 2);
 * console.log(out.rstd.length); // 2
 * ```
 */
export interface RmsNormForward {
  /** Output `[rows, d]`. */
  readonly y: Float64Array;
  /** `1/sqrt(mean(x²) + eps)` per row. */
  readonly rstd: Float64Array;
}

/**
 * RMSNorm forward.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rmsNormForward } from "./reference.ts";
 * const { y, rstd } = rmsNormForward([3, 4], [1, 1], 1, 2, 0);
 * assert.deepEqual([...rstd], [1 / Math.sqrt(12.5)]);
 * assert.ok(Math.abs(y[1] - 4 / Math.sqrt(12.5)) < 1e-15);
 * ```
 */
export function rmsNormForward(
  x: ArrayLike<number>,
  g: ArrayLike<number>,
  rows: number,
  d: number,
  eps = 1e-5,
): RmsNormForward {
  const y = new Float64Array(rows * d);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[r * d + i] ** 2;
    const rs = 1 / Math.sqrt(ss / d + eps);
    rstd[r] = rs;
    for (let i = 0; i < d; i++) y[r * d + i] = x[r * d + i] * rs * g[i];
  }
  return { y, rstd };
}

/**
 * Gradients of an RMSNorm.
 *
 * @example
 * ```ts
 * import { type RmsNormGrads, rmsNormBackward } from "./reference.ts";
 * const grads: RmsNormGrads = rmsNormBackward([1, 2], [1, 1], [1, 0], 1, 2);
 * console.log(grads.dx.length, grads.dg.length); // 2 2
 * ```
 */
export interface RmsNormGrads {
  /** Input gradient `[rows, d]`. */
  readonly dx: Float64Array;
  /** Weight gradient `[d]`. */
  readonly dg: Float64Array;
}

/**
 * RMSNorm backward (recomputes the row statistics from `x`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rmsNormBackward } from "./reference.ts";
 * // y = x/|x|·√d is scale-invariant: a gradient along x itself gives dx = 0.
 * const { dx, dg } = rmsNormBackward([3, 4], [1, 1], [3, 4], 1, 2, 0);
 * assert.ok(Math.abs(dx[0]) < 1e-15 && Math.abs(dx[1]) < 1e-15);
 * assert.ok(Math.abs(dg[0] - 9 / Math.sqrt(12.5)) < 1e-14);
 * ```
 */
export function rmsNormBackward(
  x: ArrayLike<number>,
  g: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  d: number,
  eps = 1e-5,
): RmsNormGrads {
  const { rstd } = rmsNormForward(x, g, rows, d, eps);
  const dx = new Float64Array(rows * d);
  const dg = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const rs = rstd[r];
    let m = 0;
    for (let i = 0; i < d; i++) m += dy[r * d + i] * g[i] * x[r * d + i] * rs;
    m /= d;
    for (let i = 0; i < d; i++) {
      const h = x[r * d + i] * rs;
      dx[r * d + i] = rs * (dy[r * d + i] * g[i] - h * m);
      dg[i] += dy[r * d + i] * h;
    }
  }
  return { dx, dg };
}

/**
 * Row statistics and output of a LayerNorm forward pass.
 *
 * @example
 * ```ts
 * import { type LayerNormForward, layerNormForward } from "./reference.ts";
 * const out: LayerNormForward = layerNormForward([1, 2, 3, 4], [1, 1], [0, 0], 2, 2);
 * console.log(out.mean); // Float64Array [1.5, 3.5]
 * ```
 */
export interface LayerNormForward {
  /** Output `[rows, d]`. */
  readonly y: Float64Array;
  /** Row means `[rows]`. */
  readonly mean: Float64Array;
  /** `1/sqrt(var + eps)` per row. */
  readonly rstd: Float64Array;
}

/**
 * LayerNorm forward.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerNormForward } from "./reference.ts";
 * const { y, mean, rstd } = layerNormForward([1, 3], [2, 2], [0, 1], 1, 2, 0);
 * assert.deepEqual([...y, ...mean, ...rstd], [-2, 3, 2, 1]);
 * ```
 */
export function layerNormForward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  rows: number,
  d: number,
  eps = 1e-5,
): LayerNormForward {
  const y = new Float64Array(rows * d);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[r * d + i];
    const mu = s / d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[r * d + i] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / d + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let i = 0; i < d; i++) y[r * d + i] = (x[r * d + i] - mu) * rs * w[i] + b[i];
  }
  return { y, mean, rstd };
}

/**
 * Gradients of a LayerNorm.
 *
 * @example
 * ```ts
 * import { type LayerNormGrads, layerNormBackward } from "./reference.ts";
 * const grads: LayerNormGrads = layerNormBackward([1, 2], [1, 1], [1, 0], 1, 2);
 * console.log(grads.db); // Float64Array [1, 0]
 * ```
 */
export interface LayerNormGrads {
  /** Input gradient `[rows, d]`. */
  readonly dx: Float64Array;
  /** Weight gradient `[d]`. */
  readonly dw: Float64Array;
  /** Bias gradient `[d]`. */
  readonly db: Float64Array;
}

/**
 * LayerNorm backward (recomputes the row statistics from `x`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerNormBackward } from "./reference.ts";
 * // A constant upstream gradient only moves the mean, which LayerNorm removes: dx = 0.
 * const { dx, db } = layerNormBackward([1, 3], [1, 1], [1, 1], 1, 2, 0);
 * assert.deepEqual([...dx, ...db], [0, 0, 1, 1]);
 * ```
 */
export function layerNormBackward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  d: number,
  eps = 1e-5,
): LayerNormGrads {
  const { mean, rstd } = layerNormForward(x, w, new Float64Array(d), rows, d, eps);
  const dx = new Float64Array(rows * d);
  const dw = new Float64Array(d);
  const db = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const [mu, rs] = [mean[r], rstd[r]];
    let m1 = 0;
    let m2 = 0;
    for (let i = 0; i < d; i++) {
      const q = dy[r * d + i] * w[i];
      m1 += q;
      m2 += q * (x[r * d + i] - mu) * rs;
    }
    m1 /= d;
    m2 /= d;
    for (let i = 0; i < d; i++) {
      const h = (x[r * d + i] - mu) * rs;
      dx[r * d + i] = rs * (dy[r * d + i] * w[i] - m1 - h * m2);
      dw[i] += dy[r * d + i] * h;
      db[i] += dy[r * d + i];
    }
  }
  return { dx, dw, db };
}
