/**
 * The help texts of the command line (`cli.ts`): one for `--help` alone, which lists the tasks, and
 * one per task (`deno task bench --help`, …), which lists that task's own options. A kernel suite's
 * own options are printed by the suite itself (`deno task kernels --suite gemm --help`), after
 * {@link suiteHelpHeader}. No imports, so that `kernels --help` runs with only a Deno binary.
 *
 * @module
 */

/** The tasks that have a help text of their own. */
export type Task = "bench" | "report" | "verify" | "kernels" | "health" | "sweep";

const GPU = `WebGPU implementation:
  --gpu deno       Deno's built-in WebGPU (wgpu), the default
  --gpu dawn       Dawn through npm:webgpu (Vulkan; OpenGL compatibility mode where Vulkan gives
                   no adapter); the only one with subgroup matrices
  --gpu auto       Dawn where its adapter offers chromium-experimental-subgroup-matrix, else Deno`;

const COMMON = `  --debug          print stack traces
  -h, --help       this help`;

const EXIT =
  `Exit codes: 0 success; 1 a run failed (a retry may fix it: device lost, out of memory);
2 invalid input (usage, recipe, data, no WebGPU adapter: never retry); 130 interrupted (Ctrl-C,
SIGTERM or SIGUSR2: the run in progress stops after its step, checkpointed with
--checkpoint-every; a retry resumes it).`;

/**
 * The text of `--help` without a task: what lpbench is, its tasks, and how to get a task's options.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HELP } from "./cli_help.ts";
 * assert.match(HELP, /^  kernels  /m);
 * ```
 */
export const HELP = `lpbench — low-precision training recipes on WebGPU

Usage: deno task <task> [options]   (deno task <task> --help lists the task's options)

Tasks:
  bench [recipe.yaml…]    train every (recipe × policy × seed) whose record is missing, write
                          reports/runs/<id>.json and reports/<suite>.md
                          (default recipe: recipes/quick.yaml)
  report [suite…]         rewrite reports from the run records (merging those of every shard)
  sweep slurm|k8s|local   a sweep on a cluster: a Slurm array script, a Kubernetes Indexed Job,
                          or N shard processes on this host
  verify <report.md>      re-run a report's runs and say whether they reproduce
  health <record|report>  the worst offenders of runs' numeric-health diagnostics
  kernels                 benchmarks: quantizer bandwidth, GEMM TFLOP/s, training tokens/s
  test                    the test suite

Options of every task:
${COMMON}

${EXIT}
`;

/**
 * The help text of each task: its usage line and every option it takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TASK_HELP } from "./cli_help.ts";
 * assert.match(TASK_HELP.report, /--out DIR/);
 * assert.doesNotMatch(TASK_HELP.report, /--policy/);
 * ```
 */
export const TASK_HELP: Readonly<Record<Task, string>> = {
  bench: `Usage: deno task bench [recipe.yaml…] [options]

Trains every (recipe × policy × seed) whose record is missing, writes its record
<out>/runs/<id>.json, then each recipe's report <out>/<suite>.md. Runs that have a record are not
trained again. Default recipe: recipes/quick.yaml.

Options:
  --policy a,b     only these policies of the recipe (the report still shows every policy's runs)
  --seeds 0,1      only these seeds
  --steps N        train N steps instead of the recipe's train.steps; such runs are a suite of
                   their own, reported in <out>/<suite>-steps-N.md
  --out DIR        where records and reports go (default reports)
  --dry-run        validate (data sizes included), print the plan, which runs have records, each
                   run's GPU memory (checked against the adapter where there is one) and the
                   expected time; train nothing
  --gpu I          the WebGPU implementation (below)
  --adapter A      the adapter, by index or (part of) its name, on a host with several GPUs
                   (Dawn only: Deno's WebGPU cannot choose one)
  --shard K/N      only the K-th (from 0) of N parts of the runs, balanced by estimated cost;
                   without it, K and N come from a scheduler's environment where there is one
                   (Slurm array, Kubernetes Indexed Job, SkyPilot, AWS Batch array)
  --checkpoint-every N
                   checkpoint every N steps in <out>/checkpoints and when interrupted; a run
                   trained again resumes from its checkpoint
${COMMON}

${GPU}

${EXIT}
`,
  sweep: `Usage: deno task sweep slurm|k8s|local <recipe.yaml> [options]

Runs a recipe's sweep as shards of its plan, each a bench process with --shard, checkpoints on,
records in one shared <out>/runs; deno task report merges them.
  slurm            writes <suite>.sbatch: a job array of --shards tasks (submit with sbatch)
  k8s              writes <suite>-job.yaml: an Indexed Job of --shards completions, an index
                   retried up to 3 times and failed at once on exit code 2 (kubectl apply -f)
  local            runs --gpus N shard processes here, then writes the report

Options:
  --shards N       array tasks or Job completions (default 4)
  --gpus N         local: shard processes (default 1)
  --adapters a,b   local: each process's --adapter, one per process
  --out DIR        the shared folder of records and reports (default reports)
  --checkpoint-every N
                   checkpoint interval in steps (default 100)
  --bundle DIR     slurm: an unpacked offline bundle (scripts/offline-bundle.sh) to run from;
                   with --image, where lpbench is inside the image (default /lpbench)
  --image IMAGE    a container image with lpbench (k8s: required; slurm: run with apptainer)
  --file FILE      where to write the launch file
  --policy, --seeds, --steps, --gpu
                   passed on to every shard's bench
${COMMON}

${EXIT}
`,
  report: `Usage: deno task report [suite…] [--out DIR]

(Re)writes the report <out>/<suite>.md, its charts and its run list <out>/<suite>.runs.json from
the run records in <out>/runs. A suite is a recipe's name (e.g. quick), not a path; with none,
every suite that has records.

Options:
  --out DIR        the folder of the reports; its records are in DIR/runs (default reports)
${COMMON}

${EXIT}
`,
  health: `Usage: deno task health <record.json | report.md> [--top N]

Prints the worst offenders of the numeric-health diagnostics (a recipe's health: section) of one
run record (e.g. reports/runs/<id>.json) or of the runs a report aggregates: the alarms, worst
first, the runs an alarm stopped and the parameters whose gradients held NaN or Inf; then the GEMM
outputs with the largest relL2 against the FP32 GEMM and the gain furthest from 1, and the operands
with the largest relL2, saturation (share clipped) and underflow (share flushed to zero), over
every diagnostic step. Runs without diagnostics are counted; none at all is not an error.

Options:
  --top N          rows per list (default 10)
${COMMON}

${EXIT}
`,
  verify: `Usage: deno task verify <report.md> [--gpu I]

Re-runs the runs a report aggregates (listed in <report>.runs.json beside it) and says whether they
reproduce: bit-identical loss curves on the same adapter, Deno and WebGPU implementation, the final
loss within 2 % elsewhere. Exit 1 if any does not.

Options:
  --gpu I          the WebGPU implementation (default: that of the records, else deno)
${COMMON}

${GPU}

${EXIT}
`,
  kernels:
    `Usage: deno task kernels [--suite quantize,gemm,train] [--out FILE] [--gpu I] [suite options]

Runs the benchmark suites in order and prints their markdown tables:
  quantize         every quantizer's bandwidth beside a vec4 copy kernel (bench/kernels.ts)
  gemm             f32 GEMM TFLOP/s per layout and size (bench/gemm.ts)
  train            training-step tokens/s per policy, GPT-2 small shape (bench/train.ts)

Options:
  --suite LIST     the suites to run (default quantize,gemm,train)
  --out FILE       also write the tables to FILE
  --gpu I          the WebGPU implementation (below)
  suite options    with a single --suite, passed to that suite; its own options are listed by
                   deno task kernels --suite quantize --help
                   deno task kernels --suite gemm --help
                   deno task kernels --suite train --help
  e.g. --suite quantize --mib 64 --iterations 10 --rounds 5
       --suite gemm --sizes 1024,2048,4096,8192 --layouts nt,nn,tn
       --suite train --policies fp32,nvfp4 --steps 10 --layers 12 --batch 8
${COMMON}

${GPU}

${EXIT}
`,
};

/**
 * The line printed before a kernel suite's own usage (which names the suite's script and its
 * options) on `deno task kernels --suite <name> --help`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { suiteHelpHeader } from "./cli_help.ts";
 * assert.match(suiteHelpHeader("gemm"), /^Suite gemm: deno task kernels --suite gemm/);
 * ```
 */
export function suiteHelpHeader(name: string): string {
  return `Suite ${name}: deno task kernels --suite ${name} [options]; its options are those of:`;
}
