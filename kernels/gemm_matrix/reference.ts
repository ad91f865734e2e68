/**
 * The contract of the matrix-unit GEMM (kernels/gemm_matrix/): what it multiplies, which shapes it
 * takes, and its CPU reference.
 *
 * C[m, n] (+)= op(A)·op(B) in the layouts of the f32 GEMM (`nt` Fprop, `nn` Dgrad, `tn` Wgrad;
 * kernels/gemm/reference.ts), with A and B in **f16** (row-major, as the layout says) and C in f32.
 * Every product of two f16 values is exact in f32 and the matrix units accumulate in f32, so on
 * operands that are exact in f16 (NVFP4 block values, FP8 and scaled MX values) the result differs
 * from the f32 GEMM's only by the order of the f32 additions, which the hardware does not document
 * (Dawn: "implementation defined"); sums that are exact in f32 come out bit-identical.
 *
 * Shapes: the kernel works on whole tiles, so m must be a multiple of the tile's rows, n of its
 * columns and k of its K step (see {@link matrixGemmFits}); a GEMM of another shape runs on the f32
 * GEMM instead.
 *
 * @module
 */

import {
  checkGemmDims,
  type GemmDims,
  type GemmLayout,
  gemmOperandShapes,
} from "../gemm/reference.ts";

/**
 * A tiling of the matrix-unit GEMM: a workgroup of `sm × sn` subgroups computes a
 * `(16·tm·sm) × (16·tn·sn)` tile of C, each subgroup a `tm × tn` grid of 16×16 result matrices, and
 * steps through K `bk` values at a time, staging A's and B's slices in workgroup memory.
 *
 * @example
 * ```ts
 * import type { MatrixGemmTile } from "./reference.ts";
 * const tile: MatrixGemmTile = { sm: 2, sn: 2, tm: 4, tn: 4, bk: 32 }; // 128×128 outputs
 * ```
 */
export interface MatrixGemmTile {
  /** Subgroups along M. */
  readonly sm: number;
  /** Subgroups along N. */
  readonly sn: number;
  /** 16×16 result matrices per subgroup along M. */
  readonly tm: number;
  /** 16×16 result matrices per subgroup along N. */
  readonly tn: number;
  /** K values per staged slice (a multiple of 16). */
  readonly bk: number;
  /**
   * Workgroup-memory buffers per operand: 1 (default) loads a slice, then multiplies it; 2 loads
   * the next slice into registers while multiplying the current one from the other buffer (one
   * barrier per slice instead of two).
   */
  readonly stages?: 1 | 2;
  /**
   * f16 values of padding after each staged row in workgroup memory (a multiple of 8; default 0),
   * so that the rows of a 16×16 matrix load start in different banks.
   */
  readonly pad?: number;
  /**
   * u32 words per invocation and load when staging a slice (1, 2 or 4; default 4): wider loads are
   * fewer instructions, narrower ones write workgroup memory with fewer bank conflicts (each word is
   * unpacked into two f16 stores).
   */
  readonly words?: 1 | 2 | 4;
  /**
   * Rotate each invocation's f16 stores of a staged 4-word load (default false): at its j-th word
   * store, invocation `lid` writes word (j + lid/8) mod 4 of its load instead of word j, so that the
   * 32 invocations of a subgroup write 32 different memory banks rather than 8 (4-way conflicts);
   * only with `words` 4.
   */
  readonly rotate?: boolean;
}

/** The side of the square result, left and right matrices (f16 → f32, M16N16K16). */
export const MATRIX_SIZE = 16;

/** Invocations per subgroup the kernel is written for (NVIDIA's warp). */
export const MATRIX_SUBGROUP_SIZE = 32;

/**
 * Rows and columns of C one workgroup of `tile` computes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matrixTileShape } from "./reference.ts";
 * assert.deepEqual(matrixTileShape({ sm: 2, sn: 2, tm: 4, tn: 4, bk: 32 }), { rows: 128, cols: 128 });
 * ```
 */
export function matrixTileShape(tile: MatrixGemmTile): { rows: number; cols: number } {
  return { rows: MATRIX_SIZE * tile.tm * tile.sm, cols: MATRIX_SIZE * tile.tn * tile.sn };
}

/**
 * Throws a RangeError unless `tile` is a valid tiling: positive integer counts, `bk` a positive
 * multiple of 16.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkMatrixTile } from "./reference.ts";
 * assert.throws(() => checkMatrixTile({ sm: 2, sn: 2, tm: 4, tn: 4, bk: 24 }), /bk must be/);
 * ```
 */
export function checkMatrixTile(tile: MatrixGemmTile): void {
  for (const key of ["sm", "sn", "tm", "tn"] as const) {
    const v = tile[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`matrix GEMM tile: ${key} must be a positive integer, got ${v}`);
    }
  }
  if (!Number.isInteger(tile.bk) || tile.bk < MATRIX_SIZE || tile.bk % MATRIX_SIZE !== 0) {
    throw new RangeError(`matrix GEMM tile: bk must be a positive multiple of 16, got ${tile.bk}`);
  }
  if (tile.stages !== undefined && tile.stages !== 1 && tile.stages !== 2) {
    throw new RangeError(`matrix GEMM tile: stages must be 1 or 2, got ${tile.stages}`);
  }
  const pad = tile.pad ?? 0;
  if (!Number.isInteger(pad) || pad < 0 || pad % 8 !== 0) {
    throw new RangeError(`matrix GEMM tile: pad must be a multiple of 8 f16, got ${tile.pad}`);
  }
  if (tile.words !== undefined && ![1, 2, 4].includes(tile.words)) {
    throw new RangeError(`matrix GEMM tile: words must be 1, 2 or 4, got ${tile.words}`);
  }
  if (tile.rotate && (tile.words ?? 4) !== 4) {
    throw new RangeError(`matrix GEMM tile: rotate needs words 4, got ${tile.words}`);
  }
}

/**
 * Whether the kernel with `tile` takes `dims`: m, n, k positive and whole multiples of the tile's
 * rows, columns and K step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matrixGemmFits } from "./reference.ts";
 * const tile = { sm: 1, sn: 1, tm: 4, tn: 4, bk: 32 }; // 64×64
 * assert.equal(matrixGemmFits({ m: 512, n: 256, k: 64 }, tile), true);
 * assert.equal(matrixGemmFits({ m: 512, n: 200, k: 64 }, tile), false);
 * ```
 */
export function matrixGemmFits(dims: GemmDims, tile: MatrixGemmTile): boolean {
  const { rows, cols } = matrixTileShape(tile);
  const { m, n, k } = dims;
  return m > 0 && n > 0 && k > 0 && m % rows === 0 && n % cols === 0 && k % tile.bk === 0;
}

/**
 * How {@link matrixSplitK} splits K: outputs of fewer than `targetWorkgroups` tiles split the sum
 * into 2, 4, … (at most `maxSplits`) ranges of at least `minK` values each, one workgroup per tile
 * and range, until the workgroups reach the target. Each range's partial sums go to a workspace and
 * a second pass adds them (in range order) into C.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MATRIX_SPLIT_K } from "./reference.ts";
 * assert.equal(MATRIX_SPLIT_K.targetWorkgroups, 256);
 * ```
 */
export const MATRIX_SPLIT_K = { targetWorkgroups: 256, minK: 512, maxSplits: 16 } as const;

/**
 * The number of K ranges the kernel with `tile` sums `dims` in (1: no split), by the rule of
 * {@link MATRIX_SPLIT_K}; each range is a whole number of `tile.bk` slices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matrixSplitK } from "./reference.ts";
 * const tile = { sm: 2, sn: 2, tm: 4, tn: 4, bk: 16 }; // 128×128
 * assert.equal(matrixSplitK({ m: 768, n: 768, k: 8192 }, tile), 8); // 36 tiles → 288 workgroups
 * assert.equal(matrixSplitK({ m: 8192, n: 768, k: 768 }, tile), 1); // 384 tiles already
 * ```
 */
export function matrixSplitK(
  dims: GemmDims,
  tile: MatrixGemmTile,
  rule: { targetWorkgroups: number; minK: number; maxSplits: number } = MATRIX_SPLIT_K,
): number {
  const { rows, cols } = matrixTileShape(tile);
  const tiles = Math.ceil(dims.m / rows) * Math.ceil(dims.n / cols);
  let splits = 1;
  while (
    tiles * splits < rule.targetWorkgroups && 2 * splits <= rule.maxSplits &&
    dims.k % (2 * splits * tile.bk) === 0 && dims.k / (2 * splits) >= rule.minK
  ) {
    splits *= 2;
  }
  return splits;
}

/**
 * An upper bound on the split-K workspace one kernel needs (bytes) with tilings no larger than
 * `tile`: a split output has fewer than 2·targetWorkgroups tiles × splits, each of f32 rows × cols.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matrixSplitKWorkspaceBound } from "./reference.ts";
 * assert.equal(matrixSplitKWorkspaceBound({ sm: 2, sn: 2, tm: 4, tn: 4, bk: 16 }), 32 * 2 ** 20);
 * ```
 */
export function matrixSplitKWorkspaceBound(tile: MatrixGemmTile): number {
  const { rows, cols } = matrixTileShape(tile);
  return 2 * MATRIX_SPLIT_K.targetWorkgroups * rows * cols * 4;
}

/**
 * The CPU reference: C = op(A)·op(B) (+ C) over f16 operand values, summed exactly (f64, exact for
 * these inputs while |sums| < 2^53 in units of the smallest product) and rounded once to f32; with
 * `scale` (a scaled kernel's fp32(factorA · factorB)) then fp32(C · scale). On inputs whose every
 * partial sum is exact in f32 the GPU result equals it bit for bit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matrixGemmReference } from "./reference.ts";
 * const a = new Float16Array([1, 2, 3, 4]); // A [2, 2]
 * const b = new Float16Array([1, 0, 0, 1]); // B [2, 2] (nt: rows of B are columns of op(B))
 * assert.deepEqual([...matrixGemmReference("nt", a, b, { m: 2, n: 2, k: 2 })], [1, 2, 3, 4]);
 * ```
 */
export function matrixGemmReference(
  layout: GemmLayout,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dims: GemmDims,
  c?: ArrayLike<number>,
  scale?: number,
): Float32Array {
  checkGemmDims(layout, dims);
  const { m, n, k } = dims;
  const shapes = gemmOperandShapes(layout, dims);
  if (a.length < shapes.a[0] * shapes.a[1] || b.length < shapes.b[0] * shapes.b[1]) {
    throw new RangeError(
      `matrix GEMM ${layout} ${m}×${n}×${k}: A holds ${a.length} values and B ${b.length}, ` +
        `need ${shapes.a[0] * shapes.a[1]} and ${shapes.b[0] * shapes.b[1]}`,
    );
  }
  const aAt = layout === "tn"
    ? (i: number, q: number) => a[q * m + i]
    : (i: number, q: number) => a[i * k + q];
  const bAt = layout === "nt"
    ? (q: number, j: number) => b[j * k + q]
    : (q: number, j: number) => b[q * n + j];
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = c ? c[i * n + j] : 0;
      for (let q = 0; q < k; q++) s += aAt(i, q) * bAt(q, j);
      out[i * n + j] = scale === undefined ? s : Math.fround(Math.fround(s) * scale);
    }
  }
  return out;
}
