/**
 * `deno task kernels`: effective bandwidth of every quantizer beside a plain copy kernel on the
 * same adapter, timed with GPU timestamp queries where the adapter has them.
 *
 * Effective GB/s = (bytes of the FP32 input + bytes of the output) / time, where the output is
 * FP32 for fake-quant and codes + scale bytes for packed kernels. Passes that first reduce the
 * tensor amax read the input twice; that cost is in the time, not in the byte count.
 *
 * Usage: deno task kernels [--mib 64] [--iterations 20] [--out results.md]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getGpu } from "../src/gpu/device.ts";
import { GpuTimer } from "../src/gpu/timing.ts";
import { kernelConfig, QuantizeKernel, quantizeSizes } from "../kernels/quantize.ts";
import { copyKernel } from "../kernels/copy.ts";
import { DelayedScaling } from "../src/formats/fp8.ts";
import { type QuantizeOptions } from "../src/formats/quantize.ts";
import { type FormatName, type FormatSpec, resolveFormat } from "../src/formats/spec.ts";

/** One benchmarked quantizer. */
interface Case {
  label: string;
  format: FormatName | FormatSpec;
  opts: QuantizeOptions;
}

const delayed = new DelayedScaling("e4m3");
delayed.record(4);

const CASES: Case[] = [
  { label: "nvfp4 1×16", format: "nvfp4", opts: {} },
  { label: "nvfp4 16×16 (2D)", format: "nvfp4-2d", opts: {} },
  { label: "nvfp4 1×16 + RHT16", format: "nvfp4", opts: { rht: {} } },
  { label: "nvfp4 1×16 + SR", format: "nvfp4", opts: { rounding: "stochastic", seed: 1 } },
  {
    label: "nvfp4 1×16 + RHT16 + SR",
    format: "nvfp4",
    opts: { rht: {}, rounding: "stochastic", seed: 1 },
  },
  { label: "mxfp4 (floor)", format: "mxfp4", opts: {} },
  { label: "mxfp8-e4m3 (floor)", format: "mxfp8-e4m3", opts: {} },
  { label: "fp8-e4m3 current", format: "fp8-e4m3", opts: {} },
  {
    label: "fp8-e4m3 delayed",
    format: { kind: "fp8", element: "e4m3", scaling: delayed },
    opts: {},
  },
  { label: "bf16", format: "bf16", opts: {} },
  { label: "bf16 + SR", format: "bf16", opts: { rounding: "stochastic", seed: 1 } },
];

const { values } = parseArgs({
  options: {
    mib: { type: "string", default: "64" },
    iterations: { type: "string", default: "20" },
    out: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "Usage: deno task kernels [--mib 64] [--iterations 20] [--out results.md]",
  );
  Deno.exit(0);
}
const mib = Number(values.mib);
const iterations = Number(values.iterations);
if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(iterations) || iterations < 1) {
  console.error(
    `error: --mib and --iterations must be positive integers, got ${mib}, ${iterations}`,
  );
  Deno.exit(2);
}

const gpu = await getGpu();
const device = gpu.device;
const timer = new GpuTimer(gpu);
const cols = 4096;
const rows = (mib * 2 ** 20) / 4 / cols;
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const inputBytes = rows * cols * 4;

// Normal-ish input, generated once on the CPU.
const x = new Float32Array(rows * cols);
for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.618) * Math.exp(Math.cos(i * 0.1));
const xBuf = device.createBuffer({ size: inputBytes, usage });
device.queue.writeBuffer(xBuf, 0, x);

const rowsOut: string[][] = [];
const copyDst = device.createBuffer({ size: inputBytes, usage });
const copy = await timer.time(await copyKernel(gpu, xBuf, copyDst), { iterations, warmup: 3 });
copyDst.destroy();
const copyGBs = (2 * inputBytes) / copy.msPerIteration / 1e6;
rowsOut.push(["copy (vec4)", "—", "1", fmt(copy.msPerIteration), fmt(copyGBs, 0), "100%"]);

for (const c of CASES) {
  for (const output of ["fake", "packed"] as const) {
    const cfg = kernelConfig(resolveFormat(c.format), c.opts, output, cols);
    const kernel = await QuantizeKernel.create(gpu, cfg);
    const sizes = quantizeSizes(cfg, rows, cols);
    const make = (bytes: number) => device.createBuffer({ size: Math.max(bytes, 4), usage });
    const io = {
      x: xBuf,
      stats: make(8),
      out: output === "fake" ? make(sizes.outBytes) : undefined,
      codes: output === "packed" ? make(sizes.codesBytes) : undefined,
      scales: output === "packed" && sizes.scalesBytes ? make(sizes.scalesBytes) : undefined,
      tileAmax: sizes.tileBytes ? make(sizes.tileBytes) : undefined,
    };
    const bound = kernel.bind(rows, cols, io);
    bound.setParams(0x9e3779b9, 1);
    const r = await timer.time((pass) => bound.encode(pass), { iterations, warmup: 3 });
    const outBytes = output === "fake" ? sizes.outBytes : sizes.codesBytes + sizes.scalesBytes;
    const gbs = (inputBytes + outBytes) / r.msPerIteration / 1e6;
    rowsOut.push([
      c.label,
      output,
      String(bound.dispatchCount),
      fmt(r.msPerIteration),
      fmt(gbs, 0),
      `${fmt((100 * gbs) / copyGBs, 0)}%`,
    ]);
    bound.destroy();
    for (const b of [io.stats, io.out, io.codes, io.scales, io.tileAmax]) b?.destroy();
  }
}
xBuf.destroy();

function fmt(v: number, digits = 3): string {
  return v.toFixed(digits);
}

const header = ["kernel", "output", "dispatches", "ms", "effective GB/s", "of copy"];
const table = [
  `| ${header.join(" | ")} |`,
  `|${header.map((_, i) => (i === 0 || i === 1 ? "---" : "---:")).join("|")}|`,
  ...rowsOut.map((r) => `| ${r.join(" | ")} |`),
].join("\n");
const text = [
  `## Quantizer bandwidth on ${gpu.info.description || gpu.info.vendor}`,
  "",
  `Input ${mib} MiB FP32 (${rows}×${cols}); median of ${iterations} runs after 3 warmup runs, ` +
  `timed by ${timer.method}. Effective GB/s counts input + output bytes once.`,
  "",
  table,
  "",
].join("\n");
console.log(text);
if (values.out) await Deno.writeTextFile(values.out, text);
