/**
 * The caveats of a report: what the numbers are not (emulated formats, emulation throughput, small
 * scale) and what the records themselves warn about (software adapters, disagreeing environments,
 * dirty git trees, superseded records, a missing baseline).
 *
 * @module
 */

import type { SuiteSummary } from "./aggregate.ts";
import type { GemmPath } from "../model/linear.ts";
import type { RunRecord } from "../runner/record.ts";
import { adapterName, environmentRows, isSoftwareAdapter } from "./environment.ts";

/**
 * The caveats (markdown sentences, unwrapped) of a suite's report.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { caveats } from "./caveats.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
import type { GemmPath } from "../model/linear.ts";
import type { RunRecord } from "../runner/record.ts";
 * const summary = { baseline: "bf16", hasBaseline: true, policies: [], records: [], superseded: [] };
 * assert.match(caveats(summary as unknown as SuiteSummary)[0], /emulated/);
 * ```
 */
export function caveats(
  summary: SuiteSummary,
  missing: readonly { readonly policy: string; readonly seed: number }[] = [],
): string[] {
  const records = summary.records;
  const out = [gemmPathCaveat(records), throughputCaveat(summary)];
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
  if (missing.length > 0) {
    const runs = missing.map((m) => `${m.policy} seed ${m.seed}`).join(", ");
    out.push(
      `**${missing.length} run${missing.length === 1 ? "" : "s"} of the recipe ` +
        `${missing.length === 1 ? "has" : "have"} no record yet** (${runs}): the statistics ` +
        `above leave ${missing.length === 1 ? "it" : "them"} out. \`deno task bench\` with the ` +
        `recipe trains ${missing.length === 1 ? "it" : "them"}.`,
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

/** What each GEMM path the records used computes (from the records' `result.gemms`). */
const PATH_MEANING: Record<GemmPath, string> = {
  f32: "`f32`: operands in f32 — quantized to the policy's format and dequantized back where the " +
    "policy quantizes them — on the f32 SIMT GEMM",
  packed: "`packed`: NVFP4 × NVFP4 GEMMs on the 4-bit codes (dot4I8Packed products, block " +
    "scales applied per 16 products)",
  matrix: "`matrix`: the quantized values, exact in f16, on the GPU's matrix units (subgroup " +
    "matrices) with the tensor scales in the epilogue",
};

/** The caveat on how the GEMMs computed, from the paths the records say they used. */
function gemmPathCaveat(records: readonly RunRecord[]): string {
  const paths = new Set<GemmPath>();
  let unrecorded = 0;
  for (const r of records) {
    if (!r.result.gemms) unrecorded++;
    for (const phase of r.result.gemms ?? []) {
      for (const l of phase) {
        for (const p of [l.fprop, l.dgrad, l.wgrad]) if (p) paths.add(p);
      }
    }
  }
  const used = (["f32", "packed", "matrix"] as const).filter((p) => paths.has(p));
  const described = used.length === 0
    ? ""
    : ` The GEMMs ran on ${used.map((p) => PATH_MEANING[p]).join("; ")} (the GEMMs column ` +
      `counts them per policy).`;
  const missing = unrecorded === 0
    ? ""
    : ` ${unrecorded} of ${records.length} records predate GEMM-path recording: their path is ` +
      `not known.`;
  return "**Formats are emulated: exact values, not native FP8/FP4 arithmetic.** Every GEMM " +
    `accumulates in f32.${described}${missing} The losses show the formats' rounding and scaling.`;
}

/** The caveat on throughput, with the measured ordering of the policies rather than a guess. */
function throughputCaveat(summary: SuiteSummary): string {
  const base = summary.policies.find((p) => p.policy === summary.baseline)?.tokensPerSecond;
  const others = summary.policies.filter((p) =>
    p.policy !== summary.baseline && p.tokensPerSecond !== null
  );
  let compared = "";
  if (base != null && others.length > 0) {
    const faster = others.filter((p) => p.tokensPerSecond! > base).map((p) => p.policy);
    const slower = others.filter((p) => p.tokensPerSecond! <= base).map((p) => p.policy);
    compared = ` Here ${
      [
        ...(faster.length > 0 ? [`${faster.join(", ")} ran faster`] : []),
        ...(slower.length > 0 ? [`${slower.join(", ")} ran no faster`] : []),
      ].join(" and ")
    } than \`${summary.baseline}\`; on native FP8/FP4 units the order can differ.`;
  }
  return "**Throughput is that of these WebGPU kernels, not of native low-precision units.**" +
    `${compared} Compare throughput within one report only.`;
}
