/**
 * Numeric-health diagnostics for tests, built by hand with realistic numbers: NVFP4 GEMM outputs
 * at relL2 ≈ 0.12 (Fprop), 0.15 (Dgrad) and 0.17 (Wgrad, TransformerEngine's 0.1675), BF16 at
 * ≈ 0.003, operands a little below their GEMM's output, gains just under 1; and records that carry
 * them, with the alarms the default thresholds raise.
 *
 * @module
 */

import { healthAlarms } from "../../src/health/alarms.ts";
import {
  DEFAULT_ALARMS,
  type GemmHealth,
  type HealthAlarms,
  type HealthPoint,
  type OperandHealth,
} from "../../src/health/types.ts";
import type { RunRecord } from "../../src/runner/record.ts";

/** GEMM-output relL2 of each GEMM under NVFP4 (the paper recipe) and BF16. */
export const REL_L2 = {
  nvfp4: { fprop: 0.12, dgrad: 0.15, wgrad: 0.17 },
  bf16: { fprop: 0.0028, dgrad: 0.003, wgrad: 0.0031 },
} as const;

/** The linear layers of the fixtures, in model order. */
export const LAYERS = ["blocks.0.qkv", "blocks.0.fc1", "blocks.1.fc1", "lm_head"] as const;

/** A quantized operand: 4096 elements, 0.4 % flushed to zero, nothing clipped unless told. */
export function operand(
  source: OperandHealth["source"],
  format: string,
  relL2: number,
  over: Partial<OperandHealth> = {},
): OperandHealth {
  return {
    source,
    format,
    elements: 4096,
    relL2,
    saturation: 0,
    underflow: 0.004,
    nonFinite: 0,
    ...over,
  };
}

/** Changes to a GEMM: its own fields, and some fields of either operand. */
export type GemmChange =
  & Partial<Omit<GemmHealth, "a" | "b">>
  & { a?: Partial<OperandHealth>; b?: Partial<OperandHealth> };

/** Operand sources of each GEMM: A · B is x · w (Fprop), dy · w (Dgrad), dy · x (Wgrad). */
const SOURCES = { fprop: ["x", "w"], dgrad: ["dy", "w"], wgrad: ["dy", "x"] } as const;

/** A GEMM of `format` whose output has relL2 `relL2` (operands at 0.7 of it, gain 1 − relL2/20). */
export function gemm(
  name: GemmHealth["gemm"],
  format: string,
  relL2: number,
  over: GemmChange = {},
): GemmHealth {
  const [sa, sb] = SOURCES[name];
  const { a, b, ...rest } = over;
  return {
    gemm: name,
    path: "f32",
    a: operand(sa, format, 0.7 * relL2, a),
    b: operand(sb, format, 0.7 * relL2, b),
    relL2,
    gain: 1 - relL2 / 20,
    nonFinite: 0,
    ...rest,
  };
}

/** What to plant in a point: changes to one GEMM of one layer. */
export interface Plant {
  readonly layer: string;
  readonly gemm: GemmHealth["gemm"];
  readonly change: GemmChange;
}

/** The diagnostics of one step of a `kind` run over {@link LAYERS}, with `plants` applied. */
export function healthPoint(
  step: number,
  kind: keyof typeof REL_L2,
  plants: readonly Plant[] = [],
): HealthPoint {
  return {
    step,
    gradNonFinite: {},
    layers: LAYERS.map((layer) => ({
      layer,
      gemms: (["fprop", "dgrad", "wgrad"] as const).map((g) =>
        gemm(
          g,
          kind,
          REL_L2[kind][g],
          plants.find((p) => p.layer === layer && p.gemm === g)?.change,
        )
      ),
    })),
  };
}

/**
 * `record` with diagnostics `points` and the alarms `alarms` raises on them; `stoppedAt` marks a
 * run an alarm stopped.
 */
export function withHealth(
  record: RunRecord,
  points: readonly HealthPoint[],
  options: { alarms?: HealthAlarms; stoppedAt?: number } = {},
): RunRecord {
  const alarms = options.alarms ?? DEFAULT_ALARMS;
  const health = {
    config: { every: 50, draws: 4, alarms },
    points,
    alarms: points.flatMap((p) => healthAlarms(p, alarms)),
    stoppedAt: options.stoppedAt ?? null,
  };
  return { ...record, result: { ...record.result, health } };
}

/** The planted outlier: blocks.1.fc1's Wgrad clips 2 % of its dY (limit 0.1 %). */
export const SATURATED: Plant = {
  layer: "blocks.1.fc1",
  gemm: "wgrad",
  change: { a: { saturation: 0.02 } },
};
