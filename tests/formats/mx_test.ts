import { assertStrictEquals } from "../assert.ts";
import { ELEMENTS } from "../../src/formats/elements.ts";
import { mxScaleByte } from "../../src/formats/mx.ts";
import { quantize } from "../../src/formats/quantize.ts";

const { e2m1, e4m3 } = ELEMENTS;

function block(amax: number): Float32Array {
  const x = new Float32Array(32);
  x[0] = amax;
  x[1] = -amax / 4;
  return x;
}

Deno.test("mxScaleByte follows NUMERICS.md §9.2 under floor, ceil and rceil", () => {
  assertStrictEquals(mxScaleByte(3, e2m1, "floor"), 0x7e);
  assertStrictEquals(mxScaleByte(7, e2m1, "floor"), 0x7f);
  assertStrictEquals(mxScaleByte(0, e2m1, "floor"), 0x00);
  assertStrictEquals(mxScaleByte(1, e4m3, "floor"), 0x77);
  assertStrictEquals(mxScaleByte(449, e4m3, "floor"), 0x7f);
  assertStrictEquals(mxScaleByte(448, e4m3, "rceil"), 0x7f);
  assertStrictEquals(mxScaleByte(449, e4m3, "rceil"), 0x80);
  assertStrictEquals(mxScaleByte(500, e4m3, "rceil"), 0x80);
  assertStrictEquals(mxScaleByte(224, e4m3, "rceil"), 0x7e);
  // The paper's round-up rule: amax 3+δ gets scale 1 (2^0), so 3+δ maps to 3.
  assertStrictEquals(mxScaleByte(Math.fround(3.01), e2m1, "ceil"), 0x7f);
  assertStrictEquals(mxScaleByte(6, e2m1, "ceil"), 0x7f);
  assertStrictEquals(mxScaleByte(Math.fround(6.01), e2m1, "ceil"), 0x80);
});

Deno.test("mxfp4 floor: 3 → 6, 7 clips to 6, 5 → 4 (RNE)", () => {
  for (const [amax, value] of [[3, 3], [7, 6], [5, 4]]) {
    const q = quantize(block(amax), 1, 32, "mxfp4");
    assertStrictEquals(q.dequantize()[0], value, `amax ${amax}`);
  }
  assertStrictEquals(quantize(block(3), 1, 32, "mxfp4").codes[0], 0x7);
});

Deno.test("mxfp8-e4m3 rceil: 449 → 224.5 → 224 and 500 → 250 → 256 (scale 2)", () => {
  const spec = { kind: "mx", element: "e4m3", scaleRule: "rceil" } as const;
  assertStrictEquals(quantize(block(449), 1, 32, spec).dequantize()[0], 448);
  assertStrictEquals(quantize(block(500), 1, 32, spec).dequantize()[0], 512);
  assertStrictEquals(quantize(block(449), 1, 32, "mxfp8-e4m3").dequantize()[0], 448);
});

Deno.test("mx zero block has scale byte 0 and decodes to zeros", () => {
  const q = quantize(new Float32Array(64), 2, 32, "mxfp8-e5m2");
  assertStrictEquals(q.scales.length, 2);
  assertStrictEquals(q.scales[0], 0);
  assertStrictEquals(q.dequantize().every((v) => v === 0), true);
});

Deno.test("mx handles amax near FLT_MAX and near the smallest normal", () => {
  for (const rule of ["floor", "ceil", "rceil"] as const) {
    const spec = { kind: "mx", element: "e2m1", scaleRule: rule } as const;
    const big = quantize(block(1e37), 1, 32, spec).dequantize()[0];
    const rel = Math.abs(big - Math.fround(1e37)) / 1e37;
    assertStrictEquals(rel < 0.34, true, `${rule}: ${big}`);
    const tiny = quantize(block(1e-36), 1, 32, spec).dequantize()[0];
    assertStrictEquals(
      Math.abs(tiny - Math.fround(1e-36)) / 1e-36 < 0.34,
      true,
      `${rule}: ${tiny}`,
    );
  }
});
