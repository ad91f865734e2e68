/**
 * One of several processes contending for the same work, for `concurrent_test.ts`: waits until the
 * start file exists (so that every contender starts together), takes the lock at `<dir>/work.lock`,
 * publishes `<dir>/result.json` first-writer-wins, and writes `<dir>/outcome-<name>.json`: whether
 * it got the lock and whether its file was the one published. The lock's holder keeps it until
 * `<dir>/stop` exists, so that no latecomer can take it.
 *
 * Usage: `deno run -A tests/io/contender.ts <dir> <name>`
 *
 * @module
 */

import { writeAtomicNew } from "../../src/io/atomic.ts";
import { tryLock } from "../../src/io/lock.ts";

const [dir, name] = Deno.args;

async function waitFor(path: string): Promise<void> {
  while (true) {
    try {
      await Deno.stat(path);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

await waitFor(`${dir}/start`);
const lock = await tryLock(`${dir}/work.lock`);
const locked = "release" in lock;
// Every contender publishes, lock or not: the lock saves work, publication decides the winner.
const body = JSON.stringify({ name, padding: "x".repeat(1 << 16) }) + "\n";
const published = await writeAtomicNew(`${dir}/result.json`, body);
await Deno.writeTextFile(
  `${dir}/outcome-${name}.json`,
  JSON.stringify({ name, locked, published }),
);
if (locked) {
  await waitFor(`${dir}/stop`);
  await lock.release();
}
