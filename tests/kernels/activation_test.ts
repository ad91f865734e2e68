import {
  assertBitsEqual,
  assertCloseMax as assertClose,
  assertOk,
  assertRejects,
} from "../assert.ts";
import { getGpu } from "../../src/gpu/device.ts";
import { ActivationKernel, type ActivationKind } from "../../kernels/activation/mod.ts";
import {
  activationBackward,
  activationForward,
  activationInputCols,
} from "../../kernels/activation/reference.ts";
import { normal } from "../tensors.ts";
import { download, runOps, upload, zeros } from "./gpu_run.ts";
import { numericGrad } from "../gradcheck.ts";

const KINDS: ActivationKind[] = ["relu2", "gelu", "swiglu"];

/** Edge values (zero, tiny, the clamped exponent range, large) then scaled normals. */
function inputs(n: number, seed: number): Float32Array {
  const edges = [0, 1e-3, -1e-3, 0.5, -0.5, 3, -3, 10, -10, 30, -30, 100, -100, 1e4, -1e4];
  const g = normal(seed);
  return Float32Array.from({ length: n }, (_, i) => i < edges.length ? edges[i] : 3 * g());
}

async function run(
  kind: ActivationKind,
  rows: number,
  cols: number,
  x: Float32Array,
  dy: Float32Array,
) {
  const gpu = await getGpu();
  const k = await ActivationKernel.create(gpu, { kind });
  const inCols = activationInputCols(kind, cols);
  const io = {
    x: upload(gpu, x),
    y: zeros(gpu, rows * cols),
    dy: upload(gpu, dy),
    dx: zeros(gpu, rows * inCols),
  };
  const ops = [k.forward(io, { rows, cols }), k.backward(io, { rows, cols })];
  runOps(gpu, ops);
  const out = {
    y: await download(gpu, io.y, rows * cols),
    dx: await download(gpu, io.dx, rows * inCols),
  };
  ops.forEach((o) => o.destroy());
  Object.values(io).forEach((b) => b.destroy());
  return out;
}

// vec4 (cols % 4 == 0) and scalar shapes; for squared ReLU and GELU, 3×4·k+2 with an even row
// count still runs as vec4 over the flat tensor.
const SHAPES: [number, number][] = [[1, 1], [3, 5], [2, 6], [4, 16], [7, 300]];

for (const kind of KINDS) {
  Deno.test(`ActivationKernel(${kind}) forward and backward match the CPU reference`, async (t) => {
    for (const [rows, cols] of SHAPES) {
      await t.step(`${rows}×${cols}`, async () => {
        const x = inputs(rows * activationInputCols(kind, cols), rows * cols);
        const dy = inputs(rows * cols, rows * cols + 1).reverse();
        const got = await run(kind, rows, cols, x, dy);
        const y = activationForward(kind, x, rows, cols);
        const dx = activationBackward(kind, x, dy, rows, cols);
        if (kind === "relu2") {
          // Products of two FP32 values and a factor 2: single roundings, exact on any adapter.
          assertBitsEqual(got.y, Float32Array.from(y), "y");
          assertBitsEqual(got.dx, Float32Array.from(dx), "dx");
        } else {
          assertClose(got.y, y, "y");
          assertClose(got.dx, dx, "dx");
        }
      });
    }
  });

  Deno.test(`ActivationKernel(${kind}) is deterministic`, async () => {
    const [rows, cols] = [5, 64];
    const x = inputs(rows * activationInputCols(kind, cols), 1);
    const dy = inputs(rows * cols, 2);
    const a = await run(kind, rows, cols, x, dy);
    const b = await run(kind, rows, cols, x, dy);
    assertBitsEqual(a.y, b.y, "y");
    assertBitsEqual(a.dx, b.dx, "dx");
  });

  Deno.test(`activationBackward(${kind}) equals central finite differences`, () => {
    const [rows, cols, h] = [2, 3, 1e-6];
    const x = Float64Array.from(
      inputs(rows * activationInputCols(kind, cols), 3).map((v, i) =>
        // away from relu's kink and the huge edge values, where differences are meaningless
        i < 15 ? 0.3 * (i - 7) + 0.05 : v
      ),
    );
    const dy = Float64Array.from(inputs(rows * cols, 4).map((v, i) => i < 15 ? 1 - 0.1 * i : v));
    const loss = () => activationForward(kind, x, rows, cols).reduce((s, v, i) => s + v * dy[i], 0);
    const dx = activationBackward(kind, x, dy, rows, cols);
    numericGrad(x, loss, h).forEach((fd, i) => {
      assertOk(Math.abs(fd - dx[i]) <= 1e-7 * (1 + Math.abs(dx[i])), `dx[${i}]: ${dx[i]} vs ${fd}`);
    });
  });
}

Deno.test("ActivationKernel rejects unknown kinds and bad shapes", async () => {
  const gpu = await getGpu();
  await assertRejects(
    () => ActivationKernel.create(gpu, { kind: "tanh" as ActivationKind }),
    RangeError,
  );
  const k = await ActivationKernel.create(gpu, { kind: "gelu" });
  const b = zeros(gpu, 4);
  assertOk((() => {
    try {
      k.forward({ x: b, y: b }, { rows: 0, cols: 4 });
      return false;
    } catch (e) {
      return e instanceof RangeError;
    }
  })());
  b.destroy();
});
