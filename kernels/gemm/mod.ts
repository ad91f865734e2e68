/**
 * f32 GEMMs of a linear layer on the GPU: C[M,N] (+)= op(A)·op(B) in the layouts `nt` (Fprop),
 * `nn` (Dgrad) and `tn` (Wgrad), none materialising a transpose. {@link GemmKernel} is the
 * compiled op for GPU-resident buffers; {@link gemmGpu} the array-in, array-out form that mirrors
 * the CPU reference `gemmReference` (kernels/gemm/reference.ts), whose summation order it
 * follows: one in-order f32 FMA chain over K per output, independent of the tiling of M and N.
 *
 * @module
 */

import { createBufferFrom, createEmptyBuffer, readBuffer } from "../../src/gpu/buffers.ts";
import { getGpu, type Gpu } from "../../src/gpu/device.ts";
import { fittingTilings, pickTiling, type Tiling } from "../../src/gpu/fit.ts";
import { type BoundOp, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { checkGemmDims, type GemmDims, type GemmLayout, gemmOperandShapes } from "./reference.ts";
import {
  checkGemmTile,
  gemmShader,
  type GemmTile,
  gemmWorkgroupBytes,
  gemmWorkgroupSize,
} from "./wgsl.ts";

/**
 * The tilings a kernel chooses from when none is given; a bind takes the first (that the device
 * can run) whose workgroup count for C reaches its minimum, else the last (`pickTiling`,
 * src/gpu/fit.ts). All use K tiles of 16, so the choice cannot even change the sign of a zero.
 * The entries and their minimums were chosen from tiling sweeps with bench/gemm.ts (`--tiles`) on
 * the H100; reports/h100-kernels.md shows which each size takes there. 128×256 outputs per
 * workgroup of 512 invocations (8×8 each) for large outputs; 64×64 per 256 invocations (4×4 each)
 * where the large tile would leave multiprocessors idle; the same with two tile buffers for the
 * smallest outputs (few workgroups, long K, as in Wgrad).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GEMM_TILINGS } from "./mod.ts";
 * assert.deepEqual(GEMM_TILINGS.map((t) => t.minWorkgroups), [128, 512, 0]);
 * ```
 */
export const GEMM_TILINGS: readonly Tiling<GemmTile>[] = [
  { tile: { bm: 128, bn: 256, bk: 16, tm: 8, tn: 8, stages: 1 }, minWorkgroups: 128 },
  { tile: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, stages: 1 }, minWorkgroups: 512 },
  { tile: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, stages: 2 }, minWorkgroups: 0 },
];

/**
 * What a {@link GemmKernel} computes.
 *
 * @example
 * ```ts
 * import type { GemmConfig } from "./mod.ts";
 * const wgrad: GemmConfig = { layout: "tn", accumulate: true };
 * ```
 */
export interface GemmConfig {
  /** Which operands are transposed (`nt` Fprop, `nn` Dgrad, `tn` Wgrad). */
  readonly layout: GemmLayout;
  /** C ← C + op(A)·op(B) (gradient accumulation) instead of C ← op(A)·op(B). Default false. */
  readonly accumulate?: boolean;
  /**
   * A fixed tiling. By default each bind picks one of {@link GEMM_TILINGS} by the size of C.
   * Results never depend on the tiling.
   */
  readonly tile?: GemmTile;
}

/**
 * The buffers of a GEMM: row-major f32 storage buffers, A and B shaped by the layout
 * (`gemmOperandShapes`), C [m, n] (read too when accumulating).
 *
 * @example
 * ```ts
 * import type { GemmIo } from "./mod.ts";
 * const io = (a: GPUBuffer, b: GPUBuffer, c: GPUBuffer): GemmIo => ({ a, b, c });
 * ```
 */
export interface GemmIo {
  /** Operand A, shaped by the layout. */
  readonly a: GPUBuffer;
  /** Operand B, shaped by the layout. */
  readonly b: GPUBuffer;
  /** Output C `[m, n]`. */
  readonly c: GPUBuffer;
}

/** The two compiled variants of one tiling. */
interface TilePipelines extends Tiling<GemmTile> {
  readonly vec4: GPUComputePipeline;
  readonly scalar: GPUComputePipeline;
}

/**
 * A compiled GEMM for one layout. Each tiling has a vec4 variant, used when the operands'
 * contiguous dimensions (K for M-major operands, M or N for K-major ones, and N for C) are
 * multiples of 4, and an element-wise variant for all other sizes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { GemmKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const kernel = await GemmKernel.create(gpu, { layout: "nt", accumulate: true });
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const a = createBufferFrom(gpu.device, new Float32Array([1, 2, 3, 4]), usage); // X [2, 2]
 * const b = createBufferFrom(gpu.device, new Float32Array([1, 0, 0, 1, 1, 1]), usage); // W [3, 2]
 * const c = createBufferFrom(gpu.device, new Float32Array(6).fill(10), usage); // Y [2, 3]
 * const op = kernel.bind({ a, b, c }, { m: 2, n: 3, k: 2 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const y = new Float32Array(await readBuffer(gpu.device, c));
 * assert.deepEqual([...y], [11, 12, 13, 13, 14, 17]);
 * op.destroy();
 * for (const buf of [a, b, c]) buf.destroy();
 * ```
 */
export class GemmKernel {
  /** The layout compiled for. */
  readonly layout: GemmLayout;
  /** Whether binds add into C. */
  readonly accumulate: boolean;
  readonly #gpu: Gpu;
  /** Candidate tilings in order of preference. */
  readonly #tiles: readonly TilePipelines[];

  private constructor(
    gpu: Gpu,
    layout: GemmLayout,
    accumulate: boolean,
    tiles: readonly TilePipelines[],
  ) {
    this.#gpu = gpu;
    this.layout = layout;
    this.accumulate = accumulate;
    this.#tiles = tiles;
  }

  /**
   * Compiles (or fetches from the cache) the variants of every candidate tiling. Throws a
   * RangeError for an unknown layout, an invalid tile, or a given tile the device cannot run.
   */
  static async create(gpu: Gpu, config: GemmConfig): Promise<GemmKernel> {
    const { layout, accumulate = false } = config;
    checkGemmDims(layout, { m: 0, n: 0, k: 0 });
    if (config.tile) checkGemmTile(config.tile);
    // The 64×64 single-buffer tiling fits every device (8.5 KiB, 256 invocations).
    const tilings = fittingTilings(
      gpu,
      GEMM_TILINGS,
      (tile) => ({ bytes: gemmWorkgroupBytes(layout, tile), invocations: gemmWorkgroupSize(tile) }),
      "GEMM",
      config.tile,
    );
    const cache = pipelineCache(gpu.device);
    const compiled = await Promise.all(tilings.map(async ({ tile, minWorkgroups }) => {
      const [vec4, scalar] = await Promise.all(
        [false, true].map((scalar) =>
          cache.getAsync(gemmShader({ layout, accumulate, scalar, tile }))
        ),
      );
      return { tile, minWorkgroups, vec4, scalar };
    }));
    return new GemmKernel(gpu, layout, accumulate, compiled);
  }

  /**
   * The tiling {@link bind} uses for `dims`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { getGpu } from "../../src/gpu/device.ts";
   * import { GemmKernel } from "./mod.ts";
   * const kernel = await GemmKernel.create(await getGpu(), { layout: "nn" });
   * assert.equal(kernel.tileFor({ m: 768, n: 768, k: 65536 }).bm, 64);
   * ```
   */
  tileFor({ m, n }: GemmDims): GemmTile {
    return pickTiling(this.#tiles, m, n).tile;
  }

  /**
   * Whether dimensions take the vec4 variant (otherwise the element-wise one).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { getGpu } from "../../src/gpu/device.ts";
   * import { GemmKernel } from "./mod.ts";
   * const kernel = await GemmKernel.create(await getGpu(), { layout: "tn" });
   * assert.equal(kernel.vectorized({ m: 64, n: 32, k: 7 }), true);
   * assert.equal(kernel.vectorized({ m: 64, n: 30, k: 8 }), false);
   * ```
   */
  vectorized({ m, n, k }: GemmDims): boolean {
    return n % 4 === 0 && (this.layout === "tn" ? m : k) % 4 === 0;
  }

  /**
   * Binds the kernel to buffers and dimensions (C is [m, n], the sum runs over k). Throws a
   * RangeError for invalid dimensions or buffers too small for them.
   */
  bind(io: GemmIo, dims: GemmDims): BoundOp {
    checkGemmDims(this.layout, dims);
    const { m, n, k } = dims;
    const shapes = gemmOperandShapes(this.layout, dims);
    const need: [string, GPUBuffer, number][] = [
      ["a", io.a, shapes.a[0] * shapes.a[1]],
      ["b", io.b, shapes.b[0] * shapes.b[1]],
      ["c", io.c, m * n],
    ];
    for (const [name, buffer, elements] of need) {
      if (buffer.size < elements * 4) {
        throw new RangeError(
          `GEMM ${this.layout} ${m}×${n}×${k}: buffer ${name} holds ${buffer.size} bytes, ` +
            `needs ${elements * 4}`,
        );
      }
    }
    if (m === 0 || n === 0) return dispatchOp([], [], "gemm f32");
    const variants = pickTiling(this.#tiles, m, n);
    const { tile } = variants;
    const pipeline = this.vectorized(dims) ? variants.vec4 : variants.scalar;
    const tilesM = Math.ceil(m / tile.bm);
    const tilesN = Math.ceil(n / tile.bn);
    const [gx, gy] = splitDispatch(this.#gpu, tilesM * tilesN);
    const device = this.#gpu.device;
    const params = uniformBuffer(device, [m, n, k, tilesM, tilesN, gx, Math.ceil(k / tile.bk), 0]);
    const group = bindGroup(device, pipeline, [io.a, io.b, io.c, params]);
    return dispatchOp([[pipeline, group, gx, gy]], [params], "gemm f32");
  }
}

/**
 * Options of {@link gemmGpu}.
 *
 * @example
 * ```ts
 * import type { GemmGpuOptions } from "./mod.ts";
 * const opts: GemmGpuOptions = { c: new Float32Array(4), tile: undefined };
 * ```
 */
export interface GemmGpuOptions {
  /** The old C [m, n]: when given, returns C + op(A)·op(B). */
  readonly c?: Float32Array;
  /** A fixed tiling (default: chosen per size, see {@link GemmConfig.tile}). */
  readonly tile?: GemmTile;
}

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * One GEMM of host arrays on the default adapter: same arguments and result as `gemmReference`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmGpu } from "./mod.ts";
 * const a = new Float32Array([1, 2, 3, 4]);
 * const b = new Float32Array([5, 6, 7, 8]);
 * const c = await gemmGpu("nn", a, b, { m: 2, n: 2, k: 2 });
 * assert.deepEqual([...c], [19, 22, 43, 50]);
 * ```
 */
export async function gemmGpu(
  layout: GemmLayout,
  a: Float32Array,
  b: Float32Array,
  dims: GemmDims,
  opts: GemmGpuOptions = {},
): Promise<Float32Array> {
  checkGemmDims(layout, dims);
  const { m, n } = dims;
  const gpu = await getGpu();
  const device = gpu.device;
  const kernel = await GemmKernel.create(gpu, {
    layout,
    accumulate: opts.c !== undefined,
    tile: opts.tile,
  });
  const buffers = [
    createBufferFrom(device, a, STORAGE),
    createBufferFrom(device, b, STORAGE),
    opts.c
      ? createBufferFrom(device, opts.c, STORAGE)
      : createEmptyBuffer(device, m * n * 4, STORAGE),
  ];
  try {
    const [ab, bb, cb] = buffers;
    const op = kernel.bind({ a: ab, b: bb, c: cb }, dims);
    const encoder = device.createCommandEncoder({ label: "gemmGpu" });
    const pass = encoder.beginComputePass();
    op.encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const out = new Float32Array(await readBuffer(device, cb, m * n * 4));
    op.destroy();
    return out;
  } finally {
    for (const buffer of buffers) buffer.destroy();
  }
}
