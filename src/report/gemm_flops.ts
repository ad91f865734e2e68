/**
 * The share of a run's GEMM FLOPs in each number format: for every linear layer (blocks and the
 * LM head) its three GEMMs — Fprop, Dgrad, Wgrad, 2·m·n·k FLOPs each with the GEMM's own m, n, k
 * from the model's plan (`src/model/plan.ts`) — counted in the format family their operands are
 * quantized to (`nvfp4`, `mxfp4`, `mxfp8`, `fp8`, `bf16`, `fp16`, `fp32`; a GEMM whose operands
 * differ is named by both, e.g. `fp8×bf16`), over every training step, so that a late switch
 * counts each phase for its steps and blocks kept in high precision count at their own format.
 * Attention's score and value products and the Mamba scan are not linear layers' GEMMs (they run
 * in f32) and are left out, as are evaluation passes.
 *
 * @module
 */

import {
  bitsPerValue,
  type FormatName,
  formatOptionsLabel,
  type FormatSpec,
  nvfp4Family,
  resolveFormat,
} from "../formats/spec.ts";
import type { ModelConfig } from "../model/config.ts";
import type { GemmPlan, LinearPlan } from "../model/linear.ts";
import { planModel, policyPhases } from "../model/plan.ts";
import type { PrecisionPolicy } from "../model/policy.ts";

/** One format's share of the GEMM FLOPs. */
export interface FlopShare {
  /** The format family, or two joined by `×` for a GEMM whose operands differ. */
  readonly format: string;
  /** Its share of the FLOPs, in [0, 1]. */
  readonly share: number;
}

/**
 * The family a format belongs to, as a reader names it: NVFP4 whatever its tile (with its Four Over
 * Six and row-scaling options, `nvfp4+4over6/mae/256`, `nvfp4/rows`; NVINT4 and UFP4 for the
 * uniform INT4 and E1M2 grids), MXFP4 or MXFP8 whatever the element and scale rule, FP8 whatever
 * the element (with its delayed-scaling options, `fp8+delayed/max/len1024/margin0`), else the
 * element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFamily } from "./gemm_flops.ts";
 * assert.equal(formatFamily("nvfp4-2d"), "nvfp4");
 * assert.equal(formatFamily("fp8-e5m2"), "fp8");
 * assert.equal(formatFamily({ kind: "fp8", element: "e4m3", scaling: { delayed: {} } }), "fp8+delayed/max/len1024/margin0");
 * assert.equal(formatFamily({ kind: "mx", element: "e4m3" }), "mxfp8");
 * assert.equal(formatFamily("bf16"), "bf16");
 * assert.equal(formatFamily({ kind: "nvfp4", rowScaled: true }), "nvfp4/rows");
 * assert.equal(formatFamily("ufp4-2d"), "ufp4");
 * assert.equal(formatFamily({ kind: "nvfp4", element: "int4" }), "nvint4");
 * ```
 */
export function formatFamily(format: FormatName | FormatSpec): string {
  const f = resolveFormat(format);
  switch (f.kind) {
    case "nvfp4":
      return `${nvfp4Family(f)}${formatOptionsLabel(f)}`;
    case "mx":
      return f.element === "e2m1" ? "mxfp4" : "mxfp8";
    case "fp8":
      return `fp8${formatOptionsLabel(f)}`;
    case "float":
      return f.element;
  }
}

/** A GEMM's format: its operands' family, or both families (fewer bits first) where they differ. */
function gemmFormat(g: GemmPlan): string {
  const operands = [g.a.policy.format, g.b.policy.format].map((f) => ({
    family: formatFamily(f),
    bits: bitsPerValue(resolveFormat(f)),
  }));
  const families = [...new Map(operands.map((o) => [o.family, o.bits]))]
    .sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0))
    .map(([family]) => family);
  return families.join("×");
}

/** How many of the `steps` training steps (1-based) run in each phase, as the model picks it. */
function phaseSteps(policy: PrecisionPolicy, steps: number): [number, number] {
  let switched = 0;
  for (let step = 1; step <= steps; step++) {
    if (policy.switchTo && step >= policy.switchTo.atFraction * steps) switched++;
  }
  return [steps - switched, switched];
}

/**
 * The share of the GEMM FLOPs of a training run of `policy` on `cfg` (batch and steps of `train`)
 * in each format, largest first (see the module comment for what is counted).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmFlopShares } from "./gemm_flops.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const cfg = { pattern: "*-", dModel: 64, heads: 4, dFf: 256, seqLen: 32, vocab: 256, mlp: "relu2" } as const;
 * assert.deepEqual(gemmFlopShares(cfg, POLICIES.bf16, { batch: 4, steps: 10 }), [{ format: "bf16", share: 1 }]);
 * // nvfp4-all-layers quantizes every block; the LM head stays BF16.
 * const shares = gemmFlopShares(cfg, POLICIES["nvfp4-all-layers"], { batch: 4, steps: 10 });
 * assert.deepEqual(shares.map((s) => s.format), ["nvfp4", "bf16"]);
 * ```
 */
export function gemmFlopShares(
  cfg: ModelConfig,
  policy: PrecisionPolicy,
  train: { readonly batch: number; readonly steps: number },
): FlopShare[] {
  const counts = phaseSteps(policy, train.steps);
  const flops = new Map<string, number>();
  for (const phase of policyPhases(policy)) {
    if (counts[phase] === 0) continue;
    const plan = planModel(cfg, policy, { batch: train.batch, totalSteps: train.steps, phase });
    const linears: LinearPlan[] = [
      ...plan.blocks.flatMap((b) => Object.values(b.block.linears as Record<string, LinearPlan>)),
      plan.head.linear,
    ];
    for (const l of linears) {
      for (const g of [l.fprop, l.dgrad, l.wgrad]) {
        if (!g) continue;
        const f = gemmFormat(g);
        flops.set(f, (flops.get(f) ?? 0) + counts[phase] * 2 * g.dims.m * g.dims.n * g.dims.k);
      }
    }
  }
  const total = [...flops.values()].reduce((a, b) => a + b, 0);
  return [...flops.entries()]
    .map(([format, n]) => ({ format, share: total > 0 ? n / total : 0 }))
    .sort((a, b) => b.share - a.share || (a.format < b.format ? -1 : 1));
}

/**
 * Shares as a table cell, in whole percent: `nvfp4 83 %, bf16 17 %` (`< 1 %` for a share that
 * rounds to 0, `> 99 %` for one that rounds to 100 without being all).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFlopShares } from "./gemm_flops.ts";
 * const shares = [{ format: "nvfp4", share: 0.8302 }, { format: "bf16", share: 0.1698 }];
 * assert.equal(describeFlopShares(shares), "nvfp4 83 %, bf16 17 %");
 * assert.equal(describeFlopShares([{ format: "fp8", share: 0.996 }, { format: "bf16", share: 0.004 }]), "fp8 > 99 %, bf16 < 1 %");
 * ```
 */
export function describeFlopShares(shares: readonly FlopShare[]): string {
  return shares.map(({ format, share }) => {
    const percent = Math.round(100 * share);
    const text = percent === 0 && share > 0
      ? "< 1"
      : percent === 100 && share < 1
      ? "> 99"
      : String(percent);
    return `${format} ${text} %`;
  }).join(", ");
}
