/**
 * Bits per weight of a policy on a model: the storage bits (scales included) of each linear
 * layer's weight in its Fprop format, averaged over every linear weight by its size — so blocks
 * a policy keeps in high precision and the LM head count at their own precision.
 *
 * @module
 */

import { bitsPerValue, resolveFormat } from "../formats/spec.ts";
import { type ModelConfig, numel, paramSpecs } from "../model/config.ts";
import { planModel } from "../model/plan.ts";
import { linearPolicyAt, type PrecisionPolicy } from "../model/policy.ts";

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * Mean storage bits per linear weight of `policy` on `cfg` at the start of training.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { weightBits } from "./bits.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const cfg = { pattern: "*-", dModel: 64, heads: 4, dFf: 256, seqLen: 32, vocab: 256, mlp: "relu2" } as const;
 * assert.equal(weightBits(cfg, POLICIES.fp32), 32);
 * // nvfp4: its two blocks are kept in BF16 (first 1, last 1); only the LM head is left: BF16 too.
 * assert.equal(weightBits(cfg, POLICIES.nvfp4), 16);
 * ```
 */
export function weightBits(cfg: ModelConfig, policy: PrecisionPolicy): number {
  const sizes = new Map(paramSpecs(cfg).map((s) => [s.name, numel(s.shape)]));
  const size = (name: string) => {
    const n = sizes.get(name);
    if (n === undefined) throw new Error(`weightBits: no parameter ${name}`);
    return n;
  };
  const plan = planModel(cfg, policy, { batch: 1, totalSteps: 1 });
  let bits = 0;
  let weights = 0;
  plan.blocks.forEach((b, i) => {
    const format = linearPolicyAt(policy, i, plan.blocks.length, 0, 1).fprop.w.format;
    for (const name of Object.keys(b.block.linears)) {
      const n = size(`blocks.${i}.${snake(name)}`);
      bits += n * bitsPerValue(resolveFormat(format));
      weights += n;
    }
  });
  const head = size("lm_head");
  bits += head * (policy.head === "bf16" ? 16 : 32);
  weights += head;
  return bits / weights;
}
