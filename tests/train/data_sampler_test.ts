/** Batch sampling: counter-based determinism, shifted targets, splits kept apart, eval walks. */

import { assertEquals, assertOk, assertStrictEquals, assertThrows } from "../assert.ts";
import { byteTokenizer } from "../../src/train/data/byte_tokenizer.ts";
import { Dataset, loadDataset } from "../../src/train/data/dataset.ts";
import type { DataError } from "../../src/train/data/errors.ts";
import { gpt2Tokenizer } from "../../src/train/data/gpt2_tokenizer.ts";
import {
  type Batch,
  sampleBatch,
  sequentialBatchCount,
  sequentialBatches,
} from "../../src/train/data/sampler.ts";

/** A dataset whose token at stream position i is i (train 0…8999, val 9000…9999). */
const positional = new Dataset({
  tokenizer: gpt2Tokenizer,
  parts: [{ source: "positions", tokens: Array.from({ length: 10_000 }, (_, i) => i) }],
  valFraction: 0.1,
});

/** Checks rows against the split they were cut from, and that targets are inputs shifted by one. */
function assertWindows(b: Batch, tokens: ArrayLike<number>) {
  assertStrictEquals(b.inputs.length, b.batch * b.seqLen);
  assertStrictEquals(b.targets.length, b.batch * b.seqLen);
  for (let r = 0; r < b.batch; r++) {
    const o = b.offsets[r];
    assertOk(o >= 0 && o + b.seqLen < tokens.length, `row ${r} offset ${o}`);
    for (let j = 0; j < b.seqLen; j++) {
      assertStrictEquals(b.inputs[r * b.seqLen + j], tokens[o + j]);
      assertStrictEquals(b.targets[r * b.seqLen + j], tokens[o + j + 1]);
      if (j + 1 < b.seqLen) {
        assertStrictEquals(b.targets[r * b.seqLen + j], b.inputs[r * b.seqLen + j + 1]);
      }
    }
  }
}

Deno.test("random batches: windows of the split, targets shifted by one", () => {
  for (let k = 0; k < 20; k++) {
    const b = positional.batch("train", k, { batch: 8, seqLen: 32, seed: 5 });
    assertWindows(b, positional.train);
    assertOk(b.targets.every((t) => t < 9000), "a train target reached into validation");
    const v = positional.batch("val", k, { batch: 8, seqLen: 32, seed: 5 });
    assertWindows(v, positional.val);
    assertOk(v.inputs.every((t) => t >= 9000), "a val input came from train");
  }
});

Deno.test("batch k is a pure function of (seed, split, k): resume gives the same batches", async () => {
  const opts = { batch: 4, seqLen: 64, seed: 1234 };
  const a = await loadDataset();
  const b = await loadDataset();
  const run = a.batches("train", opts);
  const first = Array.from({ length: 6 }, () => run.next().value);
  const resumed = b.batches("train", { ...opts, start: 3 });
  for (let k = 3; k < 6; k++) assertEquals(resumed.next().value, first[k]);
  assertEquals(b.batch("train", 5, opts), first[5]);
});

Deno.test("different seeds, steps and splits give different batches", () => {
  const opts = { batch: 16, seqLen: 8, seed: 0 };
  const offsets = (b: Batch) => b.offsets.join();
  const base = offsets(positional.batch("train", 0, opts));
  assertOk(offsets(positional.batch("train", 0, { ...opts, seed: 1 })) !== base);
  assertOk(offsets(positional.batch("train", 1, opts)) !== base);
  assertOk(offsets(positional.batch("val", 0, opts)) !== base);
});

/** From an independent Python implementation of the scheme documented in `sampleBatch`. */
const PINNED_OFFSETS = [175, 786, 545, 929];

Deno.test("the sampler's offsets are pinned (changing the RNG would break resumed runs)", () => {
  const tokens = Uint16Array.from({ length: 1000 }, (_, i) => i);
  assertEquals(sampleBatch(tokens, 0, { batch: 4, seqLen: 8, seed: 0 }).offsets, PINNED_OFFSETS);
});

Deno.test("offsets cover every start about equally", () => {
  // 11 tokens, seqLen 1: starts 0…9. 4000 draws, 400 expected per start.
  const tokens = Uint16Array.from({ length: 11 }, (_, i) => i);
  const counts = new Array(10).fill(0);
  for (let k = 0; k < 100; k++) {
    for (const o of sampleBatch(tokens, k, { batch: 40, seqLen: 1, seed: 9 }).offsets) counts[o]++;
  }
  for (const c of counts) assertOk(c > 320 && c < 480, `start counts ${counts}`);
  // A split of exactly seqLen + 1 tokens has one window.
  assertEquals(sampleBatch(tokens, 3, { batch: 2, seqLen: 10, seed: 0 }).offsets, [0, 0]);
});

Deno.test("eval batches walk validation front to back, full batches only", () => {
  // 1000 val tokens, seqLen 10: 99 windows, 12 full batches of 8.
  assertStrictEquals(sequentialBatchCount(positional.val.length, 8, 10), 12);
  const all = [...positional.evalBatches({ batch: 8, seqLen: 10 })];
  assertStrictEquals(all.length, 12);
  all.forEach((b, j) => {
    assertWindows(b, positional.val);
    assertEquals(b.offsets, Array.from({ length: 8 }, (_, r) => (j * 8 + r) * 10));
  });
  assertStrictEquals(all[0].inputs[0], 9000);
  const limited = [...positional.evalBatches({ batch: 8, seqLen: 10, limit: 3 })];
  assertEquals(limited, all.slice(0, 3));
  assertEquals([...positional.evalBatches({ batch: 8, seqLen: 10 })], all);
});

Deno.test("bad sampler arguments fail at the call", () => {
  const small = new Dataset({
    tokenizer: byteTokenizer,
    parts: [{ source: "s", tokens: [1, 2, 3, 4] }],
    valFraction: 0,
  });
  assertThrows(
    () => small.batch("train", 0, { batch: 1, seqLen: 4, seed: 0 }),
    (e: DataError) =>
      e.code === "DATA_TOO_SMALL" && /needs 5 tokens; the split has 4/.test(e.message),
  );
  assertThrows(
    () => small.batches("train", { batch: 1, seqLen: 4, seed: 0 }),
    (e: DataError) => e.code === "DATA_TOO_SMALL",
  );
  const opts = { batch: 1, seqLen: 2, seed: 0 };
  for (const seed of [-1, 1.5, 2 ** 32]) {
    assertThrows(() => small.batch("train", 0, { ...opts, seed }), /seed must be an integer/);
  }
  assertThrows(() => small.batch("train", -1, opts), /batch index k/);
  assertThrows(() => small.batch("train", 0, { ...opts, batch: 0 }), /batch must be a positive/);
  assertThrows(
    () => small.batch("train", 0, { ...opts, seqLen: 2.5 }),
    /seqLen must be a positive/,
  );
  assertThrows(() => small.batch("test" as "val", 0, opts), /split must be "train" or "val"/);
  assertThrows(
    () => sequentialBatches(Uint16Array.of(1, 2, 3), { batch: 1, seqLen: 2, limit: 0 }),
    /limit must be a positive integer/,
  );
  assertThrows(
    () => sequentialBatches(Uint16Array.of(1, 2), { batch: 1, seqLen: 2 }),
    (e: DataError) => e.code === "DATA_TOO_SMALL",
  );
});
