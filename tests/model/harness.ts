/**
 * Test helpers shared by the model tests (decoders and hybrids): tiny configurations, short training runs on Moby Dick
 * (bytes) and the check that their loss falls or repeats bit for bit, one fp32 step against the
 * float64 reference, and the check that the memory estimate is what the model allocates.
 *
 * @module
 */

import { assertOk, assertStrictEquals, relativeError } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { DecoderModel, type StepConfig, type StepMetrics } from "../../src/model/decoder.ts";
import { linearLayers, type ModelConfig } from "../../src/model/config.ts";
import { estimateMemory } from "../../src/model/memory.ts";
import { gemmUnits } from "../../src/model/linear.ts";
import { type PrecisionPolicy, unmatchedSelectors } from "../../src/model/policy.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { type ReferenceStep, referenceStep } from "../../src/model/reference.ts";
import { loadDataset } from "../../src/train/data/dataset.ts";

/** A tiny GPT: one attention and one MLP block. */
export const TINY_GPT: ModelConfig = {
  pattern: "*-",
  dModel: 32,
  heads: 2,
  dFf: 64,
  seqLen: 8,
  vocab: 64,
  mlp: "relu2",
};

/**
 * A tiny Nemotron-H style hybrid: Mamba-2, MLP, attention, Mamba-2. d_inner 64 in 8 heads of 8 in
 * 2 groups of d_state 6: in_proj 2·64 + 2·2·6 + 8 = 160 rows.
 */
export const TINY_HYBRID: ModelConfig = {
  ...TINY_GPT,
  pattern: "M-*M",
  mamba: { dState: 6, headDim: 8, expand: 2, nGroups: 2 },
};

/**
 * Trains `cfg` under a built-in policy (by name) or a given one for `steps` steps (batch 4, lr
 * 1e-2, clip 1, weight decay 0.1) and returns the loss after every step.
 */
export async function lossCurve(
  cfg: ModelConfig,
  policy: string | PrecisionPolicy,
  steps: number,
  seed = 0,
): Promise<number[]> {
  const gpu = await getGpu();
  const data = await loadDataset({ corpus: "moby-dick" });
  const batch = 4;
  const p = typeof policy === "string" ? POLICIES[policy] : policy;
  const model = await DecoderModel.create(gpu, cfg, p, {
    batch,
    seed,
    totalSteps: steps,
    clip: 1,
    adamw: { weightDecay: 0.1 },
  });
  const losses: number[] = [];
  for (let s = 1; s <= steps; s++) {
    await model.step(data.batch("train", s - 1, { batch, seqLen: cfg.seqLen, seed }), s, 1e-2);
    losses.push((await model.readMetrics()).loss);
  }
  model.destroy();
  return losses;
}

/** Asserts a curve starts near ln(vocab) and its last 5 losses average ≥ 2 nats below the first. */
export function assertFallingLoss(losses: readonly number[], vocab: number): void {
  const first = losses[0];
  const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
  assertOk(
    Math.abs(first - Math.log(vocab)) < 0.3,
    `initial loss ${first} should be near ln ${vocab}`,
  );
  assertOk(
    last < first - 2,
    `loss fell only from ${first} to ${last}: ${losses.map((l) => l.toFixed(2))}`,
  );
}

/** Asserts `steps` nvfp4 steps of `cfg` repeat bit for bit with the same seed and differ with another. */
export async function assertSeedDeterminism(cfg: ModelConfig, steps: number): Promise<void> {
  const a = await lossCurve(cfg, "nvfp4", steps);
  const b = await lossCurve(cfg, "nvfp4", steps);
  const c = await lossCurve(cfg, "nvfp4", steps, 1);
  assertStrictEquals(a.join(), b.join());
  assertOk(a.join() !== c.join());
}

/**
 * Runs one fp32 training step of `cfg` on a batch and asserts that its loss is within 1e-5 and
 * every gradient within 1e-4 (relative) of the float64 reference; returns both step's metrics.
 */
export async function assertStepMatchesReference(
  cfg: ModelConfig,
  step: StepConfig,
  batch: { inputs: Uint32Array; targets: Uint32Array },
): Promise<{ metrics: StepMetrics; ref: ReferenceStep }> {
  const model = await DecoderModel.create(await getGpu(), cfg, POLICIES.fp32, step);
  const params = new Map<string, Float32Array>();
  for (const p of model.params) params.set(p.spec.name, await model.read(p.spec.name));
  await model.step(batch, 1, 0);
  const metrics = await model.readMetrics();
  const ref = referenceStep(cfg, params, step.batch, batch.inputs, batch.targets);
  assertOk(
    Math.abs(metrics.loss - ref.loss) / ref.loss < 1e-5,
    `loss ${metrics.loss} vs ${ref.loss}`,
  );
  for (const p of model.params) {
    const err = relativeError(await model.read(p.spec.name, "g"), ref.grads.get(p.spec.name)!);
    assertOk(err < 1e-4, `gradient of ${p.spec.name}: relative error ${err}`);
  }
  model.destroy();
  return { metrics, ref };
}

/**
 * Asserts that `estimateMemory` equals the bytes `DecoderModel` allocates for `cfg` (batch 2,
 * 10 steps) under every built-in policy that applies to it (whose layer selectors all match a
 * layer of `cfg`: `nemotron-h` needs attention and Mamba-2 blocks).
 */
export async function assertEstimateIsAllocated(
  cfg: ModelConfig,
  health?: { draws: number },
): Promise<void> {
  const gpu = await getGpu();
  const layers = linearLayers(cfg.pattern).map((l) => l.name);
  for (const name of Object.keys(POLICIES)) {
    if (unmatchedSelectors(POLICIES[name], layers).length > 0) continue;
    const step: StepConfig = {
      batch: 2,
      seed: 0,
      totalSteps: 10,
      clip: 1,
      adamw: {},
      ...(health ? { health } : {}),
    };
    const model = await DecoderModel.create(gpu, cfg, POLICIES[name], step);
    const probe = health && { ...health, device: gpu };
    assertStrictEquals(
      estimateMemory(cfg, POLICIES[name], 2, 10, gemmUnits(gpu), probe).bytes,
      model.bytes,
      `${name} ${cfg.pattern} ${cfg.mlp}${health ? " with the health probe" : ""}`,
    );
    model.destroy();
  }
}
