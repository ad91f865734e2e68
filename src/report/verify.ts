/**
 * `deno task verify reports/X.md`: re-runs the runs a report was made from and says whether they
 * reproduce — bit-identical loss curves on the same adapter, Deno version and WebGPU
 * implementation (name, version, toggles), and for a software adapter the same CPU (see
 * {@link sameNumerics}), and within a stated tolerance of the final loss
 * elsewhere. Which runs: the report's run list (`reports/X.runs.json`, see `run_list.ts`), never
 * the markdown; every listed record is read and checked before the first run trains. Progress
 * counts over all the report's runs (`[i/n]`); Ctrl-C removes the temporary folder of the re-runs
 * and exits 130 with a one-line message.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { environment } from "../runner/environment.ts";
import { implementationOf } from "./environment.ts";
import { type Environment, readRecord, RecordError, type RunRecord } from "../runner/record.ts";
import { planRuns, runSuite, terminalWrite } from "../runner/run.ts";
import { readRunList, recordPath, runListPath } from "./run_list.ts";

/** Relative tolerance of the final loss when the adapter or runtime differs. */
export const CROSS_ADAPTER_TOLERANCE = 0.02;

/**
 * Whether runs in the environments `a` and `b` must give bit-identical loss curves: the same
 * adapter, Deno version and WebGPU implementation, the same driver version where both records
 * name one (the driver compiles the shaders), and, where the adapter is a software rasteriser
 * ({@link isSoftwareAdapter}), the same CPU model and vector instruction sets, since its shader
 * compiler targets the host CPU. An environment without CPU details never matches a software one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameNumerics } from "./verify.ts";
 * import type { Environment } from "../runner/record.ts";
 * const env = (cpu: string) => ({
 *   deno: "2.9.6",
 *   implementation: { name: "deno", version: "2.9.6", toggles: [] },
 *   adapter: { description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: true },
 *   cpu: { model: cpu, cores: 2, simd: ["avx2"] },
 * }) as unknown as Environment;
 * assert.equal(sameNumerics(env("AMD EPYC"), env("AMD EPYC")), true);
 * assert.equal(sameNumerics(env("AMD EPYC"), env("Intel(R) Xeon(R) Processor")), false);
 * ```
 */
export function sameNumerics(a: Environment, b: Environment): boolean {
  if (
    a.adapter.description !== b.adapter.description || a.deno !== b.deno ||
    implementationOf(a) !== implementationOf(b) ||
    (a.driver !== undefined && b.driver !== undefined && a.driver !== b.driver)
  ) return false;
  if (!isSoftwareAdapter(a)) return true;
  if (!a.cpu || !b.cpu || a.cpu.model !== b.cpu.model) return false;
  return (a.cpu.simd ?? []).join(" ") === (b.cpu.simd ?? []).join(" ");
}

/**
 * Whether `env`'s adapter runs shaders on the CPU (Mesa's llvmpipe, lavapipe or softpipe, or
 * SwiftShader), by the adapter's fallback flag or its description.
 */
export function isSoftwareAdapter(env: Environment): boolean {
  return env.adapter.isFallbackAdapter ||
    /llvmpipe|lavapipe|softpipe|swiftshader/i.test(env.adapter.description);
}

/** `"<adapter>" through <implementation>`, with the CPU where the adapter runs on it. */
function whereRun(env: Environment): string {
  const cpu = env.cpu
    ? `${env.cpu.model}${env.cpu.simd ? ` [${env.cpu.simd.join(" ")}]` : ""}`
    : "an unrecorded CPU";
  return `"${env.adapter.description}" through ${implementationOf(env)}` +
    (isSoftwareAdapter(env) ? ` on ${cpu}` : "");
}

/** The outcome of re-running one recorded run. */
export interface Verdict {
  /** The record id. */
  readonly id: string;
  /** `<suite> <policy> seed <seed>`. */
  readonly label: string;
  /** Whether the run reproduced. */
  readonly ok: boolean;
  /** What was compared, and how it came out. */
  readonly detail: string;
}

/**
 * The records of the runs a report aggregates, in the order of its runs table, read through the
 * report's run list (`<report>.runs.json`) and checked.
 *
 * @throws {RunListError} when the report or its run list is missing or the list is invalid
 * @throws {RecordError} when a listed record is missing, invalid or the record of another run
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reportRecords } from "./verify.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/x.md`, "# x\n");
 * await Deno.writeTextFile(
 *   `${dir}/x.runs.json`,
 *   JSON.stringify({ format: "lpbench.report-runs/v1", suite: "x", report: "x.md", runsDir: "runs", runs: ["ab"] }),
 * );
 * await assert.rejects(reportRecords(`${dir}/x.md`), /runs\/ab\.json: missing \(listed in .*x\.runs\.json\)/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function reportRecords(reportPath: string): Promise<RunRecord[]> {
  const list = await readRunList(reportPath);
  const records: RunRecord[] = [];
  for (const id of list.runs) {
    const file = recordPath(reportPath, list, id);
    try {
      records.push(await readRecord(file, id));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new RecordError(file, `missing (listed in ${runListPath(reportPath)})`);
    }
  }
  return records;
}

const curve = (r: RunRecord) =>
  JSON.stringify([r.result.train.map((p) => p.loss), r.result.eval.map((p) => p.loss)]);

const finalLoss = (r: RunRecord) => (r.result.eval.at(-1) ?? r.result.train.at(-1))?.loss ?? NaN;

/** Where progress and verdicts go: one line, and whether it is transient (a progress update). */
export type VerifyWrite = (line: string, transient: boolean) => void;

/**
 * `write` with the runner's `[1/1]` (it re-runs one run at a time) renumbered `[i/n]`, the run's
 * place among all `total` runs of the report (`index` counts from 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renumbered } from "./verify.ts";
 * const lines: string[] = [];
 * renumbered((line) => lines.push(line), 2, 5)("[1/1] quick fp32 seed 0 step 10/120", true);
 * assert.deepEqual(lines, ["[3/5] quick fp32 seed 0 step 10/120"]);
 * ```
 */
export function renumbered(write: VerifyWrite, index: number, total: number): VerifyWrite {
  return (line, transient) =>
    write(line.replace(/^\[1\/1\]/, `[${index + 1}/${total}]`), transient);
}

/**
 * What verify does when interrupted, before it exits: removes its temporary folder `tmp` (the
 * re-runs' records) if it is still there, and returns the one-line message to print.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cleanUpInterrupted } from "./verify.ts";
 * const tmp = await Deno.makeTempDir({ prefix: "lpbench-verify-" });
 * await Deno.writeTextFile(`${tmp}/ab.json`, "{}");
 * assert.equal(
 *   cleanUpInterrupted(tmp, 1, 3),
 *   "interrupted: verified 1 of 3 runs; nothing was written",
 * );
 * assert.throws(() => Deno.statSync(tmp), Deno.errors.NotFound);
 * ```
 */
export function cleanUpInterrupted(tmp: string, verified: number, total: number): string {
  try {
    Deno.removeSync(tmp, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return `interrupted: verified ${verified} of ${total} runs; nothing was written`;
}

/**
 * Calls `handler` on SIGINT (Ctrl-C) instead of the default (exit without cleaning up) until the
 * returned function is called, which removes the listener again.
 *
 * @example
 * ```ts ignore
 * import { onInterrupt } from "./verify.ts";
 * const stop = onInterrupt(() => Deno.exit(130));
 * try {
 *   // long work
 * } finally {
 *   stop();
 * }
 * ```
 */
export function onInterrupt(handler: () => void): () => void {
  const listener = () => handler();
  Deno.addSignalListener("SIGINT", listener);
  return () => Deno.removeSignalListener("SIGINT", listener);
}

/**
 * Re-runs the runs of `records` into a temporary folder and compares each with its record:
 * bit-identical loss curves where {@link sameNumerics} holds, the final loss within {@link CROSS_ADAPTER_TOLERANCE} elsewhere. Progress (`[i/n]` over all of `records`)
 * and each verdict go to `write` (default: stderr, progress lines only on a terminal).
 *
 * On SIGINT (Ctrl-C) it removes the temporary folder, writes
 * `interrupted: verified i of n runs; nothing was written` and exits the process with code 130.
 *
 * @example
 * ```ts ignore
 * import { getGpu } from "../gpu/device.ts";
 * import { reportRecords, verifyRecords } from "./verify.ts";
 * const verdicts = await verifyRecords(await getGpu(), await reportRecords("reports/quick.md"));
 * console.log(verdicts.every((v) => v.ok));
 * ```
 */
export async function verifyRecords(
  gpu: Gpu,
  records: readonly RunRecord[],
  write: VerifyWrite = terminalWrite(),
): Promise<Verdict[]> {
  const here = await environment(gpu);
  const tmp = await Deno.makeTempDir({ prefix: "lpbench-verify-" });
  const verdicts: Verdict[] = [];
  const stopListening = onInterrupt(() => {
    write(cleanUpInterrupted(tmp, verdicts.length, records.length), false);
    Deno.exit(130);
  });
  try {
    for (const [i, old] of records.entries()) {
      const label = `${old.spec.suite} ${old.spec.policyName} seed ${old.spec.seed}`;
      const plan = await planRuns([old.spec], tmp, gpu.implementation.name);
      const rerun = await runSuite(gpu, plan, { write: renumbered(write, i, records.length) });
      const now = rerun.records[0];
      const same = sameNumerics(old.env, here);
      let ok: boolean;
      let detail: string;
      if (same) {
        ok = curve(now) === curve(old);
        detail = ok
          ? "bit-identical loss curves (same adapter, Deno and WebGPU implementation" +
            `${isSoftwareAdapter(here) ? ", and the software adapter's CPU" : ""})`
          : `loss curves differ on the same adapter: final ${finalLoss(old)} → ${finalLoss(now)}`;
      } else {
        const rel = Math.abs(finalLoss(now) - finalLoss(old)) / Math.abs(finalLoss(old));
        ok = rel <= CROSS_ADAPTER_TOLERANCE;
        detail = `final loss ${finalLoss(old).toFixed(4)} → ${finalLoss(now).toFixed(4)} ` +
          `(${(100 * rel).toFixed(2)}%, tolerance ${100 * CROSS_ADAPTER_TOLERANCE}% across ` +
          `adapters: recorded on ${whereRun(old.env)}, now ${whereRun(here)})`;
      }
      verdicts.push({ id: old.id, label, ok, detail });
      write(`${ok ? "reproduced" : "DIFFERS"}: ${label}: ${detail}`, false);
    }
  } finally {
    stopListening();
    await Deno.remove(tmp, { recursive: true });
  }
  return verdicts;
}

/**
 * Re-runs every run of the report at `reportPath` ({@link reportRecords}) and compares it with its
 * record ({@link verifyRecords}).
 *
 * @throws {RunListError} when the report's run list is missing or invalid
 * @throws {RecordError} when a listed record is missing or invalid
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
  write?: VerifyWrite,
): Promise<Verdict[]> {
  return verifyRecords(gpu, await reportRecords(reportPath), write);
}
