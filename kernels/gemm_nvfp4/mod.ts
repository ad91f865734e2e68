/**
 * The real NVFP4 GEMM: C[M,N] = Σ_k A[m,k]·B[n,k] of two packed NVFP4 tensors (both row-major with
 * K contiguous, as the quantizer's packed output of `nvfp4` or `nvfp4-2d` lays them out), with the
 * integer block dot products done by `dot4I8Packed` and FP32 accumulation across blocks
 * (kernels/gemm_nvfp4/wgsl.ts has the arithmetic and the tiling). {@link PackedNvfp4GemmKernel}
 * is the compiled op; {@link packedNvfp4GemmReferenceAt} the same arithmetic on the CPU, which the
 * kernel matches bit for bit.
 *
 * The training engine today fake-quantizes operands and multiplies them with the f32 GEMM
 * (kernels/gemm/mod.ts); this kernel equals that path up to f32 summation order.
 *
 * @module
 */

import { decodeElement, ELEMENTS } from "../../src/formats/elements.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import type { GemmDims } from "../gemm/reference.ts";
import {
  checkNvfp4GemmTile,
  type Nvfp4Dot,
  nvfp4GemmShader,
  type Nvfp4GemmTile,
  nvfp4GemmWorkgroupBytes,
  nvfp4GemmWorkgroupSize,
} from "./wgsl.ts";

/**
 * A tiling the kernel may choose, and the fewest workgroups it must yield for a problem to take it.
 *
 * @example
 * ```ts
 * import type { Nvfp4GemmTiling } from "./mod.ts";
 * const t: Nvfp4GemmTiling = { tile: { bm: 64, bn: 64, bk: 64, tm: 4, tn: 4 }, minWorkgroups: 0 };
 * ```
 */
export interface Nvfp4GemmTiling {
  readonly tile: Nvfp4GemmTile;
  readonly minWorkgroups: number;
}

/**
 * The tilings a kernel chooses from when none is given: a bind takes the first (that the device
 * can run) whose workgroup count reaches its minimum, else the last. Results never depend on it.
 * Measured on the H100 (bench/gemm_nvfp4.ts, two runs): every tiling tried, from 64×64 (4×4 per
 * invocation) to 128×256 (8×8), K tiles of 32–128, ran at 47–63 TFLOP/s at 4096³ and 8192³;
 * 64×128 with 4×8 per invocation and K tiles of 64 was the fastest at 2048³–8192³ (58.5, 61.3,
 * 62.8–63.2), 64×64 (4×4) at 1024³ (44.1 against 43.1: 256 workgroups rather than 128 for the
 * 132 SMs). The kernel is bound by integer-dot issue (see kernels/gemm_nvfp4/wgsl.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NVFP4_GEMM_TILINGS } from "./mod.ts";
 * assert.equal(NVFP4_GEMM_TILINGS.at(-1)!.minWorkgroups, 0);
 * ```
 */
export const NVFP4_GEMM_TILINGS: readonly Nvfp4GemmTiling[] = [
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
  readonly aCodes: GPUBuffer;
  readonly aScales: GPUBuffer;
  readonly aStats: GPUBuffer;
  readonly bCodes: GPUBuffer;
  readonly bScales: GPUBuffer;
  readonly bStats: GPUBuffer;
  readonly c: GPUBuffer;
}

/**
 * Throws a RangeError naming the first of m, n, k that is not a positive multiple of 16.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkNvfp4GemmDims } from "./mod.ts";
 * checkNvfp4GemmDims({ m: 32, n: 16, k: 64 });
 * assert.throws(() => checkNvfp4GemmDims({ m: 32, n: 16, k: 40 }), /k = 40/);
 * ```
 */
export function checkNvfp4GemmDims(dims: GemmDims): void {
  for (const name of ["m", "n", "k"] as const) {
    const v = dims[name];
    if (!Number.isInteger(v) || v <= 0 || v % 16 !== 0) {
      throw new RangeError(`NVFP4 GEMM: ${name} = ${v} must be a positive multiple of 16`);
    }
  }
}

/** Why a device cannot run `tile`, or undefined if it can. */
function unfit(gpu: Gpu, tile: Nvfp4GemmTile): string | undefined {
  const maxBytes = gpu.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const bytes = nvfp4GemmWorkgroupBytes(tile);
  if (bytes > maxBytes) {
    return `needs ${bytes} bytes of workgroup memory; the device allows ${maxBytes}`;
  }
  const maxInvocations = gpu.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  const invocations = nvfp4GemmWorkgroupSize(tile);
  if (invocations > maxInvocations) {
    return `needs ${invocations} invocations per workgroup; the device allows ${maxInvocations}`;
  }
  return undefined;
}

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
  /** Candidate tilings in order of preference, with their pipelines. */
  readonly #tiles: readonly (Nvfp4GemmTiling & { pipeline: GPUComputePipeline })[];

  private constructor(
    gpu: Gpu,
    tiles: readonly (Nvfp4GemmTiling & { pipeline: GPUComputePipeline })[],
  ) {
    this.#gpu = gpu;
    this.#tiles = tiles;
  }

  /**
   * Compiles (or fetches from the cache) the pipelines of every candidate tiling. Throws a
   * RangeError for an invalid tile or a given tile the device cannot run.
   */
  static async create(
    gpu: Gpu,
    opts: PackedNvfp4GemmOptions = {},
  ): Promise<PackedNvfp4GemmKernel> {
    const dot = opts.dot ?? "dot4I8Packed";
    let tilings: readonly Nvfp4GemmTiling[];
    if (opts.tile) {
      checkNvfp4GemmTile(opts.tile);
      const why = unfit(gpu, opts.tile);
      if (why) throw new RangeError(`NVFP4 GEMM tile ${JSON.stringify(opts.tile)} ${why}`);
      tilings = [{ tile: opts.tile, minWorkgroups: 0 }];
    } else {
      // The 64×64 tiling fits every device (11.5 KiB, 256 invocations).
      tilings = NVFP4_GEMM_TILINGS.filter(({ tile }) => !unfit(gpu, tile));
    }
    const cache = pipelineCache(gpu.device);
    const tiles = await Promise.all(tilings.map(async (t) => ({
      ...t,
      pipeline: await cache.getAsync(nvfp4GemmShader({ tile: t.tile, dot })),
    })));
    return new PackedNvfp4GemmKernel(gpu, tiles);
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
    const enough = this.#tiles.find(({ tile, minWorkgroups }) =>
      Math.ceil(m / tile.bm) * Math.ceil(n / tile.bn) >= minWorkgroups
    );
    return (enough ?? this.#tiles[this.#tiles.length - 1]).tile;
  }

  /**
   * Binds the kernel to buffers and dimensions (C is [m, n], the sum runs over k). Throws a
   * RangeError naming a dimension that is not a positive multiple of 16, or a buffer too small.
   */
  bind(io: PackedNvfp4GemmIo, dims: GemmDims): BoundOp {
    checkNvfp4GemmDims(dims);
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
    const tile = this.tileFor(dims);
    const { pipeline } = this.#tiles.find((t) => t.tile === tile)!;
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
 * One packed NVFP4 operand on the host: `codes` two per byte (element 2i in the low nibble),
 * `scales` one E4M3 byte per 16-block, row-major; `sDec` the FP32 decode scale.
 *
 * @example
 * ```ts
 * import type { PackedNvfp4Host } from "./mod.ts";
 * const zero: PackedNvfp4Host = { codes: new Uint8Array(8), scales: new Uint8Array(1), sDec: 1 };
 * ```
 */
export interface PackedNvfp4Host {
  readonly codes: Uint8Array;
  readonly scales: Uint8Array;
  readonly sDec: number;
}

/**
 * C[i, j] as {@link PackedNvfp4GemmKernel} computes it, bit for bit (barring subnormal results,
 * which a GPU may flush): the exact block terms d·(sa/2)·(sb/2) summed in f32 in block order from
 * +0, then fp32(fp32(acc · S_dec,a) · S_dec,b).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packedNvfp4GemmReferenceAt } from "./mod.ts";
 * // One 16-block per row; every element 6 (code 7), block scale 2 (E4M3 0x40), S_dec 1.
 * const op = { codes: new Uint8Array(8).fill(0x77), scales: new Uint8Array([0x40]), sDec: 1 };
 * assert.equal(packedNvfp4GemmReferenceAt(op, op, 16, 0, 0), 16 * 12 * 12);
 * ```
 */
export function packedNvfp4GemmReferenceAt(
  a: PackedNvfp4Host,
  b: PackedNvfp4Host,
  k: number,
  i: number,
  j: number,
): number {
  const blocks = k / 16;
  const code = (x: Uint8Array, e: number) => (x[e >> 1] >> ((e & 1) * 4)) & 0xf;
  const e2m1 = (x: Uint8Array, e: number) => decodeElement(ELEMENTS.e2m1, code(x, e));
  const e4m3 = (x: Uint8Array, blk: number) => decodeElement(ELEMENTS.e4m3, x[blk]);
  let acc = 0;
  for (let q = 0; q < blocks; q++) {
    let d = 0;
    for (let e = 0; e < 16; e++) {
      d += 4 * e2m1(a.codes, i * k + q * 16 + e) * e2m1(b.codes, j * k + q * 16 + e);
    }
    const term = d * (e4m3(a.scales, i * blocks + q) / 2) * (e4m3(b.scales, j * blocks + q) / 2);
    acc = Math.fround(acc + term);
  }
  return Math.fround(Math.fround(acc * a.sDec) * b.sDec);
}
