/**
 * Aggregation of run records into per-suite, per-policy summaries: final loss statistics across
 * seeds with Welch's t-test against the baseline, accuracy, throughput, memory, bits per weight,
 * the share of GEMM FLOPs per format, divergence, and mean loss curves.
 *
 * Numbers a record stores as `null` (JSON has no NaN) count as missing.
 *
 * @module
 */

import type { ComputePrecision } from "../formats/bf16.ts";
import { describeGemmPaths } from "../model/plan.ts";
import { weightBits } from "./bits.ts";
import { type FlopShare, gemmFlopShares } from "./gemm_flops.ts";
import type { RunRecord } from "../runner/record.ts";
import { meanCurve, type MeanPoint } from "./curves.ts";
import {
  holm,
  mean,
  median,
  sampleStd,
  sampleVariance,
  seedsForPower,
  welchInterval,
  welchTTest,
} from "./stats.ts";

/** What a report takes from one run. */
export interface RunOutcome {
  /** The record id. */
  readonly id: string;
  /** The policy's name. */
  readonly policy: string;
  /** The seed. */
  readonly seed: number;
  /**
   * Final loss: the last validation point, or the last finite train point of a run without
   * validation points (see `lossFrom`). Null for a diverged run or a run without points.
   */
  readonly finalLoss: number | null;
  /** Top-1 next-token accuracy at the same point. */
  readonly finalAccuracy: number | null;
  /** Where the final loss came from. */
  readonly lossFrom: "eval" | "train" | null;
  /** The step at which the loss became NaN/Inf, or null. */
  readonly divergedAt: number | null;
  /** The run's median tokens/s, null when not recorded. */
  readonly tokensPerSecond: number | null;
  /** The run's step-time percentiles (ms) and their clock, null when not recorded. */
  readonly stepMs: StepMs | null;
}

/**
 * Step-time percentiles (ms): of each step's GPU time (`gpu`), of logging windows' mean wall time
 * per step (`window`), or over runs that used both clocks (`mixed`).
 */
export interface StepMs {
  readonly p50: number;
  readonly p99: number;
  readonly clock: "gpu" | "window" | "mixed";
}

/** Statistics of one policy across its seeds. */
export interface PolicySummary {
  /** The policy's name. */
  readonly policy: string;
  /** Its runs, by seed. */
  readonly runs: readonly RunOutcome[];
  /** Over the runs with a final loss; `std` is null for n < 2. Null when no run has one. */
  readonly finalLoss:
    | { readonly mean: number; readonly std: number | null; readonly n: number }
    | null;
  /** 100 · (mean − baseline mean) / baseline mean; null for the baseline or without data. */
  readonly deltaPercent: number | null;
  /** The 95 % Welch confidence interval of {@link deltaPercent} (% of the baseline mean). */
  readonly deltaInterval: readonly [number, number] | null;
  /** Two-sided Welch's t-test p-value against the baseline; null where undefined (n < 2). */
  readonly pValue: number | null;
  /** {@link pValue} after Holm's adjustment over every policy compared with the baseline. */
  readonly pHolm: number | null;
  /**
   * Seeds per policy a two-sided test at α = 0.05 needs to detect the observed difference from
   * the baseline with 80 % power, given the two samples' pooled spread; null where undefined.
   */
  readonly seedsForPower: number | null;
  /** Mean top-1 accuracy over the runs with a final loss. */
  readonly accuracy: number | null;
  /** Median over seeds. */
  readonly tokensPerSecond: number | null;
  /** Medians over seeds of each run's step-time p50 and p99. */
  readonly stepMs: StepMs | null;
  /** Median over seeds. */
  readonly dispatchesPerStep: number | null;
  /**
   * Share of the logged training steps, over all seeds, whose gradient norm exceeded the clipping
   * threshold (so the update was scaled down); null without clipping or recorded norms.
   */
  readonly clipped: number | null;
  /**
   * How many GEMMs ran on each path (`matrix 72, f32 3`; src/model/plan.ts `describeGemmPaths`),
   * over the runs that recorded it, joined by " / " where they differ; null where none did.
   */
  readonly gemms: string | null;
  /** Largest GPU memory of its runs (bytes). */
  readonly gpuBytes: number | null;
  /** Storage bits per value of the Fprop weight format of the policy's linear layers. */
  readonly bitsPerWeight: number;
  /** The policy's compute precision (`compute:`; fp32 where the policy leaves it out). */
  readonly compute: ComputePrecision;
  /** The share of the training run's GEMM FLOPs in each format, largest first (gemm_flops.ts). */
  readonly gemmFlops: readonly FlopShare[];
  /** Runs whose loss became NaN/Inf. */
  readonly diverged: number;
  /** Runs whose final loss is a train loss (no validation points). */
  readonly fromTrain: number;
  /** Mean loss curves over seeds. */
  readonly curves: { readonly eval: readonly MeanPoint[]; readonly train: readonly MeanPoint[] };
}

/** One suite: its policies, baseline first. */
export interface SuiteSummary {
  /** The suite (recipe name). */
  readonly suite: string;
  /** The baseline policy's name. */
  readonly baseline: string;
  /** Whether the baseline has runs in the records. */
  readonly hasBaseline: boolean;
  /** Per-policy statistics: the baseline first, then the other policies by name. */
  readonly policies: readonly PolicySummary[];
  /** The records summarised, by policy then seed. */
  readonly records: readonly RunRecord[];
  /**
   * Records left out because a newer one replaces them: records of an older recipe version
   * (another recipe hash), or an older record of the same policy and seed.
   */
  readonly superseded: readonly RunRecord[];
}

const finite = (x: unknown): x is number => Number.isFinite(x);
const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * The outcome of one run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runOutcome } from "./aggregate.ts";
 * import type { RunRecord } from "../runner/record.ts";
 * const record = {
 *   id: "a1", spec: { policyName: "bf16", seed: 0 },
 *   result: {
 *     train: [{ step: 10, loss: 2.5, accuracy: 0.3 }], eval: [],
 *     tokensPerSecond: 1000, stepMs: { p50: 5, p99: 7 }, divergedAt: null,
 *   },
 * } as unknown as RunRecord;
 * const o = runOutcome(record);
 * assert.equal(o.finalLoss, 2.5);
 * assert.equal(o.lossFrom, "train");
 * ```
 */
export function runOutcome(record: RunRecord): RunOutcome {
  const r = record.result;
  const diverged = finite(r.divergedAt);
  const lastEval = r.eval.at(-1);
  const lastTrain = r.train.findLast((p) => finite(p.loss));
  const point = diverged ? undefined : lastEval ?? lastTrain;
  const lossFrom = point === undefined ? null : point === lastEval ? "eval" : "train";
  return {
    id: record.id,
    policy: record.spec.policyName,
    seed: record.spec.seed,
    finalLoss: point && finite(point.loss) ? point.loss : null,
    finalAccuracy: point && finite(point.accuracy) ? point.accuracy : null,
    lossFrom,
    divergedAt: diverged ? r.divergedAt : null,
    tokensPerSecond: finite(r.tokensPerSecond) ? r.tokensPerSecond : null,
    stepMs: r.stepMs && finite(r.stepMs.p50) && finite(r.stepMs.p99)
      ? { p50: r.stepMs.p50, p99: r.stepMs.p99, clock: r.stepMs.clock ?? "window" }
      : null,
  };
}

/** Keeps the records of the newest recipe version, and the newest record per policy and seed. */
function current(records: readonly RunRecord[]): { kept: RunRecord[]; superseded: RunRecord[] } {
  const newestFirst = [...records].sort((a, b) =>
    a.finishedAt < b.finishedAt ? 1 : a.finishedAt > b.finishedAt ? -1 : a.id < b.id ? -1 : 1
  );
  const recipe = newestFirst[0].spec.recipeHash;
  const seen = new Set<string>();
  const kept: RunRecord[] = [];
  const superseded: RunRecord[] = [];
  for (const r of newestFirst) {
    const key = JSON.stringify([r.spec.policyName, r.spec.seed]);
    if (r.spec.recipeHash !== recipe || seen.has(key)) superseded.push(r);
    else {
      seen.add(key);
      kept.push(r);
    }
  }
  return { kept, superseded };
}

/** The Welch 95 % interval of mean(losses) − mean(base) in % of the baseline mean. */
function percentInterval(
  losses: readonly number[],
  base: readonly number[],
  baseMean: number,
): [number, number] | null {
  const ci = welchInterval(losses, base);
  if (!ci || !(baseMean !== 0 && Number.isFinite(baseMean))) return null;
  return [(100 * ci[0]) / baseMean, (100 * ci[1]) / baseMean];
}

/** {@link seedsForPower} for the observed difference and the pooled sample spread. */
function powerSeeds(losses: readonly number[], base: readonly number[]): number | null {
  if (losses.length < 2 || base.length < 2) return null;
  const pooled = Math.sqrt((sampleVariance(losses) + sampleVariance(base)) / 2);
  return seedsForPower(mean(losses) - mean(base), pooled);
}

function summarisePolicy(
  policy: string,
  records: readonly RunRecord[],
  baselineLosses: readonly number[] | null,
): PolicySummary {
  const runs = records.map(runOutcome);
  const losses = runs.flatMap((r) => (r.finalLoss === null ? [] : [r.finalLoss]));
  const accuracies = runs.flatMap((r) =>
    r.finalLoss !== null && r.finalAccuracy !== null ? [r.finalAccuracy] : []
  );
  const m = mean(losses);
  const baseMean = baselineLosses ? mean(baselineLosses) : NaN;
  const isBaseline = baselineLosses === null;
  const steps = runs.flatMap((r) => (r.stepMs ? [r.stepMs] : []));
  return {
    policy,
    runs,
    finalLoss: losses.length === 0
      ? null
      : { mean: m, std: losses.length < 2 ? null : sampleStd(losses), n: losses.length },
    deltaPercent: isBaseline ? null : orNull((100 * (m - baseMean)) / baseMean),
    deltaInterval: isBaseline ? null : percentInterval(losses, baselineLosses, baseMean),
    pValue: isBaseline ? null : welchTTest(losses, baselineLosses)?.p ?? null,
    pHolm: null,
    seedsForPower: isBaseline ? null : powerSeeds(losses, baselineLosses),
    accuracy: orNull(mean(accuracies)),
    tokensPerSecond: orNull(median(runs.flatMap((r) => r.tokensPerSecond ?? []))),
    stepMs: steps.length === 0 ? null : {
      p50: median(steps.map((s) => s.p50)),
      p99: median(steps.map((s) => s.p99)),
      clock: steps.every((s) => s.clock === steps[0].clock) ? steps[0].clock : "mixed",
    },
    clipped: clippedShare(records),
    dispatchesPerStep: orNull(
      median(records.map((r) => r.result.dispatchesPerStep).filter(finite)),
    ),
    gpuBytes: orNull(Math.max(...records.map((r) => r.result.gpuBytes).filter(finite))),
    gemms: gemmsOf(records),
    bitsPerWeight: weightBits(records[0].spec.model, records[0].spec.policy),
    compute: records[0].spec.policy.compute ?? "fp32",
    gemmFlops: gemmFlopShares(records[0].spec.model, records[0].spec.policy, records[0].spec.train),
    diverged: runs.filter((r) => r.divergedAt !== null).length,
    fromTrain: runs.filter((r) => r.lossFrom === "train").length,
    curves: {
      eval: meanCurve(records.map((r) => r.result.eval)),
      train: meanCurve(records.map((r) => r.result.train)),
    },
  };
}

function summariseSuite(suite: string, all: readonly RunRecord[]): SuiteSummary {
  const { kept, superseded } = current(all);
  const baseline = kept[0].spec.baseline;
  const byPolicy = new Map<string, RunRecord[]>();
  for (const r of kept) {
    byPolicy.set(r.spec.policyName, [...(byPolicy.get(r.spec.policyName) ?? []), r]);
  }
  for (const rs of byPolicy.values()) {
    rs.sort((a, b) => a.spec.seed - b.spec.seed || (a.id < b.id ? -1 : 1));
  }
  const names = [...byPolicy.keys()].sort((a, b) =>
    a === baseline ? -1 : b === baseline ? 1 : a < b ? -1 : a > b ? 1 : 0
  );
  const base = byPolicy.has(baseline)
    ? summarisePolicy(baseline, byPolicy.get(baseline)!, null)
    : null;
  const baseLosses = base?.runs.flatMap((r) => r.finalLoss ?? []) ?? [];
  const unadjusted = names.map((n) =>
    n === baseline && base ? base : summarisePolicy(n, byPolicy.get(n)!, baseLosses)
  );
  const adjusted = holm(unadjusted.map((p) => p.pValue));
  const policies = unadjusted.map((p, i) => ({ ...p, pHolm: adjusted[i] }));
  return {
    suite,
    baseline,
    hasBaseline: base !== null,
    policies,
    records: names.flatMap((n) => byPolicy.get(n)!),
    superseded,
  };
}

/**
 * Groups records by suite, then by policy, and summarises each policy across its seeds. Suites
 * come in name order; within a suite the baseline comes first, then the other policies by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aggregate } from "./aggregate.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * import type { RunRecord } from "../runner/record.ts";
 * const run = (policyName: string, seed: number, loss: number) => ({
 *   id: `${policyName}-${seed}`,
 *   finishedAt: "2026-11-22T00:00:00Z",
 *   spec: {
 *     suite: "demo", recipeHash: "h", policyName, baseline: "bf16", seed, policy: POLICIES[policyName],
 *     model: { pattern: "*-", dModel: 64, heads: 4, dFf: 256, seqLen: 32, vocab: 256, mlp: "relu2" },
 *     train: { clip: 1, batch: 8, steps: 100 },
 *   },
 *   result: {
 *     train: [], eval: [{ step: 100, loss, accuracy: 0.5 }], tokensPerSecond: 1e4,
 *     stepMs: { p50: 5, p99: 6 }, dispatchesPerStep: 90, gpuBytes: 2 ** 20, divergedAt: null,
 *   },
 * }) as unknown as RunRecord;
 * const [demo] = aggregate([run("nvfp4", 0, 2.2), run("nvfp4", 1, 2.4), run("bf16", 0, 2), run("bf16", 1, 2.2)]);
 * assert.deepEqual(demo.policies.map((p) => p.policy), ["bf16", "nvfp4"]);
 * assert.ok(Math.abs(demo.policies[1].deltaPercent! - (100 * 0.2) / 2.1) < 1e-9);
 * ```
 */
export function aggregate(records: readonly RunRecord[]): SuiteSummary[] {
  const bySuite = new Map<string, RunRecord[]>();
  for (const r of records) bySuite.set(r.spec.suite, [...(bySuite.get(r.spec.suite) ?? []), r]);
  return [...bySuite.keys()].sort().map((s) => summariseSuite(s, bySuite.get(s)!));
}

/** {@link PolicySummary.clipped} of a policy's records. */
function clippedShare(records: readonly RunRecord[]): number | null {
  let logged = 0;
  let clipped = 0;
  for (const r of records) {
    const clip = r.spec.train.clip;
    if (clip == null) continue;
    for (const p of r.result.train) {
      if (typeof p.gradNorm !== "number" || !Number.isFinite(p.gradNorm)) continue;
      logged++;
      if (p.gradNorm > clip) clipped++;
    }
  }
  return logged === 0 ? null : clipped / logged;
}

/** The distinct GEMM-path descriptions of records that have one, or null. */
function gemmsOf(records: readonly RunRecord[]): string | null {
  const seen = [
    ...new Set(records.flatMap((r) => r.result.gemms ? [describeGemmPaths(r.result.gemms)] : [])),
  ];
  return seen.length === 0 ? null : seen.join(" / ");
}
