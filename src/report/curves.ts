/**
 * Loss curves across seeds: the mean curve of a policy, and its relative difference from the
 * baseline's mean curve in % (the NVFP4 paper's Fig. 4).
 *
 * @module
 */

import type { CurvePoint } from "../train/loop.ts";

/** One step of a mean curve. */
export interface MeanPoint {
  /** The step. */
  readonly step: number;
  /** Mean loss over the runs with a finite loss at this step. */
  readonly loss: number;
  /** How many runs that mean is over. */
  readonly n: number;
}

/**
 * The mean loss at every logged step over the runs that have a finite loss there (a run that
 * diverged stops contributing at its divergence), in step order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { meanCurve } from "./curves.ts";
 * const a = [{ step: 10, loss: 3, accuracy: 0 }, { step: 20, loss: 2, accuracy: 0 }];
 * const b = [{ step: 10, loss: 5, accuracy: 0 }, { step: 20, loss: NaN, accuracy: 0 }];
 * assert.deepEqual(meanCurve([a, b]), [{ step: 10, loss: 4, n: 2 }, { step: 20, loss: 2, n: 1 }]);
 * ```
 */
export function meanCurve(curves: readonly (readonly CurvePoint[])[]): MeanPoint[] {
  const sums = new Map<number, { sum: number; n: number }>();
  for (const curve of curves) {
    for (const p of curve) {
      if (!Number.isFinite(p.loss)) continue;
      const s = sums.get(p.step) ?? { sum: 0, n: 0 };
      s.sum += p.loss;
      s.n++;
      sums.set(p.step, s);
    }
  }
  return [...sums.entries()]
    .sort(([a], [b]) => a - b)
    .map(([step, { sum, n }]) => ({ step, loss: sum / n, n }));
}

/** One step of a relative-difference curve. */
export interface RelativePoint {
  readonly step: number;
  /** 100 · (loss − baseline loss) / baseline loss. */
  readonly percent: number;
}

/**
 * The relative difference of `curve` from `baseline` in %, at the steps both have.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relativeCurve } from "./curves.ts";
 * const policy = [{ step: 10, loss: 2.2, n: 3 }, { step: 20, loss: 2.04, n: 3 }];
 * const base = [{ step: 20, loss: 2, n: 3 }];
 * assert.deepEqual(relativeCurve(policy, base).map((p) => p.step), [20]);
 * assert.ok(Math.abs(relativeCurve(policy, base)[0].percent - 2) < 1e-12);
 * ```
 */
export function relativeCurve(
  curve: readonly MeanPoint[],
  baseline: readonly MeanPoint[],
): RelativePoint[] {
  const base = new Map(baseline.map((p) => [p.step, p.loss]));
  return curve.flatMap((p) => {
    const b = base.get(p.step);
    return b === undefined ? [] : [{ step: p.step, percent: (100 * (p.loss - b)) / b }];
  });
}
