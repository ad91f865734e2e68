/**
 * Writing a suite's report from the records on disk: `<outDir>/<suite>.md`, its charts in
 * `<outDir>/<suite>/` and its run list `<outDir>/<suite>.runs.json` (see `run_list.ts`), each
 * written atomically (`src/io/atomic.ts`); charts and run list first, so the report never links
 * to a missing chart and `deno task verify` finds the list of every report. Unreadable record
 * files are skipped and returned.
 *
 * @module
 */

import { join, normalize, relative } from "node:path";
import { NAME_PATTERN } from "../recipe/schema.ts";
import { writeAtomic } from "../io/atomic.ts";
import { readRecords, type RecordError, type RunRecord } from "../runner/record.ts";
import type { RunSpec } from "../recipe/run_spec.ts";
import type { Claim } from "../recipe/claims.ts";
import type { SuiteSummary } from "./aggregate.ts";
import { renderReport } from "./markdown.ts";
import { readRunList, type ReportPlan, RunListError, writeRunList } from "./run_list.ts";

/** Options of {@link writeReport}. */
export interface WriteReportOptions {
  /** Folder of the run records (default `reports/runs`). */
  readonly runsDir?: string;
  /** Folder of the reports (default `reports`). */
  readonly outDir?: string;
  /** The recipe's own description, shown under the title. */
  readonly description?: string;
  /**
   * Every run of the report's recipe, with its record id (`src/runner/run.ts` `planRuns`): the
   * report shows exactly these runs, under these names, and lists those without a record as
   * missing. Without it, the plan of the report's run list is used, and without that, every
   * record of the suite (the newest per policy and seed of the newest recipe version).
   */
  readonly plan?: readonly { readonly id: string; readonly spec: RunSpec }[];
  /**
   * The claims the report tests (the recipe's `claims`), kept in the run list's plan with `plan`;
   * without `plan`, those of the listed plan.
   */
  readonly claims?: readonly Claim[];
}

/** What {@link writeReport} wrote. */
export interface WrittenReport {
  /** Path of the markdown report. */
  readonly path: string;
  /** Paths of its chart files. */
  readonly charts: readonly string[];
  /** Path of its run list, `<outDir>/<suite>.runs.json`. */
  readonly runList: string;
  /** Record files that were skipped, with the reason. */
  readonly skipped: readonly RecordError[];
  /** The summary the report shows. */
  readonly summary: SuiteSummary;
  /** The planned runs without a record (the report lists them), in plan order. */
  readonly missing: readonly { readonly policy: string; readonly seed: number }[];
}

/**
 * Reads the records of `runsDir`, renders the report of `suite` and writes it with its charts and
 * its run list.
 *
 * @throws {Error} when the suite name is not a recipe name (so not a plain file name) or no record
 * belongs to the suite
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeReport } from "./write.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/runs`);
 * await assert.rejects(writeReport("demo", { runsDir: `${dir}/runs`, outDir: dir }), /no run records for suite "demo"/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeReport(
  suite: string,
  options: WriteReportOptions = {},
): Promise<WrittenReport> {
  if (!NAME_PATTERN.test(suite)) {
    throw new Error(
      `suite name ${JSON.stringify(suite)} is not a recipe name (letters, digits, _ and -)`,
    );
  }
  const runsDir = options.runsDir ?? "reports/runs";
  const outDir = options.outDir ?? "reports";
  const path = join(outDir, `${suite}.md`);
  const { records, errors } = await readRecords(runsDir);
  const plan = options.plan ? planOf(options.plan, options.claims) : await listedPlan(path);
  const { shown, missing } = plan
    ? plannedRecords(suite, plan, records)
    : { shown: records.filter((r) => r.spec.suite === suite), missing: [] };
  if (shown.length === 0) {
    const n = errors.length;
    const unread = n > 0 ? ` (${n} unreadable record file${n === 1 ? "" : "s"} skipped)` : "";
    throw new Error(`no run records for suite "${suite}" in ${runsDir}${unread}`);
  }
  const relativeRuns = relative(outDir, runsDir);
  const report = await renderReport(suite, shown, {
    chartDir: suite,
    runsDir: relativeRuns,
    verifyCommand: `deno task verify ${path}`,
    benchOut: outDir,
    description: options.description,
    missing,
    claims: plan?.claims ?? options.claims ?? [],
  });
  const charts = report.charts.map((c) => join(outDir, suite, c.file));
  for (const [i, c] of report.charts.entries()) await writeAtomic(charts[i], c.svg);
  for (const d of report.data) await writeAtomic(join(outDir, suite, d.file), d.text);
  const runList = await writeRunList(path, {
    suite,
    runsDir: relativeRuns,
    runs: report.summary.records.map((r) => r.id),
    ...(plan ? { plan } : {}),
  });
  await writeAtomic(path, report.markdown);
  return { path, charts, runList, skipped: errors, summary: report.summary, missing };
}

/** The run-list form of a plan of runs (names and ids only). */
function planOf(
  runs: readonly { readonly id: string; readonly spec: RunSpec }[],
  claims: readonly Claim[] = [],
): ReportPlan {
  if (runs.length === 0) throw new RangeError("writeReport: the plan has no runs");
  const first = runs[0].spec;
  return {
    recipes: [...new Set(runs.map((r) => normalize(r.spec.recipePath)))],
    recipeHash: first.recipeHash,
    baseline: first.baseline,
    runs: runs.map((r) => ({ id: r.id, policy: r.spec.policyName, seed: r.spec.seed })),
    ...(claims.length > 0 ? { claims } : {}),
  };
}

/** The plan of the run list of the report at `path`, if it has one. */
async function listedPlan(path: string): Promise<ReportPlan | undefined> {
  try {
    return (await readRunList(path)).plan;
  } catch (e) {
    if (e instanceof RunListError) return undefined;
    throw e;
  }
}

/**
 * The records of a plan's runs, each under the plan's names (a record's own names are those of
 * the recipe that first trained it), and the planned runs without a record.
 */
function plannedRecords(
  suite: string,
  plan: ReportPlan,
  records: readonly RunRecord[],
): { shown: RunRecord[]; missing: { policy: string; seed: number }[] } {
  const byId = new Map(records.map((r) => [r.id, r]));
  const shown: RunRecord[] = [];
  const missing: { policy: string; seed: number }[] = [];
  for (const run of plan.runs) {
    const record = byId.get(run.id);
    if (!record) {
      missing.push({ policy: run.policy, seed: run.seed });
      continue;
    }
    shown.push({
      ...record,
      spec: {
        ...record.spec,
        suite,
        recipePath: plan.recipes[0],
        recipeHash: plan.recipeHash,
        baseline: plan.baseline,
        policyName: run.policy,
        seed: run.seed,
      },
    });
  }
  return { shown, missing };
}
