/**
 * The environment line every benchmark table ends with: runtime, OS, the WebGPU implementation and
 * the adapter with its granted features, so that a table pasted anywhere still says where it was
 * measured.
 *
 * @module
 */

import type { Gpu } from "../src/gpu/device.ts";
import { implementationOf } from "../src/report/environment.ts";

/**
 * One markdown line describing the runtime and adapter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../src/gpu/device.ts";
 * import { environmentLine } from "./environment_line.ts";
 * assert.match(environmentLine(await getGpu()), /^Environment: Deno /);
 * ```
 */
export function environmentLine(gpu: Gpu): string {
  const i = gpu.info;
  return `Environment: Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
    `${Deno.build.os}/${Deno.build.arch}; WebGPU ${implementationOf(gpu)}; ` +
    `adapter "${i.description}" (vendor ${i.vendor}, ` +
    `architecture "${i.architecture}"); features ${[...gpu.features].sort().join(", ") || "none"}.`;
}
