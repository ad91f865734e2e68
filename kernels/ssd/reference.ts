/**
 * CPU reference for the Mamba-2 selective state-space scan (SSD with a scalar `A` per head; Dao &
 * Gu 2024, "Transformers are SSMs", §3 and §7, sequential/recurrent form), forward and backward
 * in float64: the oracle for the GPU kernels in `kernels/ssd/mod.ts`.
 *
 * Layout (row-major, row `m = b·T + t`): `xbc [M, W]`, `W = H·P + 2·G·N`, each row
 * `[x (H·P) | B (G·N) | C (G·N)]`; head `h` reads `x` columns `h·P …` and group `g = ⌊h/(H/G)⌋`'s
 * `B` and `C`. `dtRaw [M, H]`, `y, dy [M, H·P]`.
 *
 * Forward, per (b, h), with `S ∈ R^{P×N}`, `S_{−1} = 0`:
 * - `dt_t = softplus(dtRaw_t + dtBias_h)`, `softplus(v) = v > 20 ? v : log1p(eˣ)` (PyTorch's
 *   threshold); `A = −exp(aLog_h)`; `a_t = exp(dt_t·A)`;
 * - `S_t = a_t·S_{t−1} + dt_t·x_t B_tᵀ`; `y_t = S_t C_t + D_h·x_t`.
 *
 * Backward (reverse-mode adjoint of the recurrence), with `G_t = ∂L/∂S_t`:
 * - `G_t = dy_t C_tᵀ + a_{t+1}·G_{t+1}` (`G_{T−1} = dy_{T−1} C_{T−1}ᵀ`);
 * - `dC_t = S_tᵀ dy_t`; `dx_t = dt_t·G_t B_t + D·dy_t`; `dB_t = dt_t·G_tᵀ x_t` (dB, dC summed
 *   over the heads of a group);
 * - `da_t = ⟨G_t, S_{t−1}⟩`; `d(dt_t) = x_tᵀ G_t B_t + da_t·a_t·A`; `dA = Σ_t da_t·a_t·dt_t`;
 * - `d(dtRaw_t) = d(dt_t)·softplus'(v)` with `softplus'(v) = σ(v)` (1 above the threshold, the
 *   exact derivative of the thresholded function, as PyTorch); `dDtBias = Σ_t d(dtRaw_t)`;
 * - `daLog = dA·A` (since `∂A/∂aLog = A`); `dD = Σ_t dy_t·x_t`.
 *
 * The op's contract besides: the GPU kernels' limits ({@link checkSsdConfig}) and the size of
 * their backward scratch buffer ({@link ssdScratchElements}).
 *
 * @module
 */

/**
 * Sizes of a scan: `batch` sequences of `seq` tokens, `heads` heads of `headDim` channels, state
 * size `dState` per channel, `groups` B/C groups shared by `heads / groups` heads each.
 *
 * @example
 * ```ts
 * import type { SsdDims } from "./reference.ts";
 * const dims: SsdDims = { batch: 2, seq: 8, heads: 4, headDim: 8, dState: 16, groups: 2 };
 * console.log(dims.heads / dims.groups); // heads per group
 * ```
 */
export interface SsdDims {
  /** Sequences. */
  readonly batch: number;
  /** Tokens per sequence. */
  readonly seq: number;
  /** Heads (H). */
  readonly heads: number;
  /** Channels per head (P). */
  readonly headDim: number;
  /** State size per channel (N). */
  readonly dState: number;
  /** Divides `heads`. */
  readonly groups: number;
}

/**
 * Inputs of a scan (see the module comment for layouts).
 *
 * @example
 * ```ts
 * import type { SsdInputs } from "./reference.ts";
 * // batch 1, seq 1, heads 1, headDim 1, dState 1, groups 1: W = 1 + 2.
 * const inputs: SsdInputs = { xbc: [1, 2, 3], dtRaw: [0], dtBias: [0], aLog: [0], d: [1] };
 * console.log(inputs.xbc.length);
 * ```
 */
export interface SsdInputs {
  /** `[M, H·P + 2·G·N]`: `[x | B | C]` per row. */
  readonly xbc: ArrayLike<number>;
  /** `[M, H]` contiguous, before `dtBias` and softplus. */
  readonly dtRaw: ArrayLike<number>;
  /** `[H]`. */
  readonly dtBias: ArrayLike<number>;
  /** `[H]`: `A = −exp(aLog)`. */
  readonly aLog: ArrayLike<number>;
  /** `[H]`: the skip connection `D`. */
  readonly d: ArrayLike<number>;
}

/**
 * Gradients of a scan with respect to every input.
 *
 * @example
 * ```ts
 * import { type SsdGrads, ssdBackward } from "./reference.ts";
 * const dims = { batch: 1, seq: 1, heads: 1, headDim: 1, dState: 1, groups: 1 };
 * const inputs = { xbc: [1, 2, 3], dtRaw: [0], dtBias: [0], aLog: [0], d: [1] };
 * const grads: SsdGrads = ssdBackward(inputs, [1], dims);
 * console.log(grads.dD); // Float64Array [1]
 * ```
 */
export interface SsdGrads {
  /** `[M, W]`: `[dx | dB | dC]`. */
  readonly dxbc: Float64Array;
  /** `[M, H]`. */
  readonly dDtRaw: Float64Array;
  /** `[H]`. */
  readonly dDtBias: Float64Array;
  /** `[H]`. */
  readonly dALog: Float64Array;
  /** `[H]`. */
  readonly dD: Float64Array;
}

/**
 * Throws a RangeError naming the field unless every size is a positive integer and `groups`
 * divides `heads`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateSsdDims } from "./reference.ts";
 * const dims = { batch: 1, seq: 4, heads: 6, headDim: 2, dState: 2, groups: 4 };
 * assert.throws(() => validateSsdDims(dims), /groups/);
 * ```
 */
export function validateSsdDims(dims: SsdDims): void {
  for (const k of ["batch", "seq", "heads", "headDim", "dState", "groups"] as const) {
    const v = dims[k];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`ssd: ${k} must be a positive integer, got ${v}`);
    }
  }
  if (dims.heads % dims.groups !== 0) {
    throw new RangeError(`ssd: groups (${dims.groups}) must divide heads (${dims.heads})`);
  }
}

/**
 * The largest head dimension the GPU kernels take.
 *
 * @example
 * ```ts
 * import { MAX_SSD_HEAD_DIM } from "./reference.ts";
 * console.log(MAX_SSD_HEAD_DIM); // 128
 * ```
 */
export const MAX_SSD_HEAD_DIM = 128;

/**
 * The largest state size the GPU kernels take.
 *
 * @example
 * ```ts
 * import { MAX_SSD_D_STATE } from "./reference.ts";
 * console.log(MAX_SSD_D_STATE); // 256
 * ```
 */
export const MAX_SSD_D_STATE = 256;

/**
 * The sizes a GPU kernel is compiled for.
 *
 * @example
 * ```ts
 * import type { SsdConfig } from "./reference.ts";
 * const config: SsdConfig = { heads: 16, headDim: 64, dState: 128, groups: 2 };
 * ```
 */
export interface SsdConfig {
  /** Heads (H). */
  readonly heads: number;
  /** 1 … {@link MAX_SSD_HEAD_DIM}. */
  readonly headDim: number;
  /** 1 … {@link MAX_SSD_D_STATE}. */
  readonly dState: number;
  /** Divides `heads`. */
  readonly groups: number;
}

/**
 * Throws a RangeError naming the field unless `config` is valid ({@link validateSsdDims}) and
 * within the GPU kernels' limits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSsdConfig } from "./reference.ts";
 * checkSsdConfig({ heads: 16, headDim: 64, dState: 128, groups: 2 });
 * assert.throws(() => checkSsdConfig({ heads: 1, headDim: 1, dState: 512, groups: 1 }), /dState/);
 * ```
 */
export function checkSsdConfig(config: SsdConfig): void {
  validateSsdDims({ ...config, batch: 1, seq: 1 });
  if (config.headDim > MAX_SSD_HEAD_DIM) {
    throw new RangeError(`ssd: headDim must be ≤ ${MAX_SSD_HEAD_DIM}, got ${config.headDim}`);
  }
  if (config.dState > MAX_SSD_D_STATE) {
    throw new RangeError(`ssd: dState must be ≤ ${MAX_SSD_D_STATE}, got ${config.dState}`);
  }
}

/**
 * f32 elements of the GPU backward's scratch buffer: per-head `dC` and `G_tᵀx_t` (`2·M·H·N`),
 * three per-token dot products per head (`3·M·H`) and three per-(b, h) partials (`3·batch·H`),
 * with `M = batch·seq`. Needs no GPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ssdScratchElements } from "./reference.ts";
 * const config = { heads: 2, headDim: 4, dState: 8, groups: 1 };
 * assert.equal(ssdScratchElements(config, { batch: 1, seq: 3 }), 2 * 3 * 2 * 8 + 3 * 3 * 2 + 6);
 * ```
 */
export function ssdScratchElements(
  config: SsdConfig,
  dims: { readonly batch: number; readonly seq: number },
): number {
  checkSsdConfig(config);
  validateSsdDims({ ...config, ...dims });
  const mh = dims.batch * dims.seq * config.heads;
  return 2 * mh * config.dState + 3 * mh + 3 * dims.batch * config.heads;
}

/** `softplus(v)` with PyTorch's threshold 20. */
function softplus(v: number): number {
  return v > 20 ? v : Math.log1p(Math.exp(v));
}

/** Per-token `dt`, `a` and the head's `A` for one (b, h). */
function decays(inputs: SsdInputs, dims: SsdDims, b: number, h: number) {
  const { seq: T, heads: H } = dims;
  const A = -Math.exp(inputs.aLog[h]);
  const v = new Float64Array(T);
  const dt = new Float64Array(T);
  const a = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    v[t] = inputs.dtRaw[(b * T + t) * H + h] + inputs.dtBias[h];
    dt[t] = softplus(v[t]);
    a[t] = Math.exp(dt[t] * A);
  }
  return { A, v, dt, a };
}

/** Column offsets of head `h`'s x and its group's B and C within a row of `xbc`. */
function columns(dims: SsdDims, h: number) {
  const { heads: H, headDim: P, dState: N, groups: G } = dims;
  const g = Math.floor(h / (H / G));
  return { width: H * P + 2 * G * N, xo: h * P, bo: H * P + g * N, co: H * P + G * N + g * N };
}

/**
 * Runs the recurrence of one (b, h), calling `visit(t, S_t)` after each step (`S` row-major
 * `[P, N]`, reused between calls).
 */
function scan(
  inputs: SsdInputs,
  dims: SsdDims,
  b: number,
  h: number,
  visit: (t: number, s: Float64Array) => void,
): void {
  const { seq: T, headDim: P, dState: N } = dims;
  const { dt, a } = decays(inputs, dims, b, h);
  const { width, xo, bo } = columns(dims, h);
  const s = new Float64Array(P * N);
  for (let t = 0; t < T; t++) {
    const row = (b * T + t) * width;
    for (let p = 0; p < P; p++) {
      const u = dt[t] * inputs.xbc[row + xo + p];
      for (let n = 0; n < N; n++) {
        s[p * N + n] = a[t] * s[p * N + n] + u * inputs.xbc[row + bo + n];
      }
    }
    visit(t, s);
  }
}

/**
 * The scan's output `y [M, H·P]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ssdForward } from "./reference.ts";
 * // One channel, one state: y = dt·x·B·C + D·x with dt = softplus(0) = ln 2.
 * const dims = { batch: 1, seq: 1, heads: 1, headDim: 1, dState: 1, groups: 1 };
 * const y = ssdForward({ xbc: [1, 2, 3], dtRaw: [0], dtBias: [0], aLog: [0], d: [1] }, dims);
 * assert.ok(Math.abs(y[0] - (6 * Math.LN2 + 1)) < 1e-15);
 * ```
 */
export function ssdForward(inputs: SsdInputs, dims: SsdDims): Float64Array {
  validateSsdDims(dims);
  const { batch, seq: T, heads: H, headDim: P, dState: N } = dims;
  const y = new Float64Array(batch * T * H * P);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const { width, xo, co } = columns(dims, h);
      scan(inputs, dims, b, h, (t, s) => {
        const m = b * T + t;
        for (let p = 0; p < P; p++) {
          let acc = inputs.d[h] * inputs.xbc[m * width + xo + p];
          for (let n = 0; n < N; n++) acc += s[p * N + n] * inputs.xbc[m * width + co + n];
          y[(m * H + h) * P + p] = acc;
        }
      });
    }
  }
  return y;
}

/**
 * Gradients of `L = Σ dy·y` with respect to every input (formulas in the module comment). Keeps
 * the states of one (b, h) at a time: `seq·headDim·dState` doubles.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ssdBackward } from "./reference.ts";
 * // y = dt·x·B·C + D·x: dx = dt·B·C + D, dB = dt·x·C, dC = dt·x·B.
 * const dims = { batch: 1, seq: 1, heads: 1, headDim: 1, dState: 1, groups: 1 };
 * const inputs = { xbc: [1, 2, 3], dtRaw: [0], dtBias: [0], aLog: [0], d: [1] };
 * const { dxbc } = ssdBackward(inputs, [1], dims);
 * const dt = Math.LN2;
 * [6 * dt + 1, 3 * dt, 2 * dt].forEach((v, i) => assert.ok(Math.abs(dxbc[i] - v) < 1e-15));
 * ```
 */
export function ssdBackward(
  inputs: SsdInputs,
  dy: ArrayLike<number>,
  dims: SsdDims,
): SsdGrads {
  validateSsdDims(dims);
  const { batch, seq: T, heads: H, headDim: P, dState: N } = dims;
  const M = batch * T;
  const { width } = columns(dims, 0);
  const grads: SsdGrads = {
    dxbc: new Float64Array(M * width),
    dDtRaw: new Float64Array(M * H),
    dDtBias: new Float64Array(H),
    dALog: new Float64Array(H),
    dD: new Float64Array(H),
  };
  const { dxbc } = grads;
  const xbc = inputs.xbc;
  const states = new Float64Array(T * P * N);
  const adj = new Float64Array(P * N);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const { A, v, dt, a } = decays(inputs, dims, b, h);
      const { xo, bo, co } = columns(dims, h);
      scan(inputs, dims, b, h, (t, s) => states.set(s, t * P * N));
      adj.fill(0);
      let dA = 0;
      for (let t = T - 1; t >= 0; t--) {
        const m = b * T + t;
        const [row, dyRow] = [m * width, (m * H + h) * P];
        const decay = t + 1 < T ? a[t + 1] : 0;
        let da = 0;
        let dDt = 0;
        for (let p = 0; p < P; p++) {
          const dyp = dy[dyRow + p];
          const xp = xbc[row + xo + p];
          let gb = 0;
          for (let n = 0; n < N; n++) {
            const i = p * N + n;
            const g = adj[i] = decay * adj[i] + dyp * xbc[row + co + n];
            gb += g * xbc[row + bo + n];
            dxbc[row + bo + n] += dt[t] * g * xp;
            dxbc[row + co + n] += states[t * P * N + i] * dyp;
            if (t > 0) da += g * states[(t - 1) * P * N + i];
          }
          dxbc[row + xo + p] = dt[t] * gb + inputs.d[h] * dyp;
          dDt += xp * gb;
          grads.dD[h] += dyp * xp;
        }
        dDt += da * a[t] * A;
        dA += da * a[t] * dt[t];
        const dv = dDt * (v[t] > 20 ? 1 : 1 / (1 + Math.exp(-v[t])));
        grads.dDtRaw[m * H + h] = dv;
        grads.dDtBias[h] += dv;
      }
      grads.dALog[h] += dA * A;
    }
  }
  return grads;
}
