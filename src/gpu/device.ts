/**
 * WebGPU adapter and device acquisition.
 *
 * One cached {@link Gpu} per process: the device is requested with the adapter's real compute and
 * buffer limits (Deno otherwise caps every unrequested limit at the WebGPU defaults) and with the
 * optional features `shader-f16`, `subgroups` and `timestamp-query` where the adapter grants them.
 * {@link Gpu.features} is what the device actually granted, never what was merely asked for.
 *
 * @module
 */

/** Optional features requested when the adapter supports them. */
const OPTIONAL_FEATURES = ["shader-f16", "subgroups", "timestamp-query"] as const;

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

/**
 * Thrown by {@link getGpu} when the runtime offers no WebGPU adapter.
 *
 * @example
 * ```ts
 * import { getGpu, GpuUnavailableError } from "./device.ts";
 * try {
 *   await getGpu();
 * } catch (e) {
 *   if (e instanceof GpuUnavailableError) console.error(e.message);
 *   else throw e;
 * }
 * ```
 */
export class GpuUnavailableError extends Error {
  /** Always `"GpuUnavailableError"`. */
  override name = "GpuUnavailableError";
  /** `detail` says what failed (by default: no adapter was returned). */
  constructor(detail = "navigator.gpu.requestAdapter() returned null") {
    super(
      `No WebGPU adapter was found (${detail}). lpbench needs a WebGPU adapter: on a machine ` +
        "without a GPU install Mesa (llvmpipe works through GL; `apt-get install " +
        "mesa-vulkan-drivers` adds the lavapipe Vulkan driver); on NVIDIA install the driver's " +
        "Vulkan ICD (e.g. libnvidia-gl-<version> on Ubuntu).",
    );
  }
}

let cached: Promise<Gpu> | undefined;

/**
 * Returns the process-wide {@link Gpu}, acquiring it on first call. Uncaptured device errors are
 * logged to stderr (Deno would drop them). If the device is later lost the reason is logged
 * (unless it was destroyed on purpose) and the next call acquires a new one.
 *
 * @throws {GpuUnavailableError} when no adapter exists.
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * const { device, features } = await getGpu();
 * console.log(device.limits.maxComputeWorkgroupStorageSize, features.has("timestamp-query"));
 * ```
 */
export function getGpu(): Promise<Gpu> {
  cached ??= acquire().catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
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

async function acquire(): Promise<Gpu> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) {
    throw new GpuUnavailableError(
      'navigator.gpu is undefined; run Deno with --unstable-webgpu or "unstable": ["webgpu"]',
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new GpuUnavailableError();

  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const listed = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const request = (requiredFeatures: GPUFeatureName[]) =>
    adapter.requestDevice({ label: "lpbench", requiredFeatures, requiredLimits });

  // Deno hides "subgroups" from adapter.features even where the device can grant it, and rejects
  // unsupported features, so ask for it on top of the listed ones and fall back without it.
  let device: GPUDevice;
  if (listed.includes("subgroups" as GPUFeatureName)) {
    device = await request(listed);
  } else {
    device = await request([...listed, "subgroups" as GPUFeatureName]).catch(() => request(listed));
  }

  // Deno drops uncaptured errors silently (browsers log them), so log them here.
  device.addEventListener("uncapturederror", (event) => {
    const { error } = event as GPUUncapturedErrorEvent;
    console.error(`WebGPU uncaptured ${error.constructor.name}: ${error.message.trim()}`);
  });
  device.lost.then((lost) => {
    cached = undefined;
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
    info: Object.freeze({
      vendor: a.vendor,
      architecture: a.architecture,
      device: a.device,
      description: a.description,
      isFallbackAdapter: a.isFallbackAdapter,
      subgroupMinSize: a.subgroupMinSize,
      subgroupMaxSize: a.subgroupMaxSize,
    }),
    features: new Set(device.features),
    limits: Object.freeze(limits),
  };
}
