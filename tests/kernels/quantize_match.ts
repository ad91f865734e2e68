// The check every quantizer test makes: the GPU quantizer's packed codes, block scales, tensor
// scale, amax, row scales (row-scaled NVFP4) and fake-quant values equal the CPU oracle's, bit for
// bit.
import { assertBitsEqual, assertStrictEquals } from "../assert.ts";
import { fakeQuantizeGpu, quantizeGpu } from "../../kernels/quantize/mod.ts";
import { quantize, type QuantizeOptions } from "../../src/formats/quantize.ts";
import type { FormatName, FormatSpec } from "../../src/formats/spec.ts";

/** Checks packed and fake-quant GPU results against the CPU reference, bit for bit. */
export async function assertQuantizeMatches(
  x: Float32Array,
  rows: number,
  cols: number,
  format: FormatName | FormatSpec,
  opts: QuantizeOptions = {},
): Promise<void> {
  const cpu = quantize(x, rows, cols, format, opts);
  const gpu = await quantizeGpu(x, rows, cols, format, opts);
  assertBitsEqual(gpu.codes, cpu.codes, "codes");
  assertBitsEqual(gpu.scales, cpu.scales, "scales");
  assertStrictEquals(gpu.tensorScale, cpu.tensorScale, "tensorScale");
  assertStrictEquals(gpu.amax, cpu.amax, "amax");
  if (cpu.rowScales) assertBitsEqual(gpu.rowScales!, cpu.rowScales, "rowScales");
  const fake = await fakeQuantizeGpu(x, rows, cols, format, opts);
  assertBitsEqual(fake, cpu.dequantize(), "fake-quant values");
}
