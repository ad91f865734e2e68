/**
 * The buffer plan of a {@link ModelPlan}: every GPU buffer a `DecoderModel` allocates, with its
 * label and size, computed from the configuration, the policy and the batch before anything is
 * allocated (llm.c's `fill_in_activation_sizes`). The model allocates from this plan — its
 * allocator refuses a buffer the plan does not hold and checks that every planned buffer was
 * allocated — and the memory estimate (`memory.ts`) sums it, so the two cannot drift apart.
 *
 * The plan also carries what the buffers are for: the blocks' kinds and plans (`blocks/*.ts`) and
 * every linear layer's GEMM paths (`linear.ts`), from which the model builds its step.
 *
 * @module
 */

import { paddedElements } from "../../kernels/quantize/reference.ts";
import {
  embeddingBackwardLayout,
  embeddingScratchElements,
} from "../../kernels/embedding/reference.ts";
import { normScratchElements } from "../../kernels/norm/reference.ts";
import { CLIP_BYTES } from "../../kernels/clip/reference.ts";
import { XENT_METRICS_BYTES } from "../../kernels/xent/reference.ts";
import {
  blockKinds,
  linearLayers,
  type ModelConfig,
  numel,
  type ParamSpec,
  paramSpecs,
} from "./config.ts";
import {
  F32_GEMM_ONLY,
  type GemmPath,
  type GemmUnits,
  linearBuffers,
  type LinearPlan,
  planLinear,
  type PlannedBuffer,
} from "./linear.ts";
import {
  layerPolicyAt,
  type PrecisionPolicy,
  uniformLinear,
  unmatchedSelectors,
} from "./policy.ts";
import {
  type AttentionPlan,
  type AttentionShared,
  planAttention,
  planAttentionShared,
} from "./blocks/attention.ts";
import { type MlpPlan, type MlpShared, planMlp, planMlpShared } from "./blocks/mlp.ts";
import { type MambaPlan, type MambaShared, planMamba, planMambaShared } from "./blocks/mamba.ts";
import { blockBuffers } from "./blocks/block.ts";

/**
 * Bytes of a planned buffer of `elements` f32: zero-padded for the quantizers, at least one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bufferBytes } from "./plan.ts";
 * assert.ok(bufferBytes(1) >= 4);
 * assert.equal(bufferBytes(0), bufferBytes(1));
 * ```
 */
export function bufferBytes(elements: number): number {
  return paddedElements(Math.max(elements, 1)) * 4;
}

/** What a plan depends on besides the configuration and the policy. */
export interface PlanOptions {
  /** Sequences per step. */
  readonly batch: number;
  /** Total steps (for the policy's late switch). */
  readonly totalSteps: number;
  /** 0 before the policy's late switch, 1 after (default 0). */
  readonly phase?: 0 | 1;
  /** The GEMM kernels the model has besides the f32 GEMM (default none; see linear.ts). */
  readonly units?: GemmUnits;
}

/** A parameter's buffers: value, gradient and AdamW moments. */
export interface ParamPlan {
  /** The parameter (its index in `params` is its index in `paramSpecs`). */
  readonly spec: ParamSpec;
  /** Its value, labelled with its name. */
  readonly p: PlannedBuffer;
  /** Its gradient, `<name>.grad`. */
  readonly g: PlannedBuffer;
  /** AdamW's first moment, `<name>.m`. */
  readonly m: PlannedBuffer;
  /** AdamW's second moment, `<name>.v`. */
  readonly v: PlannedBuffer;
}

/** The buffers of a block's pre-norm and residual, which the model allocates for every block. */
export interface ResidualPlan {
  /** The block's output: the residual stream after it. */
  readonly out: PlannedBuffer;
  /** The pre-normed input the block reads. */
  readonly h: PlannedBuffer;
  /** The pre-norm's reciprocal RMS per token. */
  readonly rstd: PlannedBuffer;
}

/** One block of the pattern: its residual buffers and, by kind, its own plan. */
export type LayerPlan =
  & ResidualPlan
  & (
    | { readonly kind: "attention"; readonly block: AttentionPlan }
    | { readonly kind: "mlp"; readonly block: MlpPlan }
    | { readonly kind: "mamba"; readonly block: MambaPlan }
  );

/** Every buffer of a model and what it is for; see the module comment. */
export interface ModelPlan {
  /** Buffers of the model's lifetime: batch inputs, step outputs, parameters and their state. */
  readonly model: readonly PlannedBuffer[];
  /** Buffers of one policy phase (reallocated at the late switch): the rest below. */
  readonly step: readonly PlannedBuffer[];
  /**
   * The batch's tokens and targets, the embedding gradient's index, AdamW's hyper-parameters,
   * the clipping output (gradient norm) and the loss kernel's metrics.
   */
  readonly inputs: Readonly<
    Record<"tokens" | "targets" | "embIndex" | "hyper" | "clip" | "metrics", PlannedBuffer>
  >;
  /** Every parameter in `paramSpecs` order. */
  readonly params: readonly ParamPlan[];
  /** The embedding's output, the first block's input. */
  readonly x0: PlannedBuffer;
  /** The blocks in pattern order. */
  readonly blocks: readonly LayerPlan[];
  /** Gradient and scratch buffers all blocks of a kind share; present where the pattern has it. */
  readonly shared: {
    /** See `blocks/attention.ts`. */
    readonly attention?: AttentionShared<PlannedBuffer>;
    /** See `blocks/mlp.ts`. */
    readonly mlp?: MlpShared<PlannedBuffer>;
    /** See `blocks/mamba.ts`. */
    readonly mamba?: MambaShared<PlannedBuffer>;
  };
  /**
   * The gradient of the residual stream and of a block's normed input, the RMSNorm's and the
   * embedding's backward scratch.
   */
  readonly grads: Readonly<Record<"residual" | "h" | "normScratch" | "embScratch", PlannedBuffer>>;
  /** The final norm's output and rstd, the logits, per-token loss and correctness, the LM head. */
  readonly head: Readonly<Record<"h" | "rstd" | "logits" | "loss" | "correct", PlannedBuffer>> & {
    readonly linear: LinearPlan;
  };
}

/**
 * The phases of a policy: 0 (before the late switch), and 1 (after it) where it has one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { policyPhases } from "./plan.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * assert.deepEqual(policyPhases(POLICIES.nvfp4), [0]);
 * ```
 */
export function policyPhases(policy: PrecisionPolicy): readonly (0 | 1)[] {
  return policy.switchTo ? [0, 1] : [0];
}

/** A build of a model's operations: a phase of its training policy or of its evaluation policy. */
export interface PolicyBuild {
  /** The policy the build's linear layers and head follow. */
  readonly policy: PrecisionPolicy;
  /** Its phase (see {@link policyPhases}). */
  readonly phase: 0 | 1;
}

/**
 * Every build a model trained under `policy` may make: each phase of the policy, then each phase of
 * its evaluation policy where it has one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { policyBuilds } from "./plan.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const p = { ...POLICIES.nvfp4, evalPolicy: POLICIES.bf16 };
 * assert.deepEqual(policyBuilds(p).map((b) => [b.policy.name, b.phase]), [["nvfp4", 0], ["bf16", 0]]);
 * ```
 */
export function policyBuilds(policy: PrecisionPolicy): PolicyBuild[] {
  const ev = policy.evalPolicy;
  return [
    ...policyPhases(policy).map((phase) => ({ policy, phase })),
    ...(ev ? policyPhases(ev).map((phase) => ({ policy: ev, phase })) : []),
  ];
}

/** The GEMM paths of one linear layer (see `GemmPath` in linear.ts). */
export interface LinearPaths {
  /** The layer: `blocks.<i>.<name>` or `lm_head`. */
  readonly layer: string;
  /** Fprop's path. */
  readonly fprop: GemmPath;
  /** Dgrad's path; absent where the layer computes no input gradient. */
  readonly dgrad?: GemmPath;
  /** Wgrad's path. */
  readonly wgrad: GemmPath;
}

/**
 * The GEMM path of every linear layer of a plan, blocks in pattern order, then the LM head.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmPaths, planModel } from "./plan.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const cfg = { pattern: "-", dModel: 64, heads: 2, dFf: 128, seqLen: 32, vocab: 256, mlp: "relu2" } as const;
 * const units = { packed: false, matrix: true };
 * const paths = gemmPaths(planModel(cfg, POLICIES.bf16, { batch: 4, totalSteps: 10, units }));
 * assert.deepEqual(paths[0], { layer: "blocks.0.fc1", fprop: "matrix", dgrad: "matrix", wgrad: "matrix" });
 * assert.equal(paths.at(-1)!.layer, "lm_head");
 * ```
 */
export function gemmPaths(plan: ModelPlan): LinearPaths[] {
  return namedLinears(plan).map(([layer, p]) => ({
    layer,
    fprop: p.fprop.path,
    ...(p.dgrad ? { dgrad: p.dgrad.path } : {}),
    wgrad: p.wgrad.path,
  }));
}

/**
 * Every linear layer of a model plan with its name (its plan's label: `blocks.<i>.<name>` as the
 * parameter is named, e.g. `blocks.1.in_proj`, then `lm_head`), blocks in order, then the LM head.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { namedLinears, planModel } from "./plan.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const cfg = { pattern: "*", dModel: 64, heads: 2, dFf: 128, seqLen: 32, vocab: 256, mlp: "relu2" } as const;
 * const plan = planModel(cfg, POLICIES.bf16, { batch: 2, totalSteps: 10 });
 * assert.deepEqual(namedLinears(plan).map(([name]) => name), ["blocks.0.qkv", "blocks.0.proj", "lm_head"]);
 * ```
 */
export function namedLinears(plan: ModelPlan): [string, LinearPlan][] {
  return [
    ...plan.blocks.flatMap((b) => Object.values(b.block.linears as Record<string, LinearPlan>)),
    plan.head.linear,
  ].map((p): [string, LinearPlan] => [p.label, p]);
}

/**
 * How many GEMMs (Fprop, Dgrad, Wgrad of every linear layer) take each path, per policy phase:
 * `"matrix 72, f32 3"`, phases joined by `" → "`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeGemmPaths } from "./plan.ts";
 * const l = { layer: "lm_head", fprop: "matrix", dgrad: "matrix", wgrad: "f32" } as const;
 * assert.equal(describeGemmPaths([[l, l]]), "matrix 4, f32 2");
 * ```
 */
export function describeGemmPaths(phases: readonly (readonly LinearPaths[])[]): string {
  return phases.map((paths) => {
    const counts = new Map<GemmPath, number>();
    for (const l of paths) {
      for (const p of [l.fprop, l.dgrad, l.wgrad]) if (p) counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    const order: GemmPath[] = ["matrix", "packed", "f32"];
    return order.filter((p) => counts.has(p)).map((p) => `${p} ${counts.get(p)}`).join(", ");
  }).join(" → ");
}

const buf = (label: string, elements: number): PlannedBuffer => ({ label, elements });
const values = <T>(r: Readonly<Record<string, T>> | undefined): T[] => r ? Object.values(r) : [];

/**
 * Plans every buffer a model of `cfg` allocates under `policy` (see the module comment).
 *
 * @throws {RangeError} for a per-layer selector of `policy` that matches no linear layer
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planModel } from "./plan.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const cfg = { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 8, vocab: 64, mlp: "relu2" } as const;
 * const plan = planModel(cfg, POLICIES.fp32, { batch: 2, totalSteps: 10 });
 * assert.deepEqual(plan.blocks.map((b) => b.kind), ["attention", "mlp"]);
 * assert.equal(plan.head.logits.elements, 2 * 8 * 64);
 * assert.ok(plan.step.includes(plan.head.logits) && plan.model.includes(plan.params[0].p));
 * ```
 */
export function planModel(
  cfg: ModelConfig,
  policy: PrecisionPolicy,
  opts: PlanOptions,
): ModelPlan {
  const { batch, totalSteps, phase = 0, units = F32_GEMM_ONLY } = opts;
  const M = batch * cfg.seqLen;
  const D = cfg.dModel;
  const V = cfg.vocab;
  const inputs = {
    tokens: buf("tokens", M),
    targets: buf("targets", M),
    embIndex: buf("emb.index", embeddingBackwardLayout(M, V).words),
    hyper: buf("adamw.hyper", 2),
    clip: buf("clip", CLIP_BYTES / 4),
    metrics: buf("metrics", XENT_METRICS_BYTES / 4),
  };
  const params = paramSpecs(cfg).map((spec) => {
    const n = numel(spec.shape);
    const name = spec.name;
    return {
      spec,
      p: buf(name, n),
      g: buf(`${name}.grad`, n),
      m: buf(`${name}.m`, n),
      v: buf(`${name}.v`, n),
    };
  });

  const kinds = blockKinds(cfg.pattern);
  const step = phase === 0 ? 0 : totalSteps;
  const blocks = kinds.map((kind, i): LayerPlan => {
    const label = `blocks.${i}`;
    const residual = {
      out: buf(`${label}.out`, M * D),
      h: buf(`${label}.h`, M * D),
      rstd: buf(`${label}.rstd`, M),
    };
    const p = (layer: string) => layerPolicyAt(policy, layer, i, kinds.length, step, totalSteps);
    if (kind === "attention") {
      return { ...residual, kind, block: planAttention(cfg, p, batch, units, label) };
    }
    if (kind === "mlp") return { ...residual, kind, block: planMlp(cfg, p, batch, units, label) };
    return { ...residual, kind, block: planMamba(cfg, p, batch, units, label) };
  });
  const names = linearLayers(cfg.pattern).map((l) => l.name);
  const [unmatched] = unmatchedSelectors(policy, names);
  if (unmatched) {
    throw new RangeError(
      `policy "${policy.name}": layer selector "${unmatched.match}" matches no linear layer of ` +
        `pattern "${cfg.pattern}" (${names.slice(0, 4).join(", ")}${
          names.length > 4 ? ", …" : ""
        })`,
    );
  }
  const shared = {
    ...(kinds.includes("attention") ? { attention: planAttentionShared(cfg, batch) } : {}),
    ...(kinds.includes("mlp") ? { mlp: planMlpShared(cfg, batch) } : {}),
    ...(kinds.includes("mamba") ? { mamba: planMambaShared(cfg, batch) } : {}),
  };
  const grads = {
    residual: buf("grad.residual", M * D),
    h: buf("grad.h", M * D),
    normScratch: buf("norm.scratch", normScratchElements(D, M)),
    embScratch: buf("emb.scratch", embeddingScratchElements(D, { tokens: M, vocab: V })),
  };
  const head = {
    h: buf("hf", M * D),
    rstd: buf("rstdf", M),
    logits: buf("logits", M * V),
    loss: buf("loss", M),
    correct: buf("correct", M),
    linear: planLinear(uniformLinear(policy.head), { m: M, n: V, k: D }, units, "lm_head"),
  };
  const x0 = buf("x0", M * D);
  return {
    model: [...values(inputs), ...params.flatMap((p) => [p.p, p.g, p.m, p.v])],
    step: [
      x0,
      ...blocks.flatMap((b) => [b.out, b.h, b.rstd, ...blockBuffers(b.block)]),
      head.h,
      head.rstd,
      head.logits,
      head.loss,
      head.correct,
      ...values(grads),
      ...values(shared.attention),
      ...values(shared.mlp),
      ...values(shared.mamba),
      ...linearBuffers(head.linear),
    ],
    inputs,
    params,
    x0,
    blocks,
    shared,
    grads,
    head,
  };
}
