/**
 * The matrix-unit GEMM on the GPU: C[m, n] (+)= op(A)·op(B) with f16 A and B and f32 C on subgroup
 * matrices (`chromium-experimental-subgroup-matrix`, which Dawn offers and Deno's WebGPU does not),
 * in the three layouts of a linear layer (`nt` Fprop, `nn` Dgrad, `tn` Wgrad). The contract —
 * exact products, f32 accumulation in an order the hardware chooses, whole tiles only — is in
 * ./reference.ts; the shader in ./wgsl.ts.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { fittingTilings, type Tiling } from "../../src/gpu/fit.ts";
import { type BoundOp, dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../../src/gpu/pipelines.ts";
import { wgslEnables } from "../../src/gpu/wgsl_enables.ts";
import {
  checkGemmDims,
  type GemmDims,
  type GemmLayout,
  gemmOperandShapes,
} from "../gemm/reference.ts";
import {
  checkMatrixTile,
  MATRIX_SIZE,
  MATRIX_SUBGROUP_SIZE,
  matrixGemmFits,
  type MatrixGemmTile,
  matrixSplitK,
  matrixTileShape,
} from "./reference.ts";
import {
  matrixGemmShader,
  matrixGemmWorkgroupBytes,
  matrixGemmWorkgroupSize,
  SPLIT_K_REDUCE_WORKGROUP,
  splitKReduceShader,
} from "./wgsl.ts";

/** The WebGPU feature the kernel needs, besides `shader-f16` and `subgroups`. */
export const SUBGROUP_MATRIX_FEATURE = "chromium-experimental-subgroup-matrix";

/**
 * The tilings a kernel chooses from, in order of preference: a bind takes the first that divides
 * the problem and yields at least its minimum of workgroups. 128×128 outputs per workgroup of four
 * subgroups (4×4 result matrices each), double-buffered, for large outputs; 64×64 per single
 * subgroup otherwise. Both step through K 16 values at a time. Chosen from sweeps on the H200
 * (reports/h200-gemm-matrix.md): at 8192³ the first runs 168 TFLOP/s, the same tiling with 32-wide
 * K slices 88.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MATRIX_GEMM_TILINGS } from "./mod.ts";
 * assert.equal(MATRIX_GEMM_TILINGS.at(-1)!.minWorkgroups, 0);
 * ```
 */
export const MATRIX_GEMM_TILINGS: readonly Tiling<MatrixGemmTile>[] = [
  { tile: { sm: 2, sn: 2, tm: 4, tn: 4, bk: 16, stages: 2 }, minWorkgroups: 256 },
  { tile: { sm: 1, sn: 1, tm: 4, tn: 4, bk: 16 }, minWorkgroups: 0 },
];

/**
 * Padding (f16 values after each staged row in workgroup memory) per layout. Without it, a
 * column-major staged slice (`tn`'s A, rows of 128 f16 = 256 bytes) or `nn`'s row-major B slice
 * (the same) puts the rows of a 16×16 matrix load in the same memory banks; 8 f16 spreads them. On
 * an H100 at 8192³ (2026-12-06, `bench/gemm_matrix.ts --tiles …/p8`): `tn` 91 → 162 TFLOP/s, `nn`
 * 115 → 133, while `nt` (both slices rows of 16 f16) fell 169 → 142, so it stays unpadded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MATRIX_GEMM_PAD } from "./mod.ts";
 * assert.equal(MATRIX_GEMM_PAD.nt, 0);
 * ```
 */
export const MATRIX_GEMM_PAD: Readonly<Record<GemmLayout, number>> = { nt: 0, nn: 8, tn: 8 };

/**
 * The tilings a kernel of `layout` chooses from: {@link MATRIX_GEMM_TILINGS} with the layout's
 * {@link MATRIX_GEMM_PAD}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matrixGemmTilings } from "./mod.ts";
 * assert.equal(matrixGemmTilings("tn")[0].tile.pad, 8);
 * ```
 */
export function matrixGemmTilings(layout: GemmLayout): Tiling<MatrixGemmTile>[] {
  return MATRIX_GEMM_TILINGS.map((t) => ({
    ...t,
    tile: { ...t.tile, pad: MATRIX_GEMM_PAD[layout] },
  }));
}

/**
 * Whether a device can run the kernel: it granted subgroup matrices, f16 and subgroups, and its
 * adapter offers f16 → f32 16×16×16 matrices with 32-wide subgroups (Dawn's
 * `adapter.info.subgroupMatrixConfigs`, where reported).
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { matrixGemmAvailable } from "./mod.ts";
 * console.log(matrixGemmAvailable(await getGpu())); // false on Deno's WebGPU
 * ```
 */
export function matrixGemmAvailable(gpu: Gpu): boolean {
  const granted = [SUBGROUP_MATRIX_FEATURE, "shader-f16", "subgroups"].every((f) =>
    gpu.features.has(f)
  );
  if (!granted) return false;
  const info = gpu.adapter.info as unknown as {
    subgroupMatrixConfigs?: readonly {
      componentType: string;
      resultComponentType: string;
      M: number;
      N: number;
      K: number;
    }[];
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  const sizeOk = (info.subgroupMinSize ?? MATRIX_SUBGROUP_SIZE) <= MATRIX_SUBGROUP_SIZE &&
    (info.subgroupMaxSize ?? MATRIX_SUBGROUP_SIZE) >= MATRIX_SUBGROUP_SIZE;
  const configs = info.subgroupMatrixConfigs;
  const configOk = configs === undefined ||
    configs.some((c) =>
      c.componentType === "f16" && c.resultComponentType === "f32" &&
      c.M === MATRIX_SIZE && c.N === MATRIX_SIZE && c.K === MATRIX_SIZE
    );
  return sizeOk && configOk;
}

/**
 * What a {@link MatrixGemmKernel} computes.
 *
 * @example
 * ```ts
 * import type { MatrixGemmConfig } from "./mod.ts";
 * const wgrad: MatrixGemmConfig = { layout: "tn", accumulate: true };
 * ```
 */
export interface MatrixGemmConfig {
  /** `nt`, `nn` or `tn` (kernels/gemm/reference.ts). */
  readonly layout: GemmLayout;
  /** C ← C + op(A)·op(B) instead of C ← op(A)·op(B). Default false. */
  readonly accumulate?: boolean;
  /**
   * C ← fp32(op(A)·op(B) · fp32(factorA · factorB)) with the f16 operands' tensor factors (word 1 of
   * their stats buffers, as the quantizers' f16 output writes them). Default false; not with
   * `accumulate`.
   */
  readonly scaled?: boolean;
  /** A fixed tiling; by default each bind picks one of {@link matrixGemmTilings}. */
  readonly tile?: MatrixGemmTile;
}

/**
 * The buffers of a matrix-unit GEMM: A and B f16 (row-major, shaped by the layout as in
 * `gemmOperandShapes`), C f32 [m, n] (read too when accumulating).
 *
 * @example
 * ```ts
 * import type { MatrixGemmIo } from "./mod.ts";
 * const io = (a: GPUBuffer, b: GPUBuffer, c: GPUBuffer): MatrixGemmIo => ({ a, b, c });
 * ```
 */
export interface MatrixGemmIo {
  /** A in f16. */
  readonly a: GPUBuffer;
  /** B in f16. */
  readonly b: GPUBuffer;
  /** C in f32. */
  readonly c: GPUBuffer;
  /** A's stats words (amax, factor), for scaled kernels. */
  readonly aStats?: GPUBuffer;
  /** B's stats words (amax, factor), for scaled kernels. */
  readonly bStats?: GPUBuffer;
}

/**
 * A compiled matrix-unit GEMM for one layout: a pipeline per candidate tiling.
 *
 * @example
 * ```ts ignore
 * // Needs an adapter with subgroup matrices (Dawn on NVIDIA, see tests/gpu_host/).
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { MatrixGemmKernel } from "./mod.ts";
 * const kernel = await MatrixGemmKernel.create(await getGpu({ implementation: "dawn" }), { layout: "nn" });
 * console.log(kernel.tileFor({ m: 4096, n: 4096, k: 4096 }));
 * ```
 */
export class MatrixGemmKernel {
  /** The layout compiled for. */
  readonly layout: GemmLayout;
  /** Whether binds accumulate into C. */
  readonly accumulate: boolean;
  /** Whether binds multiply C by the operands' tensor factors. */
  readonly scaled: boolean;
  readonly #gpu: Gpu;
  readonly #tiles: readonly (Tiling<MatrixGemmTile> & { readonly pipeline: GPUComputePipeline })[];
  readonly #reduce: GPUComputePipeline;
  /** Split-K partial sums, shared by this kernel's binds (their dispatches run one at a time). */
  #workspace: GPUBuffer | undefined;

  private constructor(
    gpu: Gpu,
    config: Required<Omit<MatrixGemmConfig, "tile">>,
    tiles: readonly (Tiling<MatrixGemmTile> & { readonly pipeline: GPUComputePipeline })[],
    reduce: GPUComputePipeline,
  ) {
    this.#gpu = gpu;
    this.layout = config.layout;
    this.accumulate = config.accumulate;
    this.scaled = config.scaled;
    this.#tiles = tiles;
    this.#reduce = reduce;
  }

  /**
   * Compiles the kernel's tilings.
   *
   * @throws {RangeError} when the device cannot run it ({@link matrixGemmAvailable}), for an
   * unknown layout, a scaled kernel that accumulates, or a given tile that is invalid or does not
   * fit the device
   */
  static async create(gpu: Gpu, config: MatrixGemmConfig): Promise<MatrixGemmKernel> {
    const { layout, accumulate = false, scaled = false } = config;
    checkGemmDims(layout, { m: 0, n: 0, k: 0 });
    if (scaled && accumulate) {
      throw new RangeError("matrix GEMM: scaled and accumulate cannot be combined");
    }
    if (!matrixGemmAvailable(gpu)) {
      throw new RangeError(
        `the matrix-unit GEMM needs ${SUBGROUP_MATRIX_FEATURE}, shader-f16 and subgroups with ` +
          `f16→f32 16×16×16 matrices on 32-wide subgroups; "${gpu.info.description}" has ` +
          `${[...gpu.features].sort().join(", ") || "no optional features"}`,
      );
    }
    if (config.tile) checkMatrixTile(config.tile);
    const tilings = fittingTilings(
      gpu,
      matrixGemmTilings(layout),
      (tile) => ({
        bytes: matrixGemmWorkgroupBytes(tile),
        invocations: matrixGemmWorkgroupSize(tile),
      }),
      "matrix GEMM",
      config.tile,
    );
    const cache = pipelineCache(gpu.device);
    const enables = wgslEnables(gpu, ["f16", "subgroups", "chromium_experimental_subgroup_matrix"]);
    // One compilation at a time: overlapping ones crashed dawn.node 0.6.2 on the H200.
    const tiles = [];
    for (const t of tilings) {
      const code = matrixGemmShader({ layout, accumulate, scaled, tile: t.tile, enables });
      tiles.push({ ...t, pipeline: await cache.getAsync(code) });
    }
    const reduce = await cache.getAsync(splitKReduceShader({ accumulate, scaled }));
    return new MatrixGemmKernel(gpu, { layout, accumulate, scaled }, tiles, reduce);
  }

  /**
   * The tiling {@link bind} uses for `dims`: the first candidate that divides the problem and
   * yields at least its minimum of workgroups (counting K ranges where {@link matrixSplitK} splits
   * the sum), else the last that divides it; undefined when none does (such a GEMM belongs on the
   * f32 GEMM).
   *
   * @example
   * ```ts ignore
   * import { getGpu } from "../../src/gpu/device.ts";
   * import { MatrixGemmKernel } from "./mod.ts";
   * const kernel = await MatrixGemmKernel.create(await getGpu({ implementation: "dawn" }), { layout: "nt" });
   * console.log(kernel.tileFor({ m: 8192, n: 768, k: 768 })?.sm); // 2
   * ```
   */
  tileFor(dims: GemmDims): MatrixGemmTile | undefined {
    const fits = this.#tiles.filter(({ tile }) => matrixGemmFits(dims, tile));
    const enough = fits.find(({ tile, minWorkgroups }) => {
      const { rows, cols } = matrixTileShape(tile);
      return (dims.m / rows) * (dims.n / cols) * matrixSplitK(dims, tile) >= minWorkgroups;
    });
    return (enough ?? fits.at(-1))?.tile;
  }

  /**
   * Binds the kernel to buffers and dimensions (C is [m, n], the sum runs over k).
   *
   * @throws {RangeError} for invalid dimensions, dimensions no tiling divides, buffers too small, or
   * a scaled kernel without both stats buffers
   */
  bind(io: MatrixGemmIo, dims: GemmDims): BoundOp {
    checkGemmDims(this.layout, dims);
    const { m, n, k } = dims;
    const tile = this.tileFor(dims);
    if (!tile) {
      throw new RangeError(
        `matrix GEMM ${this.layout} ${m}×${n}×${k}: no tiling divides it (m and n must be ` +
          `multiples of 64 and k of 16); run it on the f32 GEMM`,
      );
    }
    const shapes = gemmOperandShapes(this.layout, dims);
    const need: [string, GPUBuffer, number][] = [
      ["a", io.a, shapes.a[0] * shapes.a[1] * 2],
      ["b", io.b, shapes.b[0] * shapes.b[1] * 2],
      ["c", io.c, m * n * 4],
    ];
    for (const [name, buffer, bytes] of need) {
      if (buffer.size < bytes) {
        throw new RangeError(
          `matrix GEMM ${this.layout} ${m}×${n}×${k}: buffer ${name} holds ${buffer.size} bytes, ` +
            `needs ${bytes}`,
        );
      }
    }
    const stats = this.scaled ? [io.aStats, io.bStats] : [];
    if (stats.some((b) => !b || b.size < 8)) {
      throw new RangeError(`matrix GEMM ${this.layout}: a scaled kernel needs aStats and bStats`);
    }
    const { pipeline } = this.#tiles.find((t) => t.tile === tile)!;
    const { rows, cols } = matrixTileShape(tile);
    const tilesM = m / rows;
    const tilesN = n / cols;
    const splits = matrixSplitK(dims, tile);
    const [gx, gy] = splitDispatch(this.#gpu, tilesM * tilesN);
    const device = this.#gpu.device;
    const params = uniformBuffer(device, [m, n, k, tilesM, tilesN, gx, k / splits, splits]);
    const operands = [io.a, io.b];
    if (splits === 1) {
      const group = bindGroup(device, pipeline, [
        ...operands,
        io.c,
        params,
        ...stats as GPUBuffer[],
      ]);
      return dispatchOp([[pipeline, group, gx, gy]], [params], "gemm matrix");
    }
    const workspace = this.#workspaceOf(splits * m * n * 4);
    const group = bindGroup(device, pipeline, [
      ...operands,
      workspace,
      params,
      ...stats as GPUBuffer[],
    ]);
    const quads = (m * n) / 4;
    const [rx, ry] = splitDispatch(this.#gpu, Math.ceil(quads / SPLIT_K_REDUCE_WORKGROUP));
    const reduceParams = uniformBuffer(device, [quads, splits, rx * SPLIT_K_REDUCE_WORKGROUP, 0]);
    const reduceGroup = bindGroup(device, this.#reduce, [
      workspace,
      io.c,
      reduceParams,
      ...stats as GPUBuffer[],
    ]);
    return dispatchOp(
      [[pipeline, group, gx, gy, splits], [this.#reduce, reduceGroup, rx, ry]],
      [params, reduceParams],
      "gemm matrix",
    );
  }

  /** The shared split-K workspace, grown to at least `bytes` (binds made before keep theirs). */
  #workspaceOf(bytes: number): GPUBuffer {
    if (!this.#workspace || this.#workspace.size < bytes) {
      this.#workspace = this.#gpu.device.createBuffer({
        label: `matrix GEMM ${this.layout} split-K workspace`,
        size: bytes,
        usage: GPUBufferUsage.STORAGE,
      });
    }
    return this.#workspace;
  }
}
