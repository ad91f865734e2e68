/**
 * Every run's curves as one CSV beside the report (`<suite>/curves.csv`), so that readers can
 * re-plot or re-analyse them without parsing the records: one row per run, split and logged step,
 * with the loss and accuracy, and for training points the gradient norm before clipping and the
 * learning rate where the record holds them.
 *
 * @module
 */

import type { SuiteSummary } from "./aggregate.ts";

const HEADER = "policy,seed,run,split,step,loss,accuracy,grad_norm,lr";

/** A number as CSV: shortest round-trip form, empty for NaN/Infinity (a diverged point). */
const cell = (x: number) => (Number.isFinite(x) ? String(x) : "");

/** An optional number as CSV: empty where the point has none (older records, validation points). */
const optional = (x: number | null | undefined) => (typeof x === "number" ? cell(x) : "");

/**
 * The CSV of the suite's curves: `policy,seed,run,split,step,loss,accuracy,grad_norm,lr`, runs in
 * the order of the report's runs table, training points before validation points; `grad_norm`
 * and `lr` are empty where a point has none (validation points, records written before they were
 * logged).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { curvesCsv } from "./curves_csv.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const record = {
 *   id: "ab12", spec: { policyName: "nvfp4", seed: 0 },
 *   result: {
 *     train: [{ step: 10, loss: 2.5, accuracy: 0.3, gradNorm: 0.75, lr: 0.003 }],
 *     eval: [{ step: 10, loss: NaN, accuracy: 0 }],
 *   },
 * };
 * const csv = curvesCsv({ records: [record] } as unknown as SuiteSummary);
 * assert.equal(
 *   csv,
 *   "policy,seed,run,split,step,loss,accuracy,grad_norm,lr\n" +
 *     "nvfp4,0,ab12,train,10,2.5,0.3,0.75,0.003\nnvfp4,0,ab12,val,10,,0,,\n",
 * );
 * ```
 */
export function curvesCsv(summary: SuiteSummary): string {
  const rows = [HEADER];
  for (const r of summary.records) {
    const head = `${r.spec.policyName},${r.spec.seed},${r.id}`;
    for (const [split, points] of [["train", r.result.train], ["val", r.result.eval]] as const) {
      for (const p of points) {
        rows.push(
          `${head},${split},${p.step},${cell(p.loss)},${cell(p.accuracy)},` +
            `${optional(p.gradNorm)},${optional(p.lr)}`,
        );
      }
    }
  }
  return rows.join("\n") + "\n";
}
