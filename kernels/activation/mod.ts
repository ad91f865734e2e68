/**
 * Elementwise MLP activations on the GPU, forward and backward: squared ReLU, GELU (GPT-2's tanh
 * approximation) and SwiGLU (CPU reference and formulas in `kernels/activation/reference.ts`).
 * One vec4 per invocation where the row length allows (`cols % 4 == 0`; for squared ReLU and
 * GELU `rows·cols % 4 == 0`), else one value.
 *
 * GELU is evaluated as `x·σ(2u) = x / (1 + exp(−2u))`, which equals `0.5·x·(1 + tanh u)` because
 * `0.5·(1 + tanh u) = 1/(1 + e^{−2u})`; unlike `1 + tanh u` it keeps its relative accuracy for
 * negative inputs. Exponent arguments are clamped at 80 (`e^80 < FLT_MAX`) so that no product
 * meets `∞·0`.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import type { ActivationKind } from "./reference.ts";
import { f32Literal } from "../_wgsl/numerics.ts";

export type { ActivationKind } from "./reference.ts";

const WG = 256;

/** `-2·√(2/π)` and `0.044715`, GELU's constants (see the module comment). */
const GELU_M2C = f32Literal(Math.fround(-2 * Math.sqrt(2 / Math.PI)));
const GELU_K = f32Literal(Math.fround(0.044715));
const GELU_3K = f32Literal(Math.fround(3 * 0.044715));

/** The per-element WGSL of an activation; `i` indexes the output in `T` units. */
function body(kind: ActivationKind, backward: boolean): string {
  switch (kind) {
    case "relu2":
      return backward
        ? `dx[i] = dy[i] * (2.0 * max(x[i], T(0.0)));`
        : `let r = max(x[i], T(0.0));\n  y[i] = r * r;`;
    case "gelu": {
      const common = `let v = x[i];
  let e = exp(min(${GELU_M2C} * v * (1.0 + ${GELU_K} * v * v), T(80.0)));`;
      return backward
        ? `${common}
  let s = 1.0 / (1.0 + e);
  let du = ${GELU_M2C} * (-1.0 - ${GELU_3K} * v * v);
  dx[i] = dy[i] * (s + v * du * (e * s) * s);`
        : `${common}\n  y[i] = v / (1.0 + e);`;
    }
    case "swiglu": {
      const common = `let row = i / params.cols;
  let ia = i + row * params.cols;
  let ib = ia + params.cols;
  let a = x[ia];
  let b = x[ib];
  let e = exp(min(-a, T(80.0)));
  let s = 1.0 / (1.0 + e);`;
      return backward
        ? `${common}
  let g = dy[i];
  dx[ia] = g * b * s * (1.0 + a * (e * s));
  dx[ib] = g * a * s;`
        : `${common}\n  y[i] = a * s * b;`;
    }
  }
}

/**
 * The WGSL of one activation pass over `vec`-wide elements. Bindings: x, y, params (forward) or
 * x, dy, dx, params (backward); params {n: output elements / vec, gx, cols: output row / vec (SwiGLU only)}.
 */
function shader(kind: ActivationKind, backward: boolean, vec: 1 | 4): string {
  const io = backward
    ? `@group(0) @binding(1) var<storage, read> dy: array<T>;
@group(0) @binding(2) var<storage, read_write> dx: array<T>;
@group(0) @binding(3) var<uniform> params: Params;`
    : `@group(0) @binding(1) var<storage, read_write> y: array<T>;
@group(0) @binding(2) var<uniform> params: Params;`;
  return `alias T = ${vec === 4 ? "vec4<f32>" : "f32"};
struct Params { n: u32, gx: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<T>;
${io}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * params.gx + wid.x) * ${WG}u + lid;
  if (i >= params.n) { return; }
  ${body(kind, backward)}
}
`;
}

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
      variants.map(({ backward, vec }) => cache.getAsync(shader(kind, backward, vec))),
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
    const [gx, gy] = splitDispatch(this.#gpu, Math.ceil(n / vec / WG));
    const device = this.#gpu.device;
    const u = uniformBuffer(device, [n / vec, gx, this.kind === "swiglu" ? cols / vec : 0]);
    const group = bindGroup(device, pipeline, [...buffers, u]);
    return {
      dispatches: 1,
      encode(pass) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(gx, gy);
      },
      destroy: () => u.destroy(),
    };
  }
}
