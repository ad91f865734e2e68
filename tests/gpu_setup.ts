/**
 * Test-run setup, loaded with `deno test --preload tests/gpu_setup.ts … -- --gpu=<implementation>`:
 * makes that WebGPU implementation (`deno`, `dawn` or `auto`) the process default, so that every
 * `getGpu()` of the tests runs on it. Without `--gpu` it changes nothing (Deno's WebGPU); a bad
 * value fails the run before any test.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseGpuImplementation, useGpuImplementation } from "../src/gpu/implementation.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { gpu: { type: "string" } },
  strict: false,
});
if (typeof values.gpu === "string") useGpuImplementation(parseGpuImplementation(values.gpu));
