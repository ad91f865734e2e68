import {
  assertBitsEqual,
  assertOk,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "../assert.ts";
import { DISTRIBUTIONS } from "../tensors.ts";
import { f16OperandGpu } from "../../kernels/quantize/mod.ts";
import { kernelConfig } from "../../kernels/quantize/reference.ts";
import {
  bf16OperandShift,
  f16Bits,
  f16FromBits,
  f16Operand,
  hasF16Operand,
} from "../../src/formats/f16.ts";
import { quantize, type QuantizeOptions } from "../../src/formats/quantize.ts";
import { FORMAT_NAMES, type FormatName, resolveFormat } from "../../src/formats/spec.ts";

const F16_FORMATS = FORMAT_NAMES.filter((f) => hasF16Operand(resolveFormat(f)));

Deno.test("every format but fp32 has an f16 operand", () => {
  assertStrictEquals(F16_FORMATS.join(), FORMAT_NAMES.filter((f) => f !== "fp32").join());
  assertThrows(
    () => kernelConfig(resolveFormat("fp32"), {}, "f16", 64),
    RangeError,
    "no f16 operand",
  );
  assertThrows(() => f16Operand(quantize(new Float32Array(32), 1, 32, "fp32")), RangeError, "fp32");
});

Deno.test("f16Bits rounds to nearest even like Math.f16round, subnormals included", () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    if ((bits & 0x7c00) === 0x7c00) continue; // Inf and NaN
    assertStrictEquals(f16Bits(f16FromBits(bits)), bits, `round trip of ${bits.toString(16)}`);
  }
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  for (let i = 0; i < 20000; i++) {
    const x = new Float32Array(new Uint32Array([next()]).buffer)[0];
    if (!Number.isFinite(x)) continue;
    const want = Math.f16round(x);
    const got = f16Bits(x);
    if (Number.isFinite(want)) assertStrictEquals(f16FromBits(got), want, `f16Bits(${x})`);
    else assertStrictEquals(got & 0x7fff, 0x7c00, `f16Bits(${x}) overflows to Inf`);
  }
  // Ties on the subnormal grid and at the carry into the next binade.
  assertStrictEquals(f16Bits(3 * 2 ** -25), 2);
  assertStrictEquals(f16Bits(2047.5 * 2 ** -10), 0x4000); // 2047.5 units of 2^-10 → 2.0
});

Deno.test("bf16OperandShift puts the tensor amax in [2^14, 2^15)", () => {
  for (const amax of [1e-30, 3e-5, 0.7, 1, 1.5, 65504, 3e38]) {
    const e = bf16OperandShift(amax);
    const scaled = amax * 2 ** -e;
    if (e > -126 && e < 127) assertOk(scaled >= 2 ** 14 && scaled < 2 ** 15, `${amax}: ${scaled}`);
  }
  assertStrictEquals(bf16OperandShift(2 ** -140), 0); // flushed input: an all-zero tensor
});

/** Checks the GPU's f16 operand against the CPU replica and its factoring against fake-quant. */
async function assertOperand(
  x: Float32Array,
  rows: number,
  cols: number,
  format: FormatName,
  opts: QuantizeOptions = {},
): Promise<void> {
  const q = quantize(x, rows, cols, format, opts);
  const cpu = f16Operand(q);
  const gpu = await f16OperandGpu(x, rows, cols, format, opts);
  assertBitsEqual(gpu.bits, cpu.bits, "f16 bits");
  assertStrictEquals(gpu.factor, cpu.factor, "factor");
  // fp32(value · factor) is the fake-quant value: exactly for nvfp4, fp8 and fp16; for bf16
  // wherever the value is at least 2^-31 of the tensor's largest; for MX wherever the f16 value is
  // normal (src/formats/f16.ts).
  const fake = q.dequantize();
  for (let i = 0; i < fake.length; i++) {
    const v = f16FromBits(cpu.bits[i]);
    if (format === "bf16" && Math.abs(fake[i]) < q.amax * 2 ** -31) continue;
    if (format.startsWith("mx") && Math.abs(v) < 2 ** -14) continue;
    const back = Math.fround(v * cpu.factor);
    if (!Object.is(back, fake[i]) && !(back === 0 && fake[i] === 0)) {
      throw new Error(`${format}: element ${i}: fp32(v·factor) = ${back}, fake-quant ${fake[i]}`);
    }
  }
}

for (const format of F16_FORMATS) {
  Deno.test(`the GPU's f16 operand of ${format} equals the CPU replica bit for bit`, async (t) => {
    for (const [name, make] of Object.entries(DISTRIBUTIONS)) {
      await t.step(name, async () => {
        await assertOperand(make(16 * 64, 5), 16, 64, format);
        await assertOperand(make(16 * 64, 6), 16, 64, format, {
          rounding: "stochastic",
          seed: 2,
          tensorId: 3,
          step: 4,
        });
      });
    }
  });
}

Deno.test("the f16 operand of nvfp4 with the RHT (fixed and random signs) equals the CPU replica", async () => {
  const x = DISTRIBUTIONS.lognormal(4 * 256, 8);
  await assertOperand(x, 4, 256, "nvfp4", { rht: { size: 16 }, rounding: "stochastic", seed: 1 });
  const random = { rht: { size: 32, signs: "random" as const }, seed: 1, step: 4, rhtTensorId: 6 };
  await assertOperand(x, 4, 256, "nvfp4", random);
});

Deno.test("the bf16 operand of a tensor spanning 60 binades rounds only its tiniest values", async () => {
  const x = Float32Array.from({ length: 256 }, (_, i) => (i % 2 ? -1 : 1) * 2 ** (20 - (i % 61)));
  await assertOperand(x, 4, 64, "bf16");
  const op = f16Operand(quantize(x, 4, 64, "bf16"));
  assertStrictEquals(op.factor, 2 ** 6);
  assertStrictEquals(f16FromBits(op.bits[0]), 2 ** 14);
});

Deno.test("the MX operand of a tensor whose blocks span 40 binades rounds only the smallest blocks", async () => {
  // One block per 32 values, block b at 2^(8 − b).
  const x = Float32Array.from(
    { length: 40 * 32 },
    (_, i) => (1 + (i % 7) / 8) * 2 ** (8 - (i >> 5)),
  );
  for (const format of ["mxfp4", "mxfp8-e4m3", "mxfp8-e5m2"] as const) {
    await assertOperand(x, 40, 32, format);
    const q = quantize(x, 40, 32, format);
    const op = f16Operand(q);
    const top = Math.max(...Array.from(op.bits, (b) => Math.abs(f16FromBits(b))));
    assertOk(top >= 2 ** 15 && top < 2 ** 16, `${format}: largest f16 value ${top}`);
  }
});

Deno.test("f16OperandGpu names a format without an f16 operand", async () => {
  await assertRejects(() => f16OperandGpu(new Float32Array(32), 1, 32, "fp32"), RangeError);
});
