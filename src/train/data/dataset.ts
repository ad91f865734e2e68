/**
 * A training dataset: one token stream built from text corpora or nanoGPT shards, its SHA-256,
 * a held-out validation split, and the deterministic batch samplers of `sampler.ts` over each
 * split.
 *
 * The stream is the parts (corpora or shards) in the order given. Text parts are tokenized one
 * by one and joined with the tokens of {@link DOCUMENT_SEPARATOR} (a blank line); shards are
 * joined with nothing. `sha256` is the hash of this whole stream (see `tokensSha256`), so it
 * names the exact tokens whatever the split.
 *
 * The validation split is taken from the end of **each** part: the last
 * `round(partLength × valFraction)` tokens of every part go to validation, the rest to training,
 * so a mix of corpora is represented in both. Each split joins its pieces in part order with the
 * same separator; no token position of the stream is in both splits. Shards given as
 * `valShards` go to validation whole and then `valFraction` is not used.
 *
 * @module
 */

import { DEFAULT_CORPUS, DOCUMENT_SEPARATOR, loadCorpus } from "./corpora.ts";
import { DataError } from "./errors.ts";
import {
  type Batch,
  sampleBatch,
  sampleBatches,
  type SampleOptions,
  sequentialBatches,
  type SequentialOptions,
} from "./sampler.ts";
import { readShard, shardPaths } from "./shards.ts";
import { firstBadTokenId, type Tokenizer, type TokenizerName } from "./tokenizer.ts";
import { getTokenizer } from "./tokenizers.ts";
import { allocTokens, concatTokens, type TokenArray, tokensSha256 } from "./tokens.ts";

/** Where the data comes from; the `data` block of a recipe. */
export interface DataSpec {
  /**
   * A built-in corpus name (`moby-dick`, `sotu`, `brown`) or the path of a UTF-8 text file, or a
   * list of them (a mix, in that order). Default `moby-dick` when `shards` is absent.
   */
  readonly corpus?: string | readonly string[];
  /** nanoGPT `.bin` shards: paths or glob patterns (instead of `corpus`). */
  readonly shards?: string | readonly string[];
  /** Shards that form the whole validation split (with `shards`, instead of `valFraction`). */
  readonly valShards?: string | readonly string[];
  /** Tokenizer name (`byte`, the default, or `gpt2`); shards must hold ids of its vocabulary. */
  readonly tokenizer?: string;
  /** Share of each part held out for validation, in [0, 1). Default {@link DEFAULT_VAL_FRACTION}. */
  readonly valFraction?: number;
}

/** The validation share used when none is given. */
export const DEFAULT_VAL_FRACTION = 0.05;

const SPEC_KEYS = ["corpus", "shards", "valShards", "tokenizer", "valFraction"];

/** The two splits. */
export type Split = "train" | "val";

/** How a part is divided: by `valFraction`, or whole into one split. */
export type PartRole = "split" | "train" | "val";

/** One part of the stream and where its tokens lie in it (separators excluded). */
export interface DataPart {
  /** Corpus name, file path or shard path. */
  readonly source: string;
  /** How the part is divided between the splits. */
  readonly role: PartRole;
  /** Index of the part's first token in the stream. */
  readonly start: number;
  /** Index one past the part's last token in the stream. */
  readonly end: number;
  /** Tokens of this part in the validation split. */
  readonly valTokens: number;
}

/** What a run record stores about its data. */
export interface DatasetInfo {
  /** The parts' sources, in stream order. */
  readonly sources: readonly string[];
  /** The tokenizer's name. */
  readonly tokenizer: TokenizerName;
  /** Token ids are below this. */
  readonly vocabSize: number;
  /** Tokens in the whole stream, separators included. */
  readonly tokens: number;
  /** Tokens of the training split. */
  readonly trainTokens: number;
  /** Tokens of the validation split. */
  readonly valTokens: number;
  /** The share of each `split` part held out for validation. */
  readonly valFraction: number;
  /** SHA-256 of the whole token stream. */
  readonly sha256: string;
}

/** The pieces a {@link Dataset} is built from. */
export interface DatasetInput {
  readonly tokenizer: Tokenizer;
  readonly parts: readonly {
    readonly source: string;
    readonly tokens: ArrayLike<number>;
    readonly role?: PartRole;
  }[];
  /** Tokens placed between consecutive parts (default: none). */
  readonly separator?: ArrayLike<number>;
  readonly valFraction?: number;
}

const SPLIT_STREAM: Readonly<Record<Split, number>> = { train: 0, val: 1 };

function checkValFraction(v: number): void {
  if (typeof v !== "number" || !(v >= 0 && v < 1)) {
    throw new RangeError(`data.valFraction must be a number in [0, 1), got ${v}`);
  }
}

/**
 * A token stream with its train and validation splits and batch samplers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Dataset } from "./dataset.ts";
 * import { byteTokenizer } from "./byte_tokenizer.ts";
 * const text = "abcdefghij".repeat(10);
 * const ds = new Dataset({
 *   tokenizer: byteTokenizer,
 *   parts: [{ source: "letters", tokens: byteTokenizer.encode(text) }],
 *   valFraction: 0.1,
 * });
 * assert.equal(ds.train.length, 90);
 * assert.equal(byteTokenizer.decode(ds.val), "abcdefghij");
 * const b = ds.batch("train", 0, { batch: 4, seqLen: 8, seed: 0 });
 * assert.equal(b.inputs.length, 32);
 * ```
 */
export class Dataset {
  /** The tokenizer that made {@link tokens} (and decodes them). */
  readonly tokenizer: Tokenizer;
  /** The whole stream: parts in order, joined by the separator. */
  readonly tokens: TokenArray;
  /** The documents, files or shards the stream was made of, in order. */
  readonly parts: readonly DataPart[];
  /** The share of each `split` part's tokens (its tail) held out for validation. */
  readonly valFraction: number;
  /** SHA-256 (hex) of {@link tokens}. */
  readonly sha256: string;
  /** The training tokens: `train` parts and the heads of `split` parts, joined. */
  readonly train: TokenArray;
  /** The validation tokens: `val` parts and the tails of `split` parts, joined. */
  readonly val: TokenArray;

  /**
   * Tokenized parts, split into training and validation; {@link loadDataset} makes one from a spec.
   *
   * @throws {RangeError} for a validation fraction outside [0, 1) or no parts
   * @throws {DataError} for a token id outside the tokenizer's vocabulary
   */
  constructor(
    { tokenizer, parts, separator = [], valFraction = DEFAULT_VAL_FRACTION }: DatasetInput,
  ) {
    checkValFraction(valFraction);
    if (parts.length === 0) throw new RangeError("a dataset needs at least one part");
    const vocab = tokenizer.vocabSize;
    for (const p of parts) {
      const bad = firstBadTokenId(p.tokens, vocab);
      if (bad >= 0) {
        throw new DataError(
          "DATA_INVALID",
          `${p.source}: token ${bad} is ${p.tokens[bad]}, not an id of the ${tokenizer.name} ` +
            `tokenizer (0 ≤ id < ${vocab})`,
        );
      }
    }
    const pieces: ArrayLike<number>[] = [];
    const layout: DataPart[] = [];
    let at = 0;
    parts.forEach((p, i) => {
      if (i > 0) {
        pieces.push(separator);
        at += separator.length;
      }
      const role = p.role ?? "split";
      const n = p.tokens.length;
      const valTokens = role === "split" ? Math.round(n * valFraction) : role === "val" ? n : 0;
      layout.push({ source: p.source, role, start: at, end: at + n, valTokens });
      pieces.push(p.tokens);
      at += n;
    });
    this.tokenizer = tokenizer;
    this.tokens = concatTokens(pieces, vocab);
    this.parts = layout;
    this.valFraction = valFraction;
    this.sha256 = tokensSha256(this.tokens);
    const trainRanges = layout.map((p) => [p.start, p.end - p.valTokens] as const);
    const valRanges = layout.map((p) => [p.end - p.valTokens, p.end] as const);
    this.train = this.#join(trainRanges, separator);
    this.val = this.#join(valRanges, separator);
  }

  /** The non-empty ranges of the stream joined by `separator` (a view when there is one). */
  #join(ranges: readonly (readonly [number, number])[], separator: ArrayLike<number>): TokenArray {
    const kept = ranges.filter(([a, b]) => b > a);
    if (kept.length === 0) return allocTokens(0, this.tokenizer.vocabSize);
    if (kept.length === 1) return this.tokens.subarray(kept[0][0], kept[0][1]);
    const pieces = kept.flatMap(([a, b], i) => {
      const piece = this.tokens.subarray(a, b);
      return i === 0 ? [piece] : [separator, piece];
    });
    return concatTokens(pieces, this.tokenizer.vocabSize);
  }

  /**
   * The tokens of split `name`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { loadDataset } from "./dataset.ts";
   * const ds = await loadDataset({ corpus: "moby-dick" });
   * assert.equal(ds.split("train").length + ds.split("val").length, ds.tokens.length);
   * ```
   */
  split(name: Split): TokenArray {
    if (name === "train") return this.train;
    if (name === "val") return this.val;
    throw new RangeError(`split must be "train" or "val", got ${JSON.stringify(name)}`);
  }

  /**
   * Random batch `k` of split `name`: `sampleBatch` of `sampler.ts` with stream 0 for train
   * and 1 for val, so it is a pure function of `(seed, split, k)` and the data. The RNG is
   * counter-based: the lowbias32 hash of `src/formats/rng.ts` keyed by
   * `streamKey(seed, 0xda7a0000 + stream, k)`, two 32-bit words per row.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { loadDataset } from "./dataset.ts";
   * const ds = await loadDataset();
   * const opts = { batch: 2, seqLen: 16, seed: 42 };
   * assert.deepEqual(ds.batch("train", 9, opts), ds.batch("train", 9, opts));
   * ```
   */
  batch(name: Split, k: number, options: SampleOptions): Batch {
    return sampleBatch(this.split(name), k, options, SPLIT_STREAM[name]);
  }

  /**
   * Random batches `start, start + 1, …` of split `name` without end (see {@link batch}); pass
   * `start: step` to resume a run at `step`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { loadDataset } from "./dataset.ts";
   * const ds = await loadDataset();
   * const opts = { batch: 2, seqLen: 16, seed: 42 };
   * const resumed = ds.batches("train", { ...opts, start: 3 }).next().value;
   * assert.deepEqual(resumed, ds.batch("train", 3, opts));
   * ```
   */
  batches(
    name: Split,
    options: SampleOptions & { readonly start?: number },
  ): Generator<Batch, never> {
    return sampleBatches(this.split(name), options, SPLIT_STREAM[name]);
  }

  /**
   * The validation split front to back in non-overlapping windows, full batches only, at most
   * `limit` (see `sequentialBatches`).
   *
   * @throws {DataError} `DATA_TOO_SMALL` when the split cannot fill one batch (for instance
   * `valFraction` 0).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { loadDataset } from "./dataset.ts";
   * const ds = await loadDataset();
   * const batches = [...ds.evalBatches({ batch: 4, seqLen: 64, limit: 3 })];
   * assert.equal(batches.length, 3);
   * assert.deepEqual([...batches[0].inputs.subarray(0, 64)], [...ds.val.subarray(0, 64)]);
   * ```
   */
  evalBatches(options: SequentialOptions): Generator<Batch, void> {
    return sequentialBatches(this.val, options);
  }

  /**
   * What a run record stores about this dataset.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { loadDataset } from "./dataset.ts";
   * const info = (await loadDataset()).info;
   * assert.deepEqual(info.sources, ["moby-dick"]);
   * assert.equal(info.sha256.length, 64);
   * ```
   */
  get info(): DatasetInfo {
    return {
      sources: this.parts.map((p) => p.source),
      tokenizer: this.tokenizer.name,
      vocabSize: this.tokenizer.vocabSize,
      tokens: this.tokens.length,
      trainTokens: this.train.length,
      valTokens: this.val.length,
      valFraction: this.valFraction,
      sha256: this.sha256,
    };
  }
}

function list(name: string, v: string | readonly string[]): readonly string[] {
  const l = typeof v === "string" ? [v] : v;
  if (!Array.isArray(l) || l.length === 0) {
    throw new TypeError(
      `data.${name} must be a string or a non-empty list of strings, got ${JSON.stringify(v)}`,
    );
  }
  return l;
}

/**
 * Loads the dataset described by `spec` (see {@link DataSpec}); relative paths and globs are
 * resolved against `baseDir` (default: the working directory).
 *
 * @throws {TypeError} / {RangeError} naming the field for a malformed spec (unknown key, both
 * `corpus` and `shards`, `valShards` with `valFraction`, …); {@link DataError} for files that are
 * missing or unusable, naming the path.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadDataset } from "./dataset.ts";
 * const ds = await loadDataset({ corpus: "moby-dick", tokenizer: "byte", valFraction: 0.1 });
 * assert.ok(ds.tokens.length > 1_000_000);
 * assert.equal(ds.val.length, Math.round(ds.tokens.length * 0.1));
 * await assert.rejects(loadDataset({ val_fraction: 0.1 } as object), /unknown key "val_fraction"/);
 * ```
 */
export async function loadDataset(
  spec: DataSpec = {},
  { baseDir = Deno.cwd() }: { readonly baseDir?: string } = {},
): Promise<Dataset> {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw new TypeError(`data must be an object, got ${JSON.stringify(spec)}`);
  }
  for (const key of Object.keys(spec)) {
    if (!SPEC_KEYS.includes(key)) {
      throw new TypeError(
        `data: unknown key ${JSON.stringify(key)} (known: ${SPEC_KEYS.join(", ")})`,
      );
    }
  }
  const tokenizer = getTokenizer(spec.tokenizer);
  if (spec.valFraction !== undefined) checkValFraction(spec.valFraction);
  if (spec.shards === undefined) {
    if (spec.valShards !== undefined) throw new TypeError("data.valShards needs data.shards");
    const entries = list("corpus", spec.corpus ?? DEFAULT_CORPUS);
    const corpora = await Promise.all(entries.map((e) => loadCorpus(e, baseDir)));
    return new Dataset({
      tokenizer,
      parts: corpora.map((c) => ({ source: c.source, tokens: tokenizer.encode(c.text) })),
      separator: tokenizer.encode(DOCUMENT_SEPARATOR),
      valFraction: spec.valFraction,
    });
  }
  if (spec.corpus !== undefined) {
    throw new TypeError("data.corpus and data.shards exclude each other: give one");
  }
  if (spec.valShards !== undefined && spec.valFraction !== undefined) {
    throw new TypeError("data.valFraction and data.valShards exclude each other: give one");
  }
  const train = shardPaths(list("shards", spec.shards), baseDir);
  const val = spec.valShards === undefined
    ? []
    : shardPaths(list("valShards", spec.valShards), baseDir);
  const read = (paths: string[], role: PartRole) =>
    Promise.all(paths.map(async (source) => ({ source, role, tokens: await readShard(source) })));
  return new Dataset({
    tokenizer,
    parts: [...await read(train, val.length > 0 ? "train" : "split"), ...await read(val, "val")],
    valFraction: val.length > 0 ? 0 : spec.valFraction,
  });
}
