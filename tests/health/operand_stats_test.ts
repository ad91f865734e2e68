import { assertEquals, assertOk } from "../assert.ts";
import { operandStatsGpu } from "../../kernels/quantize/health.ts";
import { operandStatsReference } from "../../src/formats/health_reference.ts";
import { quantize, type QuantizeOptions } from "../../src/formats/quantize.ts";
import type { FormatName, FormatSpec } from "../../src/formats/spec.ts";

/** Gaussian-ish values with a few large outliers and tiny values, deterministic. */
function tensor(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: n }, (_, i) => {
    const g = (rand() + rand() + rand() + rand() - 2) * 1.7;
    if (i % 97 === 0) return g * 300; // outliers: clipped where scales round down
    if (i % 13 === 0) return g * 1e-9; // tiny: flushed to zero next to large neighbours
    return g;
  });
}

const CASES: [FormatName | FormatSpec, QuantizeOptions][] = [
  ["nvfp4", {}],
  ["nvfp4", { rht: {} }],
  ["nvfp4", { rounding: "stochastic", seed: 3, tensorId: 1, step: 2 }],
  ["nvfp4-2d", {}],
  [{ kind: "nvfp4", fourOverSix: { error: "mse", scaleBound: 256 } }, {}],
  [{ kind: "nvfp4", tile: "16x16", fourOverSix: { error: "mae", scaleBound: 448 } }, {}],
  [{ kind: "nvfp4", rowScaled: true }, { rht: {} }],
  ["nvint4", { rounding: "stochastic", seed: 3, tensorId: 1, step: 2 }],
  ["ufp4-2d", {}],
  [{ kind: "nvfp4", element: "e1m2", rowScaled: true }, { rht: {} }],
  ["mxfp4", {}],
  ["mxfp8-e4m3", {}],
  ["fp8-e4m3", {}],
  ["bf16", {}],
  ["nvfp4", { rht: {}, compute: "bf16" }],
  [{ kind: "nvfp4", tile: "16x16", fourOverSix: { error: "mae", scaleBound: 256 } }, {
    compute: "bf16",
  }],
];

for (const [format, opts] of CASES) {
  Deno.test(`health quantizer: ${JSON.stringify(format)} ${JSON.stringify(opts)} counts exactly what the CPU reference counts`, async () => {
    const [rows, cols] = [48, 64];
    const x = tensor(rows * cols, 7);
    const { out, stats } = await operandStatsGpu(x, rows, cols, format, opts);
    const want = operandStatsReference(x, rows, cols, format, opts);
    // The fake-quant values are the training kernel's, bit for bit.
    assertEquals(out, quantize(x, rows, cols, format, opts).dequantize());
    for (
      const k of [
        "saturated",
        "underflow",
        "nonFinite",
        "blocks",
        "zeroScales",
        "subnormalScales",
        "minLog2",
        "maxLog2",
      ] as const
    ) {
      assertEquals(stats[k], want[k], k);
    }
    for (const k of ["err2", "ref2", "bias", "abs"] as const) {
      const tol = 1e-5 * Math.max(Math.abs(want[k]), want.ref2 * 1e-3, 1e-30);
      assertOk(Math.abs(stats[k] - want[k]) <= tol, `${k}: ${stats[k]} vs ${want[k]}`);
    }
  });
}

Deno.test("health quantizer: the planted cases register (outliers clip under MX, tiny values flush)", () => {
  const x = tensor(48 * 64, 7);
  const mx = operandStatsReference(x, 48, 64, "mxfp4");
  assertOk(mx.saturated > 0, `mxfp4 saturated ${mx.saturated}`);
  assertOk(mx.underflow > 0, `mxfp4 underflow ${mx.underflow}`);
  assertEquals(operandStatsReference(x, 48, 64, "nvfp4").zeroScales, 0);
});
