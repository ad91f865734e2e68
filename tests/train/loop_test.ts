import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { loadDataset } from "../../src/train/data/dataset.ts";
import { train, type TrainConfig } from "../../src/train/loop.ts";

const CONFIG: TrainConfig = {
  model: { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 16, vocab: 256, mlp: "swiglu" },
  policy: POLICIES.nvfp4,
  steps: 6,
  batch: 2,
  seed: 5,
  clip: 1,
  adamw: { weightDecay: 0.1 },
  schedule: { kind: "wsd", lr: 3e-3, warmup: 2, decayFraction: 0.5 },
  logEvery: 1,
  warmupSteps: 1,
};

Deno.test("training resumed from a checkpoint continues bit-identically", async () => {
  const gpu = await getGpu();
  const data = await loadDataset({ corpus: "moby-dick" });
  const dir = await Deno.makeTempDir();
  try {
    const whole = await train(gpu, data, CONFIG, {
      checkpoint: { path: `${dir}/a.safetensors`, every: 100 },
    });
    const first = await train(gpu, data, CONFIG, {
      stopAfter: 3,
      checkpoint: { path: `${dir}/b.safetensors`, every: 3 },
    });
    const rest = await train(gpu, data, CONFIG, {
      resumeFrom: `${dir}/b.safetensors`,
      checkpoint: { path: `${dir}/c.safetensors`, every: 100 },
    });
    assertEquals(
      [...first.train, ...rest.train].map((p) => [p.step, p.loss]),
      whole.train.map((p) => [p.step, p.loss]),
    );
    const a = await Deno.readFile(`${dir}/a.safetensors`);
    const c = await Deno.readFile(`${dir}/c.safetensors`);
    assertStrictEquals(a.length, c.length);
    assertOk(a.every((v, i) => v === c[i]), "final checkpoints differ");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train reports eval curves, throughput and memory", async () => {
  const gpu = await getGpu();
  const data = await loadDataset({ corpus: "moby-dick" });
  const r = await train(gpu, data, {
    ...CONFIG,
    steps: 8,
    logEvery: 4,
    eval: { every: 4, batches: 2 },
  });
  assertEquals(r.train.map((p) => p.step), [4, 8]);
  assertEquals(r.eval.map((p) => p.step), [4, 8]);
  assertOk(r.eval.every((p) => p.loss > 0 && p.accuracy >= 0 && p.accuracy <= 1));
  assertOk(r.tokensPerSecond > 0 && r.stepMs.p50 > 0 && r.dispatchesPerStep > 50 && r.gpuBytes > 0);
  assertStrictEquals(r.divergedAt, undefined);
});
