import { assertEquals, assertOk, assertStrictEquals, assertThrows } from "../assert.ts";
import { lrAt, type Schedule, validateSchedule } from "../../src/train/schedule.ts";

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));

Deno.test("constant: linear warmup to lr at step warmup−1, then constant", () => {
  const s: Schedule = { kind: "constant", lr: 0.4, warmup: 4 };
  const lrs = Array.from({ length: 7 }, (_, i) => lrAt(s, i, 10));
  assertEquals(lrs, [0.1, 0.2, 0.30000000000000004, 0.4, 0.4, 0.4, 0.4]);
  assertStrictEquals(lrAt({ kind: "constant", lr: 0.4 }, 0, 10), 0.4);
  assertStrictEquals(lrAt(s, 50, 10), 0.4, "past the end");
});

Deno.test("cosine: peak after warmup, half-way value at mid-decay, minLr at the last step", () => {
  const s: Schedule = { kind: "cosine", lr: 1e-3, minLr: 1e-4, warmup: 10 };
  const total = 110; // decay over steps 10…109, progress (step − 9)/100
  assertStrictEquals(lrAt(s, 9, total), 1e-3);
  assertOk(close(lrAt(s, 59, total), 1e-4 + 0.5 * 9e-4), "progress 1/2 is the midpoint");
  const p = 1 / 100;
  assertOk(close(lrAt(s, 10, total), 1e-4 + 9e-4 * (1 + Math.cos(Math.PI * p)) / 2));
  assertStrictEquals(lrAt(s, 109, total), 1e-4);
  assertStrictEquals(lrAt(s, 500, total), 1e-4);
  let prev = Infinity;
  for (let i = 9; i < total; i++) {
    const lr = lrAt(s, i, total);
    assertOk(lr < prev || i === 9, `non-increasing after warmup (step ${i})`);
    prev = lr;
  }
  assertStrictEquals(lrAt({ kind: "cosine", lr: 2 }, 3, 4), 0, "minLr defaults to 0");
});

Deno.test("wsd: the NVFP4 paper's schedule (4.5e-4 for 80 %, linear to 4.5e-6 over 20 %)", () => {
  const s: Schedule = { kind: "wsd", lr: 4.5e-4, finalLr: 4.5e-6, warmup: 50, decayFraction: 0.2 };
  const total = 1000;
  assertOk(close(lrAt(s, 0, total), 4.5e-4 / 50));
  assertStrictEquals(lrAt(s, 49, total), 4.5e-4);
  assertStrictEquals(lrAt(s, 799, total), 4.5e-4, "stable until the last 200 steps");
  assertOk(close(lrAt(s, 800, total), 4.5e-4 - (4.5e-4 - 4.5e-6) / 200));
  assertOk(close(lrAt(s, 899, total), (4.5e-4 + 4.5e-6) / 2), "linear: midpoint at half-way");
  assertStrictEquals(lrAt(s, 999, total), 4.5e-6);
  const steps = Array.from({ length: 200 }, (_, i) => lrAt(s, 800 + i, total));
  const diffs = steps.slice(1).map((v, i) => v - steps[i]);
  assertOk(diffs.every((d) => close(d, diffs[0])), "constant slope");
});

Deno.test("wsd: cosine decay shape, defaults, and no decay", () => {
  const s: Schedule = { kind: "wsd", lr: 1, finalLr: 0.1, decayFraction: 0.5, decay: "cosine" };
  assertStrictEquals(lrAt(s, 4, 10), 1);
  const p = 2 / 5;
  assertOk(close(lrAt(s, 6, 10), 0.1 + 0.9 * (1 + Math.cos(Math.PI * p)) / 2));
  assertStrictEquals(lrAt(s, 9, 10), 0.1);
  // Defaults: decayFraction 0.2, finalLr 0, linear.
  const d: Schedule = { kind: "wsd", lr: 1 };
  assertStrictEquals(lrAt(d, 79, 100), 1);
  assertOk(close(lrAt(d, 89, 100), 0.5));
  assertStrictEquals(lrAt(d, 99, 100), 0);
  const none: Schedule = { kind: "wsd", lr: 1, decayFraction: 0 };
  assertStrictEquals(lrAt(none, 99, 100), 1);
  assertStrictEquals(lrAt(none, 150, 100), 1, "no decay: past the end keeps lr");
});

Deno.test("invalid configurations throw RangeErrors naming the field and value", () => {
  const bad: [unknown, number | undefined, RegExp][] = [
    [{ kind: "linear", lr: 1 }, undefined, /schedule\.kind .*"linear"/],
    [{ lr: 1 }, undefined, /schedule\.kind .*undefined/],
    [{ kind: "constant", lr: 0 }, undefined, /schedule\.lr .*got 0$/],
    [{ kind: "constant", lr: NaN }, undefined, /schedule\.lr .*NaN/],
    [{ kind: "constant", lr: "1e-3" }, undefined, /schedule\.lr .*"1e-3"/],
    [{ kind: "constant", lr: 1, warmup: 2.5 }, undefined, /schedule\.warmup .*2\.5/],
    [{ kind: "constant", lr: 1, warmup: -1 }, undefined, /schedule\.warmup .*-1/],
    [{ kind: "cosine", lr: 1, minLr: -0.1 }, undefined, /schedule\.minLr .*-0\.1/],
    [{ kind: "cosine", lr: 1, minLr: 2 }, undefined, /schedule\.minLr .*got 2/],
    [{ kind: "wsd", lr: 1, finalLr: 3 }, undefined, /schedule\.finalLr .*got 3/],
    [{ kind: "wsd", lr: 1, decayFraction: 1.5 }, undefined, /schedule\.decayFraction .*1\.5/],
    [{ kind: "wsd", lr: 1, decay: "exp" }, undefined, /schedule\.decay .*"exp"/],
    [{ kind: "constant", lr: 1 }, 0, /totalSteps must be ≥ 1, got 0/],
    [{ kind: "constant", lr: 1 }, 1.5, /totalSteps .*1\.5/],
    [{ kind: "cosine", lr: 1, warmup: 11 }, 10, /schedule\.warmup .*totalSteps = 10, got 11/],
    [
      { kind: "wsd", lr: 1, warmup: 9, decayFraction: 0.2 },
      10,
      /schedule\.warmup .*totalSteps = 10, got warmup \+ decay steps \(9 \+ 2\)/,
    ],
  ];
  for (const [s, total, message] of bad) {
    assertThrows(() => validateSchedule(s as Schedule, total), { name: "RangeError", message });
  }
  const ok: Schedule = { kind: "constant", lr: 1 };
  assertThrows(() => lrAt(ok, -1, 10), { name: "RangeError", message: /step .*-1/ });
  assertThrows(() => lrAt(ok, 0.5, 10), { name: "RangeError", message: /step .*0\.5/ });
  assertThrows(() => lrAt(ok, 0, 0), { name: "RangeError", message: /totalSteps/ });
});
