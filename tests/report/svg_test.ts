import { assertOk, assertStrictEquals } from "../assert.ts";
import { renderSvg } from "../../src/report/svg.ts";
import type { TopLevelSpec } from "vega-lite";

// A clipped mark makes Vega number a clip path from a process-wide counter.
const clipped: TopLevelSpec = {
  data: { values: [{ x: 0, y: 1 }, { x: 1, y: 30 }, { x: 2, y: 2 }] },
  mark: { type: "line", clip: true },
  encoding: {
    x: { field: "x", type: "quantitative" },
    y: { field: "y", type: "quantitative", scale: { domain: [0, 5] } },
  },
};

Deno.test("renderSvg gives the same SVG for the same spec, clip-path ids included", async () => {
  const first = await renderSvg(clipped);
  assertOk(first.includes('clip-path="url(#clip1)"'), "the spec uses a clip path");
  assertStrictEquals(await renderSvg(clipped), first);
  const concurrent = await Promise.all([renderSvg(clipped), renderSvg(clipped)]);
  assertStrictEquals(concurrent[0], first);
  assertStrictEquals(concurrent[1], first);
});
