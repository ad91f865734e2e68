/**
 * Canonical JSON (RFC 8785, the JSON Canonicalization Scheme: keys sorted by code unit, no
 * whitespace, ECMAScript number formatting) through the `canonicalize` package, and SHA-256 in
 * hex, so equal values hash alike whatever their key order.
 *
 * @module
 */

import canonicalize from "canonicalize";
import { createHash } from "node:crypto";

/**
 * The canonical JSON text of a plain JSON value. Keys whose value is `undefined` are left out,
 * as `JSON.stringify` does.
 *
 * @throws {TypeError} for values JSON cannot hold exactly: non-finite numbers, `undefined` at the
 * top or in an array, functions, symbols, bigints and class instances (a Map, a Date, a
 * DelayedScaling).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalJson } from "./hash.ts";
 * assert.equal(canonicalJson({ b: [1, 2.5e-7], a: { d: null, c: "x" } }), '{"a":{"c":"x","d":null},"b":[1,2.5e-7]}');
 * assert.throws(() => canonicalJson({ lr: NaN }), /lr: NaN/);
 * ```
 */
export function canonicalJson(value: unknown): string {
  checkPlain(value, "value");
  return canonicalize(value) as string;
}

function checkPlain(value: unknown, where: string): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new TypeError(`canonicalJson: ${where}: ${value} is not JSON`);
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkPlain(v, `${where}[${i}]`));
    return;
  }
  const proto = typeof value === "object" ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    const what = typeof value === "object" ? (value as object).constructor?.name : typeof value;
    throw new TypeError(`canonicalJson: ${where}: a ${what} is not plain JSON`);
  }
  for (const [k, v] of Object.entries(value as object)) {
    if (v !== undefined) checkPlain(v, where === "value" ? k : `${where}.${k}`);
  }
}

/**
 * SHA-256 of a string (its UTF-8 bytes) or of bytes, as 64 lowercase hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256Hex } from "./hash.ts";
 * assert.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * ```
 */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
