/**
 * A loaded recipe: validated, every preset and `extends` resolved, in the camelCase types the
 * training code takes, with the hash that names its content.
 *
 * @module
 */

import type { ModelConfig } from "../model/config.ts";
import type { HealthConfig } from "../health/types.ts";
import type { PrecisionPolicy } from "../model/policy.ts";
import type { DataSpec } from "../train/data/dataset.ts";
import { canonicalJson, sha256Hex } from "./hash.ts";
import type { RunTrain } from "./run_spec.ts";
import type { Claim } from "./claims.ts";

/** What a recipe specifies: everything that can change a result. */
export interface RecipeContent {
  /** The suite name. */
  readonly name: string;
  /** The model every run trains. */
  readonly model: ModelConfig;
  /** Data; relative paths are relative to the recipe's folder. */
  readonly data: DataSpec;
  /** The training settings every run uses. */
  readonly train: RunTrain;
  /** The seeds each policy is run with. */
  readonly seeds: readonly number[];
  /** Name of the policy the others are compared against. */
  readonly baseline: string;
  /** The resolved policies, in the recipe's order. */
  readonly policies: readonly PrecisionPolicy[];
  /** The numeric-health diagnostics, where the recipe asks for them. */
  readonly health?: HealthConfig;
}

/** A loaded recipe. */
export interface Recipe extends RecipeContent {
  /** The recipe file, as given to `loadRecipe`. */
  readonly path: string;
  /** The recipe's description ("" when it has none). */
  readonly description: string;
  /** The claims its report tests (src/recipe/claims.ts); not part of the hash. */
  readonly claims: readonly Claim[];
  /** {@link recipeHash} of the content. */
  readonly hash: string;
}

/**
 * SHA-256 of the canonical JSON of a recipe's content. The file's path, the descriptions and the
 * claims are not part of it, so moving a recipe or rewording it keeps its hash; key order never
 * matters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { POLICIES } from "./preset_policies.ts";
 * import { type RecipeContent, recipeHash } from "./recipe.ts";
 * const content: RecipeContent = {
 *   name: "tiny",
 *   model: { pattern: "*-", dModel: 64, heads: 4, dFf: 256, seqLen: 32, vocab: 256, mlp: "relu2" },
 *   data: { corpus: ["moby-dick"], tokenizer: "byte", valFraction: 0.05 },
 *   train: {
 *     steps: 10, batch: 4, schedule: { kind: "constant", lr: 1e-3, warmup: 0 }, clip: 1,
 *     adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, logEvery: 5,
 *     eval: { every: 5, batches: 2 }, warmupSteps: 3,
 *   },
 *   seeds: [0],
 *   baseline: "fp32",
 *   policies: [POLICIES.fp32],
 * };
 * const reordered = { ...content, seeds: [0], name: "tiny", baseline: "fp32" };
 * assert.equal(recipeHash(content), recipeHash(reordered));
 * assert.notEqual(recipeHash(content), recipeHash({ ...content, seeds: [1] }));
 * ```
 */
export function recipeHash(content: RecipeContent): string {
  const { name, model, data, train, seeds, baseline, policies } = content;
  return sha256Hex(canonicalJson({ name, model, data, train, seeds, baseline, policies }));
}
