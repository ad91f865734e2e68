/**
 * `deno task bench <recipe> --dry-run` refuses, as the command line runs it, what the real run
 * would refuse: exit 2 and one `file:line:col` line per problem, nothing written.
 */

import { match as assertMatch } from "node:assert/strict";
import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { list, withTempDir } from "../temp_dir.ts";

const ROOT = new URL("../..", import.meta.url);
const QUICK = await Deno.readTextFile(new URL("recipes/quick.yaml", ROOT));

async function bench(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", "bench", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `text` with each `[from, to]` replaced; throws where `from` is not in it. */
function edit(text: string, ...changes: [string, string][]): string {
  for (const [from, to] of changes) {
    if (!text.includes(from)) throw new Error(`recipes/quick.yaml no longer has ${from}`);
    text = text.replace(from, to);
  }
  return text;
}

/** The 1-based line of `text` that starts with `prefix`. */
function lineOf(text: string, prefix: string): number {
  const i = text.split("\n").findIndex((l) => l.startsWith(prefix));
  if (i < 0) throw new Error(`no line starts with ${prefix}`);
  return i + 1;
}

Deno.test("bench --dry-run refuses a validation split too small for one evaluation batch: exit 2 at train.eval's line and column", async () => {
  await withTempDir(async (dir) => {
    // 8 × 64 + 1 = 513 tokens per evaluation batch; 0.01 % of Moby Dick's ≈ 1.2 MB is ≈ 120.
    const text = edit(QUICK, ["val_fraction: 0.05", "val_fraction: 0.0001"]);
    await Deno.writeTextFile(`${dir}/small.yaml`, text);
    await Deno.writeTextFile(`${dir}/ok.yaml`, QUICK);
    const ok = await bench(`${dir}/ok.yaml`, "--dry-run", "--out", `${dir}/reports`);
    assertStrictEquals(ok.code, 0, `the unedited recipe passes: ${ok.stderr}`);

    const r = await bench(`${dir}/small.yaml`, "--dry-run", "--out", `${dir}/reports`);
    assertStrictEquals(r.code, 2, r.stderr);
    const m = r.stderr.match(
      /^(.*small\.yaml):(\d+):(\d+) train\.eval: one evaluation batch \(train\.batch 8 × seq_len 64 \+ 1 = 513 tokens\) does not fit the validation split \((\d+) tokens\)/,
    );
    assertOk(m, r.stderr);
    assertStrictEquals(m[1], `${dir}/small.yaml`);
    const line = lineOf(text, "  eval:");
    assertStrictEquals(Number(m[2]), line, "the line of train.eval");
    assertStrictEquals(Number(m[3]), text.split("\n")[line - 1].indexOf("{") + 1, "its value");
    assertOk(Number(m[4]) < 513, m[4]);
    assertStrictEquals(withoutMesaNotices(r.stderr).trimEnd().split("\n").length, 1, r.stderr);
    assertOk(!r.stderr.includes("    at "), "no stack trace");
    assertStrictEquals(r.stdout, "", "no plan is printed for a recipe with problems");
    assertEquals(await list(dir), ["ok.yaml", "small.yaml"], "nothing is written");
  });
});

Deno.test("bench --dry-run refuses runs the adapter cannot hold, exit 2 at the model key, as the real run does", async () => {
  await withTempDir(async (dir) => {
    // Logits of 16 × 2048 × 65536 f32 = 8 GiB, more than any adapter binds; the data still holds
    // an evaluation batch (16 × 2048 + 1 tokens), so only memory is wrong.
    const text = edit(
      QUICK,
      ["seq_len: 64, vocab: 256", "seq_len: 2048, vocab: 65536"],
      ["batch: 8", "batch: 16"],
    );
    const recipe = `${dir}/huge.yaml`;
    await Deno.writeTextFile(recipe, text);
    const dry = await bench(recipe, "--dry-run", "--policy", "fp32,nvfp4", "--out", `${dir}/out`);
    assertStrictEquals(dry.code, 2, dry.stderr);
    const problems = withoutMesaNotices(dry.stderr).trimEnd().split("\n");
    assertStrictEquals(problems.length, 2, dry.stderr);
    const model = lineOf(text, "model:");
    for (const [i, policy] of ["fp32", "nvfp4"].entries()) {
      assertMatch(
        problems[i],
        new RegExp(
          `^${recipe.replaceAll(".", "\\.")}:${model}:1 model \\(policy ${policy}\\): ` +
            "the run needs a 8\\.00 GiB buffer \\(the logits or a layer's activations\\) but " +
            'adapter ".*" binds at most [\\d.]+ GiB',
        ),
      );
    }
    assertOk(!dry.stderr.includes("    at "), "no stack trace");
    // The plan says so per run, and the total expects no time for runs that cannot run.
    assertMatch(dry.stdout, /quick fp32 seed 0: to train, does not fit the adapter\n/);
    assertMatch(
      dry.stdout,
      /\n4 runs: 0 with a record, 4 to train; 4 do not fit the adapter\n$/,
    );
    assertOk(!dry.stdout.includes("expected ≈"), dry.stdout);
    // The real run refuses the same runs with the same lines, before it writes anything.
    const real = await bench(recipe, "--policy", "fp32,nvfp4", "--out", `${dir}/out`);
    assertStrictEquals(real.code, 2, real.stderr);
    assertStrictEquals(withoutMesaNotices(real.stderr), withoutMesaNotices(dry.stderr));
    assertEquals(await list(dir), ["huge.yaml"], "nothing is written");
  });
});

/**
 * `stderr` without Mesa's own notices ("ATTENTION: default value of option mesa_glthread overridden
 * by environment.", printed by the driver when CI sets Mesa options), which are not lpbench's.
 */
function withoutMesaNotices(stderr: string): string {
  return stderr.split("\n").filter((line) => !line.startsWith("ATTENTION: ")).join("\n");
}
