/**
 * `deno task health`: the worst offenders of runs' numeric-health diagnostics as aligned plain
 * text — the alarms (worst first), the runs an alarm stopped and the parameters whose gradients
 * held NaN or ±Inf, then the GEMM outputs with the largest relL2 and the gain furthest from 1, and
 * the operands with the largest relL2, saturation and underflow, over every diagnostic step of
 * every run. NaN and ±Inf (JSON `null` in a record) count as the worst of all.
 *
 * @module
 */

import { measure, nonFiniteGradients, rankedAlarms } from "./health_data.ts";
import type { GemmHealth, OperandHealth } from "../health/types.ts";
import type { RunRecord } from "../runner/record.ts";

/** Where a measure was taken. */
interface Site {
  readonly run: string;
  readonly step: number;
  readonly layer: string;
  readonly gemm: GemmHealth["gemm"];
}

/**
 * Rows as aligned columns two spaces apart: text left-aligned, numbers (and `NaN`)
 * right-aligned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { columns } from "./health_offenders.ts";
 * assert.equal(columns([["layer", "value"], ["lm_head", "0.17"], ["x", "12"]]), [
 *   "layer    value",
 *   "lm_head   0.17",
 *   "x           12",
 * ].join("\n"));
 * ```
 */
export function columns(rows: readonly (readonly string[])[]): string {
  const numeric = (c: string) => /^(-?[\d.]+(e[-+]\d+)?|NaN|-?Infinity)$/.test(c);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
  return rows.map((r) =>
    r.map((c, i) => (numeric(c) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ")
      .trimEnd()
  ).join("\n");
}

/** Four significant digits; NaN and ±Inf as `NaN`. */
const g4 = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : "NaN");

/** Largest first, NaN first of all (a non-finite measure is the worst). */
const worstFirst = (a: number, b: number) =>
  Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : Number.isNaN(b) ? 1 : a === b ? 0 : a > b ? -1 : 1;

const runName = (r: RunRecord) => `${r.spec.suite}/${r.spec.policyName}/seed ${r.spec.seed}`;

/**
 * The report of the worst offenders of `records`' diagnostics, at most `top` rows per list.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { worstOffenders } from "./health_offenders.ts";
 * assert.match(worstOffenders([], 10), /no run has numeric-health diagnostics/);
 * ```
 */
export function worstOffenders(records: readonly RunRecord[], top: number): string {
  const runs = records.filter((r) => r.result.health);
  if (runs.length === 0) {
    return `no run has numeric-health diagnostics (${records.length} run${
      records.length === 1 ? "" : "s"
    } read; a recipe's \`health:\` section turns them on)`;
  }
  const operands: { site: Site; side: "a" | "b"; o: OperandHealth }[] = [];
  const gemms: { site: Site; g: GemmHealth }[] = [];
  for (const r of runs) {
    for (const p of r.result.health!.points) {
      for (const { layer, gemms: list } of p.layers) {
        for (const g of list) {
          const site = { run: runName(r), step: p.step, layer, gemm: g.gemm };
          gemms.push({ site, g });
          operands.push({ site, side: "a", o: g.a }, { site, side: "b", o: g.b });
        }
      }
    }
  }
  const where = (s: Site) => [s.run, String(s.step), s.layer, s.gemm];
  const list = (title: string, header: string[], rows: string[][]) =>
    rows.length === 0 ? `${title}: none` : `${title}:\n${columns([header, ...rows])}`;
  const operandList = (title: string, key: (o: OperandHealth) => number | null) =>
    list(
      title,
      ["run", "step", "layer", "GEMM", "operand", "format", "value"],
      operands.map((x) => ({ ...x, v: measure(key(x.o)) }))
        .filter((x) => !(x.v <= 0))
        .sort((x, y) => worstFirst(x.v, y.v)).slice(0, top)
        .map((x) => [...where(x.site), `${x.side} (${x.o.source})`, x.o.format, g4(x.v)]),
    );
  const gemmList = (
    title: string,
    key: (g: GemmHealth) => number,
    show: (g: GemmHealth) => number,
  ) =>
    list(
      title,
      ["run", "step", "layer", "GEMM", "path", "value"],
      gemms.map((x) => ({ ...x, k: key(x.g) })).sort((x, y) => worstFirst(x.k, y.k)).slice(0, top)
        .map((x) => [...where(x.site), x.g.path, g4(show(x.g))]),
    );
  const alarms = rankedAlarms(runs);
  const stopped = runs.filter((r) => r.result.health!.stoppedAt !== null);
  const nonFinite = nonFiniteGradients(runs);
  return [
    `${runs.length} of ${records.length} runs have diagnostics; at most ${top} rows per list.`,
    list(
      `alarms, worst first (${alarms.length})`,
      ["run", "step", "layer", "GEMM", "operand", "measure", "value", "limit"],
      alarms.slice(0, top).map(({ record, alarm: a }) => [
        runName(record),
        String(a.step),
        a.layer,
        a.gemm,
        a.operand ?? "output",
        a.measure,
        a.measure === "nonFinite" ? String(measure(a.value)) : g4(measure(a.value)),
        a.limit,
      ]),
    ),
    ...(stopped.length > 0
      ? [
        stopped.map((r) =>
          `stopped by an alarm: ${runName(r)} at step ${r.result.health!.stoppedAt}`
        ).join("\n"),
      ]
      : []),
    ...(nonFinite.length > 0
      ? [list(
        `non-finite gradients (${nonFinite.length})`,
        ["run", "step", "parameter", "values"],
        nonFinite.slice(0, top).map((
          f,
        ) => [runName(f.record), String(f.step), f.parameter, String(f.count)]),
      )]
      : []),
    gemmList("GEMM outputs by relL2 vs FP32", (g) => measure(g.relL2), (g) => measure(g.relL2)),
    gemmList(
      "GEMM outputs by gain furthest from 1",
      (g) => Math.abs(Math.log(measure(g.gain))),
      (g) => measure(g.gain),
    ),
    operandList("operands by relL2", (o) => o.relL2),
    operandList(
      "operands by saturation (share past rounding to the format's largest)",
      (o) => o.saturation,
    ),
    operandList(
      "operands by underflow (share of nonzero values flushed to zero)",
      (o) => o.underflow,
    ),
  ].join("\n\n");
}
