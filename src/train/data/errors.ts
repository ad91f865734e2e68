/**
 * The error thrown when training data cannot be loaded: a missing file, a glob that matches
 * nothing, or content that is not what its loader expects. Its `code` lets the CLI map it to
 * exit status 2 (invalid input) and tests tell the cases apart.
 *
 * @module
 */

/** Why data could not be loaded. */
export type DataErrorCode =
  /** A file, directory or glob named by the caller does not exist or matches nothing. */
  | "DATA_NOT_FOUND"
  /** A file exists but its content is unusable (bad UTF-8, odd byte count, token out of range). */
  | "DATA_INVALID"
  /** A split holds too few tokens for the requested sequence length or batch. */
  | "DATA_TOO_SMALL";

/**
 * A data-loading failure whose message names the path or argument and the offending value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DataError } from "./errors.ts";
 * const e = new DataError("DATA_NOT_FOUND", "no file at /nope.txt");
 * assert.equal(e.code, "DATA_NOT_FOUND");
 * assert.equal(e.name, "DataError");
 * assert.ok(e instanceof Error);
 * ```
 */
export class DataError extends Error {
  override name = "DataError";
  /** What kind of failure this is. */
  readonly code: DataErrorCode;
  constructor(code: DataErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
