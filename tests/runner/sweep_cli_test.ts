import { match as assertMatch } from "node:assert/strict";
import { cli as run } from "../cli_run.ts";
import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { list, withTempDir } from "../temp_dir.ts";

const cli = (...args: string[]) => run(args);

Deno.test("sweep slurm and k8s write launch files; bad input exits 2 naming it", async () => {
  await withTempDir(async (dir) => {
    const slurm = await cli(
      "sweep",
      "slurm",
      "recipes/quick.yaml",
      "--shards",
      "5",
      "--bundle",
      "/shared/lpbench",
      "--out",
      "/shared/reports",
      "--gpu",
      "dawn",
      "--file",
      `${dir}/q.sbatch`,
    );
    assertStrictEquals(slurm.code, 0, slurm.stderr);
    const script = await Deno.readTextFile(`${dir}/q.sbatch`);
    assertMatch(script, /^#SBATCH --array=0-4$/m);
    assertMatch(
      script,
      /^cd \/shared\/lpbench\nexec \.\/deno run -A cli\.ts bench recipes\/quick\.yaml --out \/shared\/reports --checkpoint-every 100 --gpu dawn$/m,
    );
    const k8s = await cli(
      "sweep",
      "k8s",
      "recipes/quick.yaml",
      "--shards",
      "3",
      "--image",
      "reg/lpbench:1",
      "--file",
      `${dir}/q.yaml`,
    );
    assertStrictEquals(k8s.code, 0, k8s.stderr);
    const job = await Deno.readTextFile(`${dir}/q.yaml`);
    assertMatch(job, /completions: 3\n/);
    assertMatch(job, /backoffLimitPerIndex: 3\n/);
    assertMatch(job, /env: \[\{ name: LPBENCH_SHARD_COUNT, value: "3" \}\]/);
    const noImage = await cli("sweep", "k8s", "recipes/quick.yaml");
    assertStrictEquals(noImage.code, 2);
    assertMatch(noImage.stderr, /sweep k8s needs --image IMAGE/);
    const engine = await cli("sweep", "pbs", "recipes/quick.yaml");
    assertStrictEquals(engine.code, 2);
    assertMatch(engine.stderr, /sweep takes an engine and one recipe/);
  });
});

Deno.test("bench refuses a bad --shard, an incomplete scheduler environment and --adapter on Deno", async () => {
  const shard = await cli("bench", "--shard", "3/3", "--dry-run");
  assertStrictEquals(shard.code, 2);
  assertStrictEquals(shard.stderr, 'error: --shard: "3/3": K must be below N (K from 0)\n');
  const env = await run(["bench", "--dry-run"], { JOB_COMPLETION_INDEX: "1" });
  assertStrictEquals(env.code, 2);
  assertMatch(env.stderr, /LPBENCH_SHARD_COUNT is not/);
  await withTempDir(async (dir) => {
    const adapter = await cli(
      "bench",
      "--policy",
      "fp32",
      "--seeds",
      "0",
      "--steps",
      "12",
      "--adapter",
      "1",
      "--out",
      dir,
    );
    assertStrictEquals(adapter.code, 2, adapter.stderr);
    assertMatch(adapter.stderr, /--adapter "1": Deno's WebGPU cannot choose an adapter/);
  });
});

Deno.test("sweep local --gpus 2 runs two shard processes and writes the report of both", async () => {
  await withTempDir(async (dir) => {
    const r = await cli(
      "sweep",
      "local",
      "recipes/quick.yaml",
      "--gpus",
      "2",
      "--policy",
      "fp32",
      "--seeds",
      "0,1",
      "--steps",
      "12",
      "--out",
      dir,
    );
    assertStrictEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, /^\[shard 0\/2\] shard 0\/2 from --shard 0\/2: 1 of 2 runs$/m);
    assertMatch(r.stderr, /^\[shard 1\/2\] shard 1\/2 from --shard 1\/2: 1 of 2 runs$/m);
    assertStrictEquals((await list(`${dir}/runs`)).length, 2);
    assertOk((await list(dir)).includes("quick-steps-12.md"));
    assertEquals(await list(`${dir}/checkpoints`), [], "checkpoints are removed with their runs");
  });
});
