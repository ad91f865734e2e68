/**
 * The alarms of numeric-health diagnostics: every measure of a {@link HealthPoint} that crosses
 * its threshold in {@link HealthAlarms} (a recipe's `health.alarms`), in a fixed order.
 *
 * @module
 */

import type { HealthAlarm, HealthAlarms, HealthPoint } from "./types.ts";

/**
 * Every threshold crossing of `point`: operand saturation and underflow above their shares, any
 * non-finite operand or output value, GEMM gain outside its range, GEMM relL2 above its limit
 * where one is set. Layer order, then Fprop, Dgrad, Wgrad, then operand a, b, then the output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { healthAlarms } from "./alarms.ts";
 * import { DEFAULT_ALARMS } from "./types.ts";
 * const op = { source: "x", format: "nvfp4", elements: 64, relL2: 0.1, saturation: 0.01, underflow: 0, nonFinite: 0 } as const;
 * const point = {
 *   step: 10,
 *   gradNonFinite: {},
 *   layers: [{ layer: "lm_head", gemms: [{ gemm: "fprop", path: "f32", a: op, b: { ...op, saturation: 0 }, relL2: 0.1, gain: 1, nonFinite: 0 }] }],
 * } as const;
 * const [alarm] = healthAlarms(point, DEFAULT_ALARMS);
 * assert.equal(alarm.measure, "saturation");
 * assert.equal(alarm.operand, "a");
 * ```
 */
export function healthAlarms(point: HealthPoint, alarms: HealthAlarms): HealthAlarm[] {
  const out: HealthAlarm[] = [];
  for (const { layer, gemms } of point.layers) {
    for (const g of gemms) {
      const at = { step: point.step, layer, gemm: g.gemm };
      for (const operand of ["a", "b"] as const) {
        const o = g[operand];
        if (o.saturation > alarms.saturation) {
          out.push({
            ...at,
            operand,
            measure: "saturation",
            value: o.saturation,
            limit: `> ${alarms.saturation}`,
          });
        }
        if (o.underflow > alarms.underflow) {
          out.push({
            ...at,
            operand,
            measure: "underflow",
            value: o.underflow,
            limit: `> ${alarms.underflow}`,
          });
        }
        if (o.nonFinite > 0) {
          out.push({ ...at, operand, measure: "nonFinite", value: o.nonFinite, limit: "> 0" });
        }
      }
      const [lo, hi] = alarms.gain;
      if (!(g.gain >= lo && g.gain <= hi)) {
        out.push({ ...at, measure: "gain", value: g.gain, limit: `outside [${lo}, ${hi}]` });
      }
      if (alarms.relL2 !== undefined && !(g.relL2 <= alarms.relL2)) {
        out.push({ ...at, measure: "relL2", value: g.relL2, limit: `> ${alarms.relL2}` });
      }
      if (g.nonFinite > 0) {
        out.push({ ...at, measure: "nonFinite", value: g.nonFinite, limit: "> 0" });
      }
    }
  }
  return out;
}
