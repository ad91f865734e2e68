/**
 * CPU reference for the MLP activations, forward and backward, in float64 (the oracle for
 * `kernels/activation/mod.ts`):
 *
 * - `relu2`: squared ReLU `relu(x)²` (So et al. 2021, "Primer", §3), derivative `2·relu(x)`;
 * - `gelu`: GELU with GPT-2's tanh approximation `0.5·x·(1 + tanh(u))`,
 *   `u = √(2/π)·(x + 0.044715·x³)` (Hendrycks & Gimpel 2016, §2); derivative
 *   `0.5·(1 + tanh u) + 0.5·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)`;
 * - `swiglu`: input `[rows, 2·cols]` holding `[a | b]` along each row, output `silu(a)·b`
 *   `[rows, cols]` with `silu(a) = a·σ(a)` (Shazeer 2020, "GLU Variants Improve Transformer",
 *   eq. 6); `da = dy·b·σ(a)·(1 + a·(1 − σ(a)))`, `db = dy·silu(a)`.
 *
 * @module
 */

/**
 * The activations.
 *
 * @example
 * ```ts
 * import type { ActivationKind } from "./reference.ts";
 * const kinds: ActivationKind[] = ["relu2", "gelu", "swiglu"];
 * console.log(kinds.length);
 * ```
 */
export type ActivationKind = "relu2" | "gelu" | "swiglu";

/** √(2/π), GELU's tanh-approximation constant. */
const GELU_C = Math.sqrt(2 / Math.PI);
/** GELU's cubic coefficient. */
const GELU_K = 0.044715;

const sigmoid = (a: number) => 1 / (1 + Math.exp(-a));

/**
 * Width of the input rows of an activation whose output rows hold `cols` values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationInputCols } from "./reference.ts";
 * assert.equal(activationInputCols("swiglu", 4), 8);
 * assert.equal(activationInputCols("gelu", 4), 4);
 * ```
 */
export function activationInputCols(kind: ActivationKind, cols: number): number {
  return kind === "swiglu" ? 2 * cols : cols;
}

/**
 * Forward pass: `x` is `[rows, activationInputCols(kind, cols)]`, the result `[rows, cols]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationForward } from "./reference.ts";
 * assert.deepEqual([...activationForward("relu2", [-2, 3], 1, 2)], [0, 9]);
 * assert.equal(activationForward("gelu", [0], 1, 1)[0], 0);
 * // silu(2)·3 with [a | b] = [2 | 3]
 * assert.ok(Math.abs(activationForward("swiglu", [2, 3], 1, 1)[0] - 6 / (1 + Math.exp(-2))) < 1e-15);
 * ```
 */
export function activationForward(
  kind: ActivationKind,
  x: ArrayLike<number>,
  rows: number,
  cols: number,
): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      switch (kind) {
        case "relu2":
          y[i] = Math.max(x[i], 0) ** 2;
          break;
        case "gelu": {
          const v = x[i];
          y[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_K * v ** 3)));
          break;
        }
        case "swiglu": {
          const a = x[2 * r * cols + c];
          const b = x[(2 * r + 1) * cols + c];
          y[i] = a * sigmoid(a) * b;
        }
      }
    }
  }
  return y;
}

/**
 * Backward pass: the gradient with respect to the input (`[rows, activationInputCols(kind,
 * cols)]`) given the input `x` and the output gradient `dy` (`[rows, cols]`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationBackward } from "./reference.ts";
 * assert.deepEqual([...activationBackward("relu2", [-2, 3], [1, 1], 1, 2)], [0, 6]);
 * assert.equal(activationBackward("gelu", [0], [1], 1, 1)[0], 0.5);
 * ```
 */
export function activationBackward(
  kind: ActivationKind,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  cols: number,
): Float64Array {
  const dx = new Float64Array(rows * activationInputCols(kind, cols));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      switch (kind) {
        case "relu2":
          dx[i] = dy[i] * 2 * Math.max(x[i], 0);
          break;
        case "gelu": {
          const v = x[i];
          const t = Math.tanh(GELU_C * (v + GELU_K * v ** 3));
          const du = GELU_C * (1 + 3 * GELU_K * v * v);
          dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
          break;
        }
        case "swiglu": {
          const ia = 2 * r * cols + c;
          const ib = ia + cols;
          const [a, b] = [x[ia], x[ib]];
          const s = sigmoid(a);
          dx[ia] = dy[i] * b * s * (1 + a * (1 - s));
          dx[ib] = dy[i] * a * s;
        }
      }
    }
  }
  return dx;
}
