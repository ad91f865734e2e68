/**
 * `deno run -A bench/gemm_matrix.ts`: throughput of the matrix-unit GEMM (kernels/gemm_matrix/, f16
 * operands on subgroup matrices, f32 accumulation) beside the f32 SIMT GEMM (kernels/gemm/) on the
 * same Dawn device, square problems, every layout, in one run; timed with GPU timestamp queries where
 * the adapter has them, each batch after ≥ 200 ms of the same GEMM.
 *
 * A and B hold the same values for both GEMMs (f16 values in [−1, 1), so f32 copies for the f32
 * GEMM); TFLOP/s = 2·M·N·K / median time. Before a row is reported, a few outputs of the matrix GEMM
 * are checked against the exact sum within the f32 summation bound.
 *
 * Usage: deno run -A bench/gemm_matrix.ts [--sizes 1024,2048,4096,8192] [--shapes MxNxK,...]
 *   [--layouts nt,nn,tn]
 *   [--tiles SMxSN/TMxTN/BK[/STAGES][/pPAD][/wWORDS|/r],...] [--iterations 10] [--out file.md]
 *
 * `--tiles` times the given tilings (e.g. `2x2/4x4/32/2`: 2×2 subgroups of 4×4 result matrices, K
 * slices of 32, two stages) instead of the kernel's own choice, one row each.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getGpu } from "../src/gpu/device.ts";
import { readBuffer } from "../src/gpu/buffers.ts";
import { GpuTimer, median } from "../src/gpu/timing.ts";
import { GEMM_LAYOUTS, type GemmDims, type GemmLayout } from "../kernels/gemm/reference.ts";
import { GemmKernel } from "../kernels/gemm/mod.ts";
import { MatrixGemmKernel } from "../kernels/gemm_matrix/mod.ts";
import {
  checkMatrixTile,
  type MatrixGemmTile,
  matrixSplitK,
  matrixTileShape,
} from "../kernels/gemm_matrix/reference.ts";
import { environmentLine } from "./environment_line.ts";
import { timeWarm, WARMUP_MS } from "./warm_timing.ts";
import { formatTile, parseShape } from "./gemm.ts";
import { positiveList, uniformValues } from "./inputs.ts";
import { benchMain, publishTable } from "./main.ts";

const USAGE = "Usage: deno run -A bench/gemm_matrix.ts [--sizes 1024,2048,4096,8192] " +
  "[--shapes MxNxK,...] [--layouts nt,nn,tn] [--tiles SMxSN/TMxTN/BK[/STAGES][/pPAD][/wWORDS|/r],...] [--iterations 10] " +
  "[--timing timestamp-query|wall-clock] [--out file.md]";

/**
 * Parses `--tiles`: `SMxSN/TMxTN/BK[/STAGES][/pPAD][/wWORDS|/r]`, comma-separated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMatrixTiles } from "./gemm_matrix.ts";
 * assert.deepEqual(parseMatrixTiles("2x2/4x4/32/2/p8/w1"), [
 *   { sm: 2, sn: 2, tm: 4, tn: 4, bk: 32, stages: 2, pad: 8, words: 1 },
 * ]);
 * assert.equal(parseMatrixTiles("2x2/4x4/16/2/r")[0].rotate, true);
 * ```
 */
export function parseMatrixTiles(value: string): MatrixGemmTile[] {
  return value.split(",").map((text) => {
    const m = /^(\d+)x(\d+)\/(\d+)x(\d+)\/(\d+)(?:\/([12]))?(?:\/p(\d+))?(?:\/(?:w(\d)|(r)))?$/
      .exec(text.trim());
    if (!m) {
      throw new RangeError(
        `--tiles: expected SMxSN/TMxTN/BK[/STAGES][/pPAD][/wWORDS|/r], got ${JSON.stringify(text)}`,
      );
    }
    const [sm, sn, tm, tn, bk] = m.slice(1, 6).map(Number);
    const tile: MatrixGemmTile = {
      sm,
      sn,
      tm,
      tn,
      bk,
      ...(m[6] ? { stages: Number(m[6]) as 1 | 2 } : {}),
      ...(m[7] ? { pad: Number(m[7]) } : {}),
      ...(m[8] ? { words: Number(m[8]) as 1 | 2 | 4 } : {}),
      ...(m[9] ? { rotate: true } : {}),
    };
    checkMatrixTile(tile);
    return tile;
  });
}

/** C[i, j] of `layout` summed exactly from the f16 values of A and B, and Σ|a·b|. */
function exactAt(
  layout: GemmLayout,
  a: Float16Array,
  b: Float16Array,
  { m, n, k }: GemmDims,
  i: number,
  j: number,
): { sum: number; abs: number } {
  let sum = 0;
  let abs = 0;
  for (let q = 0; q < k; q++) {
    const p = (layout === "tn" ? a[q * m + i] : a[i * k + q]) *
      (layout === "nt" ? b[j * k + q] : b[q * n + j]);
    sum += p;
    abs += Math.abs(p);
  }
  return { sum, abs };
}

/** Runs the benchmark; returns the markdown table. */
export async function runMatrixGemmBenchmark(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: "string", default: "1024,2048,4096,8192" },
      layouts: { type: "string", default: GEMM_LAYOUTS.join(",") },
      iterations: { type: "string", default: "10" },
      tiles: { type: "string" },
      shapes: { type: "string" },
      timing: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return "";
  }
  const sizes = positiveList(values.sizes, "sizes");
  const [iterations] = positiveList(values.iterations, "iterations");
  const layouts = values.layouts.split(",") as GemmLayout[];
  const fixedTiles = values.tiles === undefined ? [undefined] : parseMatrixTiles(values.tiles);
  for (const l of layouts) {
    if (!GEMM_LAYOUTS.includes(l)) throw new RangeError(`unknown layout ${JSON.stringify(l)}`);
  }
  const gpu = await getGpu({ implementation: "dawn" });
  const device = gpu.device;
  const method = values.timing;
  if (method !== undefined && method !== "timestamp-query" && method !== "wall-clock") {
    throw new RangeError(
      `--timing must be timestamp-query or wall-clock, got ${JSON.stringify(method)}`,
    );
  }
  const timer = new GpuTimer(gpu, method ? { method } : {});
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const header = ["layout", "GEMM", "tile", "size", "median ms", "TFLOP/s", "× f32 GEMM"];
  const rows: string[] = [];
  console.error(row(header));
  const problems: GemmDims[] = [
    ...sizes.map((size) => ({ m: size, n: size, k: size })),
    ...(values.shapes ? values.shapes.split(",").map(parseShape) : []),
  ];
  for (const dims of problems) {
    const { m, n, k } = dims;
    const size = m === n && n === k ? String(m) : `${m}x${n}x${k}`;
    const a16 = uniformValues(new Float16Array(m * k));
    const b16 = Float16Array.from({ length: k * n }, (_, i) => a16[(i * 7 + 3) % a16.length] * 0.5);
    const buffer = (data: ArrayBufferView) => {
      const buf = device.createBuffer({ size: Math.ceil(data.byteLength / 16) * 16, usage });
      device.queue.writeBuffer(
        buf,
        0,
        data.buffer as ArrayBuffer,
        data.byteOffset,
        data.byteLength,
      );
      return buf;
    };
    const [a, b, a32, b32] = [a16, b16, Float32Array.from(a16), Float32Array.from(b16)].map(buffer);
    const c = device.createBuffer({ size: m * n * 4, usage });
    const tflops = (ms: number) => ((2 * m * n * k) / ms / 1e9).toFixed(1);
    for (const layout of layouts) {
      const simt = await GemmKernel.create(gpu, { layout });
      const time = async (op: { encode(p: GPUComputePassEncoder): void; destroy(): void }) => {
        const ms = median(await timeWarm(timer, (pass) => op.encode(pass), iterations));
        op.destroy();
        return ms;
      };
      const simtMs = await time(simt.bind({ a: a32, b: b32, c }, dims));
      rows.push(row([
        layout,
        "f32 SIMT",
        formatTile(simt.tileFor(dims)),
        size,
        simtMs.toFixed(3),
        tflops(simtMs),
        "1.00",
      ]));
      console.error(rows.at(-1));
      for (const fixed of fixedTiles) {
        let matrix: MatrixGemmKernel;
        try {
          matrix = await MatrixGemmKernel.create(gpu, {
            layout,
            ...(fixed ? { tile: fixed } : {}),
          });
        } catch (e) {
          if (!(e instanceof RangeError)) throw e;
          console.error(`skipped: ${e.message}`);
          continue;
        }
        const tile = matrix.tileFor(dims);
        if (!tile) continue;
        const matrixMs = await time(matrix.bind({ a, b, c }, dims));
        const got = new Float32Array(await readBuffer(device, c, m * n * 4));
        for (const [i, j] of [[0, 0], [m - 1, n - 1], [m >> 1, 17 % n]]) {
          const { sum, abs } = exactAt(layout, a16, b16, dims, i, j);
          const bound = (k * 2 ** -23) / (1 - k * 2 ** -23) * abs;
          if (!(Math.abs(got[i * n + j] - sum) <= bound)) {
            throw new Error(
              `matrix GEMM ${layout} ${size}: C[${i}, ${j}] = ${got[i * n + j]}, exact ${sum}`,
            );
          }
        }
        const splits = matrixSplitK(dims, tile);
        const { rows: tr, cols: tc } = matrixTileShape(tile);
        rows.push(row([
          layout,
          "f16 matrix",
          `${tr}x${tc}x${tile.bk}/${tile.sm}x${tile.sn}${tile.stages === 2 ? "/2 stages" : ""}` +
          `${tile.pad ? `/pad ${tile.pad}` : ""}${tile.words ? `/${tile.words} words` : ""}` +
          `${tile.rotate ? "/rotated" : ""}` +
          `${splits > 1 ? `/split-K ${splits}` : ""}`,
          size,
          matrixMs.toFixed(3),
          tflops(matrixMs),
          (simtMs / matrixMs).toFixed(2),
        ]));
        console.error(rows.at(-1));
      }
    }
    for (const buf of [a, b, a32, b32, c]) buf.destroy();
  }
  const text = [
    `## Matrix-unit GEMM on ${
      gpu.info.description || gpu.info.vendor
    } (${gpu.implementation.name} ${gpu.implementation.version})`,
    "",
    `Square problems (and --shapes); median of ${iterations} runs after ≥ ${WARMUP_MS} ms of untimed runs, timed by ` +
    `${timer.method}; TFLOP/s = 2·M·N·K / median; both GEMMs in the same run on the same device.`,
    "",
    row(header),
    `|${header.map((_, i) => (i < 3 ? "---" : "---:")).join("|")}|`,
    ...rows,
    "",
    environmentLine(gpu),
    "",
  ].join("\n");
  return await publishTable(text, values.out);
}

if (import.meta.main) await benchMain(runMatrixGemmBenchmark, USAGE);
