// The WGSL quantizer under `compute: bf16` — inputs rounded to BF16 as they are loaded, the RHT
// output rounded again before its amax — equals the CPU oracle bit for bit for every format, with
// the RHT (fixed and random signs) and with the NVFP4 options whose passes load the input on
// their own (16×16 tile amaxes, Four Over Six's tile choice, row scaling).
import { DISTRIBUTIONS } from "../tensors.ts";
import { assertQuantizeMatches } from "./quantize_match.ts";
import { FORMAT_NAMES, type FormatSpec } from "../../src/formats/spec.ts";

const ROWS = 16;
const COLS = 64;

Deno.test("quantizeGpu with compute bf16 equals the CPU reference for every format", async (t) => {
  for (const format of FORMAT_NAMES) {
    await t.step(format, async () => {
      for (const make of [DISTRIBUTIONS.normal, DISTRIBUTIONS.lognormal, DISTRIBUTIONS.ties]) {
        const x = make(ROWS * COLS, 4);
        await assertQuantizeMatches(x, ROWS, COLS, format, { compute: "bf16" });
      }
    });
  }
});

Deno.test("quantizeGpu with compute bf16 rounds the RHT output like the CPU reference", async (t) => {
  const x = DISTRIBUTIONS.lognormal(4 * 256, 2);
  for (const size of [16, 128]) {
    for (const format of ["nvfp4", "mxfp4", "bf16"] as const) {
      await t.step(`${format} rht ${size}`, async () => {
        const opts = { rht: { size }, rounding: "stochastic", seed: 9, compute: "bf16" } as const;
        await assertQuantizeMatches(x, 4, 256, format, opts);
      });
    }
  }
  await t.step("random signs", async () => {
    const opts = {
      rht: { signs: "random" },
      seed: 2,
      tensorId: 4,
      step: 6,
      compute: "bf16",
    } as const;
    await assertQuantizeMatches(x, 4, 256, "nvfp4", opts);
  });
});

Deno.test("quantizeGpu with compute bf16 equals the CPU reference under the NVFP4 options", async (t) => {
  const formats: FormatSpec[] = [
    { kind: "nvfp4", tile: "16x16" },
    { kind: "nvfp4", tile: "16x16", fourOverSix: { error: "mse", scaleBound: 256 } },
    { kind: "nvfp4", fourOverSix: {} },
    { kind: "nvfp4", rowScaled: true },
  ];
  const x = DISTRIBUTIONS.outliers(32 * 64, 8);
  for (const format of formats) {
    await t.step(JSON.stringify(format), async () => {
      await assertQuantizeMatches(x, 32, 64, format, { compute: "bf16" });
    });
  }
});
