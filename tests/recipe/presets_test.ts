/**
 * The preset files and the built-in policies loaded from them: every preset that resolves is in
 * `POLICIES` under its file name, as a recipe extending it resolves it; the plain formats and
 * the paper recipe are exactly the documented policies; each ablation differs from `nvfp4` in
 * exactly what its name says; fp8-delayed is fp8-current with TE's delayed-scaling defaults; a
 * preset that does not resolve is left out, with its problems.
 */

import { pathToFileURL } from "node:url";
import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";
import type { FormatName } from "../../src/formats/spec.ts";
import { type LinearPolicy, type OperandPolicy, withBlockCounts } from "../../src/model/policy.ts";
import { OPERANDS } from "../../src/recipe/canonical_policy.ts";
import { POLICIES, PresetPolicies, presetPolicy } from "../../src/recipe/preset_policies.ts";
import { PRESETS_DIR } from "../../src/recipe/presets.ts";
import { RecipeError } from "../../src/recipe/problems.ts";
import { load, withPolicies } from "./fixture.ts";

const NAMES = [
  "bf16",
  "fp32",
  "fp8-current",
  "fp8-delayed",
  "mxfp4",
  "mxfp8",
  "nemotron-h",
  "nvfp4",
  "nvfp4-all-layers",
  "nvfp4-llama",
  "nvfp4-no-2d",
  "nvfp4-no-rht",
  "nvfp4-no-sr",
  "nvfp4-rtn",
];

const presets = await PresetPolicies.read();

Deno.test("the presets are the documented ones", () => {
  assertEquals(presets.names, NAMES);
});

Deno.test("POLICIES holds every preset that resolves, named by its file", () => {
  assertEquals(Object.keys(POLICIES), NAMES);
  assertEquals(presets.failures.size, 0);
  for (const [name, policy] of Object.entries(POLICIES)) assertEquals(policy.name, name);
  assertOk(Object.isFrozen(POLICIES));
});

Deno.test("each built-in policy is what a recipe extending its preset resolves to", async () => {
  // The fixture is a GPT of 4 blocks; nemotron-h needs Mamba-2 blocks (published_presets_test.ts).
  const names = Object.keys(POLICIES).filter((n) => n !== "nemotron-h");
  const recipe = await load(withPolicies(names.map((n) => `  ${n}: { extends: ${n} }\n`).join("")));
  assertEquals(recipe.policies, names.map((n) => withBlockCounts(POLICIES[n], 4)));
});

/** Every operand in `format` (gradients in `grad`), rounded to nearest even. */
function uniform(format: FormatName, grad = format): LinearPolicy {
  const op = { format, rounding: "rne" } as const;
  const g = { format: grad, rounding: "rne" } as const;
  return {
    fprop: { x: op, w: op },
    dgrad: { dy: g, w: op },
    wgrad: { dy: g, x: op },
  };
}

Deno.test("fp32, bf16, fp8-current and mxfp4 put every operand in one format", () => {
  assertEquals(POLICIES.fp32, { name: "fp32", linear: uniform("fp32"), head: "fp32" });
  assertEquals(POLICIES.bf16, { name: "bf16", linear: uniform("bf16"), head: "bf16" });
  assertEquals(POLICIES["fp8-current"], {
    name: "fp8-current",
    linear: uniform("fp8-e4m3", "fp8-e5m2"),
    head: "bf16",
  });
  assertEquals(POLICIES.mxfp4, { name: "mxfp4", linear: uniform("mxfp4"), head: "bf16" });
});

Deno.test("nvfp4 is the paper's recipe: 2D weights, SR and RHT on gradients, BF16 edges", () => {
  assertEquals(POLICIES.nvfp4, {
    name: "nvfp4",
    linear: {
      fprop: {
        x: { format: "nvfp4", rounding: "rne" },
        w: { format: "nvfp4-2d", rounding: "rne" },
      },
      dgrad: {
        dy: { format: "nvfp4", rounding: "stochastic" },
        w: { format: "nvfp4-2d", rounding: "rne" },
      },
      wgrad: {
        dy: { format: "nvfp4", rounding: "stochastic", rht: { size: 16 } },
        x: { format: "nvfp4", rounding: "rne", rht: { size: 16 } },
      },
    },
    highPrecisionBlocks: { first: 1, last: 1, policy: uniform("bf16") },
    head: "bf16",
  });
});

Deno.test("each ablation changes exactly what its name says", () => {
  const nvfp4 = POLICIES.nvfp4;
  const base = (name: string) => ({ ...nvfp4, name });
  const l = nvfp4.linear;
  const noRht = {
    ...l.wgrad,
    dy: { format: "nvfp4", rounding: "stochastic" },
    x: { format: "nvfp4", rounding: "rne" },
  } as const;
  assertEquals(POLICIES["nvfp4-no-rht"], {
    ...base("nvfp4-no-rht"),
    linear: { ...l, wgrad: noRht },
  });
  const w1d = { format: "nvfp4", rounding: "rne" } as const;
  assertEquals(POLICIES["nvfp4-no-2d"], {
    ...base("nvfp4-no-2d"),
    linear: { ...l, fprop: { ...l.fprop, w: w1d }, dgrad: { ...l.dgrad, w: w1d } },
  });
  const rne = (op: typeof l.dgrad.dy) => ({ ...op, rounding: "rne" as const });
  assertEquals(POLICIES["nvfp4-no-sr"], {
    ...base("nvfp4-no-sr"),
    linear: {
      ...l,
      dgrad: { ...l.dgrad, dy: rne(l.dgrad.dy) },
      wgrad: { ...l.wgrad, dy: rne(l.wgrad.dy) },
    },
  });
  const { highPrecisionBlocks: _, ...allLayers } = base("nvfp4-all-layers");
  assertEquals(POLICIES["nvfp4-all-layers"], allLayers);
  assertEquals(POLICIES["nvfp4-rtn"], {
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
  assertEquals(POLICIES.mxfp8.linear, {
    fprop: { x: { format: spec, rounding: "rne" }, w: { format: spec, rounding: "rne" } },
    dgrad: { dy: { format: spec, rounding: "rne" }, w: { format: spec, rounding: "rne" } },
    wgrad: { dy: { format: spec, rounding: "rne" }, x: { format: spec, rounding: "rne" } },
  });
  assertEquals(POLICIES.mxfp8.head, "bf16");
});

Deno.test("fp8-delayed is fp8-current with TE's DelayedScaling defaults on every operand", () => {
  const delayed = POLICIES["fp8-delayed"];
  const current = POLICIES["fp8-current"];
  const scaling = { delayed: { historyLength: 1024, algo: "max", margin: 0 } };
  for (const [gemm, operand] of OPERANDS) {
    const of = (p: typeof delayed) => (p.linear[gemm] as Record<string, OperandPolicy>)[operand];
    const element = of(current).format === "fp8-e4m3" ? "e4m3" : "e5m2";
    assertEquals(of(delayed), { ...of(current), format: { kind: "fp8", element, scaling } });
  }
  assertEquals(delayed.head, current.head);
  assertEquals(presetPolicy("fp8-delayed"), delayed);
});

Deno.test("presetPolicy gets a preset by name and names the presets for an unknown one", () => {
  assertEquals(presetPolicy("nvfp4-no-sr"), POLICIES["nvfp4-no-sr"]);
  for (const name of ["nvfp5", "fp8", "toString", "__proto__"]) {
    assertThrows(() => presetPolicy(name), {
      name: "RangeError",
      message: `unknown preset ${JSON.stringify(name)} (presets: ${NAMES.join(", ")})`,
    });
  }
});

Deno.test("a preset that uses a broken preset fails with its problems; the others resolve", async () => {
  await withTempDir(async (dir) => {
    const files: Record<string, string> = {
      "broken.yaml": "all: { format: bf16 }\nhead: bf17\n",
      "child.yaml": "extends: broken\n",
      "orphan.yaml": "extends: nope\n",
      "plain.yaml": "all: { format: fp32 }\nhead: fp32\n",
      "notes.txt": "not a preset\n",
    };
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const read = await PresetPolicies.read(pathToFileURL(`${dir}/`));
    assertEquals(read.names, ["broken", "child", "orphan", "plain"]);
    assertEquals(read.policies, {
      plain: { name: "plain", linear: uniform("fp32"), head: "fp32" },
    });
    const where = (name: string) =>
      read.failures.get(name)?.map((p) =>
        `${p.file.slice(p.file.lastIndexOf("/") + 1)}:${p.line} ${p.path}`
      );
    assertEquals(where("broken"), ["broken.yaml:2 head"]);
    assertEquals(where("child"), ["broken.yaml:2 head"]);
    assertEquals(where("orphan"), ["orphan.yaml:1 extends"]);
    assertThrows(() => read.get("child"), RecipeError);
  });
});

Deno.test("every preset file names the preset schema for editors", async () => {
  for (const name of presets.names) {
    const text = await Deno.readTextFile(new URL(`${name}.yaml`, PRESETS_DIR));
    assertOk(text.startsWith("# yaml-language-server: $schema=./schema.json\n"), name);
  }
});
