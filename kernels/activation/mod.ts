/**
 * Elementwise MLP activations on the GPU, forward and backward: squared ReLU, GELU (GPT-2's tanh
 * approximation) and SwiGLU (WGSL in `./wgsl.ts`; CPU reference and formulas in
 * `./reference.ts`). One vec4 per invocation where the row length allows (`cols % 4 == 0`; for
 * squared ReLU and GELU `rows·cols % 4 == 0`), else one value.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import type { ActivationKind } from "./reference.ts";
import { ACTIVATION_WORKGROUP, activationShader } from "./wgsl.ts";

export type { ActivationKind } from "./reference.ts";

/**
 * Shape of an activation: the output is `[rows, cols]`; the input is `[rows, cols]`, or
 * `[rows, 2·cols]` for SwiGLU.
 *
 * @example
 * ```ts
 * import type { ActivationDims } from "./mod.ts";
 * const dims: ActivationDims = { rows: 1024, cols: 3072 };
 * console.log(dims.rows * dims.cols);
 * ```
 */
export interface ActivationDims {
  /** Rows of input and output. */
  readonly rows: number;
  /** Output row length (the input's is twice that for SwiGLU). */
  readonly cols: number;
}

/**
 * An activation's forward and backward kernels.
 *
 * - `forward({ x, y })`: `y = f(x)`;
 * - `backward({ x, dy, dx })`: `dx = dy · f'(x)` (SwiGLU: `dx` is `[rows, 2·cols]`, `[da | db]`).
 *
 * Inputs and outputs must be distinct buffers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { ActivationKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const relu2 = await ActivationKernel.create(gpu, { kind: "relu2" });
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const x = createBufferFrom(gpu.device, new Float32Array([-2, -1, 0.5, 3]), usage);
 * const y = createBufferFrom(gpu.device, new Float32Array(4), usage);
 * const op = relu2.forward({ x, y }, { rows: 1, cols: 4 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * assert.deepEqual([...new Float32Array(await readBuffer(gpu.device, y))], [0, 0, 0.25, 9]);
 * op.destroy();
 * ```
 */
export class ActivationKernel {
  /** The activation. */
  readonly kind: ActivationKind;
  readonly #gpu: Gpu;
  /** Pipelines by `${backward}:${vec}`. */
  readonly #pipelines: Map<string, GPUComputePipeline>;

  private constructor(gpu: Gpu, kind: ActivationKind, pipelines: Map<string, GPUComputePipeline>) {
    this.#gpu = gpu;
    this.kind = kind;
    this.#pipelines = pipelines;
  }

  /** Compiles the forward and backward kernels (vec4 and scalar) of `config.kind`. */
  static async create(gpu: Gpu, config: { kind: ActivationKind }): Promise<ActivationKernel> {
    const { kind } = config;
    if (!["relu2", "gelu", "swiglu"].includes(kind)) {
      throw new RangeError(`activation: unknown kind "${kind}"`);
    }
    const cache = pipelineCache(gpu.device);
    const variants = [false, true].flatMap((backward) =>
      ([1, 4] as const).map((vec) => ({ backward, vec }))
    );
    const pipelines = await Promise.all(
      variants.map(({ backward, vec }) => cache.getAsync(activationShader(kind, backward, vec))),
    );
    const map = new Map(
      variants.map(({ backward, vec }, i) => [`${backward}:${vec}`, pipelines[i]]),
    );
    return new ActivationKernel(gpu, kind, map);
  }

  /** `y = f(x)`: one dispatch. */
  forward(io: { x: GPUBuffer; y: GPUBuffer }, dims: ActivationDims): BoundOp {
    return this.#bind(false, [io.x, io.y], dims);
  }

  /** `dx = dy · f'(x)`: one dispatch. */
  backward(io: { x: GPUBuffer; dy: GPUBuffer; dx: GPUBuffer }, dims: ActivationDims): BoundOp {
    return this.#bind(true, [io.x, io.dy, io.dx], dims);
  }

  #bind(backward: boolean, buffers: GPUBuffer[], dims: ActivationDims): BoundOp {
    const { rows, cols } = dims;
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
      throw new RangeError(`activation: rows and cols must be positive integers`);
    }
    const n = rows * cols;
    const vec = (this.kind === "swiglu" ? cols % 4 === 0 : n % 4 === 0) ? 4 : 1;
    const pipeline = this.#pipelines.get(`${backward}:${vec}`)!;
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(n / vec / ACTIVATION_WORKGROUP));
    const device = this.#gpu.device;
    const u = uniformBuffer(device, [n / vec, gx, this.kind === "swiglu" ? cols / vec : 0]);
    const group = bindGroup(device, pipeline, [...buffers, u]);
    return dispatchOp([[pipeline, group, gx, gy]], [u], "activation");
  }
}
