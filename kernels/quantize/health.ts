/**
 * `operandStatsGpu`: the health variant of the fake-quant quantizer (`./health_wgsl.ts`) on a
 * host array, its partials added up in f64 — the array-in, array-out mirror of
 * `operandStatsReference` (src/formats/health_reference.ts), for tests and checks.
 *
 * @module
 */

import { createBufferFrom, createEmptyBuffer, readBuffer } from "../../src/gpu/buffers.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { checkQuantizeArgs, type QuantizeOptions } from "../../src/formats/quantize.ts";
import { resolveRounding } from "../../src/formats/rounding.ts";
import type { FormatName, FormatSpec } from "../../src/formats/spec.ts";
import type { OperandStats } from "../../src/formats/health_reference.ts";
import { sumPartials } from "../health/mod.ts";
import { QuantizeKernel } from "./mod.ts";
import { kernelConfig, quantizeSizes } from "./reference.ts";
import { HEALTH_FIELD, HEALTH_FIELDS } from "./health_wgsl.ts";

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** The fields that reduce by min and max rather than by sum. */
export const HEALTH_EXTREMES = {
  [HEALTH_FIELD.minLog2]: "min",
  [HEALTH_FIELD.maxLog2]: "max",
} as const;

/** Turns the f64 field totals (in `HEALTH_FIELD` order) into named statistics. */
export function operandStatsOf(totals: readonly number[]): OperandStats {
  const named = Object.fromEntries(
    Object.entries(HEALTH_FIELD).map(([name, i]) => [name, totals[i]]),
  );
  return named as unknown as OperandStats;
}

/**
 * Quantizes on the GPU with the health kernel; returns the fake-quant values and the statistics.
 *
 * @example
 * ```ts
 * import { operandStatsGpu } from "./health.ts";
 * const { stats } = await operandStatsGpu(new Float32Array(16).fill(1), 1, 16, "nvfp4");
 * console.log(stats.err2, stats.blocks); // 0 1
 * ```
 */
export async function operandStatsGpu(
  x: Float32Array,
  rows: number,
  cols: number,
  format: FormatName | FormatSpec,
  opts: QuantizeOptions = {},
): Promise<{ out: Float32Array; stats: OperandStats }> {
  const spec = checkQuantizeArgs(x, rows, cols, format, opts);
  const gpu = await getGpu();
  const device = gpu.device;
  const cfg = kernelConfig(spec, opts, "fake", cols);
  const kernel = await QuantizeKernel.create(gpu, cfg, { health: true });
  const sizes = quantizeSizes(cfg, rows, cols);
  const padded = new Float32Array(sizes.elements);
  padded.set(x);
  const groups = kernel.healthWorkgroups(rows, cols);
  const buffers: GPUBuffer[] = [];
  const make = (bytes: number) => {
    const b = createEmptyBuffer(device, Math.max(bytes, 4), STORAGE);
    buffers.push(b);
    return b;
  };
  try {
    const xBuf = createBufferFrom(device, padded, STORAGE);
    buffers.push(xBuf);
    const health = make(groups * HEALTH_FIELDS * 4);
    const out = make(sizes.outBytes);
    const bound = kernel.bind(rows, cols, {
      x: xBuf,
      stats: make(sizes.statsBytes),
      out,
      tileAmax: sizes.tileBytes > 0 ? make(sizes.tileBytes) : undefined,
      health: { buffer: health },
    });
    const scale = spec.kind === "fp8" && spec.scaling && spec.scaling !== "current"
      ? spec.scaling.scaleFor()
      : 1;
    bound.setParams(resolveRounding(opts).key, scale);
    const encoder = device.createCommandEncoder({ label: "operandStatsGpu" });
    const pass = encoder.beginComputePass();
    bound.encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const [o, h] = await Promise.all([readBuffer(device, out), readBuffer(device, health)]);
    bound.destroy();
    const totals = sumPartials(new Float32Array(h), 0, groups, HEALTH_FIELDS, HEALTH_EXTREMES);
    return { out: new Float32Array(o, 0, rows * cols).slice(), stats: operandStatsOf(totals) };
  } finally {
    for (const b of buffers) b.destroy();
  }
}
