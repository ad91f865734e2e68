/**
 * Softmax cross-entropy on the GPU: per-row loss, the logits gradient, top-1 correctness and a
 * deterministic reduction into a small metrics buffer, in three dispatches (count, rows, reduce;
 * the WGSL and its arithmetic are in `./wgsl.ts`, the float64 reference in `./reference.ts`).
 *
 * Every invocation visits its elements in a fixed order and every reduction is a fixed tree, so
 * results are bit-identical from run to run. When the vocabulary is a multiple of 4 rows are read
 * as vec4 (coalesced); otherwise as scalars, which is slower: pad the vocabulary (GPT-2's 50257 to
 * 50304).
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { f32Bits } from "../../src/formats/fp32.ts";
import { type BoundOp, type Dispatch, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import {
  bindGroup,
  type BufferBinding,
  pipelineCache,
  splitDispatch,
} from "../../src/gpu/pipelines.ts";
import { IGNORE_TARGET, XENT_METRICS_BYTES, type XentScale } from "./reference.ts";
import { XENT_COUNT_SHADER, XENT_REDUCE_SHADER, xentRowsShader } from "./wgsl.ts";

/**
 * What a {@link XentKernel} is compiled for.
 *
 * @example
 * ```ts
 * import type { XentConfig } from "./mod.ts";
 * const config: XentConfig = { vocab: 50304, gradient: "in-place" };
 * ```
 */
export interface XentConfig {
  /** Vocabulary size V (columns of the logits), ≥ 1. */
  readonly vocab: number;
  /**
   * Where the gradient goes: `"in-place"` (default) overwrites the logits with dlogits, saving a
   * `[rows, V]` buffer (the logits are not needed after the loss); `"separate"` writes it to
   * `io.dlogits` and leaves the logits intact.
   */
  readonly gradient?: "in-place" | "separate";
}

/**
 * Buffers of a bound cross-entropy (all storage buffers; sizes at least those given).
 *
 * @example
 * ```ts
 * import type { XentIo } from "./mod.ts";
 * function io(logits: GPUBuffer, targets: GPUBuffer, scratch: GPUBuffer[]): XentIo {
 *   const [loss, correct, metrics] = scratch;
 *   return { logits, targets, loss, correct, metrics };
 * }
 * ```
 */
export interface XentIo {
  /** f32 `[rows, V]` row-major; overwritten by the gradient when compiled `"in-place"`. */
  readonly logits: GPUBuffer;
  /** u32 `[rows]`: class index < V, or `IGNORE_TARGET` (0xFFFFFFFF) to mask the row out. */
  readonly targets: GPUBuffer;
  /** f32 `[rows]` out: per-row loss (0 for masked rows). */
  readonly loss: GPUBuffer;
  /** u32 `[rows]` out: 1 where argmax == target (ties to the lowest index), else 0. */
  readonly correct: GPUBuffer;
  /** f32 `[4]` out ({@link XENT_METRICS_BYTES}). */
  readonly metrics: GPUBuffer;
  /** f32 `[rows, V]` out: dlogits, for `gradient: "separate"` only. */
  readonly dlogits?: GPUBuffer;
}

/**
 * Dimensions of a bound cross-entropy.
 *
 * @example
 * ```ts
 * import type { XentDims } from "./mod.ts";
 * const dims: XentDims = { rows: 8192, scale: "mean" };
 * ```
 */
export interface XentDims {
  /** Rows (tokens), ≥ 1. */
  readonly rows: number;
  /**
   * Gradient scale: a finite number, default `1 / rows` (the gradient of Σ loss / rows), or
   * `"mean"` for `1 / (unmasked rows)`, read on the GPU from the count, which makes dlogits the
   * gradient of the reported mean loss when rows are masked (PyTorch's `ignore_index` mean).
   */
  readonly scale?: XentScale;
}

/**
 * Fused softmax cross-entropy forward and backward.
 *
 * Targets ≥ V other than `IGNORE_TARGET` are not checked on the GPU (that would need a readback):
 * such a row gets a NaN loss, which makes the mean loss NaN, and a gradient without the one-hot
 * term.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { XentKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
 * const buf = (data: Float32Array | Uint32Array) => createBufferFrom(gpu.device, data, usage);
 * // Two rows over V = 4; the second is masked out.
 * const logits = buf(new Float32Array([0, 0, Math.log(2), 0, 9, 9, 9, 9]));
 * const io = {
 *   logits,
 *   targets: buf(new Uint32Array([2, 0xffffffff])),
 *   loss: buf(new Float32Array(2)),
 *   correct: buf(new Uint32Array(2)),
 *   metrics: buf(new Float32Array(4)),
 * };
 * const kernel = await XentKernel.create(gpu, { vocab: 4 });
 * const op = kernel.bind(io, { rows: 2, scale: "mean" });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const metrics = new Float32Array(await readBuffer(gpu.device, io.metrics));
 * assert.ok(Math.abs(metrics[0] - Math.log(5 / 2)) < 1e-6); // softmax = [1, 1, 2, 1] / 5
 * assert.deepEqual([...metrics.slice(1)], [1, 1, 1]);
 * const dlogits = new Float32Array(await readBuffer(gpu.device, logits));
 * assert.deepEqual([...dlogits].map((g) => Math.round(g * 1e6) / 1e6), [
 *   0.2, 0.2, -0.6, 0.2, 0, 0, 0, 0,
 * ]);
 * op.destroy();
 * ```
 */
export class XentKernel {
  /** The configuration with its defaults filled in. */
  readonly config: Required<XentConfig>;
  readonly #gpu: Gpu;
  readonly #count: GPUComputePipeline;
  readonly #rows: GPUComputePipeline;
  readonly #reduce: GPUComputePipeline;

  private constructor(
    gpu: Gpu,
    config: Required<XentConfig>,
    pipelines: GPUComputePipeline[],
  ) {
    this.#gpu = gpu;
    this.config = config;
    [this.#count, this.#rows, this.#reduce] = pipelines;
  }

  /** Compiles (or fetches from the cache) the three kernels for a vocabulary. */
  static async create(gpu: Gpu, config: XentConfig): Promise<XentKernel> {
    const { vocab } = config;
    if (!Number.isSafeInteger(vocab) || vocab < 1 || vocab >= IGNORE_TARGET) {
      throw new RangeError(`vocab must be an integer in [1, 2³²−1), got ${vocab}`);
    }
    const gradient = config.gradient ?? "in-place";
    if (gradient !== "in-place" && gradient !== "separate") {
      throw new RangeError(
        `gradient must be "in-place" or "separate", got ${JSON.stringify(gradient)}`,
      );
    }
    const cache = pipelineCache(gpu.device);
    const pipelines = await Promise.all([
      cache.getAsync(XENT_COUNT_SHADER),
      cache.getAsync(xentRowsShader(vocab, gradient === "in-place")),
      cache.getAsync(XENT_REDUCE_SHADER),
    ]);
    return new XentKernel(gpu, { vocab, gradient }, pipelines);
  }

  /** Binds the kernels to buffers for `dims.rows` rows; creates the uniforms and bind groups. */
  bind(io: XentIo, dims: XentDims): BoundOp {
    const { rows } = dims;
    const { vocab, gradient } = this.config;
    if (!Number.isSafeInteger(rows) || rows < 1) {
      throw new RangeError(`rows must be an integer ≥ 1, got ${rows}`);
    }
    const scale = dims.scale ?? 1 / rows;
    if (scale !== "mean" && !(typeof scale === "number" && Number.isFinite(scale))) {
      throw new RangeError(`scale must be a finite number or "mean", got ${scale}`);
    }
    const limit = this.#gpu.limits.maxStorageBufferBindingSize ?? 2 ** 27;
    // Binds exactly the bytes used, so a larger buffer never exceeds the binding limit.
    const need = (name: keyof XentIo, bytes: number): BufferBinding => {
      const buffer = io[name];
      if (!buffer) throw new TypeError(`io.${name} is required for gradient: "${gradient}"`);
      if (buffer.size < bytes) {
        throw new RangeError(`io.${name} holds ${buffer.size} bytes, needs ${bytes}`);
      }
      if (bytes > limit) {
        throw new RangeError(
          `io.${name}: ${rows} rows need ${bytes} bytes, more than one binding may hold ` +
            `(${limit}); bind fewer rows per call`,
        );
      }
      return { buffer, offset: 0, size: bytes };
    };
    const logits = need("logits", rows * vocab * 4);
    const targets = need("targets", rows * 4);
    const loss = need("loss", rows * 4);
    const correct = need("correct", rows * 4);
    const metrics = need("metrics", XENT_METRICS_BYTES);
    let out: BufferBinding[] = [];
    if (gradient === "separate") out = [need("dlogits", rows * vocab * 4)];
    else if (io.dlogits) throw new TypeError(`io.dlogits is not used for gradient: "in-place"`);

    const device = this.#gpu.device;
    const [gx, gy] = splitDispatch(this.#gpu, rows);
    const small = uniformBuffer(device, [rows]);
    const params = uniformBuffer(device, [
      rows,
      gx,
      scale === "mean" ? 1 : 0,
      f32Bits(scale === "mean" ? 0 : scale),
    ]);
    const steps: Dispatch[] = [
      [this.#count, bindGroup(device, this.#count, [targets, metrics, small]), 1, 1],
      [
        this.#rows,
        bindGroup(device, this.#rows, [logits, targets, loss, correct, metrics, params, ...out]),
        gx,
        gy,
      ],
      [this.#reduce, bindGroup(device, this.#reduce, [loss, correct, metrics, small]), 1, 1],
    ];
    return dispatchOp(steps, [small, params], "xent");
  }
}
