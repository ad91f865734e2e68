/**
 * A valid recipe loads into the training types, with every default spelled out.
 */

import { assertEquals, assertOk, assertRejects } from "../assert.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { loadRecipe } from "../../src/recipe/load.ts";
import { RecipeError } from "../../src/recipe/problems.ts";
import { BASE, edit, load, writeRecipe } from "./fixture.ts";

Deno.test("the sections map onto ModelConfig, DataSpec, RunTrain and policies", async () => {
  const recipe = await load(BASE);
  assertEquals(recipe.name, "tiny");
  assertEquals(recipe.description, "");
  assertEquals(recipe.model, {
    pattern: "*-*-",
    dModel: 64,
    heads: 4,
    dFf: 256,
    seqLen: 32,
    vocab: 256,
    mlp: "relu2",
  });
  assertEquals(recipe.data, { corpus: ["moby-dick"], tokenizer: "byte", valFraction: 0.05 });
  assertEquals(recipe.train, {
    steps: 20,
    batch: 4,
    schedule: { kind: "wsd", lr: 1e-3, finalLr: 0, warmup: 2, decayFraction: 0.2, decay: "linear" },
    clip: 1,
    adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    logEvery: 10,
    eval: { every: 10, batches: 2 },
    warmupSteps: 3,
  });
  assertEquals(recipe.seeds, [0, 1]);
  assertEquals(recipe.baseline, "bf16");
  assertEquals(recipe.policies, [POLICIES.bf16, POLICIES.nvfp4]);
  assertEquals(recipe.hash.length, 64);
});

Deno.test("optional keys: init_std, shards, cosine, clip null, log and warmup steps", async () => {
  const text = edit(
    BASE,
    ["  mlp: relu2", "  mlp: swiglu\n  init_std: 0.01"],
    ["  corpus: moby-dick", "  shards: train_*.bin\n  val_shards: [val.bin]\n  tokenizer: gpt2"],
    ["  vocab: 256", "  vocab: 50304"],
    ["adamw: { lr: 1.0e-3, ", "adamw: { "],
    ["    wsd: { warmup: 2 }", "    cosine: { lr: 3.0e-4, min_lr: 3.0e-5 }"],
    ["  clip: 1.0", "  clip: null\n  log_every: 5\n  warmup_steps: 0"],
  );
  const bin = "\u0001\u0000";
  const recipe = await load(text, { "train_b.bin": bin, "train_a.bin": bin, "val.bin": bin });
  assertEquals(recipe.model.initStd, 0.01);
  assertEquals(recipe.model.mlp, "swiglu");
  assertEquals(recipe.data, { shards: ["train_*.bin"], valShards: ["val.bin"], tokenizer: "gpt2" });
  assertEquals(recipe.train.schedule, { kind: "cosine", lr: 3e-4, minLr: 3e-5, warmup: 0 });
  assertEquals([recipe.train.clip, recipe.train.logEvery, recipe.train.warmupSteps], [null, 5, 0]);
});

Deno.test("anchors and aliases work; the description is kept", async () => {
  const text = edit(
    BASE,
    ["name: tiny\n", "name: tiny\ndescription: Two policies.\n"],
    ["  bf16: { extends: bf16 }", "  bf16: { extends: bf16, grads: &g { format: bf16 } }"],
    ["  nvfp4: { extends: nvfp4 }", "  nvfp4: { extends: nvfp4, grads: *g }"],
  );
  const recipe = await load(text);
  assertEquals(recipe.description, "Two policies.");
  assertEquals(recipe.policies[1].linear.dgrad.dy, { format: "bf16", rounding: "stochastic" });
});

Deno.test("a validation split too small for one evaluation batch is a recipe problem at train.eval when data is checked", async () => {
  // 16 × 32 + 1 = 513 validation tokens are needed; 1 % of moby-dick's ≈ 1.2 MB is ≈ 12,000, so
  // val_fraction 0.0001 leaves ≈ 120.
  const text = edit(BASE, ["  corpus: moby-dick", "  corpus: moby-dick\n  val_fraction: 0.0001"], [
    "  batch: 4",
    "  batch: 16",
  ]);
  const { dir, path } = await writeRecipe(text);
  try {
    await loadRecipe(path); // without the data check it loads
    await assertRejects(loadRecipe(path, { checkData: true }), (e) => {
      assertOk(e instanceof RecipeError);
      assertOk(
        /recipe\.yaml:\d+:\d+ train\.eval: one evaluation batch \(train\.batch 16 × seq_len 32 \+ 1 = 513 tokens\) does not fit the validation split \(\d+ tokens\)/
          .test(e.message),
        e.message,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
