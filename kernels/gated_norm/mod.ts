/**
 * Mamba-2's gated grouped RMSNorm (`RMSNormGated`, `norm_before_gate = False`) on the GPU, forward
 * and backward, as bound operations: per row and group of `d/G` channels, `u = y·silu(z)`,
 * `out = u / sqrt(mean_group(u²) + eps) · w` (WGSL in `./wgsl.ts`, CPU reference, gradients and
 * limits in `./reference.ts`; Dao & Gu 2024, Mamba-2, §7.3).
 *
 * The gate `z` is read from (and its gradient written into) a wider buffer at `zOffset` with row
 * stride `zStride`, as it comes out of the mixer's input projection; only those `d` columns of
 * `dz` are written. Backward follows `kernels/norm/mod.ts`: row blocks from `normBlocks`, each
 * workgroup writing its weight-gradient partials to a caller-provided scratch buffer, then a
 * fixed-order column sum. No atomics, so results are bit-identical from run to run on one
 * adapter.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { f32Bits } from "../../src/formats/fp32.ts";
import { type BoundOp, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { normBlocks, normEps } from "../norm/reference.ts";
import { COLSUM_LANES, colSumShader, rowGeometry } from "../norm/wgsl.ts";
import { checkGatedNormConfig, gatedNormScratchElements } from "./reference.ts";
import { gatedBackwardShader, gatedForwardShader } from "./wgsl.ts";

/**
 * A gated norm's configuration.
 *
 * @example
 * ```ts
 * import type { GatedNormConfig } from "./mod.ts";
 * const config: GatedNormConfig = { d: 1536, groups: 8 };
 * console.log(config.d / config.groups);
 * ```
 */
export interface GatedNormConfig {
  /** Channels per row. */
  readonly d: number;
  /** Groups per row, dividing `d`; each group (`d/groups` ≤ 16384 channels) is normalized alone. */
  readonly groups: number;
  /** Added to the mean square; default 1e-5. */
  readonly eps?: number;
}

/**
 * Rows and the placement of `z` (and `dz`): element `(r, c)` is at `r·zStride + zOffset + c`.
 *
 * @example
 * ```ts
 * import type { GatedNormDims } from "./mod.ts";
 * // z is the first 1536 columns of a [4096, 4400] projection output.
 * const dims: GatedNormDims = { rows: 4096, zOffset: 0, zStride: 4400 };
 * console.log(dims.rows);
 * ```
 */
export interface GatedNormDims {
  /** Rows. */
  readonly rows: number;
  /** Column of `z`'s first channel within its buffer's rows (f32 elements). */
  readonly zOffset: number;
  /** Row stride of `z`'s buffer (f32 elements), at least `zOffset + d`. */
  readonly zStride: number;
}

/**
 * Buffers of a forward pass (f32).
 *
 * @example
 * ```ts
 * import type { GatedNormForwardIo } from "./mod.ts";
 * const fields: (keyof GatedNormForwardIo)[] = ["y", "z", "w", "out", "rstd"];
 * console.log(fields.length);
 * ```
 */
export interface GatedNormForwardIo {
  /** Input `[rows, d]`, contiguous. */
  readonly y: GPUBuffer;
  /** Gate, strided (see {@link GatedNormDims}). */
  readonly z: GPUBuffer;
  /** Weight `[d]`. */
  readonly w: GPUBuffer;
  /** Output `[rows, d]`, contiguous. */
  readonly out: GPUBuffer;
  /** Saved `1/sqrt(mean_group(u²) + eps)`, `[rows·groups]`. */
  readonly rstd: GPUBuffer;
}

/**
 * Buffers of a backward pass (f32).
 *
 * @example
 * ```ts
 * import type { GatedNormBackwardIo } from "./mod.ts";
 * const written: (keyof GatedNormBackwardIo)[] = ["dy", "dz", "dw", "scratch"];
 * console.log(written.length);
 * ```
 */
export interface GatedNormBackwardIo {
  /** The forward pass's input `[rows, d]`. */
  readonly y: GPUBuffer;
  /** The forward pass's gate. */
  readonly z: GPUBuffer;
  /** Weight `[d]`. */
  readonly w: GPUBuffer;
  /** The forward pass's `rstd`. */
  readonly rstd: GPUBuffer;
  /** Upstream gradient `[rows, d]`, contiguous. */
  readonly dout: GPUBuffer;
  /** Gradient of `y`, `[rows, d]` contiguous (overwritten). */
  readonly dy: GPUBuffer;
  /** Gradient of `z`, at `z`'s offset and stride (only those columns are written). */
  readonly dz: GPUBuffer;
  /** Weight gradient `[d]` (overwritten). */
  readonly dw: GPUBuffer;
  /** At least {@link gatedNormScratchElements} f32: per-row-block partials of `dw`. */
  readonly scratch: GPUBuffer;
}

/**
 * The gated grouped RMSNorm: compiled once per `(d, groups)`, bound per call.
 *
 * - `forward`: `out = y·silu(z) · rstd · w` per group, saving `rstd`;
 * - `backward`: `dy`, `dz` (at `z`'s placement) and `dw = Σ_rows dout·û`, in a fixed order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { GatedRmsNormKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const norm = await GatedRmsNormKernel.create(gpu, { d: 2, groups: 1, eps: 0 });
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const buf = (a: number[]) => createBufferFrom(gpu.device, new Float32Array(a), usage);
 * // z sits in columns 1…2 of a [1, 3] buffer; a gate of 30 passes y almost unchanged.
 * const io = {
 *   y: buf([3, 4]), z: buf([0, 30, 30]), w: buf([1, 2]), out: buf([0, 0]), rstd: buf([0]),
 * };
 * const op = norm.forward(io, { rows: 1, zOffset: 1, zStride: 3 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const out = new Float32Array(await readBuffer(gpu.device, io.out));
 * assert.deepEqual([...out].map((v) => +v.toFixed(4)), [0.8485, 2.2627]); // [0.6, 1.6]·√2
 * op.destroy();
 * Object.values(io).forEach((b) => b.destroy());
 * ```
 */
export class GatedRmsNormKernel {
  /** Channels per row. */
  readonly d: number;
  /** Groups per row. */
  readonly groups: number;
  /** Epsilon. */
  readonly eps: number;
  readonly #gpu: Gpu;
  readonly #vec: 1 | 4;
  readonly #forward: GPUComputePipeline;
  readonly #backward: GPUComputePipeline;
  readonly #colSum: GPUComputePipeline;

  private constructor(
    gpu: Gpu,
    config: GatedNormConfig,
    eps: number,
    vec: 1 | 4,
    pipelines: GPUComputePipeline[],
  ) {
    this.#gpu = gpu;
    this.d = config.d;
    this.groups = config.groups;
    this.eps = eps;
    this.#vec = vec;
    [this.#forward, this.#backward, this.#colSum] = pipelines;
  }

  /** Validates `config` (RangeError naming the field) and compiles the three kernels. */
  static async create(gpu: Gpu, config: GatedNormConfig): Promise<GatedRmsNormKernel> {
    checkGatedNormConfig(config);
    const g = rowGeometry(config.d / config.groups);
    const eps = normEps(config.eps, "gated norm");
    const cache = pipelineCache(gpu.device);
    const shaders = [
      gatedForwardShader(g, config.groups),
      gatedBackwardShader(g, config.groups),
      colSumShader(g.vec),
    ];
    const pipelines = await Promise.all(shaders.map((code) => cache.getAsync(code)));
    return new GatedRmsNormKernel(gpu, config, eps, g.vec, pipelines);
  }

  /** f32 elements of the backward scratch buffer for `rows` rows. */
  scratchElements(rows: number): number {
    return gatedNormScratchElements(this, rows);
  }

  /** One dispatch, one workgroup per (row, group). */
  forward(io: GatedNormForwardIo, dims: GatedNormDims): BoundOp {
    const { rows } = this.#check(dims, { y: io.y, z: io.z, w: io.w, out: io.out, rstd: io.rstd });
    const device = this.#gpu.device;
    const [gx, gy] = splitDispatch(this.#gpu, rows * this.groups);
    const u = uniformBuffer(device, [rows, gx, dims.zStride, dims.zOffset, f32Bits(this.eps)]);
    const buffers = [io.y, io.z, io.w, io.out, io.rstd, u];
    return dispatchOp(
      [[this.#forward, bindGroup(device, this.#forward, buffers), gx, gy]],
      [u],
      "gated norm",
    );
  }

  /** Two dispatches: the row-block kernel (`dy`, `dz`, `dw` partials), then the column sum. */
  backward(io: GatedNormBackwardIo, dims: GatedNormDims): BoundOp {
    const { y, z, w, rstd, dout, dy, dz, dw, scratch } = io;
    const { rows } = this.#check(dims, { y, z, w, rstd, dout, dy, dz, dw, scratch });
    const device = this.#gpu.device;
    const { rowsPerBlock, blocks } = normBlocks(rows);
    const [gx, gy] = splitDispatch(this.#gpu, blocks * this.groups);
    const u = uniformBuffer(device, [rows, gx, rowsPerBlock, dims.zStride, dims.zOffset]);
    const buffers = [io.y, io.z, io.w, io.rstd, io.dout, io.dy, io.dz, io.scratch, u];
    const nv = this.d / this.#vec;
    const [cx, cy] = splitDispatch(this.#gpu, Math.ceil(nv / COLSUM_LANES));
    const cu = uniformBuffer(device, [blocks, nv, nv, 0, 0, cx]);
    return dispatchOp(
      [
        [this.#backward, bindGroup(device, this.#backward, buffers), gx, gy],
        [this.#colSum, bindGroup(device, this.#colSum, [io.scratch, io.dw, cu]), cx, cy],
      ],
      [u, cu],
      "gated norm",
    );
  }

  /** Validates `dims` and that each of `buffers` holds what the dims need. */
  #check(dims: GatedNormDims, buffers: Record<string, GPUBuffer>): GatedNormDims {
    const { rows, zOffset, zStride } = dims;
    if (!Number.isInteger(rows) || rows < 1) {
      throw new RangeError(`gated norm: rows must be a positive integer, got ${rows}`);
    }
    if (!Number.isInteger(zOffset) || zOffset < 0) {
      throw new RangeError(`gated norm: zOffset must be an integer ≥ 0, got ${zOffset}`);
    }
    if (!Number.isInteger(zStride) || zStride < zOffset + this.d) {
      throw new RangeError(
        `gated norm: zStride must be an integer ≥ zOffset + d = ${
          zOffset + this.d
        }, got ${zStride}`,
      );
    }
    const strided = (rows - 1) * zStride + zOffset + this.d;
    const shapes: Record<string, number> = {
      z: strided,
      dz: strided,
      w: this.d,
      dw: this.d,
      rstd: rows * this.groups,
      scratch: this.scratchElements(rows),
    };
    for (const [name, buffer] of Object.entries(buffers)) {
      const elements = shapes[name] ?? rows * this.d;
      if (buffer.size < 4 * elements) {
        throw new RangeError(
          `gated norm: io.${name} holds ${buffer.size} bytes, needs ${elements} f32`,
        );
      }
    }
    return dims;
  }
}
