import { assertEquals, assertOk } from "../assert.ts";
import { renderReport } from "../../src/report/markdown.ts";
import { makeRecord } from "../runner/fixtures.ts";
import { healthAlarms } from "../../src/health/alarms.ts";
import { DEFAULT_ALARMS, type GemmHealth, type HealthPoint } from "../../src/health/types.ts";
import type { RunRecord } from "../../src/runner/record.ts";

/** A GEMM's diagnostics with output relL2 `rel` and operand a's saturation `sat`. */
function gemm(name: GemmHealth["gemm"], rel: number, sat = 0): GemmHealth {
  const op = (source: "x" | "w" | "dy", r: number, s = 0) => ({
    source,
    format: "nvfp4",
    elements: 4096,
    relL2: r,
    saturation: s,
    underflow: 0.004,
    nonFinite: 0,
  });
  return {
    gemm: name,
    path: "f32",
    a: op(name === "fprop" ? "x" : "dy", rel * 0.7, sat),
    b: op(name === "wgrad" ? "x" : "w", rel * 0.7),
    relL2: rel,
    gain: 1 - rel / 20,
    nonFinite: 0,
  };
}

/** A record with diagnostics at steps 50 and 100 (a planted saturation outlier in fc1 Wgrad). */
function withHealth(r: RunRecord, scale: number, planted = false): RunRecord {
  const point = (step: number): HealthPoint => ({
    step,
    gradNonFinite: {},
    layers: ["blocks.0.qkv", "blocks.1.fc1", "lm_head"].map((layer) => ({
      layer,
      gemms: [
        gemm("fprop", 0.12 * scale),
        gemm("dgrad", 0.15 * scale),
        gemm("wgrad", 0.17 * scale, planted && layer === "blocks.1.fc1" ? 0.02 : 0),
      ],
    })),
  });
  const points = [point(50), point(100)];
  const health = {
    config: { every: 50, draws: 4, alarms: DEFAULT_ALARMS },
    points,
    alarms: points.flatMap((p) => healthAlarms(p, DEFAULT_ALARMS)),
    stoppedAt: null,
  };
  return { ...r, result: { ...r.result, health } };
}

Deno.test("the report's Numeric health section tabulates relL2 per GEMM, charts it and lists the alarms", async () => {
  const records = [
    withHealth(makeRecord({ policy: "bf16", seed: 0, evalLoss: 2 }), 0.02),
    withHealth(makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2.1 }), 1, true),
    withHealth(makeRecord({ policy: "nvfp4", seed: 1, evalLoss: 2.1 }), 1),
  ];
  const { markdown, charts } = await renderReport("suite-a", records);
  assertOk(markdown.includes("## Numeric health"), markdown);
  const section = markdown.slice(markdown.indexOf("## Numeric health"));
  const row = section.split("\n").find((l) => l.startsWith("| nvfp4 "))!;
  assertOk(row.includes("0.1200 (0.084 · 0.084)") && row.includes("0.1700"), row);
  // The planted outlier: one alarm row, saturation of fc1's Wgrad A operand at both steps.
  const alarms = markdown.split("\n").filter((l) => l.includes("| saturation |"));
  assertEquals(alarms.length, 2);
  assertOk(/\| blocks\.1\.fc1 \| wgrad \| a +\|/.test(alarms[0]), alarms[0]);
  const heatmap = charts.find((c) => c.file === "health-rel-l2.svg");
  assertOk(heatmap && heatmap.svg.includes("<svg"), "heatmap chart");
  assertOk(markdown.includes("(suite-a/health-rel-l2.svg)"), "heatmap linked");
  // The same records give the same report, byte for byte.
  assertEquals((await renderReport("suite-a", records)).markdown, markdown);
});

Deno.test("a report without diagnostics has no Numeric health section", async () => {
  const { markdown, charts } = await renderReport("suite-a", [
    makeRecord({ policy: "bf16", seed: 0, evalLoss: 2 }),
  ]);
  assertOk(!markdown.includes("Numeric health"));
  assertOk(!charts.some((c) => c.file.startsWith("health")));
});
