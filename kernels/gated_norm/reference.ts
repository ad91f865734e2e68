/**
 * CPU reference for Mamba-2's gated grouped RMSNorm (`RMSNormGated` with `norm_before_gate =
 * False`), forward and backward, in float64 (the oracle for `kernels/gated_norm/mod.ts`). Dao & Gu
 * 2024, "Transformers are SSMs" (Mamba-2), §7.3: the SSM output `y` is gated by `silu(z)` and then
 * RMS-normalized (Zhang & Sennrich 2019, eq. 4) within each of `G` groups of `d/G` channels.
 *
 * Per row and group, over the group's channels: `u = y·silu(z)`, `r = 1/sqrt(mean(u²) + eps)`,
 * `out = u·r·w`. Backward, with `û = u·r` and `q = dout·w` (the RMSNorm gradient applied to `u`):
 * `du = r·(q − û·mean(q·û))`, then `dy = du·silu(z)`, `dz = du·y·silu'(z)` with
 * `silu'(z) = σ(z)·(1 + z·(1 − σ(z)))`, and `dw = Σ_rows dout·û`.
 *
 * The op's contract: `groups` divides `d`, a group holds at most `MAX_NORM_D` channels, the
 * default epsilon is `NORM_EPS`, and the GPU backward uses the row blocks of `normBlocks`
 * (kernels/norm/reference.ts), which fix its scratch size ({@link gatedNormScratchElements}).
 *
 * @module
 */

import { MAX_NORM_D, NORM_EPS, normBlocks } from "../norm/reference.ts";

/**
 * Shape of a gated norm: `rows` rows of `d` channels in `groups` groups (`d % groups == 0`).
 *
 * @example
 * ```ts
 * import type { GatedNormDims } from "./reference.ts";
 * const dims: GatedNormDims = { rows: 4096, d: 1536, groups: 8 };
 * console.log(dims.d / dims.groups); // group size
 * ```
 */
export interface GatedNormDims {
  /** Rows. */
  readonly rows: number;
  /** Channels per row. */
  readonly d: number;
  /** Normalization groups per row (G); each covers `d / G` consecutive channels. */
  readonly groups: number;
  /** Added to the mean square; default 1e-5. */
  readonly eps?: number;
}

/**
 * Output and saved statistics of a gated norm's forward pass.
 *
 * @example
 * ```ts
 * import { type GatedNormForward, gatedRmsNormForward } from "./reference.ts";
 * const dims = { rows: 1, d: 2, groups: 2 };
 * const f: GatedNormForward = gatedRmsNormForward([1, 2], [0, 0], [1, 1], dims);
 * console.log(f.rstd.length); // 2: rows · groups
 * ```
 */
export interface GatedNormForward {
  /** Output `[rows, d]`. */
  readonly out: Float64Array;
  /** `1/sqrt(mean_group(u²) + eps)`, `[rows·groups]` (row-major: group fastest). */
  readonly rstd: Float64Array;
}

/**
 * Throws a RangeError naming the field unless `d` is a positive integer and `groups` a positive
 * divisor of it with `d / groups ≤ MAX_NORM_D` (16384).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkGatedNormConfig } from "./reference.ts";
 * checkGatedNormConfig({ d: 1536, groups: 8 });
 * assert.throws(() => checkGatedNormConfig({ d: 1536, groups: 7 }), /groups must be/);
 * ```
 */
export function checkGatedNormConfig(
  config: { readonly d: number; readonly groups: number },
): void {
  const { d, groups } = config;
  if (!Number.isInteger(d) || d < 1) {
    throw new RangeError(`gated norm: d must be a positive integer, got ${d}`);
  }
  if (!Number.isInteger(groups) || groups < 1 || d % groups !== 0) {
    throw new RangeError(
      `gated norm: groups must be a positive divisor of d = ${d}, got ${groups}`,
    );
  }
  if (d / groups > MAX_NORM_D) {
    throw new RangeError(
      `gated norm: d/groups must be at most ${MAX_NORM_D}, got ${d}/${groups} = ${d / groups}`,
    );
  }
}

/**
 * f32 elements of the GPU backward's scratch buffer for `rows` rows (`blocks · d`, blocks from
 * `normBlocks`); needs no GPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gatedNormScratchElements } from "./reference.ts";
 * assert.equal(gatedNormScratchElements({ d: 1024, groups: 8 }, 4096), 512 * 1024);
 * ```
 */
export function gatedNormScratchElements(
  config: { readonly d: number; readonly groups: number },
  rows: number,
): number {
  checkGatedNormConfig(config);
  return normBlocks(rows).blocks * config.d;
}

const sigmoid = (a: number) => 1 / (1 + Math.exp(-a));

/** `u = y·silu(z)` for contiguous `[rows, d]` inputs. */
function gated(y: ArrayLike<number>, z: ArrayLike<number>, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => y[i] * z[i] * sigmoid(z[i]));
}

/**
 * Forward pass for contiguous `y`, `z` `[rows, d]` and weight `w` `[d]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gatedRmsNormForward } from "./reference.ts";
 * // A large gate makes silu(z) ≈ z: u = [3·20, 4·20], normalized to [0.6, 0.8]·√2.
 * const dims = { rows: 1, d: 2, groups: 1, eps: 0 };
 * const { out } = gatedRmsNormForward([3, 4], [20, 20], [1, 1], dims);
 * assert.ok(Math.abs(out[0] - 0.6 * Math.SQRT2) < 1e-12);
 * assert.ok(Math.abs(out[1] - 0.8 * Math.SQRT2) < 1e-12);
 * ```
 */
export function gatedRmsNormForward(
  y: ArrayLike<number>,
  z: ArrayLike<number>,
  w: ArrayLike<number>,
  dims: GatedNormDims,
): GatedNormForward {
  const { rows, d, groups } = dims;
  const eps = dims.eps ?? NORM_EPS;
  const gs = d / groups;
  const u = gated(y, z, rows * d);
  const out = new Float64Array(rows * d);
  const rstd = new Float64Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const base = r * d + g * gs;
      let ss = 0;
      for (let i = 0; i < gs; i++) ss += u[base + i] ** 2;
      const rs = 1 / Math.sqrt(ss / gs + eps);
      rstd[r * groups + g] = rs;
      for (let i = 0; i < gs; i++) out[base + i] = u[base + i] * rs * w[g * gs + i];
    }
  }
  return { out, rstd };
}

/**
 * Gradients of a gated norm.
 *
 * @example
 * ```ts
 * import type { GatedNormGrads } from "./reference.ts";
 * const grads: GatedNormGrads = {
 *   dy: new Float64Array(2), dz: new Float64Array(2), dw: new Float64Array(2),
 * };
 * console.log(grads.dz.length);
 * ```
 */
export interface GatedNormGrads {
  /** Gradient of `y`, `[rows, d]`. */
  readonly dy: Float64Array;
  /** Gradient of the gate `z`, `[rows, d]`. */
  readonly dz: Float64Array;
  /** Weight gradient `[d]`. */
  readonly dw: Float64Array;
}

/**
 * Backward pass given the output gradient `dout` `[rows, d]` (recomputes `u` and `rstd`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gatedRmsNormBackward } from "./reference.ts";
 * // A zero gate closes the gate: silu(0) = 0, so dy = 0; dz = du·y·silu'(0) with silu'(0) = 1/2.
 * const dims = { rows: 1, d: 2, groups: 1, eps: 1 };
 * const { dy, dz, dw } = gatedRmsNormBackward([1, 2], [0, 0], [3, 3], [1, 1], dims);
 * assert.deepEqual([...dy, ...dz, ...dw], [0, 0, 1.5, 3, 0, 0]);
 * ```
 */
export function gatedRmsNormBackward(
  y: ArrayLike<number>,
  z: ArrayLike<number>,
  w: ArrayLike<number>,
  dout: ArrayLike<number>,
  dims: GatedNormDims,
): GatedNormGrads {
  const { rows, d, groups } = dims;
  const gs = d / groups;
  const { rstd } = gatedRmsNormForward(y, z, w, dims);
  const u = gated(y, z, rows * d);
  const dy = new Float64Array(rows * d);
  const dz = new Float64Array(rows * d);
  const dw = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const base = r * d + g * gs;
      const rs = rstd[r * groups + g];
      let m = 0;
      for (let i = 0; i < gs; i++) m += dout[base + i] * w[g * gs + i] * u[base + i] * rs;
      m /= gs;
      for (let i = 0; i < gs; i++) {
        const j = base + i;
        const h = u[j] * rs;
        const du = rs * (dout[j] * w[g * gs + i] - h * m);
        const s = sigmoid(z[j]);
        dy[j] = du * z[j] * s;
        dz[j] = du * y[j] * s * (1 + z[j] * (1 - s));
        dw[g * gs + i] += dout[j] * h;
      }
    }
  }
  return { dy, dz, dw };
}
