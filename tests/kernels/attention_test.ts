import {
  assertBitsEqual,
  assertCloseRms as assertClose,
  assertOk,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { normal } from "../tensors.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { AttentionKernel } from "../../kernels/attention/mod.ts";
import {
  attentionBackward,
  type AttentionDims,
  attentionForward,
} from "../../kernels/attention/reference.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";

const randn = (n: number, seed: number, scale = 1) => {
  const g = normal(seed);
  return Float32Array.from({ length: n }, () => g() * scale);
};

interface GpuResult {
  y: Float32Array;
  lse: Float32Array;
  dqkv: Float32Array;
}

/** Runs forward then backward in one pass. */
async function runAttention(
  dims: AttentionDims,
  qkvData: Float32Array,
  dyData: Float32Array,
): Promise<GpuResult> {
  const gpu = await getGpu();
  const kernel = await AttentionKernel.create(gpu, dims);
  const rows = dims.batch * dims.seq;
  const d = dims.heads * dims.headDim;
  const qkv = upload(gpu, qkvData);
  const dy = upload(gpu, dyData);
  const y = zeros(gpu, rows * d);
  const lse = zeros(gpu, rows * dims.heads);
  const dqkv = zeros(gpu, rows * 3 * d);
  const ops = [
    kernel.bindForward({ qkv, y, lse }, dims),
    kernel.bindBackward({ qkv, y, lse, dy, dqkv }, dims),
  ];
  runOps(gpu, ops);
  const result = {
    y: await download(gpu, y, rows * d),
    lse: await download(gpu, lse, rows * dims.heads),
    dqkv: await download(gpu, dqkv, rows * 3 * d),
  };
  for (const o of ops) o.destroy();
  for (const b of [qkv, dy, y, lse, dqkv]) b.destroy();
  return result;
}

const size = (d: AttentionDims) => d.batch * d.seq * 3 * d.heads * d.headDim;

/** Shapes: the brief's tiny ones, then several tiles with a padded head dim, then Dh = 128. */
const SHAPES: AttentionDims[] = [
  { batch: 2, seq: 5, heads: 2, headDim: 8 },
  { batch: 2, seq: 17, heads: 2, headDim: 16 },
  { batch: 2, seq: 17, heads: 2, headDim: 8 },
  { batch: 1, seq: 70, heads: 2, headDim: 12 },
  { batch: 1, seq: 67, heads: 1, headDim: 128 },
];

Deno.test("attention GPU forward and backward match the float64 CPU reference", async (t) => {
  for (const [n, dims] of SHAPES.entries()) {
    const label = `B=${dims.batch} T=${dims.seq} H=${dims.heads} Dh=${dims.headDim}`;
    await t.step(label, async () => {
      const x = randn(size(dims), 100 + n);
      const dy = randn(size(dims) / 3, 200 + n);
      const gpu = await runAttention(dims, x, dy);
      const ref = attentionForward(x, dims);
      assertClose(gpu.y, ref.y, 1e-5, "y");
      assertClose(gpu.lse, ref.lse, 1e-5, "lse");
      assertClose(gpu.dqkv, attentionBackward(x, dy, dims), 1e-5, "dqkv");
    });
  }
});

Deno.test("attention GPU stays accurate with large scores (stable softmax)", async () => {
  const dims = { batch: 1, seq: 40, heads: 2, headDim: 16 };
  const x = randn(size(dims), 7, 6); // scores of several hundred: exp would overflow unshifted
  const dy = randn(size(dims) / 3, 8);
  const gpu = await runAttention(dims, x, dy);
  const ref = attentionForward(x, dims);
  assertClose(gpu.y, ref.y, 1e-5, "y");
  assertClose(gpu.lse, ref.lse, 1e-5, "lse");
  assertClose(gpu.dqkv, attentionBackward(x, dy, dims), 1e-4, "dqkv");
});

Deno.test("attention is causal: later tokens do not change earlier outputs", async () => {
  const dims = { batch: 2, seq: 37, heads: 2, headDim: 8 };
  const width = 3 * dims.heads * dims.headDim;
  const d = dims.heads * dims.headDim;
  const x = randn(size(dims), 1);
  const dy = randn(size(dims) / 3, 2);
  const cut = 20; // rows t ≥ cut of every batch get new q, k, v
  const changed = Float32Array.from(x);
  const noise = randn(size(dims), 3);
  for (let b = 0; b < dims.batch; b++) {
    for (let t = cut; t < dims.seq; t++) {
      const at = (b * dims.seq + t) * width;
      for (let e = 0; e < width; e++) changed[at + e] = noise[at + e];
    }
  }
  const a = await runAttention(dims, x, dy);
  const c = await runAttention(dims, changed, dy);
  const refA = attentionForward(x, dims);
  const refC = attentionForward(changed, dims);
  for (let b = 0; b < dims.batch; b++) {
    const rows = [(b * dims.seq) * d, (b * dims.seq + cut) * d];
    assertBitsEqual(a.y.subarray(...rows), c.y.subarray(...rows), `GPU y, batch ${b}`);
    assertBitsEqual(refA.y.subarray(...rows), refC.y.subarray(...rows), `CPU y, batch ${b}`);
    for (let h = 0; h < dims.heads; h++) {
      const at = (b * dims.heads + h) * dims.seq;
      assertBitsEqual(a.lse.subarray(at, at + cut), c.lse.subarray(at, at + cut), "GPU lse");
    }
    // The changed rows do change their own outputs.
    const last = (b * dims.seq + dims.seq - 1) * d;
    assertOk(a.y[last] !== c.y[last], "the last row changed");
  }
});

Deno.test("attention GPU results are bit-identical across runs", async () => {
  const dims = { batch: 2, seq: 45, heads: 2, headDim: 16 };
  const x = randn(size(dims), 4);
  const dy = randn(size(dims) / 3, 5);
  const a = await runAttention(dims, x, dy);
  const b = await runAttention(dims, x, dy);
  assertBitsEqual(b.y, a.y, "y");
  assertBitsEqual(b.lse, a.lse, "lse");
  assertBitsEqual(b.dqkv, a.dqkv, "dqkv");
});

Deno.test("attention reference backward equals central finite differences", () => {
  for (
    const dims of [{ batch: 2, seq: 4, heads: 2, headDim: 3 }, {
      batch: 1,
      seq: 6,
      heads: 1,
      headDim: 2,
    }]
  ) {
    const n = size(dims);
    const x = Float64Array.from(randn(n, 11));
    const g = Float64Array.from(randn(n / 3, 12));
    const loss = (v: Float64Array) =>
      attentionForward(v, dims).y.reduce((s, y, i) => s + y * g[i], 0);
    const grad = attentionBackward(x, g, dims);
    const h = 1e-5;
    for (let i = 0; i < n; i++) {
      const plus = Float64Array.from(x);
      const minus = Float64Array.from(x);
      plus[i] += h;
      minus[i] -= h;
      const fd = (loss(plus) - loss(minus)) / (2 * h);
      assertOk(
        Math.abs(fd - grad[i]) <= 1e-7 * (1 + Math.abs(fd)),
        `[${i}] fd ${fd} vs ${grad[i]}`,
      );
    }
  }
});

Deno.test("attention reference: lse is the log-sum-exp of the scaled causal scores", () => {
  const dims = { batch: 1, seq: 3, heads: 1, headDim: 4 };
  const x = randn(size(dims), 21);
  const { lse } = attentionForward(x, dims);
  const q = x.subarray(24, 28); // token 2
  let sum = 0;
  for (let j = 0; j < 3; j++) {
    const k = x.subarray(j * 12 + 4, j * 12 + 8);
    sum += Math.exp(q.reduce((s, v, e) => s + v * k[e], 0) / 2);
  }
  assertOk(Math.abs(lse[2] - Math.log(sum)) < 1e-12);
});

Deno.test("attention rejects bad configurations and short buffers", async () => {
  const gpu = await getGpu();
  await assertRejects(AttentionKernel.create(gpu, { heads: 1, headDim: 129 }), RangeError);
  await assertRejects(AttentionKernel.create(gpu, { heads: 0, headDim: 8 }), RangeError);
  const kernel = await AttentionKernel.create(gpu, { heads: 2, headDim: 8 });
  const big = zeros(gpu, 3 * 16 * 4);
  const small = zeros(gpu, 4);
  const dims = { batch: 1, seq: 4 };
  assertThrows(() => kernel.bindForward({ qkv: small, y: big, lse: big }, dims), RangeError);
  assertThrows(() => kernel.bindForward({ qkv: big, y: big, lse: big }, { batch: 1, seq: 0 }));
  assertThrows(
    () => kernel.bindBackward({ qkv: big, y: big, lse: big, dy: big, dqkv: small }, dims),
    RangeError,
  );
  big.destroy();
  small.destroy();
});
