/**
 * Test helper: gradients by central finite differences in float64, the check every CPU
 * reference's backward pass is held to.
 *
 * @module
 */

/**
 * Central differences of `loss` with respect to each `v[i]` (perturbed in place and restored):
 * `(loss(v + h·eᵢ) − loss(v − h·eᵢ)) / 2h`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { numericGrad } from "./gradcheck.ts";
 * const v = new Float64Array([1, 2]);
 * const g = numericGrad(v, () => v[0] * v[0] + 3 * v[1]);
 * assert.ok(Math.abs(g[0] - 2) < 1e-8 && Math.abs(g[1] - 3) < 1e-8);
 * ```
 */
export function numericGrad(v: Float64Array, loss: () => number, h = 1e-6): Float64Array {
  return v.map((_, i) => {
    const old = v[i];
    v[i] = old + h;
    const up = loss();
    v[i] = old - h;
    const down = loss();
    v[i] = old;
    return (up - down) / (2 * h);
  });
}
