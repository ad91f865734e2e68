/**
 * Launch files for running a sweep on a scheduler, written by `deno task sweep slurm|k8s` as plain
 * text to read and edit: an `sbatch` job-array script and a Kubernetes Indexed Job manifest. Each
 * task or pod runs `bench` on one shard (lpbench reads its index from the scheduler's environment,
 * `shard.ts`), with checkpoints on, and writes its records into one shared folder; `deno task
 * report` merges them afterwards.
 *
 * The exit codes they act on (cli.ts): 0 done, 1 a run failed (a retry may fix it), 2 invalid input
 * (never retry: the Kubernetes Job fails the index at once), 130 interrupted (SIGTERM from
 * preemption, or Slurm's `--signal=B:USR2@…` before the time limit): a retry resumes from the
 * checkpoint.
 *
 * @module
 */

import { K8S_COUNT_VARIABLE } from "./shard.ts";

/** How a launch file starts lpbench. */
export type LaunchRuntime =
  /** A checkout (or unpacked offline bundle) at `dir` and the Deno binary at `deno`. */
  | { readonly kind: "dir"; readonly dir: string; readonly deno: string }
  /** A container image with lpbench at `dir` and its Deno binary at `deno`. */
  | { readonly kind: "image"; readonly image: string; readonly dir: string; readonly deno: string };

/** What every launch file needs. */
export interface LaunchSpec {
  /** The suite's name (job names). */
  readonly suite: string;
  /** The recipe, as `bench` takes it (relative to the lpbench folder, or absolute). */
  readonly recipe: string;
  /** Number of shards (array tasks, Job completions). */
  readonly shards: number;
  /** The shared folder of records and reports (`bench --out`). */
  readonly out: string;
  /** `bench`'s other arguments (`--gpu`, `--policy`, …). */
  readonly benchArgs: readonly string[];
  /** Checkpoint every this many steps. */
  readonly checkpointEvery: number;
  /** How lpbench is started. */
  readonly runtime: LaunchRuntime;
}

const sh = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);

/** The bench command line of a task. */
function benchArgv(spec: LaunchSpec): string[] {
  return [
    spec.runtime.deno,
    "run",
    "-A",
    "cli.ts",
    "bench",
    spec.recipe,
    "--out",
    spec.out,
    "--checkpoint-every",
    String(spec.checkpointEvery),
    ...spec.benchArgs,
  ];
}

const EXIT_LINES = [
  "Exit codes: 0 done; 1 a run failed, a retry may fix it; 2 invalid input, never retry;",
  "130 interrupted (preempted, or the time limit's USR2): a retry resumes from the checkpoint.",
];

/**
 * An `sbatch` script running the sweep as a job array of `shards` tasks, one shard each. Slurm
 * sends USR2 to the task two minutes before its time limit (`--signal=B:USR2@120`; the batch
 * shell `exec`s lpbench, so lpbench gets it), and the job may be requeued after preemption.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slurmScript } from "./launch.ts";
 * const text = slurmScript({
 *   suite: "quick", recipe: "recipes/quick.yaml", shards: 4, out: "/shared/reports",
 *   benchArgs: [], checkpointEvery: 100,
 *   runtime: { kind: "dir", dir: "/shared/lpbench", deno: "./deno" },
 * });
 * assert.match(text, /^#SBATCH --array=0-3$/m);
 * assert.match(text, /^exec \.\/deno run -A cli\.ts bench recipes\/quick\.yaml --out \/shared\/reports --checkpoint-every 100$/m);
 * ```
 */
export function slurmScript(spec: LaunchSpec): string {
  const r = spec.runtime;
  const argv = benchArgv(spec).map(sh).join(" ");
  const run = r.kind === "dir"
    ? [`cd ${sh(r.dir)}`, `exec ${argv}`]
    : [`exec apptainer exec --nv --pwd ${sh(r.dir)} ${sh(r.image)} ${argv}`];
  return [
    "#!/bin/bash",
    `# The sweep of ${spec.recipe} as a Slurm job array of ${spec.shards} tasks, written by`,
    "# `deno task sweep slurm`; edit freely. Task K runs the K-th of N cost-balanced parts of the",
    "# plan (lpbench reads SLURM_ARRAY_TASK_ID, _MIN and _COUNT); records go to the shared --out",
    "# folder. When every task is done: deno task report <suite> --out <that folder>.",
    ...EXIT_LINES.map((l) => `# ${l}`),
    `#SBATCH --job-name=lpbench-${spec.suite}`,
    `#SBATCH --array=0-${spec.shards - 1}`,
    `#SBATCH --output=${spec.out}/slurm/%A_%a.log`,
    "#SBATCH --ntasks=1",
    "#SBATCH --gres=gpu:1",
    "#SBATCH --signal=B:USR2@120",
    "#SBATCH --requeue",
    "set -euo pipefail",
    ...run,
    "",
  ].join("\n");
}

/**
 * A Kubernetes Indexed Job running the sweep as `shards` completions, one shard each: every pod
 * gets `JOB_COMPLETION_INDEX` from Kubernetes and the count in `LPBENCH_SHARD_COUNT`; an index is
 * retried up to `backoffLimitPerIndex` times (Kubernetes 1.29 or later), failed at once on exit
 * code 2 (`podFailurePolicy`), and a pod evicted by preemption or a drain (`DisruptionTarget`)
 * does not count as a failure. Records go to a PersistentVolumeClaim `lpbench-results` mounted at
 * `--out`'s folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { k8sJob } from "./launch.ts";
 * const text = k8sJob({
 *   suite: "quick", recipe: "recipes/quick.yaml", shards: 3, out: "/results",
 *   benchArgs: ["--gpu", "dawn"], checkpointEvery: 100,
 *   runtime: { kind: "image", image: "registry.example/lpbench:1", dir: "/lpbench", deno: "./deno" },
 * });
 * assert.match(text, /completionMode: Indexed/);
 * assert.match(text, /onExitCodes: \{ containerName: lpbench, operator: In, values: \[2\] \}/);
 * ```
 */
export function k8sJob(spec: LaunchSpec, backoffLimitPerIndex = 3): string {
  const r = spec.runtime;
  const image = r.kind === "image" ? r.image : "debian:bookworm-slim";
  const json = JSON.stringify;
  return [
    `# The sweep of ${spec.recipe} as a Kubernetes Indexed Job of ${spec.shards} completions,`,
    "# written by `deno task sweep k8s`; edit freely (image, GPU resources, the volume). Pod K runs",
    "# the K-th of N cost-balanced parts of the plan: JOB_COMPLETION_INDEX from Kubernetes, N in",
    `# ${K8S_COUNT_VARIABLE} (Kubernetes does not tell pods the completion count). Needs`,
    "# Kubernetes 1.29+ (backoffLimitPerIndex). When it is done: deno task report <suite> --out",
    "# <the volume's folder>.",
    ...EXIT_LINES.map((l) => `# ${l}`),
    "apiVersion: batch/v1",
    "kind: Job",
    "metadata:",
    `  name: lpbench-${spec.suite.toLowerCase().replaceAll("_", "-")}`,
    "spec:",
    "  completionMode: Indexed",
    `  completions: ${spec.shards}`,
    `  parallelism: ${spec.shards}`,
    `  backoffLimitPerIndex: ${backoffLimitPerIndex}`,
    `  maxFailedIndexes: ${spec.shards}`,
    "  podFailurePolicy:",
    "    rules:",
    "      - action: FailIndex # invalid input: retrying cannot help",
    "        onExitCodes: { containerName: lpbench, operator: In, values: [2] }",
    "      - action: Ignore # evicted (preemption, drain): retry without counting it",
    "        onPodConditions: [{ type: DisruptionTarget }]",
    "  template:",
    "    spec:",
    "      restartPolicy: Never",
    "      terminationGracePeriodSeconds: 120 # SIGTERM: lpbench checkpoints and exits 130",
    "      containers:",
    "        - name: lpbench",
    `          image: ${json(image)}`,
    `          workingDir: ${json(r.dir)}`,
    `          command: ${json(benchArgv(spec))}`,
    `          env: [{ name: ${K8S_COUNT_VARIABLE}, value: ${json(String(spec.shards))} }]`,
    "          resources: { limits: { nvidia.com/gpu: 1 } }",
    `          volumeMounts: [{ name: results, mountPath: ${json(spec.out)} }]`,
    "      volumes:",
    "        - name: results",
    "          persistentVolumeClaim: { claimName: lpbench-results }",
    "",
  ].join("\n");
}
