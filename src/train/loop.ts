/**
 * The training loop: a model under a precision policy trained on a dataset with an LR schedule,
 * metrics read back every `logEvery` steps (the step itself never waits on the GPU), periodic
 * evaluation on the validation split, throughput measured after untimed warm-up steps (each
 * step's GPU time from timestamps where the device has them),
 * divergence recorded as a result, and safetensors checkpoints that resume bit-identically.
 *
 * Randomness is counter-based everywhere (initialisation, batches, stochastic rounding are pure
 * functions of the seed and the step), so a checkpoint's RNG state is just `{seed, step}`; delayed
 * FP8 scaling keeps state across steps (each copy's scale and amax history), which checkpoints hold.
 * A checkpoint also holds the curves and health points measured so far, so that a run resumed from
 * it returns what an uninterrupted run returns (its timings are those measured after resuming). An
 * abort signal stops training after the step in progress, writes a checkpoint there where
 * checkpoints are on, and throws {@link TrainingInterrupted}.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { healthAlarms } from "../health/alarms.ts";
import type { HealthAlarm, HealthConfig, HealthPoint, HealthResult } from "../health/types.ts";
import { DecoderModel } from "../model/decoder.ts";
import type { ModelConfig } from "../model/config.ts";
import type { LinearPaths } from "../model/plan.ts";
import type { PrecisionPolicy } from "../model/policy.ts";
import type { AdamwConfig } from "../../kernels/adamw/reference.ts";
import { type JsonValue, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { Dataset } from "./data/dataset.ts";
import { lrAt, type Schedule, validateSchedule } from "./schedule.ts";

/** Everything a training run needs besides the data. */
export interface TrainConfig {
  /** The model's shape. */
  readonly model: ModelConfig;
  /** How every linear layer quantizes its GEMM operands. */
  readonly policy: PrecisionPolicy;
  /** Optimizer steps to train. */
  readonly steps: number;
  /** Sequences per step. */
  readonly batch: number;
  /** Seed of the initialisation, the batch order and stochastic rounding. */
  readonly seed: number;
  /** Learning-rate schedule. */
  readonly schedule: Schedule;
  /** Global gradient-norm limit (`Infinity`: none). */
  readonly clip: number;
  /** AdamW hyper-parameters (the learning rate comes from the schedule). */
  readonly adamw: AdamwConfig;
  /** Read back the training loss every this many steps (default 10). */
  readonly logEvery?: number;
  /** Evaluate every this many steps on this many validation batches (default: never). */
  readonly eval?: { readonly every: number; readonly batches: number };
  /** Steps excluded from the throughput figures (default 3). */
  readonly warmupSteps?: number;
  /**
   * Run GEMMs on the GPU's matrix units where the device has them (default true); false forces the
   * SIMT GEMMs (`StepConfig.matrixUnits`).
   */
  readonly matrixUnits?: boolean;
  /**
   * Take numeric-health diagnostics (src/health/) every `every` steps and at the last; their
   * steps carry the probe and are left out of the throughput figures. Absent: none.
   */
  readonly health?: HealthConfig;
}

/** A point of a loss curve. */
export interface CurvePoint {
  /** The step (1-based) after which it was measured. */
  readonly step: number;
  /** Mean cross-entropy (nats). */
  readonly loss: number;
  /** Top-1 next-token accuracy. */
  readonly accuracy: number;
  /** Training points only: the global gradient norm before clipping. */
  readonly gradNorm?: number;
  /** Training points only: the step's learning rate. */
  readonly lr?: number;
}

/** Step time percentiles (ms) and the clock they come from ({@link TrainResult.stepMs}). */
export interface StepTimes {
  readonly p50: number;
  readonly p99: number;
  readonly clock: "gpu" | "window";
}

/** The outcome of a run. */
export interface TrainResult {
  /** Training loss every `logEvery` steps. */
  readonly train: CurvePoint[];
  /** Validation loss every `eval.every` steps and at the end. */
  readonly eval: CurvePoint[];
  /** Median tokens/s over the logging windows after warm-up (wall clock, GPU work included). */
  readonly tokensPerSecond: number;
  /**
   * Step time percentiles (ms) after warm-up. `clock: "gpu"`: of each step's GPU time, from
   * timestamps around its compute pass (where the device has `timestamp-query`); `"window"`: of
   * the logging windows' mean wall time per step.
   */
  readonly stepMs: StepTimes;
  /** Compute dispatches recorded into one training step. */
  readonly dispatchesPerStep: number;
  /** GPU memory the model allocated (bytes). */
  readonly gpuBytes: number;
  /**
   * The GEMM path of every linear layer (`f32`, `packed` or `matrix`; src/model/linear.ts), one list
   * per policy phase (before the late switch, then after it).
   */
  readonly gemms: LinearPaths[][];
  /** The first step whose loss was NaN or infinite, if any; training stopped there. */
  readonly divergedAt?: number;
  /** The diagnostics, where `config.health` asked for them. */
  readonly health?: HealthResult;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** Write a checkpoint here every `every` steps and at the end. */
  readonly checkpoint?: { readonly path: string; readonly every: number };
  /** Continue from this checkpoint (its step + 1 onwards). */
  readonly resumeFrom?: string;
  /** Called at every logged step. */
  readonly onLog?: (point: CurvePoint & { tokensPerSecond: number }) => void;
  /** Stop after this step (for tests of resuming); default `config.steps`. */
  readonly stopAfter?: number;
  /**
   * Aborting it stops training after the step in progress (never after the last): a checkpoint is
   * written there where `checkpoint` is set, and {@link TrainingInterrupted} is thrown.
   */
  readonly signal?: AbortSignal;
}

/**
 * Thrown by {@link train} when its signal was aborted: the last step taken, and the checkpoint
 * written at it, if checkpoints are on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TrainingInterrupted } from "./loop.ts";
 * const e = new TrainingInterrupted(12, "ck.safetensors");
 * assert.match(e.message, /after step 12; checkpoint ck\.safetensors/);
 * ```
 */
export class TrainingInterrupted extends Error {
  override name = "TrainingInterrupted";
  constructor(readonly step: number, readonly checkpoint?: string) {
    super(
      `training interrupted after step ${step}` +
        (checkpoint ? `; checkpoint ${checkpoint}` : "; no checkpoint"),
    );
  }
}

/** What a run measured up to a checkpoint's step (its `progress`). */
interface Progress {
  readonly train: CurvePoint[];
  readonly eval: CurvePoint[];
  readonly health: HealthPoint[];
  readonly alarms: HealthAlarm[];
}

/** A non-finite number in a checkpoint's progress, which JSON cannot hold. */
const NON_FINITE = "$nonFinite";

/** {@link Progress} as plain JSON: NaN and ±Infinity become `{ "$nonFinite": "NaN" }`. */
function progressJson(p: Progress): JsonValue {
  return JSON.parse(
    JSON.stringify(
      p,
      (_, v) => typeof v === "number" && !Number.isFinite(v) ? { [NON_FINITE]: String(v) } : v,
    ),
  );
}

/** The {@link Progress} of {@link progressJson}'s output. */
function progressOf(json: JsonValue): Progress {
  return JSON.parse(
    JSON.stringify(json),
    (_, v) => v !== null && typeof v === "object" && NON_FINITE in v ? Number(v[NON_FINITE]) : v,
  );
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Saves the model, optimizer state, step and progress as a checkpoint. */
async function save(
  model: DecoderModel,
  path: string,
  step: number,
  config: TrainConfig,
  progress: Progress,
) {
  const params = new Map();
  const m = new Map();
  const v = new Map();
  for (const p of model.params) {
    params.set(p.spec.name, { shape: [...p.spec.shape], data: await model.read(p.spec.name) });
    m.set(p.spec.name, await model.read(p.spec.name, "m"));
    v.set(p.spec.name, await model.read(p.spec.name, "v"));
  }
  await saveCheckpoint(path, {
    params,
    m,
    v,
    scaling: await model.readDelayedStates(),
    step,
    rng: JSON.stringify({ seed: config.seed, step }),
    config: JSON.parse(JSON.stringify({ ...config, policy: config.policy.name })),
    progress: progressJson(progress),
  });
}

/**
 * Trains a model and returns its curves and throughput.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../gpu/device.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * import { loadDataset } from "./data/dataset.ts";
 * import { train } from "./loop.ts";
 * const result = await train(await getGpu(), await loadDataset({ corpus: "moby-dick" }), {
 *   model: { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 16, vocab: 256, mlp: "relu2" },
 *   policy: POLICIES.nvfp4, steps: 4, batch: 2, seed: 0, clip: 1, adamw: {},
 *   schedule: { kind: "constant", lr: 1e-3 }, logEvery: 2,
 * });
 * assert.equal(result.train.length, 2);
 * ```
 */
export async function train(
  gpu: Gpu,
  data: Dataset,
  config: TrainConfig,
  options: TrainOptions = {},
): Promise<TrainResult> {
  validateSchedule(config.schedule, config.steps);
  const logEvery = config.logEvery ?? 10;
  const warmup = config.warmupSteps ?? 3;
  const model = await DecoderModel.create(gpu, config.model, config.policy, {
    batch: config.batch,
    seed: config.seed,
    totalSteps: config.steps,
    clip: config.clip,
    adamw: config.adamw,
    ...(config.matrixUnits === false ? { matrixUnits: false } : {}),
    ...(config.health ? { health: { draws: config.health.draws } } : {}),
  });
  const timed = gpu.features.has("timestamp-query");
  try {
    let start = 1;
    let resumed: Progress | undefined;
    if (options.resumeFrom) {
      const ck = await loadCheckpoint(options.resumeFrom);
      for (const p of model.params) {
        const saved = ck.params.get(p.spec.name);
        if (!saved) throw new RangeError(`${options.resumeFrom}: no parameter ${p.spec.name}`);
        model.write(p.spec.name, saved.data);
        model.write(p.spec.name, ck.m.get(p.spec.name)!, "m");
        model.write(p.spec.name, ck.v.get(p.spec.name)!, "v");
      }
      await model.writeDelayedStates(ck.scaling ?? new Map(), ck.step);
      start = ck.step + 1;
      if (ck.progress !== undefined) resumed = progressOf(ck.progress);
    }
    const tokensPerStep = config.batch * config.model.seqLen;
    const sample = { batch: config.batch, seqLen: config.model.seqLen, seed: config.seed };
    const trainCurve: CurvePoint[] = [...resumed?.train ?? []];
    const evalCurve: CurvePoint[] = [...resumed?.eval ?? []];
    const windows: number[] = [];
    const gpuSteps: number[] = [];
    let divergedAt: number | undefined;
    let windowStart = performance.now();
    let windowSteps = 0;
    let msPerStep = NaN;
    const last = options.stopAfter ?? config.steps;
    const health = config.health;
    const healthPoints: HealthPoint[] = [...resumed?.health ?? []];
    const alarms: HealthAlarm[] = [...resumed?.alarms ?? []];
    const progress = (): Progress => ({
      train: trainCurve,
      eval: evalCurve,
      health: healthPoints,
      alarms,
    });
    let stoppedAt: number | null = null;
    for (let step = start; step <= last; step++) {
      if (step === start + warmup) {
        await model.stepTimes(); // the warm-up steps' GPU times, not counted
        windowStart = performance.now();
        windowSteps = 0;
      }
      const batch = data.batch("train", step - 1, sample);
      const lr = lrAt(config.schedule, step - 1, config.steps);
      if (health && (step % health.every === 0 || step === last)) {
        // A probed step is timed by nobody: the window restarts after it.
        const point = await model.stepWithHealth(batch, step, lr);
        healthPoints.push(point);
        const found = healthAlarms(point, health.alarms);
        alarms.push(...found);
        if (found.length > 0 && health.alarms.stop) stoppedAt = step;
        windowStart = performance.now();
        windowSteps = 0;
      } else {
        await model.step(batch, step, lr);
        windowSteps++;
      }
      if (step % logEvery === 0 || step === last || stoppedAt !== null) {
        const m = await model.readMetrics();
        if (step >= start + warmup) gpuSteps.push(...await model.stepTimes());
        const now = performance.now();
        if (windowSteps > 0) {
          msPerStep = (now - windowStart) / windowSteps;
          if (step >= start + warmup) windows.push(msPerStep);
        }
        windowStart = now;
        windowSteps = 0;
        trainCurve.push({ step, loss: m.loss, accuracy: m.accuracy, gradNorm: m.gradNorm, lr });
        options.onLog?.({
          step,
          loss: m.loss,
          accuracy: m.accuracy,
          tokensPerSecond: (1000 * tokensPerStep) / msPerStep,
        });
        if (!Number.isFinite(m.loss)) {
          divergedAt = step;
          break;
        }
      }
      const final = step === last || stoppedAt !== null;
      if (config.eval && (step % config.eval.every === 0 || final)) {
        let loss = 0;
        let accuracy = 0;
        let n = 0;
        for (const b of data.evalBatches({ ...sample, limit: config.eval.batches })) {
          const m = await model.evaluate(b);
          loss += m.loss;
          accuracy += m.accuracy;
          n++;
        }
        if (n > 0) evalCurve.push({ step, loss: loss / n, accuracy: accuracy / n });
        if (!final) await model.buildFor(step + 1);
        windowStart = performance.now();
      }
      const ck = options.checkpoint;
      const saved = ck !== undefined && (step % ck.every === 0 || step === last);
      if (saved) {
        await save(model, ck.path, step, config, progress());
        windowStart = performance.now();
      }
      if (stoppedAt !== null) break;
      if (options.signal?.aborted && step < last) {
        if (ck && !saved) await save(model, ck.path, step, config, progress());
        throw new TrainingInterrupted(step, ck?.path);
      }
    }
    const msP50 = percentile(windows, 0.5);
    const stepMs: StepTimes = timed
      ? { p50: percentile(gpuSteps, 0.5), p99: percentile(gpuSteps, 0.99), clock: "gpu" }
      : { p50: msP50, p99: percentile(windows, 0.99), clock: "window" };
    return {
      train: trainCurve,
      eval: evalCurve,
      tokensPerSecond: (1000 * tokensPerStep) / msP50,
      stepMs,
      dispatchesPerStep: model.dispatchesPerStep,
      gpuBytes: model.bytes,
      gemms: model.gemmPaths,
      ...(divergedAt !== undefined ? { divergedAt } : {}),
      ...(health ? { health: { config: health, points: healthPoints, alarms, stoppedAt } } : {}),
    };
  } finally {
    model.destroy();
  }
}
