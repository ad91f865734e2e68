/**
 * The presets of published recipes (issue 14 item 9) and the block shares they need: `nvfp4-llama`
 * (the last 12.5 % of the blocks in BF16) and `nemotron-h` (attention in BF16, Mamba-2 out_proj in
 * MXFP8, the last 15.9 % in BF16); a share becomes the block count it means for the recipe's model,
 * gives the same run as that count, and a bad share is reported where it is written.
 */

import { assertEquals, assertOk } from "../assert.ts";
import { namedLinears, planModel } from "../../src/model/plan.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import { runId } from "../../src/runner/run.ts";
import type { RunSpec } from "../../src/recipe/run_spec.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { BASE, edit, load, problems, withPolicies } from "./fixture.ts";

const HYBRID = edit(
  withPolicies(
    "  bf16: { extends: bf16 }\n  nemotron-h: { extends: nemotron-h }\n" +
      "  llama: { extends: nvfp4-llama }\n",
  ),
  ['pattern: "*-*-"', 'pattern: "M-M-M*-M-M-M*-M-"'],
  ["mlp: relu2\n", "mlp: relu2\n  mamba: { head_dim: 8 }\n"],
);

Deno.test("nvfp4-llama keeps the last 12.5 % of the blocks in BF16, as a count for the model", async () => {
  const recipe = await load(HYBRID);
  const llama = recipe.policies.find((p) => p.name === "llama")!;
  assertEquals(llama.highPrecisionBlocks, { first: 0, last: 2, policy: POLICIES.bf16.linear });
  assertEquals(POLICIES["nvfp4-llama"].highPrecisionBlocks?.last, { percent: 12.5 });
  assertEquals(llama.linear, POLICIES.nvfp4.linear);
});

Deno.test("nemotron-h: attention BF16, Mamba-2 out_proj MXFP8, the last 3 of 16 blocks BF16", async () => {
  const recipe = await load(HYBRID);
  const policy = recipe.policies.find((p) => p.name === "nemotron-h")!;
  const plan = planModel(recipe.model, policy, { batch: recipe.train.batch, totalSteps: 10 });
  const formats = Object.fromEntries(
    namedLinears(plan).map(([layer, p]) => [layer, p.fprop.b.policy.format]),
  );
  const bf16 = POLICIES.bf16.linear.fprop.w.format;
  const mxfp8 = POLICIES.mxfp8.linear.fprop.w.format;
  assertEquals(formats["blocks.5.qkv"], bf16);
  assertEquals(formats["blocks.5.proj"], bf16);
  assertEquals(formats["blocks.0.out_proj"], mxfp8);
  assertEquals(formats["blocks.0.in_proj"], POLICIES.nvfp4.linear.fprop.w.format);
  assertEquals(formats["blocks.1.fc1"], POLICIES.nvfp4.linear.fprop.w.format);
  // 15.9 % of 16 blocks is 2.5: blocks 13, 14 and 15; selectors come first (out_proj stays MXFP8).
  assertEquals(formats["blocks.12.fc1"], undefined); // block 12 is attention
  assertEquals(formats["blocks.13.fc1"], bf16);
  assertEquals(formats["blocks.14.in_proj"], bf16);
  assertEquals(formats["blocks.14.out_proj"], mxfp8);
  assertEquals(formats["blocks.15.fc2"], bf16);
});

Deno.test("a share gives the same run as the count it means", async () => {
  const recipe = await load(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  share: { extends: nvfp4, high_precision_blocks: { first: 0, last: 25% } }\n" +
      "  count: { extends: nvfp4, high_precision_blocks: { first: 0, last: 1 } }\n",
  ));
  const runs = expandRuns(recipe).filter((r) => r.seed === 0);
  const data = { sha256: "d", tokenizer: "byte", parts: [] };
  const id = (name: string) =>
    runId(runs.find((r) => r.policyName === name) as RunSpec, data, "k", "deno")
      .replace(name, "");
  assertEquals(id("share"), id("count"));
  assertOk(id("share") !== id("bf16"));
});

Deno.test("a bad share, or a preset's selector the model cannot match, is reported", async () => {
  const bad = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  p: { extends: nvfp4, high_precision_blocks: { first: 0, last: 120% } }\n",
  ));
  assertEquals(bad, [
    "recipe.yaml:25:65 policies.p.high_precision_blocks.last: expected a number of blocks or a " +
    'share of them from 0% to 100%, such as "12.5%", got "120%"',
  ]);
  // BASE is a GPT ("*-*-"): nemotron-h's Mamba-2 selector matches nothing.
  const gpt = await problems(
    edit(BASE, ["nvfp4: { extends: nvfp4 }", "h: { extends: nemotron-h }"]),
  );
  assertEquals(gpt.length, 1);
  assertOk(gpt[0].includes('"*.out_proj" matches no linear layer of model.pattern "*-*-"'), gpt[0]);
});
