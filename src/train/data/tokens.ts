/**
 * Token streams: the array type that holds them (16-bit ids when the vocabulary fits, as in
 * nanoGPT's `.bin` files, 32-bit otherwise), concatenation, and the SHA-256 that identifies a
 * stream in run records.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** A stream of token ids. */
export type TokenArray = Uint16Array | Uint32Array;

/** Whether ids of a vocabulary of `vocabSize` are stored in 16 bits. */
function fits16(vocabSize: number): boolean {
  return vocabSize <= 0x10000;
}

/**
 * An empty (zeroed) token array of `length` ids: a Uint16Array when `vocabSize` ≤ 65536, else a
 * Uint32Array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocTokens } from "./tokens.ts";
 * assert.ok(allocTokens(3, 50257) instanceof Uint16Array);
 * assert.ok(allocTokens(3, 200019) instanceof Uint32Array);
 * ```
 */
export function allocTokens(length: number, vocabSize: number): TokenArray {
  return fits16(vocabSize) ? new Uint16Array(length) : new Uint32Array(length);
}

/**
 * The concatenation of `pieces` in order, in the array type for `vocabSize`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { concatTokens } from "./tokens.ts";
 * const t = concatTokens([Uint32Array.of(1, 2), Uint16Array.of(3)], 256);
 * assert.deepEqual([...t], [1, 2, 3]);
 * ```
 */
export function concatTokens(pieces: readonly ArrayLike<number>[], vocabSize: number): TokenArray {
  const out = allocTokens(pieces.reduce((n, p) => n + p.length, 0), vocabSize);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Throws unless the host is little-endian: token bytes are read and hashed as the host's typed
 * arrays lay them out, and every format here is little-endian.
 *
 * @example
 * ```ts
 * import { requireLittleEndian } from "./tokens.ts";
 * requireLittleEndian("example"); // x86-64 and AArch64 hosts are little-endian
 * ```
 */
export function requireLittleEndian(what: string): void {
  if (!LITTLE_ENDIAN) throw new Error(`${what} needs a little-endian host`);
}

/**
 * SHA-256 (lowercase hex) of the stream's ids written as little-endian words of the array's
 * width: 16 bits for a Uint16Array, so the hash of a stream read from one nanoGPT `.bin` shard
 * equals `sha256sum` of that file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokensSha256 } from "./tokens.ts";
 * // the bytes 01 00 02 00
 * assert.equal(
 *   tokensSha256(Uint16Array.of(1, 2)),
 *   "7b11c1133330cd161071bf23a0c9b6ce5320a8f3a0f83620035a72be46df4104",
 * );
 * ```
 */
export function tokensSha256(tokens: TokenArray): string {
  requireLittleEndian("tokensSha256");
  return createHash("sha256")
    .update(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength))
    .digest("hex");
}
