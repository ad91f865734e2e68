/**
 * CPU reference for the token embedding (the oracle for `kernels/embedding/mod.ts`): forward
 * `out[t, :] = table[tokens[t], :]`, backward `dTable[v, :] += Σ_{t: tokens[t] = v} dOut[t, :]`.
 *
 * The backward sum has one fixed order, which the GPU kernel follows exactly, so that in FP32
 * mode the reference and the kernel agree bit for bit: the positions of each token id, ascending,
 * are cut into chunks of {@link EMBEDDING_CHUNK}; each chunk is summed left to right starting
 * from +0; an id with one chunk takes that sum, an id with several adds the chunk sums left to
 * right starting from +0. The result replaces the id's row, or is added to it (`accumulate`).
 * Rows of ids absent from the batch are left as they are.
 *
 * The GPU backward receives this grouping from the CPU, packed by {@link embeddingGradIndex} into
 * one u32 buffer laid out as {@link EmbeddingBackwardLayout} says.
 *
 * @module
 */

/**
 * Positions per backward chunk: an id seen more often is summed in chunks, then the chunk sums
 * are added, so that one frequent token does not serialise a long sum on one workgroup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMBEDDING_CHUNK } from "./reference.ts";
 * assert.equal(Math.ceil(100 / EMBEDDING_CHUNK), 4); // chunks of a token seen 100 times
 * ```
 */
export const EMBEDDING_CHUNK = 32;

/**
 * u32 words of the backward index buffer's header and of each chunk and merge record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMBEDDING_RECORD_WORDS } from "./reference.ts";
 * assert.equal(EMBEDDING_RECORD_WORDS, 4);
 * ```
 */
export const EMBEDDING_RECORD_WORDS = 4;

/**
 * Token positions grouped by id: `order[offsets[j] … offsets[j+1])` are the positions (ascending)
 * of the `j`-th distinct id `ids[j]` (ascending).
 *
 * @example
 * ```ts
 * import { groupTokens, type TokenGroups } from "./reference.ts";
 * const groups: TokenGroups = groupTokens([5, 2, 5], 8);
 * console.log(groups.ids, groups.offsets, groups.order); // [2, 5] [0, 1, 3] [1, 0, 2]
 * ```
 */
export interface TokenGroups {
  /** Positions `[T]`, grouped by id, ascending within a group. */
  readonly order: Uint32Array;
  /** Distinct ids, ascending `[U]`. */
  readonly ids: Uint32Array;
  /** Group starts in `order`, `[U + 1]` (the last is `T`). */
  readonly offsets: Uint32Array;
}

/**
 * Groups token positions by id with a stable counting sort (`O(T + vocab)`).
 *
 * @throws {RangeError} when a token is not an integer in `[0, vocab)`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupTokens } from "./reference.ts";
 * const { order, ids, offsets } = groupTokens([3, 1, 3, 3, 0], 4);
 * assert.deepEqual([...ids], [0, 1, 3]);
 * assert.deepEqual([...offsets], [0, 1, 2, 5]);
 * assert.deepEqual([...order], [4, 1, 0, 2, 3]);
 * ```
 */
export function groupTokens(tokens: ArrayLike<number>, vocab: number): TokenGroups {
  const counts = new Uint32Array(vocab);
  for (let t = 0; t < tokens.length; t++) {
    const v = tokens[t];
    if (!Number.isInteger(v) || v < 0 || v >= vocab) {
      throw new RangeError(`embedding: token ${v} at position ${t} is outside [0, ${vocab})`);
    }
    counts[v]++;
  }
  const ids: number[] = [];
  const offsets: number[] = [];
  const next = new Uint32Array(vocab);
  let at = 0;
  for (let v = 0; v < vocab; v++) {
    if (counts[v] === 0) continue;
    ids.push(v);
    offsets.push(at);
    next[v] = at;
    at += counts[v];
  }
  offsets.push(at);
  const order = new Uint32Array(tokens.length);
  for (let t = 0; t < tokens.length; t++) order[next[tokens[t]]++] = t;
  return { order, ids: Uint32Array.from(ids), offsets: Uint32Array.from(offsets) };
}

/**
 * Forward: `out[t, :] = table[tokens[t], :]`, zeros for a token outside `[0, vocab)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingForward } from "./reference.ts";
 * const table = [1, 2, 3, 4, 5, 6]; // vocab 3, d 2
 * assert.deepEqual([...embeddingForward(table, [2, 0, 7], 3, 2)], [5, 6, 1, 2, 0, 0]);
 * ```
 */
export function embeddingForward(
  table: ArrayLike<number>,
  tokens: ArrayLike<number>,
  vocab: number,
  d: number,
): Float64Array {
  const out = new Float64Array(tokens.length * d);
  for (let t = 0; t < tokens.length; t++) {
    const v = tokens[t];
    if (v < vocab) { for (let i = 0; i < d; i++) out[t * d + i] = table[v * d + i]; }
  }
  return out;
}

/**
 * Options of {@link embeddingBackward}.
 *
 * @example
 * ```ts
 * import type { EmbeddingBackwardOptions } from "./reference.ts";
 * const opts: EmbeddingBackwardOptions = { init: new Float32Array(6), accumulate: true };
 * console.log(opts.accumulate);
 * ```
 */
export interface EmbeddingBackwardOptions {
  /** The gradient table's contents before the pass `[vocab, d]` (default zeros). */
  readonly init?: ArrayLike<number>;
  /** Add into the touched rows instead of replacing them. */
  readonly accumulate?: boolean;
  /** Round every addition to FP32 as the GPU does (default true); false sums in float64. */
  readonly f32?: boolean;
}

/**
 * Backward: the gradient table `[vocab, d]` after the pass, summed in the fixed order of the
 * module comment.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingBackward } from "./reference.ts";
 * const dOut = [1, 2, 10, 20, 100, 200]; // T 3, d 2
 * const dTable = embeddingBackward(dOut, [1, 0, 1], 3, 2, { init: [7, 7, 7, 7, 7, 7] });
 * assert.deepEqual([...dTable], [10, 20, 101, 202, 7, 7]); // row 2 untouched
 * ```
 */
export function embeddingBackward(
  dOut: ArrayLike<number>,
  tokens: ArrayLike<number>,
  vocab: number,
  d: number,
  opts: EmbeddingBackwardOptions = {},
): Float64Array {
  const round = opts.f32 === false ? (v: number) => v : Math.fround;
  const dTable = opts.init ? Float64Array.from(opts.init) : new Float64Array(vocab * d);
  const { order, ids, offsets } = groupTokens(tokens, vocab);
  const sum = (from: number, to: number, i: number) => {
    let s = 0;
    for (let k = from; k < to; k++) s = round(s + dOut[order[k] * d + i]);
    return s;
  };
  for (let j = 0; j < ids.length; j++) {
    const [from, to] = [offsets[j], offsets[j + 1]];
    for (let i = 0; i < d; i++) {
      let s: number;
      if (to - from <= EMBEDDING_CHUNK) {
        s = sum(from, to, i);
      } else {
        s = 0;
        for (let c = from; c < to; c += EMBEDDING_CHUNK) {
          s = round(s + sum(c, Math.min(c + EMBEDDING_CHUNK, to), i));
        }
      }
      const at = ids[j] * d + i;
      dTable[at] = opts.accumulate ? round(dTable[at] + s) : s;
    }
  }
  return dTable;
}

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
 * import { embeddingBackwardLayout } from "./reference.ts";
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
 * import { embeddingBackwardLayout } from "./reference.ts";
 * assert.equal(embeddingBackwardLayout(8, 100).maxMerges, 0); // 8 tokens never fill two chunks
 * ```
 */
export function embeddingBackwardLayout(tokens: number, vocab: number): EmbeddingBackwardLayout {
  for (const [name, v] of [["tokens", tokens], ["vocab", vocab]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`embedding: ${name} must be a positive integer, got ${v}`);
    }
  }
  // With C = EMBEDDING_CHUNK, ceil(n/C) = ⌊(n−1)/C⌋ + 1, so Σ ceil(n_i/C) over k groups of T_k
  // positions is at most k + ⌊(T_k − k)/C⌋, which grows with k.
  const u = Math.min(tokens, vocab);
  const maxChunks = u + Math.floor((tokens - u) / EMBEDDING_CHUNK);
  const maxMerges = Math.floor(tokens / (EMBEDDING_CHUNK + 1));
  const maxScratchRows = maxMerges + Math.floor((tokens - maxMerges) / EMBEDDING_CHUNK);
  const chunkOffset = EMBEDDING_RECORD_WORDS;
  const mergeOffset = chunkOffset + EMBEDDING_RECORD_WORDS * maxChunks;
  const orderOffset = mergeOffset + EMBEDDING_RECORD_WORDS * maxMerges;
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
 * f32 elements of the backward pass's scratch buffer for rows of `d` values: `maxScratchRows · d`
 * of {@link embeddingBackwardLayout}, at least `d`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingScratchElements } from "./reference.ts";
 * assert.ok(embeddingScratchElements(64, { tokens: 16, vocab: 256 }) >= 64);
 * ```
 */
export function embeddingScratchElements(
  d: number,
  dims: { readonly tokens: number; readonly vocab: number },
): number {
  return Math.max(1, embeddingBackwardLayout(dims.tokens, dims.vocab).maxScratchRows) * d;
}

/**
 * Builds the backward index buffer's contents for one batch (layout in
 * {@link EmbeddingBackwardLayout}); upload it with the batch, e.g. `queue.writeBuffer`.
 *
 * @throws {RangeError} when a token is outside `[0, vocab)`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingBackwardLayout, embeddingGradIndex } from "./reference.ts";
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
    words.set(
      [start, count, row, toScratch],
      layout.chunkOffset + EMBEDDING_RECORD_WORDS * chunks++,
    );
  };
  for (let j = 0; j < ids.length; j++) {
    const [from, to] = [offsets[j], offsets[j + 1]];
    if (to - from <= EMBEDDING_CHUNK) {
      chunk(from, to - from, ids[j], 0);
      continue;
    }
    const first = scratchRow;
    for (let s = from; s < to; s += EMBEDDING_CHUNK) {
      chunk(s, Math.min(EMBEDDING_CHUNK, to - s), scratchRow++, 1);
    }
    words.set(
      [ids[j], first, scratchRow - first, 0],
      layout.mergeOffset + EMBEDDING_RECORD_WORDS * merges++,
    );
  }
  words.set([chunks, merges, tokens.length, vocab], 0);
  words.set(order, layout.orderOffset);
  return words;
}
