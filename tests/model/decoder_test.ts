import {
  assertBitsEqual,
  assertOk,
  assertStrictEquals,
  assertThrows,
  relativeError,
} from "../assert.ts";
import { updateHistory } from "../../kernels/amax_history/reference.ts";
import { checkMemory, estimateMemory, GpuMemoryError } from "../../src/model/memory.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { DecoderModel, type StepConfig } from "../../src/model/decoder.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { type LinearPolicy, uniformLinear } from "../../src/model/policy.ts";
import { gemmUnits } from "../../src/model/linear.ts";
import {
  assertEstimateIsAllocated,
  assertFallingLoss,
  assertSeedDeterminism,
  assertStepMatchesReference,
  lossCurve,
  TINY_GPT,
} from "./harness.ts";

const TINY = TINY_GPT;

function batchOf(n: number, vocab: number, seed: number) {
  const inputs = Uint32Array.from({ length: n }, (_, i) => (i * 7 + seed * 13 + (i >> 3)) % vocab);
  const targets = Uint32Array.from({ length: n }, (_, i) => (i * 5 + seed + 1) % vocab);
  return { inputs, targets };
}

for (const mlp of ["relu2", "gelu", "swiglu"] as const) {
  Deno.test(`one fp32 training step (${mlp}) matches the CPU reference within 1e-4`, async () => {
    const step: StepConfig = { batch: 2, seed: 3, totalSteps: 1, clip: Infinity, adamw: {} };
    const cfg = { ...TINY, mlp };
    const batch = batchOf(2 * cfg.seqLen, cfg.vocab, 1);
    const { metrics, ref } = await assertStepMatchesReference(cfg, step, batch);
    assertStrictEquals(metrics.accuracy, ref.accuracy);
  });
}

const SMALL: ModelConfig = { ...TINY, seqLen: 16, vocab: 256 };
for (const policy of ["fp32", "bf16", "fp8-current", "fp8-delayed", "mxfp4", "nvfp4"]) {
  Deno.test(`a tiny GPT trains with falling loss under the ${policy} policy`, async () => {
    assertFallingLoss(await lossCurve(SMALL, policy, 30), SMALL.vocab);
  });
}

Deno.test("a tiny GPT trains with falling loss under Four Over Six and row-scaled activations", async () => {
  const base = POLICIES["nvfp4-no-rht"];
  const fos = (tile: "1x16" | "16x16") =>
    ({
      format: { kind: "nvfp4", tile, fourOverSix: { error: "mse", scaleBound: 256 } },
    }) as const;
  const rows = { format: { kind: "nvfp4", rowScaled: true } } as const;
  const linear: LinearPolicy = {
    fprop: { x: rows, w: fos("16x16") },
    dgrad: base.linear.dgrad,
    wgrad: { dy: base.linear.wgrad.dy, x: fos("1x16") },
  };
  assertFallingLoss(await lossCurve(SMALL, { ...base, name: "options", linear }, 30), SMALL.vocab);
});

Deno.test("a tiny GPT trains with falling loss on the uniform 4-bit grids (UFP4, NVINT4)", async () => {
  // UFP4's recipe shape: E1M2 everywhere with 1×16 weights, an RHT on every GEMM, SR on dY only;
  // NVINT4 weights in 16×16 tiles on Fprop.
  const base = POLICIES.nvfp4;
  const rht = { size: 16 } as const;
  const ufp4 = { format: "ufp4", rounding: "rne", rht } as const;
  const dy = { format: "ufp4", rounding: "stochastic", rht } as const;
  const linear: LinearPolicy = {
    fprop: {
      x: { format: "nvint4", rounding: "rne" },
      w: { format: "nvint4-2d", rounding: "rne" },
    },
    dgrad: { dy, w: ufp4 },
    wgrad: { dy, x: ufp4 },
  };
  assertFallingLoss(await lossCurve(SMALL, { ...base, name: "uniform", linear }, 30), SMALL.vocab);
});

Deno.test("delayed FP8 states roll on the GPU at every step as the CPU oracle rolls them", async () => {
  const scaling = { delayed: { historyLength: 2, algo: "max", margin: 1 } } as const;
  const e4m3 = { format: { kind: "fp8", element: "e4m3", scaling } } as const;
  const e5m2 = { format: { kind: "fp8", element: "e5m2", scaling } } as const;
  const linear: LinearPolicy = {
    fprop: { x: e4m3, w: e4m3 },
    dgrad: { dy: e5m2, w: e4m3 },
    wgrad: { dy: e5m2, x: e4m3 },
  };
  const policy = { ...POLICIES["fp8-delayed"], name: "short", linear };
  const step: StepConfig = { batch: 2, seed: 1, totalSteps: 4, clip: 1, adamw: {} };
  const model = await DecoderModel.create(await getGpu(), SMALL, policy, step);
  try {
    let before = await model.readDelayedStates();
    // x and w (Dgrad and Wgrad reuse the Fprop copies) and Dgrad's and Wgrad's dy, of qkv, proj,
    // fc1 and fc2.
    assertStrictEquals(before.size, 16);
    assertOk([...before.keys()].includes("blocks.0.qkv.x.history"), [...before.keys()].join());
    for (let s = 1; s <= 4; s++) {
      await model.step(batchOf(2 * SMALL.seqLen, SMALL.vocab, s), s, 1e-3);
      const after = await model.readDelayedStates();
      for (const [label, words] of after) {
        const element = /\.dyw?\./.test(label) ? "e5m2" : "e4m3";
        const cfg = { element, ...scaling.delayed } as const;
        // The step's amax is the most recent slot (it was not zero: every tensor moved).
        const amax = words[2];
        assertOk(amax > 0, `${label} step ${s}: amax ${amax}`);
        assertBitsEqual(words, updateHistory(before.get(label)!, amax, cfg), `${label} step ${s}`);
      }
      before = after;
    }
    assertOk([...before.values()].every((w) => w[0] !== 1), "every scale moved off 1");
  } finally {
    model.destroy();
  }
});

Deno.test("same config and seed give a bit-identical loss curve; another seed does not", async () => {
  await assertSeedDeterminism(SMALL, 6);
});

Deno.test("estimateMemory equals what DecoderModel allocates, for every policy and MLP", async () => {
  for (const mlp of ["relu2", "swiglu"] as const) {
    await assertEstimateIsAllocated({ ...TINY, mlp, pattern: "*-*-" });
  }
});

Deno.test("estimateMemory counts the numeric-health probe's buffers exactly", async () => {
  await assertEstimateIsAllocated({ ...TINY, pattern: "*-*-" }, { draws: 3 });
});

Deno.test("checkMemory refuses a run that does not fit, naming the need and the adapter", async () => {
  const gpu = await getGpu();
  const big = { ...TINY, vocab: 1 << 20, seqLen: 512 };
  assertThrows(() => checkMemory(gpu, big, POLICIES.fp32, 512, 10), GpuMemoryError);
  assertThrows(
    () => checkMemory(gpu, TINY, POLICIES.fp32, 2, 10, 1e5),
    /the run needs 0\.\d\d GiB of GPU memory but adapter ".*" offers about 0\.00 GiB/,
  );
  assertOk(checkMemory(gpu, TINY, POLICIES.fp32, 2, 10).bytes > 0);
});

Deno.test("a policy's late switch rebuilds the step with the new formats and frees the old buffers", async () => {
  const gpu = await getGpu();
  const policy = { ...POLICIES.nvfp4, switchTo: { atFraction: 0.5, policy: POLICIES.fp32.linear } };
  const step: StepConfig = { batch: 2, seed: 0, totalSteps: 4, clip: 1, adamw: {} };
  const model = await DecoderModel.create(gpu, TINY, policy, step);
  const batch = batchOf(2 * TINY.seqLen, TINY.vocab, 0);
  await model.step(batch, 1, 1e-3);
  const before = model.dispatchesPerStep;
  const bytesBefore = model.bytes;
  await model.step(batch, 2, 1e-3);
  assertOk(model.dispatchesPerStep < before, `dispatches ${before} → ${model.dispatchesPerStep}`);
  assertOk(model.bytes < bytesBefore, `bytes ${bytesBefore} → ${model.bytes}`);
  assertStrictEquals(
    estimateMemory(TINY, policy, 2, 4, gemmUnits(gpu)).bytes,
    bytesBefore,
  );
  assertOk(Number.isFinite((await model.readMetrics()).loss));
  model.destroy();
});

Deno.test("NVFP4 GEMMs on packed codes give the fake-quant path's step up to f32 rounding", async () => {
  const gpu = await getGpu();
  const cfg = { ...TINY, pattern: "*-*-", dModel: 64, dFf: 128 };
  const batch = batchOf(2 * cfg.seqLen, cfg.vocab, 2);
  const run = async (packedNvfp4: boolean) => {
    const step: StepConfig = { batch: 2, seed: 1, totalSteps: 1, clip: Infinity, adamw: {} };
    const policy = { ...POLICIES.nvfp4, highPrecisionBlocks: undefined };
    const model = await DecoderModel.create(gpu, cfg, policy, { ...step, packedNvfp4 });
    await model.step(batch, 1, 0);
    const loss = (await model.readMetrics()).loss;
    const grads = new Map<string, Float32Array>();
    for (const p of model.params) grads.set(p.spec.name, await model.read(p.spec.name, "g"));
    model.destroy();
    return { loss, grads };
  };
  const packed = await run(true);
  const fake = await run(false);
  assertOk(Math.abs(packed.loss - fake.loss) < 1e-5 * fake.loss, `${packed.loss} vs ${fake.loss}`);
  for (const [name, g] of fake.grads) {
    const err = relativeError(packed.grads.get(name)!, g);
    assertOk(err < 1e-2, `gradient of ${name}: relative error ${err}`);
  }
});

Deno.test("pacing the waits changes nothing the model computes, and stepTimes gives one GPU time per step", async () => {
  const gpu = await getGpu();
  const run = async (pace: boolean) => {
    const model = await DecoderModel.create(gpu, SMALL, POLICIES.nvfp4, {
      batch: 2,
      seed: 5,
      totalSteps: 6,
      clip: 1,
      adamw: {},
      pace,
    });
    const losses: number[] = [];
    const times: number[][] = [];
    for (let s = 1; s <= 6; s++) {
      await model.step(batchOf(2 * SMALL.seqLen, SMALL.vocab, s), s, 1e-3);
      if (s % 3 === 0) {
        losses.push((await model.readMetrics()).loss);
        times.push(await model.stepTimes());
      }
      await model.evaluate(batchOf(2 * SMALL.seqLen, SMALL.vocab, 100 + s));
    }
    const weights = await model.read("blocks.1.fc1");
    model.destroy();
    return { losses, times, weights };
  };
  const [paced, unpaced] = [await run(true), await run(false)];
  assertStrictEquals(JSON.stringify(paced.losses), JSON.stringify(unpaced.losses));
  assertOk(paced.weights.every((w, i) => Object.is(w, unpaced.weights[i])), "weights differ");
  const timed = gpu.features.has("timestamp-query");
  for (const t of paced.times) assertStrictEquals(t.length, timed ? 3 : 0);
});

Deno.test("random RHT signs: both Wgrad operands share one vector per step, so dW is the unrotated product", async () => {
  const gpu = await getGpu();
  const fp32 = uniformLinear("fp32");
  const rht = { format: "fp32", rht: { size: 16, signs: "random" } } as const;
  const rotated = { ...fp32, wgrad: { dy: rht, x: rht } };
  const grads = async (linear: LinearPolicy) => {
    const policy = { name: "p", linear, head: "fp32" } as const;
    const model = await DecoderModel.create(gpu, SMALL, policy, {
      batch: 2,
      seed: 4,
      totalSteps: 3,
      clip: Infinity,
      adamw: {},
    });
    const out: Float32Array[] = [];
    for (let s = 1; s <= 2; s++) {
      await model.step(batchOf(2 * SMALL.seqLen, SMALL.vocab, s), s, 0);
      out.push(await model.read("blocks.1.fc1", "g"));
    }
    model.destroy();
    return out;
  };
  const [plain, turned] = [await grads(fp32), await grads(rotated)];
  for (const [i, g] of turned.entries()) {
    const err = relativeError(g, plain[i]);
    assertOk(err < 1e-5, `step ${i + 1}: relative error ${err}`);
  }
});
