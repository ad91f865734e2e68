import assert from "node:assert/strict";
import { getGpu } from "../../src/gpu/device.ts";
import { createBufferFrom, createEmptyBuffer, readBuffer } from "../../src/gpu/buffers.ts";

const { COPY_SRC, STORAGE } = GPUBufferUsage;

Deno.test("readBuffer round-trips data, including unpadded lengths and offsets", async () => {
  const { device } = await getGpu();
  const floats = new Float32Array([1.5, -2, 3.25, Math.PI]);
  const a = createBufferFrom(device, floats, STORAGE | COPY_SRC, "floats");
  assert.deepEqual(new Float32Array(await readBuffer(device, a)), floats);
  assert.deepEqual(new Float32Array(await readBuffer(device, a, 8, 8)), floats.subarray(2));
  a.destroy();

  const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7]).subarray(2); // 5 bytes at an offset
  const b = createBufferFrom(device, bytes, COPY_SRC);
  assert.equal(b.size, 8);
  assert.deepEqual(new Uint8Array(await readBuffer(device, b, bytes.byteLength)), bytes);
  b.destroy();

  const c = createEmptyBuffer(device, 6, STORAGE | COPY_SRC);
  assert.equal(c.size, 8);
  assert.deepEqual(new Uint8Array(await readBuffer(device, c)), new Uint8Array(8));
  c.destroy();
});
