/**
 * Dawn through `npm:webgpu` (Dawn's Node bindings, a prebuilt `dawn.node` per platform) as an
 * adapter source. The package is imported on first use only, so that Deno-only use needs no npm
 * package (`deno run --no-config` has no import map to find it).
 *
 * Backends are tried in {@link DAWN_BACKENDS} order: Vulkan at the core feature level, with
 * `allow_unsafe_apis` (without it Dawn hides `chromium-experimental-subgroup-matrix`) and
 * `vulkan_enable_f16_on_nvidia` (`shader-f16` on NVIDIA drivers older than 615.71); then OpenGL at
 * the compatibility feature level, which is what a machine without a GPU has where Dawn rejects
 * the Vulkan software driver (Debian's lavapipe lacks `shaderUniform*ArrayDynamicIndexing`): Mesa's
 * llvmpipe through surfaceless EGL. The OpenGL attempt sets `EGL_PLATFORM=surfaceless` (EGL needs
 * no display then) and turns Mesa's GL worker threads off (`GL_ENV`) in this process's environment,
 * each unless it is set already.
 *
 * An adapter of a multi-GPU host is chosen with Dawn's `adapter=<name>` flag (the first adapter
 * whose name contains it); an index is turned into that adapter's name through the list of
 * adapters Dawn gives when a name matches none, and is refused where several adapters share it.
 *
 * @module
 */

import { type AdapterSelector, adapterText } from "./adapter_choice.ts";
import type { AdapterSource } from "./implementation.ts";
import { GpuUnavailableError } from "./unavailable.ts";

/**
 * One way of creating Dawn: its `create()` toggles, the feature level its adapter is requested at,
 * and environment variables it needs (set only where unset).
 *
 * @example
 * ```ts
 * import type { DawnBackend } from "./dawn.ts";
 * const vulkan: DawnBackend = { toggles: ["backend=vulkan"], featureLevel: "core" };
 * ```
 */
export interface DawnBackend {
  /** The toggles `create()` gets, e.g. `"backend=vulkan"`. */
  readonly toggles: readonly string[];
  /** The `featureLevel` the adapter is requested at. */
  readonly featureLevel: "core" | "compatibility";
  /** Environment variables set before `create()` where they are unset. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * The OpenGL backend's environment: surfaceless EGL (no display needed), and Mesa without its GL
 * worker threads (`mesa_glthread=false`, `LP_NUM_THREADS=0`: llvmpipe rasterizes and runs compute
 * in the calling thread). glibc aborted `deno test` at process exit in two of four full CI runs on
 * 2026-12-05 ("double free or corruption", "corrupted size vs. prev_size"), after every test had
 * passed, while such a thread's state was torn down; this software path is for CI, where speed
 * does not count.
 */
const GL_ENV: Readonly<Record<string, string>> = {
  EGL_PLATFORM: "surfaceless",
  mesa_glthread: "false",
  LP_NUM_THREADS: "0",
};

/**
 * The backends {@link dawnAdapter} tries, in order: Vulkan (core), then OpenGL (compatibility).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DAWN_BACKENDS } from "./dawn.ts";
 * assert.deepEqual(DAWN_BACKENDS.map((b) => b.toggles[0]), ["backend=vulkan", "backend=opengl"]);
 * ```
 */
export const DAWN_BACKENDS: readonly DawnBackend[] = [
  {
    toggles: [
      "backend=vulkan",
      "enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia",
      "disable-dawn-features=timestamp_quantization",
    ],
    featureLevel: "core",
  },
  {
    toggles: [
      "backend=opengl",
      "enable-dawn-features=allow_unsafe_apis",
      "disable-dawn-features=timestamp_quantization",
    ],
    featureLevel: "compatibility",
    env: GL_ENV,
  },
];

interface DawnModule {
  readonly create: (toggles: string[]) => GPU;
  readonly version: string;
}

let loaded: Promise<DawnModule> | undefined;

/** Every Dawn instance created, kept alive for the process's lifetime. */
const instances: GPU[] = [];

function loadDawn(): Promise<DawnModule> {
  loaded ??= (async () => {
    try {
      const [webgpu, pkg] = await Promise.all([
        import("webgpu"),
        import("webgpu/package.json", { with: { type: "json" } }),
      ]);
      return { create: webgpu.create, version: String(pkg.default.version) };
    } catch (e) {
      loaded = undefined;
      throw new GpuUnavailableError(
        `Dawn (npm:webgpu) could not be loaded: ${(e as Error).message.split("\n")[0]}`,
        "Dawn needs the project's import map and node_modules: run `deno install` in the " +
          "checkout (deno.json pins npm:webgpu), without --no-config; or use Deno's built-in " +
          "WebGPU (--gpu deno).",
      );
    }
  })();
  return loaded;
}

/** A flag value no adapter's name contains: Dawn then lists its adapters in the rejection. */
const LIST_ADAPTERS = "adapter=lpbench:list-adapters";

/** The adapters' names in Dawn's rejection message (` * backend: 'vulkan', name: '…'`). */
function listedAdapters(message: string): string[] {
  return [...message.matchAll(/^ \* backend: '[^']*', name: '(.*)'$/gm)].map((m) => m[1]);
}

/**
 * The `adapter=` flag that picks `selector` on `backend`, or undefined where the backend has no
 * adapter; throws where it has adapters but none fits.
 */
async function adapterFlag(
  create: DawnModule["create"],
  backend: DawnBackend,
  selector: AdapterSelector,
): Promise<string | undefined> {
  if ("name" in selector) return `adapter=${selector.name}`;
  const gpu = create([...backend.toggles, LIST_ADAPTERS]);
  instances.push(gpu);
  const found = await gpu.requestAdapter(
    { featureLevel: backend.featureLevel } as GPURequestAdapterOptions,
  )
    .then(() => [], (e: Error) => listedAdapters(e.message));
  if (found.length === 0) return undefined;
  const list = found.map((n, i) => `${i} "${n}"`).join(", ");
  const name = found[selector.index];
  if (name === undefined) {
    throw new GpuUnavailableError(
      `--adapter ${selector.index}: Dawn's ${backend.toggles[0]} has ${found.length} ` +
        `adapter${found.length === 1 ? "" : "s"}: ${list}`,
      "Give an index below the count, or a name.",
    );
  }
  if (found.filter((n) => n.includes(name)).length > 1) {
    throw new GpuUnavailableError(
      `--adapter ${selector.index}: Dawn chooses adapters by name only, and "${name}" names ` +
        `more than one of its adapters (${list})`,
      "Bind each process to its GPU outside lpbench instead: the scheduler's GPU binding " +
        "(Slurm --gres=gpu:1 with ConstrainDevices, a Kubernetes nvidia.com/gpu limit, " +
        "docker --gpus device=N), which leaves the process one adapter.",
    );
  }
  return `adapter=${name}`;
}

/**
 * The first adapter Dawn gives on `backends` (default {@link DAWN_BACKENDS}); with `selector`, the
 * adapter it names (by index or name) on the first backend that has adapters.
 *
 * @throws {GpuUnavailableError} when npm:webgpu cannot be loaded, no backend gives an adapter, or
 * no adapter fits `selector` (the message lists the adapters)
 * @example
 * ```ts
 * import { dawnAdapter } from "./dawn.ts";
 * const { adapter, implementation } = await dawnAdapter();
 * console.log(implementation.toggles[0], implementation.featureLevel, adapter.info.description);
 * ```
 */
export async function dawnAdapter(
  backends: readonly DawnBackend[] = DAWN_BACKENDS,
  selector?: AdapterSelector,
): Promise<AdapterSource> {
  const { create, version } = await loadDawn();
  const unmatched: string[] = [];
  for (const backend of backends) {
    for (const [name, value] of Object.entries(backend.env ?? {})) {
      if (Deno.env.get(name) === undefined) Deno.env.set(name, value);
    }
    const flag = selector ? await adapterFlag(create, backend, selector) : undefined;
    if (selector && flag === undefined) continue;
    const toggles = [...backend.toggles, ...(flag ? [flag] : [])];
    const gpu = create(toggles);
    // The instance must outlive its adapters and devices: once collected, Dawn's asynchronous work
    // (pipeline compilation, buffer mapping) crashed the process on the H200.
    instances.push(gpu);
    const adapter = await gpu.requestAdapter({
      powerPreference: "high-performance",
      featureLevel: backend.featureLevel,
    } as GPURequestAdapterOptions).catch((e: Error) => {
      // A name that matches none of the backend's adapters: the message lists them.
      if (!selector) throw e;
      unmatched.push(`${backend.toggles[0]}: ${listedAdapters(e.message).join(", ")}`);
      return null;
    });
    if (!adapter) continue;
    const { wgslLanguageFeatures } = gpu as unknown as {
      wgslLanguageFeatures: ReadonlySet<string>;
    };
    return {
      adapter,
      implementation: Object.freeze({
        name: "dawn",
        version,
        toggles: Object.freeze(toggles),
        featureLevel: backend.featureLevel,
      }),
      wgslLanguageFeatures: new Set(wgslLanguageFeatures),
      unlistedFeatures: [],
    };
  }
  if (selector && unmatched.length > 0) {
    throw new GpuUnavailableError(
      `--adapter ${JSON.stringify(adapterText(selector))}: no Dawn adapter's name contains it ` +
        `(${unmatched.join("; ")})`,
      "Give (part of) one of these names, or an index.",
    );
  }
  throw new GpuUnavailableError(
    `Dawn gave no adapter with ${backends.map((b) => b.toggles.join(" ")).join(", nor with ")}`,
  );
}
