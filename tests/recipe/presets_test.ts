/**
 * The preset files: the paper recipe and the plain formats resolve to exactly the built-in
 * policies of `src/model/policy.ts` (in canonical form), and each ablation differs from `nvfp4`
 * in exactly what its name says.
 */

import { assertEquals, assertOk } from "../assert.ts";
import { POLICIES, type PrecisionPolicy } from "../../src/model/policy.ts";
import { canonicalPolicy } from "../../src/recipe/canonical_policy.ts";
import { PolicyResolver } from "../../src/recipe/policies.ts";
import { Presets, PRESETS_DIR } from "../../src/recipe/presets.ts";
import type { Problem } from "../../src/recipe/problems.ts";

const presets = await Presets.read();

function resolvePreset(name: string): { policy?: PrecisionPolicy; problems: Problem[] } {
  const problems: Problem[] = [];
  const resolver = new PolicyResolver(new Map(), presets, problems);
  const def = presets.def(name, problems);
  assertOk(def, `no preset ${name}`);
  return { policy: resolver.resolve(def), problems };
}

function preset(name: string): PrecisionPolicy {
  const { policy, problems } = resolvePreset(name);
  assertEquals(problems, []);
  assertOk(policy);
  return policy;
}

Deno.test("the presets are the documented ones", () => {
  assertEquals(presets.names, [
    "bf16",
    "fp32",
    "fp8-current",
    "fp8-delayed",
    "mxfp4",
    "mxfp8",
    "nvfp4",
    "nvfp4-all-layers",
    "nvfp4-no-2d",
    "nvfp4-no-rht",
    "nvfp4-no-sr",
    "nvfp4-rtn",
  ]);
});

Deno.test("nvfp4, fp32, bf16, mxfp4 and fp8-current are the built-in policies", () => {
  for (const name of ["nvfp4", "fp32", "bf16", "mxfp4"]) {
    assertEquals(preset(name), canonicalPolicy(POLICIES[name]), name);
  }
  assertEquals(preset("fp8-current"), canonicalPolicy({ ...POLICIES.fp8, name: "fp8-current" }));
});

Deno.test("the canonical form only spells out defaults", () => {
  const p = preset("nvfp4");
  const raw = POLICIES.nvfp4;
  assertEquals(p.linear.wgrad.dy, { ...raw.linear.wgrad.dy, rounding: "stochastic" });
  assertEquals(p.linear.wgrad.x, { ...raw.linear.wgrad.x, rounding: "rne" });
  assertEquals(p.linear.fprop.w, { ...raw.linear.fprop.w, rounding: "rne" });
  assertEquals(p.highPrecisionBlocks?.first, 1);
  assertEquals(p.highPrecisionBlocks?.last, 1);
});

Deno.test("each ablation changes exactly what its name says", () => {
  const nvfp4 = preset("nvfp4");
  const base = (name: string) => ({ ...nvfp4, name });
  const l = nvfp4.linear;
  const noRht = {
    ...l.wgrad,
    dy: { format: "nvfp4", rounding: "stochastic" },
    x: { format: "nvfp4", rounding: "rne" },
  } as const;
  assertEquals(preset("nvfp4-no-rht"), { ...base("nvfp4-no-rht"), linear: { ...l, wgrad: noRht } });
  const w1d = { format: "nvfp4", rounding: "rne" } as const;
  assertEquals(preset("nvfp4-no-2d"), {
    ...base("nvfp4-no-2d"),
    linear: { ...l, fprop: { ...l.fprop, w: w1d }, dgrad: { ...l.dgrad, w: w1d } },
  });
  const rne = (op: typeof l.dgrad.dy) => ({ ...op, rounding: "rne" as const });
  assertEquals(preset("nvfp4-no-sr"), {
    ...base("nvfp4-no-sr"),
    linear: {
      ...l,
      dgrad: { ...l.dgrad, dy: rne(l.dgrad.dy) },
      wgrad: { ...l.wgrad, dy: rne(l.wgrad.dy) },
    },
  });
  const { highPrecisionBlocks: _, ...allLayers } = base("nvfp4-all-layers");
  assertEquals(preset("nvfp4-all-layers"), allLayers);
  assertEquals(preset("nvfp4-rtn"), {
    ...base("nvfp4-rtn"),
    linear: {
      ...l,
      dgrad: { ...l.dgrad, dy: rne(l.dgrad.dy) },
      wgrad: { dy: rne(noRht.dy), x: noRht.x },
    },
  });
});

Deno.test("mxfp8 is TransformerEngine's: E4M3 everywhere, scales rounded up (rceil)", () => {
  const spec = { kind: "mx", element: "e4m3", scaleRule: "rceil" } as const;
  assertEquals(preset("mxfp8").linear, {
    fprop: { x: { format: spec, rounding: "rne" }, w: { format: spec, rounding: "rne" } },
    dgrad: { dy: { format: spec, rounding: "rne" }, w: { format: spec, rounding: "rne" } },
    wgrad: { dy: { format: spec, rounding: "rne" }, x: { format: spec, rounding: "rne" } },
  });
  assertEquals(preset("mxfp8").head, "bf16");
});

Deno.test("fp8-delayed parses but cannot resolve: delayed scaling is runtime state", () => {
  const { policy, problems } = resolvePreset("fp8-delayed");
  assertEquals(policy, undefined);
  assertEquals(problems.map((p) => `${p.line}:${p.column} ${p.path}`), [
    "11:23 activations.format.scaling",
    "13:48 weights.format.scaling",
    "15:48 grads.format.scaling",
  ]);
});

Deno.test("every preset file names the preset schema for editors", async () => {
  for (const name of presets.names) {
    const text = await Deno.readTextFile(new URL(`${name}.yaml`, PRESETS_DIR));
    assertOk(text.startsWith("# yaml-language-server: $schema=./schema.json\n"), name);
  }
});
