/**
 * The markdown report of a suite: title and setup, the per-policy table (final loss statistics,
 * difference from the baseline and its p-value, accuracy, throughput, memory, bits per weight,
 * the share of GEMM FLOPs per format, divergence), each policy's resolved formats, the charts (loss, relative loss, gradient
 * norm, learning rate, throughput), the environment block, the commands that reproduce it, caveats,
 * and every run with its record id in a collapsible section. Numbers come only from records; the
 * text is laid out as `deno fmt` would lay it out.
 *
 * @module
 */

import type { RunRecord } from "../runner/record.ts";
import { aggregate, type PolicySummary, type SuiteSummary } from "./aggregate.ts";
import { normalize } from "node:path";
import { caveats } from "./caveats.ts";
import { curvesCsv } from "./curves_csv.ts";
import { type Chart, suiteCharts } from "./charts.ts";
import { environmentRows } from "./environment.ts";
import { describeFlopShares } from "./gemm_flops.ts";
import { bytes, duration, fixed, grouped, pValue, signedPercent, table, wrap } from "./format.ts";
import { setupLines } from "./setup.ts";
import { blockKinds } from "../model/config.ts";
import { policyText } from "../recipe/plan.ts";
import type { Claim } from "../recipe/claims.ts";
import { claimsSection } from "./claims_section.ts";
import { testClaims } from "./claims.ts";
import { HEALTH_CHART } from "./chart_health.ts";
import { healthSection } from "./health_section.ts";

/** Options of {@link renderReport}. */
export interface ReportOptions {
  /**
   * The command that runs the suite (default `deno task bench <recipe paths of the records>` with
   * the records' policies, seeds and steps: the same runs even where the recipe asks for more).
   */
  readonly reproduceCommand?: string;
  /** The `--out` folder of the default reproduce command (omitted for `reports`, the default). */
  readonly benchOut?: string;
  /** The command that checks the report (default `deno task verify reports/<suite>.md`). */
  readonly verifyCommand?: string;
  /** Folder of the chart files relative to the report (default the suite name). */
  readonly chartDir?: string;
  /** Folder of the record files relative to the report, to link each run (default `runs`). */
  readonly runsDir?: string;
  /** The recipe's own description, shown under the title. */
  readonly description?: string;
  /**
   * The runs of the recipe's plan that have no record yet (said in the caveats). Given, the
   * records are the plan's, and the reproduce command names only the recipes (and steps).
   */
  readonly missing?: readonly { readonly policy: string; readonly seed: number }[];
  /** The recipe's claims, tested in a "Claims" section (none: no section). */
  readonly claims?: readonly Claim[];
}

/** The file name of the curves' CSV in the chart folder. */
export const CURVES_CSV = "curves.csv";

/** A rendered report: its markdown and the chart files it links to. */
export interface RenderedReport {
  /** The data files it links to beside the charts (the curves' CSV). */
  readonly data: readonly { readonly file: string; readonly text: string }[];
  /** The report's text. */
  readonly markdown: string;
  /** Chart files, to be written to `chartDir`. */
  readonly charts: readonly Chart[];
  /** The summary the report shows. */
  readonly summary: SuiteSummary;
}

const paragraph = (text: string) => wrap(text);
const bullet = (text: string) => wrap(`- ${text}`, 100, "  ");

function lossCell(p: PolicySummary): string {
  if (p.finalLoss === null) return p.diverged > 0 ? "diverged" : "—";
  const { mean, std, n } = p.finalLoss;
  const dagger = p.fromTrain > 0 ? " †" : "";
  return `${fixed(mean, 4)}${std === null ? "" : ` ± ${fixed(std, 4)}`} (${n})${dagger}`;
}

/** Δ with its 95 % Welch interval, e.g. `+0.52 % [−0.10, +1.14]`. */
function deltaCell(p: PolicySummary): string {
  const ci = p.deltaInterval;
  const bound = (x: number) => signedPercent(x).replace(" %", "");
  return `${signedPercent(p.deltaPercent)}${ci ? ` [${bound(ci[0])}, ${bound(ci[1])}]` : ""}`;
}

function divergedCell(p: PolicySummary): string {
  const at = p.runs.flatMap((r) => (r.divergedAt === null ? [] : [r.divergedAt]));
  return `${p.diverged}/${p.runs.length}${at.length > 0 ? ` (step ${at.join(", ")})` : ""}`;
}

/**
 * The step-time column's heading: what its percentiles are of, from the clocks of the runs
 * (GPU time of each step, or the mean wall time per step of logging windows).
 */
function stepMsHeading(s: SuiteSummary): string {
  const clocks = new Set(s.policies.flatMap((p) => (p.stepMs ? [p.stepMs.clock] : [])));
  if (clocks.size === 1 && clocks.has("gpu")) return "GPU ms/step p50/p99";
  if (clocks.size === 1 && clocks.has("window")) return "ms/step of log windows p50/p99";
  return "step ms p50/p99 (gpu: per step, window: log windows)";
}

function stepMsCell(p: PolicySummary, s: SuiteSummary): string {
  if (!p.stepMs) return "—";
  const mixed = stepMsHeading(s).includes("(gpu");
  return `${fixed(p.stepMs.p50, 1)} / ${fixed(p.stepMs.p99, 1)}${
    mixed ? ` ${p.stepMs.clock}` : ""
  }`;
}

/** Whether some policy of the suite computes in BF16 (the results table then says which). */
function mixesCompute(s: SuiteSummary): boolean {
  return s.policies.some((p) => p.compute !== "fp32");
}

function policyTable(s: SuiteSummary): string {
  const compute = mixesCompute(s);
  const head = [
    "policy",
    "final val loss (n)",
    `Δ vs ${s.baseline} [95 % CI]`,
    "p (Holm)",
    "seeds for 80 % power",
    "top-1 acc",
    "tokens/s",
    stepMsHeading(s),
    "dispatches/step",
    "clipped",
    "GEMMs",
    "GEMM FLOPs",
    "bits/weight",
    ...(compute ? ["compute"] : []),
    "GPU memory",
    "diverged",
  ];
  const rows = s.policies.map((p) => {
    const isBase = p.policy === s.baseline;
    return [
      isBase ? `${p.policy} (baseline)` : p.policy,
      lossCell(p),
      isBase ? "—" : deltaCell(p),
      isBase ? "—" : p.pValue === null ? "n/a" : `${pValue(p.pValue)} (${pValue(p.pHolm)})`,
      isBase || p.seedsForPower === null ? "—" : String(p.seedsForPower),
      p.accuracy === null ? "—" : `${fixed(100 * p.accuracy, 1)} %`,
      grouped(p.tokensPerSecond),
      stepMsCell(p, s),
      grouped(p.dispatchesPerStep),
      p.clipped === null ? "—" : `${fixed(100 * p.clipped, 0)} %`,
      p.gemms ?? "—",
      describeFlopShares(p.gemmFlops),
      String(Number(p.bitsPerWeight.toFixed(2))),
      ...(compute ? [p.compute] : []),
      bytes(p.gpuBytes),
      divergedCell(p),
    ];
  });
  return table([head, ...rows], ["l", ...head.slice(1).map(() => "r")]);
}

/** How many policies of a summary are compared with its baseline (all but the baseline). */
function compared(s: SuiteSummary): number {
  return s.policies.filter((p) => p.policy !== s.baseline).length;
}

function tableNotes(s: SuiteSummary): string[] {
  const warmup = s.records[0].spec.train.warmupSteps;
  const notes = [
    `Final val loss: validation loss at the last evaluation, mean ± sample standard deviation ` +
    `over seeds (number of runs). Δ: difference of the means from \`${s.baseline}\`, relative to ` +
    `\`${s.baseline}\`, with its 95 % Welch confidence interval. p: two-sided Welch's t-test of ` +
    `the final losses against \`${s.baseline}\` (n/a with fewer than two runs on either side), ` +
    `in parentheses after Holm's adjustment for comparing ${compared(s)} ` +
    `${compared(s) === 1 ? "policy" : "policies"} with one baseline (call a ` +
    `difference significant at 5 % only where this is ≤ 0.05). Seeds for 80 % power: runs per ` +
    `policy that a 5 % two-sided test needs to detect the observed difference 4 times in 5, ` +
    `given the seeds' spread (normal approximation); with fewer seeds than that, a difference ` +
    `this size can stay hidden. Top-1 acc: next-token ` +
    `accuracy at the same point. Tokens/s: median over seeds (wall clock, logging windows); ` +
    `step times: medians over seeds of each run's p50 and p99 after ${warmup} untimed warm-up ` +
    `steps — of each step's GPU time (timestamps around its compute pass) where the heading says ` +
    `GPU, else of the logging windows' mean wall time per step. Clipped: share of the logged steps (all seeds) whose gradient norm before clipping exceeded ` +
    `the threshold; the gradient-norm chart shows the norms. GEMMs: how many of the linear layers' GEMMs ` +
    `(Fprop, Dgrad, Wgrad) ran on each path — \`matrix\`: f16 operands on the matrix units, ` +
    `\`packed\`: NVFP4 codes with dot4I8Packed, \`f32\`: fake-quantized operands on the f32 SIMT ` +
    `GEMM (policy phases joined by →; — for records written before paths were recorded). GEMM FLOPs: the share of the training steps' GEMM FLOPs ` +
    `(2 · m · n · k for each Fprop, Dgrad and Wgrad of every linear layer and the LM head, each ` +
    `phase of a late switch for its steps) whose operands are quantized to each format family ` +
    `(a GEMM whose two operands differ is named by both, e.g. \`fp8×bf16\`); attention's score ` +
    `and value products, the Mamba scan and evaluation passes are not counted. Bits/weight: storage bits per value of each ` +
    `linear layer's weight in its Fprop format, scales included, averaged over all linear weights ` +
    `by size (blocks kept in high precision and the LM head at their own precision; embeddings ` +
    `and norms stay f32 and are not counted). GPU memory: every buffer the model allocates ` +
    `(parameters, AdamW moments, gradients, activations, quantized copies).`,
  ];
  const base = s.policies.find((p) => p.policy === s.baseline)?.finalLoss?.mean;
  if ((s.records[0].spec.data.tokenizer ?? "byte") === "byte") {
    notes.push(
      `Losses are cross-entropy in nats per token; the tokenizer is byte-level, so bits per byte ` +
        `= nats / ln 2${
          base === undefined
            ? ""
            : ` (\`${s.baseline}\`'s ${fixed(base, 4)} nats = ${
              fixed(base / Math.LN2, 4)
            } bits per byte)`
        }.`,
    );
  } else notes.push("Losses are cross-entropy in nats per token.");
  const fromTrain = s.policies.filter((p) => p.fromTrain > 0).map((p) => `\`${p.policy}\``);
  if (fromTrain.length > 0) {
    notes.push(
      `† Final train loss instead (runs without validation points): ${fromTrain.join(", ")}.`,
    );
  }
  if (mixesCompute(s)) {
    notes.push(
      "Compute: the precision tensors flow between ops in (the policy's `compute`): `bf16` " +
        "stores every op's output, the residual stream, the linear layers' outputs and the " +
        "activation gradients as BF16 and rounds each quantizer's input and RHT output to BF16 " +
        "(Megatron/TransformerEngine BF16 mixed precision); `fp32` stores FP32.",
    );
  }
  if (s.policies.some((p) => p.diverged > 0)) {
    notes.push(
      "Diverged: runs whose loss became NaN or infinite, at the step given; they are counted " +
        "there and left out of the loss statistics.",
    );
  }
  return notes;
}

/**
 * Every policy as its runs resolved it, in the words of `--dry-run` (one row per policy), as code:
 * selectors' globs (`blocks.*.qkv`) are not emphasis.
 */
function policiesTable(s: SuiteSummary): string {
  const rows = s.policies.map((p) => {
    const spec = s.records.find((r) => r.spec.policyName === p.policy)!.spec;
    return [p.policy, `\`${policyText(spec.policy, blockKinds(spec.model.pattern).length)}\``];
  });
  return table([["policy", "resolved precision"], ...rows], ["l", "l"]);
}

function runsSection(s: SuiteSummary, runsDir: string): string {
  const head = ["policy", "seed", "final loss", "top-1 acc", "tokens/s", "diverged at", "record"];
  const rows = s.policies.flatMap((p) =>
    p.runs.map((r) => [
      p.policy,
      String(r.seed),
      r.finalLoss === null ? "—" : `${fixed(r.finalLoss, 4)}${r.lossFrom === "train" ? " †" : ""}`,
      r.finalAccuracy === null ? "—" : `${fixed(100 * r.finalAccuracy, 1)} %`,
      grouped(r.tokensPerSecond),
      r.divergedAt === null ? "—" : String(r.divergedAt),
      `[\`${r.id.slice(0, 12)}\`](${runsDir}/${r.id}.json)`,
    ])
  );
  return [
    "<details>",
    `<summary>Runs and their records (${s.records.length})</summary>`,
    "",
    table([head, ...rows], ["l", "r", "r", "r", "r", "r", "l"]),
    "",
    "</details>",
  ].join("\n");
}

/** When the runs finished and how long they took. */
function when(s: SuiteSummary): string {
  const times = s.records.map((r) => r.finishedAt).sort();
  const minute = (t: string) => t.slice(0, 16).replace("T", " ");
  const total = s.records.reduce(
    (sum, r) => sum + (Number.isFinite(r.durationSeconds) ? r.durationSeconds : 0),
    0,
  );
  const span = times[0] === times.at(-1)
    ? `at ${minute(times[0])}`
    : `between ${minute(times[0])} and ${minute(times.at(-1)!)}`;
  return `The runs finished ${span} (UTC) and took ${duration(total)} in all.`;
}

/**
 * `deno task bench` with the suite's recipes and steps; with its policies (baseline first) and
 * seeds too unless `planned` (the report shows the recipe's whole plan, so the recipe alone
 * names its runs).
 */
function benchCommand(
  recipes: readonly string[],
  s: SuiteSummary,
  planned: boolean,
  out?: string,
): string {
  const unique = <T>(xs: T[]) => [...new Set(xs)];
  const records = s.records;
  const policies = s.policies.map((p) => p.policy);
  const seeds = unique(records.map((r) => r.spec.seed)).sort((a, b) => a - b);
  const steps = unique(records.map((r) => r.spec.train.steps));
  return [
    `deno task bench ${recipes.join(" ")}`,
    ...(planned ? [] : [`--policy ${policies.join(",")}`, `--seeds ${seeds.join(",")}`]),
    ...(steps.length === 1 ? [`--steps ${steps[0]}`] : []),
    ...(out !== undefined && out !== "reports" ? [`--out ${out}`] : []),
    ...gpuFlag(s),
  ].join(" ");
}

/** `--gpu dawn` when every record ran on Dawn (Deno's WebGPU is the default). */
function gpuFlag(s: SuiteSummary): string[] {
  return s.records.every((r) => r.env.implementation.name === "dawn") ? ["--gpu dawn"] : [];
}

/**
 * Renders the report of `suite` from records (records of other suites are ignored) and its charts.
 *
 * @throws {Error} when no record belongs to the suite
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderReport } from "./markdown.ts";
 * await assert.rejects(renderReport("missing", []), /no run records for suite "missing"/);
 * ```
 */
export async function renderReport(
  suite: string,
  records: readonly RunRecord[],
  options: ReportOptions = {},
): Promise<RenderedReport> {
  const s = aggregate(records.filter((r) => r.spec.suite === suite))[0];
  if (!s) throw new Error(`no run records for suite "${suite}"`);
  const chartDir = options.chartDir ?? suite;
  const charts = await suiteCharts(s);
  const recipes = [...new Set(s.records.map((r) => normalize(r.spec.recipePath)))];
  const planned = options.missing !== undefined;
  const reproduce = options.reproduceCommand ??
    benchCommand(recipes, s, planned, options.benchOut);
  // verify re-runs on the records' own WebGPU implementation, so it needs no --gpu.
  const verify = options.verifyCommand ?? `deno task verify reports/${suite}.md`;
  const env = environmentRows(s.records).map((r) => [
    r.field,
    r.disagree ? `**records disagree:** ${r.value}` : r.value,
  ]);
  const parts = [
    `# ${suite}`,
    ...(options.description ? [paragraph(options.description)] : []),
    paragraph(
      (s.policies.some((p) => p.policy === s.baseline)
        ? `${s.policies.length} precision policies compared with the baseline \`${s.baseline}\` `
        : `${s.policies.length} precision ${s.policies.length === 1 ? "policy" : "policies"} ` +
          `without runs of the baseline \`${s.baseline}\` yet (so no differences from it), `) +
        `on the same model, data and seeds. ${when(s)}`,
    ),
    setupLines(s.records.map((r) => r.spec), s.records.find((r) => r.data)?.data).map(bullet)
      .join("\n"),
    "## Results",
    policyTable(s),
    ...tableNotes(s).map(paragraph),
    ...claimsSection(testClaims(options.claims ?? [], s.records)),
    "## Policies",
    policiesTable(s),
    paragraph(
      "Each policy's formats as its records resolved them: per GEMM operand (x, w, dy) of Fprop, " +
        "Dgrad and Wgrad when they differ, `/sr` stochastic rounding, `+rht16` a 16-point random " +
        "Hadamard transform (`/random` signs drawn per step, `/nosign` none), then per-layer " +
        "selectors, the blocks kept in high precision, a late switch, the LM head and the " +
        "policy validation runs under where it is not the training policy.",
    ),
    "## Training curves",
    ...charts.filter((c) => c.file !== HEALTH_CHART).map((c) =>
      `![${c.title}](${chartDir}/${c.file})`
    ),
    paragraph(`Every run's curves, point by point: [curves.csv](${chartDir}/${CURVES_CSV}).`),
    ...healthSection(s, chartDir),
    "## Environment",
    table([["field", "value"], ...env], ["l", "l"]),
    "## Reproduce",
    "```sh\n" + `${reproduce}\n${verify}\n` + "```",
    paragraph(
      "The first command trains every run of the recipe whose record is missing and writes " +
        "this report; the second re-runs the runs of this report and compares them with their " +
        "records.",
    ),
    "## Caveats",
    caveats(s, options.missing ?? []).map(bullet).join("\n"),
    runsSection(s, options.runsDir ?? "runs"),
  ];
  const data = [{ file: CURVES_CSV, text: curvesCsv(s) }];
  return { markdown: parts.join("\n\n") + "\n", charts, data, summary: s };
}
