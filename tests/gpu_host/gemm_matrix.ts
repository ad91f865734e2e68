/**
 * GPU-host tests of the matrix-unit GEMM (kernels/gemm_matrix/): they need an adapter with subgroup
 * matrices (Dawn on NVIDIA), which the software adapters of CI do not have, so they run under
 * `deno task test:gpu` on a GPU host and fail (never skip) elsewhere.
 *
 * - products exact: inputs whose every partial sum is exact in f32 give C bit-identical to the CPU
 *   reference, for every layout, accumulate mode and tiling, on non-square shapes;
 * - general inputs: within the f32 summation bound of the exact sum;
 * - determinism: the same bind twice gives bit-identical C;
 * - the scaled epilogue: C times fp32(factorA · factorB) from the stats words, bit for bit;
 * - split-K (few output tiles, long K): exact, scaled and deterministic as above.
 */

import { getGpu } from "../../src/gpu/device.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { createBufferFrom } from "../../src/gpu/buffers.ts";
import {
  MATRIX_GEMM_TILINGS,
  matrixGemmAvailable,
  MatrixGemmKernel,
} from "../../kernels/gemm_matrix/mod.ts";
import {
  matrixGemmReference,
  type MatrixGemmTile,
  matrixSplitK,
} from "../../kernels/gemm_matrix/reference.ts";
import { GEMM_LAYOUTS, type GemmDims, type GemmLayout } from "../../kernels/gemm/reference.ts";
import { download, runOps, upload } from "../kernels/gpu_run.ts";
import { assertBitsEqual } from "../assert.ts";
import { ok as assert } from "node:assert/strict";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

async function dawn(): Promise<Gpu> {
  const gpu = await getGpu({ implementation: "dawn" });
  if (!matrixGemmAvailable(gpu)) {
    throw new Error(
      `no subgroup matrices on "${gpu.info.description}": run these tests on a GPU host`,
    );
  }
  return gpu;
}

function f16Buffer(gpu: Gpu, values: Float16Array): GPUBuffer {
  const padded = new Uint8Array(Math.ceil(values.byteLength / 16) * 16);
  padded.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return createBufferFrom(gpu.device, padded, USAGE);
}

function operands(layout: GemmLayout, dims: GemmDims, value: (i: number) => number) {
  const aLen = dims.m * dims.k;
  const bLen = dims.k * dims.n;
  return {
    a: Float16Array.from({ length: aLen }, (_, i) => value(i)),
    b: Float16Array.from(
      { length: bLen },
      (_, i) => value(i + 7 * aLen + (layout === "nt" ? 1 : 0)),
    ),
  };
}

async function run(
  gpu: Gpu,
  layout: GemmLayout,
  accumulate: boolean,
  tile: MatrixGemmTile | undefined,
  dims: GemmDims,
  a: Float16Array,
  b: Float16Array,
  c0: Float32Array,
): Promise<Float32Array> {
  const kernel = await MatrixGemmKernel.create(gpu, {
    layout,
    accumulate,
    ...(tile ? { tile } : {}),
  });
  const c = upload(gpu, c0);
  const op = kernel.bind({ a: f16Buffer(gpu, a), b: f16Buffer(gpu, b), c }, dims);
  runOps(gpu, [op]);
  const out = await download(gpu, c, dims.m * dims.n);
  op.destroy();
  return out;
}

// Small integers: every product and partial sum is an integer below 2^24, exact in f32.
const small = (i: number) => ((i * 2654435761) >>> 0) % 9 - 4;

/**
 * The kernel's tilings in one- and two-stage forms, with padded rows and narrower staging loads
 * (K = 160 is an odd number of 32-slices).
 */
const TILES: MatrixGemmTile[] = MATRIX_GEMM_TILINGS.flatMap(({ tile }) => [
  { ...tile, stages: 1 },
  { ...tile, stages: 2 },
  { ...tile, stages: 2, pad: 8 },
  { ...tile, bk: 32, stages: 2, pad: 8, words: 1 },
  { ...tile, bk: 32, stages: 1, pad: 16, words: 2 },
  { ...tile, stages: 1, rotate: true },
  { ...tile, stages: 2, pad: 8, rotate: true },
  { ...tile, bk: 32, stages: 2, rotate: true },
]);

const tileName = (t: MatrixGemmTile) =>
  `${t.sm}x${t.sn}/${t.tm}x${t.tn}/${t.bk}/${t.stages ?? 1}/p${t.pad ?? 0}/${
    t.rotate ? "r" : `w${t.words ?? 4}`
  }`;

for (const layout of GEMM_LAYOUTS) {
  for (const accumulate of [false, true]) {
    for (const tile of TILES) {
      const name = tileName(tile);
      Deno.test(`matrix GEMM ${layout}${accumulate ? " +=" : ""} tile ${name} is exact on exactly summable inputs`, async () => {
        const gpu = await dawn();
        const dims = { m: 256, n: 384, k: 160 };
        const { a, b } = operands(layout, dims, small);
        const c0 = Float32Array.from({ length: dims.m * dims.n }, (_, i) => small(i * 3));
        const got = await run(gpu, layout, accumulate, tile, dims, a, b, c0);
        assertBitsEqual(got, matrixGemmReference(layout, a, b, dims, accumulate ? c0 : undefined));
      });
    }
  }
}

for (const layout of GEMM_LAYOUTS) {
  for (const accumulate of [false, true]) {
    Deno.test(`split-K matrix GEMM ${layout}${accumulate ? " +=" : ""} is exact on exactly summable inputs and deterministic`, async () => {
      const gpu = await dawn();
      const dims = { m: 256, n: 128, k: 2048 };
      const tile = MATRIX_GEMM_TILINGS[0].tile;
      assert(matrixSplitK(dims, tile) === 4, "the shape must split K four ways");
      const { a, b } = operands(layout, dims, small);
      const c0 = Float32Array.from({ length: dims.m * dims.n }, (_, i) => small(i * 5));
      const got = await run(gpu, layout, accumulate, tile, dims, a, b, c0);
      assertBitsEqual(got, matrixGemmReference(layout, a, b, dims, accumulate ? c0 : undefined));
      const again = await run(gpu, layout, accumulate, tile, dims, a, b, c0);
      assertBitsEqual(again, got);
    });
  }
}

Deno.test("matrix GEMM on general f16 inputs stays within the f32 summation bound", async () => {
  const gpu = await dawn();
  const dims = { m: 128, n: 256, k: 1024 };
  for (const layout of GEMM_LAYOUTS) {
    const { a, b } = operands(layout, dims, (i) => Math.sin(i * 0.7) * 3);
    const got = await run(
      gpu,
      layout,
      false,
      undefined,
      dims,
      a,
      b,
      new Float32Array(dims.m * dims.n),
    );
    const exact = matrixGemmReference(layout, a, b, dims);
    // |fl(Σ) − Σ| ≤ γ_k Σ|a·b| with γ_k = k·u/(1 − k·u) for any summation order.
    const abs = matrixGemmReference(layout, a.map(Math.abs), b.map(Math.abs), dims);
    // Tensor cores may truncate inside the accumulation (Fasi et al. 2021), so u = 2^-23.
    const u = 2 ** -23;
    const gamma = (dims.k * u) / (1 - dims.k * u);
    for (let i = 0; i < got.length; i++) {
      const bound = gamma * abs[i] + 1e-30;
      if (!(Math.abs(got[i] - exact[i]) <= bound)) {
        throw new Error(`${layout} C[${i}] = ${got[i]}, exact ${exact[i]}, bound ${bound}`);
      }
    }
  }
});

Deno.test("matrix GEMM is deterministic: two runs are bit-identical", async () => {
  const gpu = await dawn();
  const dims = { m: 512, n: 512, k: 512 };
  const { a, b } = operands("nn", dims, (i) => Math.cos(i * 0.37));
  const zero = new Float32Array(dims.m * dims.n);
  const first = await run(gpu, "nn", false, undefined, dims, a, b, zero);
  const second = await run(gpu, "nn", false, undefined, dims, a, b, zero);
  assertBitsEqual(second, first);
  assert(first.some((v) => v !== 0));
});

Deno.test("scaled matrix GEMM multiplies by fp32(factorA · factorB) exactly as the reference", async () => {
  const gpu = await dawn();
  const [fa, fb] = [Math.fround(0.1), Math.fround(3.7e-3)];
  const stats = (f: number) => upload(gpu, new Float32Array([0, f]));
  // The second shape splits K in two (one 128×128 tile, K = 1024).
  const shapes = [{ m: 128, n: 192, k: 96 }, { m: 128, n: 128, k: 1024 }];
  for (const layout of GEMM_LAYOUTS) {
    for (const dims of shapes) {
      const { a, b } = operands(layout, dims, small);
      const kernel = await MatrixGemmKernel.create(gpu, { layout, scaled: true });
      const c = upload(gpu, new Float32Array(dims.m * dims.n));
      const io = {
        a: f16Buffer(gpu, a),
        b: f16Buffer(gpu, b),
        c,
        aStats: stats(fa),
        bStats: stats(fb),
      };
      const op = kernel.bind(io, dims);
      runOps(gpu, [op]);
      const got = await download(gpu, c, dims.m * dims.n);
      op.destroy();
      const scale = Math.fround(fa * fb);
      assertBitsEqual(
        got,
        matrixGemmReference(layout, a, b, dims, undefined, scale),
        `${layout} ${dims.m}×${dims.n}×${dims.k}`,
      );
    }
  }
});
