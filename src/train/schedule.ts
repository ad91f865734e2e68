/**
 * Learning-rate schedules as pure functions of the step: constant, cosine and WSD
 * (warmup–stable–decay), each with an optional linear warmup.
 *
 * Conventions (all schedules): steps are 0-based and `lrAt(s, step, total)` is the rate the update
 * of step `step` uses. Linear warmup over `w` steps gives `lr · (step + 1) / w`, so step 0 already
 * moves (nanoGPT/llm.c style) and step `w − 1` reaches the peak. A decay phase of `d` steps that
 * starts at step `s₀` has progress `p = (step − s₀ + 1) / d`, so the last step (`total − 1`)
 * lands exactly on the final rate; steps past the end keep the final rate.
 *
 * - cosine (Loshchilov & Hutter, SGDR, arXiv 1608.03983, without restarts):
 *   `min + (lr − min) · (1 + cos(π p)) / 2` after the warmup.
 * - WSD (Hu et al., MiniCPM, arXiv 2404.06395 §4): warmup, constant `lr`, then a decay over the
 *   last `decayFraction` of the steps to `finalLr`, linear by default, as in the NVFP4 paper
 *   (arXiv 2509.25149 App. A: 4.5e-4 held for 80 %, then decayed to 4.5e-6 over the last 20 %);
 *   cosine decay is offered too.
 *
 * @module
 */

/**
 * A constant rate after an optional linear warmup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ConstantSchedule, lrAt } from "./schedule.ts";
 * const s: ConstantSchedule = { kind: "constant", lr: 1e-3, warmup: 10 };
 * assert.equal(lrAt(s, 500, 1000), 1e-3);
 * ```
 */
export interface ConstantSchedule {
  /** Discriminates the schedule. */
  readonly kind: "constant";
  /** Peak learning rate (> 0). */
  readonly lr: number;
  /** Linear warmup steps (integer ≥ 0, default 0). */
  readonly warmup?: number;
}

/**
 * Linear warmup, then a cosine decay to `minLr` at the last step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CosineSchedule, lrAt } from "./schedule.ts";
 * const s: CosineSchedule = { kind: "cosine", lr: 1e-3, minLr: 1e-4, warmup: 10 };
 * assert.equal(lrAt(s, 999, 1000), 1e-4);
 * ```
 */
export interface CosineSchedule {
  /** Discriminates the schedule. */
  readonly kind: "cosine";
  /** Peak learning rate (> 0). */
  readonly lr: number;
  /** Rate reached at the last step (0 ≤ minLr ≤ lr, default 0). */
  readonly minLr?: number;
  /** Linear warmup steps (integer ≥ 0, default 0). */
  readonly warmup?: number;
}

/**
 * Warmup–stable–decay: linear warmup, constant `lr`, then a decay over the last `decayFraction`
 * of the steps to `finalLr`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lrAt, type WsdSchedule } from "./schedule.ts";
 * // The NVFP4 paper's schedule.
 * const s: WsdSchedule = { kind: "wsd", lr: 4.5e-4, finalLr: 4.5e-6, decayFraction: 0.2 };
 * assert.equal(lrAt(s, 799, 1000), 4.5e-4);
 * assert.equal(lrAt(s, 999, 1000), 4.5e-6);
 * ```
 */
export interface WsdSchedule {
  /** Discriminates the schedule. */
  readonly kind: "wsd";
  /** Peak (stable-phase) learning rate (> 0). */
  readonly lr: number;
  /** Rate reached at the last step (0 ≤ finalLr ≤ lr, default 0). */
  readonly finalLr?: number;
  /** Linear warmup steps (integer ≥ 0, default 0). */
  readonly warmup?: number;
  /** Fraction of the total steps spent decaying, in [0, 1] (default 0.2). */
  readonly decayFraction?: number;
  /** Shape of the decay (default `"linear"`). */
  readonly decay?: "linear" | "cosine";
}

/**
 * Any learning-rate schedule, discriminated by `kind`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lrAt, type Schedule } from "./schedule.ts";
 * const schedules: Schedule[] = [
 *   { kind: "constant", lr: 1 },
 *   { kind: "cosine", lr: 1, warmup: 1 },
 *   { kind: "wsd", lr: 1, decay: "cosine" },
 * ];
 * assert.deepEqual(schedules.map((s) => lrAt(s, 0, 10)), [1, 1, 1]);
 * assert.deepEqual(schedules.map((s) => lrAt(s, 9, 10)), [1, 0, 0]);
 * ```
 */
export type Schedule = ConstantSchedule | CosineSchedule | WsdSchedule;

/**
 * Throws a RangeError naming the first invalid field (`schedule.<field>`) and its value; with
 * `totalSteps`, also checks it and that warmup (plus the WSD decay) fits in it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateSchedule } from "./schedule.ts";
 * validateSchedule({ kind: "cosine", lr: 3e-4, minLr: 3e-5, warmup: 100 }, 1000);
 * assert.throws(
 *   () => validateSchedule({ kind: "cosine", lr: 3e-4, minLr: 1e-3 }),
 *   { name: "RangeError", message: /schedule\.minLr .* got 0\.001/ },
 * );
 * assert.throws(() => validateSchedule({ kind: "constant", lr: 1, warmup: 20 }, 10), RangeError);
 * ```
 */
export function validateSchedule(schedule: Schedule, totalSteps?: number): void {
  const s = schedule as unknown as Record<string, unknown>;
  const kinds = ["constant", "cosine", "wsd"];
  if (typeof s !== "object" || s === null || !kinds.includes(s.kind as string)) {
    const got = typeof s === "object" && s !== null ? s.kind : s;
    throw new RangeError(
      `schedule.kind must be "constant", "cosine" or "wsd", got ${JSON.stringify(got)}`,
    );
  }
  const lr = s.lr;
  if (typeof lr !== "number" || !Number.isFinite(lr) || !(lr > 0)) {
    throw new RangeError(`schedule.lr must be a finite number > 0, got ${show(lr)}`);
  }
  if (s.warmup !== undefined) checkSteps("schedule.warmup", s.warmup);
  if (schedule.kind === "cosine" && s.minLr !== undefined) checkFloor("minLr", s.minLr, lr);
  if (schedule.kind === "wsd") {
    if (s.finalLr !== undefined) checkFloor("finalLr", s.finalLr, lr);
    const f = s.decayFraction;
    if (f !== undefined && (typeof f !== "number" || !(f >= 0 && f <= 1))) {
      throw new RangeError(`schedule.decayFraction must be in [0, 1], got ${show(f)}`);
    }
    if (s.decay !== undefined && s.decay !== "linear" && s.decay !== "cosine") {
      throw new RangeError(
        `schedule.decay must be "linear" or "cosine", got ${JSON.stringify(s.decay)}`,
      );
    }
  }
  if (totalSteps === undefined) return;
  checkSteps("totalSteps", totalSteps);
  if (totalSteps < 1) throw new RangeError(`totalSteps must be ≥ 1, got ${totalSteps}`);
  const warmup = schedule.warmup ?? 0;
  const decay = schedule.kind === "wsd" ? decaySteps(schedule, totalSteps) : 0;
  if (warmup + decay > totalSteps) {
    const what = decay > 0 ? `warmup + decay steps (${warmup} + ${decay})` : `${warmup}`;
    throw new RangeError(
      `schedule.warmup must fit in totalSteps = ${totalSteps}, got ${what}`,
    );
  }
}

/**
 * The learning rate of (0-based) step `step` of a run of `totalSteps` steps; validates its
 * arguments like {@link validateSchedule}. Steps ≥ `totalSteps` keep the final rate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lrAt } from "./schedule.ts";
 * const s = { kind: "wsd", lr: 1, finalLr: 0, warmup: 2, decayFraction: 0.5 } as const;
 * const lrs = Array.from({ length: 8 }, (_, i) => lrAt(s, i, 8));
 * assert.deepEqual(lrs, [0.5, 1, 1, 1, 0.75, 0.5, 0.25, 0]);
 * ```
 */
export function lrAt(schedule: Schedule, step: number, totalSteps: number): number {
  validateSchedule(schedule, totalSteps);
  checkSteps("step", step);
  const { lr } = schedule;
  const warmup = schedule.warmup ?? 0;
  if (step < warmup) return (lr * (step + 1)) / warmup;
  switch (schedule.kind) {
    case "constant":
      return lr;
    case "cosine":
      return decayed(lr, schedule.minLr ?? 0, progress(step, warmup, totalSteps), "cosine");
    case "wsd": {
      const d = decaySteps(schedule, totalSteps);
      const start = totalSteps - d;
      if (d === 0 || step < start) return lr;
      const p = progress(step, start, totalSteps);
      return decayed(lr, schedule.finalLr ?? 0, p, schedule.decay ?? "linear");
    }
  }
}

/** Steps in the WSD decay phase: `round(decayFraction · totalSteps)`. */
function decaySteps(s: WsdSchedule, totalSteps: number): number {
  return Math.round((s.decayFraction ?? 0.2) * totalSteps);
}

/** Progress in (0, 1] of a decay over steps [start, total), 1 from the last step on. */
function progress(step: number, start: number, total: number): number {
  return Math.min(1, (step - start + 1) / (total - start));
}

function decayed(hi: number, lo: number, p: number, shape: "linear" | "cosine"): number {
  if (p >= 1) return lo;
  const w = shape === "linear" ? 1 - p : (1 + Math.cos(Math.PI * p)) / 2;
  return lo + (hi - lo) * w;
}

function checkSteps(name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`${name} must be an integer ≥ 0, got ${show(v)}`);
  }
}

function checkFloor(name: string, v: unknown, lr: number): void {
  if (typeof v !== "number" || !(v >= 0 && v <= lr)) {
    throw new RangeError(`schedule.${name} must be in [0, lr = ${lr}], got ${show(v)}`);
  }
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}
