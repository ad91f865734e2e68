/** Datasets: mixing, the stream hash, the validation split, spec errors. */

import { createHash } from "node:crypto";
import {
  assertEquals,
  assertOk,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../assert.ts";
import { byteTokenizer } from "../../src/train/data/byte_tokenizer.ts";
import { corpusText } from "../../src/train/data/corpora.ts";
import { Dataset, loadDataset } from "../../src/train/data/dataset.ts";
import { DataError } from "../../src/train/data/errors.ts";
import { gpt2Tokenizer } from "../../src/train/data/gpt2_tokenizer.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Token ids `from, from + 1, …, to − 1`: every position carries its own id. */
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Pinned: run records rely on this hash staying put for the same corpus and tokenizer. */
const MOBY_DICK_BYTE_SHA256 = "172be1aecb6cf8f3eb8bc14114fde5c8ff280acd74ecc04015fe391b09f9b9b2";

Deno.test("default dataset: moby-dick, byte tokens, 5% validation", async () => {
  const ds = await loadDataset();
  const text = await corpusText("moby-dick");
  assertEquals(ds.tokens, Uint16Array.from(new TextEncoder().encode(text)));
  assertStrictEquals(ds.tokenizer, byteTokenizer);
  assertStrictEquals(ds.val.length, Math.round(ds.tokens.length * 0.05));
  assertStrictEquals(ds.train.length + ds.val.length, ds.tokens.length);
  assertStrictEquals(ds.sha256, MOBY_DICK_BYTE_SHA256);
});

Deno.test("sha256 is that of the stream as little-endian uint16", () => {
  const ds = new Dataset({
    tokenizer: byteTokenizer,
    parts: [{ source: "x", tokens: [104, 105, 255] }],
  });
  const bytes = Uint8Array.of(104, 0, 105, 0, 255, 0);
  assertStrictEquals(ds.sha256, createHash("sha256").update(bytes).digest("hex"));
});

Deno.test("mixing: the corpora in order joined by a blank line, deterministic", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.txt`, "alpha alpha");
    await Deno.writeTextFile(`${dir}/b.txt`, "beta");
    const ab = await loadDataset({ corpus: ["a.txt", "b.txt"] }, { baseDir: dir });
    assertStrictEquals(byteTokenizer.decode(ab.tokens), "alpha alpha\n\nbeta");
    assertEquals(ab.info.sources, [`${dir}/a.txt`, `${dir}/b.txt`]);
    const again = await loadDataset({ corpus: ["a.txt", "b.txt"] }, { baseDir: dir });
    assertStrictEquals(again.sha256, ab.sha256);
    const ba = await loadDataset({ corpus: ["b.txt", "a.txt"] }, { baseDir: dir });
    assertOk(ba.sha256 !== ab.sha256);
  }));

Deno.test("mixing built-in corpora with a file", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/tail.txt`, "THE END");
    const spec = { corpus: ["brown", "moby-dick", "tail.txt"] };
    const mix = await loadDataset(spec, { baseDir: dir });
    const expected = [await corpusText("brown"), await corpusText("moby-dick"), "THE END"].join(
      "\n\n",
    );
    assertStrictEquals(mix.tokens.length, new TextEncoder().encode(expected).length);
    assertStrictEquals(mix.sha256, (await loadDataset(spec, { baseDir: dir })).sha256);
    assertEquals(mix.parts.map((p) => p.source), ["brown", "moby-dick", `${dir}/tail.txt`]);
  }));

Deno.test("gpt2 tokenizer over a built-in corpus", async () => {
  const ds = await loadDataset({ corpus: "moby-dick", tokenizer: "gpt2" });
  assertOk(ds.tokens instanceof Uint16Array);
  assertOk(ds.tokens.length > 250_000 && ds.tokens.length < 350_000, `${ds.tokens.length} tokens`);
  assertOk(gpt2Tokenizer.decode(ds.tokens.subarray(0, 20)).startsWith("CONTENTS"));
  assertStrictEquals(ds.info.vocabSize, 50257);
});

Deno.test("validation: the tail of each part, disjoint from train", () => {
  const sep = [50256];
  const ds = new Dataset({
    tokenizer: gpt2Tokenizer,
    parts: [{ source: "p", tokens: range(0, 1000) }, { source: "q", tokens: range(1000, 3000) }],
    separator: sep,
    valFraction: 0.1,
  });
  assertEquals([...ds.tokens], [...range(0, 1000), ...sep, ...range(1000, 3000)]);
  assertEquals([...ds.train], [...range(0, 900), ...sep, ...range(1000, 2800)]);
  assertEquals([...ds.val], [...range(900, 1000), ...sep, ...range(2800, 3000)]);
  assertEquals(ds.parts.map((p) => p.valTokens), [100, 200]);
  // Every stream position (separators aside) is in exactly one split.
  const train = new Set(ds.train);
  for (const t of ds.val) assertOk(t === sep[0] || !train.has(t), `token ${t} in both splits`);
  assertStrictEquals(ds.train.length + ds.val.length - 2, ds.tokens.length - 1);
});

Deno.test("validation of one part is a view of the stream's end; fraction 0 leaves it empty", () => {
  const one = new Dataset({
    tokenizer: byteTokenizer,
    parts: [{ source: "p", tokens: range(0, 200) }],
    valFraction: 0.25,
  });
  assertStrictEquals(one.val.buffer, one.tokens.buffer);
  assertEquals([...one.val], range(150, 200));
  const none = new Dataset({
    tokenizer: byteTokenizer,
    parts: [{ source: "p", tokens: range(0, 200) }],
    valFraction: 0,
  });
  assertStrictEquals(none.val.length, 0);
  assertThrows(
    () => none.evalBatches({ batch: 1, seqLen: 4 }),
    (e: DataError) => e.code === "DATA_TOO_SMALL",
  );
});

Deno.test("bad specs fail with the field named, before any loading", async () => {
  await assertRejects(loadDataset({ val_fraction: 0.1 } as object), /unknown key "val_fraction"/);
  await assertRejects(
    loadDataset({ corpus: "sotu", shards: "x.bin" }),
    /data.corpus and data.shards/,
  );
  await assertRejects(loadDataset({ valShards: "v.bin" }), /data.valShards needs data.shards/);
  for (const v of [1, -0.1, Number.NaN, "0.1" as unknown as number]) {
    await assertRejects(loadDataset({ valFraction: v }), RangeError);
  }
  await assertRejects(
    loadDataset({ tokenizer: "gpt-2" }),
    /data.tokenizer must be one of byte, gpt2/,
  );
  await assertRejects(
    loadDataset({ corpus: [] }),
    /data.corpus must be a string or a non-empty list/,
  );
  await assertRejects(
    loadDataset({ corpus: "moby_dick" }),
    (e: DataError) => e.code === "DATA_NOT_FOUND",
  );
  await assertRejects(loadDataset(null as unknown as object), /data must be an object/);
  assertThrows(
    () => new Dataset({ tokenizer: byteTokenizer, parts: [{ source: "s", tokens: [1, 256] }] }),
    /s: token 1 is 256, not an id of the byte tokenizer/,
  );
  assertThrows(() => new Dataset({ tokenizer: byteTokenizer, parts: [] }), RangeError);
});
