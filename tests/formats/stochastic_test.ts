import { assertOk, assertStrictEquals } from "../assert.ts";
import { decodeElement, ELEMENTS, encodeStochastic } from "../../src/formats/elements.ts";
import { randomBits, streamKey } from "../../src/formats/rng.ts";
import { quantize } from "../../src/formats/quantize.ts";

const formats = [
  ELEMENTS.e2m1,
  ELEMENTS.int4,
  ELEMENTS.e1m2,
  ELEMENTS.e4m3,
  ELEMENTS.e5m2,
  ELEMENTS.fp16,
  ELEMENTS.bf16,
];

/** The grid neighbours of |x| in format f. */
function neighbours(f: typeof ELEMENTS.e2m1, x: number): [number, number] {
  let lo = 0;
  for (let c = 0; c <= f.maxCode; c++) if (decodeElement(f, c) <= Math.abs(x)) lo = c;
  return [decodeElement(f, lo), decodeElement(f, Math.min(lo + 1, f.maxCode))];
}

Deno.test("stochastic rounding yields only the two neighbouring grid values", () => {
  for (const f of formats) {
    const xs = [0.3, 1.1, 2.7, 5.5, 0.013, 123.4, 3e-5].map(Math.fround).filter((x) =>
      x < f.maxFinite
    );
    for (const x of xs) {
      const [lo, hi] = neighbours(f, x);
      for (let i = 0; i < 200; i++) {
        const v = decodeElement(f, encodeStochastic(f, -x, randomBits(7, i)));
        assertOk(v === -lo || v === -hi, `${f.name} x=${x} got ${v}, want ${-lo} or ${-hi}`);
      }
    }
  }
});

Deno.test("stochastic rounding is unbiased: the mean over many draws converges to x", () => {
  const n = 20000;
  for (const f of formats) {
    for (const x of [0.3, 1.3, 2.9, 4.6, 0.0071].map(Math.fround)) {
      const [lo, hi] = neighbours(f, x);
      if (lo === hi) continue;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum += decodeElement(f, encodeStochastic(f, x, randomBits(99, i)));
      }
      const p = (x - lo) / (hi - lo);
      const sd = (hi - lo) * Math.sqrt(p * (1 - p) / n);
      assertOk(Math.abs(sum / n - x) <= 5 * sd + 1e-12, `${f.name} x=${x} mean=${sum / n}`);
    }
  }
});

Deno.test("stochastic rounding keeps grid values exact and saturates beyond max", () => {
  for (const f of formats) {
    for (let c = 0; c < f.maxCode; c += Math.max(1, f.maxCode >> 5)) {
      const v = decodeElement(f, c);
      for (const r of [0, 0x80000000, 0xffffffff]) {
        assertStrictEquals(encodeStochastic(f, v, r), c, `${f.name} code ${c}`);
      }
    }
  }
  assertStrictEquals(encodeStochastic(ELEMENTS.e2m1, 7, 0), 0x7);
  assertStrictEquals(encodeStochastic(ELEMENTS.e4m3, -1000, 0), 0xfe);
});

Deno.test("streamKey separates seeds, tensors and steps; random words look uniform", () => {
  const keys = new Set<number>();
  for (let s = 0; s < 8; s++) {
    for (let t = 0; t < 8; t++) for (let k = 0; k < 8; k++) keys.add(streamKey(s, t, k));
  }
  assertStrictEquals(keys.size, 512);
  const key = streamKey(1, 2, 3);
  let ones = 0;
  const n = 4096;
  for (let i = 0; i < n; i++) ones += randomBits(key, i).toString(2).split("1").length - 1;
  assertOk(Math.abs(ones / (32 * n) - 0.5) < 0.005, `bit balance ${ones / (32 * n)}`);
});

Deno.test("quantize with stochastic rounding is deterministic for a key and varies with it", () => {
  const x = Float32Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(i) * 2));
  const opts = { rounding: "stochastic", seed: 5, tensorId: 2, step: 9 } as const;
  const a = quantize(x, 4, 16, "nvfp4", opts).codes;
  const b = quantize(x, 4, 16, "nvfp4", opts).codes;
  const c = quantize(x, 4, 16, "nvfp4", { ...opts, step: 10 }).codes;
  assertStrictEquals(a.join(), b.join());
  assertOk(a.join() !== c.join());
});

Deno.test("nvfp4 with stochastic rounding is unbiased over seeds", () => {
  const x = Float32Array.from({ length: 32 }, (_, i) => Math.fround(Math.cos(i * 0.9) * 2.2));
  const n = 3000;
  const mean = new Float64Array(32);
  for (let seed = 0; seed < n; seed++) {
    const y = quantize(x, 2, 16, "nvfp4", { rounding: "stochastic", seed }).dequantize();
    for (let i = 0; i < 32; i++) mean[i] += y[i] / n;
  }
  for (let i = 0; i < 32; i++) {
    assertOk(Math.abs(mean[i] - x[i]) < 0.03, `i=${i} x=${x[i]} mean=${mean[i]}`);
  }
});
