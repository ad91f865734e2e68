import assert from "node:assert/strict";
import { getGpu } from "../../src/gpu/device.ts";
import { PipelineCache } from "../../src/gpu/pipelines.ts";
import { wgslEnables, type WgslExtension } from "../../src/gpu/wgsl_enables.ts";

/** A compute shader that uses each extension. */
const BODY: Record<WgslExtension, string> = {
  f16: `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(1) fn main() { x[0] = f32(f16(x[0]) * 2.0h); }`,
  subgroups: `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(subgroup_size) s: u32) { x[0] = f32(s); }`,
  chromium_experimental_subgroup_matrix:
    `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main() {
  let m = subgroup_matrix_result<f32, 16, 16>();
  subgroupMatrixStore(&x, 0, m, false, 16);
}`,
};

for (const name of ["deno", "dawn"] as const) {
  Deno.test(`wgslEnables makes shaders of each granted extension compile on ${name}`, async () => {
    const gpu = await getGpu({ implementation: name });
    const cache = new PipelineCache(gpu.device);
    for (const extension of Object.keys(BODY) as WgslExtension[]) {
      const feature = {
        f16: "shader-f16",
        subgroups: "subgroups",
        chromium_experimental_subgroup_matrix: "chromium-experimental-subgroup-matrix",
      }[extension];
      if (gpu.features.has(feature)) {
        await cache.getAsync(wgslEnables(gpu, [extension]) + BODY[extension]);
      } else {
        assert.throws(
          () => wgslEnables(gpu, [extension]),
          new RegExp(
            `${extension} needs the WebGPU feature "${feature}", which the ${name} device`,
          ),
        );
      }
    }
  });
}

Deno.test("wgslEnables writes each directive once, in order, and none for an empty list", async () => {
  const gpu = await getGpu();
  const granted = (["f16", "subgroups"] as const).filter((e) =>
    gpu.features.has(e === "f16" ? "shader-f16" : e)
  );
  const lines = wgslEnables(gpu, [...granted, ...granted]).split("\n").filter((l) => l);
  const expected = gpu.implementation.name === "dawn"
    ? granted.map((e) => `enable ${e};`)
    : granted.filter((e) => e === "f16").map((e) => `enable ${e};`);
  assert.deepEqual(lines, expected);
  assert.equal(wgslEnables(gpu, []), "");
});
