/**
 * Expanding a recipe into runs (policies × seeds, filters, a steps override) and the plan that
 * `--dry-run` prints.
 */

import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import { describePlan } from "../../src/recipe/plan.ts";
import { BASE, edit, load } from "./fixture.ts";

const recipe = await load(edit(
  BASE,
  ["seeds: [0, 1]", "seeds: [3, 1, 2]"],
  ["  nvfp4: { extends: nvfp4 }", "  nvfp4: { extends: nvfp4 }\n  mxfp4: { extends: mxfp4 }"],
));

Deno.test("policies × seeds, policy-major in the recipe's order", () => {
  const runs = expandRuns(recipe);
  assertEquals(runs.length, 9);
  assertEquals(runs.map((r) => `${r.policyName}/${r.seed}`), [
    "bf16/3",
    "bf16/1",
    "bf16/2",
    "nvfp4/3",
    "nvfp4/1",
    "nvfp4/2",
    "mxfp4/3",
    "mxfp4/1",
    "mxfp4/2",
  ]);
});

Deno.test("each run carries the whole resolved recipe", () => {
  const run = expandRuns(recipe)[4];
  assertEquals(run, {
    suite: "tiny",
    recipePath: recipe.path,
    recipeHash: recipe.hash,
    policyName: "nvfp4",
    baseline: "bf16",
    seed: 1,
    model: recipe.model,
    policy: recipe.policies[1],
    data: recipe.data,
    train: recipe.train,
  });
  assertEquals(run.model, {
    pattern: "*-*-",
    dModel: 64,
    heads: 4,
    dFf: 256,
    seqLen: 32,
    vocab: 256,
    mlp: "relu2",
  });
});

Deno.test("filters keep the recipe's order; steps overrides train.steps only", () => {
  const runs = expandRuns(recipe, { policies: ["mxfp4", "bf16"], seeds: [2, 3], steps: 10 });
  assertEquals(runs.map((r) => `${r.policyName}/${r.seed}/${r.train.steps}`), [
    "bf16/3/10",
    "bf16/2/10",
    "mxfp4/3/10",
    "mxfp4/2/10",
  ]);
  assertEquals({ ...runs[0].train, steps: recipe.train.steps }, recipe.train);
  assertEquals(expandRuns(recipe, { seeds: [1] }).length, 3);
  assertEquals(expandRuns(recipe, { policies: [] }).length, 0);
});

Deno.test("filters and overrides the recipe cannot take are refused", () => {
  assertThrows(
    () => expandRuns(recipe, { policies: ["fp8"] }),
    /has no policy "fp8" \(it has bf16, nvfp4, mxfp4\)/,
  );
  assertThrows(() => expandRuns(recipe, { seeds: [0] }), /has no seed 0 \(it has 3, 1, 2\)/);
  assertThrows(() => expandRuns(recipe, { steps: 0 }), /steps must be a positive integer, got 0/);
  // The schedule's warmup is 2 steps.
  assertThrows(() => expandRuns(recipe, { steps: 1 }), /schedule\.warmup must fit/);
  assertThrows(
    () => expandRuns(recipe, { steps: 3 }),
    /must exceed the recipe's train\.warmup_steps \(3\)/,
  );
});

Deno.test("the plan names every run, what its policy does and what each layer resolves to", () => {
  const plan = describePlan(expandRuns(recipe, { seeds: [1, 2] }));
  assertEquals(plan.split("\n").slice(1), [
    '  model  "*-*-" (2 attention and 2 MLP blocks), d_model 64, 4 heads, d_ff 256 relu2, seq_len 32, vocab 256',
    "  data   corpus moby-dick; byte tokens, 5% held out",
    "  train  20 steps × 4 sequences (128 tokens/step, 2560 in all); wsd lr 0.001, warmup 2, linear decay over the last 20% to 0; AdamW β 0.9/0.95 ε 1e-8 weight decay 0.1; clip 1",
    "         eval every 10 steps on 2 batches; loss logged every 10 steps; first 3 steps untimed",
    "  runs   6 (baseline bf16)",
    "    bf16   seeds 1 2: bf16; head bf16",
    "      blocks.0.qkv … lm_head (9): bf16",
    "    nvfp4  seeds 1 2: fprop x nvfp4 w nvfp4-2d | dgrad dy nvfp4/sr w nvfp4-2d | wgrad dy nvfp4/sr+rht16 x nvfp4+rht16; first 1 + last 1 of 4 blocks bf16; head bf16",
    "      blocks.0.qkv … blocks.0.proj (2): bf16",
    "      blocks.1.fc1 … blocks.2.proj (4): fprop x nvfp4 w nvfp4-2d | dgrad dy nvfp4/sr w nvfp4-2d | wgrad dy nvfp4/sr+rht16 x nvfp4+rht16",
    "      blocks.3.fc1 … lm_head (3): bf16",
    "    mxfp4  seeds 1 2: mxfp4; head bf16",
    "      blocks.0.qkv … blocks.3.fc2 (8): mxfp4",
    "      lm_head: bf16",
    "",
    "6 runs",
  ]);
  assertOk(plan.startsWith(`tiny (${recipe.path}, recipe ${recipe.hash.slice(0, 12)})\n`));
});

Deno.test("the plan groups runs by recipe", async () => {
  const other = await load(
    edit(BASE, ["name: tiny", "name: other"], ["seeds: [0, 1]", "seeds: [7]"]),
  );
  const plan = describePlan([...expandRuns(recipe, { seeds: [1] }), ...expandRuns(other)]);
  const headers = plan.split("\n").filter((l) => /^\S/.test(l));
  assertEquals(headers.map((h) => h.split(" ")[0]), ["tiny", "other", "5"]);
  assertOk(plan.endsWith("\n\n5 runs"));
});
