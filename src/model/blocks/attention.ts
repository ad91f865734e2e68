/**
 * A causal self-attention block on the GPU: after the block's pre-norm,
 *
 * ```
 * qkv = qkv(h)                        policy-controlled linear layer, [tokens, 3·d_model]
 * qkv = rope(qkv)                     rotary embedding of q and k, in place
 * att = attention(qkv)                causal softmax attention per head, saving the row log-sum-exp
 * out = proj(att)                     policy-controlled linear layer
 * ```
 *
 * RoPE and attention compute in f32 (`kernels/rope/`, `kernels/attention/`) and store f32, or BF16
 * under the policy's `compute: bf16`; only the two linear layers are quantized. The backward pass runs in reverse: proj, attention, RoPE (in place on the
 * gradient of qkv), qkv.
 *
 * @module
 */

import type { Gpu } from "../../gpu/device.ts";
import { AttentionKernel } from "../../../kernels/attention/mod.ts";
import { RopeKernel } from "../../../kernels/rope/mod.ts";
import type { ModelConfig } from "../config.ts";
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

/** The compiled kernels of a model's attention blocks. */
export interface AttentionKernels {
  /** Causal softmax attention, forward and backward. */
  readonly attention: AttentionKernel;
  /** The rotary embedding of q and k, forward and backward. */
  readonly rope: RopeKernel;
}

/** Compiles the attention kernels for a configuration's heads. */
export async function createAttentionKernels(
  gpu: Gpu,
  cfg: ModelConfig,
): Promise<AttentionKernels> {
  const dims = { heads: cfg.heads, headDim: cfg.dModel / cfg.heads };
  const [attention, rope] = await Promise.all([
    AttentionKernel.create(gpu, dims),
    RopeKernel.create(gpu, dims),
  ]);
  return { attention, rope };
}

/**
 * An attention block's plan: activations `qkv` (the qkv layer's output, RoPE applied), `att`
 * (the heads' outputs) and `lse` (per row and head), and the linear layers `qkv` and `proj`.
 */
export type AttentionPlan = BlockPlan<"qkv" | "att" | "lse", "qkv" | "proj">;

/**
 * Plans attention block `label` (`blocks.<i>`) for `batch` sequences; `units`: the GEMM kernels
 * the model has besides the f32 GEMM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planAttention } from "./attention.ts";
 * import { uniformLinear } from "../policy.ts";
 * import { F32_GEMM_ONLY } from "../linear.ts";
 * const cfg = { pattern: "*", dModel: 32, heads: 2, dFf: 64, seqLen: 8, vocab: 64, mlp: "relu2" } as const;
 * const plan = planAttention(cfg, uniformLinear("fp32"), 2, F32_GEMM_ONLY, "blocks.0");
 * assert.deepEqual(Object.values(plan.activations).map((b) => b.elements), [16 * 96, 16 * 32, 16 * 2]);
 * ```
 */
export function planAttention(
  cfg: ModelConfig,
  policy: LayerPolicies,
  batch: number,
  units: GemmUnits,
  label: string,
): AttentionPlan {
  const m = batch * cfg.seqLen;
  const d = cfg.dModel;
  return {
    activations: {
      qkv: { label: `${label}.qkv.y`, elements: m * 3 * d },
      att: { label: `${label}.att`, elements: m * d },
      lse: { label: `${label}.lse`, elements: m * cfg.heads },
    },
    linears: {
      qkv: planLinear(
        policyOfLayer(policy, `${label}.qkv`),
        { m, n: 3 * d, k: d },
        units,
        `${label}.qkv`,
      ),
      proj: planLinear(
        policyOfLayer(policy, `${label}.proj`),
        { m, n: d, k: d },
        units,
        `${label}.proj`,
      ),
    },
  };
}

/** The gradients of `qkv` and `att`, which all attention blocks of a model share. */
export type AttentionShared<T> = Readonly<Record<"dQkv" | "dAtt", T>>;

/** Plans the shared gradient buffers (see {@link AttentionShared}). */
export function planAttentionShared(
  cfg: ModelConfig,
  batch: number,
): AttentionShared<PlannedBuffer> {
  const m = batch * cfg.seqLen;
  return {
    dAtt: { label: "grad.att", elements: m * cfg.dModel },
    dQkv: { label: "grad.qkv", elements: m * 3 * cfg.dModel },
  };
}

/** Builds a planned attention block: allocates its activations and binds every kernel. */
export async function buildAttentionBlock(
  ctx: LayerContext,
  k: AttentionKernels,
  shared: AttentionShared<GPUBuffer>,
  cfg: ModelConfig,
  batch: number,
  plan: AttentionPlan,
  io: BlockIo,
): Promise<BlockOps> {
  const { qkv, att, lse } = allocAll(ctx, plan.activations);
  const { dQkv, dAtt } = shared;
  const dims = { batch, seq: cfg.seqLen };
  const [qkvLinear, projLinear] = await buildBlockLinears(
    ctx,
    io,
    { plan: plan.linears.qkv, param: "qkv", buffers: { y: qkv, dy: dQkv } },
    { plan: plan.linears.proj, param: "proj", buffers: { x: att, dx: dAtt } },
  );
  // Under compute bf16 each op's output is stored as BF16; the row log-sum-exp stays FP32.
  const store = (y: GPUBuffer) => storeOutputs(ctx, y);
  const forward = [
    ...qkvLinear.forward,
    k.rope.bindForward({ qkv }, dims),
    ...store(qkv),
    k.attention.bindForward({ qkv, y: att, lse }, dims),
    ...store(att),
    ...projLinear.forward,
  ];
  const backward = [
    ...projLinear.backward,
    k.attention.bindBackward({ qkv, y: att, lse, dy: dAtt, dqkv: dQkv }, dims),
    ...store(dQkv),
    k.rope.bindBackward({ dqkv: dQkv }, dims),
    ...store(dQkv),
    ...qkvLinear.backward,
  ];
  return { forward, backward, linears: [qkvLinear, projLinear] };
}
