import {
  assertBitsEqual,
  assertCloseMax,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { SsdKernel } from "../../kernels/ssd/mod.ts";
import {
  MAX_SSD_HEAD_DIM,
  ssdBackward,
  type SsdDims,
  ssdForward,
  type SsdInputs,
  ssdScratchElements,
  validateSsdDims,
} from "../../kernels/ssd/reference.ts";
import { normal, uniform } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { numericGrad } from "../gradcheck.ts";

/** `n` values of `f()`, rounded to f32. */
const fill = (n: number, f: () => number) => Float32Array.from({ length: n }, () => f());

/** Inputs as in training: x, B, C, dy ~ N(0, 1), A ∈ −[1, 16], dt ≈ [1e-3, 1e-1]·e^{N(0, s²)}. */
function makeInputs(dims: SsdDims, seed: number, dtScale = 1) {
  const { batch, seq, heads: H, headDim: P, dState: N, groups: G } = dims;
  const m = batch * seq;
  const g = normal(seed);
  const u = uniform(seed + 1);
  const inputs = {
    xbc: fill(m * (H * P + 2 * G * N), g),
    dtRaw: fill(m * H, () => dtScale * g()),
    dtBias: fill(H, () => Math.log(Math.expm1(1e-3 + (0.1 - 1e-3) * u()))),
    aLog: fill(H, () => Math.log(1 + 15 * u())),
    d: fill(H, () => 1 + 0.1 * g()),
  };
  return { inputs, dy: fill(m * H * P, g) };
}

interface GpuGrads {
  y: Float32Array;
  dxbc: Float32Array;
  /** The whole `[M, dtStride]` buffer `dDtRaw` lives in. */
  dDtRawBuffer: Float32Array;
  dDtBias: Float32Array;
  dALog: Float32Array;
  dD: Float32Array;
}

const SENTINEL = 1234.5;

/**
 * Runs forward and backward on the GPU with dtRaw at columns `dtOffset…` of `[M, dtStride]`
 * buffers; every output starts as {@link SENTINEL}.
 */
async function runGpu(
  dims: SsdDims,
  inputs: SsdInputs & { [k in keyof SsdInputs]: Float32Array },
  dy: Float32Array,
  dtOffset = 0,
  dtStride = dims.heads,
): Promise<GpuGrads> {
  const gpu = await getGpu();
  const { batch, seq, heads: H, headDim: P, dState: N, groups: G } = dims;
  const ssd = await SsdKernel.create(gpu, { heads: H, headDim: P, dState: N, groups: G });
  const m = batch * seq;
  const wide = new Float32Array(m * dtStride).fill(SENTINEL);
  for (let r = 0; r < m; r++) {
    wide.set(inputs.dtRaw.subarray(r * H, (r + 1) * H), r * dtStride + dtOffset);
  }
  const sentinel = (n: number) => upload(gpu, new Float32Array(n).fill(SENTINEL));
  const io = {
    xbc: upload(gpu, inputs.xbc),
    dtRaw: upload(gpu, wide),
    dtBias: upload(gpu, inputs.dtBias),
    aLog: upload(gpu, inputs.aLog),
    d: upload(gpu, inputs.d),
    y: sentinel(m * H * P),
    dy: upload(gpu, dy),
    dxbc: sentinel(inputs.xbc.length),
    dDtRaw: sentinel(wide.length),
    dDtBias: sentinel(H),
    dALog: sentinel(H),
    dD: sentinel(H),
    scratch: zeros(gpu, ssdScratchElements(ssd.config, dims)),
  };
  const bind = { batch, seq, dtOffset, dtStride };
  const ops = [ssd.forward(io, bind), ssd.backward(io, bind)];
  runOps(gpu, ops);
  const out = {
    y: await download(gpu, io.y, m * H * P),
    dxbc: await download(gpu, io.dxbc, inputs.xbc.length),
    dDtRawBuffer: await download(gpu, io.dDtRaw, wide.length),
    dDtBias: await download(gpu, io.dDtBias, H),
    dALog: await download(gpu, io.dALog, H),
    dD: await download(gpu, io.dD, H),
  };
  ops.forEach((o) => o.destroy());
  Object.values(io).forEach((b) => b.destroy());
  return out;
}

/** Shapes: seq 1, lengths off the 16-step block, 1 or several heads per group, tiny sizes. */
const SHAPES: { dims: SsdDims; dtOffset?: number; dtStride?: number; dtScale?: number }[] = [
  { dims: { batch: 1, seq: 1, heads: 2, headDim: 2, dState: 2, groups: 1 } },
  { dims: { batch: 2, seq: 7, heads: 4, headDim: 4, dState: 8, groups: 2 }, dtOffset: 3 },
  { dims: { batch: 2, seq: 13, heads: 3, headDim: 5, dState: 3, groups: 3 }, dtScale: 3 },
  {
    dims: { batch: 1, seq: 37, heads: 4, headDim: 8, dState: 16, groups: 1 },
    dtOffset: 5,
    dtStride: 11,
  },
  // Scans that split a row over several lanes (N = 48 and P = 32: 2 lanes; N = 64: 4 lanes).
  { dims: { batch: 1, seq: 21, heads: 3, headDim: 32, dState: 48, groups: 1 }, dtOffset: 1 },
  { dims: { batch: 2, seq: 35, heads: 2, headDim: 5, dState: 64, groups: 2 }, dtScale: 2 },
  // More (b, h) pairs than one workgroup holds: the per-(b, h) partials must not overlap the
  // per-token dot products other workgroups still read (a race that once corrupted dA, dD, dBias).
  { dims: { batch: 20, seq: 3, heads: 4, headDim: 2, dState: 4, groups: 1 } },
];

Deno.test("SsdKernel forward and backward match the CPU reference", async (t) => {
  for (const { dims, dtOffset = 0, dtStride = dims.heads + dtOffset, dtScale } of SHAPES) {
    const { batch, seq, heads: H, headDim: P, dState: N, groups: G } = dims;
    const name = `b${batch} T${seq} H${H} P${P} N${N} G${G} dt@${dtOffset}/${dtStride}`;
    await t.step(name, async () => {
      const { inputs, dy } = makeInputs(dims, 10 * seq + H, dtScale);
      const got = await runGpu(dims, inputs, dy, dtOffset, dtStride);
      const want = ssdBackward(inputs, dy, dims);
      assertCloseMax(got.y, ssdForward(inputs, dims), "y", 1e-5);
      assertCloseMax(got.dxbc, want.dxbc, "dxbc", 1e-5);
      const dDtRaw = new Float32Array(batch * seq * H);
      got.dDtRawBuffer.forEach((v, i) => {
        const [r, c] = [Math.floor(i / dtStride), i % dtStride - dtOffset];
        if (c >= 0 && c < H) dDtRaw[r * H + c] = v;
        else assertEquals(v, SENTINEL, `dDtRaw buffer element ${i} (not a dt column) changed`);
      });
      assertCloseMax(dDtRaw, want.dDtRaw, "dDtRaw", 1e-4);
      assertCloseMax(got.dDtBias, want.dDtBias, "dDtBias", 1e-4);
      assertCloseMax(got.dALog, want.dALog, "dALog", 1e-4);
      assertCloseMax(got.dD, want.dD, "dD", 1e-5);
    });
  }
});

Deno.test("SsdKernel is deterministic", async () => {
  const dims = { batch: 2, seq: 40, heads: 4, headDim: 8, dState: 8, groups: 2 };
  const { inputs, dy } = makeInputs(dims, 5);
  const a = await runGpu(dims, inputs, dy, 1, 6);
  const b = await runGpu(dims, inputs, dy, 1, 6);
  for (const k of ["y", "dxbc", "dDtRawBuffer", "dDtBias", "dALog", "dD"] as const) {
    assertBitsEqual(a[k], b[k], k);
  }
});

Deno.test("SSD reference backward equals central finite differences", () => {
  const dims = { batch: 2, seq: 5, heads: 4, headDim: 3, dState: 2, groups: 2 };
  const made = makeInputs(dims, 3, 2);
  const inputs = {
    xbc: Float64Array.from(made.inputs.xbc),
    dtRaw: Float64Array.from(made.inputs.dtRaw),
    dtBias: Float64Array.from(made.inputs.dtBias),
    aLog: Float64Array.from(made.inputs.aLog),
    d: Float64Array.from(made.inputs.d),
  };
  const dy = made.dy;
  const loss = () => ssdForward(inputs, dims).reduce((s, y, i) => s + y * dy[i], 0);
  const grads = ssdBackward(inputs, dy, dims);
  assertCloseMax(grads.dxbc, numericGrad(inputs.xbc, loss), "dxbc", 1e-6);
  assertCloseMax(grads.dDtRaw, numericGrad(inputs.dtRaw, loss), "dDtRaw", 1e-6);
  assertCloseMax(grads.dDtBias, numericGrad(inputs.dtBias, loss), "dDtBias", 1e-6);
  assertCloseMax(grads.dALog, numericGrad(inputs.aLog, loss), "dALog", 1e-6);
  assertCloseMax(grads.dD, numericGrad(inputs.d, loss), "dD", 1e-6);
});

/** A RangeError whose message matches `re`. */
const naming = (re: RegExp) => ({ name: "RangeError", message: re });

Deno.test("SSD rejects bad sizes, strides and buffers, naming them", async () => {
  const dims = { batch: 1, seq: 2, heads: 4, headDim: 2, dState: 2, groups: 2 };
  assertThrows(() => validateSsdDims({ ...dims, groups: 3 }), naming(/groups/));
  assertThrows(() => validateSsdDims({ ...dims, seq: 0 }), naming(/seq/));
  assertThrows(() => validateSsdDims({ ...dims, headDim: 1.5 }), naming(/headDim/));
  assertThrows(() => ssdForward({} as SsdInputs, { ...dims, batch: -1 }), naming(/batch/));
  const config = { heads: 4, headDim: 2, dState: 2, groups: 2 };
  assertThrows(() => ssdScratchElements(config, { batch: 1, seq: 0 }), naming(/seq/));
  const gpu = await getGpu();
  const bad = [{ headDim: MAX_SSD_HEAD_DIM + 1 }, { dState: 0 }, { groups: 3 }];
  for (const patch of bad) {
    const name = Object.keys(patch)[0];
    await assertRejects(SsdKernel.create(gpu, { ...config, ...patch }), naming(RegExp(name)));
  }
  const ssd = await SsdKernel.create(gpu, config);
  const big = zeros(gpu, 64);
  const io = { xbc: big, dtRaw: big, dtBias: big, aLog: big, d: big, y: big };
  const ok = { batch: 1, seq: 2, dtOffset: 0, dtStride: 4 };
  ssd.forward(io, ok).destroy();
  assertThrows(() => ssd.forward(io, { ...ok, dtStride: 3 }), naming(/dtStride/));
  assertThrows(() => ssd.forward(io, { ...ok, dtOffset: -1 }), naming(/dtOffset/));
  assertThrows(() => ssd.forward(io, { ...ok, seq: 0 }), naming(/seq/));
  const small = zeros(gpu, 3);
  assertThrows(() => ssd.forward({ ...io, y: small }, ok), naming(/io\.y/));
  const bwd = { ...io, dy: big, dxbc: big, dDtRaw: zeros(gpu, 8), dDtBias: big, dALog: big };
  const full = { ...bwd, dD: big, scratch: zeros(gpu, ssdScratchElements(config, ok)) };
  ssd.backward(full, ok).destroy();
  assertThrows(() => ssd.backward({ ...full, scratch: small }, ok), naming(/io\.scratch/));
  assertThrows(() => ssd.backward({ ...full, dDtRaw: big }, ok), naming(/dDtRaw/));
  for (const b of [big, small, full.dDtRaw, full.scratch]) b.destroy();
});
