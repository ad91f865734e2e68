/**
 * The learning-rate chart of a report: the learning rate each run recorded at its logged training
 * steps, per policy (mean over seeds). Policies on the same schedule — usually all of them — share
 * one line, named by the policies it stands for, rather than hiding each other.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import type { SuiteSummary } from "./aggregate.ts";
import { HEIGHT, round, WIDTH } from "./chart_style.ts";
import { seedMeans } from "./seed_stats.ts";

/** One point of a line: the policies it stands for, the step and the learning rate. */
interface LrPoint {
  readonly policies: string;
  readonly step: number;
  readonly lr: number;
}

/**
 * The lines of the chart: per distinct learning-rate curve (rounded to 6 significant digits),
 * its points, named `all policies` when every policy has it, else by its policies' names.
 */
function lrLines(summary: SuiteSummary): LrPoint[] {
  const means = seedMeans(summary, "train", (p) => p.lr);
  const curves = new Map<string, { names: string[]; points: [number, number][] }>();
  for (const { policy } of summary.policies) {
    const points = means.filter((m) => m.policy === policy)
      .map((m): [number, number] => [m.step, round(m.mean, 6)]);
    if (points.length === 0) continue;
    const key = JSON.stringify(points);
    const curve = curves.get(key) ?? { names: [], points };
    curve.names.push(policy);
    curves.set(key, curve);
  }
  const shared = curves.size === 1 &&
    [...curves.values()][0].names.length === summary.policies.length;
  return [...curves.values()].flatMap(({ names, points }) =>
    points.map(([step, lr]) => ({ policies: shared ? "all policies" : names.join(", "), step, lr }))
  );
}

/**
 * The Vega-Lite spec of the learning-rate chart, or null where no record holds learning rates
 * (records written before they were logged).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lrSpec } from "./chart_lr.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const run = (policyName: string, lr?: number) => ({
 *   spec: { policyName }, result: { train: [{ step: 10, loss: 2, accuracy: 0, lr }] },
 * });
 * const policies = [{ policy: "bf16" }, { policy: "nvfp4" }];
 * const s = { suite: "demo", policies, records: [run("bf16", 1e-3), run("nvfp4", 1e-3)] };
 * const spec = lrSpec(s as unknown as SuiteSummary) as { layer: { data: { values: unknown[] } }[] };
 * assert.deepEqual(spec.layer[0].data.values, [{ policies: "all policies", step: 10, lr: 1e-3 }]);
 * assert.equal(lrSpec({ ...s, records: [run("bf16")] } as unknown as SuiteSummary), null);
 * ```
 */
export function lrSpec(summary: SuiteSummary): TopLevelSpec | null {
  const values = lrLines(summary);
  if (values.length === 0) return null;
  const domain = [...new Set(values.map((v) => v.policies))];
  return {
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    title: {
      text: `${summary.suite}: learning rate`,
      subtitle: [
        "AdamW's learning rate at the logged training steps, mean over seeds;",
        "policies on the same schedule share a line",
      ],
    },
    layer: [{
      data: { values },
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "step", type: "quantitative", title: "step" },
        y: { field: "lr", type: "quantitative", title: "learning rate" },
        color: {
          field: "policies",
          type: "nominal",
          scale: { domain },
          title: "policies",
          legend: { labelLimit: 0 },
        },
        order: { field: "step", type: "quantitative" },
      },
    }],
  };
}
