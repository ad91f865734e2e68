/**
 * The `data` section of a recipe as a {@link DataSpec} with its defaults filled in (lists for
 * sources, the tokenizer, the validation share), after checking that the sources exist: every
 * corpus entry is a built-in corpus or a file, every shard path a file and every shard glob
 * matches one. Relative paths are checked against the recipe's folder and kept as written, so
 * the spec (and the recipe's hash) does not depend on where the recipe lies; load the data with
 * `loadDataset(spec, { baseDir: dirname(recipePath) })`.
 *
 * @module
 */

import { resolve } from "node:path";
import { CORPUS_NAMES, DEFAULT_CORPUS, isCorpusName } from "../train/data/corpora.ts";
import { type DataSpec, DEFAULT_VAL_FRACTION } from "../train/data/dataset.ts";
import { DataError } from "../train/data/errors.ts";
import { shardPaths } from "../train/data/shards.ts";
import { DEFAULT_TOKENIZER, getTokenizer } from "../train/data/tokenizers.ts";
import type { KeyPath, Problem } from "./problems.ts";
import type { RecipeInput } from "./schema.ts";
import type { SourceFile } from "./source.ts";

type DataInput = RecipeInput["data"];

/** Entries of a string-or-list key with their key paths. */
function entries(data: DataInput, key: "corpus" | "shards" | "val_shards"): [string, KeyPath][] {
  const v = data[key];
  if (v === undefined) return [];
  return typeof v === "string" ? [[v, ["data", key]]] : v.map((e, i) => [e, ["data", key, i]]);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * The data spec of a structurally valid `data` section; problems for sources that do not exist
 * (relative to `baseDir`, the recipe's folder), for keys that exclude each other, and for a
 * `vocab` smaller than the tokenizer's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dataSpec } from "./data_section.ts";
 * import type { Problem } from "./problems.ts";
 * import { SourceFile } from "./source.ts";
 * const src = new SourceFile("r.yaml", "data:\n  corpus: [moby-dick, missing.txt]\n");
 * const problems: Problem[] = [];
 * const spec = await dataSpec(src, { corpus: ["moby-dick", "missing.txt"] }, "/tmp", 256, problems);
 * assert.deepEqual(spec, { corpus: ["moby-dick", "missing.txt"], tokenizer: "byte", valFraction: 0.05 });
 * assert.deepEqual(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
 *   '2:23 data.corpus[1]: no built-in corpus (moby-dick, sotu, brown) or file "missing.txt" (looked for /tmp/missing.txt)',
 * ]);
 * ```
 */
export async function dataSpec(
  src: SourceFile,
  data: DataInput,
  baseDir: string,
  vocab: number | undefined,
  problems: Problem[],
): Promise<DataSpec> {
  const exclusive = (a: string, b: string) =>
    problems.push(
      src.problem(["data", b], `data.${a} and data.${b} exclude each other: give one`, "key"),
    );
  if (data.corpus !== undefined && data.shards !== undefined) exclusive("corpus", "shards");
  if (data.val_shards !== undefined && data.shards === undefined) {
    problems.push(src.problem(["data", "val_shards"], "needs data.shards", "key"));
  }
  if (data.val_shards !== undefined && data.val_fraction !== undefined) {
    exclusive("val_shards", "val_fraction");
  }
  for (const [entry, at] of entries(data, "corpus")) {
    if (isCorpusName(entry)) continue;
    const path = resolve(baseDir, entry);
    if (!(await isFile(path))) {
      problems.push(src.problem(
        at,
        `no built-in corpus (${CORPUS_NAMES.join(", ")}) or file ${JSON.stringify(entry)} ` +
          `(looked for ${path})`,
      ));
    }
  }
  for (const [entry, at] of [...entries(data, "shards"), ...entries(data, "val_shards")]) {
    let paths: string[];
    try {
      paths = shardPaths([entry], baseDir);
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      problems.push(src.problem(at, e.message.replace(/^data\.shards: /, "")));
      continue;
    }
    for (const path of paths) {
      if (!(await isFile(path))) problems.push(src.problem(at, `no file ${path}`));
    }
  }
  const tokenizer = data.tokenizer ?? DEFAULT_TOKENIZER;
  const size = getTokenizer(tokenizer).vocabSize;
  if (vocab !== undefined && vocab < size) {
    problems.push(src.problem(
      ["model", "vocab"],
      `must be at least the ${tokenizer} tokenizer's vocabulary of ${size}, got ${vocab}`,
    ));
  }
  const list = (v: string | readonly string[]) => (typeof v === "string" ? [v] : [...v]);
  const sources: DataSpec = data.shards === undefined
    ? { corpus: list(data.corpus ?? DEFAULT_CORPUS) }
    : {
      shards: list(data.shards),
      ...(data.val_shards ? { valShards: list(data.val_shards) } : {}),
    };
  return {
    ...sources,
    tokenizer,
    ...(data.val_shards ? {} : { valFraction: data.val_fraction ?? DEFAULT_VAL_FRACTION }),
  };
}
