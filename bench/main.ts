/**
 * The entry point of a benchmark script: runs it with the command-line arguments, and turns a bad
 * argument (a RangeError, or `parseArgs` rejecting an option) into its message, the usage line and
 * exit code 2 instead of a stack trace.
 *
 * @module
 */

/**
 * Runs `run(Deno.args)`; on a bad argument prints `error: <message>` and `usage`, exits 2.
 *
 * @example
 * ```ts
 * import { benchMain } from "./main.ts";
 * if (import.meta.main) await benchMain(async (args) => console.log(args), "Usage: …");
 * ```
 */
export async function benchMain(
  run: (args: string[]) => Promise<unknown>,
  usage: string,
): Promise<void> {
  try {
    await run(Deno.args);
  } catch (e) {
    if (!(e instanceof RangeError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) {
      throw e;
    }
    console.error(`error: ${(e as Error).message}\n${usage}`);
    Deno.exit(2);
  }
}

/**
 * Prints a benchmark's markdown `text` and, with `out`, writes it to that file; returns `text`.
 *
 * @example
 * ```ts
 * import { publishTable } from "./main.ts";
 * await publishTable("| a |\n|---|\n| 1 |\n"); // printed, not written
 * ```
 */
export async function publishTable(text: string, out?: string): Promise<string> {
  console.log(text);
  if (out) await Deno.writeTextFile(out, text);
  return text;
}
