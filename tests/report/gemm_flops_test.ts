import { assertEquals, assertStrictEquals } from "../assert.ts";
import { describeFlopShares, gemmFlopShares } from "../../src/report/gemm_flops.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { type PrecisionPolicy, uniformLinear } from "../../src/model/policy.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";

// One MLP block: fc1 and fc2 hold 2 · 64 · 256 = 32,768 weights, the LM head 256 · 64 = 16,384.
// Every linear layer runs Fprop, Dgrad and Wgrad, each 2 · tokens · in · out FLOPs, so a layer's
// share of the FLOPs is its share of the weights.
const MLP: ModelConfig = {
  pattern: "-",
  dModel: 64,
  heads: 4,
  dFf: 256,
  seqLen: 32,
  vocab: 256,
  mlp: "relu2",
};
const TRAIN = { batch: 4, steps: 10 };

Deno.test("a GEMM's FLOPs count in its operands' format, so the LM head keeps its own", () => {
  // fp8: blocks in FP8 (E4M3 forward, E5M2 gradients: one family), the head in BF16.
  assertEquals(gemmFlopShares(MLP, POLICIES["fp8-current"], TRAIN), [
    { format: "fp8", share: 32768 / 49152 },
    { format: "bf16", share: 16384 / 49152 },
  ]);
  assertEquals(gemmFlopShares(MLP, POLICIES.fp32, TRAIN), [{ format: "fp32", share: 1 }]);
});

Deno.test("blocks a policy keeps in high precision count at their own format", () => {
  // Eight blocks, attention (4 · 128² = 65,536 weights) and MLP (2 · 128 · 512 = 131,072)
  // alternating, LM head 32,768; nvfp4 keeps block 0 (attention), block 7 (MLP) and the head
  // in BF16: 229,376 of 819,200 weights, 28 %.
  const cfg: ModelConfig = { ...MLP, pattern: "*-*-*-*-", dModel: 128, dFf: 512, seqLen: 64 };
  const shares = gemmFlopShares(cfg, POLICIES.nvfp4, { batch: 8, steps: 100 });
  assertEquals(shares.map((s) => s.format), ["nvfp4", "bf16"]);
  assertStrictEquals(shares[1].share, 229376 / 819200);
  assertStrictEquals(describeFlopShares(shares), "nvfp4 72 %, bf16 28 %");
});

Deno.test("a late switch counts each phase's formats for the steps it runs", () => {
  // Steps 1–4 before the switch at half of 10 steps, steps 5–10 after it (step ≥ 0.5 · 10).
  const policy: PrecisionPolicy = {
    ...POLICIES.bf16,
    switchTo: { atFraction: 0.5, policy: uniformLinear("fp32") },
  };
  const shares = gemmFlopShares(MLP, policy, TRAIN);
  const fp32 = (6 * 32768) / (10 * 49152);
  assertEquals(shares.map((s) => s.format), ["bf16", "fp32"]);
  assertStrictEquals(shares[1].share, fp32);
  assertStrictEquals(shares[0].share, 1 - fp32);
});

Deno.test("a GEMM whose operands are in different families is named by both", () => {
  const linear = uniformLinear("bf16");
  const policy: PrecisionPolicy = {
    ...POLICIES.bf16,
    linear: { ...linear, fprop: { ...linear.fprop, w: { format: "nvfp4" } } },
  };
  // Fprop of fc1 and fc2: one of the blocks' three GEMMs.
  assertEquals(gemmFlopShares(MLP, policy, TRAIN), [
    { format: "bf16", share: (2 * 32768 + 3 * 16384) / (3 * 49152) },
    { format: "nvfp4×bf16", share: 32768 / (3 * 49152) },
  ]);
});

Deno.test("shares are written in whole percent, without rounding a share away", () => {
  assertStrictEquals(describeFlopShares([{ format: "bf16", share: 1 }]), "bf16 100 %");
  assertStrictEquals(
    describeFlopShares([{ format: "nvfp4", share: 0.9951 }, { format: "bf16", share: 0.0049 }]),
    "nvfp4 > 99 %, bf16 < 1 %",
  );
});
