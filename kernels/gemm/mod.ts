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
import { type BoundOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import {
  checkGemmDims,
  type GemmDims,
  type GemmLayout,
  gemmOperandShapes,
} from "./reference.ts";
import {
  checkGemmTile,
  gemmShader,
  type GemmTile,
  gemmWorkgroupBytes,
  gemmWorkgroupSize,
} from "./wgsl.ts";

/**
 * A tiling a kernel may choose, and the fewest workgroups it must yield for a problem to take it.
 *
 * @example
 * ```ts
 * import type { GemmTiling } from "./mod.ts";
 * const t: GemmTiling = {
 *   tile: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, stages: 1 },
 *   minWorkgroups: 512,
 * };
 * ```
 */
export interface GemmTiling {
  readonly tile: GemmTile;
  readonly minWorkgroups: number;
}

/**
 * The tilings a kernel chooses from when none is given; a bind takes the first (that the device
 * can run) whose workgroup count for C reaches its minimum, else the last. All use K tiles of 16,
 * so the choice cannot even change the sign of a zero. Measured on the H100 (bench/gemm.ts):
 * - 128×256 outputs per workgroup of 512 invocations (8×8 each): 34–37 TFLOP/s from 2048³ up,
 *   but 9.6 at 1024³, where its 32 workgroups leave most of the 132 SMs idle;
 * - 64×64 per 256 (4×4 each), one tile buffer: 24–27 TFLOP/s at 1536³ and 768×3072×16384
 *   (576 workgroups), where the 128×256 tiling (72) and a 128×128 one (144) reach 17–21;
 * - the same with two tile buffers: 26–28 TFLOP/s at 1024³ (256 workgroups), 15–17 at
 *   768×768×16384 (144 workgroups, a Wgrad shape), better there than one buffer (10–14).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GEMM_TILINGS } from "./mod.ts";
 * assert.deepEqual(GEMM_TILINGS.map((t) => t.minWorkgroups), [128, 512, 0]);
 * ```
 */
export const GEMM_TILINGS: readonly GemmTiling[] = [
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
  readonly a: GPUBuffer;
  readonly b: GPUBuffer;
  readonly c: GPUBuffer;
}

/** The two compiled variants of one tiling. */
interface TilePipelines extends GemmTiling {
  readonly vec4: GPUComputePipeline;
  readonly scalar: GPUComputePipeline;
}

/** Why a device cannot run `tile` for `layout`, or undefined if it can. */
function unfit(gpu: Gpu, layout: GemmLayout, tile: GemmTile): string | undefined {
  const maxBytes = gpu.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const bytes = gemmWorkgroupBytes(layout, tile);
  if (bytes > maxBytes) {
    return `needs ${bytes} bytes of workgroup memory; the device allows ${maxBytes}`;
  }
  const maxInvocations = gpu.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  const invocations = gemmWorkgroupSize(tile);
  if (invocations > maxInvocations) {
    return `needs ${invocations} invocations per workgroup; the device allows ${maxInvocations}`;
  }
  return undefined;
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
  readonly layout: GemmLayout;
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
    let tilings: readonly GemmTiling[];
    if (config.tile) {
      checkGemmTile(config.tile);
      const why = unfit(gpu, layout, config.tile);
      if (why) throw new RangeError(`GEMM tile ${JSON.stringify(config.tile)} ${why}`);
      tilings = [{ tile: config.tile, minWorkgroups: 0 }];
    } else {
      // The 64×64 single-buffer tiling fits every device (8.5 KiB, 256 invocations).
      tilings = GEMM_TILINGS.filter(({ tile }) => !unfit(gpu, layout, tile));
    }
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
    const enough = this.#tiles.find(({ tile, minWorkgroups }) =>
      Math.ceil(m / tile.bm) * Math.ceil(n / tile.bn) >= minWorkgroups
    );
    return (enough ?? this.#tiles[this.#tiles.length - 1]).tile;
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
    if (m === 0 || n === 0) return { dispatches: 0, encode() {}, destroy() {} };
    const tile = this.tileFor(dims);
    const variants = this.#tiles.find((t) => t.tile === tile)!;
    const pipeline = this.vectorized(dims) ? variants.vec4 : variants.scalar;
    const tilesM = Math.ceil(m / tile.bm);
    const tilesN = Math.ceil(n / tile.bn);
    const [gx, gy] = splitDispatch(this.#gpu, tilesM * tilesN);
    const device = this.#gpu.device;
    const params = uniformBuffer(device, [m, n, k, tilesM, tilesN, gx, Math.ceil(k / tile.bk), 0]);
    const group = bindGroup(device, pipeline, [io.a, io.b, io.c, params]);
    return {
      dispatches: 1,
      encode(pass: GPUComputePassEncoder) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(gx, gy);
      },
      destroy() {
        params.destroy();
      },
    };
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
