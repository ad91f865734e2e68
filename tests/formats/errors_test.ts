import { assertThrows } from "../assert.ts";
import { hadamard, quantize } from "../../src/formats/quantize.ts";
import type { FormatName } from "../../src/formats/spec.ts";

const x16 = new Float32Array(16);

Deno.test("quantize rejects sizes that do not divide the block, naming the argument", () => {
  assertThrows(() => quantize(new Float32Array(20), 1, 20, "nvfp4"), {
    name: "RangeError",
    message: "cols (20) must be a multiple of the nvfp4 block width 16",
  });
  assertThrows(() => quantize(new Float32Array(32), 2, 16, "nvfp4-2d"), {
    name: "RangeError",
    message: "rows (2) must be a multiple of the nvfp4-2d block height 16",
  });
  assertThrows(() => quantize(x16, 1, 16, "mxfp4"), /cols \(16\) must be a multiple of the mxfp4/);
});

Deno.test("quantize rejects NaN and Inf inputs with the index and value", () => {
  const x = new Float32Array(16);
  x[3] = NaN;
  assertThrows(() => quantize(x, 1, 16, "nvfp4"), {
    name: "RangeError",
    message: "x[3] is NaN; quantizers need finite inputs",
  });
  x[3] = -Infinity;
  assertThrows(() => quantize(x, 1, 16, "bf16"), /x\[3\] is -Infinity/);
});

Deno.test("quantize rejects unknown formats and options", () => {
  assertThrows(() => quantize(x16, 1, 16, "nvfp5" as FormatName), {
    name: "TypeError",
    message: /format must be one of "fp32", .* got "nvfp5"/,
  });
  assertThrows(
    () => quantize(x16, 1, 16, { kind: "mx", element: "e2m1", scaleRule: "up" as "ceil" }),
    /format.scaleRule must be one of "floor", "ceil", "rceil", got "up"/,
  );
  assertThrows(
    () => quantize(x16, 1, 16, "nvfp4", { rounding: "nearest" as "rne" }),
    { name: "TypeError", message: /rounding must be "rne" or "stochastic", got "nearest"/ },
  );
  assertThrows(() => quantize(x16, 1, 16, "nvfp4", { seed: -1 }), /seed must be an unsigned/);
  assertThrows(() => quantize(x16, 1, 16, "fp32", { rounding: "stochastic" }), RangeError);
});

Deno.test("quantize rejects negative, fractional and mismatched sizes", () => {
  assertThrows(() => quantize(x16, -1, -16, "bf16"), {
    name: "RangeError",
    message: "rows must be a non-negative integer, got -1",
  });
  assertThrows(
    () => quantize(x16, 1.5, 16, "bf16"),
    /rows must be a non-negative integer, got 1.5/,
  );
  assertThrows(() => quantize(x16, 2, 16, "bf16"), /x.length \(16\) must equal rows × cols/);
  assertThrows(
    () => quantize([1, 2] as unknown as Float32Array, 1, 2, "bf16"),
    { name: "TypeError", message: "x must be a Float32Array, got Array" },
  );
  assertThrows(() => hadamard(x16, 1, 16, { size: 12 }), RangeError);
});
