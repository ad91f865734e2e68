/**
 * The uniform 4-bit grids in recipes: `nvint4` / `ufp4` (and their `-2d` tiles) by name or as an
 * nvfp4 spec's `element`, resolved into the policy (so into the run id and record), printed by
 * `--dry-run`, and errors at their line and column where a grid or a combination is not allowed.
 */

import { assertEquals, assertOk } from "../assert.ts";
import { runId } from "../../src/runner/run.ts";
import { describePlan } from "../../src/recipe/plan.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import { load, problems, withPolicies } from "./fixture.ts";

Deno.test("nvint4 and ufp4 resolve by name and by element, print in the plan and change run ids", async () => {
  const recipe = await load(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  int4: { extends: nvfp4, all: { format: nvint4 }, weights: { block: [16, 16] } }\n" +
      "  e1m2: { extends: nvfp4, activations: { format: { kind: nvfp4, element: e1m2 } } }\n" +
      "  plain: { extends: nvfp4 }\n",
  ));
  const [, int4, e1m2] = recipe.policies;
  assertEquals(int4.linear.fprop.x.format, "nvint4");
  assertEquals(int4.linear.fprop.w.format, "nvint4-2d");
  assertEquals(int4.linear.wgrad.dy, {
    format: "nvint4",
    rounding: "stochastic",
    rht: { size: 16 },
  });
  assertEquals(e1m2.linear.fprop.x.format, "ufp4"); // the canonical name of the spec
  assertEquals(e1m2.linear.fprop.w.format, "nvfp4-2d");
  const runs = expandRuns(recipe).filter((r) => r.seed === 0);
  const text = describePlan(runs);
  assertOk(text.includes("fprop x nvint4 w nvint4-2d"), text);
  assertOk(text.includes("fprop x ufp4 w nvfp4-2d"), text);
  const data = { sha256: "d", tokenizer: "byte", parts: [] };
  const id = (name: string) => runId(runs.find((r) => r.policy.name === name)!, data, "k", "deno");
  assertOk(id("e1m2") !== id("plain"));
  assertOk(id("int4") !== id("e1m2"));
});

Deno.test("an unknown element and four_over_six on a uniform grid are errors at their place", async () => {
  const bad = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  a: { extends: nvfp4, all: { format: { kind: nvfp4, element: e3m0 } } }\n",
  ));
  assertEquals(bad, [
    `recipe.yaml:25:63 policies.a.all.format.element: expected one of "e2m1", "int4", "e1m2", got "e3m0"`,
  ]);
  const fos = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  b: { extends: nvfp4-no-rht, weights: { format: { kind: nvfp4, element: int4, four_over_six: {} } } }\n",
  ));
  assertEquals(fos.length, 1, fos.join("\n"));
  assertOk(
    fos[0].startsWith(
      "recipe.yaml:25:95 policies.b.weights.format.four_over_six: four_over_six needs E2M1 elements",
    ),
    fos[0],
  );
});
