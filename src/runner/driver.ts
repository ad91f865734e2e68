/**
 * The graphics driver behind a WebGPU adapter, by name and version, for the environment block of
 * run records: NVIDIA's kernel module version from `/proc/driver/nvidia/version`, or the version of
 * Mesa (llvmpipe, lavapipe and the other Mesa drivers) from the Mesa libraries this process has
 * loaded. A software adapter's results depend on Mesa's shader compiler, so the Mesa version is
 * part of what decides them. Linux only; elsewhere, and where nothing is found, there is no answer.
 *
 * @module
 */

/** The PCI vendor id of NVIDIA, as Deno's WebGPU reports it (`"4318"`), and Dawn's name for it. */
const NVIDIA = /^(4318|0x10de|nvidia)$/i;

/** Mesa's libraries by file name: EGL/GLX vendor libraries, DRI and gallium drivers, lavapipe. */
const MESA_LIBRARY = /(_mesa\.so|_dri\.so|libgallium|libvulkan_lvp|libglapi)/;

/** Mesa's own version string inside its libraries, e.g. `Mesa 22.3.6` or `Mesa 24.2.8-1ubuntu1`. */
const MESA_VERSION = /Mesa (\d+\.\d+\.\d+[0-9A-Za-z.~+-]*)/;

/** The largest library searched for Mesa's version string (bytes). */
const MAX_LIBRARY_BYTES = 64 * 1024 * 1024;

/**
 * `"NVIDIA <version>"` or `"Mesa <version>"` for an adapter of `vendor` (its `GPUAdapterInfo`
 * vendor), or undefined where it cannot be told. Mesa's libraries are looked up among those this
 * process has mapped, so call it after the adapter was created.
 *
 * @example
 * ```ts
 * import { driverVersion } from "./driver.ts";
 * console.log(driverVersion("4318") ?? "unknown"); // e.g. "NVIDIA 570.133.20"
 * ```
 */
export function driverVersion(vendor: string): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  return NVIDIA.test(vendor.trim()) ? nvidiaVersion() : mesaVersion();
}

/** The loaded NVIDIA kernel module's version, e.g. `NVIDIA 570.133.20`. */
function nvidiaVersion(): string | undefined {
  const text = readText("/proc/driver/nvidia/version");
  const version = text?.match(/Kernel Module(?:\s+for\s+\S+)?\s+(\d+(?:\.\d+)+)/)?.[1];
  return version ? `NVIDIA ${version}` : undefined;
}

/** The version of the first mapped Mesa library that names it, e.g. `Mesa 22.3.6`. */
function mesaVersion(): string | undefined {
  const maps = readText("/proc/self/maps");
  if (!maps) return undefined;
  const libraries = new Set<string>();
  for (const line of maps.split("\n")) {
    const path = line.split(/\s+/)[5];
    if (path?.startsWith("/") && MESA_LIBRARY.test(path)) libraries.add(path);
  }
  const decoder = new TextDecoder("latin1");
  // Smallest first: the EGL and GLX vendor libraries are a few hundred KiB, the drivers tens of MiB.
  for (const path of [...libraries].sort((a, b) => sizeOf(a) - sizeOf(b))) {
    if (sizeOf(path) > MAX_LIBRARY_BYTES) continue;
    try {
      const version = decoder.decode(Deno.readFileSync(path)).match(MESA_VERSION)?.[1];
      if (version) return `Mesa ${version}`;
    } catch {
      // unreadable (removed since it was mapped): try the next one
    }
  }
  return undefined;
}

function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return Infinity;
  }
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}
