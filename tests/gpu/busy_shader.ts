/**
 * A compute shader that keeps the GPU busy for a measurable moment (64 dependent FMAs per element
 * of a storage buffer), and a recorder of its passes, for the timing tests.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { bindGroup, PipelineCache } from "../../src/gpu/pipelines.ts";

/** WGSL: `x[i] = 1.0001·x[i] + 1` 64 times, one invocation per element, 64 per workgroup. */
export const BUSY_SHADER = `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  var v = x[id.x];
  for (var i = 0u; i < 64u; i++) { v = v * 1.0001 + 1.0; }
  x[id.x] = v;
}`;

/**
 * Records busy passes on `gpu`: `submit(writes)` encodes one pass of {@link BUSY_SHADER} (64
 * workgroups) with the given timestamp writes, lets `resolve` add to the encoder, and submits it.
 */
export async function busyPasses(gpu: Gpu): Promise<{
  submit(
    writes: GPUComputePassTimestampWrites | undefined,
    resolve: (encoder: GPUCommandEncoder) => void,
  ): void;
  destroy(): void;
}> {
  const pipeline = await new PipelineCache(gpu.device).getAsync(BUSY_SHADER);
  const buffer = gpu.device.createBuffer({ size: 4096 * 4, usage: GPUBufferUsage.STORAGE });
  const group = bindGroup(gpu.device, pipeline, [buffer]);
  return {
    submit(writes, resolve) {
      const encoder = gpu.device.createCommandEncoder();
      const pass = encoder.beginComputePass(writes ? { timestampWrites: writes } : {});
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(64);
      pass.end();
      resolve(encoder);
      gpu.device.queue.submit([encoder.finish()]);
    },
    destroy: () => buffer.destroy(),
  };
}
