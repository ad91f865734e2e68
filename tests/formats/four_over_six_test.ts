// Golden values of Four Over Six, derived by hand from TransformerEngine's reference
// (`reference_nvfp4.py::_quantize_blockwise_4over6_reference`; the chain is in
// src/formats/four_over_six.ts). Most blocks sit in a row whose other block holds 1536, so with
// the bound 256 the tensor scales are S_enc = fp32(6·256 / 1536) = 1 and S_dec = 1, and a value's
// error is |e2m1 · scale − x| exactly (val = e2m1 · scale · 1536 / 1536).
import { assertEquals, assertStrictEquals, assertThrows } from "../assert.ts";
import { quantize } from "../../src/formats/quantize.ts";
import { tileError } from "../../src/formats/four_over_six.ts";
import { nvfp4TensorScales } from "../../src/formats/nvfp4.ts";
import type { Nvfp4Spec } from "../../src/formats/spec.ts";

const hex = (b: Uint8Array) => [...b].map((v) => v.toString(16).padStart(2, "0")).join(" ");

const fos = (error: "mae" | "mse", scaleBound: 256 | 448 = 256): Nvfp4Spec => ({
  kind: "nvfp4",
  fourOverSix: { error, scaleBound },
});

/** A 1×16 block in a row whose second block is [amax, 0, …]: the tensor amax is `amax`. */
function row(block: number[], amax = 1536): Float32Array {
  const x = new Float32Array(32);
  x.set(block.map(Math.fround));
  x[16] = amax;
  return x;
}

Deno.test("4over6 uses the bound in S_enc: 6 · 256 / amax", () => {
  assertStrictEquals(nvfp4TensorScales(1536, 256).sEnc, 1);
  assertStrictEquals(quantize(row([1]), 1, 32, fos("mae")).tensorScale, 1);
  assertStrictEquals(quantize(row([1], 2688), 1, 32, fos("mae", 448)).tensorScale, 1);
});

// [4, 3, 2, 1, 0.5, 0…], block amax 4: base = fp32(4/6) · 1 = 0.66666669.
// map-to-6: e4m3(0.66666669) = 0.6875 (0x33; 0.6667 lies above the midpoint 0.65625 of 0.625 and
//   0.6875), enc = fp32(1/0.6875) = 1.4545455: 4 → 5.82 → 6 → 4.125 (err 0.125), 3 → 4.36 → 4 →
//   2.75 (0.25), 2 → 2.91 → 3 → 2.0625 (0.0625), 1 → 1.45 → 1.5 → 1.03125 (0.03125), 0.5 → 0.73 →
//   0.5 → 0.34375 (0.15625): MAE 0.625.
// map-to-4: fp32(0.66666669 · 1.5) = 1 (0x38), enc 1: every value is on the E2M1 grid, MAE 0.
// So map-to-4 wins: scale 0x38, codes 6 5 4 2 1 0… → bytes 56 24 01.
// The second block [1536, 0…]: base 256; map-to-6 256 (0x78) gives 1536 → 6 exactly, map-to-4 384
// (0x7c) gives 1536 → 4 exactly: both err 0, a tie, so map-to-6: scale 0x78, byte 07.
Deno.test("4over6 keeps map-to-4 where its error is smaller, map-to-6 on a tie", () => {
  for (const error of ["mae", "mse"] as const) {
    const q = quantize(row([4, 3, 2, 1, 0.5]), 1, 32, fos(error));
    assertEquals([...q.scales], [0x38, 0x78]);
    assertStrictEquals(hex(q.packed()), "56 24 01 00 00 00 00 00 07 00 00 00 00 00 00 00");
  }
});

// [6, 0, 0.5, 2.5, 0…], block amax 6: base = 1.
// map-to-6 (1.0, 0x38, enc 1): 6 → 6, 0.5 → 0.5, 2.5 → 2 (tie to even): errors 0, 0, 0.5.
// map-to-4 (1.5, 0x3c, enc fp32(2/3)): 6 → 4.0000001 → fp32 4 → 4 · 1.5 = 6 (0); 0.5 → 0.333 →
//   0.5 → 0.75 (0.25); 2.5 → 1.667 → 1.5 → 2.25 (0.25).
// MAE: 0.5 vs 0.5, a tie → map-to-6: codes 7 0 1 4 → bytes 07 41.
// MSE: 0.25 vs 0.0625 + 0.0625 = 0.125 → map-to-4: codes 6 0 1 3 → bytes 06 31.
Deno.test("4over6 MAE ties where MSE prefers map-to-4", () => {
  const mae = quantize(row([6, 0, 0.5, 2.5]), 1, 32, fos("mae"));
  assertStrictEquals(mae.scales[0], 0x38);
  assertStrictEquals(hex(mae.packed().slice(0, 2)), "07 41");
  const mse = quantize(row([6, 0, 0.5, 2.5]), 1, 32, fos("mse"));
  assertStrictEquals(mse.scales[0], 0x3c);
  assertStrictEquals(hex(mse.packed().slice(0, 2)), "06 31");
  assertStrictEquals(mse.dequantize()[3], 2.25);
});

// [6·2^-10, 0…]: base = fp32(2^-10) · 1 = 2^-10. map-to-6: e4m3(2^-10) = 0 (a tie between 0 and
// the smallest subnormal 2^-9, to even), enc = FLT_MAX, so the value saturates to code 7 and
// decodes to 0: error 6·2^-10. map-to-4: e4m3(1.5·2^-10) = 2^-9 (0x01), enc 512: 6·2^-10 → 3 →
// 3·2^-9, exact. So map-to-4: scale 0x01, byte 05, decoding to 6·2^-10.
Deno.test("4over6 keeps a subnormal map-to-4 scale where map-to-6's underflows to 0", () => {
  const q = quantize(row([6 * 2 ** -10]), 1, 32, fos("mae"));
  assertStrictEquals(q.scales[0], 0x01);
  assertStrictEquals(q.packed()[0], 0x05);
  assertStrictEquals(q.dequantize()[0], 6 * 2 ** -10);
});

// A zero block: both scales are 0 and every value decodes to 0 at error 0, a tie: map-to-6.
Deno.test("4over6 gives a zero block scale 0 and zero codes", () => {
  const q = quantize(row([]), 1, 32, fos("mse"));
  assertStrictEquals(q.scales[0], 0);
  assertStrictEquals(hex(q.packed().slice(0, 8)), "00 00 00 00 00 00 00 00");
});

// Bound 448 and tensor amax 2688: S_enc = 1. The block [2688, 1792, 0…] has base 448 (0x7e);
// map-to-4's 672 saturates to 448 too, so both candidates are the same and tie: 0x7e, and 2688 →
// 6, 1792 → 4 (codes 7 6 → byte 67). (The bound 256 exists so that map-to-4 never saturates.)
Deno.test("4over6 with the bound 448 saturates map-to-4 in the tensor-amax block, which ties", () => {
  const q = quantize(row([2688, 1792], 2688), 1, 32, fos("mae", 448));
  assertEquals([...q.scales], [0x7e, 0x7e]);
  assertStrictEquals(q.packed()[0], 0x67);
});

// A 16×16 tile (amax 6, so base 1 again, S_enc 1 with tensor amax 1536 in the next tile): 2 rows
// P = [4, 3, 2, 1, 0.5] (map-to-6 1.0 is exact: MAE 0; map-to-4 1.5: 4 → 4.5, 3 → 3, 2 → 2.25,
// 1 → 0.75, 0.5 → 0.75: MAE 1.25), 3 rows R = [6, 4.5] (map-to-6: 4.5 → 4, MAE 0.5; map-to-4:
// 6 → 6, 4.5 → 4.5, MAE 0) and 11 zero rows (0 both). Summed: map-to-6 1.5, map-to-4 2.5, so the
// tile keeps map-to-6 (0x38) although more rows prefer map-to-4.
Deno.test("4over6 on 16×16 tiles compares the errors summed over the tile's rows", () => {
  const x = new Float32Array(16 * 32);
  const put = (r: number, v: number[]) => x.set(v, r * 32);
  put(0, [4, 3, 2, 1, 0.5]);
  put(7, [4, 3, 2, 1, 0.5]);
  for (const r of [2, 9, 15]) put(r, [6, 4.5]);
  x[16] = 1536;
  const q = quantize(x, 16, 32, { ...fos("mae"), tile: "16x16" });
  assertStrictEquals(q.scales[0], 0x38);
  assertStrictEquals(q.packed()[2 * 16], 0x67); // row 2 (byte 32): 6 → 7, 4.5 → 4 (code 6)
});

// TE's tree: row i + row i+8, then i + i+4, i + i+2, i + i+1. With 1 in row 0 and 2^-24 in rows 1
// and 9, the tree adds 2^-24 + 2^-24 = 2^-23 first and 1 + 2^-23 is exact; summing the rows in
// order would lose each 2^-24 to round-to-even (1 + 2^-24 → 1).
Deno.test("4over6 tile errors are summed in TE's tree order", () => {
  const rows = new Array(16).fill(0);
  rows[0] = 1;
  rows[1] = rows[9] = 2 ** -24;
  assertStrictEquals(tileError(rows), 1 + 2 ** -23);
});

Deno.test("4over6 refuses stochastic rounding", () => {
  assertThrows(
    () => quantize(row([1]), 1, 32, fos("mae"), { rounding: "stochastic" }),
    /cannot be combined with fourOverSix/,
  );
});
