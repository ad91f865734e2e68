import { assertBitsEqual, assertStrictEquals } from "../assert.ts";
import { DISTRIBUTIONS } from "../tensors.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
import { f16Operand } from "../../src/formats/f16.ts";
import { DelayedScaling } from "../../src/formats/fp8.ts";
import { f32FromBits } from "../../src/formats/fp32.ts";
import { quantize } from "../../src/formats/quantize.ts";
import { resolveFormat } from "../../src/formats/spec.ts";
import { AmaxHistoryKernel, updateHistoryGpu } from "../../kernels/amax_history/mod.ts";
import {
  type AmaxHistoryConfig,
  amaxHistoryConfig,
  initialHistory,
  updateHistory,
} from "../../kernels/amax_history/reference.ts";
import { QuantizeKernel } from "../../kernels/quantize/mod.ts";
import { kernelConfig, quantizeSizes } from "../../kernels/quantize/reference.ts";

const ROWS = 8;
const COLS = 64;
const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Step t's tensor: normal values times a factor that rises, falls, vanishes and overflows. */
function tensorAt(t: number): Float32Array<ArrayBuffer> {
  const factor = [4, 1, 0.25, 0, 1e3, 2, 0.5, 1e-3, 8, 1][t % 10];
  return Float32Array.from(DISTRIBUTIONS.normal(ROWS * COLS, 100 + t), (v) => v * factor);
}

/**
 * Quantizes `steps` tensors on the GPU with a delayed-scaling fake quantizer and its update, as a
 * training step does (quantize, then update; no readback between), and asserts after every step
 * that the output, the decode scale and the state buffer equal the CPU oracle's bit for bit.
 */
async function assertStepsMatch(cfg: AmaxHistoryConfig, steps: number, output: "fake" | "f16") {
  const gpu = await getGpu();
  const device = gpu.device;
  const spec = {
    kind: "fp8",
    element: cfg.element,
    scaling: {
      delayed: { historyLength: cfg.historyLength, algo: cfg.algo, margin: cfg.margin },
    },
  } as const;
  const qcfg = kernelConfig(resolveFormat(spec), {}, output, COLS);
  const sizes = quantizeSizes(qcfg, ROWS, COLS);
  const x = device.createBuffer({ size: sizes.xBytes, usage: STORAGE });
  const stats = device.createBuffer({ size: sizes.statsBytes, usage: STORAGE });
  const out = device.createBuffer({
    size: output === "fake" ? sizes.outBytes : sizes.f16Bytes,
    usage: STORAGE,
  });
  const history = createBufferFrom(device, initialHistory(cfg), STORAGE);
  const quantizer = (await QuantizeKernel.create(gpu, qcfg)).bind(ROWS, COLS, {
    x,
    stats,
    out,
    history,
  });
  const update = (await AmaxHistoryKernel.create(gpu, cfg)).bind({ stats, history });
  const state = new DelayedScaling(cfg.element, cfg);
  try {
    for (let t = 0; t < steps; t++) {
      const xt = tensorAt(t);
      const q = quantize(xt, ROWS, COLS, { kind: "fp8", element: cfg.element, scaling: state });
      state.record(q.amax);
      device.queue.writeBuffer(x, 0, xt);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      quantizer.encode(pass);
      update.encode(pass);
      pass.end();
      device.queue.submit([enc.finish()]);
      const [o, s, h] = await Promise.all([
        readBuffer(device, out),
        readBuffer(device, stats),
        readBuffer(device, history),
      ]);
      const words = new Uint32Array(s);
      assertStrictEquals(f32FromBits(words[0]), q.amax, `step ${t}: amax`);
      assertStrictEquals(f32FromBits(words[1]), q.tensorScale, `step ${t}: decode scale`);
      if (output === "fake") {
        assertBitsEqual(new Float32Array(o, 0, ROWS * COLS), q.dequantize(), `step ${t}: values`);
      } else {
        const want = f16Operand(q).bits;
        assertBitsEqual(new Uint16Array(o, 0, ROWS * COLS), want, `step ${t}: f16 operand`);
      }
      assertBitsEqual(new Float32Array(h), state.toWords(), `step ${t}: state words`);
    }
  } finally {
    for (const b of [x, stats, out, history]) b.destroy();
    quantizer.destroy();
  }
}

const CONFIGS: AmaxHistoryConfig[] = [
  { element: "e4m3", historyLength: 3, algo: "max", margin: 0 },
  { element: "e5m2", historyLength: 4, algo: "most_recent", margin: 1 },
  // Longer than the update's workgroup: the roll runs in two chunks.
  { element: "e4m3", historyLength: 300, algo: "max", margin: -2 },
];

for (const cfg of CONFIGS) {
  const name = `${cfg.element}, ${cfg.algo}, length ${cfg.historyLength}, margin ${cfg.margin}`;
  Deno.test(`delayed FP8 quantizer and update equal the CPU oracle step by step (${name})`, async () => {
    // Ten steps: a zero tensor (no roll, scale kept), an overflowing one (saturated codes), the
    // window's max rolling out of a short history.
    await assertStepsMatch(cfg, 10, "fake");
  });
}

Deno.test("the delayed FP8 f16 operand uses the history's scale, bit for bit", async () => {
  await assertStepsMatch({ element: "e4m3", historyLength: 2, algo: "max", margin: 0 }, 4, "f16");
});

Deno.test("updateHistoryGpu equals updateHistory on edge amaxes: zero, Inf, NaN, FP32 overflow", async () => {
  for (const algo of ["max", "most_recent"] as const) {
    const cfg: AmaxHistoryConfig = { element: "e4m3", historyLength: 3, algo, margin: 0 };
    let words: Float32Array = initialHistory(cfg);
    for (const amax of [224, 0, Infinity, 112, 56, NaN, 2e-38, 0, 3.5e38, 1]) {
      const want = updateHistory(words, amax, cfg);
      const got = await updateHistoryGpu(words, amax, cfg);
      assertBitsEqual(got, want, `${algo}, amax ${amax}`);
      words = want;
    }
  }
});

Deno.test("amaxHistoryConfig fills TE's defaults: 1024, max, margin 0", () => {
  const f = resolveFormat({ kind: "fp8", element: "e4m3", scaling: { delayed: {} } });
  const cfg = amaxHistoryConfig(f)!;
  assertStrictEquals(
    JSON.stringify(cfg),
    '{"element":"e4m3","historyLength":1024,"algo":"max","margin":0}',
  );
  assertStrictEquals(initialHistory(cfg).length, 1025);
});
