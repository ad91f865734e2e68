/**
 * Bits per weight of a policy on a model: the storage bits (scales included) of each linear
 * layer's weight in its Fprop format, averaged over every linear weight by its size — so blocks
 * a policy keeps in high precision and the LM head count at their own precision.
 *
 * @module
 */

import { bitsPerValue, resolveFormat } from "../formats/spec.ts";
import { type ModelConfig, numel, paramSpecs } from "../model/config.ts";
import { namedLinears, planModel } from "../model/plan.ts";
import type { PrecisionPolicy } from "../model/policy.ts";

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
  // Each linear layer (the LM head too, in its fp32 or BF16) by its weight's Fprop format.
  for (const [layer, p] of namedLinears(plan)) {
    const n = size(layer);
    bits += n * bitsPerValue(resolveFormat(p.fprop.b.policy.format));
    weights += n;
  }
  return bits / weights;
}
