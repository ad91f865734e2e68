/**
 * Resolves policies as written into {@link PrecisionPolicy} objects: `extends` chains (a child
 * starts from its parent's resolved policy and changes what it names), the policies named by
 * `high_precision_blocks.policy` (default `bf16`) and `switch.to` (only their linear layers are
 * used) and by each `layers` selector's `policy`, with cycles and unknown names reported where
 * they are written.
 *
 * Names are looked up where they are written: in a recipe, another policy of the recipe by that
 * name, else the preset (so `nvfp4: { extends: nvfp4 }` extends the preset); in a preset, only
 * presets. `high_precision_blocks`, `layers`, `switch` and `eval_policy` replace the inherited ones
 * whole (`none` removes them); `head` and `compute` are inherited unless given. An `eval_policy` is
 * used whole (its linear layers, selectors, high-precision blocks, switch, head and compute) less
 * its own `eval_policy`. A policy that extends nothing must give every
 * operand's format and the head.
 *
 * @module
 */

import type { BlockCount, LinearPolicy, OperandPolicy, PrecisionPolicy } from "../model/policy.ts";
import { canonicalPolicy, OPERANDS } from "./canonical_policy.ts";
import { delayedScalingOf, resolveFormat } from "../formats/spec.ts";
import { applySettings, finishLinear, linearDraft } from "./operands.ts";
import type { PolicyDef, Presets } from "./presets.ts";
import type { KeyPath, Problem } from "./problems.ts";

/** Whether any operand of any linear policy of `p` has delayed FP8 scaling. */
function delayedIn(p: PrecisionPolicy): boolean {
  const linears = [
    p.linear,
    ...(p.layers ?? []).map((l) => l.policy),
    ...(p.highPrecisionBlocks ? [p.highPrecisionBlocks.policy] : []),
    ...(p.switchTo ? [p.switchTo.policy] : []),
  ];
  return linears.some((l) =>
    OPERANDS.some(([g, o]) =>
      delayedScalingOf(resolveFormat((l[g] as Record<string, OperandPolicy>)[o].format)) !==
        undefined
    )
  );
}

/** A block count as written (`2` or `"12.5%"`) as a {@link BlockCount}. */
const blocksOf = (v: number | string): BlockCount =>
  typeof v === "number" ? v : { percent: parseFloat(v) };

/**
 * Resolves the policies of one recipe (or presets alone), memoising each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PolicyResolver } from "./policies.ts";
 * import { Presets } from "./presets.ts";
 * import type { Problem } from "./problems.ts";
 * const problems: Problem[] = [];
 * const resolver = new PolicyResolver(new Map(), await Presets.read(), problems);
 * const noRht = resolver.resolve(resolver.presets.def("nvfp4-no-rht", problems)!);
 * assert.equal(noRht?.name, "nvfp4-no-rht");
 * assert.deepEqual(noRht?.linear.fprop.w, { format: "nvfp4-2d", rounding: "rne" }); // from nvfp4
 * assert.deepEqual(noRht?.linear.wgrad.x, { format: "nvfp4", rounding: "rne" }); // no RHT
 * assert.equal(noRht?.highPrecisionBlocks?.first, 1);
 * assert.deepEqual(problems, []);
 * ```
 */
export class PolicyResolver {
  /** The preset files names are looked up in. */
  readonly presets: Presets;
  readonly #recipe: ReadonlyMap<string, PolicyDef | null>;
  readonly #problems: Problem[];
  readonly #done = new Map<string, PrecisionPolicy | undefined>();
  readonly #stack: PolicyDef[] = [];

  /**
   * A resolver for the policies of one recipe and the presets.
   *
   * @param recipe the recipe's policies by name, `null` for those with problems of their own
   *   (references to them fail quietly); empty to resolve presets alone
   * @param presets the preset files
   * @param problems where problems go
   */
  constructor(
    recipe: ReadonlyMap<string, PolicyDef | null>,
    presets: Presets,
    problems: Problem[],
  ) {
    this.#recipe = recipe;
    this.presets = presets;
    this.#problems = problems;
  }

  /** The resolved policy, or undefined when it (or a policy it uses) has problems. */
  resolve(def: PolicyDef): PrecisionPolicy | undefined {
    const key = `${def.scope}:${def.name}`;
    if (this.#done.has(key)) return this.#done.get(key);
    this.#stack.push(def);
    try {
      const policy = this.#build(def);
      this.#done.set(key, policy);
      return policy;
    } finally {
      this.#stack.pop();
    }
  }

  #build(def: PolicyDef): PrecisionPolicy | undefined {
    const { input, src, path } = def;
    const before = this.#problems.length;
    let parent: PrecisionPolicy | undefined;
    if (input.extends !== undefined) {
      parent = this.#ref(def, input.extends, [...path, "extends"]);
      if (!parent) return undefined;
    }
    const draft = linearDraft(parent?.linear);
    applySettings(draft, input, src, path, this.#problems);
    const linear = finishLinear(draft, src, path, this.#problems);

    let hp = parent?.highPrecisionBlocks;
    const hpInput = input.high_precision_blocks;
    if (hpInput === "none") hp = undefined;
    else if (hpInput !== undefined) {
      const at = [...path, "high_precision_blocks", ...(hpInput.policy ? ["policy"] : [])];
      const target = this.#linearOf(def, hpInput.policy ?? "bf16", at);
      hp = target &&
        { first: blocksOf(hpInput.first), last: blocksOf(hpInput.last), policy: target };
    }
    let layers = parent?.layers;
    const layersInput = input.layers;
    if (layersInput === "none") layers = undefined;
    else if (layersInput !== undefined) {
      const resolved = layersInput.map((l, j) => {
        const policy = this.#linearOf(def, l.policy, [...path, "layers", j, "policy"]);
        return policy && { match: l.match, policy };
      });
      layers = resolved.every((l) => l !== undefined) ? resolved : undefined;
    }
    let switchTo = parent?.switchTo;
    const sw = input.switch;
    if (sw === "none") switchTo = undefined;
    else if (sw !== undefined) {
      const target = this.#linearOf(def, sw.to, [...path, "switch", "to"]);
      switchTo = target && { atFraction: sw.at, policy: target };
    }
    let evalPolicy = parent?.evalPolicy;
    const evalInput = input.eval_policy;
    if (evalInput === "none") evalPolicy = undefined;
    else if (evalInput !== undefined) {
      const target = this.#ref(def, evalInput, [...path, "eval_policy"]);
      if (target && delayedIn(target)) {
        this.#problems.push(def.src.problem(
          [...path, "eval_policy"],
          `policy "${target.name}" uses delayed FP8 scaling, which keeps amax histories that ` +
            "only training updates; evaluate under a policy without it",
        ));
        evalPolicy = undefined;
      } else if (target) {
        const { evalPolicy: _nested, ...forEval } = target;
        evalPolicy = forEval;
      } else evalPolicy = undefined;
    }
    const head = input.head ?? parent?.head;
    if (head === undefined) {
      this.#problems.push(
        src.problem(path, "no head; give head: fp32 or bf16 (or extend a preset that does)"),
      );
    }
    const compute = input.compute ?? parent?.compute;
    if (this.#problems.length > before || !linear || !head) return undefined;
    if (hpInput !== undefined && hpInput !== "none" && !hp) return undefined;
    if (sw !== undefined && sw !== "none" && !switchTo) return undefined;
    if (layersInput !== undefined && layersInput !== "none" && !layers) return undefined;
    if (evalInput !== undefined && evalInput !== "none" && !evalPolicy) return undefined;
    return canonicalPolicy({
      name: def.name,
      linear,
      ...(layers ? { layers } : {}),
      ...(hp ? { highPrecisionBlocks: hp } : {}),
      ...(switchTo ? { switchTo } : {}),
      head,
      ...(compute ? { compute } : {}),
      ...(evalPolicy ? { evalPolicy } : {}),
    });
  }

  #linearOf(from: PolicyDef, name: string, at: KeyPath): LinearPolicy | undefined {
    return this.#ref(from, name, at)?.linear;
  }

  /** The policy `name` as seen from `from`, reporting unknown names and cycles at `at`. */
  #ref(from: PolicyDef, name: string, at: KeyPath): PrecisionPolicy | undefined {
    const inRecipe = from.scope === "recipe" && this.#recipe.has(name);
    const target = inRecipe && name !== from.name
      ? this.#recipe.get(name)
      : inRecipe && !this.presets.names.includes(name)
      ? from
      : this.presets.def(name, this.#problems);
    if (target === null) return undefined;
    if (target === undefined) {
      const presets = this.presets.names.join(", ");
      const message = from.scope === "recipe"
        ? `unknown policy or preset ${JSON.stringify(name)} (presets: ${presets}; policies: ${
          [...this.#recipe.keys()].join(", ")
        })`
        : `unknown preset ${JSON.stringify(name)} (presets: ${presets})`;
      this.#problems.push(from.src.problem(at, message));
      return undefined;
    }
    const i = this.#stack.findIndex((d) => d.scope === target.scope && d.name === target.name);
    if (i >= 0) {
      const chain = [...this.#stack.slice(i), target].map((d) => d.name).join(" → ");
      this.#problems.push(from.src.problem(at, `cyclic reference: ${chain}`));
      return undefined;
    }
    return this.resolve(target);
  }
}
