import assert from "node:assert/strict";
import { getGpu } from "../../src/gpu/device.ts";
import { bindGroup, PipelineCache } from "../../src/gpu/pipelines.ts";
import { GpuTimer, median } from "../../src/gpu/timing.ts";
import { BUSY_SHADER } from "./busy_shader.ts";

async function timeWith(method?: "wall-clock") {
  const gpu = await getGpu();
  const pipeline = await new PipelineCache(gpu.device).getAsync(BUSY_SHADER);
  const buffer = gpu.device.createBuffer({ size: 4096 * 4, usage: GPUBufferUsage.STORAGE });
  const group = bindGroup(gpu.device, pipeline, [buffer]);
  const timer = new GpuTimer(gpu, { method });
  const result = await timer.time((pass) => {
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(64);
  }, { iterations: 5, warmup: 1 });
  buffer.destroy();
  return { gpu, timer, result };
}

function assertPositive(samples: number[], msPerIteration: number) {
  assert.equal(samples.length, 5);
  for (const s of samples) assert.ok(Number.isFinite(s) && s > 0, `bad sample ${s}`);
  assert.equal(msPerIteration, median(samples));
}

Deno.test("GpuTimer uses timestamp queries when granted and returns positive times", async () => {
  const { gpu, timer, result } = await timeWith();
  const expected = gpu.features.has("timestamp-query") ? "timestamp-query" : "wall-clock";
  assert.equal(timer.method, expected);
  assert.equal(result.method, expected);
  assertPositive(result.samples, result.msPerIteration);
});

Deno.test("GpuTimer wall-clock fallback returns positive times", async () => {
  const { result } = await timeWith("wall-clock");
  assert.equal(result.method, "wall-clock");
  assertPositive(result.samples, result.msPerIteration);
});

Deno.test("GpuTimer refuses timestamp-query when the device lacks it", async () => {
  const gpu = await getGpu();
  assert.throws(
    () => new GpuTimer({ ...gpu, features: new Set() }, { method: "timestamp-query" }),
    /lacks timestamp-query/,
  );
});

Deno.test("median handles odd and even counts and rejects empty input", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
});
