/**
 * Evaluation under a policy of its own (`PrecisionPolicy.evalPolicy`, issue 14 item 8): training
 * is bit-identical to the same policy without it (the evaluation builds draw no training tensor
 * ids, and delayed-scaling states are kept across them), an evaluation equals a model of the evaluation policy holding the trained weights, and the
 * memory estimate covers the evaluation build.
 */

import { assertOk, assertStrictEquals } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { DecoderModel, type StepConfig } from "../../src/model/decoder.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { estimateMemory } from "../../src/model/memory.ts";
import { gemmUnits } from "../../src/model/linear.ts";
import type { PrecisionPolicy } from "../../src/model/policy.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { loadDataset } from "../../src/train/data/dataset.ts";

const TINY: ModelConfig = {
  pattern: "*-*-",
  dModel: 32,
  heads: 2,
  dFf: 64,
  seqLen: 16,
  vocab: 256,
  mlp: "relu2",
};
const STEPS = 4;
const BATCH = 2;
const STEP: StepConfig = { batch: BATCH, seed: 3, totalSteps: STEPS, clip: 1, adamw: {} };
const SAMPLE = { batch: BATCH, seqLen: TINY.seqLen, seed: STEP.seed };

/**
 * Trains `policy` for {@link STEPS} steps, evaluating one validation batch after every second
 * step; returns the training losses, the evaluation losses and the final parameters.
 */
async function trainAndEvaluate(policy: PrecisionPolicy) {
  const data = await loadDataset({ corpus: "moby-dick" });
  const model = await DecoderModel.create(await getGpu(), TINY, policy, STEP);
  const [val] = data.evalBatches({ ...SAMPLE, limit: 1 });
  const train: number[] = [];
  const evals: number[] = [];
  for (let s = 1; s <= STEPS; s++) {
    await model.step(data.batch("train", s - 1, SAMPLE), s, 1e-2);
    train.push((await model.readMetrics()).loss);
    if (s % 2 === 0) evals.push((await model.evaluate(val)).loss);
  }
  const params = new Map<string, Float32Array>();
  for (const p of model.params) params.set(p.spec.name, await model.read(p.spec.name));
  model.destroy();
  return { train, evals, params, val };
}

Deno.test("an evaluation policy leaves training bit-identical, late switch and delayed scaling included", async () => {
  const late = { ...POLICIES.nvfp4, switchTo: { atFraction: 0.5, policy: POLICIES.fp32.linear } };
  // fp8-delayed's amax histories live in the training build: they survive the evaluation builds.
  for (const base of [POLICIES.nvfp4, late, POLICIES["fp8-delayed"]]) {
    const plain = await trainAndEvaluate(base);
    const evalBf16 = await trainAndEvaluate({ ...base, evalPolicy: POLICIES.bf16 });
    assertStrictEquals(evalBf16.train.join(), plain.train.join());
    assertOk(evalBf16.evals.join() !== plain.evals.join(), "bf16 evaluation should differ");
  }
});

Deno.test("an evaluation equals a model of the evaluation policy holding the trained weights", async () => {
  const run = await trainAndEvaluate({ ...POLICIES.nvfp4, evalPolicy: POLICIES.bf16 });
  const model = await DecoderModel.create(await getGpu(), TINY, POLICIES.bf16, STEP);
  for (const [name, data] of run.params) model.write(name, data);
  const loss = (await model.evaluate(run.val)).loss;
  model.destroy();
  assertStrictEquals(loss, run.evals.at(-1));
});

Deno.test("estimateMemory covers the larger of the training and evaluation builds", async () => {
  const gpu = await getGpu();
  // fp32 training holds no quantized copies; nvfp4 evaluation does.
  const policy = { ...POLICIES.fp32, evalPolicy: POLICIES.nvfp4 };
  const data = await loadDataset({ corpus: "moby-dick" });
  const model = await DecoderModel.create(gpu, TINY, policy, STEP);
  const training = model.bytes;
  await model.step(data.batch("train", 0, SAMPLE), 1, 1e-3);
  await model.evaluate(data.batch("train", 1, SAMPLE));
  const evaluating = model.bytes;
  model.destroy();
  assertOk(evaluating > training, `evaluation build ${evaluating} B, training ${training} B`);
  assertStrictEquals(estimateMemory(TINY, policy, BATCH, STEPS, gemmUnits(gpu)).bytes, evaluating);
});
