/**
 * BF16 rounding of FP32 values for `compute: bf16` (Megatron/TransformerEngine mixed precision):
 * round-to-nearest-even to the BF16 grid, FP32 subnormals flushed first (the lpbench contract),
 * overflow to ±Inf as an IEEE cast does. It is the BF16 element encoder of `elements.ts` followed
 * by its decoder, so it agrees with the `bf16` format's quantizer bit for bit; the WGSL twin is
 * `round_bf16` in `kernels/_wgsl/numerics.ts`.
 *
 * @module
 */

import { ELEMENTS, encodeElement } from "./elements.ts";
import { f32Bits, f32FromBits, ftz } from "./fp32.ts";

/** The arithmetic a policy's non-GEMM ops store their outputs in (`compute:` in recipes). */
export type ComputePrecision = "fp32" | "bf16";

/**
 * An FP32 value rounded to BF16 (round to nearest even; subnormals flushed, overflow to ±Inf).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { roundBf16 } from "./bf16.ts";
 * assert.equal(roundBf16(1 + 2 ** -8), 1); // a tie: to the even neighbour
 * assert.equal(roundBf16(1 + 3 * 2 ** -8), 1 + 2 ** -6);
 * assert(Object.is(roundBf16(-1e-40), -0));
 * ```
 */
export function roundBf16(x: number): number {
  return f32FromBits(encodeElement(ELEMENTS.bf16, ftz(Math.fround(x)), false) << 16);
}

/**
 * A copy of `x` with every value rounded by {@link roundBf16}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { roundBf16Array } from "./bf16.ts";
 * assert.deepEqual([...roundBf16Array([1.00390625, 3])], [1, 3]);
 * ```
 */
export function roundBf16Array(x: ArrayLike<number>): Float32Array {
  return Float32Array.from(x, roundBf16);
}

/**
 * Whether an FP32 value is a BF16 value (its low 16 bits are zero): what `compute: bf16` promises
 * of every tensor flowing between ops.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isBf16 } from "./bf16.ts";
 * assert.equal(isBf16(1.5), true);
 * assert.equal(isBf16(Math.fround(0.1)), false);
 * ```
 */
export function isBf16(x: number): boolean {
  return (f32Bits(x) & 0xffff) === 0;
}

/**
 * The rounding a compute precision applies to an op's output: {@link roundBf16} for `bf16`, the
 * FP32 value itself for `fp32`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { storeRounding } from "./bf16.ts";
 * assert.equal(storeRounding("bf16")(1.00390625), 1);
 * assert.equal(storeRounding("fp32")(1.00390625), 1.00390625);
 * ```
 */
export function storeRounding(compute: ComputePrecision): (x: number) => number {
  return compute === "bf16" ? roundBf16 : Math.fround;
}
