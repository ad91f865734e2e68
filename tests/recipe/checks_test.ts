/**
 * Problems that relate fields or the world outside the file: data files, model dimensions
 * against block and RHT sizes, heads, vocabulary, the schedule against the steps, seeds and the
 * baseline.
 */

import { assertEquals } from "../assert.ts";
import { BASE, edit, load, problems, withPolicies } from "./fixture.ts";

Deno.test("a corpus file that does not exist is reported; relative paths are the recipe's", async () => {
  const text = edit(BASE, ["  corpus: moby-dick", "  corpus: [moby-dick, ../none.txt, here.txt]"]);
  const lines = await problems(text, { "here.txt": "to be or not to be" });
  assertEquals(lines.length, 1);
  assertEquals(
    lines[0].replace(/looked for .*\)$/, "looked for …)"),
    'recipe.yaml:11:23 data.corpus[1]: no built-in corpus (moby-dick, sotu, brown) or file "../none.txt" (looked for …)',
  );
  const recipe = await load(text.replace("../none.txt, ", ""), { "here.txt": "text" });
  assertEquals(recipe.data, {
    corpus: ["moby-dick", "here.txt"],
    tokenizer: "byte",
    valFraction: 0.05,
  });
});

Deno.test("missing shards and globs that match nothing are reported", async () => {
  const text = edit(BASE, [
    "  corpus: moby-dick",
    "  shards: [a.bin, s/*.bin]\n  val_shards: b.bin",
  ]);
  const lines = await problems(text, { "a.bin": "\u0001\u0000" });
  assertEquals(lines.map((l) => l.replace(/ \(relative to .*\)$| \/.*$/, "")), [
    'recipe.yaml:11:19 data.shards[1]: the glob "s/*.bin" matches no file',
    "recipe.yaml:12:15 data.val_shards: no file",
  ]);
  const both = edit(BASE, ["  corpus: moby-dick", "  corpus: moby-dick\n  shards: a.bin"]);
  assertEquals(await problems(both, { "a.bin": "\u0001\u0000" }), [
    "recipe.yaml:12:3 data.shards: data.corpus and data.shards exclude each other: give one",
  ]);
});

Deno.test("model widths must divide into the blocks of every policy", async () => {
  const text = edit(
    withPolicies("  bf16: { extends: bf16 }\n  mx: { extends: mxfp4 }\n"),
    ["  d_model: 64", "  d_model: 48"],
    ["  heads: 4", "  heads: 2"],
    ["  seq_len: 32", "  seq_len: 20"],
  );
  assertEquals(await problems(text), [
    'recipe.yaml:4:12 model.d_model: must be a multiple of 32 for policy "mx" (fprop.x: 1×32 blocks), got 48',
    'recipe.yaml:14:10 train.batch: batch × seq_len = 4 × 20 = 80 tokens must be a multiple of 32 for policy "mx" (wgrad.dy: 1×32 blocks)',
  ]);
  const ff = edit(
    withPolicies("  bf16: { extends: bf16 }\n  mx: { extends: mxfp4 }\n"),
    ["  d_ff: 256", "  d_ff: 272"],
  );
  assertEquals(await problems(ff), [
    'recipe.yaml:6:9 model.d_ff: must be a multiple of 32 for policy "mx" (dgrad.dy: 1×32 blocks), got 272',
  ]);
});

Deno.test("tokens per step must divide into the Wgrad RHT", async () => {
  const text = edit(
    withPolicies(
      "  bf16: { extends: bf16 }\n  r: { extends: nvfp4, wgrad: { rht: { size: 128 } } }\n",
    ),
    ["  batch: 4", "  batch: 3"],
  );
  assertEquals(await problems(text), [
    'recipe.yaml:14:10 train.batch: batch × seq_len = 3 × 32 = 96 tokens must be a multiple of 128 for policy "r" (wgrad.dy: RHT of size 128)',
  ]);
});

Deno.test("dimensions count only the blocks a policy quantizes", async () => {
  // mxfp4 only in the switched-to phase, bf16 before: d_model 48 still fails, via the switch.
  const switched = edit(
    withPolicies("  bf16: { extends: bf16, switch: { at: 0.5, to: mxfp4 } }\n"),
    ["  d_model: 64", "  d_model: 48"],
    ["  heads: 4", "  heads: 2"],
  );
  assertEquals(await problems(switched), [
    'recipe.yaml:4:12 model.d_model: must be a multiple of 32 for policy "bf16" (fprop.x: 1×32 blocks), got 48',
  ]);
  // The NVFP4 recipe keeps its first and last blocks in BF16; the rest need 16, which 48 is.
  const nvfp4 = edit(
    BASE,
    ['  pattern: "*-*-"', '  pattern: "*-*-*-"'],
    ["  d_model: 64", "  d_model: 48"],
    ["  heads: 4", "  heads: 2"],
  );
  assertEquals((await load(nvfp4)).model.dModel, 48);
});

Deno.test("high-precision blocks that cover the whole model are reported", async () => {
  assertEquals(await problems(edit(BASE, ['  pattern: "*-*-"', '  pattern: "*-"'])), [
    'recipe.yaml:25:10 policies.nvfp4.high_precision_blocks: first 1 + last 1 cover all 2 blocks of model.pattern, leaving none in the formats of policy "nvfp4"; lower them or give high_precision_blocks: none',
  ]);
});

Deno.test("heads must split d_model into even heads of at most 128", async () => {
  assertEquals(await problems(edit(BASE, ["  heads: 4", "  heads: 3"])), [
    "recipe.yaml:5:10 model.heads: must split d_model = 64 into heads of an even size of at most 128, got 3",
  ]);
  const odd = edit(BASE, ["  d_model: 64", "  d_model: 48"], ["  heads: 4", "  heads: 16"]);
  assertEquals(await problems(odd), [
    "recipe.yaml:5:10 model.heads: must split d_model = 48 into heads of an even size of at most 128, got 16 (head size 3)",
  ]);
  const wide = edit(BASE, ["  d_model: 64", "  d_model: 512"], ["  heads: 4", "  heads: 2"]);
  assertEquals(await problems(wide), [
    "recipe.yaml:5:10 model.heads: must split d_model = 512 into heads of an even size of at most 128, got 2 (head size 256)",
  ]);
  assertEquals(await problems(edit(BASE, ["  d_model: 64", "  d_model: 40"])), [
    "recipe.yaml:4:12 model.d_model: must be a multiple of 16, got 40",
  ]);
});

Deno.test("the vocabulary must hold the tokenizer's", async () => {
  assertEquals(await problems(edit(BASE, ["  vocab: 256", "  vocab: 100"])), [
    "recipe.yaml:8:10 model.vocab: must be at least the byte tokenizer's vocabulary of 256, got 100",
  ]);
});

Deno.test("the schedule: one kind, lr once, warmup within the steps", async () => {
  const two = edit(BASE, ["    wsd: { warmup: 2 }", "    wsd: { warmup: 2 }\n    constant: {}"]);
  assertEquals(await problems(two), [
    "recipe.yaml:18:5 train.schedule: give exactly one of constant, cosine, wsd, got wsd, constant",
  ]);
  const twice = edit(BASE, ["    wsd: { warmup: 2 }", "    wsd: { warmup: 2, lr: 1.0e-3 }"]);
  assertEquals(await problems(twice), [
    "recipe.yaml:18:27 train.schedule.wsd.lr: given here and in train.optimizer.adamw.lr; give it once",
  ]);
  const none = edit(BASE, ["adamw: { lr: 1.0e-3, ", "adamw: { "]);
  assertEquals(await problems(none), [
    "recipe.yaml:18:10 train.schedule.wsd: no lr; give the peak learning rate here or in train.optimizer.adamw.lr",
  ]);
  const long = edit(BASE, ["    wsd: { warmup: 2 }", "    wsd: { warmup: 18 }"]);
  assertEquals(await problems(long), [
    "recipe.yaml:18:20 train.schedule.wsd.warmup: must fit in train.steps = 20, got 18 + 4 decay steps",
  ]);
  const floor = edit(BASE, ["    wsd: { warmup: 2 }", "    cosine: { min_lr: 0.01 }"]);
  assertEquals(await problems(floor), [
    "recipe.yaml:18:23 train.schedule.cosine.min_lr: must be ≤ lr = 0.001, got 0.01",
  ]);
  const untimed = edit(BASE, ["  steps: 20", "  steps: 3"], [
    "    wsd: { warmup: 2 }",
    "    constant: {}",
  ]);
  assertEquals(await problems(untimed), [
    "recipe.yaml:13:3 train.warmup_steps: must be less than train.steps = 3 (or no step is timed), got 3 (the default)",
  ]);
});

Deno.test("seeds are unique and the baseline is a policy of the recipe", async () => {
  assertEquals(await problems(edit(BASE, ["seeds: [0, 1]", "seeds: [0, 1, 0]"])), [
    "recipe.yaml:21:15 seeds[2]: duplicate seed 0",
  ]);
  assertEquals(await problems(withPolicies("  nvfp4: { extends: nvfp4 }\n", "fp32")), [
    'recipe.yaml:22:11 baseline: "fp32" is not a policy of this recipe (nvfp4)',
  ]);
  assertEquals(await problems(withPolicies("  {}\n")), [
    "recipe.yaml:24:3 policies: give at least one policy",
  ]);
});

Deno.test("a hybrid's Mamba-2 shape is checked at its keys", async () => {
  const hybrid = (mamba: string) =>
    edit(BASE, ['  pattern: "*-*-"', `  pattern: "M-*-"\n  mamba: ${mamba}`]);
  // Line 4 holds the mamba mapping.
  assertEquals(await problems(hybrid("{ head_dim: 48 }")), [
    "recipe.yaml:4:22 model.mamba.head_dim: must divide d_inner = expand · dModel = 128, got 48",
  ]);
  assertEquals(await problems(hybrid("{ head_dim: 16, n_groups: 3 }")), [
    "recipe.yaml:4:36 model.mamba.n_groups: must divide the 8 Mamba heads (d_inner / headDim), got 3",
  ]);
  assertEquals(await problems(hybrid("{ d_state: 60 }")), [
    "recipe.yaml:4:10 model.mamba: in_proj width 2·d_inner + 2·n_groups·d_state + heads = 2·128 + " +
    "2·1·60 + 4 = 380 must be a multiple of 16 (the quantizers' blocks); change head_dim, d_state " +
    "or n_groups",
  ]);
  const recipe = await load(hybrid("{ d_state: 64, head_dim: 8 }"));
  assertEquals(recipe.model.mamba, { dState: 64, headDim: 8 });
});

Deno.test("a hybrid's Mamba-2 widths must divide into the blocks of every policy", async () => {
  // in_proj 2·128 + 2·16 + 16 = 304 rows: a multiple of 16, not of 32 (MXFP4's blocks).
  const text = edit(
    BASE,
    ['  pattern: "*-*-"', '  pattern: "M-*-"\n  mamba: { d_state: 16, head_dim: 8 }'],
    ["  nvfp4: { extends: nvfp4 }", "  mxfp4: { extends: mxfp4 }"],
  );
  assertEquals(await problems(text), [
    "recipe.yaml:4:10 model.mamba: Mamba-2 in_proj width 2·d_inner + 2·n_groups·d_state + heads = " +
    '304 must be a multiple of 32 for policy "mxfp4" (dgrad.dy: 1×32 blocks)',
  ]);
});
