import { assertEquals, assertOk, assertRejects, assertStrictEquals } from "../assert.ts";
import { DAWN_BACKENDS, dawnAdapter } from "../../src/gpu/dawn.ts";
import { GpuUnavailableError } from "../../src/gpu/unavailable.ts";

const denoJson = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));

Deno.test("dawnAdapter names the pinned npm:webgpu version and the backend it used", async () => {
  const { adapter, implementation, wgslLanguageFeatures } = await dawnAdapter();
  assertStrictEquals(implementation.name, "dawn");
  assertStrictEquals(`npm:webgpu@${implementation.version}`, denoJson.imports.webgpu);
  const backend = DAWN_BACKENDS.find((b) => b.toggles.join() === implementation.toggles.join());
  assertOk(backend, `toggles ${implementation.toggles} are one of DAWN_BACKENDS`);
  assertStrictEquals(implementation.featureLevel, backend.featureLevel);
  assertOk(wgslLanguageFeatures.has("packed_4x8_integer_dot_product"));
  assertStrictEquals(typeof adapter.info.description, "string");
});

Deno.test("dawnAdapter tries the backends in order and takes the first that gives an adapter", async () => {
  // A backend this OS does not have gives no adapter.
  const absent = Deno.build.os === "windows" ? "backend=metal" : "backend=d3d12";
  const none = { toggles: [absent], featureLevel: "core" as const };
  const { implementation } = await dawnAdapter([none, ...DAWN_BACKENDS]);
  assertOk(implementation.toggles[0] !== absent);
  await assertRejects(
    dawnAdapter([none]),
    (e) =>
      e instanceof GpuUnavailableError &&
      e.message.startsWith(`No WebGPU adapter was found (Dawn gave no adapter with ${absent})`),
  );
});

Deno.test("Dawn's OpenGL backend runs in compatibility mode on a surfaceless EGL without GL threads", () => {
  const gl = DAWN_BACKENDS.find((b) => b.toggles.includes("backend=opengl"));
  assertEquals(gl?.featureLevel, "compatibility");
  assertEquals(gl?.env, {
    EGL_PLATFORM: "surfaceless",
    mesa_glthread: "false",
    LP_NUM_THREADS: "0",
  });
  assertStrictEquals(DAWN_BACKENDS[0].toggles[0], "backend=vulkan", "Vulkan is tried first");
});
