/**
 * TransformerEngine's NVFP4 options in recipes: `four_over_six` and `row_scaled` on an nvfp4
 * format spec resolve into the policy (and so into the run id and record), `--dry-run` prints them,
 * and the combinations that make no sense are errors at their line and column.
 */

import { assertEquals, assertOk } from "../assert.ts";
import { runId } from "../../src/runner/run.ts";
import { describePlan } from "../../src/recipe/plan.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import { load, problems, withPolicies } from "./fixture.ts";

const FOS = "{ kind: nvfp4, four_over_six: { error: mse } }";
const FOS_2D = "{ kind: nvfp4, tile: 16x16, four_over_six: { scale_bound: 448 } }";
const ROWS = "{ kind: nvfp4, row_scaled: true }";

Deno.test("four_over_six and row_scaled resolve with TE's defaults, print in the plan and change run ids", async () => {
  const recipe = await load(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      `  fos: { extends: nvfp4-no-rht, weights: { format: ${FOS_2D} }, activations: { format: ${FOS} } }\n` +
      `  rows: { extends: nvfp4, activations: { format: ${ROWS} } }\n` +
      "  plain: { extends: nvfp4-no-rht }\n",
  ));
  const [, fos, rows] = recipe.policies;
  assertEquals(fos.linear.fprop.x.format, {
    kind: "nvfp4",
    tile: "1x16",
    fourOverSix: { error: "mse", scaleBound: 256 },
  });
  assertEquals(fos.linear.dgrad.w.format, {
    kind: "nvfp4",
    tile: "16x16",
    fourOverSix: { error: "mae", scaleBound: 448 },
  });
  assertEquals(fos.linear.wgrad.dy.format, "nvfp4"); // gradients keep plain NVFP4, as in TE
  assertEquals(rows.linear.wgrad.x, {
    format: { kind: "nvfp4", tile: "1x16", rowScaled: true },
    rounding: "rne",
    rht: { size: 16 },
  });
  const runs = expandRuns(recipe).filter((r) => r.seed === 0);
  const text = describePlan(runs);
  assertOk(
    text.includes("fprop x nvfp4-1x16+4over6/mse/256 w nvfp4-16x16+4over6/mae/448"),
    text,
  );
  assertOk(text.includes("wgrad dy nvfp4/sr+rht16 x nvfp4-1x16/rows+rht16"), text);
  const data = { sha256: "d", tokenizer: "byte", parts: [] };
  const id = (name: string) => runId(runs.find((r) => r.policy.name === name)!, data, "k", "deno");
  assertOk(id("fos") !== id("plain"));
});

Deno.test("four_over_six with stochastic rounding and row_scaled on 16×16 tiles are errors at their place", async () => {
  const bad = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      `  a: { extends: nvfp4, grads: { format: ${FOS} } }\n` +
      "  b: { extends: nvfp4, weights: { format: { kind: nvfp4, tile: 16x16, row_scaled: true } } }\n" +
      `  c: { extends: nvfp4, activations: { format: ${ROWS}, block: [16, 16] } }\n`,
  ));
  assertEquals(bad.length, 3, bad.join("\n"));
  assertOk(bad[0].startsWith("recipe.yaml:"), bad[0]);
  assertOk(
    bad.some((p) =>
      p.includes("policies.a.grads.format: four_over_six compares two round-to-nearest") &&
      p.endsWith("(dgrad.dy, wgrad.dy)")
    ),
    bad.join("\n"),
  );
  assertOk(
    bad.some((p) => p.includes("policies.b.weights.format.row_scaled: row_scaled needs 1x16")),
    bad.join("\n"),
  );
  assertOk(
    bad.some((p) => p.includes("policies.c.activations.block: [16,16] blocks cannot be combined")),
    bad.join("\n"),
  );
  const bound = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  d: { extends: nvfp4, all: { format: { kind: nvfp4, four_over_six: { scale_bound: 300 } } } }\n",
  ));
  assertEquals(bound, [
    "recipe.yaml:25:84 policies.d.all.format.four_over_six.scale_bound: expected one of 256, 448, " +
    "got 300",
  ]);
});
