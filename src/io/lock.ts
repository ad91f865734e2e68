/**
 * Lock files for work that many processes, on one machine or many sharing a filesystem, may start
 * at once: {@link tryLock} creates the file exclusively (`O_EXCL`) with its owner (host, pid, a
 * random token) and touches it every `heartbeatMs` while held. A lock is stale, and taken over,
 * when it was not touched for `staleMs`, or when its owner is on this host and its process is gone
 * (after a crash or `kill -9`). Taking over a stale lock removes it and creates it again, so two
 * processes that both judge it stale may, rarely, both proceed: a lock saves duplicate work, it
 * does not decide who publishes results (`atomic.ts` `writeAtomicNew` does).
 *
 * @module
 */

/** Who holds a lock: the content of its file. */
export interface LockOwner {
  /** Host name of the holder. */
  readonly host: string;
  /** Process id of the holder on its host. */
  readonly pid: number;
  /** When it was taken (ISO 8601). */
  readonly since: string;
  /** Random token: tells this holder's file from a later one at the same path. */
  readonly token: string;
}

/** A held lock. */
export interface Lock {
  /** The lock file. */
  readonly path: string;
  /** Its owner (this process). */
  readonly owner: LockOwner;
  /** Stops the heartbeat and removes the file if it is still this holder's. */
  release(): Promise<void>;
}

/** Options of {@link tryLock}. */
export interface LockOptions {
  /** A lock untouched this long is stale (default 10 minutes). */
  readonly staleMs?: number;
  /** How often a held lock is touched (default 30 s). */
  readonly heartbeatMs?: number;
}

/** Why {@link tryLock} did not take a lock: the owner recorded in the file, if readable. */
export interface LockHeld {
  readonly held: LockOwner | undefined;
}

const DEFAULT_STALE_MS = 10 * 60_000;
const DEFAULT_HEARTBEAT_MS = 30_000;

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const o = JSON.parse(await Deno.readTextFile(path));
    return typeof o?.host === "string" && typeof o?.pid === "number" ? o : undefined;
  } catch {
    return undefined; // removed meanwhile, or being written
  }
}

/** Whether the lock at `path` may be taken over. */
async function stale(path: string, staleMs: number): Promise<boolean> {
  let mtime: Date | null;
  try {
    mtime = (await Deno.stat(path)).mtime;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
  if (mtime && Date.now() - mtime.getTime() > staleMs) return true;
  const owner = await readOwner(path);
  if (!owner || owner.host !== Deno.hostname() || Deno.build.os !== "linux") return false;
  try {
    await Deno.stat(`/proc/${owner.pid}`);
    return false;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
}

async function create(path: string, owner: LockOwner): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  }
  try {
    await file.write(new TextEncoder().encode(JSON.stringify(owner) + "\n"));
  } finally {
    file.close();
  }
  return true;
}

/**
 * Takes the lock at `path` (its folder must exist), taking over a stale one, or returns who holds
 * it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tryLock } from "./lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await tryLock(`${dir}/run.lock`);
 * assert.ok("release" in lock);
 * const second = await tryLock(`${dir}/run.lock`);
 * assert.equal("held" in second && second.held?.pid, Deno.pid);
 * await lock.release();
 * assert.deepEqual([...Deno.readDirSync(dir)], []);
 * await Deno.remove(dir);
 * ```
 */
export async function tryLock(path: string, options: LockOptions = {}): Promise<Lock | LockHeld> {
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const owner: LockOwner = {
    host: Deno.hostname(),
    pid: Deno.pid,
    since: new Date().toISOString(),
    token: crypto.randomUUID(),
  };
  let taken = await create(path, owner);
  if (!taken && await stale(path, staleMs)) {
    await Deno.remove(path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    taken = await create(path, owner);
  }
  if (!taken) return { held: await readOwner(path) };
  const heartbeat = setInterval(() => {
    const now = new Date();
    Deno.utime(path, now, now).catch(() => {}); // taken over meanwhile: nothing to touch
  }, options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  Deno.unrefTimer(heartbeat);
  return {
    path,
    owner,
    async release() {
      clearInterval(heartbeat);
      if ((await readOwner(path))?.token !== owner.token) return;
      await Deno.remove(path).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    },
  };
}
