import { assertEquals, assertStrictEquals, assertThrows } from "../assert.ts";
import {
  defaultGpuImplementation,
  GPU_IMPLEMENTATION_CHOICES,
  parseGpuImplementation,
  useGpuImplementation,
} from "../../src/gpu/implementation.ts";
import { getGpu } from "../../src/gpu/device.ts";

Deno.test("parseGpuImplementation accepts deno, dawn and auto and names a bad value", () => {
  assertEquals(GPU_IMPLEMENTATION_CHOICES.map(parseGpuImplementation), ["deno", "dawn", "auto"]);
  for (const bad of ["", "Dawn", "wgpu", "deno "]) {
    assertThrows(
      () => parseGpuImplementation(bad),
      (e) =>
        e instanceof RangeError &&
        e.message === `${JSON.stringify(bad)} is not a WebGPU implementation (deno, dawn, auto)`,
    );
  }
});

Deno.test("useGpuImplementation sets the process default and refuses a bad name", () => {
  const before = defaultGpuImplementation();
  try {
    useGpuImplementation("auto");
    assertStrictEquals(defaultGpuImplementation(), "auto");
    assertThrows(() => useGpuImplementation("vulkan" as never), /^RangeError: "vulkan"/);
    assertStrictEquals(defaultGpuImplementation(), "auto", "unchanged by the refused name");
  } finally {
    useGpuImplementation(before);
  }
});

Deno.test("a test run's --gpu flag (tests/gpu_setup.ts) is the implementation getGpu uses", async () => {
  const flag = Deno.args.find((a) => a.startsWith("--gpu="))?.slice("--gpu=".length);
  const expected = flag ?? "deno";
  assertStrictEquals(defaultGpuImplementation(), expected);
  if (expected !== "auto") assertStrictEquals((await getGpu()).implementation.name, expected);
});
