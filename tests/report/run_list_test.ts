import { assertEquals, assertRejects, assertStrictEquals } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";
import {
  readRunList,
  RUN_LIST_FORMAT,
  RunListError,
  runListPath,
  writeRunList,
} from "../../src/report/run_list.ts";

const rejectsWith = (p: Promise<unknown>, message: string) =>
  assertRejects(p, (e) => {
    assertStrictEquals((e as Error).message, message);
    return e instanceof RunListError;
  });

Deno.test("writeRunList writes the format, suite, report, runs folder and ids, and reads back", async () => {
  await withTempDir(async (dir) => {
    const report = `${dir}/quick.md`;
    const path = await writeRunList(report, {
      suite: "quick",
      runsDir: "runs",
      runs: ["b2", "a1"],
    });
    assertStrictEquals(path, `${dir}/quick.runs.json`);
    const expected = {
      format: RUN_LIST_FORMAT,
      suite: "quick",
      report: "quick.md",
      runsDir: "runs",
      runs: ["b2", "a1"],
    };
    assertEquals(JSON.parse(await Deno.readTextFile(path)), expected);
    assertEquals(await readRunList(report), expected);
  });
});

Deno.test("a missing run list says how to regenerate it; a missing report says so", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/quick.md`, "# quick\n");
    await rejectsWith(
      readRunList(`${dir}/quick.md`),
      `${dir}/quick.runs.json is missing: regenerate it with \`deno task report quick --out ${dir}\``,
    );
    await rejectsWith(readRunList(`${dir}/gone.md`), `${dir}/gone.md: no such report`);
  });
  await withTempDir(async (dir) => {
    const cwd = Deno.cwd();
    await Deno.mkdir(`${dir}/reports`);
    await Deno.writeTextFile(`${dir}/reports/quick.md`, "# quick\n");
    Deno.chdir(dir);
    try {
      await rejectsWith(
        readRunList("./reports/quick.md"),
        "./reports/quick.runs.json is missing: regenerate it with `deno task report quick`",
      );
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("a run list that is not valid is refused with its path and the field", async () => {
  await withTempDir(async (dir) => {
    const report = `${dir}/x.md`;
    const list = runListPath(report);
    const good = {
      format: RUN_LIST_FORMAT,
      suite: "x",
      report: "x.md",
      runsDir: "runs",
      runs: ["a"],
    };
    const cases: [unknown, string][] = [
      [
        { ...good, format: "lpbench.report-runs/v0" },
        'format: unsupported run list format "lpbench.report-runs/v0" (expected "lpbench.report-runs/v1")',
      ],
      [{ ...good, runs: ["../../etc/passwd"] }, "runs.0: expected a record id"],
      [{ ...good, runs: [] }, "runs: Too small: expected array to have >=1 items"],
      [{ ...good, runsDir: "/tmp/runs" }, "runsDir: must be relative to the list's folder"],
    ];
    for (const [content, problem] of cases) {
      await Deno.writeTextFile(list, JSON.stringify(content));
      await rejectsWith(readRunList(report), `${list}: ${problem}`);
    }
    await Deno.writeTextFile(list, "{");
    await assertRejects(readRunList(report), new RegExp(`^RunListError: ${list}: not valid JSON`));
  });
});
