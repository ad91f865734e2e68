import { match as assertMatch } from "node:assert/strict";
import { cli as run } from "./cli_run.ts";
import { assertEquals, assertOk, assertStrictEquals } from "./assert.ts";

const cli = (...args: string[]) => run(args);

Deno.test("bench --dry-run prints the expanded plan of the default recipe", async () => {
  const r = await cli("bench", "--dry-run");
  assertStrictEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^quick \(recipes\/quick\.yaml, recipe [0-9a-f]{12}\)/);
  assertMatch(r.stdout, /14 runs/);
  const filtered = await cli("bench", "--dry-run", "--policy", "fp32,nvfp4", "--seeds", "1");
  assertMatch(filtered.stdout, /\n2 runs/);
});

Deno.test("bench with a bad recipe exits 2 with file:line:column, no stack, nothing written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const recipe = `${dir}/bad.yaml`;
    await Deno.writeTextFile(
      recipe,
      (await Deno.readTextFile(new URL("../recipes/quick.yaml", import.meta.url)))
        .replace("d_model: 64", "d_model: 60").replace("steps: 120", "steps: .inf"),
    );
    const r = await cli("bench", recipe, "--out", `${dir}/reports`);
    assertStrictEquals(r.code, 2);
    assertMatch(r.stderr, /bad\.yaml:\d+:\d+ model\.d_model: must be a multiple of 16, got 60/);
    assertMatch(r.stderr, /bad\.yaml:\d+:\d+ train\.steps: /);
    assertOk(!r.stderr.includes("    at "), "no stack trace");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["bad.yaml"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench refuses runs that would not fit the adapter's memory, exit 2, nothing written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const recipe = `${dir}/huge.yaml`;
    await Deno.writeTextFile(
      recipe,
      (await Deno.readTextFile(new URL("../recipes/quick.yaml", import.meta.url)))
        .replace("seq_len: 64, vocab: 256", "seq_len: 2048, vocab: 65536")
        .replace("batch: 8", "batch: 16"), // the data holds an evaluation batch; the logits do not fit
    );
    const r = await cli("bench", recipe, "--out", `${dir}/reports`);
    assertStrictEquals(r.code, 2, r.stderr);
    assertMatch(
      r.stderr,
      /huge\.yaml:\d+:\d+ model \(policy fp32\): the run needs a [\d.]+ GiB buffer/,
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["huge.yaml"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Ctrl-C during a run exits 130 and leaves no partial record", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const recipe = `${dir}/long.yaml`;
    await Deno.writeTextFile(
      recipe,
      (await Deno.readTextFile(new URL("../recipes/quick.yaml", import.meta.url)))
        .replace("steps: 120", "steps: 100000").replace("seeds: [0, 1]", "seeds: [0]"),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli.ts", "bench", recipe, "--policy", "fp32", "--out", `${dir}/out`],
      cwd: new URL("..", import.meta.url),
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Long enough to be inside the first run (data, kernels and the first steps) on a slow CPU.
    await new Promise((r) => setTimeout(r, 10_000));
    child.kill("SIGINT");
    const { code, stderr } = await child.output();
    const err = new TextDecoder().decode(stderr);
    assertStrictEquals(code, 130, err);
    assertMatch(
      err,
      /interrupted \(SIGINT\): finished runs keep their records; the run in progress left none/,
    );
    const runs = `${dir}/out/runs`;
    const left = await Array.fromAsync(Deno.readDir(runs)).catch(() => []);
    assertEquals(left, [], "no record, lock or temporary file is left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGUSR2 (a scheduler's preemption notice) exits 130 with a checkpoint to resume from", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "cli.ts",
        "bench",
        "recipes/quick.yaml",
        "--policy",
        "fp32",
        "--seeds",
        "0",
        "--steps",
        "100000",
        "--checkpoint-every",
        "1000",
        "--out",
        `${dir}/out`,
      ],
      cwd: new URL("..", import.meta.url),
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await new Promise((r) => setTimeout(r, 10_000));
    child.kill("SIGUSR2");
    const { code, stderr } = await child.output();
    const err = new TextDecoder().decode(stderr);
    assertStrictEquals(code, 130, err);
    assertMatch(
      err,
      /interrupted \(SIGUSR2\): .* left a checkpoint at step \d+ \(.*\/out\/checkpoints\/[0-9a-f]{64}\.safetensors\): a retry resumes it/,
    );
    assertEquals(await Array.fromAsync(Deno.readDir(`${dir}/out/runs`)), [], "no record or lock");
    assertStrictEquals((await Array.fromAsync(Deno.readDir(`${dir}/out/checkpoints`))).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report without records, verify without a report or its run list exit 2 with a message", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await cli("report", "--out", dir);
    assertStrictEquals(r.code, 2);
    assertMatch(r.stderr, /no run records under/);
    const v = await cli("verify");
    assertStrictEquals(v.code, 2);
    assertMatch(v.stderr, /verify takes one report/);
    await Deno.writeTextFile(`${dir}/quick.md`, "# quick\n");
    const old = await cli("verify", `${dir}/quick.md`);
    assertStrictEquals(old.code, 2, old.stderr);
    assertStrictEquals(
      old.stderr,
      `error: ${dir}/quick.runs.json is missing: regenerate it with ` +
        `\`deno task report quick --out ${dir}\`\n`,
    );
    const none = await cli("verify", `${dir}/none.md`);
    assertStrictEquals(none.code, 2);
    assertStrictEquals(none.stderr, `error: verify: ${dir}/none.md: no such report\n`);
    const u = await cli("frobnicate");
    assertStrictEquals(u.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report of a suite without records or of a .md path exits 2 with one line naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const none = await cli("report", "nonexistent", "--out", dir);
    assertStrictEquals(none.code, 2, none.stderr);
    assertStrictEquals(
      none.stderr,
      `error: report: no run records for suite "nonexistent" in ${dir}/runs\n`,
    );
    const md = await cli("report", "some.md");
    assertStrictEquals(md.code, 2, md.stderr);
    assertStrictEquals(
      md.stderr,
      'error: report: "some.md" is a report file, not a suite name; give the suite: ' +
        "`deno task report some`\n",
    );
    const nested = await cli("report", "reports/h100/quick.md");
    assertStrictEquals(nested.code, 2, nested.stderr);
    assertMatch(nested.stderr, /give the suite: `deno task report quick --out reports\/h100`\n$/);
    assertEquals([...Deno.readDirSync(dir)], [], "nothing is written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verify of a file that is not a report exits 2 with one line naming it", async () => {
  const readme = await cli("verify", "README.md");
  assertStrictEquals(readme.code, 2, readme.stderr);
  assertStrictEquals(
    readme.stderr,
    'error: verify: README.md is not an lpbench report (a report begins with "# README", this ' +
      'file with "# lpbench")\n',
  );
  const missing = await cli("verify", "reports/nonexistent.md");
  assertStrictEquals(missing.code, 2, missing.stderr);
  assertStrictEquals(missing.stderr, "error: verify: reports/nonexistent.md: no such report\n");
  const yaml = await cli("verify", "recipes/quick.yaml");
  assertStrictEquals(yaml.code, 2, yaml.stderr);
  assertMatch(yaml.stderr, /^error: verify: recipes\/quick\.yaml is not a report/);
});

Deno.test("no WebGPU adapter exits 2 with one line, no stack trace", async () => {
  // Without the config Dawn (npm:webgpu) cannot load: getGpu throws GpuUnavailableError.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "-A", "cli.ts", "kernels", "--suite", "gemm", "--gpu", "dawn"],
    cwd: new URL("..", import.meta.url),
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertStrictEquals(out.code, 2, stderr);
  assertMatch(
    stderr,
    /^error: No WebGPU adapter was found \(Dawn \(npm:webgpu\) could not be loaded/,
  );
  assertStrictEquals(stderr.trimEnd().split("\n").length, 1, stderr);
});

Deno.test("each task's --help lists its own options; --help alone lists the tasks", async () => {
  const global = await cli("--help");
  assertStrictEquals(global.code, 0);
  for (const task of ["bench", "report", "verify", "kernels"]) {
    assertMatch(global.stdout, new RegExp(`^  ${task} `, "m"));
  }
  const own: Record<string, [RegExp[], RegExp[]]> = {
    bench: [[/--policy/, /--seeds/, /--steps/, /--dry-run/, /--gpu/], [/--suite/]],
    report: [[/^Usage: deno task report \[suite…\] \[--out DIR\]/, /--out DIR/], [
      /--gpu/,
      /--policy/,
    ]],
    verify: [[/^Usage: deno task verify <report\.md>/, /--gpu I/], [/--policy/, /--suite/]],
    kernels: [[/--suite LIST/, /--out FILE/, /--gpu dawn/, /--suite gemm --help/], [/--policy/]],
  };
  for (const [task, [has, lacks]] of Object.entries(own)) {
    for (const flag of ["--help", "-h"]) {
      const r = await cli(task, flag);
      assertStrictEquals(r.code, 0, `${task} ${flag}: ${r.stderr}`);
      for (const re of has) assertMatch(r.stdout, re, `${task} ${flag}`);
      for (const re of lacks) assertOk(!re.test(r.stdout), `${task} ${flag} lists ${re}`);
    }
  }
});

Deno.test("kernels --suite NAME --help prints that suite's own options", async () => {
  const gemm = await cli("kernels", "--suite", "gemm", "--help");
  assertStrictEquals(gemm.code, 0, gemm.stderr);
  assertMatch(gemm.stdout, /^Suite gemm: deno task kernels --suite gemm/);
  assertMatch(gemm.stdout, /--layouts nt,nn,tn/);
  assertMatch(gemm.stdout, /--tiles /);
  const two = await cli("kernels", "--suite", "quantize,train", "-h");
  assertStrictEquals(two.code, 0, two.stderr);
  assertMatch(two.stdout, /--mib 64/);
  assertMatch(two.stdout, /--policies /);
  const bad = await cli("kernels", "--suite", "foo", "--help");
  assertStrictEquals(bad.code, 2);
  assertStrictEquals(bad.stderr, 'error: --suite: unknown suite "foo" (quantize, gemm, train)\n');
});

Deno.test("kernels starts with only a Deno binary: no config, no npm packages", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--unstable-webgpu", "-A", "cli.ts", "kernels", "--help"],
    cwd: new URL("..", import.meta.url),
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertStrictEquals(out.code, 0, stderr);
  assertMatch(new TextDecoder().decode(out.stdout), /--suite/);
});

Deno.test("--gpu on bench, verify and kernels rejects a bad value with exit 2, naming it", async () => {
  for (const command of ["bench", "verify", "kernels"]) {
    const r = await cli(command, "--gpu", "metal", ...(command === "verify" ? ["x.md"] : []));
    assertStrictEquals(r.code, 2, `${command}: ${r.stderr}`);
    assertStrictEquals(
      r.stderr,
      'error: --gpu: "metal" is not a WebGPU implementation (deno, dawn, auto)\n',
    );
  }
  const help = await cli("kernels", "--help");
  assertMatch(help.stdout, /--gpu dawn +Dawn through npm:webgpu/);
});

Deno.test("kernels --gpu dawn runs the suite on Dawn and says so in its environment line", async () => {
  const r = await cli(
    "kernels",
    "--suite",
    "gemm",
    "--sizes",
    "64",
    "--layouts",
    "nt",
    "--gpu",
    "dawn",
  );
  assertStrictEquals(r.code, 0, r.stderr);
  assertMatch(
    r.stdout,
    /^Environment: .*; WebGPU Dawn \(npm:webgpu \d+\.\d+\.\d+\), toggles backend=/m,
  );
});

Deno.test("bench --gpu dawn records Dawn; verify re-runs on the records' implementation", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const args = ["recipes/quick.yaml", "--policy", "fp32", "--seeds", "0", "--steps", "12"];
    const bench = await cli("bench", ...args, "--out", dir, "--gpu", "dawn");
    assertStrictEquals(bench.code, 0, bench.stderr);
    const [file] = [...Deno.readDirSync(`${dir}/runs`)].map((e) => e.name);
    const record = JSON.parse(await Deno.readTextFile(`${dir}/runs/${file}`));
    assertStrictEquals(record.env.implementation.name, "dawn");
    // Other steps than the recipe's: a suite of their own.
    const report = await Deno.readTextFile(`${dir}/quick-steps-12.md`);
    assertMatch(report, /--steps 12 --out .* --gpu dawn\n/);
    const verify = await cli("verify", `${dir}/quick-steps-12.md`);
    assertStrictEquals(verify.code, 0, verify.stderr);
    assertMatch(verify.stderr, /same adapter, Deno and WebGPU implementation/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench needs no WebGPU adapter when every run has its record: it only rewrites the report", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/runs`);
    for (const e of Deno.readDirSync(new URL("../reports/runs", import.meta.url))) {
      await Deno.copyFile(
        new URL(`../reports/runs/${e.name}`, import.meta.url),
        `${dir}/runs/${e.name}`,
      );
    }
    // DENO_WEBGPU_BACKEND=dx12 leaves Deno's WebGPU without an adapter on Linux and macOS.
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli.ts", "bench", "recipes/quick.yaml", "--out", dir],
      cwd: new URL("..", import.meta.url),
      env: { NO_COLOR: "1", DENO_WEBGPU_BACKEND: "dx12" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertStrictEquals(out.code, 0, stderr);
    assertMatch(stderr, /every run has a record in .*: nothing to train/);
    assertMatch(await Deno.readTextFile(`${dir}/quick.md`), /\*\*Runs\*\*: 14 \(seeds 0, 1\)/);
    const noAdapter = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli.ts", "bench", "recipes/quick.yaml", "--out", `${dir}/empty`],
      cwd: new URL("..", import.meta.url),
      env: { NO_COLOR: "1", DENO_WEBGPU_BACKEND: "dx12" },
    }).output();
    assertStrictEquals(noAdapter.code, 2, "runs to train need an adapter");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
