/**
 * WGSL numerics shared by every quantize kernel, generated from the same format tables as the CPU
 * reference in `src/formats/` and matching it bit for bit:
 *
 * - `ftz(x)`: flush FP32 subnormals to a signed zero (the lpbench contract, `src/formats/fp32.ts`);
 * - `div_rn(a, b)`: correctly rounded FP32 division of positive normal numbers by integer long
 *   division, because WGSL allows 2.5 ulp for `/` (subnormal quotients flush, overflow gives +Inf);
 * - `mix32`, `rand_bits`: the counter-based hash of `src/formats/rng.ts`;
 * - `round_bf16(x)`: `x` rounded to BF16 (flushed, round to nearest even, overflow to ±Inf) and
 *   widened back, as `roundBf16` of `src/formats/bf16.ts` (`compute: bf16`);
 * - `enc_<fmt>(sign, a)` / `enc_sr_<fmt>(sign, a, r)`: element encoders on the FP32 bit pattern
 *   (round-to-nearest-even or stochastic), `dec_<fmt>(code)`: decoders. INT4 is rounded as its
 *   sign and magnitude like the float layouts (src/formats/elements.ts) and stored in two's
 *   complement.
 *
 * Only multiplications, comparisons and integer operations appear where exactness matters, so the
 * driver cannot change results by fusing a multiply and an add.
 *
 * @module
 */

import {
  decodeElement,
  type ElementFormat,
  type ElementName,
  ELEMENTS,
} from "../../src/formats/elements.ts";
import { f32Bits } from "../../src/formats/fp32.ts";

const hex = (v: number) => `0x${(v >>> 0).toString(16)}u`;

/** WGSL literal of an FP32 value, written as its exact bit pattern. */
export function f32Literal(v: number): string {
  return `bitcast<f32>(${hex(f32Bits(v))})`;
}

/** One step of restoring division: the next quotient bit. */
const DIV_STEP =
  "  ge = r >= d; r = select(r, r - d, ge) << 1u; q = (q << 1u) | select(0u, 1u, ge);\n";

const CORE = /* wgsl */ `
const FLT_MAX: f32 = 0x1.fffffep+127f;

fn ftz(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  return select(x, bitcast<f32>(b & 0x80000000u), (b & 0x7f800000u) == 0u);
}

fn mul_ftz(a: f32, b: f32) -> f32 { return ftz(a * b); }

// Correctly rounded a / b for positive normal a and b: 24 quotient bits by restoring division,
// unrolled and branch-free, then round-to-nearest-even on the remainder.
fn div_rn(a: f32, b: f32) -> f32 {
  let ab = bitcast<u32>(a);
  let bb = bitcast<u32>(b);
  let d = (bb & 0x7fffffu) | 0x800000u;
  let ra = (ab & 0x7fffffu) | 0x800000u;
  let shift = ra < d;
  var r = select(ra, ra << 1u, shift);
  var e = i32(ab >> 23u) - i32(bb >> 23u) - select(0, 1, shift);
  var q = 0u;
  var ge = false;
${DIV_STEP.repeat(24)}  q = q + select(0u, 1u, (r > d) | ((r == d) & ((q & 1u) == 1u)));
  let carry = q == 0x1000000u;
  q = select(q, 0x800000u, carry);
  let be = e + 127 + select(0, 1, carry);
  let bits = select((u32(max(be, 1)) << 23u) | (q & 0x7fffffu), 0x7f800000u, be >= 255);
  return bitcast<f32>(select(bits, 0u, be <= 0));
}

// BF16 round to nearest even on the bit pattern: adding 0x7fff plus the kept lsb carries into the
// upper half exactly when the dropped half is above (or, with an odd lsb, at) the tie; a carry
// out of the largest finite value gives ±Inf. Flushed inputs never round to a BF16 subnormal.
fn round_bf16(x: f32) -> f32 {
  let b = bitcast<u32>(ftz(x));
  return bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);
}

fn mix32(v: u32) -> u32 {
  var x = v;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  return x ^ (x >> 16u);
}

fn rand_bits(key: u32, index: u32) -> u32 { return mix32(key ^ index); }
`;

function emin(f: ElementFormat): number {
  return 1 - f.bias;
}

/**
 * Encoders take the sign (0 or 1) and the magnitude |y| of an FP32 value, already flushed. They
 * are branch-free (every case computed, then `select`ed) so the compiler can interleave the
 * unrolled elements of a block. Shift amounts stay below 32 (WGSL takes them modulo 32).
 */
function encoder(f: ElementFormat, stochastic: boolean): string {
  const m = f.manBits;
  const sat = f.bits <= 8;
  const maxBits = f32Bits(f.maxFinite);
  // IEEE formats (fp16, bf16) overflow to Inf from max + half an ulp up (max's code is odd, so the
  // tie goes up too); FP4/FP8 saturate.
  const halfUlp = (f.maxFinite - decodeElement(f, f.maxCode - 1)) / 2;
  const overflow = sat
    ? hex(f.maxCode)
    : `select(${hex(f.maxCode)}, ${hex(f.overflowCode!)}, ab >= ${
      hex(f32Bits(f.maxFinite + halfUlp))
    })`;
  const name = stochastic ? `enc_sr_${f.name}` : `enc_${f.name}`;
  const rParam = stochastic ? ", r: u32" : "";
  // sh: the right shift that leaves the target's mantissa bits (plus the implicit one) in q.
  const round = stochastic
    ? `let sh = min(${23 - m}u + u32(max(${emin(f)} - e, 0)), 63u);
  let s31 = min(sh, 31u);
  let q = mant >> s31;
  let frac_lo = (mant & ((1u << s31) - 1u)) << (32u - s31);
  let frac_hi = select(mant >> min(sh - 32u, 31u), 0u, sh >= 56u);
  let frac = select(frac_hi, frac_lo, sh < 32u);
  let rq = q + select(0u, 1u, r < frac);`
    : `let sh = min(${23 - m}u + u32(max(${emin(f)} - e, 0)), 25u);
  let q = mant >> sh;
  let rem = mant & ((1u << sh) - 1u);
  let half = 1u << (sh - 1u);
  let rq = q + select(0u, 1u, (rem > half) | ((rem == half) & ((q & 1u) == 1u)));`;
  return /* wgsl */ `
fn ${name}(sign: u32, a: f32${rParam}) -> u32 {
  let ab = bitcast<u32>(a);
  let e = i32(ab >> 23u) - 127;
  let mant = (ab & 0x7fffffu) | 0x800000u;
  ${round}
  let normal = (u32(e - (${emin(f) - 1})) << ${m}u) + rq - ${hex(1 << m)};
  var mag = select(normal, rq, e < ${emin(f)});
  mag = select(mag, 0u, ab == 0u);
  mag = select(mag, ${overflow}, ab >= ${hex(maxBits)});
  return ${store(f)};
}
`;
}

/** The stored code of `sign` and `mag`: sign and magnitude, or two's complement (INT4; −0 is 0). */
function store(f: ElementFormat): string {
  const signShift = f.expBits + f.manBits;
  if (!f.twosComplement) return `(sign << ${signShift}u) | mag`;
  return `select(mag, (${hex(2 << signShift)} - mag) & ${hex((2 << signShift) - 1)}, sign == 1u)`;
}

/** Decoder of codes to FP32 (exact: every element value is a normal FP32 number or 0). */
function decoder(f: ElementFormat): string {
  const m = f.manBits;
  const signShift = f.expBits + m;
  if (f.twosComplement) {
    // Sign-extend the code from its top bit.
    const up = 31 - signShift;
    return /* wgsl */ `
fn dec_${f.name}(code: u32) -> f32 {
  return f32(bitcast<i32>(code << ${up}u) >> ${up}u);
}
`;
  }
  const magMask = (1 << signShift) - 1;
  // BF16 subnormals lie below 2^-126 and are flushed; the other formats' subnormals are FP32
  // normals, exact as man · 2^(1−bias−m).
  const sub = f.bias === 127
    ? "0u"
    : `bitcast<u32>(f32(man) * ${f32Literal(2 ** (1 - f.bias - m))})`;
  const inf = f.overflowCode !== undefined && f.name !== "e4m3"
    ? `\n  bits = select(bits, 0x7f800000u, ef == ${hex((1 << f.expBits) - 1)});`
    : "";
  return /* wgsl */ `
fn dec_${f.name}(code: u32) -> f32 {
  let mag = code & ${hex(magMask)};
  let ef = mag >> ${m}u;
  let man = mag & ${hex((1 << m) - 1)};
  var bits = select(((ef + ${127 - f.bias}u) << 23u) | (man << ${23 - m}u), ${sub}, ef == 0u);${inf}
  return bitcast<f32>(((code >> ${signShift}u) << 31u) | bits);
}
`;
}

/**
 * The WGSL numerics library: core helpers plus encoders (RNE and stochastic) and decoders for the
 * given element formats.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wgslNumerics } from "./numerics.ts";
 * assert(wgslNumerics(["e2m1"]).includes("fn enc_e2m1("));
 * ```
 */
export function wgslNumerics(elements: readonly ElementName[]): string {
  const parts = [CORE];
  for (const name of new Set(elements)) {
    const f = ELEMENTS[name];
    parts.push(encoder(f, false), encoder(f, true), decoder(f));
  }
  return parts.join("");
}
