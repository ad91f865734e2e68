/**
 * The run record, `<runsDir>/<id>.json`: everything a report needs about one finished run. This
 * module owns its type, its zod schema and reading it; the runner writes records (atomically,
 * through `src/io/atomic.ts`) and reads an existing one back before deciding to skip a run, the
 * reports read whole folders. Nothing is edited by hand.
 *
 * Reading checks the `format` field and the shape of every field a report reads (other fields are
 * kept as they are). A file that fails is a {@link RecordError} naming the file and the first
 * problems found; numbers a record holds as `null` (JSON's NaN) stay `null` and count as missing.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "zod";
import { resolveFormat } from "../formats/spec.ts";
import type { GpuImplementation } from "../gpu/implementation.ts";
import type { LinearPaths } from "../model/plan.ts";
import type { HealthResult } from "../health/types.ts";
import { parseChecked } from "../io/json.ts";
import type { RunSpec } from "../recipe/run_spec.ts";
import type { CurvePoint } from "../train/loop.ts";

/** Identifier of the record format. */
export const RECORD_FORMAT = "lpbench.run/v1";

/** Where and with what a run ran (see `environment.ts`). */
export interface Environment {
  /** `Deno.version.deno`. */
  readonly deno: string;
  /** `Deno.version.v8`. */
  readonly v8: string;
  /** `Deno.version.typescript`. */
  readonly typescript: string;
  /** `Deno.build.os` and `Deno.osRelease()`. */
  readonly os: string;
  /** `Deno.build.arch`. */
  readonly arch: string;
  /**
   * The WebGPU implementation: name, version, toggles, feature level. Records written before it
   * was recorded read back as Deno's built-in WebGPU at the record's Deno version.
   */
  readonly implementation: GpuImplementation;
  /** The WebGPU adapter's `GPUAdapterInfo`, and whether it is a fallback (software) adapter. */
  readonly adapter: {
    readonly vendor: string;
    readonly architecture: string;
    readonly device: string;
    readonly description: string;
    readonly isFallbackAdapter: boolean;
  };
  /** The device's enabled features, sorted. */
  readonly features: readonly string[];
  /** The device's limits, by name. */
  readonly limits: Readonly<Record<string, number>>;
  /** The checkout's commit and whether it had uncommitted changes; null outside a git checkout. */
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
  /**
   * The CPU's model name, logical core count and, on Linux, the vector instruction sets a software
   * adapter's shader compiler can target (see `CPU_VECTOR_FLAGS` in environment.ts); absent in
   * older records, `simd` absent in records before 2026-12-05.
   */
  readonly cpu?: {
    readonly model: string;
    readonly cores: number;
    readonly simd?: readonly string[];
  };
  /** The WGSL language features the implementation offers, sorted (absent in older records). */
  readonly wgslLanguageFeatures?: readonly string[];
  /** sha256 of the checkout's `deno.lock` (the pinned packages), null without one. */
  readonly lockfile?: string | null;
  /**
   * The graphics driver and its version, e.g. `NVIDIA 570.133.20` or `Mesa 22.3.6` (see
   * `src/runner/driver.ts`); absent where it could not be told and in records before 2026-12-06.
   */
  readonly driver?: string;
}

/** The outcome of a run. Numbers JSON cannot hold (NaN) are read back as `null`. */
export interface RunResult {
  /** Training loss and accuracy every `logEvery` steps. */
  readonly train: readonly CurvePoint[];
  /** Validation loss and accuracy every `eval.every` steps and at the end. */
  readonly eval: readonly CurvePoint[];
  /** Median tokens/s over the logging windows after the untimed warm-up steps. */
  readonly tokensPerSecond: number;
  /**
   * Step time percentiles (milliseconds) after the warm-up steps: of each step's GPU time
   * (`clock: "gpu"`), or of the logging windows' mean wall time per step (`"window"`; records
   * written before steps were timed individually have no `clock` and mean this).
   */
  readonly stepMs: {
    readonly p50: number;
    readonly p99: number;
    readonly clock?: "gpu" | "window";
  };
  /** Compute dispatches recorded per training step. */
  readonly dispatchesPerStep: number;
  /** GPU memory the model allocated (bytes). */
  readonly gpuBytes: number;
  /**
   * The GEMM path of every linear layer (`f32`, `packed`, `matrix`), one list per policy phase.
   * Absent in records written before paths were recorded.
   */
  readonly gemms?: readonly (readonly LinearPaths[])[];
  /** The step at which the loss became NaN/Inf; training stopped there. */
  readonly divergedAt: number | null;
  /**
   * The numeric-health diagnostics (src/health/), where the recipe asked for them (`health:`);
   * absent otherwise and in older records.
   */
  readonly health?: HealthResult;
}

/** A run record, the content of `<runsDir>/<id>.json`. */
export interface RunRecord {
  /** {@link RECORD_FORMAT}. */
  readonly format: typeof RECORD_FORMAT;
  /** sha256 of the canonical spec plus the data and kernel-source hashes. */
  readonly id: string;
  /** What was run: model, data, training, the fully resolved policy, seed. */
  readonly spec: RunSpec;
  /** sha256 of the resolved recipe, of the training data and of the numerics sources. */
  readonly hashes: { readonly recipe: string; readonly data: string; readonly kernels: string };
  /**
   * The sizes of its data: tokens in all, in the training and validation splits, and the
   * tokenizer (absent in older records).
   */
  readonly data?: {
    readonly tokenizer: string;
    readonly tokens: number;
    readonly trainTokens: number;
    readonly valTokens: number;
  };
  /** Where and with what the run ran. */
  readonly env: Environment;
  /** Its curves and measurements. */
  readonly result: RunResult;
  /** ISO time the run finished. */
  readonly finishedAt: string;
  /** Wall-clock seconds the run took. */
  readonly durationSeconds: number;
}

/**
 * A record file that could not be read, with the reason.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RecordError } from "./record.ts";
 * const e = new RecordError("reports/runs/x.json", "not valid JSON");
 * assert.equal(e.message, "reports/runs/x.json: not valid JSON");
 * ```
 */
export class RecordError extends Error {
  /** The record file's path. */
  readonly file: string;
  /** What is wrong with it. */
  readonly reason: string;

  /**
   * Makes the error; its message is `<file>: <reason>`.
   *
   * @param file the record's path
   * @param reason what is wrong with it
   */
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.file = file;
    this.reason = reason;
    this.name = "RecordError";
  }
}

const metric = z.number().nullable();
const str = z.string();
const GEMM_PATH = z.enum(["f32", "packed", "matrix"]);
const point = z.looseObject({
  step: z.number(),
  loss: metric,
  accuracy: metric,
  gradNorm: metric.optional(),
  lr: z.number().optional(),
});
const format = z.unknown().superRefine((f, ctx) => {
  try {
    resolveFormat(f as Parameters<typeof resolveFormat>[0]);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

const recordSchema = z.looseObject({
  format: z.literal(RECORD_FORMAT, {
    error: (i) =>
      `unsupported record format ${JSON.stringify(i.input)} (expected "${RECORD_FORMAT}")`,
  }),
  id: str.min(1),
  spec: z.looseObject({
    suite: str.min(1),
    recipePath: str,
    recipeHash: str,
    policyName: str.min(1),
    baseline: str.min(1),
    seed: z.number(),
    model: z.looseObject({
      pattern: str,
      dModel: z.number(),
      heads: z.number(),
      dFf: z.number(),
      seqLen: z.number(),
      vocab: z.number(),
      mlp: str,
    }),
    policy: z.looseObject({
      linear: z.looseObject({ fprop: z.looseObject({ w: z.looseObject({ format }) }) }),
      compute: z.enum(["fp32", "bf16"]).optional(),
    }),
    data: z.looseObject({}),
    train: z.looseObject({
      steps: z.number(),
      batch: z.number(),
      schedule: z.looseObject({ kind: z.enum(["constant", "cosine", "wsd"]), lr: z.number() }),
      clip: z.number().nullable(),
      adamw: z.looseObject({}),
      eval: z.looseObject({ every: z.number(), batches: z.number() }),
      warmupSteps: z.number(),
    }),
  }),
  hashes: z.looseObject({ recipe: str, data: str, kernels: str }),
  data: z.looseObject({
    tokenizer: str,
    tokens: z.number(),
    trainTokens: z.number(),
    valTokens: z.number(),
  }).optional(),
  env: z.looseObject({
    deno: str,
    v8: str,
    typescript: str,
    os: str,
    arch: str,
    implementation: z.looseObject({
      name: z.enum(["deno", "dawn"]),
      version: str,
      toggles: z.array(str),
      featureLevel: str.optional(),
    }).optional(),
    adapter: z.looseObject({
      vendor: str,
      architecture: str,
      device: str,
      description: str,
      isFallbackAdapter: z.boolean(),
    }),
    features: z.array(str),
    limits: z.record(str, z.number()),
    git: z.looseObject({ commit: str, dirty: z.boolean() }).nullable(),
    cpu: z.looseObject({ model: str, cores: z.number(), simd: z.array(str).optional() }).optional(),
    wgslLanguageFeatures: z.array(str).optional(),
    lockfile: str.nullable().optional(),
    driver: str.optional(),
  }),
  result: z.looseObject({
    train: z.array(point),
    eval: z.array(point),
    tokensPerSecond: metric,
    stepMs: z.looseObject({
      p50: metric,
      p99: metric,
      clock: z.enum(["gpu", "window"]).optional(),
    }),
    dispatchesPerStep: metric,
    gpuBytes: metric,
    gemms: z.array(z.array(z.looseObject({
      layer: str,
      fprop: GEMM_PATH,
      dgrad: GEMM_PATH.optional(),
      wgrad: GEMM_PATH,
    }))).optional(),
    divergedAt: z.number().nullable(),
    health: z.looseObject({
      config: z.looseObject({ every: z.number(), draws: z.number(), alarms: z.looseObject({}) }),
      points: z.array(z.looseObject({
        step: z.number(),
        layers: z.array(z.looseObject({ layer: str, gemms: z.array(z.looseObject({})) })),
        gradNonFinite: z.record(str, z.number()),
      })),
      alarms: z.array(z.looseObject({ step: z.number(), layer: str, measure: str })),
      stoppedAt: z.number().nullable(),
    }).optional(),
  }),
  finishedAt: str,
  durationSeconds: metric,
});

/**
 * Parses and checks the text of one record file.
 *
 * @throws {RecordError} naming `file` and the first problems found
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRecord } from "./record.ts";
 * assert.throws(() => parseRecord('{"format": "other/v9"}', "runs/x.json"), /^RecordError: runs\/x\.json: format: unsupported record format "other\/v9"/);
 * assert.throws(() => parseRecord("{", "runs/y.json"), /runs\/y\.json: not valid JSON/);
 * ```
 */
export function parseRecord(text: string, file: string): RunRecord {
  const checked = parseChecked(text, recordSchema);
  if ("problem" in checked) throw new RecordError(file, checked.problem);
  const record = checked.value as unknown as RunRecord;
  if (record.env.implementation) return record;
  // Written before records named the implementation: only Deno's existed then.
  const implementation: GpuImplementation = { name: "deno", version: record.env.deno, toggles: [] };
  return { ...record, env: { ...record.env, implementation } };
}

/**
 * Reads and checks one record file; with `id`, also that the record is the one of that run (a
 * record file is named after its id).
 *
 * @throws {Deno.errors.NotFound} when the file does not exist
 * @throws {RecordError} when it is not a valid record, or the record of another run
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRecord } from "./record.ts";
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(readRecord(`${dir}/a.json`), Deno.errors.NotFound);
 * await Deno.writeTextFile(`${dir}/a.json`, "{");
 * await assert.rejects(readRecord(`${dir}/a.json`, "a"), /a\.json: not valid JSON/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readRecord(file: string, id?: string): Promise<RunRecord> {
  const record = parseRecord(await Deno.readTextFile(file), file);
  if (id !== undefined && record.id !== id) {
    throw new RecordError(file, `holds the record of run ${record.id}, not of ${id}`);
  }
  return record;
}

/** The records of a folder and the files that could not be read. */
export interface ReadRecords {
  /** Valid records, in file-name order. */
  readonly records: RunRecord[];
  /** The files that are not valid records, in file-name order. */
  readonly errors: RecordError[];
}

/**
 * Reads every `*.json` record in `runsDir` (temporary files of atomic writes are ignored).
 *
 * @throws {Deno.errors.NotFound} when the folder does not exist
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRecords } from "./record.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/bad.json`, "[]");
 * const { records, errors } = await readRecords(dir);
 * assert.equal(records.length, 0);
 * assert.match(errors[0].message, /bad\.json: \(root\): /);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readRecords(runsDir: string): Promise<ReadRecords> {
  const names: string[] = [];
  for await (const e of Deno.readDir(runsDir)) {
    if (e.isFile && e.name.endsWith(".json")) names.push(e.name);
  }
  const records: RunRecord[] = [];
  const errors: RecordError[] = [];
  for (const name of names.sort()) {
    const file = join(runsDir, name);
    try {
      records.push(await readRecord(file));
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      errors.push(e);
    }
  }
  return { records, errors };
}
