/**
 * CPU reference of one AdamW step on FP32 master weights, with PyTorch's semantics
 * (torch.optim.AdamW documentation, https://docs.pytorch.org/docs/stable/generated/torch.optim.AdamW.html;
 * Loshchilov & Hutter, "Decoupled Weight Decay Regularization", arXiv 1711.05101). With the
 * gradient first multiplied by the global-norm clip factor, for step t = 1, 2, …:
 *
 * ```
 * g ← grad · clip
 * p ← p − lr·λ·p                          (decoupled weight decay; λ = 0 where disabled)
 * m ← β₁·m + (1 − β₁)·g
 * v ← β₂·v + (1 − β₂)·g²
 * p ← p − lr · m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)
 * ```
 *
 * Arithmetic is float64; the updated p, m and v are stored back as FP32 (the state's storage
 * precision on the GPU).
 *
 * The op's contract besides: the configuration's defaults and checks ({@link resolveAdamw}) and
 * the per-step `hyper` words the GPU op reads ({@link adamwHyper}).
 *
 * @module
 */

import { f32Bits } from "../../src/formats/fp32.ts";

/**
 * Byte size of the GPU op's `hyper` buffer: `[lr: f32, step: u32]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ADAMW_HYPER_BYTES } from "./reference.ts";
 * assert.equal(ADAMW_HYPER_BYTES, 8);
 * ```
 */
export const ADAMW_HYPER_BYTES = 8;

/**
 * The words to write into the `hyper` buffer for a step: `lr` as f32 bits and the 1-based step
 * (≤ 2²⁴, exact in the f32 the kernel converts it to).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adamwHyper } from "./reference.ts";
 * const words = adamwHyper(1e-3, 7);
 * assert.equal(new Float32Array(words.buffer)[0], Math.fround(1e-3));
 * assert.equal(words[1], 7);
 * assert.throws(() => adamwHyper(1e-3, 0), /step .* got 0/);
 * // Each step: gpu.device.queue.writeBuffer(hyper, 0, adamwHyper(lrAt(schedule, s, n), s + 1));
 * ```
 */
export function adamwHyper(lr: number, step: number): Uint32Array<ArrayBuffer> {
  if (!(lr >= 0 && Number.isFinite(lr))) {
    throw new RangeError(`lr must be a finite number ≥ 0, got ${lr}`);
  }
  if (!Number.isInteger(step) || step < 1 || step > 2 ** 24) {
    throw new RangeError(`step must be an integer in [1, 2²⁴], got ${step}`);
  }
  return new Uint32Array([f32Bits(lr), step]);
}

/**
 * AdamW hyperparameters that stay fixed during a run (PyTorch's defaults where optional).
 *
 * @example
 * ```ts
 * import type { AdamwConfig } from "./reference.ts";
 * const nvfp4Paper: AdamwConfig = { beta1: 0.9, beta2: 0.95, weightDecay: 0.1 };
 * ```
 */
export interface AdamwConfig {
  /** β₁ in [0, 1) (default 0.9). */
  readonly beta1?: number;
  /** β₂ in [0, 1) (default 0.999). */
  readonly beta2?: number;
  /** ε > 0 (default 1e-8). */
  readonly eps?: number;
  /** λ ≥ 0, applied to tensors whose weight-decay flag is set (default 0.01). */
  readonly weightDecay?: number;
}

/**
 * An {@link AdamwConfig} with every default filled in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveAdamw, type ResolvedAdamw } from "./reference.ts";
 * const c: ResolvedAdamw = resolveAdamw({ beta2: 0.95 });
 * assert.equal(c.beta1, 0.9);
 * ```
 */
export interface ResolvedAdamw {
  /** β₁. */
  readonly beta1: number;
  /** β₂. */
  readonly beta2: number;
  /** ε. */
  readonly eps: number;
  /** λ, for tensors whose weight-decay flag is set. */
  readonly weightDecay: number;
}

/**
 * Fills in defaults and validates; throws a RangeError naming the field and value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveAdamw } from "./reference.ts";
 * assert.deepEqual(resolveAdamw({}), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
 * assert.throws(() => resolveAdamw({ beta2: 1 }), { name: "RangeError", message: /beta2 .* 1$/ });
 * ```
 */
export function resolveAdamw(config: AdamwConfig): ResolvedAdamw {
  const c = {
    beta1: config.beta1 ?? 0.9,
    beta2: config.beta2 ?? 0.999,
    eps: config.eps ?? 1e-8,
    weightDecay: config.weightDecay ?? 0.01,
  };
  for (const name of ["beta1", "beta2"] as const) {
    if (!(c[name] >= 0 && c[name] < 1)) {
      throw new RangeError(`adamw.${name} must be in [0, 1), got ${c[name]}`);
    }
  }
  if (!(c.eps > 0 && Number.isFinite(c.eps))) {
    throw new RangeError(`adamw.eps must be a finite number > 0, got ${c.eps}`);
  }
  if (!(c.weightDecay >= 0 && Number.isFinite(c.weightDecay))) {
    throw new RangeError(`adamw.weightDecay must be a finite number ≥ 0, got ${c.weightDecay}`);
  }
  return c;
}

/**
 * One tensor's FP32 state, updated in place by {@link adamwReference}.
 *
 * @example
 * ```ts
 * import type { AdamwTensor } from "./reference.ts";
 * const t: AdamwTensor = {
 *   param: new Float32Array(4),
 *   grad: new Float32Array(4),
 *   m: new Float32Array(4),
 *   v: new Float32Array(4),
 *   decay: false,
 * };
 * ```
 */
export interface AdamwTensor {
  /** FP32 master weights, updated in place. */
  readonly param: Float32Array;
  /** Gradient (before the clip factor). */
  readonly grad: Float32Array;
  /** First moment (start at zeros). */
  readonly m: Float32Array;
  /** Second moment (start at zeros). */
  readonly v: Float32Array;
  /** Whether weight decay applies (usually not for norm gains and biases). */
  readonly decay: boolean;
}

/**
 * Applies AdamW step `step` (1-based) with learning rate `lr` and gradient multiplier `clip` to
 * every tensor, in place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adamwReference } from "./reference.ts";
 * const t = {
 *   param: new Float32Array([1, -2]),
 *   grad: new Float32Array([0.5, 0]),
 *   m: new Float32Array(2),
 *   v: new Float32Array(2),
 *   decay: true,
 * };
 * adamwReference([t], { weightDecay: 0.5, eps: 1e-8 }, 0.1, 1);
 * // The first step moves by lr·sign(g) (m̂ = g, v̂ = g²), after the decay p·(1 − lr·λ).
 * assert.ok(Math.abs(t.param[0] - (0.95 - 0.1)) < 1e-6);
 * assert.equal(t.param[1], Math.fround(-2 * 0.95));
 * ```
 */
export function adamwReference(
  tensors: readonly AdamwTensor[],
  config: AdamwConfig,
  lr: number,
  step: number,
  clip = 1,
): void {
  const { beta1, beta2, eps, weightDecay } = resolveAdamw(config);
  if (!Number.isInteger(step) || step < 1) {
    throw new RangeError(`step must be an integer ≥ 1, got ${step}`);
  }
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (const t of tensors) {
    const n = t.param.length;
    if (t.grad.length !== n || t.m.length !== n || t.v.length !== n) {
      throw new RangeError(`adamwReference: param, grad, m and v lengths differ`);
    }
    const lambda = t.decay ? weightDecay : 0;
    for (let i = 0; i < n; i++) {
      const g = t.grad[i] * clip;
      const m = beta1 * t.m[i] + (1 - beta1) * g;
      const v = beta2 * t.v[i] + (1 - beta2) * g * g;
      const p = t.param[i] - lr * lambda * t.param[i];
      t.param[i] = p - (lr * (m / bc1)) / (Math.sqrt(v / bc2) + eps);
      t.m[i] = m;
      t.v[i] = v;
    }
  }
}
