/**
 * Token embedding on the GPU: forward gather `out[t, :] = table[tokens[t], :]` and a deterministic
 * backward scatter-add `dTable[v, :] (+)= Σ_{t: tokens[t] = v} dOut[t, :]` without atomics.
 *
 * The backward pass needs the batch's tokens grouped by id, which the CPU knows before the batch
 * is uploaded: {@link embeddingGradIndex} (kernels/embedding/reference.ts) packs the grouping (a
 * stable counting sort) into one u32 buffer uploaded with the batch. Each id's positions are cut
 * into chunks of `EMBEDDING_CHUNK` (32); one kernel sums the chunks, a second adds the chunk sums
 * of ids with several (WGSL in `./wgsl.ts`). The order is the one `./reference.ts` defines, so
 * GPU and CPU agree bit for bit. Only rows of ids present in the batch are written.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, type Dispatch, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { embeddingBackwardLayout, embeddingScratchElements } from "./reference.ts";
import {
  EMBEDDING_FORWARD_WORKGROUP,
  EMBEDDING_MERGE_WORKGROUP,
  embeddingChunkShader,
  embeddingChunkWorkgroup,
  embeddingForwardShader,
  embeddingMergeShader,
} from "./wgsl.ts";

/**
 * Dimensions of an embedding pass: positions in the batch and rows of the table.
 *
 * @example
 * ```ts
 * import type { EmbeddingDims } from "./mod.ts";
 * const dims: EmbeddingDims = { tokens: 16384, vocab: 50304 };
 * console.log(dims.tokens);
 * ```
 */
export interface EmbeddingDims {
  /** Positions in the batch (T). */
  readonly tokens: number;
  /** Rows of the table. */
  readonly vocab: number;
}

/**
 * Buffers of the forward gather.
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import type { EmbeddingForwardIo } from "./mod.ts";
 * const { device } = await getGpu();
 * const buf = (n: number) => device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.STORAGE });
 * const [t, vocab, d] = [4, 10, 8];
 * const io: EmbeddingForwardIo = { tokens: buf(t), table: buf(vocab * d), out: buf(t * d) };
 * Object.values(io).forEach((b) => b.destroy());
 * ```
 */
export interface EmbeddingForwardIo {
  /** Token ids, u32 `[T]`. */
  readonly tokens: GPUBuffer;
  /** f32 `[vocab, d]`. */
  readonly table: GPUBuffer;
  /** f32 `[T, d]`: the table rows; zeros for ids ≥ vocab. */
  readonly out: GPUBuffer;
}

/**
 * Buffers of the backward scatter-add.
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { type EmbeddingBackwardIo, EmbeddingKernel } from "./mod.ts";
 * import { embeddingBackwardLayout } from "./reference.ts";
 * const gpu = await getGpu();
 * const buf = (n: number) =>
 *   gpu.device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.STORAGE });
 * const [t, vocab, d] = [4, 10, 8];
 * const k = await EmbeddingKernel.create(gpu, { d });
 * const io: EmbeddingBackwardIo = {
 *   index: buf(embeddingBackwardLayout(t, vocab).words),
 *   dOut: buf(t * d),
 *   dTable: buf(vocab * d),
 *   scratch: buf(k.scratchElements({ tokens: t, vocab })),
 * };
 * Object.values(io).forEach((b) => b.destroy());
 * ```
 */
export interface EmbeddingBackwardIo {
  /** u32 `[layout.words]` from {@link embeddingGradIndex} for this batch. */
  readonly index: GPUBuffer;
  /** f32 `[T, d]`. */
  readonly dOut: GPUBuffer;
  /** f32 `[vocab, d]`: rows of ids in the batch are replaced (or added to); others untouched. */
  readonly dTable: GPUBuffer;
  /** f32, at least {@link EmbeddingKernel.scratchElements}: per-chunk sums of frequent ids. */
  readonly scratch: GPUBuffer;
}

/**
 * The embedding's forward and backward kernels for rows of `d` values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { EmbeddingKernel } from "./mod.ts";
 * import { embeddingGradIndex } from "./reference.ts";
 * const gpu = await getGpu();
 * const k = await EmbeddingKernel.create(gpu, { d: 2 });
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const up = (a: Float32Array | Uint32Array) => createBufferFrom(gpu.device, a, usage);
 * const tokens = new Uint32Array([1, 0, 1]);
 * const dims = { tokens: 3, vocab: 3 };
 * const io = {
 *   tokens: up(tokens),
 *   table: up(new Float32Array([1, 2, 3, 4, 5, 6])),
 *   out: up(new Float32Array(6)),
 *   index: up(embeddingGradIndex(tokens, 3)),
 *   dOut: up(new Float32Array([1, 2, 10, 20, 100, 200])),
 *   dTable: up(new Float32Array(6).fill(7)),
 *   scratch: up(new Float32Array(k.scratchElements(dims))),
 * };
 * const ops = [k.forward(io, dims), k.backward(io, { ...dims, accumulate: true })];
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * ops.forEach((op) => op.encode(pass));
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * assert.deepEqual([...new Float32Array(await readBuffer(gpu.device, io.out))], [3, 4, 1, 2, 3, 4]);
 * const dTable = new Float32Array(await readBuffer(gpu.device, io.dTable));
 * assert.deepEqual([...dTable], [17, 27, 108, 209, 7, 7]);
 * ops.forEach((op) => op.destroy());
 * ```
 */
export class EmbeddingKernel {
  /** Row length. */
  readonly d: number;
  readonly #gpu: Gpu;
  readonly #vec: 1 | 4;
  readonly #forward: GPUComputePipeline;
  readonly #chunk: GPUComputePipeline;
  readonly #merge: GPUComputePipeline;

  private constructor(gpu: Gpu, d: number, pipelines: GPUComputePipeline[]) {
    this.#gpu = gpu;
    this.d = d;
    this.#vec = d % 4 === 0 ? 4 : 1;
    [this.#forward, this.#chunk, this.#merge] = pipelines;
  }

  /** Compiles the kernels for rows of `config.d` values (vec4 loads when `d % 4 == 0`). */
  static async create(gpu: Gpu, config: { d: number }): Promise<EmbeddingKernel> {
    const { d } = config;
    if (!Number.isInteger(d) || d < 1) {
      throw new RangeError(`embedding: d must be a positive integer, got ${d}`);
    }
    const vec = d % 4 === 0 ? 4 : 1;
    const nc = d / vec;
    const cache = pipelineCache(gpu.device);
    const pipelines = await Promise.all(
      [
        embeddingForwardShader(vec, nc),
        embeddingChunkShader(vec, nc),
        embeddingMergeShader(vec, nc),
      ].map((code) => cache.getAsync(code)),
    );
    return new EmbeddingKernel(gpu, d, pipelines);
  }

  /** f32 elements of the backward scratch buffer (`maxScratchRows · d`, at least `d`). */
  scratchElements(dims: EmbeddingDims): number {
    return embeddingScratchElements(this.d, dims);
  }

  /** `out[t, :] = table[tokens[t], :]`: one dispatch. */
  forward(io: EmbeddingForwardIo, dims: EmbeddingDims): BoundOp {
    embeddingBackwardLayout(dims.tokens, dims.vocab); // validates the dims
    const device = this.#gpu.device;
    const n = (dims.tokens * this.d) / this.#vec;
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(n / EMBEDDING_FORWARD_WORKGROUP));
    const u = uniformBuffer(device, [n, gx, dims.vocab]);
    const group = bindGroup(device, this.#forward, [io.tokens, io.table, io.out, u]);
    return dispatchOp([[this.#forward, group, gx, gy]], [u], "embedding");
  }

  /**
   * `dTable[v, :] = Σ_{t: tokens[t] = v} dOut[t, :]` (or `+=` with `accumulate`) for the ids in
   * the batch whose index `io.index` holds: two dispatches (chunk sums, then the sums of frequent
   * ids; the second is left out when `tokens ≤ 32`). Rebinding is not needed per batch: upload
   * the next batch's index into the same buffer.
   */
  backward(io: EmbeddingBackwardIo, dims: EmbeddingDims & { accumulate?: boolean }): BoundOp {
    const layout = embeddingBackwardLayout(dims.tokens, dims.vocab);
    const device = this.#gpu.device;
    const acc = dims.accumulate ? 1 : 0;
    const steps: Dispatch[] = [];
    const owned: GPUBuffer[] = [];
    const add = (pipeline: GPUComputePipeline, groups: number, buffers: GPUBuffer[]) => {
      const [gx, gy] = splitDispatch(this.#gpu, groups);
      const u = uniformBuffer(device, [
        gx,
        acc,
        layout.chunkOffset,
        layout.mergeOffset,
        layout.orderOffset,
      ]);
      owned.push(u);
      steps.push([pipeline, bindGroup(device, pipeline, [...buffers, u]), gx, gy]);
    };
    const nc = this.d / this.#vec;
    const chunkBlocks = Math.ceil(nc / embeddingChunkWorkgroup(nc));
    add(this.#chunk, layout.maxChunks * chunkBlocks, [io.index, io.dOut, io.dTable, io.scratch]);
    if (layout.maxMerges > 0) {
      const mergeBlocks = Math.ceil(nc / EMBEDDING_MERGE_WORKGROUP);
      add(this.#merge, layout.maxMerges * mergeBlocks, [io.index, io.scratch, io.dTable]);
    }
    return dispatchOp(steps, owned, "embedding");
  }
}
