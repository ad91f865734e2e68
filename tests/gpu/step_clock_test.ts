import assert from "node:assert/strict";
import { getGpu } from "../../src/gpu/device.ts";
import { StepClock } from "../../src/gpu/step_clock.ts";
import { busyPasses } from "./busy_shader.ts";

Deno.test("a step clock gives one GPU time per timestamped pass, in order, and starts afresh after a read", async () => {
  const gpu = await getGpu();
  if (!gpu.features.has("timestamp-query")) {
    assert.throws(() => new StepClock(gpu, 4), /lacks timestamp-query/);
    return;
  }
  const busy = await busyPasses(gpu);
  const clock = new StepClock(gpu, 3);
  const step = () => busy.submit(clock.nextWrites(), (e) => clock.resolve(e));
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
  busy.destroy();
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
