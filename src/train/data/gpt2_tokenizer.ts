/**
 * GPT-2's byte-level BPE (vocabulary 50257, the `r50k_base` ranks) through the `gpt-tokenizer`
 * package, whose ranks ship inside the package, so it works offline. Text is encoded as plain
 * text: a literal `<|endoftext|>` in a corpus becomes ordinary tokens, never the special id 50256.
 *
 * @module
 */

import { decode, encode } from "gpt-tokenizer/encoding/gpt2";
import { checkTokenIds, type Tokenizer } from "./tokenizer.ts";

/** No special tokens are recognised in the input (gpt-tokenizer throws on them by default). */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * The GPT-2 tokenizer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gpt2Tokenizer } from "./gpt2_tokenizer.ts";
 * const ids = gpt2Tokenizer.encode("Hello world");
 * assert.deepEqual([...ids], [15496, 995]);
 * assert.equal(gpt2Tokenizer.decode(ids), "Hello world");
 * ```
 */
export const gpt2Tokenizer: Tokenizer = {
  name: "gpt2",
  vocabSize: 50257,
  encode(text: string): Uint32Array {
    if (typeof text !== "string") {
      throw new TypeError(`gpt2 tokenizer: text must be a string, got ${typeof text}`);
    }
    return Uint32Array.from(encode(text, PLAIN_TEXT));
  },
  decode(tokens: ArrayLike<number>): string {
    checkTokenIds(tokens, 50257, "gpt2");
    return decode(Array.from(tokens));
  },
};
