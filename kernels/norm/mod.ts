/**
 * RMSNorm over the rows of a `[rows, d]` f32 tensor, forward and backward, as bound operations
 * (WGSL in `./wgsl.ts`; CPU reference, limits and row blocks in `./reference.ts`).
 *
 * Forward saves the per-row `rstd` backward needs. Backward writes `dx` and the weight gradient
 * without atomics: each workgroup handles a block of consecutive rows ({@link normBlocks}) and
 * writes its column partials to a caller-provided scratch buffer, then a column-sum kernel adds
 * the partials in a fixed order. Results are therefore bit-identical from run to run on one
 * adapter. The row-block size depends on `rows` only.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { f32Bits } from "../../src/formats/fp32.ts";
import { type BoundOp, type Dispatch, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { normBlocks, normEps, normScratchElements } from "./reference.ts";
import {
  COLSUM_LANES,
  colSumShader,
  rmsBackwardShader,
  rmsForwardShader,
  type RowGeometry,
  rowGeometry,
} from "./wgsl.ts";

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
  /** Row length, 1…16384 (`MAX_NORM_D`). */
  readonly d: number;
  /** Added to the mean square; default 1e-5 (`NORM_EPS`). */
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
  /** Add into the weight gradient instead of overwriting it. */
  readonly accumulateParams?: boolean;
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
  readonly #gpu: Gpu;
  readonly #geometry: RowGeometry;
  readonly #eps: number;
  readonly #forward: GPUComputePipeline;
  readonly #backward: GPUComputePipeline;
  readonly #colSum: GPUComputePipeline;

  private constructor(
    gpu: Gpu,
    geometry: RowGeometry,
    eps: number,
    pipelines: GPUComputePipeline[],
  ) {
    this.#gpu = gpu;
    this.#geometry = geometry;
    this.#eps = eps;
    [this.#forward, this.#backward, this.#colSum] = pipelines;
  }

  /** Compiles the kernels for rows of `config.d` values. */
  static async create(gpu: Gpu, config: NormConfig): Promise<RmsNormKernel> {
    const g = rowGeometry(config.d);
    const eps = normEps(config.eps);
    const cache = pipelineCache(gpu.device);
    const pipelines = await Promise.all(
      [rmsForwardShader(g), rmsBackwardShader(g), colSumShader(g.vec)].map((code) =>
        cache.getAsync(code)
      ),
    );
    return new RmsNormKernel(gpu, g, eps, pipelines);
  }

  /** Row length. */
  get d(): number {
    return this.#geometry.d;
  }

  /** Epsilon. */
  get eps(): number {
    return this.#eps;
  }

  /** f32 elements of the backward scratch buffer for `rows` rows (`blocks · d`). */
  scratchElements(rows: number): number {
    return normScratchElements(this.d, rows);
  }

  /** `y = x · rstd · g`, saving `rstd`: one dispatch, one workgroup per row. */
  forward(io: RmsNormForwardIo, dims: { readonly rows: number }): BoundOp {
    const { rows } = dims;
    normBlocks(rows); // validates rows
    const device = this.#gpu.device;
    const [gx, gy] = splitDispatch(this.#gpu, rows);
    const u = uniformBuffer(device, [rows, gx, f32Bits(this.#eps)]);
    const group = bindGroup(device, this.#forward, [io.x, io.g, io.y, io.rstd, u]);
    return dispatchOp([[this.#forward, group, gx, gy]], [u], "norm");
  }

  /**
   * `dx = rstd · (dy·g − x̂ · mean(dy·g·x̂))` with `x̂ = x · rstd`, and `dg = Σ_rows dy·x̂` in a
   * fixed order: two dispatches, the row-block kernel and the column sum of its partials.
   */
  backward(io: RmsNormBackwardIo, dims: NormBackwardDims): BoundOp {
    const device = this.#gpu.device;
    const { rowsPerBlock, blocks } = normBlocks(dims.rows);
    const [gx, gy] = splitDispatch(this.#gpu, blocks);
    const u = uniformBuffer(device, [dims.rows, gx, rowsPerBlock, dims.accumulateDx ? 1 : 0]);
    const buffers = [io.x, io.g, io.rstd, io.dy, io.dx, io.scratch, u];
    const rowBlocks: Dispatch = [
      this.#backward,
      bindGroup(device, this.#backward, buffers),
      gx,
      gy,
    ];
    const nv = this.#geometry.nv;
    const [cx, cy] = splitDispatch(this.#gpu, Math.ceil(nv / COLSUM_LANES));
    const acc = dims.accumulateParams ? 1 : 0;
    const cu = uniformBuffer(device, [blocks, nv, nv, 0, acc, cx]);
    const colSum = bindGroup(device, this.#colSum, [io.scratch, io.dg, cu]);
    return dispatchOp([rowBlocks, [this.#colSum, colSum, cx, cy]], [u, cu], "norm");
  }
}
