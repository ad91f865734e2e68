import { assertEquals, assertOk, assertRejects, assertStrictEquals } from "../assert.ts";
import { writeReport } from "../../src/report/write.ts";
import { readRunList } from "../../src/report/run_list.ts";
import { makeRecord, suiteA } from "../runner/fixtures.ts";

async function withRuns(
  files: Record<string, string>,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/reports/runs`, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/reports/runs/${name}`, text);
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const runFiles = () =>
  Object.fromEntries(
    [...suiteA(), makeRecord({ suite: "other", policy: "bf16", seed: 0, evalLoss: 3 })].map((r) => [
      `${r.id}.json`,
      JSON.stringify(r, null, 1),
    ]),
  );

Deno.test("writeReport writes the report and its charts, identically when run again", async () => {
  await withRuns({ ...runFiles(), "broken.json": "{" }, async (dir) => {
    const opts = { runsDir: `${dir}/reports/runs`, outDir: `${dir}/reports` };
    const written = await writeReport("suite-a", opts);
    assertStrictEquals(written.path, `${dir}/reports/suite-a.md`);
    assertEquals(written.charts, [
      `${dir}/reports/suite-a/loss.svg`,
      `${dir}/reports/suite-a/relative-loss.svg`,
      `${dir}/reports/suite-a/throughput.svg`,
    ]);
    assertEquals(written.skipped.map((e) => e.file), [`${dir}/reports/runs/broken.json`]);
    const md = await Deno.readTextFile(written.path);
    assertOk(md.includes("](suite-a/loss.svg)") && md.includes("](suite-a/relative-loss.svg)"));
    assertOk(md.includes(`deno task verify ${dir}/reports/suite-a.md`));
    assertOk(
      md.includes("](runs/suite-a-bf16-0-r1-t0.json)"),
      "links records relative to the report",
    );
    assertOk(!md.includes("other-bf16"), "other suites' records are not in the report");
    assertStrictEquals(written.runList, `${dir}/reports/suite-a.runs.json`);
    const list = await readRunList(written.path);
    assertEquals([list.suite, list.report, list.runsDir], ["suite-a", "suite-a.md", "runs"]);
    const linked = [...md.matchAll(/\]\(runs\/([^)]+)\.json\)/g)].map((m) => m[1]);
    assertEquals(list.runs, linked, "the report's runs, in the order of its runs table");
    assertEquals(list.runs, written.summary.records.map((r) => r.id));
    const listText = await Deno.readTextFile(written.runList);
    const svgs = await Promise.all(written.charts.map((c) => Deno.readTextFile(c)));
    assertOk(svgs.every((s) => s.startsWith("<svg ")));
    await writeReport("suite-a", opts);
    assertStrictEquals(await Deno.readTextFile(written.path), md);
    assertStrictEquals(await Deno.readTextFile(written.runList), listText);
    assertEquals(await Promise.all(written.charts.map((c) => Deno.readTextFile(c))), svgs);
    const left = [
      ...Deno.readDirSync(`${dir}/reports`),
      ...Deno.readDirSync(`${dir}/reports/suite-a`),
    ];
    assertOk(left.every((e) => !e.name.endsWith(".tmp")), "no temporary files left");
  });
});

Deno.test("writeReport defaults to reports/runs and reports/", async () => {
  await withRuns(runFiles(), async (dir) => {
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      const written = await writeReport("other");
      assertStrictEquals(written.path, "reports/other.md");
      assertStrictEquals(written.runList, "reports/other.runs.json");
      assertStrictEquals((await readRunList(written.path)).runsDir, "runs");
      assertOk(
        (await Deno.readTextFile("reports/other.md")).includes("deno task verify reports/other.md"),
      );
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("writeReport refuses a suite without records and a suite name that is a path", async () => {
  await withRuns({ "broken.json": "{" }, async (dir) => {
    const opts = { runsDir: `${dir}/reports/runs`, outDir: `${dir}/reports` };
    await assertRejects(
      writeReport("suite-a", opts),
      new RegExp(
        `no run records for suite "suite-a" in ${dir}/reports/runs \\(1 unreadable record file skipped\\)`,
      ),
    );
    await assertRejects(
      writeReport("../etc", opts),
      /suite name "\.\.\/etc" is not a recipe name/,
    );
    assertEquals([...Deno.readDirSync(`${dir}/reports`)].map((e) => e.name), ["runs"]);
  });
});
