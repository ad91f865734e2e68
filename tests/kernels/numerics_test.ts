import { assertBitsEqual } from "../assert.ts";
import { uniform } from "../tensors.ts";
import { createBufferFrom, createEmptyBuffer, readBuffer } from "../../src/gpu/buffers.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { bindGroup } from "../../src/gpu/pipelines.ts";
import { pipelineCache } from "../../src/gpu/pipelines.ts";
import { wgslNumerics } from "../../kernels/_wgsl/numerics.ts";
import { div32, f32Bits } from "../../src/formats/fp32.ts";

Deno.test("WGSL div_rn is correctly rounded FP32 division (flushing subnormal quotients)", async () => {
  const u = uniform(5);
  const n = 1 << 14;
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // Exponents across the normal range, including quotients that overflow and underflow.
    a[i] = (1 + u()) * 2 ** Math.floor(u() * 250 - 125);
    b[i] = (1 + u()) * 2 ** Math.floor(u() * 250 - 125);
    if (i % 7 === 0) b[i] = a[i] * (1 + Math.floor(u() * 8)); // exact and near-exact quotients
    if (i % 11 === 0) a[i] = 1;
  }
  const { device } = await getGpu();
  const code = `${wgslNumerics([])}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> q: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  q[id.x] = div_rn(a[id.x], b[id.x]);
}`;
  const pipeline = await pipelineCache(device).getAsync(code);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  const bufs = [createBufferFrom(device, a, usage), createBufferFrom(device, b, usage)];
  bufs.push(createEmptyBuffer(device, n * 4, usage));
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(device, pipeline, bufs));
  pass.dispatchWorkgroups(n / 64);
  pass.end();
  device.queue.submit([enc.finish()]);
  const got = new Float32Array(await readBuffer(device, bufs[2]));
  bufs.forEach((x) => x.destroy());
  const want = Float32Array.from(a, (v, i) => div32(v, b[i])); // overflow gives +Inf
  assertBitsEqual(new Uint32Array(got.buffer), Uint32Array.from(want, f32Bits), "quotients");
});
