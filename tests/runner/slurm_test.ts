/**
 * A real scheduler: a one-node Slurm on localhost (`.ci/slurm.sh`) runs the sweep of a tiny recipe
 * as a 3-task job array from the script `deno task sweep slurm` writes, on the software adapter;
 * `deno task report` then merges the shards' records, and its report equals that of one unsharded
 * process in everything the runs compute. CI (`.ci/run`) sets LPBENCH_REQUIRE_SLURM=1: there the
 * test runs (installing Slurm where missing) and fails if Slurm cannot run; elsewhere it runs
 * where Slurm's daemons are installed and the user is root, and is ignored otherwise.
 *
 * @module
 */

import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { list, withTempDir } from "../temp_dir.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const required = Deno.env.get("LPBENCH_REQUIRE_SLURM") === "1";
const installed = ["slurmctld", "slurmd", "munged", "sbatch"].every((c) =>
  ["/usr/sbin", "/usr/bin"].some((d) => {
    try {
      return Deno.statSync(`${d}/${c}`).isFile;
    } catch {
      return false;
    }
  })
);
const root = Deno.uid() === 0;

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, cwd: ROOT, env: { NO_COLOR: "1", ...env } })
    .output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const cli = (...args: string[]) => run(Deno.execPath(), ["run", "-A", "cli.ts", ...args]);

/** quick.yaml cut to 3 policies × 2 seeds of 12 steps, without health probes: 6 short runs. */
async function tinyRecipe(path: string): Promise<void> {
  const quick = await Deno.readTextFile(`${ROOT}recipes/quick.yaml`);
  const text = quick.replace("name: quick", "name: slurm-tiny")
    .replace("steps: 120", "steps: 12")
    .replace("eval: { every: 20, batches: 16 }", "eval: { every: 6, batches: 2 }")
    .replace(/^health: .*$/m, "")
    .replace(/^ {2}(fp8|mxfp4|nvfp4-no-rht|nvfp4-no-sr): .*$/gm, "");
  if (!text.includes("steps: 12") || text.includes("mxfp4: {")) {
    throw new Error("recipes/quick.yaml changed: update tinyRecipe");
  }
  await Deno.writeTextFile(path, text);
}

/** The files of a report that the runs' numbers alone decide (not measured times). */
const COMPUTED = [
  "slurm-tiny.runs.json",
  "slurm-tiny/curves.csv",
  "slurm-tiny/loss.svg",
  "slurm-tiny/relative-loss.svg",
  "slurm-tiny/grad-norm.svg",
  "slurm-tiny/lr.svg",
];

Deno.test({
  name: "a Slurm job array of 3 shards trains the plan; the merged report equals one process's",
  ignore: !required && !(installed && root),
  async fn() {
    await withTempDir(async (dir) => {
      const cluster = `${dir}/slurm`;
      const started = await run("bash", [".ci/slurm.sh", "start", cluster]);
      assertStrictEquals(started.code, 0, `Slurm did not start: ${started.stderr}`);
      try {
        const recipe = `${dir}/slurm-tiny.yaml`;
        await tinyRecipe(recipe);
        const sharded = `${dir}/sharded`;
        const written = await cli(
          "sweep",
          "slurm",
          recipe,
          "--shards",
          "3",
          "--out",
          sharded,
          "--checkpoint-every",
          "6",
          "--file",
          `${dir}/job.sbatch`,
        );
        assertStrictEquals(written.code, 0, written.stderr);
        // Edited as a user would: the software adapter needs no GPU, and this cluster has none.
        const script = (await Deno.readTextFile(`${dir}/job.sbatch`))
          .replace(/^#SBATCH --gres=gpu:1\n/m, "");
        assertOk(script.includes("#SBATCH --array=0-2\n"), script);
        await Deno.writeTextFile(`${dir}/job.sbatch`, script);
        await Deno.mkdir(`${sharded}/slurm`, { recursive: true });
        const env = { SLURM_CONF: `${cluster}/slurm.conf` };
        const job = await run("sbatch", ["--wait", `${dir}/job.sbatch`], env);
        const logs = await Promise.all(
          (await list(`${sharded}/slurm`)).map((f) => Deno.readTextFile(`${sharded}/slurm/${f}`)),
        );
        assertStrictEquals(job.code, 0, `${job.stdout}${job.stderr}\n${logs.join("\n")}`);
        assertStrictEquals(logs.length, 3, "one log per array task");
        for (const log of logs) {
          assertOk(/shard [0-2]\/3 from Slurm job array \(SLURM_ARRAY_TASK_ID=/.test(log), log);
        }
        const merged = await cli("report", "slurm-tiny", "--out", sharded);
        assertStrictEquals(merged.code, 0, merged.stderr);
        assertOk(!merged.stderr.includes("missing"), merged.stderr);

        const whole = `${dir}/whole`;
        const one = await cli("bench", recipe, "--out", whole);
        assertStrictEquals(one.code, 0, one.stderr);
        assertEquals(await list(`${sharded}/runs`), await list(`${whole}/runs`));
        assertStrictEquals((await list(`${whole}/runs`)).length, 6);
        for (const file of COMPUTED) {
          const [a, b] = await Promise.all(
            [sharded, whole].map((d) => Deno.readTextFile(`${d}/${file}`)),
          );
          assertOk(a === b, `${file} differs between the sharded and the unsharded sweep`);
        }
      } finally {
        await run("bash", [".ci/slurm.sh", "stop", cluster]);
      }
    });
  },
});
