/**
 * WGSL numerics shared by every quantize kernel, generated from the same format tables as the CPU
 * reference in `src/formats/` and matching it bit for bit:
 *
 * - `ftz(x)`: flush FP32 subnormals to a signed zero (the lpbench contract, `src/formats/fp32.ts`);
 * - `div_rn(a, b)`: correctly rounded FP32 division of positive normal numbers by integer long
 *   division, because WGSL allows 2.5 ulp for `/` (subnormal quotients flush, overflow gives +Inf);
 * - `mix32`, `rand_bits`: the counter-based hash of `src/formats/rng.ts`;
 * - `enc_<fmt>(sign, a)` / `enc_sr_<fmt>(sign, a, r)`: element encoders on the FP32 bit pattern
 *   (round-to-nearest-even or stochastic), `dec_<fmt>(code)`: decoders.
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

const CORE = /* wgsl */ `
const FLT_MAX: f32 = 0x1.fffffep+127f;

fn ftz(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7f800000u) == 0u) { return bitcast<f32>(b & 0x80000000u); }
  return x;
}

fn mul_ftz(a: f32, b: f32) -> f32 { return ftz(a * b); }

// Correctly rounded a / b for positive normal a and b.
fn div_rn(a: f32, b: f32) -> f32 {
  let ab = bitcast<u32>(a);
  let bb = bitcast<u32>(b);
  var e = i32(ab >> 23u) - i32(bb >> 23u);
  var r = (ab & 0x7fffffu) | 0x800000u;
  let d = (bb & 0x7fffffu) | 0x800000u;
  if (r < d) { r = r << 1u; e = e - 1; }
  var q = 0u;
  for (var i = 0u; i < 24u; i = i + 1u) {
    q = q << 1u;
    if (r >= d) { r = r - d; q = q | 1u; }
    r = r << 1u;
  }
  if (r > d || (r == d && (q & 1u) == 1u)) { q = q + 1u; }
  if (q == 0x1000000u) { q = 0x800000u; e = e + 1; }
  let be = e + 127;
  if (be >= 255) { return bitcast<f32>(0x7f800000u); }
  if (be <= 0) { return 0.0; }
  return bitcast<f32>((u32(be) << 23u) | (q & 0x7fffffu));
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

/** Encoders take the sign (0 or 1) and the magnitude |y| of an FP32 value, already flushed. */
function encoder(f: ElementFormat, stochastic: boolean): string {
  const m = f.manBits;
  const sat = f.bits <= 8;
  const maxBits = f32Bits(f.maxFinite);
  // IEEE formats (fp16, bf16) overflow to Inf from max + half an ulp up (max's code is odd, so the
  // tie goes up too); FP4/FP8 saturate.
  const halfUlp = (f.maxFinite - decodeElement(f, f.maxCode - 1)) / 2;
  const overflow = sat
    ? `return s | ${hex(f.maxCode)};`
    : `if (ab >= ${hex(f32Bits(f.maxFinite + halfUlp))}) { return s | ${
      hex(f.overflowCode!)
    }; }\n    return s | ${hex(f.maxCode)};`;
  const name = stochastic ? `enc_sr_${f.name}` : `enc_${f.name}`;
  const rParam = stochastic ? ", r: u32" : "";
  const round = stochastic
    ? `var q = 0u;
  var frac = 0u;
  if (sh < 24u) {
    q = mant >> sh;
    frac = (mant & ((1u << sh) - 1u)) << (32u - sh);
  } else if (sh < 32u) {
    frac = mant << (32u - sh);
  } else if (sh < 56u) {
    frac = mant >> (sh - 32u);
  }
  if (r < frac) { q = q + 1u; }`
    : `if (sh > 24u) { return s; }
  var q = mant >> sh;
  let rem = mant & ((1u << sh) - 1u);
  let half = 1u << (sh - 1u);
  if (rem > half || (rem == half && (q & 1u) == 1u)) { q = q + 1u; }`;
  return /* wgsl */ `
fn ${name}(sign: u32, a: f32${rParam}) -> u32 {
  let s = sign << ${f.expBits + m}u;
  let ab = bitcast<u32>(a);
  if (ab >= ${hex(maxBits)}) {
    ${overflow}
  }
  if (ab == 0u) { return s; }
  let e = i32(ab >> 23u) - 127;
  let mant = (ab & 0x7fffffu) | 0x800000u;
  var sh = ${23 - m}u;
  if (e < ${emin(f)}) { sh = sh + u32(${emin(f)} - e); }
  ${round}
  if (e < ${emin(f)}) { return s | q; }
  return s | ((u32(e - (${emin(f) - 1})) << ${m}u) + q - ${hex(1 << m)});
}
`;
}

/** Decoder of finite codes to FP32 (exact: every element value is a normal FP32 number or 0). */
function decoder(f: ElementFormat): string {
  const m = f.manBits;
  const signShift = f.expBits + m;
  const magMask = (1 << signShift) - 1;
  // BF16 subnormals lie below 2^-126 and are flushed; the other formats' subnormals are FP32
  // normals, exact as man · 2^(1−bias−m).
  const subnormal = f.bias === 127
    ? `if (ef == 0u) { return bitcast<f32>(sign); }`
    : `if (ef == 0u) {
    return bitcast<f32>(sign | bitcast<u32>(f32(man) * ${f32Literal(2 ** (1 - f.bias - m))}));
  }`;
  return /* wgsl */ `
fn dec_${f.name}(code: u32) -> f32 {
  let sign = (code >> ${signShift}u) << 31u;
  let mag = code & ${hex(magMask)};
  let ef = mag >> ${m}u;
  let man = mag & ${hex((1 << m) - 1)};${
    f.overflowCode !== undefined && f.name !== "e4m3"
      ? `
  if (ef == ${hex((1 << f.expBits) - 1)}) { return bitcast<f32>(sign | 0x7f800000u); }`
      : ""
  }
  ${subnormal}
  return bitcast<f32>(sign | ((ef + ${127 - f.bias}u) << 23u) | (man << ${23 - m}u));
}
`;
}

/**
 * The WGSL numerics library: core helpers plus encoders (RNE and stochastic) and decoders for the
 * given element formats.
 *
 * @example
 * ```ts
 * import { wgslNumerics } from "./numerics.ts";
 * console.assert(wgslNumerics(["e2m1"]).includes("fn enc_e2m1("));
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
