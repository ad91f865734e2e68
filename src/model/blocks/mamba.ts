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
 * The convolution, the scan and the gated norm compute in f32, as in the paper (only linear layers
 * are quantized), and store f32, or BF16 under the policy's `compute: bf16`. The kernels read `z`, `xBC` and `dt` in place from the `in_proj` output and write
 * their gradients in place into its gradient, so no split or concatenation runs.
 *
 * @module
 */

import type { Gpu } from "../../gpu/device.ts";
import { CausalConvKernel } from "../../../kernels/conv1d/mod.ts";
import { convScratchElements } from "../../../kernels/conv1d/reference.ts";
import { GatedRmsNormKernel } from "../../../kernels/gated_norm/mod.ts";
import { gatedNormScratchElements } from "../../../kernels/gated_norm/reference.ts";
import { SsdKernel } from "../../../kernels/ssd/mod.ts";
import { ssdScratchElements } from "../../../kernels/ssd/reference.ts";
import { mambaDims, type ModelConfig } from "../config.ts";
import {
  type GemmUnits,
  type LayerContext,
  planLinear,
  type PlannedBuffer,
  storeOutputs,
} from "../linear.ts";
import { type LayerPolicies, policyOfLayer } from "../policy.ts";
import {
  allocAll,
  type BlockIo,
  type BlockOps,
  type BlockPlan,
  buildBlockLinears,
} from "./block.ts";

/** The compiled kernels of a model's Mamba-2 blocks. */
export interface MambaKernels {
  /** The causal depthwise convolution with its SiLU. */
  readonly conv: CausalConvKernel;
  /** The SSD scan. */
  readonly ssd: SsdKernel;
  /** The grouped gated RMSNorm. */
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
 * A Mamba-2 block's plan: activations `inProj` (`in_proj`'s output `[z | xBC | dt]`), `xbc` (the
 * convolution's output), `y` (the scan's output), `o` (the gated norm's output) and `rstd` (per
 * token and group), and the linear layers `inProj` and `outProj`.
 */
export type MambaPlan = BlockPlan<"inProj" | "xbc" | "y" | "o" | "rstd", "inProj" | "outProj">;

/**
 * Plans Mamba-2 block `label` (`blocks.<i>`) for `batch` sequences; `units`: the GEMM kernels
 * the model has besides the f32 GEMM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planMamba } from "./mamba.ts";
 * import { uniformLinear } from "../policy.ts";
 * import { F32_GEMM_ONLY } from "../linear.ts";
 * const cfg = { pattern: "M", dModel: 256, heads: 4, dFf: 512, seqLen: 8, vocab: 64, mlp: "relu2" } as const;
 * const plan = planMamba(cfg, uniformLinear("fp32"), 2, F32_GEMM_ONLY, "blocks.0");
 * assert.deepEqual(
 *   Object.values(plan.activations).map((b) => b.elements),
 *   [16 * 1168, 16 * 640, 16 * 512, 16 * 512, 16],
 * );
 * ```
 */
export function planMamba(
  cfg: ModelConfig,
  policy: LayerPolicies,
  batch: number,
  units: GemmUnits,
  label: string,
): MambaPlan {
  const m = mambaDims(cfg);
  const tokens = batch * cfg.seqLen;
  const buf = (name: string, width: number) => ({
    label: `${label}.${name}`,
    elements: tokens * width,
  });
  return {
    activations: {
      inProj: buf("in_proj.y", m.inProj),
      xbc: buf("xbc", m.convChannels),
      y: buf("y", m.dInner),
      o: buf("o", m.dInner),
      rstd: buf("mixer_norm.rstd", m.groups),
    },
    linears: {
      inProj: planLinear(
        policyOfLayer(policy, `${label}.in_proj`),
        { m: tokens, n: m.inProj, k: cfg.dModel },
        units,
        `${label}.in_proj`,
      ),
      outProj: planLinear(
        policyOfLayer(policy, `${label}.out_proj`),
        { m: tokens, n: cfg.dModel, k: m.dInner },
        units,
        `${label}.out_proj`,
      ),
    },
  };
}

/** The gradient and scratch buffers all Mamba-2 blocks of a model share. */
export type MambaShared<T> = Readonly<
  Record<"dInProj" | "dXbc" | "dY" | "dO" | "convScratch" | "ssdScratch" | "normScratch", T>
>;

/** Plans the shared buffers (see {@link MambaShared}). */
export function planMambaShared(cfg: ModelConfig, batch: number): MambaShared<PlannedBuffer> {
  const m = mambaDims(cfg);
  const tokens = batch * cfg.seqLen;
  const dims = { batch, seq: cfg.seqLen };
  const buf = (name: string, elements: number) => ({ label: `mamba.${name}`, elements });
  return {
    dInProj: buf("grad.in_proj", tokens * m.inProj),
    dXbc: buf("grad.xbc", tokens * m.convChannels),
    dY: buf("grad.y", tokens * m.dInner),
    dO: buf("grad.o", tokens * m.dInner),
    convScratch: buf(
      "conv",
      convScratchElements({ channels: m.convChannels, window: m.window }, dims),
    ),
    ssdScratch: buf(
      "ssd",
      ssdScratchElements(
        { heads: m.heads, headDim: m.headDim, dState: m.dState, groups: m.groups },
        dims,
      ),
    ),
    normScratch: buf("norm", gatedNormScratchElements({ d: m.dInner, groups: m.groups }, tokens)),
  };
}

/** Builds a planned Mamba-2 block: allocates its activations and binds every kernel. */
export async function buildMambaBlock(
  ctx: LayerContext,
  k: MambaKernels,
  shared: MambaShared<GPUBuffer>,
  cfg: ModelConfig,
  batch: number,
  plan: MambaPlan,
  io: BlockIo,
): Promise<BlockOps> {
  const m = mambaDims(cfg);
  const tokens = batch * cfg.seqLen;
  const { inProj, xbc, y, o, rstd } = allocAll(ctx, plan.activations);
  const p = io.params;
  const seqDims = { batch, seq: cfg.seqLen };
  // Column offsets of the in_proj output rows [z | x B C | dt].
  const conv = { ...seqDims, xOffset: m.dInner, xStride: m.inProj };
  const scan = { ...seqDims, dtOffset: m.dInner + m.convChannels, dtStride: m.inProj };
  const gate = { rows: tokens, zOffset: 0, zStride: m.inProj };
  const ssdParams = { dtBias: p("dt_bias").p, aLog: p("A_log").p, d: p("D").p };

  const [inLinear, outLinear] = await buildBlockLinears(
    ctx,
    io,
    { plan: plan.linears.inProj, param: "in_proj", buffers: { y: inProj, dy: shared.dInProj } },
    { plan: plan.linears.outProj, param: "out_proj", buffers: { x: o, dx: shared.dO } },
  );

  // Under compute bf16 each op's output is stored as BF16 (the norm's rstd stays FP32).
  const store = (...ys: GPUBuffer[]) => storeOutputs(ctx, ...ys);
  const forward = [
    ...inLinear.forward,
    k.conv.forward({ x: inProj, w: p("conv_w").p, bias: p("conv_b").p, y: xbc }, conv),
    ...store(xbc),
    k.ssd.forward({ xbc, dtRaw: inProj, ...ssdParams, y }, scan),
    ...store(y),
    k.norm.forward({ y, z: inProj, w: p("mixer_norm").p, out: o, rstd }, gate),
    ...store(o),
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
    ...store(shared.dY),
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
    ...store(shared.dXbc),
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
    // The norm, the scan and the convolution each write their own columns of dInProj.
    ...store(shared.dInProj),
    ...inLinear.backward,
  ];
  return { forward, backward, linears: [inLinear, outLinear] };
}
