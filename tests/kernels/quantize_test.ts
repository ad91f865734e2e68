import { assertBitsEqual, assertOk, assertStrictEquals } from "../assert.ts";
import { DISTRIBUTIONS } from "../tensors.ts";
import { assertQuantizeMatches } from "./quantize_match.ts";
import { hadamardGpu, quantizeGpu } from "../../kernels/quantize/mod.ts";
import {
  hadamard,
  quantize,
  type QuantizeOptions,
  rhtSignKey,
} from "../../src/formats/quantize.ts";
import { FORMAT_NAMES } from "../../src/formats/spec.ts";
import { DelayedScaling } from "../../src/formats/fp8.ts";

const ROWS = 16;
const COLS = 64;

for (const format of FORMAT_NAMES) {
  for (const rounding of ["rne", "stochastic"] as const) {
    if (format === "fp32" && rounding === "stochastic") continue;
    Deno.test(`quantizeGpu(${format}, ${rounding}) equals the CPU reference bit for bit`, async (t) => {
      for (const [name, make] of Object.entries(DISTRIBUTIONS)) {
        await t.step(name, async () => {
          const x = make(ROWS * COLS, 11);
          await assertQuantizeMatches(x, ROWS, COLS, format, {
            rounding,
            seed: 3,
            tensorId: 5,
            step: 7,
          });
        });
      }
    });
  }
}

Deno.test("quantizeGpu with the RHT (sizes 16–128) equals the CPU reference", async (t) => {
  const x = DISTRIBUTIONS.lognormal(4 * 256, 2);
  for (const size of [16, 32, 64, 128]) {
    for (const format of ["nvfp4", "mxfp4", "fp8-e4m3", "bf16"] as const) {
      await t.step(`${format} rht ${size}`, async () => {
        await assertQuantizeMatches(x, 4, 256, format, {
          rht: { size },
          rounding: "stochastic",
          seed: 9,
        });
      });
    }
  }
  await t.step("custom signs", async () => {
    const signs = Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? -1 : 1));
    await assertQuantizeMatches(x, 4, 256, "nvfp4", { rht: { signs } });
  });
});

Deno.test("random RHT signs: one vector per signs stream and step, equal on GPU and CPU", async (t) => {
  const x = DISTRIBUTIONS.lognormal(4 * 256, 4);
  for (const size of [16, 32, 64, 128]) {
    for (const rounding of ["rne", "stochastic"] as const) {
      await t.step(`nvfp4 rht ${size} random, ${rounding}`, async () => {
        const opts = { rht: { size, signs: "random" as const }, rounding, seed: 2, tensorId: 3 };
        await assertQuantizeMatches(x, 4, 256, "nvfp4", { ...opts, step: 5, rhtTensorId: 8 });
        await assertQuantizeMatches(x, 4, 256, "mxfp4", { ...opts, step: 6 });
      });
    }
  }
  const y = (opts: QuantizeOptions) => hadamard(x, 4, 256, opts.rht, rhtSignKey(opts));
  const at = { rht: { signs: "random" as const }, seed: 2, tensorId: 3, step: 5 };
  const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => Object.is(v, b[i]));
  assertOk(same(y(at), y({ ...at, tensorId: 4, rhtTensorId: 3 })), "signs follow rhtTensorId");
  assertOk(!same(y(at), y({ ...at, step: 6 })), "another step draws another vector");
  assertOk(!same(y(at), y({ ...at, seed: 3 })), "another seed draws another vector");
  assertOk(!same(y(at), y({ ...at, rht: {} })), "random signs are not the fixed vector");
});

Deno.test("hadamardGpu equals hadamard and the NUMERICS.md §9.2 vector", async () => {
  const x = Float32Array.from({ length: 16 }, (_, i) => i + 1);
  const y = await hadamardGpu(x, 1, 16);
  assertStrictEquals(y[0], -15.5);
  assertStrictEquals(y[15], -17.5);
  const z = DISTRIBUTIONS.magnitudes(512, 4);
  for (const size of [16, 32, 64, 128]) {
    assertBitsEqual(await hadamardGpu(z, 2, 256, { size }), hadamard(z, 2, 256, { size }));
  }
});

Deno.test("quantizeGpu reproduces the NUMERICS.md §9.2 NVFP4 blocks", async () => {
  const A = [0, .25, .75, 1.25, 1.75, 2.5, 3.5, 5, -.25, -.75, -1.25, -1.75, -2.5, -3.5, -5, 6];
  const B = [.1, -.2, .3, -.4, .5, -.6, .7, -.8, .9, -1, 1.1, -1.2, 1.3, -1.4, 1.5, -1.6];
  const tiny = [...new Array(15).fill(1e-6), 2e-6];
  const cases: [number[], number, string, number][] = [
    [A, 2688, "00 22 44 66 a8 ca ec 7e", 0x38],
    [A, 6, "00 22 44 66 a8 ca ec 7e", 0x7e],
    [B, 1.6, "91 b2 c4 d5 e5 e6 f6 f7", 0x7e],
    [B, 10, "91 b2 c4 d5 e5 e6 f6 f7", 0x69],
    [new Array(16).fill(0), 10, "00 00 00 00 00 00 00 00", 0x00],
    [tiny, 100, "77 77 77 77 77 77 77 77", 0x00],
  ];
  for (const [block, amax, bytes, scale] of cases) {
    const x = new Float32Array(32);
    x.set(block.map(Math.fround));
    x[16] = Math.max(amax, ...block.map(Math.abs)) === amax ? amax : 0;
    const q = await quantizeGpu(x, 1, 32, "nvfp4");
    const hex = [...q.packed().slice(0, 8)].map((v) => v.toString(16).padStart(2, "0")).join(" ");
    assertStrictEquals(hex, bytes, `block with tensor amax ${amax}`);
    assertStrictEquals(q.scales[0], scale);
  }
});

Deno.test("quantizeGpu covers every E4M3 block-scale byte 0x00–0x7E", async () => {
  // Tensor amax 2688 gives S_enc = 1; a block with amax 6·v(code) then gets scale `code`.
  const x = new Float32Array(128 * 16);
  x[0] = 2688;
  for (let code = 0; code < 127; code++) {
    const e = code >> 3;
    const v = e === 0 ? (code & 7) * 2 ** -9 : (1 + (code & 7) / 8) * 2 ** (e - 7);
    for (let i = 1; i < 16; i++) x[(code + 1) * 16 + i] = Math.fround(6 * v * (i / 15));
  }
  await assertQuantizeMatches(x, 128, 16, "nvfp4");
  const q = quantize(x, 128, 16, "nvfp4");
  for (let code = 1; code < 127; code++) assertStrictEquals(q.scales[code + 1], code);
});

Deno.test("quantizeGpu covers every E4M3/E5M2/E2M1 rounding boundary directly", async () => {
  // Delayed FP8 scaling with scale 1 and MXFP4 with shared exponent 0 encode inputs unscaled.
  for (const element of ["e4m3", "e5m2"] as const) {
    const max = element === "e4m3" ? 448 : 57344;
    const state = new DelayedScaling(element);
    state.record(max);
    const xs: number[] = [];
    for (let v = 2 ** -16; v < max * 1.2; v *= 1.0625) {
      for (const d of [-(2 ** -24), 0, 2 ** -24]) xs.push(v * (1 + d), -v * (1 + d));
    }
    while (xs.length % 16) xs.push(0);
    const x = Float32Array.from(xs);
    await assertQuantizeMatches(x, 1, x.length, { kind: "fp8", element, scaling: state });
  }
  const ties = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 7];
  const xs: number[] = [];
  for (const t of ties) {
    for (const d of [-(2 ** -23), 0, 2 ** -23]) xs.push(t * (1 + d), -t * (1 + d));
  }
  while (xs.length % 32) xs.push(4);
  await assertQuantizeMatches(Float32Array.from(xs), 1, xs.length, "mxfp4");
});

Deno.test("quantizeGpu handles MX scale rules and delayed FP8 scaling", async () => {
  const x = DISTRIBUTIONS.magnitudes(ROWS * COLS, 8);
  for (const element of ["e2m1", "e4m3", "e5m2"] as const) {
    for (const scaleRule of ["floor", "ceil", "rceil"] as const) {
      await assertQuantizeMatches(x, ROWS, COLS, { kind: "mx", element, scaleRule });
    }
  }
  const state = new DelayedScaling("e5m2");
  state.record(1e3);
  await assertQuantizeMatches(x, ROWS, COLS, { kind: "fp8", element: "e5m2", scaling: state });
});

Deno.test("quantizeGpu handles shapes that are not a multiple of the GPU padding", async () => {
  const x = DISTRIBUTIONS.normal(3 * 48, 5);
  await assertQuantizeMatches(x, 3, 48, "nvfp4", { rounding: "stochastic" });
  await assertQuantizeMatches(x.subarray(0, 3 * 37), 3, 37, "bf16");
  await assertQuantizeMatches(DISTRIBUTIONS.normal(48 * 80, 1), 48, 80, "nvfp4-2d");
});
