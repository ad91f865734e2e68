import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { list, withTempDir } from "../temp_dir.ts";
import { tryLock } from "../../src/io/lock.ts";

const CONTENDERS = 8;

Deno.test("of processes started together, one takes the lock and one publishes; the file is whole", async () => {
  await withTempDir(async (dir) => {
    const children = Array.from(
      { length: CONTENDERS },
      (_, i) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", new URL("contender.ts", import.meta.url).pathname, dir, `p${i}`],
          stdout: "null",
          stderr: "piped",
        }).spawn(),
    );
    await new Promise((r) => setTimeout(r, 1500)); // most processes are up and polling
    await Deno.writeTextFile(`${dir}/start`, "");
    const outcome = (n: number) => `${dir}/outcome-p${n}.json`;
    const done = async () =>
      (await Promise.all(children.map((_, i) => Deno.stat(outcome(i)).then(() => 1, () => 0))))
        .every((x) => x === 1);
    while (!await done()) await new Promise((r) => setTimeout(r, 20));
    await Deno.writeTextFile(`${dir}/stop`, "");
    for (const c of children) {
      const out = await c.output();
      assertStrictEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    const outcomes = await Promise.all(
      children.map(async (_, i) => JSON.parse(await Deno.readTextFile(outcome(i)))),
    );
    assertStrictEquals(outcomes.filter((o) => o.locked).length, 1, JSON.stringify(outcomes));
    const winners = outcomes.filter((o) => o.published);
    assertStrictEquals(winners.length, 1, JSON.stringify(outcomes));
    const result = JSON.parse(await Deno.readTextFile(`${dir}/result.json`));
    assertStrictEquals(result.name, winners[0].name);
    assertStrictEquals(result.padding.length, 1 << 16);
    const left = (await list(dir)).filter((f) => !f.startsWith("outcome-"));
    assertEquals(left, ["result.json", "start", "stop"], "no lock or temporary file is left");
  });
});

Deno.test("a lock whose process is gone, or that was not touched for staleMs, is taken over", async () => {
  await withTempDir(async (dir) => {
    const dead = new Deno.Command(Deno.execPath(), { args: ["eval", "0"] }).spawn();
    await dead.status;
    const owner = { host: Deno.hostname(), pid: dead.pid, since: "", token: "t" };
    await Deno.writeTextFile(`${dir}/a.lock`, JSON.stringify(owner));
    const a = await tryLock(`${dir}/a.lock`);
    assertOk("release" in a, "the dead process's lock is taken over");
    await a.release();
    // Another host's lock: alive as long as it is touched.
    await Deno.writeTextFile(`${dir}/b.lock`, JSON.stringify({ ...owner, host: "elsewhere" }));
    const held = await tryLock(`${dir}/b.lock`, { staleMs: 60_000 });
    assertEquals("held" in held && held.held?.host, "elsewhere");
    const old = new Date(Date.now() - 120_000);
    await Deno.utime(`${dir}/b.lock`, old, old);
    const b = await tryLock(`${dir}/b.lock`, { staleMs: 60_000 });
    assertOk("release" in b, "an untouched lock is stale");
    await b.release();
    assertEquals(await list(dir), []);
  });
});

Deno.test("a held lock is touched while held, so that it does not go stale", async () => {
  await withTempDir(async (dir) => {
    const lock = await tryLock(`${dir}/c.lock`, { heartbeatMs: 50 });
    assertOk("release" in lock);
    const old = new Date(Date.now() - 120_000);
    await Deno.utime(`${dir}/c.lock`, old, old);
    await new Promise((r) => setTimeout(r, 300));
    const mtime = (await Deno.stat(`${dir}/c.lock`)).mtime!.getTime();
    assertOk(Date.now() - mtime < 5_000, "the heartbeat touched the file");
    await lock.release();
  });
});
