import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { aggregate, type PolicySummary } from "../../src/report/aggregate.ts";
import { parseRecord } from "../../src/runner/record.ts";
import { makeRecord, suiteA } from "../runner/fixtures.ts";

const close = (actual: number | null | undefined, expected: number, tol = 1e-9, what = "") =>
  assertOk(
    typeof actual === "number" &&
      Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: got ${actual}, expected ${expected}`,
  );

function policy(name: string): PolicySummary {
  const [suite] = aggregate(suiteA());
  const p = suite.policies.find((x) => x.policy === name);
  assertOk(p, `no policy ${name}`);
  return p;
}

Deno.test("aggregate groups by suite and orders the baseline first, then policies by name", () => {
  const records = [
    ...suiteA(),
    makeRecord({ suite: "other", policy: "fp32", seed: 0, evalLoss: 3 }),
  ];
  const suites = aggregate(records.reverse());
  assertEquals(suites.map((s) => s.suite), ["other", "suite-a"]);
  assertEquals(suites[1].policies.map((p) => p.policy), ["bf16", "fp32", "fp8", "mxfp4", "nvfp4"]);
  assertStrictEquals(suites[1].baseline, "bf16");
  assertStrictEquals(suites[1].hasBaseline, true);
  assertStrictEquals(suites[0].hasBaseline, false);
  assertEquals(suites[1].records.map((r) => [r.spec.policyName, r.spec.seed]).slice(0, 4), [
    ["bf16", 0],
    ["bf16", 1],
    ["bf16", 2],
    ["fp32", 0],
  ]);
});

Deno.test("a record read back from disk, NaN stored as null, aggregates with the value missing", () => {
  const record = makeRecord({
    policy: "mxfp4",
    seed: 0,
    evalLoss: 2.4,
    divergedAt: 70,
    tokensPerSecond: NaN,
  });
  const [s] = aggregate([parseRecord(JSON.stringify(record, null, 1), "x.json")]);
  assertEquals([s.policies[0].diverged, s.policies[0].tokensPerSecond], [1, null]);
});

Deno.test("final loss mean, sample std and n per policy", () => {
  const b = policy("bf16");
  close(b.finalLoss?.mean, 2.11, 1e-12, "bf16 mean");
  // numpy.std([2.10, 2.12, 2.11], ddof=1) = 0.010000000000000009
  close(b.finalLoss?.std ?? NaN, 0.010000000000000009, 1e-9, "bf16 std");
  assertStrictEquals(b.finalLoss?.n, 3);
  const n = policy("nvfp4");
  // numpy: mean 2.1633333333333336, std(ddof=1) 0.015275252316519577
  close(n.finalLoss?.mean, 2.1633333333333336, 1e-12, "nvfp4 mean");
  close(n.finalLoss?.std ?? NaN, 0.015275252316519577, 1e-9, "nvfp4 std");
  assertStrictEquals(policy("fp8").finalLoss?.std, null);
  assertStrictEquals(policy("fp8").finalLoss?.n, 1);
});

Deno.test("relative difference vs the baseline in %, none for the baseline itself", () => {
  assertStrictEquals(policy("bf16").deltaPercent, null);
  close(policy("nvfp4").deltaPercent, (100 * (2.1633333333333336 - 2.11)) / 2.11, 1e-9, "nvfp4");
  close(policy("fp8").deltaPercent, 0, 1e-9, "fp8");
  close(policy("mxfp4").deltaPercent, (100 * (2.28 - 2.11)) / 2.11, 1e-9, "mxfp4");
});

Deno.test("Welch's p-values match scipy.stats.ttest_ind(equal_var=False)", () => {
  // Expected values from scipy 1.17.1, ttest_ind(policy, bf16, equal_var=False).pvalue.
  close(policy("nvfp4").pValue, 0.010555091171331094, 1e-6, "nvfp4");
  close(policy("mxfp4").pValue, 0.0565463638804694, 1e-6, "mxfp4");
  close(policy("fp32").pValue, 0.04941625686257627, 1e-6, "fp32");
  assertStrictEquals(policy("fp8").pValue, null, "n = 1 has no p-value");
  assertStrictEquals(policy("bf16").pValue, null);
});

Deno.test("a diverged run is counted and left out of the loss statistics", () => {
  const m = policy("mxfp4");
  assertStrictEquals(m.diverged, 1);
  assertStrictEquals(m.finalLoss?.n, 2);
  close(m.finalLoss?.mean, 2.28, 1e-12, "mxfp4 mean");
  const run = m.runs.find((r) => r.seed === 2)!;
  assertEquals([run.divergedAt, run.finalLoss, run.tokensPerSecond], [70, null, null]);
  assertStrictEquals(policy("nvfp4").diverged, 0);
});

Deno.test("a run without eval points falls back to its last train point, and says so", () => {
  const f = policy("fp32");
  assertStrictEquals(f.fromTrain, 2);
  assertEquals(f.runs.map((r) => r.lossFrom), ["train", "train"]);
  close(f.finalLoss?.mean, 2.085, 1e-12, "fp32 mean");
  assertStrictEquals(policy("bf16").fromTrain, 0);
});

Deno.test("accuracy mean, tokens/s and step-time medians, memory, bits per weight", () => {
  close(policy("nvfp4").accuracy, 0.4, 1e-12, "nvfp4 accuracy");
  assertStrictEquals(policy("bf16").tokensPerSecond, 10000);
  assertEquals(policy("nvfp4").stepMs, { p50: 11, p99: 25, clock: "window" });
  assertStrictEquals(policy("mxfp4").tokensPerSecond, 10000, "NaN throughput is left out");
  assertStrictEquals(policy("bf16").dispatchesPerStep, 120);
  assertStrictEquals(policy("bf16").gpuBytes, 64 * 2 ** 20);
  // Linear weights of the fixture model: 4 attention blocks of 65,536, 4 MLP blocks of 131,072,
  // the LM head 32,768 (BF16 under the low-precision presets); nvfp4 keeps its first block (an
  // attention block) and its last (an MLP block) in BF16 and stores the rest at 4 + 8/256 bits.
  const [blocks, head, total] = [4 * 65536 + 4 * 131072, 32768, 4 * 65536 + 4 * 131072 + 32768];
  const nvfp4 = ((blocks - 65536 - 131072) * (4 + 8 / 256) + (65536 + 131072 + head) * 16) / total;
  assertEquals(
    ["fp32", "bf16", "fp8", "mxfp4", "nvfp4"].map((p) => policy(p).bitsPerWeight),
    [32, 16, (blocks * 8 + head * 16) / total, (blocks * 4.25 + head * 16) / total, nvfp4],
  );
});

Deno.test("mean curves over seeds; a diverged run stops contributing", () => {
  const b = policy("bf16");
  assertEquals(b.curves.eval.map((p) => p.step), [50, 100]);
  close(b.curves.eval[1].loss, 2.11, 1e-12, "bf16 eval at 100");
  assertStrictEquals(b.curves.train.length, 10);
  const m = policy("mxfp4");
  assertEquals(m.curves.train.find((p) => p.step === 70)?.n, 2);
  assertEquals(m.curves.train.find((p) => p.step === 60)?.n, 3);
});

Deno.test("records of an older recipe version or an older run of the same seed are superseded", () => {
  const records = [
    makeRecord({ policy: "bf16", seed: 0, evalLoss: 2, finishedAt: "2026-11-01T00:00:00Z" }),
    makeRecord({ policy: "bf16", seed: 0, evalLoss: 3, finishedAt: "2026-11-02T00:00:00Z" }),
    makeRecord({
      policy: "bf16",
      seed: 1,
      evalLoss: 9,
      recipeHash: "r0",
      finishedAt: "2026-10-01",
    }),
  ];
  const [s] = aggregate(records);
  assertStrictEquals(s.policies[0].finalLoss?.mean, 3);
  assertStrictEquals(s.superseded.length, 2);
  assertStrictEquals(s.records.length, 1);
});

Deno.test("a policy's GEMM paths come from its records, null for records without them", () => {
  assertStrictEquals(policy("bf16").gemms, null);
  const paths = [
    [
      { layer: "blocks.0.fc1", fprop: "matrix", dgrad: "matrix", wgrad: "matrix" },
      { layer: "lm_head", fprop: "matrix", dgrad: "matrix", wgrad: "f32" },
    ] as const,
  ];
  const base = makeRecord({ suite: "s", policy: "bf16", seed: 0, evalLoss: 2 });
  const record = { ...base, result: { ...base.result, gemms: paths } };
  const [suite] = aggregate([record]);
  assertStrictEquals(suite.policies[0].gemms, "matrix 5, f32 1");
  // The record schema accepts them.
  assertEquals(parseRecord(JSON.stringify(record), "r.json").result.gemms, paths);
});
