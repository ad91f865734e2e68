import { assertBitsEqual, assertEquals, assertOk, assertRejects, assertThrows } from "../assert.ts";
import { normal } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { readBuffer } from "../../src/gpu/buffers.ts";
import { getGpu, type Gpu } from "../../src/gpu/device.ts";
import { type XentConfig, XentKernel } from "../../kernels/xent/mod.ts";
import { IGNORE_TARGET, xentReference, type XentScale } from "../../kernels/xent/reference.ts";

interface GpuXent {
  loss: Float32Array;
  correct: Uint32Array;
  metrics: Float32Array;
  dlogits: Float32Array;
  logitsAfter: Float32Array;
}

async function runXent(
  logits: Float32Array,
  targets: Uint32Array,
  rows: number,
  config: XentConfig,
  scale?: XentScale,
  gpu?: Gpu,
): Promise<GpuXent> {
  gpu ??= await getGpu();
  const n = rows * config.vocab;
  const io = {
    logits: upload(gpu, logits),
    targets: upload(gpu, targets),
    loss: zeros(gpu, rows),
    correct: zeros(gpu, rows),
    metrics: zeros(gpu, 4),
    ...(config.gradient === "separate" ? { dlogits: zeros(gpu, n) } : {}),
  };
  const kernel = await XentKernel.create(gpu, config);
  const op = kernel.bind(io, { rows, scale });
  runOps(gpu, [op]);
  const logitsAfter = await download(gpu, io.logits, n);
  const result = {
    loss: await download(gpu, io.loss, rows),
    correct: new Uint32Array(await readBuffer(gpu.device, io.correct, rows * 4)),
    metrics: await download(gpu, io.metrics, 4),
    dlogits: io.dlogits ? await download(gpu, io.dlogits, n) : logitsAfter,
    logitsAfter,
  };
  op.destroy();
  for (const b of Object.values(io)) b.destroy();
  return result;
}

function randomLogits(n: number, seed: number, spread = 3): Float32Array {
  const g = normal(seed);
  return Float32Array.from({ length: n }, () => g() * spread);
}

function randomTargets(rows: number, vocab: number, seed: number): Uint32Array {
  const g = normal(seed);
  return Uint32Array.from({ length: rows }, () => Math.floor(Math.abs(g() * 1e6)) % vocab);
}

function assertClose(a: number, b: number, tol: number, what: string): void {
  assertOk(Math.abs(a - b) <= tol, `${what}: got ${a}, expected ${b} (tolerance ${tol})`);
}

/** GPU results against the float64 reference: relative 1e-5, plus 1e-6·scale on gradients. */
function assertMatchesReference(
  gpu: GpuXent,
  logits: Float32Array,
  targets: Uint32Array,
  rows: number,
  vocab: number,
  scale?: XentScale,
): void {
  const ref = xentReference(logits, targets, rows, vocab, scale);
  for (let r = 0; r < rows; r++) {
    assertClose(gpu.loss[r], ref.loss[r], 1e-5 * Math.max(1, ref.loss[r]), `loss[${r}]`);
    assertEquals(gpu.correct[r], ref.correct[r], `correct[${r}]`);
  }
  const atol = 1e-6 * Math.abs(ref.scale);
  for (let i = 0; i < rows * vocab; i++) {
    const e = ref.dlogits[i];
    assertClose(gpu.dlogits[i], e, 1e-5 * Math.abs(e) + atol, `dlogits[${i}]`);
  }
  assertClose(gpu.metrics[0], ref.meanLoss, 1e-5 * Math.max(1, ref.meanLoss), "mean loss");
  assertClose(gpu.metrics[1], ref.accuracy, 1e-6, "accuracy");
  assertEquals([gpu.metrics[2], gpu.metrics[3]], [ref.validRows, ref.correctRows]);
}

Deno.test("xent equals the float64 reference (vec4 and scalar rows, masks, scales)", async (t) => {
  const cases: [string, number, number, XentConfig["gradient"], XentScale | undefined][] = [
    ["V=64 in place, default scale", 6, 64, "in-place", undefined],
    ["V=64 separate, scale 0.25", 6, 64, "separate", 0.25],
    ["V=37 (scalar path), mean scale", 5, 37, "in-place", "mean"],
    ["V=1000 (several chunks per invocation), separate", 3, 1000, "separate", "mean"],
    ["V=50304, in place", 2, 50304, "in-place", undefined],
    ["V=3, one row", 1, 3, "separate", undefined],
  ];
  for (const [name, rows, vocab, gradient, scale] of cases) {
    await t.step(name, async () => {
      const logits = randomLogits(rows * vocab, vocab);
      const targets = randomTargets(rows, vocab, rows + vocab);
      if (rows > 2) targets[1] = IGNORE_TARGET;
      // One row whose argmax is the target, so both correctness outcomes occur.
      let best = 0;
      for (let j = 1; j < vocab; j++) if (logits[j] > logits[best]) best = j;
      targets[0] = best;
      const gpu = await runXent(logits, targets, rows, { vocab, gradient }, scale);
      assertMatchesReference(gpu, logits, targets, rows, vocab, scale);
      if (gradient === "separate") assertBitsEqual(gpu.logitsAfter, logits, "logits untouched");
    });
  }
});

Deno.test("xent argmax ties resolve to the lowest index, within and across invocations", async () => {
  const vocab = 2048; // 512 vec4 lanes: two per invocation of 256
  const rows = 4;
  const logits = new Float32Array(rows * vocab);
  const row = (r: number) => logits.subarray(r * vocab, (r + 1) * vocab);
  row(0).set([1, 7, 7, 7], 0); // tie inside one vec4 → 1
  row(1)[1030] = 5; // vec4 257 (invocation 1, second load) …
  row(1)[1031] = 5;
  row(1)[6] = 5; // … loses to vec4 1 (invocation 1, first load) → 6
  row(2)[2047] = 2;
  row(2)[13] = 2; // invocation 3 beats the later invocation 255 → 13
  row(3).fill(-1); // all equal → 0
  const targets = new Uint32Array([1, 6, 13, 0]);
  const gpu = await runXent(logits, targets, rows, { vocab, gradient: "separate" });
  assertEquals([...gpu.correct], [1, 1, 1, 1]);
  const other = await runXent(logits, new Uint32Array([2, 1030, 2047, 1]), rows, { vocab });
  assertEquals([...other.correct], [0, 0, 0, 0]);
  assertEquals([other.metrics[1], other.metrics[3]], [0, 0]);
});

Deno.test("xent masks: ignored rows get no loss and zero gradient; all-masked metrics are 0", async () => {
  const vocab = 8;
  const rows = 3;
  const logits = randomLogits(rows * vocab, 5);
  const targets = new Uint32Array([IGNORE_TARGET, 3, IGNORE_TARGET]);
  const gpu = await runXent(logits, targets, rows, { vocab }, "mean");
  assertEquals(gpu.loss[0], 0);
  assertEquals([...gpu.dlogits.subarray(0, vocab)], new Array(vocab).fill(0));
  assertEquals([...gpu.dlogits.subarray(2 * vocab)], new Array(vocab).fill(0));
  assertEquals(gpu.metrics[0], gpu.loss[1], "mean over the one unmasked row");
  // With scale "mean" the one unmasked row carries the whole gradient: its entries sum to 0 and
  // the target's is p_t − 1.
  const g = gpu.dlogits.subarray(vocab, 2 * vocab);
  assertClose(g.reduce((a, b) => a + b, 0), 0, 1e-6, "row gradient sum");
  assertClose(g[3], Math.exp(-gpu.loss[1]) - 1, 1e-6, "target gradient");
  assertMatchesReference(gpu, logits, targets, rows, vocab, "mean");

  const none = new Uint32Array(rows).fill(IGNORE_TARGET);
  const masked = await runXent(logits, none, rows, { vocab }, "mean");
  assertEquals([...masked.metrics], [0, 0, 0, 0]);
  assertEquals([...masked.loss], [0, 0, 0]);
  assertOk(masked.dlogits.every((v) => v === 0), "all-zero gradient");
});

Deno.test("xent: a target ≥ V gives a NaN loss and a NaN mean (bad data shows up)", async () => {
  const vocab = 4;
  const logits = new Float32Array([1, 2, 3, 4, 1, 2, 3, 4]);
  const gpu = await runXent(logits, new Uint32Array([1, 4]), 2, { vocab, gradient: "separate" });
  assertOk(!Number.isNaN(gpu.loss[0]) && Number.isNaN(gpu.loss[1]));
  assertOk(Number.isNaN(gpu.metrics[0]));
  assertEquals(gpu.metrics[2], 2);
  // The bad row's gradient is softmax · scale with no one-hot term.
  const ref = xentReference(logits, [1, 3], 2, vocab);
  for (let j = 0; j < 3; j++) assertClose(gpu.dlogits[4 + j], ref.dlogits[4 + j], 1e-7, "softmax");
  assertClose(gpu.dlogits[7], ref.dlogits[7] + 0.5, 1e-7, "no one-hot");
  assertThrows(() => xentReference(logits, [1, 4], 2, vocab), RangeError);
});

Deno.test("xent reference gradient matches central finite differences (float64)", () => {
  const rows = 3;
  const vocab = 5;
  const logits = Array.from(randomLogits(rows * vocab, 9, 2));
  const targets = [4, IGNORE_TARGET, 0];
  for (const scale of [0.7, "mean"] as const) {
    const ref = xentReference(logits, targets, rows, vocab, scale);
    const objective = (x: number[]) => {
      const r = xentReference(x, targets, rows, vocab, scale);
      return r.scale * r.loss.reduce((a, b) => a + b, 0);
    };
    const h = 1e-6;
    for (let i = 0; i < logits.length; i++) {
      const plus = logits.slice();
      const minus = logits.slice();
      plus[i] += h;
      minus[i] -= h;
      const fd = (objective(plus) - objective(minus)) / (2 * h);
      assertClose(ref.dlogits[i], fd, 1e-8, `scale ${scale}: dlogits[${i}]`);
    }
  }
});

Deno.test("xent is deterministic: two runs are bit-identical", async () => {
  const rows = 4;
  const vocab = 4096;
  const logits = randomLogits(rows * vocab, 21, 8);
  const targets = randomTargets(rows, vocab, 22);
  const a = await runXent(logits, targets, rows, { vocab }, "mean");
  const b = await runXent(logits, targets, rows, { vocab }, "mean");
  assertBitsEqual(a.loss, b.loss, "loss");
  assertBitsEqual(a.dlogits, b.dlogits, "dlogits");
  assertBitsEqual(a.metrics, b.metrics, "metrics");
});

Deno.test("xent rows beyond one dispatch dimension use the split dispatch", async () => {
  const real = await getGpu();
  const gpu: Gpu = { ...real, limits: { ...real.limits, maxComputeWorkgroupsPerDimension: 3 } };
  const rows = 8; // 3 × 3 workgroups, the last one idle
  const vocab = 12;
  const logits = randomLogits(rows * vocab, 31);
  const targets = randomTargets(rows, vocab, 32);
  const out = await runXent(logits, targets, rows, { vocab }, undefined, gpu);
  assertMatchesReference(out, logits, targets, rows, vocab);
});

Deno.test("xent rejects bad configurations and buffers", async () => {
  const gpu = await getGpu();
  await assertRejects(() => XentKernel.create(gpu, { vocab: 0 }), {
    name: "RangeError",
    message: /vocab .* got 0/,
  });
  const gradient = "inplace" as XentConfig["gradient"];
  await assertRejects(() => XentKernel.create(gpu, { vocab: 4, gradient }), {
    name: "RangeError",
    message: /gradient .*"inplace"/,
  });
  const kernel = await XentKernel.create(gpu, { vocab: 4 });
  const io = {
    logits: zeros(gpu, 8),
    targets: zeros(gpu, 2),
    loss: zeros(gpu, 2),
    correct: zeros(gpu, 2),
    metrics: zeros(gpu, 4),
  };
  assertThrows(() => kernel.bind(io, { rows: 3 }), /io\.logits holds 32 bytes, needs 48/);
  assertThrows(() => kernel.bind(io, { rows: 0 }), /rows .* got 0/);
  assertThrows(() => kernel.bind(io, { rows: 2, scale: NaN }), /scale .* NaN/);
  assertThrows(() => kernel.bind({ ...io, dlogits: io.logits }, { rows: 2 }), TypeError);
  const small: Gpu = { ...gpu, limits: { ...gpu.limits, maxStorageBufferBindingSize: 16 } };
  const limited = await XentKernel.create(small, { vocab: 4 });
  assertThrows(() => limited.bind(io, { rows: 2 }), /io\.logits: 2 rows need 32 bytes, .*\(16\)/);
  const separate = await XentKernel.create(gpu, { vocab: 4, gradient: "separate" });
  assertThrows(() => separate.bind(io, { rows: 2 }), /io\.dlogits is required/);
  for (const b of Object.values(io)) b.destroy();
});
