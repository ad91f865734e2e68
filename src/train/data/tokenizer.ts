/**
 * The tokenizer interface every data source goes through, and the token-id check shared by the
 * tokenizers.
 *
 * @module
 */

/** Names of the available tokenizers. */
export type TokenizerName = "byte" | "gpt2";

/** Turns text into token ids and back. */
export interface Tokenizer {
  /** The registry name, recorded in run records. */
  readonly name: TokenizerName;
  /** Number of token ids; every id is in `[0, vocabSize)`. */
  readonly vocabSize: number;
  /** Token ids of `text`. */
  encode(text: string): Uint32Array;
  /** The text of `tokens`; byte sequences that are not valid UTF-8 decode to U+FFFD. */
  decode(tokens: ArrayLike<number>): string;
}

/**
 * Index of the first entry of `tokens` that is not an integer in `[0, vocabSize)`, or -1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firstBadTokenId } from "./tokenizer.ts";
 * assert.equal(firstBadTokenId(Uint16Array.of(3, 300, 4), 256), 1);
 * assert.equal(firstBadTokenId([0, 255], 256), -1);
 * ```
 */
export function firstBadTokenId(tokens: ArrayLike<number>, vocabSize: number): number {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) return i;
  }
  return -1;
}

/**
 * Checks that every id of `tokens` is an integer in `[0, vocabSize)` of tokenizer `name`.
 *
 * @throws {RangeError} naming the first bad id and its index.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTokenIds } from "./tokenizer.ts";
 * checkTokenIds([0, 255], 256, "byte");
 * assert.throws(() => checkTokenIds([0, 256], 256, "byte"), /tokens\[1\] = 256/);
 * ```
 */
export function checkTokenIds(tokens: ArrayLike<number>, vocabSize: number, name: string): void {
  const i = firstBadTokenId(tokens, vocabSize);
  if (i >= 0) {
    throw new RangeError(
      `tokens[${i}] = ${
        tokens[i]
      } is not a token id of the ${name} tokenizer (0 ≤ id < ${vocabSize})`,
    );
  }
}
