import { assertEquals, assertStrictEquals } from "../assert.ts";
import {
  F32_GEMM_ONLY,
  linearBuffers,
  type LinearPlan,
  planLinear,
} from "../../src/model/linear.ts";
import { uniformLinear } from "../../src/model/policy.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";

const DIMS = { m: 64, n: 32, k: 16 };
const PACKED = { packed: true, matrix: false };
const MATRIX = { packed: true, matrix: true };
/** A shape every GEMM of which the matrix GEMM's tiles divide. */
const TILED = { m: 128, n: 64, k: 64 };
const paths = (p: LinearPlan) => [p.fprop.path, p.dgrad?.path, p.wgrad.path];
const kernels = (p: LinearPlan) => [p.fprop.kernel, p.dgrad?.kernel, p.wgrad.kernel];
const labels = (p: LinearPlan) => linearBuffers(p).map((b) => b.label.replace(/^l\./, ""));

Deno.test("an fp32 linear layer plans no copies: every GEMM reads the tensors themselves", () => {
  const plan = planLinear(uniformLinear("fp32"), DIMS, MATRIX, "l");
  assertEquals(kernels(plan), ["nt", "nn", "tn"]);
  assertEquals(linearBuffers(plan), []);
});

Deno.test("a BF16 layer quantizes x, w and dy once each: Dgrad and Wgrad reuse the Fprop copies", () => {
  const plan = planLinear(uniformLinear("bf16"), DIMS, F32_GEMM_ONLY, "l");
  assertEquals(kernels(plan), ["nt", "nn", "tn"]);
  assertEquals([plan.dgrad?.b.copy, plan.wgrad.b.copy], ["fprop", "fprop"]);
  assertEquals(labels(plan), [
    "x.q",
    "x.stats",
    "w.q",
    "w.stats",
    "dy.q",
    "dy.stats",
    "dyw.q",
    "dyw.stats",
  ]);
});

Deno.test("NVFP4 with a packed GEMM runs all three GEMMs on packed codes, the Dgrad weight transposed", () => {
  const plan = planLinear(POLICIES.nvfp4.linear, DIMS, PACKED, "l");
  assertEquals(kernels(plan), ["packed", "packed", "packed"]);
  assertEquals([plan.dgrad?.b.transpose, plan.wgrad.a.transpose, plan.wgrad.b.transpose], [
    true,
    true,
    true,
  ]);
  assertEquals(labels(plan).filter((l) => l.endsWith(".T")), ["wd.T", "dyw.T", "xw.T"]);
  // 2D weights keep their 16×16 tile amaxes: (32/16)·(16/16) tiles.
  assertStrictEquals(linearBuffers(plan).find((b) => b.label === "l.w.tiles")?.elements, 2);
});

Deno.test("NVFP4 without a packed GEMM reuses the 2D weight's copy in Dgrad and transposes Wgrad's", () => {
  const plan = planLinear(POLICIES.nvfp4.linear, DIMS, F32_GEMM_ONLY, "l");
  assertEquals(kernels(plan), ["nt", "nn", "nt"]);
  assertStrictEquals(plan.dgrad?.b.copy, "fprop");
  assertEquals(labels(plan).filter((l) => l.endsWith(".T")), ["dyw.T", "xw.T"]);
  assertStrictEquals(plan.wgrad.a.policy.rounding, "stochastic");
});

Deno.test("a layer planned without dx has no Dgrad and none of its copies", () => {
  const plan = planLinear(uniformLinear("bf16"), DIMS, F32_GEMM_ONLY, "l", false);
  assertStrictEquals(plan.dgrad, undefined);
  assertEquals(labels(plan).filter((l) => l.startsWith("dy.")), []);
});

Deno.test("an fp32 layer stays on the f32 GEMM even where matrix units exist", () => {
  assertEquals(paths(planLinear(uniformLinear("fp32"), TILED, MATRIX, "l")), ["f32", "f32", "f32"]);
});

Deno.test("NVFP4 on matrix units writes f16 operands, reusing the 2D weight in Dgrad", () => {
  const plan = planLinear(POLICIES.nvfp4.linear, TILED, MATRIX, "l");
  assertEquals(paths(plan), ["matrix", "matrix", "matrix"]);
  assertEquals(kernels(plan), ["nt", "nn", "nt"]);
  assertStrictEquals(plan.dgrad?.b.copy, "fprop");
  assertEquals([plan.fprop.a.copy, plan.fprop.b.copy, plan.wgrad.a.copy], ["f16", "f16", "f16"]);
  // Two f16 values per f32 element: x [128, 64] needs 4096 elements.
  assertStrictEquals(linearBuffers(plan).find((b) => b.label === "l.x.h")?.elements, 4096);
  assertEquals(labels(plan).filter((l) => l.includes(".q")), []);
  assertEquals(labels(plan).filter((l) => l.endsWith(".T")), ["dyw.T", "xw.T"]);
});

Deno.test("BF16 on matrix units quantizes x, w and dy once each, like the f32 path", () => {
  const plan = planLinear(uniformLinear("bf16"), TILED, MATRIX, "l");
  assertEquals(paths(plan), ["matrix", "matrix", "matrix"]);
  assertEquals(kernels(plan), ["nt", "nn", "tn"]);
  assertEquals([plan.dgrad?.b.copy, plan.wgrad.b.copy], ["fprop", "fprop"]);
  assertEquals(labels(plan), [
    "x.h",
    "x.stats",
    "w.h",
    "w.stats",
    "dy.h",
    "dy.stats",
    "dyw.h",
    "dyw.stats",
  ]);
});

Deno.test("every format but fp32 takes the matrix units; untiled shapes leave them", () => {
  const mx = planLinear(uniformLinear("mxfp4"), TILED, MATRIX, "l");
  assertEquals(paths(mx), ["matrix", "matrix", "matrix"]);
  // n = 48: no tiling divides Fprop (n 48) or Wgrad (m 48); Dgrad (m 128, n 64, k 48) fits the
  // 16-deep K slices.
  const odd = planLinear(POLICIES.nvfp4.linear, { m: 128, n: 48, k: 64 }, MATRIX, "l");
  assertEquals(paths(odd), ["packed", "matrix", "packed"]);
  const bf16 = planLinear(uniformLinear("bf16"), { m: 128, n: 48, k: 64 }, MATRIX, "l");
  assertEquals(paths(bf16), ["f32", "matrix", "f32"]);
  // Mixed: an FP8 forward with BF16 gradients all have f16 operands.
  const fp8 = planLinear(POLICIES["fp8-current"].linear, TILED, MATRIX, "l");
  assertEquals(paths(fp8), ["matrix", "matrix", "matrix"]);
});
