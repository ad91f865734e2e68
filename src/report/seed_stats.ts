/**
 * Curves across seeds, per policy and logged step, straight from the records: the mean of a
 * value a run's points carry (gradient norm, learning rate) and the min–max band over seeds of
 * a value (loss, or loss relative to the baseline) that the charts shade.
 *
 * @module
 */

import type { RunRecord } from "../runner/record.ts";
import type { CurvePoint } from "../train/loop.ts";
import type { SuiteSummary } from "./aggregate.ts";

/** Which of a record's curves: the training points or the validation points. */
export type Split = "train" | "eval";

/** What a chart takes from one point of a run of `policy`: a number, or nothing to skip it. */
export type Pick = (point: CurvePoint, policy: string) => number | null | undefined;

/** A policy's mean over seeds at one step. */
export interface SeedMean {
  readonly policy: string;
  readonly step: number;
  readonly mean: number;
}

/** A policy's min and max over seeds at one step. */
export interface SeedBand {
  readonly policy: string;
  readonly step: number;
  readonly min: number;
  readonly max: number;
}

const runsOf = (summary: SuiteSummary, policy: string): RunRecord[] =>
  summary.records.filter((r) => r.spec.policyName === policy);

/** The finite values `pick` takes from the runs' points, by step, in step order. */
function byStep(
  runs: readonly RunRecord[],
  split: Split,
  policy: string,
  pick: Pick,
): [number, number[]][] {
  const values = new Map<number, number[]>();
  for (const r of runs) {
    for (const p of r.result[split]) {
      const v = pick(p, policy);
      if (typeof v === "number" && Number.isFinite(v)) {
        values.set(p.step, [...(values.get(p.step) ?? []), v]);
      }
    }
  }
  return [...values.entries()].sort(([a], [b]) => a - b);
}

/**
 * Per policy (in the summary's order) and step, the mean over its runs of the finite values that
 * `pick` takes from their `split` points.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seedMeans } from "./seed_stats.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const run = (lr: number) => ({ spec: { policyName: "bf16" }, result: { train: [{ step: 10, loss: 2, accuracy: 0, lr }] } });
 * const s = { policies: [{ policy: "bf16" }], records: [run(1), run(3)] } as unknown as SuiteSummary;
 * assert.deepEqual(seedMeans(s, "train", (p) => p.lr), [{ policy: "bf16", step: 10, mean: 2 }]);
 * ```
 */
export function seedMeans(summary: SuiteSummary, split: Split, pick: Pick): SeedMean[] {
  return summary.policies.flatMap((p) =>
    byStep(runsOf(summary, p.policy), split, p.policy, pick).map(([step, vs]) => ({
      policy: p.policy,
      step,
      mean: vs.reduce((a, b) => a + b, 0) / vs.length,
    }))
  );
}

/**
 * Per policy with at least two runs and per step where at least two of them have a finite value,
 * the min and max over the runs of the value `pick` takes from their `split` points (default the
 * loss): the seeds' band around the policy's mean curve. Policies with one run have none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seedBands } from "./seed_stats.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const run = (policyName: string, loss: number) => ({ spec: { policyName }, result: { eval: [{ step: 50, loss, accuracy: 0 }] } });
 * const s = {
 *   policies: [{ policy: "bf16" }, { policy: "nvfp4" }],
 *   records: [run("bf16", 2.1), run("bf16", 2.3), run("nvfp4", 2.2)],
 * } as unknown as SuiteSummary;
 * assert.deepEqual(seedBands(s, "eval"), [{ policy: "bf16", step: 50, min: 2.1, max: 2.3 }]);
 * ```
 */
export function seedBands(
  summary: SuiteSummary,
  split: Split,
  pick: Pick = (p) => p.loss,
): SeedBand[] {
  return summary.policies.flatMap((p) => {
    const runs = runsOf(summary, p.policy);
    if (runs.length < 2) return [];
    return byStep(runs, split, p.policy, pick).filter(([, vs]) => vs.length >= 2)
      .map(([step, vs]) => ({
        policy: p.policy,
        step,
        min: Math.min(...vs),
        max: Math.max(...vs),
      }));
  });
}
