import { assertBitsEqual, assertEquals, assertOk, assertThrows } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { EmbeddingKernel } from "../../kernels/embedding/mod.ts";
import {
  EMBEDDING_CHUNK,
  embeddingBackward,
  embeddingBackwardLayout,
  embeddingForward,
  embeddingGradIndex,
  groupTokens,
} from "../../kernels/embedding/reference.ts";
import { normal, uniform } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { numericGrad } from "../gradcheck.ts";

const C = EMBEDDING_CHUNK;

function randn(n: number, seed: number): Float32Array {
  const g = normal(seed);
  return Float32Array.from({ length: n }, () => g());
}

/** A batch with one very frequent id, a few ids at the chunk boundaries, and a uniform rest. */
function skewedTokens(t: number, vocab: number, seed: number): Uint32Array {
  const u = uniform(seed);
  const tokens = Uint32Array.from({ length: t }, () => Math.floor(u() * vocab));
  for (let i = 0; i < t; i += 3) tokens[i] = vocab > 1 ? 1 : 0; // about T/3 positions: many chunks
  const place = (id: number, count: number, from: number) => {
    for (let k = 0; k < count; k++) tokens[(from + 5 * k + 1) % t] = id;
  };
  if (t > 6 * C) {
    place(vocab - 1, C, 2); // exactly one full chunk
    place(vocab - 2, C + 1, 4); // two chunks, the second of one position
  }
  return tokens;
}

interface Run {
  out: Float32Array;
  dTable: Float32Array;
}

async function run(
  d: number,
  vocab: number,
  tokens: Uint32Array,
  table: Float32Array,
  dOut: Float32Array,
  init: Float32Array,
  accumulate: boolean,
  gpuTokens = tokens,
): Promise<Run> {
  const gpu = await getGpu();
  const k = await EmbeddingKernel.create(gpu, { d });
  const dims = { tokens: tokens.length, vocab };
  const io = {
    tokens: upload(gpu, gpuTokens),
    table: upload(gpu, table),
    out: zeros(gpu, tokens.length * d),
    index: upload(gpu, embeddingGradIndex(tokens, vocab)),
    dOut: upload(gpu, dOut),
    dTable: upload(gpu, init),
    scratch: zeros(gpu, k.scratchElements(dims)),
  };
  const ops = [k.forward(io, dims), k.backward(io, { ...dims, accumulate })];
  runOps(gpu, ops);
  const result = {
    out: await download(gpu, io.out, tokens.length * d),
    dTable: await download(gpu, io.dTable, vocab * d),
  };
  ops.forEach((o) => o.destroy());
  Object.values(io).forEach((b) => b.destroy());
  return result;
}

// [T, vocab, d]: T ≤ 32 (no merge pass), vocab ≫ T, d scalar and vec4, rows over 256 vec4.
const CASES: [number, number, number][] = [
  [1, 1, 1],
  [20, 7, 5],
  [300, 40, 8],
  [500, 50304, 12],
  [400, 30, 1028],
];

Deno.test("EmbeddingKernel forward and backward equal the CPU reference bit for bit", async (t) => {
  for (const [T, vocab, d] of CASES) {
    for (const accumulate of [false, true]) {
      await t.step(`T ${T}, vocab ${vocab}, d ${d}, accumulate ${accumulate}`, async () => {
        const tokens = skewedTokens(T, vocab, T + d);
        const table = randn(vocab * d, 1);
        const dOut = randn(T * d, 2);
        const init = randn(vocab * d, 3);
        const got = await run(d, vocab, tokens, table, dOut, init, accumulate);
        assertBitsEqual(
          got.out,
          Float32Array.from(embeddingForward(table, tokens, vocab, d)),
          "out",
        );
        const want = embeddingBackward(dOut, tokens, vocab, d, { init, accumulate });
        assertBitsEqual(got.dTable, Float32Array.from(want), "dTable");
      });
    }
  }
});

Deno.test("EmbeddingKernel forward writes zeros for ids outside the vocabulary", async () => {
  const [vocab, d] = [4, 8];
  const tokens = new Uint32Array([3, 0]);
  const table = randn(vocab * d, 1);
  const got = await run(
    d,
    vocab,
    tokens,
    table,
    randn(2 * d, 2),
    randn(vocab * d, 3),
    false,
    new Uint32Array([3, 9]),
  );
  assertBitsEqual(got.out.subarray(0, d), table.subarray(3 * d, 4 * d), "valid row");
  assertBitsEqual(got.out.subarray(d), new Float32Array(d), "invalid row");
});

Deno.test("EmbeddingKernel is deterministic", async () => {
  const [T, vocab, d] = [700, 20, 16];
  const tokens = skewedTokens(T, vocab, 5);
  const args = [randn(vocab * d, 1), randn(T * d, 2), new Float32Array(vocab * d)] as const;
  const a = await run(d, vocab, tokens, ...args, true);
  const b = await run(d, vocab, tokens, ...args, true);
  assertBitsEqual(a.out, b.out, "out");
  assertBitsEqual(a.dTable, b.dTable, "dTable");
});

Deno.test("embeddingBackward (float64) equals central finite differences of the forward", () => {
  const [T, vocab, d] = [50, 6, 3];
  const tokens = skewedTokens(T, vocab, 1);
  const table = Float64Array.from(randn(vocab * d, 1));
  const dOut = Float64Array.from(randn(T * d, 2));
  const loss = () =>
    embeddingForward(table, tokens, vocab, d).reduce((s, v, i) => s + v * dOut[i], 0);
  const grad = embeddingBackward(dOut, tokens, vocab, d, { f32: false });
  // The loss is linear in the table, so a large step is exact.
  numericGrad(table, loss, 1e-3).forEach((fd, i) => {
    assertOk(
      Math.abs(fd - grad[i]) <= 1e-9 * (1 + Math.abs(fd)),
      `dTable[${i}]: ${grad[i]} vs ${fd}`,
    );
  });
});

Deno.test("groupTokens is a stable grouping and rejects ids outside the vocabulary", () => {
  const tokens = skewedTokens(1000, 17, 3);
  const { order, ids, offsets } = groupTokens(tokens, 17);
  assertEquals([...order].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  for (let j = 0; j < ids.length; j++) {
    if (j > 0) assertOk(ids[j] > ids[j - 1]);
    for (let k = offsets[j]; k < offsets[j + 1]; k++) {
      assertEquals(tokens[order[k]], ids[j]);
      if (k > offsets[j]) assertOk(order[k] > order[k - 1]);
    }
  }
  assertThrows(() => groupTokens([0, 3], 3), RangeError);
  assertThrows(() => groupTokens([1.5], 3), RangeError);
});

Deno.test("embeddingGradIndex stays within its layout on extreme batches", () => {
  const t = 1000;
  const batches: [string, Uint32Array, number][] = [
    ["one id", new Uint32Array(t).fill(3), 10],
    ["all distinct", Uint32Array.from({ length: t }, (_, i) => i), t],
    [
      "ids of C + 1 positions",
      Uint32Array.from({ length: t }, (_, i) => Math.floor(i / (C + 1))),
      40,
    ],
    [
      "ids of 2C + 1 positions",
      Uint32Array.from({ length: t }, (_, i) => Math.floor(i / (2 * C + 1))),
      40,
    ],
    ["skewed", skewedTokens(t, 64, 9), 64],
  ];
  for (const [name, tokens, vocab] of batches) {
    const l = embeddingBackwardLayout(t, vocab);
    const w = embeddingGradIndex(tokens, vocab);
    const [chunks, merges] = [w[0], w[1]];
    assertOk(chunks <= l.maxChunks && merges <= l.maxMerges, `${name}: ${chunks}, ${merges}`);
    let scratchRows = 0;
    for (let m = 0; m < merges; m++) {
      const [, first, rows] = w.subarray(l.mergeOffset + 4 * m, l.mergeOffset + 4 * m + 3);
      assertEquals(first, scratchRows, `${name}: merge ${m} starts after the previous`);
      scratchRows += rows;
    }
    assertOk(scratchRows <= l.maxScratchRows, `${name}: ${scratchRows} scratch rows`);
  }
  // The bounds are reached: all distinct fills the chunks, C + 1 positions per id the merges.
  assertEquals(embeddingGradIndex(batches[1][1], t)[0], embeddingBackwardLayout(t, t).maxChunks);
  assertEquals(embeddingGradIndex(batches[2][1], 40)[1], embeddingBackwardLayout(t, 40).maxMerges);
  assertThrows(() => embeddingBackwardLayout(0, 5), RangeError);
});
