/**
 * The `lpbench` command behind the deno tasks: `bench`, `report`, `verify`, `health`, `kernels`,
 * `sweep`.
 *
 * Exit codes, for people and schedulers: 0 success; 1 a run failed in a way a retry may fix
 * (device lost, out of memory on the device, any other error while training); 2 invalid input
 * (usage, recipe, data, a run that cannot fit the adapter, no adapter: never retry); 130
 * interrupted (Ctrl-C, or SIGTERM/SIGUSR2 from a scheduler preempting the job: the run in progress
 * stops after its current step, writing a checkpoint where `--checkpoint-every` is on; a retry
 * resumes it). Errors print one line, no stack trace unless `--debug` is given.
 *
 * @module
 */

import { basename, dirname, normalize } from "node:path";
import { parseArgs } from "node:util";
import { runKernelBenchmark } from "./bench/kernels.ts";
import { runGemmBenchmark } from "./bench/gemm.ts";
import { getGpu } from "./src/gpu/device.ts";
import { GpuUnavailableError } from "./src/gpu/unavailable.ts";
import {
  defaultGpuImplementation,
  type GpuImplementationChoice,
  parseGpuImplementation,
  useGpuImplementation,
} from "./src/gpu/implementation.ts";
import { writeAtomic } from "./src/io/atomic.ts";
import { exists } from "./src/io/exists.ts";
import { parseAdapter, useAdapter } from "./src/gpu/adapter_choice.ts";
import { checkMemory, GpuMemoryError } from "./src/model/memory.ts";
import { gemmUnits } from "./src/model/linear.ts";
import type { RunSpec } from "./src/recipe/run_spec.ts";
import type { Claim } from "./src/recipe/claims.ts";
import { UsageError } from "./src/usage.ts";
import { HELP, suiteHelpHeader, type Task, TASK_HELP } from "./src/cli_help.ts";

// Recipes, runner and reports use npm packages (yaml, zod, vega); they are imported when a command
// needs them, so that `kernels` runs with `deno run --no-config` on hosts without node_modules.
const recipes = async () => ({
  ...await import("./src/recipe/expand.ts"),
  ...await import("./src/recipe/load.ts"),
  ...await import("./src/recipe/plan.ts"),
  ...await import("./src/recipe/problems.ts"),
});
const reports = async () => ({
  ...await import("./src/runner/record.ts"),
  ...await import("./src/report/write.ts"),
});

const DEFAULT_RECIPE = "recipes/quick.yaml";

const list = (
  v: unknown,
) => (typeof v === "string" ? v.split(",").filter((x) => x !== "") : undefined);

/**
 * Makes `--gpu`'s value the process's WebGPU implementation (undefined: leaves the default);
 * prints a one-line error and throws {@link UsageError} for a bad value.
 */
function useGpuFlag(value: unknown): GpuImplementationChoice | undefined {
  if (value === undefined) return undefined;
  try {
    const choice = parseGpuImplementation(String(value));
    useGpuImplementation(choice);
    return choice;
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    console.error(`error: --gpu: ${e.message}`);
    throw new UsageError();
  }
}

/**
 * Makes `--adapter`'s value the adapter `getGpu()` asks for; prints a one-line error and throws
 * {@link UsageError} for an empty value.
 */
function useAdapterFlag(value: unknown): void {
  if (value === undefined) return;
  try {
    useAdapter(parseAdapter(String(value)));
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    console.error(`error: --adapter: ${e.message}`);
    throw new UsageError();
  }
}

/** A positive integer option, or undefined; prints a one-line error and throws for a bad value. */
function positiveInt(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`error: --${name} must be a positive integer, got ${value}`);
    throw new UsageError();
  }
  return n;
}

/** The signals that interrupt `bench`: Ctrl-C, and a scheduler's preemption notices. */
const INTERRUPTS = ["SIGINT", "SIGTERM", "SIGUSR2"] as const;

/**
 * An abort signal that the first of {@link INTERRUPTS} aborts (with the signal's name as reason);
 * a second one exits at once with 130.
 */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  for (const name of INTERRUPTS) {
    Deno.addSignalListener(name, () => {
      if (controller.signal.aborted) {
        console.error(`\n${name} again: exiting now; the run in progress left no record`);
        Deno.exit(130);
      }
      console.error(`\n${name}: stopping after the current step`);
      controller.abort(name);
    });
  }
  return controller.signal;
}

/**
 * `bench [recipe…] [--policy a,b] [--seeds 0,1] [--steps N] [--out DIR] [--gpu I] [--adapter A]
 * [--shard K/N] [--checkpoint-every N] [--dry-run]`.
 */
async function bench(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      policy: { type: "string" },
      seeds: { type: "string" },
      steps: { type: "string" },
      out: { type: "string", default: "reports" },
      gpu: { type: "string" },
      adapter: { type: "string" },
      shard: { type: "string" },
      "checkpoint-every": { type: "string" },
      "dry-run": { type: "boolean" },
    },
  });
  const chosen = useGpuFlag(values.gpu);
  useAdapterFlag(values.adapter);
  const checkpointEvery = positiveInt("checkpoint-every", values["checkpoint-every"]);
  const { parseShard, shardFromEnv, shardRuns, ShardError } = await import(
    "./src/runner/shard.ts"
  );
  let shard;
  try {
    shard = values.shard !== undefined
      ? parseShard(values.shard)
      : shardFromEnv((name) => Deno.env.get(name));
  } catch (e) {
    if (!(e instanceof ShardError)) throw e;
    console.error(`error: ${e.message}`);
    return 2;
  }
  const seeds = list(values.seeds)?.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) {
      console.error(`error: --seeds: ${JSON.stringify(s)} is not a non-negative integer`);
      throw new UsageError();
    }
    return n;
  });
  const steps = positiveInt("steps", values.steps);
  const { describePlan, expandRuns, loadRecipe, RecipeError } = await recipes();
  const { writeReport } = await reports();
  const { planRuns, runSuite } = await import("./src/runner/run.ts");
  const paths = positionals.length > 0 ? positionals : [DEFAULT_RECIPE];
  const runs: RunSpec[] = [];
  // Every run of each recipe at these settings, whatever the filters: what its report shows.
  const reportRuns: RunSpec[] = [];
  // The claims each suite's report tests (a --steps suite tests none: they are the recipe's).
  const claims = new Map<string, readonly Claim[]>();
  const problems: string[] = [];
  for (const path of paths) {
    try {
      const recipe = await loadRecipe(path, { checkData: true });
      runs.push(...expandRuns(recipe, {
        ...(list(values.policy) ? { policies: list(values.policy) } : {}),
        ...(seeds ? { seeds } : {}),
        ...(steps ? { steps } : {}),
      }));
      reportRuns.push(...expandRuns(recipe, steps ? { steps } : {}));
      if (!steps && recipe.claims.length > 0) claims.set(recipe.name, recipe.claims);
    } catch (e) {
      if (e instanceof RecipeError || e instanceof RangeError) problems.push(e.message);
      else throw e;
    }
  }
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    return 2;
  }
  if (shard) {
    const all = runs.length;
    runs.splice(0, runs.length, ...shardRuns(runs, shard));
    console.error(
      `shard ${shard.index}/${shard.count} from ${shard.source}: ${runs.length} of ${all} runs`,
    );
  }
  // The implementation is part of a run's id; an adapter is needed only for runs to train (and
  // to resolve --gpu auto).
  const choice = chosen ?? defaultGpuImplementation();
  const out = String(values.out);
  const runsDir = `${out}/runs`;
  if (values["dry-run"]) {
    console.log(describePlan(runs));
    // Where there is an adapter, runs to train are checked against it as the real run would.
    const adapter = await getGpu().catch((e) => {
      if (e instanceof GpuUnavailableError) return undefined;
      throw e;
    });
    const name = choice === "auto" ? adapter?.implementation.name ?? "deno" : choice;
    const { describeStatus } = await import("./src/runner/dry_run.ts");
    const status = describeStatus(await planRuns(runs, runsDir, name), adapter);
    console.log(`\n${status.lines.join("\n")}`);
    if (status.problems.length > 0) {
      console.error([...new Set(status.problems)].join("\n"));
      return 2;
    }
    return 0;
  }
  const implementation = choice === "auto" ? (await getGpu()).implementation.name : choice;
  const plan = await planRuns(runs, runsDir, implementation);
  const toTrain = plan.filter((p) => !p.existing);
  const gpu = toTrain.length > 0 ? await getGpu() : undefined;
  const { memoryProblem } = await import("./src/runner/dry_run.ts");
  // Only the runs without a record will train: they must fit the adapter.
  for (const { spec: r } of gpu ? toTrain : []) {
    try {
      const units = gemmUnits(gpu!, r.train.matrixUnits === false ? { matrixUnits: false } : {});
      checkMemory(
        gpu!,
        r.model,
        r.policy,
        r.train.batch,
        r.train.steps,
        undefined,
        units,
        r.health,
      );
    } catch (e) {
      if (!(e instanceof GpuMemoryError)) throw e;
      problems.push(memoryProblem(r, e.message));
    }
  }
  if (problems.length > 0) {
    console.error([...new Set(problems)].join("\n"));
    return 2;
  }
  const signal = interruptSignal();
  const { TrainingInterrupted } = await import("./src/train/loop.ts");
  let busy = 0;
  try {
    if (gpu) {
      ({ busy } = await runSuite(gpu, plan, {
        outputDirs: [out],
        signal,
        ...(checkpointEvery ? { checkpointEvery, checkpointDir: `${out}/checkpoints` } : {}),
      }));
    } else console.error(`every run has a record in ${runsDir}: nothing to train`);
  } catch (e) {
    if (!(e instanceof TrainingInterrupted)) throw e;
    const left = e.checkpoint
      ? `left a checkpoint at step ${e.step} (${e.checkpoint}): a retry resumes it`
      : "left none";
    console.error(
      `interrupted (${signal.reason}): finished runs keep their records; the run in progress ` +
        left,
    );
    return 130;
  }
  const reportPlan = await planRuns(reportRuns, runsDir, implementation);
  for (const suite of new Set(reportRuns.map((r) => r.suite))) {
    const suitePlan = reportPlan.filter((p) => p.spec.suite === suite);
    // A shard may finish before any run of a suite has a record: `deno task report` writes it later.
    if (!suitePlan.some((p) => p.existing)) {
      console.error(`report: ${suite} has no record yet; \`deno task report\` writes it later`);
      continue;
    }
    const { path, missing } = await writeReport(suite, {
      runsDir,
      outDir: out,
      plan: suitePlan,
      ...(claims.has(suite) ? { claims: claims.get(suite) } : {}),
    });
    console.error(`report: ${path}${missingText(missing)}`);
  }
  if (busy > 0) {
    console.error(
      `${busy} run${busy === 1 ? "" : "s"} left to the other processes training them; ` +
        "`deno task report` merges their records when they finish",
    );
  }
  return 0;
}

/** `; N runs missing: policy seed s, …` for a report's missing runs, empty when none. */
function missingText(missing: readonly { policy: string; seed: number }[]): string {
  if (missing.length === 0) return "";
  const runs = missing.map((m) => `${m.policy} seed ${m.seed}`).join(", ");
  return ` (${missing.length} run${missing.length === 1 ? "" : "s"} missing: ${runs})`;
}

/**
 * `report [suite…] [--out DIR]`: (re)writes the reports of the given suites, default every suite
 * with records. A suite that is not a recipe name (a `.md` path, say) or has no record in
 * `DIR/runs` is invalid input: one line each, exit 2, nothing written.
 */
async function report(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: "string", default: "reports" } },
  });
  const { readRecords, writeReport } = await reports();
  const { NAME_PATTERN } = await import("./src/recipe/schema.ts");
  const out = String(values.out);
  const runsDir = `${out}/runs`;
  let recorded: string[] = [];
  try {
    const { records } = await readRecords(runsDir);
    recorded = [...new Set(records.map((r) => r.spec.suite))].sort();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const suites = positionals.length > 0 ? positionals : recorded;
  if (suites.length === 0) {
    console.error(`error: no run records under ${runsDir}; run \`deno task bench\` first`);
    return 2;
  }
  const problems: string[] = [];
  for (const suite of suites) {
    if (suite.endsWith(".md")) {
      const name = basename(suite, ".md");
      const dir = dirname(suite) === "." ? out : dirname(suite);
      const hint = `deno task report ${name}${normalize(dir) === "reports" ? "" : ` --out ${dir}`}`;
      problems.push(
        `error: report: ${JSON.stringify(suite)} is a report file, not a suite name; ` +
          `give the suite: \`${hint}\``,
      );
    } else if (!NAME_PATTERN.test(suite)) {
      problems.push(
        `error: report: ${JSON.stringify(suite)} is not a suite name (a recipe's ` +
          "name: letters, digits, _ and -)",
      );
    } else if (!recorded.includes(suite) && !await exists(`${out}/${suite}.runs.json`)) {
      const known = recorded.length > 0 ? ` (suites with records: ${recorded.join(", ")})` : "";
      problems.push(
        `error: report: no run records for suite ${JSON.stringify(suite)} in ` +
          `${runsDir}${known}`,
      );
    }
  }
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    return 2;
  }
  for (const suite of suites) {
    const { path, skipped, missing } = await writeReport(suite, { runsDir, outDir: out });
    for (const s of skipped) console.error(`skipped: ${s.message}`);
    console.error(`report: ${path}${missingText(missing)}`);
  }
  return 0;
}

/**
 * `verify <report.md> [--gpu I]`: re-runs the runs of a report's run list, on the WebGPU
 * implementation of its records where `--gpu` does not say (Deno's where they disagree); exit 1 if
 * any does not reproduce, 2 if the list or a listed record is missing or invalid.
 */
async function verify(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { gpu: { type: "string" } },
  });
  const chosen = useGpuFlag(values.gpu);
  if (positionals.length !== 1) {
    console.error("error: verify takes one report, e.g. `deno task verify reports/quick.md`");
    return 2;
  }
  const path = positionals[0];
  const problem = await reportProblem(path);
  if (problem) {
    console.error(`error: verify: ${problem}`);
    return 2;
  }
  const { reportRecords, verifyRecords } = await import("./src/report/verify.ts");
  const { RecordError } = await import("./src/runner/record.ts");
  const { RunListError } = await import("./src/report/run_list.ts");
  let records;
  try {
    records = await reportRecords(path);
  } catch (e) {
    if (!(e instanceof RunListError || e instanceof RecordError)) throw e;
    console.error(`error: ${e.message}`);
    return 2;
  }
  const names = new Set(records.map((r) => r.env.implementation.name));
  const implementation = chosen ?? (names.size === 1 ? [...names][0] : "deno");
  const verdicts = await verifyRecords(await getGpu({ implementation }), records);
  const bad = verdicts.filter((v) => !v.ok).length;
  console.error(`${verdicts.length - bad} of ${verdicts.length} runs reproduced`);
  return bad === 0 ? 0 : 1;
}

/**
 * `health <record.json | report.md> [--top N]`: prints the worst offenders of the diagnostics of a
 * record or of a report's runs; exit 2 for a missing or invalid file or a bad `--top`.
 */
async function health(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { top: { type: "string", default: "10" } },
  });
  const top = Number(values.top);
  if (!Number.isInteger(top) || top < 1) {
    console.error(`error: health: --top must be a positive integer, got ${values.top}`);
    return 2;
  }
  if (positionals.length !== 1) {
    console.error(
      "error: health takes one record or report, e.g. `deno task health reports/quick.md`",
    );
    return 2;
  }
  const path = positionals[0];
  const { readRecord, RecordError } = await import("./src/runner/record.ts");
  const { reportRecords } = await import("./src/report/verify.ts");
  const { RunListError } = await import("./src/report/run_list.ts");
  const { worstOffenders } = await import("./src/report/health_offenders.ts");
  let records;
  try {
    if (path.endsWith(".json")) {
      records = [await readRecord(path)];
    } else if (!path.endsWith(".md")) {
      console.error(
        `error: health: ${path} is neither a run record (<records>/<id>.json) nor a report ` +
          "(reports/<suite>.md)",
      );
      return 2;
    } else {
      const problem = await reportProblem(path);
      if (problem) {
        console.error(`error: health: ${problem}`);
        return 2;
      }
      records = await reportRecords(path);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      console.error(`error: health: ${path}: no such record`);
      return 2;
    }
    if (!(e instanceof RunListError || e instanceof RecordError)) throw e;
    console.error(`error: ${e.message}`);
    return 2;
  }
  console.log(worstOffenders(records, top));
  return 0;
}

/** `bench`'s options that `sweep` passes on to every shard. */
const BENCH_PASSED = ["policy", "seeds", "steps", "gpu"] as const;

/**
 * `sweep slurm|k8s|local <recipe> [options]`: writes a Slurm job-array script or a Kubernetes
 * Indexed Job manifest for the recipe's sweep (`src/runner/launch.ts`), or runs it here as `--gpus
 * N` shard processes (`src/runner/supervise.ts`) and then writes its report. Exit codes: those of
 * `bench`; for `local`, the worst of its shards' (2, then 1, then 130).
 */
async function sweep(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      shards: { type: "string", default: "4" },
      gpus: { type: "string", default: "1" },
      adapters: { type: "string" },
      out: { type: "string", default: "reports" },
      "checkpoint-every": { type: "string", default: "100" },
      bundle: { type: "string" },
      image: { type: "string" },
      file: { type: "string" },
      policy: { type: "string" },
      seeds: { type: "string" },
      steps: { type: "string" },
      gpu: { type: "string" },
    },
  });
  const [engine, recipe, ...extra] = positionals;
  if (!["slurm", "k8s", "local"].includes(engine) || recipe === undefined || extra.length > 0) {
    console.error(
      "error: sweep takes an engine and one recipe: `deno task sweep slurm|k8s|local <recipe>`",
    );
    return 2;
  }
  const checkpointEvery = positiveInt("checkpoint-every", values["checkpoint-every"])!;
  const steps = positiveInt("steps", values.steps);
  if (values.gpu !== undefined) useGpuFlag(values.gpu);
  const { expandRuns, loadRecipe, RecipeError } = await recipes();
  let suites: string[];
  try {
    const loaded = await loadRecipe(recipe, { checkData: true });
    suites = [...new Set(expandRuns(loaded, steps ? { steps } : {}).map((r) => r.suite))];
  } catch (e) {
    if (e instanceof RecipeError || e instanceof RangeError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  const benchArgs = BENCH_PASSED.flatMap((o) =>
    values[o] === undefined ? [] : [`--${o}`, String(values[o])]
  );
  const out = String(values.out);
  if (engine === "local") {
    const gpus = positiveInt("gpus", values.gpus)!;
    const adapters = list(values.adapters);
    if (adapters && adapters.length !== gpus) {
      console.error(
        `error: --adapters: ${adapters.length} adapters for --gpus ${gpus}; give one per process`,
      );
      return 2;
    }
    const { superviseShards, sweepExitCode } = await import("./src/runner/supervise.ts");
    const commands = Array.from({ length: gpus }, (_, i) => [
      Deno.execPath(),
      "run",
      "-A",
      new URL("cli.ts", import.meta.url).pathname,
      "bench",
      recipe,
      "--shard",
      `${i}/${gpus}`,
      "--out",
      out,
      "--checkpoint-every",
      String(checkpointEvery),
      ...benchArgs,
      ...(adapters ? ["--adapter", adapters[i]] : []),
    ]);
    console.error(`sweep: ${gpus} shard processes of ${recipe}`);
    const codes = await superviseShards(
      commands,
      commands.map((_, i) => `[shard ${i}/${gpus}] `),
    );
    const code = sweepExitCode(codes);
    console.error(`sweep: shards exited ${codes.join(", ")}`);
    if (code !== 0) return code;
    return await report([...suites, "--out", out]);
  }
  const { k8sJob, slurmScript } = await import("./src/runner/launch.ts");
  if (values.bundle !== undefined && values.image !== undefined && engine === "slurm") {
    console.error("error: sweep slurm: give --bundle DIR or --image IMAGE, not both");
    return 2;
  }
  if (engine === "k8s" && values.image === undefined) {
    console.error(
      "error: sweep k8s needs --image IMAGE (a container image with lpbench, e.g. built from " +
        "the offline bundle); --bundle DIR says where lpbench is inside it (default /lpbench)",
    );
    return 2;
  }
  const shards = positiveInt("shards", values.shards)!;
  const deno = values.bundle !== undefined || values.image !== undefined
    ? "./deno"
    : Deno.execPath();
  const dir = values.bundle ?? (values.image !== undefined ? "/lpbench" : Deno.cwd());
  const spec = {
    suite: suites[0],
    recipe,
    shards,
    out,
    benchArgs,
    checkpointEvery,
    runtime: values.image !== undefined
      ? { kind: "image" as const, image: values.image, dir, deno }
      : { kind: "dir" as const, dir, deno },
  };
  const text = engine === "slurm" ? slurmScript(spec) : k8sJob(spec);
  const file = values.file ?? `${suites[0]}${engine === "slurm" ? ".sbatch" : "-job.yaml"}`;
  await writeAtomic(file, text);
  console.error(
    `wrote ${file}: ${shards} shards of ${recipe}; ` +
      (engine === "slurm"
        ? `submit with \`sbatch ${file}\``
        : `start with \`kubectl apply -f ${file}\``),
  );
  return 0;
}

/**
 * Why `path` is not a report that `verify` can take, or undefined: it must be a readable `.md` file
 * that begins with the heading `# <suite>` every report has (`reports/<suite>.md`).
 */
async function reportProblem(path: string): Promise<string | undefined> {
  if (!path.endsWith(".md")) return `${path} is not a report (a reports/<suite>.md file)`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return `${path}: no such report`;
    if (e instanceof Deno.errors.IsADirectory) return `${path} is a folder, not a report`;
    throw e;
  }
  const heading = `# ${basename(path, ".md")}`;
  const first = text.split("\n", 1)[0].trimEnd();
  if (first !== heading) {
    return `${path} is not an lpbench report (a report begins with "${heading}", this file with ` +
      `${JSON.stringify(first.slice(0, 60))})`;
  }
  return undefined;
}

const SUITES = {
  quantize: runKernelBenchmark,
  gemm: runGemmBenchmark,
  // The train suite resolves the preset policies (YAML and zod from npm), so it is imported only
  // when it runs: the other suites need nothing but a Deno binary.
  train: async (...args: Parameters<typeof import("./bench/train.ts").runTrainBenchmark>) =>
    (await import("./bench/train.ts")).runTrainBenchmark(...args),
} as const;

/**
 * `kernels [--suite quantize,gemm,train] [--out FILE] [--gpu I] [suite options]`: runs the
 * benchmark suites in order, on the chosen WebGPU implementation, and writes their tables
 * together; suite options go to the suite when only one is selected (see bench/kernels.ts,
 * bench/gemm.ts, bench/train.ts).
 */
async function kernels(args: string[]): Promise<void> {
  const { values, tokens } = parseArgs({
    args,
    options: {
      suite: { type: "string", default: "quantize,gemm,train" },
      out: { type: "string" },
      gpu: { type: "string" },
    },
    strict: false,
    tokens: true,
  });
  useGpuFlag(values.gpu);
  const names = String(values.suite).split(",");
  for (const n of names) {
    if (!(n in SUITES)) {
      console.error(`error: --suite: unknown suite ${JSON.stringify(n)} (quantize, gemm, train)`);
      throw new UsageError();
    }
  }
  const rest: string[] = [];
  for (const t of tokens ?? []) {
    if (t.kind === "option" && ["suite", "out", "gpu"].includes(t.name)) continue;
    if (t.kind === "option") rest.push(t.rawName, ...(t.value !== undefined ? [t.value] : []));
    else if (t.kind === "positional") rest.push(t.value);
  }
  if (names.length > 1 && rest.length > 0) {
    console.error(`error: suite options (${rest.join(" ")}) need a single --suite`);
    throw new UsageError();
  }
  const parts: string[] = [];
  for (const n of names) parts.push(await SUITES[n as keyof typeof SUITES](rest));
  if (values.out) await writeAtomic(String(values.out), parts.join("\n"));
}

/**
 * `kernels --suite LIST --help`: prints each listed suite's own usage, after a line naming it, and
 * returns true; false without `--suite` (the task's help is printed then). A bad suite name is a
 * usage error.
 */
async function kernelsSuiteHelp(args: string[]): Promise<boolean> {
  const { values } = parseArgs({ args, options: { suite: { type: "string" } }, strict: false });
  if (typeof values.suite !== "string") return false;
  const names = values.suite.split(",");
  for (const n of names) {
    if (!(n in SUITES)) {
      console.error(`error: --suite: unknown suite ${JSON.stringify(n)} (quantize, gemm, train)`);
      throw new UsageError();
    }
  }
  for (const [i, n] of names.entries()) {
    console.log(`${i > 0 ? "\n" : ""}${suiteHelpHeader(n)}`);
    // Each suite prints its usage on --help and runs nothing.
    await SUITES[n as keyof typeof SUITES](["--help"]);
  }
  return true;
}

/** Runs the CLI and returns its exit code. */
export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug");
  const args = argv.filter((a) => a !== "--debug");
  const [command, ...rest] = args;
  try {
    switch (command) {
      case undefined:
      case "-h":
      case "--help":
      case "help":
        if (rest[0] !== undefined && Object.hasOwn(TASK_HELP, rest[0])) {
          console.log(TASK_HELP[rest[0] as Task]);
          return 0;
        }
        console.log(HELP);
        return command === undefined ? 2 : 0;
      case "bench":
      case "kernels":
      case "report":
      case "verify":
      case "health":
      case "sweep":
        if (rest.includes("-h") || rest.includes("--help")) {
          if (command === "kernels" && await kernelsSuiteHelp(rest)) return 0;
          console.log(TASK_HELP[command]);
          return 0;
        }
        if (command === "kernels") {
          await kernels(rest);
          return 0;
        }
        return await { bench, report, verify, health, sweep }[command](rest);
      default:
        console.error(`error: unknown command ${JSON.stringify(command)}; see --help`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) return 2;
    // No adapter is a problem of the machine's set-up, not a run that failed.
    if (e instanceof GpuUnavailableError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    const err = e as Error & { code?: string };
    if (typeof err.code === "string" && err.code.startsWith("ERR_PARSE_ARGS")) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    if (debug) throw e;
    console.error(`error: ${err.message ?? String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
