import {
  assertBitsEqual,
  assertCloseRms as assertClose,
  assertOk,
  assertStrictEquals,
  assertThrows,
} from "../assert.ts";
import { normal } from "../tensors.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { RopeKernel } from "../../kernels/rope/mod.ts";
import {
  ropeBackward,
  type RopeDims,
  ropeForward,
  ropeTable,
} from "../../kernels/rope/reference.ts";
import { download, runOps, upload } from "./gpu_run.ts";

const randn = (n: number, seed: number) => {
  const g = normal(seed);
  return Float32Array.from({ length: n }, () => g());
};

const SHAPES: RopeDims[] = [
  { batch: 2, seq: 5, heads: 2, headDim: 8 },
  { batch: 2, seq: 17, heads: 2, headDim: 16 },
  { batch: 1, seq: 33, heads: 3, headDim: 6 },
];

async function runRope(dims: RopeDims, x: Float32Array, direction: "forward" | "backward") {
  const gpu = await getGpu();
  const rope = await RopeKernel.create(gpu, dims);
  const buf = upload(gpu, x);
  const op = direction === "forward"
    ? rope.bindForward({ qkv: buf }, dims)
    : rope.bindBackward({ dqkv: buf }, dims);
  runOps(gpu, [op]);
  const out = await download(gpu, buf, x.length);
  op.destroy();
  buf.destroy();
  return out;
}

const size = (d: RopeDims) => d.batch * d.seq * 3 * d.heads * d.headDim;

Deno.test("RoPE GPU forward and backward match the CPU reference; v is untouched", async () => {
  for (const [n, dims] of SHAPES.entries()) {
    const x = randn(size(dims), 10 + n);
    const v0 = 2 * dims.heads * dims.headDim;
    const rows = dims.batch * dims.seq;
    const width = 3 * dims.heads * dims.headDim;
    for (const direction of ["forward", "backward"] as const) {
      const got = await runRope(dims, x, direction);
      const want = direction === "forward" ? ropeForward(x, dims) : ropeBackward(x, dims);
      assertClose(got, want, 1e-6);
      for (let r = 0; r < rows; r++) {
        const at = r * width + v0;
        assertBitsEqual(got.subarray(at, at + v0 / 2), x.subarray(at, at + v0 / 2), "v");
      }
    }
  }
});

Deno.test("RoPE GPU is deterministic and its backward inverts its forward", async () => {
  const dims = SHAPES[1];
  const x = randn(size(dims), 3);
  const a = await runRope(dims, x, "forward");
  assertBitsEqual(await runRope(dims, x, "forward"), a, "second run");
  assertClose(await runRope(dims, a, "backward"), x, 1e-6);
});

Deno.test("RoPE reference uses the rotate-half pairing (i, i + Dh/2) and θ_i = base^(−2i/Dh)", () => {
  const dims = { batch: 1, seq: 4, heads: 2, headDim: 4 };
  const width = 3 * 8;
  const x = new Float64Array(size(dims));
  // Row t = 3, head 1 of k, feature i = 1: its partner is feature 3; θ_1 = 10000^(−1/2) = 0.01.
  const at = 3 * width + 8 + 4;
  x[at + 1] = 1;
  const y = ropeForward(x, dims);
  assertStrictEquals(y[at + 1], Math.fround(Math.cos(0.03)));
  assertStrictEquals(y[at + 3], Math.fround(Math.sin(0.03)));
  assertStrictEquals(y.filter((v) => v !== 0).length, 2);
  // A different base changes θ_1 to 100^(−1/2).
  assertStrictEquals(ropeForward(x, dims, 100)[at + 3], Math.fround(Math.sin(0.3)));
  assertStrictEquals(ropeTable(4, 4).length, 4 * 2 * 2);
});

Deno.test("RoPE reference: q·k depends only on the position difference", () => {
  // RoFormer §3.2: <R(t)q, R(s)k> = <q, R(s − t)k>; check it for (t, s) = (2, 5) and (6, 9).
  const dims = { batch: 1, seq: 10, heads: 1, headDim: 8 };
  const q = randn(8, 1);
  const k = randn(8, 2);
  const x = new Float64Array(size(dims));
  for (let t = 0; t < 10; t++) {
    x.set(q, t * 24);
    x.set(k, t * 24 + 8);
  }
  const y = ropeForward(x, dims);
  const dot = (t: number, s: number) => {
    let acc = 0;
    for (let i = 0; i < 8; i++) acc += y[t * 24 + i] * y[s * 24 + 8 + i];
    return acc;
  };
  assertOk(Math.abs(dot(2, 5) - dot(6, 9)) < 1e-6, `${dot(2, 5)} vs ${dot(6, 9)}`);
  assertOk(Math.abs(dot(2, 5) - dot(2, 6)) > 1e-3, "the dot product does depend on s − t");
});

Deno.test("RoPE reference backward equals finite differences of the forward", () => {
  const dims = { batch: 2, seq: 3, heads: 2, headDim: 4 };
  const n = size(dims);
  const x = Float64Array.from(randn(n, 5));
  const g = Float64Array.from(randn(n, 6));
  const loss = (v: Float64Array) => ropeForward(v, dims).reduce((s, y, i) => s + y * g[i], 0);
  const grad = ropeBackward(g, dims);
  const h = 1e-5;
  for (let i = 0; i < n; i++) {
    const plus = Float64Array.from(x);
    const minus = Float64Array.from(x);
    plus[i] += h;
    minus[i] -= h;
    const fd = (loss(plus) - loss(minus)) / (2 * h);
    assertOk(Math.abs(fd - grad[i]) < 1e-8, `[${i}] fd ${fd} vs ${grad[i]}`);
  }
});

Deno.test("RoPE rejects bad configurations and short buffers", async () => {
  const gpu = await getGpu();
  await RopeKernel.create(gpu, { heads: 1, headDim: 3 }).then(
    () => assertOk(false, "odd headDim accepted"),
    (e) => assertOk(e instanceof RangeError),
  );
  const rope = await RopeKernel.create(gpu, { heads: 1, headDim: 4 });
  const small = upload(gpu, new Float32Array(4));
  assertThrows(() => rope.bindForward({ qkv: small }, { batch: 1, seq: 2 }), RangeError);
  assertThrows(() => rope.bindForward({ qkv: small }, { batch: 0, seq: 2 }), RangeError);
  small.destroy();
});
