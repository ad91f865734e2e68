import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { rejects, throws } from "node:assert/strict";
import { getGpu } from "../../src/gpu/device.ts";
import { GEMM_LAYOUTS, gemmReference } from "../../kernels/gemm/reference.ts";
import {
  MATRIX_GEMM_TILINGS,
  matrixGemmAvailable,
  MatrixGemmKernel,
} from "../../kernels/gemm_matrix/mod.ts";
import {
  checkMatrixTile,
  MATRIX_SPLIT_K,
  matrixGemmFits,
  matrixGemmReference,
  matrixSplitK,
  matrixTileShape,
} from "../../kernels/gemm_matrix/reference.ts";
import {
  matrixGemmShader,
  matrixGemmWorkgroupBytes,
  matrixGemmWorkgroupSize,
  SPLIT_K_REDUCE_WORKGROUP,
  splitKReduceShader,
} from "../../kernels/gemm_matrix/wgsl.ts";
import { bindGroup, pipelineCache } from "../../src/gpu/pipelines.ts";
import { dispatchOp, uniformBuffer } from "../../src/gpu/op.ts";
import { download, runOps, upload } from "./gpu_run.ts";

const ENABLES = "enable f16;\nenable subgroups;\nenable chromium_experimental_subgroup_matrix;\n";

Deno.test("the matrix GEMM shader starts with its enables and multiplies every result matrix per K step", () => {
  for (const layout of GEMM_LAYOUTS) {
    for (const { tile } of MATRIX_GEMM_TILINGS) {
      for (const accumulate of [false, true]) {
        const code = matrixGemmShader({ layout, accumulate, tile, enables: ENABLES });
        assertOk(code.startsWith(ENABLES), "enables first");
        assertOk(code.includes(`@workgroup_size(${matrixGemmWorkgroupSize(tile)})`));
        const mma = code.match(/subgroupMatrixMultiplyAccumulate/g)?.length;
        // Two stages: each of the two buffers has a prefetching and a last-slice copy of the MMAs.
        assertStrictEquals(mma, tile.tm * tile.tn * (tile.stages === 2 ? 4 : 1));
        // Accumulating loads C into every result matrix; otherwise they start at zero.
        const loadsC = code.match(/subgroupMatrixLoad<subgroup_matrix_result/g)?.length ?? 0;
        assertStrictEquals(loadsC, accumulate ? tile.tm * tile.tn : 0);
        // A column-major left operand only for tn, a column-major right one only for nt.
        assertStrictEquals(
          /subgroup_matrix_left<[^>]*>, col_major>\(&sa0,/.test(code),
          layout === "tn",
        );
        assertStrictEquals(
          /subgroup_matrix_right<[^>]*>, col_major>\(&sb0,/.test(code),
          layout === "nt",
        );
      }
    }
  }
});

Deno.test("matrix GEMM tiles: shapes, workgroup memory, validity and which problems they take", () => {
  const big = { sm: 2, sn: 2, tm: 4, tn: 4, bk: 32 };
  assertEquals(matrixTileShape(big), { rows: 128, cols: 128 });
  assertStrictEquals(matrixGemmWorkgroupBytes(big), 2 * (128 + 128) * 32);
  assertStrictEquals(matrixGemmWorkgroupSize(big), 128);
  throws(() => checkMatrixTile({ ...big, tm: 0 }), /tm must be a positive integer/);
  throws(() => checkMatrixTile({ ...big, bk: 8 }), /bk must be a positive multiple of 16/);
  assertOk(matrixGemmFits({ m: 8192, n: 768, k: 768 }, big));
  assertOk(!matrixGemmFits({ m: 8192, n: 800, k: 768 }, big));
  assertOk(!matrixGemmFits({ m: 8192, n: 768, k: 776 }, big));
  assertOk(!matrixGemmFits({ m: 0, n: 128, k: 32 }, big));
});

Deno.test("the matrix GEMM reference equals the f32 GEMM reference on f16 inputs with exact sums", () => {
  const dims = { m: 5, n: 7, k: 9 };
  const values = (n: number, seed: number) =>
    Float16Array.from({ length: n }, (_, i) => ((i * 31 + seed) % 11) - 5);
  for (const layout of GEMM_LAYOUTS) {
    const a = values(dims.m * dims.k, 1);
    const b = values(dims.k * dims.n, 2);
    const c = Float32Array.from({ length: dims.m * dims.n }, (_, i) => i % 3);
    assertEquals(
      [...matrixGemmReference(layout, a, b, dims, c)],
      [...gemmReference(layout, Float32Array.from(a), Float32Array.from(b), dims, { c })],
    );
  }
  throws(
    () => matrixGemmReference("nn", new Float16Array(3), new Float16Array(4), { m: 2, n: 2, k: 2 }),
    /A holds 3 values/,
  );
});

Deno.test("on Deno's WebGPU (no subgroup matrices) the matrix GEMM is unavailable and refuses clearly", async () => {
  const gpu = await getGpu({ implementation: "deno" });
  assertStrictEquals(matrixGemmAvailable(gpu), false);
  await rejects(
    MatrixGemmKernel.create(gpu, { layout: "nn" }),
    /the matrix-unit GEMM needs chromium-experimental-subgroup-matrix/,
  );
});

Deno.test("a two-stage tiling doubles the buffers and prefetches the next slice behind one barrier", () => {
  const tile = { sm: 2, sn: 2, tm: 4, tn: 4, bk: 32, stages: 2 } as const;
  assertStrictEquals(
    matrixGemmWorkgroupBytes(tile),
    2 * matrixGemmWorkgroupBytes({ ...tile, stages: 1 }),
  );
  const code = matrixGemmShader({
    layout: "tn",
    accumulate: false,
    scaled: true,
    tile,
    enables: ENABLES,
  });
  for (const buffer of ["sa0", "sa1", "sb0", "sb1"]) {
    assertOk(code.includes(`var<workgroup> ${buffer}:`), buffer);
  }
  // Each of the two half-steps multiplies with or without a next slice: 4 copies of the MMAs.
  assertStrictEquals(code.match(/subgroupMatrixMultiplyAccumulate/g)?.length, 4 * 16);
  // One barrier after the prologue and one per half-step.
  assertStrictEquals(code.match(/workgroupBarrier\(\)/g)?.length, 3);
  assertOk(code.includes("let k1 = k0 + 32u;"));
  throws(() => checkMatrixTile({ ...tile, stages: 3 as 2 }), /stages must be 1 or 2/);
});

Deno.test("split-K splits only outputs of too few tiles, by powers of two, into whole slices of at least minK", () => {
  const big = MATRIX_GEMM_TILINGS[0].tile; // 128×128, bk 16
  // GPT-2 small's weight gradients (k = 8192 tokens): 36, 108 and 144 tiles.
  assertStrictEquals(matrixSplitK({ m: 768, n: 768, k: 8192 }, big), 8);
  assertStrictEquals(matrixSplitK({ m: 768, n: 2304, k: 8192 }, big), 4);
  assertStrictEquals(matrixSplitK({ m: 3072, n: 768, k: 8192 }, big), 2);
  // Enough tiles already, K too short, or K not divisible into whole slices: no split.
  assertStrictEquals(matrixSplitK({ m: 8192, n: 2304, k: 768 }, big), 1);
  assertStrictEquals(matrixSplitK({ m: 128, n: 128, k: 768 }, big), 1);
  assertStrictEquals(matrixSplitK({ m: 128, n: 128, k: 1040 }, big), 1);
  // The cap: one tile and a very long K stop at maxSplits.
  assertStrictEquals(matrixSplitK({ m: 128, n: 128, k: 1 << 20 }, big), MATRIX_SPLIT_K.maxSplits);
  // Every range is whole slices of at least minK values.
  for (const k of [512, 1024, 1536, 4096, 8192, 12288]) {
    const s = matrixSplitK({ m: 256, n: 256, k }, big);
    assertStrictEquals((k / s) % big.bk, 0);
    assertOk(s === 1 || k / s >= MATRIX_SPLIT_K.minK, `k ${k} split ${s}`);
  }
});

Deno.test("the split-K reduction adds the partial slabs in order, onto C when accumulating, then scales", async () => {
  const gpu = await getGpu();
  const cache = pipelineCache(gpu.device);
  const [quads, splits] = [300, 3]; // not a multiple of the workgroup: the tail must be guarded
  const n = quads * 4;
  const w = Float32Array.from({ length: n * splits }, (_, i) => Math.fround(Math.sin(i) * 1e3));
  const c0 = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.cos(i)));
  const [fa, fb] = [Math.fround(0.3), Math.fround(1.7e-2)];
  for (const accumulate of [false, true]) {
    for (const scaled of [false, true]) {
      const pipeline = await cache.getAsync(splitKReduceShader({ accumulate, scaled }));
      const c = upload(gpu, c0);
      const gx = Math.ceil(quads / SPLIT_K_REDUCE_WORKGROUP);
      const params = uniformBuffer(gpu.device, [quads, splits, gx * SPLIT_K_REDUCE_WORKGROUP, 0]);
      const stats = scaled
        ? [upload(gpu, new Float32Array([0, fa])), upload(gpu, new Float32Array([0, fb]))]
        : [];
      const group = bindGroup(gpu.device, pipeline, [upload(gpu, w), c, params, ...stats]);
      runOps(gpu, [dispatchOp([[pipeline, group, gx, 1]], [params])]);
      const got = await download(gpu, c, n);
      const want = Float32Array.from(c0, (old, i) => {
        let sum = accumulate ? old : 0;
        for (let z = 0; z < splits; z++) sum = Math.fround(sum + w[z * n + i]);
        return scaled ? Math.fround(sum * Math.fround(fa * fb)) : sum;
      });
      assertEquals([...got], [...want], `accumulate ${accumulate}, scaled ${scaled}`);
    }
  }
});
