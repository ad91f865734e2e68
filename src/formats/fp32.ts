/**
 * FP32 arithmetic emulated exactly in TypeScript, with the flush-to-zero rule lpbench applies on
 * every adapter.
 *
 * A product or quotient of two FP32 values computed in a JS double and rounded once with
 * `Math.fround` is the correctly rounded FP32 result (53 ≥ 2·24 + 2; NUMERICS.md §9.1). WGSL lets a
 * GPU flush FP32 subnormals to zero, so to be bit-identical everywhere lpbench flushes them
 * explicitly, on the CPU and in every kernel: inputs and every intermediate result below 2^-126
 * become a zero of the same sign. This changes results only for tensors whose amax is below about
 * 1e-32.
 *
 * @module
 */

/** Largest finite FP32 value, 0x7F7FFFFF. */
export const FLT_MAX = 3.4028234663852886e38;

/** Smallest normal FP32 value, 2^-126. */
export const FLT_MIN_NORMAL = 2 ** -126;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The IEEE-754 bit pattern of `x` rounded to FP32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32Bits } from "./fp32.ts";
 * assert(f32Bits(1) === 0x3f800000);
 * ```
 */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

/**
 * The FP32 value whose bit pattern is `bits`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32FromBits } from "./fp32.ts";
 * assert(f32FromBits(0x40c00000) === 6);
 * ```
 */
export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

/**
 * Flushes an FP32 subnormal to a zero of the same sign; other values pass through.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ftz } from "./fp32.ts";
 * assert(Object.is(ftz(-1e-40), -0));
 * assert(ftz(Math.fround(1e-30)) === Math.fround(1e-30));
 * ```
 */
export function ftz(x: number): number {
  if (x !== 0 && Math.abs(x) < FLT_MIN_NORMAL) return x < 0 ? -0 : 0;
  return x;
}

/** FP32 `a·b`, correctly rounded, subnormal results flushed. */
export function mul32(a: number, b: number): number {
  return ftz(Math.fround(a * b));
}

/** FP32 `a/b`, correctly rounded, subnormal results flushed. */
export function div32(a: number, b: number): number {
  return ftz(Math.fround(a / b));
}

/** FP32 `a+b`, correctly rounded, subnormal results flushed. */
export function add32(a: number, b: number): number {
  return ftz(Math.fround(a + b));
}

/** FP32 `a−b`, correctly rounded, subnormal results flushed. */
export function sub32(a: number, b: number): number {
  return ftz(Math.fround(a - b));
}

/** Whether `x` is negative, counting −0 as negative. */
export function signBit(x: number): boolean {
  return x < 0 || Object.is(x, -0);
}
