/**
 * Writing a suite's report from the records on disk: `<outDir>/<suite>.md`, its charts in
 * `<outDir>/<suite>/` and its run list `<outDir>/<suite>.runs.json` (see `run_list.ts`), each
 * written atomically (`src/io/atomic.ts`); charts and run list first, so the report never links
 * to a missing chart and `deno task verify` finds the list of every report. Unreadable record
 * files are skipped and returned.
 *
 * @module
 */

import { join, relative } from "node:path";
import { NAME_PATTERN } from "../recipe/schema.ts";
import { writeAtomic } from "../io/atomic.ts";
import { readRecords, type RecordError } from "../runner/record.ts";
import type { SuiteSummary } from "./aggregate.ts";
import { renderReport } from "./markdown.ts";
import { writeRunList } from "./run_list.ts";

/** Options of {@link writeReport}. */
export interface WriteReportOptions {
  /** Folder of the run records (default `reports/runs`). */
  readonly runsDir?: string;
  /** Folder of the reports (default `reports`). */
  readonly outDir?: string;
  /** The recipe's own description, shown under the title. */
  readonly description?: string;
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
  const { records, errors } = await readRecords(runsDir);
  if (!records.some((r) => r.spec.suite === suite)) {
    const n = errors.length;
    const unread = n > 0 ? ` (${n} unreadable record file${n === 1 ? "" : "s"} skipped)` : "";
    throw new Error(`no run records for suite "${suite}" in ${runsDir}${unread}`);
  }
  const path = join(outDir, `${suite}.md`);
  const relativeRuns = relative(outDir, runsDir);
  const report = await renderReport(suite, records, {
    chartDir: suite,
    runsDir: relativeRuns,
    verifyCommand: `deno task verify ${path}`,
    benchOut: outDir,
    description: options.description,
  });
  const charts = report.charts.map((c) => join(outDir, suite, c.file));
  for (const [i, c] of report.charts.entries()) await writeAtomic(charts[i], c.svg);
  const runList = await writeRunList(path, {
    suite,
    runsDir: relativeRuns,
    runs: report.summary.records.map((r) => r.id),
  });
  await writeAtomic(path, report.markdown);
  return { path, charts, runList, skipped: errors, summary: report.summary };
}
