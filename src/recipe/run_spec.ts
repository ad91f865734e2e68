/**
 * A run: one (recipe, policy, seed), fully resolved — what the runner trains and what its record
 * stores. Produced by expanding a recipe (`src/recipe/`), consumed by the runner (`src/runner/`).
 *
 * @module
 */

import type { ModelConfig } from "../model/config.ts";
import type { HealthConfig } from "../health/types.ts";
import type { PrecisionPolicy } from "../model/policy.ts";
import type { AdamwConfig } from "../../kernels/adamw/reference.ts";
import type { DataSpec } from "../train/data/dataset.ts";
import type { Schedule } from "../train/schedule.ts";

/** Training settings of a run (`src/train/loop.ts` TrainConfig without model and policy). */
export interface RunTrain {
  /** Optimizer steps. */
  readonly steps: number;
  /** Sequences per step. */
  readonly batch: number;
  /** The learning-rate schedule. */
  readonly schedule: Schedule;
  /** Global gradient-norm limit; `null` for none (JSON has no Infinity). */
  readonly clip: number | null;
  /** AdamW's betas, epsilon and weight decay (the learning rate is the schedule's). */
  readonly adamw: AdamwConfig;
  /** The training loss is read back every this many steps. */
  readonly logEvery: number;
  /** Validation loss and accuracy every `every` steps, over `batches` batches. */
  readonly eval: { readonly every: number; readonly batches: number };
  /** Steps left out of the throughput figures (untimed warm-up). */
  readonly warmupSteps: number;
  /** `false`: every GEMM on the SIMT units (recipe `train.matrix_units`); absent: matrix units where the device has them. */
  readonly matrixUnits?: false;
}

/** One fully resolved run. Plain JSON: canonicalised and hashed into the run id. */
export interface RunSpec {
  /** The recipe's name (the suite a report groups runs by). */
  readonly suite: string;
  /** Path of the recipe file, as given. */
  readonly recipePath: string;
  /** sha256 of the canonical resolved recipe. */
  readonly recipeHash: string;
  /** The policy's name within the recipe. */
  readonly policyName: string;
  /** The recipe's baseline policy name. */
  readonly baseline: string;
  /** The seed of initialisation, data order and stochastic rounding. */
  readonly seed: number;
  /** The model. */
  readonly model: ModelConfig;
  /** The resolved precision policy, in canonical form. */
  readonly policy: PrecisionPolicy;
  /** The data. */
  readonly data: DataSpec;
  /** The training settings. */
  readonly train: RunTrain;
  /** The numeric-health diagnostics (not part of the run's id: they do not change results). */
  readonly health?: HealthConfig;
}
