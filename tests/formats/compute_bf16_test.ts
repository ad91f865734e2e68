// `compute: bf16` in the CPU oracle: a quantizer reads BF16 values (an FP32 input is rounded as
// it is read) and, with the RHT, takes its amax of the BF16-rounded transform, as
// TransformerEngine's reference_nvfp4.py does; `compute: fp32` (the default) changes nothing.
import { assertBitsEqual, assertEquals, assertOk, assertThrows } from "../assert.ts";
import { DISTRIBUTIONS } from "../tensors.ts";
import { isBf16, roundBf16, roundBf16Array } from "../../src/formats/bf16.ts";
import { hadamard, quantize, quantizerInput } from "../../src/formats/quantize.ts";

Deno.test("compute bf16: the quantizer's input and its RHT output are BF16, and so is the amax", () => {
  const x = DISTRIBUTIONS.lognormal(8 * 64, 3);
  const q = quantize(x, 8, 64, "nvfp4", { rht: {}, compute: "bf16" });
  const input = quantizerInput(x, 8, 64, { rht: {}, compute: "bf16" });
  assertOk(input.every(isBf16), "every value the quantizer sees is BF16");
  assertBitsEqual(input, roundBf16Array(hadamard(roundBf16Array(x), 8, 64)), "round, RHT, round");
  assertOk(isBf16(q.amax), `amax ${q.amax} is BF16`);
  // The FP32 RHT's amax is not BF16 here: the rounding is what makes it so.
  assertOk(!isBf16(quantize(x, 8, 64, "nvfp4", { rht: {} }).amax), "the fp32 amax is not BF16");
});

Deno.test("compute bf16 quantizes the BF16-rounded tensor; compute fp32 is the default", () => {
  const x = DISTRIBUTIONS.normal(4 * 64, 5);
  for (const format of ["nvfp4", "nvfp4-2d", "mxfp4", "fp8-e4m3"] as const) {
    const rows = format === "nvfp4-2d" ? 16 : 4;
    const y = DISTRIBUTIONS.normal(rows * 64, 5);
    assertBitsEqual(
      quantize(y, rows, 64, format, { compute: "bf16" }).codes,
      quantize(roundBf16Array(y), rows, 64, format).codes,
      format,
    );
    assertBitsEqual(
      quantize(y, rows, 64, format, { compute: "fp32" }).codes,
      quantize(y, rows, 64, format).codes,
      format,
    );
  }
  // BF16 values pass through the rounding untouched.
  const b = roundBf16Array(x);
  assertBitsEqual(quantizerInput(b, 4, 64, { compute: "bf16" }), b);
  assertEquals(roundBf16(roundBf16(Math.PI)), roundBf16(Math.PI));
});

Deno.test("compute must be fp32 or bf16", () => {
  const x = new Float32Array(16);
  // deno-lint-ignore no-explicit-any
  const opts = { compute: "fp16" } as any;
  assertThrows(() => quantize(x, 1, 16, "nvfp4", opts), {
    name: "TypeError",
    message: 'compute must be "fp32" or "bf16", got "fp16"',
  });
});
