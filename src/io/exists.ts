/**
 * Whether a path exists, without the exception `Deno.stat` throws for a missing one.
 *
 * @module
 */

/**
 * Whether a file or folder exists at `path`; other errors (permissions, say) are thrown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exists } from "./exists.ts";
 * assert.equal(await exists("deno.json"), true);
 * assert.equal(await exists("no/such/file"), false);
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
