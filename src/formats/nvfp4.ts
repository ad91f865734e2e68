/**
 * NVFP4 (NUMERICS.md §2.2, §2.4): E2M1 elements in 1×16 blocks (or 16×16 tiles for weights), an
 * E4M3 scale per block and an FP32 tensor scale, following TransformerEngine's scale chain exactly:
 *
 * ```
 * S_enc = fp32(2688 / amax)  (→ FLT_MAX if it overflows; 1 if amax = 0)
 * S_dec = fp32(1 / S_enc)
 * mult  = fp32(S_enc · fp32(1/6))
 * scale = e4m3_rne_sat(min(fp32(block_amax · mult), FLT_MAX))
 * enc_b = min(fp32(1 / fp32(scale · S_dec)), FLT_MAX)
 * q_i   = e2m1(clamp(fp32(x_i · enc_b), −6, 6))      (RNE, or stochastic for gradients)
 * x̂_i  = fp32(fp32(e2m1(q_i) · scale) · S_dec)
 * ```
 *
 * @module
 */

import { decodeElement, ELEMENTS, encodeElement } from "./elements.ts";
import { div32, FLT_MAX, mul32 } from "./fp32.ts";
import { amaxOf, type QuantizedParts } from "./parts.ts";
import type { Rounder } from "./rounding.ts";

const E2M1 = ELEMENTS.e2m1;
const E4M3 = ELEMENTS.e4m3;

/** fp32(1/6), the FP4 reciprocal TE folds into the global scale. */
export const RECIP_6 = Math.fround(1 / 6);

/** The tensor-level scales of NVFP4. */
export interface Nvfp4TensorScales {
  /** Global encode scale S_enc. */
  readonly sEnc: number;
  /** Global decode scale S_dec = fp32(1/S_enc), stored with the tensor. */
  readonly sDec: number;
  /** fp32(S_enc · fp32(1/6)), which turns a block amax into its FP32 block scale. */
  readonly mult: number;
}

/**
 * The tensor scales for a tensor amax.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4TensorScales } from "./nvfp4.ts";
 * assert(nvfp4TensorScales(2688).sEnc === 1);
 * ```
 */
export function nvfp4TensorScales(amax: number): Nvfp4TensorScales {
  let sEnc = Math.fround(2688 / amax);
  if (sEnc > FLT_MAX) sEnc = FLT_MAX;
  if (amax === 0 || sEnc === 0) sEnc = 1;
  return { sEnc, sDec: div32(1, sEnc), mult: mul32(sEnc, RECIP_6) };
}

/**
 * The E4M3 scale code of a block with amax `blockAmax`, and its element multiplier enc_b.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4BlockScale, nvfp4TensorScales } from "./nvfp4.ts";
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
  const encB = Math.min(div32(1, mul32(decodeElement(E4M3, code), t.sDec)), FLT_MAX);
  return { code, encB };
}

/**
 * Quantizes a row-major `[rows, cols]` tensor (finite, subnormals flushed) to NVFP4.
 * Scales are row-major `[rows, cols/16]`; with 16×16 tiles each tile's scale repeats on its rows.
 */
export function quantizeNvfp4(
  x: Float32Array,
  rows: number,
  cols: number,
  tile2d: boolean,
  round: Rounder,
): QuantizedParts {
  const amax = amaxOf(x);
  const t = nvfp4TensorScales(amax);
  const nb = cols / 16;
  const codes = new Uint8Array(rows * cols);
  const scales = new Uint8Array(rows * nb);
  const tileRows = tile2d ? 16 : 1;
  for (let r0 = 0; r0 < rows; r0 += tileRows) {
    for (let b = 0; b < nb; b++) {
      let bamax = 0;
      for (let r = r0; r < r0 + tileRows; r++) {
        for (let c = b * 16; c < b * 16 + 16; c++) {
          bamax = Math.max(bamax, Math.abs(x[r * cols + c]));
        }
      }
      const { code, encB } = nvfp4BlockScale(bamax, t);
      for (let r = r0; r < r0 + tileRows; r++) {
        scales[r * nb + b] = code;
        for (let c = b * 16; c < b * 16 + 16; c++) {
          const i = r * cols + c;
          const y = Math.min(Math.max(mul32(x[i], encB), -6), 6);
          codes[i] = round(E2M1, y, i);
        }
      }
    }
  }
  return { codes, scales, tensorScale: t.sDec, amax };
}

/** Decodes NVFP4 codes: `fp32(fp32(e2m1 · scale) · S_dec)`. */
export function dequantizeNvfp4(
  codes: Uint8Array,
  scales: Uint8Array,
  sDec: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(codes.length);
  const nb = cols / 16;
  for (let i = 0; i < codes.length; i++) {
    const r = Math.floor(i / cols);
    const s = decodeElement(E4M3, scales[r * nb + Math.floor((i % cols) / 16)]);
    out[i] = mul32(mul32(decodeElement(E2M1, codes[i]), s), sDec);
  }
  return out;
}
