/**
 * FP8 with one FP32 scale per tensor (NUMERICS.md §8.3, TransformerEngine): current scaling from
 * this tensor's amax, or delayed scaling from a window of past amaxes.
 *
 * `q_i = e4m3/e5m2_rne_sat(fp32(x_i · scale))`, decode `fp32(q_i · fp32(1/scale))`.
 *
 * @module
 */

import { decodeElement, type ElementFormat, ELEMENTS } from "./elements.ts";
import { div32, FLT_MAX, mul32 } from "./fp32.ts";
import { amaxOf, type QuantizedParts } from "./parts.ts";
import type { Rounder } from "./rounding.ts";

/**
 * TE's `compute_scale_from_amax` (epsilon 0, no power-of-2 rounding):
 * `fp32(fp8_max / amax)`, 1 when amax is 0, FLT_MAX when the quotient overflows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fp8Scale } from "./fp8.ts";
 * import { ELEMENTS } from "./elements.ts";
 * assert(fp8Scale(448, ELEMENTS.e4m3) === 1);
 * ```
 */
export function fp8Scale(amax: number, f: ElementFormat, margin = 0): number {
  if (amax === 0 || !Number.isFinite(amax)) return 1;
  const s = Math.fround(Math.fround(f.maxFinite * 2 ** -margin) / amax);
  return s > FLT_MAX ? FLT_MAX : s;
}

/** Options of {@link DelayedScaling}. */
export interface DelayedScalingOptions {
  /** Amax history length (TE default 1024). */
  historyLength?: number;
  /** Scale from the window `max` (default) or the `most_recent` amax. */
  algo?: "max" | "most_recent";
  /** Scale is `fp8_max · 2^-margin / amax` (default margin 0). */
  margin?: number;
}

/**
 * State of TE's delayed scaling for one tensor: the scale used now comes from amaxes recorded at
 * earlier steps. Pass it as `{ kind: "fp8", element, scaling: state }`, then `record` the amax of
 * the returned tensor. An amax of 0 or a non-finite one keeps the previous scale.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DelayedScaling } from "./fp8.ts";
 * const s = new DelayedScaling("e4m3", { historyLength: 4 });
 * assert(s.scaleFor() === 1);
 * s.record(224);
 * assert(s.scaleFor() === 2);
 * ```
 */
export class DelayedScaling {
  /** Recorded amaxes, most recent first. */
  readonly history: number[] = [];
  /** The FP8 element format the scale maps into. */
  readonly element: "e4m3" | "e5m2";
  /** How many amaxes the history keeps (TransformerEngine's `amax_history_len`). */
  readonly historyLength: number;
  /** The amax the scale comes from: the history's maximum or its most recent entry. */
  readonly algo: "max" | "most_recent";
  /** The scale is `fp8_max · 2^-margin / amax` (TransformerEngine's `margin`). */
  readonly margin: number;
  #scale = 1;

  /**
   * Starts with an empty history and a scale of 1.
   *
   * @param element the FP8 element format
   * @param opts history length, algorithm and margin (TransformerEngine's defaults: 1024, max, 0)
   * @throws {RangeError} for a history length that is not a positive integer or a margin that is not
   * an integer
   */
  constructor(element: "e4m3" | "e5m2", opts: DelayedScalingOptions = {}) {
    const n = opts.historyLength ?? 1024;
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`historyLength must be a positive integer, got ${n}`);
    }
    const margin = opts.margin ?? 0;
    if (!Number.isInteger(margin)) throw new RangeError(`margin must be an integer, got ${margin}`);
    this.element = element;
    this.historyLength = n;
    this.algo = opts.algo ?? "max";
    this.margin = margin;
  }

  /** The FP32 scale to quantize with now. */
  scaleFor(): number {
    return this.#scale;
  }

  /** Records this step's amax and updates the scale for the next step. */
  record(amax: number): void {
    this.history.unshift(amax);
    if (this.history.length > this.historyLength) this.history.length = this.historyLength;
    const window = this.algo === "max" ? Math.max(...this.history) : this.history[0];
    if (window > 0 && Number.isFinite(window)) {
      this.#scale = fp8Scale(window, ELEMENTS[this.element], this.margin);
    }
  }
}

/** Quantizes a tensor (finite, flushed) to FP8 with the given FP32 scale. */
export function quantizeFp8(
  x: Float32Array,
  f: ElementFormat,
  scale: number,
  round: Rounder,
): QuantizedParts {
  const codes = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) codes[i] = round(f, mul32(x[i], scale), i);
  return { codes, scales: new Uint8Array(0), tensorScale: div32(1, scale), amax: amaxOf(x) };
}

/** Decodes FP8 codes: `fp32(q · tensorScale)`. */
export function dequantizeFp8(
  codes: Uint8Array,
  f: ElementFormat,
  tensorScale: number,
): Float32Array {
  return Float32Array.from(codes, (c) => mul32(decodeElement(f, c), tensorScale));
}
