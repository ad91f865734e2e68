/**
 * GPU time of individual training steps: each step's compute pass writes a timestamp at its
 * beginning and end into its own pair of query slots, and {@link StepClock.read} returns the
 * durations of the steps recorded since the last read. Pipelined steps keep running back to back:
 * nothing waits on the GPU until the read, so timing a step does not change the step's throughput.
 *
 * @module
 */

import type { Gpu } from "./device.ts";

/** Bytes between two steps' resolved timestamps: WebGPU's query-resolve offset alignment. */
const RESOLVE_STRIDE = 256;

/**
 * Timestamps the compute pass of each of up to `capacity` steps between reads.
 *
 * @example
 * ```ts ignore
 * import { getGpu } from "./device.ts";
 * import { StepClock } from "./step_clock.ts";
 * const gpu = await getGpu();
 * const clock = new StepClock(gpu, 16); // throws where the device lacks timestamp-query
 * const encoder = gpu.device.createCommandEncoder();
 * const pass = encoder.beginComputePass({ timestampWrites: clock.nextWrites() });
 * pass.end();
 * clock.resolve(encoder);
 * gpu.device.queue.submit([encoder.finish()]);
 * console.log(await clock.read()); // [0.001…] — ms of GPU time per recorded pass
 * clock.destroy();
 * ```
 */
export class StepClock {
  /** Steps that can be recorded between two {@link read}s. */
  readonly capacity: number;
  readonly #device: GPUDevice;
  readonly #querySet: GPUQuerySet;
  readonly #resolved: GPUBuffer;
  readonly #staging: GPUBuffer;
  #recorded = 0;
  #open = false;

  /**
   * @throws {RangeError} for a `capacity` that is not a positive integer
   * @throws {Error} when the device lacks `timestamp-query`
   */
  constructor(gpu: Gpu, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 2048) {
      throw new RangeError(`StepClock: capacity must be an integer in [1, 2048], got ${capacity}`);
    }
    if (!gpu.features.has("timestamp-query")) {
      throw new Error(`StepClock: the device on "${gpu.info.description}" lacks timestamp-query`);
    }
    this.capacity = capacity;
    this.#device = gpu.device;
    this.#querySet = gpu.device.createQuerySet({ type: "timestamp", count: 2 * capacity });
    this.#resolved = gpu.device.createBuffer({
      label: "StepClock resolved",
      size: RESOLVE_STRIDE * capacity,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.#staging = gpu.device.createBuffer({
      label: "StepClock staging",
      size: RESOLVE_STRIDE * capacity,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Steps recorded since the last {@link read}. */
  get pending(): number {
    return this.#recorded;
  }

  /**
   * The `timestampWrites` of the next step's compute pass; {@link resolve} must follow on the same
   * encoder after the pass ends.
   *
   * @throws {RangeError} when `capacity` steps are pending: {@link read} first
   */
  nextWrites(): GPUComputePassTimestampWrites {
    if (this.#open) throw new Error("StepClock: resolve the previous pass before the next one");
    if (this.#recorded === this.capacity) {
      throw new RangeError(
        `StepClock: ${this.capacity} steps are pending; read them before recording another`,
      );
    }
    this.#open = true;
    return {
      querySet: this.#querySet,
      beginningOfPassWriteIndex: 2 * this.#recorded,
      endOfPassWriteIndex: 2 * this.#recorded + 1,
    };
  }

  /** Resolves the timestamps of the pass {@link nextWrites} gave, on the encoder that recorded it. */
  resolve(encoder: GPUCommandEncoder): void {
    if (!this.#open) throw new Error("StepClock: no pass to resolve");
    const slot = this.#recorded;
    encoder.resolveQuerySet(this.#querySet, 2 * slot, 2, this.#resolved, RESOLVE_STRIDE * slot);
    this.#open = false;
    this.#recorded++;
  }

  /** GPU milliseconds of each step recorded since the last read, in order; then starts afresh. */
  async read(): Promise<number[]> {
    const n = this.#recorded;
    if (n === 0) return [];
    const encoder = this.#device.createCommandEncoder({ label: "StepClock read" });
    const bytes = RESOLVE_STRIDE * n;
    encoder.copyBufferToBuffer(this.#resolved, 0, this.#staging, 0, bytes);
    this.#device.queue.submit([encoder.finish()]);
    this.#recorded = 0;
    await this.#staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const ticks = new BigUint64Array(this.#staging.getMappedRange(0, bytes).slice(0));
    this.#staging.unmap();
    const at = (i: number) => (RESOLVE_STRIDE / 8) * i;
    return Array.from({ length: n }, (_, i) => Number(ticks[at(i) + 1] - ticks[at(i)]) / 1e6);
  }

  /** Frees the query set and buffers. */
  destroy(): void {
    this.#querySet.destroy();
    this.#resolved.destroy();
    this.#staging.destroy();
  }
}
