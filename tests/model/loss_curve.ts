/**
 * Test helper: short training runs of a model on Moby Dick (bytes), and the check that their loss
 * falls, shared by the GPT and hybrid model tests.
 *
 * @module
 */

import { assertOk } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { DecoderModel } from "../../src/model/decoder.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { POLICIES } from "../../src/model/policy.ts";
import { loadDataset } from "../../src/train/data/dataset.ts";

/**
 * Trains `cfg` under a built-in policy for `steps` steps (batch 4, lr 1e-2, clip 1, weight decay
 * 0.1) and returns the loss after every step.
 */
export async function lossCurve(
  cfg: ModelConfig,
  policy: string,
  steps: number,
  seed = 0,
): Promise<number[]> {
  const gpu = await getGpu();
  const data = await loadDataset({ corpus: "moby-dick" });
  const batch = 4;
  const model = await DecoderModel.create(gpu, cfg, POLICIES[policy], {
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
