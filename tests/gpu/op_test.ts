import assert from "node:assert/strict";
import { getGpu } from "../../src/gpu/device.ts";
import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
import { type Dispatch, dispatchOp, encodeDispatches, uniformBuffer } from "../../src/gpu/op.ts";
import { bindGroup, PipelineCache } from "../../src/gpu/pipelines.ts";

/** A pass encoder that only records the calls made on it. */
function recordingPass(): { pass: GPUComputePassEncoder; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const pass = {
    setPipeline: (p: unknown) => calls.push(["setPipeline", p]),
    setBindGroup: (i: number, g: unknown) => calls.push(["setBindGroup", i, g]),
    dispatchWorkgroups: (...xy: number[]) => calls.push(["dispatchWorkgroups", ...xy]),
  } as unknown as GPUComputePassEncoder;
  return { pass, calls };
}

Deno.test("encodeDispatches records pipeline, bind group 0 and workgroups of each dispatch in order", () => {
  const [p1, p2, g1, g2] = ["p1", "p2", "g1", "g2"].map((name) => ({ name }));
  const dispatches = [
    [p1, g1, 3, 1],
    [p2, g2, 5, 2, 4],
  ] as unknown as Dispatch[];
  const { pass, calls } = recordingPass();
  encodeDispatches(pass, dispatches);
  assert.deepEqual(calls, [
    ["setPipeline", p1],
    ["setBindGroup", 0, g1],
    ["dispatchWorkgroups", 3, 1, 1],
    ["setPipeline", p2],
    ["setBindGroup", 0, g2],
    ["dispatchWorkgroups", 5, 2, 4],
  ]);
});

Deno.test("dispatchOp counts its dispatches and destroys only the buffers it owns", () => {
  const destroyed: string[] = [];
  const buffer = (name: string) =>
    ({ destroy: () => destroyed.push(name) }) as unknown as GPUBuffer;
  const op = dispatchOp([[{}, {}, 1, 1]] as unknown as Dispatch[], [buffer("u1"), buffer("u2")]);
  assert.equal(op.dispatches, 1);
  op.destroy();
  assert.deepEqual(destroyed, ["u1", "u2"]);
  const empty = dispatchOp([]);
  const { pass, calls } = recordingPass();
  empty.encode(pass);
  empty.destroy();
  assert.equal(empty.dispatches, 0);
  assert.deepEqual(calls, []);
});

Deno.test("dispatchOp runs its dispatches on the GPU in list order", async () => {
  const { device } = await getGpu();
  // x ← x·2 then x ← x + 1 gives 2x + 1; the other order would give 2x + 2.
  const code = `override MUL: f32 = 1.0;
override ADD: f32 = 0.0;
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < arrayLength(&x)) { x[id.x] = x[id.x] * MUL + ADD; }
}`;
  const cache = new PipelineCache(device);
  const double = await cache.getAsync(code, "main", { MUL: 2 });
  const increment = await cache.getAsync(code, "main", { ADD: 1 });
  const x = createBufferFrom(
    device,
    new Float32Array([1, 2, 3]),
    GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  );
  const params = uniformBuffer(device, [3]);
  const op = dispatchOp([
    [double, bindGroup(device, double, [x]), 1, 1],
    [increment, bindGroup(device, increment, [x]), 1, 1],
  ], [params]);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  op.encode(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
  assert.deepEqual([...new Float32Array(await readBuffer(device, x))], [3, 5, 7]);
  op.destroy();
  x.destroy();
});
