/**
 * `eval_policy:` in a policy (issue 14 item 8): resolved like the other policy references,
 * inherited through `extends` and removed by `none`, part of a run's identity only where given,
 * shown by --dry-run, and bad values reported where they are written.
 */

import { assertEquals, assertOk } from "../assert.ts";
import { describePlan } from "../../src/recipe/plan.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import { runId } from "../../src/runner/run.ts";
import type { RunSpec } from "../../src/recipe/run_spec.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { load, problems, withPolicies } from "./fixture.ts";

const EVALUATED = "  bf16: { extends: bf16 }\n" +
  "  nvfp4: { extends: nvfp4 }\n" +
  "  evaluated: { extends: nvfp4, eval_policy: bf16 }\n" +
  "  inherited: { extends: evaluated, grads: { rounding: rne } }\n" +
  "  removed: { extends: evaluated, eval_policy: none }\n" +
  "  selected:\n" +
  "    extends: nvfp4\n" +
  "    eval_policy: nvfp4\n";

Deno.test("eval_policy resolves to the named policy, is inherited, and none removes it", async () => {
  const recipe = await load(withPolicies(EVALUATED));
  const of = (name: string) => recipe.policies.find((p) => p.name === name)!;
  assertEquals(of("evaluated").evalPolicy, { ...POLICIES.bf16, name: "bf16" });
  assertEquals(of("evaluated").linear, POLICIES.nvfp4.linear);
  assertEquals(of("inherited").evalPolicy, of("evaluated").evalPolicy);
  assertEquals(of("removed").evalPolicy, undefined);
  assertEquals(of("removed"), { ...of("nvfp4"), name: "removed" });
  // A recipe policy named in eval_policy is used without an eval_policy of its own.
  assertEquals(of("selected").evalPolicy?.name, "nvfp4");
  assertEquals(of("selected").evalPolicy?.evalPolicy, undefined);
});

Deno.test("eval_policy is part of a run's identity; none gives the training policy's run", async () => {
  const recipe = await load(withPolicies(EVALUATED));
  const runs = expandRuns(recipe).filter((r) => r.seed === 0);
  const data = { sha256: "d", tokenizer: "byte", parts: [] };
  const id = (name: string) =>
    runId(runs.find((r) => r.policyName === name) as RunSpec, data, "k", "deno");
  assertOk(id("evaluated") !== id("nvfp4"));
  assertEquals(id("removed"), id("nvfp4").replace(/^nvfp4/, "removed"));
});

Deno.test("--dry-run names the policy evaluation runs under", async () => {
  const recipe = await load(withPolicies(EVALUATED));
  const text = describePlan(expandRuns(recipe).filter((r) => r.policyName === "evaluated"));
  assertOk(text.includes("; head bf16; evaluated as bf16 (bf16; head bf16)\n"), text);
});

Deno.test("an unknown or malformed eval_policy is reported where it is written", async () => {
  const unknown = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n  p: { extends: nvfp4, eval_policy: bf17 }\n",
  ));
  assertEquals(unknown.map((l) => l.slice(0, l.indexOf(" ("))), [
    'recipe.yaml:25:37 policies.p.eval_policy: unknown policy or preset "bf17"',
  ]);
  const malformed = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n  p: { extends: nvfp4, eval_policy: [bf16] }\n",
  ));
  const delayed = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n  p: { extends: nvfp4, eval_policy: fp8-delayed }\n",
  ));
  assertEquals(delayed, [
    'recipe.yaml:25:37 policies.p.eval_policy: policy "fp8-delayed" uses delayed FP8 scaling, ' +
    "which keeps amax histories that only training updates; evaluate under a policy without it",
  ]);
  assertEquals(malformed, [
    'recipe.yaml:25:37 policies.p.eval_policy: expected a policy name or "none", got ["bf16"]',
  ]);
});
