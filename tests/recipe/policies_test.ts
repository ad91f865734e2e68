/**
 * Policies: `extends` chains through presets and the recipe's own policies, which setting wins,
 * how names are looked up, high-precision blocks and the late switch, and the problems of
 * policies that cannot run (unknown names, cycles, impossible operands).
 */

import { assertEquals, assertOk } from "../assert.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";
import { load, problems, withPolicies } from "./fixture.ts";
import { describePlan } from "../../src/recipe/plan.ts";
import { expandRuns } from "../../src/recipe/expand.ts";

const policy = async (lines: string, name: string) => {
  const recipe = await load(withPolicies(`  bf16: { extends: bf16 }\n${lines}`));
  const found = recipe.policies.find((p) => p.name === name);
  assertOk(found, `no policy ${name}`);
  return found;
};

Deno.test("a chain of extends through recipe policies and presets", async () => {
  const p = await policy(
    "  a: { extends: nvfp4, grads: { rounding: rne } }\n" +
      "  b: { extends: a, wgrad: { rht: none } }\n" +
      "  c: { extends: b, head: fp32 }\n",
    "c",
  );
  const nvfp4 = POLICIES.nvfp4;
  assertEquals(p, {
    ...nvfp4,
    name: "c",
    linear: {
      fprop: nvfp4.linear.fprop,
      dgrad: { dy: { format: "nvfp4", rounding: "rne" }, w: nvfp4.linear.dgrad.w },
      wgrad: { dy: { format: "nvfp4", rounding: "rne" }, x: { format: "nvfp4", rounding: "rne" } },
    },
    head: "fp32",
  });
});

Deno.test("more specific settings win: all, groups, GEMM, operand", async () => {
  const p = await policy(
    "  p:\n" +
      "    all: { format: bf16 }\n" +
      "    weights: { format: fp8-e4m3 }\n" +
      "    fprop: { format: mxfp4 }\n" +
      "    dgrad: { w: fp16 }\n" +
      "    wgrad: { dy: { format: nvfp4, rounding: stochastic }, x: { format: nvfp4 } }\n" +
      "    head: bf16\n",
    "p",
  );
  assertEquals(p.linear, {
    fprop: { x: { format: "mxfp4", rounding: "rne" }, w: { format: "mxfp4", rounding: "rne" } },
    dgrad: { dy: { format: "bf16", rounding: "rne" }, w: { format: "fp16", rounding: "rne" } },
    wgrad: {
      dy: { format: "nvfp4", rounding: "stochastic" },
      x: { format: "nvfp4", rounding: "rne" },
    },
  });
});

Deno.test("format specs resolve to their names where one exists, else stay specs", async () => {
  const p = await policy(
    "  p:\n" +
      "    extends: bf16\n" +
      "    activations: { format: { kind: nvfp4 } }\n" +
      "    weights: { format: { kind: nvfp4, tile: 16x16 } }\n" +
      "    grads: { format: { kind: mx, element: e2m1, scale_rule: ceil } }\n",
    "p",
  );
  assertEquals(p.linear.fprop.x.format, "nvfp4");
  assertEquals(p.linear.fprop.w.format, "nvfp4-2d");
  assertEquals(p.linear.dgrad.dy.format, { kind: "mx", element: "e2m1", scaleRule: "ceil" });
});

Deno.test("block picks the NVFP4 tile of the operands it applies to", async () => {
  const p = await policy(
    "  p: { extends: nvfp4-no-2d, fprop: { w: { block: [16, 16] } } }\n",
    "p",
  );
  assertEquals(p.linear.fprop.w.format, "nvfp4-2d");
  assertEquals(p.linear.dgrad.w.format, "nvfp4");
});

Deno.test("a recipe policy named like a preset extends the preset; others see the policy", async () => {
  const recipe = await load(withPolicies(
    "  bf16: { extends: bf16, head: fp32 }\n" +
      "  nvfp4: { extends: nvfp4 }\n" +
      "  x: { extends: nvfp4, switch: { at: 0.8, to: bf16 } }\n",
  ));
  const [bf16, nvfp4, x] = recipe.policies;
  assertEquals(bf16, { ...POLICIES.bf16, head: "fp32" });
  assertEquals(nvfp4, POLICIES.nvfp4);
  assertEquals(x, {
    ...POLICIES.nvfp4,
    name: "x",
    switchTo: { atFraction: 0.8, policy: bf16.linear },
  });
  // The preset's high-precision blocks name bf16 in the presets, whatever the recipe calls bf16.
  assertEquals(x.highPrecisionBlocks?.policy, POLICIES.bf16.linear);
});

Deno.test("high_precision_blocks and switch replace the inherited ones; none removes them", async () => {
  const recipe = await load(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  edges: { extends: nvfp4, high_precision_blocks: { first: 0, last: 2, policy: fp8-current } }\n" +
      "  none: { extends: edges, high_precision_blocks: none }\n" +
      "  late: { extends: nvfp4, switch: { at: 0.9, to: fp32 } }\n" +
      "  early: { extends: late, switch: none }\n",
  ));
  const [, edges, none, late, early] = recipe.policies;
  assertEquals(edges.highPrecisionBlocks, {
    first: 0,
    last: 2,
    policy: POLICIES["fp8-current"].linear,
  });
  assertEquals(none.highPrecisionBlocks, undefined);
  assertEquals(late.switchTo, { atFraction: 0.9, policy: POLICIES.fp32.linear });
  assertEquals(early.switchTo, undefined);
  assertEquals(early.highPrecisionBlocks, late.highPrecisionBlocks);
});

Deno.test("an unknown preset is reported where it is named", async () => {
  const lines = await problems(
    withPolicies("  bf16: { extends: bf16 }\n  x: { extends: nvfp5 }\n"),
  );
  assertEquals(lines, [
    'recipe.yaml:25:17 policies.x.extends: unknown policy or preset "nvfp5" (presets: bf16, fp32, ' +
    "fp8-current, fp8-delayed, mxfp4, mxfp8, nemotron-h, nvfp4, nvfp4-all-layers, nvfp4-llama, " +
    "nvfp4-no-2d, nvfp4-no-rht, nvfp4-no-sr, nvfp4-rtn; policies: bf16, x)",
  ]);
  const hp = await problems(withPolicies(
    "  bf16: { extends: bf16, high_precision_blocks: { first: 1, last: 0, policy: bf17 } }\n",
  ));
  assertEquals(hp.map((l) => l.slice(0, l.indexOf(" ("))), [
    'recipe.yaml:24:78 policies.bf16.high_precision_blocks.policy: unknown policy or preset "bf17"',
  ]);
});

Deno.test("cyclic references are reported once, with the cycle", async () => {
  const cycle = withPolicies(
    "  bf16: { extends: bf16 }\n  a: { extends: b }\n  b: { extends: c }\n  c: { extends: a }\n",
  );
  assertEquals(await problems(cycle), [
    "recipe.yaml:27:17 policies.c.extends: cyclic reference: a → b → c → a",
  ]);
  assertEquals(await problems(withPolicies("  bf16: { extends: bf16 }\n  me: { extends: me }\n")), [
    "recipe.yaml:25:18 policies.me.extends: cyclic reference: me → me",
  ]);
  const viaSwitch = withPolicies(
    "  bf16: { extends: bf16 }\n  a: { extends: nvfp4, switch: { at: 0.5, to: b } }\n  b: { extends: a }\n",
  );
  assertEquals(await problems(viaSwitch), [
    "recipe.yaml:26:17 policies.b.extends: cyclic reference: a → b → a",
  ]);
});

Deno.test("operands that cannot be quantized so are reported at the setting", async () => {
  const cases: [string, string][] = [
    [
      "  m: { extends: mxfp4, weights: { block: [16, 16] } }\n",
      'recipe.yaml:25:42 policies.m.weights.block: [16,16] blocks need an NVFP4 format, not "mxfp4" (fprop.w, dgrad.w)',
    ],
    [
      "  m: { extends: nvfp4, wgrad: { x: { format: nvfp4-2d } } }\n",
      "recipe.yaml:25:46 policies.m.wgrad.x.format: an RHT cannot be combined with 16×16 NVFP4 tiles (wgrad.x)",
    ],
    [
      "  m: { extends: nvfp4, wgrad: { x: { rht: none } } }\n",
      'recipe.yaml:25:43 policies.m.wgrad.x.rht: wgrad.dy has rht {"size":16} but wgrad.x has "none"; both operands of a GEMM need the same transform',
    ],
    [
      "  m: { extends: fp32, grads: { rounding: stochastic } }\n",
      "recipe.yaml:25:42 policies.m.grads.rounding: stochastic rounding needs a format narrower than fp32 (dgrad.dy, wgrad.dy)",
    ],
    [
      "  m: { extends: nvfp4, wgrad: { rht: { size: 16, signs: [1, -1] } } }\n",
      "recipe.yaml:25:38 policies.m.wgrad.rht: rht.signs must hold 16 entries, got 2 (wgrad.dy, wgrad.x)",
    ],
  ];
  for (const [lines, expected] of cases) {
    assertEquals(await problems(withPolicies(`  bf16: { extends: bf16 }\n${lines}`)), [expected]);
  }
});

Deno.test("a policy that extends nothing must give every format and the head", async () => {
  assertEquals(await problems(withPolicies("  bf16: { weights: { format: bf16 } }\n")), [
    "recipe.yaml:24:9 policies.bf16: no format for fprop.x, dgrad.dy, wgrad.dy, wgrad.x; give one (or extend a preset that does)",
    "recipe.yaml:24:9 policies.bf16: no head; give head: fp32 or bf16 (or extend a preset that does)",
  ]);
});

Deno.test("fp8 delayed scaling: TE's defaults fill missing options, --dry-run names them, a margin outside -32..32 is an error at its line", async () => {
  const recipe = await load(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  te: { extends: fp8-delayed }\n" +
      "  short: { extends: fp8-current, grads: { format: { kind: fp8, element: e5m2, " +
      "scaling: { delayed: { history_length: 16, algo: most_recent } } } } }\n",
  ));
  const [, te, short] = recipe.policies;
  assertEquals(te.linear, POLICIES["fp8-delayed"].linear);
  assertEquals(short.linear.wgrad.dy.format, {
    kind: "fp8",
    element: "e5m2",
    scaling: { delayed: { historyLength: 16, algo: "most_recent", margin: 0 } },
  });
  assertEquals(short.linear.fprop.x.format, "fp8-e4m3");
  const text = describePlan(expandRuns(recipe).filter((r) => r.seed === 0));
  assertOk(text.includes("fp8-e5m2+delayed/most_recent/len16/margin0"), text);
  assertOk(text.includes("fp8-e4m3+delayed/max/len1024/margin0"), text);
  const bad = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  p: { extends: fp8-current, grads: { format: { kind: fp8, element: e5m2, " +
      "scaling: { delayed: { margin: 40 } } } } }\n",
  ));
  assertEquals(bad.length, 1);
  assertOk(
    bad[0] ===
      "recipe.yaml:25:105 policies.p.grads.format.scaling.delayed.margin: must be ≤ 32, got 40",
    bad[0],
  );
});

Deno.test("rht signs: fixed is the default, none is all +1, random stays random, a list is kept", async () => {
  const recipe = await load(withPolicies(
    "  bf16: { extends: bf16 }\n" +
      "  fixed: { extends: nvfp4, wgrad: { rht: { size: 16, signs: fixed } } }\n" +
      "  nosign: { extends: nvfp4, wgrad: { rht: { size: 32, signs: none } } }\n" +
      "  random: { extends: nvfp4, wgrad: { rht: { size: 16, signs: random } } }\n",
  ));
  const [, fixed, nosign, random] = recipe.policies;
  assertEquals(fixed.linear, POLICIES.nvfp4.linear);
  assertEquals(nosign.linear.wgrad.x.rht, { size: 32, signs: Array(32).fill(1) });
  assertEquals(random.linear.wgrad.dy.rht, { size: 16, signs: "random" });
  const text = describePlan(expandRuns(recipe).filter((r) => r.seed === 0));
  assertOk(text.includes("wgrad dy nvfp4/sr+rht32/nosign x nvfp4+rht32/nosign"), text);
  assertOk(text.includes("wgrad dy nvfp4/sr+rht16/random x nvfp4+rht16/random"), text);
  const bad = await problems(withPolicies(
    "  bf16: { extends: bf16 }\n  p: { extends: nvfp4, wgrad: { rht: { size: 16, signs: maybe } } }\n",
  ));
  assertEquals(bad.length, 1);
  assertOk(
    bad[0].startsWith("recipe.yaml:25:57 policies.p.wgrad.rht.signs: expected one of") &&
      bad[0].includes('"random", got "maybe"'),
    bad[0],
  );
});
