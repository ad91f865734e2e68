import { assertBitsEqual, assertEquals, assertOk, assertRejects, assertThrows } from "../assert.ts";
import { normal } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { GEMM_TILINGS, gemmGpu, GemmKernel } from "../../kernels/gemm/mod.ts";
import type { GemmTile } from "../../kernels/gemm/wgsl.ts";
import { getGpu } from "../../src/gpu/device.ts";
import {
  GEMM_LAYOUTS,
  type GemmDims,
  type GemmLayout,
  gemmOperandShapes,
  gemmReference,
} from "../../kernels/gemm/reference.ts";

function randn(n: number, seed: number): Float32Array {
  const g = normal(seed);
  return Float32Array.from({ length: n }, () => g());
}

function operands(layout: GemmLayout, dims: GemmDims, seed: number) {
  const s = gemmOperandShapes(layout, dims);
  return {
    a: randn(s.a[0] * s.a[1], seed),
    b: randn(s.b[0] * s.b[1], seed + 1),
    c: randn(dims.m * dims.n, seed + 2),
  };
}

/**
 * The GPU sum must equal, bit for bit, the reference's in-order FMA chain with either rounding
 * WGSL allows for `fma` (fused on NVIDIA, separately rounded on llvmpipe).
 */
function assertMatchesReference(
  got: Float32Array,
  layout: GemmLayout,
  ops: { a: Float32Array; b: Float32Array; c?: Float32Array },
  dims: GemmDims,
): void {
  const fused = gemmReference(layout, ops.a, ops.b, dims, { c: ops.c });
  const separate = gemmReference(layout, ops.a, ops.b, dims, { c: ops.c, rounding: "separate" });
  const same = (x: Float32Array) => x.every((v, i) => Object.is(v, got[i]));
  if (same(fused) || same(separate)) return;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - fused[i]) / Math.max(Math.abs(fused[i]), 1e-30));
  }
  assertBitsEqual(got, fused, `${layout} ${JSON.stringify(dims)} (max rel. error ${worst})`);
}

// Full tiles and partial tiles with vec4-aligned sizes (the vec4 variant), then sizes that are not
// multiples of 4 (the element-wise variant).
const ALIGNED: GemmDims[] = [{ m: 128, n: 128, k: 48 }, { m: 136, n: 260, k: 36 }];
const ODD: GemmDims[] = [{ m: 67, n: 45, k: 37 }, { m: 1, n: 3, k: 1 }];

for (const layout of GEMM_LAYOUTS) {
  for (const accumulate of [false, true]) {
    // Loads differ by layout, stores by accumulation and variant: accumulation runs both variants
    // on "nt" and the vec4 one elsewhere (each pipeline compiles slowly on a CPU adapter).
    const shapes = accumulate && layout !== "nt" ? ALIGNED : [...ALIGNED, ...ODD];
    const mode = accumulate ? "C += A·B" : "C = A·B";
    Deno.test(`gemm ${layout} (${mode}) equals the CPU reference`, async () => {
      for (const [i, dims] of shapes.entries()) {
        const ops = operands(layout, dims, 10 * i);
        const c = accumulate ? ops.c : undefined;
        const got = await gemmGpu(layout, ops.a, ops.b, dims, { c });
        assertMatchesReference(got, layout, { a: ops.a, b: ops.b, c }, dims);
      }
    });
  }
}

Deno.test("gemm is deterministic: two runs are bit-identical", async () => {
  const gpu = await getGpu();
  const dims = { m: 192, n: 160, k: 200 };
  for (const layout of GEMM_LAYOUTS) {
    const ops = operands(layout, dims, 3);
    const kernel = await GemmKernel.create(gpu, { layout });
    const a = upload(gpu, ops.a);
    const b = upload(gpu, ops.b);
    const outs = [zeros(gpu, dims.m * dims.n), zeros(gpu, dims.m * dims.n)];
    const bound = outs.map((c) => kernel.bind({ a, b, c }, dims));
    runOps(gpu, bound);
    const [x, y] = await Promise.all(outs.map((c) => download(gpu, c, dims.m * dims.n)));
    assertBitsEqual(x, y, `${layout} run 2 vs run 1`);
    for (const o of bound) o.destroy();
    for (const buf of [a, b, ...outs]) buf.destroy();
  }
});

// Small tiles (quick to compile on a CPU adapter) covering both stage counts, bk 8 and 16, tm and tn
// 4 and 8.
const TILES: GemmTile[] = [
  { bm: 32, bn: 32, bk: 8, tm: 4, tn: 4, stages: 1 },
  { bm: 64, bn: 32, bk: 8, tm: 8, tn: 4, stages: 2 },
  { bm: 32, bn: 64, bk: 16, tm: 4, tn: 8, stages: 1 },
];

Deno.test("gemm results do not depend on the tiling", async () => {
  // The sizes here take the last default tiling (64×64, two buffers). Each layout also runs one
  // small tiling, and the other default tilings (slow to compile on a CPU adapter) run once each:
  // 128×256 vec4 on "nn", 64×64 with one buffer element-wise on "nt".
  const [large, single] = GEMM_TILINGS.map((t) => t.tile);
  const aligned = { m: 100, n: 72, k: 68 };
  const odd = { m: 130, n: 70, k: 33 };
  const runs: [GemmLayout, GemmDims, GemmTile][] = [
    ["nt", odd, TILES[0]],
    ["nn", aligned, TILES[1]],
    ["tn", aligned, TILES[2]],
    ["nn", aligned, large],
    ["nt", odd, single],
  ];
  for (const [layout, dims, tile] of runs) {
    const ops = operands(layout, dims, 5);
    const expected = await gemmGpu(layout, ops.a, ops.b, dims, { c: ops.c });
    const got = await gemmGpu(layout, ops.a, ops.b, dims, { c: ops.c, tile });
    assertBitsEqual(got, expected, `${layout} ${JSON.stringify(tile)} vs default tiling`);
  }
});

Deno.test("gemm picks its tiling by output size, within the device's limits", async () => {
  const gpu = await getGpu();
  const kernel = await GemmKernel.create(gpu, { layout: "nt" });
  const [large, single, double] = GEMM_TILINGS.map((t) => t.tile);
  assertEquals(kernel.tileFor({ m: 4096, n: 4096, k: 64 }), large);
  assertEquals(kernel.tileFor({ m: 2048, n: 2048, k: 64 }), large);
  assertEquals(kernel.tileFor({ m: 1536, n: 1536, k: 64 }), single);
  assertEquals(kernel.tileFor({ m: 768, n: 3072, k: 16384 }), single);
  assertEquals(kernel.tileFor({ m: 1024, n: 1024, k: 64 }), double);
  assertEquals(kernel.tileFor({ m: 5, n: 3, k: 64 }), double);
  const fixed = await GemmKernel.create(gpu, { layout: "nt", tile: TILES[0] });
  assertEquals(fixed.tileFor({ m: 4096, n: 4096, k: 64 }), TILES[0]);
  // With WebGPU's default limits only the single-buffer 64×64 tiling fits, for every size.
  const limits = {
    ...gpu.limits,
    maxComputeWorkgroupStorageSize: 16384,
    maxComputeInvocationsPerWorkgroup: 256,
  };
  const modest = await GemmKernel.create({ ...gpu, limits }, { layout: "nt" });
  assertEquals(modest.tileFor({ m: 4096, n: 4096, k: 64 }), single);
  assertEquals(modest.tileFor({ m: 5, n: 3, k: 64 }), single);
  const dims = { m: 70, n: 40, k: 20 };
  const ops = operands("nt", dims, 9);
  const a = upload(gpu, ops.a);
  const b = upload(gpu, ops.b);
  const c = zeros(gpu, dims.m * dims.n);
  const op = modest.bind({ a, b, c }, dims);
  runOps(gpu, [op]);
  const got = await download(gpu, c, dims.m * dims.n);
  assertMatchesReference(got, "nt", { a: ops.a, b: ops.b }, dims);
  op.destroy();
  for (const buf of [a, b, c]) buf.destroy();
});

Deno.test("gemm with k = 0 writes zeros, or leaves C when accumulating; m = 0 dispatches nothing", async () => {
  const gpu = await getGpu();
  const old = new Float32Array([1, -2, 3, 4, 5, 6]);
  const b = new Float32Array(0);
  assertEquals([...await gemmGpu("nn", b, b, { m: 2, n: 3, k: 0 })], [0, 0, 0, 0, 0, 0]);
  assertEquals([...await gemmGpu("tn", b, b, { m: 2, n: 3, k: 0 }, { c: old })], [...old]);
  const kernel = await GemmKernel.create(gpu, { layout: "nt" });
  const buf = zeros(gpu, 16);
  assertEquals(kernel.bind({ a: buf, b: buf, c: buf }, { m: 0, n: 4, k: 4 }).dispatches, 0);
  buf.destroy();
});

Deno.test("gemm rejects bad dimensions, short buffers and impossible tiles", async () => {
  const gpu = await getGpu();
  const kernel = await GemmKernel.create(gpu, { layout: "nn" });
  const small = zeros(gpu, 8);
  const big = zeros(gpu, 64);
  assertThrows(() => kernel.bind({ a: big, b: big, c: big }, { m: 2, n: 2.5, k: 2 }), RangeError);
  assertThrows(() => kernel.bind({ a: small, b: big, c: big }, { m: 4, n: 4, k: 4 }), /buffer a/);
  assertThrows(() => kernel.bind({ a: big, b: big, c: small }, { m: 4, n: 4, k: 4 }), /buffer c/);
  small.destroy();
  big.destroy();
  await assertRejects(
    GemmKernel.create(gpu, { layout: "nn", tile: { ...GEMM_TILINGS[0].tile, bk: 12 } }),
    RangeError,
  );
  const huge: GemmTile = { bm: 1024, bn: 1024, bk: 64, tm: 8, tn: 8, stages: 2 };
  await assertRejects(GemmKernel.create(gpu, { layout: "nn", tile: huge }), RangeError);
  await assertRejects(GemmKernel.create(gpu, { layout: "tt" as GemmLayout }), RangeError);
});

Deno.test("gemm picks the vec4 variant only for aligned dimensions", async () => {
  const gpu = await getGpu();
  const expectations: [GemmLayout, GemmDims, boolean][] = [
    ["nt", { m: 3, n: 8, k: 4 }, true],
    ["nt", { m: 4, n: 8, k: 6 }, false],
    ["nn", { m: 5, n: 6, k: 8 }, false],
    ["tn", { m: 8, n: 4, k: 3 }, true],
    ["tn", { m: 6, n: 4, k: 4 }, false],
  ];
  for (const [layout, dims, vec4] of expectations) {
    const kernel = await GemmKernel.create(gpu, { layout });
    assertOk(kernel.vectorized(dims) === vec4, `${layout} ${JSON.stringify(dims)}`);
  }
});
