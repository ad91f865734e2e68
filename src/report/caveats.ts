/**
 * The caveats of a report: what the numbers are not (emulated formats, emulation throughput, small
 * scale) and what the records themselves warn about (software adapters, disagreeing environments,
 * dirty git trees, superseded records, a missing baseline).
 *
 * @module
 */

import type { SuiteSummary } from "./aggregate.ts";
import { adapterName, environmentRows, isSoftwareAdapter } from "./environment.ts";

/**
 * The caveats (markdown sentences, unwrapped) of a suite's report.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { caveats } from "./caveats.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const summary = { baseline: "bf16", hasBaseline: true, records: [], superseded: [] };
 * assert.match(caveats(summary as unknown as SuiteSummary)[0], /emulated/);
 * ```
 */
export function caveats(summary: SuiteSummary): string[] {
  const records = summary.records;
  const out = [
    "**Formats are emulated.** Every quantized GEMM operand is quantized and dequantized back to " +
    "f32 (quantize → dequantize), then multiplied in an f32 GEMM with f32 accumulation. The " +
    "losses show the formats' rounding and scaling, not a low-precision arithmetic unit.",
    "**Throughput is WebGPU emulation throughput, not tensor-core speed.** Low-precision policies " +
    "run extra quantization kernels, so here they are slower than BF16 or FP32, where FP8 and FP4 " +
    "tensor cores would be faster. Compare throughput within one report only.",
  ];
  const adapters = [...new Set(records.map((r) => adapterName(r.env)))];
  if (adapters.length > 0) {
    out.push(
      `**Hardware**: ${adapters.join("; ")}. Numbers from another adapter can differ, in ` +
        `throughput always and in the last bits of the losses possibly.`,
    );
  }
  const software = records.filter((r) => isSoftwareAdapter(r.env)).length;
  if (software > 0) {
    out.push(
      `**${software} of ${records.length} runs used a software adapter**: their timings ` +
        `(tokens/s, step ms) mean nothing; only their losses carry over.`,
    );
  }
  const disagree = environmentRows(records).filter((r) => r.disagree).map((r) => r.field);
  if (disagree.length > 0) {
    out.push(
      `**The records disagree on the environment** (${disagree.join(", ")}); see the ` +
        `environment table. Numbers from different environments may not be comparable.`,
    );
  }
  const dirty = records.filter((r) => r.env.git?.dirty).length;
  if (dirty > 0) {
    out.push(
      `**${dirty} of ${records.length} runs came from a git tree with uncommitted changes**: ` +
        `the commit alone may not reproduce them.`,
    );
  }
  if (!summary.hasBaseline) {
    out.push(
      `**The baseline \`${summary.baseline}\` has no runs** in the records, so there is no ` +
        `difference or p-value against it.`,
    );
  }
  if (summary.superseded.length > 0) {
    const n = summary.superseded.length;
    out.push(
      `**${n} older record${n === 1 ? " of this suite is" : "s of this suite are"} left out**: ` +
        `${n === 1 ? "it comes" : "they come"} from an older version of the recipe, or its run ` +
        `was run again later.`,
    );
  }
  out.push(
    "**Small scale.** Small models and short runs: gaps between formats here need not match " +
      "those at billions of parameters and trillions of tokens.",
  );
  return out;
}
