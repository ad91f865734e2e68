import { assertBitsEqual } from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { ElementwiseKernels } from "../../kernels/elementwise/mod.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { DISTRIBUTIONS, uniform } from "../tensors.ts";
import { roundBf16 } from "../../src/formats/bf16.ts";
import { f32FromBits } from "../../src/formats/fp32.ts";

Deno.test("ElementwiseKernels.add adds in place, exactly", async () => {
  const gpu = await getGpu();
  const k = await ElementwiseKernels.create(gpu);
  const a = DISTRIBUTIONS.normal(1000 + 512 - 1000 % 512, 1).subarray(0, 1003);
  const b = DISTRIBUTIONS.normal(1024, 2).subarray(0, 1003);
  const x = upload(gpu, a);
  const y = upload(gpu, b);
  runOps(gpu, [k.add({ x, y }, { n: 1003 })]);
  assertBitsEqual(await download(gpu, y, 1003), Float32Array.from(a, (v, i) => v + b[i]));
});

Deno.test("ElementwiseKernels.fill sets a value", async () => {
  const gpu = await getGpu();
  const k = await ElementwiseKernels.create(gpu);
  const y = upload(gpu, new Float32Array(300).fill(7));
  runOps(gpu, [k.fill({ y }, { n: 299, value: -0.5 })]);
  const got = await download(gpu, y, 300);
  const want = new Float32Array(300).fill(-0.5);
  want[299] = 7;
  assertBitsEqual(got, want);
});

Deno.test("ElementwiseKernels.transpose handles shapes off the 16×16 tile", async () => {
  const gpu = await getGpu();
  const k = await ElementwiseKernels.create(gpu);
  for (const [rows, cols] of [[1, 1], [3, 37], [40, 17], [64, 48]]) {
    const a = DISTRIBUTIONS.normal(Math.ceil((rows * cols) / 512) * 512, rows).subarray(
      0,
      rows * cols,
    );
    const x = upload(gpu, a);
    const y = zeros(gpu, rows * cols);
    runOps(gpu, [k.transpose({ x, y }, { rows, cols })]);
    const want = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) want[c * rows + r] = a[r * cols + c];
    }
    assertBitsEqual(await download(gpu, y, rows * cols), want, `${rows}×${cols}`);
  }
});

Deno.test("ElementwiseKernels.roundBf16 equals the CPU roundBf16 bit for bit (ties, subnormals, overflow)", async () => {
  const gpu = await getGpu();
  const k = await ElementwiseKernels.create(gpu);
  const u = uniform(14);
  const edges = [
    0,
    -0,
    1 + 2 ** -8, // a tie to the even neighbour (down)
    1 + 3 * 2 ** -8, // a tie to the even neighbour (up)
    -(1 + 2 ** -8 + 2 ** -20), // just above the tie
    2 ** -126, // the smallest normal
    f32FromBits(0x807fffff), // a subnormal: flushed to -0
    f32FromBits(0x7f7f7fff), // below the overflow tie: BF16's largest finite value
    f32FromBits(0x7f7f8000), // the overflow tie: +Inf
    f32FromBits(0xff7fffff), // -FLT_MAX: -Inf
  ];
  // Random bit patterns across the whole finite range, then the edges.
  const n = 4099;
  const a = Float32Array.from({ length: n }, () => {
    const bits = Math.floor(u() * 2 ** 32);
    return (bits & 0x7f800000) === 0x7f800000 ? 1 : f32FromBits(bits);
  });
  a.set(edges);
  const y = upload(gpu, a);
  runOps(gpu, [k.roundBf16({ y }, { n })]);
  assertBitsEqual(await download(gpu, y, n), Float32Array.from(a, roundBf16));
});
