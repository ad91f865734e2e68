/**
 * Checks that catch the silent quantization bugs users of low-precision training tools have hit
 * (issue 13): weights meant for 16×16 tiles quantized in 1×16 blocks (torchao #4487), and
 * stochastic-rounding streams shared between tensors, steps or seeds.
 *
 * @module
 */

/**
 * Whether NVFP4 block scales (`[rows, cols / 16]`, row-major, as `Quantized.scales`) come in 16×16
 * tiles: within each group of 16 rows, every row has the same scale for a block column. True of
 * `nvfp4-2d`; false of 1×16 blocks on any data whose rows differ.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tileScalesShared } from "./checks.ts";
 * assert.equal(tileScalesShared(new Uint8Array(16).fill(0x38), 16, 16), true);
 * assert.equal(tileScalesShared(Uint8Array.from({ length: 16 }, (_, r) => 0x30 + r), 16, 16), false);
 * ```
 */
export function tileScalesShared(scales: Uint8Array, rows: number, cols: number): boolean {
  const nb = cols / 16;
  for (let r = 0; r < rows; r++) {
    const first = r - (r % 16);
    for (let b = 0; b < nb; b++) {
      if (scales[r * nb + b] !== scales[first * nb + b]) return false;
    }
  }
  return true;
}

/**
 * The correlation between the rounding errors `a − x` and `b − x` of two stochastic roundings of
 * the same values `x`, over the elements `include` admits (default all): about 0 (within ±5/√n)
 * for independent streams, since unbiased errors of independent draws are uncorrelated element by
 * element; 1 for the same stream. Leave out elements that can be clipped (a block's largest),
 * whose error is not random.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorCorrelation } from "./checks.ts";
 * const x = new Float32Array([0.3, 0.7, 1.2, 1.6]);
 * const a = new Float32Array([0.5, 0.5, 1.5, 1.5]);
 * const b = new Float32Array([0, 1, 1, 2]);
 * assert.equal(errorCorrelation(x, a, a).r, 1);
 * assert.ok(errorCorrelation(x, a, b).r < 0);
 * ```
 */
export function errorCorrelation(
  x: Float32Array,
  a: Float32Array,
  b: Float32Array,
  include: (i: number) => boolean = () => true,
): { r: number; n: number } {
  let [sab, saa, sbb, n] = [0, 0, 0, 0];
  for (let i = 0; i < x.length; i++) {
    if (!include(i)) continue;
    const ea = a[i] - x[i];
    const eb = b[i] - x[i];
    sab += ea * eb;
    saa += ea * ea;
    sbb += eb * eb;
    n++;
  }
  const denominator = Math.sqrt(saa * sbb);
  return { r: denominator > 0 ? sab / denominator : 0, n };
}
