/**
 * The look every chart of a report shares: its size, a white background, one colour per policy
 * (the same colour in every chart, baseline first) and the rounding of plotted values, which keeps
 * the SVG small and stable.
 *
 * @module
 */

import type { SuiteSummary } from "./aggregate.ts";

/** Width of a chart's plot area (px). */
export const WIDTH = 640;
/** Height of a chart's plot area (px). */
export const HEIGHT = 320;

/**
 * `x` rounded to `digits` significant digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { round } from "./chart_style.ts";
 * assert.equal(round(2.3456789, 3), 2.35);
 * ```
 */
export function round(x: number, digits: number): number {
  return Number(x.toPrecision(digits));
}

/**
 * The colour encoding of a chart's `policy` field: every policy of the suite in the report's
 * order, so that a policy keeps its colour from chart to chart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { policyColor } from "./chart_style.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const s = { policies: [{ policy: "bf16" }, { policy: "nvfp4" }] } as unknown as SuiteSummary;
 * assert.deepEqual(policyColor(s).scale.domain, ["bf16", "nvfp4"]);
 * ```
 */
export function policyColor(summary: SuiteSummary): {
  field: "policy";
  type: "nominal";
  scale: { domain: string[] };
  title: string;
} {
  return {
    field: "policy",
    type: "nominal",
    scale: { domain: summary.policies.map((p) => p.policy) },
    title: "policy",
  };
}
