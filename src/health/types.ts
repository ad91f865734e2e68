/**
 * What the numeric-health diagnostics measure and records store: per linear layer, per GEMM
 * (Fprop, Dgrad, Wgrad), the quantization error and the clipping and flushing of each operand,
 * and the GEMM output against an FP32 shadow GEMM on the unquantized operands; per diagnostic step,
 * non-finite gradient values per parameter. Taken at the health cadence (`health.every` in a
 * recipe), off the training step's hot path, by the probe in `src/model/health_probe.ts` with the
 * health quantizer (`kernels/quantize/health_wgsl.ts`, CPU reference
 * `src/formats/health_reference.ts`).
 *
 * @module
 */

/** Block-scale statistics of a block-scaled operand (NVFP4, MX). */
export interface ScaleHealth {
  /** Blocks with a nonzero amax. */
  readonly blocks: number;
  /** Of those, blocks whose scale is zero (every element flushed). */
  readonly zero: number;
  /** Of those, blocks whose E4M3 scale is subnormal (NVFP4 only; 0 for MX). */
  readonly subnormal: number;
  /** log2 of the smallest and largest decoded block scale (tensor scale included). */
  readonly minLog2: number;
  readonly maxLog2: number;
}

/** Stochastic-rounding bias measured over several draws of one tensor. */
export interface BiasHealth {
  /**
   * Mean over draws of Σ (Q − S)·sign(S) / Σ |S|, the sum over the elements not clipped: the
   * rounding's relative signed error, 0 when it is unbiased (clipping shows in `saturation`).
   */
  readonly mean: number;
  /** Its standard error over the draws. */
  readonly stderr: number;
  /** Draws measured. */
  readonly draws: number;
}

/** One GEMM operand as quantized: the copy the GEMM reads against its high-precision source. */
export interface OperandHealth {
  /** The layer tensor it is a copy of. */
  readonly source: "x" | "w" | "dy";
  /** The format's name, e.g. `nvfp4-2d`, `bf16`, `fp32`. */
  readonly format: string;
  /** Elements of the tensor. */
  readonly elements: number;
  /** ‖Q(S) − S‖₂ / ‖S‖₂ (after the RHT where the copy has one; the RHT is orthogonal). */
  readonly relL2: number;
  /** Share of elements whose scaled magnitude exceeded the format's largest value (clipped). */
  readonly saturation: number;
  /** Share of the elements that were nonzero and became zero. */
  readonly underflow: number;
  /** NaN or ±Inf elements of the source. */
  readonly nonFinite: number;
  /** Block scales (block-scaled formats only). */
  readonly scales?: ScaleHealth;
  /** Stochastic rounding only. */
  readonly bias?: BiasHealth;
}

/** One GEMM of a linear layer. */
export interface GemmHealth {
  readonly gemm: "fprop" | "dgrad" | "wgrad";
  /** The kernel path training used (f32, packed, matrix); the probe itself runs f32 GEMMs. */
  readonly path: "f32" | "packed" | "matrix";
  readonly a: OperandHealth;
  readonly b: OperandHealth;
  /** ‖C_Q − C_ref‖₂ / ‖C_ref‖₂: the quantized GEMM against the FP32 GEMM of the sources. */
  readonly relL2: number;
  /** ‖C_Q‖₂ / ‖C_ref‖₂: below 1 a shrunk output (e.g. a biased gradient), above 1 inflated. */
  readonly gain: number;
  /** NaN or ±Inf elements of C_Q. */
  readonly nonFinite: number;
}

/** One linear layer, e.g. `blocks.1.fc1` or `lm_head`. */
export interface LayerHealth {
  readonly layer: string;
  readonly gemms: readonly GemmHealth[];
}

/** The diagnostics of one training step. */
export interface HealthPoint {
  readonly step: number;
  readonly layers: readonly LayerHealth[];
  /** NaN or ±Inf elements of each parameter's gradient, by parameter name (nonzero ones only). */
  readonly gradNonFinite: Readonly<Record<string, number>>;
}

/** Thresholds that mark a run (and optionally stop it), from a recipe's `health.alarms`. */
export interface HealthAlarms {
  /** Largest GEMM-output relL2 allowed. */
  readonly relL2?: number;
  /** Largest operand saturation share (default 0.001). */
  readonly saturation: number;
  /** Largest operand underflow share (default 0.01). */
  readonly underflow: number;
  /** Allowed GEMM gain range (default [0.9, 1.1]). */
  readonly gain: readonly [number, number];
  /** Stop the run at the first alarm (default false). */
  readonly stop: boolean;
}

/** A recipe's `health:` section, resolved. */
export interface HealthConfig {
  /** Take diagnostics every this many steps (and at the last step). */
  readonly every: number;
  /** Stochastic-rounding draws per operand for the bias (default 4). */
  readonly draws: number;
  readonly alarms: HealthAlarms;
}

/** One threshold crossing. */
export interface HealthAlarm {
  readonly step: number;
  readonly layer: string;
  readonly gemm: GemmHealth["gemm"];
  /** `a`/`b` for an operand's measure, absent for the GEMM output's. */
  readonly operand?: "a" | "b";
  readonly measure: "relL2" | "saturation" | "underflow" | "gain" | "nonFinite";
  readonly value: number;
  /** The threshold crossed, as written (e.g. `> 0.001`, `outside [0.9, 1.1]`). */
  readonly limit: string;
}

/** The default alarms: the outlier rules. */
export const DEFAULT_ALARMS: HealthAlarms = {
  saturation: 0.001,
  underflow: 0.01,
  gain: [0.9, 1.1],
  stop: false,
};

/** What a run record stores of its diagnostics (`result.health`). */
export interface HealthResult {
  /** The settings they were taken with. */
  readonly config: HealthConfig;
  /** One point per diagnostic step. */
  readonly points: readonly HealthPoint[];
  /** Every threshold crossing, in step order. */
  readonly alarms: readonly HealthAlarm[];
  /** The step at which an alarm stopped the run (`alarms.stop`), or null. */
  readonly stoppedAt: number | null;
}
