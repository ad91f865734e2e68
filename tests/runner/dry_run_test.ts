import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { describeStatus } from "../../src/runner/dry_run.ts";
import type { PlannedRun } from "../../src/runner/run.ts";
import { makeRecord, tinySpec } from "./fixtures.ts";

/** A planned run of `tinySpec(policy, seed)`, with a record of `seconds` if given. */
function planned(policy: string, seed: number, seconds?: number): PlannedRun {
  const spec = tinySpec(policy, seed);
  const id = `${policy}-${seed}`;
  const existing = seconds === undefined
    ? undefined
    : { ...makeRecord({ policy, seed, evalLoss: 2 }), id, spec, durationSeconds: seconds };
  return {
    spec,
    id,
    implementation: "deno",
    data: undefined as unknown as PlannedRun["data"],
    path: `runs/${id}.json`,
    ...(existing ? { existing } : {}),
  };
}

Deno.test("a dry run says which runs have records and how long the others should take", () => {
  const plan = [
    planned("fp32", 0, 30),
    planned("fp32", 1),
    planned("nvfp4", 0, 40),
    planned("nvfp4", 1, 50),
    planned("bf16", 0),
  ];
  const { lines, problems } = describeStatus(plan);
  assertEquals(problems, []);
  assertOk(lines[0].includes("fp32 seed 0: record exists (fp32-0)"), lines[0]);
  assertOk(
    /fp32 seed 1: to train, GPU memory ≈ \d+ MiB, expected ≈ 30 s$/.test(lines[1]),
    lines[1],
  );
  // No bf16 record: judged by every record of the same settings (median of 30, 40, 50).
  assertOk(lines[4].endsWith("expected ≈ 40 s"), lines[4]);
  assertStrictEquals(
    lines.at(-1),
    "5 runs: 3 with a record, 2 to train; expected ≈ 1.2 min; no adapter: memory estimated, not checked against one",
  );
});

Deno.test("a dry run refuses a run the adapter cannot hold, as the real run would", () => {
  const tiny = {
    features: new Set<string>(),
    wgslLanguageFeatures: new Set<string>(),
    limits: { maxStorageBufferBindingSize: 1024, maxBufferSize: 1024 },
    info: { description: "tiny adapter", vendor: "test" },
  } as unknown as Gpu;
  const { lines, problems } = describeStatus([planned("fp32", 0)], tiny);
  assertOk(lines[0].endsWith("to train, does not fit the adapter"), lines[0]);
  assertStrictEquals(problems.length, 1);
  assertOk(problems[0].includes('adapter "tiny adapter" binds at most'), problems[0]);
});
