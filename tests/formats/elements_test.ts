import { assertEquals, assertStrictEquals } from "../assert.ts";
import { decodeElement, ELEMENTS, encodeElement } from "../../src/formats/elements.ts";
import { f32FromBits } from "../../src/formats/fp32.ts";

const { e2m1, e4m3, e5m2, fp16, bf16 } = ELEMENTS;

Deno.test("encodeElement(e2m1) matches NUMERICS.md §9.2, ties to even", () => {
  const cases: [number, number][] = [
    [0.25, 0x0],
    [0.26, 0x1],
    [0.74, 0x1],
    [0.75, 0x2],
    [1.25, 0x2],
    [Math.fround(1.2500001), 0x3],
    [1.75, 0x4],
    [2.5, 0x4],
    [3.5, 0x6],
    [5.0, 0x6],
    [Math.fround(5.0000005), 0x7],
    [7, 0x7],
    [-0.25, 0x8],
    [-0.3, 0x9],
    [-5, 0xe],
    [-100, 0xf],
  ];
  for (const [x, code] of cases) assertEquals(encodeElement(e2m1, Math.fround(x)), code, `x=${x}`);
});

Deno.test("decodeElement(e2m1) gives the 16 values of NUMERICS.md §1.1", () => {
  const values = [0, .5, 1, 1.5, 2, 3, 4, 6, -0, -.5, -1, -1.5, -2, -3, -4, -6];
  values.forEach((v, c) => assertStrictEquals(decodeElement(e2m1, c), v));
});

Deno.test("encodeElement(e4m3) matches NUMERICS.md §9.2 (RNE, satfinite)", () => {
  const cases: [number, number][] = [
    [1.0, 0x38],
    [0.3952, 0x2d],
    [240, 0x77],
    [256, 0x78],
    [272, 0x78],
    [288, 0x79],
    [448, 0x7e],
    [449, 0x7e],
    [464, 0x7e],
    [500, 0x7e],
    [1e9, 0x7e],
    [2 ** -9, 0x01],
    [2 ** -10, 0x00],
    [1.5 * 2 ** -9, 0x02],
    [2.5 * 2 ** -9, 0x02],
    [0.0146484375, 0x08],
    [1.0625, 0x38],
    [1.1875, 0x3a],
  ];
  for (const [x, code] of cases) assertEquals(encodeElement(e4m3, Math.fround(x)), code, `x=${x}`);
});

Deno.test("encodeElement without saturation overflows to NaN (e4m3) and Inf (e5m2, fp16)", () => {
  assertEquals(encodeElement(e4m3, 464, false), 0x7e);
  assertEquals(encodeElement(e4m3, 465, false), 0x7f);
  assertEquals(encodeElement(e5m2, 57344, false), 0x7b);
  assertEquals(encodeElement(e5m2, 61440, false), 0x7c); // tie at max + ulp/2 rounds to Inf
  assertEquals(encodeElement(e5m2, -1e6, false), 0xfc);
  assertEquals(encodeElement(fp16, 65520, false), 0x7c00);
  assertEquals(encodeElement(fp16, 65519, false), 0x7bff);
  assertStrictEquals(decodeElement(e5m2, 0x7c), Infinity);
  assertEquals(decodeElement(e4m3, 0x7f), NaN);
});

Deno.test("encodeElement(fp16) agrees with Math.f16round on every fp16 boundary", () => {
  const buf = new Float32Array(1);
  for (let c = 0; c < 0x7bff; c += 7) {
    const lo = decodeElement(fp16, c);
    const hi = decodeElement(fp16, c + 1);
    for (const x of [lo, (lo + hi) / 2, Math.fround(lo + (hi - lo) / 3), hi]) {
      buf[0] = x;
      const v = buf[0];
      assertEquals(decodeElement(fp16, encodeElement(fp16, v, false)), Math.f16round(v), `x=${v}`);
    }
  }
});

Deno.test("encodeElement(bf16) is round-to-nearest-even on the FP32 bit pattern", () => {
  const bits = [0x3f808000, 0x3f818000, 0x3f808001, 0x3f80ffff, 0x7f7fffff, 0xc0490fdb, 0x00800000];
  const rne = (b: number) => {
    const r = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    return (r & 0x7fff) > 0x7f80 ? (r & 0x8000) | 0x7f80 : r;
  };
  for (const b of bits) {
    assertEquals(encodeElement(bf16, f32FromBits(b), false), rne(b), `bits=${b.toString(16)}`);
  }
});

Deno.test("decodeElement(e5m2) and (bf16) reach their extremes", () => {
  assertEquals(decodeElement(e5m2, 0x7b), 57344);
  assertEquals(decodeElement(e5m2, 0x01), 2 ** -16);
  assertEquals(decodeElement(bf16, 0x7f7f), f32FromBits(0x7f7f0000));
});
