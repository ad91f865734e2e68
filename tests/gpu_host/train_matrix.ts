/**
 * GPU-host tests of training on the matrix units (src/model/linear.ts): they need an adapter with
 * subgroup matrices (Dawn on NVIDIA), so they run under `deno task test:gpu` on a GPU host and fail
 * (never skip) elsewhere.
 *
 * - every GEMM of a policy whose operands have f16 operands runs on the matrix units, and the
 *   fp32 policy's on the f32 GEMM;
 * - one training step with matrix-unit GEMMs equals the SIMT step up to f32 summation order: the
 *   loss, and every gradient within a relative error that quantization's rounding flips explain;
 * - the matrix-unit step is deterministic: two models give bit-identical gradients.
 */

import { getGpu, type Gpu } from "../../src/gpu/device.ts";
import { matrixGemmAvailable } from "../../kernels/gemm_matrix/mod.ts";
import { DecoderModel, type StepConfig } from "../../src/model/decoder.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { describeGemmPaths } from "../../src/model/plan.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import type { OperandPolicy, PrecisionPolicy } from "../../src/model/policy.ts";
import { randomBits, streamKey } from "../../src/formats/rng.ts";
import { assertBitsEqual, assertOk, assertStrictEquals, relativeError } from "../assert.ts";

async function dawn(): Promise<Gpu> {
  const gpu = await getGpu({ implementation: "dawn" });
  if (!matrixGemmAvailable(gpu)) {
    throw new Error(`no subgroup matrices on "${gpu.info.description}": run on a GPU host`);
  }
  return gpu;
}

/** Every GEMM of this model fits the matrix GEMM's 64×64×32 tiles (M = 2 · 32 tokens). */
const CFG: ModelConfig = {
  pattern: "*-*-",
  dModel: 64,
  heads: 2,
  dFf: 256,
  seqLen: 32,
  vocab: 256,
  mlp: "relu2",
};
const BATCH = 2;

function batch() {
  const n = BATCH * CFG.seqLen;
  const key = streamKey(3, 0x7e57, 1);
  return {
    inputs: Uint32Array.from({ length: n }, (_, i) => randomBits(key, i) % CFG.vocab),
    targets: Uint32Array.from({ length: n }, (_, i) => randomBits(key, n + i) % CFG.vocab),
  };
}

/** The presets, and nvfp4 with Wgrad Hadamard signs drawn per GEMM and step. */
function policyNamed(name: string): PrecisionPolicy {
  if (name !== "nvfp4-rht-random") return POLICIES[name];
  const { linear } = POLICIES.nvfp4;
  const random = (o: OperandPolicy) => ({ ...o, rht: { size: 16, signs: "random" as const } });
  return {
    ...POLICIES.nvfp4,
    name,
    linear: { ...linear, wgrad: { dy: random(linear.wgrad.dy), x: random(linear.wgrad.x) } },
  };
}

async function step(gpu: Gpu, policy: string, matrixUnits: boolean) {
  const cfg: StepConfig = { batch: BATCH, seed: 1, totalSteps: 1, clip: Infinity, adamw: {} };
  // Without the recipe's BF16 first and last blocks, so that every block runs the policy itself.
  const p = { ...policyNamed(policy), highPrecisionBlocks: undefined };
  const model = await DecoderModel.create(gpu, CFG, p, { ...cfg, matrixUnits });
  const paths = describeGemmPaths(model.gemmPaths);
  await model.step(batch(), 1, 0);
  const loss = (await model.readMetrics()).loss;
  const grads = new Map<string, Float32Array>();
  for (const p of model.params) grads.set(p.spec.name, await model.read(p.spec.name, "g"));
  model.destroy();
  return { paths, loss, grads };
}

Deno.test("the fp32 policy keeps every GEMM on the f32 GEMM; quantized policies move to the matrix units", async () => {
  const gpu = await dawn();
  assertOk(/^f32 \d+$/.test((await step(gpu, "fp32", true)).paths));
  for (const policy of ["bf16", "fp8-current", "mxfp4", "nvfp4"]) {
    const { paths } = await step(gpu, policy, true);
    assertOk(/^matrix \d+$/.test(paths), `${policy}: ${paths}`);
    assertOk(!/matrix/.test((await step(gpu, policy, false)).paths), `${policy} forced to SIMT`);
  }
});

// Bounds: the loss agrees to f32 summation order; gradients pass through later quantizations
// (bf16 dY, fp8, NVFP4 with SR), where an f32-level difference can flip one rounding and move that
// element by a quantization step, so the relative (Frobenius) error is bounded by a fraction of the
// format's step rather than by f32's epsilon.
const GRAD_BOUND: Record<string, number> = {
  bf16: 1e-2,
  "fp8-current": 3e-2,
  mxfp4: 5e-2,
  nvfp4: 5e-2,
  "nvfp4-rht-random": 5e-2,
};

for (const policy of Object.keys(GRAD_BOUND)) {
  Deno.test(`a ${policy} step on the matrix units equals the SIMT step up to summation order`, async () => {
    const gpu = await dawn();
    const simt = await step(gpu, policy, false);
    const matrix = await step(gpu, policy, true);
    assertOk(
      Math.abs(matrix.loss - simt.loss) <= 1e-5 * simt.loss,
      `loss ${matrix.loss} vs ${simt.loss}`,
    );
    const errors: string[] = [];
    for (const [name, g] of simt.grads) {
      const err = relativeError(matrix.grads.get(name)!, g);
      console.log(`${policy} ${name}: relative error ${err.toExponential(2)}`);
      if (!(err <= GRAD_BOUND[policy])) errors.push(`${name}: ${err}`);
    }
    assertStrictEquals(errors.join("; "), "");
  });
}

Deno.test("a matrix-unit step is deterministic: two models give bit-identical gradients", async () => {
  const gpu = await dawn();
  const a = await step(gpu, "nvfp4", true);
  const b = await step(gpu, "nvfp4", true);
  assertStrictEquals(a.loss, b.loss);
  for (const [name, g] of a.grads) assertBitsEqual(b.grads.get(name)!, g, name);
});
