/**
 * Every run's loss curves as one CSV beside the report (`<suite>/curves.csv`), so that readers can
 * re-plot or re-analyse them without parsing the records: one row per run, split and logged step.
 *
 * @module
 */

import type { SuiteSummary } from "./aggregate.ts";

const HEADER = "policy,seed,run,split,step,loss,accuracy";

/** A number as CSV: shortest round-trip form, empty for NaN/Infinity (a diverged point). */
const cell = (x: number) => (Number.isFinite(x) ? String(x) : "");

/**
 * The CSV of the suite's curves: `policy,seed,run,split,step,loss,accuracy`, runs in the order of
 * the report's runs table, training points before validation points.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { curvesCsv } from "./curves_csv.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const record = {
 *   id: "ab12", spec: { policyName: "nvfp4", seed: 0 },
 *   result: { train: [{ step: 10, loss: 2.5, accuracy: 0.3 }], eval: [{ step: 10, loss: NaN, accuracy: 0 }] },
 * };
 * const csv = curvesCsv({ records: [record] } as unknown as SuiteSummary);
 * assert.equal(csv, "policy,seed,run,split,step,loss,accuracy\nnvfp4,0,ab12,train,10,2.5,0.3\nnvfp4,0,ab12,val,10,,0\n");
 * ```
 */
export function curvesCsv(summary: SuiteSummary): string {
  const rows = [HEADER];
  for (const r of summary.records) {
    const head = `${r.spec.policyName},${r.spec.seed},${r.id}`;
    for (const [split, points] of [["train", r.result.train], ["val", r.result.eval]] as const) {
      for (const p of points) {
        rows.push(`${head},${split},${p.step},${cell(p.loss)},${cell(p.accuracy)}`);
      }
    }
  }
  return rows.join("\n") + "\n";
}
