/**
 * CPU reference for RMSNorm over the rows of a row-major `[rows, d]` tensor, forward and backward,
 * in float64 (the oracle the GPU kernels in `kernels/norm/mod.ts` are tested against), and the
 * op's contract: the row-length limit, the default epsilon and the row blocks of the backward pass
 * (which fix its summation order and the size of its scratch buffer).
 *
 * RMSNorm (Zhang & Sennrich 2019, eq. 4): `r = 1/sqrt(mean(x²) + eps)`, `y = x·r·g`. With
 * `x̂ = x·r` and `q = dy·g`, the chain rule through `∂r/∂x_i = −r³·x_i/d` gives
 * `dx = r·(q − x̂·mean(q·x̂))` and `dg = Σ_rows dy·x̂`.
 *
 * @module
 */

/**
 * The largest row length (and, for the gated norm, group size) the row kernels take.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_NORM_D } from "./reference.ts";
 * assert.equal(MAX_NORM_D, 16384);
 * ```
 */
export const MAX_NORM_D = 16384;

/**
 * The epsilon added under the square root when none is given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NORM_EPS } from "./reference.ts";
 * assert.equal(NORM_EPS, 1e-5);
 * ```
 */
export const NORM_EPS = 1e-5;

/** Backward aims for about this many row blocks (enough workgroups to fill a large GPU). */
const TARGET_BLOCKS = 512;

/**
 * Rows per backward workgroup for `rows` rows, and the number of row blocks (the rows of the
 * scratch partials). Each block's partial sums are added in block order, so this split fixes the
 * summation order of the parameter gradients; it depends on `rows` only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normBlocks } from "./reference.ts";
 * assert.deepEqual(normBlocks(16384), { rowsPerBlock: 32, blocks: 512 });
 * assert.deepEqual(normBlocks(3), { rowsPerBlock: 1, blocks: 3 });
 * ```
 */
export function normBlocks(rows: number): { rowsPerBlock: number; blocks: number } {
  if (!Number.isInteger(rows) || rows < 1) {
    throw new RangeError(`norm: rows must be a positive integer, got ${rows}`);
  }
  const rowsPerBlock = Math.ceil(rows / TARGET_BLOCKS);
  return { rowsPerBlock, blocks: Math.ceil(rows / rowsPerBlock) };
}

/**
 * f32 elements of the backward pass's scratch buffer for `rows` rows of `d` values: one row of `dg`
 * partials per row block of {@link normBlocks}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normScratchElements } from "./reference.ts";
 * assert.equal(normScratchElements(64, 16384), 512 * 64);
 * ```
 */
export function normScratchElements(d: number, rows: number): number {
  return normBlocks(rows).blocks * d;
}

/**
 * The epsilon of a configuration: `eps`, or {@link NORM_EPS} when undefined. Throws a RangeError
 * unless it is a finite number ≥ 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normEps } from "./reference.ts";
 * assert.equal(normEps(undefined), 1e-5);
 * assert.throws(() => normEps(-1), /eps must be/);
 * ```
 */
export function normEps(eps: number | undefined, what = "norm"): number {
  const e = eps ?? NORM_EPS;
  if (!(e >= 0) || !Number.isFinite(e)) {
    throw new RangeError(`${what}: eps must be a finite number ≥ 0, got ${e}`);
  }
  return e;
}

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
  eps = NORM_EPS,
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
  eps = NORM_EPS,
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
