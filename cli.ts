/**
 * The `lpbench` command behind the deno tasks: `bench`, `report`, `verify`.
 *
 * Exit codes: 0 success, 1 a run failed, 2 invalid input. Errors print one line, no stack trace
 * unless `--debug` is given.
 *
 * @module
 */

import { runKernelBenchmark, UsageError } from "./bench/kernels.ts";

const HELP = `lpbench — low-precision training recipes on WebGPU

Usage:
  deno task bench [options]      run the benchmark (today: the quantizer kernel benchmark;
                                 recipes arrive with the training runner)
  deno task kernels [options]    the quantizer kernel benchmark
  deno task report               write markdown reports from run records (not available yet)
  deno task verify <report.md>   re-run a report's runs (not available yet)
  deno task test                 the test suite

Kernel benchmark options:
  --mib N          input size in MiB (default 64)
  --iterations N   timed runs per round (default 10)
  --rounds N       interleaved rounds (default 5)
  --out FILE       also write the markdown table to FILE
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
        await runKernelBenchmark(rest);
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
