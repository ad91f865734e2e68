/**
 * Global-norm gradient clipping on the GPU (PyTorch `torch.nn.utils.clip_grad_norm_` with the L2
 * norm): `norm = √(Σ g²)` over every element of every gradient tensor, and the factor
 * `min(1, maxNorm / (norm + 1e-6))` that the AdamW kernel (kernels/adamw/mod.ts) multiplies the
 * gradients by, both written to a small buffer, so neither clipping nor the norm metric needs a
 * readback (WGSL in `./wgsl.ts`, float64 reference in `./reference.ts`).
 *
 * Deterministic by construction: `partial` dispatches cover the tensors in list order, up to
 * {@link clipSlots} tensors per dispatch (one binding each), each workgroup summing a fixed chunk
 * of one tensor into its own slot of a partials buffer; then one `final` workgroup sums all
 * partials in a fixed order. The chunking depends only on the tensor sizes, never on timing.
 *
 * Several tensors share a dispatch because every partial dispatch writes the partials buffer, so
 * wgpu puts a barrier between consecutive ones: fewer dispatches, fewer barriers. (AdamW, whose
 * dispatches write disjoint buffers, needs no such batching.)
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { f32Bits } from "../../src/formats/fp32.ts";
import { type BoundOp, type Dispatch, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import {
  bindGroup,
  bindingRange,
  type BufferBinding,
  pipelineCache,
  splitDispatch,
} from "../../src/gpu/pipelines.ts";
import { CLIP_BYTES } from "./reference.ts";
import { CLIP_CHUNK, CLIP_FINAL_SHADER, clipPartialShader } from "./wgsl.ts";

/**
 * A gradient tensor: `size` f32 elements at the start of `grad`.
 *
 * The binding must hold `⌈size/4⌉` whole vec4 (`16·⌈size/4⌉` bytes; the elements past `size` in
 * the last vec4 are ignored) and its offset must be a multiple of the device's
 * `minStorageBufferOffsetAlignment` (256), so tensors can live in one shared buffer.
 *
 * @example
 * ```ts
 * import type { GradTensor } from "./mod.ts";
 * function tensor(buffer: GPUBuffer, offset: number, size: number): GradTensor {
 *   return { grad: { buffer, offset, size: Math.ceil(size / 4) * 16 }, size };
 * }
 * ```
 */
export interface GradTensor {
  /** The gradient's binding (see above for size and offset). */
  readonly grad: BufferBinding;
  /** Elements (≥ 0). */
  readonly size: number;
}

/**
 * Buffers of a bound clip.
 *
 * @example
 * ```ts
 * import type { ClipIo, GradTensor } from "./mod.ts";
 * const io = (tensors: GradTensor[], clip: GPUBuffer): ClipIo => ({ tensors, clip });
 * ```
 */
export interface ClipIo {
  /** The gradients whose global norm is taken. */
  readonly tensors: readonly GradTensor[];
  /** f32 `[norm, factor]` out ({@link CLIP_BYTES}). */
  readonly clip: GPUBuffer;
}

/**
 * Clipping parameters.
 *
 * @example
 * ```ts
 * import type { ClipDims } from "./mod.ts";
 * const dims: ClipDims = { maxNorm: 1 };
 * ```
 */
export interface ClipDims {
  /** Largest gradient norm allowed (> 0); `Infinity` only measures (factor 1). */
  readonly maxNorm: number;
}

/**
 * Checks that `binding` holds `⌈size/4⌉` whole vec4 at an offset the device accepts and returns
 * exactly that range (so a larger buffer never exceeds `maxStorageBufferBindingSize`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { vec4Binding } from "./mod.ts";
 * const gpu = await getGpu();
 * const buffer = gpu.device.createBuffer({ size: 64, usage: GPUBufferUsage.STORAGE });
 * assert.deepEqual(vec4Binding(gpu, buffer, 5, "grad"), { buffer, offset: 0, size: 32 });
 * assert.throws(() => vec4Binding(gpu, buffer, 17, "grad"), /grad binds 64 bytes, needs 80/);
 * buffer.destroy();
 * ```
 */
export function vec4Binding(
  gpu: Gpu,
  binding: BufferBinding,
  size: number,
  what: string,
): { buffer: GPUBuffer; offset: number; size: number } {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`${what}: size must be an integer ≥ 0, got ${size}`);
  }
  const { buffer, offset, size: bytes } = bindingRange(binding);
  const align = gpu.limits.minStorageBufferOffsetAlignment ?? 256;
  if (offset % align !== 0) {
    throw new RangeError(`${what}: offset ${offset} is not a multiple of ${align}`);
  }
  const need = Math.ceil(size / 4) * 16;
  if (bytes < need) {
    throw new RangeError(`${what} binds ${bytes} bytes, needs ${need} (⌈${size}/4⌉ vec4)`);
  }
  const limit = gpu.limits.maxStorageBufferBindingSize ?? 2 ** 27;
  if (need > limit) {
    throw new RangeError(
      `${what}: ${size} elements need ${need} bytes, more than one binding may hold (${limit})`,
    );
  }
  return { buffer, offset, size: need };
}

/**
 * Global gradient norm and clip factor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { ClipKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
 * const a = createBufferFrom(gpu.device, new Float32Array([3, 0, 0, 0]), usage);
 * const b = createBufferFrom(gpu.device, new Float32Array([4, 99, 99, 99]), usage);
 * const clip = createBufferFrom(gpu.device, new Float32Array(2), usage);
 * const kernel = await ClipKernel.create(gpu);
 * // b holds one element; the 99s pad its vec4 and are ignored.
 * const op = kernel.bind({ tensors: [{ grad: a, size: 4 }, { grad: b, size: 1 }], clip }, {
 *   maxNorm: 1,
 * });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const [norm, factor] = new Float32Array(await readBuffer(gpu.device, clip));
 * assert.equal(norm, 5);
 * assert.ok(Math.abs(factor - 0.2) < 1e-6);
 * op.destroy();
 * ```
 */
export class ClipKernel {
  /** Tensors per partial dispatch ({@link clipSlots}). */
  readonly slots: number;
  readonly #gpu: Gpu;
  readonly #partial: GPUComputePipeline;
  readonly #final: GPUComputePipeline;

  private constructor(gpu: Gpu, partial: GPUComputePipeline, final: GPUComputePipeline) {
    this.#gpu = gpu;
    this.slots = clipSlots(gpu);
    this.#partial = partial;
    this.#final = final;
  }

  /** Compiles (or fetches from the cache) the two kernels. */
  static async create(gpu: Gpu): Promise<ClipKernel> {
    const cache = pipelineCache(gpu.device);
    const [partial, final] = await Promise.all([
      cache.getAsync(clipPartialShader(clipSlots(gpu))),
      cache.getAsync(CLIP_FINAL_SHADER),
    ]);
    return new ClipKernel(gpu, partial, final);
  }

  /**
   * Binds the kernels to the gradients and the clip buffer; owns a partials buffer and uniforms.
   * Records ⌈non-empty tensors / {@link ClipKernel.slots}⌉ partial dispatches, then one final
   * dispatch.
   */
  bind(io: ClipIo, dims: ClipDims): BoundOp {
    const { maxNorm } = dims;
    if (!(maxNorm > 0)) throw new RangeError(`maxNorm must be > 0, got ${maxNorm}`);
    if (io.clip.size < CLIP_BYTES) {
      throw new RangeError(`io.clip holds ${io.clip.size} bytes, needs ${CLIP_BYTES}`);
    }
    const tensors = io.tensors.map((t, i) => ({
      size: t.size,
      grad: vec4Binding(this.#gpu, t.grad, t.size, `tensors[${i}].grad`),
    }));
    const device = this.#gpu.device;
    const live = tensors.filter((t) => t.size > 0);
    const groups = live.map((t) => Math.ceil(t.size / CLIP_CHUNK));
    const count = groups.reduce((a, b) => a + b, 0);
    const partials = device.createBuffer({
      label: "clip partials",
      size: Math.max(count, 1) * 4,
      usage: GPUBufferUsage.STORAGE,
    });
    const owned = [partials];
    const steps: Dispatch[] = [];
    const slots = this.slots;
    let offset = 0;
    for (let first = 0; first < live.length; first += slots) {
      const batch = live.slice(first, first + slots);
      // Uniform: [offset, gx, 0, 0], then per slot [size, first workgroup, 0, 0]; unused slots
      // start at 2³²−1 (never selected) and bind the first tensor again (read-only).
      const words = [offset, 0, 0, 0];
      let start = 0;
      for (let k = 0; k < slots; k++) {
        const t = batch[k];
        words.push(t ? t.size : 0, t ? start : 0xffffffff, 0, 0);
        if (t) start += groups[first + k];
      }
      const [gx, gy] = splitDispatch(this.#gpu, start);
      words[1] = gx;
      const params = uniformBuffer(device, words);
      owned.push(params);
      const grads = Array.from({ length: slots }, (_, k) => (batch[k] ?? batch[0]).grad);
      const group = bindGroup(device, this.#partial, [partials, params, ...grads]);
      steps.push([this.#partial, group, gx, gy]);
      offset += start;
    }
    const finite = Number.isFinite(maxNorm);
    const params = uniformBuffer(device, [count, f32Bits(finite ? maxNorm : 0), finite ? 1 : 0]);
    owned.push(params);
    steps.push([this.#final, bindGroup(device, this.#final, [partials, io.clip, params]), 1, 1]);
    return dispatchOp(steps, owned, "clip");
  }
}

/**
 * Tensors one partial dispatch covers: 16, or fewer where the device allows fewer storage buffers
 * per shader stage (one is the partials buffer).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clipSlots } from "./mod.ts";
 * assert.equal(clipSlots({ limits: { maxStorageBuffersPerShaderStage: 8 } }), 7);
 * assert.equal(clipSlots({ limits: { maxStorageBuffersPerShaderStage: 1000 } }), 16);
 * ```
 */
export function clipSlots(gpu: { limits: Readonly<Record<string, number>> }): number {
  return Math.max(1, Math.min(16, (gpu.limits.maxStorageBuffersPerShaderStage ?? 8) - 1));
}
