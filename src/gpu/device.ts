/**
 * WebGPU adapter and device acquisition, on either implementation (`implementation.ts`): Deno's
 * built-in WebGPU (`deno_webgpu.ts`) or Dawn through npm:webgpu (`dawn.ts`).
 *
 * One cached {@link Gpu} per implementation and process: the device is requested with the
 * adapter's real compute and buffer limits (Deno otherwise caps every unrequested limit at the
 * WebGPU defaults) and with the optional features `shader-f16`, `subgroups`, `timestamp-query` and
 * `chromium-experimental-subgroup-matrix` where the adapter grants them. {@link Gpu.features} is
 * what the device actually granted, never what was merely asked for.
 *
 * @module
 */

import { chosenAdapter } from "./adapter_choice.ts";
import { DAWN_BACKENDS, dawnAdapter } from "./dawn.ts";
import { denoAdapter } from "./deno_webgpu.ts";
import {
  type AdapterSource,
  defaultGpuImplementation,
  type GpuImplementation,
  type GpuImplementationChoice,
  type GpuImplementationName,
} from "./implementation.ts";
import { ensureRuntimeDir } from "./runtime_dir.ts";
import { GpuUnavailableError } from "./unavailable.ts";

export { GpuUnavailableError };

/** Optional features requested when the adapter supports them. */
const OPTIONAL_FEATURES: readonly string[] = [
  "shader-f16",
  "subgroups",
  "timestamp-query",
  "chromium-experimental-subgroup-matrix",
];

/** `GPUSupportedFeatures` as a set of names (Deno's type admits only the features it knows). */
const names = (features: GPUSupportedFeatures): ReadonlySet<string> =>
  features as unknown as ReadonlySet<string>;

/** Limits raised from the WebGPU defaults to the adapter's own values. */
const RAISED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const;

/**
 * The acquired adapter and device with what they report.
 *
 * @example
 * ```ts
 * import { getGpu, type Gpu } from "./device.ts";
 * const gpu: Gpu = await getGpu();
 * console.log(gpu.info.description, [...gpu.features], gpu.limits.maxBufferSize);
 * ```
 */
export interface Gpu {
  /** The adapter the device came from. */
  readonly adapter: GPUAdapter;
  /** The device every kernel runs on. */
  readonly device: GPUDevice;
  /** The adapter's identification. */
  readonly info: GpuInfo;
  /** Features the device granted (`device.features`). */
  readonly features: ReadonlySet<string>;
  /** Limits the device granted (`device.limits`). */
  readonly limits: Readonly<Record<string, number>>;
  /** The implementation the device came from: name, version, toggles, feature level. */
  readonly implementation: GpuImplementation;
  /** The implementation's WGSL language features (`GPU.wgslLanguageFeatures`). */
  readonly wgslLanguageFeatures: ReadonlySet<string>;
}

/**
 * Adapter identification, copied from `adapter.info`.
 *
 * @example
 * ```ts
 * import { getGpu, type GpuInfo } from "./device.ts";
 * const info: GpuInfo = (await getGpu()).info;
 * console.log(`${info.description} (subgroups ${info.subgroupMinSize}..${info.subgroupMaxSize})`);
 * ```
 */
export interface GpuInfo {
  /** Vendor name or id, as the implementation reports it. */
  readonly vendor: string;
  /** Architecture (often empty). */
  readonly architecture: string;
  /** Device name or id. */
  readonly device: string;
  /** Human-readable adapter description. */
  readonly description: string;
  /** Whether this is a fallback (software) adapter. */
  readonly isFallbackAdapter: boolean;
  /** Smallest subgroup size, where reported. */
  readonly subgroupMinSize?: number;
  /** Largest subgroup size, where reported. */
  readonly subgroupMaxSize?: number;
}

/** Options of {@link getGpu}. */
export interface GetGpuOptions {
  /** Which implementation (default: {@link defaultGpuImplementation}, initially `"deno"`). */
  readonly implementation?: GpuImplementationChoice;
}

const SUBGROUP_MATRIX = "chromium-experimental-subgroup-matrix";

const cached = new Map<GpuImplementationName, Promise<Gpu>>();
let autoPick: Promise<GpuImplementationName> | undefined;

/**
 * Returns the process-wide {@link Gpu} of an implementation, acquiring it on first call: one per
 * implementation. `"auto"` is Dawn where its Vulkan adapter offers
 * `chromium-experimental-subgroup-matrix`, else Deno (decided once per process). Uncaptured
 * device errors are logged to stderr (Deno would drop them). If the device is later lost the
 * reason is logged (unless it was destroyed on purpose) and the next call acquires a new one.
 *
 * @throws {GpuUnavailableError} when the implementation gives no adapter or cannot be loaded.
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * const { device, features, implementation } = await getGpu();
 * console.log(implementation.name, device.limits.maxComputeWorkgroupStorageSize);
 * const dawn = await getGpu({ implementation: "dawn" }); // Dawn through npm:webgpu
 * console.log(dawn.implementation.toggles, features.has("timestamp-query"));
 * ```
 */
export async function getGpu(options: GetGpuOptions = {}): Promise<Gpu> {
  // Before any adapter request: without it Mesa prints a false-looking XDG_RUNTIME_DIR error.
  ensureRuntimeDir();
  const choice = options.implementation ?? defaultGpuImplementation();
  const name = choice === "auto" ? await pickAuto() : choice;
  const selector = chosenAdapter();
  return gpuOf(
    name,
    () => name === "dawn" ? dawnAdapter(DAWN_BACKENDS, selector) : denoAdapter(selector),
  );
}

function gpuOf(name: GpuImplementationName, source: () => Promise<AdapterSource>): Promise<Gpu> {
  let gpu = cached.get(name);
  if (!gpu) {
    gpu = source().then(acquire);
    cached.set(name, gpu);
    gpu.then((g) => g.device.lost.then(() => forget(name, gpu!)), () => forget(name, gpu!));
  }
  return gpu;
}

function forget(name: GpuImplementationName, gpu: Promise<Gpu>): void {
  if (cached.get(name) === gpu) cached.delete(name);
}

function pickAuto(): Promise<GpuImplementationName> {
  autoPick ??= (async () => {
    const dawn = cached.get("dawn");
    if (dawn) {
      return (await dawn.catch(() => undefined))?.features.has(SUBGROUP_MATRIX) ? "dawn" : "deno";
    }
    // Subgroup matrices need a core-level backend, so the OpenGL fallback is not tried.
    const core = DAWN_BACKENDS.filter((b) => b.featureLevel === "core");
    const source = await dawnAdapter(core, chosenAdapter())
      .catch((e) => {
        if (e instanceof GpuUnavailableError) return undefined;
        throw e;
      });
    if (!source || !names(source.adapter.features).has(SUBGROUP_MATRIX)) return "deno";
    await gpuOf("dawn", () => Promise.resolve(source));
    return "dawn";
  })();
  autoPick.catch(() => autoPick = undefined);
  return autoPick;
}

/**
 * Throws unless the device granted `name`.
 *
 * @example
 * ```ts
 * import { getGpu, requireFeature } from "./device.ts";
 * const gpu = await getGpu();
 * if (gpu.features.has("timestamp-query")) requireFeature(gpu, "timestamp-query");
 * ```
 */
export function requireFeature(gpu: Gpu, name: string): void {
  if (gpu.features.has(name)) return;
  const granted = [...gpu.features].sort().join(", ") || "none";
  throw new Error(
    `WebGPU feature "${name}" is required but the device on "${gpu.info.description}" ` +
      `did not grant it (granted: ${granted}).`,
  );
}

async function acquire(source: AdapterSource): Promise<Gpu> {
  const { adapter } = source;
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const listed = OPTIONAL_FEATURES.filter((f) => names(adapter.features).has(f));
  const unlisted = source.unlistedFeatures.filter((f) =>
    OPTIONAL_FEATURES.includes(f) && !listed.includes(f)
  );
  const request = (features: readonly string[]) =>
    adapter.requestDevice({
      label: "lpbench",
      requiredFeatures: features as GPUFeatureName[],
      requiredLimits,
    });
  // Features the adapter hides may still be granted; the request is refused where they are not.
  const device = unlisted.length > 0
    ? await request([...listed, ...unlisted]).catch(() => request(listed))
    : await request(listed);

  // Deno drops uncaptured errors silently (browsers log them), so log them here.
  device.addEventListener("uncapturederror", (event) => {
    const { error } = event as GPUUncapturedErrorEvent;
    console.error(`WebGPU uncaptured ${error.constructor.name}: ${error.message.trim()}`);
  });
  device.lost.then((lost) => {
    if (lost.reason !== "destroyed") {
      console.error(`WebGPU device lost (${lost.reason}): ${lost.message}`);
    }
  });

  const limits: Record<string, number> = {};
  for (const name in device.limits) {
    const value = (device.limits as unknown as Record<string, unknown>)[name];
    if (typeof value === "number") limits[name] = value;
  }
  const a = adapter.info;
  return {
    adapter,
    device,
    implementation: source.implementation,
    info: Object.freeze({
      vendor: a.vendor,
      architecture: a.architecture,
      device: a.device,
      description: a.description,
      isFallbackAdapter: a.isFallbackAdapter === true,
      subgroupMinSize: a.subgroupMinSize,
      subgroupMaxSize: a.subgroupMaxSize,
    }),
    features: new Set(device.features),
    limits: Object.freeze(limits),
    wgslLanguageFeatures: source.wgslLanguageFeatures,
  };
}
