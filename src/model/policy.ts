/**
 * Precision policies: how each of a linear layer's three GEMMs quantizes its two operands
 * (NUMERICS.md §5.1), which blocks stay in high precision, and a late switch to another policy.
 *
 * @module
 */

import type { ComputePrecision } from "../formats/bf16.ts";
import type { HadamardOptions } from "../formats/rht.ts";
import { type FormatName, type FormatSpec, resolveFormat } from "../formats/spec.ts";
import { layerMatches } from "./layer_match.ts";

/** How one GEMM operand is quantized before the f32 GEMM (quantize → dequantize). */
export interface OperandPolicy {
  /** `"fp32"` keeps the operand in full precision. */
  readonly format: FormatName | FormatSpec;
  /** Element rounding; stochastic rounding is meant for gradients. Default `rne`. */
  readonly rounding?: "rne" | "stochastic";
  /** Random Hadamard Transform along the GEMM's dot-product dimension (Wgrad operands). */
  readonly rht?: HadamardOptions;
}

/** Operand policies of a linear layer Y = X·Wᵀ: Fprop, Dgrad (dX = dY·W), Wgrad (dW = dYᵀ·X). */
export interface LinearPolicy {
  /** Fprop `Y = X·Wᵀ`: the input and the weight. */
  readonly fprop: { readonly x: OperandPolicy; readonly w: OperandPolicy };
  /** Dgrad `dX = dY·W`: the output gradient and the weight. */
  readonly dgrad: { readonly dy: OperandPolicy; readonly w: OperandPolicy };
  /** Wgrad `dW = dYᵀ·X`: the output gradient and the input. */
  readonly wgrad: { readonly dy: OperandPolicy; readonly x: OperandPolicy };
}

/**
 * How many blocks: a count, or a share of the model's blocks in percent (rounded to the nearest
 * count, halves up), so a preset written for one depth applies to any (Megatron's
 * `num_layers_at_end_in_bf16 = 14` of Nemotron 3 Super's 88 layers is `{ percent: 15.9 }`).
 */
export type BlockCount = number | { readonly percent: number };

/**
 * The number of blocks a {@link BlockCount} means in a model of `blocks` blocks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockCount } from "./policy.ts";
 * assert.equal(blockCount(2, 16), 2);
 * assert.equal(blockCount({ percent: 12.5 }, 32), 4);
 * assert.equal(blockCount({ percent: 15.9 }, 88), 14);
 * assert.equal(blockCount({ percent: 15.9 }, 16), 3);
 * ```
 */
export function blockCount(count: BlockCount, blocks: number): number {
  return typeof count === "number" ? count : Math.round((count.percent / 100) * blocks);
}

/**
 * `policy` with its high-precision blocks (and its evaluation policy's) as counts for a model of
 * `blocks` blocks, so that a share and the count it means give the same policy; none where both
 * are 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uniformLinear, withBlockCounts } from "./policy.ts";
 * const bf16 = uniformLinear("bf16");
 * const p = {
 *   name: "p", head: "bf16", linear: uniformLinear("nvfp4"),
 *   highPrecisionBlocks: { first: 0, last: { percent: 12.5 }, policy: bf16 },
 * } as const;
 * assert.deepEqual(withBlockCounts(p, 16).highPrecisionBlocks, { first: 0, last: 2, policy: bf16 });
 * assert.equal(withBlockCounts(p, 2).highPrecisionBlocks, undefined);
 * ```
 */
export function withBlockCounts(policy: PrecisionPolicy, blocks: number): PrecisionPolicy {
  const { highPrecisionBlocks: hp, evalPolicy, ...rest } = policy;
  const first = hp ? blockCount(hp.first, blocks) : 0;
  const last = hp ? blockCount(hp.last, blocks) : 0;
  return {
    ...rest,
    ...(hp && first + last > 0 ? { highPrecisionBlocks: { first, last, policy: hp.policy } } : {}),
    ...(evalPolicy ? { evalPolicy: withBlockCounts(evalPolicy, blocks) } : {}),
  };
}

/** A full precision policy for a model. */
export interface PrecisionPolicy {
  /** The policy's name in records and reports. */
  readonly name: string;
  /** The policy of every linear layer in the blocks. */
  readonly linear: LinearPolicy;
  /** Blocks (of the layer pattern) kept in the `edges` policy: the first and last few. */
  readonly highPrecisionBlocks?: {
    readonly first: BlockCount;
    readonly last: BlockCount;
    readonly policy: LinearPolicy;
  };
  /**
   * Per-layer selectors, Megatron's `--te-precision-config-file` semantics: the first selector whose
   * glob `match` (src/model/layer_match.ts) matches a linear layer's name (`blocks.3.qkv`,
   * `blocks.5.out_proj`) gives that layer's policy, before `highPrecisionBlocks` and `linear`.
   */
  readonly layers?: readonly { readonly match: string; readonly policy: LinearPolicy }[];
  /** From this fraction of the training steps on, every linear layer uses `policy`. */
  readonly switchTo?: { readonly atFraction: number; readonly policy: LinearPolicy };
  /** The LM head's operands: `fp32`, or `bf16`-rounded. */
  readonly head: "fp32" | "bf16";
  /**
   * The policy evaluation runs under, where it differs from training's (issue 14 item 8: train
   * NVFP4, evaluate BF16): its Fprop operands, head, selectors, high-precision blocks and late
   * switch decide the validation pass; training never sees it. It has no `evalPolicy` of its own.
   */
  readonly evalPolicy?: PrecisionPolicy;
  /**
   * The precision tensors flow between ops in (Megatron/TransformerEngine mixed precision):
   * `bf16` stores the output of every op — embedding, norms, RoPE, attention, activations, the
   * Mamba-2 mixer's ops, residual adds, the linear layers' Fprop and Dgrad outputs, the loss's
   * gradient — rounded to BF16, and every quantizer rounds its input (so the weights too) and its
   * RHT output to BF16; master weights, optimizer state, weight gradients and the loss stay FP32.
   * Absent: `fp32`, every op stores FP32.
   */
  readonly compute?: ComputePrecision;
}

const op = (format: FormatName, rest: Omit<OperandPolicy, "format"> = {}): OperandPolicy => ({
  format,
  ...rest,
});

/** Every operand in one format (gradients with the given rounding). */
export function uniformLinear(
  format: FormatName,
  gradFormat: FormatName = format,
  gradRounding: "rne" | "stochastic" = "rne",
): LinearPolicy {
  const g = op(gradFormat, { rounding: gradRounding });
  return {
    fprop: { x: op(format), w: op(format) },
    dgrad: { dy: g, w: op(format) },
    wgrad: { dy: g, x: op(format) },
  };
}

/**
 * The linear policy of layer `layer` (e.g. `blocks.3.qkv`) in block `index` of `blocks`, at `step`
 * of `totalSteps`: the late switch's once it is due, else the first matching selector's, else the
 * high-precision blocks' for the first and last blocks, else the policy's own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerPolicyAt, uniformLinear } from "./policy.ts";
 * const bf16 = uniformLinear("bf16");
 * const policy = {
 *   name: "p", head: "bf16", linear: uniformLinear("nvfp4"),
 *   layers: [{ match: "blocks.*.qkv", policy: bf16 }],
 * } as const;
 * assert.equal(layerPolicyAt(policy, "blocks.2.qkv", 2, 4, 0, 10), bf16);
 * assert.equal(layerPolicyAt(policy, "blocks.2.proj", 2, 4, 0, 10), policy.linear);
 * ```
 */
export function layerPolicyAt(
  policy: PrecisionPolicy,
  layer: string,
  index: number,
  blocks: number,
  step: number,
  totalSteps: number,
): LinearPolicy {
  if (policy.switchTo && step >= policy.switchTo.atFraction * totalSteps) {
    return policy.switchTo.policy;
  }
  const selected = policy.layers?.find((s) => layerMatches(s.match, layer));
  if (selected) return selected.policy;
  const hp = policy.highPrecisionBlocks;
  if (
    hp && (index < blockCount(hp.first, blocks) || index >= blocks - blockCount(hp.last, blocks))
  ) {
    return hp.policy;
  }
  return policy.linear;
}

/**
 * The per-layer selectors of `policy` that match none of the layer names `names`, with their
 * index in `policy.layers` (an error: Megatron's semantics, issue 14 item 7).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uniformLinear, unmatchedSelectors } from "./policy.ts";
 * const policy = {
 *   name: "p", head: "bf16", linear: uniformLinear("nvfp4"),
 *   layers: [{ match: "blocks.*.qkv", policy: uniformLinear("bf16") }, { match: "*.fc9", policy: uniformLinear("bf16") }],
 * } as const;
 * assert.deepEqual(unmatchedSelectors(policy, ["blocks.0.qkv", "blocks.0.proj"]), [{ index: 1, match: "*.fc9" }]);
 * ```
 */
export function unmatchedSelectors(
  policy: PrecisionPolicy,
  names: readonly string[],
): { index: number; match: string }[] {
  return (policy.layers ?? []).flatMap((s, index) =>
    names.some((name) => layerMatches(s.match, name)) ? [] : [{ index, match: s.match }]
  );
}

/**
 * The linear policy of each layer of a block: one for all, or one per layer name (`blocks.3.qkv`).
 */
export type LayerPolicies = LinearPolicy | ((layer: string) => LinearPolicy);

/**
 * The policy {@link LayerPolicies} give layer `layer`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { policyOfLayer, uniformLinear } from "./policy.ts";
 * const bf16 = uniformLinear("bf16");
 * assert.equal(policyOfLayer(bf16, "blocks.0.fc1"), bf16);
 * assert.equal(policyOfLayer(() => bf16, "blocks.0.fc1"), bf16);
 * ```
 */
export function policyOfLayer(policies: LayerPolicies, layer: string): LinearPolicy {
  return typeof policies === "function" ? policies(layer) : policies;
}

/** Whether an operand policy leaves values untouched. */
export function isIdentity(p: OperandPolicy): boolean {
  const f = resolveFormat(p.format);
  return f.kind === "float" && f.element === "fp32" && !p.rht;
}

/**
 * Whether quantizing the operand commutes with transposition, so one quantized copy serves both
 * GEMM layouts: elementwise and per-tensor formats with RNE and no RHT, and 16×16 NVFP4 tiles.
 */
export function layoutFree(p: OperandPolicy): boolean {
  if (p.rht || p.rounding === "stochastic") return false;
  const f = resolveFormat(p.format);
  return f.kind === "float" || f.kind === "fp8" || (f.kind === "nvfp4" && f.tile === "16x16");
}
