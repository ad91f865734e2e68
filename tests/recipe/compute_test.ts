/**
 * `compute:` on a policy: `bf16` resolves into the policy (and so into its run id and record), is
 * inherited through `extends`, prints in `--dry-run`; `fp32`, the default, leaves the canonical
 * policy and the run id exactly as without the key; any other value is an error at its place.
 */

import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { runId } from "../../src/runner/run.ts";
import { describePlan } from "../../src/recipe/plan.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import type { RunSpec } from "../../src/recipe/run_spec.ts";
import { load, problems, withPolicies } from "./fixture.ts";

const DATA = { sha256: "d", tokenizer: "byte", parts: [] };

Deno.test("compute bf16 resolves, is inherited, prints in the plan and changes the run id; fp32 changes nothing", async () => {
  const recipe = await load(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  nvfp4: { extends: nvfp4 }\n" +
      "  nvfp4-fp32: { extends: nvfp4, compute: fp32 }\n" +
      "  nvfp4-bf16: { extends: nvfp4, compute: bf16 }\n" +
      "  child: { extends: nvfp4-bf16, grads: { rounding: rne } }\n" +
      "  back: { extends: nvfp4-bf16, compute: fp32 }\n",
  ));
  const byName = new Map(recipe.policies.map((p) => [p.name, p]));
  assertStrictEquals(byName.get("nvfp4-bf16")!.compute, "bf16");
  assertStrictEquals(byName.get("child")!.compute, "bf16");
  for (const name of ["nvfp4", "nvfp4-fp32", "back"]) {
    assertOk(!("compute" in byName.get(name)!), `${name}: fp32 is left out of the canonical form`);
  }
  const runs = expandRuns(recipe).filter((r) => r.seed === 0);
  const run = (name: string) => runs.find((r) => r.policy.name === name)!;
  const id = (spec: RunSpec) => runId(spec, DATA, "k", "deno");
  const renamed = (name: string) => ({
    ...run(name),
    policyName: "nvfp4",
    policy: run("nvfp4").policy,
  });
  // Under another name the same policy gets the same id only when compute matches.
  assertStrictEquals(id(renamed("nvfp4-fp32")), id(run("nvfp4")));
  assertOk(id(run("nvfp4-bf16")) !== id(run("nvfp4")));
  assertEquals({ ...run("nvfp4-fp32").policy, name: "nvfp4" }, run("nvfp4").policy);
  const text = describePlan(runs);
  assertOk(/nvfp4-bf16 +seed 0: .*; head bf16; compute bf16$/m.test(text), text);
  assertOk(/nvfp4-fp32 +seed 0: .*; head bf16$/m.test(text), text);
});

Deno.test("compute: a value other than fp32 or bf16 is an error at its line and column", async () => {
  const bad = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  a: { extends: nvfp4, compute: fp16 }\n",
  ));
  assertEquals(bad.length, 1, bad.join("\n"));
  assertOk(bad[0].startsWith("recipe.yaml:25:33 policies.a.compute: "), bad[0]);
  assertOk(bad[0].includes('"fp32"') && bad[0].includes('"bf16"'), bad[0]);
});
