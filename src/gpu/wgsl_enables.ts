/**
 * The `enable` directives of a WGSL shader, generated for the implementation it runs on. The two
 * implementations disagree: Dawn needs `enable subgroups;` before subgroup built-ins, while Deno's
 * WGSL compiler (naga) rejects that directive ("enable-extension is not yet supported") and allows
 * the built-ins once the device has the `subgroups` feature. Both need `enable f16;`. Only Dawn has
 * `chromium_experimental_subgroup_matrix`.
 *
 * Each extension needs its device feature; asking for one the device did not grant throws here,
 * with the feature's name, instead of failing later in the shader compiler.
 *
 * @module
 */

import type { Gpu } from "./device.ts";

/**
 * A WGSL extension a kernel may enable.
 *
 * @example
 * ```ts
 * import type { WgslExtension } from "./wgsl_enables.ts";
 * const needs: WgslExtension[] = ["f16", "subgroups"];
 * ```
 */
export type WgslExtension = "f16" | "subgroups" | "chromium_experimental_subgroup_matrix";

/** The device feature each extension needs. */
const FEATURE: Readonly<Record<WgslExtension, string>> = {
  f16: "shader-f16",
  subgroups: "subgroups",
  chromium_experimental_subgroup_matrix: "chromium-experimental-subgroup-matrix",
};

/**
 * The `enable` lines (each ending in a newline; `""` for none) that put `extensions` in a shader
 * on `gpu`'s implementation: every extension on Dawn; `f16` only on Deno.
 *
 * @throws {Error} when the device did not grant an extension's feature
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wgslEnables } from "./wgsl_enables.ts";
 * const deno = { implementation: { name: "deno" as const }, features: new Set(["shader-f16", "subgroups"]) };
 * const dawn = { ...deno, implementation: { name: "dawn" as const } };
 * assert.equal(wgslEnables(deno, ["f16", "subgroups"]), "enable f16;\n");
 * assert.equal(wgslEnables(dawn, ["f16", "subgroups"]), "enable f16;\nenable subgroups;\n");
 * assert.equal(wgslEnables(dawn, []), "");
 * assert.throws(() => wgslEnables(dawn, ["chromium_experimental_subgroup_matrix"]), /chromium-experimental-subgroup-matrix/);
 * ```
 */
export function wgslEnables(
  gpu: {
    readonly implementation: Pick<Gpu["implementation"], "name">;
    readonly features: ReadonlySet<string>;
  },
  extensions: readonly WgslExtension[],
): string {
  let lines = "";
  for (const extension of new Set(extensions)) {
    const feature = FEATURE[extension];
    if (!gpu.features.has(feature)) {
      throw new Error(
        `WGSL extension ${extension} needs the WebGPU feature "${feature}", which the ` +
          `${gpu.implementation.name} device did not grant`,
      );
    }
    if (gpu.implementation.name === "dawn" || extension === "f16") {
      lines += `enable ${extension};\n`;
    }
  }
  return lines;
}
