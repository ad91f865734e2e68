/**
 * The "Numeric health" section of a suite report, from the records' diagnostics (src/health/):
 * per policy the GEMM-output relL2 of Fprop, Dgrad and Wgrad with their operands' (mean over
 * layers at the last diagnostic step, mean over seeds), a layer × GEMM heatmap of the output
 * relL2 per policy, the alarms (worst first, capped), the share of logged steps whose gradient
 * was clipped, and the runs an alarm stopped. Absent where no record has diagnostics.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import type { SuiteSummary } from "./aggregate.ts";
import { round } from "./chart_style.ts";
import { fixed } from "./format.ts";
import type { GemmHealth, HealthAlarm, HealthPoint } from "../health/types.ts";
import type { RunRecord } from "../runner/record.ts";

/** The heatmap's file name in the report's chart folder. */
export const HEALTH_CHART = "health-rel-l2.svg";

/** Alarms listed in the report; the rest are counted. */
export const ALARM_ROWS = 20;

const GEMMS = ["fprop", "dgrad", "wgrad"] as const;

/** The records of `summary` with diagnostics, and each one's last point. */
function lastPoints(summary: SuiteSummary): { record: RunRecord; point: HealthPoint }[] {
  return summary.records.flatMap((record) => {
    const point = record.result.health?.points.at(-1);
    return point ? [{ record, point }] : [];
  });
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Per policy, layer and GEMM, the mean over seeds of a measure at the last diagnostic step. */
function cells(
  summary: SuiteSummary,
  measure: (g: GemmHealth) => number,
): { policy: string; layer: string; gemm: string; value: number }[] {
  const acc = new Map<string, { policy: string; layer: string; gemm: string; xs: number[] }>();
  for (const { record, point } of lastPoints(summary)) {
    for (const { layer, gemms } of point.layers) {
      for (const g of gemms) {
        const key = JSON.stringify([record.spec.policyName, layer, g.gemm]);
        const c = acc.get(key) ?? { policy: record.spec.policyName, layer, gemm: g.gemm, xs: [] };
        c.xs.push(measure(g));
        acc.set(key, c);
      }
    }
  }
  return [...acc.values()].map(({ xs, ...c }) => ({ ...c, value: mean(xs) }));
}

/**
 * The heatmap of GEMM-output relL2, layer × GEMM, one panel per policy; null without diagnostics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { healthHeatmapSpec } from "./health_section.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * assert.equal(healthHeatmapSpec({ records: [], policies: [] } as unknown as SuiteSummary), null);
 * ```
 */
export function healthHeatmapSpec(summary: SuiteSummary): TopLevelSpec | null {
  const values = cells(summary, (g) => g.relL2).map((c) => ({ ...c, value: round(c.value, 4) }));
  if (values.length === 0) return null;
  const layers = [...new Set(values.map((v) => v.layer))];
  const policies = summary.policies.map((p) => p.policy).filter((p) =>
    values.some((v) => v.policy === p)
  );
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
      width: 3 * 40,
      height: layers.length * 16,
      layer: [
        {
          mark: "rect",
          encoding: {
            x: { field: "gemm", type: "nominal", sort: [...GEMMS], title: null },
            y: { field: "layer", type: "nominal", sort: layers, title: null },
            color: {
              field: "value",
              type: "quantitative",
              title: "relL2",
              scale: { scheme: "orangered", domainMin: 0 },
            },
          },
        },
        {
          mark: { type: "text", fontSize: 8 },
          encoding: {
            x: { field: "gemm", type: "nominal", sort: [...GEMMS] },
            y: { field: "layer", type: "nominal", sort: layers },
            text: { field: "value", type: "quantitative", format: ".3f" },
          },
        },
      ],
    },
  } as TopLevelSpec;
}

/** Every alarm of the records with the run it belongs to, worst first within each measure. */
function alarmRows(summary: SuiteSummary): { record: RunRecord; alarm: HealthAlarm }[] {
  const order = ["nonFinite", "gain", "relL2", "saturation", "underflow"];
  const severity = (a: HealthAlarm) => a.measure === "gain" ? Math.abs(Math.log(a.value)) : a.value;
  return summary.records
    .flatMap((record) => (record.result.health?.alarms ?? []).map((alarm) => ({ record, alarm })))
    .sort((x, y) =>
      order.indexOf(x.alarm.measure) - order.indexOf(y.alarm.measure) ||
      severity(y.alarm) - severity(x.alarm) ||
      x.record.spec.policyName.localeCompare(y.record.spec.policyName) ||
      x.record.spec.seed - y.record.spec.seed || x.alarm.step - y.alarm.step
    );
}

/** Share of a record's logged training steps whose gradient norm exceeded the clip limit. */
function clippedShare(record: RunRecord): number | null {
  const clip = record.spec.train.clip;
  const norms = record.result.train.flatMap((p) =>
    typeof p.gradNorm === "number" && Number.isFinite(p.gradNorm) ? [p.gradNorm] : []
  );
  if (clip === null || norms.length === 0) return null;
  return norms.filter((n) => n > clip).length / norms.length;
}

/**
 * The section's parts: headings, paragraphs and markdown tables (rendered by `table`), or none
 * where no record has diagnostics.
 */
export function healthSection(
  summary: SuiteSummary,
  chartDir: string,
  table: (rows: string[][], align: string[]) => string,
): string[] {
  const points = lastPoints(summary);
  if (points.length === 0) return [];
  const relL2 = cells(summary, (g) => g.relL2);
  const opA = cells(summary, (g) => g.a.relL2);
  const opB = cells(summary, (g) => g.b.relL2);
  const at = (list: typeof relL2, policy: string, gemm: string) => {
    const xs = list.filter((c) => c.policy === policy && c.gemm === gemm).map((c) => c.value);
    return xs.length > 0 ? mean(xs) : null;
  };
  const policies = summary.policies.map((p) => p.policy).filter((p) =>
    relL2.some((c) => c.policy === p)
  );
  const summaryRows = policies.map((policy) => [
    policy,
    ...GEMMS.map((gemm) => {
      const c = at(relL2, policy, gemm);
      if (c === null) return "—";
      return `${fixed(c, 4)} (${fixed(at(opA, policy, gemm), 3)} · ${
        fixed(at(opB, policy, gemm), 3)
      })`;
    }),
    (() => {
      const shares = summary.records.filter((r) => r.spec.policyName === policy)
        .map(clippedShare).filter((s): s is number => s !== null);
      return shares.length > 0 ? `${fixed(100 * mean(shares), 0)} %` : "—";
    })(),
  ]);
  const steps = [...new Set(points.map((p) => p.point.step))].sort((a, b) => a - b);
  const alarms = alarmRows(summary);
  const shown = alarms.slice(0, ALARM_ROWS).map(({ record, alarm: a }) => [
    record.spec.policyName,
    String(record.spec.seed),
    String(a.step),
    a.layer,
    a.gemm,
    a.operand ?? "output",
    a.measure,
    a.measure === "nonFinite" ? String(a.value) : fixed(a.value, 4),
    a.limit,
  ]);
  const stopped = summary.records.filter((r) => r.result.health?.stoppedAt != null);
  const perRun = summary.records.filter((r) => r.result.health).map((r) =>
    r.result.health!.points.length
  );
  return [
    "## Numeric health",
    `Per-GEMM diagnostics (src/health/) at ${perRun.length} runs' diagnostic steps ` +
    `(last: step ${steps.join(", ")}): each GEMM's operands re-quantized from their ` +
    `high-precision sources exactly as training quantized them, and the product compared with ` +
    `the FP32 GEMM of the sources. relL2 = ‖C_Q − C_FP32‖ / ‖C_FP32‖, mean over layers and seeds ` +
    `at the last diagnostic step; in brackets the two operands' own relL2 (A · B: x · w for ` +
    `Fprop, dy · w for Dgrad, dy · x for Wgrad). Clipped: the share of logged steps whose ` +
    `gradient norm exceeded the clipping limit.`,
    table(
      [
        ["policy", "Fprop relL2 (A · B)", "Dgrad relL2 (A · B)", "Wgrad relL2 (A · B)", "clipped"],
        ...summaryRows,
      ],
      ["l", "r", "r", "r", "r"],
    ),
    `![GEMM output relL2 per layer and GEMM](${chartDir}/${HEALTH_CHART})`,
    alarms.length === 0
      ? "No alarm: no operand saturated or flushed beyond its limit, no gain left its range and " +
        "no value was NaN or infinite."
      : `Alarms (thresholds of each recipe's \`health.alarms\`; saturation: values past rounding ` +
        `to the format's largest; underflow: nonzero values flushed to zero), ` +
        `${
          alarms.length > ALARM_ROWS
            ? `the worst ${ALARM_ROWS} of ${alarms.length}`
            : `all ${alarms.length}`
        }:`,
    ...(alarms.length > 0
      ? [table(
        [
          ["policy", "seed", "step", "layer", "GEMM", "operand", "measure", "value", "limit"],
          ...shown,
        ],
        ["l", "r", "r", "l", "l", "l", "l", "r", "l"],
      )]
      : []),
    ...(stopped.length > 0
      ? [
        `**Stopped by an alarm:** ${
          stopped.map((r) =>
            `${r.spec.policyName} seed ${r.spec.seed} at step ${r.result.health!.stoppedAt}`
          )
            .join("; ")
        }.`,
      ]
      : []),
  ];
}
