/**
 * Warm timing for benchmarks: each timed batch follows at least {@link WARMUP_MS} of the same
 * work in one submission, so the GPU runs at its working clocks rather than those it fell to while
 * the CPU prepared the batch (25 ms was too short on the H100: GEMMs right after other work ran at
 * 5–7 TFLOP/s instead of 26–34).
 *
 * @module
 */

import type { GpuTimer } from "../src/gpu/timing.ts";

/** Untimed GPU work before each timed batch (ms). */
export const WARMUP_MS = 200;

/**
 * Times `iterations` passes of `record` after ≥ {@link WARMUP_MS} of untimed ones; `estimateMs`
 * (e.g. the median of earlier samples) sizes the warm-up, else one probe pass is timed first.
 * Returns the timed samples (ms).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../src/gpu/device.ts";
 * import { GpuTimer } from "../src/gpu/timing.ts";
 * import { timeWarm } from "./warm_timing.ts";
 * const samples = await timeWarm(new GpuTimer(await getGpu()), () => {}, 2, 1000);
 * assert.equal(samples.length, 2);
 * ```
 */
export async function timeWarm(
  timer: GpuTimer,
  record: (pass: GPUComputePassEncoder) => void,
  iterations: number,
  estimateMs?: number,
): Promise<number[]> {
  const once = estimateMs ??
    (await timer.time(record, { iterations: 1, warmup: 1 })).msPerIteration;
  const warmup = Math.min(Math.ceil(WARMUP_MS / once), 10_000);
  return (await timer.time(record, { iterations, warmup })).samples;
}
