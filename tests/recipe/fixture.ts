/**
 * A small valid recipe with one key per line (so tests can name exact lines and columns), ways
 * to vary it, and loaders that write it to a temporary folder.
 *
 * @module
 */

import { assertOk } from "../assert.ts";
import { loadRecipe } from "../../src/recipe/load.ts";
import { formatProblem, RecipeError } from "../../src/recipe/problems.ts";
import type { Recipe } from "../../src/recipe/recipe.ts";

/** A valid recipe; line numbers are in the comments of the tests that rely on them. */
export const BASE = `name: tiny
model:
  pattern: "*-*-"
  d_model: 64
  heads: 4
  d_ff: 256
  seq_len: 32
  vocab: 256
  mlp: relu2
data:
  corpus: moby-dick
train:
  steps: 20
  batch: 4
  optimizer:
    adamw: { lr: 1.0e-3, betas: [0.9, 0.95], eps: 1.0e-8, weight_decay: 0.1 }
  schedule:
    wsd: { warmup: 2 }
  clip: 1.0
  eval: { every: 10, batches: 2 }
seeds: [0, 1]
baseline: bf16
policies:
  bf16: { extends: bf16 }
  nvfp4: { extends: nvfp4 }
`;

/** `text` with each `[from, to]` replaced; `from` must occur exactly once. */
export function edit(text: string, ...edits: [string, string][]): string {
  for (const [from, to] of edits) {
    assertOk(text.split(from).length === 2, `${JSON.stringify(from)} must occur once`);
    text = text.replace(from, to);
  }
  return text;
}

/** {@link BASE} with its policies (from line 24 on) replaced by `lines`. */
export function withPolicies(lines: string, baseline = "bf16"): string {
  const head = BASE.slice(0, BASE.indexOf("policies:\n") + "policies:\n".length);
  return edit(head, ["baseline: bf16", `baseline: ${baseline}`]) + lines;
}

/** Writes `text` as `recipe.yaml` (and `files`) in a new temporary folder. */
export async function writeRecipe(
  text: string,
  files: Record<string, string> = {},
): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "lpbench-recipe-" });
  for (const [name, content] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, content);
  }
  const path = `${dir}/recipe.yaml`;
  await Deno.writeTextFile(path, text);
  return { dir, path };
}

/** Loads `text` as a recipe (and removes its folder). */
export async function load(text: string, files: Record<string, string> = {}): Promise<Recipe> {
  const { dir, path } = await writeRecipe(text, files);
  try {
    return await loadRecipe(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The problems of recipe `text` as printed, with the temporary folder left out of the recipe's
 * file name (`recipe.yaml:14:7 path: message`); fails if it loads.
 */
export async function problems(
  text: string,
  files: Record<string, string> = {},
): Promise<string[]> {
  const { dir, path } = await writeRecipe(text, files);
  try {
    await loadRecipe(path);
  } catch (e) {
    if (!(e instanceof RecipeError)) throw e;
    return e.problems.map((p) =>
      formatProblem(p.file === path ? { ...p, file: "recipe.yaml" } : p)
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  throw new Error("the recipe loaded without problems");
}
