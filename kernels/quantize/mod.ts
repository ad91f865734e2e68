/**
 * GPU quantizers: compiled kernels bound to buffers (for the training engine and benchmarks) and
 * `quantizeGpu` / `fakeQuantizeGpu` / `f16OperandGpu` / `hadamardGpu`, the array-in, array-out API that mirrors the
 * CPU reference and matches it bit for bit.
 *
 * @module
 */

import { createBufferFrom, createEmptyBuffer, readBuffer } from "../../src/gpu/buffers.ts";
import { getGpu, type Gpu } from "../../src/gpu/device.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { type BoundOp, type Dispatch, encodeDispatches } from "../../src/gpu/op.ts";
import { ELEMENTS } from "../../src/formats/elements.ts";
import type { F16Operand } from "../../src/formats/f16.ts";
import { f32FromBits } from "../../src/formats/fp32.ts";
import {
  checkQuantizeArgs,
  Quantized,
  type QuantizeOptions,
  rhtSignKey,
} from "../../src/formats/quantize.ts";
import type { HadamardOptions } from "../../src/formats/rht.ts";
import { resolveRounding } from "../../src/formats/rounding.ts";
import {
  delayedScalingOf,
  elementOf,
  type FormatName,
  type FormatSpec,
  type ResolvedFormat,
} from "../../src/formats/spec.ts";
import {
  choosesTiles,
  type Geometry,
  geometry,
  isRowScaled,
  type KernelConfig,
  kernelConfig,
  paddedElements,
  type QuantizeOutput,
  quantizeSizes,
} from "./reference.ts";
import {
  clearShader,
  PARAMS_BYTES,
  quantizeShader,
  SLABS,
  statsShader,
  tileStatsShader,
  WORKGROUP,
} from "./wgsl.ts";
import { HEALTH_FIELDS } from "./health_wgsl.ts";
import { rowStatsShader, tileChoiceShader } from "./nvfp4_wgsl.ts";

/**
 * The buffers a bound kernel uses; `out` for fake-quant and f16 output, `codes`/`scales` for packed
 * output.
 */
export interface QuantizeIo {
  /** Input `[rows, cols]` f32, zero-padded to `quantizeSizes(...).elements`. */
  x: GPUBuffer;
  /**
   * Stats words: amax bits, then the tensor decode scale bits (then, row-scaled NVFP4, each row's
   * amax, S_enc and S_dec bits).
   */
  stats: GPUBuffer;
  /** Fake-quant output (FP32) for `output: "fake"`, binary16 values for `output: "f16"`. */
  out?: GPUBuffer;
  /** Packed codes, for `output: "packed"`. */
  codes?: GPUBuffer;
  /** Scale bytes, for packed formats with block scales. */
  scales?: GPUBuffer;
  /** Tile amaxes, for 16×16 tiles (`nvfp4-2d`). */
  tileAmax?: GPUBuffer;
  /**
   * Delayed FP8 scaling: the tensor's state buffer (kernels/amax_history/), whose word 0 is the
   * scale to quantize with.
   */
  history?: GPUBuffer;
  /**
   * The health variant's per-workgroup statistics ({@link QuantizeKernel.healthWorkgroups} ×
   * `HEALTH_FIELDS` f32 from the binding's offset; `./health_wgsl.ts`).
   */
  health?: GPUBufferBinding;
}

/**
 * The dispatch grid `[x, y]` of the flat quantize passes over `elements` values on a device with
 * `limits` (each workgroup takes {@link SLABS} slabs of {@link WORKGROUP} vec4).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantizeGrid } from "./mod.ts";
 * assert.deepEqual(quantizeGrid({ limits: {} }, 4096 * 3), [3, 1]);
 * ```
 */
export function quantizeGrid(
  device: { readonly limits: Readonly<Record<string, number>> },
  elements: number,
): [number, number] {
  const nVec4 = paddedElements(elements) / 4;
  return splitDispatch(device, Math.ceil(nVec4 / (WORKGROUP * SLABS)));
}

/**
 * A compiled quantizer for one configuration.
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { QuantizeKernel } from "./mod.ts";
 * import { kernelConfig } from "./reference.ts";
 * import { resolveFormat } from "../../src/formats/spec.ts";
 * const gpu = await getGpu();
 * const cfg = kernelConfig(resolveFormat("nvfp4"), {}, "fake", 64);
 * const kernel = await QuantizeKernel.create(gpu, cfg);
 * console.log(kernel.geometry.block); // 16 elements per scale block
 * ```
 */
export class QuantizeKernel {
  /** The configuration compiled for. */
  readonly config: KernelConfig;
  /** What the configuration implies (block size, passes). */
  readonly geometry: Geometry;
  readonly #gpu: Gpu;
  readonly #clear: GPUComputePipeline;
  readonly #stats: GPUComputePipeline | undefined;
  readonly #choice: GPUComputePipeline | undefined;
  readonly #quantize: GPUComputePipeline;
  /** Whether this is the health variant (fake-quant output plus statistics). */
  readonly health: boolean;

  private constructor(
    gpu: Gpu,
    config: KernelConfig,
    pipelines: [
      GPUComputePipeline,
      GPUComputePipeline | undefined,
      GPUComputePipeline | undefined,
      GPUComputePipeline,
    ],
    health: boolean,
  ) {
    this.#gpu = gpu;
    this.config = config;
    this.geometry = geometry(config);
    [this.#clear, this.#stats, this.#choice, this.#quantize] = pipelines;
    this.health = health;
  }

  /**
   * Compiles (or fetches from the cache) the kernels of a configuration; with `health`, the
   * variant that also writes quantization statistics (fake-quant output only; `./health_wgsl.ts`).
   */
  static async create(
    gpu: Gpu,
    config: KernelConfig,
    opts: { readonly health?: boolean } = {},
  ): Promise<QuantizeKernel> {
    const cache = pipelineCache(gpu.device);
    const g = geometry(config);
    const statsSource = isRowScaled(config)
      ? rowStatsShader(config)
      : g.tiled
      ? tileStatsShader(config)
      : statsShader(config);
    const pipelines = await Promise.all([
      cache.getAsync(clearShader()),
      g.needsStats ? cache.getAsync(statsSource) : Promise.resolve(undefined),
      choosesTiles(config) ? cache.getAsync(tileChoiceShader(config)) : Promise.resolve(undefined),
      cache.getAsync(quantizeShader(config, { health: opts.health })),
    ]);
    return new QuantizeKernel(gpu, config, pipelines, opts.health ?? false);
  }

  /** Workgroups the quantize pass of a `[rows, cols]` tensor runs: the health rows it writes. */
  healthWorkgroups(rows: number, cols: number): number {
    const [gx, gy] = quantizeGrid(this.#gpu, rows * cols);
    return gx * gy;
  }

  /**
   * Binds the kernel to buffers of a `[rows, cols]` tensor (sizes from {@link quantizeSizes}).
   * The returned object records the whole quantization (clear, stats, quantize) into a pass.
   */
  bind(rows: number, cols: number, io: QuantizeIo): BoundQuantize {
    const device = this.#gpu.device;
    const g = this.geometry;
    const tiled = g.tiled;
    const nVec4 = paddedElements(rows * cols) / 4;
    const [gx, gy] = quantizeGrid(this.#gpu, rows * cols);
    const params = device.createBuffer({
      size: PARAMS_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const [rowGx, rowGy] = splitDispatch(this.#gpu, rows);
    const words = new Uint32Array([nVec4, 0, 0, cols / 16, gx, 0, rowGx, rows]);
    device.queue.writeBuffer(params, 0, words);
    const need = (b: GPUBuffer | undefined, name: string) => {
      if (!b) throw new TypeError(`io.${name} is required for this kernel`);
      return b;
    };
    const outputs = this.config.output !== "packed"
      ? [need(io.out, "out")]
      : [need(io.codes, "codes"), ...(g.scaled ? [need(io.scales, "scales")] : [])];
    const tiles = tiled ? [need(io.tileAmax, "tileAmax")] : [];
    const f = this.config.format;
    const history = f.kind === "fp8" && f.delayed ? [need(io.history, "history")] : [];
    if (this.health && !io.health) throw new TypeError("io.health is required for this kernel");
    const dispatches: Dispatch[] = [
      [this.#clear, bindGroup(device, this.#clear, [io.stats]), 1, 1],
    ];
    if (this.#stats) {
      const statsGroup = bindGroup(device, this.#stats, [io.x, io.stats, params, ...tiles]);
      dispatches.push(
        isRowScaled(this.config)
          ? [this.#stats, statsGroup, rowGx, rowGy]
          : tiled
          ? [this.#stats, statsGroup, Math.ceil(cols / 256), rows / 16]
          : [this.#stats, statsGroup, gx, gy],
      );
    }
    if (this.#choice) {
      const group = bindGroup(device, this.#choice, [io.x, io.stats, params, ...tiles]);
      dispatches.push([this.#choice, group, Math.ceil(cols / 256), rows / 16]);
    }
    const qGroup = bindGroup(device, this.#quantize, [
      io.x,
      io.stats,
      params,
      ...outputs,
      ...tiles,
      ...history,
      ...(this.health ? [io.health!] : []),
    ]);
    dispatches.push([this.#quantize, qGroup, gx, gy]);
    return new BoundQuantize(device, params, words, dispatches);
  }
}

/** A quantizer bound to its buffers. */
export class BoundQuantize implements BoundOp {
  /** For step profiles. */
  readonly kind = "quantize";
  readonly #device: GPUDevice;
  readonly #params: GPUBuffer;
  readonly #words: Uint32Array<ArrayBuffer>;
  readonly #dispatches: readonly Dispatch[];

  /** Made by {@link QuantizeKernel.bind}. */
  constructor(
    device: GPUDevice,
    params: GPUBuffer,
    words: Uint32Array<ArrayBuffer>,
    dispatches: readonly Dispatch[],
  ) {
    this.#device = device;
    this.#params = params;
    this.#words = words;
    this.#dispatches = dispatches;
  }

  /** Number of dispatches {@link encode} records. */
  get dispatches(): number {
    return this.#dispatches.length;
  }

  /**
   * Sets the stochastic-rounding stream key and the key random RHT signs are drawn from (default:
   * `key`) for later submissions.
   */
  setParams(key: number, signKey = key): void {
    this.#words[1] = key >>> 0;
    this.#words[5] = signKey >>> 0;
    this.#device.queue.writeBuffer(this.#params, 0, this.#words);
  }

  /** Records clear → stats → quantize into `pass`. */
  encode(pass: GPUComputePassEncoder): void {
    encodeDispatches(pass, this.#dispatches);
  }

  /**
   * Records only the dispatches at `indices` (0 clears the stats, then the amax pass where there
   * is one, the 16×16 Four Over Six choice where there is one, then the quantize pass): for timing
   * the passes apart. Alone, a quantize pass reads
   * whatever stats the last full run left.
   */
  encodeOnly(pass: GPUComputePassEncoder, indices: readonly number[]): void {
    encodeDispatches(pass, indices.map((i) => this.#dispatches[i]));
  }

  /** Frees the params buffer (the bound buffers belong to the caller). */
  destroy(): void {
    this.#params.destroy();
  }
}

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * Runs one quantization of a host array (already checked) with a kernel configuration and
 * returns what it wrote: fake-quant values or packed codes in `out`, scale bytes, the stats words
 * (amax bits, tensor decode scale bits) and, with `health` (fake-quant only), the health kernel's
 * per-workgroup statistics (`./health_wgsl.ts`) and how many workgroups wrote them. Delayed FP8
 * scaling quantizes with word 0 of `history` (a state's words, kernels/amax_history/).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runQuantizeKernel } from "./mod.ts";
 * import { kernelConfig } from "./reference.ts";
 * import { resolveFormat } from "../../src/formats/spec.ts";
 * const cfg = kernelConfig(resolveFormat("bf16"), {}, "fake", 4);
 * const { out } = await runQuantizeKernel(new Float32Array([1, 2, 3, 4]), 1, 4, cfg, 0);
 * assert.deepEqual([...new Float32Array(out, 0, 4)], [1, 2, 3, 4]);
 * ```
 */
export async function runQuantizeKernel(
  x: Float32Array,
  rows: number,
  cols: number,
  cfg: KernelConfig,
  key: number,
  opts: {
    readonly health?: boolean;
    readonly signKey?: number;
    readonly history?: Float32Array;
  } = {},
): Promise<{
  out: ArrayBuffer;
  scales: ArrayBuffer;
  stats: Uint32Array;
  health?: { partials: Float32Array; workgroups: number };
}> {
  const gpu = await getGpu();
  const device = gpu.device;
  const output = cfg.output;
  const kernel = await QuantizeKernel.create(gpu, cfg, opts);
  const sizes = quantizeSizes(cfg, rows, cols);
  const padded = new Float32Array(sizes.elements);
  padded.set(x);
  const workgroups = kernel.healthWorkgroups(rows, cols);
  const buffers: GPUBuffer[] = [];
  const make = (bytes: number) => {
    const b = createEmptyBuffer(device, Math.max(bytes, 4), STORAGE);
    buffers.push(b);
    return b;
  };
  try {
    const xBuf = createBufferFrom(device, padded, STORAGE);
    buffers.push(xBuf);
    const health = opts.health ? make(workgroups * HEALTH_FIELDS * 4) : undefined;
    const io: QuantizeIo = {
      x: xBuf,
      stats: make(sizes.statsBytes),
      out: output === "fake"
        ? make(sizes.outBytes)
        : output === "f16"
        ? make(sizes.f16Bytes)
        : undefined,
      codes: output === "packed" ? make(sizes.codesBytes) : undefined,
      scales: output === "packed" && sizes.scalesBytes > 0 ? make(sizes.scalesBytes) : undefined,
      tileAmax: sizes.tileBytes > 0 ? make(sizes.tileBytes) : undefined,
      ...(health ? { health: { buffer: health } } : {}),
    };
    if (opts.history) {
      io.history = createBufferFrom(device, opts.history, STORAGE);
      buffers.push(io.history);
    }
    const bound = kernel.bind(rows, cols, io);
    bound.setParams(key, opts.signKey ?? key);
    const encoder = device.createCommandEncoder({ label: "quantizeGpu" });
    const pass = encoder.beginComputePass();
    bound.encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const [out, scales, stats, partials] = await Promise.all([
      readBuffer(device, io.out ?? io.codes!),
      io.scales ? readBuffer(device, io.scales) : Promise.resolve(new ArrayBuffer(0)),
      readBuffer(device, io.stats),
      health ? readBuffer(device, health) : Promise.resolve(undefined),
    ]);
    bound.destroy();
    return {
      out,
      scales,
      stats: new Uint32Array(stats),
      ...(partials ? { health: { partials: new Float32Array(partials), workgroups } } : {}),
    };
  } finally {
    for (const b of buffers) b.destroy();
  }
}

function run(
  x: Float32Array,
  rows: number,
  cols: number,
  spec: ResolvedFormat,
  opts: QuantizeOptions,
  output: QuantizeOutput,
) {
  const cfg = kernelConfig(spec, opts, output, cols);
  const history = delayedWords(spec);
  return runQuantizeKernel(x, rows, cols, cfg, resolveRounding(opts).key, {
    signKey: rhtSignKey(opts),
    ...(history ? { history } : {}),
  });
}

/**
 * The state words a quantizer of `spec` reads its delayed FP8 scale from (only the scale, word 0,
 * matters to it): the state's scale, or 1 for delayed scaling without a state; undefined without
 * delayed scaling.
 */
export function delayedWords(spec: ResolvedFormat): Float32Array<ArrayBuffer> | undefined {
  const delayed = delayedScalingOf(spec);
  return delayed ? new Float32Array([delayed.scale]) : undefined;
}

/** Unpacks `n` codes of `bits` bits from little-endian u32 words. */
function unpackCodes(
  words: ArrayBuffer,
  n: number,
  bits: number,
): Uint8Array | Uint16Array | Uint32Array {
  if (bits === 32) return new Uint32Array(words, 0, n).slice();
  if (bits === 16) return new Uint16Array(words, 0, n).slice();
  if (bits === 8) return new Uint8Array(words, 0, n).slice();
  const bytes = new Uint8Array(words);
  return Uint8Array.from({ length: n }, (_, i) => (bytes[i >> 1] >> ((i & 1) * 4)) & 0xf);
}

/**
 * Quantizes on the default WebGPU adapter with the packed kernels (two 4-bit codes per byte, scale
 * bytes); same arguments and result as the CPU `quantize`, to which it is bit-identical.
 *
 * @example
 * ```ts
 * import { quantizeGpu } from "./mod.ts";
 * import { quantize } from "../../src/formats/quantize.ts";
 * const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
 * const gpu = await quantizeGpu(x, 2, 32, "mxfp4");
 * console.log(gpu.codes.join() === quantize(x, 2, 32, "mxfp4").codes.join()); // true
 * ```
 */
export async function quantizeGpu(
  x: Float32Array,
  rows: number,
  cols: number,
  format: FormatName | FormatSpec,
  opts: QuantizeOptions = {},
): Promise<Quantized> {
  const spec = checkQuantizeArgs(x, rows, cols, format, opts);
  const { out, scales, stats } = await run(x, rows, cols, spec, opts, "packed");
  const n = rows * cols;
  const element = elementOf(spec);
  const bits = element === "fp32" ? 32 : ELEMENTS[element].bits;
  const blockCols = spec.kind === "nvfp4" ? 16 : spec.kind === "mx" ? 32 : 0;
  const rowScales = spec.kind === "nvfp4" && spec.rowScaled
    ? Float32Array.from({ length: rows }, (_, r) => f32FromBits(stats[4 + 3 * r]))
    : undefined;
  return new Quantized(format, spec, rows, cols, {
    codes: unpackCodes(out, n, bits),
    scales: new Uint8Array(scales, 0, blockCols ? n / blockCols : 0).slice(),
    tensorScale: f32FromBits(stats[1]),
    amax: f32FromBits(stats[0]),
    ...(rowScales ? { rowScales } : {}),
  });
}

/**
 * Quantize → dequantize on the GPU (the fake-quant kernels the training engine uses); equals
 * `quantize(...).dequantize()` bit for bit.
 *
 * @example
 * ```ts
 * import { fakeQuantizeGpu } from "./mod.ts";
 * const y = await fakeQuantizeGpu(new Float32Array([1, 2.5, 3, 7]), 1, 4, "fp8-e4m3");
 * console.log(y); // Float32Array [1, 2.5, 3, 7]
 * ```
 */
export async function fakeQuantizeGpu(
  x: Float32Array,
  rows: number,
  cols: number,
  format: FormatName | FormatSpec,
  opts: QuantizeOptions = {},
): Promise<Float32Array> {
  const spec = checkQuantizeArgs(x, rows, cols, format, opts);
  const { out } = await run(x, rows, cols, spec, opts, "fake");
  return new Float32Array(out, 0, rows * cols).slice();
}

/**
 * The Random Hadamard Transform on the GPU; equals the CPU `hadamard` bit for bit.
 *
 * @example
 * ```ts
 * import { hadamardGpu } from "./mod.ts";
 * const x = Float32Array.from({ length: 16 }, (_, i) => i + 1);
 * console.log((await hadamardGpu(x, 1, 16))[0]); // -15.5
 * ```
 */
export function hadamardGpu(
  x: Float32Array,
  rows: number,
  cols: number,
  opts: HadamardOptions = {},
): Promise<Float32Array> {
  return fakeQuantizeGpu(x, rows, cols, "fp32", { rht: opts });
}

/**
 * The f16 operand of the matrix-unit GEMM on the GPU: binary16 values and their FP32 factor, equal
 * bit for bit to the CPU `f16Operand(quantize(...))` (src/formats/f16.ts).
 *
 * @throws {RangeError} for formats without an f16 operand (MX, fp32)
 *
 * @example
 * ```ts
 * import { f16OperandGpu } from "./mod.ts";
 * const op = await f16OperandGpu(new Float32Array([1, 2.5, 3, 7]), 1, 4, "bf16");
 * console.log(op.bits[3].toString(16), op.factor); // 7700 0.000244140625 (7 = 28672 · 2^-12)
 * ```
 */
export async function f16OperandGpu(
  x: Float32Array,
  rows: number,
  cols: number,
  format: FormatName | FormatSpec,
  opts: QuantizeOptions = {},
): Promise<F16Operand> {
  const spec = checkQuantizeArgs(x, rows, cols, format, opts);
  const { out, stats } = await run(x, rows, cols, spec, opts, "f16");
  return { bits: new Uint16Array(out, 0, rows * cols).slice(), factor: f32FromBits(stats[1]) };
}
