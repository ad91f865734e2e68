import { assertEquals, assertRejects, assertStrictEquals } from "../assert.ts";
import { list, withTempDir } from "../temp_dir.ts";
import { writeAtomic } from "../../src/io/atomic.ts";

Deno.test("writeAtomic writes text and bytes, replaces the old file and creates its folder", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a/b/report.md`;
    await writeAtomic(path, "first ✓\n");
    assertStrictEquals(await Deno.readTextFile(path), "first ✓\n");
    const bytes = new Uint8Array(3 << 16).map((_, i) => i % 251);
    await writeAtomic(path, bytes);
    assertEquals(await Deno.readFile(path), bytes);
    await writeAtomic(path, "");
    assertStrictEquals(await Deno.readTextFile(path), "");
    assertEquals(await list(`${dir}/a/b`), ["report.md"]);
  });
});

Deno.test("writeAtomic flushes the temporary file to disk before renaming it over the target", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/x.json`;
    const events: string[] = [];
    const { sync } = Deno.FsFile.prototype;
    const rename = Deno.rename;
    Deno.FsFile.prototype.sync = function () {
      events.push("sync");
      return sync.call(this);
    };
    Deno.rename = (from, to) => {
      events.push(`rename ${String(to)}`);
      return rename(from, to);
    };
    try {
      await writeAtomic(path, "{}\n");
    } finally {
      Deno.FsFile.prototype.sync = sync;
      Deno.rename = rename;
    }
    assertEquals(events, ["sync", `rename ${path}`]);
  });
});

Deno.test("writeAtomic that fails leaves the target as it was and no temporary file", async () => {
  await withTempDir(async (dir) => {
    // A folder cannot be replaced by a file: the rename fails after the data was written.
    await Deno.mkdir(`${dir}/target.json`);
    await Deno.writeTextFile(`${dir}/target.json/keep`, "kept");
    await assertRejects(writeAtomic(`${dir}/target.json`, "new"));
    assertEquals(await list(dir), ["target.json"]);
    assertStrictEquals(await Deno.readTextFile(`${dir}/target.json/keep`), "kept");
  });
});
