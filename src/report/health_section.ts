/**
 * The "Numeric health" section of a suite report, from the runs' diagnostics (src/health/): per
 * policy the GEMM-output relL2 of Fprop, Dgrad and Wgrad with their operands' (mean over layers at
 * each run's last diagnostic step, mean over seeds) and how hard gradient clipping bit; the
 * layer × GEMM heatmap (`chart_health.ts`); every alarm, worst first (the first
 * {@link ALARM_ROWS}); parameters whose gradients held NaN or ±Inf; and the runs an alarm stopped.
 * Absent where no run has diagnostics.
 *
 * @module
 */

import type { SuiteSummary } from "./aggregate.ts";
import { HEALTH_CHART } from "./chart_health.ts";
import { fixed, table, wrap } from "./format.ts";
import {
  GEMMS,
  healthCells,
  lastPoints,
  layerMean,
  measure,
  minClipFactor,
  nonFiniteGradients,
  rankedAlarms,
} from "./health_data.ts";
import type { RunRecord } from "../runner/record.ts";

/** Alarms listed in the report; the rest are counted. */
export const ALARM_ROWS = 20;

/** Parameters with non-finite gradients listed in the report; the rest are counted. */
const NON_FINITE_ROWS = 10;

/** A measure with `digits` decimals; NaN and ±Inf (JSON `null` in a record) as `NaN`. */
const value = (x: number | null, digits: number) =>
  x !== null && !Number.isFinite(x) ? "NaN" : fixed(x, digits);

const run = (r: RunRecord) => `${r.spec.policyName} seed ${r.spec.seed}`;

/** The per-policy table: each GEMM's output relL2 with its operands', and clipping. */
function policyTable(summary: SuiteSummary): string {
  const out = healthCells(summary, (g) => g.relL2);
  const a = healthCells(summary, (g) => g.a.relL2);
  const b = healthCells(summary, (g) => g.b.relL2);
  const rows = summary.policies.filter((p) => out.some((c) => c.policy === p.policy)).map((p) => {
    const records = summary.records.filter((r) => r.spec.policyName === p.policy);
    const clipped = records.every((r) => r.spec.train.clip == null)
      ? "off"
      : p.clipped === null
      ? "—"
      : `${fixed(100 * p.clipped, 0)} %`;
    return [
      p.policy,
      ...GEMMS.map((gemm) => {
        const c = layerMean(out, p.policy, gemm);
        if (c === null) return "—";
        return `${value(c, 4)} (${value(layerMean(a, p.policy, gemm), 3)} · ${
          value(layerMean(b, p.policy, gemm), 3)
        })`;
      }),
      clipped,
      fixed(minClipFactor(records), 3),
    ];
  });
  return table(
    [
      [
        "policy",
        "Fprop relL2 (A · B)",
        "Dgrad relL2 (A · B)",
        "Wgrad relL2 (A · B)",
        "clipped steps",
        "min clip factor",
      ],
      ...rows,
    ],
    ["l", "r", "r", "r", "r", "r"],
  );
}

/** The alarms paragraph and table (the worst {@link ALARM_ROWS}), or the line saying none rang. */
function alarmParts(summary: SuiteSummary): string[] {
  const alarms = rankedAlarms(summary.records);
  if (alarms.length === 0) {
    return [
      wrap(
        "No alarm: no operand clipped or flushed more than its limit, no GEMM gain left its " +
          "range, no GEMM error exceeded its limit and no operand or output was NaN or infinite.",
      ),
    ];
  }
  const rows = alarms.slice(0, ALARM_ROWS).map(({ record, alarm: a }) => [
    record.spec.policyName,
    String(record.spec.seed),
    a.step === record.result.health?.stoppedAt ? `${a.step} (stopped)` : String(a.step),
    a.layer,
    a.gemm,
    a.operand ?? "output",
    a.measure,
    a.measure === "nonFinite" ? value(measure(a.value), 0) : value(measure(a.value), 4),
    a.limit,
  ]);
  const more = alarms.length - rows.length;
  return [
    wrap(
      `Alarms, worst first (NaN or infinite values, then GEMM gain by its distance from 1, GEMM ` +
        `relL2, saturation — the share of an operand's values past rounding to the format's largest — ` +
        `and underflow — the share of its nonzero values flushed to zero — each by value), with ` +
        `the thresholds of each recipe's \`health.alarms\`:`,
    ),
    table(
      [
        ["policy", "seed", "step", "layer", "GEMM", "operand", "measure", "value", "limit"],
        ...rows,
      ],
      ["l", "r", "r", "l", "l", "l", "l", "r", "l"],
    ),
    ...(more > 0 ? [wrap(`… and ${more} more alarms (\`deno task health\` lists them).`)] : []),
  ];
}

/** The line naming parameters whose gradients held NaN or ±Inf, or none. */
function nonFiniteParts(summary: SuiteSummary): string[] {
  const found = nonFiniteGradients(summary.records);
  if (found.length === 0) return [];
  const shown = found.slice(0, NON_FINITE_ROWS).map((f) =>
    `${run(f.record)} step ${f.step} \`${f.parameter}\` (${value(f.count, 0)})`
  );
  const more = found.length - shown.length;
  return [
    wrap(
      `**Non-finite gradients** (NaN or ±Inf values of a parameter's gradient at a diagnostic ` +
        `step): ${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}.`,
    ),
  ];
}

/**
 * The section's markdown blocks (heading, paragraphs, tables, the heatmap's image linked from
 * `chartDir`), or none where no run of `summary` has diagnostics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { healthSection } from "./health_section.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * assert.deepEqual(healthSection({ records: [], policies: [] } as unknown as SuiteSummary, "x"), []);
 * ```
 */
export function healthSection(summary: SuiteSummary, chartDir: string): string[] {
  const points = lastPoints(summary);
  if (points.length === 0) return [];
  const every = [...new Set(points.map((p) => p.record.result.health!.config.every))];
  const stopped = summary.records.filter((r) => r.result.health?.stoppedAt != null);
  const without = summary.records.length - points.length;
  const charted = summary.records.some((r) =>
    r.result.train.some((p) => typeof p.gradNorm === "number" && p.gradNorm > 0)
  );
  return [
    "## Numeric health",
    wrap(
      `Diagnostics of ${points.length} ${points.length === 1 ? "run" : "runs"}${
        without > 0 ? ` (${without} more have none)` : ""
      }, taken every ${every.join(" or ")} steps and at the last: each GEMM's operands ` +
        `re-quantized from their high-precision sources as training quantized them, and the ` +
        `product compared with the FP32 GEMM of the sources. relL2 = ‖C_Q − C_FP32‖ / ‖C_FP32‖ ` +
        `at each run's last diagnostic step, mean over layers and seeds; in brackets the two ` +
        `operands' own relL2 (A · B: x · w for Fprop, dy · w for Dgrad, dy · x for Wgrad). ` +
        `Clipped steps: the share of logged steps whose gradient norm exceeded the clipping ` +
        `threshold; min clip factor: the smallest min(1, clip / ‖g‖) of those steps${
          charted ? " (the gradient norm is charted under Training curves)" : ""
        }.`,
    ),
    policyTable(summary),
    `![GEMM output relL2 vs FP32 per layer and GEMM](${chartDir}/${HEALTH_CHART})`,
    ...alarmParts(summary),
    ...nonFiniteParts(summary),
    ...(stopped.length > 0
      ? [
        wrap(
          `**Stopped by an alarm** (\`health.alarms.stop\`): ${
            stopped.map((r) => `${run(r)} at step ${r.result.health!.stoppedAt}`).join("; ")
          }. A stopped run's last diagnostic point is that of its stopping step.`,
        ),
      ]
      : []),
  ];
}
