/**
 * The numeric-health heatmap of a report: the GEMM-output relL2 against the FP32 GEMM, one row per
 * linear layer (in model order) and one column per GEMM (Fprop, Dgrad, Wgrad), one panel per
 * policy (in the report's order), each cell the mean over seeds at each run's last diagnostic step,
 * labelled with its value (white on the darkest cells); a NaN or ±Inf cell is grey and labelled
 * `NaN`. Values are rounded
 * before plotting so the SVG stays small and stable.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import type { SuiteSummary } from "./aggregate.ts";
import { round } from "./chart_style.ts";
import { GEMMS, healthCells } from "./health_data.ts";

/** The heatmap's file name in the report's chart folder. */
export const HEALTH_CHART = "health-rel-l2.svg";

/** A cell's size (px). */
const CELL = { width: 44, height: 16 };

/**
 * The heatmap of GEMM-output relL2, layer × GEMM, one panel per policy; null where no run has
 * diagnostics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { healthHeatmapSpec } from "./chart_health.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * assert.equal(healthHeatmapSpec({ records: [], policies: [] } as unknown as SuiteSummary), null);
 * ```
 */
export function healthHeatmapSpec(summary: SuiteSummary): TopLevelSpec | null {
  const values = healthCells(summary, (g) => g.relL2).map((c) => {
    const finite = Number.isFinite(c.value);
    return {
      ...c,
      value: finite ? round(c.value, 4) : null,
      label: !finite ? "NaN" : c.value >= 0.01 ? c.value.toFixed(3) : c.value.toPrecision(2),
    };
  });
  if (values.length === 0) return null;
  const layers = [...new Set(values.map((v) => v.layer))];
  const policies = summary.policies.map((p) => p.policy).filter((p) =>
    values.some((v) => v.policy === p)
  );
  // Dark cells get white labels.
  const dark = 0.6 * Math.max(...values.map((v) => v.value ?? 0));
  const x = {
    field: "gemm",
    type: "nominal" as const,
    sort: [...GEMMS],
    title: null,
    axis: { labelAngle: 0, orient: "top" as const },
  };
  const y = { field: "layer", type: "nominal" as const, sort: layers, title: null };
  return {
    background: "white",
    title: {
      text: `${summary.suite}: GEMM output error vs FP32 (relL2)`,
      subtitle: "‖C_Q − C_FP32‖ / ‖C_FP32‖ per layer and GEMM at the last diagnostic step, " +
        "mean over seeds",
    },
    data: { values },
    facet: { column: { field: "policy", type: "nominal", sort: policies, title: null } },
    spec: {
      width: GEMMS.length * CELL.width,
      height: layers.length * CELL.height,
      layer: [
        {
          transform: [{ filter: "datum.value !== null" }],
          mark: "rect",
          encoding: {
            x,
            y,
            color: {
              field: "value",
              type: "quantitative",
              title: "relL2",
              scale: { scheme: "orangered", domainMin: 0 },
            },
          },
        },
        {
          transform: [{ filter: "datum.value === null" }],
          mark: { type: "rect", color: "#bbbbbb" },
          encoding: { x, y },
        },
        {
          mark: { type: "text", fontSize: 8 },
          encoding: {
            x,
            y,
            text: { field: "label", type: "nominal" },
            color: {
              condition: { test: `datum.value > ${round(dark, 4)}`, value: "white" },
              value: "black",
            },
          },
        },
      ],
    },
  };
}
