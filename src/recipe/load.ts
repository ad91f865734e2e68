/**
 * Loads a recipe file: YAML with positions, the schema's structural checks, then each section
 * that passed them mapped onto the training types and checked against the others (files on
 * disk, presets and `extends`, block sizes against model dimensions). Every problem of the file
 * (and of the presets it uses) is collected before a {@link RecipeError} is thrown.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { DEFAULT_ALARMS, type HealthConfig } from "../health/types.ts";
import { dataSpec } from "./data_section.ts";
import { dataFitProblems } from "./data_fit.ts";
import { loadDataset } from "../train/data/dataset.ts";
import { DataError } from "../train/data/errors.ts";
import { dimensionProblems } from "./dimensions.ts";
import { recipeClaims } from "./claims.ts";
import { blockKinds } from "../model/config.ts";
import { withBlockCounts } from "../model/policy.ts";
import { checkSchema } from "./issues.ts";
import { modelConfig } from "./model_section.ts";
import { PolicyResolver } from "./policies.ts";
import { type PolicyDef, Presets } from "./presets.ts";
import { formatPath, type Problem, RecipeError } from "./problems.ts";
import { type Recipe, type RecipeContent, recipeHash } from "./recipe.ts";
import { type RecipeInput, RecipeSchema } from "./schema.ts";
import { SourceFile } from "./source.ts";
import { trainSettings } from "./train_section.ts";

/** Options of {@link loadRecipe}. */
export interface LoadRecipeOptions {
  /**
   * Also load the recipe's data and check that it fits the model and training settings (one
   * training window, one evaluation batch; `data_fit.ts`), as every command that will train
   * should before any run starts.
   */
  readonly checkData?: boolean;
}

/**
 * Reads, validates and resolves the recipe at `path` (relative data paths are relative to its
 * folder).
 *
 * @throws {RecipeError} with every problem found, each at its file, line, column and key path.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadRecipe } from "./load.ts";
 * import { RecipeError } from "./problems.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/tiny.yaml`, `
 * name: tiny
 * model: { pattern: "*-*-", d_model: 64, heads: 4, d_ff: 256, seq_len: 32, vocab: 256, mlp: relu2 }
 * data: { corpus: moby-dick }
 * train:
 *   steps: 20
 *   batch: 4
 *   optimizer: { adamw: { lr: 1e-3, betas: [0.9, 0.95], eps: 1e-8, weight_decay: 0.1 } }
 *   schedule: { wsd: { warmup: 2 } }
 *   clip: 1.0
 *   eval: { every: 10, batches: 2 }
 * seeds: [0, 1]
 * baseline: bf16
 * policies:
 *   bf16: { extends: bf16 }
 *   nvfp4: { extends: nvfp4 }
 * `);
 * const recipe = await loadRecipe(`${dir}/tiny.yaml`);
 * assert.deepEqual(recipe.policies.map((p) => p.name), ["bf16", "nvfp4"]);
 * assert.deepEqual(recipe.train.schedule, {
 *   kind: "wsd", lr: 1e-3, finalLr: 0, warmup: 2, decayFraction: 0.2, decay: "linear",
 * });
 * await Deno.writeTextFile(`${dir}/bad.yaml`, "name: bad\nseeds: [0, .nan]\n");
 * await assert.rejects(loadRecipe(`${dir}/bad.yaml`), (e) => {
 *   assert.ok(e instanceof RecipeError);
 *   assert.ok(e.message.includes("bad.yaml:2:12 seeds[1]: expected a finite number, got .nan"));
 *   return true;
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadRecipe(
  path: string,
  options: LoadRecipeOptions = {},
): Promise<Recipe> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const message = `cannot read the recipe: ${(e as Error).message}`;
    throw new RecipeError([{ file: path, line: 0, column: 0, path: "", message }]);
  }
  const src = new SourceFile(path, text);
  const problems: Problem[] = [...src.problems];
  if (src.broken) throw new RecipeError(problems);
  const structural = checkSchema(src, RecipeSchema).problems;
  problems.push(...structural);
  const clean = (...keys: (string | number)[]) => {
    const prefix = formatPath(keys);
    return !structural.some((p) =>
      p.path === "" || p.path === prefix || p.path.startsWith(`${prefix}.`) ||
      p.path.startsWith(`${prefix}[`) || prefix.startsWith(`${p.path}.`)
    );
  };
  const raw = src.data as RecipeInput;

  const model = clean("model") ? modelConfig(src, raw.model, problems) : undefined;
  const train = clean("train") ? trainSettings(src, raw.train, problems) : undefined;
  const data = clean("data")
    ? await dataSpec(src, raw.data, dirname(resolve(path)), model?.vocab, problems)
    : undefined;
  if (clean("seeds")) {
    raw.seeds.forEach((seed, i) => {
      if (raw.seeds.indexOf(seed) < i) {
        problems.push(src.problem(["seeds", i], `duplicate seed ${seed}`));
      }
    });
  }

  const names = clean("policies") ? Object.keys(raw.policies) : [];
  if (clean("policies") && names.length === 0) {
    problems.push(src.problem(["policies"], "give at least one policy"));
  }
  const defs = new Map<string, PolicyDef | null>(names.map((name) => [
    name,
    clean("policies", name)
      ? { scope: "recipe", name, input: raw.policies[name], src, path: ["policies", name] }
      : null,
  ]));
  const resolver = new PolicyResolver(defs, await Presets.read(), problems);
  const policies = names.map((name) => {
    const def = defs.get(name);
    return def ? resolver.resolve(def) : undefined;
  });
  if (clean("baseline") && names.length > 0 && !names.includes(raw.baseline)) {
    problems.push(src.problem(
      ["baseline"],
      `${JSON.stringify(raw.baseline)} is not a policy of this recipe (${names.join(", ")})`,
    ));
  }
  // Claims whose own keys are well formed are checked against the recipe.
  const cleanClaims = Object.fromEntries(
    Object.entries(raw?.claims ?? {}).filter(([name]) => clean("claims", name)),
  );
  const claims = clean("train") && names.length > 0
    ? recipeClaims(src, cleanClaims, {
      policies: names,
      baseline: raw.baseline,
      steps: raw.train.steps,
      evalEvery: raw.train.eval.every,
    }, problems)
    : [];
  if (model && clean("train")) {
    policies.forEach((policy, i) => {
      if (policy) {
        problems.push(
          ...dimensionProblems(src, model, raw.train.batch, policy, ["policies", names[i]]),
        );
      }
    });
  }

  if (problems.length > 0 || !model || !train || !data) throw new RecipeError(problems);
  if (options.checkData) {
    try {
      const dataset = await loadDataset(data, { baseDir: dirname(resolve(path)) });
      problems.push(...dataFitProblems(src, model, train, dataset));
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      problems.push(src.problem(["data"], e.message, "key"));
    }
    if (problems.length > 0) throw new RecipeError(problems);
  }
  const content: RecipeContent = {
    name: raw.name,
    model,
    data,
    train,
    seeds: [...raw.seeds],
    baseline: raw.baseline,
    // Shares of the blocks ("12.5%") become the counts they mean for this model.
    policies: policies.map((p) => withBlockCounts(p!, blockKinds(model.pattern).length)),
    ...(raw.health ? { health: healthConfig(raw.health, train.eval.every) } : {}),
  };
  return {
    path,
    description: raw.description ?? "",
    claims,
    ...content,
    hash: recipeHash(content),
  };
}

/** A recipe's `health:` section with its defaults filled in. */
function healthConfig(h: NonNullable<RecipeInput["health"]>, evalEvery: number): HealthConfig {
  const a = h.alarms ?? {};
  return {
    every: h.every ?? evalEvery,
    draws: h.draws ?? 4,
    alarms: {
      ...(a.rel_l2 !== undefined ? { relL2: a.rel_l2 } : {}),
      saturation: a.saturation ?? DEFAULT_ALARMS.saturation,
      underflow: a.underflow ?? DEFAULT_ALARMS.underflow,
      gain: a.gain ?? DEFAULT_ALARMS.gain,
      stop: a.stop ?? DEFAULT_ALARMS.stop,
    },
  };
}
