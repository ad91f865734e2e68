/**
 * The contract of the GPU quantizers (kernels/quantize/mod.ts): what a kernel is configured with
 * ({@link KernelConfig}, resolved from a format and options by {@link kernelConfig}), what that
 * implies ({@link geometry}), and the sizes of the buffers a kernel reads and writes
 * ({@link quantizeSizes}; GPU tensors are zero-padded to {@link GPU_PAD} elements).
 *
 * The CPU reference of the numbers themselves is `src/formats/`, which every kernel matches bit
 * for bit.
 *
 * @module
 */

import { type ElementName, ELEMENTS } from "../../src/formats/elements.ts";
import { hasF16Operand } from "../../src/formats/f16.ts";
import type { QuantizeOptions } from "../../src/formats/quantize.ts";
import { resolveHadamard } from "../../src/formats/rht.ts";
import { resolveRounding } from "../../src/formats/rounding.ts";
import type { ResolvedFormat, ResolvedNvfp4 } from "../../src/formats/spec.ts";

/**
 * Every GPU tensor is zero-padded to a multiple of this many elements.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPU_PAD } from "./reference.ts";
 * assert.equal(GPU_PAD, 128);
 * ```
 */
export const GPU_PAD = 128;

/**
 * What a quantize kernel computes. Delayed FP8 scaling reads its scale from the params.
 *
 * @example
 * ```ts
 * import type { KernelFormat } from "./reference.ts";
 * const nvfp4: KernelFormat = { kind: "nvfp4", tile: "1x16" };
 * ```
 */
export type KernelFormat =
  | { readonly kind: "float"; readonly element: "fp32" | "bf16" | "fp16" }
  | { readonly kind: "fp8"; readonly element: "e4m3" | "e5m2"; readonly delayed: boolean }
  | {
    readonly kind: "mx";
    readonly element: "e2m1" | "e4m3" | "e5m2";
    readonly scaleRule: "floor" | "ceil" | "rceil";
  }
  | ResolvedNvfp4;

/** What a quantize kernel writes (see {@link KernelConfig.output}). */
export type QuantizeOutput = "fake" | "packed" | "f16";

/**
 * A quantize kernel's configuration.
 *
 * @example
 * ```ts
 * import type { KernelConfig } from "./reference.ts";
 * const cfg: KernelConfig = {
 *   format: { kind: "fp8", element: "e4m3", delayed: false },
 *   stochastic: false,
 *   output: "fake",
 * };
 * ```
 */
export interface KernelConfig {
  /** The number format. */
  readonly format: KernelFormat;
  /** Stochastic rounding (else round to nearest even). */
  readonly stochastic: boolean;
  /**
   * A random Hadamard transform of `size` before quantizing, with these signs or with a vector
   * drawn per submission from the stream key (`random`, src/formats/rht.ts randomSigns).
   */
  readonly rht?:
    | { readonly size: number; readonly signs: readonly number[] }
    | { readonly size: number; readonly random: true };
  /**
   * Fake-quant FP32 values, packed codes and scale bytes, or the f16 operand of the matrix-unit
   * GEMM (binary16 values whose tensor factor goes in stats[1]; `src/formats/f16.ts`).
   */
  readonly output: QuantizeOutput;
  /**
   * `bf16`: inputs are rounded to BF16 as they are loaded and the RHT output again before its amax
   * (`QuantizeOptions.compute` of src/formats/quantize.ts); absent, inputs are only flushed.
   */
  readonly compute?: "bf16";
}

/**
 * Derived sizes of a configuration.
 *
 * @example
 * ```ts
 * import type { Geometry } from "./reference.ts";
 * const mx: Geometry = { block: 32, scaled: true, needsStats: false, tiled: false, codeBits: 4 };
 * ```
 */
export interface Geometry {
  /** Elements per scale block (16 for formats without block scales). */
  block: number;
  /** Whether the format has block scales. */
  scaled: boolean;
  /**
   * Whether a stats pass (tensor amax) precedes quantization (bf16 and MX need one for f16 output).
   */
  needsStats: boolean;
  /** Whether the stats pass works on 16×16 tiles. */
  tiled: boolean;
  /** Bits per packed code. */
  codeBits: number;
}

/**
 * The element codec of a kernel format; `fp32` for the identity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elementName } from "./reference.ts";
 * assert.equal(elementName({ kind: "nvfp4", tile: "16x16" }), "e2m1");
 * assert.equal(elementName({ kind: "nvfp4", element: "e1m2", tile: "1x16" }), "e1m2");
 * ```
 */
export function elementName(f: KernelFormat): ElementName | "fp32" {
  return f.kind === "nvfp4" ? f.element ?? "e2m1" : f.element;
}

/**
 * The geometry of a kernel configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { geometry } from "./reference.ts";
 * const g = geometry({ format: { kind: "nvfp4", tile: "16x16" }, stochastic: false, output: "packed" });
 * assert.deepEqual(g, { block: 16, scaled: true, needsStats: true, tiled: true, codeBits: 4 });
 * ```
 */
export function geometry(cfg: KernelConfig): Geometry {
  const f = cfg.format;
  const elem = elementName(f);
  return {
    block: f.kind === "mx" ? 32 : 16,
    scaled: f.kind === "nvfp4" || f.kind === "mx",
    needsStats: f.kind === "nvfp4" || (f.kind === "fp8" && !f.delayed) ||
      (cfg.output === "f16" && (f.kind === "mx" || (f.kind === "float" && f.element === "bf16"))),
    tiled: f.kind === "nvfp4" && f.tile === "16x16",
    codeBits: elem === "fp32" ? 32 : ELEMENTS[elem].bits,
  };
}

/**
 * Number of elements a GPU tensor of `n` values occupies (zero-padded to {@link GPU_PAD}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paddedElements } from "./reference.ts";
 * assert.deepEqual([1, 128, 129].map(paddedElements), [128, 128, 256]);
 * ```
 */
export function paddedElements(n: number): number {
  return Math.ceil(n / GPU_PAD) * GPU_PAD;
}

/**
 * The kernel configuration for a resolved format and options (`cols`, the row length, sizes the
 * Hadamard transform when `opts.rht` asks for one).
 *
 * @throws {RangeError} for `f16` output of a format without an f16 operand (MX, fp32)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveFormat } from "../../src/formats/spec.ts";
 * import { kernelConfig } from "./reference.ts";
 * const cfg = kernelConfig(resolveFormat("fp8-e4m3"), {}, "fake", 64);
 * assert.deepEqual(cfg.format, { kind: "fp8", element: "e4m3", delayed: false });
 * ```
 */
export function kernelConfig(
  spec: ResolvedFormat,
  opts: QuantizeOptions,
  output: QuantizeOutput,
  cols: number,
): KernelConfig {
  if (output === "f16" && !hasF16Operand(spec)) {
    throw new RangeError(`format ${JSON.stringify(spec)} has no f16 operand (src/formats/f16.ts)`);
  }
  let format: KernelFormat;
  if (spec.kind === "fp8") {
    format = { kind: "fp8", element: spec.element, delayed: spec.scaling !== "current" };
  } else {
    format = spec;
  }
  // Random signs are drawn in the kernel from the key of each submission (setParams).
  const rht = !opts.rht
    ? undefined
    : opts.rht.signs === "random"
    ? { size: resolveHadamard(cols, opts.rht, 0).size, random: true as const }
    : resolveHadamard(cols, opts.rht);
  const stochastic = resolveRounding(opts).mode === "stochastic";
  return {
    format,
    stochastic,
    ...(rht ? { rht } : {}),
    output,
    ...(opts.compute === "bf16" ? { compute: "bf16" as const } : {}),
  };
}

/**
 * Byte sizes of the buffers a kernel reads and writes for a `[rows, cols]` tensor.
 *
 * @example
 * ```ts
 * import type { QuantizeSizes } from "./reference.ts";
 * const codes = (s: QuantizeSizes) => s.codesBytes;
 * ```
 */
export interface QuantizeSizes {
  /** Padded element count. */
  readonly elements: number;
  /** Input (FP32). */
  readonly xBytes: number;
  /** Fake-quant output (FP32). */
  readonly outBytes: number;
  /** f16 operand output (binary16). */
  readonly f16Bytes: number;
  /** Packed codes. */
  readonly codesBytes: number;
  /** One scale byte per block (0 for formats without block scales). */
  readonly scalesBytes: number;
  /** Tile amaxes of 16×16 tiles (0 otherwise). */
  readonly tileBytes: number;
  /**
   * stats[0] = amax bits, stats[1] = tensor decode scale bits; row-scaled NVFP4 then holds each
   * row's amax, S_enc and S_dec bits (stats[2 + 3·row …]).
   */
  readonly statsBytes: number;
}

/**
 * Buffer sizes for a configuration and shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveFormat } from "../../src/formats/spec.ts";
 * import { kernelConfig, quantizeSizes } from "./reference.ts";
 * const cfg = kernelConfig(resolveFormat("nvfp4"), {}, "packed", 64);
 * const s = quantizeSizes(cfg, 2, 64);
 * assert.deepEqual([s.elements, s.codesBytes, s.scalesBytes], [128, 64, 8]);
 * ```
 */
export function quantizeSizes(cfg: KernelConfig, rows: number, cols: number): QuantizeSizes {
  const g = geometry(cfg);
  const elements = paddedElements(rows * cols);
  return {
    elements,
    xBytes: elements * 4,
    outBytes: elements * 4,
    f16Bytes: elements * 2,
    codesBytes: (elements * g.codeBits) / 8,
    scalesBytes: g.scaled ? elements / g.block : 0,
    tileBytes: g.tiled ? (rows / 16) * (cols / 16) * 4 : 0,
    statsBytes: 8 + (isRowScaled(cfg) ? 12 * rows : 0),
  };
}

/**
 * Whether a configuration is row-scaled NVFP4 (a `rowStats` pass, per-row stats words).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRowScaled, kernelConfig } from "./reference.ts";
 * import { resolveFormat } from "../../src/formats/spec.ts";
 * const f = resolveFormat({ kind: "nvfp4", rowScaled: true });
 * assert.equal(isRowScaled(kernelConfig(f, {}, "fake", 16)), true);
 * ```
 */
export function isRowScaled(cfg: KernelConfig): boolean {
  return cfg.format.kind === "nvfp4" && cfg.format.rowScaled === true;
}

/**
 * Whether a configuration is Four Over Six on 16×16 tiles (a `tileChoice` pass after the tile
 * amaxes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choosesTiles, kernelConfig } from "./reference.ts";
 * import { resolveFormat } from "../../src/formats/spec.ts";
 * const f = resolveFormat({ kind: "nvfp4", tile: "16x16", fourOverSix: {} });
 * assert.equal(choosesTiles(kernelConfig(f, {}, "fake", 16)), true);
 * ```
 */
export function choosesTiles(cfg: KernelConfig): boolean {
  return cfg.format.kind === "nvfp4" && cfg.format.tile === "16x16" && !!cfg.format.fourOverSix;
}

/**
 * Whether a quantizer needs a stream key per submission (`setParams`): stochastic rounding, or an
 * RHT whose signs are drawn per step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelConfig, needsKey } from "./reference.ts";
 * import { resolveFormat } from "../../src/formats/spec.ts";
 * const nvfp4 = resolveFormat("nvfp4");
 * assert.equal(needsKey(kernelConfig(nvfp4, {}, "fake", 16)), false);
 * assert.equal(needsKey(kernelConfig(nvfp4, { rht: { signs: "random" } }, "fake", 16)), true);
 * ```
 */
export function needsKey(cfg: KernelConfig): boolean {
  return cfg.stochastic || hasRandomSigns(cfg);
}

/** Whether a quantizer's RHT draws its signs per submission (from its signs key). */
export function hasRandomSigns(cfg: KernelConfig): boolean {
  return cfg.rht !== undefined && "random" in cfg.rht;
}
