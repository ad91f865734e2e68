/**
 * `deno run -A bench/gemm.ts`: throughput of the f32 GEMM kernels (kernels/gemm/mod.ts) for each
 * layout on square problems, timed with GPU timestamp queries where the adapter has them.
 *
 * TFLOP/s = 2·M·N·K / median time. Each timed batch follows at least 200 ms of the same GEMM in one
 * submission, so the GPU runs at its working clocks. Rows go to stderr as they are measured, the
 * whole table to stdout at the end.
 *
 * Usage: deno run -A bench/gemm.ts [--sizes 1024,2048,4096,8192 | --shapes MxNxK,...]
 *   [--layouts nt,nn,tn] [--tiles 128x128x8/8x8/2,...] [--iterations 10] [--out file.md]
 *
 * A tile is written `BMxBNxBK/TMxTN/STAGES` (see `GemmTile`); without `--tiles` each kernel picks
 * its tiling by size (`GEMM_TILINGS`), and the table names the one it picked.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getGpu } from "../src/gpu/device.ts";
import { environmentLine } from "./environment_line.ts";
import { timeWarm, WARMUP_MS } from "./warm_timing.ts";
import { GpuTimer, median } from "../src/gpu/timing.ts";
import { GemmKernel } from "../kernels/gemm/mod.ts";
import type { GemmTile } from "../kernels/gemm/wgsl.ts";
import { readBuffer } from "../src/gpu/buffers.ts";
import {
  GEMM_LAYOUTS,
  type GemmDims,
  type GemmLayout,
  gemmReferenceAt,
} from "../kernels/gemm/reference.ts";
import { positiveList, uniformValues } from "./inputs.ts";
import { benchMain, publishTable } from "./main.ts";

const USAGE =
  "Usage: deno run -A bench/gemm.ts [--sizes 1024,2048,4096,8192 | --shapes MxNxK,...] " +
  "[--layouts nt,nn,tn] [--tiles BMxBNxBK/TMxTN/STAGES,...] [--iterations 10] [--out file.md]";

/**
 * Parses a tile written `BMxBNxBK/TMxTN/STAGES`, e.g. `128x128x8/8x8/2`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTile } from "./gemm.ts";
 * assert.deepEqual(parseTile("64x32x16/8x4/1"), { bm: 64, bn: 32, bk: 16, tm: 8, tn: 4, stages: 1 });
 * ```
 */
export function parseTile(text: string): GemmTile {
  const match = /^(\d+)x(\d+)x(\d+)\/(\d+)x(\d+)\/([12])$/.exec(text.trim());
  if (!match) {
    throw new RangeError(`bad tile ${JSON.stringify(text)}; expected e.g. 128x128x8/8x8/2`);
  }
  const [bm, bn, bk, tm, tn, stages] = match.slice(1).map(Number);
  return { bm, bn, bk, tm, tn, stages: stages as 1 | 2 };
}

/**
 * Formats a tile as {@link parseTile} reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTile } from "./gemm.ts";
 * assert.equal(formatTile({ bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, stages: 2 }), "128x128x8/8x8/2");
 * ```
 */
export function formatTile(t: GemmTile): string {
  return `${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}/${t.stages}`;
}

/**
 * Parses a problem written `MxNxK`, e.g. `768x768x16384`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseShape } from "./gemm.ts";
 * assert.deepEqual(parseShape("768x512x16384"), { m: 768, n: 512, k: 16384 });
 * ```
 */
export function parseShape(text: string): GemmDims {
  const match = /^(\d+)x(\d+)x(\d+)$/.exec(text.trim());
  const [m, n, k] = match ? match.slice(1).map(Number) : [];
  if (!match || !(m > 0 && n > 0 && k > 0)) {
    throw new RangeError(`bad shape ${JSON.stringify(text)}; expected e.g. 768x768x16384`);
  }
  return { m, n, k };
}

/**
 * Throws unless a few elements of `got` (C of A = B = `data`) equal the CPU reference, fused or
 * separately rounded, bit for bit: a guard against timing a wrong kernel.
 */
function checkSamples(layout: GemmLayout, data: Float32Array, got: Float32Array, dims: GemmDims) {
  const { m, n } = dims;
  for (let s = 0; s < 8; s++) {
    const i = s === 0 ? m - 1 : (s * 7919) % m;
    const j = s === 0 ? n - 1 : (s * 104729) % n;
    const value = got[i * n + j];
    const fused = gemmReferenceAt(layout, data, data, dims, i, j);
    const separate = gemmReferenceAt(layout, data, data, dims, i, j, { rounding: "separate" });
    if (!Object.is(value, fused) && !Object.is(value, separate)) {
      throw new Error(
        `GEMM ${layout} ${m}×${n}×${dims.k}: C[${i}, ${j}] = ${value}, reference ${fused}`,
      );
    }
  }
}

/**
 * Runs the GEMM benchmark with command-line arguments; prints rows to stderr as they are measured
 * and returns (and prints) the markdown table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runGemmBenchmark } from "./gemm.ts";
 * const table = await runGemmBenchmark(["--sizes", "32", "--layouts", "nt", "--iterations", "1"]);
 * assert.match(table, /\| nt \| .* \| 32 \|/);
 * ```
 */
export async function runGemmBenchmark(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: "string", default: "1024,2048,4096,8192" },
      shapes: { type: "string" },
      layouts: { type: "string", default: GEMM_LAYOUTS.join(",") },
      tiles: { type: "string" },
      iterations: { type: "string", default: "10" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return "";
  }
  const problems: GemmDims[] = values.shapes
    ? values.shapes.split(",").map(parseShape)
    : positiveList(values.sizes, "sizes").map((v) => ({ m: v, n: v, k: v }));
  const [iterations] = positiveList(values.iterations, "iterations");
  const layouts = values.layouts.split(",") as GemmLayout[];
  for (const l of layouts) {
    if (!GEMM_LAYOUTS.includes(l)) throw new RangeError(`unknown layout ${JSON.stringify(l)}`);
  }
  const tiles: (GemmTile | undefined)[] = values.tiles
    ? values.tiles.split(",").map(parseTile)
    : [undefined];

  const gpu = await getGpu();
  const device = gpu.device;
  const timer = new GpuTimer(gpu);
  const kernels: GemmKernel[] = [];
  for (const layout of layouts) {
    for (const tile of tiles) {
      // A tile the device cannot run is reported and skipped, so one sweep can try many.
      try {
        kernels.push(await GemmKernel.create(gpu, { layout, tile }));
      } catch (e) {
        if (!(e instanceof RangeError) || tiles.length === 1) throw e;
        console.error(`skipped ${layout} ${tile ? formatTile(tile) : ""}: ${e.message}`);
      }
    }
  }

  const header = ["layout", "tile", "size", "median ms", "min ms", "TFLOP/s"];
  const sizeText = ({ m, n, k }: GemmDims) => m === n && n === k ? String(m) : `${m}×${n}×${k}`;
  const rows: string[] = [];
  const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
  console.error(row(header));
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  for (const dims of problems) {
    // A, B and C are prefixes of one array of values in [-1, 1).
    const { m, n, k } = dims;
    const data = new Float32Array(Math.max(m * k, n * k, m * n));
    uniformValues(data);
    const [a, b, c] = [m * k, n * k, m * n].map((elements) => {
      const buf = device.createBuffer({ size: elements * 4, usage });
      device.queue.writeBuffer(buf, 0, data, 0, elements);
      return buf;
    });
    for (const kernel of kernels) {
      const op = kernel.bind({ a, b, c }, dims);
      const record = (pass: GPUComputePassEncoder) => op.encode(pass);
      const samples = await timeWarm(timer, record, iterations);
      op.destroy();
      const got = new Float32Array(await readBuffer(device, c, m * n * 4));
      checkSamples(kernel.layout, data, got, dims);
      const ms = median(samples);
      const cells = [
        kernel.layout,
        formatTile(kernel.tileFor(dims)),
        sizeText(dims),
        ms.toFixed(3),
        Math.min(...samples).toFixed(3),
        ((2 * m * n * k) / ms / 1e9).toFixed(2),
      ];
      rows.push(row(cells));
      console.error(rows.at(-1));
    }
    for (const buf of [a, b, c]) buf.destroy();
  }
  const text = [
    `## f32 GEMM on ${gpu.info.description || gpu.info.vendor}`,
    "",
    `Size M = N = K or M×N×K; median of ${iterations} runs after ≥ ${WARMUP_MS} ms of untimed runs, ` +
    `timed by ${timer.method}; TFLOP/s = 2·M·N·K / median.`,
    "",
    row(header),
    `|${header.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
    ...rows,
    "",
    environmentLine(gpu),
    "",
  ].join("\n");
  return await publishTable(text, values.out);
}

if (import.meta.main) await benchMain(runGemmBenchmark, USAGE);
