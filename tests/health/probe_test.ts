import { assertEquals, assertOk } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { createBufferFrom, createEmptyBuffer } from "../../src/gpu/buffers.ts";
import type { BoundOp } from "../../src/gpu/op.ts";
import { GemmKernel } from "../../kernels/gemm/mod.ts";
import { ElementwiseKernels } from "../../kernels/elementwise/mod.ts";
import {
  buildLinear,
  F32_GEMM_ONLY,
  type LayerContext,
  planLinear,
} from "../../src/model/linear.ts";
import { bufferBytes } from "../../src/model/plan.ts";
import type { LinearPolicy } from "../../src/model/policy.ts";
import { DecoderModel } from "../../src/model/decoder.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { HealthProbe } from "../../src/model/health_probe.ts";
import type { GemmHealth } from "../../src/health/types.ts";
import { DelayedScaling } from "../../src/formats/fp8.ts";
import { quantize } from "../../src/formats/quantize.ts";
import { operandStatsReference } from "../../src/formats/health_reference.ts";

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Standard normal values (Box–Muller on a seeded LCG), deterministic. */
function gaussian(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from(
    { length: n },
    () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()),
  );
}

/**
 * One linear layer of `policy` on Gaussian x, w and dy, its step run with the probe; with
 * `xScaleBefore`, after a step without the probe whose x was scaled by it (and the delayed-scaling
 * updates of that step).
 */
async function probedLinear(
  policy: LinearPolicy,
  dims: { m: number; n: number; k: number },
  xScaleBefore?: number,
) {
  const gpu = await getGpu();
  const device = gpu.device;
  const [nt, nn, tn] = await Promise.all(
    (["nt", "nn", "tn"] as const).map((layout) => GemmKernel.create(gpu, { layout })),
  );
  const gemm = { nt, nn, tn };
  const elementwise = await ElementwiseKernels.create(gpu);
  const buffers: GPUBuffer[] = [];
  const empty = (elements: number) => {
    const b = createEmptyBuffer(device, bufferBytes(elements), STORAGE);
    buffers.push(b);
    return b;
  };
  const filled = (elements: number, seed: number) => {
    const data = new Float32Array(bufferBytes(elements) / 4);
    data.set(gaussian(elements, seed));
    const b = createBufferFrom(device, data, STORAGE);
    buffers.push(b);
    return b;
  };
  let ids = 0;
  const ctx: LayerContext = {
    gpu,
    elementwise,
    gemm,
    alloc: (b) => empty(b.elements),
    nextTensorId: () => ids++,
    compute: "fp32",
  };
  const { m, n, k } = dims;
  const plan = planLinear(policy, dims, F32_GEMM_ONLY, "layer");
  const x = filled(m * k, 1);
  const ops = await buildLinear(ctx, plan, {
    x,
    w: filled(n * k, 2),
    y: empty(m * n),
    dy: filled(m * n, 3),
    dw: empty(n * k),
    dx: empty(m * k),
  });
  const probe = await HealthProbe.create({ gpu, gemm, elementwise }, [ops], [], 4);
  const submit = (list: BoundOp[]) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const o of list) o.encode(pass);
    pass.end();
    device.queue.submit([enc.finish()]);
  };
  if (xScaleBefore !== undefined) {
    const x0 = gaussian(m * k, 1);
    device.queue.writeBuffer(x, 0, x0.map((v) => v * xScaleBefore));
    ops.setStep(5, 0);
    submit([...ops.forward, ...ops.backward, ...ops.scaleUpdates]);
    device.queue.writeBuffer(x, 0, new Float32Array(x0));
  }
  ops.setStep(5, 1);
  probe.setStep(5, 1);
  submit([...ops.forward, ...ops.backward.flatMap((o) => [o, ...(probe.after.get(o) ?? [])])]);
  const point = await probe.read(1);
  probe.destroy();
  ops.destroy();
  for (const b of buffers) b.destroy();
  return point.layers[0].gemms;
}

const byName = (gemms: readonly GemmHealth[], name: string) => gemms.find((g) => g.gemm === name)!;

Deno.test("health probe: the NVFP4 recipe's Wgrad on Gaussian data has relL2 ≈ 0.167, as TransformerEngine publishes", async () => {
  const gemms = await probedLinear(POLICIES.nvfp4.linear, { m: 1024, n: 64, k: 64 });
  const wgrad = byName(gemms, "wgrad");
  console.log(gemms.map((g) => `${g.gemm} ${g.relL2.toFixed(4)}`).join(", "));
  // TransformerEngine's single-GEMM figure is 0.1675; the bound allows for this size's sampling.
  assertOk(Math.abs(wgrad.relL2 - 0.167) < 0.01, `wgrad relL2 ${wgrad.relL2}`);
  assertOk(Math.abs(wgrad.gain - 1) < 0.05, `wgrad gain ${wgrad.gain}`);
  assertEquals(wgrad.a.format, "nvfp4+rht+sr");
  assertEquals(wgrad.nonFinite, 0);
  // Stochastic rounding is unbiased within its measured standard error.
  const bias = wgrad.a.bias!;
  assertEquals(bias.draws, 4);
  assertOk(Math.abs(bias.mean) < 5 * bias.stderr + 1e-4, JSON.stringify(bias));
  // Fprop and Dgrad: round-to-nearest operands, 1×16 activations and 16×16 weight tiles.
  for (const g of ["fprop", "dgrad"]) {
    const h = byName(gemms, g);
    assertOk(h.relL2 > 0.05 && h.relL2 < 0.2, `${g} relL2 ${h.relL2}`);
  }
  // Activations round to nearest; gradients (Dgrad's dY too) stochastically.
  assertEquals(byName(gemms, "fprop").a.bias, undefined);
  assertEquals(byName(gemms, "dgrad").a.format, "nvfp4+sr");
  assertEquals(byName(gemms, "fprop").b.format, "nvfp4-2d");
});

Deno.test("health probe: a BF16 layer's GEMMs are within BF16 rounding of FP32, an FP32 one exact", async () => {
  const bf16 = await probedLinear(POLICIES.bf16.linear, { m: 64, n: 32, k: 32 });
  for (const g of bf16) {
    assertOk(g.relL2 > 0 && g.relL2 < 0.01, `${g.gemm} ${g.relL2}`);
    assertOk(g.a.relL2 > 0 && g.a.relL2 < 0.005, `${g.gemm} a ${g.a.relL2}`);
    assertEquals([g.a.saturation, g.a.underflow], [0, 0]);
  }
  const fp32 = await probedLinear(POLICIES.fp32.linear, { m: 64, n: 32, k: 32 });
  for (const g of fp32) assertEquals([g.relL2, g.gain, g.a.relL2], [0, 1, 0]);
});

Deno.test("health probe: delayed FP8 operands are checked with the scale training used, from the history", async () => {
  const dims = { m: 64, n: 32, k: 32 };
  // The first step sees x / 4, so the second quantizes x with a scale 4× too large: values past a
  // quarter of the amax saturate, exactly as the CPU oracle counts them with that history.
  const gemms = await probedLinear(POLICIES["fp8-delayed"].linear, dims, 0.25);
  const x = gaussian(dims.m * dims.k, 1);
  const state = new DelayedScaling("e4m3");
  state.record(quantize(x.map((v) => v * 0.25), dims.m, dims.k, "fp8-e4m3").amax);
  const ref = operandStatsReference(x, dims.m, dims.k, {
    kind: "fp8",
    element: "e4m3",
    scaling: state,
  });
  const fx = byName(gemms, "fprop").a;
  assertEquals(fx.format, "fp8-e4m3");
  assertOk(ref.saturated > 0.2 * x.length, `${ref.saturated} saturated`);
  assertEquals(fx.saturation, ref.saturated / x.length);
  assertEquals(byName(gemms, "wgrad").b.saturation, ref.saturated / x.length); // the same copy
});

const TINY: ModelConfig = {
  pattern: "*-*-",
  dModel: 64,
  heads: 4,
  dFf: 256,
  seqLen: 32,
  vocab: 256,
  mlp: "relu2",
};

Deno.test("health probe: training with the probe on gives the same losses, gradients and weights bit for bit", async () => {
  const gpu = await getGpu();
  const run = async (health: boolean) => {
    const model = await DecoderModel.create(gpu, TINY, POLICIES["nvfp4-all-layers"], {
      batch: 2,
      seed: 3,
      totalSteps: 4,
      clip: 1,
      adamw: { weightDecay: 0.1 },
      ...(health ? { health: { draws: 2 } } : {}),
    });
    const out: number[][] = [];
    const tokens = 2 * TINY.seqLen;
    for (let step = 1; step <= 4; step++) {
      const inputs = Uint32Array.from({ length: tokens }, (_, i) => (i * 7 + step * 13) % 256);
      const targets = Uint32Array.from({ length: tokens }, (_, i) => (i * 11 + step) % 256);
      if (health && step % 2 === 0) {
        const point = await model.stepWithHealth({ inputs, targets }, step, 1e-3);
        assertEquals(point.layers.length, 9); // qkv, proj, fc1, fc2 twice, and the LM head
      } else {
        await model.step({ inputs, targets }, step, 1e-3);
      }
      const m = await model.readMetrics();
      out.push([m.loss, m.gradNorm, ...(await model.read("blocks.1.fc1", "p")).slice(0, 64)]);
    }
    model.destroy();
    return out;
  };
  assertEquals(await run(true), await run(false));
});
