/**
 * Causal multi-head self-attention on a fused qkv tensor, forward and backward, in f32 (the
 * NVFP4 recipe keeps attention in high precision). FlashAttention-style (Dao et al., arXiv
 * 2205.14135; FlashAttention-2, arXiv 2307.08691): the forward saves only the row log-sum-exp, and
 * the backward recomputes the probabilities from it, with dq computed per query block and dk, dv
 * per key block, so no atomics are needed and every sum has a fixed order. The WGSL is generated
 * in kernels/attention/wgsl.ts; the float64 CPU reference is kernels/attention/reference.ts.
 *
 * Layouts (f32, row-major; row = token b·T + t; D = heads·headDim, head h at columns
 * h·headDim … (h+1)·headDim − 1 of each part):
 * - qkv [B·T, 3·D] = [q | k | v] (after RoPE); y, dy [B·T, D]; dqkv [B·T, 3·D] = [dq | dk | dv];
 * - lse [B, H, T]: log Σ_j exp(q_t·k_j/√headDim) over j ≤ t.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { f32Bits } from "../../src/formats/fp32.ts";
import { type BoundOp, type Dispatch, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { checkAttentionConfig, checkAttentionDims } from "./reference.ts";
import {
  attentionDeltaShader,
  attentionDkvShader,
  attentionDqShader,
  attentionForwardShader,
  type AttentionTiles,
  attentionTiles,
  DELTA_WORKGROUP,
} from "./wgsl.ts";

/**
 * An attention kernel's configuration.
 *
 * @example
 * ```ts
 * import type { AttentionConfig } from "./mod.ts";
 * const config: AttentionConfig = { heads: 4, headDim: 64 };
 * ```
 */
export interface AttentionConfig {
  /** Attention heads. */
  readonly heads: number;
  /** 1 … `MAX_HEAD_DIM` (128, kernels/attention/reference.ts). */
  readonly headDim: number;
}

/**
 * The shape an attention op is bound to (any batch; any sequence length).
 *
 * @example
 * ```ts
 * import type { AttentionBindDims } from "./mod.ts";
 * const dims: AttentionBindDims = { batch: 8, seq: 256 };
 * ```
 */
export interface AttentionBindDims {
  /** Sequences. */
  readonly batch: number;
  /** Tokens per sequence. */
  readonly seq: number;
}

/**
 * Buffers of the forward pass: reads qkv, writes y and lse.
 *
 * @example
 * ```ts
 * import type { AttentionForwardIo } from "./mod.ts";
 * const io = (qkv: GPUBuffer, y: GPUBuffer, lse: GPUBuffer): AttentionForwardIo => ({ qkv, y, lse });
 * ```
 */
export interface AttentionForwardIo {
  /** `[B·T, 3·D]`: `[q | k | v]` after RoPE. */
  readonly qkv: GPUBuffer;
  /** Output `[B·T, D]`. */
  readonly y: GPUBuffer;
  /** Row log-sum-exp `[B, H, T]`, saved for the backward. */
  readonly lse: GPUBuffer;
}

/**
 * Buffers of the backward pass: reads qkv, y, lse (saved by the forward) and dy; overwrites dqkv.
 *
 * @example
 * ```ts
 * import type { AttentionBackwardIo, AttentionForwardIo } from "./mod.ts";
 * const io = (fwd: AttentionForwardIo, dy: GPUBuffer, dqkv: GPUBuffer): AttentionBackwardIo => ({
 *   ...fwd,
 *   dy,
 *   dqkv,
 * });
 * ```
 */
export interface AttentionBackwardIo extends AttentionForwardIo {
  /** Upstream gradient `[B·T, D]`. */
  readonly dy: GPUBuffer;
  /** Gradient of qkv `[B·T, 3·D]` (overwritten). */
  readonly dqkv: GPUBuffer;
}

/**
 * Compiled causal attention for one head layout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, createEmptyBuffer, readBuffer } from "../../src/gpu/buffers.ts";
 * import { AttentionKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const attention = await AttentionKernel.create(gpu, { heads: 1, headDim: 1 });
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * // T = 2, q = k = 0: row 0 sees v_0 = 2, row 1 averages v_0 and v_1 = 4.
 * const qkv = createBufferFrom(gpu.device, new Float32Array([0, 0, 2, 0, 0, 4]), usage);
 * const y = createEmptyBuffer(gpu.device, 8, usage);
 * const lse = createEmptyBuffer(gpu.device, 8, usage);
 * const op = attention.bindForward({ qkv, y, lse }, { batch: 1, seq: 2 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * assert.deepEqual([...new Float32Array(await readBuffer(gpu.device, y))], [2, 3]);
 * const [l0, l1] = new Float32Array(await readBuffer(gpu.device, lse));
 * assert.ok(l0 === 0 && Math.abs(l1 - Math.LN2) < 1e-6);
 * op.destroy();
 * ```
 */
export class AttentionKernel {
  /** The head layout compiled for. */
  readonly config: AttentionConfig;
  /** Tiles of the forward, dq and dk/dv kernels. */
  readonly tiles: { forward: AttentionTiles; dq: AttentionTiles; dkv: AttentionTiles };
  readonly #gpu: Gpu;
  readonly #forward: GPUComputePipeline;
  readonly #delta: GPUComputePipeline;
  readonly #dq: GPUComputePipeline;
  readonly #dkv: GPUComputePipeline;

  private constructor(gpu: Gpu, config: AttentionConfig, pipelines: GPUComputePipeline[]) {
    this.#gpu = gpu;
    this.config = config;
    const dh = config.headDim;
    this.tiles = {
      forward: attentionTiles("forward", dh),
      dq: attentionTiles("dq", dh),
      dkv: attentionTiles("dkv", dh),
    };
    [this.#forward, this.#delta, this.#dq, this.#dkv] = pipelines;
  }

  /** Checks the configuration and compiles the four pipelines. */
  static async create(gpu: Gpu, config: AttentionConfig): Promise<AttentionKernel> {
    const { heads, headDim: dh } = config;
    checkAttentionConfig(config);
    const cache = pipelineCache(gpu.device);
    const pipelines = await Promise.all([
      cache.getAsync(attentionForwardShader(heads, dh, attentionTiles("forward", dh))),
      cache.getAsync(attentionDeltaShader(heads, dh)),
      cache.getAsync(attentionDqShader(heads, dh, attentionTiles("dq", dh))),
      cache.getAsync(attentionDkvShader(heads, dh, attentionTiles("dkv", dh))),
    ]);
    return new AttentionKernel(gpu, { heads, headDim: dh }, pipelines);
  }

  /** y = causal softmax attention of qkv; lse saved for the backward. One dispatch. */
  bindForward(io: AttentionForwardIo, dims: AttentionBindDims): BoundOp {
    this.#check(io, dims);
    const [dispatch, params] = this.#tiled(this.#forward, this.tiles.forward, dims, [
      io.qkv,
      io.y,
      io.lse,
    ]);
    return dispatchOp([dispatch], [params], "attention");
  }

  /**
   * dqkv = gradient of the forward given dy. Three dispatches (delta, dq, dk/dv); the op owns a
   * [B, H, T] scratch buffer for delta = rowsum(dy∘y).
   */
  bindBackward(io: AttentionBackwardIo, dims: AttentionBindDims): BoundOp {
    const n = this.#check(io, dims);
    this.#need(io.dy, "dy", n.rows * n.d);
    this.#need(io.dqkv, "dqkv", n.rows * 3 * n.d);
    const device = this.#gpu.device;
    const delta = device.createBuffer({
      label: "attention delta",
      size: Math.max(4, n.rows * this.config.heads * 4),
      usage: GPUBufferUsage.STORAGE,
    });
    const [gx, gy] = splitDispatch(
      this.#gpu,
      Math.ceil((n.rows * this.config.heads) / DELTA_WORKGROUP),
    );
    const deltaParams = uniformBuffer(device, [n.rows, dims.seq, gx]);
    const deltaGroup = bindGroup(device, this.#delta, [io.y, io.dy, delta, deltaParams]);
    const buffers = [io.qkv, io.dy, io.lse, delta, io.dqkv];
    const [dq, dqParams] = this.#tiled(this.#dq, this.tiles.dq, dims, buffers);
    const [dkv, dkvParams] = this.#tiled(this.#dkv, this.tiles.dkv, dims, buffers);
    return dispatchOp(
      [[this.#delta, deltaGroup, gx, gy], dq, dkv],
      [delta, deltaParams, dqParams, dkvParams],
      "attention",
    );
  }

  #tiled(
    pipeline: GPUComputePipeline,
    tiles: AttentionTiles,
    dims: AttentionBindDims,
    buffers: GPUBuffer[],
  ): [Dispatch, GPUBuffer] {
    const device = this.#gpu.device;
    const blocks = Math.ceil(dims.seq / tiles.rows);
    const groups = dims.batch * this.config.heads * blocks;
    const [gx, gy] = splitDispatch(this.#gpu, groups);
    const scale = f32Bits(1 / Math.sqrt(this.config.headDim));
    const params = uniformBuffer(device, [dims.seq, blocks, groups, gx, scale]);
    return [[pipeline, bindGroup(device, pipeline, [...buffers, params]), gx, gy], params];
  }

  #check(io: AttentionForwardIo, dims: AttentionBindDims): { rows: number; d: number } {
    const { heads, headDim } = this.config;
    checkAttentionDims({ ...dims, heads, headDim });
    const rows = dims.batch * dims.seq;
    const d = heads * headDim;
    this.#need(io.qkv, "qkv", rows * 3 * d);
    this.#need(io.y, "y", rows * d);
    this.#need(io.lse, "lse", rows * heads);
    return { rows, d };
  }

  #need(buffer: GPUBuffer, name: string, elements: number): void {
    if (buffer.size < elements * 4) {
      throw new RangeError(
        `attention: ${name} has ${buffer.size} bytes, needs ${elements} f32 (${elements * 4})`,
      );
    }
  }
}
