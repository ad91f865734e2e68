import { assertEquals, assertOk } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { CPU_VECTOR_FLAGS, environment, gitState } from "../../src/runner/environment.ts";

/** Runs git in `dir` with a fixed identity and no user configuration. */
async function git(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("git", {
    args: ["-c", "user.name=lpbench", "-c", "user.email=lpbench@example.com", ...args],
    cwd: dir,
    env: { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A repository in `dir` with one commit: `cli.ts`, `reports/quick.md` and `out/old.json`. */
async function repo(dir: string): Promise<void> {
  await git(dir, "init", "--quiet");
  await Deno.mkdir(`${dir}/reports/runs`, { recursive: true });
  await Deno.mkdir(`${dir}/out`);
  await Deno.writeTextFile(`${dir}/cli.ts`, "// cli\n");
  await Deno.writeTextFile(`${dir}/reports/quick.md`, "# quick\n");
  await Deno.writeTextFile(`${dir}/out/old.json`, "{}\n");
  await git(dir, "add", ".");
  await git(dir, "commit", "--quiet", "-m", "first");
}

const dirty = async (dir: string, outputs?: string[]) => (await gitState(dir, outputs))?.dirty;

Deno.test("gitState: records, reports and run lists written under reports/ leave the tree clean", async () => {
  await withTempDir(async (dir) => {
    await repo(dir);
    assertEquals(await dirty(dir), false);
    await Deno.writeTextFile(`${dir}/reports/quick.md`, "# quick, rewritten\n");
    await Deno.writeTextFile(`${dir}/reports/quick.runs.json`, "{}\n");
    await Deno.writeTextFile(`${dir}/reports/runs/ab.json`, "{}\n");
    const state = await gitState(dir);
    assertEquals(state?.dirty, false);
    assertEquals(state?.commit.length, 40);
  });
});

Deno.test("gitState: a modified, deleted or untracked file outside reports/ makes the tree dirty", async () => {
  await withTempDir(async (dir) => {
    await repo(dir);
    await Deno.writeTextFile(`${dir}/reports/quick.md`, "# quick, rewritten\n");
    await Deno.writeTextFile(`${dir}/cli.ts`, "// cli, edited\n");
    assertEquals(await dirty(dir), true);
    await git(dir, "checkout", "--quiet", "cli.ts");
    assertEquals(await dirty(dir), false);
    await Deno.writeTextFile(`${dir}/new.ts`, "// new\n");
    assertEquals(await dirty(dir), true);
    await Deno.remove(`${dir}/new.ts`);
    await Deno.remove(`${dir}/cli.ts`);
    assertEquals(await dirty(dir), true);
    await git(dir, "checkout", "--quiet", "cli.ts");
    await Deno.writeTextFile(`${dir}/reports.ts`, "// not under reports/\n");
    assertEquals(await dirty(dir), true);
  });
});

Deno.test("gitState ignores the output folders it is given, relative to its folder or absolute", async () => {
  await withTempDir(async (dir) => {
    await repo(dir);
    await Deno.writeTextFile(`${dir}/out/old.json`, "{ }\n");
    await Deno.writeTextFile(`${dir}/out/new.json`, "{}\n");
    assertEquals(await dirty(dir), true, "out/ is not an output folder by default");
    assertEquals(await dirty(dir, ["out"]), false);
    assertEquals(await dirty(dir, [`${dir}/out`]), false);
    assertEquals(await dirty(`${dir}/reports`, ["../out"]), false, "relative to the folder given");
    await Deno.writeTextFile(`${dir}/reports/quick.md`, "# quick, rewritten\n");
    assertEquals(await dirty(dir, ["out"]), true, "only the given folders are left out");
    assertEquals(await dirty(dir, ["out", "reports"]), false);
  });
});

Deno.test("gitState: an output folder outside the repository or the whole repository hides nothing", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/repo`);
    await repo(`${dir}/repo`);
    await Deno.writeTextFile(`${dir}/repo/cli.ts`, "// cli, edited\n");
    assertEquals(await dirty(`${dir}/repo`, [dir, "..", ".", `${dir}/elsewhere`]), true);
  });
});

Deno.test("gitState is null outside a git repository", async () => {
  await withTempDir(async (dir) => {
    assertEquals(await gitState(dir), null);
  });
});

Deno.test("the environment names the CPU with its vector instruction sets, the WGSL language features and the lockfile's hash", async () => {
  const gpu = await getGpu();
  const env = await environment(gpu);
  assertOk(env.cpu && env.cpu.cores >= 1 && env.cpu.model.length > 0, JSON.stringify(env.cpu));
  if (Deno.build.os === "linux") {
    // Every x86-64 CPU has SSE4.2 since 2008; an Arm one has Advanced SIMD.
    assertOk(
      env.cpu.simd?.every((f) => CPU_VECTOR_FLAGS.includes(f)) &&
        (env.cpu.simd.includes("sse4_2") || env.cpu.simd.includes("asimd")),
      JSON.stringify(env.cpu),
    );
  }
  assertEquals(env.wgslLanguageFeatures, [...gpu.wgslLanguageFeatures].sort());
  const lock = await Deno.readTextFile("deno.lock");
  const want = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lock)),
  );
  assertEquals(env.lockfile, Array.from(want, (b) => b.toString(16).padStart(2, "0")).join(""));
});

Deno.test("the environment names the driver: Mesa's version on a Mesa adapter, NVIDIA's on an NVIDIA one", async () => {
  const gpu = await getGpu();
  const env = await environment(gpu);
  if (Deno.build.os !== "linux") return;
  const description = gpu.info.description;
  if (/llvmpipe|lavapipe|softpipe/i.test(description)) {
    assertOk(/^Mesa \d+\.\d+\.\d+/.test(env.driver ?? ""), `${description}: ${env.driver}`);
  } else if (/nvidia/i.test(`${gpu.info.vendor} ${description}`)) {
    assertOk(/^NVIDIA \d+\.\d+/.test(env.driver ?? ""), `${description}: ${env.driver}`);
  }
});
