/**
 * The hash of the sources that decide a run's numbers — every `.ts` file under `kernels/` and
 * `src/{formats,gpu,model,train}/`, in sorted path order — part of every run id, so that a changed
 * kernel, format, model or training file gives a new run id, while edits to the recipe loader,
 * runner or report code (whose effect on a run is already in its spec) do not.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

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
 * sha256 over the paths and contents of the sources that decide a run's numbers.
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
    const dirs = ["kernels", "src/formats", "src/gpu", "src/model", "src/train"];
    const files = (await Promise.all(dirs.map((d) => tsFiles(join(ROOT, d))))).flat()
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
