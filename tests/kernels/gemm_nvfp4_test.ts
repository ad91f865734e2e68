import { assertBitsEqual, assertEquals, assertOk, assertThrows } from "../assert.ts";
import { DISTRIBUTIONS } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { PackedNvfp4GemmKernel } from "../../kernels/gemm_nvfp4/mod.ts";
import {
  packedNvfp4GemmReferenceAt,
  type PackedNvfp4Host,
} from "../../kernels/gemm_nvfp4/reference.ts";
import type { Nvfp4GemmTile } from "../../kernels/gemm_nvfp4/wgsl.ts";
import { gemmGpu } from "../../kernels/gemm/mod.ts";
import { fakeQuantizeGpu, QuantizeKernel } from "../../kernels/quantize/mod.ts";
import { kernelConfig, quantizeSizes } from "../../kernels/quantize/reference.ts";
import { decodeElement, ELEMENTS } from "../../src/formats/elements.ts";
import { f32FromBits } from "../../src/formats/fp32.ts";
import { type Nvfp4Element, resolveFormat } from "../../src/formats/spec.ts";
import { readBuffer } from "../../src/gpu/buffers.ts";
import { getGpu, type Gpu } from "../../src/gpu/device.ts";
import type { GemmDims } from "../../kernels/gemm/reference.ts";

type Nvfp4Format = "nvfp4" | "nvfp4-2d" | "nvint4" | "nvint4-2d" | "ufp4" | "ufp4-2d";

/** An operand packed on the GPU: its buffers, their bytes on the host, and its fake-quant values. */
interface Operand {
  readonly buffers: { codes: GPUBuffer; scales: GPUBuffer; stats: GPUBuffer };
  readonly host: PackedNvfp4Host;
  readonly fake: Float32Array;
}

/** Quantizes `x` [rows, cols] with the packed kernel (kept on the GPU) and the fake-quant one. */
async function quantizeOperand(
  gpu: Gpu,
  x: Float32Array,
  rows: number,
  cols: number,
  format: Nvfp4Format,
): Promise<Operand> {
  const cfg = kernelConfig(resolveFormat(format), {}, "packed", cols);
  const kernel = await QuantizeKernel.create(gpu, cfg);
  const sizes = quantizeSizes(cfg, rows, cols);
  const padded = new Float32Array(sizes.elements);
  padded.set(x);
  const input = upload(gpu, padded);
  const tileAmax = sizes.tileBytes > 0 ? zeros(gpu, sizes.tileBytes / 4) : undefined;
  const buffers = {
    codes: zeros(gpu, sizes.codesBytes / 4),
    scales: zeros(gpu, sizes.scalesBytes / 4),
    stats: zeros(gpu, 2),
  };
  const op = kernel.bind(rows, cols, { x: input, tileAmax, ...buffers });
  runOps(gpu, [op]);
  const [codes, scales, stats] = await Promise.all(
    [buffers.codes, buffers.scales, buffers.stats].map((b) => readBuffer(gpu.device, b)),
  );
  op.destroy();
  input.destroy();
  tileAmax?.destroy();
  const host = {
    codes: new Uint8Array(codes),
    scales: new Uint8Array(scales),
    sDec: f32FromBits(new Uint32Array(stats)[1]),
  };
  return { buffers, host, fake: await fakeQuantizeGpu(x, rows, cols, format) };
}

/** An operand built from bytes: packed codes, scale bytes and S_dec. */
function rawOperand(gpu: Gpu, codes: number[], scales: number[], sDec: number): Operand {
  const words = (bytes: number[]) => {
    const b = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
    b.set(bytes);
    return new Uint32Array(b.buffer);
  };
  const stats = new Float32Array([0, sDec]);
  const host = { codes: new Uint8Array(codes), scales: new Uint8Array(scales), sDec };
  return {
    buffers: {
      codes: upload(gpu, words(codes)),
      scales: upload(gpu, words(scales)),
      stats: upload(gpu, stats),
    },
    host,
    fake: new Float32Array(0),
  };
}

function destroy(...ops: Operand[]): void {
  for (const o of ops) for (const b of Object.values(o.buffers)) b.destroy();
}

/** C = A·Bᵀ with the packed kernel. */
async function packedGemm(
  kernel: PackedNvfp4GemmKernel,
  a: Operand,
  b: Operand,
  dims: GemmDims,
  element: Nvfp4Element = "e2m1",
): Promise<Float32Array> {
  const gpu = await getGpu();
  const c = zeros(gpu, dims.m * dims.n);
  const op = kernel.bind({
    aCodes: a.buffers.codes,
    aScales: a.buffers.scales,
    aStats: a.buffers.stats,
    bCodes: b.buffers.codes,
    bScales: b.buffers.scales,
    bStats: b.buffers.stats,
    c,
    element,
  }, dims);
  runOps(gpu, [op]);
  const out = await download(gpu, c, dims.m * dims.n);
  op.destroy();
  c.destroy();
  return out;
}

function reference(
  a: Operand,
  b: Operand,
  { m, n, k }: GemmDims,
  element: Nvfp4Element = "e2m1",
): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      out[i * n + j] = packedNvfp4GemmReferenceAt(a.host, b.host, k, i, j, element);
    }
  }
  return out;
}

function sample(distribution: string, n: number, seed: number): Float32Array {
  return DISTRIBUTIONS[distribution](Math.ceil(n / 512) * 512, seed).slice(0, n);
}

const TILES: Nvfp4GemmTile[] = [
  { bm: 64, bn: 64, bk: 64, tm: 4, tn: 4 },
  { bm: 128, bn: 128, bk: 64, tm: 8, tn: 8 },
  { bm: 16, bn: 32, bk: 16, tm: 1, tn: 2 },
  { bm: 32, bn: 128, bk: 128, tm: 2, tn: 8 },
  { bm: 64, bn: 128, bk: 64, tm: 4, tn: 8 }, // the default for large problems
];

Deno.test("one 16-block: C holds every E2M1 code times 1, and the hand-summed A·Aᵀ", async () => {
  const gpu = await getGpu();
  const kernel = await PackedNvfp4GemmKernel.create(gpu, { tile: TILES[0] });
  // A [16, 16]: row 0 holds codes 0…15 in order (value 0, .5, 1, 1.5, 2, 3, 4, 6, −0, −.5, …);
  // B [16, 16]: row j is 1.0 (code 2) at element j. Block scales 1 (0x38), S_dec 1.
  const ones = new Array(16).fill(0x38);
  const rowCodes = [0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe];
  const a = rawOperand(gpu, [...rowCodes, ...new Array(120).fill(0)], ones, 1);
  const oneHot = Array.from({ length: 128 }, (_, i) => {
    const j = i >> 3; // row of byte i
    return (i & 7) === j >> 1 ? 2 << ((j & 1) * 4) : 0;
  });
  const b = rawOperand(gpu, oneHot, ones, 1);
  const dims = { m: 16, n: 16, k: 16 };
  const c = await packedGemm(kernel, a, b, dims);
  const e2m1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6];
  assertEquals([...c.subarray(0, 16)], [...e2m1, ...e2m1.map((v) => -v)].map((v) => v + 0));
  assertOk(c.subarray(16).every((v) => v === 0));
  // Σ e2m1² over the 16 codes = 2·(.25 + 1 + 2.25 + 4 + 9 + 16 + 36) = 137.
  const aat = await packedGemm(kernel, a, a, dims);
  assertEquals(aat[0], 137);
  destroy(a, b);
});

Deno.test("every finite E4M3 scale byte and the tensor scales multiply a block exactly", async () => {
  const gpu = await getGpu();
  const kernel = await PackedNvfp4GemmKernel.create(gpu);
  // A [128, 16]: row r is 1.0 (code 2) at element 0 with scale byte r (0x7f, NaN, → 0x7e).
  const codes = Array.from({ length: 128 * 8 }, (_, i) => (i % 8 === 0 ? 0x02 : 0));
  const scales = Array.from({ length: 128 }, (_, r) => Math.min(r, 0x7e));
  const a = rawOperand(gpu, codes, scales, 0.125);
  // B [16, 16]: row 0 is −1.5 (code 0xb) at element 0, scale 1; S_dec 4.
  const b = rawOperand(gpu, [0x0b, ...new Array(127).fill(0)], new Array(16).fill(0x38), 4);
  const c = await packedGemm(kernel, a, b, { m: 128, n: 16, k: 16 });
  for (let r = 0; r < 128; r++) {
    const want = decodeElement(ELEMENTS.e4m3, scales[r]) * 0.125 * -1.5 * 4 + 0; // 0x00: +0
    assertEquals(c[r * 16], want, `scale byte ${scales[r].toString(16)}`);
  }
  destroy(a, b);
});

/** Shapes × distributions × formats of B (A always 1×16 blocks, as activations). */
const CASES: { dims: GemmDims; a: string; b: string; bFormat: Nvfp4Format }[] = [
  { dims: { m: 16, n: 16, k: 16 }, a: "normal", b: "normal", bFormat: "nvfp4" },
  { dims: { m: 48, n: 80, k: 16 }, a: "lognormal", b: "lognormal", bFormat: "nvfp4-2d" },
  { dims: { m: 32, n: 144, k: 96 }, a: "sparse", b: "lognormal", bFormat: "nvfp4-2d" },
  { dims: { m: 144, n: 48, k: 320 }, a: "lognormal", b: "outliers", bFormat: "nvfp4" },
  { dims: { m: 64, n: 32, k: 512 }, a: "underflow", b: "normal", bFormat: "nvfp4-2d" },
];

Deno.test("C equals the fake-quant product up to f32 summation order, on every tiling and dot", async (t) => {
  const gpu = await getGpu();
  const kernels = [
    await PackedNvfp4GemmKernel.create(gpu),
    ...await Promise.all(TILES.map((tile) => PackedNvfp4GemmKernel.create(gpu, { tile }))),
    await PackedNvfp4GemmKernel.create(gpu, { tile: TILES[0], dot: "unpacked" }),
  ];
  const u = 2 ** -24;
  for (const [index, { dims, a: da, b: db, bFormat }] of CASES.entries()) {
    const { m, n, k } = dims;
    await t.step(`${m}×${n}×${k} A ${da}, B ${db} ${bFormat}`, async () => {
      const a = await quantizeOperand(gpu, sample(da, m * k, 2 * index + 1), m, k, "nvfp4");
      const b = await quantizeOperand(gpu, sample(db, n * k, 2 * index + 2), n, k, bFormat);
      if (bFormat === "nvfp4-2d") {
        // 16×16 weights lay out as 1×16 blocks whose scale byte repeats on a tile's 16 rows.
        const nb = k / 16;
        assertOk(
          b.host.scales.subarray(0, n * nb).every((s, i) =>
            s === b.host.scales[(Math.floor(i / nb / 16) * 16) * nb + (i % nb)]
          ),
        );
      }
      const exact = reference(a, b, dims);
      const f32 = await gemmGpu("nt", a.fake, b.fake, dims);
      for (const kernel of kernels) {
        const got = await packedGemm(kernel, a, b, dims);
        // The kernel's own arithmetic, replayed on the CPU, bit for bit on every tiling.
        assertBitsEqual(got, exact, `C, tile ${JSON.stringify(kernel.tileFor(dims))}`);
      }
      // Against the fake-quant values â, b̂ (each x̂ = v·(1 + δ), |δ| ≤ u = 2⁻²⁴, from the exact
      // v = e2m1·scale·S_dec; T = Σ|â_k·b̂_k|): the packed sum adds exact block terms, K/16 − 1
      // roundings, then two products, so |C − Σ v_a·v_b| ≤ (K/16 + 1)·u·T; â·b̂ is off by ≤ 2u·T
      // more. The f32 GEMM of â, b̂ adds K product/sum roundings: (K + 2)·u·T from Σ v_a·v_b.
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          let abs = 0;
          for (let q = 0; q < k; q++) {
            const p = a.fake[i * k + q] * b.fake[j * k + q];
            sum += p;
            abs += Math.abs(p);
          }
          const got = exact[i * n + j];
          const where = `C[${i}, ${j}] = ${got}`;
          assertOk(Math.abs(got - sum) <= (k / 16 + 4) * u * abs, `${where}, float64 ${sum}`);
          const e = f32[i * n + j];
          assertOk(Math.abs(got - e) <= (k + k / 16 + 8) * u * abs, `${where}, f32 GEMM ${e}`);
        }
      }
      destroy(a, b);
    });
  }
});

Deno.test("an all-zero operand gives C = +0", async () => {
  const gpu = await getGpu();
  const kernel = await PackedNvfp4GemmKernel.create(gpu);
  const dims = { m: 32, n: 16, k: 64 };
  const a = await quantizeOperand(gpu, new Float32Array(32 * 64), 32, 64, "nvfp4");
  const b = await quantizeOperand(gpu, sample("normal", 16 * 64, 5), 16, 64, "nvfp4-2d");
  const c = await packedGemm(kernel, a, b, dims);
  assertBitsEqual(c, new Float32Array(32 * 16));
  destroy(a, b);
});

Deno.test("reruns give bit-identical C", async () => {
  const gpu = await getGpu();
  const kernel = await PackedNvfp4GemmKernel.create(gpu, { tile: TILES[1] });
  const dims = { m: 128, n: 128, k: 256 };
  const a = await quantizeOperand(gpu, sample("lognormal", 128 * 256, 7), 128, 256, "nvfp4");
  const b = await quantizeOperand(gpu, sample("lognormal", 128 * 256, 8), 128, 256, "nvfp4-2d");
  const first = await packedGemm(kernel, a, b, dims);
  for (let run = 0; run < 3; run++) assertBitsEqual(await packedGemm(kernel, a, b, dims), first);
  destroy(a, b);
});

Deno.test("bind rejects dimensions that are not positive multiples of 16, naming them", async () => {
  const gpu = await getGpu();
  const kernel = await PackedNvfp4GemmKernel.create(gpu);
  const big = zeros(gpu, 4096);
  const io = {
    aCodes: big,
    aScales: big,
    aStats: big,
    bCodes: big,
    bScales: big,
    bStats: big,
    c: big,
  };
  assertThrows(() => kernel.bind(io, { m: 24, n: 16, k: 16 }), /m = 24/);
  assertThrows(() => kernel.bind(io, { m: 16, n: 0, k: 16 }), /n = 0/);
  assertThrows(() => kernel.bind(io, { m: 16, n: 16, k: 8 }), /k = 8/);
  assertThrows(
    () => kernel.bind(io, { m: 64, n: 128, k: 64 }),
    /buffer c holds 16384 bytes, needs 32768/,
  );
  assertThrows(
    () => kernel.bind({ ...io, bScales: zeros(gpu, 1) }, { m: 16, n: 32, k: 32 }),
    /buffer bScales holds 4 bytes, needs 64/,
  );
  big.destroy();
});

Deno.test("uniform grids (INT4, E1M2): C equals the kernel's arithmetic on the CPU and the fake-quant product", async (t) => {
  const gpu = await getGpu();
  const dims = { m: 48, n: 32, k: 96 };
  const u = 2 ** -24;
  for (
    const [element, a1, b2] of [["int4", "nvint4", "nvint4-2d"], [
      "e1m2",
      "ufp4",
      "ufp4-2d",
    ]] as const
  ) {
    await t.step(element, async () => {
      const kernel = await PackedNvfp4GemmKernel.create(gpu, {
        tile: TILES[2],
        elements: [element],
      });
      const { m, n, k } = dims;
      const a = await quantizeOperand(gpu, sample("lognormal", m * k, 3), m, k, a1);
      const b = await quantizeOperand(gpu, sample("outliers", n * k, 4), n, k, b2);
      const got = await packedGemm(kernel, a, b, dims, element);
      assertBitsEqual(got, reference(a, b, dims, element), "C");
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          let abs = 0;
          for (let q = 0; q < k; q++) {
            const p = a.fake[i * k + q] * b.fake[j * k + q];
            sum += p;
            abs += Math.abs(p);
          }
          const c = got[i * n + j];
          assertOk(
            Math.abs(c - sum) <= (k / 16 + 4) * u * abs,
            `C[${i}, ${j}] = ${c}, float64 ${sum}`,
          );
        }
      }
      // A kernel compiled for one grid refuses another: its byte table would misread the codes.
      assertThrows(
        () =>
          kernel.bind({
            aCodes: a.buffers.codes,
            aScales: a.buffers.scales,
            aStats: a.buffers.stats,
            bCodes: b.buffers.codes,
            bScales: b.buffers.scales,
            bStats: b.buffers.stats,
            c: a.buffers.codes,
          }, dims),
        RangeError,
        `element "e2m1" was not compiled`,
      );
      destroy(a, b);
    });
  }
});
