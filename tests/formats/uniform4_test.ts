import { assertEquals, assertOk, assertStrictEquals, assertThrows } from "../assert.ts";
import { DISTRIBUTIONS } from "../tensors.ts";
import {
  clipThreshold,
  decodeElement,
  ELEMENTS,
  encodeElement,
  encodeStochastic,
} from "../../src/formats/elements.ts";
import { f16FromBits, f16Operand } from "../../src/formats/f16.ts";
import { f32Bits } from "../../src/formats/fp32.ts";
import { operandStatsReference } from "../../src/formats/health_reference.ts";
import { nvfp4TensorScales } from "../../src/formats/nvfp4_scales.ts";
import { quantize, type QuantizeOptions } from "../../src/formats/quantize.ts";
import { bitsPerValue, type FormatName, resolveFormat } from "../../src/formats/spec.ts";

const { int4, e1m2 } = ELEMENTS;

/** The nearest grid magnitude to |x| among 0, s, …, 7s, ties to the even step; 7s beyond. */
function nearestStep(a: number, s: number): number {
  const k = a / s;
  const lo = Math.floor(k);
  const q = k - lo > 0.5 || (k - lo === 0.5 && lo % 2 === 1) ? lo + 1 : lo;
  return Math.min(q, 7) * s;
}

Deno.test("INT4 and E1M2 decode their 16 codes to the uniform grids", () => {
  const ints = Array.from({ length: 16 }, (_, c) => decodeElement(int4, c));
  assertEquals(ints, [0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1]);
  const quarters = Array.from({ length: 16 }, (_, c) => decodeElement(e1m2, c));
  assertEquals(quarters.slice(0, 8), [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75]);
  assertEquals(quarters.slice(8), [-0, -0.25, -0.5, -0.75, -1, -1.25, -1.5, -1.75]);
  assertEquals([int4.maxFinite, e1m2.maxFinite, clipThreshold(int4), clipThreshold(e1m2)], [
    7,
    1.75,
    7.5,
    1.875,
  ]);
});

Deno.test("encodeElement rounds every tested FP32 value to the nearest grid step, ties to even, and saturates", () => {
  for (const [f, s] of [[int4, 1], [e1m2, 0.25]] as const) {
    const xs: number[] = [];
    // Every step, every midpoint and their FP32 neighbours, past the clip threshold.
    for (let k = 0; k <= 16; k++) {
      for (const v of [k * s, (k + 0.5) * s]) {
        const b = f32Bits(v);
        xs.push(v, new Float32Array(new Uint32Array([b + 1]).buffer)[0]);
        if (v > 0) xs.push(new Float32Array(new Uint32Array([b - 1]).buffer)[0]);
      }
    }
    const u = DISTRIBUTIONS.normal(4096, 3);
    xs.push(...u.map((v) => Math.abs(Math.fround(v * 3 * s))), 1e-30, 3e38);
    for (const x of xs) {
      for (const sign of [1, -1]) {
        const y = sign * x;
        const got = decodeElement(f, encodeElement(f, y));
        const want = sign * nearestStep(x, s);
        assertOk(
          got === want || (got === 0 && want === 0),
          `${f.name}(${y}) = ${got}, want ${want}`,
        );
      }
    }
  }
  // Signs: INT4 stores negatives in two's complement and has no −0; E1M2 keeps −0.
  assertStrictEquals(encodeElement(int4, -3), 0xd);
  assertStrictEquals(encodeElement(int4, -0.25), 0x0);
  assertStrictEquals(encodeElement(int4, -100), 0x9);
  assertStrictEquals(encodeElement(e1m2, -0.1), 0x8);
  assertStrictEquals(encodeElement(e1m2, -100), 0xf);
});

Deno.test("INT4 and E1M2 stochastic rounding lands on the two neighbours with the distance's probability", () => {
  // 2.25 lies a quarter of the way from 2 to 3: up iff r < 2^30.
  assertStrictEquals(encodeStochastic(int4, 2.25, 2 ** 30 - 1), 0x3);
  assertStrictEquals(encodeStochastic(int4, 2.25, 2 ** 30), 0x2);
  assertStrictEquals(encodeStochastic(int4, -2.25, 0), 0xd); // −3
  assertStrictEquals(encodeStochastic(e1m2, 0.5625, 2 ** 30 - 1), 0x3);
  assertStrictEquals(encodeStochastic(e1m2, 0.5625, 2 ** 30), 0x2);
  assertStrictEquals(encodeStochastic(e1m2, -0.0625, 0xffffffff), 0x8);
  assertStrictEquals(encodeStochastic(int4, -0.0625, 0xffffffff), 0x0);
});

Deno.test("the scale chain maps a block's amax to 7 (INT4) or 1.75 (E1M2) times its E4M3 scale", () => {
  // Tensor amax 7·448 = 3136 (INT4) or 1.75·448 = 784 (E1M2): S_enc = 1; mult = fp32(1/7) or
  // fp32(4/7), and a block amax 7 or 1.75 gets the scale fp32(7·fp32(1/7)) = 1 (E4M3 0x38).
  assertEquals(nvfp4TensorScales(3136, 448, 7), { sEnc: 1, sDec: 1, mult: Math.fround(1 / 7) });
  assertEquals(nvfp4TensorScales(784, 448, 1.75).sEnc, 1);
  const block = [0, 0.5, 1.5, 2.5, 3.5, 7, -7, -2.5, -0.5, 6.4, 5.5, 4.5, 1, 2, 3, -3];
  const x = new Float32Array(32);
  x.set(block);
  x[16] = 3136;
  const q = quantize(x, 1, 32, "nvint4");
  assertEquals([...q.codes.slice(0, 16)], [0, 0, 2, 2, 4, 7, 9, 14, 0, 6, 6, 4, 1, 2, 3, 13]);
  assertEquals([q.scales[0], q.scales[1], q.tensorScale], [0x38, 0x7e, 1]);
  const u = quantize(Float32Array.from(x, (v) => v / 4), 1, 32, "ufp4");
  assertEquals([...u.codes.slice(0, 16)], [0, 0, 2, 2, 4, 7, 15, 10, 8, 6, 6, 4, 1, 2, 3, 11]);
  assertEquals([u.scales[0], u.scales[1], u.tensorScale], [0x38, 0x7e, 1]);
});

Deno.test("nvint4 and ufp4 quantize to the same values (INT4 has no −0), in both tilings and roundings", () => {
  const x = DISTRIBUTIONS.lognormal(32 * 64, 7);
  const opts: QuantizeOptions[] = [{}, { rounding: "stochastic", seed: 4, tensorId: 2, step: 9 }, {
    rht: { size: 32 },
  }];
  for (const [a, b] of [["nvint4", "ufp4"], ["nvint4-2d", "ufp4-2d"]] as const) {
    for (const o of opts) {
      if (o.rht && a.endsWith("2d")) continue;
      const qa = quantize(x, 32, 64, a, o);
      const qb = quantize(x, 32, 64, b, o);
      assertEquals([...qa.scales], [...qb.scales], `${a} scales`);
      assertStrictEquals(qb.tensorScale, 4 * qa.tensorScale);
      const va = qa.dequantize();
      const vb = qb.dequantize();
      assertOk(va.every((v, i) => v === vb[i]), `${a} vs ${b} ${JSON.stringify(o)}`);
    }
  }
});

Deno.test("nvint4 and ufp4: the f16 operand times its factor is the fake-quant value, bit for bit", () => {
  const x = DISTRIBUTIONS.outliers(32 * 64, 5);
  for (const format of ["nvint4", "nvint4-2d", "ufp4", "ufp4-2d"] as const) {
    const q = quantize(x, 32, 64, format, { rounding: "stochastic", seed: 1 });
    const op = f16Operand(q);
    const fake = q.dequantize();
    assertOk(
      op.bits.every((b, i) =>
        f32Bits(Math.fround(f16FromBits(b) * op.factor)) === f32Bits(fake[i])
      ),
      format,
    );
  }
});

Deno.test("stochastic nvint4/ufp4 quantization is deterministic per stream and unbiased", () => {
  const x = Float32Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(i) * 3 + 0.1 * i));
  for (const format of ["nvint4", "ufp4"] as const) {
    const at = (seed: number, step = 0) =>
      quantize(x, 1, 64, format, { rounding: "stochastic", seed, tensorId: 3, step }).dequantize();
    assertEquals([...at(5)], [...at(5)], `${format}: same stream, same codes`);
    assertOk(at(5).some((v, i) => v !== at(5, 1)[i]), `${format}: another step, another draw`);
    const n = 4000;
    const mean = new Float64Array(64);
    for (let s = 0; s < n; s++) at(s).forEach((v, i) => (mean[i] += v / n));
    const step = quantize(x, 1, 64, format).dequantize().reduce((m, v) => Math.max(m, v), 0) / 7;
    for (let i = 0; i < 64; i++) {
      // Each draw is off by less than a step: 5 standard errors of a two-point variable.
      assertOk(Math.abs(mean[i] - x[i]) <= 5 * (step / 2) / Math.sqrt(n), `${format} x[${i}]`);
    }
  }
});

Deno.test("health statistics of a uniform grid count saturation past its own clip threshold", () => {
  // Tensor amax 3136 (S_enc = 1). A block amax 7.4 gets the scale fp32(7.4·fp32(1/7)) ≈ 1.057,
  // which rounds down to 1 (E4M3 0x38): 7.4 lies on the grid at 7.4, past E2M1's threshold 7 but
  // below INT4's 7.5, so it is rounding, not saturation. A block of 1e-7 values gets a zero scale:
  // its codes saturate at ±7 and decode to 0, counted as saturated and as underflow.
  const x = new Float32Array(48);
  x[0] = 3136;
  x[16] = 7.4;
  x.fill(1e-7, 32, 36);
  const s = operandStatsReference(x, 1, 48, "nvint4");
  assertEquals([s.saturated, s.underflow, s.blocks, s.zeroScales], [4, 4, 3, 1]);
});

Deno.test("format specs: element grids, their names, bits and refusals", () => {
  const names: FormatName[] = ["nvint4", "nvint4-2d", "ufp4", "ufp4-2d"];
  // 4-bit codes plus an E4M3 byte per 1×16 block, or per 16×16 tile.
  assertEquals(names.map((n) => bitsPerValue(resolveFormat(n))), [4.5, 4.03125, 4.5, 4.03125]);
  assertEquals(resolveFormat({ kind: "nvfp4", element: "e2m1" }), resolveFormat("nvfp4"));
  assertThrows(
    () => resolveFormat({ kind: "nvfp4", element: "int4", fourOverSix: {} }),
    TypeError,
    "fourOverSix needs E2M1 elements",
  );
  assertThrows(
    () => resolveFormat({ kind: "nvfp4", element: "e3m0" as "int4" }),
    TypeError,
    `format.element must be one of "e2m1", "int4", "e1m2", got "e3m0"`,
  );
});
