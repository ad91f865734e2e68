/**
 * Statistics of a report: mean, sample standard deviation, median, and Welch's two-sample t-test
 * (two-sided) whose p-value comes from jStat's Student t CDF.
 *
 * @module
 */

import jstat from "jstat";

/** The part of jStat used here (the package ships no types). */
interface StudentT {
  cdf(x: number, dof: number): number;
}
const studentt: StudentT = (jstat as { jStat: { studentt: StudentT } }).jStat.studentt;

/**
 * Arithmetic mean; NaN for no values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mean } from "./stats.ts";
 * assert.equal(mean([1, 2, 6]), 3);
 * ```
 */
export function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length === 0 ? NaN : s / values.length;
}

/**
 * Sample variance (n − 1 in the denominator); NaN for fewer than two values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleVariance } from "./stats.ts";
 * assert.equal(sampleVariance([1, 2, 3]), 1);
 * ```
 */
export function sampleVariance(values: readonly number[]): number {
  if (values.length < 2) return NaN;
  const m = mean(values);
  let s = 0;
  for (const v of values) s += (v - m) ** 2;
  return s / (values.length - 1);
}

/**
 * Sample standard deviation (n − 1); NaN for fewer than two values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleStd } from "./stats.ts";
 * assert.equal(sampleStd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
 * ```
 */
export function sampleStd(values: readonly number[]): number {
  return Math.sqrt(sampleVariance(values));
}

/**
 * Median (the mean of the two middle values for an even count); NaN for no values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { median } from "./stats.ts";
 * assert.equal(median([5, 1, 3]), 3);
 * assert.equal(median([4, 1, 3, 2]), 2.5);
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** The outcome of {@link welchTTest}. */
export interface WelchResult {
  /** t statistic of mean(a) − mean(b). */
  readonly t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  readonly df: number;
  /** Two-sided p-value. */
  readonly p: number;
}

/**
 * Welch's unequal-variance t-test of mean(a) = mean(b), two-sided (scipy's
 * `ttest_ind(a, b, equal_var=False)`). Null when either sample has fewer than two values or both
 * variances are zero: the test is undefined there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { welchTTest } from "./stats.ts";
 * // scipy 1.17: t = -2.6111648393354674, p = 0.03493878235996401, df = 6.980769230769231
 * const r = welchTTest([1, 2, 3, 4], [3, 4, 5, 6, 7])!;
 * assert.ok(Math.abs(r.t + 2.6111648) < 1e-7 && Math.abs(r.p - 0.0349388) < 1e-7);
 * assert.equal(welchTTest([1], [2, 3]), null);
 * ```
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult | null {
  if (a.length < 2 || b.length < 2) return null;
  const va = sampleVariance(a) / a.length;
  const vb = sampleVariance(b) / b.length;
  const se2 = va + vb;
  if (!(se2 > 0)) return null;
  const t = (mean(a) - mean(b)) / Math.sqrt(se2);
  const df = se2 ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { t, df, p: Math.min(1, 2 * studentt.cdf(-Math.abs(t), df)) };
}
