import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { loadRecipe } from "../../src/recipe/load.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import type { Recipe } from "../../src/recipe/recipe.ts";
import { type PlannedRun, planRuns } from "../../src/runner/run.ts";
import { writeReport } from "../../src/report/write.ts";
import { readRunList } from "../../src/report/run_list.ts";
import { BASE, writeRecipe } from "../recipe/fixture.ts";
import { makeRecord } from "../runner/fixtures.ts";

/** Writes a record for each planned run, as if it had trained, with final loss `loss`. */
async function record(plan: readonly PlannedRun[], loss = 2.5) {
  for (const p of plan) {
    const r = makeRecord({ policy: p.spec.policyName, seed: p.spec.seed, evalLoss: loss });
    await Deno.writeTextFile(p.path, JSON.stringify({ ...r, id: p.id, spec: p.spec }));
  }
}

async function withRecipe(test: (recipe: Recipe, dir: string) => Promise<void>) {
  const { dir, path } = await writeRecipe(BASE);
  try {
    await Deno.mkdir(`${dir}/runs`);
    await test(await loadRecipe(path), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a run with overridden steps gets its own report and leaves the recipe's report as it was", async () => {
  await withRecipe(async (recipe, dir) => {
    const runsDir = `${dir}/runs`;
    const plan = await planRuns(expandRuns(recipe), runsDir, "deno");
    await record(plan);
    const first = await writeReport("tiny", { runsDir, outDir: dir, plan });
    const before = await Deno.readTextFile(first.path);
    // `bench recipe.yaml --policy bf16 --seeds 0 --steps 30`: a suite of its own.
    const short = expandRuns(recipe, { policies: ["bf16"], seeds: [0], steps: 30 });
    assertStrictEquals(short[0].suite, "tiny-steps-30");
    await record(await planRuns(short, runsDir, "deno"), 9.9);
    const again = await writeReport("tiny", { runsDir, outDir: dir, plan });
    assertStrictEquals(await Deno.readTextFile(again.path), before);
    const overridden = await planRuns(expandRuns(recipe, { steps: 30 }), runsDir, "deno");
    const own = await writeReport("tiny-steps-30", { runsDir, outDir: dir, plan: overridden });
    assertStrictEquals(own.path, `${dir}/tiny-steps-30.md`);
    assertEquals(own.summary.records.map((r) => [r.spec.policyName, r.spec.train.steps]), [
      ["bf16", 30],
    ]);
    const md = (await Deno.readTextFile(own.path)).replace(/\s+/g, " ");
    assertOk(
      md.includes(
        "3 runs of the recipe have no record yet** (bf16 seed 1, nvfp4 seed 0, nvfp4 seed 1)",
      ),
    );
    assertOk(md.includes("deno task bench"), "a reproduce line");
    assertOk(md.includes("--steps 30"), "the reproduce line keeps the override");
  });
});

Deno.test("a filtered run does not change the recipe's report; the report can be rebuilt from its run list", async () => {
  await withRecipe(async (recipe, dir) => {
    const runsDir = `${dir}/runs`;
    const plan = await planRuns(expandRuns(recipe), runsDir, "deno");
    await record(plan);
    const written = await writeReport("tiny", { runsDir, outDir: dir, plan });
    const before = await Deno.readTextFile(written.path);
    // `bench recipe.yaml --policy bf16 --seeds 0`: the same run, the same id, its record reused.
    const filtered = await planRuns(
      expandRuns(recipe, { policies: ["bf16"], seeds: [0] }),
      runsDir,
      "deno",
    );
    assertOk(filtered[0].existing !== undefined, "the filtered run's record exists");
    await writeReport("tiny", { runsDir, outDir: dir, plan });
    assertStrictEquals(await Deno.readTextFile(written.path), before);
    // `deno task report tiny`: no plan given; the run list's plan rebuilds the same report.
    assertEquals((await readRunList(written.path)).plan?.runs.length, 4);
    await writeReport("tiny", { runsDir, outDir: dir });
    assertStrictEquals(await Deno.readTextFile(written.path), before);
  });
});

Deno.test("a report names runs as its recipe does, even where a record was trained under another name", async () => {
  await withRecipe(async (recipe, dir) => {
    const runsDir = `${dir}/runs`;
    const plan = await planRuns(expandRuns(recipe), runsDir, "deno");
    await record(plan);
    const renamed = plan.map((p) =>
      p.spec.policyName === "nvfp4" ? { ...p, spec: { ...p.spec, policyName: "fp4" } } : p
    );
    const { summary } = await writeReport("tiny", { runsDir, outDir: dir, plan: renamed });
    assertEquals(summary.policies.map((p) => p.policy), ["bf16", "fp4"]);
  });
});

Deno.test("a report writes every run's curves as a CSV beside it and links it", async () => {
  await withRecipe(async (recipe, dir) => {
    const runsDir = `${dir}/runs`;
    const plan = await planRuns(expandRuns(recipe), runsDir, "deno");
    await record(plan);
    const { path, summary } = await writeReport("tiny", { runsDir, outDir: dir, plan });
    const csv = (await Deno.readTextFile(`${dir}/tiny/curves.csv`)).trimEnd().split("\n");
    assertStrictEquals(csv[0], "policy,seed,run,split,step,loss,accuracy,grad_norm,lr");
    const points = summary.records.reduce(
      (n, r) => n + r.result.train.length + r.result.eval.length,
      0,
    );
    assertStrictEquals(csv.length, 1 + points);
    assertOk(csv[1].startsWith(`bf16,0,${plan[0].id},train,`), csv[1]);
    assertOk((await Deno.readTextFile(path)).includes("[curves.csv](tiny/curves.csv)"));
  });
});

Deno.test("a report states the run's scale, its data's size and the loss's units", async () => {
  await withRecipe(async (recipe, dir) => {
    const runsDir = `${dir}/runs`;
    const plan = await planRuns(expandRuns(recipe), runsDir, "deno");
    for (const p of plan) {
      const r = makeRecord({ policy: p.spec.policyName, seed: p.spec.seed, evalLoss: 2.1 });
      const data = { tokenizer: "byte", tokens: 100_000, trainTokens: 95_000, valTokens: 5_000 };
      await Deno.writeTextFile(p.path, JSON.stringify({ ...r, id: p.id, spec: p.spec, data }));
    }
    const { path } = await writeReport("tiny", { runsDir, outDir: dir, plan });
    const md = (await Deno.readTextFile(path)).replace(/\s+/g, " ");
    // 20 steps × 4 sequences × 32 tokens = 2,560 tokens; 2 evaluation batches of 4 × 32.
    assertOk(
      /\*\*Scale\*\*: [\d,]+ parameters, 2,560 training tokens: [\d.e+-]+ tokens per parameter; 0\.0269 epochs over the training split \(95,000 tokens\); each evaluation reads 256 of the 5,000 validation tokens\./
        .test(md),
      md.slice(md.indexOf("**Scale**"), md.indexOf("**Scale**") + 300),
    );
    assertOk(
      md.includes("bits per byte = nats / ln 2 (`bf16`'s 2.1000 nats = 3.0297 bits per byte)"),
    );
  });
});
