/**
 * Compute pipeline cache and bind-group helper.
 *
 * Pipelines are keyed by WGSL source, entry point and override constants, and shader modules by
 * source, so a kernel compiles once per device. WebGPU reports shader errors asynchronously:
 * {@link PipelineCache.getAsync} waits for them and throws a readable error with WGSL line
 * numbers, while the synchronous {@link PipelineCache.get} leaves them to the device's
 * `uncapturederror` event.
 *
 * @module
 */

/**
 * A buffer binding: a whole buffer, or a range of one.
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import type { BufferBinding } from "./pipelines.ts";
 * const { device } = await getGpu();
 * const buffer = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
 * const binding: BufferBinding = { buffer, offset: 0, size: 128 };
 * buffer.destroy();
 * ```
 */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/**
 * Whether `value` is a GPU buffer of either WebGPU implementation. Dawn's buffers are not
 * instances of Deno's `GPUBuffer` class, so `instanceof GPUBuffer` cannot tell.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "./device.ts";
 * import { isGpuBuffer } from "./pipelines.ts";
 * const { device } = await getGpu();
 * const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
 * assert.ok(isGpuBuffer(buffer));
 * assert.ok(!isGpuBuffer({ buffer }) && !isGpuBuffer(new Float32Array(4)));
 * buffer.destroy();
 * ```
 */
export function isGpuBuffer(value: unknown): value is GPUBuffer {
  const b = value as Partial<GPUBuffer> | null;
  return typeof b === "object" && b !== null && typeof b.size === "number" &&
    typeof b.usage === "number" && typeof b.mapAsync === "function";
}

/**
 * The buffer, byte offset and byte size a {@link BufferBinding} binds (a whole buffer: offset 0,
 * its size; a range without a size: the rest of the buffer).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "./device.ts";
 * import { bindingRange } from "./pipelines.ts";
 * const { device } = await getGpu();
 * const buffer = device.createBuffer({ size: 512, usage: GPUBufferUsage.STORAGE });
 * assert.deepEqual(bindingRange(buffer), { buffer, offset: 0, size: 512 });
 * assert.deepEqual(bindingRange({ buffer, offset: 256 }), { buffer, offset: 256, size: 256 });
 * buffer.destroy();
 * ```
 */
export function bindingRange(
  b: BufferBinding,
): { buffer: GPUBuffer; offset: number; size: number } {
  if (!("buffer" in b)) return { buffer: b, offset: 0, size: b.size };
  const offset = b.offset ?? 0;
  return { buffer: b.buffer, offset, size: b.size ?? b.buffer.size - offset };
}

/**
 * Caches shader modules and `layout: "auto"` compute pipelines for one device.
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import { PipelineCache } from "./pipelines.ts";
 * const { device } = await getGpu();
 * const cache = new PipelineCache(device);
 * const code = `override SCALE: f32 = 1.0;
 * @group(0) @binding(0) var<storage, read_write> x: array<f32>;
 * @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
 *   if (id.x < arrayLength(&x)) { x[id.x] *= SCALE; }
 * }`;
 * const pipeline = await cache.getAsync(code, "main", { SCALE: 2 });
 * console.log(pipeline === cache.get(code, "main", { SCALE: 2 })); // true
 * ```
 */
export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #validated = new Map<string, Promise<GPUComputePipeline>>();

  /** An empty cache for `device`. */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** Returns the cached pipeline, creating it if needed. Does not wait for shader errors. */
  get(
    code: string,
    entryPoint = "main",
    constants?: Record<string, number>,
  ): GPUComputePipeline {
    const key = pipelineKey(code, entryPoint, constants);
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      pipeline = this.#create(code, entryPoint, constants);
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /**
   * Like {@link get}, but first checks the shader's compilation messages and the validation
   * error scope around pipeline creation; throws an Error quoting them (with WGSL line:column).
   * Failed entries are evicted, so a later call reports the error again.
   */
  getAsync(
    code: string,
    entryPoint = "main",
    constants?: Record<string, number>,
  ): Promise<GPUComputePipeline> {
    const key = pipelineKey(code, entryPoint, constants);
    let pending = this.#validated.get(key);
    if (!pending) {
      pending = this.#validate(key, code, entryPoint, constants);
      this.#validated.set(key, pending);
    }
    return pending;
  }

  async #validate(
    key: string,
    code: string,
    entryPoint: string,
    constants?: Record<string, number>,
  ): Promise<GPUComputePipeline> {
    const device = this.#device;
    try {
      device.pushErrorScope("validation");
      const module = this.#module(code);
      const moduleError = await device.popErrorScope();
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === "error");
      if (errors.length > 0) {
        const lines = code.split("\n");
        const detail = errors.map((m) =>
          `  line ${m.lineNum}:${m.linePos}: ${m.message.trim()}\n` +
          `    > ${lines[m.lineNum - 1]?.trim() ?? ""}`
        );
        throw new Error(
          `WGSL compilation failed (entry point "${entryPoint}"):\n${detail.join("\n")}`,
        );
      }
      if (moduleError) throw new Error(`WGSL compilation failed: ${moduleError.message.trim()}`);

      // A pipeline cached by a plain get() was created outside any error scope, so validate an
      // identical twin and keep returning the cached object.
      const cached = this.#pipelines.get(key);
      device.pushErrorScope("validation");
      const checked = this.#create(code, entryPoint, constants);
      const error = await device.popErrorScope();
      if (error) {
        throw new Error(
          `Compute pipeline creation failed (entry point "${entryPoint}"): ${error.message.trim()}`,
        );
      }
      if (!cached) this.#pipelines.set(key, checked);
      return cached ?? checked;
    } catch (e) {
      this.#pipelines.delete(key);
      this.#validated.delete(key);
      this.#modules.delete(code);
      throw e;
    }
  }

  #create(code: string, entryPoint: string, constants?: Record<string, number>) {
    return this.#device.createComputePipeline({
      label: entryPoint,
      layout: "auto",
      compute: { module: this.#module(code), entryPoint, constants },
    });
  }

  #module(code: string): GPUShaderModule {
    let module = this.#modules.get(code);
    if (!module) {
      module = this.#device.createShaderModule({ code });
      this.#modules.set(code, module);
    }
    return module;
  }
}

/**
 * Creates a bind group for `pipeline` that binds `buffers[i]` to `@binding(i)` of `group`.
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import { bindGroup, PipelineCache } from "./pipelines.ts";
 * const { device } = await getGpu();
 * const pipeline = await new PipelineCache(device).getAsync(
 *   `@group(0) @binding(0) var<storage, read_write> x: array<u32>;
 *    @compute @workgroup_size(1) fn main() { x[0] = 1u; }`,
 * );
 * const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
 * const group = bindGroup(device, pipeline, [{ buffer, offset: 0, size: 4 }]);
 * buffer.destroy();
 * ```
 */
export function bindGroup(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  buffers: readonly BufferBinding[],
  group = 0,
): GPUBindGroup {
  return device.createBindGroup({
    layout: pipeline.getBindGroupLayout(group),
    entries: buffers.map((b, binding) => ({
      binding,
      resource: "buffer" in b ? b : { buffer: b },
    })),
  });
}

function pipelineKey(code: string, entryPoint: string, constants?: Record<string, number>): string {
  const sorted = constants ? Object.entries(constants).sort(([a], [b]) => a < b ? -1 : 1) : [];
  return `${entryPoint}\u0000${JSON.stringify(sorted)}\u0000${code}`;
}

const caches = new WeakMap<GPUDevice, PipelineCache>();

/**
 * The shared pipeline cache of a device.
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import { pipelineCache } from "./pipelines.ts";
 * const { device } = await getGpu();
 * console.log(pipelineCache(device) === pipelineCache(device)); // true
 * ```
 */
export function pipelineCache(device: GPUDevice): PipelineCache {
  let c = caches.get(device);
  if (!c) caches.set(device, c = new PipelineCache(device));
  return c;
}

/**
 * Splits `groups` workgroups into an `[x, y]` dispatch within the device's per-dimension limit;
 * kernels recover the linear index as `wid.y * x + wid.x` (and skip indices ≥ `groups`).
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import { splitDispatch } from "./pipelines.ts";
 * const gpu = await getGpu();
 * console.log(splitDispatch(gpu, 100_000)); // e.g. [65535, 2]
 * ```
 */
export function splitDispatch(
  gpu: { limits: Readonly<Record<string, number>> },
  groups: number,
): [number, number] {
  const x = Math.max(1, Math.min(groups, gpu.limits.maxComputeWorkgroupsPerDimension ?? 65535));
  return [x, Math.ceil(groups / x)];
}
