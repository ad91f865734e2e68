/**
 * The canonical form of a precision policy, so that policies that train identically are equal
 * and hash alike: every operand's rounding spelled out, formats by name where a named format
 * is meant (a full spec otherwise, with its defaults filled in), the default RHT sign vector left
 * implicit, and no high-precision blocks when there are none.
 *
 * @module
 */

import { defaultSigns, type HadamardOptions } from "../formats/rht.ts";
import {
  FORMAT_NAMES,
  type FormatName,
  type FormatSpec,
  type ResolvedFormat,
  resolveFormat,
} from "../formats/spec.ts";
import type { LinearPolicy, OperandPolicy, PrecisionPolicy } from "../model/policy.ts";

/**
 * The six operands of a linear layer as [GEMM, operand] pairs, in a fixed order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OPERANDS } from "./canonical_policy.ts";
 * assert.deepEqual(OPERANDS.map(([g, o]) => `${g}.${o}`).slice(0, 2), ["fprop.x", "fprop.w"]);
 * ```
 */
export const OPERANDS = [
  ["fprop", "x"],
  ["fprop", "w"],
  ["dgrad", "dy"],
  ["dgrad", "w"],
  ["wgrad", "dy"],
  ["wgrad", "x"],
] as const;

/** A GEMM of a linear layer. */
export type Gemm = typeof OPERANDS[number][0];

const sameFormat = (a: ResolvedFormat, b: ResolvedFormat) =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([k, v]) => (b as unknown as Record<string, unknown>)[k] === v);

/**
 * A format's canonical form: its name where one names it, else the spec with defaults filled.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalFormat } from "./canonical_policy.ts";
 * assert.equal(canonicalFormat({ kind: "nvfp4", tile: "16x16" }), "nvfp4-2d");
 * assert.deepEqual(canonicalFormat({ kind: "mx", element: "e2m1", scaleRule: "ceil" }), {
 *   kind: "mx", element: "e2m1", scaleRule: "ceil",
 * });
 * ```
 */
export function canonicalFormat(format: FormatName | FormatSpec): FormatName | FormatSpec {
  const resolved = resolveFormat(format);
  return FORMAT_NAMES.find((n) => sameFormat(resolveFormat(n), resolved)) ??
    (resolved as FormatSpec);
}

/**
 * An RHT with its size spelled out and its signs only where they differ from the default (a
 * vector of d entries, or `"random"`).
 */
function canonicalRht(rht: HadamardOptions): HadamardOptions {
  const size = rht.size ?? 16;
  const signs = rht.signs;
  if (signs === "random") return { size, signs };
  const isDefault = !signs || defaultSigns(size).every((s, i) => signs[i] === s);
  return isDefault ? { size } : { size, signs: [...signs] };
}

/**
 * An operand's canonical form: `format`, `rounding` and, where there is one, `rht`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalOperand } from "./canonical_policy.ts";
 * assert.deepEqual(canonicalOperand({ format: "nvfp4", rht: {} }), {
 *   format: "nvfp4", rounding: "rne", rht: { size: 16 },
 * });
 * ```
 */
export function canonicalOperand(op: OperandPolicy): OperandPolicy {
  return {
    format: canonicalFormat(op.format),
    rounding: op.rounding ?? "rne",
    ...(op.rht ? { rht: canonicalRht(op.rht) } : {}),
  };
}

/**
 * A linear layer policy with canonical operands.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uniformLinear } from "../model/policy.ts";
 * import { canonicalLinear } from "./canonical_policy.ts";
 * const l = canonicalLinear(uniformLinear("bf16"));
 * assert.deepEqual(l.fprop.x, { format: "bf16", rounding: "rne" });
 * ```
 */
export function canonicalLinear(p: LinearPolicy): LinearPolicy {
  return {
    fprop: { x: canonicalOperand(p.fprop.x), w: canonicalOperand(p.fprop.w) },
    dgrad: { dy: canonicalOperand(p.dgrad.dy), w: canonicalOperand(p.dgrad.w) },
    wgrad: { dy: canonicalOperand(p.wgrad.dy), x: canonicalOperand(p.wgrad.x) },
  };
}

/**
 * A policy's canonical form (what recipes resolve to).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uniformLinear } from "../model/policy.ts";
 * import { canonicalPolicy } from "./canonical_policy.ts";
 * const p = canonicalPolicy({
 *   name: "p",
 *   linear: uniformLinear("nvfp4", "nvfp4", "stochastic"),
 *   highPrecisionBlocks: { first: 0, last: 0, policy: uniformLinear("bf16") },
 *   head: "bf16",
 * });
 * assert.deepEqual(p.linear.fprop.x, { format: "nvfp4", rounding: "rne" });
 * assert.deepEqual(p.linear.wgrad.dy, { format: "nvfp4", rounding: "stochastic" });
 * assert.equal(p.highPrecisionBlocks, undefined);
 * assert.deepEqual(canonicalPolicy(p), p);
 * ```
 */
export function canonicalPolicy(p: PrecisionPolicy): PrecisionPolicy {
  const hp = p.highPrecisionBlocks;
  return {
    name: p.name,
    linear: canonicalLinear(p.linear),
    ...(p.layers
      ? { layers: p.layers.map((l) => ({ match: l.match, policy: canonicalLinear(l.policy) })) }
      : {}),
    ...(hp && [hp.first, hp.last].some((c) => (typeof c === "number" ? c : c.percent) > 0)
      ? {
        highPrecisionBlocks: { first: hp.first, last: hp.last, policy: canonicalLinear(hp.policy) },
      }
      : {}),
    ...(p.switchTo
      ? {
        switchTo: { atFraction: p.switchTo.atFraction, policy: canonicalLinear(p.switchTo.policy) },
      }
      : {}),
    head: p.head,
    // fp32, the default, is left out, so the run ids of policies without compute stay as they were.
    ...(p.compute === "bf16" ? { compute: "bf16" as const } : {}),
    ...(p.evalPolicy ? { evalPolicy: canonicalPolicy(p.evalPolicy) } : {}),
  };
}
