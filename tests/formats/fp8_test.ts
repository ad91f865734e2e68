import { assertEquals, assertStrictEquals, assertThrows } from "../assert.ts";
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

Deno.test("DelayedScaling rolls as TE's kernel_bulk: amax to the last slot, scale from the window max", () => {
  const s = new DelayedScaling("e4m3", { historyLength: 3 });
  s.record(448);
  assertEquals([...s.amaxHistory], [0, 0, 448]);
  assertStrictEquals(s.scaleFor(), 1);
  s.record(224);
  assertEquals([...s.amaxHistory], [0, 448, 224]);
  assertStrictEquals(s.scaleFor(), 1); // window max is still 448
  s.record(112);
  assertEquals([...s.amaxHistory], [0, 224, 112]); // slot 1's 448 rolled out…
  assertStrictEquals(s.scaleFor(), 1); // …but the window of 3 steps still had it
  s.record(56);
  assertStrictEquals(s.scaleFor(), 2); // window 224, 112, 56
});

Deno.test("DelayedScaling: a zero amax neither rolls the history nor changes the scale", () => {
  const s = new DelayedScaling("e4m3", { historyLength: 2 });
  s.record(224);
  s.record(112);
  assertStrictEquals(s.scaleFor(), 2);
  s.record(0);
  assertEquals([...s.amaxHistory], [0, 112]); // TE rolls only when last_amax != 0
  assertStrictEquals(s.scaleFor(), 2); // and its max over nothing keeps the scale
  s.record(56);
  assertEquals([...s.amaxHistory], [0, 56]);
  assertStrictEquals(s.scaleFor(), 4); // window 112, 56
});

Deno.test("DelayedScaling: most_recent ignores older amaxes; margin divides the scale by 2^margin", () => {
  const r = new DelayedScaling("e5m2", { algo: "most_recent", margin: 1, historyLength: 4 });
  r.record(57344);
  assertStrictEquals(r.scaleFor(), 0.5);
  r.record(28672);
  assertStrictEquals(r.scaleFor(), 1);
  r.record(0);
  assertStrictEquals(r.scaleFor(), 1);
});

Deno.test("DelayedScaling: an infinite amax keeps the scale while in the window, NaN is skipped by max", () => {
  const s = new DelayedScaling("e4m3", { historyLength: 2 });
  s.record(224);
  s.record(Infinity);
  assertStrictEquals(s.scaleFor(), 2);
  s.record(112);
  assertStrictEquals(s.scaleFor(), 2); // Infinity still in the window
  s.record(56);
  assertStrictEquals(s.scaleFor(), 4);
  s.record(NaN);
  assertStrictEquals(s.scaleFor(), 8); // fmaxf skips the NaN: the window max is 56
  const tiny = new DelayedScaling("e4m3", { historyLength: 1 });
  tiny.record(2e-38);
  assertStrictEquals(tiny.scaleFor(), FLT_MAX); // 448 / 2e-38 overflows FP32
  tiny.record(1e-38);
  assertStrictEquals(tiny.scaleFor(), FLT_MAX); // a subnormal amax flushes to 0: no update
});

Deno.test("DelayedScaling round-trips through its words and checks their length", () => {
  const s = new DelayedScaling("e4m3", { historyLength: 3, margin: 2 });
  s.record(3);
  s.record(7);
  const words = s.toWords();
  assertEquals([...words], [Math.fround(112 / 7), 0, 3, 7]);
  const t = DelayedScaling.fromWords("e4m3", s.options, words);
  t.record(1);
  s.record(1);
  assertEquals([...t.toWords()], [...s.toWords()]);
  assertThrows(() => DelayedScaling.fromWords("e4m3", s.options, new Float32Array(3)), RangeError);
});

Deno.test("DelayedScaling options are checked, naming the option and value", () => {
  assertThrows(() => new DelayedScaling("e4m3", { historyLength: 0 }), RangeError, "historyLength");
  assertThrows(() => new DelayedScaling("e4m3", { margin: 0.5 }), RangeError, "margin");
  assertThrows(() => new DelayedScaling("e4m3", { margin: 33 }), RangeError, "got 33");
  assertThrows(
    // @ts-expect-error: an algorithm TE does not have
    () => new DelayedScaling("e4m3", { algo: "mean" }),
    RangeError,
    '"mean"',
  );
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
