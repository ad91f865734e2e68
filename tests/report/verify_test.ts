import {
  assertEquals,
  assertOk,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { RunListError, writeRunList } from "../../src/report/run_list.ts";
import {
  cleanUpInterrupted,
  isSoftwareAdapter,
  reportRecords,
  sameNumerics,
  verifyReport,
} from "../../src/report/verify.ts";
import { writeReport } from "../../src/report/write.ts";
import { type Environment, RecordError } from "../../src/runner/record.ts";
import { planRuns, runSuite } from "../../src/runner/run.ts";
import { makeRecord, tinySpec } from "../runner/fixtures.ts";

Deno.test("reportRecords reads the records of the run list, in its order, not the markdown's", async () => {
  await withTempDir(async (dir) => {
    const [a, b] = [0, 1].map((seed) => makeRecord({ policy: "bf16", seed, evalLoss: 2 }));
    await Deno.mkdir(`${dir}/records`);
    for (const r of [a, b]) {
      await Deno.writeTextFile(`${dir}/records/${r.id}.json`, JSON.stringify(r));
    }
    await Deno.writeTextFile(`${dir}/x.md`, `[a](runs/${"0".repeat(64)}.json)\n`);
    await writeRunList(`${dir}/x.md`, { suite: "x", runsDir: "records", runs: [b.id, a.id] });
    assertEquals((await reportRecords(`${dir}/x.md`)).map((r) => r.id), [b.id, a.id]);
  });
});

Deno.test("reportRecords refuses a missing list, a missing record and another run's record", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/x.md`, "# x\n");
    await assertRejects(
      reportRecords(`${dir}/x.md`),
      (e) => e instanceof RunListError && /regenerate it with `deno task report x/.test(e.message),
    );
    const a = makeRecord({ policy: "bf16", seed: 0, evalLoss: 2 });
    await writeRunList(`${dir}/x.md`, { suite: "x", runsDir: "runs", runs: [a.id] });
    await assertRejects(
      reportRecords(`${dir}/x.md`),
      (e) =>
        e instanceof RecordError &&
        e.message === `${dir}/runs/${a.id}.json: missing (listed in ${dir}/x.runs.json)`,
    );
    const b = makeRecord({ policy: "bf16", seed: 1, evalLoss: 2 });
    await Deno.mkdir(`${dir}/runs`);
    await Deno.writeTextFile(`${dir}/runs/${a.id}.json`, JSON.stringify(b));
    await assertRejects(
      reportRecords(`${dir}/x.md`),
      (e) =>
        e instanceof RecordError && e.reason === `holds the record of run ${b.id}, not of ${a.id}`,
    );
  });
});

Deno.test("verifyReport re-runs a written report: bit-identical, and a changed record differs", async () => {
  const gpu = await getGpu();
  await withTempDir(async (dir) => {
    const runsDir = `${dir}/reports/runs`;
    const lines: string[] = [];
    const write = (line: string, transient: boolean) => transient || lines.push(line);
    const { records } = await runSuite(
      gpu,
      await planRuns([tinySpec("fp32", 0)], runsDir, gpu.implementation.name),
      {
        write,
      },
    );
    const { path } = await writeReport("runner-test", { runsDir, outDir: `${dir}/reports` });
    const [ok] = await verifyReport(gpu, path, write);
    assertEquals(
      [ok.id, ok.label, ok.ok, ok.detail],
      [
        records[0].id,
        "runner-test fp32 seed 0",
        true,
        "bit-identical loss curves (same adapter, Deno and WebGPU implementation" +
        (isSoftwareAdapter(records[0].env) ? ", and the software adapter's CPU)" : ")"),
      ],
    );
    assertOk(lines.includes(`reproduced: runner-test fp32 seed 0: ${ok.detail}`));
    const file = `${runsDir}/${records[0].id}.json`;
    const changed = JSON.parse(await Deno.readTextFile(file));
    changed.result.eval.at(-1).loss += 1e-3;
    await Deno.writeTextFile(file, JSON.stringify(changed));
    const [differs] = await verifyReport(gpu, path, write);
    assertStrictEquals(differs.ok, false);
    assertOk(differs.detail.startsWith("loss curves differ on the same adapter"), differs.detail);
    if (!isSoftwareAdapter(records[0].env)) return;
    // The same record from a software adapter on another CPU is held to the cross-adapter tolerance.
    changed.env.cpu = { model: "Another CPU", cores: 2, simd: ["sse4_2"] };
    await Deno.writeTextFile(file, JSON.stringify(changed));
    const [elsewhere] = await verifyReport(gpu, path, write);
    assertStrictEquals(elsewhere.ok, true);
    assertOk(/on Another CPU \[sse4_2\], now .* on /.test(elsewhere.detail), elsewhere.detail);
  });
});

Deno.test("sameNumerics: a software adapter's results belong to its CPU; a GPU's do not", () => {
  const env = (description: string, model: string, simd?: string[]) =>
    ({
      deno: "2.9.6",
      implementation: { name: "deno", version: "2.9.6", toggles: [] },
      adapter: { description, isFallbackAdapter: false },
      cpu: { model, cores: 2, ...(simd ? { simd } : {}) },
    }) as unknown as Environment;
  const [lvp, h200] = ["llvmpipe (LLVM 15.0.6, 256 bits)", "NVIDIA H200"];
  assertStrictEquals(
    sameNumerics(env(lvp, "AMD EPYC", ["avx2"]), env(lvp, "AMD EPYC", ["avx2"])),
    true,
  );
  assertStrictEquals(sameNumerics(env(lvp, "AMD EPYC"), env(lvp, "Intel Xeon")), false);
  assertStrictEquals(
    sameNumerics(env(lvp, "Xeon", ["avx2"]), env(lvp, "Xeon", ["avx2", "avx512f"])),
    false,
  );
  assertStrictEquals(sameNumerics(env(h200, "AMD EPYC"), env(h200, "Intel Xeon")), true);
  assertStrictEquals(sameNumerics(env(lvp, "AMD EPYC"), env(h200, "AMD EPYC")), false);
});

Deno.test("sameNumerics: different driver versions differ; a record without one is not held against", () => {
  const env = (driver?: string) =>
    ({
      deno: "2.9.6",
      implementation: { name: "deno", version: "2.9.6", toggles: [] },
      adapter: { description: "NVIDIA H200", isFallbackAdapter: false },
      ...(driver ? { driver } : {}),
    }) as unknown as Environment;
  assertStrictEquals(sameNumerics(env("NVIDIA 570.133.20"), env("NVIDIA 570.133.20")), true);
  assertStrictEquals(sameNumerics(env("NVIDIA 570.133.20"), env("NVIDIA 575.51.03")), false);
  assertStrictEquals(sameNumerics(env(), env("NVIDIA 575.51.03")), true);
});

Deno.test("verify counts its progress over all the report's runs, not [1/1] per run", async () => {
  const gpu = await getGpu();
  await withTempDir(async (dir) => {
    const runsDir = `${dir}/reports/runs`;
    const specs = [tinySpec("fp32", 0), tinySpec("fp32", 1)];
    await runSuite(gpu, await planRuns(specs, runsDir, gpu.implementation.name), {
      write: () => {},
    });
    const { path } = await writeReport("runner-test", { runsDir, outDir: `${dir}/reports` });
    const lines: string[] = [];
    const verdicts = await verifyReport(gpu, path, (line) => lines.push(line));
    assertEquals(verdicts.map((v) => v.ok), [true, true]);
    const counted = lines.filter((l) => l.startsWith("["));
    assertOk(counted.length > 2, lines.join("\n"));
    for (const line of counted) {
      const seed = Number(/ seed (\d+)/.exec(line)![1]);
      assertOk(line.startsWith(`[${seed + 1}/2] runner-test fp32 seed ${seed}`), line);
    }
  });
});

Deno.test("cleanUpInterrupted removes verify's temporary folder and its records, and says how far it got", async () => {
  await withTempDir(async (dir) => {
    const tmp = `${dir}/lpbench-verify-x`;
    await Deno.mkdir(tmp);
    await Deno.writeTextFile(`${tmp}/${"a".repeat(64)}.json`, "{}\n");
    assertStrictEquals(
      cleanUpInterrupted(tmp, 1, 2),
      "interrupted: verified 1 of 2 runs; nothing was written",
    );
    assertThrows(() => Deno.statSync(tmp), Deno.errors.NotFound);
    // Already gone (the finally block got there first): still a message, no error.
    assertStrictEquals(
      cleanUpInterrupted(tmp, 0, 3),
      "interrupted: verified 0 of 3 runs; nothing was written",
    );
  });
});
