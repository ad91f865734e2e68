/**
 * Ctrl-C during `verify`, end to end: a child process verifies a report whose second run trains
 * for a long time; SIGINT while it trains must remove the temporary folder of the re-runs (which
 * already holds the first run's record), print one line and exit 130.
 *
 * @module
 */

import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { list, withTempDir } from "../temp_dir.ts";
import { writeRunList } from "../../src/report/run_list.ts";
import { makeRecord, tinySpec } from "../runner/fixtures.ts";

const root = new URL("../../", import.meta.url);

/** A report of two synthetic records: a 4-step run, then one that would train for hours. */
async function fixture(dir: string): Promise<string> {
  const quick = {
    ...makeRecord({ policy: "fp32", seed: 0, evalLoss: 5 }),
    spec: tinySpec("fp32", 0),
  };
  const long = tinySpec("fp32", 1);
  const slow = {
    ...makeRecord({ policy: "fp32", seed: 1, evalLoss: 5 }),
    spec: { ...long, train: { ...long.train, steps: 1_000_000 } },
  };
  await Deno.mkdir(`${dir}/runs`);
  for (const r of [quick, slow]) {
    await Deno.writeTextFile(`${dir}/runs/${r.id}.json`, JSON.stringify(r));
  }
  await Deno.writeTextFile(`${dir}/x.md`, "# x\n");
  await writeRunList(`${dir}/x.md`, {
    suite: "runner-test",
    runsDir: "runs",
    runs: [quick.id, slow.id],
  });
  return `${dir}/x.md`;
}

Deno.test("Ctrl-C during verify removes its temporary folder, says how far it got and exits 130", async () => {
  await withTempDir(async (dir) => {
    const report = await fixture(dir);
    const tmp = `${dir}/tmp`;
    await Deno.mkdir(tmp);
    const script = `
      import { getGpu } from ${JSON.stringify(new URL("src/gpu/device.ts", root).href)};
      import { verifyReport } from ${JSON.stringify(new URL("src/report/verify.ts", root).href)};
      await verifyReport(await getGpu(), ${JSON.stringify(report)}, (line) => console.error(line));
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      cwd: root,
      env: { TMPDIR: tmp, NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    let stderr = "";
    let verifyDir = "";
    let recordsBefore: string[] = [];
    let signalled = false;
    try {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        stderr += chunk;
        if (!signalled && /seed 1 step \d+/.test(stderr)) {
          // The second run trains: the first one's record is in the temporary folder (beside the
          // second one's lock file).
          [verifyDir] = await list(tmp);
          recordsBefore = (await list(`${tmp}/${verifyDir}`)).filter((f) => !f.startsWith("."));
          child.kill("SIGINT");
          signalled = true;
        }
      }
    } finally {
      clearTimeout(timer);
    }
    const { code } = await child.status;
    assertOk(signalled, `the second run never trained:\n${stderr}`);
    assertOk(verifyDir.startsWith("lpbench-verify-"), verifyDir);
    assertEquals(recordsBefore.length, 1, stderr);
    assertOk(recordsBefore[0].endsWith(".json"), recordsBefore[0]);
    assertStrictEquals(code, 130, stderr);
    assertOk(
      stderr.trimEnd().endsWith("interrupted: verified 1 of 2 runs; nothing was written"),
      stderr,
    );
    assertEquals(await list(tmp), [], "the temporary folder is removed");
    assertOk(/\[2\/2\] runner-test fp32 seed 1 step \d+/.test(stderr), stderr);
  });
});
