/**
 * Testing a recipe's declared claims (src/recipe/claims.ts) on the runs of its report: each claim's
 * metric per run (final or at-step validation loss, or training tokens to reach a loss), the
 * effect with its 95 % confidence interval, a one-sided test at the claim's level in the
 * direction the claim asserts (TOST for `within`), a verdict — `supported` when that test rejects,
 * `contradicted` when the opposite test rejects, else `inconclusive` — and the seeds per policy a
 * test at that level would need to reach a verdict 4 times in 5 at the observed effect.
 *
 * Two-policy claims compare Δ = mean(policy) − mean(versus), shown relative to versus's mean;
 * `closes` claims test the linear contrast (1 − s)·μ_of − μ_policy + s·μ_versus ≥ 0 (policy closes
 * at least share s of the gap from `of` to versus) and show the share closed with its Fieller
 * interval (the shares the two-sided contrast test does not reject). Tests are Welch's (unequal
 * variances, Welch–Satterthwaite degrees of freedom), each claim on its own: no adjustment for
 * testing several.
 *
 * @module
 */

import type { Claim } from "../recipe/claims.ts";
import type { RunRecord } from "../runner/record.ts";
import { runOutcome } from "./aggregate.ts";
import {
  type Contrast,
  contrast,
  contrastInterval,
  mean,
  oneSidedP,
  runsForOneSidedPower,
} from "./stats.ts";

/** A claim's verdict. */
export type Verdict = "supported" | "contradicted" | "inconclusive" | "untested";

/** What testing a claim found. */
export interface ClaimResult {
  /** The claim. */
  readonly claim: Claim;
  /** The effect: Δ relative to versus's mean, or the share of the gap closed; null untested. */
  readonly effect: number | null;
  /** Its 95 % confidence interval (infinite ends where it is unbounded). */
  readonly interval: readonly [number, number] | null;
  /** The p-value of the test that supports the claim. */
  readonly p: number | null;
  /** The verdict. */
  readonly verdict: Verdict;
  /** Seeds per policy for a conclusive verdict at the observed effect (80 % power). */
  readonly seedsNeeded: number | null;
  /** Why a claim is untested or what limits it, in words. */
  readonly note?: string;
}

/** A run's value of a claim's metric; null where the run has none (diverged, never reached). */
function metricOf(claim: Claim, record: RunRecord): number | null {
  const m = claim.metric;
  if (m.kind === "final") return runOutcome(record).finalLoss;
  const points = record.result.eval.filter((p) => Number.isFinite(p.loss));
  if (m.kind === "atStep") return points.find((p) => p.step === m.step)?.loss ?? null;
  const tokensPerStep = record.spec.train.batch * record.spec.model.seqLen;
  const i = points.findIndex((p) => p.loss <= m.loss);
  if (i < 0) return null;
  if (i === 0) return points[0].step * tokensPerStep;
  const [a, b] = [points[i - 1], points[i]];
  return (a.step + ((a.loss - m.loss) / (a.loss - b.loss)) * (b.step - a.step)) * tokensPerStep;
}

/** The values of the claim's metric for one policy's runs, and how many runs it has. */
function valuesOf(claim: Claim, policy: string, records: readonly RunRecord[]) {
  const runs = records.filter((r) => r.spec.policyName === policy);
  const values = runs.map((r) => metricOf(claim, r));
  return { values: values.filter((v): v is number => v !== null), runs: runs.length };
}

/**
 * The claim in words, from its parts (or the recipe's own statement).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimStatement } from "./claims.ts";
 * assert.equal(claimStatement({
 *   name: "c", source: "s", policy: "nvfp4", versus: "bf16", metric: { kind: "final" },
 *   expect: { kind: "within", margin: 0.015 }, alpha: 0.05,
 * }), "nvfp4's final validation loss is within ±1.5 % of bf16's");
 * ```
 */
export function claimStatement(claim: Claim): string {
  if (claim.statement) return claim.statement;
  const m = claim.metric;
  const metric = m.kind === "final"
    ? "final validation loss"
    : m.kind === "atStep"
    ? `validation loss at step ${m.step}`
    : `training tokens to reach validation loss ${m.loss}`;
  const e = claim.expect;
  const pct = (x: number) => `${+(100 * x).toFixed(4)} %`;
  const { policy: p, versus: v } = claim;
  switch (e.kind) {
    case "worse":
      return `${p}'s ${metric} is higher than ${v}'s`;
    case "better":
      return `${p}'s ${metric} is lower than ${v}'s`;
    case "within":
      return `${p}'s ${metric} is within ±${pct(e.margin)} of ${v}'s`;
    case "atMost":
      return `${p}'s ${metric} is at most ${e.margin >= 0 ? "+" : ""}${pct(e.margin)} above ${v}'s`;
    case "closes":
      return `${p} closes at least ${pct(e.share)} of ${e.of}'s ${metric} gap to ${v}`;
  }
}

/** The verdict of a supporting and an opposing one-sided p-value at level alpha. */
function verdictOf(pSupport: number, pOppose: number, alpha: number): Verdict {
  return pSupport < alpha ? "supported" : pOppose < alpha ? "contradicted" : "inconclusive";
}

/** Tests a claim comparing two policies. */
function testPair(claim: Claim, a: number[], b: number[]): Omit<ClaimResult, "claim" | "note"> {
  const c = contrast([{ values: a, weight: 1 }, { values: b, weight: -1 }]);
  const base = mean(b);
  if (!c) return untested();
  const [lo, hi] = contrastInterval(c);
  const effect = c.estimate / base;
  const interval = [lo / base, hi / base] as const;
  const e = claim.expect;
  const alpha = claim.alpha;
  const power = (distance: number) => runsForOneSidedPower(distance, c.unitSe, 2, alpha);
  if (e.kind === "worse" || e.kind === "better") {
    const side = e.kind === "worse" ? "above" : "below";
    const pSupport = oneSidedP(c, 0, side);
    const pOppose = oneSidedP(c, 0, side === "above" ? "below" : "above");
    const distance = e.kind === "worse" ? c.estimate : -c.estimate;
    return {
      effect,
      interval,
      p: pSupport,
      verdict: verdictOf(pSupport, pOppose, alpha),
      seedsNeeded: power(distance),
    };
  }
  if (e.kind === "atMost") {
    const bound = e.margin * base;
    const pSupport = oneSidedP(c, bound, "below");
    return {
      effect,
      interval,
      p: pSupport,
      verdict: verdictOf(pSupport, oneSidedP(c, bound, "above"), alpha),
      seedsNeeded: power(bound - c.estimate),
    };
  }
  if (e.kind !== "within") throw new Error(`unreachable: ${e.kind}`);
  // TOST: both one-sided tests must reject; beyond either margin significantly contradicts.
  const bound = e.margin * base;
  const pSupport = Math.max(oneSidedP(c, bound, "below"), oneSidedP(c, -bound, "above"));
  const pOppose = Math.min(oneSidedP(c, bound, "above"), oneSidedP(c, -bound, "below"));
  return {
    effect,
    interval,
    p: pSupport,
    verdict: verdictOf(pSupport, pOppose, alpha),
    seedsNeeded: power(bound - Math.abs(c.estimate)),
  };
}

/** The contrast (1 − s)·of − policy + s·versus of a `closes` claim at share s. */
function gapContrast(s: number, pol: number[], of: number[], vs: number[]): Contrast | null {
  return contrast([
    { values: of, weight: 1 - s },
    { values: pol, weight: -1 },
    { values: vs, weight: s },
  ]);
}

/**
 * The Fieller interval of the share of the gap closed: the shares s whose contrast a two-sided
 * 5 % test does not reject, searched over [−1, 2] in steps of 0.001 (an end at the edge of the
 * search is open: infinite).
 */
function shareInterval(pol: number[], of: number[], vs: number[]): [number, number] | null {
  const kept: number[] = [];
  for (let i = -1000; i <= 2000; i++) {
    const c = gapContrast(i / 1000, pol, of, vs);
    if (!c) return null;
    const [lo, hi] = contrastInterval(c);
    if (lo <= 0 && hi >= 0) kept.push(i / 1000);
  }
  if (kept.length === 0) return null;
  const low = kept[0] === -1 ? -Infinity : kept[0];
  const high = kept.at(-1) === 2 ? Infinity : kept.at(-1)!;
  return [low, high];
}

/** Tests a `closes` claim. */
function testGap(
  claim: Claim & { expect: { kind: "closes" } },
  pol: number[],
  of: number[],
  vs: number[],
): Omit<ClaimResult, "claim"> {
  const gap = mean(of) - mean(vs);
  const c = gapContrast(claim.expect.share, pol, of, vs);
  if (!c) return untested();
  if (!(gap > 0)) {
    return {
      ...untested(),
      note: `${claim.expect.of} is not worse than ${claim.versus} here: there is no gap to close`,
    };
  }
  const pSupport = oneSidedP(c, 0, "above");
  return {
    effect: (mean(of) - mean(pol)) / gap,
    interval: shareInterval(pol, of, vs),
    p: pSupport,
    verdict: verdictOf(pSupport, oneSidedP(c, 0, "below"), claim.alpha),
    seedsNeeded: runsForOneSidedPower(c.estimate, c.unitSe, 3, claim.alpha),
  };
}

function untested(): Omit<ClaimResult, "claim"> {
  return { effect: null, interval: null, p: null, verdict: "untested", seedsNeeded: null };
}

/**
 * Tests every claim on the records of a suite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { testClaims } from "./claims.ts";
 * import type { RunRecord } from "../runner/record.ts";
 * const run = (policyName: string, seed: number, loss: number) => ({
 *   id: `${policyName}${seed}`, spec: { policyName, seed, train: { batch: 1 }, model: { seqLen: 1 } },
 *   result: { train: [], eval: [{ step: 10, loss, accuracy: 0 }], divergedAt: null },
 * }) as unknown as RunRecord;
 * const records = [
 *   run("bf16", 0, 2.00), run("bf16", 1, 2.01), run("bf16", 2, 1.99),
 *   run("mxfp4", 0, 2.10), run("mxfp4", 1, 2.12), run("mxfp4", 2, 2.11),
 * ];
 * const [r] = testClaims([{
 *   name: "c", source: "s", policy: "mxfp4", versus: "bf16", metric: { kind: "final" },
 *   expect: { kind: "worse" }, alpha: 0.05,
 * }], records);
 * assert.equal(r.verdict, "supported");
 * assert.ok(Math.abs(r.effect! - 0.055) < 1e-9);
 * ```
 */
export function testClaims(
  claims: readonly Claim[],
  records: readonly RunRecord[],
): ClaimResult[] {
  return claims.map((claim) => {
    const names = [
      claim.policy,
      claim.versus,
      ...(claim.expect.kind === "closes" ? [claim.expect.of] : []),
    ];
    const groups = names.map((name) => valuesOf(claim, name, records));
    const [pol, vs, of] = groups.map((g) => g.values);
    const unreached = groups.reduce((n, g) => n + g.runs - g.values.length, 0);
    if (groups.some((g) => g.values.length < 2)) {
      const what = claim.metric.kind === "tokensToLoss"
        ? " runs that reached the loss"
        : " runs with the metric";
      const counts = names.map((name, i) => `${name}: ${groups[i].values.length}`).join(", ");
      return { claim, ...untested(), note: `needs at least 2${what} per policy (${counts})` };
    }
    const result = claim.expect.kind === "closes"
      ? testGap(claim as Claim & { expect: { kind: "closes" } }, pol, of, vs)
      : testPair(claim, pol, vs);
    const notes = [
      ...("note" in result && result.note ? [result.note] : []),
      ...(unreached > 0
        ? [`${unreached} run${unreached === 1 ? "" : "s"} without the metric left out`]
        : []),
    ];
    return { claim, ...result, ...(notes.length ? { note: notes.join("; ") } : {}) };
  });
}
