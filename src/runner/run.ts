/**
 * The runner: trains each RunSpec whose record does not exist yet, with progress on the terminal,
 * and writes each record atomically to `<runsDir>/<id>.json`. A diverged run is a recorded result
 * and the suite goes on; an interrupted run leaves no record behind. An existing record file is
 * read through the validated reader of `record.ts`: a file that is not a valid record of its run
 * (corrupt, another format, another run's id) is reported and the run trained again, its new
 * record replacing the file.
 *
 * The records folder may be shared by many processes (shards of a sweep, on one machine or many):
 * a run is claimed with a lock file `<runsDir>/.<id>.lock` (`src/io/lock.ts`; a run another live
 * process holds is skipped, a stale lock taken over), and its record is published first-writer-
 * wins (`writeAtomicNew`): where two processes trained the same run, the first record stays and
 * the second process keeps it. With `checkpointEvery`, a run writes a checkpoint
 * `<checkpointDir>/<id>.safetensors` every so many steps and when it is interrupted (the `signal`
 * aborted: SIGTERM, SIGUSR2, Ctrl-C), resumes from it when trained again, and removes it once its
 * record is written; the resumed run's record equals an uninterrupted one's (timings aside).
 *
 * @module
 */

import { dirname, join } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import type { GpuImplementationName } from "../gpu/implementation.ts";
import { writeAtomic, writeAtomicNew } from "../io/atomic.ts";
import { exists } from "../io/exists.ts";
import { type LockOptions, tryLock } from "../io/lock.ts";
import type { RunSpec } from "../recipe/run_spec.ts";
import { type Dataset, loadDataset } from "../train/data/dataset.ts";
import { train, type TrainConfig, TrainingInterrupted } from "../train/loop.ts";
import { environment } from "./environment.ts";
import { canonicalJson, sha256Hex } from "../recipe/hash.ts";
import { kernelSourcesHash } from "./hashes.ts";
import { readRecord, RECORD_FORMAT, RecordError, type RunRecord } from "./record.ts";

/** The loop's configuration for a run. */
export function trainConfigOf(spec: RunSpec): TrainConfig {
  const t = spec.train;
  return {
    model: spec.model,
    policy: spec.policy,
    steps: t.steps,
    batch: t.batch,
    seed: spec.seed,
    schedule: t.schedule,
    clip: t.clip ?? Infinity,
    adamw: t.adamw,
    logEvery: t.logEvery,
    eval: t.eval,
    warmupSteps: t.warmupSteps,
    ...(t.matrixUnits === false ? { matrixUnits: false } : {}),
    ...(spec.health ? { health: spec.health } : {}),
  };
}

/**
 * What a run's data contributes to its id: the token stream's hash, the tokenizer, and how the
 * stream divides into the splits (each part's role and token range). Not the parts' sources: the
 * same tokens from `./x.txt` or `x.txt` train the same run.
 */
export interface DataIdentity {
  readonly sha256: string;
  readonly tokenizer: string;
  readonly parts: readonly {
    readonly role: string;
    readonly start: number;
    readonly end: number;
    readonly valTokens: number;
  }[];
}

/** The {@link DataIdentity} of a loaded dataset. */
export function dataIdentity(data: Dataset): DataIdentity {
  return {
    sha256: data.sha256,
    tokenizer: data.tokenizer.name,
    parts: data.parts.map(({ role, start, end, valTokens }) => ({ role, start, end, valTokens })),
  };
}

/**
 * A run's id: sha256 of exactly what determines its result — the resolved model, precision
 * policy, training settings and seed, the data's {@link DataIdentity}, the kernel-source hash and
 * the WebGPU implementation it runs on (by name: like the adapter, the implementation's version is
 * in the record's environment, not in the id). Not the suite, the recipe's path or hash, the
 * policy's name or the baseline: renaming a policy, adding a seed or a policy, or spelling the
 * recipe's path differently leaves every other run's id, and so its record, as it was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runId } from "./run.ts";
 * import type { RunSpec } from "../recipe/run_spec.ts";
 * const spec = {
 *   suite: "a", recipePath: "recipes/a.yaml", policyName: "x", seed: 0, policy: { name: "x" },
 * } as unknown as RunSpec;
 * const data = { sha256: "d", tokenizer: "byte", parts: [] };
 * const renamed = {
 *   ...spec, suite: "b", recipePath: "./recipes/b.yaml", policyName: "y", policy: { name: "y" },
 * } as unknown as RunSpec;
 * assert.equal(runId(spec, data, "k", "deno"), runId(renamed, data, "k", "deno"));
 * assert.notEqual(runId(spec, data, "k", "deno"), runId({ ...spec, seed: 1 }, data, "k", "deno"));
 * ```
 */
export function runId(
  spec: RunSpec,
  data: DataIdentity,
  kernelsHash: string,
  implementation: GpuImplementationName,
): string {
  const { model, train, seed } = spec;
  const { name: _name, ...policy } = spec.policy;
  return sha256Hex(
    canonicalJson({
      model,
      policy,
      train,
      seed,
      data,
      kernels: kernelsHash,
      webgpu: implementation,
    }),
  );
}

/** Options of {@link runSuite}. */
export interface RunnerOptions {
  /** Where progress goes (default: a progress line on a TTY, plain lines otherwise). */
  readonly write?: (line: string, transient: boolean) => void;
  /**
   * Folders the suite writes its outputs to (records, reports): changes under them do not make
   * the records' git tree dirty (default `reports/`; `environment.ts`).
   */
  readonly outputDirs?: readonly string[];
  /** Aborting it interrupts the run in progress after its current step ({@link TrainingInterrupted}). */
  readonly signal?: AbortSignal;
  /** Write a checkpoint every this many steps (and on interruption); resume from it. */
  readonly checkpointEvery?: number;
  /** Where checkpoints go (default `<runsDir>/../checkpoints`). */
  readonly checkpointDir?: string;
  /** How run locks go stale (tests shorten them). */
  readonly lock?: LockOptions;
}

/** What {@link runSuite} did. */
export interface SuiteOutcome {
  /** The record of every planned run, in plan order: old ones and new ones. */
  readonly records: RunRecord[];
  /** Runs trained. */
  readonly ran: number;
  /** Runs whose record existed. */
  readonly skipped: number;
  /** Runs skipped because another live process holds their lock: no record of them yet. */
  readonly busy: number;
}

/**
 * Progress to stderr: on a terminal one line that transient lines overwrite, elsewhere only the
 * lasting lines.
 */
export function terminalWrite(): (line: string, transient: boolean) => void {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  return (line, transient) => {
    if (tty) Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${line}${transient ? "" : "\n"}`));
    else if (!transient) Deno.stderr.writeSync(enc.encode(`${line}\n`));
  };
}

/**
 * Throughput for progress lines; "— tok/s" where no logging window was timed (every logged step a
 * probed one, or fewer steps than the untimed warm-up).
 */
const tokensText = (tokensPerSecond: number) =>
  `${Number.isFinite(tokensPerSecond) ? tokensPerSecond.toFixed(0) : "—"} tok/s`;

const fmtTime = (s: number) =>
  s >= 3600
    ? `${(s / 3600).toFixed(1)}h`
    : s >= 60
    ? `${(s / 60).toFixed(1)}m`
    : `${s.toFixed(0)}s`;

/** A run of a suite as {@link planRuns} finds it: its id, dataset, record path and old record. */
export interface PlannedRun {
  /** The run. */
  readonly spec: RunSpec;
  /** {@link runId} of the spec with its data, the current kernel sources and the implementation. */
  readonly id: string;
  /** The WebGPU implementation the run is planned on ({@link runSuite} checks its Gpu's). */
  readonly implementation: GpuImplementationName;
  /** Its training data, loaded. */
  readonly data: Dataset;
  /** `<runsDir>/<id>.json`. */
  readonly path: string;
  /** The record already there, if any: such a run is not trained again. */
  readonly existing?: RunRecord;
  /** Why the file at `path` is not a valid record of this run, if it is not: it is trained again. */
  readonly invalid?: RecordError;
}

/**
 * The id, dataset (each loaded once) and existing record of every spec on the WebGPU
 * `implementation` (the name of the Gpu that will train them), so that callers can look at what
 * will really be trained (e.g. check its memory) before {@link runSuite} trains it.
 */
export async function planRuns(
  specs: readonly RunSpec[],
  runsDir: string,
  implementation: GpuImplementationName,
): Promise<PlannedRun[]> {
  const kernels = await kernelSourcesHash();
  const datasets = new Map<string, Promise<Dataset>>();
  const plan: PlannedRun[] = [];
  for (const spec of specs) {
    const dataKey = canonicalJson({ data: spec.data, base: dirname(spec.recipePath) });
    if (!datasets.has(dataKey)) {
      datasets.set(dataKey, loadDataset(spec.data, { baseDir: dirname(spec.recipePath) }));
    }
    const data = await datasets.get(dataKey)!;
    const id = runId(spec, dataIdentity(data), kernels, implementation);
    const path = join(runsDir, `${id}.json`);
    let found: { existing: RunRecord } | { invalid: RecordError } | undefined;
    try {
      found = { existing: await readRecord(path, id) };
    } catch (e) {
      if (e instanceof RecordError) found = { invalid: e };
      else if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    plan.push({ spec, id, implementation, data, path, ...found });
  }
  return plan;
}

/**
 * Trains every planned run whose record is missing (same id = same spec, data, kernel sources and
 * WebGPU implementation) and returns all records, old and new.
 *
 * @throws {Error} before training anything when a run was planned on another implementation
 */
export async function runSuite(
  gpu: Gpu,
  plan: readonly PlannedRun[],
  opts: RunnerOptions = {},
): Promise<SuiteOutcome> {
  const other = plan.find((p) => p.implementation !== gpu.implementation.name);
  if (other) {
    throw new Error(
      `run ${other.id.slice(0, 12)} was planned on WebGPU implementation ` +
        `"${other.implementation}" but the Gpu is "${gpu.implementation.name}"`,
    );
  }
  const write = opts.write ?? terminalWrite();
  const kernels = await kernelSourcesHash();
  const env = opts.outputDirs ? await environment(gpu, opts.outputDirs) : await environment(gpu);
  const records: RunRecord[] = [];
  let ran = 0;
  let skipped = 0;
  let busy = 0;
  for (const [i, planned] of plan.entries()) {
    const { spec, id, path, existing } = planned;
    const label = `[${i + 1}/${plan.length}] ${spec.suite} ${spec.policyName} seed ${spec.seed}`;
    if (existing) {
      records.push(existing);
      skipped++;
      write(`${label}: record ${id.slice(0, 12)} exists, skipped`, false);
      continue;
    }
    if (opts.signal?.aborted) throw new TrainingInterrupted(0);
    await Deno.mkdir(dirname(path), { recursive: true });
    const lock = await tryLock(join(dirname(path), `.${id}.lock`), opts.lock);
    if ("held" in lock) {
      const now = await readRecord(path, id).catch(() => undefined);
      if (now) {
        records.push(now);
        skipped++;
        write(`${label}: record ${id.slice(0, 12)} written by another process, skipped`, false);
      } else {
        busy++;
        const h = lock.held;
        write(
          `${label}: another process is training it` +
            (h ? ` (${h.host} pid ${h.pid} since ${h.since})` : "") + ", skipped",
          false,
        );
      }
      continue;
    }
    try {
      const record = await trainRun(gpu, planned, label, env, kernels, write, opts);
      records.push(record);
      ran++;
    } finally {
      await lock.release();
    }
  }
  return { records, ran, skipped, busy };
}

/** Trains one planned run (resuming from its checkpoint, if any) and publishes its record. */
async function trainRun(
  gpu: Gpu,
  { spec, id, data, path, invalid }: PlannedRun,
  label: string,
  env: RunRecord["env"],
  kernels: string,
  write: (line: string, transient: boolean) => void,
  opts: RunnerOptions,
): Promise<RunRecord> {
  if (invalid) write(`${label}: not a valid record, training again: ${invalid.message}`, false);
  const checkpoint = opts.checkpointEvery
    ? {
      path: join(
        opts.checkpointDir ?? join(dirname(path), "..", "checkpoints"),
        `${id}.safetensors`,
      ),
      every: opts.checkpointEvery,
    }
    : undefined;
  const resumeFrom = checkpoint && await exists(checkpoint.path) ? checkpoint.path : undefined;
  if (resumeFrom) write(`${label}: resuming from checkpoint ${resumeFrom}`, false);
  if (checkpoint) await Deno.mkdir(dirname(checkpoint.path), { recursive: true });
  const t0 = performance.now();
  const steps = spec.train.steps;
  write(
    `${label}: building the model, then ${steps} steps (first figures at step ` +
      `${Math.min(spec.train.logEvery, steps)})`,
    true,
  );
  const result = await train(gpu, data, trainConfigOf(spec), {
    ...(checkpoint ? { checkpoint } : {}),
    ...(resumeFrom ? { resumeFrom } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onLog: (p) => {
      const elapsed = (performance.now() - t0) / 1000;
      const eta = (elapsed / p.step) * (steps - p.step);
      write(
        `${label} step ${p.step}/${steps} loss ${p.loss.toFixed(4)} ` +
          `${tokensText(p.tokensPerSecond)} ETA ${fmtTime(eta)}`,
        true,
      );
    },
  });
  const record: RunRecord = {
    format: RECORD_FORMAT,
    id,
    spec,
    hashes: { recipe: spec.recipeHash, data: data.sha256, kernels },
    data: {
      tokenizer: data.tokenizer.name,
      tokens: data.tokens.length,
      trainTokens: data.train.length,
      valTokens: data.val.length,
    },
    env,
    result: {
      train: result.train,
      eval: result.eval,
      tokensPerSecond: result.tokensPerSecond,
      stepMs: result.stepMs,
      dispatchesPerStep: result.dispatchesPerStep,
      gpuBytes: result.gpuBytes,
      gemms: result.gemms,
      divergedAt: result.divergedAt ?? null,
      ...(result.health ? { health: result.health } : {}),
    },
    finishedAt: new Date().toISOString(),
    durationSeconds: (performance.now() - t0) / 1000,
  };
  const text = JSON.stringify(record, null, 1) + "\n";
  // A file that is not a valid record is replaced; a valid one another process wrote meanwhile is
  // kept, and so is its record.
  let kept: RunRecord | undefined;
  if (invalid) await writeAtomic(path, text);
  else if (!await writeAtomicNew(path, text)) kept = await readRecord(path, id);
  if (checkpoint) await Deno.remove(checkpoint.path).catch(() => {});
  const last = result.eval.at(-1) ?? result.train.at(-1);
  write(
    `${label}: ${
      result.divergedAt ? `diverged at step ${result.divergedAt}` : `loss ${last?.loss.toFixed(4)}`
    }, ` +
      `${tokensText(result.tokensPerSecond)}, ${fmtTime(record.durationSeconds)} → ${path}` +
      (kept ? " (another process wrote its record first; that one is kept)" : ""),
    false,
  );
  return kept ?? record;
}
