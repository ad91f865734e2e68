import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { estimateMemory } from "../../src/model/memory.ts";
import { bufferBytes, gemmPaths, planModel } from "../../src/model/plan.ts";
import { type ModelConfig, paramSpecs } from "../../src/model/config.ts";
import { uniformLinear } from "../../src/model/policy.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";

const HYBRID: ModelConfig = {
  pattern: "M-*M",
  dModel: 32,
  heads: 2,
  dFf: 64,
  seqLen: 16,
  vocab: 64,
  mlp: "swiglu",
  mamba: { dState: 6, headDim: 8, expand: 2, nGroups: 2 },
};

const UNITS = [
  { packed: false, matrix: false },
  { packed: true, matrix: false },
  { packed: true, matrix: true },
] as const;

Deno.test("every buffer of a plan has its own label, for every policy, phase and GEMM path", () => {
  const switching = {
    ...POLICIES.nvfp4,
    switchTo: { atFraction: 0.5, policy: uniformLinear("bf16") },
  };
  for (const policy of [...Object.values(POLICIES), switching]) {
    for (const units of UNITS) {
      for (const phase of [0, 1] as const) {
        const plan = planModel(HYBRID, policy, { batch: 2, totalSteps: 10, phase, units });
        const labels = [...plan.model, ...plan.step].map((b) => b.label);
        const repeated = labels.filter((l, i) => labels.indexOf(l) !== i);
        assertEquals(repeated, [], `${policy.name} ${JSON.stringify(units)} phase ${phase}`);
      }
    }
  }
});

Deno.test("a plan shares the gradient buffers of only the block kinds its pattern has", () => {
  const shared = (pattern: string) =>
    Object.keys(
      planModel({ ...HYBRID, pattern }, POLICIES.fp32, { batch: 1, totalSteps: 1 }).shared,
    );
  assertEquals(shared("M-*M"), ["attention", "mlp", "mamba"]);
  assertEquals(shared("**"), ["attention"]);
  assertEquals(shared("M-"), ["mlp", "mamba"]);
  const labels = planModel({ ...HYBRID, pattern: "MM" }, POLICIES.fp32, { batch: 1, totalSteps: 1 })
    .step.map((b) => b.label);
  assertOk(!labels.includes("grad.qkv") && !labels.includes("grad.u"), labels.join(" "));
});

Deno.test("a plan holds each parameter four times (value, gradient, two moments) for the model's lifetime", () => {
  const plan = planModel(HYBRID, POLICIES.nvfp4, { batch: 2, totalSteps: 10 });
  assertStrictEquals(plan.model.length, 6 + 4 * plan.params.length);
  for (const p of plan.params) {
    assertEquals(
      [p.p, p.g, p.m, p.v].map((b) => b.elements),
      Array(4).fill(p.spec.shape.reduce((a, b) => a * b, 1)),
    );
  }
});

Deno.test("the late switch changes only the phase buffers, and the estimate takes the larger phase", () => {
  const policy = { ...POLICIES.nvfp4, switchTo: { atFraction: 0.5, policy: POLICIES.fp32.linear } };
  const units = { packed: true, matrix: false };
  const opts = { batch: 2, totalSteps: 10, units };
  const before = planModel(HYBRID, policy, { ...opts, phase: 0 });
  const after = planModel(HYBRID, policy, { ...opts, phase: 1 });
  assertEquals(before.model, after.model);
  const bytes = (p: typeof before) =>
    [...p.model, ...p.step].reduce((n, b) => n + bufferBytes(b.elements), 0);
  assertOk(bytes(after) < bytes(before), `${bytes(after)} vs ${bytes(before)}`);
  assertStrictEquals(estimateMemory(HYBRID, policy, 2, 10, units).bytes, bytes(before));
});

Deno.test("GEMM paths name each linear layer as its weight parameter is named (Mamba's in_proj, out_proj)", () => {
  const plan = planModel(HYBRID, POLICIES.nvfp4, { batch: 2, totalSteps: 10 });
  const layers = gemmPaths(plan).map((p) => p.layer);
  assertEquals(layers.slice(0, 2), ["blocks.0.in_proj", "blocks.0.out_proj"]);
  const weights = new Set(paramSpecs(HYBRID).map((p) => p.name));
  for (const layer of layers.filter((l) => l !== "lm_head")) assertOk(weights.has(layer), layer);
});
