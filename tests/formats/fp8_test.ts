import { assertEquals, assertStrictEquals } from "../assert.ts";
import { DelayedScaling, fp8Scale } from "../../src/formats/fp8.ts";
import { ELEMENTS } from "../../src/formats/elements.ts";
import { FLT_MAX } from "../../src/formats/fp32.ts";
import { quantize } from "../../src/formats/quantize.ts";

Deno.test("fp8 current scaling maps the amax onto the format maximum", () => {
  const x = Float32Array.from([1, -2, 3.5, 0.001]);
  const q = quantize(x, 1, 4, "fp8-e4m3");
  assertStrictEquals(q.tensorScale, Math.fround(1 / Math.fround(448 / 3.5)));
  assertStrictEquals(q.codes[2], 0x7e);
  assertStrictEquals(q.dequantize()[2], Math.fround(448 * q.tensorScale));
  const e5 = quantize(x, 1, 4, "fp8-e5m2");
  assertStrictEquals(e5.codes[2], 0x7b);
});

Deno.test("fp8Scale: 1 for a zero amax, FLT_MAX when 448/amax overflows", () => {
  assertStrictEquals(fp8Scale(0, ELEMENTS.e4m3), 1);
  assertStrictEquals(fp8Scale(1e-38, ELEMENTS.e4m3), FLT_MAX);
});

Deno.test("DelayedScaling takes the window max, keeps the scale on a zero amax", () => {
  const s = new DelayedScaling("e4m3", { historyLength: 2 });
  s.record(448);
  assertStrictEquals(s.scaleFor(), 1);
  s.record(224);
  assertStrictEquals(s.scaleFor(), 1); // window max is still 448
  s.record(112);
  assertStrictEquals(s.scaleFor(), 2); // 448 fell out of the window
  s.record(0);
  assertStrictEquals(s.scaleFor(), 4); // window [0, 112]
  assertEquals(s.history, [0, 112]);
  const r = new DelayedScaling("e5m2", { algo: "most_recent", margin: 1 });
  r.record(57344);
  assertStrictEquals(r.scaleFor(), 0.5);
});

Deno.test("fp8 delayed scaling quantizes with the recorded scale and clips overflow", () => {
  const state = new DelayedScaling("e4m3");
  state.record(1);
  const x = Float32Array.from([0.5, 2]);
  const q = quantize(x, 1, 2, { kind: "fp8", element: "e4m3", scaling: state });
  assertStrictEquals(q.dequantize()[0], 0.5);
  assertStrictEquals(q.codes[1], 0x7e); // 2·448 saturates
  assertStrictEquals(q.amax, 2);
});
