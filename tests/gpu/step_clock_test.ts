import assert from "node:assert/strict";
import { getGpu } from "../../src/gpu/device.ts";
import { bindGroup, PipelineCache } from "../../src/gpu/pipelines.ts";
import { StepClock } from "../../src/gpu/step_clock.ts";
import { BUSY_SHADER } from "./busy_shader.ts";

Deno.test("a step clock gives one GPU time per timestamped pass, in order, and starts afresh after a read", async () => {
  const gpu = await getGpu();
  if (!gpu.features.has("timestamp-query")) {
    assert.throws(() => new StepClock(gpu, 4), /lacks timestamp-query/);
    return;
  }
  const pipeline = await new PipelineCache(gpu.device).getAsync(BUSY_SHADER);
  const buffer = gpu.device.createBuffer({ size: 4096 * 4, usage: GPUBufferUsage.STORAGE });
  const group = bindGroup(gpu.device, pipeline, [buffer]);
  const clock = new StepClock(gpu, 3);
  const step = () => {
    const encoder = gpu.device.createCommandEncoder();
    const pass = encoder.beginComputePass({ timestampWrites: clock.nextWrites() });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(64);
    pass.end();
    clock.resolve(encoder);
    gpu.device.queue.submit([encoder.finish()]);
  };
  gpu.device.pushErrorScope("validation");
  for (let i = 0; i < 3; i++) step();
  assert.equal(await gpu.device.popErrorScope(), null);
  assert.equal(clock.pending, 3);
  assert.throws(() => clock.nextWrites(), /3 steps are pending/);
  const ms = await clock.read();
  assert.equal(ms.length, 3);
  for (const t of ms) assert.ok(Number.isFinite(t) && t >= 0, `bad GPU time ${t}`);
  assert.equal(clock.pending, 0);
  step();
  assert.equal((await clock.read()).length, 1);
  assert.deepEqual(await clock.read(), []);
  clock.destroy();
  buffer.destroy();
});

Deno.test("a step clock refuses a capacity outside [1, 2048]", async () => {
  const gpu = await getGpu();
  for (const bad of [0, 2049, 1.5]) {
    assert.throws(() => new StepClock(gpu, bad), /capacity must be an integer in \[1, 2048\]/);
  }
});

Deno.test("a step clock resolves only the pass it gave writes for", async () => {
  const gpu = await getGpu();
  if (!gpu.features.has("timestamp-query")) {
    assert.throws(() => new StepClock(gpu, 2), /lacks timestamp-query/);
    return;
  }
  const clock = new StepClock(gpu, 2);
  assert.throws(() => clock.resolve(gpu.device.createCommandEncoder()), /no pass to resolve/);
  clock.nextWrites();
  assert.throws(() => clock.nextWrites(), /resolve the previous pass/);
  clock.destroy();
});
