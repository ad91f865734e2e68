/**
 * CPU reference of global-norm gradient clipping (PyTorch `torch.nn.utils.clip_grad_norm_`, L2
 * norm): the norm `‖g‖ = √(Σ over all tensors and elements of g²)` and the factor every gradient is
 * multiplied by, `min(1, maxNorm / (‖g‖ + 1e-6))`. Float64 arithmetic. The GPU op writes both
 * into a buffer of {@link CLIP_BYTES}.
 *
 * @module
 */

/**
 * The ε PyTorch adds to the norm before dividing (`clip_coef = max_norm / (total_norm + 1e-6)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLIP_EPS } from "./reference.ts";
 * assert.equal(CLIP_EPS, 1e-6);
 * ```
 */
export const CLIP_EPS = 1e-6;

/**
 * Byte size of the GPU op's clip buffer: two f32, `[norm, factor]` (what {@link clipReference}
 * returns).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLIP_BYTES } from "./reference.ts";
 * assert.equal(CLIP_BYTES, 8);
 * ```
 */
export const CLIP_BYTES = 8;

/**
 * The global L2 norm of `grads` and the clip factor for `maxNorm` (> 0; `Infinity` never clips).
 * An infinite norm gives the factor 0, a NaN norm the factor 1 (the norm itself flags the run).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clipReference } from "./reference.ts";
 * const { norm, factor } = clipReference([new Float32Array([3]), new Float32Array([0, 4])], 1);
 * assert.equal(norm, 5);
 * assert.ok(Math.abs(factor - 1 / (5 + 1e-6)) < 1e-15);
 * assert.equal(clipReference([new Float32Array([0.1])], 1).factor, 1);
 * ```
 */
export function clipReference(
  grads: readonly ArrayLike<number>[],
  maxNorm: number,
): { norm: number; factor: number } {
  if (!(maxNorm > 0)) throw new RangeError(`maxNorm must be > 0, got ${maxNorm}`);
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  const norm = Math.sqrt(sum);
  const c = maxNorm / (norm + CLIP_EPS);
  return { norm, factor: c < 1 ? c : 1 };
}
