/**
 * What a report reads from its runs' numeric-health diagnostics (`result.health`, src/health/):
 * each run's last diagnostic point, per policy, layer and GEMM the mean over seeds of a measure,
 * every alarm worst first, the parameters whose gradients held NaN or ±Inf, and the clipping
 * factor of the logged steps. Numbers a record could not hold (NaN, ±Inf are written as JSON
 * `null`) read as NaN, so a mean over them is NaN: the report shows them, it never averages them
 * away.
 *
 * @module
 */

import type { SuiteSummary } from "./aggregate.ts";
import type { GemmHealth, HealthAlarm, HealthPoint } from "../health/types.ts";
import type { RunRecord } from "../runner/record.ts";

/** The three GEMMs of a linear layer, in the order reports show them. */
export const GEMMS = ["fprop", "dgrad", "wgrad"] as const;

/**
 * A recorded measure as a number: NaN for JSON's `null` (what NaN and ±Inf become in a record).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { measure } from "./health_data.ts";
 * assert.equal(measure(0.17), 0.17);
 * assert.ok(Number.isNaN(measure(null)));
 * ```
 */
export function measure(x: number | null | undefined): number {
  return typeof x === "number" ? x : NaN;
}

/** The mean of `xs` (NaN if any is). */
export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The runs of `summary` with diagnostics and each one's last point, in the summary's order. */
export function lastPoints(summary: SuiteSummary): { record: RunRecord; point: HealthPoint }[] {
  return summary.records.flatMap((record) => {
    const point = record.result.health?.points.at(-1);
    return point ? [{ record, point }] : [];
  });
}

/** One policy's mean over seeds of a measure of one GEMM of one layer. */
export interface HealthCell {
  readonly policy: string;
  readonly layer: string;
  readonly gemm: GemmHealth["gemm"];
  readonly value: number;
}

/**
 * Per policy, layer and GEMM, the mean over seeds of `of` at each run's last diagnostic step; in
 * the summary's policy order, then layer order (as the model lists them), then Fprop, Dgrad, Wgrad.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { healthCells } from "./health_data.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const g = (relL2: number) => ({ gemm: "wgrad", relL2 });
 * const run = (relL2: number) => ({
 *   spec: { policyName: "nvfp4" },
 *   result: { health: { points: [{ step: 100, layers: [{ layer: "lm_head", gemms: [g(relL2)] }] }] } },
 * });
 * const summary = { records: [run(0.16), run(0.18)] } as unknown as SuiteSummary;
 * const [cell] = healthCells(summary, (g) => g.relL2);
 * assert.deepEqual({ ...cell, value: cell.value.toFixed(2) }, {
 *   policy: "nvfp4", layer: "lm_head", gemm: "wgrad", value: "0.17",
 * });
 * ```
 */
export function healthCells(
  summary: SuiteSummary,
  of: (g: GemmHealth) => number | null,
): HealthCell[] {
  const acc = new Map<string, { cell: Omit<HealthCell, "value">; xs: number[] }>();
  for (const { record, point } of lastPoints(summary)) {
    for (const { layer, gemms } of point.layers) {
      for (const g of gemms) {
        const cell = { policy: record.spec.policyName, layer, gemm: g.gemm };
        const key = JSON.stringify([cell.policy, layer, g.gemm]);
        const c = acc.get(key) ?? { cell, xs: [] };
        c.xs.push(measure(of(g)));
        acc.set(key, c);
      }
    }
  }
  return [...acc.values()].map(({ cell, xs }) => ({ ...cell, value: mean(xs) }));
}

/**
 * The mean over the cells of `policy` and `gemm` (a mean over layers of means over seeds), or
 * null where there is none.
 */
export function layerMean(
  cells: readonly HealthCell[],
  policy: string,
  gemm: GemmHealth["gemm"],
): number | null {
  const xs = cells.filter((c) => c.policy === policy && c.gemm === gemm).map((c) => c.value);
  return xs.length > 0 ? mean(xs) : null;
}

/** Alarms by kind, the worst kind first: a NaN or ±Inf, a biased GEMM, error, clipping, flushing. */
const KINDS: readonly HealthAlarm["measure"][] = [
  "nonFinite",
  "gain",
  "relL2",
  "saturation",
  "underflow",
];

/** How bad an alarm's value is within its kind: a gain by its distance from 1 (log-scale). */
function severity(a: HealthAlarm): number {
  const v = measure(a.value);
  if (!Number.isFinite(v)) return Infinity;
  return a.measure === "gain" ? (v > 0 ? Math.abs(Math.log(v)) : Infinity) : v;
}

/** Comparator of numbers, largest first (two infinities tie). */
const descending = (a: number, b: number) => (a === b ? 0 : a > b ? -1 : 1);

/** An alarm with the run that raised it. */
export interface RunAlarm {
  readonly record: RunRecord;
  readonly alarm: HealthAlarm;
}

/**
 * Every alarm of `records`, worst first: by kind (non-finite values, gain, relL2, saturation,
 * underflow), then by value within a kind (a gain by its distance from 1), then in the records'
 * order and the alarms' own order (a report's summary orders its records by policy and seed, so
 * its list does not depend on the order the records were read in).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankedAlarms } from "./health_data.ts";
 * import type { RunRecord } from "../runner/record.ts";
 * const alarm = (measure: string, value: number) => ({ step: 1, layer: "lm_head", gemm: "wgrad", measure, value, limit: "" });
 * const records = [{ result: { health: { alarms: [alarm("saturation", 0.002), alarm("gain", 0.7), alarm("saturation", 0.02)] } } }];
 * const ranked = rankedAlarms(records as unknown as RunRecord[]);
 * assert.deepEqual(ranked.map((r) => r.alarm.value), [0.7, 0.02, 0.002]);
 * ```
 */
export function rankedAlarms(records: readonly RunRecord[]): RunAlarm[] {
  return records
    .flatMap((record) => (record.result.health?.alarms ?? []).map((alarm) => ({ record, alarm })))
    .sort((x, y) =>
      KINDS.indexOf(x.alarm.measure) - KINDS.indexOf(y.alarm.measure) ||
      descending(severity(x.alarm), severity(y.alarm))
    );
}

/** A parameter whose gradient held NaN or ±Inf at a diagnostic step. */
export interface NonFiniteGradient {
  readonly record: RunRecord;
  readonly step: number;
  readonly parameter: string;
  readonly count: number;
}

/** Every nonzero non-finite gradient count of `records`, in record, step and parameter order. */
export function nonFiniteGradients(records: readonly RunRecord[]): NonFiniteGradient[] {
  return records.flatMap((record) =>
    (record.result.health?.points ?? []).flatMap((p) =>
      Object.keys(p.gradNonFinite).sort().flatMap((parameter) => {
        const count = measure(p.gradNonFinite[parameter]);
        return count > 0 || Number.isNaN(count) ? [{ record, step: p.step, parameter, count }] : [];
      })
    )
  );
}

/**
 * The smallest clipping factor `min(1, clip / ‖g‖)` of `records`' logged training steps (1: no
 * step was clipped), or null without clipping or recorded gradient norms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { minClipFactor } from "./health_data.ts";
 * import type { RunRecord } from "../runner/record.ts";
 * const run = (clip: number | null, ...norms: number[]) =>
 *   ({ spec: { train: { clip } }, result: { train: norms.map((gradNorm) => ({ gradNorm })) } }) as unknown as RunRecord;
 * assert.equal(minClipFactor([run(1, 0.5, 4, 2)]), 0.25);
 * assert.equal(minClipFactor([run(1, 0.5)]), 1);
 * assert.equal(minClipFactor([run(null, 4)]), null);
 * ```
 */
export function minClipFactor(records: readonly RunRecord[]): number | null {
  let min: number | null = null;
  for (const r of records) {
    const clip = r.spec.train.clip;
    if (clip == null) continue;
    for (const p of r.result.train) {
      if (typeof p.gradNorm !== "number" || !(p.gradNorm > 0) || !Number.isFinite(p.gradNorm)) {
        continue;
      }
      min = Math.min(min ?? 1, clip / p.gradNorm, 1);
    }
  }
  return min;
}
