/**
 * An MLP block on the GPU: after the block's pre-norm,
 *
 * ```
 * u   = fc1(h)          policy-controlled linear layer, [tokens, d_ff] (2·d_ff for SwiGLU)
 * a   = act(u)          relu², GELU (tanh) or SwiGLU (`kernels/activation/`), in f32 (stored
 *                       as BF16 under the policy's `compute: bf16`)
 * out = fc2(a)          policy-controlled linear layer
 * ```
 *
 * The backward pass runs in reverse: fc2, the activation's gradient, fc1.
 *
 * @module
 */

import type { Gpu } from "../../gpu/device.ts";
import { ActivationKernel } from "../../../kernels/activation/mod.ts";
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

/** The compiled kernels of a model's MLP blocks. */
export interface MlpKernels {
  /** The activation, forward and backward. */
  readonly act: ActivationKernel;
}

/** Compiles the activation of a configuration's MLP. */
export async function createMlpKernels(gpu: Gpu, cfg: ModelConfig): Promise<MlpKernels> {
  return { act: await ActivationKernel.create(gpu, { kind: cfg.mlp }) };
}

/** The width of fc1's output: `d_ff`, or `2·d_ff` for SwiGLU (gate and value). */
function upWidth(cfg: ModelConfig): number {
  return cfg.mlp === "swiglu" ? 2 * cfg.dFf : cfg.dFf;
}

/**
 * An MLP block's plan: activations `u` (fc1's output) and `a` (the activation's output), and the
 * linear layers `fc1` and `fc2`.
 */
export type MlpPlan = BlockPlan<"u" | "a", "fc1" | "fc2">;

/**
 * Plans MLP block `label` (`blocks.<i>`) for `batch` sequences; `units`: the GEMM kernels the
 * model has besides the f32 GEMM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planMlp } from "./mlp.ts";
 * import { uniformLinear } from "../policy.ts";
 * import { F32_GEMM_ONLY } from "../linear.ts";
 * const cfg = { pattern: "-", dModel: 32, heads: 2, dFf: 64, seqLen: 8, vocab: 64, mlp: "swiglu" } as const;
 * const plan = planMlp(cfg, uniformLinear("fp32"), 2, F32_GEMM_ONLY, "blocks.0");
 * assert.deepEqual([plan.activations.u.elements, plan.activations.a.elements], [16 * 128, 16 * 64]);
 * ```
 */
export function planMlp(
  cfg: ModelConfig,
  policy: LayerPolicies,
  batch: number,
  units: GemmUnits,
  label: string,
): MlpPlan {
  const m = batch * cfg.seqLen;
  const d = cfg.dModel;
  const f = cfg.dFf;
  return {
    activations: {
      u: { label: `${label}.u`, elements: m * upWidth(cfg) },
      a: { label: `${label}.a`, elements: m * f },
    },
    linears: {
      fc1: planLinear(
        policyOfLayer(policy, `${label}.fc1`),
        { m, n: upWidth(cfg), k: d },
        units,
        `${label}.fc1`,
      ),
      fc2: planLinear(
        policyOfLayer(policy, `${label}.fc2`),
        { m, n: d, k: f },
        units,
        `${label}.fc2`,
      ),
    },
  };
}

/** The gradients of `a` and `u`, which all MLP blocks of a model share. */
export type MlpShared<T> = Readonly<Record<"dA" | "dU", T>>;

/** Plans the shared gradient buffers (see {@link MlpShared}). */
export function planMlpShared(cfg: ModelConfig, batch: number): MlpShared<PlannedBuffer> {
  const m = batch * cfg.seqLen;
  return {
    dA: { label: "grad.a", elements: m * cfg.dFf },
    dU: { label: "grad.u", elements: m * upWidth(cfg) },
  };
}

/** Builds a planned MLP block: allocates its activations and binds every kernel. */
export async function buildMlpBlock(
  ctx: LayerContext,
  k: MlpKernels,
  shared: MlpShared<GPUBuffer>,
  cfg: ModelConfig,
  batch: number,
  plan: MlpPlan,
  io: BlockIo,
): Promise<BlockOps> {
  const { u, a } = allocAll(ctx, plan.activations);
  const { dA, dU } = shared;
  const dims = { rows: batch * cfg.seqLen, cols: cfg.dFf };
  const [fc1, fc2] = await buildBlockLinears(
    ctx,
    io,
    { plan: plan.linears.fc1, param: "fc1", buffers: { y: u, dy: dU } },
    { plan: plan.linears.fc2, param: "fc2", buffers: { x: a, dx: dA } },
  );
  const forward = [
    ...fc1.forward,
    k.act.forward({ x: u, y: a }, dims),
    ...storeOutputs(ctx, a),
    ...fc2.forward,
  ];
  const backward = [
    ...fc2.backward,
    k.act.backward({ x: u, dy: dA, dx: dU }, dims),
    ...storeOutputs(ctx, dU),
    ...fc1.backward,
  ];
  return { forward, backward, linears: [fc1, fc2] };
}
