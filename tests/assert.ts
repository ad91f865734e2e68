/**
 * Assertions for tests: Node's strict assert (Deno's @std/assert is on JSR, unreachable here),
 * plus a bitwise comparison of FP32 arrays that names the first differing element and the relative
 * L2 error that tolerance checks use.
 *
 * @module
 */

import assert from "node:assert/strict";

export {
  deepStrictEqual as assertEquals,
  ok as assertOk,
  rejects as assertRejects,
  strictEqual as assertStrictEquals,
  throws as assertThrows,
} from "node:assert/strict";

/** Asserts two typed arrays are identical bit for bit, reporting the first mismatch. */
export function assertBitsEqual(
  actual: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number },
  expected: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number },
  what = "values",
): void {
  const a = new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength);
  const e = new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength);
  assert.equal(
    actual.length,
    expected.length,
    `${what}: length ${actual.length} ≠ ${expected.length}`,
  );
  const width = a.length / Math.max(actual.length, 1);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      const k = Math.floor(i / width);
      assert.fail(
        `${what}[${k}] differs: got ${actual[k]} expected ${expected[k]} (${
          actual.length - countEqual(actual, expected)
        } of ${actual.length} differ)`,
      );
    }
  }
}

function countEqual(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (Object.is(a[i], b[i])) n++;
  return n;
}

/**
 * |got − want| ≤ rtol·(|want| + max|want|) elementwise: relative error with a floor at the
 * largest magnitude, for outputs whose small entries come from cancellation.
 */
export function assertCloseMax(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  what: string,
  rtol = 1e-5,
): void {
  assert.ok(got.length === want.length, `${what}: length ${got.length} ≠ ${want.length}`);
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= rtol * (Math.abs(want[i]) + max))) {
      assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]} (max |want| ${max})`);
    }
  }
}

/** |actual − expected| ≤ rtol·(|expected| + rms(expected)) elementwise (rms covers values near 0). */
export function assertCloseRms(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  what = "values",
): void {
  assert.equal(actual.length, expected.length);
  let sq = 0;
  for (let i = 0; i < expected.length; i++) sq += expected[i] ** 2;
  const rms = Math.sqrt(sq / Math.max(expected.length, 1));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= rtol * (Math.abs(expected[i]) + rms))) {
      assert.fail(
        `${what}[${i}]: got ${actual[i]} expected ${expected[i]} (error ${err}, rms ${rms})`,
      );
    }
  }
}

/** ‖got − want‖ / ‖want‖ (Euclidean). */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}
