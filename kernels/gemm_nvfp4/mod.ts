/**
 * The real NVFP4 GEMM: C[M,N] = Σ_k A[m,k]·B[n,k] of two packed NVFP4 tensors (both row-major with
 * K contiguous, as the quantizer's packed output of `nvfp4` or `nvfp4-2d` lays them out), with the
 * integer block dot products done by `dot4I8Packed` and FP32 accumulation across blocks
 * (kernels/gemm_nvfp4/wgsl.ts has the arithmetic and the tiling). {@link PackedNvfp4GemmKernel}
 * is the compiled op; `packedNvfp4GemmReferenceAt` (kernels/gemm_nvfp4/reference.ts) the same
 * arithmetic on the CPU, which the kernel matches bit for bit.
 *
 * The same kernel multiplies two operands of a uniform 4-bit grid (both INT4 or both E1M2,
 * `nvint4` / `ufp4`): {@link PackedNvfp4GemmOptions.elements} names the grids to compile for and
 * {@link PackedNvfp4GemmIo.element} the grid of a bound GEMM.
 *
 * The f32 GEMM on fake-quantized operands (kernels/gemm/mod.ts) gives the same values up to f32
 * summation order.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { fittingTilings, pickTiling, type Tiling } from "../../src/gpu/fit.ts";
import { type BoundOp, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import type { GemmDims } from "../gemm/reference.ts";
import type { Nvfp4Element } from "../../src/formats/spec.ts";
import { checkNvfp4GemmDims } from "./reference.ts";
import {
  checkNvfp4GemmTile,
  type Nvfp4Dot,
  nvfp4GemmShader,
  type Nvfp4GemmTile,
  nvfp4GemmWorkgroupBytes,
  nvfp4GemmWorkgroupSize,
} from "./wgsl.ts";

/**
 * The tilings a kernel chooses from when none is given: a bind takes the first (that the device
 * can run) whose workgroup count reaches its minimum, else the last (`pickTiling`,
 * src/gpu/fit.ts). Results never depend on it. The entries were chosen from tiling sweeps with
 * bench/gemm_nvfp4.ts (`--tiles`) on the H100; reports/h100-kernels.md shows which each size takes
 * there: 64×128 outputs per workgroup (4×8 per invocation, K tiles of 64) for large outputs, 64×64
 * (4×4) where 64×128 would yield too few workgroups to fill the GPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NVFP4_GEMM_TILINGS } from "./mod.ts";
 * assert.equal(NVFP4_GEMM_TILINGS.at(-1)!.minWorkgroups, 0);
 * ```
 */
export const NVFP4_GEMM_TILINGS: readonly Tiling<Nvfp4GemmTile>[] = [
  { tile: { bm: 64, bn: 128, bk: 64, tm: 4, tn: 8 }, minWorkgroups: 256 },
  { tile: { bm: 64, bn: 64, bk: 64, tm: 4, tn: 4 }, minWorkgroups: 0 },
];

/**
 * Options of {@link PackedNvfp4GemmKernel.create}.
 *
 * @example
 * ```ts
 * import type { PackedNvfp4GemmOptions } from "./mod.ts";
 * const opts: PackedNvfp4GemmOptions = { tile: { bm: 64, bn: 64, bk: 32, tm: 4, tn: 4 } };
 * ```
 */
export interface PackedNvfp4GemmOptions {
  /** A fixed tiling; by default each bind picks one of {@link NVFP4_GEMM_TILINGS} by size. */
  readonly tile?: Nvfp4GemmTile;
  /** How block dot products are computed (default `dot4I8Packed`); see {@link Nvfp4Dot}. */
  readonly dot?: Nvfp4Dot;
  /** The element grids binds may name (default `["e2m1"]`); each compiles its own pipelines. */
  readonly elements?: readonly Nvfp4Element[];
}

/**
 * The buffers of a packed NVFP4 GEMM: for A [m, k] and B [n, k], the quantizer's packed `codes`
 * (k/2 bytes per row), `scales` (one E4M3 byte per 16-block, row-major [rows, k/16]) and `stats`
 * (word 1: the FP32 decode scale S_dec); C [m, n] row-major f32 (written).
 *
 * @example
 * ```ts
 * import type { PackedNvfp4GemmIo } from "./mod.ts";
 * const io = (a: GPUBuffer[], b: GPUBuffer[], c: GPUBuffer): PackedNvfp4GemmIo => ({
 *   aCodes: a[0], aScales: a[1], aStats: a[2], bCodes: b[0], bScales: b[1], bStats: b[2], c,
 * });
 * ```
 */
export interface PackedNvfp4GemmIo {
  /** A's packed codes, `m·k/2` bytes. */
  readonly aCodes: GPUBuffer;
  /** A's E4M3 block scales, `m·k/16` bytes. */
  readonly aScales: GPUBuffer;
  /** A's quantizer stats (word 1: S_dec). */
  readonly aStats: GPUBuffer;
  /** B's packed codes, `n·k/2` bytes. */
  readonly bCodes: GPUBuffer;
  /** B's E4M3 block scales, `n·k/16` bytes. */
  readonly bScales: GPUBuffer;
  /** B's quantizer stats (word 1: S_dec). */
  readonly bStats: GPUBuffer;
  /** Output C `[m, n]` f32 (written). */
  readonly c: GPUBuffer;
  /** The element grid of both operands' codes (default `e2m1`). */
  readonly element?: Nvfp4Element;
}

/** A candidate tiling with its compiled pipeline. */
type TiledPipeline = Tiling<Nvfp4GemmTile> & { pipeline: GPUComputePipeline };

/**
 * A compiled packed NVFP4 × NVFP4 → f32 GEMM. Needs the WGSL language feature
 * `packed_4x8_integer_dot_product`. Deterministic: each output is one fixed sequence of f32
 * operations whatever the tiling.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { PackedNvfp4GemmKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const kernel = await PackedNvfp4GemmKernel.create(gpu);
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
 * const u32 = (...w: number[]) => createBufferFrom(gpu.device, new Uint32Array(w), usage);
 * // A and B are 16×16; only row 0 is non-zero: A[0, 0..7] = 1.5 (code 3), B[0, 0..7] = −2
 * // (code 0xc), block scales 1 (E4M3 0x38), S_dec 0.5 (A) and 1 (B).
 * const codes = (w: number) => u32(w, w, ...new Array(30).fill(0));
 * const scales = u32(0x38, ...new Array(3).fill(0));
 * const a = { aCodes: codes(0x33333333), aScales: scales, aStats: u32(0, 0x3f000000) };
 * const b = { bCodes: codes(0xcccccccc), bScales: scales, bStats: u32(0, 0x3f800000) };
 * const c = createBufferFrom(gpu.device, new Float32Array(256), usage);
 * const op = kernel.bind({ ...a, ...b, c }, { m: 16, n: 16, k: 16 });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const out = new Float32Array(await readBuffer(gpu.device, c));
 * assert.equal(out[0], 16 * 1.5 * -2 * 0.5); // 16 elements: 8 in each code word
 * op.destroy();
 * ```
 */
export class PackedNvfp4GemmKernel {
  readonly #gpu: Gpu;
  /** Per element grid, the candidate tilings in order of preference, with their pipelines. */
  readonly #tiles: ReadonlyMap<Nvfp4Element, readonly TiledPipeline[]>;

  private constructor(gpu: Gpu, tiles: ReadonlyMap<Nvfp4Element, readonly TiledPipeline[]>) {
    this.#gpu = gpu;
    this.#tiles = tiles;
  }

  /**
   * Compiles (or fetches from the cache) the pipelines of every candidate tiling for each element
   * grid. Throws a RangeError for an invalid tile or a given tile the device cannot run.
   */
  static async create(
    gpu: Gpu,
    opts: PackedNvfp4GemmOptions = {},
  ): Promise<PackedNvfp4GemmKernel> {
    const dot = opts.dot ?? "dot4I8Packed";
    if (opts.tile) checkNvfp4GemmTile(opts.tile);
    // The 64×64 tiling fits every device (11.5 KiB, 256 invocations).
    const tilings = fittingTilings(
      gpu,
      NVFP4_GEMM_TILINGS,
      (tile) => ({
        bytes: nvfp4GemmWorkgroupBytes(tile),
        invocations: nvfp4GemmWorkgroupSize(tile),
      }),
      "NVFP4 GEMM",
      opts.tile,
    );
    const cache = pipelineCache(gpu.device);
    const elements = [...new Set<Nvfp4Element>(opts.elements ?? ["e2m1"])];
    const tiles = await Promise.all(elements.map(async (element) =>
      [
        element,
        await Promise.all(tilings.map(async (t) => ({
          ...t,
          pipeline: await cache.getAsync(nvfp4GemmShader({ tile: t.tile, dot, element })),
        }))),
      ] as const
    ));
    return new PackedNvfp4GemmKernel(gpu, new Map(tiles));
  }

  /**
   * The tiling {@link bind} uses for `dims`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { getGpu } from "../../src/gpu/device.ts";
   * import { PackedNvfp4GemmKernel } from "./mod.ts";
   * const kernel = await PackedNvfp4GemmKernel.create(await getGpu());
   * assert.equal(kernel.tileFor({ m: 64, n: 64, k: 64 }).bm, 64);
   * ```
   */
  tileFor({ m, n }: GemmDims): Nvfp4GemmTile {
    return pickTiling([...this.#tiles.values()][0], m, n).tile;
  }

  /**
   * Binds the kernel to buffers and dimensions (C is [m, n], the sum runs over k). Throws a
   * RangeError naming a dimension that is not a positive multiple of 16, a buffer too small, or an
   * element grid the kernel was not created for.
   */
  bind(io: PackedNvfp4GemmIo, dims: GemmDims): BoundOp {
    checkNvfp4GemmDims(dims);
    const element = io.element ?? "e2m1";
    const tiles = this.#tiles.get(element);
    if (!tiles) {
      throw new RangeError(
        `NVFP4 GEMM: element ${JSON.stringify(element)} was not compiled; create the kernel ` +
          `with elements including it (has ${[...this.#tiles.keys()].join(", ")})`,
      );
    }
    const { m, n, k } = dims;
    const need: [string, GPUBuffer, number][] = [
      ["aCodes", io.aCodes, (m * k) / 2],
      ["aScales", io.aScales, (m * k) / 16],
      ["aStats", io.aStats, 8],
      ["bCodes", io.bCodes, (n * k) / 2],
      ["bScales", io.bScales, (n * k) / 16],
      ["bStats", io.bStats, 8],
      ["c", io.c, m * n * 4],
    ];
    for (const [name, buffer, bytes] of need) {
      if (buffer.size < bytes) {
        throw new RangeError(
          `NVFP4 GEMM ${m}×${n}×${k}: buffer ${name} holds ${buffer.size} bytes, needs ${bytes}`,
        );
      }
    }
    const { tile, pipeline } = pickTiling(tiles, m, n);
    const tilesM = Math.ceil(m / tile.bm);
    const tilesN = Math.ceil(n / tile.bn);
    const [gx, gy] = splitDispatch(this.#gpu, tilesM * tilesN);
    const device = this.#gpu.device;
    const kTiles = Math.ceil(k / tile.bk);
    const params = uniformBuffer(device, [m, n, k / 16, tilesM, tilesN, gx, kTiles, 0]);
    const group = bindGroup(device, pipeline, [
      io.aCodes,
      io.aScales,
      io.aStats,
      io.bCodes,
      io.bScales,
      io.bStats,
      io.c,
      params,
    ]);
    return dispatchOp([[pipeline, group, gx, gy]], [params], "gemm packed");
  }
}
