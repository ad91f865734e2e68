import assert from "node:assert/strict";
import { getGpu } from "../../src/gpu/device.ts";
import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
import { bindGroup, PipelineCache } from "../../src/gpu/pipelines.ts";

const ADD = `override ADDEND: f32 = 1.0;
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < arrayLength(&dst)) { dst[id.x] = src[id.x] + ADDEND; }
}`;

Deno.test("PipelineCache returns the same pipeline for the same code and constants", async () => {
  const { device } = await getGpu();
  const cache = new PipelineCache(device);
  const p = await cache.getAsync(ADD);
  assert.equal(cache.get(ADD), p);
  assert.equal(await cache.getAsync(ADD, "main"), p);
  const two = cache.get(ADD, "main", { ADDEND: 2 });
  assert.notEqual(two, p);
  assert.equal(await cache.getAsync(ADD, "main", { ADDEND: 2 }), two);
});

Deno.test("PipelineCache reports WGSL errors with the bad line", async () => {
  const { device } = await getGpu();
  const cache = new PipelineCache(device);
  const bad = `@group(0) @binding(0) var<storage, read_write> x: array<u32>;
@compute @workgroup_size(1) fn main() {
  let y: u32 = 1.5;
  x[0] = y;
}`;
  await assert.rejects(cache.getAsync(bad), (e: Error) => {
    assert.match(e.message, /WGSL compilation failed/);
    assert.match(e.message, /line 3:/);
    assert.match(e.message, /let y: u32 = 1\.5;/);
    return true;
  });
  await assert.rejects(cache.getAsync(ADD, "nope"), /pipeline creation failed.*"nope"/s);
  // Also caught when a plain get() cached the invalid pipeline first (its error caught here).
  device.pushErrorScope("validation");
  cache.get(ADD, "missing");
  assert.match((await device.popErrorScope())?.message ?? "", /missing/);
  await assert.rejects(cache.getAsync(ADD, "missing"), /pipeline creation failed/);
});

Deno.test("a compute shader bound with bindGroup adds a constant to each element", async () => {
  const { device } = await getGpu();
  const n = 130;
  const input = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 7);
  const src = createBufferFrom(device, input, GPUBufferUsage.STORAGE);
  const dst = device.createBuffer({
    size: 2 * n * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const pipeline = await new PipelineCache(device).getAsync(ADD, "main", { ADDEND: 1 });
  const group = bindGroup(device, pipeline, [src, { buffer: dst, offset: 0, size: n * 4 }]);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(Math.ceil(n / 64));
  pass.end();
  device.queue.submit([encoder.finish()]);
  const out = new Float32Array(await readBuffer(device, dst));
  assert.deepEqual(out.subarray(0, n), input.map((x) => x + 1));
  assert.deepEqual(out.subarray(n), new Float32Array(n), "binding size limits the writes");
  src.destroy();
  dst.destroy();
});
