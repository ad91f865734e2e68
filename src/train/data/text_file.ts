/**
 * Reading a UTF-8 text file with errors that name the path: a missing file is a
 * `DATA_NOT_FOUND`, bytes that are not UTF-8 are `DATA_INVALID`. A leading byte-order mark is
 * dropped.
 *
 * @module
 */

import { DataError } from "./errors.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The bytes of the file at `path`.
 *
 * @throws {DataError} `DATA_NOT_FOUND` naming the path when there is no such file.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBytes } from "./text_file.ts";
 * await assert.rejects(readBytes("/no/such/file.bin"), /no file at \/no\/such\/file.bin/);
 * ```
 */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DataError("DATA_NOT_FOUND", `no file at ${path}`, { cause: e });
    }
    if (e instanceof Deno.errors.IsADirectory) {
      throw new DataError("DATA_INVALID", `${path} is a directory, not a file`, { cause: e });
    }
    throw e;
  }
}

/**
 * The text of the UTF-8 file at `path`.
 *
 * @throws {DataError} `DATA_NOT_FOUND` when there is no such file, `DATA_INVALID` when its bytes
 * are not UTF-8.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTextFile } from "./text_file.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]));
 * assert.equal(await readTextFile(path), "hi");
 * await Deno.writeFile(path, new Uint8Array([0xff]));
 * await assert.rejects(readTextFile(path), /is not UTF-8 text/);
 * await Deno.remove(path);
 * ```
 */
export async function readTextFile(path: string): Promise<string> {
  const bytes = await readBytes(path);
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new DataError("DATA_INVALID", `${path} is not UTF-8 text`, { cause: e });
  }
}
