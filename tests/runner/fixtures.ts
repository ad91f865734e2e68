/**
 * Runs for the runner and report tests: synthetic records (a decaying loss curve per run whose
 * final values the test chooses, and an H100-like environment) and a tiny spec to train.
 *
 * @module
 */

import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { type Environment, RECORD_FORMAT, type RunRecord } from "../../src/runner/record.ts";
import type { RunSpec } from "../../src/recipe/run_spec.ts";
import type { CurvePoint } from "../../src/train/loop.ts";

/** The environment of the synthetic records. */
export const ENV: Environment = {
  deno: "2.9.6",
  v8: "14.1.0",
  typescript: "5.9.2",
  os: "linux 6.8.0",
  arch: "x86_64",
  implementation: { name: "deno", version: "2.9.6", toggles: [] },
  adapter: {
    vendor: "4318",
    architecture: "",
    device: "9008",
    description: "NVIDIA H100 80GB HBM3",
    isFallbackAdapter: false,
  },
  features: ["timestamp-query", "shader-f16"],
  limits: { maxStorageBufferBindingSize: 2147483644, maxBufferSize: 2147483648 },
  git: { commit: "0123456789abcdef0123456789abcdef01234567", dirty: false },
};

/** What a test chooses about one run. */
export interface RunOptions {
  readonly suite?: string;
  readonly policy: string;
  readonly seed: number;
  /** Final validation loss (the eval curve ends there); omit for a run without eval points. */
  readonly evalLoss?: number;
  /** Final train loss (default `evalLoss` − 0.05). */
  readonly trainLoss?: number;
  readonly accuracy?: number;
  readonly divergedAt?: number;
  readonly tokensPerSecond?: number;
  readonly stepMs?: { p50: number; p99: number; clock?: "gpu" | "window" };
  readonly gpuBytes?: number;
  readonly recipeHash?: string;
  readonly finishedAt?: string;
  readonly env?: Environment;
  readonly baseline?: string;
}

const STEPS = 100;

/** A curve from 5.5 at step 10 down to `last` at step 100. */
function curve(last: number, accuracy: number, stop = STEPS): CurvePoint[] {
  const points: CurvePoint[] = [];
  for (let step = 10; step <= stop; step += 10) {
    const f = (STEPS - step) / (STEPS - 10);
    points.push({ step, loss: last + (5.5 - last) * f * f, accuracy: accuracy * (1 - f / 2) });
  }
  return points;
}

/** A complete record with the chosen outcome. */
export function makeRecord(o: RunOptions): RunRecord {
  const accuracy = o.accuracy ?? 0.4;
  const diverged = o.divergedAt !== undefined;
  const train = curve(o.trainLoss ?? (o.evalLoss ?? 2.5) - 0.05, accuracy, o.divergedAt);
  if (diverged) train[train.length - 1] = { ...train[train.length - 1], loss: NaN };
  const evalCurve = o.evalLoss === undefined
    ? []
    : curve(o.evalLoss, accuracy, o.divergedAt ?? STEPS).filter((p) =>
      p.step % 50 === 0 && (!diverged || p.step < o.divergedAt!)
    );
  // Reports name policies as recipes do (`fp8` for the preset `fp8-current`); others are nvfp4.
  const preset = o.policy === "fp8" ? POLICIES["fp8-current"] : POLICIES[o.policy];
  const policy = { ...(preset ?? POLICIES.nvfp4), name: o.policy };
  return {
    format: RECORD_FORMAT,
    id: `${o.suite ?? "suite-a"}-${o.policy}-${o.seed}-${o.recipeHash ?? "r1"}-${
      o.finishedAt ?? "t0"
    }`,
    spec: {
      suite: o.suite ?? "suite-a",
      recipePath: `recipes/${o.suite ?? "suite-a"}.yaml`,
      recipeHash: o.recipeHash ?? "r1",
      policyName: o.policy,
      baseline: o.baseline ?? "bf16",
      seed: o.seed,
      model: {
        pattern: "*-*-*-*-",
        dModel: 128,
        heads: 4,
        dFf: 512,
        seqLen: 64,
        vocab: 256,
        mlp: "relu2",
      },
      policy,
      data: { corpus: "moby-dick", tokenizer: "byte" },
      train: {
        steps: STEPS,
        batch: 8,
        schedule: { kind: "wsd", lr: 3e-3, warmup: 10, decayFraction: 0.2 },
        clip: 1,
        adamw: { weightDecay: 0.1 },
        logEvery: 10,
        eval: { every: 50, batches: 4 },
        warmupSteps: 5,
      },
    },
    hashes: { recipe: o.recipeHash ?? "r1", data: "d".repeat(64), kernels: "k".repeat(64) },
    env: o.env ?? ENV,
    result: {
      train,
      eval: evalCurve,
      tokensPerSecond: o.tokensPerSecond ?? 10000,
      stepMs: o.stepMs ?? { p50: 51.2, p99: 60 },
      dispatchesPerStep: 120,
      gpuBytes: o.gpuBytes ?? 64 * 2 ** 20,
      divergedAt: o.divergedAt ?? null,
    },
    finishedAt: o.finishedAt ?? "2026-11-22T18:00:00.000Z",
    durationSeconds: 12,
  };
}

/**
 * The suite of the aggregation tests. Final validation losses: bf16 (baseline) 2.10, 2.12, 2.11;
 * nvfp4 2.15, 2.18, 2.16; mxfp4 2.30, 2.26 and one diverged run; fp8 one seed 2.11; fp32 no eval,
 * final train losses 2.09, 2.08.
 */
export function suiteA(): RunRecord[] {
  return [
    makeRecord({ policy: "bf16", seed: 0, evalLoss: 2.10, tokensPerSecond: 9000 }),
    makeRecord({ policy: "bf16", seed: 1, evalLoss: 2.12, tokensPerSecond: 11000 }),
    makeRecord({ policy: "bf16", seed: 2, evalLoss: 2.11, tokensPerSecond: 10000 }),
    makeRecord({
      policy: "nvfp4",
      seed: 0,
      evalLoss: 2.15,
      accuracy: 0.3,
      stepMs: { p50: 10, p99: 20 },
    }),
    makeRecord({
      policy: "nvfp4",
      seed: 1,
      evalLoss: 2.18,
      accuracy: 0.4,
      stepMs: { p50: 12, p99: 30 },
    }),
    makeRecord({
      policy: "nvfp4",
      seed: 2,
      evalLoss: 2.16,
      accuracy: 0.5,
      stepMs: { p50: 11, p99: 25 },
    }),
    makeRecord({ policy: "mxfp4", seed: 0, evalLoss: 2.30 }),
    makeRecord({ policy: "mxfp4", seed: 1, evalLoss: 2.26 }),
    makeRecord({ policy: "mxfp4", seed: 2, evalLoss: 2.40, divergedAt: 70, tokensPerSecond: NaN }),
    makeRecord({ policy: "fp8", seed: 0, evalLoss: 2.11 }),
    makeRecord({ policy: "fp32", seed: 0, trainLoss: 2.09 }),
    makeRecord({ policy: "fp32", seed: 1, trainLoss: 2.08 }),
  ];
}

/** A run that trains in a second on a software adapter: 4 steps, one attention and one MLP block. */
export function tinySpec(policyName: string, seed: number): RunSpec {
  return {
    suite: "runner-test",
    recipePath: "recipes/runner-test.yaml",
    recipeHash: "0".repeat(64),
    policyName,
    baseline: "fp32",
    seed,
    model: { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 16, vocab: 256, mlp: "relu2" },
    policy: POLICIES[policyName],
    data: { corpus: "moby-dick" },
    train: {
      steps: 4,
      batch: 2,
      schedule: { kind: "constant", lr: 1e-3 },
      clip: 1,
      adamw: {},
      logEvery: 2,
      eval: { every: 4, batches: 1 },
      warmupSteps: 1,
    },
  };
}
