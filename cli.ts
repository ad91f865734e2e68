/**
 * The `lpbench` command behind the deno tasks: `bench`, `report`, `verify`.
 *
 * Exit codes: 0 success, 1 a run failed, 2 invalid input. Errors print one line, no stack trace
 * unless `--debug` is given.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runKernelBenchmark, UsageError } from "./bench/kernels.ts";
import { runGemmBenchmark } from "./bench/gemm.ts";
import { runTrainBenchmark } from "./bench/train.ts";

const SUITES = {
  quantize: runKernelBenchmark,
  gemm: runGemmBenchmark,
  train: runTrainBenchmark,
} as const;

/**
 * `kernels [--suite quantize,gemm,train] [--out FILE] [suite options]`: runs the benchmark suites
 * in order and writes their tables together; suite options go to the suite when only one is
 * selected (see bench/kernels.ts, bench/gemm.ts, bench/train.ts).
 */
async function kernels(args: string[]): Promise<void> {
  const { values, tokens } = parseArgs({
    args,
    options: { suite: { type: "string", default: "quantize,gemm,train" }, out: { type: "string" } },
    strict: false,
    tokens: true,
  });
  const names = String(values.suite).split(",");
  for (const n of names) {
    if (!(n in SUITES)) {
      console.error(`error: --suite: unknown suite ${JSON.stringify(n)} (quantize, gemm, train)`);
      throw new UsageError();
    }
  }
  const rest: string[] = [];
  for (const t of tokens ?? []) {
    if (t.kind === "option" && (t.name === "suite" || t.name === "out")) continue;
    if (t.kind === "option") rest.push(t.rawName, ...(t.value !== undefined ? [t.value] : []));
    else if (t.kind === "positional") rest.push(t.value);
  }
  if (names.length > 1 && rest.length > 0) {
    console.error(`error: suite options (${rest.join(" ")}) need a single --suite`);
    throw new UsageError();
  }
  const parts: string[] = [];
  for (const n of names) parts.push(await SUITES[n as keyof typeof SUITES](rest));
  if (values.out) await Deno.writeTextFile(String(values.out), parts.join("\n"));
}

const HELP = `lpbench — low-precision training recipes on WebGPU

Usage:
  deno task bench [options]      run the benchmark (today: the kernel and training benchmarks;
                                 recipes arrive with the runner)
  deno task kernels [options]    the same: quantizer bandwidth, GEMM TFLOP/s, training tokens/s
  deno task report               write markdown reports from run records (not available yet)
  deno task verify <report.md>   re-run a report's runs (not available yet)
  deno task test                 the test suite

Benchmark options:
  --suite LIST     quantize,gemm,train (default all three)
  --out FILE       also write the markdown tables to FILE
  with a single suite, its own options, e.g.
    --suite quantize --mib 64 --iterations 10 --rounds 5
    --suite gemm --sizes 1024,2048,4096,8192 --layouts nt,nn,tn
    --suite train --policies fp32,nvfp4 --steps 10 --layers 12 --batch 8
  --debug          print stack traces
  -h, --help       this help
`;

/** Runs the CLI and returns its exit code. */
export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug");
  const args = argv.filter((a) => a !== "--debug");
  const [command, ...rest] = args;
  try {
    switch (command) {
      case undefined:
      case "-h":
      case "--help":
      case "help":
        console.log(HELP);
        return command === undefined ? 2 : 0;
      case "bench":
      case "kernels":
        if (rest.includes("-h") || rest.includes("--help")) {
          console.log(HELP);
          return 0;
        }
        await kernels(rest);
        return 0;
      case "report":
      case "verify":
        console.error(
          `error: "${command}" is not available yet: it needs the recipe runner and its run ` +
            `records, which lpbench does not have yet`,
        );
        return 2;
      default:
        console.error(`error: unknown command ${JSON.stringify(command)}; see --help`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) return 2;
    const err = e as Error & { code?: string };
    if (typeof err.code === "string" && err.code.startsWith("ERR_PARSE_ARGS")) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    if (debug) throw e;
    console.error(`error: ${err.message ?? String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
