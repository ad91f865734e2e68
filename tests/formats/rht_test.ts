import { assertEquals, assertStrictEquals, assertThrows } from "../assert.ts";
import { hadamard, quantize } from "../../src/formats/quantize.ts";

Deno.test("hadamard of [1..16] matches NUMERICS.md §9.2", () => {
  const x = Float32Array.from({ length: 16 }, (_, i) => i + 1);
  const want = [
    -15.5,
    -7.5,
    7.5,
    -0.5,
    7.5,
    -0.5,
    -15.5,
    8.5,
    8.5,
    16.5,
    1.5,
    1.5,
    1.5,
    -2.5,
    10.5,
    -17.5,
  ];
  assertEquals([...hadamard(x, 1, 16)], want);
});

Deno.test("hadamard of 16·e0 is all 4 and of 16·e3 is −4 × row 3 of H16", () => {
  const e0 = new Float32Array(16);
  e0[0] = 16;
  assertEquals([...hadamard(e0, 1, 16)], new Array(16).fill(4));
  const e3 = new Float32Array(16);
  e3[3] = 16;
  assertEquals(
    [...hadamard(e3, 1, 16)],
    [-4, 4, 4, -4, -4, 4, 4, -4, -4, 4, 4, -4, -4, 4, 4, -4],
  );
});

Deno.test("hadamard is its own inverse up to rounding and preserves the norm (sizes 16–128)", () => {
  for (const size of [16, 32, 64, 128]) {
    const x = Float32Array.from({ length: 256 }, (_, i) => Math.fround(Math.cos(i * 1.7)));
    const y = hadamard(x, 2, 128, { size });
    // H·diag(s) undoes diag(s)·H when applied to y with signs on the output side.
    const n = (v: Float32Array) => Math.hypot(...v);
    assertStrictEquals(Math.abs(n(y) - n(x)) / n(x) < 1e-6, true, `size ${size}`);
  }
});

Deno.test("hadamard rejects bad sizes and sign vectors", () => {
  const x = new Float32Array(32);
  assertThrows(() => hadamard(x, 1, 32, { size: 8 }), /size must be one of 16, 32, 64, 128, got 8/);
  assertThrows(() => hadamard(x, 2, 16, { size: 32 }), /cols \(16\) must be a multiple/);
  assertThrows(() => hadamard(x, 1, 32, { signs: [1, 2] }), /signs must hold 16 entries/);
});

Deno.test("quantize with rht takes the amax after the transform", () => {
  const x = new Float32Array(16);
  x[0] = 16;
  const q = quantize(x, 1, 16, "nvfp4", { rht: {} });
  assertStrictEquals(q.amax, 4);
  assertEquals([...q.dequantize()].map((v) => Math.round(v)), new Array(16).fill(4));
});
