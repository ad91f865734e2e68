/**
 * The dependency-direction check: upward imports (static, type-only, dynamic, re-exported) and
 * imports between bottom layers are reported one line each, downward and same-layer ones are
 * not; modules in no layer are reported; the script exits 1 on a tree with an upward import and
 * the current tree has none.
 */

import { pathToFileURL } from "node:url";
import { assertEquals } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";
import { checkTree, type ModuleGraph, upwardImports } from "../../scripts/layers.ts";

const ROOT = new URL("file:///repo/");

/** A graph of modules given as root-relative paths, each with its code imports. */
function graph(imports: Record<string, string[]>, types: Record<string, string[]> = {}) {
  const url = (f: string) => ({ specifier: new URL(f, ROOT).href });
  return {
    modules: Object.entries(imports).map(([file, deps]) => ({
      ...url(file),
      dependencies: [
        ...deps.map((d) => ({ code: url(d) })),
        ...(types[file] ?? []).map((d) => ({ type: url(d) })),
      ],
    })),
  } satisfies ModuleGraph;
}

Deno.test("imports of the own layer and of lower layers pass", () => {
  assertEquals(
    upwardImports(
      graph({
        "mod.ts": ["cli.ts", "src/report/write.ts", "src/formats/fp8.ts"],
        "cli.ts": ["bench/kernels.ts", "src/runner/run.ts"],
        "src/recipe/load.ts": ["src/recipe/schema.ts", "src/train/loop.ts", "src/model/policy.ts"],
        "src/model/decoder.ts": ["src/model/blocks/mamba.ts", "kernels/gemm/mod.ts"],
        "kernels/gemm/mod.ts": ["kernels/_wgsl/numerics.ts", "src/gpu/op.ts", "src/formats/fp8.ts"],
        "src/formats/fp8.ts": ["src/formats/fp32.ts"],
        "src/runner/run.ts": ["src/io/atomic.ts", "src/usage.ts"],
      }),
      ROOT,
    ),
    [],
  );
});

Deno.test("static and type-only upward imports are reported, each import once", () => {
  const g = graph(
    {
      "kernels/gemm/reference.ts": ["src/model/reference.ts"],
      "src/runner/run.ts": ["src/report/records.ts"],
      "src/train/loop.ts": ["src/recipe/run_spec.ts"],
    },
    { "src/train/loop.ts": ["src/recipe/run_spec.ts", "src/runner/record.ts"] },
  );
  assertEquals(upwardImports(g, ROOT), [
    "kernels/gemm/reference.ts → src/model/reference.ts (layer kernels may not import layer src/model)",
    "src/runner/run.ts → src/report/records.ts (layer src/runner may not import layer src/report)",
    "src/train/loop.ts → src/recipe/run_spec.ts (layer src/train may not import layer src/recipe)",
    "src/train/loop.ts → src/runner/record.ts (layer src/train may not import layer src/runner)",
  ]);
});

Deno.test("the bottom layers import none of each other", () => {
  const g = graph({
    "src/formats/rht.ts": ["src/gpu/device.ts"],
    "src/gpu/device.ts": ["src/formats/spec.ts"],
    "src/io/atomic.ts": ["src/usage.ts"],
  });
  assertEquals(upwardImports(g, ROOT), [
    "src/formats/rht.ts → src/gpu/device.ts (layer src/formats may not import layer src/gpu)",
    "src/gpu/device.ts → src/formats/spec.ts (layer src/gpu may not import layer src/formats)",
    "src/io/atomic.ts → src/usage.ts (layer src/io may not import layer src/usage.ts)",
  ]);
});

Deno.test("modules in no layer are reported; tests and packages are not checked", () => {
  const g = graph({
    "src/extra/x.ts": ["src/formats/fp8.ts"],
    "src/model/init.ts": ["tests/tensors.ts"],
    "tests/model/decoder_test.ts": ["cli.ts", "src/extra/x.ts"],
  });
  g.modules.push({ specifier: "npm:/zod@4.6.7", dependencies: [] });
  assertEquals(upwardImports(g, ROOT), [
    "src/extra/x.ts (in no layer; give its folder a layer in scripts/layers.ts)",
    "src/model/init.ts → tests/tensors.ts (layer src/model may not import tests/tensors.ts, " +
    "which is in no layer)",
  ]);
});

Deno.test("the script exits 1 with one line per upward import, dynamic ones included", async () => {
  await withTempDir(async (dir) => {
    const files: Record<string, string> = {
      "deno.json": "{}",
      "src/formats/a.ts": 'import { b } from "../model/b.ts";\nexport const a = b;\n',
      "src/model/b.ts": 'export const b = 1;\nexport const c = () => import("../../cli.ts");\n',
      "src/model/c.ts": 'export type { B } from "../train/t.ts";\nimport "../formats/a.ts";\n',
      "src/train/t.ts": "export type B = number;\n",
      "cli.ts": 'import "./src/model/b.ts";\n',
    };
    for (const [name, text] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${name.slice(0, name.lastIndexOf("/") + 1)}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const expected = [
      "src/formats/a.ts → src/model/b.ts (layer src/formats may not import layer src/model)",
      "src/model/b.ts → cli.ts (layer src/model may not import layer cli.ts)",
      "src/model/c.ts → src/train/t.ts (layer src/model may not import layer src/train)",
    ];
    assertEquals(await checkTree(pathToFileURL(`${dir}/`)), expected);
    const script = new URL("../../scripts/layers.ts", import.meta.url);
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script.href, dir],
      stdout: "piped",
    }).output();
    assertEquals(run.code, 1);
    assertEquals(new TextDecoder().decode(run.stdout), expected.map((l) => `${l}\n`).join(""));
  });
});

Deno.test("the current tree has no upward import", async () => {
  assertEquals(await checkTree(new URL("../../", import.meta.url)), []);
});
