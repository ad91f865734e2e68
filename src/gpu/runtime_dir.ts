/**
 * A private `XDG_RUNTIME_DIR` for processes that have none. Mesa's EGL and Vulkan WSI code (through
 * libwayland) print `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` when a
 * WebGPU adapter is requested without it, which reads like a failure though nothing failed.
 * {@link ensureRuntimeDir} runs before the first adapter request (`device.ts`).
 *
 * @module
 */

let ensured = false;

/**
 * Where `XDG_RUNTIME_DIR` is unset or empty, sets it to a new folder only this user can enter
 * (mode 0700, under the system's temporary folder), removed when the process exits; returns that
 * folder, or undefined where the variable was already set (or on Windows, or without the env or
 * write permission: the variable only silences a message, so its absence is never an error).
 * Only the first call does anything.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureRuntimeDir } from "./runtime_dir.ts";
 * ensureRuntimeDir();
 * assert.ok(Deno.build.os === "windows" || Deno.env.get("XDG_RUNTIME_DIR"));
 * ```
 */
export function ensureRuntimeDir(): string | undefined {
  if (ensured) return undefined;
  ensured = true;
  if (Deno.build.os === "windows") return undefined;
  // Never prompt for a permission the process lacks: the variable only silences a message.
  const granted = (d: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(d).state === "granted";
  if (!granted({ name: "env", variable: "XDG_RUNTIME_DIR" }) || !granted({ name: "write" })) {
    return undefined;
  }
  try {
    if (Deno.env.get("XDG_RUNTIME_DIR")) return undefined;
    const dir = Deno.makeTempDirSync({ prefix: "lpbench-runtime-" });
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // Best effort: an empty folder in the temporary folder is harmless.
      }
    });
    return dir;
  } catch {
    return undefined;
  }
}
