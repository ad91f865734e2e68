/**
 * A recipe's `claims:` (issue 16): cited statements comparing its policies on a metric, which the
 * report tests against the runs' seeds (src/report/claims.ts). Here they are checked against the
 * recipe — the policies they name exist, a step has a validation point, margins make sense — with
 * every problem at its `file:line:column`, and put in the camelCase form the report reads.
 *
 * @module
 */

import type { KeyPath, Problem } from "./problems.ts";
import type { RecipeInput } from "./schema.ts";
import type { SourceFile } from "./source.ts";

/** What a claim compares per run. */
export type ClaimMetric =
  | { readonly kind: "final" }
  | { readonly kind: "atStep"; readonly step: number }
  | { readonly kind: "tokensToLoss"; readonly loss: number };

/**
 * What a claim says of Δ = metric(policy) − metric(versus): `worse` (Δ > 0), `better` (Δ < 0),
 * `within` (|Δ| ≤ margin · mean(versus)), `atMost` (Δ ≤ margin · mean(versus)), or `closes`
 * (policy closes at least `share` of the gap from `of` to versus).
 */
export type ClaimExpectation =
  | { readonly kind: "worse" }
  | { readonly kind: "better" }
  | { readonly kind: "within"; readonly margin: number }
  | { readonly kind: "atMost"; readonly margin: number }
  | { readonly kind: "closes"; readonly share: number; readonly of: string };

/** A declared claim. */
export interface Claim {
  /** Its key in the recipe's `claims`. */
  readonly name: string;
  /** Where it is published. */
  readonly source: string;
  /** The claim in words, where the recipe gives them. */
  readonly statement?: string;
  /** The policy it is about. */
  readonly policy: string;
  /** The policy it is compared with. */
  readonly versus: string;
  /** What is compared per run. */
  readonly metric: ClaimMetric;
  /** What the claim says. */
  readonly expect: ClaimExpectation;
  /** The level of its test. */
  readonly alpha: number;
}

/** A percentage as written (`"1.5%"`) as a fraction (0.015). */
const fraction = (p: string) => parseFloat(p) / 100;

/**
 * The claims of a recipe, checked against its policies, baseline and training settings; problems
 * go to `problems` (at the key they concern) and the claims with problems are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recipeClaims } from "./claims.ts";
 * import { SourceFile } from "./source.ts";
 * import type { Problem } from "./problems.ts";
 * const src = new SourceFile("r.yaml", "claims:\n  a: { source: paper, policy: nvfp4, expect: worse }\n");
 * const problems: Problem[] = [];
 * const claims = recipeClaims(
 *   src, { a: { source: "paper", policy: "nvfp4", expect: "worse" } },
 *   { policies: ["bf16", "nvfp4"], baseline: "bf16", steps: 100, evalEvery: 10 }, problems,
 * );
 * assert.deepEqual(claims[0], {
 *   name: "a", source: "paper", policy: "nvfp4", versus: "bf16", metric: { kind: "final" },
 *   expect: { kind: "worse" }, alpha: 0.05,
 * });
 * assert.deepEqual(problems, []);
 * ```
 */
export function recipeClaims(
  src: SourceFile,
  input: NonNullable<RecipeInput["claims"]>,
  recipe: {
    readonly policies: readonly string[];
    readonly baseline: string;
    readonly steps: number;
    readonly evalEvery: number;
  },
  problems: Problem[],
): Claim[] {
  return Object.entries(input).flatMap(([name, c]) => {
    const before = problems.length;
    const at = (...path: KeyPath) => ["claims", name, ...path];
    const known = (policy: string, path: KeyPath) => {
      if (!recipe.policies.includes(policy)) {
        problems.push(src.problem(
          path,
          `${JSON.stringify(policy)} is not a policy of this recipe (${
            recipe.policies.join(", ")
          })`,
        ));
      }
    };
    const versus = c.versus ?? recipe.baseline;
    known(c.policy, at("policy"));
    if (c.versus !== undefined) known(c.versus, at("versus"));
    if (c.policy === versus) {
      problems.push(src.problem(
        at(c.versus !== undefined ? "versus" : "policy"),
        `a claim compares two policies; policy and versus are both ${JSON.stringify(versus)}`,
      ));
    }
    const m = c.metric ?? "final";
    let metric: ClaimMetric;
    if (m === "final") metric = { kind: "final" };
    else if ("at_step" in m) {
      const step = m.at_step;
      if (step > recipe.steps || (step % recipe.evalEvery !== 0 && step !== recipe.steps)) {
        problems.push(src.problem(
          at("metric", "at_step"),
          `step ${step} has no validation point (train.eval.every is ${recipe.evalEvery}, ` +
            `train.steps ${recipe.steps})`,
        ));
      }
      metric = { kind: "atStep", step };
    } else metric = { kind: "tokensToLoss", loss: m.tokens_to_loss };
    const e = c.expect;
    let expect: ClaimExpectation;
    if (e === "worse" || e === "better") expect = { kind: e };
    else if ("within" in e) expect = { kind: "within", margin: fraction(e.within) };
    else if ("at_most" in e) expect = { kind: "atMost", margin: fraction(e.at_most) };
    else {
      expect = { kind: "closes", share: fraction(e.closes), of: e.of };
      known(e.of, at("expect", "of"));
      if (e.of === c.policy || e.of === versus) {
        problems.push(src.problem(
          at("expect", "of"),
          `the gap closed runs from another policy than policy and versus, got ${
            JSON.stringify(e.of)
          }`,
        ));
      }
    }
    if (
      (expect.kind === "within" && !(expect.margin > 0)) ||
      (expect.kind === "closes" && !(expect.share > 0 && expect.share <= 1))
    ) {
      problems.push(src.problem(
        at("expect", expect.kind === "closes" ? "closes" : "within"),
        expect.kind === "closes"
          ? "the share of the gap must be above 0% and at most 100%"
          : "the margin must be above 0%",
      ));
    }
    if (problems.length > before) return [];
    return [{
      name,
      source: c.source,
      ...(c.statement !== undefined ? { statement: c.statement } : {}),
      policy: c.policy,
      versus,
      metric,
      expect,
      alpha: c.alpha ?? 0.05,
    }];
  });
}
