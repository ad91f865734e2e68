/**
 * The usage error of the command line: a command prints what is wrong with its arguments, then
 * throws {@link UsageError}; `cli.ts` turns it into exit code 2. No imports, so that any layer
 * (the CLI, the benchmarks) can throw it.
 *
 * @module
 */

/**
 * Thrown after a usage error has been printed; the CLI exits with code 2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "./usage.ts";
 * assert.ok(new UsageError() instanceof Error);
 * ```
 */
export class UsageError extends Error {}
