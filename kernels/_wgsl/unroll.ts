/**
 * A helper the WGSL generators share to unroll loops in the generated text: every slot, load or
 * step index of an unrolled loop comes from {@link range}.
 *
 * @module
 */

/**
 * The indices `0 … n − 1`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { range } from "./unroll.ts";
 * assert.deepEqual(range(3).map((k) => `v${k}`), ["v0", "v1", "v2"]);
 * ```
 */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
