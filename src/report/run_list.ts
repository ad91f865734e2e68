/**
 * The run list of a report: `<outDir>/<suite>.runs.json`, written atomically beside
 * `<outDir>/<suite>.md` each time the report is written, and read by `deno task verify`, which
 * never parses the markdown. It is plain JSON:
 *
 * ```json
 * {
 *   "format": "lpbench.report-runs/v1",
 *   "suite": "quick",
 *   "report": "quick.md",
 *   "runsDir": "runs",
 *   "runs": ["083fa4aa…", "0c9fa668…"]
 * }
 * ```
 *
 * `report` is the report's file name and `runsDir` the folder of the record files, both relative
 * to the folder of the list; `runs` holds the record ids of the runs the report aggregates, in the
 * order of its runs table (baseline first, then the other policies by name, each by seed). Ids are
 * file names (letters, digits, `_` and `-`), so a list cannot point outside its records folder.
 *
 * @module
 */

import { basename, dirname, isAbsolute, join, normalize } from "node:path";
import { z } from "zod";
import { writeAtomic } from "../io/atomic.ts";
import { parseChecked } from "../io/json.ts";
import type { Claim } from "../recipe/claims.ts";

/** Identifier of the run list format. */
export const RUN_LIST_FORMAT = "lpbench.report-runs/v1";

/** The runs a report aggregates (see the module doc for the file). */
export interface RunList {
  /** {@link RUN_LIST_FORMAT}. */
  readonly format: typeof RUN_LIST_FORMAT;
  /** The suite (recipe name) of the report. */
  readonly suite: string;
  /** File name of the report, in the list's folder. */
  readonly report: string;
  /** Folder of the record files, relative to the list's folder. */
  readonly runsDir: string;
  /** Record ids (`<runsDir>/<id>.json`), in the order of the report's runs table. */
  readonly runs: readonly string[];
  /**
   * Every run the report's recipe plans, with or without a record yet, under the names the report
   * gives them (a record may serve runs of several recipes: its id is only what determines its
   * result). `deno task report` rebuilds the report from it. Absent in older lists.
   */
  readonly plan?: ReportPlan;
}

/** The runs a report plans for ({@link RunList.plan}). */
export interface ReportPlan {
  /** The recipe files, as given to `deno task bench`. */
  readonly recipes: readonly string[];
  /** sha256 of the resolved recipe. */
  readonly recipeHash: string;
  /** The baseline policy's name. */
  readonly baseline: string;
  /** Each planned run: its record id, policy name and seed, in the recipe's order. */
  readonly runs: readonly { readonly id: string; readonly policy: string; readonly seed: number }[];
  /** The claims the report tests (the recipe's `claims`); absent where it has none. */
  readonly claims?: readonly Claim[];
}

/**
 * A run list that is missing or cannot be read, with what to do about it. The CLI prints the
 * message and exits with code 2 (invalid input).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RunListError } from "./run_list.ts";
 * assert.equal(new RunListError("reports/x.runs.json: not valid JSON").name, "RunListError");
 * ```
 */
export class RunListError extends Error {
  /**
   * Makes the error.
   *
   * @param message the list's path and what is wrong
   */
  constructor(message: string) {
    super(message);
    this.name = "RunListError";
  }
}

const RECORD_ID = z.string().regex(/^[A-Za-z0-9_-]+$/, "expected a record id");

const schema = z.object({
  format: z.literal(RUN_LIST_FORMAT, {
    error: (i) =>
      `unsupported run list format ${JSON.stringify(i.input)} (expected "${RUN_LIST_FORMAT}")`,
  }),
  suite: z.string().min(1),
  report: z.string().min(1),
  runsDir: z.string().refine((d) => !isAbsolute(d), "must be relative to the list's folder"),
  runs: z.array(RECORD_ID).min(1),
  plan: z.object({
    recipes: z.array(z.string().min(1)).min(1),
    recipeHash: z.string().min(1),
    baseline: z.string().min(1),
    runs: z.array(z.object({ id: RECORD_ID, policy: z.string().min(1), seed: z.number().int() }))
      .min(1),
    // Written by this module from checked recipes; read back as they were written.
    claims: z.array(z.looseObject({ name: z.string().min(1) })).optional(),
  }).optional(),
});

/**
 * The path of the run list of a report: `X.md` → `X.runs.json`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runListPath } from "./run_list.ts";
 * assert.equal(runListPath("reports/h100/quick.md"), "reports/h100/quick.runs.json");
 * ```
 */
export function runListPath(reportPath: string): string {
  return `${reportPath.replace(/\.md$/, "")}.runs.json`;
}

/**
 * Writes the run list of the report at `reportPath` (atomically) and returns the list's path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRunList, writeRunList } from "./run_list.ts";
 * const dir = await Deno.makeTempDir();
 * const path = await writeRunList(`${dir}/demo.md`, { suite: "demo", runsDir: "runs", runs: ["a1", "b2"] });
 * assert.equal(path, `${dir}/demo.runs.json`);
 * assert.deepEqual((await readRunList(`${dir}/demo.md`)).runs, ["a1", "b2"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeRunList(
  reportPath: string,
  list: Pick<RunList, "suite" | "runsDir" | "runs" | "plan">,
): Promise<string> {
  const path = runListPath(reportPath);
  const full: RunList = {
    format: RUN_LIST_FORMAT,
    suite: list.suite,
    report: basename(reportPath),
    runsDir: list.runsDir,
    runs: list.runs,
    ...(list.plan ? { plan: list.plan } : {}),
  };
  await writeAtomic(path, JSON.stringify(full, null, 2) + "\n");
  return path;
}

/** The command that rewrites the report at `reportPath` (and so its run list). */
function regenerate(reportPath: string): string {
  const dir = normalize(dirname(reportPath));
  const out = dir === "reports" ? "" : ` --out ${dir}`;
  return `deno task report ${basename(reportPath).replace(/\.md$/, "")}${out}`;
}

/**
 * Reads and checks the run list of the report at `reportPath`.
 *
 * @throws {RunListError} when the report or its list is missing (saying how to regenerate the
 * list) or the list is not a valid run list
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRunList } from "./run_list.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/old.md`, "# old\n");
 * await assert.rejects(readRunList(`${dir}/old.md`), /old\.runs\.json is missing: regenerate it with `deno task report old --out /);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readRunList(reportPath: string): Promise<RunList> {
  const path = runListPath(reportPath);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    const report = await Deno.stat(reportPath).then(() => true, () => false);
    throw new RunListError(
      report
        ? `${path} is missing: regenerate it with \`${regenerate(reportPath)}\``
        : `${reportPath}: no such report`,
    );
  }
  const checked = parseChecked(text, schema);
  if ("problem" in checked) throw new RunListError(`${path}: ${checked.problem}`);
  return checked.value as RunList;
}

/**
 * The path of the record of run `id` in a run list read from `reportPath`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordPath } from "./run_list.ts";
 * assert.equal(recordPath("reports/h100/quick.md", { runsDir: "runs" }, "ab12"), "reports/h100/runs/ab12.json");
 * ```
 */
export function recordPath(
  reportPath: string,
  list: Pick<RunList, "runsDir">,
  id: string,
): string {
  return join(dirname(reportPath), list.runsDir, `${id}.json`);
}
