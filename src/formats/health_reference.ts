/**
 * The CPU reference of the health quantizer's statistics (`kernels/quantize/health_wgsl.ts`):
 * from the CPU quantizer of `src/formats/`, in f64, the same fields the GPU kernel's partials add
 * up to. The counts must agree exactly and the sums to f32 summation error.
 *
 * @module
 */

import { clipThreshold, decodeElement, type ElementFormat, ELEMENTS } from "./elements.ts";
import { fp8Scale } from "./fp8.ts";
import { nvfp4ElementFormat } from "./nvfp4.ts";
import { div32, f32Bits, f32FromBits, mul32 } from "./fp32.ts";
import { quantize, type Quantized, type QuantizeOptions, quantizerInput } from "./quantize.ts";
import { delayedScalingOf, type FormatName, type FormatSpec } from "./spec.ts";

const FLT_MAX = f32FromBits(0x7f7fffff);

/** The min/max fields' start value (the f32 nearest 3e38) where no block has a scale. */
const NO_SCALE = Math.fround(3.0e38);

/** The statistics of one quantization, by the names of `HEALTH_FIELD`. */
export interface OperandStats {
  err2: number;
  ref2: number;
  bias: number;
  abs: number;
  saturated: number;
  underflow: number;
  nonFinite: number;
  blocks: number;
  zeroScales: number;
  subnormalScales: number;
  /** ⌊log2⌋ of the smallest and largest decoded block scale; ±3e38 where there are no blocks. */
  minLog2: number;
  maxLog2: number;
}

/** ⌊log2 |v|⌋ of a normal FP32 value from its exponent field (−127 for zero and subnormals). */
const exponentOf = (v: number) => ((f32Bits(v) >>> 23) & 0xff) - 127;

/** The S_dec of the block-scale row `row` (a fraction: block / blocks per row): its row's or the tensor's. */
const decodeScaleOf = (q: Quantized, row: number) =>
  q.rowScales?.[Math.floor(row)] ?? q.tensorScale;

/**
 * The health statistics of quantizing a finite row-major `[rows, cols]` tensor to `format`
 * (fake-quant), as the GPU health quantizer computes them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { operandStatsReference } from "./health_reference.ts";
 * const s = operandStatsReference(new Float32Array(16).fill(1), 1, 16, "nvfp4");
 * assert.equal(s.err2, 0);
 * assert.equal(s.blocks, 1);
 * ```
 */
export function operandStatsReference(
  x: Float32Array,
  rows: number,
  cols: number,
  format: FormatName | FormatSpec,
  opts: QuantizeOptions = {},
): OperandStats {
  const q = quantize(x, rows, cols, format, opts);
  const d = q.dequantize();
  const v = quantizerInput(x, rows, cols, opts);
  const s: OperandStats = {
    err2: 0,
    ref2: 0,
    bias: 0,
    abs: 0,
    saturated: 0,
    underflow: 0,
    nonFinite: 0,
    blocks: 0,
    zeroScales: 0,
    subnormalScales: 0,
    minLog2: NO_SCALE,
    maxLog2: -NO_SCALE,
  };
  const spec = q.spec;
  const scaled = scaledMagnitude(q, v);
  for (let i = 0; i < v.length; i++) {
    const e = d[i] - v[i];
    s.err2 += e * e;
    s.ref2 += v[i] * v[i];
    const magnitude = scaled.magnitude(i);
    if (!(magnitude > scaled.max)) s.bias += e * Math.sign(v[i]);
    s.abs += Math.abs(v[i]);
    if (magnitude >= scaled.limit) s.saturated++;
    if (v[i] !== 0 && d[i] === 0) s.underflow++;
  }
  if (spec.kind === "nvfp4" || spec.kind === "mx") {
    const block = spec.kind === "nvfp4" ? 16 : 32;
    const nb = cols / block;
    const amax = blockAmaxes(v, rows, cols, block, spec.kind === "nvfp4" && spec.tile === "16x16");
    for (let b = 0; b < rows * nb; b++) {
      if (amax[b] === 0) continue;
      s.blocks++;
      const byte = q.scales[b];
      let e: number;
      if (spec.kind === "nvfp4") {
        if (byte === 0) {
          s.zeroScales++;
          continue;
        }
        if (byte >> 3 === 0) s.subnormalScales++;
        e = exponentOf(mul32(decodeElement(ELEMENTS.e4m3, byte), decodeScaleOf(q, b / nb)));
      } else {
        e = byte - 127;
      }
      s.minLog2 = Math.min(s.minLog2, e);
      s.maxLog2 = Math.max(s.maxLog2, e);
    }
  }
  return s;
}

/** Each element's magnitude on the format's grid before clipping, and the format's largest. */
function scaledMagnitude(
  q: ReturnType<typeof quantize>,
  v: Float32Array,
): { magnitude: (i: number) => number; max: number; limit: number } {
  const spec = q.spec;
  switch (spec.kind) {
    case "nvfp4": {
      const nb = q.cols / 16;
      const enc = Array.from(q.scales, (byte, b) => {
        const p = mul32(decodeElement(ELEMENTS.e4m3, byte), decodeScaleOf(q, b / nb));
        return p === 0 ? FLT_MAX : Math.min(div32(1, p), FLT_MAX);
      });
      return {
        magnitude: (i) => Math.abs(Math.fround(v[i] * enc[i >> 4])),
        ...limits(nvfp4ElementFormat(spec)),
      };
    }
    case "mx": {
      const inv = Array.from(q.scales, (byte) => f32FromBits(((254 - byte) << 23) >>> 0));
      return {
        magnitude: (i) => Math.abs(Math.fround(v[i] * inv[i >> 5])),
        ...limits(ELEMENTS[spec.element]),
      };
    }
    case "fp8": {
      const f = ELEMENTS[spec.element];
      const scale = delayedScalingOf(spec)?.scale ?? fp8Scale(q.amax, f);
      return { magnitude: (i) => Math.abs(Math.fround(v[i] * scale)), ...limits(f) };
    }
    default:
      return {
        magnitude: (i) => Math.abs(v[i]),
        ...(spec.element === "fp32"
          ? { max: Infinity, limit: Infinity }
          : limits(ELEMENTS[spec.element])),
      };
  }
}

/** The largest value of `f` and the magnitude from which an element counts as saturated. */
function limits(f: ElementFormat): { max: number; limit: number } {
  return { max: f.maxFinite, limit: clipThreshold(f) };
}

/** The amax of each block along the rows, or of its 16×16 tile. */
function blockAmaxes(
  v: Float32Array,
  rows: number,
  cols: number,
  block: number,
  tiles: boolean,
): Float64Array {
  const nb = cols / block;
  const out = new Float64Array(rows * nb);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      let m = 0;
      for (let j = 0; j < block; j++) m = Math.max(m, Math.abs(v[r * cols + b * block + j]));
      out[r * nb + b] = m;
    }
  }
  if (!tiles) return out;
  const tiled = new Float64Array(rows * nb);
  for (let r = 0; r < rows; r++) {
    const r0 = r - (r % 16);
    for (let b = 0; b < nb; b++) {
      let m = 0;
      for (let k = r0; k < r0 + 16 && k < rows; k++) m = Math.max(m, out[k * nb + b]);
      tiled[r * nb + b] = m;
    }
  }
  return tiled;
}
