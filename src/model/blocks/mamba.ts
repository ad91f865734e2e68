/**
 * A Mamba-2 block on the GPU (Dao & Gu 2024, "Transformers are SSMs", §7; the mixer of the
 * Nemotron-H hybrids the NVFP4 paper trained): after the block's pre-norm,
 *
 * ```
 * [z | xBC | dt] = in_proj(h)                      policy-controlled linear layer
 * xBC            = silu(causal_conv1d(xBC))        depthwise, window 4, with bias
 * y              = ssd_scan(x, dt, B, C; A, D)     dt = softplus(dt + dt_bias), A = −exp(A_log)
 * o              = rmsnorm(y · silu(z)) · w        grouped, gated (norm_before_gate = False)
 * out            = out_proj(o)                     policy-controlled linear layer
 * ```
 *
 * The convolution, the scan and the gated norm stay in f32, as in the paper (only linear layers are
 * quantized). The kernels read `z`, `xBC` and `dt` in place from the `in_proj` output and write
 * their gradients in place into its gradient, so no split or concatenation runs.
 *
 * This module owns both the block's allocations and their estimate
 * ({@link mambaBlockBuffers}, {@link mambaSharedBuffers}), which `memory.ts` adds up.
 *
 * @module
 */

import type { Gpu } from "../../gpu/device.ts";
import type { BoundOp } from "../../gpu/op.ts";
import { CausalConvKernel, convScratchElements } from "../../../kernels/conv1d/mod.ts";
import { gatedNormScratchElements, GatedRmsNormKernel } from "../../../kernels/gated_norm/mod.ts";
import { SsdKernel, ssdScratchElements } from "../../../kernels/ssd/mod.ts";
import { mambaDims, type ModelConfig } from "../config.ts";
import { buildLinear, type LayerContext, type LinearOps } from "../linear.ts";
import type { LinearPolicy } from "../policy.ts";

/** The compiled kernels of a model's Mamba-2 blocks. */
export interface MambaKernels {
  readonly conv: CausalConvKernel;
  readonly ssd: SsdKernel;
  readonly norm: GatedRmsNormKernel;
}

/** Compiles the Mamba-2 kernels for a configuration's shape. */
export async function createMambaKernels(gpu: Gpu, cfg: ModelConfig): Promise<MambaKernels> {
  const m = mambaDims(cfg);
  const [conv, ssd, norm] = await Promise.all([
    CausalConvKernel.create(gpu, { channels: m.convChannels, window: m.window }),
    SsdKernel.create(gpu, {
      heads: m.heads,
      headDim: m.headDim,
      dState: m.dState,
      groups: m.groups,
    }),
    GatedRmsNormKernel.create(gpu, { d: m.dInner, groups: m.groups }),
  ]);
  return { conv, ssd, norm };
}

/**
 * f32 element counts of the activations one Mamba-2 block keeps for its backward pass, in
 * allocation order: the `in_proj` output, the convolution's output, the scan's output, the gated
 * norm's output and its per-group `rstd`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mambaBlockBuffers } from "./mamba.ts";
 * const cfg = { pattern: "M", dModel: 256, heads: 4, dFf: 512, seqLen: 8, vocab: 64, mlp: "relu2" } as const;
 * assert.deepEqual(mambaBlockBuffers(cfg, 16), [16 * 1168, 16 * 640, 16 * 512, 16 * 512, 16]);
 * ```
 */
export function mambaBlockBuffers(cfg: ModelConfig, tokens: number): number[] {
  const m = mambaDims(cfg);
  return [
    tokens * m.inProj,
    tokens * m.convChannels,
    tokens * m.dInner,
    tokens * m.dInner,
    tokens * m.groups,
  ];
}

/**
 * f32 element counts of the gradient and scratch buffers all Mamba-2 blocks of a model share, in
 * allocation order (none without `M` blocks).
 */
export function mambaSharedBuffers(cfg: ModelConfig, batch: number): number[] {
  if (!cfg.pattern.includes("M")) return [];
  const m = mambaDims(cfg);
  const tokens = batch * cfg.seqLen;
  const dims = { batch, seq: cfg.seqLen };
  return [
    tokens * m.inProj,
    tokens * m.convChannels,
    tokens * m.dInner,
    tokens * m.dInner,
    convScratchElements({ channels: m.convChannels, window: m.window }, dims),
    ssdScratchElements(
      { heads: m.heads, headDim: m.headDim, dState: m.dState, groups: m.groups },
      dims,
    ),
    gatedNormScratchElements({ d: m.dInner, groups: m.groups }, tokens),
  ];
}

/** The shared gradient and scratch buffers (see {@link mambaSharedBuffers}). */
export interface MambaShared {
  readonly dInProj: GPUBuffer;
  readonly dXbc: GPUBuffer;
  readonly dY: GPUBuffer;
  readonly dO: GPUBuffer;
  readonly convScratch: GPUBuffer;
  readonly ssdScratch: GPUBuffer;
  readonly normScratch: GPUBuffer;
}

/** Allocates the shared buffers through the model's allocator. */
export function allocMambaShared(ctx: LayerContext, cfg: ModelConfig, batch: number): MambaShared {
  const [dInProj, dXbc, dY, dO, convScratch, ssdScratch, normScratch] = mambaSharedBuffers(
    cfg,
    batch,
  ).map((n, i) => ctx.alloc(n, `mamba.${SHARED_LABELS[i]}`));
  return { dInProj, dXbc, dY, dO, convScratch, ssdScratch, normScratch };
}

const SHARED_LABELS = ["grad.in_proj", "grad.xbc", "grad.y", "grad.o", "conv", "ssd", "norm"];

/** A parameter's value and gradient buffers. */
export interface ParamBuffers {
  readonly p: GPUBuffer;
  readonly g: GPUBuffer;
}

/** What one Mamba-2 block reads and writes. */
export interface MambaBlockIo {
  /** The block's pre-normed input `[tokens, d_model]`. */
  readonly h: GPUBuffer;
  /** Where the mixer's output goes `[tokens, d_model]` (the caller adds the residual). */
  readonly out: GPUBuffer;
  /** The gradient of `out` (read) and of `h` (written). */
  readonly dOut: GPUBuffer;
  readonly dH: GPUBuffer;
  /** Parameters by their name after `blocks.<i>.` (`in_proj`, `conv_w`, … see config.ts). */
  readonly params: (name: string) => ParamBuffers;
}

/** One Mamba-2 block's operations, from `h` to `out` and back. */
export interface MambaBlockOps {
  readonly forward: BoundOp[];
  readonly backward: BoundOp[];
  /** The block's two linear layers (for their stochastic-rounding keys). */
  readonly linears: LinearOps[];
}

/**
 * Builds Mamba-2 block `label` (`blocks.<i>`) for `batch` sequences: allocates its activations
 * (as {@link mambaBlockBuffers} counts them) and binds every kernel.
 */
export async function buildMambaBlock(
  ctx: LayerContext,
  k: MambaKernels,
  shared: MambaShared,
  cfg: ModelConfig,
  policy: LinearPolicy,
  batch: number,
  io: MambaBlockIo,
  label: string,
): Promise<MambaBlockOps> {
  const m = mambaDims(cfg);
  const tokens = batch * cfg.seqLen;
  const [inProj, xbc, y, o, rstd] = mambaBlockBuffers(cfg, tokens).map((n, i) =>
    ctx.alloc(n, `${label}.${["in_proj", "xbc", "y", "o", "rstd"][i]}`)
  );
  const p = io.params;
  const seqDims = { batch, seq: cfg.seqLen };
  // Column offsets of the in_proj output rows [z | x B C | dt].
  const conv = { ...seqDims, xOffset: m.dInner, xStride: m.inProj };
  const scan = { ...seqDims, dtOffset: m.dInner + m.convChannels, dtStride: m.inProj };
  const gate = { rows: tokens, zOffset: 0, zStride: m.inProj };
  const ssdParams = { dtBias: p("dt_bias").p, aLog: p("A_log").p, d: p("D").p };

  const inLinear = await buildLinear(ctx, policy, { m: tokens, n: m.inProj, k: cfg.dModel }, {
    x: io.h,
    w: p("in_proj").p,
    y: inProj,
    dy: shared.dInProj,
    dw: p("in_proj").g,
    dx: io.dH,
  }, `${label}.in_proj`);
  const outLinear = await buildLinear(ctx, policy, { m: tokens, n: cfg.dModel, k: m.dInner }, {
    x: o,
    w: p("out_proj").p,
    y: io.out,
    dy: io.dOut,
    dw: p("out_proj").g,
    dx: shared.dO,
  }, `${label}.out_proj`);

  const forward = [
    ...inLinear.forward,
    k.conv.forward({ x: inProj, w: p("conv_w").p, bias: p("conv_b").p, y: xbc }, conv),
    k.ssd.forward({ xbc, dtRaw: inProj, ...ssdParams, y }, scan),
    k.norm.forward({ y, z: inProj, w: p("mixer_norm").p, out: o, rstd }, gate),
    ...outLinear.forward,
  ];
  const backward = [
    ...outLinear.backward,
    k.norm.backward({
      y,
      z: inProj,
      w: p("mixer_norm").p,
      rstd,
      dout: shared.dO,
      dy: shared.dY,
      dz: shared.dInProj,
      dw: p("mixer_norm").g,
      scratch: shared.normScratch,
    }, gate),
    k.ssd.backward({
      xbc,
      dtRaw: inProj,
      ...ssdParams,
      dy: shared.dY,
      dxbc: shared.dXbc,
      dDtRaw: shared.dInProj,
      dDtBias: p("dt_bias").g,
      dALog: p("A_log").g,
      dD: p("D").g,
      scratch: shared.ssdScratch,
    }, scan),
    k.conv.backward({
      x: inProj,
      w: p("conv_w").p,
      bias: p("conv_b").p,
      dy: shared.dXbc,
      dx: shared.dInProj,
      dw: p("conv_w").g,
      dBias: p("conv_b").g,
      scratch: shared.convScratch,
    }, conv),
    ...inLinear.backward,
  ];
  return { forward, backward, linears: [inLinear, outLinear] };
}
