/**
 * Supervising the shard processes of `deno task sweep local`: starts one process per command,
 * prefixes every line it prints with its shard (`[shard 1/4] …`), passes the interrupts this
 * process gets (Ctrl-C, SIGTERM, SIGUSR2) on to every child, which checkpoint and exit 130, and
 * waits for all of them.
 *
 * @module
 */

/** The exit codes of `bench` (cli.ts), worst first: what the sweep as a whole exits with. */
const SEVERITY = [2, 1, 130] as const;

/**
 * The exit code of a sweep from its processes' codes: 2 if any input was invalid, else 1 if any
 * run failed (any other non-zero code counts as such), else 130 if any was interrupted, else 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sweepExitCode } from "./supervise.ts";
 * assert.equal(sweepExitCode([0, 130, 0]), 130);
 * assert.equal(sweepExitCode([130, 1]), 1);
 * assert.equal(sweepExitCode([0, 0]), 0);
 * ```
 */
export function sweepExitCode(codes: readonly number[]): number {
  for (const code of SEVERITY) if (codes.includes(code)) return code;
  return codes.some((c) => c !== 0) ? 1 : 0;
}

/** Copies `stream`'s lines to `write`, each after `prefix`. */
async function prefixLines(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  write: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split(/\r?\n|\r/);
    rest = lines.pop()!;
    for (const line of lines) if (line.trim() !== "") write(`${prefix}${line}`);
  }
  if (rest.trim() !== "") write(`${prefix}${rest}`);
}

/** The interrupts passed on to the children. */
const FORWARDED = ["SIGINT", "SIGTERM", "SIGUSR2"] as const;

/**
 * Runs every command (`[executable, ...args]`) at once in `cwd` and returns their exit codes in
 * order. Their output goes to `write` line by line, after `labels[i]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { superviseShards } from "./supervise.ts";
 * const lines: string[] = [];
 * const codes = await superviseShards(
 *   [[Deno.execPath(), "eval", "console.log('hi')"], [Deno.execPath(), "eval", "Deno.exit(2)"]],
 *   ["[a] ", "[b] "], { write: (l) => lines.push(l) },
 * );
 * assert.deepEqual(codes, [0, 2]);
 * assert.deepEqual(lines, ["[a] hi"]);
 * ```
 */
export async function superviseShards(
  commands: readonly (readonly string[])[],
  labels: readonly string[],
  options: { readonly cwd?: string; readonly write?: (line: string) => void } = {},
): Promise<number[]> {
  const write = options.write ?? ((line: string) => console.error(line));
  const children = commands.map(([cmd, ...args]) =>
    new Deno.Command(cmd, {
      args,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn()
  );
  const forward = FORWARDED.map((signal) => {
    const handler = () => {
      for (const child of children) {
        try {
          child.kill(signal);
        } catch {
          // already exited
        }
      }
    };
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  });
  try {
    return await Promise.all(children.map(async (child, i) => {
      await Promise.all([
        prefixLines(child.stdout, labels[i], write),
        prefixLines(child.stderr, labels[i], write),
      ]);
      return (await child.status).code;
    }));
  } finally {
    for (const remove of forward) remove();
  }
}
