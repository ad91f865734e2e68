/**
 * Test helpers for files: run a function with a fresh temporary folder that is removed after,
 * and list a folder's entries.
 *
 * @module
 */

/** Calls `f` with a new temporary folder and removes the folder afterwards. */
export async function withTempDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The names of a folder's entries, sorted. */
export async function list(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}
