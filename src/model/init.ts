/**
 * Deterministic parameter initialisation: the same config and seed give the same bits on every
 * machine. Draws come from the counter-based hash of `src/formats/rng.ts` (keyed on the seed and
 * the parameter's index): uniforms in float64, normals through Box–Muller, rounded to FP32.
 *
 * @module
 */

import { randomBits, streamKey } from "../formats/rng.ts";
import { numel, type ParamSpec } from "./config.ts";

/** Stream id offset that keeps init streams apart from stochastic-rounding streams. */
const INIT_STREAM = 0x494e4954; // "INIT"

/**
 * The initial values of one parameter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initParam } from "./init.ts";
 * const spec = { name: "w", shape: [4, 4], decay: true, init: { normal: 0.02 } } as const;
 * assert.deepEqual(initParam(spec, 0, 1), initParam(spec, 0, 1));
 * ```
 */
export function initParam(
  spec: ParamSpec,
  index: number,
  seed: number,
): Float32Array<ArrayBuffer> {
  const n = numel(spec.shape);
  const init = spec.init;
  if ("ones" in init) return new Float32Array(n).fill(1);
  const key = streamKey(seed, INIT_STREAM + index, 0);
  const out = new Float32Array(n);
  /** Uniform on [low, high) from draw i. */
  const uniform = (i: number, [low, high]: readonly [number, number]) =>
    low + (high - low) * (randomBits(key, i) / 4294967296);
  if ("uniform" in init) return out.map((_, i) => uniform(i, init.uniform));
  if ("logUniform" in init) return out.map((_, i) => Math.log(uniform(i, init.logUniform)));
  if ("dtBias" in init) {
    // dt = exp(U[ln min, ln max)) floored at 1e-4; bias = softplus⁻¹(dt) = dt + ln(1 − e^{−dt}).
    const [min, max] = init.dtBias;
    return out.map((_, i) => {
      const dt = Math.max(Math.exp(uniform(i, [Math.log(min), Math.log(max)])), 1e-4);
      return dt + Math.log(-Math.expm1(-dt));
    });
  }
  const std = init.normal;
  for (let i = 0; i < n; i += 2) {
    const u1 = (randomBits(key, i) + 1) / 4294967297; // in (0, 1)
    const u2 = randomBits(key, i + 1) / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
