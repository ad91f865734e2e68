/**
 * Inputs shared by the GEMM benchmarks: their list options and their pseudo-random operands.
 *
 * @module
 */

/**
 * Parses a comma-separated list of positive integers given to option `--<what>`.
 *
 * @throws {RangeError} naming the option when an entry is not a positive integer
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { positiveList } from "./inputs.ts";
 * assert.deepEqual(positiveList("1024,4096", "sizes"), [1024, 4096]);
 * assert.throws(() => positiveList("0", "sizes"), /--sizes must be/);
 * ```
 */
export function positiveList(text: string, what: string): number[] {
  const values = text.split(",").map(Number);
  if (values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new RangeError(`--${what} must be a comma-separated list of positive integers`);
  }
  return values;
}

/**
 * Fills `out` with a fixed xorshift32 sequence of values in [−1, 1) (rounded to `out`'s element
 * type), the same for every benchmark run; returns `out`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uniformValues } from "./inputs.ts";
 * const v = uniformValues(new Float32Array(1000));
 * assert.ok(v.every((x) => x >= -1 && x < 1));
 * assert.deepEqual(uniformValues(new Float32Array(4)), v.slice(0, 4));
 * ```
 */
export function uniformValues<T extends Float32Array | Float16Array>(out: T): T {
  let s = 0x9e3779b9;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return out;
}
