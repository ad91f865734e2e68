/**
 * A linear layer Y = X·Wᵀ under a {@link LinearPolicy}: each GEMM operand is fake-quantized
 * (quantize → dequantize, bit-exact to `src/formats/`) in the format and orientation the policy
 * gives, then multiplied by the f32 GEMM with f32 accumulation (NUMERICS.md §5.1):
 *
 * - Fprop `Y = Q(X)·Q(W)ᵀ`, blocks along K;
 * - Dgrad `dX = Q(dY)·Q(W)`, blocks along N: W's columnwise copy (quantized from the transposed
 *   high-precision W) unless quantization commutes with transposition (elementwise formats,
 *   16×16 tiles);
 * - Wgrad `dW = Q(dYᵀ)·Q(Xᵀ)`, blocks (and the RHT) along the token dimension M.
 *
 * Rowwise and columnwise copies are each quantized from the high-precision tensor.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { BoundOp } from "../gpu/op.ts";
import { streamKey } from "../formats/rng.ts";
import { resolveFormat } from "../formats/spec.ts";
import type { GemmKernel } from "../../kernels/gemm.ts";
import type { ElementwiseKernels } from "../../kernels/elementwise.ts";
import {
  type BoundQuantize,
  kernelConfig,
  QuantizeKernel,
  quantizeSizes,
} from "../../kernels/quantize.ts";
import { isIdentity, layoutFree, type LinearPolicy, type OperandPolicy } from "./policy.ts";

/** What a model needs to build its layers: kernels, an allocator and a tensor-id counter. */
export interface LayerContext {
  readonly gpu: Gpu;
  readonly elementwise: ElementwiseKernels;
  readonly gemm: { readonly nt: GemmKernel; readonly nn: GemmKernel; readonly tn: GemmKernel };
  /** A zeroed f32 storage buffer of at least `n` elements (padded for the quantizers). */
  alloc(n: number, label: string): GPUBuffer;
  /** A fresh tensor id for a stochastic-rounding stream. */
  nextTensorId(): number;
}

/** The buffers of a linear layer; `dx` is omitted where the input needs no gradient. */
export interface LinearBuffers {
  readonly x: GPUBuffer;
  readonly w: GPUBuffer;
  readonly y: GPUBuffer;
  readonly dy: GPUBuffer;
  readonly dw: GPUBuffer;
  readonly dx?: GPUBuffer;
}

/** A linear layer's recorded operations. */
export interface LinearOps {
  readonly forward: BoundOp[];
  readonly backward: BoundOp[];
  /** Sets the stochastic-rounding keys of this step (call before submitting the step). */
  setStep(seed: number, step: number): void;
  destroy(): void;
}

/** A quantized copy of a `[rows, cols]` tensor (blocks along cols); `src` itself if identity. */
interface QuantizedOperand {
  readonly out: GPUBuffer;
  readonly ops: BoundOp[];
  readonly keyed: { bound: BoundQuantize; tensorId: number }[];
}

async function quantized(
  ctx: LayerContext,
  p: OperandPolicy,
  src: GPUBuffer,
  rows: number,
  cols: number,
  label: string,
): Promise<QuantizedOperand> {
  if (isIdentity(p)) return { out: src, ops: [], keyed: [] };
  const opts = { rounding: p.rounding ?? "rne", ...(p.rht ? { rht: p.rht } : {}) };
  const cfg = kernelConfig(resolveFormat(p.format), opts, "fake", cols);
  const kernel = await QuantizeKernel.create(ctx.gpu, cfg);
  const sizes = quantizeSizes(cfg, rows, cols);
  const out = ctx.alloc(rows * cols, `${label}.q`);
  const stats = ctx.alloc(2, `${label}.stats`);
  const tileAmax = sizes.tileBytes ? ctx.alloc(sizes.tileBytes / 4, `${label}.tiles`) : undefined;
  const bound = kernel.bind(rows, cols, { x: src, stats, out, ...(tileAmax ? { tileAmax } : {}) });
  const keyed = cfg.stochastic ? [{ bound, tensorId: ctx.nextTensorId() }] : [];
  return { out, ops: [bound], keyed };
}

/** A columnwise copy: transpose `[rows, cols]` into `[cols, rows]`, then quantize along rows. */
async function transposedQuantized(
  ctx: LayerContext,
  p: OperandPolicy,
  src: GPUBuffer,
  rows: number,
  cols: number,
  label: string,
): Promise<QuantizedOperand> {
  const t = ctx.alloc(rows * cols, `${label}.T`);
  const transpose = ctx.elementwise.transpose({ x: src, y: t }, { rows, cols });
  const q = await quantized(ctx, { ...p }, t, cols, rows, `${label}.T`);
  return { out: q.out, ops: [transpose, ...q.ops], keyed: q.keyed };
}

/**
 * Builds the forward and backward operations of a linear layer with `m` tokens, `k` inputs and
 * `n` outputs.
 */
export async function buildLinear(
  ctx: LayerContext,
  policy: LinearPolicy,
  dims: { m: number; n: number; k: number },
  bufs: LinearBuffers,
  label: string,
): Promise<LinearOps> {
  const { m, n, k } = dims;
  const { gemm } = ctx;
  // Fprop: Y[m,n] = Q(X)[m,k] · Q(W)[n,k]ᵀ.
  const xq = await quantized(ctx, policy.fprop.x, bufs.x, m, k, `${label}.x`);
  const wq = await quantized(ctx, policy.fprop.w, bufs.w, n, k, `${label}.w`);
  const forward = [...xq.ops, ...wq.ops, gemm.nt.bind({ a: xq.out, b: wq.out, c: bufs.y }, dims)];

  const backward: BoundOp[] = [];
  const keyed = [...xq.keyed, ...wq.keyed];
  // Dgrad: dX[m,k] = Q(dY)[m,n] · Q(W)[n,k], the dot product along n.
  if (bufs.dx) {
    const dyq = await quantized(ctx, policy.dgrad.dy, bufs.dy, m, n, `${label}.dy`);
    backward.push(...dyq.ops);
    keyed.push(...dyq.keyed);
    const wp = policy.dgrad.w;
    if (layoutFree(wp)) {
      const same = JSON.stringify(wp) === JSON.stringify(policy.fprop.w);
      const w = same ? wq : await quantized(ctx, wp, bufs.w, n, k, `${label}.wd`);
      backward.push(...(same ? [] : w.ops));
      backward.push(gemm.nn.bind({ a: dyq.out, b: w.out, c: bufs.dx }, { m, n: k, k: n }));
    } else {
      const wT = await transposedQuantized(ctx, wp, bufs.w, n, k, `${label}.wd`);
      backward.push(...wT.ops);
      keyed.push(...wT.keyed);
      backward.push(gemm.nt.bind({ a: dyq.out, b: wT.out, c: bufs.dx }, { m, n: k, k: n }));
    }
  }
  // Wgrad: dW[n,k] = Q(dYᵀ)[n,m] · Q(Xᵀ)[k,m]ᵀ, the dot product along the tokens m.
  const { dy: dyp, x: xp } = policy.wgrad;
  if (layoutFree(dyp) && layoutFree(xp)) {
    const dyq = await quantized(ctx, dyp, bufs.dy, m, n, `${label}.dyw`);
    const xw = JSON.stringify(xp) === JSON.stringify(policy.fprop.x)
      ? { ...xq, ops: [] }
      : await quantized(ctx, xp, bufs.x, m, k, `${label}.xw`);
    backward.push(...dyq.ops, ...xw.ops);
    backward.push(gemm.tn.bind({ a: dyq.out, b: xw.out, c: bufs.dw }, { m: n, n: k, k: m }));
  } else {
    const dyT = await transposedQuantized(ctx, dyp, bufs.dy, m, n, `${label}.dyw`);
    const xT = await transposedQuantized(ctx, xp, bufs.x, m, k, `${label}.xw`);
    keyed.push(...dyT.keyed, ...xT.keyed);
    backward.push(...dyT.ops, ...xT.ops);
    backward.push(gemm.nt.bind({ a: dyT.out, b: xT.out, c: bufs.dw }, { m: n, n: k, k: m }));
  }
  return {
    forward,
    backward,
    setStep(seed, step) {
      for (const { bound, tensorId } of keyed) bound.setParams(streamKey(seed, tensorId, step));
    },
    destroy() {
      for (const o of [...forward, ...backward]) o.destroy();
    },
  };
}
