/**
 * Small elementwise kernels the model needs between the big ones: `y += x` (residual adds,
 * gradient accumulation), zero fill, and a tiled 2D transpose (for the columnwise copies of
 * block-quantized GEMM operands).
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";

const WG = 256;

const ADD = /* wgsl */ `
struct P { n: u32, gx: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * p.gx + wid.x) * ${WG}u + lid;
  if (i < p.n) { y[i] = y[i] + x[i]; }
}
`;

const FILL = /* wgsl */ `
struct P { n: u32, gx: u32, value: f32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * p.gx + wid.x) * ${WG}u + lid;
  if (i < p.n) { y[i] = p.value; }
}
`;

const T = 16;
const TRANSPOSE = /* wgsl */ `
struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> tile: array<f32, ${T * (T + 1)}>;
@compute @workgroup_size(${T}, ${T})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let r = wid.y * ${T}u + l.y;
  let c = wid.x * ${T}u + l.x;
  if (r < p.rows && c < p.cols) { tile[l.y * ${T + 1}u + l.x] = x[r * p.cols + c]; }
  workgroupBarrier();
  let tr = wid.x * ${T}u + l.y;
  let tc = wid.y * ${T}u + l.x;
  if (tr < p.cols && tc < p.rows) { y[tr * p.rows + tc] = tile[l.x * ${T + 1}u + l.y]; }
}
`;

function op(
  pass: (p: GPUComputePassEncoder) => void,
  dispatches: number,
  owned: GPUBuffer[],
): BoundOp {
  return {
    dispatches,
    encode: pass,
    destroy: () => owned.forEach((b) => b.destroy()),
  };
}

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

  private constructor(gpu: Gpu, pipelines: GPUComputePipeline[]) {
    this.#gpu = gpu;
    [this.#add, this.#fill, this.#transpose] = pipelines;
  }

  /** Compiles the kernels. */
  static async create(gpu: Gpu): Promise<ElementwiseKernels> {
    const cache = pipelineCache(gpu.device);
    const pipelines = await Promise.all([ADD, FILL, TRANSPOSE].map((c) => cache.getAsync(c)));
    return new ElementwiseKernels(gpu, pipelines);
  }

  /** `y[i] += x[i]` for `i < n`. */
  add(io: { x: GPUBuffer; y: GPUBuffer }, dims: { n: number }): BoundOp {
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(dims.n / WG));
    const u = uniformBuffer(this.#gpu.device, [dims.n, gx]);
    const group = bindGroup(this.#gpu.device, this.#add, [io.x, io.y, u]);
    return op(
      (pass) => {
        pass.setPipeline(this.#add);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(gx, gy);
      },
      1,
      [u],
    );
  }

  /** `y[i] = value` for `i < n` (default 0). */
  fill(io: { y: GPUBuffer }, dims: { n: number; value?: number }): BoundOp {
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(dims.n / WG));
    const value = new Uint32Array(new Float32Array([dims.value ?? 0]).buffer)[0];
    const u = uniformBuffer(this.#gpu.device, [dims.n, gx, value]);
    const group = bindGroup(this.#gpu.device, this.#fill, [io.y, u]);
    return op(
      (pass) => {
        pass.setPipeline(this.#fill);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(gx, gy);
      },
      1,
      [u],
    );
  }

  /** `y [cols, rows] = xᵀ` for a row-major `x [rows, cols]`. */
  transpose(io: { x: GPUBuffer; y: GPUBuffer }, dims: { rows: number; cols: number }): BoundOp {
    const u = uniformBuffer(this.#gpu.device, [dims.rows, dims.cols]);
    const group = bindGroup(this.#gpu.device, this.#transpose, [io.x, io.y, u]);
    const gx = Math.ceil(dims.cols / T);
    const gy = Math.ceil(dims.rows / T);
    return op(
      (pass) => {
        pass.setPipeline(this.#transpose);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(gx, gy);
      },
      1,
      [u],
    );
  }
}
