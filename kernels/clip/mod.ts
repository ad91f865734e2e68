/**
 * Global-norm gradient clipping on the GPU (PyTorch `torch.nn.utils.clip_grad_norm_` with the L2
 * norm): `norm = √(Σ g²)` over every element of every gradient tensor, and the factor
 * `min(1, maxNorm / (norm + 1e-6))` that {@link ./adamw.ts} multiplies the gradients by, both
 * written to a small buffer, so neither clipping nor the norm metric needs a readback.
 *
 * Deterministic by construction: `partial` dispatches cover the tensors in list order, up to
 * {@link clipSlots} tensors per dispatch (one binding each). Workgroup w of the list sums the
 * squares of a fixed chunk of {@link CLIP_CHUNK} elements of one tensor (each invocation a fixed
 * run of vec4, then a fixed tree) into slot w of a partials buffer; then one `final` workgroup sums
 * all partials in a fixed order (strided per invocation, then a tree). The chunking depends only
 * on the tensor sizes, never on timing.
 *
 * Why several tensors per dispatch: every partial dispatch writes the partials buffer, so wgpu puts
 * a barrier between consecutive ones. Measured on the H100 (146 tensors, GPT-2 small's 124M
 * parameters): one dispatch per tensor took 0.69 ms (≈3.5 µs per barrier), 16 per dispatch
 * 0.235 ms (11 dispatches, 2.1 TB/s), the same elements as one tensor 0.19 ms (2.6 TB/s; a vec4
 * copy reached 2.45 TB/s in the same run). AdamW, whose dispatches write disjoint buffers, shows
 * no such cost.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, f32Word, uniformBuffer } from "../../src/gpu/op.ts";
import {
  bindGroup,
  type BufferBinding,
  pipelineCache,
  splitDispatch,
} from "../../src/gpu/pipelines.ts";
import { CLIP_EPS } from "./reference.ts";

/**
 * Byte size of the clip buffer: two f32, `[norm, factor]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLIP_BYTES } from "./mod.ts";
 * assert.equal(CLIP_BYTES, 8);
 * ```
 */
export const CLIP_BYTES = 8;

const WG = 256;
/** Vec4 loads per invocation in the partial pass. */
const LOADS = 8;

/**
 * Elements each workgroup of the partial pass reduces (one partial sum each).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLIP_CHUNK } from "./mod.ts";
 * assert.equal(CLIP_CHUNK, 8192);
 * ```
 */
export const CLIP_CHUNK = WG * LOADS * 4;

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
  const buffer = binding instanceof GPUBuffer ? binding : binding.buffer;
  const offset = binding instanceof GPUBuffer ? 0 : binding.offset ?? 0;
  const bytes = binding instanceof GPUBuffer ? binding.size : binding.size ?? buffer.size - offset;
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
      cache.getAsync(partialShader(clipSlots(gpu))),
      cache.getAsync(FINAL),
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
    const steps: [GPUComputePipeline, GPUBindGroup, number, number][] = [];
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
    const params = uniformBuffer(device, [count, f32Word(finite ? maxNorm : 0), finite ? 1 : 0]);
    owned.push(params);
    steps.push([this.#final, bindGroup(device, this.#final, [partials, io.clip, params]), 1, 1]);
    return {
      dispatches: steps.length,
      encode(pass) {
        for (const [pipeline, group, x, y] of steps) {
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, group);
          pass.dispatchWorkgroups(x, y);
        }
      },
      destroy() {
        for (const b of owned) b.destroy();
      },
    };
  }
}

/** Fixed-tree sum of `sm` over the workgroup, unrolled. */
const TREE = Array.from({ length: Math.log2(WG) }, (_, s) => WG >> (s + 1))
  .map((h) => `  if (lid < ${h}u) { sm[lid] += sm[lid + ${h}u]; }\n  workgroupBarrier();`)
  .join("\n");

const LOAD_INDICES = Array.from({ length: LOADS }, (_, k) => k);

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

/** The partial-sum kernel over `slots` gradient bindings. */
function partialShader(slots: number): string {
  const ks = Array.from({ length: slots }, (_, k) => k);
  const cases = ks.map((k) => `    case ${k}u: { return g${k}[j]; }`);
  cases[cases.length - 1] = `    default: { return g${slots - 1}[j]; }`;
  return /* wgsl */ `
struct Params { offset: u32, gx: u32, slot: array<vec4<u32>, ${slots}> }
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
${
    ks.map((k) => `@group(0) @binding(${k + 2}) var<storage, read> g${k}: array<vec4<f32>>;`).join(
      "\n",
    )
  }
var<workgroup> sm: array<f32, ${WG}>;

fn load(k: u32, j: u32) -> vec4<f32> {
  switch k {
${cases.join("\n")}
  }
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wid.y * params.gx + wid.x;
  var k = 0u;
${ks.slice(1).map((s) => `  k = select(k, ${s}u, w >= params.slot[${s}].y);`).join("\n")}
  let n = params.slot[k].x;
  let nv = (n + 3u) / 4u;
  let first = (w - params.slot[k].y) * ${WG * LOADS}u;
  if (first >= nv) { return; }
  let lanes = vec4<u32>(0u, 1u, 2u, 3u);
${
    LOAD_INDICES.map((i) =>
      `  let j${i} = first + lid + ${i * WG}u;\n  let v${i} = load(k, min(j${i}, nv - 1u));`
    ).join("\n")
  }
  var acc = vec4(0.0);
${
    LOAD_INDICES.map((i) =>
      `  let x${i} = select(vec4(0.0), v${i}, vec4<u32>(j${i} * 4u) + lanes < vec4<u32>(n));\n` +
      `  acc += x${i} * x${i};`
    ).join("\n")
  }
  sm[lid] = (acc.x + acc.y) + (acc.z + acc.w);
  workgroupBarrier();
${TREE}
  if (lid == 0u) { partials[params.offset + w] = sm[0]; }
}
`;
}

const FINAL = /* wgsl */ `
struct Params { count: u32, max_norm: f32, finite: u32 }
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> clip: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> sm: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < params.count; i += ${WG}u) { s += partials[i]; }
  sm[lid] = s;
  workgroupBarrier();
${TREE}
  if (lid == 0u) {
    let norm = sqrt(sm[0]);
    let c = params.max_norm / (norm + ${CLIP_EPS});
    clip[0] = norm;
    clip[1] = select(1.0, c, params.finite != 0u && c < 1.0);
  }
}
`;
