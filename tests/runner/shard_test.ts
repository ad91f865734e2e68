import { assertEquals, assertOk, assertStrictEquals, assertThrows } from "../assert.ts";
import { parseShard, partition, runCost, shardFromEnv, shardRuns } from "../../src/runner/shard.ts";
import { tinySpec } from "./fixtures.ts";
import type { RunSpec } from "../../src/recipe/run_spec.ts";

/** A plan of 23 runs of different lengths and widths: costs that do not divide evenly. */
function plan(): RunSpec[] {
  const runs: RunSpec[] = [];
  for (let i = 0; i < 23; i++) {
    const spec = tinySpec(["fp32", "bf16", "nvfp4"][i % 3], i);
    runs.push({
      ...spec,
      model: { ...spec.model, dModel: 32 * (1 + (i % 4)) },
      train: { ...spec.train, steps: 4 + 7 * (i % 5) },
    });
  }
  return runs;
}

Deno.test("the shards of a plan are disjoint and cover it, for every N from 1 to 30", () => {
  const runs = plan();
  for (let count = 1; count <= 30; count++) {
    const parts = Array.from(
      { length: count },
      (_, index) => shardRuns(runs, { index, count, source: "test" }),
    );
    const seen = parts.flat();
    assertStrictEquals(seen.length, runs.length, `N=${count}: every run once`);
    assertStrictEquals(new Set(seen).size, runs.length, `N=${count}: no run twice`);
    for (const p of parts) {
      const order = p.map((r) => runs.indexOf(r));
      assertEquals(order, [...order].sort((a, b) => a - b), `N=${count}: plan order kept`);
    }
  }
});

Deno.test("shards are balanced by estimated cost, within 4/3 of the best possible", () => {
  const runs = plan();
  const costs = runs.map(runCost);
  const total = costs.reduce((a, b) => a + b, 0);
  for (const count of [2, 3, 5, 8]) {
    const loads = partition(costs, count).map((p) => p.reduce((s, i) => s + costs[i], 0));
    const bound = Math.max(total / count, Math.max(...costs));
    assertOk(Math.max(...loads) <= (4 / 3) * bound, `N=${count}: loads ${loads}`);
  }
  // One long run and five short ones in two shards: by count 3 and 3, by cost 1 and 5.
  const long = { ...runs[0], train: { ...runs[0].train, steps: 400 } };
  const five = runs.slice(1, 6).map((r) => ({ ...r, train: { ...r.train, steps: 4 } }));
  const two = [0, 1].map((index) => shardRuns([...five, long], { index, count: 2, source: "t" }));
  assertEquals(two.map((p) => p.length), [1, 5]);
  assertStrictEquals(two[0][0], long);
});

Deno.test("a run's cost grows with its steps, batch and model, not with its policy", () => {
  const base = tinySpec("fp32", 0);
  assertStrictEquals(runCost(tinySpec("nvfp4", 3)), runCost(base));
  assertOk(runCost({ ...base, train: { ...base.train, steps: 8 } }) > runCost(base));
  assertOk(runCost({ ...base, train: { ...base.train, batch: 4 } }) > runCost(base));
  assertOk(runCost({ ...base, model: { ...base.model, dModel: 64 } }) > runCost(base));
});

Deno.test("the same plan gives the same shards in another process's order of work", () => {
  const a = plan();
  const b = plan();
  for (const index of [0, 1, 2]) {
    const shard = { index, count: 3, source: "test" };
    assertEquals(shardRuns(a, shard).map((r) => r.seed), shardRuns(b, shard).map((r) => r.seed));
  }
});

Deno.test("--shard K/N is parsed, and bad values are refused naming the value", () => {
  assertEquals(parseShard("0/1"), { index: 0, count: 1, source: "--shard 0/1" });
  assertThrows(() => parseShard("1"), /--shard: "1" is not K\/N/);
  assertThrows(() => parseShard("-1/3"), /--shard: "-1\/3" is not K\/N/);
  assertThrows(() => parseShard("2/0"), /--shard: "2\/0": N must be a positive integer/);
  assertThrows(() => parseShard("4/3"), /K must be below N/);
});

Deno.test("schedulers' environments give the shard and say where it came from", () => {
  const from = (env: Record<string, string>) => shardFromEnv((k) => env[k]);
  assertEquals(
    from({ SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "3", SLURM_ARRAY_TASK_MIN: "0" }),
    {
      index: 1,
      count: 3,
      source:
        "Slurm job array (SLURM_ARRAY_TASK_ID=1, SLURM_ARRAY_TASK_MIN=0, SLURM_ARRAY_TASK_COUNT=3)",
    },
  );
  assertEquals(from({ JOB_COMPLETION_INDEX: "4", LPBENCH_SHARD_COUNT: "5" })?.index, 4);
  assertEquals(from({ SKYPILOT_JOB_RANK: "0", SKYPILOT_NUM_JOBS: "2" })?.count, 2);
  const aws = from({ AWS_BATCH_JOB_ARRAY_INDEX: "7", AWS_BATCH_JOB_ARRAY_SIZE: "8" });
  assertEquals(
    aws?.source,
    "AWS Batch array job (AWS_BATCH_JOB_ARRAY_INDEX=7, AWS_BATCH_JOB_ARRAY_SIZE=8)",
  );
  assertStrictEquals(from({ SLURM_JOB_ID: "12" }), undefined, "a job that is not an array");
  assertThrows(
    () => from({ JOB_COMPLETION_INDEX: "0" }),
    /JOB_COMPLETION_INDEX is set \(Kubernetes Indexed Job\) but LPBENCH_SHARD_COUNT is not/,
  );
  assertThrows(
    () =>
      from({ SLURM_ARRAY_TASK_ID: "6", SLURM_ARRAY_TASK_COUNT: "3", SLURM_ARRAY_TASK_MIN: "0" }),
    /task ids are not consecutive/,
  );
  assertThrows(
    () => from({ SKYPILOT_JOB_RANK: "x", SKYPILOT_NUM_JOBS: "2" }),
    /SKYPILOT_JOB_RANK="x" is not a non-negative integer/,
  );
});
