/**
 * Four Over Six ("Four Over Six", arXiv 2512.02010), as TransformerEngine defines it in its
 * pure-PyTorch reference, `transformer_engine/pytorch/custom_recipes/reference_nvfp4.py`
 * (`NVFP4QuantizerRef._quantize_blockwise_4over6_reference` and `_sum_4over6_2d_error`, TE HEAD
 * d0067d0): each block (1×16, or a 16×16 tile) is quantized twice and keeps the candidate whose
 * error is smaller. Every step is FP32, in this order:
 *
 * ```
 * S_enc  = fp32(6 · bound / amax)   (bound 256 or 448; nvfp4_scales.ts nvfp4TensorScales)
 * base   = fp32(fp32(block_amax / 6) · S_enc)        (not the plain chain's block_amax · fp32(S_enc / 6))
 * map-6  : scale6 = e4m3_rne_sat(base)
 * map-4  : scale4 = e4m3_rne_sat(fp32(base · 1.5))   (saturates at 448 whatever the bound)
 * enc    = min(fp32(1 / fp32(scale · S_dec)), FLT_MAX), q_i = e2m1_rne(clamp(fp32(x_i · enc), ±6))
 * val_i  = fp32(fp32(fp32(e2m1(q_i) · scale) · amax) / fp32(6 · bound))
 * d_i    = fp32(val_i − x_i);  err = Σ_i |d_i|  (mae)  or  Σ_i fp32(d_i · d_i)  (mse)
 * ```
 *
 * summed in FP32 over the block's 16 elements in order (`amax` is the tensor's, or the row's when
 * row-scaled). A 16×16 tile sums its 16 rows' errors pairwise, row i with row i + 8, then i + 4,
 * i + 2, i + 1 (the CUDA warp reduction's tree). The block keeps map-to-4 only where its error is
 * strictly smaller: ties, zero blocks among them, keep map-to-6. With the bound 256 the map-to-4
 * scale (at most 1.5 · 256 = 384) never saturates; with 448 it can, which is why TE defaults to 256.
 *
 * lpbench flushes FP32 subnormals at every step (`./fp32.ts`), error terms included: an MSE term
 * below 2^-126 counts as 0, which differs from TE only for blocks whose errors are that small.
 *
 * @module
 */

import { decodeElement, ELEMENTS, encodeElement } from "./elements.ts";
import { add32, div32, FLT_MAX, mul32, sub32 } from "./fp32.ts";
import { nvfp4EncodeMultiplier, type Nvfp4TensorScales } from "./nvfp4_scales.ts";
import type { FourOverSix } from "./spec.ts";

const E2M1 = ELEMENTS.e2m1;
const E4M3 = ELEMENTS.e4m3;

/** A block-scale candidate: its E4M3 code and element multiplier enc_b. */
export interface ScaleCandidate {
  /** The E4M3 scale byte. */
  readonly code: number;
  /** `enc_b = min(fp32(1 / fp32(scale · S_dec)), FLT_MAX)`. */
  readonly encB: number;
}

/**
 * The map-to-6 and map-to-4 candidates of a block with amax `blockAmax` under tensor scales `t`
 * (made with the 4over6 bound).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fourOverSixCandidates } from "./four_over_six.ts";
 * import { nvfp4TensorScales } from "./nvfp4_scales.ts";
 * // amax 6 with S_enc = 1536 / 1536 = 1: base 1.0 (0x38), map-to-4 1.5 (0x3c)
 * const c = fourOverSixCandidates(6, nvfp4TensorScales(1536, 256));
 * assert.deepEqual([c.map6.code, c.map4.code], [0x38, 0x3c]);
 * ```
 */
export function fourOverSixCandidates(
  blockAmax: number,
  t: Nvfp4TensorScales,
): { readonly map6: ScaleCandidate; readonly map4: ScaleCandidate } {
  const base = mul32(div32(blockAmax, 6), t.sEnc);
  const candidate = (sdb: number): ScaleCandidate => {
    const code = encodeElement(E4M3, Math.min(sdb, FLT_MAX), true);
    return { code, encB: nvfp4EncodeMultiplier(code, t.sDec) };
  };
  return { map6: candidate(base), map4: candidate(mul32(base, 1.5)) };
}

/**
 * The summed error of the 16 values `x[off … off+15]` quantized with candidate `c` (see the module
 * comment): `amax` is the tensor's (or row's) amax, `bound` the 4over6 bound.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { segmentError } from "./four_over_six.ts";
 * // scale 1.0 at amax 1536, bound 256: values decode to themselves, so exact values cost 0
 * const x = new Float32Array([6, 4, 3, 2, 1.5, 1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
 * assert.equal(segmentError(x, 0, { code: 0x38, encB: 1 }, 1536, 256, "mae"), 0);
 * ```
 */
export function segmentError(
  x: Float32Array,
  off: number,
  c: ScaleCandidate,
  amax: number,
  bound: 256 | 448,
  error: FourOverSix["error"],
): number {
  const scale = decodeElement(E4M3, c.code);
  const denom = 6 * bound; // 1536 or 2688: exact
  let err = 0;
  for (let i = off; i < off + 16; i++) {
    const q = encodeElement(E2M1, Math.min(Math.max(mul32(x[i], c.encB), -6), 6), true);
    const val = div32(mul32(mul32(decodeElement(E2M1, q), scale), amax), denom);
    const d = sub32(val, x[i]);
    err = add32(err, error === "mse" ? mul32(d, d) : Math.abs(d));
  }
  return err;
}

/**
 * The error of a tile from its rows' errors: one row as it is, 16 rows summed pairwise in FP32,
 * row i with row i + 8, then i + 4, i + 2, i + 1 (TE `_sum_4over6_2d_error`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tileError } from "./four_over_six.ts";
 * assert.equal(tileError([3]), 3);
 * assert.equal(tileError(Array.from({ length: 16 }, (_, i) => i)), 120);
 * ```
 */
export function tileError(rowErrors: readonly number[]): number {
  let v = [...rowErrors];
  while (v.length > 1) {
    const h = v.length / 2;
    v = v.slice(0, h).map((a, i) => add32(a, v[i + h]));
  }
  return v[0];
}

/** A block of a row-major `[·, cols]` tensor: `rows` rows from `row`, block column `block`. */
export interface BlockRef {
  /** The tensor (after the RHT, subnormals flushed). */
  readonly x: Float32Array;
  /** Its row length. */
  readonly cols: number;
  /** The block's first row. */
  readonly row: number;
  /** 1 (1×16 blocks) or 16 (16×16 tiles). */
  readonly rows: number;
  /** The block column (elements 16·block … 16·block + 15 of each row). */
  readonly block: number;
}

/**
 * The scale a block keeps under Four Over Six: map-to-4 where its error is strictly smaller than
 * map-to-6's, else map-to-6.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fourOverSixBlock } from "./four_over_six.ts";
 * import { nvfp4TensorScales } from "./nvfp4_scales.ts";
 * const x = new Float32Array(16); // a zero block ties at error 0: map-to-6, scale 0
 * const t = nvfp4TensorScales(1, 256);
 * const opts = { error: "mae", scaleBound: 256 } as const;
 * assert.equal(fourOverSixBlock({ x, cols: 16, row: 0, rows: 1, block: 0 }, 0, t, 1, opts).code, 0);
 * ```
 */
export function fourOverSixBlock(
  ref: BlockRef,
  blockAmax: number,
  t: Nvfp4TensorScales,
  amax: number,
  opts: FourOverSix,
): ScaleCandidate {
  const { map6, map4 } = fourOverSixCandidates(blockAmax, t);
  const offsets = Array.from(
    { length: ref.rows },
    (_, r) => (ref.row + r) * ref.cols + ref.block * 16,
  );
  const errorOf = (c: ScaleCandidate) =>
    tileError(offsets.map((off) => segmentError(ref.x, off, c, amax, opts.scaleBound, opts.error)));
  return errorOf(map4) < errorOf(map6) ? map4 : map6;
}
