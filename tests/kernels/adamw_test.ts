import { assertBitsEqual, assertEquals, assertOk, assertRejects, assertThrows } from "../assert.ts";
import { normal } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import type { BoundOp } from "../../src/gpu/op.ts";
import { getGpu, type Gpu } from "../../src/gpu/device.ts";
import { AdamwKernel, type AdamwTensor } from "../../kernels/adamw/mod.ts";
import { adamwHyper } from "../../kernels/adamw/reference.ts";
import { ClipKernel } from "../../kernels/clip/mod.ts";
import {
  type AdamwConfig,
  adamwReference,
  type AdamwTensor as RefTensor,
  resolveAdamw,
} from "../../kernels/adamw/reference.ts";
import { clipReference } from "../../kernels/clip/reference.ts";
import { lrAt, type Schedule } from "../../src/train/schedule.ts";

const GARBAGE = 777;

/** Host-side state of one tensor, padded to whole vec4 with garbage the kernel must not touch. */
function tensorState(size: number, seed: number, decay: boolean): RefTensor {
  const g = normal(seed);
  const param = Float32Array.from({ length: size }, () => g());
  return {
    param,
    grad: new Float32Array(size),
    m: new Float32Array(size),
    v: new Float32Array(size),
    decay,
  };
}

function padded(x: Float32Array): Float32Array {
  const out = new Float32Array(Math.max(4, Math.ceil(x.length / 4) * 4)).fill(GARBAGE);
  out.set(x);
  return out;
}

/** Gradients of step `step`: normal values at varied scales, some exact zeros. */
function fillGrads(t: RefTensor, seed: number, scale: number): void {
  const g = normal(seed);
  for (let i = 0; i < t.grad.length; i++) t.grad[i] = i % 7 === 3 ? 0 : g() * scale;
}

/** An {@link AdamwTensor} whose bindings are whole buffers. */
type BufferTensor = AdamwTensor & { param: GPUBuffer; grad: GPUBuffer; m: GPUBuffer; v: GPUBuffer };

interface Setup {
  gpu: Gpu;
  tensors: BufferTensor[];
  hyper: GPUBuffer;
  clip: GPUBuffer;
  destroy(): void;
}

function setup(gpu: Gpu, host: RefTensor[]): Setup {
  const tensors = host.map((t) => ({
    param: upload(gpu, padded(t.param)),
    grad: upload(gpu, padded(t.grad)),
    m: upload(gpu, padded(t.m)),
    v: upload(gpu, padded(t.v)),
    size: t.param.length,
    decay: t.decay,
  }));
  const hyper = zeros(gpu, 2);
  const clip = upload(gpu, new Float32Array([0, 1]));
  return {
    gpu,
    tensors,
    hyper,
    clip,
    destroy() {
      for (const t of tensors) for (const b of [t.param, t.grad, t.m, t.v]) b.destroy();
      hyper.destroy();
      clip.destroy();
    },
  };
}

/**
 * Runs `ops` for one step starting from the GPU's current state and checks the result against the
 * reference applied to that same state and the GPU's clip factor, so errors do not accumulate
 * across steps. Per element: p within 2 ulp plus 1e-5 of its update; m within 1e-5 plus 2 ulp of
 * its two terms (which may cancel); v within 1e-5 (no cancellation). The vec4 padding keeps its
 * garbage bits.
 */
async function stepAndCheck(
  s: Setup,
  host: RefTensor[],
  config: AdamwConfig,
  lr: number,
  step: number,
  ops: BoundOp[],
): Promise<void> {
  const lens = host.map((h) => Math.max(4, Math.ceil(h.param.length / 4) * 4));
  const read = (ti: number, name: "param" | "m" | "v") =>
    download(s.gpu, s.tensors[ti][name], lens[ti]);
  for (let ti = 0; ti < host.length; ti++) {
    const n = host[ti].param.length;
    for (const name of ["param", "m", "v"] as const) {
      host[ti][name].set((await read(ti, name)).subarray(0, n));
    }
  }
  const old = host.map((h) => ({ p: h.param.slice(), m: h.m.slice(), g: h.grad.slice() }));
  runOps(s.gpu, ops);
  const clip = (await download(s.gpu, s.clip, 2))[1];
  adamwReference(host, config, lr, step, clip);
  const { beta1, weightDecay } = resolveAdamw(config);
  const ulp2 = 2 ** -22;
  for (let ti = 0; ti < host.length; ti++) {
    const t = host[ti];
    const o = old[ti];
    const lambda = t.decay ? weightDecay : 0;
    const tolerance = {
      param: (i: number) => {
        const update = Math.abs(o.p[i] - lr * lambda * o.p[i] - t.param[i]);
        return ulp2 * Math.abs(t.param[i]) + 1e-5 * update;
      },
      m: (i: number) =>
        1e-5 * Math.abs(t.m[i]) +
        ulp2 * (beta1 * Math.abs(o.m[i]) + (1 - beta1) * Math.abs(o.g[i] * clip)),
      v: (i: number) => 1e-5 * Math.abs(t.v[i]),
    };
    for (const name of ["param", "m", "v"] as const) {
      const got = await read(ti, name);
      const expected = t[name];
      for (let i = 0; i < expected.length; i++) {
        assertOk(
          Math.abs(got[i] - expected[i]) <= tolerance[name](i),
          `step ${step}: tensor ${ti} ${name}[${i}] = ${got[i]}, expected ${expected[i]}`,
        );
      }
      for (let i = expected.length; i < lens[ti]; i++) {
        assertEquals(got[i], GARBAGE, `${name} padding untouched`);
      }
    }
  }
}

Deno.test("adamw with clipping over several steps equals the float64 reference", async (t) => {
  const gpu = await getGpu();
  const configs: [string, AdamwConfig][] = [
    ["PyTorch defaults (β₂ = 0.999: tiny bias correction at step 1)", {}],
    ["NVFP4 paper (0.9, 0.95, λ 0.1)", { beta1: 0.9, beta2: 0.95, weightDecay: 0.1, eps: 1e-8 }],
    ["β₁ = 0, large ε", { beta1: 0, beta2: 0.99, weightDecay: 0.5, eps: 1e-3 }],
  ];
  const schedule: Schedule = { kind: "cosine", lr: 1e-2, minLr: 1e-3, warmup: 1 };
  const steps = 3;
  for (const [name, config] of configs) {
    await t.step(name, async () => {
      const sizes = [1, 3, 4, 5, 64, 1030];
      const host = sizes.map((n, i) => tensorState(n, 10 + i, i % 2 === 0));
      const s = setup(gpu, host);
      const clipKernel = await ClipKernel.create(gpu);
      const clipOp = clipKernel.bind({ tensors: s.tensors, clip: s.clip }, { maxNorm: 2 });
      const op = (await AdamwKernel.create(gpu, config)).bind(s);
      assertEquals(op.dispatches, sizes.length);
      for (let step = 0; step < steps; step++) {
        // Gradient scale 0.1 in the first step (no clipping), 1 later (clipped).
        host.forEach((h, i) => fillGrads(h, 100 * step + i, step === 0 ? 0.01 : 1));
        host.forEach((h, i) =>
          gpu.device.queue.writeBuffer(s.tensors[i].grad, 0, new Float32Array(h.grad))
        );
        const lr = lrAt(schedule, step, steps);
        gpu.device.queue.writeBuffer(s.hyper, 0, adamwHyper(lr, step + 1));
        await stepAndCheck(s, host, config, lr, step + 1, [clipOp, op]);
        const { factor } = clipReference(host.map((h) => h.grad), 2);
        assertOk(step === 0 ? factor === 1 : factor < 0.5, `clipping active at step ${step}`);
        const gpuFactor = (await download(gpu, s.clip, 2))[1];
        assertOk(Math.abs(gpuFactor - factor) <= 1e-6 * factor, `clip factor ${gpuFactor}`);
      }
      clipOp.destroy();
      op.destroy();
      s.destroy();
    });
  }
});

Deno.test("adamw at a late step (bias corrections → 1) and weight decay only where flagged", async () => {
  const gpu = await getGpu();
  const host = [tensorState(6, 1, true), tensorState(6, 2, false)];
  for (const h of host) {
    h.m.fill(0.01);
    h.v.fill(1e-4);
  }
  const s = setup(gpu, host); // zero gradients
  const config = { beta1: 0.9, beta2: 0.95, weightDecay: 0.1 };
  const op = (await AdamwKernel.create(gpu, config)).bind(s);
  gpu.device.queue.writeBuffer(s.hyper, 0, adamwHyper(3e-3, 2 ** 24));
  await stepAndCheck(s, host, config, 3e-3, 2 ** 24, [op]);
  s.destroy();
  op.destroy();
});

Deno.test("adamw is deterministic: two runs are bit-identical", async () => {
  const gpu = await getGpu();
  const results: Float32Array[] = [];
  for (let run = 0; run < 2; run++) {
    const host = [tensorState(4099, 3, true)];
    fillGrads(host[0], 4, 1);
    const s = setup(gpu, host);
    const op = (await AdamwKernel.create(gpu, { beta2: 0.95 })).bind(s);
    for (let step = 1; step <= 2; step++) {
      gpu.device.queue.writeBuffer(s.hyper, 0, adamwHyper(1e-3, step));
      runOps(gpu, [op]);
    }
    for (const b of [s.tensors[0].param, s.tensors[0].m, s.tensors[0].v]) {
      results.push(await download(gpu, b, 4100));
    }
    op.destroy();
    s.destroy();
  }
  for (let i = 0; i < 3; i++) assertBitsEqual(results[i], results[i + 3], ["p", "m", "v"][i]);
});

Deno.test("adamw tensors beyond one dispatch dimension use the split dispatch", async () => {
  const real = await getGpu();
  const gpu: Gpu = { ...real, limits: { ...real.limits, maxComputeWorkgroupsPerDimension: 2 } };
  const host = [tensorState(4 * 256 * 5 - 3, 5, true)]; // 5 workgroups as [2, 3]
  fillGrads(host[0], 6, 1);
  const s = setup(gpu, host);
  const config = { weightDecay: 0.1 };
  const op = (await AdamwKernel.create(gpu, config)).bind(s);
  gpu.device.queue.writeBuffer(s.hyper, 0, adamwHyper(1e-3, 1));
  await stepAndCheck(s, host, config, 1e-3, 1, [op]);
  op.destroy();
  s.destroy();
});

Deno.test("adamw rejects bad configurations, steps and bindings", async () => {
  const gpu = await getGpu();
  await assertRejects(() => AdamwKernel.create(gpu, { beta1: 1 }), {
    name: "RangeError",
    message: /adamw\.beta1 must be in \[0, 1\), got 1/,
  });
  await assertRejects(() => AdamwKernel.create(gpu, { eps: 0 }), /adamw\.eps .* got 0/);
  await assertRejects(() => AdamwKernel.create(gpu, { weightDecay: -1 }), /weightDecay .* -1/);
  assertThrows(() => adamwHyper(-1, 1), /lr .* got -1/);
  assertThrows(() => adamwHyper(1, 2 ** 24 + 1), /step/);
  assertThrows(() => adamwReference([], {}, 1, 0), /step .* got 0/);
  const kernel = await AdamwKernel.create(gpu, {});
  const s = setup(gpu, [tensorState(5, 1, true)]);
  const short = zeros(gpu, 4);
  assertThrows(() => kernel.bind({ ...s, tensors: [{ ...s.tensors[0], m: short }] }), {
    name: "RangeError",
    message: /tensors\[0\]\.m binds 16 bytes, needs 32/,
  });
  const tiny = zeros(gpu, 1);
  assertThrows(() => kernel.bind({ ...s, hyper: tiny }), /io\.hyper binds 4 bytes, needs 8/);
  assertThrows(() => kernel.bind({ ...s, clip: tiny }), /io\.clip binds 4 bytes, needs 8/);
  s.destroy();
  short.destroy();
  tiny.destroy();
});
