/**
 * Sharding a plan across processes: `--shard K/N` (or a scheduler's array index) picks the K-th of
 * N deterministic parts of the runs, balanced by each run's estimated cost ({@link runCost}, a
 * pure function of its spec, so every process of a sweep computes the same parts whatever
 * records it finds). The parts are disjoint and together cover the plan.
 *
 * Without the flag, K and N come from the scheduler's environment ({@link shardFromEnv}): Slurm
 * job arrays, Kubernetes Indexed Jobs, SkyPilot, AWS Batch array jobs.
 *
 * @module
 */

import { numel, paramSpecs } from "../model/config.ts";
import type { RunSpec } from "../recipe/run_spec.ts";

/** One shard: the 0-based `index` of `count` parts, and where it came from. */
export interface Shard {
  /** 0-based index, `0 ≤ index < count`. */
  readonly index: number;
  /** Number of parts. */
  readonly count: number;
  /** `--shard`, or the environment variables it was read from. */
  readonly source: string;
}

/** A shard that cannot be used: a bad `--shard` value or an incomplete scheduler environment. */
export class ShardError extends Error {
  override name = "ShardError";
}

/**
 * Parses `--shard K/N` (K 0-based, `0 ≤ K < N`).
 *
 * @throws {ShardError} naming the value when it is not `K/N` with integers `0 ≤ K < N`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseShard } from "./shard.ts";
 * assert.deepEqual(parseShard("2/3"), { index: 2, count: 3, source: "--shard 2/3" });
 * assert.throws(() => parseShard("3/3"), /--shard: "3\/3": K must be below N/);
 * ```
 */
export function parseShard(value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!m) {
    throw new ShardError(
      `--shard: ${JSON.stringify(value)} is not K/N (the K-th of N parts, K from 0)`,
    );
  }
  return checked(Number(m[1]), Number(m[2]), `--shard ${value.trim()}`, "--shard", value);
}

function checked(index: number, count: number, source: string, what: string, raw: string): Shard {
  const q = JSON.stringify(raw);
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new ShardError(`${what}: ${q}: N must be a positive integer`);
  }
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new ShardError(`${what}: ${q}: K must be a non-negative integer`);
  }
  if (index >= count) throw new ShardError(`${what}: ${q}: K must be below N (K from 0)`);
  return { index, count, source };
}

/**
 * The variable that carries a Kubernetes Indexed Job's completion count: Kubernetes gives each pod
 * `JOB_COMPLETION_INDEX` but not the number of completions, so the Job sets this one to its
 * `spec.completions` (the manifest of `deno task sweep k8s` does).
 */
export const K8S_COUNT_VARIABLE = "LPBENCH_SHARD_COUNT";

/** The schedulers {@link shardFromEnv} knows: index and count variables (null: none). */
const SCHEDULERS: readonly {
  readonly name: string;
  readonly index: string;
  readonly count: string;
  readonly min?: string;
}[] = [
  {
    name: "Slurm job array",
    index: "SLURM_ARRAY_TASK_ID",
    count: "SLURM_ARRAY_TASK_COUNT",
    min: "SLURM_ARRAY_TASK_MIN",
  },
  { name: "Kubernetes Indexed Job", index: "JOB_COMPLETION_INDEX", count: K8S_COUNT_VARIABLE },
  { name: "SkyPilot", index: "SKYPILOT_JOB_RANK", count: "SKYPILOT_NUM_JOBS" },
  {
    name: "AWS Batch array job",
    index: "AWS_BATCH_JOB_ARRAY_INDEX",
    count: "AWS_BATCH_JOB_ARRAY_SIZE",
  },
];

/**
 * The shard a scheduler's environment gives, or undefined when no scheduler's index variable is
 * set. Slurm: `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT` (an array
 * `--array=1-3` is parts 0, 1, 2 of 3; arrays with a step or a list are refused, as their ids are
 * not consecutive); Kubernetes: `JOB_COMPLETION_INDEX` of `LPBENCH_SHARD_COUNT`
 * ({@link K8S_COUNT_VARIABLE}); SkyPilot: `SKYPILOT_JOB_RANK` of `SKYPILOT_NUM_JOBS`; AWS Batch:
 * `AWS_BATCH_JOB_ARRAY_INDEX` of `AWS_BATCH_JOB_ARRAY_SIZE`. The first scheduler whose index is
 * set is used.
 *
 * @throws {ShardError} naming the variables when an index is set but its count is missing or bad
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shardFromEnv } from "./shard.ts";
 * const env = { SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_COUNT: "3", SLURM_ARRAY_TASK_MIN: "2" };
 * assert.deepEqual(shardFromEnv((k) => env[k as keyof typeof env]), {
 *   index: 2, count: 3,
 *   source: "Slurm job array (SLURM_ARRAY_TASK_ID=4, SLURM_ARRAY_TASK_MIN=2, SLURM_ARRAY_TASK_COUNT=3)",
 * });
 * assert.equal(shardFromEnv(() => undefined), undefined);
 * ```
 */
export function shardFromEnv(get: (name: string) => string | undefined): Shard | undefined {
  for (const s of SCHEDULERS) {
    const rawIndex = get(s.index);
    if (rawIndex === undefined || rawIndex === "") continue;
    const rawCount = get(s.count);
    if (rawCount === undefined || rawCount === "") {
      const hint = s.count === K8S_COUNT_VARIABLE
        ? ` (Kubernetes does not pass the Job's completions to its pods: set ${s.count} to ` +
          "spec.completions, as `deno task sweep k8s` does, or give --shard K/N)"
        : " (or give --shard K/N)";
      throw new ShardError(`${s.index} is set (${s.name}) but ${s.count} is not${hint}`);
    }
    const min = s.min ? get(s.min) ?? "0" : "0";
    const int = (name: string, raw: string) => {
      if (!/^\d+$/.test(raw.trim())) {
        throw new ShardError(`${name}=${JSON.stringify(raw)} is not a non-negative integer`);
      }
      return Number(raw);
    };
    const index = int(s.index, rawIndex) - (s.min ? int(s.min, min) : 0);
    const count = int(s.count, rawCount);
    const vars = [
      `${s.index}=${rawIndex}`,
      ...(s.min ? [`${s.min}=${min}`] : []),
      `${s.count}=${rawCount}`,
    ];
    const source = `${s.name} (${vars.join(", ")})`;
    if (s.min && index >= count) {
      throw new ShardError(
        `${source}: the array's task ids are not consecutive from ${s.min} (an --array with a ` +
          "step or a list); use --array=0-(N-1) or give --shard K/N",
      );
    }
    return checked(index, count, source, s.name, vars.join(", "));
  }
  return undefined;
}

/**
 * A run's estimated cost in FLOPs, the weight by which shards are balanced: training steps ×
 * tokens per step × (6 × parameters + 12 × attention blocks × sequence length × d_model), plus the
 * evaluation passes at a third of that per token (forward only). The 6·N·D rule for the GEMMs and
 * the 12·L·T·d term for attention's score and value products (forward and backward) are the usual
 * transformer estimates (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", §2.1).
 * Policies of the same shape cost the same: a pure function of the spec, never of measured times,
 * so that every process of a sweep balances the same way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCost } from "./shard.ts";
 * import type { RunSpec } from "../recipe/run_spec.ts";
 * const spec = {
 *   model: { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 16, vocab: 256, mlp: "relu2" },
 *   train: { steps: 10, batch: 2, eval: { every: 5, batches: 1 } },
 * } as unknown as RunSpec;
 * const longer = { ...spec, train: { ...spec.train, steps: 20 } } as RunSpec;
 * assert.ok(runCost(longer) > 1.9 * runCost(spec));
 * ```
 */
export function runCost(spec: RunSpec): number {
  const m = spec.model;
  const t = spec.train;
  const params = paramSpecs(m).reduce((n, p) => n + numel(p.shape), 0);
  const attention = [...m.pattern].filter((c) => c === "*").length;
  const perToken = 6 * params + 12 * attention * m.seqLen * m.dModel;
  const tokensPerStep = t.batch * m.seqLen;
  const evals = Math.floor(t.steps / t.eval.every) + (t.steps % t.eval.every === 0 ? 0 : 1);
  return t.steps * tokensPerStep * perToken +
    (evals * t.eval.batches * tokensPerStep * perToken) / 3;
}

/**
 * The positions in `costs` of the runs of each of `count` shards: the runs by cost, largest first
 * (ties in plan order), each given to the shard with the least cost so far (ties to the lowest
 * shard) — the longest-processing-time rule, within 4/3 of the best balance. Each shard's
 * positions are in plan order. Deterministic: the same costs give the same parts in any process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { partition } from "./shard.ts";
 * assert.deepEqual(partition([5, 1, 1, 1, 1, 1], 2), [[0], [1, 2, 3, 4, 5]]);
 * assert.deepEqual(partition([1, 1, 1], 4), [[0], [1], [2], []]);
 * ```
 */
export function partition(costs: readonly number[], count: number): number[][] {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(`partition: count must be a positive integer, got ${count}`);
  }
  const order = costs.map((_, i) => i).sort((a, b) => costs[b] - costs[a] || a - b);
  const parts: number[][] = Array.from({ length: count }, () => []);
  const load = new Array<number>(count).fill(0);
  for (const i of order) {
    let least = 0;
    for (let s = 1; s < count; s++) if (load[s] < load[least]) least = s;
    parts[least].push(i);
    load[least] += costs[i];
  }
  return parts.map((p) => p.sort((a, b) => a - b));
}

/**
 * The runs of `shard` among `runs` (in plan order), balanced by {@link runCost}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shardRuns } from "./shard.ts";
 * import type { RunSpec } from "../recipe/run_spec.ts";
 * const run = (seed: number) => ({
 *   seed,
 *   model: { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 16, vocab: 256, mlp: "relu2" },
 *   train: { steps: 10, batch: 2, eval: { every: 5, batches: 1 } },
 * }) as unknown as RunSpec;
 * const runs = [run(0), run(1), run(2)];
 * const parts = [0, 1].map((index) => shardRuns(runs, { index, count: 2, source: "--shard" }));
 * assert.deepEqual(parts.map((p) => p.map((r) => r.seed)), [[0, 2], [1]]);
 * ```
 */
export function shardRuns<T extends RunSpec>(runs: readonly T[], shard: Shard): T[] {
  return partition(runs.map(runCost), shard.count)[shard.index].map((i) => runs[i]);
}
