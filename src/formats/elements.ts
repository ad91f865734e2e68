/**
 * Element codecs: E2M1 (FP4), the uniform 4-bit grids INT4 and E1M2, E4M3 and E5M2 (FP8), FP16
 * and BF16.
 *
 * Encoding with round-to-nearest-even is done by searching the table of every finite value of the
 * format (ties go to the even code), the plainest definition there is; it serves as the oracle for
 * the bit-manipulating WGSL encoder. Stochastic rounding is defined here on the FP32 bit pattern
 * (see {@link encodeStochastic}); the WGSL kernels run the same integer algorithm.
 *
 * The uniform grids (UFP4, arXiv 2606.20381: "uniform grids (E1M2/INT4)"; the paper's text beyond
 * its abstract could not be read, so their layouts are defined here from first principles):
 *
 * - E1M2: 1 sign, 1 exponent bit with bias 1 (so the one normal binade is [1, 2)), 2 mantissa bits,
 *   no Inf/NaN: magnitudes 0, 0.25, 0.5, 0.75 (subnormals) and 1, 1.25, 1.5, 1.75, a grid of step
 *   0.25 up to 1.75. Sign-magnitude codes like E2M1 (0x8 is −0).
 * - INT4: the integers −7…7 in two's complement nibbles (0x9 = −7 … 0xF = −1). The symmetric range
 *   follows the NVINT4 of "INT v.s. FP" (arXiv 2510.25602), whose symmetric clipping removes the
 *   bias an unused −8 brings; the code 0x8 (−8) decodes but no quantizer writes it. Its magnitudes
 *   are those of a 1-exponent-bit, 2-mantissa-bit layout with bias −1 (0…3 subnormal, 4…7 the normal
 *   binade), so the float machinery here rounds it; only its sign is stored differently.
 *
 * Both grids are 0…7 steps of one size, so RNE ties go to the even step, and E1M2 is INT4 scaled by
 * 1/4 exactly.
 *
 * Saturation (NUMERICS.md §1): E2M1 has no Inf/NaN and always saturates to ±6 (INT4 to ±7, E1M2 to
 * ±1.75). E4M3 and E5M2 saturate
 * in every quantizer (TE's `satfinite` casts); without saturation E4M3 overflows to NaN (0x7F) and
 * E5M2, FP16 and BF16 overflow to ±Inf, as IEEE RNE does.
 *
 * @module
 */

import { f32Bits, signBit } from "./fp32.ts";

/** Names of the element formats. */
export type ElementName = "e2m1" | "int4" | "e1m2" | "e4m3" | "e5m2" | "fp16" | "bf16";

/** Bit layout and range of an element format. */
export interface ElementFormat {
  /** The format's name. */
  readonly name: ElementName;
  /** Exponent bits. */
  readonly expBits: number;
  /** Explicit mantissa bits. */
  readonly manBits: number;
  /** Exponent bias. */
  readonly bias: number;
  /** Code of the largest finite positive value. */
  readonly maxCode: number;
  /** Largest finite value. */
  readonly maxFinite: number;
  /** The sign bit of a code. */
  readonly signMask: number;
  /** Code of +Inf, or of NaN where the format has no Inf (E4M3); undefined for 4-bit formats. */
  readonly overflowCode: number | undefined;
  /** Bits per code. */
  readonly bits: 4 | 8 | 16;
  /** Negative values are stored in two's complement (INT4) rather than as sign and magnitude. */
  readonly twosComplement: boolean;
}

function layout(
  name: ElementName,
  expBits: number,
  manBits: number,
  bias: number,
  maxCode: number,
  overflowCode: number | undefined,
  twosComplement = false,
): ElementFormat {
  const bits = (1 + expBits + manBits) as 4 | 8 | 16;
  const f: ElementFormat = {
    name,
    expBits,
    manBits,
    bias,
    maxCode,
    maxFinite: 0,
    signMask: 1 << (expBits + manBits),
    overflowCode,
    bits,
    twosComplement,
  };
  return { ...f, maxFinite: decodeMagnitude(f, maxCode) };
}

/** The element formats by name. */
export const ELEMENTS: Readonly<Record<ElementName, ElementFormat>> = {
  e2m1: layout("e2m1", 2, 1, 1, 0x7, undefined),
  int4: layout("int4", 1, 2, -1, 0x7, undefined, true),
  e1m2: layout("e1m2", 1, 2, 1, 0x7, undefined),
  e4m3: layout("e4m3", 4, 3, 7, 0x7e, 0x7f),
  e5m2: layout("e5m2", 5, 2, 15, 0x7b, 0x7c),
  fp16: layout("fp16", 5, 10, 15, 0x7bff, 0x7c00),
  bf16: layout("bf16", 8, 7, 127, 0x7f7f, 0x7f80),
};

function decodeMagnitude(f: ElementFormat, code: number): number {
  const man = code & ((1 << f.manBits) - 1);
  const exp = (code >> f.manBits) & ((1 << f.expBits) - 1);
  if (exp === 0) return man * 2 ** (1 - f.bias - f.manBits);
  return (1 + man / 2 ** f.manBits) * 2 ** (exp - f.bias);
}

/**
 * The value of an element code. NaN and Inf codes decode to NaN and ±Infinity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeElement, ELEMENTS } from "./elements.ts";
 * assert(decodeElement(ELEMENTS.e2m1, 0xf) === -6);
 * assert(decodeElement(ELEMENTS.e4m3, 0x38) === 1);
 * assert(decodeElement(ELEMENTS.int4, 0x9) === -7); // two's complement
 * assert(decodeElement(ELEMENTS.e1m2, 0xf) === -1.75);
 * ```
 */
export function decodeElement(f: ElementFormat, code: number): number {
  if (f.twosComplement) return (code & f.signMask) !== 0 ? code - 2 * f.signMask : code;
  const negative = (code & f.signMask) !== 0;
  const mag = code & (f.signMask - 1);
  let v: number;
  if (f.overflowCode !== undefined && mag >= f.overflowCode) {
    v = f.name === "e4m3" || mag > f.overflowCode ? NaN : Infinity;
  } else {
    v = decodeMagnitude(f, mag);
  }
  return negative ? -v : v;
}

const tables = new Map<ElementName, Float64Array>();

/** Every finite non-negative value of the format, indexed by code. */
function valueTable(f: ElementFormat): Float64Array {
  let t = tables.get(f.name);
  if (!t) {
    t = new Float64Array(f.maxCode + 1);
    for (let c = 0; c <= f.maxCode; c++) t[c] = decodeMagnitude(f, c);
    tables.set(f.name, t);
  }
  return t;
}

/**
 * Encodes an FP32 value with round-to-nearest-even.
 *
 * @param f the element format
 * @param x an FP32 value (not NaN)
 * @param saturate clamp to ±max instead of overflowing; always true for E2M1
 * @returns the code; its sign bit follows the sign of `x`, so −0 encodes as the negative zero code
 *   (INT4, in two's complement, has no −0: it encodes as 0)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeElement, ELEMENTS } from "./elements.ts";
 * assert(encodeElement(ELEMENTS.e2m1, 2.5) === 0x4); // tie → even code (2.0)
 * assert(encodeElement(ELEMENTS.e4m3, 272) === 0x78); // tie → 256
 * assert(encodeElement(ELEMENTS.e4m3, 1e9) === 0x7e); // saturates at 448
 * assert(encodeElement(ELEMENTS.int4, -2.5) === 0xe); // tie → −2, two's complement
 * assert(encodeElement(ELEMENTS.e1m2, 0.375) === 0x2); // tie → 0.5 (code 2 is even)
 * ```
 */
export function encodeElement(f: ElementFormat, x: number, saturate = true): number {
  return stored(f, encodeSignMagnitude(f, x, saturate));
}

/**
 * A sign-and-magnitude code as `f` stores it: as it is, or in two's complement (where −0 is 0).
 */
function stored(f: ElementFormat, code: number): number {
  if (!f.twosComplement || (code & f.signMask) === 0) return code;
  return (2 * f.signMask - (code & (f.signMask - 1))) & (2 * f.signMask - 1);
}

function encodeSignMagnitude(f: ElementFormat, x: number, saturate: boolean): number {
  const sign = signBit(x) ? f.signMask : 0;
  const a = Math.abs(x);
  const t = valueTable(f);
  const max = t[f.maxCode];
  if (a >= max) {
    if (saturate || f.overflowCode === undefined) return sign | f.maxCode;
    const halfUlp = (max - t[f.maxCode - 1]) / 2;
    const tieToMax = a === max + halfUlp && (f.maxCode & 1) === 0;
    return sign | (a < max + halfUlp || tieToMax ? f.maxCode : f.overflowCode);
  }
  // Largest code whose value is <= a.
  let lo = 0;
  let hi = f.maxCode;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t[mid] <= a) lo = mid;
    else hi = mid;
  }
  if (t[hi] <= a) lo = hi;
  if (t[lo] === a) return sign | lo;
  const up = lo + 1;
  const dLo = a - t[lo];
  const dUp = t[up] - a;
  const code = dLo < dUp ? lo : dUp < dLo ? up : (lo & 1) === 0 ? lo : up;
  return sign | code;
}

/**
 * Encodes an FP32 value with stochastic rounding: |x| goes to the upper of its two neighbouring
 * grid values with probability `floor(frac · 2^32) / 2^32`, where `frac` is the exact fraction of
 * the way from the lower neighbour, and to the lower one otherwise; grid values stay exact. The
 * decision is `r < floor(frac · 2^32)` on the FP32 bits, so it is exact integer arithmetic and
 * identical in WGSL. Beyond the largest finite value the rules of {@link encodeElement} apply.
 *
 * @param f the element format
 * @param x an FP32 value, not NaN, subnormals already flushed
 * @param r 32 random bits (an unsigned integer)
 * @param saturate as for {@link encodeElement}
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeStochastic, ELEMENTS } from "./elements.ts";
 * // 0.3 lies 60% of the way from 0 to 0.5: rounds up when r < 0.6·2^32.
 * assert(encodeStochastic(ELEMENTS.e2m1, Math.fround(0.3), 0) === 0x1);
 * assert(encodeStochastic(ELEMENTS.e2m1, Math.fround(0.3), 0xffffffff) === 0x0);
 * ```
 */
export function encodeStochastic(f: ElementFormat, x: number, r: number, saturate = true): number {
  const a = Math.abs(x);
  if (a >= f.maxFinite) return encodeElement(f, x, saturate);
  return stored(f, stochasticSignMagnitude(f, x, a, r));
}

function stochasticSignMagnitude(f: ElementFormat, x: number, a: number, r: number): number {
  const sign = signBit(x) ? f.signMask : 0;
  if (a === 0) return sign;
  const bits = f32Bits(a);
  const e = (bits >>> 23) - 127;
  const mant = (bits & 0x7fffff) | 0x800000;
  const emin = 1 - f.bias;
  const shift = 23 - f.manBits + (e < emin ? emin - e : 0);
  let q: number;
  let frac32: number;
  if (shift < 24) {
    q = mant >>> shift;
    frac32 = (mant & ((1 << shift) - 1)) * 2 ** (32 - shift);
  } else {
    q = 0;
    frac32 = Math.floor(mant * 2 ** (32 - shift));
  }
  if ((r >>> 0) < frac32) q += 1;
  // Rounding up from below maxFinite lands at most on maxFinite, so no overflow check is needed.
  return sign | (e < emin ? q : ((e - emin + 1) << f.manBits) + q - (1 << f.manBits));
}

/**
 * The magnitude from which rounding to `f` would go past its largest finite value: the largest
 * value plus half the gap below it (for E2M1 7, INT4 7.5, E1M2 1.875, E4M3 464). A value at or
 * above it is clipped by saturation (4-bit formats, FP8) or becomes infinite (binary16, bfloat16)
 * rather than merely rounded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clipThreshold, ELEMENTS } from "./elements.ts";
 * assert.equal(clipThreshold(ELEMENTS.e2m1), 7);
 * assert.equal(clipThreshold(ELEMENTS.e4m3), 464);
 * ```
 */
export function clipThreshold(f: ElementFormat): number {
  return f.maxFinite + (f.maxFinite - decodeMagnitude(f, f.maxCode - 1)) / 2;
}
