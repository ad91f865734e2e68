/**
 * The scale chain of NVFP4 (NUMERICS.md §2.2): the tensor scales of an amax, a block's E4M3 scale
 * and the element multiplier of a scale, shared by plain NVFP4 (`./nvfp4.ts`) and Four Over Six
 * (`./four_over_six.ts`).
 *
 * The uniform 4-bit grids (INT4, E1M2; `./spec.ts` Nvfp4Element) use the same chain with their
 * largest value `emax` (7, 1.75) in place of E2M1's 6: `S_enc = fp32(emax · 448 / amax)` (3136 and
 * 784, exact like 2688) and `mult = fp32(S_enc · fp32(1/emax))`, so a block's amax maps to its
 * grid's largest value times an E4M3 scale, as TE maps it to 6 (the brief of issue 14 item 5 and
 * the NVINT4 of arXiv 2510.25602, which scales INT4 blocks by amax/7 in E4M3).
 *
 * @module
 */

import { decodeElement, ELEMENTS, encodeElement } from "./elements.ts";
import { div32, FLT_MAX, mul32 } from "./fp32.ts";

const E4M3 = ELEMENTS.e4m3;

/** fp32(1/6), the FP4 reciprocal TE folds into the global scale. */
export const RECIP_6 = Math.fround(1 / 6);

/** The tensor-level scales of NVFP4. */
export interface Nvfp4TensorScales {
  /** Global encode scale S_enc. */
  readonly sEnc: number;
  /** Global decode scale S_dec = fp32(1/S_enc), stored with the tensor. */
  readonly sDec: number;
  /** fp32(S_enc · fp32(1/emax)), which turns a block amax into its FP32 block scale. */
  readonly mult: number;
}

/**
 * The tensor scales for a tensor (or, row-scaled, a row) amax; `bound` is the E4M3 bound of
 * `S_enc = fp32(emax · bound / amax)`: 448, or 256 under Four Over Six; `emax` the element grid's
 * largest value: 6 (E2M1), 7 (INT4) or 1.75 (E1M2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4TensorScales } from "./nvfp4_scales.ts";
 * assert(nvfp4TensorScales(2688).sEnc === 1);
 * assert(nvfp4TensorScales(1536, 256).sEnc === 1);
 * assert(nvfp4TensorScales(3136, 448, 7).sEnc === 1);
 * ```
 */
export function nvfp4TensorScales(
  amax: number,
  bound: 256 | 448 = 448,
  emax = 6,
): Nvfp4TensorScales {
  let sEnc = Math.fround((emax * bound) / amax);
  if (sEnc > FLT_MAX) sEnc = FLT_MAX;
  if (amax === 0 || sEnc === 0) sEnc = 1;
  return { sEnc, sDec: div32(1, sEnc), mult: mul32(sEnc, Math.fround(1 / emax)) };
}

/**
 * The E4M3 scale code of a block with amax `blockAmax`, and its element multiplier enc_b.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4BlockScale, nvfp4TensorScales } from "./nvfp4_scales.ts";
 * const { code } = nvfp4BlockScale(Math.fround(1.6), nvfp4TensorScales(10));
 * assert(code === 0x69); // NUMERICS.md §9.2 block B
 * ```
 */
export function nvfp4BlockScale(
  blockAmax: number,
  t: Nvfp4TensorScales,
): { code: number; encB: number } {
  const sdb = Math.min(mul32(blockAmax, t.mult), FLT_MAX);
  const code = encodeElement(E4M3, sdb, true);
  return { code, encB: nvfp4EncodeMultiplier(code, t.sDec) };
}

/**
 * The element multiplier of E4M3 scale `code`: `enc_b = min(fp32(1 / fp32(scale · S_dec)),
 * FLT_MAX)` (FLT_MAX for a zero scale).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4EncodeMultiplier } from "./nvfp4_scales.ts";
 * assert.equal(nvfp4EncodeMultiplier(0x38, 1), 1); // scale 1.0
 * assert.equal(nvfp4EncodeMultiplier(0, 1), 3.4028234663852886e38);
 * ```
 */
export function nvfp4EncodeMultiplier(code: number, sDec: number): number {
  return Math.min(div32(1, mul32(decodeElement(E4M3, code), sDec)), FLT_MAX);
}
