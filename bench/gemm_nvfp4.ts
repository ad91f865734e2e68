/**
 * `deno run -A bench/gemm_nvfp4.ts`: throughput of the packed NVFP4 GEMM (kernels/gemm_nvfp4/mod.ts)
 * beside the f32 GEMM (kernels/gemm/mod.ts, layout `nt`) that the fake-quant path runs today, on square
 * problems in one run, timed with GPU timestamp queries where the adapter has them.
 *
 * A [M, K] (activations, 1×16 blocks) and B [N, K] (weights, 16×16 tiles) hold values in [−1, 1);
 * the f32 GEMM multiplies them as they are, the packed GEMM their NVFP4 quantization (done once,
 * untimed). TFLOP/s = 2·M·N·K / median time for both. Each timed batch follows at least 200 ms of
 * the same GEMM in one submission. A few elements of each packed C are checked bit for bit against
 * the CPU form of the kernel's arithmetic before a row is reported.
 *
 * Usage: deno run -A bench/gemm_nvfp4.ts [--sizes 1024,2048,4096,8192]
 *   [--tiles 128x128x64/8x8,...] [--dots dot4I8Packed,unpacked] [--iterations 10] [--out file.md]
 *
 * A tile is written `BMxBNxBK/TMxTN` (see `Nvfp4GemmTile`); without `--tiles` the kernel picks by
 * size (`NVFP4_GEMM_TILINGS`). `--dots unpacked` adds the variant that multiplies int8 one by one
 * (what a polyfill of `dot4I8Packed` does), to tell a native DP4A from a polyfill.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getGpu } from "../src/gpu/device.ts";
import { readBuffer } from "../src/gpu/buffers.ts";
import { GpuTimer, median } from "../src/gpu/timing.ts";
import { f32FromBits } from "../src/formats/fp32.ts";
import { resolveFormat } from "../src/formats/spec.ts";
import type { GemmDims } from "../kernels/gemm/reference.ts";
import { environmentLine } from "./environment_line.ts";
import { timeWarm, WARMUP_MS } from "./warm_timing.ts";
import { GemmKernel } from "../kernels/gemm/mod.ts";
import { formatTile } from "./gemm.ts";
import { PackedNvfp4GemmKernel } from "../kernels/gemm_nvfp4/mod.ts";
import {
  packedNvfp4GemmReferenceAt,
  type PackedNvfp4Host,
} from "../kernels/gemm_nvfp4/reference.ts";
import type { Nvfp4Dot, Nvfp4GemmTile } from "../kernels/gemm_nvfp4/wgsl.ts";
import { QuantizeKernel } from "../kernels/quantize/mod.ts";
import { kernelConfig, quantizeSizes } from "../kernels/quantize/reference.ts";
import { positiveList, uniformValues } from "./inputs.ts";
import { benchMain, publishTable } from "./main.ts";

const USAGE = "Usage: deno run -A bench/gemm_nvfp4.ts [--sizes 1024,2048,4096,8192] " +
  "[--tiles BMxBNxBK/TMxTN,...] [--dots dot4I8Packed,unpacked] [--iterations 10] [--out file.md]";

const DOTS: readonly Nvfp4Dot[] = ["dot4I8Packed", "unpacked"];

/**
 * Parses a tile written `BMxBNxBK/TMxTN`, e.g. `128x128x64/8x8`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseNvfp4Tile } from "./gemm_nvfp4.ts";
 * assert.deepEqual(parseNvfp4Tile("64x32x16/4x2"), { bm: 64, bn: 32, bk: 16, tm: 4, tn: 2 });
 * ```
 */
export function parseNvfp4Tile(text: string): Nvfp4GemmTile {
  const match = /^(\d+)x(\d+)x(\d+)\/(\d+)x(\d+)$/.exec(text.trim());
  if (!match) {
    throw new RangeError(`bad tile ${JSON.stringify(text)}; expected e.g. 128x128x64/8x8`);
  }
  const [bm, bn, bk, tm, tn] = match.slice(1).map(Number);
  return { bm, bn, bk, tm, tn };
}

/**
 * Formats a tile as {@link parseNvfp4Tile} reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatNvfp4Tile } from "./gemm_nvfp4.ts";
 * assert.equal(formatNvfp4Tile({ bm: 128, bn: 128, bk: 64, tm: 8, tn: 8 }), "128x128x64/8x8");
 * ```
 */
export function formatNvfp4Tile(t: Nvfp4GemmTile): string {
  return `${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}`;
}

const USAGE_FLAGS = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/** One operand quantized to packed NVFP4 on the GPU, and its bytes read back. */
interface PackedOperand {
  readonly codes: GPUBuffer;
  readonly scales: GPUBuffer;
  readonly stats: GPUBuffer;
  readonly host: PackedNvfp4Host;
}

/** Quantizes the f32 buffer `x` [rows, cols] (rows·cols a multiple of 256) to packed NVFP4. */
async function quantizeOperand(
  device: GPUDevice,
  kernel: QuantizeKernel,
  x: GPUBuffer,
  rows: number,
  cols: number,
): Promise<PackedOperand> {
  const sizes = quantizeSizes(kernel.config, rows, cols);
  const make = (bytes: number) => device.createBuffer({ size: bytes, usage: USAGE_FLAGS });
  const out = { codes: make(sizes.codesBytes), scales: make(sizes.scalesBytes), stats: make(8) };
  const tileAmax = sizes.tileBytes > 0 ? make(sizes.tileBytes) : undefined;
  const bound = kernel.bind(rows, cols, { x, tileAmax, ...out });
  const encoder = device.createCommandEncoder({ label: "quantize" });
  const pass = encoder.beginComputePass();
  bound.encode(pass);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const [codes, scales, stats] = await Promise.all(
    [out.codes, out.scales, out.stats].map((b) => readBuffer(device, b)),
  );
  bound.destroy();
  tileAmax?.destroy();
  const host = {
    codes: new Uint8Array(codes),
    scales: new Uint8Array(scales),
    sDec: f32FromBits(new Uint32Array(stats)[1]),
  };
  return { ...out, host };
}

/** Throws unless a few elements of the packed C equal the CPU form of the kernel, bit for bit. */
async function checkSamples(
  device: GPUDevice,
  c: GPUBuffer,
  a: PackedOperand,
  b: PackedOperand,
  dims: GemmDims,
): Promise<void> {
  const { m, n, k } = dims;
  for (let s = 0; s < 8; s++) {
    const i = s === 0 ? m - 1 : (s * 7919) % m;
    const j = s === 0 ? n - 1 : (s * 104729) % n;
    const got = new Float32Array(await readBuffer(device, c, 4, (i * n + j) * 4))[0];
    const want = packedNvfp4GemmReferenceAt(a.host, b.host, k, i, j);
    if (!Object.is(got, want)) {
      throw new Error(`NVFP4 GEMM ${m}×${n}×${k}: C[${i}, ${j}] = ${got}, reference ${want}`);
    }
  }
}

/**
 * Runs the benchmark with command-line arguments; prints rows to stderr as they are measured and
 * returns (and prints) the markdown table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runNvfp4GemmBenchmark } from "./gemm_nvfp4.ts";
 * const table = await runNvfp4GemmBenchmark(["--sizes", "64", "--iterations", "1"]);
 * assert.match(table, /\| 64 \| packed NVFP4 \|/);
 * ```
 */
export async function runNvfp4GemmBenchmark(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: "string", default: "1024,2048,4096,8192" },
      tiles: { type: "string" },
      dots: { type: "string", default: "dot4I8Packed" },
      iterations: { type: "string", default: "10" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return "";
  }
  const sizes = positiveList(values.sizes, "sizes");
  for (const size of sizes) {
    if (size % 16 !== 0) throw new RangeError(`--sizes: ${size} is not a multiple of 16`);
  }
  const [iterations] = positiveList(values.iterations, "iterations");
  const dots = values.dots.split(",") as Nvfp4Dot[];
  for (const d of dots) {
    if (!DOTS.includes(d)) throw new RangeError(`unknown dot ${JSON.stringify(d)}`);
  }
  const tiles = values.tiles ? values.tiles.split(",").map(parseNvfp4Tile) : [undefined];

  const gpu = await getGpu();
  const device = gpu.device;
  const timer = new GpuTimer(gpu);
  const f32Kernel = await GemmKernel.create(gpu, { layout: "nt" });
  const packed: { kernel: PackedNvfp4GemmKernel; dot: Nvfp4Dot }[] = [];
  for (const dot of dots) {
    for (const tile of tiles) {
      // A tile the device cannot run is reported and skipped, so one sweep can try many.
      try {
        packed.push({ kernel: await PackedNvfp4GemmKernel.create(gpu, { tile, dot }), dot });
      } catch (e) {
        if (!(e instanceof RangeError) || tiles.length === 1) throw e;
        console.error(`skipped ${tile ? formatNvfp4Tile(tile) : ""} ${dot}: ${e.message}`);
      }
    }
  }
  const quantizeA = await QuantizeKernel.create(
    gpu,
    kernelConfig(resolveFormat("nvfp4"), {}, "packed", 16), // cols matter only with the RHT
  );
  const quantizeB = await QuantizeKernel.create(
    gpu,
    kernelConfig(resolveFormat("nvfp4-2d"), {}, "packed", 16),
  );

  const header = ["size", "kernel", "tile", "median ms", "min ms", "TFLOP/s", "vs f32"];
  const rows: string[] = [];
  const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const report = (cells: string[]) => {
    rows.push(row(cells));
    console.error(rows.at(-1));
  };
  console.error(row(header));
  for (const size of sizes) {
    const dims = { m: size, n: size, k: size };
    const { m, n, k } = dims;
    // A and B are prefixes of one array of values in [-1, 1).
    const data = new Float32Array(Math.max(m * k, n * k));
    uniformValues(data);
    const [a, b, c] = [m * k, n * k, m * n].map((elements, i) => {
      const buf = device.createBuffer({ size: elements * 4, usage: USAGE_FLAGS });
      if (i < 2) device.queue.writeBuffer(buf, 0, data, 0, elements);
      return buf;
    });
    const flops = 2 * m * n * k;
    const time = async (op: { encode(pass: GPUComputePassEncoder): void; destroy(): void }) => {
      const samples = await timeWarm(timer, (pass) => op.encode(pass), iterations);
      op.destroy();
      return { ms: median(samples), min: Math.min(...samples) };
    };
    const f32 = await time(f32Kernel.bind({ a, b, c }, dims));
    const f32Tflops = flops / f32.ms / 1e9;
    report([
      String(size),
      "f32 (nt)",
      formatTile(f32Kernel.tileFor(dims)),
      f32.ms.toFixed(3),
      f32.min.toFixed(3),
      f32Tflops.toFixed(2),
      "1.00",
    ]);
    const qa = await quantizeOperand(device, quantizeA, a, m, k);
    const qb = await quantizeOperand(device, quantizeB, b, n, k);
    for (const { kernel, dot } of packed) {
      const op = kernel.bind({
        aCodes: qa.codes,
        aScales: qa.scales,
        aStats: qa.stats,
        bCodes: qb.codes,
        bScales: qb.scales,
        bStats: qb.stats,
        c,
      }, dims);
      const t = await time(op);
      await checkSamples(device, c, qa, qb, dims);
      const tflops = flops / t.ms / 1e9;
      report([
        String(size),
        dot === "dot4I8Packed" ? "packed NVFP4" : "packed NVFP4, unpacked dot",
        formatNvfp4Tile(kernel.tileFor(dims)),
        t.ms.toFixed(3),
        t.min.toFixed(3),
        tflops.toFixed(2),
        (tflops / f32Tflops).toFixed(2),
      ]);
    }
    for (const buf of [a, b, c, qa.codes, qa.scales, qa.stats, qb.codes, qb.scales, qb.stats]) {
      buf.destroy();
    }
  }
  const languageFeatures = [...gpu.wgslLanguageFeatures].sort().join(", ") || "none";
  const text = [
    `## Packed NVFP4 GEMM vs f32 GEMM on ${gpu.info.description || gpu.info.vendor}`,
    "",
    `Size M = N = K; C = A·Bᵀ. Median of ${iterations} runs after ≥ ${WARMUP_MS} ms of untimed ` +
    `runs, timed by ${timer.method}; TFLOP/s = 2·M·N·K / median for both kernels; "vs f32" = ` +
    `packed TFLOP/s / f32 TFLOP/s at the same size.`,
    "",
    row(header),
    `|${header.map((_, i) => (i < 3 ? "---" : "---:")).join("|")}|`,
    ...rows,
    "",
    environmentLine(gpu),
    `WGSL language features: ${languageFeatures}.`,
    "",
  ].join("\n");
  return await publishTable(text, values.out);
}

if (import.meta.main) await benchMain(runNvfp4GemmBenchmark, USAGE);
