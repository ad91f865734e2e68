// The WGSL quantizer under TransformerEngine's NVFP4 options — Four Over Six (1×16 and 16×16, MAE
// and MSE, bounds 256 and 448) and row scaling — and on the uniform element grids (INT4, E1M2) equals
// the CPU oracle bit for bit on random tensors and on the hand-derived edge blocks of
// tests/formats/four_over_six_test.ts.
import { DISTRIBUTIONS } from "../tensors.ts";
import { assertQuantizeMatches } from "./quantize_match.ts";
import type { Nvfp4Spec } from "../../src/formats/spec.ts";
import type { QuantizeOptions } from "../../src/formats/quantize.ts";

const FOUR_OVER_SIX: Nvfp4Spec[] = (["1x16", "16x16"] as const).flatMap((tile) =>
  (["mae", "mse"] as const).flatMap((error) =>
    ([256, 448] as const).map((scaleBound) => ({
      kind: "nvfp4" as const,
      tile,
      fourOverSix: { error, scaleBound },
    }))
  )
);

for (const format of FOUR_OVER_SIX) {
  const f = format.fourOverSix!;
  Deno.test(`quantizeGpu(4over6 ${format.tile} ${f.error} ${f.scaleBound}) equals the CPU oracle`, async (t) => {
    for (const [name, make] of Object.entries(DISTRIBUTIONS)) {
      await t.step(name, () => assertQuantizeMatches(make(32 * 80, 13), 32, 80, format));
    }
  });
}

Deno.test("quantizeGpu(4over6) equals the CPU oracle on the golden edge blocks", async (t) => {
  // Row r holds one golden block (four_over_six_test.ts) and the tensor amax 1536 in its last
  // block: a map-to-4 win, the MAE tie / MSE map-to-4 block, a subnormal map-to-4 scale, a zero
  // block, and the 1536 block whose candidates tie.
  const blocks = [[4, 3, 2, 1, 0.5], [6, 0, 0.5, 2.5], [6 * 2 ** -10], [], [1536]];
  const x = new Float32Array(16 * 32);
  blocks.forEach((b, r) => x.set(b, r * 32));
  x[31] = 1536;
  for (const format of FOUR_OVER_SIX) {
    await t.step(JSON.stringify(format), () => assertQuantizeMatches(x, 16, 32, format));
  }
});

Deno.test("quantizeGpu(4over6) after an RHT equals the CPU oracle", async () => {
  const format: Nvfp4Spec = { kind: "nvfp4", fourOverSix: { error: "mse", scaleBound: 256 } };
  await assertQuantizeMatches(DISTRIBUTIONS.lognormal(8 * 128, 5), 8, 128, format, {
    rht: { size: 32 },
  });
});

const ROW_SCALED: Nvfp4Spec[] = [
  { kind: "nvfp4", rowScaled: true },
  { kind: "nvfp4", rowScaled: true, fourOverSix: { error: "mae", scaleBound: 256 } },
  { kind: "nvfp4", rowScaled: true, fourOverSix: { error: "mse", scaleBound: 448 } },
];

for (const format of ROW_SCALED) {
  Deno.test(`quantizeGpu(row-scaled ${JSON.stringify(format.fourOverSix ?? {})}) equals the CPU oracle`, async (t) => {
    for (const [name, make] of Object.entries(DISTRIBUTIONS)) {
      // 1040 columns: 260 vec4 per row, more than one pass of the row-stats workgroup.
      await t.step(name, () => assertQuantizeMatches(make(5 * 1040, 17), 5, 1040, format));
    }
    await t.step("a zero row, and rows 2^-20 apart", async () => {
      const x = DISTRIBUTIONS.normal(4 * 64, 3);
      x.fill(0, 64, 128);
      for (let i = 128; i < 192; i++) x[i] *= 2 ** -20;
      await assertQuantizeMatches(x, 4, 64, format);
    });
    await t.step("with a random-sign RHT", async () => {
      const opts = { rht: { size: 16, signs: "random" as const }, seed: 2, tensorId: 4, step: 6 };
      await assertQuantizeMatches(DISTRIBUTIONS.outliers(6 * 64, 9), 6, 64, format, opts);
    });
  });
}

Deno.test("quantizeGpu on the uniform grids (INT4, E1M2) with RHTs, row scaling and SR equals the CPU oracle", async (t) => {
  const x = DISTRIBUTIONS.lognormal(4 * 256, 6);
  const sr = { rounding: "stochastic", seed: 2, tensorId: 3, step: 4 } as const;
  for (const element of ["int4", "e1m2"] as const) {
    const cases: [Nvfp4Spec, QuantizeOptions][] = [
      [{ kind: "nvfp4", element }, { rht: { size: 64 }, ...sr }],
      [{ kind: "nvfp4", element }, { rht: { size: 16, signs: "random" }, ...sr }],
      [{ kind: "nvfp4", element, rowScaled: true }, { rht: { size: 16 } }],
      [{ kind: "nvfp4", element, rowScaled: true }, sr],
      [{ kind: "nvfp4", element, tile: "16x16" }, sr],
    ];
    for (const [format, opts] of cases) {
      await t.step(`${JSON.stringify(format)} ${JSON.stringify(opts)}`, async () => {
        await assertQuantizeMatches(x, 16, 64, format, opts);
      });
    }
  }
});
