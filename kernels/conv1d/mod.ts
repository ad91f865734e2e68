/**
 * Mamba-2's causal depthwise conv1d + SiLU over the `xBC` channels on the GPU, forward and
 * backward, as bound operations (WGSL in `./wgsl.ts`; CPU reference, formulas and limits in
 * `./reference.ts`; Gu & Dao 2023, Mamba, §3.4; Dao & Gu 2024, Mamba-2, §7).
 *
 * Rows `m = b·T + t`; `x` is read at `x[m·xStride + xOffset + c]` (it lives inside the wider
 * input-projection output) and `dx` written at the same places, leaving the buffer's other
 * columns alone. Taps before a sequence's first row or after its last read zero, so sequences
 * never see each other.
 *
 * Both kernels run over (row block, channel group) workgroups, row blocks from `normBlocks`
 * (kernels/norm/reference.ts). Forward writes `y`. Backward writes `dx` and per-row-block
 * partials of `dw` and `dBias` to the scratch buffer (`[blocks, C·K + C]`); two column sums from
 * `kernels/norm/wgsl.ts` add them in a fixed order. No atomics: bit-identical from run to run on
 * one adapter.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, type Dispatch, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { normBlocks } from "../norm/reference.ts";
import { COLSUM_LANES, colSumShader } from "../norm/wgsl.ts";
import { checkConvConfig, checkConvRows, convScratchElements } from "./reference.ts";
import { CONV_WORKGROUP, convBackwardShader, convForwardShader } from "./wgsl.ts";

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
  /** Taps per channel (K), 1…16 (`MAX_CONV_WINDOW`); default 4 (`CONV_WINDOW`). */
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
    const { C, K } = checkConvConfig(config);
    const cache = pipelineCache(gpu.device);
    const shaders = [
      convForwardShader(C, K),
      convBackwardShader(C, K),
      colSumShader(C % 4 === 0 ? 4 : 1),
    ];
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
    return dispatchOp(
      [[this.#forward, bindGroup(device, this.#forward, buffers), gx, gy]],
      [u],
      "conv1d",
    );
  }

  /** Three dispatches: the row-block kernel (`dx` and partials), then the `dw` and `dBias` sums. */
  backward(io: ConvBackwardIo, dims: ConvKernelDims): BoundOp {
    const { x, w, bias, dy, dx, dw, dBias, scratch } = io;
    const M = this.#check(dims, { x, w, bias, dy, dx, dw, dBias, scratch });
    const { channels: C, window: K } = this;
    const { u, gx, gy, blocks } = this.#rowBlocks(M, dims);
    const device = this.#gpu.device;
    const buffers = [io.x, io.w, io.bias, io.dy, io.dx, io.scratch, u];
    const steps: Dispatch[] = [
      [this.#backward, bindGroup(device, this.#backward, buffers), gx, gy],
    ];
    const owned = [u];
    // Column sums in vec units: dw is columns [0, C·K) of each partial row, dBias [C·K, C·(K+1)).
    const v = this.#vec;
    for (const [out, n, offset] of [[io.dw, C * K, 0], [io.dBias, C, C * K]] as const) {
      const [cx, cy] = splitDispatch(this.#gpu, Math.ceil(n / v / COLSUM_LANES));
      const cu = uniformBuffer(device, [blocks, n / v, (C * (K + 1)) / v, offset / v, 0, cx]);
      owned.push(cu);
      steps.push([this.#colSum, bindGroup(device, this.#colSum, [io.scratch, out, cu]), cx, cy]);
    }
    return dispatchOp(steps, owned, "conv1d");
  }

  /**
   * The (row block, channel group) grid both kernels run on (row blocks from `normBlocks`) and its
   * uniform buffer.
   */
  #rowBlocks(M: number, dims: ConvKernelDims) {
    const { rowsPerBlock, blocks } = normBlocks(M);
    const cgroups = Math.ceil(this.channels / CONV_WORKGROUP);
    const [gx, gy] = splitDispatch(this.#gpu, blocks * cgroups);
    const { seq, xStride, xOffset } = dims;
    const words = [M, gx, rowsPerBlock, seq, xStride, xOffset, cgroups];
    return { u: uniformBuffer(this.#gpu.device, words), gx, gy, blocks };
  }

  /** Validates `dims` and that each of `buffers` holds what the dims need; returns the rows. */
  #check(dims: ConvKernelDims, buffers: Record<string, GPUBuffer>): number {
    const M = checkConvRows(dims);
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
