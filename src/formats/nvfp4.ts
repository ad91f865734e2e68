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
 * A uniform element grid (`element`: INT4 or E1M2, `./spec.ts` Nvfp4Element) takes the place of
 * E2M1, and its largest value `emax` (7 or 1.75) the place of 6: `S_enc = fp32(emax · 448 / amax)`,
 * `mult = fp32(S_enc · fp32(1/emax))`, elements clamped to ±emax (`./nvfp4_scales.ts`).
 *
 * Two options of TransformerEngine's NVFP4 recipe change this chain (`ResolvedNvfp4`):
 * `fourOverSix` picks each block's scale from two candidates (`./four_over_six.ts`) and puts the
 * bound 256 or 448 in place of 448 in `S_enc = 6 · 448 / amax`; `rowScaled` takes `amax`, and so
 * `S_enc` and `S_dec`, per row (TE `reference_nvfp4.py`, `row_scaled_nvfp4`: the global amax is
 * `max(|x|, dim=1)`, and the same guarded division gives one encode scale per row).
 *
 * @module
 */

import { decodeElement, type ElementFormat, ELEMENTS } from "./elements.ts";
import { mul32 } from "./fp32.ts";
import { fourOverSixBlock } from "./four_over_six.ts";
import { nvfp4BlockScale, nvfp4TensorScales } from "./nvfp4_scales.ts";
import { amaxOf, type QuantizedParts } from "./parts.ts";
import type { Rounder } from "./rounding.ts";
import type { ResolvedNvfp4 } from "./spec.ts";

/**
 * The element codec of an NVFP4-style format: E2M1, or its uniform grid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4ElementFormat } from "./nvfp4.ts";
 * assert.equal(nvfp4ElementFormat({ kind: "nvfp4", tile: "1x16" }).maxFinite, 6);
 * assert.equal(nvfp4ElementFormat({ kind: "nvfp4", element: "int4", tile: "1x16" }).maxFinite, 7);
 * ```
 */
export function nvfp4ElementFormat(spec: ResolvedNvfp4): ElementFormat {
  return ELEMENTS[spec.element ?? "e2m1"];
}

export {
  nvfp4BlockScale,
  nvfp4EncodeMultiplier,
  type Nvfp4TensorScales,
  nvfp4TensorScales,
  RECIP_6,
} from "./nvfp4_scales.ts";

const E4M3 = ELEMENTS.e4m3;

/** Largest |x| of each row of a row-major tensor. */
function rowAmaxes(x: Float32Array, rows: number, cols: number): Float32Array {
  return Float32Array.from(
    { length: rows },
    (_, r) => amaxOf(x.subarray(r * cols, (r + 1) * cols)),
  );
}

/**
 * Quantizes a row-major `[rows, cols]` tensor (finite, subnormals flushed) to NVFP4 (or its uniform
 * grid) with round `round` (round to nearest even under Four Over Six, whose candidates are RNE).
 * Scales are row-major `[rows, cols/16]`; with 16×16 tiles each tile's scale repeats on its rows.
 * Row-scaled, `rowScales` holds each row's S_dec and `tensorScale` is 1.
 */
export function quantizeNvfp4(
  x: Float32Array,
  rows: number,
  cols: number,
  spec: ResolvedNvfp4,
  round: Rounder,
): QuantizedParts {
  const amax = amaxOf(x);
  const bound = spec.fourOverSix?.scaleBound ?? 448;
  const elem = nvfp4ElementFormat(spec);
  const emax = elem.maxFinite;
  const rowAmax = spec.rowScaled ? rowAmaxes(x, rows, cols) : undefined;
  const tensor = nvfp4TensorScales(amax, bound, emax);
  const perRow = rowAmax && Array.from(rowAmax, (a) => nvfp4TensorScales(a, bound, emax));
  const nb = cols / 16;
  const codes = new Uint8Array(rows * cols);
  const scales = new Uint8Array(rows * nb);
  const tileRows = spec.tile === "16x16" ? 16 : 1;
  for (let r0 = 0; r0 < rows; r0 += tileRows) {
    const t = perRow?.[r0] ?? tensor;
    for (let b = 0; b < nb; b++) {
      let bamax = 0;
      for (let r = r0; r < r0 + tileRows; r++) {
        for (let c = b * 16; c < b * 16 + 16; c++) {
          bamax = Math.max(bamax, Math.abs(x[r * cols + c]));
        }
      }
      const tile = { x, cols, row: r0, rows: tileRows, block: b };
      const { code, encB } = spec.fourOverSix
        ? fourOverSixBlock(tile, bamax, t, rowAmax?.[r0] ?? amax, spec.fourOverSix)
        : nvfp4BlockScale(bamax, t);
      for (let r = r0; r < r0 + tileRows; r++) {
        scales[r * nb + b] = code;
        for (let c = b * 16; c < b * 16 + 16; c++) {
          const i = r * cols + c;
          const y = Math.min(Math.max(mul32(x[i], encB), -emax), emax);
          codes[i] = round(elem, y, i);
        }
      }
    }
  }
  const rowScales = perRow && Float32Array.from(perRow, (s) => s.sDec);
  return rowScales
    ? { codes, scales, tensorScale: 1, amax, rowScales }
    : { codes, scales, tensorScale: tensor.sDec, amax };
}

/**
 * Decodes NVFP4 codes of element `elem` (E2M1 or a uniform grid): `fp32(fp32(elem · scale) ·
 * S_dec)`, with one S_dec for the tensor or, for row-scaled NVFP4, one per row.
 */
export function dequantizeNvfp4(
  codes: Uint8Array,
  scales: Uint8Array,
  sDec: number | Float32Array,
  cols: number,
  elem: ElementFormat = ELEMENTS.e2m1,
): Float32Array {
  const out = new Float32Array(codes.length);
  const nb = cols / 16;
  for (let i = 0; i < codes.length; i++) {
    const r = Math.floor(i / cols);
    const s = decodeElement(E4M3, scales[r * nb + Math.floor((i % cols) / 16)]);
    const dec = typeof sDec === "number" ? sDec : sDec[r];
    out[i] = mul32(mul32(decodeElement(elem, codes[i]), s), dec);
  }
  return out;
}
