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
  matrixGemmFits,
  matrixGemmReference,
  matrixTileShape,
} from "../../kernels/gemm_matrix/reference.ts";
import {
  matrixGemmShader,
  matrixGemmWorkgroupBytes,
  matrixGemmWorkgroupSize,
} from "../../kernels/gemm_matrix/wgsl.ts";

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
