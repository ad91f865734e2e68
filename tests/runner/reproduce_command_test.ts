/**
 * A report's reproduce command names each recipe once, in one spelling, however the recipe's path
 * was given (`./recipes/x.yaml` or `recipes/x.yaml`): the runner keeps the path as given in each
 * spec, and the report normalizes it (issue 12, defect 2).
 */

import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { renderReport } from "../../src/report/markdown.ts";
import { writeReport } from "../../src/report/write.ts";
import type { RunRecord } from "../../src/runner/record.ts";
import { makeRecord } from "./fixtures.ts";
import { withTempDir } from "../temp_dir.ts";

const ROOT = new URL("../..", import.meta.url);

/** The `deno task bench …` line of a report's Reproduce block. */
function benchLine(md: string): string {
  const block = md.slice(md.indexOf("## Reproduce")).match(/```sh\n([\s\S]*?)```/);
  assertOk(block, "a Reproduce block");
  const lines = block[1].split("\n").filter((l) => l.startsWith("deno task bench "));
  assertStrictEquals(lines.length, 1, block[1]);
  return lines[0];
}

/** The recipe paths (positionals before the first flag) of a `deno task bench` line. */
function recipesOf(line: string): string[] {
  const words = line.split(" ").slice(3);
  const flag = words.findIndex((w) => w.startsWith("--"));
  return flag < 0 ? words : words.slice(0, flag);
}

/** `record` as if its recipe had been given as `path`. */
function at(record: RunRecord, path: string): RunRecord {
  return { ...record, spec: { ...record.spec, recipePath: path } };
}

Deno.test("the reproduce command names a recipe given as ./recipes/x.yaml once, as recipes/x.yaml", async () => {
  const records = [
    at(makeRecord({ policy: "bf16", seed: 0, evalLoss: 2.1 }), "./recipes/suite-a.yaml"),
    at(makeRecord({ policy: "bf16", seed: 1, evalLoss: 2.12 }), "recipes/suite-a.yaml"),
    at(makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2.15 }), "./recipes/suite-a.yaml"),
    at(makeRecord({ policy: "nvfp4", seed: 1, evalLoss: 2.16 }), "recipes//suite-a.yaml"),
  ];
  for (const shown of [records, records.map((r) => at(r, "./recipes/suite-a.yaml"))]) {
    for (const missing of [undefined, []]) {
      const { markdown } = await renderReport("suite-a", shown, missing ? { missing } : {});
      const line = benchLine(markdown);
      assertEquals(recipesOf(line), ["recipes/suite-a.yaml"], line);
      assertStrictEquals(line.split("suite-a.yaml").length - 1, 1, line);
    }
  }
});

Deno.test("a written report's reproduce command and run list name a ./-spelled recipe once", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/runs`);
    const records = [
      at(makeRecord({ policy: "bf16", seed: 0, evalLoss: 2.1 }), "./recipes/suite-a.yaml"),
      at(makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2.15 }), "recipes/suite-a.yaml"),
    ];
    for (const r of records) {
      await Deno.writeTextFile(`${dir}/runs/${r.id}.json`, JSON.stringify(r));
    }
    const plan = records.map((r) => ({ id: r.id, spec: r.spec }));
    const { path } = await writeReport("suite-a", { runsDir: `${dir}/runs`, outDir: dir, plan });
    const line = benchLine(await Deno.readTextFile(path));
    assertEquals(recipesOf(line), ["recipes/suite-a.yaml"], line);
    const list = JSON.parse(await Deno.readTextFile(`${dir}/suite-a.runs.json`));
    assertEquals(list.plan.recipes, ["recipes/suite-a.yaml"]);
  });
});

Deno.test("bench ./recipes/x.yaml writes a report whose reproduce command names recipes/x.yaml once and reuses the records", async () => {
  await withTempDir(async (dir) => {
    // A recipe that trains in a few seconds on a software adapter, in the run's working folder.
    await Deno.mkdir(`${dir}/recipes`);
    await Deno.writeTextFile(
      `${dir}/recipes/tiny.yaml`,
      [
        "name: tiny",
        'model: { pattern: "*-", d_model: 32, heads: 2, d_ff: 64, seq_len: 16, vocab: 256, mlp: relu2 }',
        "data: { corpus: moby-dick }",
        "train:",
        "  steps: 4",
        "  batch: 2",
        "  optimizer: { adamw: { lr: 1.0e-3, betas: [0.9, 0.95], eps: 1.0e-8, weight_decay: 0.1 } }",
        "  schedule: { constant: {} }",
        "  clip: 1.0",
        "  eval: { every: 4, batches: 1 }",
        "  log_every: 2",
        "seeds: [0]",
        "baseline: fp32",
        "policies:",
        "  fp32: { extends: fp32 }",
        "",
      ].join("\n"),
    );
    const bench = async (recipe: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--config",
          new URL("deno.json", ROOT).pathname,
          new URL("cli.ts", ROOT).pathname,
          "bench",
          recipe,
          "--out",
          "out",
        ],
        cwd: dir,
        env: { NO_COLOR: "1" },
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assertStrictEquals(out.code, 0, stderr);
      return { stderr, report: await Deno.readTextFile(`${dir}/out/tiny.md`) };
    };
    const first = await bench("./recipes/tiny.yaml");
    const line = benchLine(first.report);
    assertEquals(recipesOf(line), ["recipes/tiny.yaml"], line);
    assertStrictEquals(line.split("tiny.yaml").length - 1, 1, line);
    // The command as the report gives it finds every record: the spelling is no part of a run id.
    const again = await bench("recipes/tiny.yaml");
    assertOk(
      /every run has a record in out\/runs: nothing to train/.test(again.stderr),
      again.stderr,
    );
    assertStrictEquals(benchLine(again.report), line);
  });
});
