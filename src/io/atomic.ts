/**
 * Atomic file writing, the one writer of run records, reports, run lists and charts: the data goes
 * to a temporary file in the target's folder (`.<name>.<uuid>.tmp`, hidden and not `*.json`, so
 * readers of a records folder never see it), is flushed to disk (fsync), then renamed over the
 * target. Readers see the old file or the new one, never a part; on any error the temporary file
 * is removed and the target is left as it was.
 *
 * {@link writeAtomicNew} publishes a file only where none exists (first writer wins): the data is
 * hard-linked to the target, which fails where the target exists, so of processes that write the
 * same file at once — on one machine or on a shared filesystem such as NFS, where link is atomic —
 * exactly one succeeds and the others leave it as it is.
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
  await withTemp(path, data, (temp) => Deno.rename(temp, path));
}

/**
 * Writes `data` to `path` only if no file is there: temporary file, fsync, hard link to `path`
 * (atomic, and refused where `path` exists), then the temporary file is removed. Returns true if
 * this call created `path`, false if a file was there already (it is left untouched). Creates the
 * folder if it is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAtomicNew } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * assert.equal(await writeAtomicNew(`${dir}/a.json`, "first\n"), true);
 * assert.equal(await writeAtomicNew(`${dir}/a.json`, "second\n"), false);
 * assert.equal(await Deno.readTextFile(`${dir}/a.json`), "first\n");
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.json"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeAtomicNew(path: string, data: string | Uint8Array): Promise<boolean> {
  let created = true;
  await withTemp(path, data, async (temp) => {
    try {
      await Deno.link(temp, path);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      created = false;
    }
    await Deno.remove(temp);
  });
  return created;
}

/**
 * Writes `data` to a new temporary file beside `path` (creating the folder), flushes it, and
 * calls `publish` with its name; on any error the temporary file is removed.
 */
async function withTemp(
  path: string,
  data: string | Uint8Array,
  publish: (temp: string) => Promise<void>,
): Promise<void> {
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
    await publish(temp);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
