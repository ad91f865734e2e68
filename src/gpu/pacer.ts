/**
 * Waiting for the GPU without stalling Dawn: a pacer times every submission it is given with GPU
 * timestamps (src/gpu/step_clock.ts), learns how long each kind of submission takes, and before a
 * wait sleeps on a timer until the work submitted since the last wait should be done.
 *
 * Why: under Deno, Dawn's Node bindings (`npm:webgpu`) answer a promise awaited while the GPU is
 * still busy seconds late, erratically — a GPT-2 small bf16 step of 124 ms of GPU time took 168 to
 * 2,641 ms of wall clock per step, with the main thread running (not sleeping) all the while —
 * whereas a promise awaited once the work has finished resolves at once: sleeping through the
 * expected GPU time first brought the same steps to 126 ms (`bench/completion.ts`, modes `end` and
 * `end-settle`; reports/h200-train-matrix.md). Deno's own WebGPU needs no pacing; there the pacer
 * only times.
 *
 * @module
 */

import { setTimeout as sleep } from "node:timers/promises";
import type { Gpu } from "./device.ts";
import { median } from "./timing.ts";
import { StepClock } from "./step_clock.ts";

/**
 * What {@link CompletionPacer.settle} sleeps beyond the expected GPU time: the timestamps count
 * each submission's compute pass, not the gaps between submissions, and a wait that starts while
 * the GPU is still busy can stall.
 */
export const SETTLE_MARGIN = { relative: 0.03, ms: 1 } as const;

/**
 * Times submissions by kind and, when pacing, sleeps before waits until the GPU should be idle.
 *
 * @example
 * ```ts ignore
 * // Needs timestamp-query (a GPU adapter; llvmpipe has none).
 * import { getGpu } from "./device.ts";
 * import { CompletionPacer } from "./pacer.ts";
 * const gpu = await getGpu();
 * const pacer = new CompletionPacer(gpu, { pace: true });
 * const encoder = gpu.device.createCommandEncoder();
 * encoder.beginComputePass({ timestampWrites: pacer.writes("step") }).end();
 * pacer.resolve(encoder);
 * gpu.device.queue.submit([encoder.finish()]);
 * await pacer.settle(); // no sleep yet: nothing learned about "step"
 * await gpu.device.queue.onSubmittedWorkDone();
 * await pacer.collect();
 * console.log(pacer.take("step")); // [0.00…] ms of GPU time
 * ```
 */
export class CompletionPacer {
  /** Whether {@link settle} sleeps (else the pacer only times). */
  readonly pace: boolean;
  readonly #clock: StepClock;
  /** The kind of each pending timestamped submission, in order. */
  readonly #kinds: string[] = [];
  /** GPU ms of the latest collected submission of each kind. */
  readonly #expected = new Map<string, number>();
  /** GPU ms of each collected submission per kind, until taken. */
  readonly #times = new Map<string, number[]>();
  /** `performance.now()` by which the work submitted since the last collect should be done. */
  #busyUntil = 0;
  /** Some submission since the last collect is of a kind not timed yet. */
  #unknown = false;

  /**
   * @param pace sleep before waits (do it on Dawn; see the module comment)
   * @param capacity submissions that can be timed between two {@link collect}s (default 1024)
   * @throws {Error} when the device lacks `timestamp-query`
   */
  constructor(gpu: Gpu, opts: { readonly pace: boolean; readonly capacity?: number }) {
    this.pace = opts.pace;
    this.#clock = new StepClock(gpu, opts.capacity ?? 1024);
  }

  /** Whether as many submissions are pending as can be timed: {@link collect} before the next. */
  get full(): boolean {
    return this.#kinds.length === this.#clock.capacity;
  }

  /**
   * The `timestampWrites` of the next submission's compute pass, of `kind`; {@link resolve} must
   * follow on the same encoder after the pass ends.
   */
  writes(kind: string): GPUComputePassTimestampWrites {
    const writes = this.#clock.nextWrites();
    this.#kinds.push(kind);
    this.expect(kind);
    return writes;
  }

  /** Resolves the timestamps of the pass {@link writes} gave, on the encoder that recorded it. */
  resolve(encoder: GPUCommandEncoder): void {
    this.#clock.resolve(encoder);
  }

  /**
   * Counts a submission of `kind` that is not timestamped here (its pass is timed by another
   * clock) towards the time the GPU should need.
   */
  expect(kind: string): void {
    const ms = this.#expected.get(kind);
    if (ms === undefined) this.#unknown = true;
    else this.#busyUntil = Math.max(this.#busyUntil, performance.now()) + ms;
  }

  /**
   * Milliseconds until the work submitted since the last {@link collect} should be done, by the
   * GPU times learned so far (0 when it should be; NaN while some of it is of a kind not timed
   * yet).
   */
  msUntilIdle(): number {
    return this.#unknown ? NaN : Math.max(0, this.#busyUntil - performance.now());
  }

  /**
   * When pacing, sleeps {@link msUntilIdle} and a margin ({@link SETTLE_MARGIN}; not at all while
   * it is NaN); otherwise returns at once.
   */
  async settle(): Promise<void> {
    const ms = this.msUntilIdle();
    if (this.pace && ms > 0) await sleep(ms * (1 + SETTLE_MARGIN.relative) + SETTLE_MARGIN.ms);
  }

  /**
   * Reads the timestamps of the submissions since the last collect (call it once they are done,
   * after a wait) and learns each kind's GPU time from them.
   */
  async collect(): Promise<void> {
    const kinds = this.#kinds.splice(0);
    const ms = await this.#clock.read();
    const byKind = new Map<string, number[]>();
    const add = (map: Map<string, number[]>, kind: string, v: number) => {
      const list = map.get(kind);
      if (list) list.push(v);
      else map.set(kind, [v]);
    };
    kinds.forEach((kind, i) => {
      add(byKind, kind, ms[i]);
      add(this.#times, kind, ms[i]);
    });
    for (const [kind, list] of byKind) this.#expected.set(kind, median(list));
    this.#busyUntil = performance.now();
    this.#unknown = false;
  }

  /** GPU ms of each collected submission of `kind` since the last take, in order. */
  take(kind: string): number[] {
    const list = this.#times.get(kind) ?? [];
    this.#times.delete(kind);
    return list;
  }

  /** Frees the timestamp queries. */
  destroy(): void {
    this.#clock.destroy();
  }
}
