import { assertEquals, assertStrictEquals } from "../assert.ts";
import { linearBuffers, type LinearPlan, planLinear } from "../../src/model/linear.ts";
import { uniformLinear } from "../../src/model/policy.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";

const DIMS = { m: 64, n: 32, k: 16 };
const kernels = (p: LinearPlan) => [p.fprop.kernel, p.dgrad?.kernel, p.wgrad.kernel];
const labels = (p: LinearPlan) => linearBuffers(p).map((b) => b.label.replace(/^l\./, ""));

Deno.test("an fp32 linear layer plans no copies: every GEMM reads the tensors themselves", () => {
  const plan = planLinear(uniformLinear("fp32"), DIMS, true, "l");
  assertEquals(kernels(plan), ["nt", "nn", "tn"]);
  assertEquals(linearBuffers(plan), []);
});

Deno.test("a BF16 layer quantizes x, w and dy once each: Dgrad and Wgrad reuse the Fprop copies", () => {
  const plan = planLinear(uniformLinear("bf16"), DIMS, false, "l");
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
  const plan = planLinear(POLICIES.nvfp4.linear, DIMS, true, "l");
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
  const plan = planLinear(POLICIES.nvfp4.linear, DIMS, false, "l");
  assertEquals(kernels(plan), ["nt", "nn", "nt"]);
  assertStrictEquals(plan.dgrad?.b.copy, "fprop");
  assertEquals(labels(plan).filter((l) => l.endsWith(".T")), ["dyw.T", "xw.T"]);
  assertStrictEquals(plan.wgrad.a.policy.rounding, "stochastic");
});

Deno.test("a layer planned without dx has no Dgrad and none of its copies", () => {
  const plan = planLinear(uniformLinear("bf16"), DIMS, false, "l", false);
  assertStrictEquals(plan.dgrad, undefined);
  assertEquals(labels(plan).filter((l) => l.startsWith("dy.")), []);
});
