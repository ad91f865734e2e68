import { assertOk, assertStrictEquals } from "../assert.ts";
import { median, sampleStd, welchTTest } from "../../src/report/stats.ts";

const relClose = (actual: number, expected: number, tol: number, what: string) =>
  assertOk(
    Math.abs(actual - expected) <= tol * Math.abs(expected),
    `${what}: got ${actual}, expected ${expected}`,
  );

// Expected values: scipy 1.17.1, scipy.stats.ttest_ind(a, b, equal_var=False) (statistic, pvalue,
// df), computed with python3 when this test was written.
const CASES = [
  {
    a: [3.2781, 3.2795, 3.277, 3.2802, 3.2788, 3.2779, 3.2791, 3.2784, 3.2797, 3.2776],
    b: [3.281, 3.2825, 3.2819, 3.2807, 3.2831],
    t: -5.8235434920819715,
    p: 0.00036713588760244086,
    df: 8.153614638111542,
  },
  {
    a: [1.0, 1.1],
    b: [5.0, 5.2, 4.9, 5.1],
    t: -48.989794855663575,
    p: 2.4838874710207756e-6,
    df: 3.6923076923076876,
  },
  {
    a: [2.30, 2.26],
    b: [2.10, 2.12, 2.11],
    t: 8.166535844059432,
    p: 0.0565463638804694,
    df: 1.1695501730103806,
  },
];

Deno.test("welchTTest matches scipy's t, df and two-sided p", () => {
  for (const c of CASES) {
    const r = welchTTest(c.a, c.b);
    assertOk(r, "defined for n ≥ 2");
    relClose(r.t, c.t, 1e-9, "t");
    relClose(r.df, c.df, 1e-9, "df");
    relClose(r.p, c.p, 1e-6, "p");
  }
});

Deno.test("welchTTest is symmetric in p and undefined for n < 2 or zero variance", () => {
  const { a, b } = CASES[0];
  assertStrictEquals(welchTTest(a, b)!.p, welchTTest(b, a)!.p);
  assertStrictEquals(welchTTest([1], [1, 2, 3]), null);
  assertStrictEquals(welchTTest([1, 2], []), null);
  assertStrictEquals(welchTTest([2, 2], [3, 3]), null);
  assertOk(Math.abs(welchTTest([1, 2, 3], [1, 2, 3])!.p - 1) < 1e-12, "equal samples: p = 1");
});

Deno.test("sampleStd and median edge cases", () => {
  assertOk(Number.isNaN(sampleStd([1])));
  assertOk(Number.isNaN(median([])));
  assertStrictEquals(median([3]), 3);
});
