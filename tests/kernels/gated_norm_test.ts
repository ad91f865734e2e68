import {
  assertBitsEqual,
  assertCloseMax,
  assertOk,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { GatedRmsNormKernel } from "../../kernels/gated_norm/mod.ts";
import {
  type GatedNormDims,
  gatedNormScratchElements,
  gatedRmsNormBackward,
  gatedRmsNormForward,
} from "../../kernels/gated_norm/reference.ts";
import { normal } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { numericGrad } from "../gradcheck.ts";

/** `n` seeded normal values scaled by `scale` and shifted by `shift`, as f32. */
function randn(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const g = normal(seed);
  return Float32Array.from({ length: n }, () => g() * scale + shift);
}

/** Columns `[offset, offset + n)` of each of `rows` rows of stride `stride`, packed. */
function columns(a: Float32Array, rows: number, stride: number, offset: number, n: number) {
  return Float32Array.from(
    { length: rows * n },
    (_, i) => a[Math.floor(i / n) * stride + offset + i % n],
  );
}

interface Shape extends GatedNormDims {
  readonly zOffset: number;
  readonly zStride: number;
}

/** Inputs of a shape: z and the dz buffer's initial contents are `[rows, zStride]`. */
function inputs(s: Shape, seed: number) {
  return {
    y: randn(s.rows * s.d, seed),
    z: randn(s.rows * s.zStride, seed + 1, 2),
    w: randn(s.d, seed + 2, 0.5, 1),
    dout: randn(s.rows * s.d, seed + 3),
    dz0: randn(s.rows * s.zStride, seed + 4),
  };
}

interface NormRun {
  out: Float32Array;
  rstd: Float32Array;
  dy: Float32Array;
  /** The whole strided dz buffer. */
  dz: Float32Array;
  dw: Float32Array;
}

async function runNorm(s: Shape, data: ReturnType<typeof inputs>): Promise<NormRun> {
  const gpu = await getGpu();
  const { rows, d, groups } = s;
  const norm = await GatedRmsNormKernel.create(gpu, { d, groups, eps: s.eps });
  const io = {
    y: upload(gpu, data.y),
    z: upload(gpu, data.z),
    w: upload(gpu, data.w),
    out: zeros(gpu, rows * d),
    rstd: zeros(gpu, rows * groups),
    dout: upload(gpu, data.dout),
    dy: zeros(gpu, rows * d),
    dz: upload(gpu, data.dz0),
    dw: zeros(gpu, d),
    scratch: zeros(gpu, norm.scratchElements(rows)),
  };
  const ops = [norm.forward(io, s), norm.backward(io, s)];
  runOps(gpu, ops);
  const out = {
    out: await download(gpu, io.out, rows * d),
    rstd: await download(gpu, io.rstd, rows * groups),
    dy: await download(gpu, io.dy, rows * d),
    dz: await download(gpu, io.dz, rows * s.zStride),
    dw: await download(gpu, io.dw, d),
  };
  ops.forEach((o) => o.destroy());
  Object.values(io).forEach((b) => b.destroy());
  return out;
}

// Scalar and vec4 groups; one group and several; z at offset 0 with stride d, and at unaligned
// offsets and strides; two register slots per invocation (group 2048); more rows than row blocks.
const SHAPES: Shape[] = [
  { rows: 1, d: 4, groups: 1, zOffset: 0, zStride: 4 },
  { rows: 3, d: 6, groups: 2, zOffset: 1, zStride: 9 },
  { rows: 5, d: 12, groups: 3, zOffset: 2, zStride: 17, eps: 1e-2 },
  { rows: 2, d: 100, groups: 4, zOffset: 7, zStride: 110 },
  { rows: 3, d: 2048, groups: 1, zOffset: 5, zStride: 2060 },
  { rows: 2, d: 1024, groups: 8, zOffset: 0, zStride: 1024 },
  { rows: 1100, d: 8, groups: 2, zOffset: 3, zStride: 12 },
];

const label = (s: Shape) =>
  `${s.rows}×${s.d} G ${s.groups} z[${s.zOffset}:/${s.zStride}]${s.eps ? ` eps ${s.eps}` : ""}`;

Deno.test("GatedRmsNormKernel forward and backward match the CPU reference", async (t) => {
  for (const [i, s] of SHAPES.entries()) {
    await t.step(label(s), async () => {
      const data = inputs(s, 10 * i);
      const z = columns(data.z, s.rows, s.zStride, s.zOffset, s.d);
      const got = await runNorm(s, data);
      const fwd = gatedRmsNormForward(data.y, z, data.w, s);
      const bwd = gatedRmsNormBackward(data.y, z, data.w, data.dout, s);
      assertCloseMax(got.out, fwd.out, "out");
      assertCloseMax(got.rstd, fwd.rstd, "rstd");
      assertCloseMax(got.dy, bwd.dy, "dy");
      assertCloseMax(columns(got.dz, s.rows, s.zStride, s.zOffset, s.d), bwd.dz, "dz");
      assertCloseMax(got.dw, bwd.dw, "dw");
      // The other columns of the dz buffer keep their contents.
      const mask = (a: Float32Array) =>
        a.map((v, j) => (j % s.zStride >= s.zOffset && j % s.zStride < s.zOffset + s.d) ? 0 : v);
      assertBitsEqual(mask(got.dz), mask(data.dz0), "dz outside its columns");
    });
  }
});

Deno.test("GatedRmsNormKernel is deterministic", async () => {
  const s = SHAPES[6];
  const data = inputs(s, 99);
  const a = await runNorm(s, data);
  const b = await runNorm(s, data);
  for (const k of ["out", "rstd", "dy", "dz", "dw"] as const) assertBitsEqual(a[k], b[k], k);
});

Deno.test("GatedRmsNormKernel stays finite for gates far beyond exp's range", async () => {
  const s: Shape = { rows: 2, d: 4, groups: 2, zOffset: 0, zStride: 4 };
  const data = inputs(s, 5);
  data.z.set([-200, 200, -1e4, 1e4, -90, 90, 0, -1e3]);
  const got = await runNorm(s, data);
  const bwd = gatedRmsNormBackward(data.y, data.z, data.w, data.dout, s);
  for (const k of ["out", "rstd", "dy", "dz", "dw"] as const) {
    assertOk(got[k].every(Number.isFinite), `${k} has a non-finite value: ${got[k]}`);
  }
  assertCloseMax(got.dz, bwd.dz, "dz");
});

Deno.test("gatedRmsNormBackward equals central finite differences", () => {
  for (const groups of [1, 3]) {
    const dims = { rows: 2, d: 6, groups, eps: 1e-3 };
    const n = dims.rows * dims.d;
    const y = Float64Array.from(randn(n, 1));
    const z = Float64Array.from(randn(n, 2, 2));
    const w = Float64Array.from(randn(dims.d, 3, 0.5, 1));
    const dout = Float64Array.from(randn(n, 4));
    const loss = () =>
      gatedRmsNormForward(y, z, w, dims).out.reduce((s, v, i) => s + v * dout[i], 0);
    const grads = gatedRmsNormBackward(y, z, w, dout, dims);
    assertCloseMax(grads.dy, numericGrad(y, loss), `dy (G ${groups})`, 1e-7);
    assertCloseMax(grads.dz, numericGrad(z, loss), `dz (G ${groups})`, 1e-7);
    assertCloseMax(grads.dw, numericGrad(w, loss), `dw (G ${groups})`, 1e-7);
  }
});

Deno.test("GatedRmsNormKernel and gatedNormScratchElements reject bad arguments", async () => {
  const gpu = await getGpu();
  const configs: [{ d: number; groups: number; eps?: number }, string][] = [
    [{ d: 0, groups: 1 }, "d must"],
    [{ d: 6, groups: 4 }, "groups"],
    [{ d: 6, groups: 0 }, "groups"],
    [{ d: 32768, groups: 1 }, "d/groups"],
    [{ d: 8, groups: 2, eps: -1 }, "eps"],
  ];
  for (const [config, name] of configs) {
    const message = new RegExp(name);
    await assertRejects(GatedRmsNormKernel.create(gpu, config), { name: "RangeError", message });
    if (!config.eps) {
      assertThrows(() => gatedNormScratchElements(config, 4), { name: "RangeError", message });
    }
  }
  assertThrows(() => gatedNormScratchElements({ d: 8, groups: 2 }, 0), /rows/);
  const norm = await GatedRmsNormKernel.create(gpu, { d: 8, groups: 2 });
  assertOk(norm.d === 8 && norm.groups === 2 && norm.eps === 1e-5);
  const io = {
    y: zeros(gpu, 16),
    z: zeros(gpu, 2 * 10),
    w: zeros(gpu, 8),
    out: zeros(gpu, 16),
    rstd: zeros(gpu, 4),
    dout: zeros(gpu, 16),
    dy: zeros(gpu, 16),
    dz: zeros(gpu, 2 * 10),
    dw: zeros(gpu, 8),
    scratch: zeros(gpu, norm.scratchElements(2)),
  };
  const good = { rows: 2, zOffset: 2, zStride: 10 };
  norm.backward(io, good).destroy();
  const bad: [object, string][] = [
    [{ rows: 0 }, "rows"],
    [{ rows: 2.5 }, "rows"],
    [{ zOffset: -1 }, "zOffset"],
    [{ zStride: 9 }, "zStride"],
    [{ rows: 3 }, "io.y"],
  ];
  for (const [change, name] of bad) {
    const dims = { ...good, ...change };
    const error = { name: "RangeError", message: new RegExp(name) };
    assertThrows(() => norm.forward(io, dims), error);
    assertThrows(() => norm.backward(io, dims), error);
  }
  const small = { ...io, dz: zeros(gpu, 19) };
  assertThrows(() => norm.backward(small, good), { name: "RangeError", message: /io\.dz/ });
  Object.values(small).forEach((b) => b.destroy());
  io.dz.destroy();
});
