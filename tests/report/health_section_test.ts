import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { renderReport } from "../../src/report/markdown.ts";
import { makeRecord } from "../runner/fixtures.ts";
import { healthPoint, type Plant, SATURATED, withHealth } from "../health/fixtures.ts";
import type { RunRecord } from "../../src/runner/record.ts";

/** `r` clipping at 1 with gradient norms 2.5 (every third logged step) and 0.8 (the others). */
function clipped(r: RunRecord): RunRecord {
  return {
    ...r,
    spec: { ...r.spec, train: { ...r.spec.train, clip: 1 } },
    result: {
      ...r.result,
      train: r.result.train.map((p, i) => ({ ...p, gradNorm: i % 3 === 0 ? 2.5 : 0.8 })),
    },
  };
}

/** A BF16 baseline and two NVFP4 seeds, the first with the planted saturation outlier. */
function suite(plants: readonly Plant[] = [SATURATED], stoppedAt?: number): RunRecord[] {
  return [
    withHealth(clipped(makeRecord({ policy: "bf16", seed: 0, evalLoss: 2 })), [
      healthPoint(50, "bf16"),
      healthPoint(100, "bf16"),
    ]),
    withHealth(clipped(makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2.1 })), [
      healthPoint(50, "nvfp4", plants),
      healthPoint(100, "nvfp4", plants),
    ], { stoppedAt }),
    withHealth(clipped(makeRecord({ policy: "nvfp4", seed: 1, evalLoss: 2.1 })), [
      healthPoint(50, "nvfp4"),
      healthPoint(100, "nvfp4"),
    ]),
  ];
}

/** Records as they read back from their JSON files (NaN and ±Inf become null). */
const stored = (records: RunRecord[]): RunRecord[] => JSON.parse(JSON.stringify(records));

async function section(records: RunRecord[]) {
  const report = await renderReport("suite-a", records);
  const md = report.markdown;
  const start = md.indexOf("## Numeric health");
  return { ...report, section: start < 0 ? "" : md.slice(start, md.indexOf("## Environment")) };
}

/** The cells of the table row of `section` that starts with `first`. */
function row(section: string, first: string): string[] {
  const line = section.split("\n").find((l) => l.startsWith(`| ${first} `));
  assertOk(line, `no row ${first} in\n${section}`);
  return line.slice(1, -1).split("|").map((c) => c.trim());
}

Deno.test("the Numeric health section follows the training curves and tabulates relL2 per policy and GEMM", async () => {
  const { markdown, section: s } = await section(suite());
  const headings = markdown.split("\n").filter((l) => l.startsWith("## "));
  assertEquals(headings.indexOf("## Numeric health"), headings.indexOf("## Training curves") + 1);
  // Means over layers and seeds of the last point; the operands at 0.7 of their GEMM.
  assertEquals(row(s, "nvfp4").slice(1, 4), [
    "0.1200 (0.084 · 0.084)",
    "0.1500 (0.105 · 0.105)",
    "0.1700 (0.119 · 0.119)",
  ]);
  assertEquals(row(s, "bf16")[3], "0.0031 (0.002 · 0.002)");
  // Every third of the ten logged steps has ‖g‖ = 2.5 > clip 1: 4 of 10, factor 1/2.5.
  assertEquals(row(s, "nvfp4").slice(4), ["40 %", "0.400"]);
});

Deno.test("the heatmap is a chart beside the report, linked from the section, one panel per policy", async () => {
  const { markdown, charts, section: s } = await section(suite());
  const heatmap = charts.find((c) => c.file === "health-rel-l2.svg");
  assertOk(heatmap && heatmap.svg.startsWith("<svg "), "an SVG document");
  assertOk(s.includes("](suite-a/health-rel-l2.svg)"), "linked from the section");
  const curves = markdown.slice(markdown.indexOf("## Training curves"), markdown.indexOf(s));
  assertOk(!curves.includes("health-rel-l2.svg"), "not among the training curves");
  for (const text of [">bf16<", ">nvfp4<", ">blocks.1.fc1<", ">wgrad<", ">0.170<", ">0.0031<"]) {
    assertOk(heatmap.svg.includes(text), text);
  }
});

Deno.test("the planted saturation outlier is an alarm row naming its run, layer, GEMM and operand", async () => {
  const { section: s } = await section(suite());
  const alarms = s.split("\n").filter((l) => l.includes("| saturation |"));
  assertEquals(alarms.length, 2); // steps 50 and 100
  assertEquals(row(alarms[0], "nvfp4"), [
    "nvfp4",
    "0",
    "50",
    "blocks.1.fc1",
    "wgrad",
    "a",
    "saturation",
    "0.0200",
    "> 0.001",
  ]);
});

Deno.test("alarms come worst first, the first 20 listed and the rest counted", async () => {
  const plants: Plant[] = ["blocks.0.qkv", "blocks.0.fc1", "blocks.1.fc1", "lm_head"].flatMap(
    (layer, i) => [
      { layer, gemm: "fprop" as const, change: { b: { underflow: 0.02 + i / 100 } } },
      { layer, gemm: "dgrad" as const, change: { a: { saturation: 0.002 * (i + 1) } } },
      { layer, gemm: "wgrad" as const, change: { gain: 0.8 + i / 100, b: { underflow: 0.5 } } },
    ],
  );
  const { section: s } = await section(suite(plants));
  // 4 layers × 4 alarms × 2 steps.
  assertOk(s.includes("… and 12 more alarms"), s);
  const measures = s.split("\n").filter((l) => /^\| nvfp4 +\| +0 /.test(l)).map((l) =>
    row(l, "nvfp4")
  );
  assertEquals(measures.length, 20);
  assertEquals(measures.map((r) => r[6]), [
    ...Array(8).fill("gain"),
    ...Array(8).fill("saturation"),
    ...Array(4).fill("underflow"),
  ]);
  // Within a kind, by value: the gain furthest from 1 first; the largest saturation first.
  assertEquals(measures.slice(0, 2).map((r) => [r[3], r[7]]), [["blocks.0.qkv", "0.8000"], [
    "blocks.0.qkv",
    "0.8000",
  ]]);
  assertEquals(measures[8].slice(3, 8), ["lm_head", "dgrad", "a", "saturation", "0.0080"]);
  assertEquals(measures[16][7], "0.5000");
});

Deno.test("NaN values read back from a record show as NaN, first among the alarms", async () => {
  const nan: Plant = {
    layer: "lm_head",
    gemm: "dgrad",
    change: { relL2: NaN, gain: NaN, nonFinite: 12 },
  };
  const { section: s } = await section(stored(suite([nan])));
  // Seed 0's NaN is not averaged away by seed 1's 0.15.
  assertEquals(row(s, "nvfp4")[2], "NaN (0.105 · 0.105)");
  const alarms = s.split("\n").filter((l) => l.startsWith("| nvfp4 ")).map((l) => row(l, "nvfp4"))
    .filter((r) => r.length === 9);
  assertEquals(alarms.map((r) => r.slice(5, 8)), [
    ["output", "nonFinite", "12"],
    ["output", "nonFinite", "12"],
    ["output", "gain", "NaN"],
    ["output", "gain", "NaN"],
  ]);
});

Deno.test("a run stopped by an alarm is marked in the alarms and named below them", async () => {
  const { section: s } = await section(suite([SATURATED], 50));
  const alarm = s.split("\n").find((l) => l.includes("| saturation |"))!;
  assertStrictEquals(row(alarm, "nvfp4")[2], "50 (stopped)");
  assertOk(s.includes("**Stopped by an alarm** (`health.alarms.stop`): nvfp4 seed 0 at step 50."));
});

Deno.test("parameters whose gradients held NaN or ±Inf are named", async () => {
  const [bf16, nvfp4, ...rest] = suite([]);
  const points = nvfp4.result.health!.points.map((p) =>
    p.step === 100 ? { ...p, gradNonFinite: { "blocks.1.fc1.weight": 3 } } : p
  );
  const { section: s } = await section([bf16, withHealth(nvfp4, points), ...rest]);
  const text = s.replace(/\s+/g, " ");
  assertOk(
    text.includes("**Non-finite gradients**") &&
      text.includes("nvfp4 seed 0 step 100 `blocks.1.fc1.weight` (3)"),
    s,
  );
});

Deno.test("without alarms the section says so", async () => {
  const { section: s } = await section(suite([]));
  assertOk(s.includes("No alarm:"), s);
  assertOk(!s.includes("| measure |"), "no alarm table");
});

Deno.test("the same records give the same section and heatmap, byte for byte, in any order", async () => {
  const first = await section(suite());
  const again = await section(suite());
  const reversed = await section(suite().reverse());
  for (const other of [again, reversed]) {
    assertStrictEquals(other.markdown, first.markdown);
    assertStrictEquals(
      other.charts.find((c) => c.file === "health-rel-l2.svg")!.svg,
      first.charts.find((c) => c.file === "health-rel-l2.svg")!.svg,
    );
  }
});

Deno.test("a report without diagnostics has no Numeric health section and no heatmap", async () => {
  const { markdown, charts } = await renderReport("suite-a", [
    makeRecord({ policy: "bf16", seed: 0, evalLoss: 2 }),
    makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2.1 }),
  ]);
  assertOk(!markdown.includes("Numeric health"));
  assertOk(!charts.some((c) => c.file.startsWith("health")));
});
