/**
 * The environment fingerprint stored in every run record: runtime versions, OS, the WebGPU
 * implementation, the adapter and what the device granted, and the git commit with a dirty flag
 * that lpbench's own outputs (`reports/`) do not raise.
 *
 * @module
 */

import os from "node:os";
import { sha256Hex } from "../recipe/hash.ts";
import { isAbsolute, relative, resolve } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import type { Environment } from "./record.ts";
import { driverVersion } from "./driver.ts";

/**
 * Where lpbench writes its outputs by default (records, reports, charts, run lists), relative to
 * the working directory: changes there do not make the tree dirty.
 */
export const DEFAULT_OUTPUT_DIRS: readonly string[] = ["reports"];

/**
 * The git commit of `dir` and whether its working tree has changes; null outside a repo.
 *
 * Modified, staged, deleted and untracked (not ignored) files count as changes, except under
 * `outputs`: the folders lpbench writes its own results to (paths relative to `dir`, or absolute),
 * so that a run's records, reports and charts do not mark the next run's tree dirty. An output
 * folder outside the repository, or the repository itself, hides nothing. `deno task bench`
 * passes its `--out` folder (the runner's `outputDirs`); the default is
 * {@link DEFAULT_OUTPUT_DIRS} (`reports/`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gitState } from "./environment.ts";
 * const dir = await Deno.makeTempDir();
 * assert.equal(await gitState(dir), null); // not a repository
 * await Deno.remove(dir);
 * ```
 */
export async function gitState(
  dir = ".",
  outputs: readonly string[] = DEFAULT_OUTPUT_DIRS,
): Promise<{ commit: string; dirty: boolean } | null> {
  const run = async (args: string[]) => {
    try {
      const out = await new Deno.Command("git", {
        args: ["--no-optional-locks", ...args],
        cwd: dir,
        stdout: "piped",
        stderr: "null",
      }).output();
      return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
    } catch {
      return null; // no git binary
    }
  };
  const commit = await run(["rev-parse", "HEAD"]);
  if (!commit) return null;
  const top = await run(["rev-parse", "--show-toplevel"]);
  const excluded = top ? outputPathspecs(top, dir, outputs) : [];
  const status = await run([
    "status",
    "--porcelain",
    "--untracked-files=all",
    "--",
    ":/",
    ...excluded,
  ]);
  return { commit, dirty: (status ?? "") !== "" };
}

/** Exclude pathspecs (from the top of the repository at `top`) for the outputs inside it. */
function outputPathspecs(top: string, dir: string, outputs: readonly string[]): string[] {
  const real = (p: string) => {
    try {
      return Deno.realPathSync(p);
    } catch {
      return resolve(p); // not created yet
    }
  };
  const root = real(top);
  const base = real(dir);
  const specs: string[] = [];
  for (const output of outputs) {
    const rel = relative(root, real(resolve(base, output))).replaceAll("\\", "/");
    // Outside the repository, or the whole of it: nothing to leave out.
    if (rel === "" || rel === ".." || rel.startsWith("../") || isAbsolute(rel)) continue;
    specs.push(`:(top,exclude,literal)${rel}`);
  }
  return specs;
}

/**
 * The fingerprint of this process and device (the driver's version included, see `driver.ts`). `outputs` are the folders this process writes its
 * results to, left out of the git dirty flag (see {@link gitState}).
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
export async function environment(
  gpu: Gpu,
  outputs: readonly string[] = DEFAULT_OUTPUT_DIRS,
): Promise<Environment> {
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
    git: await gitState(".", outputs),
    cpu: cpuInfo(),
    wgslLanguageFeatures: [...gpu.wgslLanguageFeatures].sort(),
    lockfile: await lockfileHash(),
    ...optional("driver", driverVersion(i.vendor)),
  };
}

/**
 * The x86 and Arm vector instruction-set flags (as `/proc/cpuinfo` names them) that decide what
 * code a software adapter's shader compiler emits: Mesa's llvmpipe and lavapipe compile WGSL for the
 * host CPU, and their f32 results differ between CPUs with different sets (the quick suite's curves
 * recorded on an AVX2 AMD EPYC differ in the last bits on an AVX-512 Xeon, same adapter string).
 */
export const CPU_VECTOR_FLAGS: readonly string[] = [
  "sse4_1",
  "sse4_2",
  "avx",
  "avx2",
  "fma",
  "f16c",
  "avx512f",
  "avx512dq",
  "avx512bw",
  "avx512vl",
  "avx512_bf16",
  "avx512_fp16",
  "asimd",
  "asimdhp",
  "sve",
  "sve2",
];

/**
 * The CPU's model name (`node:os`), logical core count and, on Linux, which of
 * {@link CPU_VECTOR_FLAGS} it has (from `/proc/cpuinfo`'s first `flags` or `Features` line).
 */
function cpuInfo(): { model: string; cores: number; simd?: string[] } {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() || "unknown";
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    return { model, cores: cpus.length };
  }
  const line = text.match(/^(?:flags|Features)\s*:(.*)$/m)?.[1] ?? "";
  const flags = new Set(line.trim().split(/\s+/));
  return { model, cores: cpus.length, simd: CPU_VECTOR_FLAGS.filter((f) => flags.has(f)) };
}

/** `{ [key]: value }`, or nothing where `value` is undefined (records leave unknown fields out). */
function optional<K extends string>(key: K, value: string | undefined): { [k in K]?: string } {
  return value === undefined ? {} : { [key]: value } as { [k in K]: string };
}

/** sha256 of `deno.lock` in the working directory; null where there is none. */
async function lockfileHash(): Promise<string | null> {
  try {
    return sha256Hex(await Deno.readTextFile("deno.lock"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}
