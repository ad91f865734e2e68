/**
 * The `train` section of a recipe as {@link RunTrain}, every default filled in (the schedule's,
 * AdamW's ε, `log_every` 10, `warmup_steps` 3), with the checks that relate its fields: one
 * schedule kind, the peak learning rate given in exactly one place, floors below the peak, and
 * warmup (plus the WSD decay) within the steps.
 *
 * @module
 */

import type { Schedule } from "../train/schedule.ts";
import type { Problem } from "./problems.ts";
import type { RunTrain } from "./run_spec.ts";
import type { RecipeInput } from "./schema.ts";
import type { SourceFile } from "./source.ts";

type TrainInput = RecipeInput["train"];

/** Default of `log_every` (as `src/train/loop.ts`). */
const DEFAULT_LOG_EVERY = 10;
/** Default of `warmup_steps`: steps left out of throughput figures (as `src/train/loop.ts`). */
const DEFAULT_WARMUP_STEPS = 3;

/**
 * The training settings of a structurally valid `train` section, or undefined (with problems)
 * when its fields contradict each other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Problem } from "./problems.ts";
 * import type { RecipeInput } from "./schema.ts";
 * import { SourceFile } from "./source.ts";
 * import { trainSettings } from "./train_section.ts";
 * const src = new SourceFile("r.yaml", "train:\n  schedule: { cosine: { lr: 1e-3, warmup: 200 } }\n");
 * const train: RecipeInput["train"] = {
 *   steps: 100, batch: 8, clip: null,
 *   optimizer: { adamw: { betas: [0.9, 0.95], eps: 1e-8, weight_decay: 0.1 } },
 *   schedule: { cosine: { lr: 1e-3, warmup: 200 } },
 *   eval: { every: 50, batches: 4 },
 * };
 * const problems: Problem[] = [];
 * assert.equal(trainSettings(src, train, problems), undefined);
 * assert.deepEqual(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
 *   "2:43 train.schedule.cosine.warmup: must fit in train.steps = 100, got 200",
 * ]);
 * ```
 */
export function trainSettings(
  src: SourceFile,
  t: TrainInput,
  problems: Problem[],
): RunTrain | undefined {
  const before = problems.length;
  const kinds = Object.keys(t.schedule) as ("constant" | "cosine" | "wsd")[];
  if (kinds.length !== 1) {
    problems.push(src.problem(
      ["train", "schedule"],
      `give exactly one of constant, cosine, wsd, got ${
        kinds.length === 0 ? "none" : kinds.join(", ")
      }`,
    ));
    return undefined;
  }
  const kind = kinds[0];
  const s = t.schedule[kind]!;
  const at = ["train", "schedule", kind];
  const adamw = t.optimizer.adamw;
  if ((s.lr === undefined) === (adamw.lr === undefined)) {
    problems.push(src.problem(
      s.lr === undefined ? at : [...at, "lr"],
      s.lr === undefined
        ? "no lr; give the peak learning rate here or in train.optimizer.adamw.lr"
        : "given here and in train.optimizer.adamw.lr; give it once",
    ));
    return undefined;
  }
  const lr = (s.lr ?? adamw.lr)!;
  const warmup = s.warmup ?? 0;
  let schedule: Schedule;
  let decaySteps = 0;
  const floor = (key: string, value: number) => {
    if (value > lr) problems.push(src.problem([...at, key], `must be ≤ lr = ${lr}, got ${value}`));
  };
  if (kind === "cosine") {
    const minLr = t.schedule.cosine!.min_lr ?? 0;
    floor("min_lr", minLr);
    schedule = { kind, lr, minLr, warmup };
  } else if (kind === "wsd") {
    const w = t.schedule.wsd!;
    const finalLr = w.final_lr ?? 0;
    const decayFraction = w.decay_fraction ?? 0.2;
    floor("final_lr", finalLr);
    decaySteps = Math.round(decayFraction * t.steps);
    schedule = { kind, lr, finalLr, warmup, decayFraction, decay: w.decay ?? "linear" };
  } else {
    schedule = { kind, lr, warmup };
  }
  if (warmup + decaySteps > t.steps) {
    const got = decaySteps > 0 ? `${warmup} + ${decaySteps} decay steps` : `${warmup}`;
    problems.push(
      src.problem([...at, "warmup"], `must fit in train.steps = ${t.steps}, got ${got}`),
    );
  }
  const warmupSteps = t.warmup_steps ?? DEFAULT_WARMUP_STEPS;
  if (warmupSteps >= t.steps) {
    problems.push(src.problem(
      ["train", "warmup_steps"],
      `must be less than train.steps = ${t.steps} (or no step is timed), got ${warmupSteps}` +
        (t.warmup_steps === undefined ? " (the default)" : ""),
    ));
  }
  if (problems.length > before) return undefined;
  return {
    steps: t.steps,
    batch: t.batch,
    schedule,
    clip: t.clip,
    adamw: {
      beta1: adamw.betas[0],
      beta2: adamw.betas[1],
      eps: adamw.eps,
      weightDecay: adamw.weight_decay,
    },
    logEvery: t.log_every ?? DEFAULT_LOG_EVERY,
    eval: { every: t.eval.every, batches: t.eval.batches },
    warmupSteps,
    ...(t.matrix_units === false ? { matrixUnits: false } : {}),
  };
}
