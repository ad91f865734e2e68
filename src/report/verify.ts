/**
 * `deno task verify reports/X.md`: re-runs the runs a report was made from and says whether they
 * reproduce — bit-identical loss curves on the same adapter and Deno version, and within a
 * stated tolerance of the final loss elsewhere.
 *
 * @module
 */

import { dirname, join } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import { parseRecord } from "./records.ts";
import { environment } from "../runner/environment.ts";
import type { RunRecord } from "../runner/record.ts";
import { planRuns, runSuite } from "../runner/run.ts";

/** Relative tolerance of the final loss when the adapter or runtime differs. */
export const CROSS_ADAPTER_TOLERANCE = 0.02;

/** The outcome of re-running one recorded run. */
export interface Verdict {
  readonly id: string;
  readonly label: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Record ids a report links to (`runs/<sha256>.json`), in order, without repeats. */
export function reportRunIds(markdown: string): string[] {
  return [...new Set([...markdown.matchAll(/runs\/([0-9a-f]{64})\.json/g)].map((m) => m[1]))];
}

const curve = (r: RunRecord) =>
  JSON.stringify([r.result.train.map((p) => p.loss), r.result.eval.map((p) => p.loss)]);

const finalLoss = (r: RunRecord) => (r.result.eval.at(-1) ?? r.result.train.at(-1))?.loss ?? NaN;

/**
 * Re-runs every run of a report into a temporary folder and compares it with its record.
 *
 * @example
 * ```ts ignore
 * import { getGpu } from "../gpu/device.ts";
 * import { verifyReport } from "./verify.ts";
 * const verdicts = await verifyReport(await getGpu(), "reports/quick.md");
 * console.log(verdicts.every((v) => v.ok));
 * ```
 */
export async function verifyReport(
  gpu: Gpu,
  reportPath: string,
  write?: (line: string, transient: boolean) => void,
): Promise<Verdict[]> {
  const markdown = await Deno.readTextFile(reportPath);
  const ids = reportRunIds(markdown);
  if (ids.length === 0) throw new RangeError(`${reportPath}: the report links no run records`);
  const runsDir = join(dirname(reportPath), "runs");
  const here = await environment(gpu);
  const tmp = await Deno.makeTempDir({ prefix: "lpbench-verify-" });
  const verdicts: Verdict[] = [];
  try {
    for (const id of ids) {
      const file = join(runsDir, `${id}.json`);
      const old = parseRecord(await Deno.readTextFile(file), file);
      const label = `${old.spec.suite} ${old.spec.policyName} seed ${old.spec.seed}`;
      const { records } = await runSuite(gpu, await planRuns([old.spec], tmp), {
        ...(write ? { write } : {}),
      });
      const now = records[0];
      const same = old.env.adapter.description === here.adapter.description &&
        old.env.deno === here.deno;
      let ok: boolean;
      let detail: string;
      if (same) {
        ok = curve(now) === curve(old);
        detail = ok
          ? "bit-identical loss curves (same adapter and Deno)"
          : `loss curves differ on the same adapter: final ${finalLoss(old)} → ${finalLoss(now)}`;
      } else {
        const rel = Math.abs(finalLoss(now) - finalLoss(old)) / Math.abs(finalLoss(old));
        ok = rel <= CROSS_ADAPTER_TOLERANCE;
        detail = `final loss ${finalLoss(old).toFixed(4)} → ${finalLoss(now).toFixed(4)} ` +
          `(${(100 * rel).toFixed(2)}%, tolerance ${100 * CROSS_ADAPTER_TOLERANCE}% across ` +
          `adapters: recorded on "${old.env.adapter.description}", now "${here.adapter.description}")`;
      }
      verdicts.push({ id, label, ok, detail });
      const verdict = `${ok ? "reproduced" : "DIFFERS"}: ${label}: ${detail}`;
      if (write) write(verdict, false);
      else console.error(verdict);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  return verdicts;
}
