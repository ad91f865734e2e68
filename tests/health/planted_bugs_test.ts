import { assertOk, assertThrows } from "../assert.ts";
import { quantizeGpu } from "../../kernels/quantize/mod.ts";
import { quantize } from "../../src/formats/quantize.ts";
import { decodeElement, ELEMENTS } from "../../src/formats/elements.ts";
import { errorCorrelation, tileScalesShared } from "../../src/health/checks.ts";
import type { OperandPolicy } from "../../src/model/policy.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  // Rows of different magnitudes, so that 1×16 blocks of different rows get different scales.
  return Float32Array.from({ length: n }, (_, i) => (u() - 0.5) * 2 ** ((i >> 6) % 7));
}

/** Throws unless the weight copy `policy` makes on the GPU has 16×16 tiles. */
async function assertWeightTiles(policy: OperandPolicy): Promise<void> {
  const [rows, cols] = [64, 64];
  const q = await quantizeGpu(values(rows * cols, 1), rows, cols, policy.format);
  if (!tileScalesShared(q.scales, rows, cols)) {
    throw new Error(`${JSON.stringify(policy.format)}: weight scales are not 16×16 tiles`);
  }
}

Deno.test("the NVFP4 recipe's weights are quantized in 16×16 tiles on the GPU; a planted 1×16 weight policy trips the check", async () => {
  const recipe = POLICIES.nvfp4.linear;
  await assertWeightTiles(recipe.fprop.w);
  await assertWeightTiles(recipe.dgrad.w);
  const planted: OperandPolicy = { ...recipe.fprop.w, format: "nvfp4" };
  const error = await assertWeightTiles(planted).catch((e) => e);
  assertOk(error instanceof Error && /not 16×16 tiles/.test(error.message), String(error));
});

const [ROWS, COLS] = [64, 256];

/** Whether element `i` is not its 16-block's largest magnitude (the one element that can clip). */
function notBlockMax(x: Float32Array): (i: number) => boolean {
  return (i) => {
    const b0 = i - (i % 16);
    for (let j = b0; j < b0 + 16; j++) if (Math.abs(x[j]) > Math.abs(x[i])) return true;
    return false;
  };
}

/** Stochastic NVFP4 values of the same tensor under two stream coordinates. */
function draws(a: { seed: number; tensorId: number; step: number }, b: typeof a) {
  const x = values(ROWS * COLS, 2);
  const q = (o: typeof a) =>
    quantize(x, ROWS, COLS, "nvfp4", { rounding: "stochastic", ...o }).dequantize();
  return { x, a: q(a), b: q(b) };
}

/** Throws where the rounding errors of two streams correlate beyond 5/√n. */
function assertIndependent(d: ReturnType<typeof draws>): void {
  const { r, n } = errorCorrelation(d.x, d.a, d.b, notBlockMax(d.x));
  if (!(n > 1000 && Math.abs(r) < 5 / Math.sqrt(n))) {
    throw new Error(`rounding errors correlate: r = ${r.toFixed(3)} over ${n} elements`);
  }
}

Deno.test("stochastic-rounding streams of different tensors, steps and seeds are independent; a planted shared stream trips the check", () => {
  const base = { seed: 0, tensorId: 1, step: 1 };
  assertIndependent(draws(base, { ...base, tensorId: 2 }));
  assertIndependent(draws(base, { ...base, step: 2 }));
  assertIndependent(draws(base, { ...base, seed: 1 }));
  // The planted bug: a keying that drops the tensor id gives tensors 1 and 2 one stream.
  const planted = draws(base, { ...base });
  assertThrows(() => assertIndependent(planted), Error, "correlate");
});

/** E2M1's non-negative values. */
const E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6];

Deno.test("stochastic rounding is unbiased within its statistical bound over many draws; round-to-nearest is not", () => {
  const [rows, cols, n] = [16, 64, 256];
  const x = values(rows * cols, 3);
  const include = notBlockMax(x);
  const det = quantize(x, rows, cols, "nvfp4");
  /** Each element's standard deviation of one draw: gap · √(p(1−p)) between its grid neighbours. */
  const sd = Array.from(x, (v, i) => {
    const scale = decodeElement(ELEMENTS.e4m3, det.scales[i >> 4]) * det.tensorScale;
    const y = Math.min(Math.abs(v) / scale, 6);
    const k = Math.max(0, E2M1.findLastIndex((g) => g <= y));
    if (k === E2M1.length - 1) return 0;
    const gap = E2M1[k + 1] - E2M1[k];
    const p = (y - E2M1[k]) / gap;
    return Math.max(gap * Math.sqrt(p * (1 - p)), gap / 64) * scale;
  });
  /** The largest |mean of n draws − x| in standard errors, over the elements that cannot clip. */
  const worstZ = (rounding: "stochastic" | "rne") => {
    const sum = new Float64Array(x.length);
    for (let step = 0; step < n; step++) {
      const d = quantize(x, rows, cols, "nvfp4", { rounding, seed: 9, step }).dequantize();
      d.forEach((v, i) => (sum[i] += v));
    }
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      if (!include(i) || sd[i] === 0) continue;
      worst = Math.max(worst, Math.abs(sum[i] / n - x[i]) / (sd[i] / Math.sqrt(n)));
    }
    return worst;
  };
  const sr = worstZ("stochastic");
  assertOk(sr < 6, `stochastic rounding: worst |z| ${sr.toFixed(2)}`);
  const rne = worstZ("rne");
  assertOk(rne > 6, `round to nearest should be caught as biased: worst |z| ${rne.toFixed(2)}`);
});
