/**
 * `claims:` in a recipe (issue 16 part 1): resolved into the form the report tests, not part of the
 * recipe's hash, and every mistake reported at its file:line:column.
 */

import { assertEquals } from "../assert.ts";
import { load, problems, withPolicies } from "./fixture.ts";

const POLICIES =
  "  bf16: { extends: bf16 }\n  nvfp4: { extends: nvfp4 }\n  mxfp4: { extends: mxfp4 }\n";

Deno.test("claims resolve with their defaults and leave the recipe's hash as it was", async () => {
  const plain = await load(withPolicies(POLICIES));
  const claimed = await load(withPolicies(
    POLICIES +
      "claims:\n" +
      "  near: { source: paper, policy: nvfp4, expect: { at_most: 1.5% } }\n" +
      "  mx: { source: paper, policy: mxfp4, versus: nvfp4, metric: { at_step: 10 }, expect: worse, alpha: 0.1 }\n" +
      "  gap: { source: paper, policy: nvfp4, expect: { closes: 50%, of: mxfp4 } }\n",
  ));
  assertEquals(claimed.hash, plain.hash);
  assertEquals(plain.claims, []);
  assertEquals(claimed.claims, [
    {
      name: "near",
      source: "paper",
      policy: "nvfp4",
      versus: "bf16",
      metric: { kind: "final" },
      expect: { kind: "atMost", margin: 0.015 },
      alpha: 0.05,
    },
    {
      name: "mx",
      source: "paper",
      policy: "mxfp4",
      versus: "nvfp4",
      metric: { kind: "atStep", step: 10 },
      expect: { kind: "worse" },
      alpha: 0.1,
    },
    {
      name: "gap",
      source: "paper",
      policy: "nvfp4",
      versus: "bf16",
      metric: { kind: "final" },
      expect: { kind: "closes", share: 0.5, of: "mxfp4" },
      alpha: 0.05,
    },
  ]);
});

Deno.test("a claim's mistakes are reported where they are written", async () => {
  const lines = await problems(withPolicies(
    POLICIES +
      "claims:\n" +
      "  a: { source: paper, policy: nvfp5, expect: worse }\n" +
      "  b: { source: paper, policy: nvfp4, metric: { at_step: 15 }, expect: worse }\n" +
      "  c: { source: paper, policy: nvfp4, versus: nvfp4, expect: better }\n" +
      "  d: { source: paper, policy: nvfp4, expect: { closes: 50%, of: bf16 } }\n" +
      "  e: { source: paper, policy: nvfp4, expect: { within: 1.5 } }\n" +
      "  f: { source: paper, policy: nvfp4, expect: { within: 0% } }\n",
  ));
  assertEquals(lines, [
    'recipe.yaml:28:31 claims.a.policy: "nvfp5" is not a policy of this recipe (bf16, nvfp4, mxfp4)',
    "recipe.yaml:29:57 claims.b.metric.at_step: step 15 has no validation point (train.eval.every " +
    "is 10, train.steps 20)",
    "recipe.yaml:30:46 claims.c.versus: a claim compares two policies; policy and versus are " +
    'both "nvfp4"',
    "recipe.yaml:31:65 claims.d.expect.of: the gap closed runs from another policy than policy " +
    'and versus, got "bf16"',
    'recipe.yaml:32:46 claims.e.expect: expected "worse", "better", { within: "p%" }, ' +
    '{ at_most: "p%" } or { closes: "p%", of: policy }, got {"within":1.5}',
    "recipe.yaml:33:56 claims.f.expect.within: the margin must be above 0%",
  ]);
});
