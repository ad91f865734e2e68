import { assertBitsEqual, assertEquals, assertOk, assertThrows } from "../assert.ts";
import { normal } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { createBufferFrom } from "../../src/gpu/buffers.ts";
import { getGpu, type Gpu } from "../../src/gpu/device.ts";
import { ClipKernel, type GradTensor } from "../../kernels/clip/mod.ts";
import { CLIP_CHUNK } from "../../kernels/clip/wgsl.ts";
import { clipReference } from "../../kernels/clip/reference.ts";

/** `size` normal values times `scale`, padded to whole vec4 with large garbage (must be ignored). */
function gradient(size: number, seed: number, scale = 1): Float32Array {
  const g = normal(seed);
  const padded = new Float32Array(Math.ceil(size / 4) * 4).fill(1e3);
  for (let i = 0; i < size; i++) padded[i] = g() * scale;
  return padded;
}

async function runClip(
  grads: Float32Array[],
  sizes: number[],
  maxNorm: number,
  gpu?: Gpu,
): Promise<Float32Array> {
  gpu ??= await getGpu();
  const buffers = grads.map((g) => upload(gpu, g));
  const clip = zeros(gpu, 2);
  const kernel = await ClipKernel.create(gpu);
  const op = kernel.bind({
    tensors: buffers.map((grad, i) => ({ grad, size: sizes[i] })),
    clip,
  }, { maxNorm });
  runOps(gpu, [op]);
  const out = await download(gpu, clip, 2);
  assertEquals(op.dispatches, Math.ceil(sizes.filter((s) => s > 0).length / kernel.slots) + 1);
  op.destroy();
  for (const b of [...buffers, clip]) b.destroy();
  return out;
}

function assertMatches(out: Float32Array, grads: Float32Array[], sizes: number[], max: number) {
  const ref = clipReference(grads.map((g, i) => g.subarray(0, sizes[i])), max);
  assertOk(
    Math.abs(out[0] - ref.norm) <= 1e-5 * ref.norm,
    `norm: got ${out[0]}, expected ${ref.norm}`,
  );
  assertOk(
    Math.abs(out[1] - ref.factor) <= 1e-5 * ref.factor,
    `factor: got ${out[1]}, expected ${ref.factor}`,
  );
}

Deno.test("clip norm and factor equal the float64 reference over tensors of many sizes", async (t) => {
  const sizes = [1, 3, 4, 5, 1000, 2 * CLIP_CHUNK + 13];
  const grads = sizes.map((n, i) => gradient(n, 100 + i, 10 ** (i % 3 - 1)));
  const norm = clipReference(grads.map((g, i) => g.subarray(0, sizes[i])), Infinity).norm;
  for (const maxNorm of [norm / 3, norm * 2, Infinity]) {
    await t.step(`maxNorm ${maxNorm}`, async () => {
      const out = await runClip(grads, sizes, maxNorm);
      assertMatches(out, grads, sizes, maxNorm);
      assertOk(maxNorm < norm ? out[1] < 1 : out[1] === 1);
    });
  }
});

Deno.test("clip batches many tensors per dispatch, for any slot count", async (t) => {
  const real = await getGpu();
  const sizes = Array.from({ length: 37 }, (_, i) => [1, 6, 9, 300, 0][i % 5] + (i % 3));
  sizes[20] = CLIP_CHUNK + 3; // two workgroups inside a batch
  const grads = sizes.map((n, i) => gradient(n, 60 + i, 0.5 + (i % 4)));
  // The largest count needs 17 storage buffers; a device that allows fewer runs its own maximum.
  const most = Math.min(1000, real.limits.maxStorageBuffersPerShaderStage);
  for (const limit of [most, 4, 2]) {
    await t.step(`maxStorageBuffersPerShaderStage ${limit}`, async () => {
      const limits = { ...real.limits, maxStorageBuffersPerShaderStage: limit };
      const gpu: Gpu = { ...real, limits };
      assertEquals((await ClipKernel.create(gpu)).slots, Math.min(16, limit - 1));
      assertMatches(await runClip(grads, sizes, 3, gpu), grads, sizes, 3);
    });
  }
});

Deno.test("clip: empty lists and empty tensors give norm 0 and factor 1", async () => {
  assertEquals([...await runClip([], [], 1)], [0, 1]);
  const out = await runClip([new Float32Array(4), gradient(2, 7)], [0, 2], 1);
  assertMatches(out, [new Float32Array(0), gradient(2, 7)], [0, 2], 1);
});

Deno.test("clip works on 256-aligned ranges of one shared buffer", async () => {
  const gpu = await getGpu();
  const sizes = [7, 300];
  const a = gradient(7, 1);
  const b = gradient(300, 2);
  const shared = new Float32Array(64 + 512).fill(-5e3); // garbage between the ranges
  shared.set(a, 0);
  shared.set(b, 64); // byte offset 256
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffer = createBufferFrom(gpu.device, shared, usage);
  const clip = zeros(gpu, 2);
  const tensors: GradTensor[] = [
    { grad: { buffer, offset: 0, size: 32 }, size: 7 },
    { grad: { buffer, offset: 256, size: 1200 }, size: 300 },
  ];
  const op = (await ClipKernel.create(gpu)).bind({ tensors, clip }, { maxNorm: 1 });
  runOps(gpu, [op]);
  assertMatches(await download(gpu, clip, 2), [a, b], sizes, 1);
  op.destroy();
  buffer.destroy();
  clip.destroy();
});

Deno.test("clip is deterministic: two runs are bit-identical", async () => {
  const sizes = [3 * CLIP_CHUNK + 5, 777];
  const grads = sizes.map((n, i) => gradient(n, 40 + i, 1e3));
  const a = await runClip(grads, sizes, 1);
  const b = await runClip(grads, sizes, 1);
  assertBitsEqual(a, b, "clip buffer");
});

Deno.test("clip partials beyond one dispatch dimension use the split dispatch", async () => {
  const real = await getGpu();
  const gpu: Gpu = { ...real, limits: { ...real.limits, maxComputeWorkgroupsPerDimension: 2 } };
  const sizes = [4 * CLIP_CHUNK + 1]; // 5 workgroups as [2, 3]
  const grads = [gradient(sizes[0], 5)];
  assertMatches(await runClip(grads, sizes, 0.5, gpu), grads, sizes, 0.5);
});

Deno.test("clip rejects bad arguments", async () => {
  const gpu = await getGpu();
  const kernel = await ClipKernel.create(gpu);
  const grad = zeros(gpu, 8);
  const clip = zeros(gpu, 2);
  const tensors = [{ grad, size: 8 }];
  assertThrows(() => kernel.bind({ tensors, clip }, { maxNorm: 0 }), /maxNorm must be > 0, got 0/);
  assertThrows(() => kernel.bind({ tensors: [{ grad, size: 9 }], clip }, { maxNorm: 1 }), {
    name: "RangeError",
    message: /tensors\[0\]\.grad binds 32 bytes, needs 48/,
  });
  assertThrows(
    () =>
      kernel.bind({ tensors: [{ grad: { buffer: grad, offset: 4 }, size: 1 }], clip }, {
        maxNorm: 1,
      }),
    /offset 4 is not a multiple of 256/,
  );
  assertThrows(() => kernel.bind({ tensors: [{ grad, size: -1 }], clip }, { maxNorm: 1 }), /-1/);
  const limits = { ...gpu.limits, maxStorageBufferBindingSize: 16 };
  const limited = await ClipKernel.create({ ...gpu, limits });
  assertThrows(() => limited.bind({ tensors, clip }, { maxNorm: 1 }), /8 elements need 32 bytes/);
  const small = zeros(gpu, 1);
  assertThrows(() => kernel.bind({ tensors, clip: small }, { maxNorm: 1 }), /io\.clip/);
  assertThrows(() => clipReference([], -1), RangeError);
  assertThrows(() => kernel.bind({ tensors, clip }, { maxNorm: NaN }), /got NaN/);
  for (const b of [grad, clip, small]) b.destroy();
});
