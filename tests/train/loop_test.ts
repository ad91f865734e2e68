import { assertEquals, assertOk, assertRejects, assertStrictEquals } from "../assert.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { loadDataset } from "../../src/train/data/dataset.ts";
import { train, type TrainConfig } from "../../src/train/loop.ts";
import { lrAt } from "../../src/train/schedule.ts";

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

for (const policy of ["nvfp4", "fp8-delayed"]) {
  Deno.test(`training resumed from a checkpoint continues bit-identically and returns the whole curve (${policy})`, async () => {
    const gpu = await getGpu();
    const data = await loadDataset({ corpus: "moby-dick" });
    const config = { ...CONFIG, policy: POLICIES[policy] };
    const dir = await Deno.makeTempDir();
    try {
      const whole = await train(gpu, data, config, {
        checkpoint: { path: `${dir}/a.safetensors`, every: 100 },
      });
      const first = await train(gpu, data, config, {
        stopAfter: 3,
        checkpoint: { path: `${dir}/b.safetensors`, every: 3 },
      });
      const rest = await train(gpu, data, config, {
        resumeFrom: `${dir}/b.safetensors`,
        checkpoint: { path: `${dir}/c.safetensors`, every: 100 },
      });
      assertEquals(first.train.map((p) => p.step), [1, 2, 3]);
      // The checkpoint carries the curve so far: the resumed run returns the whole of it.
      assertEquals(rest.train, whole.train);
      const a = await Deno.readFile(`${dir}/a.safetensors`);
      const c = await Deno.readFile(`${dir}/c.safetensors`);
      assertStrictEquals(a.length, c.length);
      assertOk(a.every((v, i) => v === c[i]), "final checkpoints differ");
      // Delayed scaling's states are in the checkpoint, and resuming needs them.
      const states = (await loadCheckpoint(`${dir}/b.safetensors`)).scaling!;
      assertStrictEquals(states.size > 0, policy === "fp8-delayed");
      if (states.size > 0) {
        const fresh = await loadCheckpoint(`${dir}/b.safetensors`);
        fresh.scaling = new Map();
        await saveCheckpoint(`${dir}/d.safetensors`, fresh);
        await assertRejects(
          () => train(gpu, data, config, { resumeFrom: `${dir}/d.safetensors` }),
          RangeError,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

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

Deno.test("train times each step on the GPU (clock gpu) where the adapter has timestamp-query, else by logging window", async () => {
  const gpu = await getGpu();
  assertOk(
    gpu.features.has("timestamp-query"),
    `adapter "${gpu.info.description}" lacks timestamp-query (Deno's WebGPU grants it on every adapter the README lists)`,
  );
  const data = await loadDataset({ corpus: "moby-dick" });
  const config = { ...CONFIG, steps: 8, logEvery: 4 };
  const timed = await train(gpu, data, config);
  assertStrictEquals(timed.stepMs.clock, "gpu");
  assertOk(
    Number.isFinite(timed.stepMs.p50) && timed.stepMs.p50 > 0 &&
      timed.stepMs.p99 >= timed.stepMs.p50,
    JSON.stringify(timed.stepMs),
  );
  // The same device seen without the feature: step times come from the logging windows.
  const features = new Set([...gpu.features].filter((f) => f !== "timestamp-query"));
  const untimed = await train({ ...gpu, features }, data, config);
  assertStrictEquals(untimed.stepMs.clock, "window");
  assertOk(untimed.stepMs.p50 > 0, JSON.stringify(untimed.stepMs));
  // Timing changes nothing about the training itself.
  assertEquals(untimed.train.map((p) => p.loss), timed.train.map((p) => p.loss));
});

Deno.test("train curve points carry each logged step's finite gradient norm and the schedule's learning rate", async () => {
  const gpu = await getGpu();
  const data = await loadDataset({ corpus: "moby-dick" });
  const r = await train(gpu, data, CONFIG); // logEvery 1: every step is a point
  assertEquals(r.train.map((p) => p.step), [1, 2, 3, 4, 5, 6]);
  for (const p of r.train) {
    assertOk(
      typeof p.gradNorm === "number" && Number.isFinite(p.gradNorm) && p.gradNorm > 0,
      `step ${p.step}: gradNorm ${p.gradNorm}`,
    );
    assertStrictEquals(p.lr, lrAt(CONFIG.schedule, p.step - 1, CONFIG.steps), `step ${p.step}`);
  }
  // WSD, warm-up 2, decay over the last 3 of 6 steps: rises, holds, falls to 0.
  const expected = [1.5e-3, 3e-3, 3e-3, 2e-3, 1e-3, 0];
  r.train.forEach((p, i) => assertOk(Math.abs(p.lr! - expected[i]) < 1e-12, `${p.lr}`));
  // Validation points carry neither.
  assertOk(r.eval.every((p) => p.gradNorm === undefined && p.lr === undefined));
});

Deno.test("the logged gradient norm is measured before clipping", async () => {
  const gpu = await getGpu();
  const data = await loadDataset({ corpus: "moby-dick" });
  const short = { ...CONFIG, steps: 2, schedule: { kind: "constant", lr: 3e-3 } } as const;
  const loose = await train(gpu, data, { ...short, clip: 1e6 });
  const tight = await train(gpu, data, { ...short, clip: 1e-3 });
  // Step 1 starts from the same weights: the same gradient, whatever the clipping threshold.
  assertOk(loose.train[0].gradNorm! > 1e-3, `${loose.train[0].gradNorm}`);
  assertStrictEquals(tight.train[0].gradNorm, loose.train[0].gradNorm);
});
