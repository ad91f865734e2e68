// Row-scaled NVFP4 (TransformerEngine `row_scaled_activation`; `reference_nvfp4.py` takes the
// global amax as `max(|x|, dim=1)` and runs the usual chain once per row). Golden values derived
// by hand from that chain (NUMERICS.md §2.2).
import { assertEquals, assertOk, assertStrictEquals, assertThrows } from "../assert.ts";
import { quantize } from "../../src/formats/quantize.ts";
import { resolveFormat } from "../../src/formats/spec.ts";

const rowScaled = { kind: "nvfp4", rowScaled: true } as const;

// Row 0 = [6, 3, 1.5, −0.5, 0…]: amax 6, S_enc = fp32(2688/6) = 448, block scale
// e4m3(6 · fp32(448 · fp32(1/6))) = e4m3(448.00003) = 448 (0x7e), enc_b = 1 (NUMERICS.md §9.2,
// block A at amax 6): codes 7 5 3 9 → bytes 57 93. Row 1 is row 0 · 2^-10: its amax 6 · 2^-10
// gives S_enc = 448 · 2^10, and every step scales by a power of two, so the same scale byte, the
// same codes, and S_dec exactly 2^-10 times row 0's. Under one tensor scale row 1's block scale
// would be e4m3(6·2^-10 · 74.666672) = 0.4375 (0x2e) instead.
Deno.test("row-scaled nvfp4 gives each row its own tensor scale", () => {
  const x = new Float32Array(32);
  x.set([6, 3, 1.5, -0.5]);
  x.set([6, 3, 1.5, -0.5].map((v) => v * 2 ** -10), 16);
  const q = quantize(x, 2, 16, rowScaled);
  assertEquals([...q.scales], [0x7e, 0x7e]);
  assertEquals([...q.packed().slice(0, 2)], [0x57, 0x93]);
  assertEquals([...q.packed().slice(8, 10)], [0x57, 0x93]);
  assertStrictEquals(q.tensorScale, 1);
  assertStrictEquals(q.rowScales![1], q.rowScales![0] * 2 ** -10);
  const d = q.dequantize();
  assertStrictEquals(d[0], Math.fround(6.0000005)); // 2688 · fp32(1/448)
  assertOk(d.subarray(16).every((v, i) => v === d[i] * 2 ** -10));
  assertStrictEquals(quantize(x, 2, 16, "nvfp4").scales[1], 0x2e);
});

// A zero row: amax 0 gives S_enc = 1 (lpbench's guard, as TE's kernel), scale 0, codes 0; TE's
// Python reference would store S_enc = FLT_MAX instead, with the same codes and scales.
Deno.test("row-scaled nvfp4 gives a zero row scale 0, codes 0 and S_dec 1", () => {
  const x = new Float32Array(32);
  x[0] = 1;
  const q = quantize(x, 2, 16, rowScaled);
  assertStrictEquals(q.rowScales![1], 1);
  assertStrictEquals(q.scales[1], 0);
  assertOk(q.codes.subarray(16).every((c) => c === 0));
});

Deno.test("row-scaled nvfp4 with 4over6 uses each row's amax in the errors and S_enc", () => {
  // Row 1 = row 0 · 2^-8: S_enc, the candidates and the errors all scale by powers of two, so
  // both rows pick alike (here map-to-4, as in four_over_six_test.ts's first block).
  const x = new Float32Array(64);
  x.set([4, 3, 2, 1, 0.5]);
  x[16] = 1536;
  x.set(x.subarray(0, 32).map((v) => v * 2 ** -8), 32);
  const q = quantize(x, 2, 32, { ...rowScaled, fourOverSix: { error: "mae", scaleBound: 256 } });
  assertEquals([...q.scales], [0x38, 0x78, 0x38, 0x78]);
  assertEquals([...q.rowScales!], [1, 2 ** -8]);
});

Deno.test("row scaling needs 1×16 blocks", () => {
  assertThrows(() => resolveFormat({ ...rowScaled, tile: "16x16" }), /rowScaled needs 1x16/);
});
