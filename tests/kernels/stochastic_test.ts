import { assertOk, assertStrictEquals } from "../assert.ts";
import { DISTRIBUTIONS } from "../tensors.ts";
import { fakeQuantizeGpu, quantizeGpu } from "../../kernels/quantize/mod.ts";
import { quantize } from "../../src/formats/quantize.ts";
import { decodeElement, ELEMENTS } from "../../src/formats/elements.ts";

const E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6];

Deno.test("GPU stochastic rounding gives only the two neighbouring E2M1 values", async () => {
  const x = DISTRIBUTIONS.normal(16 * 64, 21);
  const q = await quantizeGpu(x, 16, 64, "mxfp4", { rounding: "stochastic", seed: 1 });
  for (let i = 0; i < x.length; i++) {
    const scale = 2 ** (q.scales[Math.floor(i / 32)] - 127);
    const a = Math.abs(x[i]) / scale; // exact: a power-of-two scale
    const lo = E2M1.filter((v) => v <= a).at(-1)!;
    const hi = E2M1.find((v) => v >= a) ?? 6;
    const got = Math.abs(decodeElement(ELEMENTS.e2m1, q.codes[i]));
    assertOk(got === lo || got === hi, `x[${i}]/scale = ${a}: got ${got}, want ${lo} or ${hi}`);
  }
});

Deno.test("GPU stochastic rounding is unbiased: the mean over seeds converges to x", async () => {
  const x = DISTRIBUTIONS.normal(2 * 32, 4).map((v) => v * 0.7);
  const seeds = 400;
  const mean = new Float64Array(x.length);
  for (let seed = 0; seed < seeds; seed++) {
    const y = await fakeQuantizeGpu(x, 2, 32, "nvfp4", { rounding: "stochastic", seed });
    for (let i = 0; i < x.length; i++) mean[i] += y[i] / seeds;
  }
  const q = quantize(x, 2, 32, "nvfp4");
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    // Standard error of a two-point distribution is at most half the grid step over √seeds.
    const step = 2 * q.tensorScale * decodeElement(ELEMENTS.e4m3, q.scales[Math.floor(i / 16)]);
    worst = Math.max(worst, Math.abs(mean[i] - x[i]) / (step / 2 / Math.sqrt(seeds)));
  }
  assertOk(worst < 5, `largest deviation is ${worst.toFixed(2)} standard errors`);
});

Deno.test("GPU stochastic rounding: same key, same bits; another step, other bits", async () => {
  const x = DISTRIBUTIONS.lognormal(8 * 64, 2);
  const opts = { rounding: "stochastic", seed: 77, tensorId: 3, step: 12 } as const;
  const a = await quantizeGpu(x, 8, 64, "nvfp4", opts);
  const b = await quantizeGpu(x, 8, 64, "nvfp4", opts);
  const c = await quantizeGpu(x, 8, 64, "nvfp4", { ...opts, step: 13 });
  assertStrictEquals(a.codes.join(), b.codes.join());
  assertStrictEquals(a.codes.join(), quantize(x, 8, 64, "nvfp4", opts).codes.join());
  assertOk(a.codes.join() !== c.codes.join());
});
