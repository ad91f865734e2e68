/**
 * Token embedding on the GPU: forward gather `out[t, :] = table[tokens[t], :]` and a deterministic
 * backward scatter-add `dTable[v, :] (+)= Σ_{t: tokens[t] = v} dOut[t, :]` without atomics.
 *
 * The backward pass needs the batch's tokens grouped by id, which the CPU knows before the batch
 * is uploaded: {@link embeddingGradIndex} packs the grouping (a stable counting sort) into one
 * u32 buffer uploaded with the batch. Each id's positions are cut into chunks of
 * `EMBEDDING_CHUNK` (32); a workgroup sums one chunk over up to 256 columns (one column per
 * invocation, rows in ascending position order, eight loads in flight) and writes the id's row,
 * or, for an id with several chunks, a scratch row; a second kernel then adds each such id's
 * chunk sums in order, with one workgroup per 64 columns so that a very frequent id is spread
 * over several workgroups. The order is the one `kernels/embedding/reference.ts` defines, so GPU and CPU agree
 * bit for bit. Only rows of ids present in the batch are written.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { EMBEDDING_CHUNK, groupTokens } from "./reference.ts";

const C = EMBEDDING_CHUNK;
/** Invocations of a forward workgroup, and of a merge workgroup (64 columns: merges are few). */
const WG_FORWARD = 256;
const WG_MERGE = 64;

/** Invocations of a chunk workgroup: the row in vec units, as a power of two in [32, 256]. */
function chunkWorkgroup(nc: number): number {
  return Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(nc))));
}
/** Loads in flight per invocation in the backward sums. */
const UNROLL = 8;
/** u32 words per chunk and per merge record, and of the header. */
const RECORD = 4;

/**
 * Where the parts of the backward index buffer lie, in u32 words, for batches of `tokens`
 * positions over a vocabulary of `vocab` ids, and the capacities they are sized for.
 *
 * Buffer layout (`words` u32 in all):
 * - `[0, 4)` header: number of chunks, number of merges, tokens, vocab;
 * - `chunkOffset`: `maxChunks` records `[start, count, row, toScratch]`: sum `dOut` rows
 *   `order[start … start + count)` into table row `row`, or scratch row `row` if `toScratch`;
 * - `mergeOffset`: `maxMerges` records `[id, firstScratchRow, scratchRows, 0]`: sum those scratch
 *   rows into table row `id`;
 * - `orderOffset`: `tokens` positions grouped by id (ascending), ascending within an id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingBackwardLayout } from "./mod.ts";
 * const l = embeddingBackwardLayout(16384, 50304);
 * assert.deepEqual([l.maxChunks, l.maxMerges, l.maxScratchRows], [16384, 496, 992]);
 * assert.equal(l.words, 4 + 4 * 16384 + 4 * 496 + 16384);
 * ```
 */
export interface EmbeddingBackwardLayout {
  /** Positions per batch (T). */
  readonly tokens: number;
  /** Rows of the table. */
  readonly vocab: number;
  /** Most chunks a batch can need: `U + ⌊(T − U)/32⌋` with `U = min(T, vocab)`. */
  readonly maxChunks: number;
  /** Most ids with more than one chunk: `⌊T/33⌋`. */
  readonly maxMerges: number;
  /** Most scratch rows: `M + ⌊(T − M)/32⌋` with `M = maxMerges`. */
  readonly maxScratchRows: number;
  /** Word offset of the chunk records. */
  readonly chunkOffset: number;
  /** Word offset of the merge records. */
  readonly mergeOffset: number;
  /** Word offset of the grouped positions. */
  readonly orderOffset: number;
  /** Length of the index buffer in u32 words. */
  readonly words: number;
}

/**
 * The backward index layout for `tokens` positions and `vocab` ids.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingBackwardLayout } from "./mod.ts";
 * assert.equal(embeddingBackwardLayout(8, 100).maxMerges, 0); // 8 tokens never fill two chunks
 * ```
 */
export function embeddingBackwardLayout(tokens: number, vocab: number): EmbeddingBackwardLayout {
  for (const [name, v] of [["tokens", tokens], ["vocab", vocab]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`embedding: ${name} must be a positive integer, got ${v}`);
    }
  }
  // ceil(n/C) = ⌊(n−1)/C⌋ + 1, so Σ ceil(n_i/C) over k groups of T_k positions is at most
  // k + ⌊(T_k − k)/C⌋, which grows with k.
  const u = Math.min(tokens, vocab);
  const maxChunks = u + Math.floor((tokens - u) / C);
  const maxMerges = Math.floor(tokens / (C + 1));
  const maxScratchRows = maxMerges + Math.floor((tokens - maxMerges) / C);
  const chunkOffset = RECORD;
  const mergeOffset = chunkOffset + RECORD * maxChunks;
  const orderOffset = mergeOffset + RECORD * maxMerges;
  return {
    tokens,
    vocab,
    maxChunks,
    maxMerges,
    maxScratchRows,
    chunkOffset,
    mergeOffset,
    orderOffset,
    words: orderOffset + tokens,
  };
}

/**
 * Builds the backward index buffer's contents for one batch (layout in
 * {@link EmbeddingBackwardLayout}); upload it with the batch, e.g. `queue.writeBuffer`.
 *
 * @throws {RangeError} when a token is outside `[0, vocab)`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingBackwardLayout, embeddingGradIndex } from "./mod.ts";
 * const words = embeddingGradIndex(new Uint32Array([4, 1, 4]), 5);
 * const l = embeddingBackwardLayout(3, 5);
 * assert.equal(words.length, l.words);
 * assert.deepEqual([...words.subarray(0, 2)], [2, 0]); // two chunks, no merge
 * assert.deepEqual([...words.subarray(l.chunkOffset, l.chunkOffset + 8)], [0, 1, 1, 0, 1, 2, 4, 0]);
 * assert.deepEqual([...words.subarray(l.orderOffset)], [1, 0, 2]);
 * ```
 */
export function embeddingGradIndex(
  tokens: Uint32Array,
  vocab: number,
): Uint32Array<ArrayBuffer> {
  const layout = embeddingBackwardLayout(tokens.length, vocab);
  const { order, ids, offsets } = groupTokens(tokens, vocab);
  const words = new Uint32Array(layout.words);
  let chunks = 0;
  let merges = 0;
  let scratchRow = 0;
  const chunk = (start: number, count: number, row: number, toScratch: number) => {
    words.set([start, count, row, toScratch], layout.chunkOffset + RECORD * chunks++);
  };
  for (let j = 0; j < ids.length; j++) {
    const [from, to] = [offsets[j], offsets[j + 1]];
    if (to - from <= C) {
      chunk(from, to - from, ids[j], 0);
      continue;
    }
    const first = scratchRow;
    for (let s = from; s < to; s += C) chunk(s, Math.min(C, to - s), scratchRow++, 1);
    words.set([ids[j], first, scratchRow - first, 0], layout.mergeOffset + RECORD * merges++);
  }
  words.set([chunks, merges, tokens.length, vocab], 0);
  words.set(order, layout.orderOffset);
  return words;
}

function forwardShader(vec: 1 | 4, nc: number): string {
  return `alias T = ${vec === 4 ? "vec4<f32>" : "f32"};
struct Params { n: u32, gx: u32, vocab: u32 }
@group(0) @binding(0) var<storage, read> tokens: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
@group(0) @binding(3) var<uniform> params: Params;
@compute @workgroup_size(${WG_FORWARD})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * params.gx + wid.x) * ${WG_FORWARD}u + lid;
  if (i >= params.n) { return; }
  let t = i / ${nc}u;
  let id = tokens[t];
  var v = T();
  if (id < params.vocab) { v = table[id * ${nc}u + (i - t * ${nc}u)]; }
  out[i] = v;
}
`;
}

/**
 * `s = Σ_{k<n} src[row(k)·NC + c]` left to right from +0: eight loads in flight per step while
 * eight rows remain, then one at a time.
 */
function sumLoop(src: string, row: (k: string) => string): string {
  const us = Array.from({ length: UNROLL }, (_, u) => u);
  return `  var s = T();
  var k = 0u;
  for (; k + ${UNROLL}u <= n; k = k + ${UNROLL}u) {
${us.map((u) => `    let v${u} = ${src}[${row(`k + ${u}u`)} * NC + c];`).join("\n")}
${us.map((u) => `    s = s + v${u};`).join("\n")}
  }
  for (; k < n; k = k + 1u) { s = s + ${src}[${row("k")} * NC + c]; }`;
}

/** `d_table[o] = s`, or `+= s` when params.acc is set. */
const STORE_TABLE =
  `if (params.acc != 0u) { d_table[o] = d_table[o] + s; } else { d_table[o] = s; }`;

const BACKWARD_HEAD = (vec: 1 | 4, nc: number, wg: number) =>
  `alias T = ${vec === 4 ? "vec4<f32>" : "f32"};
const NC: u32 = ${nc}u;
const CB: u32 = ${Math.ceil(nc / wg)}u;
struct Params { gx: u32, acc: u32, chunks: u32, merges: u32, order: u32 }`;

/**
 * Workgroup `g` takes record `g / CB` (returning when that is not below `count`) and the
 * invocation its column `c` of column block `g % CB` (returning past the row's end).
 */
const RECORD_AND_COLUMN = (count: string, wg: number) =>
  `  let g = wid.y * params.gx + wid.x;
  let rec = g / CB;
  let c = (g - rec * CB) * ${wg}u + lid;
  if (rec >= ${count} || c >= NC) { return; }`;

/**
 * Bindings: index, d_out, d_table, scratch, params. One workgroup per chunk record and column
 * block.
 */
function chunkShader(vec: 1 | 4, nc: number): string {
  const wg = chunkWorkgroup(nc);
  return `${BACKWARD_HEAD(vec, nc, wg)}
@group(0) @binding(0) var<storage, read> index: array<u32>;
@group(0) @binding(1) var<storage, read> d_out: array<T>;
@group(0) @binding(2) var<storage, read_write> d_table: array<T>;
@group(0) @binding(3) var<storage, read_write> scratch: array<T>;
@group(0) @binding(4) var<uniform> params: Params;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
${RECORD_AND_COLUMN("index[0]", wg)}
  let e = params.chunks + ${RECORD}u * rec;
  let start = params.order + index[e];
  let n = index[e + 1u];
  let row = index[e + 2u];
  let to_scratch = index[e + 3u] != 0u;
${sumLoop("d_out", (k) => `index[start + ${k}]`)}
  let o = row * NC + c;
  if (to_scratch) { scratch[o] = s; } else { ${STORE_TABLE} }
}
`;
}

/**
 * Bindings: index, scratch, d_table, params. One workgroup per merge record and column block.
 */
function mergeShader(vec: 1 | 4, nc: number): string {
  return `${BACKWARD_HEAD(vec, nc, WG_MERGE)}
@group(0) @binding(0) var<storage, read> index: array<u32>;
@group(0) @binding(1) var<storage, read> scratch: array<T>;
@group(0) @binding(2) var<storage, read_write> d_table: array<T>;
@group(0) @binding(3) var<uniform> params: Params;
@compute @workgroup_size(${WG_MERGE})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
${RECORD_AND_COLUMN("index[1]", WG_MERGE)}
  let e = params.merges + ${RECORD}u * rec;
  let id = index[e];
  let first = index[e + 1u];
  let n = index[e + 2u];
${sumLoop("scratch", (k) => `(first + ${k})`)}
  let o = id * NC + c;
  ${STORE_TABLE}
}
`;
}

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
 * import {
 *   embeddingBackwardLayout,
 *   type EmbeddingBackwardIo,
 *   EmbeddingKernel,
 * } from "./mod.ts";
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
 * import { embeddingGradIndex, EmbeddingKernel } from "./mod.ts";
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
      [forwardShader(vec, nc), chunkShader(vec, nc), mergeShader(vec, nc)].map((code) =>
        cache.getAsync(code)
      ),
    );
    return new EmbeddingKernel(gpu, d, pipelines);
  }

  /** f32 elements of the backward scratch buffer (`maxScratchRows · d`, at least `d`). */
  scratchElements(dims: EmbeddingDims): number {
    return Math.max(1, embeddingBackwardLayout(dims.tokens, dims.vocab).maxScratchRows) * this.d;
  }

  /** `out[t, :] = table[tokens[t], :]`: one dispatch. */
  forward(io: EmbeddingForwardIo, dims: EmbeddingDims): BoundOp {
    embeddingBackwardLayout(dims.tokens, dims.vocab); // validates the dims
    const device = this.#gpu.device;
    const n = (dims.tokens * this.d) / this.#vec;
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(n / WG_FORWARD));
    const u = uniformBuffer(device, [n, gx, dims.vocab]);
    const group = bindGroup(device, this.#forward, [io.tokens, io.table, io.out, u]);
    const pipeline = this.#forward;
    return {
      dispatches: 1,
      encode(pass) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(gx, gy);
      },
      destroy: () => u.destroy(),
    };
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
    const steps: [GPUComputePipeline, GPUBindGroup, number, number][] = [];
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
    const chunkBlocks = Math.ceil(nc / chunkWorkgroup(nc));
    add(this.#chunk, layout.maxChunks * chunkBlocks, [io.index, io.dOut, io.dTable, io.scratch]);
    if (layout.maxMerges > 0) {
      const mergeBlocks = Math.ceil(nc / WG_MERGE);
      add(this.#merge, layout.maxMerges * mergeBlocks, [io.index, io.scratch, io.dTable]);
    }
    return {
      dispatches: steps.length,
      encode(pass) {
        for (const [pipeline, group, gx, gy] of steps) {
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, group);
          pass.dispatchWorkgroups(gx, gy);
        }
      },
      destroy: () => owned.forEach((b) => b.destroy()),
    };
  }
}
