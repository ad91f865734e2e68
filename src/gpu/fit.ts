/**
 * Whether a kernel's workgroup fits a device, and which of a kernel's tilings a problem takes.
 *
 * A tiled kernel (the GEMMs) lists its tilings in order of preference, each with the fewest
 * workgroups it must yield for a problem to take it. {@link fittingTilings} keeps those the device
 * can run (workgroup storage bytes, invocations per workgroup); {@link pickTiling} takes the first
 * whose workgroup count over the `[m, n]` output reaches its minimum, else the last. The choice
 * depends only on the device limits and the problem's size; kernels whose results must not depend
 * on it (all of ours) guarantee that in their own summation order.
 *
 * @module
 */

/**
 * What one workgroup of a tile asks of the device.
 *
 * @example
 * ```ts
 * import type { WorkgroupNeeds } from "./fit.ts";
 * const needs: WorkgroupNeeds = { bytes: 8704, invocations: 256 };
 * ```
 */
export interface WorkgroupNeeds {
  /** Workgroup storage, in bytes. */
  readonly bytes: number;
  /** Invocations per workgroup. */
  readonly invocations: number;
}

/**
 * Why a device with `limits` cannot run a workgroup with `needs`, or undefined if it can. Absent
 * limits are taken at the WebGPU defaults (16384 bytes, 256 invocations).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unfitReason } from "./fit.ts";
 * const gpu = { limits: { maxComputeWorkgroupStorageSize: 16384 } };
 * assert.equal(unfitReason(gpu, { bytes: 8704, invocations: 256 }), undefined);
 * assert.match(unfitReason(gpu, { bytes: 8704, invocations: 512 })!, /512 invocations/);
 * ```
 */
export function unfitReason(
  gpu: { readonly limits: Readonly<Record<string, number>> },
  needs: WorkgroupNeeds,
): string | undefined {
  const maxBytes = gpu.limits.maxComputeWorkgroupStorageSize ?? 16384;
  if (needs.bytes > maxBytes) {
    return `needs ${needs.bytes} bytes of workgroup memory; the device allows ${maxBytes}`;
  }
  const maxInvocations = gpu.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  if (needs.invocations > maxInvocations) {
    return `needs ${needs.invocations} invocations per workgroup; the device allows ${maxInvocations}`;
  }
  return undefined;
}

/**
 * A tiling a kernel may choose, and the fewest workgroups it must yield for a problem to take it.
 *
 * @example
 * ```ts
 * import type { Tiling } from "./fit.ts";
 * const t: Tiling<{ bm: number; bn: number }> = { tile: { bm: 64, bn: 64 }, minWorkgroups: 512 };
 * ```
 */
export interface Tiling<T> {
  /** The tiling. */
  readonly tile: T;
  /** The fewest workgroups a problem must yield to take this tiling. */
  readonly minWorkgroups: number;
}

/**
 * The tilings a kernel compiles: `fixed` alone (minimum 0) when given, after checking that it fits
 * (a RangeError naming `what` and the tile otherwise), else those of `defaults` that fit, in order.
 * Throws a RangeError when none of `defaults` fits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fittingTilings } from "./fit.ts";
 * const gpu = { limits: { maxComputeInvocationsPerWorkgroup: 256 } };
 * const needs = (t: { n: number }) => ({ bytes: 0, invocations: t.n });
 * const defaults = [{ tile: { n: 512 }, minWorkgroups: 8 }, { tile: { n: 64 }, minWorkgroups: 0 }];
 * assert.deepEqual(fittingTilings(gpu, defaults, needs, "demo").map((t) => t.tile.n), [64]);
 * assert.throws(() => fittingTilings(gpu, defaults, needs, "demo", { n: 512 }), /demo tile/);
 * ```
 */
export function fittingTilings<T>(
  gpu: { readonly limits: Readonly<Record<string, number>> },
  defaults: readonly Tiling<T>[],
  needs: (tile: T) => WorkgroupNeeds,
  what: string,
  fixed?: T,
): readonly Tiling<T>[] {
  if (fixed !== undefined) {
    const why = unfitReason(gpu, needs(fixed));
    if (why) throw new RangeError(`${what} tile ${JSON.stringify(fixed)} ${why}`);
    return [{ tile: fixed, minWorkgroups: 0 }];
  }
  const fitting = defaults.filter(({ tile }) => !unfitReason(gpu, needs(tile)));
  if (fitting.length === 0) {
    throw new RangeError(`${what}: the device runs none of the tilings`);
  }
  return fitting;
}

/**
 * The first of `candidates` whose workgroup count over an `[m, n]` output in `bm × bn` tiles
 * reaches its minimum, else the last.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pickTiling } from "./fit.ts";
 * const candidates = [
 *   { tile: { bm: 128, bn: 256 }, minWorkgroups: 128 },
 *   { tile: { bm: 64, bn: 64 }, minWorkgroups: 0 },
 * ];
 * assert.equal(pickTiling(candidates, 4096, 4096).tile.bm, 128); // 512 workgroups
 * assert.equal(pickTiling(candidates, 1024, 1024).tile.bm, 64); // 128×256 would give 32
 * ```
 */
export function pickTiling<C extends Tiling<{ readonly bm: number; readonly bn: number }>>(
  candidates: readonly C[],
  m: number,
  n: number,
): C {
  const enough = candidates.find(({ tile, minWorkgroups }) =>
    Math.ceil(m / tile.bm) * Math.ceil(n / tile.bn) >= minWorkgroups
  );
  return enough ?? candidates[candidates.length - 1];
}
