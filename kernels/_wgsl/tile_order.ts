/**
 * The order in which a tiled GEMM's workgroups visit C's tiles, shared by the f32 GEMM and the
 * packed NVFP4 GEMM: workgroup `wid.y·gx + wid.x` takes tiles in groups of {@link GROUP_M} tile rows,
 * column by column within a group, so neighbouring workgroups share rows of A and columns of B in
 * L2. The order decides only which workgroup computes a tile, never a result.
 *
 * @module
 */

/**
 * Tile rows visited together before moving along N.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GROUP_M } from "./tile_order.ts";
 * assert.equal(GROUP_M, 8);
 * ```
 */
export const GROUP_M = 8;

/**
 * WGSL statements (2-space indented, inside `main`) that return from a workgroup past the last
 * tile and define `m0`, `n0` (the first row and column of the workgroup's tile of `bm × bn`) and
 * `tx`, `ty` (the invocation's column and row in a `tx`-wide grid). They read `wid`, `lid` and the
 * params `p.tiles_m`, `p.tiles_n`, `p.gx`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tileOrigin } from "./tile_order.ts";
 * assert.match(tileOrigin({ bm: 64, bn: 128, tx: 16 }), /let n0 = \(\(lin % span\) \/ rows\) \* 128u;/);
 * ```
 */
export function tileOrigin({ bm, bn, tx }: { bm: number; bn: number; tx: number }): string {
  return `  let tiles = p.tiles_m * p.tiles_n;
  let lin = wid.y * p.gx + wid.x;
  if (lin >= tiles) { return; }
  // Tile order: ${GROUP_M} tile rows at a time, column by column within them.
  let span = ${GROUP_M}u * p.tiles_n;
  let first = (lin / span) * ${GROUP_M}u;
  let rows = min(p.tiles_m - first, ${GROUP_M}u);
  let m0 = (first + (lin % span) % rows) * ${bm}u;
  let n0 = ((lin % span) / rows) * ${bn}u;
  let tx = lid % ${tx}u;
  let ty = lid / ${tx}u;`;
}
