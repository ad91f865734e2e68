// `compute: bf16` in the decoder: one step of the bf16 policy under BF16 compute follows the
// float64 reference that rounds at the same points (and not the FP32 one), every tensor a
// quantizer reads is BF16 after a step (and is not under FP32 compute), `compute: fp32` is the
// default bit for bit, and a tiny GPT still trains under nvfp4 with BF16 compute.
import { assertOk, assertStrictEquals, relativeError } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { DecoderModel, type StepConfig } from "../../src/model/decoder.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import type { PrecisionPolicy } from "../../src/model/policy.ts";
import { referenceStep } from "../../src/model/reference.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { isBf16 } from "../../src/formats/bf16.ts";
import { readBuffer } from "../../src/gpu/buffers.ts";
import { assertFallingLoss, lossCurve, TINY_GPT, TINY_HYBRID } from "./harness.ts";

const DECODER: ModelConfig = { ...TINY_GPT, mlp: "swiglu" };
const HYBRID = TINY_HYBRID;

const STEP: StepConfig = { batch: 2, seed: 5, totalSteps: 4, clip: Infinity, adamw: {} };

function batchOf(cfg: ModelConfig, seed = 0) {
  const n = STEP.batch * cfg.seqLen;
  const inputs = Uint32Array.from({ length: n }, (_, i) => (i * 11 + 3 + seed) % cfg.vocab);
  const targets = Uint32Array.from({ length: n }, (_, i) => (i * 5 + 1 + seed) % cfg.vocab);
  return { inputs, targets };
}

const withCompute = (p: PrecisionPolicy, compute: "fp32" | "bf16"): PrecisionPolicy => ({
  ...p,
  compute,
});

for (
  const [cfg, tol] of [
    [DECODER, { loss: 1e-6, grad: 1e-3 }],
    // The Mamba-2 mixer's longer chains flip more BF16 roundings between f32 and float64.
    [HYBRID, { loss: 1e-5, grad: 6e-3 }],
  ] as const
) {
  Deno.test(`one bf16 step under compute bf16 (${cfg.pattern}) follows the BF16-rounding reference, not the FP32 one`, async () => {
    const gpu = await getGpu();
    const model = await DecoderModel.create(gpu, cfg, withCompute(POLICIES.bf16, "bf16"), STEP);
    const params = new Map<string, Float32Array>();
    for (const p of model.params) params.set(p.spec.name, await model.read(p.spec.name));
    const batch = batchOf(cfg);
    await model.step(batch, 1, 0);
    const { loss } = await model.readMetrics();
    const ref = referenceStep(cfg, params, STEP.batch, batch.inputs, batch.targets, { bf16: true });
    const fp32 = referenceStep(cfg, params, STEP.batch, batch.inputs, batch.targets);
    const lossErr = Math.abs(loss - ref.loss) / ref.loss;
    assertOk(lossErr < tol.loss, `loss ${loss} vs ${ref.loss}`);
    assertOk(
      Math.abs(loss - fp32.loss) / fp32.loss > 5 * lossErr,
      "the FP32 reference is as close",
    );
    let worst = 0;
    let worstFp32 = 0;
    for (const p of model.params) {
      const g = await model.read(p.spec.name, "g");
      const err = relativeError(g, ref.grads.get(p.spec.name)!);
      assertOk(err < tol.grad, `gradient of ${p.spec.name}: relative error ${err}`);
      worst = Math.max(worst, err);
      worstFp32 = Math.max(worstFp32, relativeError(g, fp32.grads.get(p.spec.name)!));
    }
    assertOk(worstFp32 > 4 * worst, `FP32 reference ${worstFp32} vs BF16 reference ${worst}`);
    model.destroy();
  });
}

/** Every value of every tensor a linear layer's quantizers read (x, dy) after two nvfp4 steps. */
async function quantizerInputs(
  cfg: ModelConfig,
  compute: "fp32" | "bf16",
): Promise<Map<string, Float32Array>> {
  const gpu = await getGpu();
  const model = await DecoderModel.create(gpu, cfg, withCompute(POLICIES.nvfp4, compute), STEP);
  for (let s = 1; s <= 2; s++) await model.step(batchOf(cfg, s), s, 1e-2);
  await model.finish();
  const out = new Map<string, Float32Array>();
  for (const l of model.linears) {
    for (const source of ["x", "dy"] as const) {
      const buf = l.buffers[source];
      out.set(`${l.plan.label}.${source}`, new Float32Array(await readBuffer(gpu.device, buf)));
    }
  }
  model.destroy();
  return out;
}

for (const cfg of [DECODER, HYBRID]) {
  Deno.test(`compute bf16 (${cfg.pattern}): every tensor a quantizer reads is BF16; under fp32 they are not`, async () => {
    const bf16 = await quantizerInputs(cfg, "bf16");
    assertOk(bf16.size >= 4 * 2, `${bf16.size} tensors`);
    for (const [name, values] of bf16) {
      const i = values.findIndex((v) => !isBf16(v));
      assertOk(i < 0, `${name}[${i}] = ${values[i]} is not BF16`);
    }
    const fp32 = await quantizerInputs(cfg, "fp32");
    const notBf16 = [...fp32.values()].filter((v) => !v.every(isBf16)).length;
    assertOk(notBf16 >= fp32.size / 2, `only ${notBf16} of ${fp32.size} FP32 tensors are not BF16`);
  });
}

Deno.test("compute fp32 is the default: the same loss curve bit for bit as a policy without it", async () => {
  const cfg = { ...DECODER, seqLen: 16, vocab: 256 };
  const plain = await lossCurve(cfg, POLICIES.nvfp4, 4);
  const fp32 = await lossCurve(cfg, withCompute(POLICIES.nvfp4, "fp32"), 4);
  const bf16 = await lossCurve(cfg, withCompute(POLICIES.nvfp4, "bf16"), 4);
  assertStrictEquals(fp32.join(), plain.join());
  assertOk(bf16.join() !== plain.join(), "compute bf16 changed nothing");
});

Deno.test("a tiny GPT trains with falling loss under nvfp4 with compute bf16", async () => {
  const cfg = { ...DECODER, mlp: "relu2" as const, seqLen: 16, vocab: 256 };
  assertFallingLoss(await lossCurve(cfg, withCompute(POLICIES.nvfp4, "bf16"), 30), cfg.vocab);
});
