/**
 * What every quantizer produces, and the tensor amax they share.
 *
 * @module
 */

/** Codes, scales and tensor scale of a quantized tensor. */
export interface QuantizedParts {
  /** One element code per value (FP32 bit patterns for fp32). */
  codes: Uint8Array | Uint16Array | Uint32Array;
  /** Block-scale codes, row-major `[rows, cols / blockCols]`; empty for per-tensor formats. */
  scales: Uint8Array;
  /** FP32 decode scale of the whole tensor (1 where the format has none). */
  tensorScale: number;
  /** Largest |x| of the quantized input (after the RHT where one is applied). */
  amax: number;
  /** Row-scaled NVFP4: each row's FP32 decode scale (`tensorScale` is then 1). */
  rowScales?: Float32Array;
}

/**
 * Largest |x| of a tensor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { amaxOf } from "./parts.ts";
 * assert(amaxOf(new Float32Array([1, -3, 2])) === 3);
 * ```
 */
export function amaxOf(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (a > m) m = a;
  }
  return m;
}
