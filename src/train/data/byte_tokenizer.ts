/**
 * The byte-level tokenizer: a token is one byte of the text's UTF-8 encoding (vocabulary 256).
 * Encoding then decoding returns the text exactly.
 *
 * @module
 */

import { checkTokenIds, type Tokenizer } from "./tokenizer.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

/**
 * UTF-8 bytes as tokens. Decoding a window that cuts a multi-byte character yields U+FFFD for
 * the broken bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { byteTokenizer } from "./byte_tokenizer.ts";
 * const ids = byteTokenizer.encode("né");
 * assert.deepEqual([...ids], [0x6e, 0xc3, 0xa9]);
 * assert.equal(byteTokenizer.decode(ids), "né");
 * ```
 */
export const byteTokenizer: Tokenizer = {
  name: "byte",
  vocabSize: 256,
  encode(text: string): Uint32Array {
    if (typeof text !== "string") {
      throw new TypeError(`byte tokenizer: text must be a string, got ${typeof text}`);
    }
    return Uint32Array.from(encoder.encode(text));
  },
  decode(tokens: ArrayLike<number>): string {
    checkTokenIds(tokens, 256, "byte");
    return decoder.decode(Uint8Array.from(tokens));
  },
};
