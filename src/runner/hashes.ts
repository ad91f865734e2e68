/**
 * Content hashes that identify a run: the canonical JSON of its spec, and the kernel sources
 * (every `.ts` file under `kernels/` and `src/`, in sorted path order), so that a changed kernel
 * or numerics file gives a new run id.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** JSON with object keys sorted at every level and no whitespace. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
    }
    return v;
  });
}

/**
 * Hex sha256 of a string or bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256Hex } from "./hashes.ts";
 * assert.equal(sha256Hex("").slice(0, 8), "e3b0c442");
 * ```
 */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await tsFiles(p));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

let kernelHash: Promise<string> | undefined;

/**
 * sha256 over the paths and contents of the kernel and library sources (`kernels/`, `src/`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelSourcesHash } from "./hashes.ts";
 * assert.match(await kernelSourcesHash(), /^[0-9a-f]{64}$/);
 * ```
 */
export function kernelSourcesHash(): Promise<string> {
  kernelHash ??= (async () => {
    const files = [...await tsFiles(join(ROOT, "kernels")), ...await tsFiles(join(ROOT, "src"))]
      .map((p) => relative(ROOT, p))
      .sort();
    const h = createHash("sha256");
    for (const f of files) {
      h.update(f).update("\0").update(await Deno.readFile(join(ROOT, f))).update("\0");
    }
    return h.digest("hex");
  })();
  return kernelHash;
}
