/**
 * Rotary position embedding (RoFormer, arXiv 2104.09864; GPT-NeoX "rotate half" pairing) applied
 * in place to the q and k parts of a fused qkv tensor [B·T, 3·D], and its backward (the inverse
 * rotation applied in place to dq and dk of dqkv). The CPU reference and the formula are in
 * kernels/rope/reference.ts; the f32 cos/sin table [T, Dh/2] comes from the same `ropeTable`
 * and is uploaded once per bind. One invocation per rotated pair (WGSL in `./wgsl.ts`).
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { createBufferFrom } from "../../src/gpu/buffers.ts";
import { type BoundOp, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { checkRopeDims, ROPE_BASE, ropeTable } from "./reference.ts";
import { ROPE_WORKGROUP, ropeShader } from "./wgsl.ts";

/**
 * A RoPE kernel's configuration: the head layout and the base (default 10000).
 *
 * @example
 * ```ts
 * import type { RopeConfig } from "./mod.ts";
 * const config: RopeConfig = { heads: 12, headDim: 64, base: 10000 };
 * ```
 */
export interface RopeConfig {
  /** Attention heads. */
  readonly heads: number;
  /** Even, ≥ 2. */
  readonly headDim: number;
  /** The rotary base (default 10000). */
  readonly base?: number;
}

/**
 * The tensor shape a RoPE op is bound to: qkv is [batch·seq, 3·heads·headDim].
 *
 * @example
 * ```ts
 * import type { RopeBindDims } from "./mod.ts";
 * const dims: RopeBindDims = { batch: 8, seq: 1024 };
 * ```
 */
export interface RopeBindDims {
  /** Sequences. */
  readonly batch: number;
  /** Tokens per sequence (positions 0 … seq − 1). */
  readonly seq: number;
}

/**
 * In-place RoPE on the q and k parts of qkv [B·T, 3·D] (forward) or of dqkv (backward).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { RopeKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const rope = await RopeKernel.create(gpu, { heads: 1, headDim: 2 });
 * // T = 2, one head of size 2: row 1 holds q = (1, 0), k = (0, 1), v = (5, 6).
 * const qkv = createBufferFrom(
 *   gpu.device,
 *   new Float32Array([0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 5, 6]),
 *   GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
 * );
 * const op = rope.bindForward({ qkv }, { batch: 1, seq: 2 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const y = new Float32Array(await readBuffer(gpu.device, qkv));
 * assert.ok(Math.abs(y[6] - Math.cos(1)) < 1e-6 && Math.abs(y[7] - Math.sin(1)) < 1e-6);
 * assert.deepEqual([...y.subarray(10)], [5, 6]);
 * op.destroy();
 * qkv.destroy();
 * ```
 */
export class RopeKernel {
  /** The head layout and base compiled for. */
  readonly config: Required<RopeConfig>;
  readonly #gpu: Gpu;
  readonly #forward: GPUComputePipeline;
  readonly #backward: GPUComputePipeline;

  private constructor(
    gpu: Gpu,
    config: Required<RopeConfig>,
    pipelines: GPUComputePipeline[],
  ) {
    this.#gpu = gpu;
    this.config = config;
    [this.#forward, this.#backward] = pipelines;
  }

  /** Checks the configuration and compiles the forward and backward pipelines. */
  static async create(gpu: Gpu, config: RopeConfig): Promise<RopeKernel> {
    const full = { base: ROPE_BASE, ...config };
    checkRopeDims({ batch: 1, seq: 1, heads: full.heads, headDim: full.headDim }, full.base);
    const cache = pipelineCache(gpu.device);
    const pipelines = await Promise.all(
      ([1, -1] as const).map((s) => cache.getAsync(ropeShader(full.heads, full.headDim, s))),
    );
    return new RopeKernel(gpu, full, pipelines);
  }

  /** Rotates q and k of `io.qkv` in place. The op owns its cos/sin table and uniform. */
  bindForward(io: { qkv: GPUBuffer }, dims: RopeBindDims): BoundOp {
    return this.#bind(this.#forward, io.qkv, dims);
  }

  /** Rotates dq and dk of `io.dqkv` back in place (gradient with respect to the un-rotated qkv). */
  bindBackward(io: { dqkv: GPUBuffer }, dims: RopeBindDims): BoundOp {
    return this.#bind(this.#backward, io.dqkv, dims);
  }

  #bind(pipeline: GPUComputePipeline, x: GPUBuffer, dims: RopeBindDims): BoundOp {
    const { heads, headDim, base } = this.config;
    checkRopeDims({ ...dims, heads, headDim }, base);
    const d = heads * headDim;
    const rows = dims.batch * dims.seq;
    if (x.size < rows * 3 * d * 4) {
      throw new RangeError(
        `RoPE: buffer "${x.label}" has ${x.size} bytes, [${rows}, ${3 * d}] f32 needs ${
          rows * 3 * d * 4
        }`,
      );
    }
    const device = this.#gpu.device;
    const pairs = rows * d;
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(pairs / ROPE_WORKGROUP));
    const table = createBufferFrom(
      device,
      ropeTable(dims.seq, headDim, base),
      GPUBufferUsage.STORAGE,
      "rope cos/sin",
    );
    const params = uniformBuffer(device, [pairs, dims.seq, gx]);
    const group = bindGroup(device, pipeline, [x, table, params]);
    return dispatchOp([[pipeline, group, gx, gy]], [table, params], "rope");
  }
}
