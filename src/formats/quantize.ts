/**
 * The CPU reference quantizer: `quantize()` for every format, `hadamard()`, and the `Quantized`
 * tensor they return. This is the oracle every WGSL kernel is tested against bit for bit.
 *
 * @module
 */

import { decodeElement, ELEMENTS } from "./elements.ts";
import { dequantizeFp8, fp8Scale, quantizeFp8 } from "./fp8.ts";
import { f32FromBits, ftz } from "./fp32.ts";
import { dequantizeMx, quantizeMx } from "./mx.ts";
import { dequantizeNvfp4, nvfp4ElementFormat, quantizeNvfp4 } from "./nvfp4.ts";
import { amaxOf, type QuantizedParts } from "./parts.ts";
import { type ComputePrecision, roundBf16 } from "./bf16.ts";
import { hadamardBlock, type HadamardOptions, resolveHadamard } from "./rht.ts";
import { makeRounder, resolveRounding, type RoundingOptions } from "./rounding.ts";
import {
  blockShape,
  delayedScalingOf,
  type FormatName,
  type FormatSpec,
  type ResolvedFormat,
  resolveFormat,
} from "./spec.ts";

/** Options of {@link quantize}. */
export interface QuantizeOptions extends RoundingOptions {
  /** Apply the Random Hadamard Transform along each row before quantizing (amax taken after it). */
  rht?: HadamardOptions;
  /**
   * The tensor id whose stream at this seed and step random RHT signs come from (default
   * `tensorId`): the two operands of a GEMM share it, so that both see the same transform.
   */
  rhtTensorId?: number;
  /**
   * `bf16` (Megatron/TransformerEngine BF16 mixed precision): every input value is rounded to BF16
   * as it is read (a no-op on BF16 activations; an FP32 master weight becomes its BF16 copy), and
   * the RHT's output is rounded to BF16 again before its amax is taken, as TE's RHT returns a
   * BF16 tensor (`transformer_engine/pytorch/custom_recipes/reference_nvfp4.py`, `_apply_rht`
   * multiplies in the input's dtype and `_quantize` takes the columnwise amax of that result).
   * Default `fp32`: inputs are only flushed.
   */
  compute?: ComputePrecision;
}

/**
 * The key random RHT signs are drawn from: `streamKey(seed, rhtTensorId ?? tensorId, step)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rhtSignKey } from "./quantize.ts";
 * import { streamKey } from "./rng.ts";
 * assert.equal(rhtSignKey({ seed: 1, tensorId: 2, step: 3 }), streamKey(1, 2, 3));
 * assert.equal(rhtSignKey({ seed: 1, tensorId: 2, rhtTensorId: 9, step: 3 }), streamKey(1, 9, 3));
 * ```
 */
export function rhtSignKey(opts: QuantizeOptions): number {
  return resolveRounding({ ...opts, tensorId: opts.rhtTensorId ?? opts.tensorId }).key;
}

/** A quantized `[rows, cols]` tensor. */
export class Quantized {
  /** The format as it was asked for. */
  readonly format: FormatName | FormatSpec;
  /** The format with every default filled in. */
  readonly spec: ResolvedFormat;
  /** Rows of the tensor. */
  readonly rows: number;
  /** Columns of the tensor (blocks run along them). */
  readonly cols: number;
  /** One element code per value: FP32 bits (fp32), 16-bit codes (bf16, fp16) or 8-bit codes. */
  readonly codes: Uint8Array | Uint16Array | Uint32Array;
  /**
   * Block-scale codes, row-major `[rows, cols / blockCols]`: E4M3 bytes for nvfp4, nvint4 and ufp4 (a 16×16 tile's
   * scale repeated on its 16 rows for nvfp4-2d), E8M0 bytes (exponent + 127) for MX formats,
   * empty for per-tensor formats.
   */
  readonly scales: Uint8Array;
  /** FP32 decode scale of the tensor: S_dec for nvfp4, fp32(1/scale) for fp8, else 1. */
  readonly tensorScale: number;
  /** Row-scaled nvfp4: the S_dec of each row (`tensorScale` is then 1). */
  readonly rowScales?: Float32Array;
  /** Largest |x| of the quantized input (after the RHT, if any). */
  readonly amax: number;

  /**
   * Wraps the parts a quantizer produced; {@link quantize} is the way to make one.
   *
   * @param format the format as it was asked for
   * @param spec the format with every default filled in
   * @param rows rows of the tensor
   * @param cols columns of the tensor
   * @param parts codes, scales, tensor scale and amax
   */
  constructor(
    format: FormatName | FormatSpec,
    spec: ResolvedFormat,
    rows: number,
    cols: number,
    parts: QuantizedParts,
  ) {
    this.format = format;
    this.spec = spec;
    this.rows = rows;
    this.cols = cols;
    this.codes = parts.codes;
    this.scales = parts.scales;
    this.tensorScale = parts.tensorScale;
    if (parts.rowScales) this.rowScales = parts.rowScales;
    this.amax = parts.amax;
  }

  /**
   * The values the codes stand for, as FP32.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { quantize } from "./quantize.ts";
   * const q = quantize(new Float32Array([1, 2, 3, 4]), 1, 4, "bf16");
   * assert(q.dequantize()[2] === 3);
   * ```
   */
  dequantize(): Float32Array {
    const s = this.spec;
    const codes = this.codes;
    switch (s.kind) {
      case "float":
        if (s.element === "fp32") return new Float32Array((codes as Uint32Array).slice().buffer);
        if (s.element === "bf16") return Float32Array.from(codes, (c) => f32FromBits(c << 16));
        return Float32Array.from(codes, (c) => decodeElement(ELEMENTS.fp16, c));
      case "fp8":
        return dequantizeFp8(codes as Uint8Array, ELEMENTS[s.element], this.tensorScale);
      case "mx":
        return dequantizeMx(codes as Uint8Array, this.scales, ELEMENTS[s.element]);
      case "nvfp4":
        return dequantizeNvfp4(
          codes as Uint8Array,
          this.scales,
          this.rowScales ?? this.tensorScale,
          this.cols,
          nvfp4ElementFormat(s),
        );
    }
  }

  /**
   * The codes as stored: FP4 packed two per byte (element 2i in the low nibble), 8-bit codes as
   * they are, 16- and 32-bit codes little-endian.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { quantize } from "./quantize.ts";
   * const x = new Float32Array(16).fill(6);
   * assert(quantize(x, 1, 16, "nvfp4").packed()[0] === 0x77);
   * ```
   */
  packed(): Uint8Array {
    const codes = this.codes;
    if (codes instanceof Uint8Array && (this.spec.kind === "nvfp4" || isFp4Mx(this.spec))) {
      const out = new Uint8Array(codes.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = codes[2 * i] | (codes[2 * i + 1] << 4);
      return out;
    }
    return new Uint8Array(
      codes.buffer.slice(codes.byteOffset, codes.byteOffset + codes.byteLength),
    );
  }
}

function isFp4Mx(s: ResolvedFormat): boolean {
  return s.kind === "mx" && s.element === "e2m1";
}

/**
 * Checks the arguments every quantizer takes; throws `TypeError`/`RangeError` naming the argument
 * and the value. Returns the resolved format.
 */
export function checkQuantizeArgs(
  x: unknown,
  rows: unknown,
  cols: unknown,
  format: FormatName | FormatSpec,
  opts: QuantizeOptions = {},
): ResolvedFormat {
  if (!(x instanceof Float32Array)) {
    throw new TypeError(`x must be a Float32Array, got ${describe(x)}`);
  }
  for (const [name, v] of [["rows", rows], ["cols", cols]] as const) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
      throw new RangeError(`${name} must be a non-negative integer, got ${describe(v)}`);
    }
  }
  const r = rows as number;
  const c = cols as number;
  if (x.length !== r * c) {
    throw new RangeError(`x.length (${x.length}) must equal rows × cols (${r} × ${c} = ${r * c})`);
  }
  const spec = resolveFormat(format);
  const { mode } = resolveRounding(opts);
  if (mode === "stochastic" && spec.kind === "float" && spec.element === "fp32") {
    throw new RangeError(`rounding "stochastic" needs a format narrower than fp32, got fp32`);
  }
  if (mode === "stochastic" && spec.kind === "nvfp4" && spec.fourOverSix) {
    throw new RangeError(
      `rounding "stochastic" cannot be combined with fourOverSix, which compares two ` +
        `round-to-nearest candidates (TransformerEngine refuses it too)`,
    );
  }
  if (opts.compute !== undefined && opts.compute !== "fp32" && opts.compute !== "bf16") {
    throw new TypeError(`compute must be "fp32" or "bf16", got ${JSON.stringify(opts.compute)}`);
  }
  const [br, bc] = blockShape(spec);
  const name = typeof format === "string" ? format : spec.kind;
  if (bc > 0 && c % bc !== 0) {
    throw new RangeError(`cols (${c}) must be a multiple of the ${name} block width ${bc}`);
  }
  if (br > 1 && r % br !== 0) {
    throw new RangeError(`rows (${r}) must be a multiple of the ${name} block height ${br}`);
  }
  if (opts.rht !== undefined) {
    resolveHadamard(c, opts.rht, rhtSignKey(opts));
    if (br > 1) {
      throw new RangeError(
        `rht cannot be combined with ${name}: 16×16 weight tiles get no RHT (NUMERICS.md §2.4)`,
      );
    }
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new RangeError(`x[${i}] is ${x[i]}; quantizers need finite inputs`);
    }
  }
  return spec;
}

function describe(v: unknown): string {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return String(v);
  return (v as object).constructor?.name ?? typeof v;
}

/**
 * The RHT of each row of a row-major `[rows, cols]` tensor, in blocks of `size` (default 16) with
 * the fixed sign vector (or the given one; random signs from the stream `key`); inputs' subnormals
 * are flushed first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hadamard } from "./quantize.ts";
 * const x = Float32Array.from({ length: 16 }, (_, i) => i + 1);
 * assert(hadamard(x, 1, 16)[0] === -15.5); // NUMERICS.md §9.2
 * ```
 */
export function hadamard(
  x: Float32Array,
  rows: number,
  cols: number,
  opts: HadamardOptions = {},
  key?: number,
): Float32Array {
  checkQuantizeArgs(x, rows, cols, "fp32");
  const { signs } = resolveHadamard(cols, opts, key);
  const out = Float32Array.from(x, ftz);
  for (let off = 0; off < out.length; off += signs.length) hadamardBlock(out, off, signs);
  return out;
}

/**
 * What a quantizer takes the amax of and quantizes: `x` flushed (or rounded to BF16 under
 * `opts.compute: bf16`), then the RHT of each row where `opts.rht` asks for one (rounded to BF16
 * again under `compute: bf16`). Arguments are not checked; {@link quantize} checks them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantizerInput } from "./quantize.ts";
 * const x = Float32Array.from({ length: 16 }, (_, i) => 1 + i / 256);
 * assert.equal(quantizerInput(x, 1, 16)[3], x[3]);
 * assert.equal(quantizerInput(x, 1, 16, { compute: "bf16" })[3], 1.015625);
 * ```
 */
export function quantizerInput(
  x: Float32Array,
  rows: number,
  cols: number,
  opts: QuantizeOptions = {},
): Float32Array {
  const bf16 = opts.compute === "bf16";
  const loaded = Float32Array.from(x, bf16 ? roundBf16 : ftz);
  if (!opts.rht) return loaded;
  const rotated = hadamard(loaded, rows, cols, opts.rht, rhtSignKey(opts));
  return bf16 ? Float32Array.from(rotated, roundBf16) : rotated;
}

/**
 * Quantizes a row-major `[rows, cols]` FP32 tensor on the CPU; blocks run along each row.
 *
 * @param x the values (finite)
 * @param rows number of rows
 * @param cols number of columns (a multiple of the format's block width)
 * @param format a format name such as `"nvfp4"` or a full {@link FormatSpec}
 * @param opts rounding (`rne` or `stochastic` with its seed, tensor id and step), optional RHT and
 *   the compute precision of the input ({@link QuantizeOptions.compute})
 * @throws {TypeError} for an unknown format or option
 * @throws {RangeError} for bad sizes, non-finite inputs or out-of-range options
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantize } from "./quantize.ts";
 * const x = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
 * const q = quantize(x, 2, 16, "nvfp4");
 * assert(q.scales.length === 2 && q.codes.length === 32);
 * ```
 */
export function quantize(
  x: Float32Array,
  rows: number,
  cols: number,
  format: FormatName | FormatSpec,
  opts: QuantizeOptions = {},
): Quantized {
  const spec = checkQuantizeArgs(x, rows, cols, format, opts);
  const input = quantizerInput(x, rows, cols, opts);
  const round = makeRounder(opts);
  let parts: QuantizedParts;
  switch (spec.kind) {
    case "float": {
      if (spec.element === "fp32") {
        const codes = new Uint32Array(input.slice().buffer);
        parts = { codes, scales: new Uint8Array(0), tensorScale: 1, amax: amaxOf(input) };
      } else {
        const f = ELEMENTS[spec.element];
        const codes = Uint16Array.from(input, (v, i) => round(f, v, i));
        parts = { codes, scales: new Uint8Array(0), tensorScale: 1, amax: amaxOf(input) };
      }
      break;
    }
    case "fp8": {
      const f = ELEMENTS[spec.element];
      const scale = delayedScalingOf(spec)?.scale ?? fp8Scale(amaxOf(input), f);
      parts = quantizeFp8(input, f, scale, round);
      break;
    }
    case "mx":
      parts = quantizeMx(input, ELEMENTS[spec.element], spec.scaleRule, round);
      break;
    case "nvfp4":
      parts = quantizeNvfp4(input, rows, cols, spec, round);
      break;
  }
  return new Quantized(format, spec, rows, cols, parts);
}
