/**
 * Batches of next-token windows from a token stream, as Uint32Array inputs and targets of shape
 * `[batch, seqLen]` (row-major; `targets[i] = tokens[offset + j + 1]` where
 * `inputs[i] = tokens[offset + j]`).
 *
 * Random batches are counter-based: the start of row `r` of batch `k` is a pure function of
 * `(seed, stream, k, r)`, so batch `k` can be drawn without drawing batches `0 … k-1` and a run
 * resumed at step `k` sees the same data. The random words come from the lowbias32 hash of
 * `src/formats/rng.ts` (the one behind stochastic rounding) under a key reserved for data.
 *
 * @module
 */

import { randomBits, streamKey } from "../../formats/rng.ts";
import { DataError } from "./errors.ts";
import type { TokenArray } from "./tokens.ts";

/** One batch of windows. */
export interface Batch {
  /** Token ids, `batch × seqLen`, row-major. */
  readonly inputs: Uint32Array;
  /** The ids that follow each input position: `inputs` shifted left by one within the stream. */
  readonly targets: Uint32Array;
  /** Sequences in the batch. */
  readonly batch: number;
  /** Tokens per sequence. */
  readonly seqLen: number;
  /** Where each row starts in the split's token stream. */
  readonly offsets: readonly number[];
}

/** Shape and seed of random batches. */
export interface SampleOptions {
  /** Rows per batch (positive integer). */
  readonly batch: number;
  /** Tokens per row (positive integer). */
  readonly seqLen: number;
  /** 32-bit unsigned seed. */
  readonly seed: number;
}

/** Key offset that separates data streams from the tensor ids of stochastic rounding. */
const DATA_STREAM_BASE = 0xda7a0000;

function checkUint32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`${name} must be an integer in [0, 2^32), got ${v}`);
  }
}

function checkShape(batch: number, seqLen: number): void {
  for (const [name, v] of [["batch", batch], ["seqLen", seqLen]] as const) {
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  }
}

function gather(tokens: TokenArray, offsets: readonly number[], seqLen: number): Batch {
  const inputs = new Uint32Array(offsets.length * seqLen);
  const targets = new Uint32Array(offsets.length * seqLen);
  offsets.forEach((o, r) => {
    inputs.set(tokens.subarray(o, o + seqLen), r * seqLen);
    targets.set(tokens.subarray(o + 1, o + 1 + seqLen), r * seqLen);
  });
  return { inputs, targets, batch: offsets.length, seqLen, offsets };
}

/**
 * Random batch number `k` of `tokens`. Row `r` starts at `floor(x · m / 2^64)`, where
 * `m = tokens.length − seqLen` is the number of possible starts and `x` the 64-bit word
 * `randomBits(key, 2r) · 2^32 + randomBits(key, 2r + 1)` with
 * `key = streamKey(seed, 0xda7a0000 + stream, k)`; rows are independent and uniform (bias below
 * `m / 2^64`), overlapping windows allowed.
 *
 * @param stream distinguishes independent samplers over one seed (the dataset uses 0 for the
 * train split, 1 for validation).
 * @throws {RangeError} on a bad shape, seed or `k`; {@link DataError} `DATA_TOO_SMALL` when the
 * stream is shorter than `seqLen + 1` tokens.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleBatch } from "./sampler.ts";
 * const tokens = Uint16Array.from({ length: 100 }, (_, i) => i);
 * const b = sampleBatch(tokens, 7, { batch: 2, seqLen: 4, seed: 1 });
 * const o = b.offsets[0];
 * assert.deepEqual([...b.inputs.subarray(0, 4)], [o, o + 1, o + 2, o + 3]);
 * assert.deepEqual([...b.targets.subarray(0, 4)], [o + 1, o + 2, o + 3, o + 4]);
 * assert.deepEqual(sampleBatch(tokens, 7, { batch: 2, seqLen: 4, seed: 1 }), b);
 * ```
 */
export function sampleBatch(
  tokens: TokenArray,
  k: number,
  { batch, seqLen, seed }: SampleOptions,
  stream = 0,
): Batch {
  checkShape(batch, seqLen);
  checkUint32("seed", seed);
  checkUint32("batch index k", k);
  checkUint32("stream", stream);
  if (tokens.length < seqLen + 1) {
    throw new DataError(
      "DATA_TOO_SMALL",
      `a window of seqLen ${seqLen} needs ${seqLen + 1} tokens; the split has ${tokens.length}`,
    );
  }
  const key = streamKey(seed, (DATA_STREAM_BASE + stream) >>> 0, k);
  const m = BigInt(tokens.length - seqLen);
  const offsets = Array.from({ length: batch }, (_, r) => {
    const x = (BigInt(randomBits(key, 2 * r)) << 32n) | BigInt(randomBits(key, 2 * r + 1));
    return Number((x * m) >> 64n);
  });
  return gather(tokens, offsets, seqLen);
}

/**
 * Random batches `start, start + 1, …` of `tokens` (see {@link sampleBatch}), without end.
 * Arguments are checked at the call, not at the first `next()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleBatch, sampleBatches } from "./sampler.ts";
 * const tokens = Uint16Array.from({ length: 100 }, (_, i) => i % 7);
 * const it = sampleBatches(tokens, { batch: 2, seqLen: 8, seed: 3, start: 5 });
 * assert.deepEqual(it.next().value, sampleBatch(tokens, 5, { batch: 2, seqLen: 8, seed: 3 }));
 * ```
 */
export function sampleBatches(
  tokens: TokenArray,
  options: SampleOptions & { readonly start?: number },
  stream = 0,
): Generator<Batch, never> {
  const start = options.start ?? 0;
  sampleBatch(tokens, start, options, stream); // validates now rather than at the first next()
  return (function* () {
    for (let k = start;; k++) yield sampleBatch(tokens, k, options, stream);
  })();
}

/** Shape and count of sequential batches. */
export interface SequentialOptions {
  /** Sequences per batch. */
  readonly batch: number;
  /** Tokens per sequence. */
  readonly seqLen: number;
  /** At most this many batches (default: all full batches). */
  readonly limit?: number;
}

/**
 * How many full batches {@link sequentialBatches} can make from `length` tokens: the stream holds
 * `floor((length − 1) / seqLen)` windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sequentialBatchCount } from "./sampler.ts";
 * assert.equal(sequentialBatchCount(101, 2, 10), 5);
 * assert.equal(sequentialBatchCount(100, 2, 10), 4); // 9 windows
 * ```
 */
export function sequentialBatchCount(length: number, batch: number, seqLen: number): number {
  checkShape(batch, seqLen);
  return Math.floor(Math.max(length - 1, 0) / seqLen / batch);
}

/**
 * Walks `tokens` front to back in non-overlapping windows: window `w` starts at `w · seqLen`,
 * batch `j` holds windows `j · batch … j · batch + batch − 1`. Only full batches are yielded,
 * at most `limit` of them; the same call always yields the same batches. Arguments are checked
 * at the call, not at the first `next()`.
 *
 * @throws {DataError} `DATA_TOO_SMALL` when not even one full batch fits.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sequentialBatches } from "./sampler.ts";
 * const tokens = Uint16Array.from({ length: 9 }, (_, i) => i);
 * const [b, ...rest] = sequentialBatches(tokens, { batch: 2, seqLen: 4 });
 * assert.deepEqual([...b.inputs], [0, 1, 2, 3, 4, 5, 6, 7]);
 * assert.deepEqual([...b.targets], [1, 2, 3, 4, 5, 6, 7, 8]);
 * assert.equal(rest.length, 0);
 * ```
 */
export function sequentialBatches(
  tokens: TokenArray,
  { batch, seqLen, limit = Infinity }: SequentialOptions,
): Generator<Batch, void> {
  const count = sequentialBatchCount(tokens.length, batch, seqLen);
  if (!(limit === Infinity || (Number.isSafeInteger(limit) && limit > 0))) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }
  if (count === 0) {
    throw new DataError(
      "DATA_TOO_SMALL",
      `one batch of ${batch} windows of seqLen ${seqLen} needs ${batch * seqLen + 1} tokens; ` +
        `the split has ${tokens.length}`,
    );
  }
  return (function* () {
    for (let j = 0; j < Math.min(count, limit); j++) {
      const offsets = Array.from({ length: batch }, (_, r) => (j * batch + r) * seqLen);
      yield gather(tokens, offsets, seqLen);
    }
  })();
}
