/**
 * Reading run records for reports: each `<runsDir>/*.json` is parsed and checked against the
 * record format (the `format` field, and the shape of every field a report reads). A file that
 * fails is skipped and reported with its path and the first problems found; numbers a record holds
 * as `null` (JSON's NaN) stay `null` and count as missing.
 *
 * @module
 */

import { join } from "node:path";
import { z } from "zod";
import { resolveFormat } from "../formats/spec.ts";
import { RECORD_FORMAT, type RunRecord } from "../runner/record.ts";

/**
 * A record file that could not be read, with the reason.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RecordError } from "./records.ts";
 * const e = new RecordError("reports/runs/x.json", "not valid JSON");
 * assert.equal(e.message, "reports/runs/x.json: not valid JSON");
 * ```
 */
export class RecordError extends Error {
  /**
   * @param file the record's path
   * @param reason what is wrong with it
   */
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
    this.name = "RecordError";
  }
}

const metric = z.number().nullable();
const str = z.string();
const point = z.looseObject({ step: z.number(), loss: metric, accuracy: metric });
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
  env: z.looseObject({
    deno: str,
    v8: str,
    typescript: str,
    os: str,
    arch: str,
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
  }),
  result: z.looseObject({
    train: z.array(point),
    eval: z.array(point),
    tokensPerSecond: metric,
    stepMs: z.looseObject({ p50: metric, p99: metric }),
    dispatchesPerStep: metric,
    gpuBytes: metric,
    divergedAt: z.number().nullable(),
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
 * import { parseRecord } from "./records.ts";
 * assert.throws(() => parseRecord('{"format": "other/v9"}', "runs/x.json"), /^RecordError: runs\/x\.json: format: unsupported record format "other\/v9"/);
 * assert.throws(() => parseRecord("{", "runs/y.json"), /runs\/y\.json: not valid JSON/);
 * ```
 */
export function parseRecord(text: string, file: string): RunRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RecordError(file, `not valid JSON (${(e as Error).message})`);
  }
  const checked = recordSchema.safeParse(json);
  if (!checked.success) {
    const issues = checked.error.issues;
    const first = issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : "";
    throw new RecordError(file, first.join("; ") + more);
  }
  return json as RunRecord;
}

/** The records of a folder and the files that could not be read. */
export interface ReadRecords {
  /** Valid records, in file-name order. */
  readonly records: RunRecord[];
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
 * import { readRecords } from "./records.ts";
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
      records.push(parseRecord(await Deno.readTextFile(file), file));
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      errors.push(e);
    }
  }
  return { records, errors };
}
