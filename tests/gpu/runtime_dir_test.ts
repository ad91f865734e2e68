import { match as assertMatch } from "node:assert/strict";
import { assertOk, assertStrictEquals } from "../assert.ts";
import { defaultGpuImplementation } from "../../src/gpu/implementation.ts";

/** Requests an adapter in a child process with `env` only; returns its exit code and output. */
async function requestAdapter(env: Record<string, string>) {
  const device = new URL("../../src/gpu/device.ts", import.meta.url).href;
  const script = `import { getGpu } from ${JSON.stringify(device)};
const gpu = await getGpu({ implementation: ${JSON.stringify(defaultGpuImplementation())} });
const dir = Deno.env.get("XDG_RUNTIME_DIR");
console.log(JSON.stringify({ dir, mode: dir && Deno.statSync(dir).mode! & 0o777, adapter: gpu.info.description }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: new URL("../..", import.meta.url),
    clearEnv: true,
    env,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** This process's environment without `XDG_RUNTIME_DIR`. */
function envWithoutRuntimeDir(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.XDG_RUNTIME_DIR;
  return { ...env, NO_COLOR: "1" };
}

Deno.test("an adapter request without XDG_RUNTIME_DIR prints no XDG_RUNTIME_DIR error", async () => {
  const r = await requestAdapter(envWithoutRuntimeDir());
  assertStrictEquals(r.code, 0, r.stderr);
  assertOk(!r.stderr.includes("XDG_RUNTIME_DIR"), r.stderr);
  const { dir, mode } = JSON.parse(r.stdout);
  assertMatch(dir, /lpbench-runtime-/);
  assertStrictEquals(mode, 0o700, "a private folder");
  const gone = await Deno.stat(dir).then(() => false, (e) => e instanceof Deno.errors.NotFound);
  assertOk(gone, `${dir} is removed when the process exits`);
});

Deno.test("an XDG_RUNTIME_DIR that is set is kept", async () => {
  const own = await Deno.makeTempDir();
  try {
    const r = await requestAdapter({ ...envWithoutRuntimeDir(), XDG_RUNTIME_DIR: own });
    assertStrictEquals(r.code, 0, r.stderr);
    assertStrictEquals(JSON.parse(r.stdout).dir, own);
  } finally {
    await Deno.remove(own, { recursive: true });
  }
});
