/**
 * GPU timing of compute work.
 *
 * With the `timestamp-query` feature each timed iteration runs in its own compute pass with
 * beginning/end `timestampWrites`. Deno resolves raw ticks (wgpu's automatic timestamp
 * normalization is off in release builds and `timestampPeriod` is not exposed), so ticks are
 * treated as nanoseconds; that holds on NVIDIA and on llvmpipe, but other drivers may differ.
 * Without the feature, wall-clock time around `submit` + `onSubmittedWorkDone()` is used, which
 * includes submission overhead. The method is always reported with the result.
 *
 * @module
 */

import type { Gpu } from "./device.ts";

/** Query-set pairs per timed batch (WebGPU caps a query set at 4096 queries). */
const MAX_TIMESTAMP_ITERATIONS = 2048;

/**
 * How a {@link TimingResult} was measured.
 *
 * @example
 * ```ts
 * import type { TimingMethod } from "./timing.ts";
 * const method: TimingMethod = "wall-clock";
 * ```
 */
export type TimingMethod = "timestamp-query" | "wall-clock";

/**
 * Per-iteration GPU times in milliseconds; `msPerIteration` is their median.
 *
 * @example
 * ```ts
 * import type { TimingResult } from "./timing.ts";
 * const r: TimingResult = { msPerIteration: 1.5, method: "wall-clock", samples: [1.4, 1.5, 1.6] };
 * console.log(`${r.msPerIteration} ms (${r.method})`);
 * ```
 */
export interface TimingResult {
  /** Median milliseconds per iteration. */
  readonly msPerIteration: number;
  /** How the samples were taken. */
  readonly method: TimingMethod;
  /** Milliseconds of each timed iteration. */
  readonly samples: number[];
}

/**
 * Options for {@link GpuTimer.time}.
 *
 * @example
 * ```ts
 * import type { TimeOptions } from "./timing.ts";
 * const opts: TimeOptions = { iterations: 20, warmup: 3 };
 * ```
 */
export interface TimeOptions {
  /** Timed iterations (default 10). */
  iterations?: number;
  /** Untimed iterations run first (default 2). */
  warmup?: number;
}

/**
 * Median of `values` (mean of the two middle values for an even count).
 *
 * @example
 * ```ts
 * import { median } from "./timing.ts";
 * console.log(median([3, 1, 2]), median([4, 1, 3, 2])); // 2 2.5
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of an empty list");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Times compute work recorded into a pass.
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import { bindGroup, PipelineCache } from "./pipelines.ts";
 * import { GpuTimer } from "./timing.ts";
 * const gpu = await getGpu();
 * const pipeline = await new PipelineCache(gpu.device).getAsync(
 *   `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
 *    @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
 *      x[id.x] += 1.0;
 *    }`,
 * );
 * const buffer = gpu.device.createBuffer({ size: 64 * 4, usage: GPUBufferUsage.STORAGE });
 * const group = bindGroup(gpu.device, pipeline, [buffer]);
 * const r = await new GpuTimer(gpu).time((pass) => {
 *   pass.setPipeline(pipeline);
 *   pass.setBindGroup(0, group);
 *   pass.dispatchWorkgroups(1);
 * }, { iterations: 5, warmup: 1 });
 * console.log(`${r.msPerIteration.toFixed(3)} ms/iter via ${r.method}`);
 * buffer.destroy();
 * ```
 */
export class GpuTimer {
  /** The method {@link time} uses. */
  readonly method: TimingMethod;
  readonly #device: GPUDevice;

  /**
   * Uses timestamp queries when the device granted them, unless `options.method` forces
   * `"wall-clock"`. Forcing `"timestamp-query"` without the feature throws.
   */
  constructor(gpu: Gpu, options: { method?: TimingMethod } = {}) {
    const available = gpu.features.has("timestamp-query");
    if (options.method === "timestamp-query" && !available) {
      throw new Error(`GpuTimer: the device on "${gpu.info.description}" lacks timestamp-query`);
    }
    this.method = options.method ?? (available ? "timestamp-query" : "wall-clock");
    this.#device = gpu.device;
  }

  /**
   * Runs `warmup` untimed passes of `record` (submitted together, so the GPU stays busy and reaches
   * its working clocks), then `iterations` timed passes.
   */
  async time(
    record: (pass: GPUComputePassEncoder) => void,
    { iterations = 10, warmup = 2 }: TimeOptions = {},
  ): Promise<TimingResult> {
    if (!Number.isInteger(iterations) || iterations < 1) {
      throw new RangeError(`GpuTimer: iterations must be a positive integer, got ${iterations}`);
    }
    if (warmup > 0) await this.#submitPass(record, warmup);
    const samples: number[] = [];
    if (this.method === "timestamp-query") {
      for (let done = 0; done < iterations; done += MAX_TIMESTAMP_ITERATIONS) {
        const n = Math.min(iterations - done, MAX_TIMESTAMP_ITERATIONS);
        samples.push(...await this.#timestamps(record, n));
      }
    } else {
      for (let i = 0; i < iterations; i++) {
        const t0 = performance.now();
        await this.#submitPass(record);
        samples.push(performance.now() - t0);
      }
    }
    return { msPerIteration: median(samples), method: this.method, samples };
  }

  async #submitPass(record: (pass: GPUComputePassEncoder) => void, count = 1): Promise<void> {
    const encoder = this.#device.createCommandEncoder({ label: "GpuTimer" });
    for (let i = 0; i < count; i++) {
      const pass = encoder.beginComputePass();
      record(pass);
      pass.end();
    }
    this.#device.queue.submit([encoder.finish()]);
    await this.#device.queue.onSubmittedWorkDone();
  }

  #timestamps(record: (pass: GPUComputePassEncoder) => void, n: number): Promise<number[]> {
    return timestampedPasses(this.#device, Array(n).fill(record), "GpuTimer");
  }
}

/**
 * Records each of `records` (at most {@link MAX_TIMESTAMP_ITERATIONS}) into its own compute pass
 * between timestamp writes, submits them together and returns each pass's GPU time in ms.
 */
async function timestampedPasses(
  device: GPUDevice,
  records: readonly ((pass: GPUComputePassEncoder) => void)[],
  label: string,
): Promise<number[]> {
  const n = records.length;
  const querySet = device.createQuerySet({ type: "timestamp", count: 2 * n });
  const size = 2 * n * 8;
  const resolve = device.createBuffer({
    size,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const staging = device.createBuffer({
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const encoder = device.createCommandEncoder({ label });
    records.forEach((record, i) => {
      const pass = encoder.beginComputePass({
        timestampWrites: {
          querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      record(pass);
      pass.end();
    });
    encoder.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const ticks = new BigUint64Array(staging.getMappedRange());
    const ms = Array.from({ length: n }, (_, i) => Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6);
    staging.unmap();
    return ms;
  } finally {
    querySet.destroy();
    resolve.destroy();
    staging.destroy();
  }
}

/**
 * GPU time (ms) of each of `ops` run once in order, each in its own compute pass between timestamp
 * writes (one submission, so the GPU stays busy): for profiles of a step. Needs `timestamp-query`.
 *
 * @throws {Error} when the device lacks `timestamp-query`
 *
 * @example
 * ```ts ignore
 * import { getGpu } from "./device.ts";
 * import { timeOps } from "./timing.ts";
 * const ms = await timeOps(await getGpu(), []); // [] — one figure per op
 * ```
 */
export async function timeOps(
  gpu: Gpu,
  ops: readonly { encode(pass: GPUComputePassEncoder): void }[],
): Promise<number[]> {
  if (!gpu.features.has("timestamp-query")) {
    throw new Error(`timeOps: the device on "${gpu.info.description}" lacks timestamp-query`);
  }
  const out: number[] = [];
  for (let first = 0; first < ops.length; first += MAX_TIMESTAMP_ITERATIONS) {
    const chunk = ops.slice(first, first + MAX_TIMESTAMP_ITERATIONS);
    const records = chunk.map((op) => (pass: GPUComputePassEncoder) => op.encode(pass));
    out.push(...await timestampedPasses(gpu.device, records, "timeOps"));
  }
  return out;
}
