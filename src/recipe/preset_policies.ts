/**
 * The built-in precision policies: every preset of `recipes/presets/` resolved to a
 * {@link PrecisionPolicy} by the code that resolves a recipe's `extends: <preset>`, so the
 * preset files are the only definition of a policy name. {@link POLICIES} is read once, when
 * this module is first imported (importing it needs read access to `recipes/presets/`);
 * {@link presetPolicy} gets one preset by name.
 *
 * Policies are in canonical form (every operand's rounding spelled out) and named by their
 * file (`fp8-current.yaml` is `fp8-current`). A preset that does not resolve (none of the shipped
 * ones) would be left out of {@link POLICIES}; {@link presetPolicy} throws its problems, each at
 * its file and line.
 *
 * @module
 */

import type { PrecisionPolicy } from "../model/policy.ts";
import { PolicyResolver } from "./policies.ts";
import { Presets, PRESETS_DIR } from "./presets.ts";
import { type Problem, RecipeError } from "./problems.ts";

/**
 * The presets of one folder, resolved: those that resolve by name, the problems of the others.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PresetPolicies } from "./preset_policies.ts";
 * const presets = await PresetPolicies.read();
 * assert.equal(presets.get("nvfp4").highPrecisionBlocks?.first, 1);
 * assert.ok(presets.names.includes("fp8-delayed"));
 * assert.equal(presets.failures.size, 0);
 * ```
 */
export class PresetPolicies {
  /** Every preset name (resolving or not), sorted. */
  readonly names: readonly string[];
  /** The presets that resolve, by name, in name order. */
  readonly policies: Readonly<Record<string, PrecisionPolicy>>;
  /**
   * The presets that do not resolve, by name: the problems of resolving each, including those
   * of the presets it uses (as a recipe extending it would report them).
   */
  readonly failures: ReadonlyMap<string, readonly Problem[]>;

  private constructor(
    names: readonly string[],
    policies: Readonly<Record<string, PrecisionPolicy>>,
    failures: ReadonlyMap<string, readonly Problem[]>,
  ) {
    this.names = names;
    this.policies = policies;
    this.failures = failures;
  }

  /** Reads and resolves every `*.yaml` file of `dir` (default {@link PRESETS_DIR}). */
  static async read(dir: URL = PRESETS_DIR): Promise<PresetPolicies> {
    const presets = await Presets.read(dir);
    const policies: Record<string, PrecisionPolicy> = {};
    const failures = new Map<string, readonly Problem[]>();
    for (const name of presets.names) {
      const problems: Problem[] = [];
      const own = presets.fresh();
      const def = own.def(name, problems);
      const policy = def && new PolicyResolver(new Map(), own, problems).resolve(def);
      if (policy) policies[name] = policy;
      else failures.set(name, problems);
    }
    return new PresetPolicies(presets.names, Object.freeze(policies), failures);
  }

  /**
   * The preset `name`.
   *
   * @throws {RecipeError} with its problems when the preset does not resolve.
   * @throws {RangeError} naming the presets when there is no preset `name`.
   */
  get(name: string): PrecisionPolicy {
    if (Object.hasOwn(this.policies, name)) return this.policies[name];
    const problems = this.failures.get(name);
    if (problems) throw new RecipeError(problems);
    throw new RangeError(
      `unknown preset ${JSON.stringify(name)} (presets: ${this.names.join(", ")})`,
    );
  }
}

const BUILT_IN = await PresetPolicies.read();

/**
 * Every preset of `recipes/presets/` that resolves, by name: `fp32`, `bf16`, `fp8-current` (TE
 * HYBRID current scaling: E4M3 forward, E5M2 gradients), `fp8-delayed` (the same with TE's
 * `DelayedScaling` defaults: a 1024-step amax history, its max, margin 0), `mxfp8`, `mxfp4` (OCP
 * floor rule, all operands), `nvfp4` (the paper's recipe with the first and last block in BF16)
 * and its ablations `nvfp4-no-rht`, `nvfp4-no-sr`, `nvfp4-no-2d`, `nvfp4-all-layers`, `nvfp4-rtn`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { POLICIES } from "./preset_policies.ts";
 * assert.equal(POLICIES.nvfp4.linear.fprop.w.format, "nvfp4-2d");
 * assert.equal(POLICIES["fp8-current"].linear.dgrad.dy.format, "fp8-e5m2");
 * assert.equal(POLICIES["nvfp4-all-layers"].highPrecisionBlocks, undefined);
 * const dy = POLICIES["fp8-delayed"].linear.dgrad.dy.format;
 * assert.deepEqual(dy, {
 *   kind: "fp8", element: "e5m2", scaling: { delayed: { historyLength: 1024, algo: "max", margin: 0 } },
 * });
 * ```
 */
export const POLICIES: Readonly<Record<string, PrecisionPolicy>> = BUILT_IN.policies;

/**
 * The preset `name` of `recipes/presets/`.
 *
 * @throws {RangeError} naming the presets when there is no preset `name`.
 * @throws {RecipeError} with the problems of a preset that does not resolve, each at its preset
 *   file, line and column.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { POLICIES, presetPolicy } from "./preset_policies.ts";
 * assert.equal(presetPolicy("mxfp4").linear.wgrad.x.format, "mxfp4");
 * assert.throws(() => presetPolicy("nvfp5"), /unknown preset "nvfp5" \(presets: bf16, fp32, /);
 * assert.equal(presetPolicy("fp8-delayed").linear.fprop.x.format, POLICIES["fp8-delayed"].linear.fprop.x.format);
 * ```
 */
export function presetPolicy(name: string): PrecisionPolicy {
  return BUILT_IN.get(name);
}
