/**
 * Whether a model's tensors fit a policy's blocks: every quantized operand of every linear layer
 * (in the blocks where the policy's linear, high-precision or switched-to layers apply) must
 * divide into its format's blocks (1×16, 16×16, 1×32) and its RHT size, along the dimension the
 * layer quantizes it (see `src/model/linear.ts`): Fprop along the inputs, Dgrad along the outputs,
 * Wgrad along the tokens of a step (batch × seq_len). One problem per policy and dimension, at
 * the key that sets the dimension (`model.d_model`, `model.d_ff`, `train.batch`).
 *
 * @module
 */

import { blockShape, resolveFormat } from "../formats/spec.ts";
import {
  blockKinds,
  linearLayers,
  type LinearRole,
  mambaDims,
  type ModelConfig,
} from "../model/config.ts";
import {
  blockCount,
  layerPolicyAt,
  layoutFree,
  type LinearPolicy,
  type OperandPolicy,
  type PrecisionPolicy,
  unmatchedSelectors,
} from "../model/policy.ts";
import type { KeyPath, Problem } from "./problems.ts";
import type { SourceFile } from "./source.ts";

/**
 * A dimension of a layer: `factor` times the value of a recipe key, or of a Mamba-2 width derived
 * from several keys (`d_inner`, the `in_proj` rows; see `mambaDims`).
 */
interface Dim {
  readonly key: "d_model" | "d_ff" | "tokens" | "d_inner" | "in_proj";
  readonly factor: number;
}

/** What one operand needs of one dimension. */
interface Need {
  readonly dim: Dim;
  readonly multiple: number;
  readonly why: string;
}

const D = (factor = 1): Dim => ({ key: "d_model", factor });
const F = (factor = 1): Dim => ({ key: "d_ff", factor });
const M: Dim = { key: "tokens", factor: 1 };
const DI: Dim = { key: "d_inner", factor: 1 };
const IN: Dim = { key: "in_proj", factor: 1 };

/** A linear layer's [outputs n, inputs k]. */
function layerDims(role: LinearRole, model: ModelConfig): [Dim, Dim] {
  const dims: Record<LinearRole, [Dim, Dim]> = {
    qkv: [D(3), D()],
    proj: [D(), D()],
    fc1: [F(model.mlp === "swiglu" ? 2 : 1), D()],
    fc2: [D(), F()],
    in_proj: [IN, D()],
    out_proj: [D(), DI],
  };
  return dims[role];
}

/** The [rows, cols] each operand is quantized as (blocks along cols), as `linear.ts` does. */
function operandShapes(p: LinearPolicy, n: Dim, k: Dim): [string, OperandPolicy, Dim, Dim][] {
  const wgradAsIs = layoutFree(p.wgrad.dy) && layoutFree(p.wgrad.x);
  return [
    ["fprop.x", p.fprop.x, M, k],
    ["fprop.w", p.fprop.w, n, k],
    ["dgrad.dy", p.dgrad.dy, M, n],
    ["dgrad.w", p.dgrad.w, ...(layoutFree(p.dgrad.w) ? [n, k] : [k, n]) as [Dim, Dim]],
    ["wgrad.dy", p.wgrad.dy, ...(wgradAsIs ? [M, n] : [n, M]) as [Dim, Dim]],
    ["wgrad.x", p.wgrad.x, ...(wgradAsIs ? [M, k] : [k, M]) as [Dim, Dim]],
  ];
}

function needs(p: LinearPolicy, n: Dim, k: Dim): Need[] {
  const out: Need[] = [];
  for (const [name, op, rows, cols] of operandShapes(p, n, k)) {
    const [br, bc] = blockShape(resolveFormat(op.format));
    const blocks = br === 16 ? "16×16 tiles" : `${br}×${bc} blocks`;
    if (bc > 0) out.push({ dim: cols, multiple: bc, why: `${name}: ${blocks}` });
    if (br > 1) out.push({ dim: rows, multiple: br, why: `${name}: ${blocks}` });
    if (op.rht) {
      out.push({
        dim: cols,
        multiple: op.rht.size ?? 16,
        why: `${name}: RHT of size ${op.rht.size ?? 16}`,
      });
    }
  }
  return out;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The linear policies that layer `layer` of block `i` of `blocks` uses over a run: in training,
 * and in evaluation where the policy has an evaluation policy.
 */
function linearsOf(
  policy: PrecisionPolicy,
  layer: string,
  i: number,
  blocks: number,
): LinearPolicy[] {
  const own = layerPolicyAt(policy, layer, i, blocks, 0, 1);
  const ev = policy.evalPolicy;
  return [
    own,
    ...(policy.switchTo ? [policy.switchTo.policy] : []),
    ...(ev ? linearsOf(ev, layer, i, blocks) : []),
  ];
}

/**
 * Problems where `model` and `batch` do not fit `policy`'s blocks, or where its high-precision
 * blocks leave no block in the policy's own formats. `policyAt` locates the policy in `src`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dimensionProblems } from "./dimensions.ts";
 * import { POLICIES } from "./preset_policies.ts";
 * import { SourceFile } from "./source.ts";
 * const src = new SourceFile("r.yaml", "model: { d_model: 48 }\ntrain: { batch: 3 }\n");
 * const model = { pattern: "*-*-", dModel: 48, heads: 2, dFf: 192, seqLen: 16, vocab: 256, mlp: "relu2" } as const;
 * const problems = dimensionProblems(src, model, 3, POLICIES.mxfp4, ["policies", "mxfp4"]);
 * assert.deepEqual(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
 *   '1:19 model.d_model: must be a multiple of 32 for policy "mxfp4" (fprop.x: 1×32 blocks), got 48',
 *   '2:17 train.batch: batch × seq_len = 3 × 16 = 48 tokens must be a multiple of 32 for policy "mxfp4" (wgrad.dy: 1×32 blocks)',
 * ]);
 * assert.deepEqual(dimensionProblems(src, model, 4, POLICIES.nvfp4, []), []);
 * ```
 */
export function dimensionProblems(
  src: SourceFile,
  model: ModelConfig,
  batch: number,
  policy: PrecisionPolicy,
  policyAt: KeyPath,
): Problem[] {
  const problems: Problem[] = [];
  const kinds = blockKinds(model.pattern);
  const hp = policy.highPrecisionBlocks;
  if (
    hp && blockCount(hp.first, kinds.length) + blockCount(hp.last, kinds.length) >= kinds.length
  ) {
    problems.push(src.problem(
      [...policyAt, "high_precision_blocks"],
      `first ${hp.first} + last ${hp.last} cover all ${kinds.length} blocks of model.pattern, ` +
        `leaving none in the formats of policy "${policy.name}"; lower them or give ` +
        `high_precision_blocks: none`,
    ));
  }
  const mamba = mambaDims(model);
  const value = {
    d_model: model.dModel,
    d_ff: model.dFf,
    tokens: batch * model.seqLen,
    d_inner: mamba.dInner,
    in_proj: mamba.inProj,
  };
  const worst = new Map<Dim["key"], { multiple: number; why: string }>();
  const linears = linearLayers(model.pattern);
  const names = linears.map((l) => l.name);
  for (const { index, match } of unmatchedSelectors(policy, names)) {
    problems.push(src.problem(
      [...policyAt, "layers", index, "match"],
      `"${match}" matches no linear layer of model.pattern "${model.pattern}" (its layers are named ` +
        `${names.slice(0, 4).join(", ")}${names.length > 4 ? ", …" : ""})`,
    ));
  }
  const ev = policy.evalPolicy;
  for (const { match } of ev ? unmatchedSelectors(ev, names) : []) {
    problems.push(src.problem(
      [...policyAt, "eval_policy"],
      `policy "${ev?.name}" has a layer selector "${match}" that matches no linear layer of ` +
        `model.pattern "${model.pattern}"`,
    ));
  }
  for (const layer of linears) {
    const [n, k] = layerDims(layer.role, model);
    for (const linear of linearsOf(policy, layer.name, layer.block, kinds.length)) {
      for (const need of needs(linear, n, k)) {
        const multiple = need.multiple / gcd(need.multiple, need.dim.factor);
        const prev = worst.get(need.dim.key);
        if (value[need.dim.key] % multiple !== 0 && (!prev || multiple > prev.multiple)) {
          worst.set(need.dim.key, { multiple, why: need.why });
        }
      }
    }
  }
  for (const [key, { multiple, why }] of worst) {
    const tail = `a multiple of ${multiple} for policy "${policy.name}" (${why})`;
    if (key === "tokens") {
      problems.push(src.problem(
        ["train", "batch"],
        `batch × seq_len = ${batch} × ${model.seqLen} = ${value.tokens} tokens must be ${tail}`,
      ));
    } else if (key === "d_inner" || key === "in_proj") {
      const what = key === "d_inner"
        ? `d_inner = expand · d_model = ${value.d_inner}`
        : `in_proj width 2·d_inner + 2·n_groups·d_state + heads = ${value.in_proj}`;
      problems.push(src.problem(["model", "mamba"], `Mamba-2 ${what} must be ${tail}`));
    } else {
      problems.push(src.problem(["model", key], `must be ${tail}, got ${value[key]}`));
    }
  }
  return problems;
}
