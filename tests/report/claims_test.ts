/**
 * Claims tested on records (issue 16 part 1): each kind of expectation reaches each verdict where
 * the data say so, the effect and its interval are what the statistics give, tokens-to-loss
 * interpolates between validation points, the seeds for a verdict grow as the effect shrinks, and
 * a report keeps its claims when `deno task report` rebuilds it from its run list.
 */

import { assertEquals, assertOk } from "../assert.ts";

/** Asserts |actual − expected| ≤ tolerance. */
function assertAlmostEquals(actual: number, expected: number, tolerance: number) {
  assertOk(
    Math.abs(actual - expected) <= tolerance,
    `${actual} is not within ${tolerance} of ${expected}`,
  );
}
import type { Claim, ClaimExpectation, ClaimMetric } from "../../src/recipe/claims.ts";
import { testClaims } from "../../src/report/claims.ts";
import type { RunRecord } from "../../src/runner/record.ts";
import { makeRecord } from "../runner/fixtures.ts";
import { writeReport } from "../../src/report/write.ts";
import { withTempDir } from "../temp_dir.ts";

/** Runs of `policy` whose final validation losses are `losses` (one seed each). */
const runs = (policy: string, losses: readonly number[]): RunRecord[] =>
  losses.map((evalLoss, seed) => makeRecord({ policy, seed, evalLoss }));

const claim = (
  policy: string,
  versus: string,
  expect: ClaimExpectation,
  metric: ClaimMetric = { kind: "final" },
): Claim => ({ name: "c", source: "s", policy, versus, metric, expect, alpha: 0.05 });

const BF16 = [2.000, 2.010, 1.990, 2.005];
const verdict = (c: Claim, records: RunRecord[]) => testClaims([c], records)[0];

Deno.test("worse and better: supported, contradicted or inconclusive as the data say", () => {
  const records = [
    ...runs("bf16", BF16),
    ...runs("high", [2.10, 2.11, 2.09, 2.12]),
    ...runs("same", [2.004, 1.996, 2.012, 1.993]),
  ];
  assertEquals(verdict(claim("high", "bf16", { kind: "worse" }), records).verdict, "supported");
  assertEquals(verdict(claim("high", "bf16", { kind: "better" }), records).verdict, "contradicted");
  assertEquals(verdict(claim("same", "bf16", { kind: "worse" }), records).verdict, "inconclusive");
  const r = verdict(claim("high", "bf16", { kind: "worse" }), records);
  // Δ = 2.105 − 2.00125, relative to 2.00125.
  assertAlmostEquals(r.effect!, (2.105 - 2.00125) / 2.00125, 1e-12);
  assertOk(r.interval![0] > 0 && r.interval![1] > r.effect!, `${r.interval}`);
});

Deno.test("within (TOST) and at_most: margins decide, and far beyond a margin contradicts", () => {
  const records = [
    ...runs("bf16", BF16),
    ...runs("near", [2.004, 1.998, 2.009, 1.995]),
    ...runs("far", [2.10, 2.11, 2.09, 2.12]),
  ];
  const within = (p: string, margin: number) =>
    verdict(claim(p, "bf16", { kind: "within", margin }), records).verdict;
  assertEquals(within("near", 0.015), "supported");
  assertEquals(within("far", 0.015), "contradicted");
  assertEquals(within("near", 0.0005), "inconclusive");
  const atMost = (p: string, margin: number) =>
    verdict(claim(p, "bf16", { kind: "atMost", margin }), records).verdict;
  assertEquals(atMost("near", 0.015), "supported");
  assertEquals(atMost("far", 0.015), "contradicted");
  assertEquals(atMost("far", 0.1), "supported");
});

Deno.test("closes: the share of the gap closed, its Fieller interval, and its verdict", () => {
  const records = [
    ...runs("bf16", BF16),
    ...runs("nvfp4", [2.100, 2.104, 2.096, 2.100]),
    ...runs("late", [2.020, 2.025, 2.015, 2.020]),
  ];
  const r = verdict(claim("late", "bf16", { kind: "closes", share: 0.5, of: "nvfp4" }), records);
  assertEquals(r.verdict, "supported");
  assertAlmostEquals(r.effect!, (2.1 - 2.02) / (2.1 - 2.00125), 1e-12);
  assertOk(r.interval![0] < r.effect! && r.effect! < r.interval![1], `${r.interval}`);
  assertOk(r.interval![0] > 0.5, `${r.interval}`);
  const most = verdict(
    claim("late", "bf16", { kind: "closes", share: 0.95, of: "nvfp4" }),
    records,
  );
  assertEquals(most.verdict, "contradicted");
  const none = verdict(claim("late", "nvfp4", { kind: "closes", share: 0.5, of: "bf16" }), records);
  assertEquals(none.verdict, "untested");
  assertOk(none.note?.includes("no gap to close"), none.note);
});

Deno.test("tokens to a loss interpolate between validation points; runs that never reach it are left out", () => {
  // makeRecord's validation points are at steps 50 and 100: last + (5.5 − last) · (50/90)², last.
  const target = 2.5;
  const tokens = (last: number, r: RunRecord) => {
    const at50 = last + (5.5 - last) * (50 / 90) ** 2;
    const step = 50 + ((at50 - target) / (at50 - last)) * 50;
    return step * r.spec.train.batch * r.spec.model.seqLen;
  };
  const fast = [2.0, 2.1, 2.05];
  const slow = [2.3, 2.35, 2.4, 2.6]; // the last never reaches 2.5
  const records = [...runs("fast", fast), ...runs("slow", slow)];
  const [r] = testClaims(
    [claim("slow", "fast", { kind: "worse" }, { kind: "tokensToLoss", loss: target })],
    records,
  );
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b) / xs.length;
  const t = (lasts: number[]) => mean(lasts.map((l) => tokens(l, records[0])));
  assertAlmostEquals(r.effect!, (t(slow.slice(0, 3)) - t(fast)) / t(fast), 1e-12);
  assertEquals(r.verdict, "supported");
  assertOk(r.note?.includes("1 run without the metric left out"), r.note);
});

Deno.test("the seeds for a verdict grow as the effect shrinks; none on the wrong side", () => {
  const needed = (shift: number) =>
    verdict(
      claim("p", "bf16", { kind: "worse" }),
      [...runs("bf16", BF16), ...runs("p", BF16.map((l) => l + shift))],
    ).seedsNeeded;
  const big = needed(0.02)!;
  const small = needed(0.005)!;
  assertOk(big >= 2 && small > big, `${big} ${small}`);
  assertEquals(needed(-0.02), null);
});

Deno.test("a report tests its claims and keeps them when rebuilt from its run list", async () => {
  await withTempDir(async (dir) => {
    const records = [...runs("bf16", BF16), ...runs("mxfp4", [2.10, 2.11, 2.09, 2.12])];
    await Deno.mkdir(`${dir}/runs`);
    for (const r of records) {
      await Deno.writeTextFile(`${dir}/runs/${r.id}.json`, JSON.stringify(r));
    }
    const plan = records.map((r) => ({ id: r.id, spec: r.spec }));
    const claims = [{ ...claim("mxfp4", "bf16", { kind: "worse" }), name: "mx-worse" }];
    const first = await writeReport("suite-a", {
      runsDir: `${dir}/runs`,
      outDir: dir,
      plan,
      claims,
    });
    const text = await Deno.readTextFile(first.path);
    assertOk(text.includes("## Claims"), text);
    assertOk(
      /\| \*\*mx-worse\*\*: mxfp4's final validation loss is higher than bf16's \| s +\| Δ \+5\.18 % .* \| supported \|/
        .test(text),
      text,
    );
    await writeReport("suite-a", { runsDir: `${dir}/runs`, outDir: dir });
    assertEquals(await Deno.readTextFile(first.path), text);
  });
});
