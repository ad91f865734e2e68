/**
 * The linear-layer part of a policy as it is being resolved: six operands, each a format, a
 * rounding and an optional RHT, changed by a policy's settings in a fixed order — `all`, then
 * the groups `activations` (fprop.x, wgrad.x), `weights` (fprop.w, dgrad.w) and `grads`
 * (dgrad.dy, wgrad.dy), then a GEMM's own settings (both its operands), then single operands.
 * Later, more specific settings win. A `block` is applied to the operand's final format when the
 * policy is done. Each setting remembers where it was written, so problems point at it.
 *
 * @module
 */

import { resolveDelayedOptions } from "../formats/fp8.ts";
import type { HadamardOptions } from "../formats/rht.ts";
import type { FormatName, FormatSpec, ResolvedNvfp4 } from "../formats/spec.ts";
import { resolveFormat } from "../formats/spec.ts";
import type { LinearPolicy, OperandPolicy } from "../model/policy.ts";
import {
  canonicalFormat,
  canonicalLinear,
  canonicalOperand,
  type Gemm,
  OPERANDS,
} from "./canonical_policy.ts";
import { formatPath, type KeyPath, type Problem, showValue } from "./problems.ts";
import type { FormatInput, OperandPatchInput, PolicyInput } from "./schema.ts";
import type { SourceFile } from "./source.ts";

/** Where a setting was written. */
interface Origin {
  readonly src: SourceFile;
  readonly path: KeyPath;
}

/** A setting's value and, when the policy being resolved wrote it, where. */
interface Setting<T> {
  readonly value: T;
  readonly at?: Origin;
}

/** One operand while a policy is resolved. */
interface OperandDraft {
  format?: Setting<FormatName | FormatSpec>;
  rounding?: Setting<"rne" | "stochastic">;
  rht?: Setting<HadamardOptions | null>;
  block?: Setting<readonly [number, number]>;
}

/** Operand key such as `fprop.x`. */
type OperandKey = `${Gemm}.${string}`;

/** The six operands of a linear layer while a policy is resolved. */
export type LinearDraft = Map<OperandKey, OperandDraft>;

const KEYS = OPERANDS.map(([g, o]) => `${g}.${o}` as OperandKey);

const GROUPS: readonly (readonly ["all" | "activations" | "weights" | "grads", OperandKey[]])[] = [
  ["all", KEYS],
  ["activations", ["fprop.x", "wgrad.x"]],
  ["weights", ["fprop.w", "dgrad.w"]],
  ["grads", ["dgrad.dy", "wgrad.dy"]],
];

/**
 * A draft holding an inherited linear policy (no origins), or nothing (a policy that extends
 * none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linearDraft } from "./operands.ts";
 * import { POLICIES } from "./preset_policies.ts";
 * assert.equal(linearDraft(POLICIES.nvfp4.linear).get("fprop.w")?.format?.value, "nvfp4-2d");
 * assert.equal(linearDraft().get("fprop.w")?.format, undefined);
 * ```
 */
export function linearDraft(inherited?: LinearPolicy): LinearDraft {
  const draft: LinearDraft = new Map();
  for (const [g, o] of OPERANDS) {
    const op = (inherited?.[g] as Record<string, OperandPolicy> | undefined)?.[o];
    draft.set(
      `${g}.${o}`,
      op
        ? {
          format: { value: op.format },
          rounding: { value: op.rounding ?? "rne" },
          rht: { value: op.rht ?? null },
        }
        : {},
    );
  }
  return draft;
}

/**
 * Applies a policy's operand settings to `draft`, in the order of the module header. `base` is
 * the policy's path in `src`. Problems (such as row scaling with 16×16 tiles) go to `problems`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applySettings, linearDraft } from "./operands.ts";
 * import { POLICIES } from "./preset_policies.ts";
 * import type { Problem } from "./problems.ts";
 * import { SourceFile } from "./source.ts";
 * const src = new SourceFile("p.yaml", "grads: { format: bf16 }\nwgrad: { dy: fp16 }\n");
 * const draft = linearDraft(POLICIES.fp32.linear);
 * const problems: Problem[] = [];
 * applySettings(draft, { grads: { format: "bf16" }, wgrad: { dy: "fp16" } }, src, [], problems);
 * assert.equal(draft.get("dgrad.dy")?.format?.value, "bf16");
 * assert.equal(draft.get("wgrad.dy")?.format?.value, "fp16");
 * assert.deepEqual(draft.get("wgrad.dy")?.format?.at?.path, ["wgrad", "dy", "format"]);
 * ```
 */
export function applySettings(
  draft: LinearDraft,
  policy: PolicyInput,
  src: SourceFile,
  base: KeyPath,
  problems: Problem[],
): void {
  const apply = (
    keys: readonly OperandKey[],
    patch: OperandPatchInput | undefined,
    path: KeyPath,
  ) => {
    if (patch === undefined) return;
    const settings = settingsOf(patch, { src, path }, problems);
    for (const key of keys) Object.assign(draft.get(key)!, settings);
  };
  for (const [group, keys] of GROUPS) apply(keys, policy[group], [...base, group]);
  for (const gemm of ["fprop", "dgrad", "wgrad"] as const) {
    const section = policy[gemm] as Record<string, unknown> | undefined;
    if (section === undefined) continue;
    const ops = OPERANDS.filter(([g]) => g === gemm).map(([, o]) => o);
    const { [ops[0]]: _a, [ops[1]]: _b, ...shared } = section;
    apply(ops.map((o) => `${gemm}.${o}` as OperandKey), shared, [...base, gemm]);
    for (const o of ops) {
      const own = section[o] as string | OperandPatchInput | undefined;
      const patch = typeof own === "string" ? { format: own as FormatName } : own;
      apply([`${gemm}.${o}`], patch, [...base, gemm, o]);
    }
  }
}

/** The settings a patch writes, each with its origin. */
function settingsOf(patch: OperandPatchInput, at: Origin, problems: Problem[]): OperandDraft {
  const here = (key: string): Origin => ({ src: at.src, path: [...at.path, key] });
  const out: OperandDraft = {};
  if (patch.format !== undefined) {
    const format = formatOf(patch.format, here("format"), problems);
    if (format !== undefined) out.format = { value: format, at: here("format") };
  }
  if (patch.rounding !== undefined) out.rounding = { value: patch.rounding, at: here("rounding") };
  if (patch.rht !== undefined) {
    const rht = patch.rht === "none"
      ? null
      : { size: patch.rht.size, ...rhtSigns(patch.rht.size, patch.rht.signs) };
    out.rht = { value: rht, at: here("rht") };
  }
  if (patch.block !== undefined) out.block = { value: patch.block, at: here("block") };
  return out;
}

/** The `signs` of a recipe's `rht` as HadamardOptions: fixed is the default, none all +1. */
function rhtSigns(
  size: number,
  signs: readonly number[] | "fixed" | "none" | "random" | undefined,
): Pick<HadamardOptions, "signs"> {
  if (signs === undefined || signs === "fixed") return {};
  if (signs === "none") return { signs: Array(size).fill(1) };
  return { signs };
}

/** A format as written, as a FormatName or FormatSpec; undefined after pushing a problem. */
function formatOf(
  input: FormatInput,
  at: Origin,
  problems: Problem[],
): FormatName | FormatSpec | undefined {
  if (typeof input === "string") return input;
  switch (input.kind) {
    case "float":
      return { kind: "float", element: input.element };
    case "fp8": {
      const delayed = input.scaling === undefined || input.scaling === "current"
        ? undefined
        : input.scaling.delayed;
      if (!delayed) return { kind: "fp8", element: input.element, scaling: "current" };
      return {
        kind: "fp8",
        element: input.element,
        scaling: {
          delayed: resolveDelayedOptions({
            historyLength: delayed.history_length,
            algo: delayed.algo,
            margin: delayed.margin,
          }),
        },
      };
    }
    case "mx":
      return { kind: "mx", element: input.element, scaleRule: input.scale_rule ?? "floor" };
    case "nvfp4": {
      const tile = input.tile ?? "1x16";
      if (input.row_scaled && tile !== "1x16") {
        problems.push(at.src.problem(
          [...at.path, "row_scaled"],
          "row_scaled needs 1x16 blocks: one amax per row cannot scale a 16×16 tile that spans " +
            "16 rows",
        ));
        return undefined;
      }
      const fos = input.four_over_six;
      const element = input.element ?? "e2m1";
      if (fos && element !== "e2m1") {
        problems.push(at.src.problem(
          [...at.path, "four_over_six"],
          `four_over_six needs E2M1 elements (it scales each block to E2M1's 4 or 6), not ` +
            `element ${element}`,
        ));
        return undefined;
      }
      return {
        kind: "nvfp4",
        ...(element !== "e2m1" ? { element } : {}),
        tile,
        ...(fos
          ? { fourOverSix: { error: fos.error ?? "mae", scaleBound: fos.scale_bound ?? 256 } }
          : {}),
        ...(input.row_scaled ? { rowScaled: true } : {}),
      };
    }
  }
}

/**
 * Finishes a policy's linear layers: applies each operand's `block`, checks every operand and
 * GEMM, and returns the canonical {@link LinearPolicy}, or undefined after pushing problems.
 * `base` locates problems that belong to no single setting (a missing format).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applySettings, finishLinear, linearDraft } from "./operands.ts";
 * import { POLICIES } from "./preset_policies.ts";
 * import type { Problem } from "./problems.ts";
 * import { SourceFile } from "./source.ts";
 * const src = new SourceFile("p.yaml", "grads: { rounding: stochastic }\n");
 * const problems: Problem[] = [];
 * const nvfp4 = linearDraft(POLICIES.nvfp4.linear);
 * assert.equal(finishLinear(nvfp4, src, [], problems)?.fprop.w.format, "nvfp4-2d");
 * const fp32 = linearDraft(POLICIES.fp32.linear);
 * applySettings(fp32, { grads: { rounding: "stochastic" } }, src, [], problems);
 * assert.equal(finishLinear(fp32, src, [], problems), undefined);
 * assert.deepEqual(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
 *   "1:20 grads.rounding: stochastic rounding needs a format narrower than fp32 (dgrad.dy, wgrad.dy)",
 * ]);
 * ```
 */
export function finishLinear(
  draft: LinearDraft,
  src: SourceFile,
  base: KeyPath,
  problems: Problem[],
): LinearPolicy | undefined {
  const before = problems.length;
  /** Problems by where and what, with the operands they concern. */
  const found = new Map<string, { at?: Origin; text: string; keys: OperandKey[] }>();
  const flag = (key: OperandKey, text: string, ...settings: (Setting<unknown> | undefined)[]) => {
    const at = settings.find((s) => s?.at)?.at;
    const id = `${at ? formatPath(at.path) : ""}\u0000${text}`;
    const entry = found.get(id) ?? { at, text, keys: [] };
    entry.keys.push(key);
    found.set(id, entry);
  };
  const ops = new Map<OperandKey, OperandPolicy>();
  for (const key of KEYS) {
    const op = draft.get(key)!;
    if (!op.format) {
      flag(key, "no format for {}; give one (or extend a preset that does)");
      continue;
    }
    let format = op.format.value;
    if (op.block) {
      if (resolveFormat(format).kind !== "nvfp4") {
        const blocks = showValue(op.block.value);
        flag(key, `${blocks} blocks need an NVFP4 format, not ${showValue(format)}`, op.block);
        continue;
      }
      const tile = op.block.value[0] === 16 ? "16x16" : "1x16";
      const { rowScaled, ...options } = resolveFormat(format) as ResolvedNvfp4;
      if (rowScaled && tile === "16x16") {
        flag(
          key,
          "[16,16] blocks cannot be combined with a row_scaled format",
          op.block,
          op.format,
        );
        continue;
      }
      format = canonicalFormat({ ...options, tile, ...(rowScaled ? { rowScaled } : {}) });
      op.format = { value: format, at: op.block.at };
      delete op.block;
    }
    const spec = resolveFormat(format);
    const rounding = op.rounding?.value ?? "rne";
    const rht = op.rht?.value ?? undefined;
    if (rounding === "stochastic" && spec.kind === "float" && spec.element === "fp32") {
      flag(key, "stochastic rounding needs a format narrower than fp32", op.rounding, op.format);
    }
    if (rounding === "stochastic" && spec.kind === "nvfp4" && spec.fourOverSix) {
      flag(
        key,
        "four_over_six compares two round-to-nearest candidates; it cannot be combined with " +
          "stochastic rounding (TransformerEngine refuses it too)",
        op.rounding,
        op.format,
      );
    }
    if (rht && spec.kind === "nvfp4" && spec.tile === "16x16") {
      flag(key, "an RHT cannot be combined with 16×16 NVFP4 tiles", op.rht, op.format);
    }
    if (rht?.signs && rht.signs !== "random" && rht.signs.length !== rht.size) {
      flag(key, `rht.signs must hold ${rht.size} entries, got ${rht.signs.length}`, op.rht);
    }
    ops.set(key, { format, rounding, ...(rht ? { rht } : {}) });
  }
  for (const { at, text, keys } of found.values()) {
    const names = keys.join(", ");
    const message = text.includes("{}") ? text.replace("{}", names) : `${text} (${names})`;
    problems.push((at?.src ?? src).problem(at?.path ?? base, message));
  }
  for (const gemm of ["fprop", "dgrad", "wgrad"] as const) {
    const [a, b] = KEYS.filter((k) => k.startsWith(`${gemm}.`));
    if (!ops.has(a) || !ops.has(b)) continue;
    const [ra, rb] = [canonicalOperand(ops.get(a)!).rht, canonicalOperand(ops.get(b)!).rht];
    if (JSON.stringify(ra ?? null) !== JSON.stringify(rb ?? null)) {
      const at = [draft.get(a)!.rht, draft.get(b)!.rht].find((s) => s?.at)?.at;
      problems.push((at?.src ?? src).problem(
        at?.path ?? base,
        `${a} has rht ${showValue(ra ?? "none")} but ${b} has ${showValue(rb ?? "none")}; ` +
          `both operands of a GEMM need the same transform`,
      ));
    }
  }
  if (problems.length > before) return undefined;
  const op = (k: OperandKey) => ops.get(k)!;
  return canonicalLinear({
    fprop: { x: op("fprop.x"), w: op("fprop.w") },
    dgrad: { dy: op("dgrad.dy"), w: op("dgrad.w") },
    wgrad: { dy: op("wgrad.dy"), x: op("wgrad.x") },
  });
}
