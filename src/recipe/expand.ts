/**
 * A recipe's runs: one {@link RunSpec} per policy and seed, policy-major in the recipe's order,
 * narrowed by the command line's filters (policies, seeds) and with its step count overridden
 * where asked (a quick check of a long recipe).
 *
 * @module
 */

import { validateSchedule } from "../train/schedule.ts";
import type { Recipe } from "./recipe.ts";
import type { RunSpec } from "./run_spec.ts";

/** Filters and overrides of {@link expandRuns}. */
export interface ExpandOptions {
  /** Only these policies (names of the recipe's policies). */
  readonly policies?: readonly string[];
  /** Only these seeds (seeds of the recipe). */
  readonly seeds?: readonly number[];
  /**
   * Train this many steps instead of the recipe's `train.steps`. Runs with other settings than
   * the recipe's are a suite of their own, `<recipe name>-steps-<N>`, so that their report never
   * mixes them with the recipe's runs.
   */
  readonly steps?: number;
}

/**
 * The runs of `recipe`: policies × seeds, in the recipe's order.
 *
 * @throws {RangeError} for a filter naming a policy or seed the recipe does not have, or a
 * `steps` override that is not a positive integer or leaves no room for the schedule's warmup
 * and decay or for the untimed warm-up steps.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandRuns } from "./expand.ts";
 * import { POLICIES } from "./preset_policies.ts";
 * import type { Recipe } from "./recipe.ts";
 * const recipe: Recipe = {
 *   path: "recipes/tiny.yaml", description: "", claims: [], hash: "ab".repeat(32), name: "tiny",
 *   model: { pattern: "*-", dModel: 64, heads: 4, dFf: 256, seqLen: 32, vocab: 256, mlp: "relu2" },
 *   data: { corpus: ["moby-dick"], tokenizer: "byte", valFraction: 0.05 },
 *   train: {
 *     steps: 100, batch: 4, schedule: { kind: "constant", lr: 1e-3, warmup: 10 }, clip: 1,
 *     adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, logEvery: 10,
 *     eval: { every: 50, batches: 2 }, warmupSteps: 3,
 *   },
 *   seeds: [0, 1, 2], baseline: "bf16", policies: [POLICIES.bf16, POLICIES["fp8-current"]],
 * };
 * assert.equal(expandRuns(recipe).length, 6);
 * const runs = expandRuns(recipe, { policies: ["fp8-current"], seeds: [2, 1], steps: 20 });
 * assert.deepEqual(runs.map((r) => [r.policyName, r.seed, r.train.steps]), [
 *   ["fp8-current", 1, 20],
 *   ["fp8-current", 2, 20],
 * ]);
 * assert.equal(runs[0].suite, "tiny-steps-20");
 * assert.equal(expandRuns(recipe, { steps: 100 })[0].suite, "tiny");
 * assert.throws(() => expandRuns(recipe, { steps: 5 }), /warmup/);
 * ```
 */
export function expandRuns(recipe: Recipe, options: ExpandOptions = {}): RunSpec[] {
  const names = recipe.policies.map((p) => p.name);
  const unknown = (what: string, v: unknown, known: readonly unknown[]) =>
    new RangeError(
      `the recipe ${recipe.path} has no ${what} ${JSON.stringify(v)} (it has ${known.join(", ")})`,
    );
  for (const name of options.policies ?? []) {
    if (!names.includes(name)) throw unknown("policy", name, names);
  }
  for (const seed of options.seeds ?? []) {
    if (!recipe.seeds.includes(seed)) throw unknown("seed", seed, recipe.seeds);
  }
  let train = recipe.train;
  if (options.steps !== undefined) {
    const steps = options.steps;
    if (!Number.isInteger(steps) || steps < 1) {
      throw new RangeError(`steps must be a positive integer, got ${steps}`);
    }
    validateSchedule(train.schedule, steps);
    if (train.warmupSteps >= steps) {
      throw new RangeError(
        `steps (${steps}) must exceed the recipe's train.warmup_steps (${train.warmupSteps})`,
      );
    }
    train = { ...train, steps };
  }
  const policies = recipe.policies.filter((p) =>
    !options.policies || options.policies.includes(p.name)
  );
  const seeds = recipe.seeds.filter((s) => !options.seeds || options.seeds.includes(s));
  const suite = train.steps === recipe.train.steps
    ? recipe.name
    : `${recipe.name}-steps-${train.steps}`;
  return policies.flatMap((policy) =>
    seeds.map((seed) => ({
      suite,
      recipePath: recipe.path,
      recipeHash: recipe.hash,
      policyName: policy.name,
      baseline: recipe.baseline,
      seed,
      model: recipe.model,
      policy,
      data: recipe.data,
      train,
      ...(recipe.health ? { health: recipe.health } : {}),
    }))
  );
}
