/**
 * Small elementwise kernels the model needs between the big ones: `y += x` (residual adds,
 * gradient accumulation), zero fill, BF16 rounding in place (the store of an op's output under
 * `compute: bf16`), and a tiled 2D transpose (for the columnwise copies of block-quantized GEMM
 * operands). WGSL in `./wgsl.ts`; each is one deterministic dispatch.
 *
 * @module
 */

import { f32Bits } from "../../src/formats/fp32.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import {
  ADD_SHADER,
  ELEMENTWISE_WORKGROUP,
  FILL_SHADER,
  ROUND_BF16_SHADER,
  TRANSPOSE_SHADER,
  TRANSPOSE_TILE,
} from "./wgsl.ts";

/**
 * Elementwise and layout kernels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { ElementwiseKernels } from "./mod.ts";
 * const gpu = await getGpu();
 * const k = await ElementwiseKernels.create(gpu);
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const x = createBufferFrom(gpu.device, new Float32Array([1, 2, 3, 4, 5, 6]), usage);
 * const y = createBufferFrom(gpu.device, new Float32Array(6), usage);
 * const t = k.transpose({ x, y }, { rows: 2, cols: 3 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * t.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * assert.deepEqual([...new Float32Array(await readBuffer(gpu.device, y))], [1, 4, 2, 5, 3, 6]);
 * ```
 */
export class ElementwiseKernels {
  readonly #gpu: Gpu;
  readonly #add: GPUComputePipeline;
  readonly #fill: GPUComputePipeline;
  readonly #transpose: GPUComputePipeline;
  readonly #roundBf16: GPUComputePipeline;

  private constructor(gpu: Gpu, pipelines: GPUComputePipeline[]) {
    this.#gpu = gpu;
    [this.#add, this.#fill, this.#transpose, this.#roundBf16] = pipelines;
  }

  /** Compiles the kernels. */
  static async create(gpu: Gpu): Promise<ElementwiseKernels> {
    const cache = pipelineCache(gpu.device);
    const pipelines = await Promise.all(
      [ADD_SHADER, FILL_SHADER, TRANSPOSE_SHADER, ROUND_BF16_SHADER].map((c) => cache.getAsync(c)),
    );
    return new ElementwiseKernels(gpu, pipelines);
  }

  /** `y[i] += x[i]` for `i < n`. */
  add(io: { x: GPUBuffer; y: GPUBuffer }, dims: { n: number }): BoundOp {
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(dims.n / ELEMENTWISE_WORKGROUP));
    const u = uniformBuffer(this.#gpu.device, [dims.n, gx]);
    const group = bindGroup(this.#gpu.device, this.#add, [io.x, io.y, u]);
    return dispatchOp([[this.#add, group, gx, gy]], [u], "elementwise");
  }

  /** `y[i] = value` for `i < n` (default 0). */
  fill(io: { y: GPUBuffer }, dims: { n: number; value?: number }): BoundOp {
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(dims.n / ELEMENTWISE_WORKGROUP));
    const u = uniformBuffer(this.#gpu.device, [dims.n, gx, f32Bits(dims.value ?? 0)]);
    const group = bindGroup(this.#gpu.device, this.#fill, [io.y, u]);
    return dispatchOp([[this.#fill, group, gx, gy]], [u], "elementwise");
  }

  /**
   * `y[i] = roundBf16(y[i])` for `i < n` (src/formats/bf16.ts, bit for bit): stores an op's
   * output as BF16 under `compute: bf16`.
   */
  roundBf16(io: { y: GPUBuffer }, dims: { n: number }): BoundOp {
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(dims.n / ELEMENTWISE_WORKGROUP));
    const u = uniformBuffer(this.#gpu.device, [dims.n, gx]);
    const group = bindGroup(this.#gpu.device, this.#roundBf16, [io.y, u]);
    return dispatchOp([[this.#roundBf16, group, gx, gy]], [u], "elementwise");
  }

  /** `y [cols, rows] = xᵀ` for a row-major `x [rows, cols]`. */
  transpose(io: { x: GPUBuffer; y: GPUBuffer }, dims: { rows: number; cols: number }): BoundOp {
    const u = uniformBuffer(this.#gpu.device, [dims.rows, dims.cols]);
    const group = bindGroup(this.#gpu.device, this.#transpose, [io.x, io.y, u]);
    const gx = Math.ceil(dims.cols / TRANSPOSE_TILE);
    const gy = Math.ceil(dims.rows / TRANSPOSE_TILE);
    return dispatchOp([[this.#transpose, group, gx, gy]], [u], "elementwise");
  }
}
