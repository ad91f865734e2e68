/**
 * What `deno task bench --dry-run` says about each planned run beyond its recipe: whether its
 * record exists, the GPU memory it needs (checked against the adapter where there is one, as the
 * real run checks it) and how long it should take, judged from the records of the same recipe.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { gemmUnits } from "../model/linear.ts";
import { checkMemory, estimateMemory, GpuMemoryError } from "../model/memory.ts";
import type { RunSpec } from "../recipe/run_spec.ts";
import { SourceFile } from "../recipe/source.ts";
import type { PlannedRun } from "./run.ts";

/** The status lines of a plan and the runs that would not fit the adapter. */
export interface PlanStatus {
  /** One line per run, then a total. */
  readonly lines: readonly string[];
  /** `<recipe>:line:col model (policy P): <why>` for each run the adapter cannot hold. */
  readonly problems: readonly string[];
}

const MIB = 2 ** 20;

function duration(seconds: number): string {
  return seconds >= 3600
    ? `${(seconds / 3600).toFixed(1)} h`
    : seconds >= 60
    ? `${(seconds / 60).toFixed(1)} min`
    : `${Math.round(seconds)} s`;
}

/**
 * The refusal of a run the adapter cannot hold, at the recipe's `model` key:
 * `recipes/x.yaml:13:1 model (policy fp32): <why>` (the file alone where it cannot be read).
 */
export function memoryProblem(spec: RunSpec, message: string): string {
  let where = spec.recipePath;
  try {
    const src = new SourceFile(spec.recipePath, Deno.readTextFileSync(spec.recipePath));
    const p = src.problem(["model"], message, "key");
    if (p.line > 0) where = `${p.file}:${p.line}:${p.column}`;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied)) throw e;
  }
  return `${where} model (policy ${spec.policyName}): ${message}`;
}

function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * The status of each planned run: `record exists`, or `to train` with its memory estimate and an
 * expected duration (the median duration of the plan's existing records of the same policy and
 * settings, else of any policy with the same settings). With `gpu`, a run to train that the
 * adapter cannot hold is a problem, exactly as when it would train.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeStatus } from "./dry_run.ts";
 * assert.deepEqual(describeStatus([]).lines, ["0 runs: 0 with a record, 0 to train"]);
 * ```
 */
export function describeStatus(plan: readonly PlannedRun[], gpu?: Gpu): PlanStatus {
  const lines: string[] = [];
  const problems: string[] = [];
  const settings = (p: PlannedRun) => JSON.stringify([p.spec.model, p.spec.train, p.spec.data]);
  let expected = 0;
  let unknown = 0;
  let refused = 0;
  for (const p of plan) {
    const name = `${p.spec.suite} ${p.spec.policyName} seed ${p.spec.seed}`;
    if (p.existing) {
      lines.push(`  ${name}: record exists (${p.id.slice(0, 12)})`);
      continue;
    }
    const { model, policy, train, health } = p.spec;
    const units = gpu
      ? gemmUnits(gpu, train.matrixUnits === false ? { matrixUnits: false } : {})
      : undefined;
    let bytes: number;
    try {
      bytes = gpu
        ? checkMemory(gpu, model, policy, train.batch, train.steps, undefined, units, health)
          .bytes
        : estimateMemory(model, policy, train.batch, train.steps, undefined, health).bytes;
    } catch (e) {
      if (!(e instanceof GpuMemoryError)) throw e;
      problems.push(memoryProblem(p.spec, e.message));
      refused++;
      lines.push(`  ${name}: to train, does not fit the adapter`);
      continue;
    }
    const alike = plan.filter((q) => q.existing && settings(q) === settings(p));
    const samePolicy = alike.filter((q) => q.spec.policyName === p.spec.policyName);
    const seconds = median(
      (samePolicy.length > 0 ? samePolicy : alike).map((q) => q.existing!.durationSeconds),
    );
    if (seconds === undefined) unknown++;
    else expected += seconds;
    lines.push(
      `  ${name}: to train, GPU memory ≈ ${Math.ceil(bytes / MIB)} MiB` +
        (seconds === undefined ? "" : `, expected ≈ ${duration(seconds)}`),
    );
  }
  const toTrain = plan.filter((p) => !p.existing).length;
  // Runs the adapter cannot hold have no expected time.
  const fitting = toTrain - refused;
  const total = `${plan.length} runs: ${plan.length - toTrain} with a record, ${toTrain} to train` +
    (refused > 0 ? `; ${refused} do not fit the adapter` : "") +
    (fitting > unknown && fitting > 0 ? `; expected ≈ ${duration(expected)}` : "") +
    (unknown > 0 && fitting > 0
      ? ` (${unknown} without a record of the same settings to judge by)`
      : "") +
    (gpu || toTrain === 0 ? "" : "; no adapter: memory estimated, not checked against one");
  return { lines: [...lines, total], problems };
}
