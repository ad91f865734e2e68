import assert from "node:assert/strict";
import { getGpu, GpuUnavailableError, requireFeature } from "../../src/gpu/device.ts";
import { defaultGpuImplementation, useGpuImplementation } from "../../src/gpu/implementation.ts";

Deno.test("getGpu returns one cached device reporting what it granted", async () => {
  const gpu = await getGpu();
  assert.equal(await getGpu(), gpu);
  assert.deepEqual([...gpu.features].sort(), [...gpu.device.features].sort());
  assert.equal(typeof gpu.info.description, "string");
  assert.equal(typeof gpu.info.isFallbackAdapter, "boolean");
  for (const name of ["timestamp-query", "shader-f16"] as const) {
    if (gpu.adapter.features.has(name)) assert.ok(gpu.features.has(name), `${name} not granted`);
  }
});

Deno.test("getGpu raises compute and buffer limits to the adapter's values", async () => {
  const gpu = await getGpu();
  const adapter = gpu.adapter.limits;
  assert.equal(gpu.limits.maxStorageBufferBindingSize, adapter.maxStorageBufferBindingSize);
  assert.equal(gpu.limits.maxBufferSize, adapter.maxBufferSize);
  assert.equal(gpu.limits.maxComputeWorkgroupStorageSize, adapter.maxComputeWorkgroupStorageSize);
  assert.equal(
    gpu.limits.maxComputeInvocationsPerWorkgroup,
    adapter.maxComputeInvocationsPerWorkgroup,
  );
  assert.equal(gpu.limits.maxBufferSize, gpu.device.limits.maxBufferSize);
});

Deno.test("requireFeature names the missing feature", async () => {
  const gpu = await getGpu();
  assert.throws(() => requireFeature(gpu, "no-such-feature"), /"no-such-feature" is required/);
  for (const name of gpu.features) requireFeature(gpu, name);
});

Deno.test("GpuUnavailableError explains how to get an adapter", () => {
  const e = new GpuUnavailableError();
  assert.ok(e instanceof Error);
  assert.equal(e.name, "GpuUnavailableError");
  assert.match(e.message, /No WebGPU adapter was found/);
  assert.match(e.message, /mesa-vulkan-drivers/);
  assert.match(e.message, /Vulkan ICD/);
});

Deno.test("uncaptured device errors are logged rather than dropped", async () => {
  const { device } = await getGpu();
  const logged: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args.join(" "));
  try {
    const seen = new Promise((resolve) =>
      device.addEventListener("uncapturederror", resolve, { once: true })
    );
    device.createShaderModule({ code: "fn f() { let x: u32 = 1.5; }" });
    await seen;
  } finally {
    console.error = original;
  }
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^WebGPU uncaptured GPUValidationError: .*let x: u32 = 1\.5/s);
});

Deno.test("getGpu keeps one Gpu per implementation, each naming itself", async () => {
  const deno = await getGpu({ implementation: "deno" });
  const dawn = await getGpu({ implementation: "dawn" });
  assert.notEqual(deno, dawn);
  assert.equal(await getGpu({ implementation: "deno" }), deno);
  assert.equal(await getGpu({ implementation: "dawn" }), dawn);
  assert.deepEqual(deno.implementation, { name: "deno", version: Deno.version.deno, toggles: [] });
  assert.equal(dawn.implementation.name, "dawn");
  assert.ok(dawn.implementation.toggles.some((t) => t.startsWith("backend=")));
  for (const gpu of [deno, dawn]) {
    assert.ok(gpu.wgslLanguageFeatures.has("packed_4x8_integer_dot_product"));
    assert.deepEqual([...gpu.features].sort(), [...gpu.device.features].sort());
  }
});

Deno.test("getGpu without an implementation uses the process default", async () => {
  const before = defaultGpuImplementation();
  try {
    for (const name of ["deno", "dawn"] as const) {
      useGpuImplementation(name);
      assert.equal(await getGpu(), await getGpu({ implementation: name }));
    }
  } finally {
    useGpuImplementation(before);
  }
});

Deno.test("auto is Dawn where its adapter offers subgroup matrices, else Deno", async () => {
  const dawn = await getGpu({ implementation: "dawn" });
  const auto = await getGpu({ implementation: "auto" });
  const matrices = dawn.features.has("chromium-experimental-subgroup-matrix");
  assert.equal(auto, await getGpu({ implementation: matrices ? "dawn" : "deno" }));
});

Deno.test("the buffer-usage and map-mode constants kernels use are Dawn's too", async () => {
  const { globals } = await import("webgpu");
  const dawn = globals as Record<string, Record<string, number>>;
  for (const [name, flags] of Object.entries({ GPUBufferUsage, GPUMapMode, GPUShaderStage })) {
    for (const key of Object.keys(dawn[name])) {
      assert.equal(
        (flags as unknown as Record<string, number>)[key],
        dawn[name][key],
        `${name}.${key}`,
      );
    }
  }
});
