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
 * Where both operands of a GEMM are NVFP4 and the context has a packed NVFP4 GEMM
 * (`kernels/gemm_nvfp4/mod.ts`), that GEMM runs on the packed codes and scales instead: integer block
 * dot products with `dot4I8Packed`, f32 accumulation across blocks — the same values up to f32
 * rounding order, 1.7× the f32 GEMM's throughput on an H100. Its B operand is always a [n, k]
 * copy with blocks along k, so Dgrad quantizes a transposed weight even for 16×16 tiles.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { BoundOp } from "../gpu/op.ts";
import { streamKey } from "../formats/rng.ts";
import { resolveFormat } from "../formats/spec.ts";
import type { GemmKernel } from "../../kernels/gemm/mod.ts";
import type { ElementwiseKernels } from "../../kernels/elementwise/mod.ts";
import {
  type BoundQuantize,
  kernelConfig,
  QuantizeKernel,
  quantizeSizes,
} from "../../kernels/quantize/mod.ts";
import type { PackedNvfp4GemmKernel } from "../../kernels/gemm_nvfp4/mod.ts";
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
  /** Runs GEMMs whose operands are both NVFP4 on packed codes (see the module comment). */
  readonly packedGemm?: PackedNvfp4GemmKernel;
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
 * f32 elements of the buffers a packed NVFP4 copy of a `[rows, cols]` tensor allocates, in
 * order: codes, scale bytes, stats, and the tile amaxes of 16×16 tiles (memory.ts adds them up).
 */
export function packedOperandElements(p: OperandPolicy, rows: number, cols: number): number[] {
  const sizes = quantizeSizes(packedConfig(p, cols), rows, cols);
  const tiles = sizes.tileBytes ? [sizes.tileBytes / 4] : [];
  return [sizes.codesBytes / 4, sizes.scalesBytes / 4, 2, ...tiles];
}

/** The packed quantizer's configuration of an operand with `cols` columns. */
function packedConfig(p: OperandPolicy, cols: number) {
  const opts = { rounding: p.rounding ?? "rne", ...(p.rht ? { rht: p.rht } : {}) };
  return kernelConfig(resolveFormat(p.format), opts, "packed", cols);
}

/**
 * Whether a GEMM of operands `a`, `b` over `dims` runs on packed NVFP4 codes: both NVFP4, every
 * dimension a multiple of 16, and a packed GEMM `available`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runsPackedGemm } from "./linear.ts";
 * const x = { format: "nvfp4" } as const;
 * assert.equal(runsPackedGemm(true, x, { format: "nvfp4-2d" }, [64, 32, 16]), true);
 * assert.equal(runsPackedGemm(true, x, { format: "bf16" }, [64, 32, 16]), false);
 * assert.equal(runsPackedGemm(false, x, x, [64, 32, 16]), false);
 * ```
 */
export function runsPackedGemm(
  available: boolean,
  a: OperandPolicy,
  b: OperandPolicy,
  dims: readonly number[],
): boolean {
  const nvfp4 = (p: OperandPolicy) => resolveFormat(p.format).kind === "nvfp4";
  return available && nvfp4(a) && nvfp4(b) && dims.every((d) => d % 16 === 0);
}

/** A packed NVFP4 copy of a `[rows, cols]` tensor (blocks along cols), optionally transposed first. */
interface PackedOperand {
  readonly codes: GPUBuffer;
  readonly scales: GPUBuffer;
  readonly stats: GPUBuffer;
  readonly ops: BoundOp[];
  readonly keyed: { bound: BoundQuantize; tensorId: number }[];
}

async function packed(
  ctx: LayerContext,
  p: OperandPolicy,
  src: GPUBuffer,
  rows: number,
  cols: number,
  label: string,
  transpose = false,
): Promise<PackedOperand> {
  const pre: BoundOp[] = [];
  if (transpose) {
    const t = ctx.alloc(rows * cols, `${label}.T`);
    pre.push(ctx.elementwise.transpose({ x: src, y: t }, { rows, cols }));
    [src, rows, cols] = [t, cols, rows];
  }
  const kernel = await QuantizeKernel.create(ctx.gpu, packedConfig(p, cols));
  const [codes, scales, stats, tileAmax] = packedOperandElements(p, rows, cols).map((n, i) =>
    ctx.alloc(n, `${label}.${["codes", "scales", "stats", "tiles"][i]}`)
  );
  const bound = kernel.bind(rows, cols, { x: src, stats, codes, scales, tileAmax });
  const keyed = kernel.config.stochastic ? [{ bound, tensorId: ctx.nextTensorId() }] : [];
  return { codes, scales, stats, ops: [...pre, bound], keyed };
}

/**
 * Whether this runtime's WGSL has `dot4I8Packed` (the language feature
 * `packed_4x8_integer_dot_product`), which the packed NVFP4 GEMM needs.
 *
 * @example
 * ```ts
 * import { packedGemmAvailable } from "./linear.ts";
 * console.log(packedGemmAvailable()); // true on Deno ≥ 2.6.4
 * ```
 */
export function packedGemmAvailable(): boolean {
  // Deno's GPU type lacks the standard `wgslLanguageFeatures` set, though the runtime has it.
  const gpu = navigator.gpu as unknown as { wgslLanguageFeatures?: ReadonlySet<string> };
  return gpu?.wgslLanguageFeatures?.has("packed_4x8_integer_dot_product") ?? false;
}

/** {@link runsPackedGemm} in a context. */
function runsPacked(ctx: LayerContext, a: OperandPolicy, b: OperandPolicy, dims: number[]) {
  return runsPackedGemm(ctx.packedGemm !== undefined, a, b, dims);
}

/** The packed GEMM C[m, n] = A[m, k]·B[n, k]ᵀ of two packed operands. */
function packedGemm(
  ctx: LayerContext,
  a: PackedOperand,
  b: PackedOperand,
  c: GPUBuffer,
  dims: { m: number; n: number; k: number },
): BoundOp {
  return ctx.packedGemm!.bind({
    aCodes: a.codes,
    aScales: a.scales,
    aStats: a.stats,
    bCodes: b.codes,
    bScales: b.scales,
    bStats: b.stats,
    c,
  }, dims);
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
  const backward: BoundOp[] = [];
  const keyed: { bound: BoundQuantize; tensorId: number }[] = [];
  const keep = <T extends { keyed: typeof keyed }>(q: T): T => {
    keyed.push(...q.keyed);
    return q;
  };
  // Fprop: Y[m,n] = Q(X)[m,k] · Q(W)[n,k]ᵀ.
  const { x: fx, w: fw } = policy.fprop;
  let forward: BoundOp[];
  let xq: QuantizedOperand | undefined;
  let wq: QuantizedOperand | undefined;
  if (runsPacked(ctx, fx, fw, [m, n, k])) {
    const xp = keep(await packed(ctx, fx, bufs.x, m, k, `${label}.x`));
    const wp = keep(await packed(ctx, fw, bufs.w, n, k, `${label}.w`));
    forward = [...xp.ops, ...wp.ops, packedGemm(ctx, xp, wp, bufs.y, dims)];
  } else {
    xq = keep(await quantized(ctx, fx, bufs.x, m, k, `${label}.x`));
    wq = keep(await quantized(ctx, fw, bufs.w, n, k, `${label}.w`));
    forward = [...xq.ops, ...wq.ops, gemm.nt.bind({ a: xq.out, b: wq.out, c: bufs.y }, dims)];
  }

  // Dgrad: dX[m,k] = Q(dY)[m,n] · Q(W)[n,k], the dot product along n.
  if (bufs.dx && runsPacked(ctx, policy.dgrad.dy, policy.dgrad.w, [m, n, k])) {
    const dyp = keep(await packed(ctx, policy.dgrad.dy, bufs.dy, m, n, `${label}.dy`));
    const wT = keep(await packed(ctx, policy.dgrad.w, bufs.w, n, k, `${label}.wd`, true));
    backward.push(...dyp.ops, ...wT.ops, packedGemm(ctx, dyp, wT, bufs.dx, { m, n: k, k: n }));
  } else if (bufs.dx) {
    const dyq = await quantized(ctx, policy.dgrad.dy, bufs.dy, m, n, `${label}.dy`);
    backward.push(...dyq.ops);
    keyed.push(...dyq.keyed);
    const wp = policy.dgrad.w;
    if (layoutFree(wp)) {
      const same = wq !== undefined && JSON.stringify(wp) === JSON.stringify(policy.fprop.w);
      const w = same ? wq! : await quantized(ctx, wp, bufs.w, n, k, `${label}.wd`);
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
  const asIs = layoutFree(dyp) && layoutFree(xp);
  if (!asIs && runsPacked(ctx, dyp, xp, [m, n, k])) {
    const dyT = keep(await packed(ctx, dyp, bufs.dy, m, n, `${label}.dyw`, true));
    const xT = keep(await packed(ctx, xp, bufs.x, m, k, `${label}.xw`, true));
    backward.push(...dyT.ops, ...xT.ops, packedGemm(ctx, dyT, xT, bufs.dw, { m: n, n: k, k: m }));
  } else if (asIs) {
    const dyq = await quantized(ctx, dyp, bufs.dy, m, n, `${label}.dyw`);
    const xw = xq !== undefined && JSON.stringify(xp) === JSON.stringify(policy.fprop.x)
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
