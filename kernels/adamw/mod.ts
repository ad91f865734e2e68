/**
 * AdamW on FP32 master weights, PyTorch semantics (torch.optim.AdamW documentation,
 * https://docs.pytorch.org/docs/stable/generated/torch.optim.AdamW.html; decoupled weight decay of
 * Loshchilov & Hutter, arXiv 1711.05101). For each tensor, per element, with t = step:
 *
 * ```
 * g  = grad · clip[1]                           (global-norm clip factor, kernels/clip/mod.ts)
 * m ← β₁·m + (1 − β₁)·g
 * v ← β₂·v + (1 − β₂)·g²
 * p ← p − lr·λ·p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
 * ```
 *
 * which is `p ← p·(1 − lr·λ)` followed by `p ← p − lr·m̂/(√v̂ + ε)` in the form PyTorch's
 * implementation evaluates (step size `lr / bias_correction1`, denominator
 * `√v / √bias_correction2 + ε`); the decay is applied as `p − (lr·λ)·p` rather than
 * `p·(1 − lr·λ)`, which rounds less. λ is the configured weight decay for tensors flagged `decay`,
 * else 0. The bias corrections are computed in the kernel (`./wgsl.ts`), so no host-side
 * precomputation is needed.
 *
 * Per-step values live in a `hyper` storage buffer the caller writes before each submission:
 * `adamwHyper` (kernels/adamw/reference.ts) gives its two words, `[lr (f32), step (u32,
 * 1-based)]`. One dispatch per tensor, one vec4 per invocation; elementwise, so deterministic.
 * Dispatches write disjoint buffers, so they need no barriers between them.
 *
 * @module
 */

import { f32Bits } from "../../src/formats/fp32.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, type Dispatch, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import {
  bindGroup,
  bindingRange,
  type BufferBinding,
  pipelineCache,
  splitDispatch,
} from "../../src/gpu/pipelines.ts";
import {
  ADAMW_HYPER_BYTES,
  type AdamwConfig,
  resolveAdamw,
  type ResolvedAdamw,
} from "./reference.ts";
import { type GradTensor, vec4Binding } from "../clip/mod.ts";
import { CLIP_BYTES } from "../clip/reference.ts";
import { ADAMW_SHADER, ADAMW_WORKGROUP } from "./wgsl.ts";

/**
 * One parameter tensor: FP32 param, grad and moments (`size` elements each; every binding must
 * hold `⌈size/4⌉` whole vec4, see {@link GradTensor}). m and v start at zero.
 *
 * @example
 * ```ts
 * import type { AdamwTensor } from "./mod.ts";
 * const gain = (param: GPUBuffer, grad: GPUBuffer, m: GPUBuffer, v: GPUBuffer): AdamwTensor => ({
 *   param,
 *   grad,
 *   m,
 *   v,
 *   size: 256,
 *   decay: false, // norm gains and biases usually get no weight decay
 * });
 * ```
 */
export interface AdamwTensor extends GradTensor {
  /** FP32 master weights, updated in place. */
  readonly param: BufferBinding;
  /** First moment, updated in place. */
  readonly m: BufferBinding;
  /** Second moment, updated in place. */
  readonly v: BufferBinding;
  /** Whether weight decay applies to this tensor. */
  readonly decay: boolean;
}

/**
 * Buffers of a bound AdamW step.
 *
 * @example
 * ```ts
 * import type { AdamwIo, AdamwTensor } from "./mod.ts";
 * const io = (tensors: AdamwTensor[], hyper: GPUBuffer, clip: GPUBuffer): AdamwIo => ({
 *   tensors,
 *   hyper,
 *   clip,
 * });
 * ```
 */
export interface AdamwIo {
  /** The tensors to update, one dispatch each (in this order). */
  readonly tensors: readonly AdamwTensor[];
  /** `[lr: f32, step: u32]`, written by the caller each step (`adamwHyper`). */
  readonly hyper: BufferBinding;
  /**
   * f32 `[norm, factor]` from {@link ./clip.ts}; gradients are multiplied by `factor`. Without
   * clipping, bind a buffer holding `[0, 1]`.
   */
  readonly clip: BufferBinding;
}

/**
 * The AdamW update for a configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { AdamwKernel } from "./mod.ts";
 * import { adamwHyper } from "./reference.ts";
 * const gpu = await getGpu();
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
 * const buf = (data: Float32Array | Uint32Array) => createBufferFrom(gpu.device, data, usage);
 * const param = buf(new Float32Array([1, -2, 0, 0]));
 * const tensor = {
 *   param,
 *   grad: buf(new Float32Array([0.5, -3, 0, 0])),
 *   m: buf(new Float32Array(4)),
 *   v: buf(new Float32Array(4)),
 *   size: 2,
 *   decay: false,
 * };
 * const hyper = buf(adamwHyper(0.1, 1));
 * const clip = buf(new Float32Array([0, 1]));
 * const kernel = await AdamwKernel.create(gpu, { beta1: 0.9, beta2: 0.95, weightDecay: 0.1 });
 * const op = kernel.bind({ tensors: [tensor], hyper, clip });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * // Step 1 moves each weight by lr against the sign of its gradient.
 * const p = new Float32Array(await readBuffer(gpu.device, param));
 * assert.ok(Math.abs(p[0] - 0.9) < 1e-6 && Math.abs(p[1] + 1.9) < 1e-6);
 * op.destroy();
 * ```
 */
export class AdamwKernel {
  /** The configuration with its defaults filled in. */
  readonly config: ResolvedAdamw;
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;

  private constructor(gpu: Gpu, config: ResolvedAdamw, pipeline: GPUComputePipeline) {
    this.#gpu = gpu;
    this.config = config;
    this.#pipeline = pipeline;
  }

  /** Validates the configuration (RangeError naming the field) and compiles the kernel. */
  static async create(gpu: Gpu, config: AdamwConfig): Promise<AdamwKernel> {
    const c = resolveAdamw(config);
    // ln β for the bias corrections; β = 0 (no averaging) → a value whose exp underflows to 0.
    const ln = (beta: number) => Math.max(Math.log(beta), -100);
    const pipeline = await pipelineCache(gpu.device).getAsync(ADAMW_SHADER, "main", {
      BETA1: c.beta1,
      BETA2: c.beta2,
      OMB1: 1 - c.beta1,
      OMB2: 1 - c.beta2,
      LNB1: ln(c.beta1),
      LNB2: ln(c.beta2),
      EPS: c.eps,
    });
    return new AdamwKernel(gpu, c, pipeline);
  }

  /** Binds the update to its tensors; records one dispatch per non-empty tensor. */
  bind(io: AdamwIo): BoundOp {
    const gpu = this.#gpu;
    checkSmall(io.hyper, ADAMW_HYPER_BYTES, "io.hyper");
    checkSmall(io.clip, CLIP_BYTES, "io.clip");
    const steps: Dispatch[] = [];
    const owned: GPUBuffer[] = [];
    io.tensors.forEach((t, i) => {
      const [param, grad, m, v] = (["param", "grad", "m", "v"] as const).map((name) =>
        vec4Binding(gpu, t[name], t.size, `tensors[${i}].${name}`)
      );
      if (t.size === 0) return;
      const [gx, gy] = splitDispatch(gpu, Math.ceil(t.size / 4 / ADAMW_WORKGROUP));
      const wd = t.decay ? this.config.weightDecay : 0;
      const params = uniformBuffer(gpu.device, [t.size, gx, f32Bits(wd)]);
      owned.push(params);
      const group = bindGroup(gpu.device, this.#pipeline, [
        param,
        grad,
        m,
        v,
        io.hyper,
        io.clip,
        params,
      ]);
      steps.push([this.#pipeline, group, gx, gy]);
    });
    return dispatchOp(steps, owned, "adamw");
  }
}

function checkSmall(b: BufferBinding, bytes: number, what: string): void {
  const { size } = bindingRange(b);
  if (size < bytes) throw new RangeError(`${what} binds ${size} bytes, needs ${bytes}`);
}
