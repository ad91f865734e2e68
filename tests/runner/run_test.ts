import { assertEquals, assertOk, assertRejects, assertStrictEquals } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { planRuns, runSuite } from "../../src/runner/run.ts";
import { readRecord, RECORD_FORMAT, type RunRecord } from "../../src/runner/record.ts";
import { list, withTempDir } from "../temp_dir.ts";
import { TrainingInterrupted } from "../../src/train/loop.ts";
import { makeRecord, tinySpec } from "./fixtures.ts";

Deno.test("runSuite writes one record per run and skips runs whose record exists", async () => {
  const gpu = await getGpu();
  const runsDir = await Deno.makeTempDir();
  const lines: string[] = [];
  const write = (line: string, transient: boolean) => transient || lines.push(line);
  try {
    const specs = [tinySpec("fp32", 0), tinySpec("nvfp4", 0)];
    const first = await runSuite(gpu, await planRuns(specs, runsDir, gpu.implementation.name), {
      write,
    });
    assertEquals([first.ran, first.skipped], [2, 0]);
    const files = [...Deno.readDirSync(runsDir)].map((e) => e.name).sort();
    assertStrictEquals(files.length, 2);
    assertOk(files.every((f) => /^[0-9a-f]{64}\.json$/.test(f)), files.join());
    const rec = JSON.parse(Deno.readTextFileSync(`${runsDir}/${files[0]}`)) as RunRecord;
    assertStrictEquals(rec.format, RECORD_FORMAT);
    assertStrictEquals(`${rec.id}.json`, files[0]);
    assertEquals(rec.result.train.map((p) => p.step), [2, 4]);
    assertEquals(rec.result.eval.map((p) => p.step), [4]);
    assertStrictEquals(rec.env.deno, Deno.version.deno);
    assertEquals(rec.env.implementation, gpu.implementation);
    assertOk(rec.hashes.data.length === 64 && rec.hashes.kernels.length === 64);
    const plan = await planRuns(specs, runsDir, gpu.implementation.name);
    assertOk(plan.every((p) => p.existing?.id === p.id), "both runs planned with their records");
    const again = await runSuite(gpu, plan, { write });
    assertEquals([again.ran, again.skipped], [0, 2]);
    assertEquals(again.records.map((r) => r.id).sort(), first.records.map((r) => r.id).sort());
    assertOk(lines.some((l) => l.includes("exists, skipped")));
    // A corrupt record is not trusted: the run is trained again and its record rewritten.
    const broken = plan[1].path;
    await Deno.writeTextFile(broken, '{"format": "lpbench.run/v1", "id": "');
    const third = await runSuite(gpu, await planRuns(specs, runsDir, gpu.implementation.name), {
      write,
    });
    assertEquals([third.ran, third.skipped], [1, 1]);
    assertOk(
      lines.some((l) =>
        l.includes(`not a valid record, training again: ${broken}: not valid JSON`)
      ),
    );
    assertStrictEquals((await readRecord(broken, plan[1].id)).id, plan[1].id);
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});

Deno.test("planRuns does not trust a record file that is corrupt or holds another run", async () => {
  await withTempDir(async (runsDir) => {
    const specs = [tinySpec("fp32", 0), tinySpec("fp32", 1)];
    const [a, b] = await planRuns(specs, runsDir, "deno");
    assertOk(a.existing === undefined && a.invalid === undefined, "no record yet");
    const other = makeRecord({ policy: "fp32", seed: 1, evalLoss: 2 });
    await Deno.writeTextFile(a.path, "{");
    await Deno.writeTextFile(b.path, JSON.stringify(other));
    const [a2, b2] = await planRuns(specs, runsDir, "deno");
    assertStrictEquals(a2.existing, undefined);
    assertOk(a2.invalid?.message.startsWith(`${a.path}: not valid JSON (`), a2.invalid?.message);
    assertStrictEquals(b2.existing, undefined);
    assertStrictEquals(
      b2.invalid?.message,
      `${b.path}: holds the record of run ${other.id}, not of ${b.id}`,
    );
  });
});

Deno.test("a run's id and record path depend on the WebGPU implementation it is planned on", async () => {
  await withTempDir(async (runsDir) => {
    const specs = [tinySpec("fp32", 0)];
    const [deno] = await planRuns(specs, runsDir, "deno");
    const [dawn] = await planRuns(specs, runsDir, "dawn");
    assertOk(deno.id !== dawn.id && deno.path !== dawn.path);
    assertEquals([deno.implementation, dawn.implementation], ["deno", "dawn"]);
    assertEquals((await planRuns(specs, runsDir, "dawn"))[0].id, dawn.id);
  });
});

Deno.test("runSuite refuses a plan made for another implementation before training", async () => {
  const gpu = await getGpu();
  await withTempDir(async (runsDir) => {
    const other = gpu.implementation.name === "deno" ? "dawn" : "deno";
    const plan = await planRuns([tinySpec("fp32", 0)], runsDir, other);
    await assertRejects(
      () => runSuite(gpu, plan, { write: () => {} }),
      (e) =>
        e instanceof Error && e.message.endsWith(
          `was planned on WebGPU implementation "${other}" but the Gpu is ` +
            `"${gpu.implementation.name}"`,
        ),
    );
    assertEquals([...Deno.readDirSync(runsDir)], []);
  });
});

Deno.test("a run says it has started before its first logged step", async () => {
  const gpu = await getGpu();
  await withTempDir(async (runsDir) => {
    const lines: string[] = [];
    const plan = await planRuns([tinySpec("fp32", 0)], runsDir, gpu.implementation.name);
    await runSuite(gpu, plan, { write: (line) => lines.push(line) });
    const start = lines.findIndex((l) =>
      /: building the model, then \d+ steps \(first figures at step \d+\)$/.test(l)
    );
    const step = lines.findIndex((l) => / step \d+\/\d+ loss /.test(l));
    assertOk(start >= 0 && step > start, lines.join("\n"));
  });
});

Deno.test("a run interrupted with checkpoints on resumes to the record of an uninterrupted run", async () => {
  const gpu = await getGpu();
  await withTempDir(async (dir) => {
    const specs = [{ ...tinySpec("nvfp4", 0), train: { ...tinySpec("nvfp4", 0).train, steps: 6 } }];
    const whole = await runSuite(
      gpu,
      await planRuns(specs, `${dir}/a/runs`, gpu.implementation.name),
      { write: () => {} },
    );
    const controller = new AbortController();
    const plan = await planRuns(specs, `${dir}/b/runs`, gpu.implementation.name);
    const options = { checkpointEvery: 4, checkpointDir: `${dir}/b/checkpoints` };
    const stopped = await runSuite(gpu, plan, {
      ...options,
      signal: controller.signal,
      write: (line) => line.includes("step 2/6") && controller.abort("SIGTERM"),
    }).then(() => undefined, (e) => e);
    assertOk(stopped instanceof TrainingInterrupted, String(stopped));
    assertEquals([stopped.step, stopped.checkpoint], [
      2,
      `${dir}/b/checkpoints/${plan[0].id}.safetensors`,
    ]);
    assertEquals(await list(`${dir}/b/runs`), [], "no record, and the run's lock is released");
    const lines: string[] = [];
    const resumed = await runSuite(gpu, plan, { ...options, write: (l) => lines.push(l) });
    assertOk(lines.some((l) => l.includes("resuming from checkpoint")), lines.join("\n"));
    const [a, b] = [whole.records[0].result, resumed.records[0].result];
    assertEquals(b.train, a.train);
    assertEquals(b.eval, a.eval);
    assertEquals(await list(`${dir}/b/checkpoints`), [], "the checkpoint is removed");
  });
});

Deno.test("a run another live process holds is skipped; its record is taken once written", async () => {
  const gpu = await getGpu();
  await withTempDir(async (runsDir) => {
    const plan = await planRuns([tinySpec("fp32", 0)], runsDir, gpu.implementation.name);
    const other = { host: "elsewhere", pid: 1, since: "2026-12-06T00:00:00Z", token: "t" };
    await Deno.writeTextFile(`${runsDir}/.${plan[0].id}.lock`, JSON.stringify(other));
    const lines: string[] = [];
    const held = await runSuite(gpu, plan, { write: (l) => lines.push(l) });
    assertEquals([held.ran, held.skipped, held.busy], [0, 0, 1]);
    assertOk(lines.some((l) => l.includes("another process is training it (elsewhere pid 1")));
    // Once the other process published its record, a process that planned without it takes it.
    await runSuite(gpu, await planRuns([tinySpec("fp32", 0)], `${runsDir}/x`, "deno"), {
      write: () => {},
    });
    await Deno.copyFile(`${runsDir}/x/${plan[0].id}.json`, plan[0].path);
    const taken = await runSuite(gpu, plan, { write: (l) => lines.push(l) });
    assertEquals([taken.ran, taken.skipped, taken.busy], [0, 1, 0]);
    assertOk(lines.some((l) => l.includes("written by another process, skipped")));
  });
});
