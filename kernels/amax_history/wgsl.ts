/**
 * WGSL of the delayed-scaling update: one workgroup of {@link UPDATE_WORKGROUP} invocations per
 * tensor, as TransformerEngine's `kernel_bulk` (transformer_engine/common/recipe/delayed_scaling.cu)
 * runs one block per tensor. Bindings: `stats` (the quantizer's stats words; word 0 holds the
 * step's amax bits), `hist` (the state words of `./reference.ts`, as bits).
 *
 * The history rolls in place in chunks of the workgroup's size (read the next slot, barrier, write
 * the slot), the window's max is a tree reduction of C's `fmaxf` (which skips NaN; amaxes are
 * never negative, so their bit patterns order as their values), and the scale is the correctly
 * rounded `fp32(fp8_max · 2^-margin) / amax` of `div_rn`, so the result is that of the CPU
 * reference bit for bit whatever the reduction order.
 *
 * @module
 */

import { f32Literal, wgslNumerics } from "../_wgsl/numerics.ts";
import { ELEMENTS } from "../../src/formats/elements.ts";
import { scaledMax } from "../../src/formats/fp8.ts";
import type { AmaxHistoryConfig } from "./reference.ts";

/** Invocations of the update's workgroup. */
export const UPDATE_WORKGROUP = 256;

/**
 * The update kernel of a configuration (history length, algorithm and scaled maximum are
 * constants of the source).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { amaxHistoryShader } from "./wgsl.ts";
 * const src = amaxHistoryShader({ element: "e4m3", historyLength: 4, algo: "max", margin: 0 });
 * assert(src.includes("const N: u32 = 4u;"));
 * ```
 */
export function amaxHistoryShader(cfg: AmaxHistoryConfig): string {
  const wg = UPDATE_WORKGROUP;
  const scaled = f32Literal(scaledMax(ELEMENTS[cfg.element], cfg.margin));
  return `${wgslNumerics([])}
@group(0) @binding(0) var<storage, read> stats: array<u32>;
@group(0) @binding(1) var<storage, read_write> hist: array<u32>;
var<workgroup> sm: array<u32, ${wg}>;

const N: u32 = ${cfg.historyLength}u;

fn is_nan(b: u32) -> bool { return (b & 0x7fffffffu) > 0x7f800000u; }

// C's fmaxf on non-negative FP32 bit patterns: a NaN loses.
fn fmax_bits(m: u32, a: u32) -> u32 { return select(max(m, a), m, is_nan(a)); }

@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32) {
  let last = stats[0];
  // A zero amax leaves the history alone (TE rolls only when last_amax != 0).
  let roll = last != 0u;
  var m = 0u;
  for (var off = 0u; off < N; off = off + ${wg}u) {
    let i = off + lid;
    var a = 0u;
    if (i < N) {
      if (i + 1u < N) { a = hist[2u + i]; } else { a = last; }
      m = fmax_bits(m, a);
    }
    storageBarrier();
    if (roll && i < N) { hist[1u + i] = select(0u, a, i > 0u); }
  }
  sm[lid] = m;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { sm[lid] = max(sm[lid], sm[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let amax = ${cfg.algo === "most_recent" ? "last" : "select(0u, sm[0], roll)"};
    // A zero or non-finite amax keeps the scale; an infinite one becomes FLT_MAX.
    if (amax != 0u && amax < 0x7f800000u) {
      hist[0] = bitcast<u32>(min(div_rn(${scaled}, bitcast<f32>(amax)), FLT_MAX));
    }
  }
}
`;
}
