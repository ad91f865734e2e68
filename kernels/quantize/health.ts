/**
 * `operandStatsGpu`: the health variant of the fake-quant quantizer (`./health_wgsl.ts`) on a
 * host array, its partials added up in f64 — the array-in, array-out mirror of
 * `operandStatsReference` (src/formats/health_reference.ts), for tests and checks.
 *
 * @module
 */

import { checkQuantizeArgs, type QuantizeOptions } from "../../src/formats/quantize.ts";
import { resolveRounding } from "../../src/formats/rounding.ts";
import type { FormatName, FormatSpec } from "../../src/formats/spec.ts";
import type { OperandStats } from "../../src/formats/health_reference.ts";
import { sumPartials } from "../health/mod.ts";
import { delayedWords, runQuantizeKernel } from "./mod.ts";
import { kernelConfig } from "./reference.ts";
import { HEALTH_FIELD, HEALTH_FIELDS } from "./health_wgsl.ts";

/** The fields that reduce by min and max rather than by sum. */
export const HEALTH_EXTREMES = {
  [HEALTH_FIELD.minLog2]: "min",
  [HEALTH_FIELD.maxLog2]: "max",
} as const;

/** Turns the f64 field totals (in `HEALTH_FIELD` order) into named statistics. */
export function operandStatsOf(totals: readonly number[]): OperandStats {
  const named = Object.fromEntries(
    Object.entries(HEALTH_FIELD).map(([name, i]) => [name, totals[i]]),
  );
  return named as unknown as OperandStats;
}

/**
 * Quantizes on the GPU with the health kernel; returns the fake-quant values and the statistics.
 *
 * @example
 * ```ts
 * import { operandStatsGpu } from "./health.ts";
 * const { stats } = await operandStatsGpu(new Float32Array(16).fill(1), 1, 16, "nvfp4");
 * console.log(stats.err2, stats.blocks); // 0 1
 * ```
 */
export async function operandStatsGpu(
  x: Float32Array,
  rows: number,
  cols: number,
  format: FormatName | FormatSpec,
  opts: QuantizeOptions = {},
): Promise<{ out: Float32Array; stats: OperandStats }> {
  const spec = checkQuantizeArgs(x, rows, cols, format, opts);
  const cfg = kernelConfig(spec, opts, "fake", cols);
  const history = delayedWords(spec);
  const { out, health } = await runQuantizeKernel(x, rows, cols, cfg, resolveRounding(opts).key, {
    health: true,
    ...(history ? { history } : {}),
  });
  const totals = sumPartials(
    health!.partials,
    0,
    health!.workgroups,
    HEALTH_FIELDS,
    HEALTH_EXTREMES,
  );
  return { out: new Float32Array(out, 0, rows * cols).slice(), stats: operandStatsOf(totals) };
}
