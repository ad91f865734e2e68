/**
 * f16 GEMM operands: the CPU reference of what the quantizers write for the matrix-unit GEMM
 * (kernels/gemm_matrix/). A quantized tensor is split into f16 values and one FP32 factor per
 * tensor, `x̂ = fp32(v · factor)`, so that the GEMM multiplies exact f16 values on the matrix units
 * and applies `factorA · factorB` once in its epilogue:
 *
 * - nvfp4: `v = e2m1 · scale` (E2M1 × E4M3 has at most 5 significant bits and lies in
 *   [2^-10, 2688]: exact in f16), factor `S_dec`; the uniform grids likewise: INT4 (integers up to
 *   7, 3 significant bits) × E4M3 (4) has at most 7 significant bits and non-zero magnitudes in
 *   [2^-9, 3136], E1M2 (k/4, k ≤ 7) × E4M3 at most 7 bits in [2^-11, 784]: all normal f16 values
 *   (f16 keeps 11 significant bits from 2^-14 to 65504), so exact;
 * - fp8 (current or delayed scaling): `v` = the E4M3 or E5M2 element (both are subsets of f16),
 *   factor the tensor's decode scale;
 * - fp16: `v` = the element, factor 1;
 * - bf16: `v = x̂ · 2^-E`, factor `2^E`, with `E = exponent(amax) − 14` so the tensor's largest
 *   magnitude lands in [2^14, 2^15]. bf16's 8 significant bits fit f16's 11 wherever `|v| ≥ 2^-17`,
 *   i.e. for every value with `|x̂| ≥ amax · 2^-31`; smaller ones round to nearest even on f16's
 *   subnormal grid (the only inexact case, more than 2^31 times below the tensor's largest value);
 * - MX: `v = element · 2^(scale − E)`, factor `2^E`, with `E = emax + s_max − 15` for the largest
 *   block scale `s_max` (the one the tensor amax gets; `emax` the element's largest binade), so
 *   the largest value the scales allow lands in [2^15, 2^16). Block scales may span more binades
 *   than f16 holds: values below 2^-14 in f16 (2^29 and more below that largest value, so only in
 *   blocks whose scale is far under `s_max`) fall into f16's subnormal range and round to nearest
 *   even on its grid where they have more significant bits than it keeps.
 *
 * fp32 has 24 significant bits, and row-scaled nvfp4 one factor per row rather than per tensor: they
 * have no f16 operand ({@link hasF16Operand}). Four Over Six changes only which E4M3 scale a block
 * keeps, so `e2m1 · scale` stays exact in f16.
 *
 * For nvfp4, fp8 and fp16, `fp32(v · factor)` equals the fake-quant value bit for bit; for bf16 and
 * MX wherever `v` is a normal f16 value.
 *
 * @module
 */

import { decodeElement, ELEMENTS } from "./elements.ts";
import { FLT_MIN_NORMAL } from "./fp32.ts";
import { nvfp4ElementFormat } from "./nvfp4.ts";
import type { Quantized } from "./quantize.ts";
import { MX_BLOCK, MX_EMAX, mxScaleByte } from "./mx.ts";
import type { MxScaleRule, ResolvedFormat } from "./spec.ts";

type MxElement = keyof typeof MX_EMAX;

/**
 * Whether tensors of format `f` have an f16 operand (see the module comment).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasF16Operand } from "./f16.ts";
 * import { resolveFormat } from "./spec.ts";
 * assert.equal(hasF16Operand(resolveFormat("nvfp4-2d")), true);
 * assert.equal(hasF16Operand(resolveFormat("mxfp4")), true);
 * assert.equal(hasF16Operand(resolveFormat("fp32")), false);
 * assert.equal(hasF16Operand(resolveFormat({ kind: "nvfp4", rowScaled: true })), false);
 * ```
 */
export function hasF16Operand(f: ResolvedFormat): boolean {
  if (f.kind === "nvfp4") return !f.rowScaled;
  return f.kind !== "float" || f.element !== "fp32";
}

/**
 * The IEEE binary16 bits of `x` rounded to nearest even, with f16 subnormals (not flushed);
 * magnitudes beyond f16's largest finite value give ±Inf. `-0` keeps its sign.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f16Bits } from "./f16.ts";
 * assert.equal(f16Bits(1), 0x3c00);
 * assert.equal(f16Bits(-(2 ** -24)), 0x8001); // the smallest subnormal
 * assert.equal(f16Bits(2 ** -25), 0); // a tie, to even
 * assert.equal(f16Bits(65504), 0x7bff);
 * ```
 */
export function f16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  const exp = floorLog2(a);
  // Round on the grid of the value's binade: 2^(exp-10), or 2^-24 in the subnormal range.
  const grid = Math.max(exp, -14) - 10;
  const scaled = a * 2 ** -grid; // exact: a power-of-two scaling
  let m = Math.floor(scaled);
  const rem = scaled - m;
  if (rem > 0.5 || (rem === 0.5 && m % 2 === 1)) m += 1;
  // Subnormals are m itself (m = 1024 is the smallest normal); m = 2048 carries into the exponent.
  const bits = exp < -14 ? m : ((exp + 15) << 10) + m - 1024;
  return sign | Math.min(bits, 0x7c00);
}

/** ⌊log2 a⌋ for a positive finite `a`, exact (Math.log2 may be off by one near powers of two). */
function floorLog2(a: number): number {
  const e = Math.floor(Math.log2(a));
  return a < 2 ** e ? e - 1 : a >= 2 ** (e + 1) ? e + 1 : e;
}

/**
 * The value of binary16 `bits`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f16FromBits } from "./f16.ts";
 * assert.equal(f16FromBits(0x3555), 0.333251953125);
 * ```
 */
export function f16FromBits(bits: number): number {
  return decodeElement(ELEMENTS.fp16, bits & 0xffff);
}

/**
 * The bf16 operand's exponent shift `E` for a tensor amax (see the module comment): 0 for an all-zero
 * tensor, and within [-126, 127] so that `2^E` and `2^-E` are normal FP32 values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bf16OperandShift } from "./f16.ts";
 * assert.equal(bf16OperandShift(1), -14);
 * assert.equal(bf16OperandShift(0), 0);
 * ```
 */
export function bf16OperandShift(amax: number): number {
  if (!(amax >= FLT_MIN_NORMAL)) return 0;
  return Math.min(Math.max(floorLog2(amax) - 14, -126), 127);
}

/**
 * The MX operand's exponent shift `E` for a tensor amax (see the module comment): 0 for an all-zero
 * tensor, within [-126, 127].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mxOperandShift } from "./f16.ts";
 * // amax 6: scale 2^0 under the floor rule, so the largest E2M1 value 6 lands at 6 · 2^13.
 * assert.equal(mxOperandShift(6, "e2m1", "floor"), -13);
 * ```
 */
export function mxOperandShift(amax: number, element: MxElement, rule: MxScaleRule): number {
  if (amax === 0) return 0;
  const byte = mxScaleByte(amax, ELEMENTS[element], rule);
  return Math.min(Math.max(MX_EMAX[element] + byte - 127 - 15, -126), 127);
}

/** A tensor's f16 operand: one binary16 value per element and the FP32 factor they share. */
export interface F16Operand {
  /** Binary16 bits, row-major like the tensor. */
  readonly bits: Uint16Array;
  /** The FP32 factor: `x̂ = fp32(value · factor)` (nvfp4, fp8, fp16). */
  readonly factor: number;
}

/**
 * The f16 operand of a quantized tensor (see the module comment).
 *
 * @throws {RangeError} for formats without one (fp32, row-scaled nvfp4)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f16FromBits, f16Operand } from "./f16.ts";
 * import { quantize } from "./quantize.ts";
 * const q = quantize(Float32Array.from({ length: 16 }, (_, i) => i / 3), 1, 16, "nvfp4");
 * const op = f16Operand(q);
 * const fake = q.dequantize();
 * assert(op.bits.every((b, i) => Math.fround(f16FromBits(b) * op.factor) === fake[i]));
 * ```
 */
export function f16Operand(q: Quantized): F16Operand {
  const s = q.spec;
  const n = q.rows * q.cols;
  const bits = new Uint16Array(n);
  const codes = q.codes;
  switch (s.kind) {
    case "nvfp4": {
      if (s.rowScaled) break;
      const el = nvfp4ElementFormat(s);
      const nb = q.cols / 16;
      for (let i = 0; i < n; i++) {
        const row = Math.floor(i / q.cols);
        const scale = decodeElement(
          ELEMENTS.e4m3,
          q.scales[row * nb + Math.floor((i % q.cols) / 16)],
        );
        bits[i] = f16Bits(decodeElement(el, codes[i]) * scale);
      }
      return { bits, factor: q.tensorScale };
    }
    case "fp8": {
      const el = ELEMENTS[s.element];
      for (let i = 0; i < n; i++) bits[i] = f16Bits(decodeElement(el, codes[i]));
      return { bits, factor: q.tensorScale };
    }
    case "mx": {
      const el = ELEMENTS[s.element];
      const shift = mxOperandShift(q.amax, s.element, s.scaleRule);
      for (let i = 0; i < n; i++) {
        const scale = q.scales[Math.floor(i / MX_BLOCK)] - 127;
        bits[i] = f16Bits(decodeElement(el, codes[i]) * 2 ** (scale - shift));
      }
      return { bits, factor: 2 ** shift };
    }
    case "float": {
      if (s.element === "fp16") {
        bits.set(codes.subarray(0, n));
        return { bits, factor: 1 };
      }
      if (s.element === "fp32") break;
      const shift = bf16OperandShift(q.amax);
      const values = q.dequantize();
      for (let i = 0; i < n; i++) bits[i] = f16Bits(values[i] * 2 ** -shift);
      return { bits, factor: 2 ** shift };
    }
  }
  throw new RangeError(`format ${JSON.stringify(q.format)} has no f16 operand`);
}
