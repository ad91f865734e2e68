/**
 * Running the command line in tests: `deno run -A cli.ts …` in the repository root, its exit code
 * and output.
 *
 * @module
 */

/** What a command printed and how it exited. */
export interface CliOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cli.ts` with `args` (and `env` added to a colourless environment) in the repository root. */
export async function cli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliOutcome> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    cwd: new URL("..", import.meta.url),
    env: { NO_COLOR: "1", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
