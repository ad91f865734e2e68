/**
 * RMSNorm and LayerNorm over the rows of a `[rows, d]` f32 tensor, forward and backward, as bound
 * operations (WGSL in `./wgsl.ts`, CPU reference in `kernels/norm/reference.ts`).
 *
 * Forward saves the per-row statistics backward needs (`rstd`, and `mean` for LayerNorm).
 * Backward writes `dx` and the weight (and bias) gradients without atomics: each workgroup handles
 * a block of consecutive rows and writes its column partials to a caller-provided scratch buffer,
 * then a column-sum kernel adds the partials in a fixed order. Results are therefore bit-identical
 * from run to run on one adapter. The row-block size depends on `rows` only.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, f32Word, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import {
  COLSUM_LANES,
  colSumShader,
  layerBackwardShader,
  layerForwardShader,
  rmsBackwardShader,
  rmsForwardShader,
  type RowGeometry,
  rowGeometry,
} from "./wgsl.ts";

/** Backward aims for about this many row blocks (enough workgroups to fill a large GPU). */
const TARGET_BLOCKS = 512;

/**
 * A norm's configuration: the row length and the epsilon under the square root.
 *
 * @example
 * ```ts
 * import type { NormConfig } from "./mod.ts";
 * const config: NormConfig = { d: 768, eps: 1e-6 };
 * console.log(config.d);
 * ```
 */
export interface NormConfig {
  /** Row length, 1…16384. */
  readonly d: number;
  /** Added to the mean square (RMSNorm) or the variance (LayerNorm); default 1e-5. */
  readonly eps?: number;
}

/**
 * Dimensions and accumulation options of a backward pass.
 *
 * @example
 * ```ts
 * import type { NormBackwardDims } from "./mod.ts";
 * const dims: NormBackwardDims = { rows: 4096, accumulateDx: true }; // dx += …, dg = …
 * console.log(dims.rows);
 * ```
 */
export interface NormBackwardDims {
  /** Rows of `x`, `dy` and `dx`. */
  readonly rows: number;
  /** `dx += …` instead of `dx = …` (e.g. adding into a residual-stream gradient). */
  readonly accumulateDx?: boolean;
  /** Add into the weight (and bias) gradients instead of overwriting them. */
  readonly accumulateParams?: boolean;
}

/**
 * Rows per backward workgroup for `rows` rows, and the number of row blocks (the rows of the
 * scratch partials).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normBlocks } from "./mod.ts";
 * assert.deepEqual(normBlocks(16384), { rowsPerBlock: 32, blocks: 512 });
 * assert.deepEqual(normBlocks(3), { rowsPerBlock: 1, blocks: 3 });
 * ```
 */
export function normBlocks(rows: number): { rowsPerBlock: number; blocks: number } {
  checkRows(rows);
  const rowsPerBlock = Math.ceil(rows / TARGET_BLOCKS);
  return { rowsPerBlock, blocks: Math.ceil(rows / rowsPerBlock) };
}

function checkRows(rows: number): void {
  if (!Number.isInteger(rows) || rows < 1) {
    throw new RangeError(`norm: rows must be a positive integer, got ${rows}`);
  }
}

type Step = [GPUComputePipeline, GPUBindGroup, number, number];

function boundOp(steps: Step[], owned: GPUBuffer[]): BoundOp {
  return {
    dispatches: steps.length,
    encode(pass) {
      for (const [pipeline, group, x, y] of steps) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(x, y);
      }
    },
    destroy: () => owned.forEach((b) => b.destroy()),
  };
}

/** Pipelines and dispatch helpers shared by both norms. */
class NormCore {
  readonly gpu: Gpu;
  readonly geometry: RowGeometry;
  readonly eps: number;
  readonly forward: GPUComputePipeline;
  readonly backward: GPUComputePipeline;
  readonly colSum: GPUComputePipeline;

  constructor(gpu: Gpu, geometry: RowGeometry, eps: number, pipelines: GPUComputePipeline[]) {
    this.gpu = gpu;
    this.geometry = geometry;
    this.eps = eps;
    [this.forward, this.backward, this.colSum] = pipelines;
  }

  static async create(
    gpu: Gpu,
    config: NormConfig,
    shaders: (g: RowGeometry) => [string, string],
  ): Promise<NormCore> {
    const g = rowGeometry(config.d);
    const eps = config.eps ?? 1e-5;
    if (!(eps >= 0)) throw new RangeError(`norm: eps must be ≥ 0, got ${eps}`);
    const cache = pipelineCache(gpu.device);
    const [fwd, bwd] = shaders(g);
    const pipelines = await Promise.all(
      [fwd, bwd, colSumShader(g.vec)].map((code) => cache.getAsync(code)),
    );
    return new NormCore(gpu, g, eps, pipelines);
  }

  /** One workgroup per row. */
  forwardOp(rows: number, buffers: GPUBuffer[]): BoundOp {
    checkRows(rows);
    const device = this.gpu.device;
    const [gx, gy] = splitDispatch(this.gpu, rows);
    const u = uniformBuffer(device, [rows, gx, f32Word(this.eps)]);
    return boundOp([[this.forward, bindGroup(device, this.forward, [...buffers, u]), gx, gy]], [u]);
  }

  /**
   * The row-block kernel, then one column sum per parameter gradient: `grads[i]` receives the
   * rows `i, i + grads.length, …` of the scratch partials.
   */
  backwardOp(dims: NormBackwardDims, buffers: GPUBuffer[], scratch: GPUBuffer, grads: GPUBuffer[]) {
    const device = this.gpu.device;
    const { rowsPerBlock, blocks } = normBlocks(dims.rows);
    const [gx, gy] = splitDispatch(this.gpu, blocks);
    const u = uniformBuffer(device, [dims.rows, gx, rowsPerBlock, dims.accumulateDx ? 1 : 0]);
    const steps: Step[] = [
      [this.backward, bindGroup(device, this.backward, [...buffers, scratch, u]), gx, gy],
    ];
    const owned = [u];
    const nv = this.geometry.nv;
    const [cx, cy] = splitDispatch(this.gpu, Math.ceil(nv / COLSUM_LANES));
    grads.forEach((grad, i) => {
      const stride = grads.length * nv;
      const acc = dims.accumulateParams ? 1 : 0;
      const cu = uniformBuffer(device, [blocks, nv, stride, i * nv, acc, cx]);
      owned.push(cu);
      steps.push([this.colSum, bindGroup(device, this.colSum, [scratch, grad, cu]), cx, cy]);
    });
    return boundOp(steps, owned);
  }
}

/**
 * Buffers of an RMSNorm forward pass (f32, row-major).
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import type { RmsNormForwardIo } from "./mod.ts";
 * const { device } = await getGpu();
 * const f32 = (n: number) => device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.STORAGE });
 * const [rows, d] = [2, 8];
 * const io: RmsNormForwardIo = { x: f32(rows * d), g: f32(d), y: f32(rows * d), rstd: f32(rows) };
 * Object.values(io).forEach((b) => b.destroy());
 * ```
 */
export interface RmsNormForwardIo {
  /** Input `[rows, d]`. */
  readonly x: GPUBuffer;
  /** Weight `[d]`. */
  readonly g: GPUBuffer;
  /** Output `[rows, d]` (a different buffer from `x`). */
  readonly y: GPUBuffer;
  /** Saved `1/sqrt(mean(x²) + eps)` per row, `[rows]`. */
  readonly rstd: GPUBuffer;
}

/**
 * Buffers of an RMSNorm backward pass (f32, row-major).
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { type RmsNormBackwardIo, RmsNormKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const f32 = (n: number) =>
 *   gpu.device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.STORAGE });
 * const [rows, d] = [2, 8];
 * const norm = await RmsNormKernel.create(gpu, { d });
 * const io: RmsNormBackwardIo = {
 *   x: f32(rows * d), g: f32(d), rstd: f32(rows), dy: f32(rows * d), dx: f32(rows * d),
 *   dg: f32(d), scratch: f32(norm.scratchElements(rows)),
 * };
 * Object.values(io).forEach((b) => b.destroy());
 * ```
 */
export interface RmsNormBackwardIo {
  /** The forward pass's input `[rows, d]`. */
  readonly x: GPUBuffer;
  /** Weight `[d]`. */
  readonly g: GPUBuffer;
  /** The forward pass's `rstd`. */
  readonly rstd: GPUBuffer;
  /** Upstream gradient `[rows, d]`. */
  readonly dy: GPUBuffer;
  /** Input gradient `[rows, d]`. */
  readonly dx: GPUBuffer;
  /** Weight gradient `[d]`. */
  readonly dg: GPUBuffer;
  /** At least {@link RmsNormKernel.scratchElements} f32: per-row-block partials of `dg`. */
  readonly scratch: GPUBuffer;
}

/**
 * RMSNorm with a learnable weight: `y = x / sqrt(mean(x²) + eps) · g` over rows of `d` values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { RmsNormKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const norm = await RmsNormKernel.create(gpu, { d: 4, eps: 0 });
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const buf = (a: number[]) => createBufferFrom(gpu.device, new Float32Array(a), usage);
 * const io = { x: buf([1, -1, 1, -1, 2, 2, 2, 2]), g: buf([1, 2, 3, 4]), y: buf(Array(8).fill(0)),
 *   rstd: buf([0, 0]) };
 * const op = norm.forward(io, { rows: 2 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const y = new Float32Array(await readBuffer(gpu.device, io.y));
 * assert.deepEqual([...y].map((v) => +v.toFixed(5)), [1, -2, 3, -4, 1, 2, 3, 4]);
 * op.destroy();
 * ```
 */
export class RmsNormKernel {
  readonly #core: NormCore;

  private constructor(core: NormCore) {
    this.#core = core;
  }

  /** Compiles the kernels for rows of `config.d` values. */
  static async create(gpu: Gpu, config: NormConfig): Promise<RmsNormKernel> {
    const core = await NormCore.create(gpu, config, (g) => [
      rmsForwardShader(g),
      rmsBackwardShader(g),
    ]);
    return new RmsNormKernel(core);
  }

  /** Row length. */
  get d(): number {
    return this.#core.geometry.d;
  }

  /** Epsilon. */
  get eps(): number {
    return this.#core.eps;
  }

  /** f32 elements of the backward scratch buffer for `rows` rows (`blocks · d`). */
  scratchElements(rows: number): number {
    return normBlocks(rows).blocks * this.d;
  }

  /** `y = x · rstd · g`, saving `rstd`: one dispatch, one workgroup per row. */
  forward(io: RmsNormForwardIo, dims: { readonly rows: number }): BoundOp {
    return this.#core.forwardOp(dims.rows, [io.x, io.g, io.y, io.rstd]);
  }

  /**
   * `dx = rstd · (dy·g − x̂ · mean(dy·g·x̂))` with `x̂ = x · rstd`, and `dg = Σ_rows dy·x̂` in a
   * fixed order: two dispatches.
   */
  backward(io: RmsNormBackwardIo, dims: NormBackwardDims): BoundOp {
    return this.#core.backwardOp(dims, [io.x, io.g, io.rstd, io.dy, io.dx], io.scratch, [io.dg]);
  }
}

/**
 * Buffers of a LayerNorm forward pass (f32, row-major).
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import type { LayerNormForwardIo } from "./mod.ts";
 * const { device } = await getGpu();
 * const f32 = (n: number) => device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.STORAGE });
 * const [rows, d] = [2, 8];
 * const io: LayerNormForwardIo = {
 *   x: f32(rows * d), w: f32(d), b: f32(d), y: f32(rows * d), mean: f32(rows), rstd: f32(rows),
 * };
 * Object.values(io).forEach((b) => b.destroy());
 * ```
 */
export interface LayerNormForwardIo {
  /** Input `[rows, d]`. */
  readonly x: GPUBuffer;
  /** Weight `[d]`. */
  readonly w: GPUBuffer;
  /** Bias `[d]`. */
  readonly b: GPUBuffer;
  /** Output `[rows, d]` (a different buffer from `x`). */
  readonly y: GPUBuffer;
  /** Saved row means `[rows]`. */
  readonly mean: GPUBuffer;
  /** Saved `1/sqrt(var + eps)` per row `[rows]`. */
  readonly rstd: GPUBuffer;
}

/**
 * Buffers of a LayerNorm backward pass (f32, row-major).
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { type LayerNormBackwardIo, LayerNormKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const f32 = (n: number) =>
 *   gpu.device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.STORAGE });
 * const [rows, d] = [2, 8];
 * const norm = await LayerNormKernel.create(gpu, { d });
 * const io: LayerNormBackwardIo = {
 *   x: f32(rows * d), w: f32(d), mean: f32(rows), rstd: f32(rows), dy: f32(rows * d),
 *   dx: f32(rows * d), dw: f32(d), db: f32(d), scratch: f32(norm.scratchElements(rows)),
 * };
 * Object.values(io).forEach((b) => b.destroy());
 * ```
 */
export interface LayerNormBackwardIo {
  /** The forward pass's input `[rows, d]`. */
  readonly x: GPUBuffer;
  /** Weight `[d]`. */
  readonly w: GPUBuffer;
  /** The forward pass's `mean`. */
  readonly mean: GPUBuffer;
  /** The forward pass's `rstd`. */
  readonly rstd: GPUBuffer;
  /** Upstream gradient `[rows, d]`. */
  readonly dy: GPUBuffer;
  /** Input gradient `[rows, d]`. */
  readonly dx: GPUBuffer;
  /** Weight gradient `[d]`. */
  readonly dw: GPUBuffer;
  /** Bias gradient `[d]`. */
  readonly db: GPUBuffer;
  /** At least {@link LayerNormKernel.scratchElements} f32: partials of `dw` and `db`. */
  readonly scratch: GPUBuffer;
}

/**
 * LayerNorm with weight and bias: `y = (x − mean(x)) / sqrt(var(x) + eps) · w + b` over rows of
 * `d` values (biased variance).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { LayerNormKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const norm = await LayerNormKernel.create(gpu, { d: 2, eps: 0 });
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const buf = (a: number[]) => createBufferFrom(gpu.device, new Float32Array(a), usage);
 * const io = { x: buf([1, 3]), w: buf([2, 2]), b: buf([0, 1]), y: buf([0, 0]), mean: buf([0]),
 *   rstd: buf([0]) };
 * const op = norm.forward(io, { rows: 1 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const y = new Float32Array(await readBuffer(gpu.device, io.y));
 * assert.deepEqual([...y].map((v) => +v.toFixed(5)), [-2, 3]);
 * assert.deepEqual([...new Float32Array(await readBuffer(gpu.device, io.mean))], [2]);
 * op.destroy();
 * ```
 */
export class LayerNormKernel {
  readonly #core: NormCore;

  private constructor(core: NormCore) {
    this.#core = core;
  }

  /** Compiles the kernels for rows of `config.d` values. */
  static async create(gpu: Gpu, config: NormConfig): Promise<LayerNormKernel> {
    const core = await NormCore.create(gpu, config, (g) => [
      layerForwardShader(g),
      layerBackwardShader(g),
    ]);
    return new LayerNormKernel(core);
  }

  /** Row length. */
  get d(): number {
    return this.#core.geometry.d;
  }

  /** Epsilon. */
  get eps(): number {
    return this.#core.eps;
  }

  /** f32 elements of the backward scratch buffer for `rows` rows (`2 · blocks · d`). */
  scratchElements(rows: number): number {
    return 2 * normBlocks(rows).blocks * this.d;
  }

  /** `y = (x − mean) · rstd · w + b`, saving `mean` and `rstd`: one dispatch. */
  forward(io: LayerNormForwardIo, dims: { readonly rows: number }): BoundOp {
    return this.#core.forwardOp(dims.rows, [io.x, io.w, io.b, io.y, io.mean, io.rstd]);
  }

  /**
   * `dx = rstd · (dy·w − mean(dy·w) − x̂ · mean(dy·w·x̂))` with `x̂ = (x − mean) · rstd`,
   * `dw = Σ_rows dy·x̂` and `db = Σ_rows dy` in a fixed order: three dispatches.
   */
  backward(io: LayerNormBackwardIo, dims: NormBackwardDims): BoundOp {
    return this.#core.backwardOp(
      dims,
      [io.x, io.w, io.mean, io.rstd, io.dy, io.dx],
      io.scratch,
      [io.dw, io.db],
    );
  }
}
