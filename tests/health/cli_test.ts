import { assertEquals, assertOk } from "../assert.ts";
import { cli as run } from "../cli_run.ts";
import { list, withTempDir } from "../temp_dir.ts";
import { makeRecord } from "../runner/fixtures.ts";
import { writeReport } from "../../src/report/write.ts";
import type { RunRecord } from "../../src/runner/record.ts";
import { healthPoint, SATURATED, withHealth } from "./fixtures.ts";

const cli = (...args: string[]) => run(args);

/** An NVFP4 run with diagnostics at steps 50 and 100 and the planted saturation outlier. */
const nvfp4 = () =>
  withHealth(makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2.1 }), [
    healthPoint(50, "nvfp4", [SATURATED]),
    healthPoint(100, "nvfp4", [SATURATED]),
  ]);

/** The lines of the list titled `title` in `out` (its header first). */
function listed(out: string, title: string): string[] {
  const block = out.split("\n\n").find((b) => b.startsWith(title));
  assertOk(block, `no list "${title}" in\n${out}`);
  return block.trimEnd().split("\n").slice(1);
}

/** Writes `records` to `dir`/runs as record files. */
async function writeRecords(dir: string, records: readonly RunRecord[]): Promise<void> {
  await Deno.mkdir(`${dir}/runs`, { recursive: true });
  for (const r of records) await Deno.writeTextFile(`${dir}/runs/${r.id}.json`, JSON.stringify(r));
}

Deno.test("deno task health prints a record's alarms, then its worst GEMMs and operands", async () => {
  await withTempDir(async (dir) => {
    await writeRecords(dir, [nvfp4()]);
    const r = await cli("health", `${dir}/runs/${nvfp4().id}.json`, "--top", "3");
    assertEquals(r.code, 0, r.stderr);
    const alarms = listed(r.stdout, "alarms, worst first (2)");
    assertOk(/^run +step +layer +GEMM +operand +measure +value +limit$/.test(alarms[0]), alarms[0]);
    assertOk(
      /^suite-a\/nvfp4\/seed 0 +50 +blocks\.1\.fc1 +wgrad +a +saturation +0\.02000 +> 0\.001$/
        .test(alarms[1]),
      alarms[1],
    );
    // Wgrad has the largest output error (0.17), in every layer: the first three rows.
    const outputs = listed(r.stdout, "GEMM outputs by relL2 vs FP32");
    assertEquals(outputs.length, 4);
    assertOk(outputs.slice(1).every((l) => /\bwgrad +f32 +0\.1700$/.test(l)), outputs.join("\n"));
    const saturated = listed(r.stdout, "operands by saturation");
    assertOk(/blocks\.1\.fc1 +wgrad +a \(dy\) +nvfp4 +0\.02000$/.test(saturated[1]), saturated[1]);
    const titles = [
      "GEMM outputs by gain furthest from 1",
      "operands by relL2",
      "operands by underflow",
    ];
    for (const title of titles) assertEquals(listed(r.stdout, title).length, 4, title);
  });
});

Deno.test("deno task health reads a report's runs, and a report's heatmap lies beside it", async () => {
  await withTempDir(async (dir) => {
    const bf16 = withHealth(makeRecord({ policy: "bf16", seed: 0, evalLoss: 2 }), [
      healthPoint(100, "bf16"),
    ]);
    await writeRecords(dir, [bf16, nvfp4()]);
    await writeReport("suite-a", { runsDir: `${dir}/runs`, outDir: dir });
    assertOk((await list(`${dir}/suite-a`)).includes("health-rel-l2.svg"));
    const r = await cli("health", `${dir}/suite-a.md`, "--top", "1");
    assertEquals(r.code, 0, r.stderr);
    assertOk(r.stdout.startsWith("2 of 2 runs have diagnostics"), r.stdout);
    assertEquals(listed(r.stdout, "alarms, worst first (2)").length, 2); // header and one row
  });
});

Deno.test("deno task health says so and exits 0 when no run has diagnostics", async () => {
  await withTempDir(async (dir) => {
    const plain = makeRecord({ policy: "bf16", seed: 0, evalLoss: 2 });
    await writeRecords(dir, [plain]);
    const r = await cli("health", `${dir}/runs/${plain.id}.json`);
    assertEquals(r.code, 0, r.stderr);
    assertOk(r.stdout.startsWith("no run has numeric-health diagnostics (1 run read;"), r.stdout);
  });
});

Deno.test("deno task health refuses a missing file, a bad argument or --top with exit 2 and no stack", async () => {
  for (
    const [args, message] of [
      [["nowhere/r.json"], /nowhere\/r\.json: no such record/],
      [["nowhere/x.md"], /nowhere\/x\.md: no such report/],
      [["reports"], /reports is neither a run record .* nor a report/],
      [[], /health takes one record or report/],
      [["reports/quick.md", "--top", "0"], /--top must be a positive integer, got 0/],
      [["reports/quick.md", "--top", "ten"], /--top must be a positive integer, got ten/],
    ] as const
  ) {
    const r = await cli("health", ...args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stdout}`);
    assertOk(message.test(r.stderr) && !/ at file:/.test(r.stderr), r.stderr);
  }
});

Deno.test("deno task health --help describes the task", async () => {
  const r = await cli("health", "--help");
  assertEquals(r.code, 0);
  assertOk(r.stdout.startsWith("Usage: deno task health <record.json | report.md> [--top N]"));
});
