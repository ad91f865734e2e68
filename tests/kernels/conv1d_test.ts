import {
  assertBitsEqual,
  assertCloseMax,
  assertOk,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { CausalConvKernel } from "../../kernels/conv1d/mod.ts";
import {
  causalConvBackward,
  causalConvForward,
  type ConvDims,
  convScratchElements,
} from "../../kernels/conv1d/reference.ts";
import { normal } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { numericGrad } from "../gradcheck.ts";

/** `n` seeded normal values scaled by `scale`, as f32. */
function randn(n: number, seed: number, scale = 1): Float32Array {
  const g = normal(seed);
  return Float32Array.from({ length: n }, () => g() * scale);
}

/** Columns `[offset, offset + n)` of each of `rows` rows of stride `stride`, packed. */
function columns(a: Float32Array, rows: number, stride: number, offset: number, n: number) {
  return Float32Array.from(
    { length: rows * n },
    (_, i) => a[Math.floor(i / n) * stride + offset + i % n],
  );
}

interface Shape extends ConvDims {
  readonly xOffset: number;
  readonly xStride: number;
}

interface ConvRun {
  y: Float32Array;
  /** The whole strided dx buffer. */
  dx: Float32Array;
  dw: Float32Array;
  dBias: Float32Array;
}

/** Inputs of a shape: x and the dx buffer's initial contents are `[M, xStride]`. */
function inputs(s: Shape, seed: number) {
  const M = s.batch * s.seq;
  return {
    x: randn(M * s.xStride, seed, 1.5),
    w: randn(s.channels * s.window, seed + 1, 0.7),
    bias: randn(s.channels, seed + 2, 0.5),
    dy: randn(M * s.channels, seed + 3),
    dx0: randn(M * s.xStride, seed + 4),
  };
}

async function runConv(s: Shape, data: ReturnType<typeof inputs>): Promise<ConvRun> {
  const gpu = await getGpu();
  const M = s.batch * s.seq;
  const C = s.channels;
  const conv = await CausalConvKernel.create(gpu, { channels: C, window: s.window });
  const io = {
    x: upload(gpu, data.x),
    w: upload(gpu, data.w),
    bias: upload(gpu, data.bias),
    y: zeros(gpu, M * C),
    dy: upload(gpu, data.dy),
    dx: upload(gpu, data.dx0),
    dw: zeros(gpu, C * s.window),
    dBias: zeros(gpu, C),
    scratch: zeros(gpu, conv.scratchElements(s)),
  };
  const ops = [conv.forward(io, s), conv.backward(io, s)];
  runOps(gpu, ops);
  const out = {
    y: await download(gpu, io.y, M * C),
    dx: await download(gpu, io.dx, M * s.xStride),
    dw: await download(gpu, io.dw, C * s.window),
    dBias: await download(gpu, io.dBias, C),
  };
  ops.forEach((o) => o.destroy());
  Object.values(io).forEach((b) => b.destroy());
  return out;
}

// seq 1; seq < window with several sequences (no leaking between them); odd channel counts;
// vec4 column sums (C % 4 == 0); two channel groups (C > 64); more rows than row blocks, whose
// register windows then move across rows and sequence starts; K = 1.
const SHAPES: Shape[] = [
  { batch: 1, seq: 1, channels: 5, window: 4, xOffset: 0, xStride: 5 },
  { batch: 3, seq: 2, channels: 7, window: 4, xOffset: 3, xStride: 13 },
  { batch: 2, seq: 9, channels: 12, window: 4, xOffset: 5, xStride: 20 },
  { batch: 2, seq: 6, channels: 70, window: 3, xOffset: 1, xStride: 75 },
  { batch: 3, seq: 200, channels: 3, window: 2, xOffset: 2, xStride: 6 },
  { batch: 260, seq: 5, channels: 5, window: 4, xOffset: 1, xStride: 7 },
  { batch: 2, seq: 5, channels: 4, window: 1, xOffset: 0, xStride: 4 },
];

const label = (s: Shape) =>
  `batch ${s.batch} seq ${s.seq} C ${s.channels} K ${s.window} x[${s.xOffset}:/${s.xStride}]`;

Deno.test("CausalConvKernel forward and backward match the CPU reference", async (t) => {
  for (const [i, s] of SHAPES.entries()) {
    await t.step(label(s), async () => {
      const data = inputs(s, 10 * i);
      const M = s.batch * s.seq;
      const C = s.channels;
      const got = await runConv(s, data);
      const x = columns(data.x, M, s.xStride, s.xOffset, C);
      const want = causalConvBackward(x, data.w, data.bias, data.dy, s);
      assertCloseMax(got.y, causalConvForward(x, data.w, data.bias, s), "y");
      assertCloseMax(columns(got.dx, M, s.xStride, s.xOffset, C), want.dx, "dx");
      assertCloseMax(got.dw, want.dw, "dw");
      assertCloseMax(got.dBias, want.dBias, "dBias");
      // The other columns of the dx buffer keep their contents.
      const mask = (a: Float32Array) =>
        a.map((v, j) => (j % s.xStride >= s.xOffset && j % s.xStride < s.xOffset + C) ? 0 : v);
      assertBitsEqual(mask(got.dx), mask(data.dx0), "dx outside its columns");
    });
  }
});

Deno.test("CausalConvKernel is deterministic", async () => {
  const s = SHAPES[4];
  const data = inputs(s, 99);
  const a = await runConv(s, data);
  const b = await runConv(s, data);
  for (const k of ["y", "dx", "dw", "dBias"] as const) assertBitsEqual(a[k], b[k], k);
});

Deno.test("causalConvForward reads only the current and earlier rows of the same sequence", () => {
  const dims = { batch: 2, seq: 6, channels: 2, window: 3 };
  const x = Float64Array.from(randn(12 * 2, 1));
  const w = randn(6, 2);
  const bias = randn(2, 3);
  const before = causalConvForward(x, w, bias, dims);
  x[(1 * 6 + 2) * 2 + 1] += 1; // sequence 1, t = 2, channel 1
  const after = causalConvForward(x, w, bias, dims);
  for (let m = 0; m < 12; m++) {
    for (let c = 0; c < 2; c++) {
      const moved = c === 1 && m >= 8 && m <= 10; // t = 2…4 of sequence 1
      const i = m * 2 + c;
      assertOk(moved === (before[i] !== after[i]), `row ${m} channel ${c}`);
    }
  }
});

Deno.test("causalConvBackward equals central finite differences", () => {
  const shapes = [
    { batch: 2, seq: 3, channels: 2, window: 4 },
    { batch: 2, seq: 5, channels: 3, window: 2 },
  ];
  for (const dims of shapes) {
    const M = dims.batch * dims.seq;
    const x = Float64Array.from(randn(M * dims.channels, 1));
    const w = Float64Array.from(randn(dims.channels * dims.window, 2));
    const bias = Float64Array.from(randn(dims.channels, 3));
    const dy = Float64Array.from(randn(M * dims.channels, 4));
    const loss = () => causalConvForward(x, w, bias, dims).reduce((s, v, i) => s + v * dy[i], 0);
    const { dx, dw, dBias } = causalConvBackward(x, w, bias, dy, dims);
    assertCloseMax(dx, numericGrad(x, loss), "dx", 1e-7);
    assertCloseMax(dw, numericGrad(w, loss), "dw", 1e-7);
    assertCloseMax(dBias, numericGrad(bias, loss), "dBias", 1e-7);
  }
});

Deno.test("CausalConvKernel and convScratchElements reject bad arguments", async () => {
  const gpu = await getGpu();
  const configs: [{ channels: number; window?: number }, string][] = [
    [{ channels: 0 }, "channels"],
    [{ channels: 2.5 }, "channels"],
    [{ channels: 4, window: 0 }, "window"],
    [{ channels: 4, window: 17 }, "window"],
  ];
  for (const [config, name] of configs) {
    const error = { name: "RangeError", message: new RegExp(name) };
    await assertRejects(CausalConvKernel.create(gpu, config), error);
    assertThrows(() => convScratchElements(config, { batch: 1, seq: 1 }), error);
  }
  assertThrows(() => convScratchElements({ channels: 4 }, { batch: 0, seq: 1 }), /batch/);
  const conv = await CausalConvKernel.create(gpu, { channels: 4, window: 4 });
  assertOk(conv.window === 4 && conv.channels === 4);
  const io = {
    x: zeros(gpu, 2 * 6),
    w: zeros(gpu, 16),
    bias: zeros(gpu, 4),
    y: zeros(gpu, 8),
    dy: zeros(gpu, 8),
    dx: zeros(gpu, 2 * 6),
    dw: zeros(gpu, 16),
    dBias: zeros(gpu, 4),
    scratch: zeros(gpu, conv.scratchElements({ batch: 1, seq: 2 })),
  };
  const good = { batch: 1, seq: 2, xOffset: 2, xStride: 6 };
  conv.backward(io, good).destroy();
  const bad: [object, string][] = [
    [{ seq: 0 }, "seq"],
    [{ batch: 1.5 }, "batch"],
    [{ xOffset: -1 }, "xOffset"],
    [{ xStride: 5 }, "xStride"],
    [{ seq: 3 }, "io.x"],
  ];
  for (const [change, name] of bad) {
    const dims = { ...good, ...change };
    assertThrows(() => conv.forward(io, dims), { name: "RangeError", message: new RegExp(name) });
    assertThrows(() => conv.backward(io, dims), { name: "RangeError", message: new RegExp(name) });
  }
  const small = { ...io, scratch: zeros(gpu, 1) };
  assertThrows(() => conv.backward(small, good), { name: "RangeError", message: /io\.scratch/ });
  Object.values(small).forEach((b) => b.destroy());
  io.scratch.destroy();
});
