/**
 * Mamba-2's causal depthwise conv1d + SiLU over the `xBC` channels on the GPU, forward and
 * backward, as bound operations (CPU reference and formulas in `kernels/conv1d/reference.ts`;
 * Gu & Dao 2023, Mamba, §3.4; Dao & Gu 2024, Mamba-2, §7).
 *
 * Rows `m = b·T + t`; `x` is read at `x[m·xStride + xOffset + c]` (it lives inside the wider
 * input-projection output) and `dx` written at the same places, leaving the buffer's other
 * columns alone. Taps before a sequence's first row or after its last read zero, so sequences
 * never see each other.
 *
 * Both kernels run over (row block, channel group) workgroups, row blocks from
 * {@link normBlocks}: an invocation owns one channel and walks its block's rows in order, keeping
 * a sliding window of rows in registers, so each input row is loaded about once.
 *
 * - Forward keeps `x[m−K+1 … m]` and computes `y = pre·σ(pre)`.
 * - Backward keeps `x[m−K+1 … m+K−1]` and `dpre = dy·silu'(pre)` of rows `m … m+K−1` (recomputing
 *   `pre`, one new row per step), writes `dx[m] = Σ_k w[k]·dpre[m+K−1−k]` and accumulates
 *   `dpre[m]·x[m−K+1+k]` and `dpre[m]` in registers. The block's partials go to the scratch
 *   buffer (`[blocks, C·K + C]`), and two column sums from `kernels/norm/wgsl.ts` add them in a
 *   fixed order into `dw` and `dBias`. No atomics: bit-identical from run to run on one adapter.
 *
 * Windows are rebuilt at each block's first row and at each sequence start. On an H100 (B·T =
 * 4096, C = 1152, K = 4, x inside a 4400-wide row) forward takes about 23 µs and backward 48 µs.
 *
 * `exp` arguments are clamped at 80 (`e^80 < FLT_MAX`) so that no product meets `∞·0`.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { normBlocks } from "../norm/mod.ts";
import { COLSUM_LANES, colSumShader } from "../norm/wgsl.ts";

/** Invocations (channels) per workgroup. */
const WG = 64;
/** Largest window the unrolled kernels are generated for. */
const MAX_WINDOW = 16;

/**
 * A convolution's configuration.
 *
 * @example
 * ```ts
 * import type { ConvConfig } from "./mod.ts";
 * const config: ConvConfig = { channels: 1152, window: 4 };
 * console.log(config.channels);
 * ```
 */
export interface ConvConfig {
  /** Channels (C). */
  readonly channels: number;
  /** Taps per channel (K), 1…16; default 4. */
  readonly window?: number;
}

/**
 * Sequences, and the placement of `x` (and `dx`): element `(m, c)` is at `m·xStride + xOffset + c`.
 *
 * @example
 * ```ts
 * import type { ConvKernelDims } from "./mod.ts";
 * // xBC is columns 1536…2687 of a [2·512, 4400] projection output.
 * const dims: ConvKernelDims = { batch: 2, seq: 512, xOffset: 1536, xStride: 4400 };
 * console.log(dims.batch * dims.seq);
 * ```
 */
export interface ConvKernelDims {
  /** Sequences. */
  readonly batch: number;
  /** Rows per sequence (T). */
  readonly seq: number;
  /** Column of `x`'s first channel within its buffer's rows (f32 elements). */
  readonly xOffset: number;
  /** Row stride of `x`'s buffer (f32 elements), at least `xOffset + channels`. */
  readonly xStride: number;
}

/**
 * Buffers of a forward pass (f32).
 *
 * @example
 * ```ts
 * import type { ConvForwardIo } from "./mod.ts";
 * const fields: (keyof ConvForwardIo)[] = ["x", "w", "bias", "y"];
 * console.log(fields.length);
 * ```
 */
export interface ConvForwardIo {
  /** Input, strided (see {@link ConvKernelDims}). */
  readonly x: GPUBuffer;
  /** Taps `[C, K]`, row-major. */
  readonly w: GPUBuffer;
  /** Bias `[C]`. */
  readonly bias: GPUBuffer;
  /** Output `[batch·seq, C]`, contiguous. */
  readonly y: GPUBuffer;
}

/**
 * Buffers of a backward pass (f32).
 *
 * @example
 * ```ts
 * import type { ConvBackwardIo } from "./mod.ts";
 * const written: (keyof ConvBackwardIo)[] = ["dx", "dw", "dBias", "scratch"];
 * console.log(written.length);
 * ```
 */
export interface ConvBackwardIo {
  /** The forward pass's input. */
  readonly x: GPUBuffer;
  /** Taps `[C, K]`. */
  readonly w: GPUBuffer;
  /** Bias `[C]`. */
  readonly bias: GPUBuffer;
  /** Upstream gradient `[batch·seq, C]`, contiguous. */
  readonly dy: GPUBuffer;
  /** Input gradient, at `x`'s offset and stride (only those columns are written). */
  readonly dx: GPUBuffer;
  /** Taps gradient `[C, K]` (overwritten). */
  readonly dw: GPUBuffer;
  /** Bias gradient `[C]` (overwritten). */
  readonly dBias: GPUBuffer;
  /** At least {@link convScratchElements} f32: per-row-block partials of `dw` and `dBias`. */
  readonly scratch: GPUBuffer;
}

/** Channels and window of a configuration; RangeError naming a bad field. */
function checkConfig(config: ConvConfig): { C: number; K: number } {
  const { channels: C, window: K = 4 } = config;
  if (!Number.isInteger(C) || C < 1) {
    throw new RangeError(`conv1d: channels must be a positive integer, got ${C}`);
  }
  if (!Number.isInteger(K) || K < 1 || K > MAX_WINDOW) {
    throw new RangeError(`conv1d: window must be an integer in [1, ${MAX_WINDOW}], got ${K}`);
  }
  return { C, K };
}

/** Rows of a batch; RangeError naming a bad dimension. */
function checkRows(dims: { readonly batch: number; readonly seq: number }): number {
  for (const name of ["batch", "seq"] as const) {
    if (!Number.isInteger(dims[name]) || dims[name] < 1) {
      throw new RangeError(`conv1d: ${name} must be a positive integer, got ${dims[name]}`);
    }
  }
  return dims.batch * dims.seq;
}

/**
 * f32 elements of the backward scratch buffer (`blocks · C·(K+1)`, row blocks of `batch·seq`
 * rows from {@link normBlocks}); needs no GPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convScratchElements } from "./mod.ts";
 * const elements = convScratchElements({ channels: 1152, window: 4 }, { batch: 8, seq: 512 });
 * assert.equal(elements, 512 * 1152 * 5); // 512 row blocks × C·(K + 1)
 * ```
 */
export function convScratchElements(
  config: ConvConfig,
  dims: { readonly batch: number; readonly seq: number },
): number {
  const { C, K } = checkConfig(config);
  return normBlocks(checkRows(dims)).blocks * C * (K + 1);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * The declarations both kernels share: params {rows, gx, rb, seq, x_stride, x_offset, cgroups},
 * bindings x, w, bias at 0…2, and helpers.
 */
const PRELUDE = (C: number, K: number) =>
  `struct Params {
  rows: u32, gx: u32, rb: u32, seq: u32, x_stride: u32, x_offset: u32, cgroups: u32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
const C = ${C}u;
const K = ${K}u;
fn load_x(row: u32, c: u32) -> f32 { return x[row * params.x_stride + params.x_offset + c]; }
fn exp_neg(p: f32) -> f32 { return exp(min(-p, 80.0)); }`;

/**
 * The start of both kernels' `main`: workgroup `blk·cgroups + cg` owns rows `[r0, r1)` of
 * channel `c = cg·WG + lid`, whose bias `b` and taps `w0…` it loads.
 */
const HEAD = (K: number) =>
  `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = wid.y * params.gx + wid.x;
  let blk = id / params.cgroups;
  let c = (id % params.cgroups) * ${WG}u + lid;
  let r0 = blk * params.rb;
  if (r0 >= params.rows || c >= C) { return; }
  let r1 = min(r0 + params.rb, params.rows);
  let b = bias[c];
${range(K).map((k) => `  let w${k} = w[c * K + ${k}u];`).join("\n")}`;

/** `x${j} = x[row m + off]`, or zero when that row is outside row m's sequence. */
function loadWindow(j: number, off: number): string {
  const at = off < 0 ? `m - ${-off}u` : `m + ${off}u`;
  const cond = off < 0 ? `t >= ${-off}u` : off > 0 ? `left >= ${off}u` : "true";
  return `x${j} = 0.0; if (${cond}) { x${j} = load_x(${at}, c); }`;
}

/** `a0 = a1; a1 = a2; …` over registers `a0…a{n−1}`: the window moves one row on. */
const shift = (name: string, n: number) =>
  range(n - 1).map((j) => `${name}${j} = ${name}${j + 1};`).join(" ");

/**
 * Forward: an invocation walks its rows keeping `x[m−K+1 … m]` in registers `x0…`; at the block's
 * first row and at each sequence start it reloads the window (zero before the sequence), else it
 * shifts the window and loads row `m` only. Bindings x, w, bias, y, params.
 */
function forwardShader(C: number, K: number): string {
  const pre = ["b", ...range(K).map((k) => `w${k} * x${k}`)].join(" + ");
  return `${PRELUDE(C, K)}
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
${HEAD(K)}
  ${range(K).map((j) => `var x${j} = 0.0;`).join(" ")}
  for (var m = r0; m < r1; m = m + 1u) {
    let t = m % params.seq;
    if (m == r0 || t == 0u) {
${range(K - 1).map((j) => `      ${loadWindow(j, j - (K - 1))}`).join("\n")}
    } else {
      ${shift("x", K)}
    }
    x${K - 1} = load_x(m, c);
    let p = ${pre};
    y[m * C + c] = p / (1.0 + exp_neg(p));
  }
}
`;
}

/**
 * Backward: an invocation walks its rows keeping `x[m−K+1 … m+K−1]` in `x0…x{2K−2}` and
 * `dpre[m … m+K−1]` in `d0…d{K−1}` (zero outside row m's sequence); at the block's first row and
 * at each sequence start it rebuilds both, else it shifts them and computes the leading row
 * `m+K−1` only. It writes `dx[m]` and accumulates `dw`, `dbias` partials in registers, stored to
 * `partial[blk, :]` (`[C, K]` then `[C]`). Bindings x, w, bias, dy, dx, partial, params.
 */
function backwardShader(C: number, K: number): string {
  const dpre = (i: number) =>
    `let p = ${["b", ...range(K).map((k) => `w${k} * x${i + k}`)].join(" + ")}; ` +
    `let e = exp_neg(p); let s = 1.0 / (1.0 + e); ` +
    `d${i} = dy[(m + ${i}u) * C + c] * s * (1.0 + p * (e * s));`;
  const lead = 2 * K - 2;
  return `${PRELUDE(C, K)}
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
${HEAD(K)}
  ${range(2 * K - 1).map((j) => `var x${j} = 0.0;`).join(" ")}
  ${range(K).map((i) => `var d${i} = 0.0;`).join(" ")}
  ${range(K).map((k) => `var a${k} = 0.0;`).join(" ")}
  var ab = 0.0;
  for (var m = r0; m < r1; m = m + 1u) {
    let t = m % params.seq;
    let left = params.seq - 1u - t;
    if (m == r0 || t == 0u) {
${range(lead).map((j) => `      ${loadWindow(j, j - (K - 1))}`).join("\n")}
${range(K - 1).map((i) => `      d${i} = 0.0; if (left >= ${i}u) { ${dpre(i)} }`).join("\n")}
    } else {
      ${shift("x", 2 * K - 1)} ${shift("d", K)}
    }
    x${lead} = 0.0;
    d${K - 1} = 0.0;
    if (left >= ${K - 1}u) { x${lead} = load_x(m + ${K - 1}u, c); ${dpre(K - 1)} }
    dx[m * params.x_stride + params.x_offset + c] = ${
    range(K).map((k) => `w${k} * d${K - 1 - k}`).join(" + ")
  };
    ${range(K).map((k) => `a${k} = a${k} + d0 * x${k};`).join(" ")}
    ab = ab + d0;
  }
  let pb = blk * ${C * (K + 1)}u;
${range(K).map((k) => `  partial[pb + c * K + ${k}u] = a${k};`).join("\n")}
  partial[pb + ${C * K}u + c] = ab;
}
`;
}

type Step = [GPUComputePipeline, GPUBindGroup, number, number];

/**
 * The causal depthwise conv1d + SiLU: compiled once per `(channels, window)`, bound per call.
 *
 * - `forward`: `y = silu(bias + Σ_k w[:, k] · x[t − (K−1) + k])`;
 * - `backward`: `dx` (at `x`'s placement), `dw`, `dBias`, overwriting them, in a fixed order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { CausalConvKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const conv = await CausalConvKernel.create(gpu, { channels: 1, window: 2 });
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const buf = (a: number[]) => createBufferFrom(gpu.device, new Float32Array(a), usage);
 * // x is column 1 of a [2, 2] buffer; two sequences of one row each: only the last tap sees x.
 * const io = { x: buf([9, 1, 9, -1]), w: buf([5, 2]), bias: buf([0]), y: buf([0, 0]) };
 * const op = conv.forward(io, { batch: 2, seq: 1, xOffset: 1, xStride: 2 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const y = new Float32Array(await readBuffer(gpu.device, io.y));
 * assert.deepEqual([...y].map((v) => +v.toFixed(4)), [1.7616, -0.2384]); // silu(±2)
 * op.destroy();
 * Object.values(io).forEach((b) => b.destroy());
 * ```
 */
export class CausalConvKernel {
  /** Channels (C). */
  readonly channels: number;
  /** Taps per channel (K). */
  readonly window: number;
  readonly #gpu: Gpu;
  readonly #forward: GPUComputePipeline;
  readonly #backward: GPUComputePipeline;
  readonly #colSum: GPUComputePipeline;
  readonly #vec: 1 | 4;

  private constructor(gpu: Gpu, C: number, K: number, pipelines: GPUComputePipeline[]) {
    this.#gpu = gpu;
    this.#vec = C % 4 === 0 ? 4 : 1;
    this.channels = C;
    this.window = K;
    [this.#forward, this.#backward, this.#colSum] = pipelines;
  }

  /** Validates `config` (RangeError naming the field) and compiles the kernels. */
  static async create(gpu: Gpu, config: ConvConfig): Promise<CausalConvKernel> {
    const { C, K } = checkConfig(config);
    const cache = pipelineCache(gpu.device);
    const shaders = [forwardShader(C, K), backwardShader(C, K), colSumShader(C % 4 === 0 ? 4 : 1)];
    const pipelines = await Promise.all(shaders.map((code) => cache.getAsync(code)));
    return new CausalConvKernel(gpu, C, K, pipelines);
  }

  /** f32 elements of the backward scratch buffer for these dims. */
  scratchElements(dims: { readonly batch: number; readonly seq: number }): number {
    return convScratchElements(this, dims);
  }

  /** One dispatch. */
  forward(io: ConvForwardIo, dims: ConvKernelDims): BoundOp {
    const M = this.#check(dims, { x: io.x, w: io.w, bias: io.bias, y: io.y });
    const { u, gx, gy } = this.#rowBlocks(M, dims);
    const buffers = [io.x, io.w, io.bias, io.y, u];
    const device = this.#gpu.device;
    return boundOp([[this.#forward, bindGroup(device, this.#forward, buffers), gx, gy]], [u]);
  }

  /** Three dispatches: the row-block kernel (`dx` and partials), then the `dw` and `dBias` sums. */
  backward(io: ConvBackwardIo, dims: ConvKernelDims): BoundOp {
    const { x, w, bias, dy, dx, dw, dBias, scratch } = io;
    const M = this.#check(dims, { x, w, bias, dy, dx, dw, dBias, scratch });
    const { channels: C, window: K } = this;
    const { u, gx, gy, blocks } = this.#rowBlocks(M, dims);
    const device = this.#gpu.device;
    const buffers = [io.x, io.w, io.bias, io.dy, io.dx, io.scratch, u];
    const steps: Step[] = [[this.#backward, bindGroup(device, this.#backward, buffers), gx, gy]];
    const owned = [u];
    // Column sums in vec units: dw is columns [0, C·K) of each partial row, dBias [C·K, C·(K+1)).
    const v = this.#vec;
    for (const [out, n, offset] of [[io.dw, C * K, 0], [io.dBias, C, C * K]] as const) {
      const [cx, cy] = splitDispatch(this.#gpu, Math.ceil(n / v / COLSUM_LANES));
      const cu = uniformBuffer(device, [blocks, n / v, (C * (K + 1)) / v, offset / v, 0, cx]);
      owned.push(cu);
      steps.push([this.#colSum, bindGroup(device, this.#colSum, [io.scratch, out, cu]), cx, cy]);
    }
    return boundOp(steps, owned);
  }

  /**
   * The (row block, channel group) grid both kernels run on (row blocks from {@link normBlocks})
   * and its uniform buffer.
   */
  #rowBlocks(M: number, dims: ConvKernelDims) {
    const { rowsPerBlock, blocks } = normBlocks(M);
    const cgroups = Math.ceil(this.channels / WG);
    const [gx, gy] = splitDispatch(this.#gpu, blocks * cgroups);
    const { seq, xStride, xOffset } = dims;
    const words = [M, gx, rowsPerBlock, seq, xStride, xOffset, cgroups];
    return { u: uniformBuffer(this.#gpu.device, words), gx, gy, blocks };
  }

  /** Validates `dims` and that each of `buffers` holds what the dims need; returns the rows. */
  #check(dims: ConvKernelDims, buffers: Record<string, GPUBuffer>): number {
    const M = checkRows(dims);
    const { xOffset, xStride } = dims;
    const C = this.channels;
    if (!Number.isInteger(xOffset) || xOffset < 0) {
      throw new RangeError(`conv1d: xOffset must be an integer ≥ 0, got ${xOffset}`);
    }
    if (!Number.isInteger(xStride) || xStride < xOffset + C) {
      throw new RangeError(
        `conv1d: xStride must be an integer ≥ xOffset + channels = ${xOffset + C}, got ${xStride}`,
      );
    }
    const shapes: Record<string, number> = {
      x: (M - 1) * xStride + xOffset + C,
      dx: (M - 1) * xStride + xOffset + C,
      w: C * this.window,
      dw: C * this.window,
      bias: C,
      dBias: C,
      y: M * C,
      dy: M * C,
      scratch: convScratchElements(this, dims),
    };
    for (const [name, buffer] of Object.entries(buffers)) {
      if (buffer.size < 4 * shapes[name]) {
        throw new RangeError(
          `conv1d: io.${name} holds ${buffer.size} bytes, needs ${shapes[name]} f32`,
        );
      }
    }
    return M;
  }
}

function boundOp(steps: Step[], owned: GPUBuffer[]): BoundOp {
  return {
    dispatches: steps.length,
    encode(pass) {
      for (const [pipeline, group, x, y] of steps) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(x, y);
      }
    },
    destroy: () => owned.forEach((b) => b.destroy()),
  };
}
