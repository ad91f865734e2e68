import { assertEquals, assertOk, assertRejects, assertStrictEquals } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";
import { parseRecord, readRecord, readRecords, RecordError } from "../../src/runner/record.ts";
import { makeRecord } from "./fixtures.ts";

/** A record as the runner writes it: JSON turns NaN into null. */
const written = (o: Parameters<typeof makeRecord>[0]) => JSON.stringify(makeRecord(o), null, 1);

function reason(text: string): string {
  try {
    parseRecord(text, "reports/runs/x.json");
  } catch (e) {
    assertOk(e instanceof RecordError);
    assertStrictEquals(e.file, "reports/runs/x.json");
    return e.message;
  }
  throw new Error("parsed");
}

/** The record text after `edit` changed its parsed JSON (any field, so loosely typed). */
// deno-lint-ignore no-explicit-any
function edited(edit: (r: any) => void): string {
  const r = JSON.parse(written({ policy: "nvfp4", seed: 0, evalLoss: 2 }));
  edit(r);
  return JSON.stringify(r);
}

Deno.test("a written record parses back as written, nulls for NaN included", () => {
  const text = written({
    policy: "mxfp4",
    seed: 0,
    evalLoss: 2.4,
    divergedAt: 70,
    tokensPerSecond: NaN,
  });
  assertOk(text.includes('"tokensPerSecond": null'));
  const r = parseRecord(text, "x.json");
  assertEquals(r, JSON.parse(text));
  assertStrictEquals(r.result.train.at(-1)!.loss, null as unknown as number);
  assertStrictEquals(r.result.tokensPerSecond, null as unknown as number);
  assertEquals(Object.keys(r), Object.keys(JSON.parse(text)), "fields keep their order");
});

Deno.test("malformed records are rejected with the file and the field", () => {
  assertStrictEquals(
    reason(edited((r) => (r.format = "lpbench.run/v0"))),
    'reports/runs/x.json: format: unsupported record format "lpbench.run/v0" (expected "lpbench.run/v1")',
  );
  assertOk(
    reason(edited((r) => delete r.format)).includes("format: unsupported record format undefined"),
  );
  assertOk(reason(edited((r) => (r.spec.seed = "0"))).includes("spec.seed: "));
  assertOk(reason(edited((r) => delete r.result.eval)).includes("result.eval: "));
  assertOk(reason(edited((r) => (r.env.git = { commit: 1 }))).includes("env.git.commit: "));
  assertOk(
    reason(edited((r) => (r.spec.policy.linear.fprop.w.format = "fp6"))).includes(
      "spec.policy.linear.fprop.w.format: format must be one of",
    ),
  );
  assertOk(reason("not json").startsWith("reports/runs/x.json: not valid JSON ("));
  assertOk(reason("null").startsWith("reports/runs/x.json: (root): "));
  const many = reason(edited((r) => {
    r.id = 1;
    r.spec.suite = 2;
    r.hashes = null;
    r.finishedAt = 3;
  }));
  assertOk(many.endsWith("(and 1 more)"), many);
});

Deno.test("readRecords reads *.json, skips malformed files and ignores temporary files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/b.json`, written({ policy: "bf16", seed: 0, evalLoss: 2 }));
    await Deno.writeTextFile(`${dir}/a.json`, written({ policy: "bf16", seed: 1, evalLoss: 2 }));
    await Deno.writeTextFile(`${dir}/c.json`, "{}");
    await Deno.writeTextFile(`${dir}/d.json.1234.tmp`, "{");
    await Deno.mkdir(`${dir}/sub.json`);
    const { records, errors } = await readRecords(dir);
    assertEquals(records.map((r) => r.spec.seed), [1, 0]);
    assertEquals(errors.map((e) => e.file), [`${dir}/c.json`]);
    assertOk(errors[0].message.startsWith(`${dir}/c.json: format: unsupported record format`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRecord checks that the file holds the record of the run it is named after", async () => {
  await withTempDir(async (dir) => {
    const record = makeRecord({ policy: "bf16", seed: 0, evalLoss: 2 });
    await Deno.writeTextFile(`${dir}/a.json`, JSON.stringify(record));
    assertStrictEquals((await readRecord(`${dir}/a.json`, record.id)).id, record.id);
    assertStrictEquals((await readRecord(`${dir}/a.json`)).id, record.id);
    await assertRejects(
      readRecord(`${dir}/a.json`, "other-id"),
      (e) =>
        e instanceof RecordError &&
        e.message === `${dir}/a.json: holds the record of run ${record.id}, not of other-id`,
    );
    await assertRejects(readRecord(`${dir}/missing.json`), Deno.errors.NotFound);
  });
});

Deno.test("a record written before env.implementation existed reads as Deno's WebGPU", () => {
  const old = parseRecord(edited((r) => delete r.env.implementation), "x.json");
  assertEquals(old.env.implementation, { name: "deno", version: old.env.deno, toggles: [] });
  const dawn = {
    name: "dawn",
    version: "0.6.2",
    toggles: ["backend=vulkan"],
    featureLevel: "core",
  };
  const kept = parseRecord(edited((r) => (r.env.implementation = dawn)), "x.json");
  assertEquals(kept.env.implementation, dawn);
  assertOk(
    reason(edited((r) => (r.env.implementation = { ...dawn, name: "wgpu" })))
      .includes("env.implementation.name: "),
  );
  assertOk(
    reason(edited((r) => delete r.env.implementation.toggles))
      .includes("env.implementation.toggles: "),
  );
});
