/**
 * Per-layer selectors (`layers:` in a policy): Megatron's first-match-wins glob matchers over
 * linear-layer names, resolved like the other policy references, applied by the model's plan
 * before high-precision blocks, shown per layer by --dry-run, part of a run's identity, and a
 * selector that matches no layer is an error where it is written.
 */

import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { namedLinears, planModel } from "../../src/model/plan.ts";
import { describePlan } from "../../src/recipe/plan.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import { runId } from "../../src/runner/run.ts";
import type { RunSpec } from "../../src/recipe/run_spec.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { load, problems, withPolicies } from "./fixture.ts";

const SELECTED = "  bf16: { extends: bf16 }\n" +
  "  plain: { extends: nvfp4-all-layers }\n" +
  "  mixed:\n" +
  "    extends: nvfp4-all-layers\n" +
  "    layers:\n" +
  '      - { match: "blocks.*.qkv", policy: bf16 }\n' +
  '      - { match: "blocks.[0-1].*", policy: fp8-current }\n' +
  '      - { match: "*.fc2", policy: mxfp8 }\n';

Deno.test("the first selector that matches a layer's name gives its formats, in the model's plan", async () => {
  const recipe = await load(withPolicies(SELECTED));
  const mixed = recipe.policies.find((p) => p.name === "mixed")!;
  assertEquals(mixed.layers?.map((l) => l.match), ["blocks.*.qkv", "blocks.[0-1].*", "*.fc2"]);
  const plan = planModel(recipe.model, mixed, { batch: recipe.train.batch, totalSteps: 10 });
  const formats = Object.fromEntries(
    namedLinears(plan).map(([layer, p]) => [layer, p.fprop.b.policy.format]),
  );
  // blocks.0.qkv: the first selector wins over the second; blocks.1.fc2: the second over the third.
  assertEquals(formats["blocks.0.qkv"], POLICIES.bf16.linear.fprop.w.format);
  assertEquals(formats["blocks.0.proj"], POLICIES["fp8-current"].linear.fprop.w.format);
  assertEquals(formats["blocks.1.fc2"], POLICIES["fp8-current"].linear.fprop.w.format);
  assertEquals(formats["blocks.2.qkv"], POLICIES.bf16.linear.fprop.w.format);
  assertEquals(formats["blocks.3.fc2"], POLICIES.mxfp8.linear.fprop.w.format);
  assertEquals(formats["blocks.3.fc1"], POLICIES["nvfp4-all-layers"].linear.fprop.w.format);
});

Deno.test("--dry-run prints every layer's resolved formats, selectors applied", async () => {
  const recipe = await load(withPolicies(SELECTED));
  const text = describePlan(expandRuns(recipe).filter((r) => r.policyName === "mixed"));
  assertOk(text.includes("layers blocks.*.qkv bf16; layers blocks.[0-1].* fprop x fp8-e4m3"), text);
  assertOk(text.includes("      blocks.0.qkv: bf16\n"), text);
  assertOk(text.includes("      blocks.3.fc2: mx-e4m3/rceil\n"), text);
});

Deno.test("selectors are part of a run's identity; layers: none removes inherited ones", async () => {
  const recipe = await load(withPolicies(
    SELECTED + "  unselected: { extends: mixed, layers: none }\n",
  ));
  const runs = expandRuns(recipe).filter((r) => r.seed === 0);
  const data = { sha256: "d", tokenizer: "byte", parts: [] };
  const id = (name: string) =>
    runId(runs.find((r) => r.policyName === name) as RunSpec, data, "k", "deno");
  assertOk(id("mixed") !== id("plain"));
  assertEquals(recipe.policies.find((p) => p.name === "unselected")!.layers, undefined);
  assertEquals(id("unselected"), id("plain"));
});

Deno.test("a selector that matches no layer, or names an unknown policy, is reported where it is written", async () => {
  const recipe = (selectors: string) =>
    withPolicies(
      "  bf16: { extends: bf16 }\n  p:\n    extends: nvfp4\n    layers:\n" + selectors,
    );
  const unmatched = await problems(recipe(
    '      - { match: "blocks.*.qkv", policy: bf16 }\n' +
      '      - { match: "*.mamba.out_proj", policy: bf16 }\n',
  ));
  assertEquals(unmatched, [
    'recipe.yaml:29:18 policies.p.layers[1].match: "*.mamba.out_proj" matches no linear layer of model.pattern ' +
    '"*-*-" (its layers are named blocks.0.qkv, blocks.0.proj, blocks.1.fc1, blocks.1.fc2, …)',
  ]);
  const unknown = await problems(recipe('      - { match: "blocks.0.fc1", policy: bf17 }\n'));
  assertEquals(unknown.map((l) => l.slice(0, l.indexOf(" ("))), [
    'recipe.yaml:28:42 policies.p.layers[0].policy: unknown policy or preset "bf17"',
  ]);
});

Deno.test("from code, planning a model whose selector matches no layer throws a RangeError naming it", async () => {
  const { model, train } = await load(withPolicies(SELECTED));
  const policy = {
    ...POLICIES.nvfp4,
    layers: [{ match: "*.out_proj", policy: POLICIES.bf16.linear }],
  };
  assertThrows(() => planModel(model, policy, { batch: train.batch, totalSteps: 10 }), {
    name: "RangeError",
    message: /layer selector "\*\.out_proj" matches no linear layer of pattern "\*-\*-"/,
  });
});
