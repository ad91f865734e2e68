/**
 * Which WebGPU implementation lpbench runs on, and the process-wide default.
 *
 * Two implementations run the same kernels: `"deno"`, Deno's built-in WebGPU (wgpu; the default,
 * it needs nothing but a Deno binary), and `"dawn"`, Google's Dawn through the `npm:webgpu` package
 * (the only way from WGSL to the GPU's matrix units, through `chromium-experimental-subgroup-matrix`).
 * `"auto"` picks Dawn where its adapter offers subgroup matrices, else Deno (see `device.ts`).
 *
 * The process-wide default is what `getGpu()` uses when it is given no implementation. It is set
 * once, by the CLI's `--gpu` flag or a test run's setup, through {@link useGpuImplementation};
 * nothing reads it from the environment.
 *
 * @module
 */

/**
 * A concrete WebGPU implementation.
 *
 * @example
 * ```ts
 * import type { GpuImplementationName } from "./implementation.ts";
 * const name: GpuImplementationName = "dawn";
 * ```
 */
export type GpuImplementationName = "deno" | "dawn";

/**
 * What a caller may ask for: a concrete implementation, or `"auto"`.
 *
 * @example
 * ```ts
 * import type { GpuImplementationChoice } from "./implementation.ts";
 * const choice: GpuImplementationChoice = "auto";
 * ```
 */
export type GpuImplementationChoice = GpuImplementationName | "auto";

/**
 * Every accepted {@link GpuImplementationChoice}, in the order help texts list them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPU_IMPLEMENTATION_CHOICES } from "./implementation.ts";
 * assert.deepEqual(GPU_IMPLEMENTATION_CHOICES, ["deno", "dawn", "auto"]);
 * ```
 */
export const GPU_IMPLEMENTATION_CHOICES: readonly GpuImplementationChoice[] = [
  "deno",
  "dawn",
  "auto",
];

/**
 * The implementation a {@link Gpu} came from, as run records store it.
 *
 * @example
 * ```ts
 * import type { GpuImplementation } from "./implementation.ts";
 * const dawn: GpuImplementation = {
 *   name: "dawn",
 *   version: "0.6.2",
 *   toggles: ["backend=opengl", "enable-dawn-features=allow_unsafe_apis"],
 *   featureLevel: "compatibility",
 * };
 * ```
 */
export interface GpuImplementation {
  /** Which implementation. */
  readonly name: GpuImplementationName;
  /** Deno's version for `"deno"`; the `npm:webgpu` package version for `"dawn"`. */
  readonly version: string;
  /** The flags the implementation was created with (Dawn's `create()` toggles; none for Deno). */
  readonly toggles: readonly string[];
  /** The WebGPU feature level the adapter was requested at (`"core"`, `"compatibility"`), where set. */
  readonly featureLevel?: string;
}

/**
 * An adapter an implementation returned, with what `device.ts` needs to make a device of it. Each
 * implementation module (`deno_webgpu.ts`, `dawn.ts`) returns one.
 *
 * @example
 * ```ts
 * import type { AdapterSource } from "./implementation.ts";
 * const describe = (s: AdapterSource) => `${s.implementation.name}: ${s.adapter.info.description}`;
 * ```
 */
export interface AdapterSource {
  /** The adapter. */
  readonly adapter: GPUAdapter;
  /** Which implementation it came from, and how that was created. */
  readonly implementation: GpuImplementation;
  /** The implementation's `GPU.wgslLanguageFeatures`. */
  readonly wgslLanguageFeatures: ReadonlySet<string>;
  /**
   * Optional features to ask the device for even though the adapter does not list them (Deno
   * hides `subgroups`); the device is requested again without them if they are refused.
   */
  readonly unlistedFeatures: readonly string[];
}

/**
 * Checks a user-given implementation name.
 *
 * @throws {RangeError} naming the value and the accepted ones
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGpuImplementation } from "./implementation.ts";
 * assert.equal(parseGpuImplementation("dawn"), "dawn");
 * assert.throws(() => parseGpuImplementation("metal"), /"metal" is not a WebGPU implementation/);
 * ```
 */
export function parseGpuImplementation(value: string): GpuImplementationChoice {
  const choice = GPU_IMPLEMENTATION_CHOICES.find((c) => c === value);
  if (choice) return choice;
  throw new RangeError(
    `${JSON.stringify(value)} is not a WebGPU implementation (${
      GPU_IMPLEMENTATION_CHOICES.join(", ")
    })`,
  );
}

let processDefault: GpuImplementationChoice = "deno";

/**
 * Sets the implementation `getGpu()` uses when called without one (initially `"deno"`). Gpus
 * already acquired are kept, one per implementation.
 *
 * @throws {RangeError} for a name that is not a {@link GpuImplementationChoice}
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultGpuImplementation, useGpuImplementation } from "./implementation.ts";
 * const before = defaultGpuImplementation();
 * useGpuImplementation("auto");
 * assert.equal(defaultGpuImplementation(), "auto");
 * useGpuImplementation(before);
 * ```
 */
export function useGpuImplementation(choice: GpuImplementationChoice): void {
  processDefault = parseGpuImplementation(choice);
}

/**
 * The implementation `getGpu()` uses when called without one.
 *
 * @example
 * ```ts
 * import { defaultGpuImplementation } from "./implementation.ts";
 * console.log(defaultGpuImplementation()); // "deno" unless useGpuImplementation changed it
 * ```
 */
export function defaultGpuImplementation(): GpuImplementationChoice {
  return processDefault;
}
