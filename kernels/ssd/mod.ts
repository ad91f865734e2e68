/**
 * The Mamba-2 SSD selective scan on the GPU (Dao & Gu 2024, "Transformers are SSMs", scalar `A`
 * per head, sequential form), forward and backward in f32. Layouts, the recurrence and the
 * adjoint formulas are in the float64 reference `kernels/ssd/reference.ts`; the WGSL is
 * generated in `kernels/ssd/wgsl.ts`.
 *
 * Forward: each state row `S[p, ·]` of a (b, h) is held in registers by a few lanes that run the
 * recurrence over time: `y_t[p] = S_t[p, ·]·C_t + D·x_t[p]`.
 *
 * Backward stores no states. With `G_t = dy_t C_tᵀ + a_{t+1} G_{t+1}` (the adjoint of `S_t`),
 * every gradient but `da_t` needs only one of `S` or `G`, and only one row or one column of it:
 * - `dC_t = S_tᵀ dy_t`: a forward scan per (b, h, n) over the column `S[·, n]`;
 * - `q_t = G_tᵀ x_t` (`dB_t = dt_t·q_t`): a reverse scan per (b, h, n) over `G[·, n]`;
 * - `dx_t = dt_t·G_t B_t + D·dy_t`: a reverse scan per (b, h, p) over `G[p, ·]`.
 *
 * `a_t·da_t = ⟨G_t, a_t S_{t−1}⟩` couples both; expanding `S` and `G` into sums over token pairs
 * `s ≤ u` with weights `w(s, u) = (Π_{s<r≤u} a_r)·dt_s·(dy_u·x_s)(C_u·B_s)` gives
 * `a_t·da_t = Σ_{s<t≤u} w = Σ_{u≥t} f_u − Σ_{s≥t} g_s`, where `f_u = Σ_{s≤u} w(s,u) = dy_u·(S_u C_u)
 * = C_u·dC_u` and `g_s = Σ_{u≥s} w(s,u) = dt_s·x_sᵀ G_s B_s = dt_s·(B_s·q_s)`: pairs with `u ≥ t`
 * are those crossing `t` plus those with `s ≥ t`. So a per-token dot-product pass and a reverse
 * scalar scan per (b, h) give `d(dt_t) = xᵀ G B + A·a_t·da_t` and `dA = Σ_t dt_t·a_t·da_t`
 * without states. The suffix sums cancel towards `r_0 = 0` (set exactly); their f32 rounding
 * leaves `dALog` and `dDtBias`, sums over all tokens, about 1e-5 relative off the float64
 * reference at seq 128…256.
 *
 * dB and dC of each head go to the scratch buffer and are summed over the heads of a group in
 * order; `dALog`, `dD`, `dDtBias` are summed from per-(b, h) partials in order. No atomics: results
 * are bit-identical run to run. Backward is seven dispatches.
 *
 * Limits: `headDim ≤ MAX_SSD_HEAD_DIM`, `dState ≤ MAX_SSD_D_STATE` (kernels/ssd/reference.ts; the
 * private arrays; larger ones would spill to slow memory).
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, type Dispatch, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, isGpuBuffer, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import {
  checkSsdConfig,
  type SsdConfig,
  ssdScratchElements,
  validateSsdDims,
} from "./reference.ts";
import { SSD_WORKGROUP, ssdLanes, ssdShader, type SsdStage } from "./wgsl.ts";

/**
 * The shape an op is bound to. `dtRaw` (and `dDtRaw`) element `(m, h)` is at
 * `m·dtStride + dtOffset + h`, with `dtOffset + heads ≤ dtStride`.
 *
 * @example
 * ```ts
 * import type { SsdBindDims } from "./mod.ts";
 * // dt occupies columns 100…115 of a [M, 128] projection output.
 * const dims: SsdBindDims = { batch: 8, seq: 512, dtOffset: 100, dtStride: 128 };
 * ```
 */
export interface SsdBindDims {
  /** Sequences. */
  readonly batch: number;
  /** Tokens per sequence. */
  readonly seq: number;
  /** Column of `dtRaw`'s first head within its buffer's rows. */
  readonly dtOffset: number;
  /** Row stride of `dtRaw`'s buffer (f32 elements). */
  readonly dtStride: number;
}

/**
 * Buffers of the forward pass (f32; see the reference module for layouts).
 *
 * @example
 * ```ts
 * import type { SsdForwardIo } from "./mod.ts";
 * const io = (b: GPUBuffer): SsdForwardIo => ({ xbc: b, dtRaw: b, dtBias: b, aLog: b, d: b, y: b });
 * ```
 */
export interface SsdForwardIo {
  /** `[M, H·P + 2·G·N]`. */
  readonly xbc: GPUBuffer;
  /** Read at `m·dtStride + dtOffset + h`. */
  readonly dtRaw: GPUBuffer;
  /** `[H]`. */
  readonly dtBias: GPUBuffer;
  /** `[H]`. */
  readonly aLog: GPUBuffer;
  /** `[H]`. */
  readonly d: GPUBuffer;
  /** Output `[M, H·P]`. */
  readonly y: GPUBuffer;
}

/**
 * Buffers of the backward pass. Outputs are overwritten; `dDtRaw` only at the positions `dtRaw`
 * is read from (a buffer other than `dtRaw`).
 *
 * @example
 * ```ts
 * import type { SsdBackwardIo } from "./mod.ts";
 * const io = (b: GPUBuffer): SsdBackwardIo => ({
 *   xbc: b, dtRaw: b, dtBias: b, aLog: b, d: b, dy: b,
 *   dxbc: b, dDtRaw: b, dDtBias: b, dALog: b, dD: b, scratch: b,
 * });
 * ```
 */
export interface SsdBackwardIo extends Omit<SsdForwardIo, "y"> {
  /** Upstream gradient `[M, H·P]`. */
  readonly dy: GPUBuffer;
  /** `[M, W]`: `[dx | dB | dC]`. */
  readonly dxbc: GPUBuffer;
  /** Written at `m·dtStride + dtOffset + h` only. */
  readonly dDtRaw: GPUBuffer;
  /** `[H]`. */
  readonly dDtBias: GPUBuffer;
  /** `[H]`. */
  readonly dALog: GPUBuffer;
  /** `[H]`. */
  readonly dD: GPUBuffer;
  /** At least {@link ssdScratchElements} f32. */
  readonly scratch: GPUBuffer;
}

const STAGES: SsdStage[] = [
  "forward",
  "states",
  "adjointColumns",
  "adjointRows",
  "dots",
  "dt",
  "params",
  "groups",
];

/**
 * The Mamba-2 SSD scan for one configuration: `forward` (one dispatch) and `backward` (seven).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { SsdKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const ssd = await SsdKernel.create(gpu, { heads: 1, headDim: 1, dState: 1, groups: 1 });
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const buf = (a: number[]) => createBufferFrom(gpu.device, new Float32Array(a), usage);
 * // x = 1, B = 2, C = 3, dt = softplus(0) = ln 2, D = 1: y = 6·ln 2 + 1.
 * const io = { xbc: buf([1, 2, 3]), dtRaw: buf([0]), dtBias: buf([0]), aLog: buf([0]),
 *   d: buf([1]), y: buf([0]) };
 * const op = ssd.forward(io, { batch: 1, seq: 1, dtOffset: 0, dtStride: 1 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const [y] = new Float32Array(await readBuffer(gpu.device, io.y));
 * assert.ok(Math.abs(y - (6 * Math.LN2 + 1)) < 1e-5);
 * op.destroy();
 * ```
 */
export class SsdKernel {
  /** The sizes compiled for. */
  readonly config: SsdConfig;
  readonly #gpu: Gpu;
  readonly #pipelines: Map<SsdStage, GPUComputePipeline>;

  private constructor(gpu: Gpu, config: SsdConfig, pipelines: Map<SsdStage, GPUComputePipeline>) {
    this.#gpu = gpu;
    this.config = config;
    this.#pipelines = pipelines;
  }

  /** Compiles the forward and backward stages; RangeError for sizes out of limits. */
  static async create(gpu: Gpu, config: SsdConfig): Promise<SsdKernel> {
    checkSsdConfig(config);
    const { heads, headDim, dState, groups } = config;
    const shape = { heads, headDim, dState, groups };
    const cache = pipelineCache(gpu.device);
    const pipelines = await Promise.all(STAGES.map((s) => cache.getAsync(ssdShader(s, shape))));
    return new SsdKernel(gpu, shape, new Map(STAGES.map((s, i) => [s, pipelines[i]])));
  }

  /** `y = scan(x, B, C, dt) + D·x`: one dispatch. */
  forward(io: SsdForwardIo, dims: SsdBindDims): BoundOp {
    const { heads: H, headDim: P } = this.config;
    const m = this.#check(io, dims);
    this.#checkSize(io, "y", m * H * P);
    const { batch } = dims;
    return this.#op(dims, [
      ["forward", batch * H * P, [io.xbc, io.dtRaw, io.dtBias, io.aLog, io.d, io.y]],
    ]);
  }

  /** All gradients of `L = Σ dy·y`, overwriting the outputs: seven dispatches. */
  backward(io: SsdBackwardIo, dims: SsdBindDims): BoundOp {
    const { heads: H, headDim: P, dState: N, groups: G } = this.config;
    const m = this.#check(io, dims);
    this.#checkSize(io, "dy", m * H * P);
    this.#checkSize(io, "dxbc", m * (H * P + 2 * G * N));
    this.#checkSize(io, "dDtRaw", (m - 1) * dims.dtStride + dims.dtOffset + H);
    for (const k of ["dDtBias", "dALog", "dD"] as const) this.#checkSize(io, k, H);
    this.#checkSize(io, "scratch", ssdScratchElements(this.config, dims));
    if (io.dDtRaw === io.dtRaw) throw new RangeError("ssd: io.dDtRaw must not be io.dtRaw");
    const { batch } = dims;
    const { xbc, dtRaw, dtBias, aLog, d, dy, scratch } = io;
    return this.#op(dims, [
      ["states", batch * H * N, [xbc, dtRaw, dtBias, aLog, dy, scratch]],
      ["adjointColumns", batch * H * N, [xbc, dtRaw, dtBias, aLog, dy, scratch]],
      ["adjointRows", batch * H * P, [xbc, dtRaw, dtBias, aLog, d, dy, io.dxbc]],
      ["dots", m * H, [xbc, dy, scratch]],
      ["dt", batch * H, [dtRaw, dtBias, aLog, scratch, io.dDtRaw]],
      ["params", H, [aLog, scratch, io.dALog, io.dD, io.dDtBias]],
      ["groups", m * G * N, [dtRaw, dtBias, scratch, io.dxbc]],
    ]);
  }

  /** Validates dims and the input buffers' sizes; returns the token count `M`. */
  #check(io: Omit<SsdForwardIo, "y">, dims: SsdBindDims): number {
    const { heads: H, headDim: P, dState: N, groups: G } = this.config;
    validateSsdDims({ ...this.config, batch: dims.batch, seq: dims.seq });
    const { dtOffset, dtStride } = dims;
    if (!Number.isInteger(dtOffset) || dtOffset < 0) {
      throw new RangeError(`ssd: dtOffset must be a non-negative integer, got ${dtOffset}`);
    }
    if (!Number.isInteger(dtStride) || dtStride < dtOffset + H) {
      throw new RangeError(
        `ssd: dtStride must be an integer ≥ dtOffset + heads = ${dtOffset + H}, got ${dtStride}`,
      );
    }
    const m = dims.batch * dims.seq;
    this.#checkSize(io, "xbc", m * (H * P + 2 * G * N));
    this.#checkSize(io, "dtRaw", (m - 1) * dtStride + dtOffset + H);
    for (const k of ["dtBias", "aLog", "d"] as const) this.#checkSize(io, k, H);
    return m;
  }

  #checkSize<K extends string>(io: { readonly [k in K]: GPUBuffer }, key: K, elements: number) {
    const buffer = io[key];
    if (!isGpuBuffer(buffer)) throw new TypeError(`ssd: io.${key} must be a GPUBuffer`);
    if (buffer.size < 4 * elements) {
      throw new RangeError(
        `ssd: io.${key} holds ${buffer.size} bytes; ${4 * elements} are needed`,
      );
    }
  }

  /** Binds each `[stage, work items, buffers]` (times the stage's lanes) with its own uniforms. */
  #op(dims: SsdBindDims, stages: [SsdStage, number, GPUBuffer[]][]): BoundOp {
    const device = this.#gpu.device;
    const owned: GPUBuffer[] = [];
    const steps: Dispatch[] = stages.map(([stage, invocations, buffers]) => {
      const pipeline = this.#pipelines.get(stage)!;
      const lanes = ssdLanes(stage, this.config);
      const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(invocations * lanes / SSD_WORKGROUP));
      const u = uniformBuffer(device, [dims.batch, dims.seq, dims.dtOffset, dims.dtStride, gx]);
      owned.push(u);
      return [pipeline, bindGroup(device, pipeline, [...buffers, u]), gx, gy];
    });
    return dispatchOp(steps, owned, "ssd");
  }
}
