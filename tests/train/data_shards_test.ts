/** nanoGPT .bin shards: reading, globs and lists, explicit validation shards, errors. */

import { createHash } from "node:crypto";
import { assertEquals, assertRejects, assertStrictEquals, assertThrows } from "../assert.ts";
import { loadDataset } from "../../src/train/data/dataset.ts";
import { DataError } from "../../src/train/data/errors.ts";
import { readShard, shardPaths } from "../../src/train/data/shards.ts";

/** Writes `ids` as little-endian uint16 (byte by byte, independent of the code under test). */
async function writeShard(path: string, ids: number[]): Promise<Uint8Array> {
  const bytes = new Uint8Array(ids.flatMap((t) => [t & 0xff, t >> 8]));
  await Deno.writeFile(path, bytes);
  return bytes;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a shard reads as its uint16 tokens; the dataset hash is the file's sha256", () =>
  withDir(async (dir) => {
    const ids = [50256, 464, 2068, 7586, 21831, 0, 1, 255, 256, 65535 % 50257];
    const bytes = await writeShard(`${dir}/train.bin`, ids);
    assertEquals([...await readShard(`${dir}/train.bin`)], ids);
    const ds = await loadDataset({ shards: "train.bin", tokenizer: "gpt2" }, { baseDir: dir });
    assertEquals([...ds.tokens], ids);
    assertStrictEquals(ds.sha256, createHash("sha256").update(bytes).digest("hex"));
    assertEquals(ds.info.sources, [`${dir}/train.bin`]);
  }));

Deno.test("globs expand sorted; lists keep their order; shards join with no separator", () =>
  withDir(async (dir) => {
    await writeShard(`${dir}/s_001.bin`, [3, 4]);
    await writeShard(`${dir}/s_000.bin`, [1, 2]);
    await writeShard(`${dir}/s_010.bin`, [5]);
    await writeShard(`${dir}/other.bin`, [9]);
    assertEquals(
      shardPaths("s_*.bin", dir),
      ["s_000", "s_001", "s_010"].map((n) => `${dir}/${n}.bin`),
    );
    const globbed = await loadDataset({ shards: "s_*.bin", valFraction: 0 }, { baseDir: dir });
    assertEquals([...globbed.tokens], [1, 2, 3, 4, 5]);
    const listed = await loadDataset(
      { shards: [`${dir}/other.bin`, "s_00?.bin"], valFraction: 0 },
      { baseDir: dir },
    );
    assertEquals([...listed.tokens], [9, 1, 2, 3, 4]);
  }));

Deno.test("valShards form the validation split whole", () =>
  withDir(async (dir) => {
    await writeShard(`${dir}/train.bin`, [1, 2, 3, 4, 5, 6]);
    await writeShard(`${dir}/val.bin`, [7, 8, 9]);
    const ds = await loadDataset({ shards: "train.bin", valShards: "val.bin" }, { baseDir: dir });
    assertEquals([...ds.train], [1, 2, 3, 4, 5, 6]);
    assertEquals([...ds.val], [7, 8, 9]);
    assertStrictEquals(ds.valFraction, 0);
    assertEquals(ds.parts.map((p) => p.role), ["train", "val"]);
    await assertRejects(
      loadDataset({ shards: "train.bin", valShards: "val.bin", valFraction: 0.1 }, {
        baseDir: dir,
      }),
      /valFraction and data.valShards exclude each other/,
    );
  }));

Deno.test("shard errors name the path", () =>
  withDir(async (dir) => {
    await assertRejects(
      loadDataset({ shards: "missing.bin" }, { baseDir: dir }),
      (e: DataError) => e.code === "DATA_NOT_FOUND" && e.message.includes(`${dir}/missing.bin`),
    );
    assertThrows(
      () => shardPaths("*.bin", dir),
      (e: DataError) => e.code === "DATA_NOT_FOUND" && e.message.includes('"*.bin"'),
    );
    await Deno.writeFile(`${dir}/odd.bin`, Uint8Array.of(1, 0, 2));
    await assertRejects(
      readShard(`${dir}/odd.bin`),
      (e: DataError) =>
        e.code === "DATA_INVALID" && e.message.includes(`${dir}/odd.bin has 3 bytes`),
    );
    await Deno.writeFile(`${dir}/empty.bin`, new Uint8Array(0));
    await assertRejects(readShard(`${dir}/empty.bin`), DataError);
    await writeShard(`${dir}/gpt2.bin`, [10, 300]);
    await assertRejects(
      loadDataset({ shards: "gpt2.bin", tokenizer: "byte" }, { baseDir: dir }),
      (e: DataError) =>
        e.code === "DATA_INVALID" && e.message.includes(`${dir}/gpt2.bin: token 1 is 300`),
    );
    await assertRejects(loadDataset({ shards: [] }, { baseDir: dir }), TypeError);
  }));
