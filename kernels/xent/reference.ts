/**
 * CPU reference of softmax cross-entropy over logits `[rows, V]` with integer targets, in float64:
 * per-row loss `log Σⱼ exp(xⱼ − m) − (x_t − m)` with `m = maxⱼ xⱼ` (the max-subtracted
 * log-sum-exp), its gradient `(softmax(x) − onehot(t)) · scale`, top-1 correctness (argmax with
 * ties to the lowest index) and the mean loss and accuracy over unmasked rows. A target of
 * {@link IGNORE_TARGET} masks its row out (PyTorch's `ignore_index`): no loss, zero gradient,
 * excluded from the means.
 *
 * @module
 */

/**
 * The target value that masks a row out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IGNORE_TARGET } from "./reference.ts";
 * assert.equal(IGNORE_TARGET, 2 ** 32 - 1);
 * ```
 */
export const IGNORE_TARGET = 0xffffffff;

/**
 * Byte size of the GPU op's metrics buffer: four f32, `[mean loss, accuracy, unmasked rows,
 * correct rows]` (means over unmasked rows; 0 when every row is masked; counts exact below 2²⁴).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { XENT_METRICS_BYTES } from "./reference.ts";
 * assert.equal(XENT_METRICS_BYTES, 16);
 * ```
 */
export const XENT_METRICS_BYTES = 16;

/**
 * Gradient scale: a number, or `"mean"` for `1 / (unmasked rows)` so that the gradient is that of
 * the mean loss (PyTorch `cross_entropy(..., ignore_index, reduction="mean")`).
 *
 * @example
 * ```ts
 * import type { XentScale } from "./reference.ts";
 * const scales: XentScale[] = [1 / 64, "mean"];
 * ```
 */
export type XentScale = number | "mean";

/**
 * What {@link xentReference} returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { xentReference, type XentResult } from "./reference.ts";
 * const r: XentResult = xentReference([0, 0], [1], 1, 2);
 * assert.equal(r.validRows, 1);
 * ```
 */
export interface XentResult {
  /** Per-row loss, 0 for masked rows. */
  readonly loss: Float64Array;
  /** Per-row 1 when argmax == target, else 0 (0 for masked rows). */
  readonly correct: Uint8Array;
  /** `(softmax − onehot) · scale`, `[rows, V]`; zero rows where masked. */
  readonly dlogits: Float64Array;
  /** Mean loss over unmasked rows (0 if none). */
  readonly meanLoss: number;
  /** Fraction of unmasked rows predicted correctly (0 if none). */
  readonly accuracy: number;
  /** Unmasked rows. */
  readonly validRows: number;
  /** Unmasked rows predicted correctly. */
  readonly correctRows: number;
  /** The gradient scale applied. */
  readonly scale: number;
}

/**
 * Softmax cross-entropy of `logits` (`[rows, vocab]`, row-major) against `targets` (`[rows]`,
 * each < vocab or {@link IGNORE_TARGET}); `scale` defaults to `1 / rows`.
 *
 * @throws {RangeError} on bad dimensions, short arrays or a target ≥ vocab.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IGNORE_TARGET, xentReference } from "./reference.ts";
 * const r = xentReference([0, Math.log(3), 5, 5], [1, IGNORE_TARGET], 2, 2);
 * assert.ok(Math.abs(r.loss[0] - Math.log(4 / 3)) < 1e-15);
 * assert.deepEqual([...r.correct], [1, 0]);
 * assert.deepEqual([...r.dlogits].map((g) => Math.round(g * 1e6) / 1e6), [0.125, -0.125, 0, 0]);
 * assert.equal(r.meanLoss, r.loss[0]);
 * ```
 */
export function xentReference(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  rows: number,
  vocab: number,
  scale: XentScale = 1 / rows,
): XentResult {
  checkDims(rows, vocab);
  if (logits.length < rows * vocab || targets.length < rows) {
    throw new RangeError(`xentReference: arrays too short for ${rows}×${vocab}`);
  }
  let validRows = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t === IGNORE_TARGET) continue;
    if (!Number.isInteger(t) || t < 0 || t >= vocab) {
      throw new RangeError(`targets[${r}] must be < vocab = ${vocab} or IGNORE_TARGET, got ${t}`);
    }
    validRows++;
  }
  const k = scale === "mean" ? 1 / validRows : scale;
  const loss = new Float64Array(rows);
  const correct = new Uint8Array(rows);
  const dlogits = new Float64Array(rows * vocab);
  let sum = 0;
  let correctRows = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t === IGNORE_TARGET) continue;
    const x = (j: number) => logits[r * vocab + j];
    let argmax = 0;
    for (let j = 1; j < vocab; j++) if (x(j) > x(argmax)) argmax = j;
    const m = x(argmax);
    let s = 0;
    for (let j = 0; j < vocab; j++) s += Math.exp(x(j) - m);
    loss[r] = Math.log(s) - (x(t) - m);
    correct[r] = argmax === t ? 1 : 0;
    for (let j = 0; j < vocab; j++) {
      dlogits[r * vocab + j] = (Math.exp(x(j) - m) / s - (j === t ? 1 : 0)) * k;
    }
    sum += loss[r];
    correctRows += correct[r];
  }
  return {
    loss,
    correct,
    dlogits,
    meanLoss: validRows > 0 ? sum / validRows : 0,
    accuracy: validRows > 0 ? correctRows / validRows : 0,
    validRows,
    correctRows,
    scale: k,
  };
}

function checkDims(rows: number, vocab: number): void {
  if (!Number.isInteger(rows) || rows < 1) {
    throw new RangeError(`rows must be an integer ≥ 1, got ${rows}`);
  }
  if (!Number.isInteger(vocab) || vocab < 1) {
    throw new RangeError(`vocab must be an integer ≥ 1, got ${vocab}`);
  }
}
