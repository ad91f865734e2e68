/**
 * The throughput chart of a report: training tokens per second per policy, a bar at the median
 * over seeds (the table's tokens/s) with a whisker from the slowest to the fastest seed. Records
 * hold one throughput per run (the median over its logging windows), so this is a bar chart rather
 * than a curve over training.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import type { SuiteSummary } from "./aggregate.ts";
import { policyColor, WIDTH } from "./chart_style.ts";

/** A policy's bar: median tokens/s over seeds, the min and max over seeds and how many seeds. */
interface Bar {
  readonly policy: string;
  readonly tokens: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

function bars(summary: SuiteSummary): Bar[] {
  return summary.policies.flatMap((p) => {
    const runs = p.runs.flatMap((r) =>
      r.tokensPerSecond !== null && Number.isFinite(r.tokensPerSecond) ? [r.tokensPerSecond] : []
    );
    if (p.tokensPerSecond === null || runs.length === 0) return [];
    return [{
      policy: p.policy,
      tokens: Math.round(p.tokensPerSecond),
      min: Math.round(Math.min(...runs)),
      max: Math.round(Math.max(...runs)),
      n: runs.length,
    }];
  });
}

/**
 * The Vega-Lite spec of the throughput chart, or null where no run recorded its tokens/s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { throughputSpec } from "./chart_throughput.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const policy = (name: string, ...tps: number[]) => ({
 *   policy: name, tokensPerSecond: tps[0], runs: tps.map((t) => ({ tokensPerSecond: t })),
 * });
 * const s = { suite: "demo", policies: [policy("bf16", 900, 1100), policy("nvfp4", 1200)] };
 * const spec = throughputSpec(s as unknown as SuiteSummary) as { layer: { data: { values: unknown[] } }[] };
 * assert.deepEqual(spec.layer[1].data.values, [{ policy: "bf16", tokens: 900, min: 900, max: 1100, n: 2 }]);
 * assert.equal(throughputSpec({ ...s, policies: [] } as unknown as SuiteSummary), null);
 * ```
 */
export function throughputSpec(summary: SuiteSummary): TopLevelSpec | null {
  const values = bars(summary);
  if (values.length === 0) return null;
  const color = policyColor(summary);
  const y = {
    field: "policy",
    type: "nominal" as const,
    sort: color.scale.domain,
    title: "policy",
  };
  const spread = values.filter((v) => v.n >= 2);
  return {
    width: WIDTH,
    height: { step: 28 },
    background: "white",
    title: {
      text: `${summary.suite}: throughput`,
      subtitle: spread.length > 0
        ? "training tokens/s: bars the median over seeds, whiskers the slowest and fastest seed"
        : "training tokens/s (wall clock, median over the logging windows)",
    },
    layer: [
      {
        data: { values },
        mark: { type: "bar" },
        encoding: {
          x: { field: "tokens", type: "quantitative", title: "tokens/s" },
          y,
          color: { ...color, legend: null },
        },
      },
      ...(spread.length > 0
        ? [{
          data: { values: spread },
          mark: { type: "rule" as const, color: "black" },
          encoding: {
            x: { field: "min", type: "quantitative" as const },
            x2: { field: "max" },
            y,
          },
        }]
        : []),
    ],
  };
}
