/**
 * The environment fingerprint stored in every run record: runtime versions, OS, the WebGPU
 * implementation, the adapter and what the device granted, and the git commit with a dirty flag.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Environment } from "./record.ts";

/** The git commit of `dir` and whether its working tree has changes; null outside a repo. */
export async function gitState(dir = "."): Promise<{ commit: string; dirty: boolean } | null> {
  const run = async (args: string[]) => {
    try {
      const out = await new Deno.Command("git", { args, cwd: dir, stdout: "piped", stderr: "null" })
        .output();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
    } catch {
      return null; // no git binary
    }
  };
  const commit = await run(["rev-parse", "HEAD"]);
  if (!commit) return null;
  const status = await run(["status", "--porcelain", "--untracked-files=no"]);
  return { commit, dirty: (status ?? "") !== "" };
}

/**
 * The fingerprint of this process and device.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../gpu/device.ts";
 * import { environment } from "./environment.ts";
 * const env = await environment(await getGpu());
 * assert.equal(env.deno, Deno.version.deno);
 * ```
 */
export async function environment(gpu: Gpu): Promise<Environment> {
  const i = gpu.info;
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    arch: Deno.build.arch,
    implementation: gpu.implementation,
    adapter: {
      vendor: i.vendor,
      architecture: i.architecture,
      device: i.device,
      description: i.description,
      isFallbackAdapter: i.isFallbackAdapter,
    },
    features: [...gpu.features].sort(),
    limits: Object.fromEntries(Object.entries(gpu.limits).sort(([a], [b]) => a.localeCompare(b))),
    git: await gitState(),
  };
}
