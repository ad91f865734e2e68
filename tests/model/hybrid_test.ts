import { assertStrictEquals, assertThrows } from "../assert.ts";
import type { StepConfig } from "../../src/model/decoder.ts";
import { type ModelConfig, paramSpecs, validateModelConfig } from "../../src/model/config.ts";
import {
  assertEstimateIsAllocated,
  assertFallingLoss,
  assertSeedDeterminism,
  assertStepMatchesReference,
  lossCurve,
  TINY_HYBRID,
} from "./harness.ts";

const TINY = TINY_HYBRID;

Deno.test("one fp32 training step of a hybrid matches the float64 reference within 1e-4", async () => {
  const step: StepConfig = { batch: 2, seed: 5, totalSteps: 1, clip: Infinity, adamw: {} };
  const n = 2 * TINY.seqLen;
  const inputs = Uint32Array.from({ length: n }, (_, i) => (i * 11 + 3) % TINY.vocab);
  const targets = Uint32Array.from({ length: n }, (_, i) => (i * 5 + 1) % TINY.vocab);
  await assertStepMatchesReference(TINY, step, { inputs, targets });
});

Deno.test("a Mamba-2 block has the mixer's parameters with Mamba-2's initialisation", () => {
  const specs = paramSpecs(TINY).filter((s) => s.name.startsWith("blocks.0."));
  assertStrictEquals(
    specs.map((s) => `${s.name}:${s.shape.join("x")}:${s.decay}`).join(" "),
    "blocks.0.norm:32:false blocks.0.in_proj:160x32:true blocks.0.conv_w:88x4:true " +
      "blocks.0.conv_b:88:false blocks.0.dt_bias:8:false blocks.0.A_log:8:false " +
      "blocks.0.D:8:false blocks.0.mixer_norm:64:false blocks.0.out_proj:32x64:true",
  );
});

Deno.test("a pattern with M needs a Mamba-2 shape whose widths fit the quantizers", () => {
  assertThrows(
    () => validateModelConfig({ ...TINY, pattern: "M-x" }),
    /model.pattern must be a non-empty string of "M" \(Mamba-2\)/,
  );
  assertThrows(
    () => validateModelConfig({ ...TINY, mamba: { headDim: 12 } }),
    /model.mamba.headDim must divide d_inner = expand · dModel = 64, got 12/,
  );
  assertThrows(
    () => validateModelConfig({ ...TINY, mamba: { headDim: 8, nGroups: 3 } }),
    /model.mamba.nGroups must divide the 8 Mamba heads/,
  );
  assertThrows(
    () => validateModelConfig({ ...TINY, mamba: { headDim: 8, dState: 5 } }),
    /in_proj width .* = 146 must be a multiple of 16/,
  );
  // Without M blocks the Mamba-2 shape is not checked.
  validateModelConfig({ ...TINY, pattern: "*-", mamba: { headDim: 12 } });
});

const SMALL: ModelConfig = {
  pattern: "M-*-",
  dModel: 32,
  heads: 2,
  dFf: 64,
  seqLen: 16,
  vocab: 256,
  mlp: "relu2",
  mamba: { dState: 4, headDim: 8, expand: 2, nGroups: 1 },
};

for (const policy of ["fp32", "nvfp4"]) {
  Deno.test(`a tiny hybrid trains with falling loss under the ${policy} policy`, async () => {
    assertFallingLoss(await lossCurve(SMALL, policy, 30), SMALL.vocab);
  });
}

Deno.test("a hybrid's loss curve is bit-identical for the same seed and differs for another", async () => {
  await assertSeedDeterminism(SMALL, 5);
});

Deno.test("estimateMemory equals what a hybrid allocates, for every policy", async () => {
  await assertEstimateIsAllocated({ ...TINY, pattern: "M*-M" });
});
