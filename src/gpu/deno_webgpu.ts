/**
 * Deno's built-in WebGPU (wgpu) as an adapter source: `navigator.gpu`, which needs
 * `--unstable-webgpu` (or `"unstable": ["webgpu"]` in deno.json) and nothing else.
 *
 * Deno hides the `subgroups` feature from `adapter.features` even where the device can grant it,
 * so it is passed on as an unlisted feature to try.
 *
 * It cannot choose among several adapters: `requestAdapter` reads only `powerPreference` and
 * `forceFallbackAdapter` (Deno's `GPURequestAdapterOptions`), so an adapter selector is refused.
 *
 * @module
 */

import { type AdapterSelector, adapterText } from "./adapter_choice.ts";
import type { AdapterSource } from "./implementation.ts";
import { GpuUnavailableError } from "./unavailable.ts";

/**
 * A high-performance adapter of Deno's WebGPU.
 *
 * @throws {GpuUnavailableError} when WebGPU is not enabled, no adapter exists, or `selector` is
 * given (Deno's WebGPU cannot choose an adapter)
 * @example
 * ```ts
 * import { denoAdapter } from "./deno_webgpu.ts";
 * const { adapter, implementation } = await denoAdapter();
 * console.log(implementation.version === Deno.version.deno, adapter.info.description);
 * ```
 */
export async function denoAdapter(selector?: AdapterSelector): Promise<AdapterSource> {
  if (selector) {
    throw new GpuUnavailableError(
      `--adapter ${JSON.stringify(adapterText(selector))}: Deno's WebGPU cannot choose an ` +
        "adapter (its requestAdapter reads only powerPreference and forceFallbackAdapter)",
      "Use --gpu dawn, which chooses adapters by index or name, or bind the process to one GPU " +
        "outside lpbench (the scheduler's GPU binding, docker --gpus device=N).",
    );
  }
  if (typeof navigator === "undefined" || !("gpu" in navigator)) {
    throw new GpuUnavailableError(
      'navigator.gpu is undefined; run Deno with --unstable-webgpu or "unstable": ["webgpu"]',
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new GpuUnavailableError();
  // Deno's GPU type lacks the standard `wgslLanguageFeatures` set, though the runtime has it.
  const gpu = navigator.gpu as unknown as { wgslLanguageFeatures?: ReadonlySet<string> };
  return {
    adapter,
    implementation: Object.freeze({ name: "deno", version: Deno.version.deno, toggles: [] }),
    wgslLanguageFeatures: new Set(gpu.wgslLanguageFeatures ?? []),
    unlistedFeatures: ["subgroups"],
  };
}
