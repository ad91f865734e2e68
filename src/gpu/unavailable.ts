/**
 * The error every WebGPU implementation throws when it yields no adapter: what failed, and how to
 * get an adapter.
 *
 * @module
 */

const ADAPTER_HINT = "lpbench needs a WebGPU adapter: on a machine without a GPU install Mesa " +
  "(llvmpipe works through GL; `apt-get install mesa-vulkan-drivers` adds the lavapipe Vulkan " +
  "driver); on NVIDIA install the driver's Vulkan ICD (e.g. libnvidia-gl-<version> on Ubuntu).";

/**
 * Thrown by `getGpu` when the implementation offers no WebGPU adapter, or cannot be loaded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GpuUnavailableError } from "./unavailable.ts";
 * const e = new GpuUnavailableError("Dawn found no Vulkan or OpenGL adapter");
 * assert.match(e.message, /^No WebGPU adapter was found \(Dawn found no Vulkan/);
 * const load = new GpuUnavailableError("npm:webgpu is missing", "Run `deno install`.");
 * assert.equal(load.message, "No WebGPU adapter was found (npm:webgpu is missing). Run `deno install`.");
 * ```
 */
export class GpuUnavailableError extends Error {
  /** Always `"GpuUnavailableError"`. */
  override name = "GpuUnavailableError";
  /**
   * `detail` says what failed (by default: no adapter was returned); `hint` how to fix it (by
   * default: how to install a driver that gives an adapter).
   */
  constructor(
    detail = "navigator.gpu.requestAdapter() returned null",
    hint: string = ADAPTER_HINT,
  ) {
    super(`No WebGPU adapter was found (${detail}). ${hint}`);
  }
}
