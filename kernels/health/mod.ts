/**
 * The health comparison kernel (see `./wgsl.ts`): partial sums of how far one f32 tensor is from
 * another, for the GEMM-output check of the numeric-health diagnostics (src/health/) and the
 * non-finite count of a gradient. {@link sumPartials} adds a kernel's partials up in f64.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, type Dispatch, encodeDispatches } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { COMPARE_ELEMENTS_PER_WORKGROUP, COMPARE_FIELDS, compareShader } from "./wgsl.ts";

export { COMPARE_FIELDS };

/** Where a bound kernel writes its partials: a buffer and an f32 offset into it. */
export interface PartialsSlot {
  readonly buffer: GPUBuffer;
  /** Offset in f32 elements; a multiple of 64 (256 bytes, WebGPU's storage offset alignment). */
  readonly offset: number;
}

/**
 * The dispatch grid `[x, y]` of a comparison of `n` elements on a device with `limits`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareGrid } from "./mod.ts";
 * assert.deepEqual(compareGrid({ limits: {} }, 5000), [5, 1]);
 * ```
 */
export function compareGrid(
  device: { readonly limits: Readonly<Record<string, number>> },
  n: number,
): [number, number] {
  return splitDispatch(device, Math.max(1, Math.ceil(n / COMPARE_ELEMENTS_PER_WORKGROUP)));
}

/**
 * Compiled comparison kernel.
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { CompareKernel } from "./mod.ts";
 * const kernel = await CompareKernel.create(await getGpu());
 * console.log(kernel.workgroups(5000)); // 5 workgroups of 1024 elements
 * ```
 */
export class CompareKernel {
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;

  private constructor(gpu: Gpu, pipeline: GPUComputePipeline) {
    this.#gpu = gpu;
    this.#pipeline = pipeline;
  }

  /** Compiles (or fetches from the cache) the kernel. */
  static async create(gpu: Gpu): Promise<CompareKernel> {
    return new CompareKernel(gpu, await pipelineCache(gpu.device).getAsync(compareShader()));
  }

  /** Workgroups (rows of partials) a comparison of `n` elements writes. */
  workgroups(n: number): number {
    const [gx, gy] = compareGrid(this.#gpu, n);
    return gx * gy;
  }

  /**
   * Binds the comparison of the first `n` elements of `q` against `r`; the partials go to
   * `slot` ({@link workgroups}`(n)` × {@link COMPARE_FIELDS} f32).
   */
  bind(io: { q: GPUBuffer; r: GPUBuffer }, n: number, slot: PartialsSlot): BoundOp {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`n must be a positive integer, got ${n}`);
    }
    if (slot.offset % 64 !== 0) {
      throw new RangeError(`slot.offset must be a multiple of 64 f32, got ${slot.offset}`);
    }
    const device = this.#gpu.device;
    const [gx, gy] = compareGrid(this.#gpu, n);
    const params = device.createBuffer({
      label: "health compare params",
      size: 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(params, 0, new Uint32Array([n, gx, 0, 0]));
    const partials = {
      buffer: slot.buffer,
      offset: slot.offset * 4,
      size: gx * gy * COMPARE_FIELDS * 4,
    };
    const group = bindGroup(device, this.#pipeline, [io.q, io.r, partials, params]);
    const dispatches: Dispatch[] = [[this.#pipeline, group, gx, gy]];
    return {
      kind: "health",
      dispatches: 1,
      encode: (pass) => encodeDispatches(pass, dispatches),
      destroy: () => params.destroy(),
    };
  }
}

/**
 * Adds up `rows` rows of `fields` partials starting at f32 `offset` of `data`, in f64, field by
 * field in row order; a `min` or `max` field takes the smallest or largest value instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sumPartials } from "./mod.ts";
 * const data = new Float32Array([1, 5, 2, 3]);
 * assert.deepEqual(sumPartials(data, 0, 2, 2, { 1: "max" }), [3, 5]);
 * ```
 */
export function sumPartials(
  data: Float32Array,
  offset: number,
  rows: number,
  fields: number,
  reduce: Readonly<Record<number, "min" | "max">> = {},
): number[] {
  const out: number[] = [];
  for (let f = 0; f < fields; f++) {
    const op = reduce[f];
    let acc = op === "min" ? Infinity : op === "max" ? -Infinity : 0;
    for (let r = 0; r < rows; r++) {
      const v = data[offset + r * fields + f];
      acc = op === "min" ? Math.min(acc, v) : op === "max" ? Math.max(acc, v) : acc + v;
    }
    out.push(acc);
  }
  return out;
}
