/**
 * CPU reference and contract of the packed NVFP4 GEMM C[M,N] = Σ_k A[m,k]·B[n,k] (both operands
 * row-major with K contiguous, as the quantizer's packed `nvfp4` or `nvfp4-2d` output lays them
 * out): the dimension check and the CPU replica of the kernel's arithmetic, which
 * `PackedNvfp4GemmKernel` (kernels/gemm_nvfp4/mod.ts) matches bit for bit.
 *
 * Arithmetic (NUMERICS.md §2.1 item 5): per 16-block the exact integer dot product d of the
 * element values times g (2 for E2M1, 1 for INT4, 4 for E1M2: {@link integerFactor}), the exact
 * block term d·(sa/g)·(sb/g), terms summed in f32 in block order from +0, then
 * C = fp32(fp32(acc · S_dec,a) · S_dec,b).
 *
 * @module
 */

import { decodeElement, ELEMENTS } from "../../src/formats/elements.ts";
import type { Nvfp4Element } from "../../src/formats/spec.ts";
import type { GemmDims } from "../gemm/reference.ts";

/**
 * Throws a RangeError naming the first of m, n, k that is not a positive multiple of 16.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkNvfp4GemmDims } from "./reference.ts";
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

/**
 * The power of two `g` that makes every value of an element grid an integer: 1/(its smallest
 * positive value): 2 for E2M1 (0.5), 1 for INT4, 4 for E1M2 (0.25).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integerFactor } from "./reference.ts";
 * assert.deepEqual(["e2m1", "int4", "e1m2"].map((e) => integerFactor(e as "e2m1")), [2, 1, 4]);
 * ```
 */
export function integerFactor(element: Nvfp4Element): number {
  return 1 / decodeElement(ELEMENTS[element], 1);
}

/**
 * One packed NVFP4 operand on the host: `codes` two per byte (element 2i in the low nibble),
 * `scales` one E4M3 byte per 16-block, row-major; `sDec` the FP32 decode scale.
 *
 * @example
 * ```ts
 * import type { PackedNvfp4Host } from "./reference.ts";
 * const zero: PackedNvfp4Host = { codes: new Uint8Array(8), scales: new Uint8Array(1), sDec: 1 };
 * ```
 */
export interface PackedNvfp4Host {
  /** 4-bit codes, two per byte (element 2i in the low nibble), row-major. */
  readonly codes: Uint8Array;
  /** E4M3 scale bytes, one per 16-block, row-major `[rows, k/16]`. */
  readonly scales: Uint8Array;
  /** The FP32 decode scale S_dec. */
  readonly sDec: number;
}

/**
 * C[i, j] as the packed NVFP4 GEMM kernel computes it, bit for bit (barring subnormal results,
 * which a GPU may flush): the exact block terms d·(sa/g)·(sb/g) summed in f32 in block order from
 * +0, then fp32(fp32(acc · S_dec,a) · S_dec,b); both operands' codes are of `element` (default
 * E2M1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packedNvfp4GemmReferenceAt } from "./reference.ts";
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
  element: Nvfp4Element = "e2m1",
): number {
  const blocks = k / 16;
  const g = integerFactor(element);
  const code = (x: Uint8Array, e: number) => (x[e >> 1] >> ((e & 1) * 4)) & 0xf;
  const int = (x: Uint8Array, e: number) => g * decodeElement(ELEMENTS[element], code(x, e));
  const e4m3 = (x: Uint8Array, blk: number) => decodeElement(ELEMENTS.e4m3, x[blk]);
  let acc = 0;
  for (let q = 0; q < blocks; q++) {
    let d = 0;
    for (let e = 0; e < 16; e++) {
      d += int(a.codes, i * k + q * 16 + e) * int(b.codes, j * k + q * 16 + e);
    }
    const term = d * (e4m3(a.scales, i * blocks + q) / g) * (e4m3(b.scales, j * blocks + q) / g);
    acc = Math.fround(acc + term);
  }
  return Math.fround(Math.fround(acc * a.sDec) * b.sDec);
}
