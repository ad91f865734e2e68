/**
 * The registry of tokenizers by name: `byte` (UTF-8 bytes, vocabulary 256, the default) and
 * `gpt2` (GPT-2's byte-level BPE, vocabulary 50257).
 *
 * @module
 */

import { byteTokenizer } from "./byte_tokenizer.ts";
import { gpt2Tokenizer } from "./gpt2_tokenizer.ts";
import type { Tokenizer, TokenizerName } from "./tokenizer.ts";

/** The tokenizer used when none is named. */
export const DEFAULT_TOKENIZER: TokenizerName = "byte";

const TOKENIZERS: Readonly<Record<TokenizerName, Tokenizer>> = {
  byte: byteTokenizer,
  gpt2: gpt2Tokenizer,
};

/** Every tokenizer name, in a fixed order. */
export const TOKENIZER_NAMES: readonly TokenizerName[] = Object.keys(TOKENIZERS) as TokenizerName[];

/**
 * The tokenizer called `name`.
 *
 * @throws {RangeError} naming the value and the known names when `name` is unknown.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getTokenizer } from "./tokenizers.ts";
 * assert.equal(getTokenizer("byte").vocabSize, 256);
 * assert.equal(getTokenizer("gpt2").vocabSize, 50257);
 * assert.throws(() => getTokenizer("bpe"), /data.tokenizer/);
 * ```
 */
export function getTokenizer(name: string = DEFAULT_TOKENIZER): Tokenizer {
  if (!Object.hasOwn(TOKENIZERS, name)) {
    throw new RangeError(
      `data.tokenizer must be one of ${TOKENIZER_NAMES.join(", ")}, got ${JSON.stringify(name)}`,
    );
  }
  return TOKENIZERS[name as TokenizerName];
}
