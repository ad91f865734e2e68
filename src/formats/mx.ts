/**
 * OCP Microscaling formats (NUMERICS.md §8): MXFP4 (E2M1), MXFP8 (E4M3, E5M2) with 1×32 blocks
 * along rows and one E8M0 scale `2^(byte−127)` per block.
 *
 * Scale rules for a block with amax `a` and element maximum `m` (2^emax·(…)):
 * - `floor` (OCP §6.3, default): `floor(log2 a) − emax`, clamped to [−127, 127]; may clip the amax.
 * - `ceil` (the NVFP4 paper's MXFP4, TE `cast_to_e8`): `ceil(log2(fp32(a / m)))`, clamped.
 * - `rceil` (TE MXFP8, cuBLAS, torchao RCEIL): `ceil(log2(fp32(a · fp32(1/m))))`, saturating.
 * A zero block gets byte 0x00. Elements are `x · 2^(127−byte)` (exact), rounded to the element
 * format with saturation; they decode as `elem · 2^(byte−127)`.
 *
 * @module
 */

import { decodeElement, type ElementFormat } from "./elements.ts";
import { div32, f32Bits, mul32 } from "./fp32.ts";
import { amaxOf, type QuantizedParts } from "./parts.ts";
import type { Rounder } from "./rounding.ts";
import type { MxScaleRule } from "./spec.ts";

/** Elements per MX block. */
export const MX_BLOCK = 32;

/** emax of the MX element formats (exponent of their largest normal binade). */
export const MX_EMAX: Readonly<Record<"e2m1" | "e4m3" | "e5m2", number>> = {
  e2m1: 2,
  e4m3: 8,
  e5m2: 15,
};

/**
 * The E8M0 scale byte of a block.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mxScaleByte } from "./mx.ts";
 * import { ELEMENTS } from "./elements.ts";
 * assert(mxScaleByte(3, ELEMENTS.e2m1, "floor") === 0x7e); // NUMERICS.md §9.2
 * assert(mxScaleByte(449, ELEMENTS.e4m3, "rceil") === 0x80);
 * ```
 */
export function mxScaleByte(amax: number, f: ElementFormat, rule: MxScaleRule): number {
  if (amax === 0) return 0;
  if (rule === "floor") {
    const e = ((f32Bits(amax) >>> 23) & 0xff) - 127;
    const emax = MX_EMAX[f.name as keyof typeof MX_EMAX];
    return Math.min(Math.max(e - emax, -127), 127) + 127;
  }
  const v = rule === "ceil" ? div32(amax, f.maxFinite) : mul32(amax, Math.fround(1 / f.maxFinite));
  if (v === 0) return 0;
  const bits = f32Bits(v);
  const e = ((bits >>> 23) & 0xff) - 127 + ((bits & 0x7fffff) !== 0 ? 1 : 0);
  return Math.min(Math.max(e + 127, 0), 254);
}

/**
 * Quantizes a row-major tensor (finite, flushed) whose rows are a multiple of 32 long to an MX
 * format; blocks never straddle rows.
 */
export function quantizeMx(
  x: Float32Array,
  f: ElementFormat,
  rule: MxScaleRule,
  round: Rounder,
): QuantizedParts {
  const nBlocks = x.length / MX_BLOCK;
  const codes = new Uint8Array(x.length);
  const scales = new Uint8Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) {
    const lo = b * MX_BLOCK;
    let bamax = 0;
    for (let i = lo; i < lo + MX_BLOCK; i++) bamax = Math.max(bamax, Math.abs(x[i]));
    const byte = mxScaleByte(bamax, f, rule);
    scales[b] = byte;
    const inv = 2 ** (127 - byte);
    for (let i = lo; i < lo + MX_BLOCK; i++) codes[i] = round(f, mul32(x[i], inv), i);
  }
  return { codes, scales, tensorScale: 1, amax: amaxOf(x) };
}

/** Decodes MX codes: `elem · 2^(byte−127)`. */
export function dequantizeMx(
  codes: Uint8Array,
  scales: Uint8Array,
  f: ElementFormat,
): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    out[i] = mul32(decodeElement(f, codes[i]), 2 ** (scales[Math.floor(i / MX_BLOCK)] - 127));
  }
  return out;
}
