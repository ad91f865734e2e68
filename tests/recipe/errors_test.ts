/**
 * Problems found before any section is resolved: YAML syntax, duplicate keys, wrong types,
 * out-of-range and non-finite numbers, unknown and missing keys — each at its exact file, line,
 * column and key path, all of a file's problems at once.
 */

import { assertEquals, assertOk, assertRejects } from "../assert.ts";
import { loadRecipe } from "../../src/recipe/load.ts";
import { RecipeError } from "../../src/recipe/problems.ts";
import { BASE, edit, problems, withPolicies } from "./fixture.ts";

Deno.test("a YAML syntax error is reported at its position and stops there", async () => {
  assertEquals(await problems(edit(BASE, ["seeds: [0, 1]", "seeds: [0, 1"])), [
    "recipe.yaml:22:1: Flow sequence in block collection must be sufficiently indented and end with a ]",
  ]);
});

Deno.test("a duplicate key is reported at the second occurrence, with its path", async () => {
  const text = edit(BASE, ["  heads: 4\n", "  heads: 4\n  heads: 8\n"]);
  assertEquals(await problems(text), ['recipe.yaml:6:3 model.heads: duplicate key "heads"']);
});

Deno.test("wrong types name what was expected and what was found", async () => {
  const text = edit(
    BASE,
    ["  d_model: 64", "  d_model: wide"],
    ["  steps: 20", "  steps: 2.5"],
    ["  clip: 1.0", "  clip: [1]"],
  );
  assertEquals(await problems(text), [
    'recipe.yaml:4:12 model.d_model: expected a number, got "wide"',
    "recipe.yaml:13:10 train.steps: expected an integer, got 2.5",
    "recipe.yaml:19:9 train.clip: expected a number, got [1]",
  ]);
});

Deno.test("out-of-range numbers give the bound", async () => {
  const text = edit(
    BASE,
    ["  heads: 4", "  heads: 0"],
    ["betas: [0.9, 0.95]", "betas: [0.9, 1.0]"],
    ["seeds: [0, 1]", "seeds: [0, -1, 4294967296]"],
  );
  assertEquals(await problems(text), [
    "recipe.yaml:5:10 model.heads: must be ≥ 1, got 0",
    "recipe.yaml:16:39 train.optimizer.adamw.betas[1]: must be < 1, got 1",
    "recipe.yaml:21:12 seeds[1]: must be ≥ 0, got -1",
    "recipe.yaml:21:16 seeds[2]: must be ≤ 4294967295, got 4294967296",
  ]);
});

Deno.test(".nan and .inf are rejected as non-finite", async () => {
  const text = edit(BASE, ["eps: 1.0e-8", "eps: .nan"], ["  clip: 1.0", "  clip: -.inf"]);
  assertEquals(await problems(text), [
    "recipe.yaml:16:51 train.optimizer.adamw.eps: expected a finite number, got .nan",
    "recipe.yaml:19:9 train.clip: expected a finite number, got -.inf",
  ]);
});

Deno.test("unknown keys anywhere are reported at the key, with the known ones", async () => {
  const text = edit(
    BASE,
    ["  mlp: relu2", "  mlp: relu2\n  dropout: 0.1"],
    ["    wsd: { warmup: 2 }", "    wsd: { warmup: 2, decay_from: 0.8 }"],
    ["  nvfp4: { extends: nvfp4 }", "  nvfp4: { extends: nvfp4, wgrad: { x: { fromat: bf16 } } }"],
  );
  assertEquals(await problems(text), [
    'recipe.yaml:10:3 model.dropout: unknown key "dropout" (known: pattern, d_model, heads, d_ff, seq_len, vocab, mlp, init_std, mamba)',
    'recipe.yaml:19:23 train.schedule.wsd.decay_from: unknown key "decay_from" (known: lr, final_lr, warmup, decay_fraction, decay)',
    'recipe.yaml:26:42 policies.nvfp4.wgrad.x.fromat: unknown key "fromat" (known: format, rounding, rht, block)',
  ]);
  const spec = edit(BASE, [
    "  nvfp4: { extends: nvfp4 }",
    "  nvfp4: { extends: nvfp4, all: { format: { kind: mx, element: e2m1, rule: ceil } } }",
  ]);
  assertEquals(await problems(spec), [
    'recipe.yaml:25:70 policies.nvfp4.all.format.rule: unknown key "rule" (known: kind, element, scale_rule)',
  ]);
});

Deno.test("invalid values of unions and enums say what would do", async () => {
  const text = edit(BASE, [
    "  nvfp4: { extends: nvfp4 }",
    "  nvfp4: { extends: nvfp4, weights: { block: [8, 8] }, fprop: { x: nvfp5 }, head: fp16 }",
  ]);
  assertEquals(await problems(text), [
    "recipe.yaml:25:46 policies.nvfp4.weights.block: expected [1,16] or [16,16], got [8,8]",
    'recipe.yaml:25:68 policies.nvfp4.fprop.x: expected one of "fp32", "bf16", "fp16", "fp8-e4m3", ' +
    '"fp8-e5m2", "mxfp8-e4m3", "mxfp8-e5m2", "mxfp4", "nvfp4", "nvfp4-2d", "nvint4", "nvint4-2d", "ufp4", "ufp4-2d", got "nvfp5"',
    'recipe.yaml:25:83 policies.nvfp4.head: expected one of "fp32", "bf16", got "fp16"',
  ]);
});

Deno.test("missing keys are reported at the mapping that lacks them", async () => {
  const text = edit(BASE, ["  seq_len: 32\n", ""], ["seeds: [0, 1]\n", ""]);
  assertEquals(await problems(text), [
    "recipe.yaml:1:1 seeds: missing required key",
    "recipe.yaml:3:3 model.seq_len: missing required key",
  ]);
  assertEquals(await problems(""), ["recipe.yaml:1:1: expected a mapping, got null"]);
  const kindless = withPolicies("  bf16: { extends: bf16, all: { format: { element: e2m1 } } }\n");
  assertEquals(await problems(kindless), [
    'recipe.yaml:24:41 policies.bf16.all.format.kind: missing required key (one of "float", "fp8", "mx", "nvfp4")',
  ]);
});

Deno.test("every problem of a file is reported, in file order", async () => {
  const text = edit(
    BASE,
    ["  heads: 4", "  heads: 0"],
    ["  corpus: moby-dick", "  corpus: nowhere.txt"],
    ["baseline: bf16", "baseline: fp32"],
    ["  nvfp4: { extends: nvfp4 }", "  nvfp4: { extends: nvfp5 }"],
  );
  const lines = await problems(text);
  assertEquals(lines.map((l) => l.split(" ").slice(0, 2).join(" ")), [
    "recipe.yaml:5:10 model.heads:",
    "recipe.yaml:11:11 data.corpus:",
    "recipe.yaml:22:11 baseline:",
    "recipe.yaml:25:21 policies.nvfp4.extends:",
  ]);
});

Deno.test("RecipeError carries the problems and joins them one per line", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/r.yaml`;
  await Deno.writeTextFile(
    path,
    edit(BASE, ["  heads: 4", "  heads: 0"], ["  steps: 20", "  steps: x"]),
  );
  const e = await loadRecipe(path).then(() => undefined, (e: unknown) => e);
  assertOk(e instanceof RecipeError);
  assertEquals(e.problems, [
    { file: path, line: 5, column: 10, path: "model.heads", message: "must be ≥ 1, got 0" },
    {
      file: path,
      line: 13,
      column: 10,
      path: "train.steps",
      message: 'expected a number, got "x"',
    },
  ]);
  assertEquals(
    e.message,
    `${path}:5:10 model.heads: must be ≥ 1, got 0\n` +
      `${path}:13:10 train.steps: expected a number, got "x"`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a file that cannot be read is one problem without a position", async () => {
  await assertRejects(
    loadRecipe("/nonexistent/recipe.yaml"),
    (e: unknown) =>
      e instanceof RecipeError && e.problems.length === 1 && e.problems[0].line === 0 &&
      e.message.startsWith("/nonexistent/recipe.yaml: cannot read the recipe: "),
  );
});
