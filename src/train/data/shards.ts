/**
 * Pre-tokenized shards in nanoGPT's layout: a `.bin` file is a flat array of little-endian
 * uint16 token ids with no header. Shards are named by path or by glob pattern (expanded with
 * `node:fs` `globSync`, matches sorted by code point so the order never depends on the file
 * system).
 *
 * @module
 */

import { globSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { DataError } from "./errors.ts";
import { readBytes } from "./text_file.ts";
import { requireLittleEndian } from "./tokens.ts";

const GLOB_CHARS = /[*?[\]{}]/;

/**
 * Absolute paths of the shards named by `entries`, in order: a plain path is resolved against
 * `baseDir` (default: the working directory); a glob pattern contributes its matches, sorted.
 *
 * @throws {DataError} `DATA_NOT_FOUND` naming the pattern when a glob matches nothing.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shardPaths } from "./shards.ts";
 * const dir = await Deno.makeTempDir();
 * for (const n of ["b", "a"]) await Deno.writeFile(`${dir}/${n}.bin`, new Uint8Array(2));
 * assert.deepEqual(shardPaths(["*.bin", "x.bin"], dir), [`${dir}/a.bin`, `${dir}/b.bin`, `${dir}/x.bin`]);
 * assert.throws(() => shardPaths("*.u16", dir), /matches no file/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function shardPaths(
  entries: string | readonly string[],
  baseDir: string = Deno.cwd(),
): string[] {
  const list = typeof entries === "string" ? [entries] : entries;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(
      `data.shards must be a path, a glob or a non-empty list of them, got ${
        JSON.stringify(entries)
      }`,
    );
  }
  return list.flatMap((entry) => {
    if (typeof entry !== "string" || entry === "") {
      throw new TypeError(
        `data.shards entries must be non-empty strings, got ${JSON.stringify(entry)}`,
      );
    }
    if (!GLOB_CHARS.test(entry)) return [resolve(baseDir, entry)];
    const matches = globSync(entry, { cwd: baseDir }).map((p) =>
      isAbsolute(p) ? p : resolve(baseDir, p)
    );
    if (matches.length === 0) {
      throw new DataError(
        "DATA_NOT_FOUND",
        `data.shards: the glob ${JSON.stringify(entry)} matches no file (relative to ${baseDir})`,
      );
    }
    return matches.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  });
}

/**
 * The tokens of the shard at `path`.
 *
 * @throws {DataError} `DATA_NOT_FOUND` naming the path when there is no such file;
 * `DATA_INVALID` when it is empty or its size is odd.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readShard } from "./shards.ts";
 * const path = await Deno.makeTempFile({ suffix: ".bin" });
 * await Deno.writeFile(path, new Uint8Array([0x01, 0x00, 0x56, 0xc4])); // 1, 50262
 * assert.deepEqual([...await readShard(path)], [1, 0xc456]);
 * await Deno.remove(path);
 * ```
 */
export async function readShard(path: string): Promise<Uint16Array> {
  requireLittleEndian("readShard");
  const bytes = await readBytes(path);
  if (bytes.byteLength === 0 || bytes.byteLength % 2 !== 0) {
    throw new DataError(
      "DATA_INVALID",
      `${path} has ${bytes.byteLength} bytes; a .bin shard is a non-empty array of uint16 tokens`,
    );
  }
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
}
