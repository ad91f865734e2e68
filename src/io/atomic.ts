/**
 * Atomic file writing, the one writer of run records, reports, run lists and charts: the data goes
 * to a temporary file in the target's folder (`.<name>.<uuid>.tmp`, hidden and not `*.json`, so
 * readers of a records folder never see it), is flushed to disk (fsync), then renamed over the
 * target. Readers see the old file or the new one, never a part; on any error the temporary file
 * is removed and the target is left as it was.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

/**
 * Writes `data` (text as UTF-8, or bytes) to `path` atomically: temporary file in the same folder,
 * fsync, rename. Creates the folder if it is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeAtomic(`${dir}/sub/a.json`, '{"a": 1}\n');
 * await writeAtomic(`${dir}/sub/a.json`, new TextEncoder().encode('{"a": 2}\n'));
 * assert.equal(await Deno.readTextFile(`${dir}/sub/a.json`), '{"a": 2}\n');
 * assert.deepEqual([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["a.json"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
