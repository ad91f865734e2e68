/**
 * FP8 with one FP32 scale per tensor (NUMERICS.md §8.3, TransformerEngine): current scaling from
 * this tensor's amax, or delayed scaling from a window of past amaxes.
 *
 * `q_i = e4m3/e5m2_rne_sat(fp32(x_i · scale))`, decode `fp32(q_i · fp32(1/scale))`.
 *
 * @module
 */

import { decodeElement, type ElementFormat, ELEMENTS } from "./elements.ts";
import { div32, FLT_MAX, ftz, mul32 } from "./fp32.ts";
import { amaxOf, type QuantizedParts } from "./parts.ts";
import type { Rounder } from "./rounding.ts";

/**
 * TE's `compute_scale_from_amax` (epsilon 0, no power-of-2 rounding):
 * `fp32(fp8_max · 2^-margin / amax)`, 1 when amax is 0 or not finite, FLT_MAX when the quotient
 * overflows. A quotient below FP32's normal range flushes to 0, as the GPU kernels' FP32 division
 * does (only reachable with a margin and an amax near FP32's largest).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fp8Scale } from "./fp8.ts";
 * import { ELEMENTS } from "./elements.ts";
 * assert(fp8Scale(448, ELEMENTS.e4m3) === 1);
 * assert(fp8Scale(448, ELEMENTS.e4m3, 2) === 0.25);
 * ```
 */
export function fp8Scale(amax: number, f: ElementFormat, margin = 0): number {
  if (amax === 0 || !Number.isFinite(amax)) return 1;
  const s = ftz(div32(scaledMax(f, margin), amax));
  return s > FLT_MAX ? FLT_MAX : s;
}

/** `fp32(fp8_max · 2^-margin)`: TE's `scaled_max`, the value a tensor's amax is scaled onto. */
export function scaledMax(f: ElementFormat, margin: number): number {
  return Math.fround(f.maxFinite * 2 ** -margin);
}

/** Options of {@link DelayedScaling} (TransformerEngine's `DelayedScaling` recipe). */
export interface DelayedScalingOptions {
  /** Amax history length, TE's `amax_history_len` (default 1024, TE's). */
  readonly historyLength?: number;
  /** Scale from the window's `max` (default, TE's) or the `most_recent` amax. */
  readonly algo?: "max" | "most_recent";
  /** The scale is `fp8_max · 2^-margin / amax`; an integer from -32 to 32 (default 0, TE's). */
  readonly margin?: number;
}

/** Delayed-scaling options with TE's defaults filled in. */
export type ResolvedDelayedOptions = Required<DelayedScalingOptions>;

/** The margins {@link resolveDelayedOptions} accepts (TE's default is 0). */
export const MARGIN_RANGE = [-32, 32] as const;

/**
 * Checks delayed-scaling options and fills in TE's defaults (1024, `max`, 0).
 *
 * @throws {RangeError} naming the option and value: a history length that is not a positive
 * integer, an unknown algorithm, a margin that is not an integer in {@link MARGIN_RANGE}
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveDelayedOptions } from "./fp8.ts";
 * assert.deepEqual(resolveDelayedOptions({ margin: 1 }), { historyLength: 1024, algo: "max", margin: 1 });
 * assert.throws(() => resolveDelayedOptions({ historyLength: 0 }), /historyLength/);
 * ```
 */
export function resolveDelayedOptions(opts: DelayedScalingOptions = {}): ResolvedDelayedOptions {
  const historyLength = opts.historyLength ?? 1024;
  if (!Number.isInteger(historyLength) || historyLength < 1) {
    throw new RangeError(`historyLength must be a positive integer, got ${historyLength}`);
  }
  const algo = opts.algo ?? "max";
  if (algo !== "max" && algo !== "most_recent") {
    throw new RangeError(`algo must be "max" or "most_recent", got ${JSON.stringify(algo)}`);
  }
  const margin = opts.margin ?? 0;
  const [lo, hi] = MARGIN_RANGE;
  if (!Number.isInteger(margin) || margin < lo || margin > hi) {
    throw new RangeError(`margin must be an integer from ${lo} to ${hi}, got ${margin}`);
  }
  return { historyLength, algo, margin };
}

/** C's `fmaxf`: the larger of two values, ignoring a NaN. */
function fmaxf(a: number, b: number): number {
  return Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b);
}

/**
 * The state of TE's delayed scaling for one tensor: the scale a quantizer uses at a step comes
 * from the amaxes recorded at earlier steps. Pass it as `{ kind: "fp8", element, scaling: state }`
 * to quantize with {@link scaleFor}, then {@link record} the amax of the quantized tensor.
 *
 * The history has TE's layout (`amax_history`, one column): slot 0 receives the step's amax, and
 * the update after it (TE's `kernel_bulk`, transformer_engine/common/recipe/delayed_scaling.cu,
 * which `fused_amax_and_scale_update_after_reduction` runs once per step) rolls the history one
 * slot towards 0 — that amax lands in the last slot, slot 0 is zeroed — takes the window's `max`
 * (C's `fmaxf`, which skips NaN) or the `most_recent` amax, and sets the scale to
 * `fp8_max · 2^-margin / amax`. A zero amax leaves the history as it is and the scale too (with
 * `max`, whatever the history holds); an infinite or NaN amax is rolled in but keeps the scale;
 * an infinite scale becomes FLT_MAX. The scale starts at 1, TE's initial scale.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DelayedScaling } from "./fp8.ts";
 * const s = new DelayedScaling("e4m3", { historyLength: 4 });
 * assert(s.scaleFor() === 1);
 * s.record(224);
 * assert(s.scaleFor() === 2);
 * assert.deepEqual([...s.amaxHistory], [0, 0, 0, 224]);
 * ```
 */
export class DelayedScaling {
  /** The FP8 element format the scale maps into. */
  readonly element: "e4m3" | "e5m2";
  /** How many amaxes the history keeps (TransformerEngine's `amax_history_len`). */
  readonly historyLength: number;
  /** The amax the scale comes from: the history's maximum or its most recent entry. */
  readonly algo: "max" | "most_recent";
  /** The scale is `fp8_max · 2^-margin / amax` (TransformerEngine's `margin`). */
  readonly margin: number;
  /** The amax history in TE's layout (see the class comment); slot 0 is 0 between steps. */
  readonly amaxHistory: Float32Array;
  #scale = 1;

  /**
   * Starts with an empty history and a scale of 1.
   *
   * @param element the FP8 element format
   * @param opts history length, algorithm and margin (TransformerEngine's defaults: 1024, max, 0)
   * @throws {RangeError} for options {@link resolveDelayedOptions} refuses
   */
  constructor(element: "e4m3" | "e5m2", opts: DelayedScalingOptions = {}) {
    const { historyLength, algo, margin } = resolveDelayedOptions(opts);
    this.element = element;
    this.historyLength = historyLength;
    this.algo = algo;
    this.margin = margin;
    this.amaxHistory = new Float32Array(historyLength);
  }

  /** The options this state was made with. */
  get options(): ResolvedDelayedOptions {
    return { historyLength: this.historyLength, algo: this.algo, margin: this.margin };
  }

  /** The FP32 scale to quantize with now. */
  scaleFor(): number {
    return this.#scale;
  }

  /** Records this step's amax (FP32) and updates the history and the scale for the next step. */
  record(amax: number): void {
    const h = this.amaxHistory;
    const n = h.length;
    // The quantizer's amax (of flushed values, so never subnormal) goes into slot 0, which the
    // last update left at 0.
    const last = ftz(Math.fround(amax));
    let windowMax = 0;
    if (last !== 0) {
      for (let i = 0; i < n; i++) {
        const a = i < n - 1 ? h[i + 1] : last;
        windowMax = fmaxf(windowMax, a);
        h[i] = i > 0 ? a : 0;
      }
    } else {
      h[0] = 0;
    }
    const use = this.algo === "most_recent" ? last : windowMax;
    if (Number.isFinite(use) && use > 0) {
      this.#scale = fp8Scale(use, ELEMENTS[this.element], this.margin);
    }
  }

  /**
   * The state as FP32 words: the scale, then the history. This is the layout of the GPU buffer
   * that keeps it (kernels/amax_history/) and of its checkpoint tensor.
   */
  toWords(): Float32Array<ArrayBuffer> {
    const words = new Float32Array(1 + this.historyLength);
    words[0] = this.#scale;
    words.set(this.amaxHistory, 1);
    return words;
  }

  /**
   * A state from the words of {@link toWords} (e.g. read from a GPU buffer or a checkpoint).
   *
   * @throws {RangeError} when `words` does not hold 1 + historyLength values
   */
  static fromWords(
    element: "e4m3" | "e5m2",
    opts: DelayedScalingOptions,
    words: Float32Array,
  ): DelayedScaling {
    const s = new DelayedScaling(element, opts);
    if (words.length !== 1 + s.historyLength) {
      throw new RangeError(
        `words must hold 1 + historyLength = ${1 + s.historyLength} values, got ${words.length}`,
      );
    }
    s.#scale = words[0];
    s.amaxHistory.set(words.subarray(1));
    return s;
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
