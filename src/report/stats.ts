/**
 * Statistics of a report: mean, sample standard deviation, median, Welch's two-sample t-test
 * (two-sided) and its confidence interval, Holm's adjustment for comparing several policies with
 * one baseline, the seeds a difference needs to be detected, and Welch linear contrasts with
 * one-sided tests for the claims; distributions from jStat.
 *
 * @module
 */

import jstat from "jstat";

/** The parts of jStat used here (the package ships no types). */
interface StudentT {
  cdf(x: number, dof: number): number;
  inv(p: number, dof: number): number;
}
interface Normal {
  inv(p: number, mean: number, std: number): number;
}
const { studentt, normal } = (jstat as { jStat: { studentt: StudentT; normal: Normal } }).jStat;

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

/**
 * The `level` (default 95 %) Welch confidence interval of mean(a) − mean(b) (scipy's
 * `ttest_ind(a, b, equal_var=False).confidence_interval()`). Null where {@link welchTTest} is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { welchInterval } from "./stats.ts";
 * // scipy: ConfidenceInterval(low=-4.7652202817535265, high=-0.23477971824647392)
 * const [low, high] = welchInterval([1, 2, 3, 4], [3, 4, 5, 6, 7])!;
 * assert.ok(Math.abs(low + 4.7652202817535265) < 1e-6); // jStat's t quantile: ~1e-8
 * assert.ok(Math.abs(high + 0.23477971824647392) < 1e-6);
 * ```
 */
export function welchInterval(
  a: readonly number[],
  b: readonly number[],
  level = 0.95,
): [number, number] | null {
  const r = welchTTest(a, b);
  if (!r) return null;
  const diff = mean(a) - mean(b);
  const se = diff / r.t;
  const half = Math.abs(studentt.inv(1 - (1 - level) / 2, r.df) * se);
  return [diff - half, diff + half];
}

/**
 * Holm's step-down adjustment of p-values for testing several hypotheses at once (each policy
 * against the baseline): the family-wise error rate stays at most α when an adjusted p ≤ α is
 * called significant (statsmodels' `multipletests(p, method="holm")`). Nulls stay null and do not
 * count as tests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holm } from "./stats.ts";
 * assert.deepEqual(holm([0.01, 0.04, null, 0.03]), [0.03, 0.06, null, 0.06]);
 * ```
 */
export function holm(pValues: readonly (number | null)[]): (number | null)[] {
  const tests = pValues.flatMap((p, i) => (p === null ? [] : [{ p, i }])).sort((x, y) => x.p - y.p);
  const out: (number | null)[] = pValues.map(() => null);
  let running = 0;
  tests.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (tests.length - rank) * p));
    out[i] = running;
  });
  return out;
}

/**
 * Seeds per policy that a two-sided test at level `alpha` (0.05) needs to detect a difference of
 * means `difference` between samples of standard deviation `std` with probability `power` (0.8):
 * ⌈2 · ((z₁₋α/₂ + z_power) · std / difference)²⌉ (normal approximation), at least 2. Null for a
 * zero difference or an unknown spread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seedsForPower } from "./stats.ts";
 * assert.equal(seedsForPower(0.01, 0.01), 16); // (1.96 + 0.8416)² · 2 = 15.7
 * assert.equal(seedsForPower(0, 0.01), null);
 * ```
 */
export function seedsForPower(
  difference: number,
  std: number,
  alpha = 0.05,
  power = 0.8,
): number | null {
  if (!(Math.abs(difference) > 0) || !(std >= 0) || !Number.isFinite(std)) return null;
  const z = normal.inv(1 - alpha / 2, 0, 1) + normal.inv(power, 0, 1);
  return Math.max(2, Math.ceil(2 * (z * std / difference) ** 2));
}

/** A linear contrast Σ wᵢ · mean(groupᵢ) of independent samples, with its Welch standard error. */
export interface Contrast {
  /** Σ wᵢ · mean(groupᵢ). */
  readonly estimate: number;
  /** √(Σ wᵢ² · sᵢ² / nᵢ). */
  readonly se: number;
  /** Welch–Satterthwaite degrees of freedom. */
  readonly df: number;
  /** √(Σ wᵢ² · sᵢ²): the standard error times √n were every group of n runs. */
  readonly unitSe: number;
}

/**
 * The linear contrast Σ wᵢ · mean(valuesᵢ) of independent samples with Welch's standard error
 * and Welch–Satterthwaite degrees of freedom (two groups with weights 1 and −1 are Welch's
 * two-sample test). Null where a group has fewer than two values or every variance is zero.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contrast, welchTTest } from "./stats.ts";
 * const a = [1, 2, 3, 4], b = [3, 4, 5, 6, 7];
 * const c = contrast([{ values: a, weight: 1 }, { values: b, weight: -1 }])!;
 * const w = welchTTest(a, b)!;
 * assert.ok(Math.abs(c.estimate / c.se - w.t) < 1e-12 && Math.abs(c.df - w.df) < 1e-9);
 * ```
 */
export function contrast(
  terms: readonly { readonly values: readonly number[]; readonly weight: number }[],
): Contrast | null {
  if (terms.some((t) => t.values.length < 2)) return null;
  const parts = terms.map((t) => ({
    v: t.weight ** 2 * sampleVariance(t.values) / t.values.length,
    n: t.values.length,
    unit: t.weight ** 2 * sampleVariance(t.values),
  }));
  const se2 = parts.reduce((s, p) => s + p.v, 0);
  if (!(se2 > 0)) return null;
  return {
    estimate: terms.reduce((s, t) => s + t.weight * mean(t.values), 0),
    se: Math.sqrt(se2),
    df: se2 ** 2 / parts.reduce((s, p) => s + p.v ** 2 / (p.n - 1), 0),
    unitSe: Math.sqrt(parts.reduce((s, p) => s + p.unit, 0)),
  };
}

/**
 * The one-sided p-value of a contrast against a bound: `"above"` tests H₀ estimate ≤ bound against
 * H₁ estimate > bound (small p: the contrast is above the bound), `"below"` the reverse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { oneSidedP } from "./stats.ts";
 * const c = { estimate: 2, se: 1, df: 1e6, unitSe: 1 };
 * assert.ok(Math.abs(oneSidedP(c, 0, "above") - 0.02275) < 1e-4); // z = 2
 * assert.ok(Math.abs(oneSidedP(c, 0, "below") - 0.97725) < 1e-4);
 * ```
 */
export function oneSidedP(c: Contrast, bound: number, side: "above" | "below"): number {
  const t = (c.estimate - bound) / c.se;
  return side === "above" ? 1 - studentt.cdf(t, c.df) : studentt.cdf(t, c.df);
}

/**
 * Runs per group that a one-sided test at level `alpha` needs to find a contrast `distance` away
 * from its bound with probability `power` (0.8), given {@link Contrast.unitSe} and the number of
 * groups: the least n ≥ 2 with (t₁₋α + t_power) · unitSe / √n ≤ distance, the t quantiles at the
 * groups · (n − 1) degrees of freedom of equal groups (the usual approximation of a t-test's
 * power; with few runs it asks for more than the normal approximation). Null where the distance
 * is not positive (the observed contrast is on the wrong side) or beyond 100,000 runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runsForOneSidedPower } from "./stats.ts";
 * // Normal approximation: 2 · (1.645 + 0.842)² = 12.4; the t quantiles at 2n − 2 df ask for 14.
 * assert.equal(runsForOneSidedPower(0.01, Math.SQRT2 * 0.01, 2), 14);
 * assert.equal(runsForOneSidedPower(-0.01, 0.01, 2), null);
 * ```
 */
export function runsForOneSidedPower(
  distance: number,
  unitSe: number,
  groups: number,
  alpha = 0.05,
  power = 0.8,
): number | null {
  if (!(distance > 0) || !Number.isFinite(unitSe)) return null;
  const enough = (n: number) => {
    const df = groups * (n - 1);
    return (studentt.inv(1 - alpha, df) + studentt.inv(power, df)) * unitSe / Math.sqrt(n) <=
      distance;
  };
  let hi = 2;
  while (!enough(hi)) {
    if (hi > 100_000) return null;
    hi *= 2;
  }
  let lo = Math.max(2, hi / 2);
  if (enough(lo)) return lo;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (enough(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The two-sided `level` (95 %) confidence interval of a contrast.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contrastInterval } from "./stats.ts";
 * // scipy.stats.t.ppf(0.975, 10) = 2.2281388519649385
 * const [lo, hi] = contrastInterval({ estimate: 0, se: 1, df: 10, unitSe: 1 });
 * assert.ok(Math.abs(hi - 2.2281388519649385) < 1e-6 && lo === -hi);
 * ```
 */
export function contrastInterval(c: Contrast, level = 0.95): [number, number] {
  const half = studentt.inv(1 - (1 - level) / 2, c.df) * c.se;
  return [c.estimate - half, c.estimate + half];
}
