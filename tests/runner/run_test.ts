import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { POLICIES } from "../../src/model/policy.ts";
import type { RunSpec } from "../../src/recipe/run_spec.ts";
import { planRuns, runSuite } from "../../src/runner/run.ts";
import { RECORD_FORMAT, type RunRecord } from "../../src/runner/record.ts";

function spec(policyName: string, seed: number): RunSpec {
  return {
    suite: "runner-test",
    recipePath: "recipes/runner-test.yaml",
    recipeHash: "0".repeat(64),
    policyName,
    baseline: "fp32",
    seed,
    model: { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 16, vocab: 256, mlp: "relu2" },
    policy: POLICIES[policyName],
    data: { corpus: "moby-dick" },
    train: {
      steps: 4,
      batch: 2,
      schedule: { kind: "constant", lr: 1e-3 },
      clip: 1,
      adamw: {},
      logEvery: 2,
      eval: { every: 4, batches: 1 },
      warmupSteps: 1,
    },
  };
}

Deno.test("runSuite writes one record per run and skips runs whose record exists", async () => {
  const gpu = await getGpu();
  const runsDir = await Deno.makeTempDir();
  const lines: string[] = [];
  const write = (line: string, transient: boolean) => transient || lines.push(line);
  try {
    const specs = [spec("fp32", 0), spec("nvfp4", 0)];
    const first = await runSuite(gpu, await planRuns(specs, runsDir), { write });
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
    assertOk(rec.hashes.data.length === 64 && rec.hashes.kernels.length === 64);
    const plan = await planRuns(specs, runsDir);
    assertOk(plan.every((p) => p.existing?.id === p.id), "both runs planned with their records");
    const again = await runSuite(gpu, plan, { write });
    assertEquals([again.ran, again.skipped], [0, 2]);
    assertEquals(again.records.map((r) => r.id).sort(), first.records.map((r) => r.id).sort());
    assertOk(lines.some((l) => l.includes("exists, skipped")));
  } finally {
    await Deno.remove(runsDir, { recursive: true });
  }
});
