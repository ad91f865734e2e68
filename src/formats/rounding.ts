/**
 * Element rounding shared by every quantizer: round-to-nearest-even, or stochastic rounding keyed
 * on (seed, tensor id, step, element index).
 *
 * @module
 */

import { type ElementFormat, encodeElement, encodeStochastic } from "./elements.ts";
import { randomBits, streamKey } from "./rng.ts";

/** How elements are rounded, and the key of the random stream for stochastic rounding. */
export interface RoundingOptions {
  /** `rne` (default) or `stochastic`. */
  rounding?: "rne" | "stochastic";
  /** Seed of the random stream (unsigned 32-bit integer, default 0). */
  seed?: number;
  /** Which tensor this is (unsigned 32-bit integer, default 0). */
  tensorId?: number;
  /** Training step (unsigned 32-bit integer, default 0). */
  step?: number;
}

/** Encodes value `y` (already scaled) of element `index` into a code of format `f`. */
export type Rounder = (f: ElementFormat, y: number, index: number) => number;

function u32Option(name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`${name} must be an unsigned 32-bit integer, got ${v}`);
  }
  return v;
}

/** Checks rounding options, returning the rounding mode and the stream key. */
export function resolveRounding(
  opts: RoundingOptions = {},
): { mode: "rne" | "stochastic"; key: number } {
  const mode = opts.rounding ?? "rne";
  if (mode !== "rne" && mode !== "stochastic") {
    throw new TypeError(`rounding must be "rne" or "stochastic", got ${JSON.stringify(mode)}`);
  }
  const key = streamKey(
    u32Option("seed", opts.seed),
    u32Option("tensorId", opts.tensorId),
    u32Option("step", opts.step),
  );
  return { mode, key };
}

/**
 * An element encoder for the given rounding. FP4 and FP8 saturate (TE's `satfinite` casts); FP16
 * and BF16 overflow to ±Inf as an IEEE cast does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeRounder } from "./rounding.ts";
 * import { ELEMENTS } from "./elements.ts";
 * const round = makeRounder({ rounding: "rne" });
 * assert(round(ELEMENTS.e2m1, 5, 0) === 0x6);
 * ```
 */
export function makeRounder(opts: RoundingOptions = {}): Rounder {
  const { mode, key } = resolveRounding(opts);
  if (mode === "rne") return (f, y) => encodeElement(f, y, f.bits <= 8);
  return (f, y, index) => encodeStochastic(f, y, randomBits(key, index), f.bits <= 8);
}
