/**
 * `deno task kernels`: effective bandwidth of every quantizer beside a plain copy kernel on the
 * same adapter, timed with GPU timestamp queries where the adapter has them.
 *
 * Effective GB/s = (bytes of the FP32 input + bytes of the output) / time, where the output is
 * FP32 for fake-quant, codes + scale bytes for packed kernels and binary16 for the f16 operands of
 * the matrix-unit GEMM (formats that have one, src/formats/f16.ts). Passes that first reduce the
 * tensor amax read the input twice; that cost is in the time, not in the byte count.
 *
 * With `--passes`, kernels that first reduce the amax also get a row for each pass timed alone
 * (clear + amax: input bytes; quantize: input + output bytes), to show where their time goes.
 *
 * Usage: deno task kernels [--mib 64] [--iterations 10] [--rounds 5] [--passes] [--out results.md]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getGpu } from "../src/gpu/device.ts";
import { UsageError } from "../src/usage.ts";
import { environmentLine } from "./environment_line.ts";
import { timeWarm, WARMUP_MS } from "./warm_timing.ts";
import { GpuTimer, median } from "../src/gpu/timing.ts";
import { delayedWords, QuantizeKernel } from "../kernels/quantize/mod.ts";
import { kernelConfig, quantizeSizes } from "../kernels/quantize/reference.ts";
import { copyKernel } from "./copy.ts";
import { DelayedScaling } from "../src/formats/fp8.ts";
import { hasF16Operand } from "../src/formats/f16.ts";
import { type QuantizeOptions } from "../src/formats/quantize.ts";
import { type FormatName, type FormatSpec, resolveFormat } from "../src/formats/spec.ts";
import { publishTable } from "./main.ts";

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

/**
 * Runs the kernel benchmark with command-line arguments and prints (and optionally writes) the
 * markdown table.
 */
export async function runKernelBenchmark(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      mib: { type: "string", default: "64" },
      iterations: { type: "string", default: "10" },
      rounds: { type: "string", default: "5" },
      passes: { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task kernels [--mib 64] [--iterations 10] [--rounds 5] [--passes] " +
        "[--out results.md]",
    );
    return "";
  }
  const mib = Number(values.mib);
  const iterations = Number(values.iterations);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(iterations) || iterations < 1) {
    console.error(
      `error: --mib and --iterations must be positive integers, got ${mib}, ${iterations}`,
    );
    throw new UsageError();
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

  /** A kernel to time: what it moves and how to record it into a pass. */
  interface Target {
    label: string;
    output: string;
    dispatches: number;
    bytes: number;
    record: (pass: GPUComputePassEncoder) => void;
    samples: number[];
  }

  const buffers: GPUBuffer[] = [xBuf];
  const make = (bytes: number) => {
    const b = device.createBuffer({ size: Math.max(bytes, 4), usage });
    buffers.push(b);
    return b;
  };
  const targets: Target[] = [{
    label: "copy (vec4)",
    output: "—",
    dispatches: 1,
    bytes: 2 * inputBytes,
    record: await copyKernel(gpu, xBuf, make(inputBytes)),
    samples: [],
  }];
  for (const c of CASES) {
    const outputs = hasF16Operand(resolveFormat(c.format))
      ? ["fake", "packed", "f16"] as const
      : ["fake", "packed"] as const;
    for (const output of outputs) {
      const cfg = kernelConfig(resolveFormat(c.format), c.opts, output, cols);
      const kernel = await QuantizeKernel.create(gpu, cfg);
      const sizes = quantizeSizes(cfg, rows, cols);
      const words = delayedWords(resolveFormat(c.format));
      const history = words ? make(words.byteLength) : undefined;
      if (history) device.queue.writeBuffer(history, 0, words!);
      const bound = kernel.bind(rows, cols, {
        x: xBuf,
        stats: make(8),
        out: output === "fake"
          ? make(sizes.outBytes)
          : output === "f16"
          ? make(sizes.f16Bytes)
          : undefined,
        codes: output === "packed" ? make(sizes.codesBytes) : undefined,
        scales: output === "packed" && sizes.scalesBytes ? make(sizes.scalesBytes) : undefined,
        tileAmax: sizes.tileBytes ? make(sizes.tileBytes) : undefined,
        history,
      });
      bound.setParams(0x9e3779b9);
      const outBytes = output === "fake"
        ? sizes.outBytes
        : output === "f16"
        ? sizes.f16Bytes
        : sizes.codesBytes + sizes.scalesBytes;
      targets.push({
        label: c.label,
        output,
        dispatches: bound.dispatches,
        bytes: inputBytes + outBytes,
        record: (pass) => bound.encode(pass),
        samples: [],
      });
      if (values.passes && bound.dispatches === 3) {
        targets.push({
          label: `${c.label} · clear + amax pass`,
          output,
          dispatches: 2,
          bytes: inputBytes,
          record: (pass) => bound.encodeOnly(pass, [0, 1]),
          samples: [],
        }, {
          label: `${c.label} · quantize pass`,
          output,
          dispatches: 1,
          bytes: inputBytes + outBytes,
          record: (pass) => bound.encodeOnly(pass, [2]),
          samples: [],
        });
      }
    }
  }

  // Interleaved rounds: every kernel is timed once per round, so clock or thermal drift during the
  // run spreads over all rows instead of biasing the later ones.
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      const estimate = t.samples.length ? median(t.samples) : undefined;
      t.samples.push(...await timeWarm(timer, t.record, iterations, estimate));
    }
  }
  for (const b of buffers) b.destroy();

  const copyMs = median(targets[0].samples);
  const rowsOut = targets.map((t) => {
    const ms = median(t.samples);
    const gbs = t.bytes / ms / 1e6;
    return [
      t.label,
      t.output,
      String(t.dispatches),
      fmt(ms),
      fmt(Math.min(...t.samples)),
      fmt(gbs, 0),
      `${fmt((100 * copyMs) / ms * (t.bytes / targets[0].bytes), 0)}%`,
    ];
  });

  function fmt(v: number, digits = 3): string {
    return v.toFixed(digits);
  }

  const header = [
    "kernel",
    "output",
    "dispatches",
    "median ms",
    "min ms",
    "effective GB/s",
    "of copy",
  ];
  const table = [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 || i === 1 ? "---" : "---:")).join("|")}|`,
    ...rowsOut.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
  const text = [
    `## Quantizer bandwidth on ${gpu.info.description || gpu.info.vendor}`,
    "",
    `Input ${mib} MiB FP32 (${rows}×${cols}); ${rounds} interleaved rounds of ${iterations} timed ` +
    `runs each, after ${WARMUP_MS} ms of untimed runs, timed by ${timer.method}. Effective GB/s counts input + output ` +
    `bytes once; "of copy" compares it with the copy kernel's.`,
    "",
    table,
    "",
    environmentLine(gpu),
    "",
  ].join("\n");
  return await publishTable(text, values.out);
}

if (import.meta.main) {
  try {
    await runKernelBenchmark(Deno.args);
  } catch (e) {
    if (e instanceof UsageError) Deno.exit(2);
    throw e;
  }
}
