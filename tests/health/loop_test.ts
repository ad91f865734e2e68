import { assertEquals, assertOk } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { train, type TrainConfig } from "../../src/train/loop.ts";
import { loadDataset } from "../../src/train/data/dataset.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { DEFAULT_ALARMS, type HealthConfig } from "../../src/health/types.ts";
import { loadRecipe } from "../../src/recipe/load.ts";
import { RecipeError } from "../../src/recipe/problems.ts";
import { withTempDir } from "../temp_dir.ts";

const CONFIG: TrainConfig = {
  model: { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 16, vocab: 256, mlp: "relu2" },
  policy: POLICIES["nvfp4-all-layers"],
  steps: 6,
  batch: 2,
  seed: 1,
  clip: 1,
  adamw: {},
  schedule: { kind: "constant", lr: 1e-3 },
  logEvery: 2,
  eval: { every: 3, batches: 1 },
};

const HEALTH: HealthConfig = { every: 2, draws: 2, alarms: DEFAULT_ALARMS };

Deno.test("training with health diagnostics records a point every `every` steps and the same curves as without", async () => {
  const gpu = await getGpu();
  const data = await loadDataset({ corpus: "moby-dick" });
  const plain = await train(gpu, data, CONFIG);
  const probed = await train(gpu, data, { ...CONFIG, health: HEALTH });
  assertEquals(probed.train, plain.train);
  assertEquals(probed.eval, plain.eval);
  assertEquals(plain.health, undefined);
  const h = probed.health!;
  assertEquals(h.points.map((p) => p.step), [2, 4, 6]);
  assertEquals(h.points[0].layers.map((l) => l.layer), [
    "blocks.0.qkv",
    "blocks.0.proj",
    "blocks.1.fc1",
    "blocks.1.fc2",
    "lm_head",
  ]);
  const wgrad = h.points[0].layers[0].gemms.find((g) => g.gemm === "wgrad")!;
  assertOk(wgrad.relL2 > 0.05 && wgrad.relL2 < 0.5, `wgrad relL2 ${wgrad.relL2}`);
  assertEquals(wgrad.a.bias?.draws, 2);
  assertEquals(h.stoppedAt, null);
});

Deno.test("a health alarm with stop: true ends the run at that step, evaluated", async () => {
  const gpu = await getGpu();
  const data = await loadDataset({ corpus: "moby-dick" });
  const strict: HealthConfig = {
    ...HEALTH,
    alarms: { ...DEFAULT_ALARMS, saturation: 1, underflow: 1, relL2: 1e-6, stop: true },
  };
  const result = await train(gpu, data, { ...CONFIG, health: strict });
  const h = result.health!;
  assertEquals(h.stoppedAt, 2);
  assertEquals(h.points.length, 1);
  assertOk(h.alarms.length > 0 && h.alarms.every((a) => a.step === 2), JSON.stringify(h.alarms[0]));
  assertEquals(h.alarms[0].measure, "relL2");
  assertEquals(result.train.at(-1)!.step, 2);
  assertEquals(result.eval.at(-1)!.step, 2);
});

const RECIPE = `name: tiny
model: { pattern: "*-", d_model: 32, heads: 2, d_ff: 64, seq_len: 16, vocab: 256, mlp: relu2 }
data: { corpus: moby-dick }
train:
  steps: 10
  batch: 2
  optimizer: { adamw: { betas: [0.9, 0.95], eps: 1.0e-8, weight_decay: 0.1 } }
  schedule: { constant: { lr: 1.0e-3 } }
  clip: 1.0
  eval: { every: 5, batches: 1 }
seeds: [0]
baseline: fp32
policies: { fp32: { extends: fp32 } }
`;

Deno.test("a recipe's health section resolves with its defaults; a bad key is refused at its line", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/a.yaml`,
      RECIPE + "health: { alarms: { gain: [0.8, 1.2] } }\n",
    );
    const recipe = await loadRecipe(`${dir}/a.yaml`);
    assertEquals(recipe.health, {
      every: 5,
      draws: 4,
      alarms: { saturation: 0.001, underflow: 0.01, gain: [0.8, 1.2], stop: false },
    });
    await Deno.writeTextFile(`${dir}/b.yaml`, RECIPE + "health: { evry: 5 }\n");
    const error = await loadRecipe(`${dir}/b.yaml`).catch((e) => e);
    assertOk(error instanceof RecipeError, String(error));
    assertOk(/b\.yaml:14:11/.test(error.message) && /evry/.test(error.message), error.message);
  });
});

Deno.test("health diagnostics cover a hybrid's Mamba projections and leave its training unchanged", async () => {
  const gpu = await getGpu();
  const data = await loadDataset({ corpus: "moby-dick" });
  const hybrid: TrainConfig = {
    ...CONFIG,
    model: {
      pattern: "M-*-",
      dModel: 128,
      heads: 4,
      dFf: 256,
      seqLen: 16,
      vocab: 256,
      mlp: "relu2",
      mamba: { dState: 64, headDim: 16, expand: 2, nGroups: 1 },
    },
    steps: 4,
  };
  const plain = await train(gpu, data, hybrid);
  const probed = await train(gpu, data, { ...hybrid, health: HEALTH });
  assertEquals(probed.train, plain.train);
  const layers = probed.health!.points[0].layers.map((l) => l.layer);
  assertEquals(layers.slice(0, 2), ["blocks.0.in_proj", "blocks.0.out_proj"]);
  for (const g of probed.health!.points[0].layers[0].gemms) {
    assertOk(g.relL2 > 0.05 && g.relL2 < 0.3, `in_proj ${g.gemm} relL2 ${g.relL2}`);
  }
});
