/**
 * CPU reference of the f32 GEMMs of a linear layer, in the three operand layouts the GPU kernels
 * take (kernels/gemm/mod.ts), with the same summation order: every C element is one running f32 sum
 * over k = 0, 1, …, K−1 started at +0, each step a fused multiply-add, then (when accumulating)
 * added once to the old C value.
 *
 * WGSL lets `fma` round once (fused, as NVIDIA's FFMA does) or twice (product, then sum, as Mesa's
 * llvmpipe does), so the reference offers both. The fused step is emulated in doubles: the product
 * of two f32 values is exact in a double, the sum is rounded to a double and then to f32, which
 * equals a correctly rounded f32 FMA except in rare double-rounding ties.
 *
 * @module
 */

/**
 * Operand layout of C[M,N] = op(A)·op(B), all matrices row-major:
 * - `"nt"`: A[M,K] · B[N,K]ᵀ (Fprop Y = X·Wᵀ);
 * - `"nn"`: A[M,K] · B[K,N] (Dgrad dX = dY·W);
 * - `"tn"`: A[K,M]ᵀ · B[K,N] (Wgrad dW = dYᵀ·X).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GEMM_LAYOUTS, type GemmLayout } from "./reference.ts";
 * const layout: GemmLayout = "nt";
 * assert.ok(GEMM_LAYOUTS.includes(layout));
 * ```
 */
export type GemmLayout = "nt" | "nn" | "tn";

/**
 * Every {@link GemmLayout}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GEMM_LAYOUTS } from "./reference.ts";
 * assert.deepEqual(GEMM_LAYOUTS, ["nt", "nn", "tn"]);
 * ```
 */
export const GEMM_LAYOUTS: readonly GemmLayout[] = ["nt", "nn", "tn"];

/**
 * GEMM dimensions: C is [m, n], the sum runs over k.
 *
 * @example
 * ```ts
 * import type { GemmDims } from "./reference.ts";
 * const dims: GemmDims = { m: 4, n: 3, k: 2 };
 * ```
 */
export interface GemmDims {
  /** Rows of C. */
  readonly m: number;
  /** Columns of C. */
  readonly n: number;
  /** Length of the sum (the shared dimension of A and B). */
  readonly k: number;
}

/**
 * The row-major shapes `[rows, cols]` of A and B for a layout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmOperandShapes } from "./reference.ts";
 * assert.deepEqual(gemmOperandShapes("tn", { m: 4, n: 3, k: 2 }), { a: [2, 4], b: [2, 3] });
 * ```
 */
export function gemmOperandShapes(
  layout: GemmLayout,
  { m, n, k }: GemmDims,
): { a: [number, number]; b: [number, number] } {
  return {
    a: layout === "tn" ? [k, m] : [m, k],
    b: layout === "nt" ? [n, k] : [k, n],
  };
}

/**
 * Throws unless `dims` are non-negative integers and `layout` is known.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkGemmDims } from "./reference.ts";
 * assert.throws(() => checkGemmDims("nt", { m: 2, n: 1.5, k: 3 }), RangeError);
 * ```
 */
export function checkGemmDims(layout: GemmLayout, dims: GemmDims): void {
  if (!["nt", "nn", "tn"].includes(layout)) {
    throw new RangeError(`GEMM layout must be "nt", "nn" or "tn", got ${JSON.stringify(layout)}`);
  }
  for (const name of ["m", "n", "k"] as const) {
    const v = dims[name];
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`GEMM dimension ${name} must be a non-negative integer, got ${v}`);
    }
  }
}

/**
 * How each multiply-add step of the sum rounds: once (`"fused"`) or after the product and again
 * after the sum (`"separate"`).
 *
 * @example
 * ```ts
 * import type { FmaRounding } from "./reference.ts";
 * const rounding: FmaRounding = "fused";
 * ```
 */
export type FmaRounding = "fused" | "separate";

/**
 * Options of {@link gemmReference}.
 *
 * @example
 * ```ts
 * import type { GemmReferenceOptions } from "./reference.ts";
 * const opts: GemmReferenceOptions = { c: new Float32Array(4), rounding: "separate" };
 * ```
 */
export interface GemmReferenceOptions {
  /** The old C [m, n]: when given, the result is C + op(A)·op(B). */
  readonly c?: Float32Array;
  /** Rounding of each step (default `"fused"`). */
  readonly rounding?: FmaRounding;
}

/**
 * C = op(A)·op(B), or C + op(A)·op(B) with `opts.c`; returns a new [m, n] array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmReference } from "./reference.ts";
 * const a = new Float32Array([1, 2, 3, 4]); // [2, 2]
 * const b = new Float32Array([5, 6, 7, 8]); // [2, 2]
 * assert.deepEqual([...gemmReference("nn", a, b, { m: 2, n: 2, k: 2 })], [19, 22, 43, 50]);
 * assert.deepEqual([...gemmReference("nt", a, b, { m: 2, n: 2, k: 2 })], [17, 23, 39, 53]);
 * const c = new Float32Array([1, 1, 1, 1]);
 * assert.deepEqual([...gemmReference("tn", a, b, { m: 2, n: 2, k: 2 }, { c })], [27, 31, 39, 45]);
 * ```
 */
export function gemmReference(
  layout: GemmLayout,
  a: Float32Array,
  b: Float32Array,
  dims: GemmDims,
  opts: GemmReferenceOptions = {},
): Float32Array {
  checkGemmDims(layout, dims);
  const { m, n, k } = dims;
  if (a.length < m * k || b.length < n * k || (opts.c && opts.c.length < m * n)) {
    throw new RangeError(`gemmReference: operands too short for ${m}×${n}×${k}`);
  }
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = gemmReferenceAt(layout, a, b, dims, i, j, opts);
  }
  return out;
}

/**
 * Element (i, j) of {@link gemmReference}'s result, computed alone (for spot checks of large
 * products); operands are not length-checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmReferenceAt } from "./reference.ts";
 * const a = new Float32Array([1, 2, 3, 4]);
 * const b = new Float32Array([5, 6, 7, 8]);
 * assert.equal(gemmReferenceAt("nn", a, b, { m: 2, n: 2, k: 2 }, 1, 0), 43);
 * ```
 */
export function gemmReferenceAt(
  layout: GemmLayout,
  a: Float32Array,
  b: Float32Array,
  { m, n, k }: GemmDims,
  i: number,
  j: number,
  opts: GemmReferenceOptions = {},
): number {
  const { c, rounding = "fused" } = opts;
  // Element strides of A along (i, p) and of B along (p, j).
  const [aI, aP] = layout === "tn" ? [1, m] : [k, 1];
  const [bP, bJ] = layout === "nt" ? [1, k] : [n, 1];
  const fround = Math.fround;
  let acc = 0;
  if (rounding === "fused") {
    for (let p = 0; p < k; p++) acc = fround(a[i * aI + p * aP] * b[p * bP + j * bJ] + acc);
  } else {
    for (let p = 0; p < k; p++) acc = fround(fround(a[i * aI + p * aP] * b[p * bP + j * bJ]) + acc);
  }
  return c ? fround(c[i * n + j] + acc) : acc;
}
