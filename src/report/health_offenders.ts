/**
 * `deno task health`: the worst offenders of runs' numeric-health diagnostics as plain text — the
 * alarms, then the operands with the largest relL2, saturation and underflow and the GEMMs with
 * the largest relL2 and the gain furthest from 1, over every diagnostic step of every run.
 *
 * @module
 */

import type { GemmHealth, OperandHealth } from "../health/types.ts";
import type { RunRecord } from "../runner/record.ts";

interface Site {
  readonly run: string;
  readonly step: number;
  readonly layer: string;
  readonly gemm: GemmHealth["gemm"];
}

/** Aligned columns, the first left-aligned, the rest right-aligned when numeric. */
function columns(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r.map((c, i) => (i > 0 && /^[-\d.]/.test(c) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ").trimEnd()
  ).join("\n");
}

const g4 = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));

/**
 * The report of the worst offenders of `records`' diagnostics, `top` rows per list.
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
    return "no run has numeric-health diagnostics (add a `health:` section to the recipe)";
  }
  const name = (r: RunRecord) => `${r.spec.suite}/${r.spec.policyName}/seed ${r.spec.seed}`;
  const operands: { site: Site; side: "a" | "b"; o: OperandHealth }[] = [];
  const gemms: { site: Site; g: GemmHealth }[] = [];
  for (const r of runs) {
    for (const p of r.result.health!.points) {
      for (const { layer, gemms: list } of p.layers) {
        for (const g of list) {
          const site = { run: name(r), step: p.step, layer, gemm: g.gemm };
          gemms.push({ site, g });
          operands.push({ site, side: "a", o: g.a }, { site, side: "b", o: g.b });
        }
      }
    }
  }
  const where = (s: Site) => [s.run, String(s.step), s.layer, s.gemm];
  const operandList = (title: string, key: (o: OperandHealth) => number) => {
    const rows = [...operands].filter((x) => key(x.o) > 0).sort((x, y) => key(y.o) - key(x.o))
      .slice(0, top);
    if (rows.length === 0) return `${title}: none`;
    return `${title}:\n` + columns([
      ["run", "step", "layer", "GEMM", "operand", "format", "value"],
      ...rows.map((x) => [...where(x.site), `${x.side} (${x.o.source})`, x.o.format, g4(key(x.o))]),
    ]);
  };
  const gemmList = (
    title: string,
    key: (g: GemmHealth) => number,
    show: (g: GemmHealth) => number,
  ) => {
    const rows = [...gemms].sort((x, y) => key(y.g) - key(x.g)).slice(0, top);
    return `${title}:\n` + columns([
      ["run", "step", "layer", "GEMM", "path", "value"],
      ...rows.map((x) => [...where(x.site), x.g.path, g4(show(x.g))]),
    ]);
  };
  const alarms = runs.flatMap((r) => r.result.health!.alarms.map((a) => ({ r, a })));
  const stopped = runs.filter((r) => r.result.health!.stoppedAt !== null);
  return [
    `${runs.length} of ${records.length} runs have diagnostics.`,
    alarms.length === 0
      ? "alarms: none"
      : `alarms (${alarms.length}${alarms.length > top ? `, first ${top}` : ""}):\n` + columns([
        ["run", "step", "layer", "GEMM", "operand", "measure", "value", "limit"],
        ...alarms.slice(0, top).map(({ r, a }) => [
          name(r),
          String(a.step),
          a.layer,
          a.gemm,
          a.operand ?? "output",
          a.measure,
          g4(a.value),
          a.limit,
        ]),
      ]),
    ...stopped.map((r) => `stopped by an alarm: ${name(r)} at step ${r.result.health!.stoppedAt}`),
    gemmList("GEMM outputs by relL2 vs FP32", (g) => g.relL2, (g) => g.relL2),
    gemmList(
      "GEMM outputs by gain furthest from 1",
      (g) => Math.abs(Math.log(g.gain || 1e-30)),
      (g) => g.gain,
    ),
    operandList("operands by relL2", (o) => o.relL2),
    operandList("operands by saturation (share clipped)", (o) => o.saturation),
    operandList("operands by underflow (share flushed to zero)", (o) => o.underflow),
  ].join("\n\n") + "\n";
}
