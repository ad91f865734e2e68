/**
 * A plain vec4 copy kernel: the bandwidth yardstick the quantizer benchmark compares against.
 *
 * @module
 */

import type { Gpu } from "../src/gpu/device.ts";
import { encodeDispatches } from "../src/gpu/op.ts";
import { bindGroup, pipelineCache, splitDispatch } from "../src/gpu/pipelines.ts";

const WORKGROUP = 256;

const COPY = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
override GX: u32 = 1u;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * GX + wid.x) * ${WORKGROUP}u + lid;
  if (i < arrayLength(&dst)) { dst[i] = src[i]; }
}
`;

/**
 * Records a copy of `src` into `dst` (equal sizes, multiples of 16 bytes).
 *
 * @example
 * ```ts
 * import { getGpu } from "../src/gpu/device.ts";
 * import { copyKernel } from "./copy.ts";
 * const gpu = await getGpu();
 * const a = gpu.device.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE });
 * const b = gpu.device.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE });
 * const record = await copyKernel(gpu, a, b);
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * record(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * ```
 */
export async function copyKernel(
  gpu: Gpu,
  src: GPUBuffer,
  dst: GPUBuffer,
): Promise<(pass: GPUComputePassEncoder) => void> {
  const [gx, gy] = splitDispatch(gpu, Math.ceil(dst.size / 16 / WORKGROUP));
  const pipeline = await pipelineCache(gpu.device).getAsync(COPY, "main", { GX: gx });
  const group = bindGroup(gpu.device, pipeline, [src, dst]);
  return (pass) => encodeDispatches(pass, [[pipeline, group, gx, gy]]);
}
