import {
  assertBitsEqual,
  assertCloseMax as assertClose,
  assertOk,
  assertThrows,
} from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { RmsNormKernel } from "../../kernels/norm/mod.ts";
import { normBlocks, rmsNormBackward, rmsNormForward } from "../../kernels/norm/reference.ts";
import { normal } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { numericGrad } from "../gradcheck.ts";

/** `n` seeded normal values scaled by `scale` and shifted by `shift`, as f32. */
function randn(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const g = normal(seed);
  return Float32Array.from({ length: n }, () => g() * scale + shift);
}

// Shapes: scalar and vec4 loads, a partly filled last slot, one to eight slots per invocation,
// and more rows than backward row blocks (several rows per block).
const SHAPES: [number, number][] = [
  [3, 3],
  [5, 6],
  [4, 64],
  [3, 100],
  [2, 1030],
  [2, 8192],
  [1100, 12],
];

interface RmsRun {
  y: Float32Array;
  rstd: Float32Array;
  dx: Float32Array;
  dg: Float32Array;
}

async function runRms(
  rows: number,
  d: number,
  inputs: {
    x: Float32Array;
    g: Float32Array;
    dy: Float32Array;
    dx0?: Float32Array;
    dg0?: Float32Array;
  },
  eps = 1e-5,
): Promise<RmsRun> {
  const gpu = await getGpu();
  const norm = await RmsNormKernel.create(gpu, { d, eps });
  const io = {
    x: upload(gpu, inputs.x),
    g: upload(gpu, inputs.g),
    y: zeros(gpu, rows * d),
    rstd: zeros(gpu, rows),
    dy: upload(gpu, inputs.dy),
    dx: inputs.dx0 ? upload(gpu, inputs.dx0) : zeros(gpu, rows * d),
    dg: inputs.dg0 ? upload(gpu, inputs.dg0) : zeros(gpu, d),
    scratch: zeros(gpu, norm.scratchElements(rows)),
  };
  const fwd = norm.forward(io, { rows });
  const bwd = norm.backward(io, {
    rows,
    accumulateDx: !!inputs.dx0,
    accumulateParams: !!inputs.dg0,
  });
  runOps(gpu, [fwd, bwd]);
  const out = {
    y: await download(gpu, io.y, rows * d),
    rstd: await download(gpu, io.rstd, rows),
    dx: await download(gpu, io.dx, rows * d),
    dg: await download(gpu, io.dg, d),
  };
  fwd.destroy();
  bwd.destroy();
  Object.values(io).forEach((b) => b.destroy());
  return out;
}

Deno.test("RmsNormKernel forward and backward match the CPU reference", async (t) => {
  for (const [rows, d] of SHAPES) {
    await t.step(`${rows}×${d}`, async () => {
      const x = randn(rows * d, d, 2, 0.5);
      const g = randn(d, d + 1, 0.5, 1);
      const dy = randn(rows * d, d + 2);
      const got = await runRms(rows, d, { x, g, dy });
      const fwd = rmsNormForward(x, g, rows, d);
      const bwd = rmsNormBackward(x, g, dy, rows, d);
      assertClose(got.y, fwd.y, "y");
      assertClose(got.rstd, fwd.rstd, "rstd");
      assertClose(got.dx, bwd.dx, "dx");
      assertClose(got.dg, bwd.dg, "dg");
    });
  }
});

Deno.test("RmsNormKernel accumulates into dx and dg; eps is honoured", async () => {
  const [rows, d] = [40, 20];
  const x = randn(rows * d, 1, 1e-3);
  const g = randn(d, 2);
  const dy = randn(rows * d, 3);
  const dx0 = randn(rows * d, 4);
  const dg0 = randn(d, 5);
  const eps = 1e-4; // comparable to mean(x²), so a wrong eps shows
  const got = await runRms(rows, d, { x, g, dy, dx0, dg0 }, eps);
  const fwd = rmsNormForward(x, g, rows, d, eps);
  const bwd = rmsNormBackward(x, g, dy, rows, d, eps);
  assertClose(got.y, fwd.y, "y");
  assertClose(got.dx, bwd.dx.map((v, i) => v + dx0[i]), "dx");
  assertClose(got.dg, bwd.dg.map((v, i) => v + dg0[i]), "dg");
});

Deno.test("RmsNormKernel is deterministic", async () => {
  const [rows, d] = [1100, 12];
  const inputs = { x: randn(rows * d, 7), g: randn(d, 8), dy: randn(rows * d, 9) };
  const a = await runRms(rows, d, inputs);
  const b = await runRms(rows, d, inputs);
  for (const k of ["y", "rstd", "dx", "dg"] as const) assertBitsEqual(a[k], b[k], k);
});

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

Deno.test("RMSNorm reference backward equals central finite differences", () => {
  const [rows, d, eps] = [3, 5, 1e-3];
  const x = Float64Array.from(randn(rows * d, 1));
  const g = Float64Array.from(randn(d, 2));
  const dy = Float64Array.from(randn(rows * d, 3));
  const loss = () => dot(rmsNormForward(x, g, rows, d, eps).y, dy);
  const { dx, dg } = rmsNormBackward(x, g, dy, rows, d, eps);
  assertClose(dx, numericGrad(x, loss), "dx", 1e-7);
  assertClose(dg, numericGrad(g, loss), "dg", 1e-7);
});

Deno.test("normBlocks keeps blocks ≤ 512 and rejects bad sizes", async () => {
  for (const rows of [1, 511, 512, 513, 1100, 16384, 100000]) {
    const { rowsPerBlock, blocks } = normBlocks(rows);
    assertOk(blocks <= 512 && (blocks - 1) * rowsPerBlock < rows && blocks * rowsPerBlock >= rows);
  }
  assertThrows(() => normBlocks(0), RangeError);
  const gpu = await getGpu();
  await Promise.all([0, 16385, 2.5].map((d) =>
    RmsNormKernel.create(gpu, { d }).then(
      () => assertOk(false, `d = ${d} accepted`),
      (e) => assertOk(e instanceof RangeError),
    )
  ));
});
