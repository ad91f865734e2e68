import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { quantize } from "../../src/formats/quantize.ts";
import { nvfp4BlockScale, nvfp4TensorScales } from "../../src/formats/nvfp4.ts";

const hex = (b: Uint8Array) => [...b].map((v) => v.toString(16).padStart(2, "0")).join(" ");

/** A 1×16 block placed in a row whose other block holds `amax`, so the tensor amax is `amax`. */
function withTensorAmax(block: number[], amax: number): Float32Array {
  const x = new Float32Array(32);
  x.set(block.map(Math.fround));
  x[16] = amax;
  return x;
}

const A = [0, .25, .75, 1.25, 1.75, 2.5, 3.5, 5, -.25, -.75, -1.25, -1.75, -2.5, -3.5, -5, 6];
const B = [.1, -.2, .3, -.4, .5, -.6, .7, -.8, .9, -1, 1.1, -1.2, 1.3, -1.4, 1.5, -1.6];

Deno.test("nvfp4 block A with tensor amax 2688 packs to NUMERICS.md §9.2 bytes", () => {
  const q = quantize(withTensorAmax(A, 2688), 1, 32, "nvfp4");
  assertStrictEquals(q.scales[0], 0x38);
  assertStrictEquals(hex(q.packed().slice(0, 8)), "00 22 44 66 a8 ca ec 7e");
  assertStrictEquals(q.tensorScale, 1);
});

Deno.test("nvfp4 block A holding the tensor amax 6 saturates its scale to 0x7E", () => {
  const q = quantize(Float32Array.from(A), 1, 16, "nvfp4");
  assertStrictEquals(q.scales[0], 0x7e);
  assertStrictEquals(hex(q.packed()), "00 22 44 66 a8 ca ec 7e");
  assertStrictEquals(q.dequantize()[15], Math.fround(6.0000005));
});

Deno.test("nvfp4 block B: enc_b falls just below 3.75 so -0.2 rounds to -0.5", () => {
  const t = nvfp4TensorScales(Math.fround(1.6));
  assertStrictEquals(t.sEnc, 1680);
  const { code, encB } = nvfp4BlockScale(Math.fround(1.6), t);
  assertStrictEquals(code, 0x7e);
  assertStrictEquals(encB, Math.fround(3.74999976));
  const q = quantize(Float32Array.from(B), 1, 16, "nvfp4");
  assertStrictEquals(hex(q.packed()), "91 b2 c4 d5 e5 e6 f6 f7");
});

Deno.test("nvfp4 block B with tensor amax 10 has scale 0x69 and the same codes", () => {
  const q = quantize(withTensorAmax(B, 10), 1, 32, "nvfp4");
  assertStrictEquals(q.scales[0], 0x69);
  assertStrictEquals(hex(q.packed().slice(0, 8)), "91 b2 c4 d5 e5 e6 f6 f7");
});

Deno.test("nvfp4 zero block gets scale 0 and zero codes", () => {
  const q = quantize(withTensorAmax(new Array(16).fill(0), 10), 1, 32, "nvfp4");
  assertStrictEquals(q.scales[0], 0);
  assertStrictEquals(hex(q.packed().slice(0, 8)), "00 00 00 00 00 00 00 00");
});

Deno.test("nvfp4 block whose scale underflows saturates its codes yet decodes to 0", () => {
  const block = [...new Array(15).fill(1e-6), 2e-6];
  const q = quantize(withTensorAmax(block, 100), 1, 32, "nvfp4");
  assertStrictEquals(q.scales[0], 0);
  assertStrictEquals(hex(q.packed().slice(0, 8)), "77 77 77 77 77 77 77 77");
  assertOk(q.dequantize().slice(0, 16).every((v) => v === 0));
});

Deno.test("nvfp4 all-zero tensor has tensor scale 1", () => {
  const q = quantize(new Float32Array(16), 1, 16, "nvfp4");
  assertStrictEquals(q.tensorScale, 1);
  assertEquals([...q.codes], new Array(16).fill(0));
});

Deno.test("nvfp4-2d shares one scale per 16×16 tile, repeated on its rows", () => {
  const x = new Float32Array(16 * 32);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * (i % 32 < 16 ? 1 : 100);
  x[5 * 32 + 3] = 7; // tile 0's amax, in row 5
  const q = quantize(x, 16, 32, "nvfp4-2d");
  for (let r = 0; r < 16; r++) {
    assertStrictEquals(q.scales[r * 2], q.scales[0]);
    assertStrictEquals(q.scales[r * 2 + 1], q.scales[1]);
  }
  const t = nvfp4TensorScales(q.amax);
  assertStrictEquals(q.scales[0], nvfp4BlockScale(7, t).code);
});

Deno.test("nvfp4 dequantize is fp32(fp32(e2m1·scale)·S_dec) within half a step of the input", () => {
  const x = Float32Array.from({ length: 256 }, (_, i) => Math.fround(Math.sin(i * 0.37) * 3));
  const q = quantize(x, 4, 64, "nvfp4");
  const y = q.dequantize();
  for (let i = 0; i < x.length; i++) {
    const s = 0.5 * 2 * (q.amax / 6); // largest E2M1 step (2) at the coarsest block scale
    assertOk(Math.abs(y[i] - x[i]) <= s, `i=${i} x=${x[i]} y=${y[i]}`);
  }
});
