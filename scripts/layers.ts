/**
 * The dependency-direction check of `deno task check`: a module may import modules of its own
 * layer and of the layers below it, never of a layer above, so data flows one way (DESIGN.md,
 * "Data flow"). Layers, bottom to top: `src/formats`, `src/gpu`, `src/io`, `src/usage.ts`,
 * `src/cli_help.ts`, `src/health` (the bottom: each imports none of the others) → `kernels` → `src/model` →
 * `src/train` → `src/recipe` → `src/runner` → `src/report` → `bench` → `cli.ts` → `mod.ts`
 * (re-exports anything) → `scripts`.
 *
 * The module graph is Deno's own (`deno info --json`, with the project's import map): static
 * imports and re-exports, type-only imports and dynamic `import()` of a literal specifier all
 * count. Every `.ts`/`.js` file under the layers' top-level folders is checked, and a module in
 * no layer (a new folder, say) fails until it is given one here. Tests, doc examples and
 * packages (`npm:`, `node:`) are not checked.
 *
 * Usage: `deno run -A scripts/layers.ts [root]` prints one line per offending import,
 * `file → imported file (layer X may not import layer Y)`, and exits 1; 0 when there is none.
 *
 * @module
 */

import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** A layer: the files (a folder or one file, relative to the root) and its height. */
export interface Layer {
  /** A folder (every file below it) or a single file, relative to the root. */
  readonly path: string;
  /** Layers may import layers of lower rank; layers of equal rank only themselves. */
  readonly rank: number;
}

/**
 * The layers of lpbench, bottom to top.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LAYERS } from "./layers.ts";
 * assert.equal(LAYERS[0].path, "src/formats");
 * assert.equal(LAYERS.at(-1)?.path, "scripts");
 * ```
 */
export const LAYERS: readonly Layer[] = [
  { path: "src/formats", rank: 0 },
  { path: "src/gpu", rank: 0 },
  { path: "src/io", rank: 0 },
  { path: "src/usage.ts", rank: 0 },
  { path: "src/cli_help.ts", rank: 0 },
  { path: "src/health", rank: 0 },
  { path: "kernels", rank: 1 },
  { path: "src/model", rank: 2 },
  { path: "src/train", rank: 3 },
  { path: "src/recipe", rank: 4 },
  { path: "src/runner", rank: 5 },
  { path: "src/report", rank: 6 },
  { path: "bench", rank: 7 },
  { path: "cli.ts", rank: 8 },
  { path: "mod.ts", rank: 9 },
  { path: "scripts", rank: 10 },
];

/**
 * The layer of a file (a path relative to the root, `/`-separated), or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerOf } from "./layers.ts";
 * assert.equal(layerOf("kernels/gemm/mod.ts")?.path, "kernels");
 * assert.equal(layerOf("src/model/blocks/mamba.ts")?.path, "src/model");
 * assert.equal(layerOf("tests/assert.ts"), undefined);
 * ```
 */
export function layerOf(file: string, layers: readonly Layer[] = LAYERS): Layer | undefined {
  return layers.find((l) => file === l.path || file.startsWith(`${l.path}/`));
}

/** The part of `deno info --json` output this check reads. */
export interface ModuleGraph {
  /** Each module by its URL, with the resolved URLs of what it imports (code or types only). */
  readonly modules: readonly {
    readonly specifier: string;
    readonly dependencies?: readonly {
      readonly code?: { readonly specifier: string };
      readonly type?: { readonly specifier: string };
    }[];
  }[];
}

/**
 * The offending imports of `graph` among the files below `root`, one line each, sorted:
 * imports of a layer above (or of another bottom layer), and imports from or of a module in no
 * layer. Files outside `root` (packages, `node:`) and files under `tests/` are not checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { upwardImports } from "./layers.ts";
 * const root = new URL("file:///repo/");
 * const graph = {
 *   modules: [
 *     { specifier: "file:///repo/src/model/a.ts", dependencies: [
 *       { code: { specifier: "file:///repo/kernels/gemm/mod.ts" } },
 *       { type: { specifier: "file:///repo/src/train/loop.ts" } },
 *       { code: { specifier: "npm:zod@4.6.7" } },
 *     ] },
 *   ],
 * };
 * assert.deepEqual(upwardImports(graph, root), [
 *   "src/model/a.ts → src/train/loop.ts (layer src/model may not import layer src/train)",
 * ]);
 * ```
 */
export function upwardImports(
  graph: ModuleGraph,
  root: URL,
  layers: readonly Layer[] = LAYERS,
): string[] {
  const local = (specifier: string) =>
    specifier.startsWith(root.href)
      ? decodeURIComponent(specifier.slice(root.href.length))
      : undefined;
  const checked = (file: string | undefined): file is string =>
    file !== undefined && !file.startsWith("tests/");
  const lines = new Set<string>();
  for (const module of graph.modules) {
    const from = local(module.specifier);
    if (!checked(from)) continue;
    const fromLayer = layerOf(from, layers);
    if (!fromLayer) {
      lines.add(`${from} (in no layer; give its folder a layer in scripts/layers.ts)`);
      continue;
    }
    for (const dep of module.dependencies ?? []) {
      for (const target of [dep.code, dep.type]) {
        const to = target && local(target.specifier);
        if (to === undefined) continue;
        const toLayer = layerOf(to, layers);
        if (toLayer === fromLayer || (toLayer && toLayer.rank < fromLayer.rank)) continue;
        const what = toLayer ? `layer ${toLayer.path}` : `${to}, which is in no layer`;
        lines.add(`${from} → ${to} (layer ${fromLayer.path} may not import ${what})`);
      }
    }
  }
  return [...lines].sort();
}

/** The `.ts`/`.js` files below `dir` (or `dir` itself when it is such a file), root-relative. */
async function sourceFiles(root: string, path: string): Promise<string[]> {
  const full = join(root, path);
  const info = await Deno.stat(full).catch(() => undefined);
  if (!info) return [];
  if (info.isFile) return /\.(ts|js|mts|mjs|tsx|jsx)$/.test(path) ? [path] : [];
  const out: string[] = [];
  for await (const entry of Deno.readDir(full)) {
    out.push(...await sourceFiles(root, `${path}/${entry.name}`));
  }
  return out;
}

/**
 * Deno's module graph of every source file under the top-level folders (and files) of
 * `layers` in the tree at `root`, resolved with the import map of the tree's `deno.json`.
 */
export async function moduleGraph(
  root: URL,
  layers: readonly Layer[] = LAYERS,
): Promise<ModuleGraph> {
  const dir = fileURLToPath(root);
  const tops = [...new Set(layers.map((l) => l.path.split("/")[0]))];
  const files = (await Promise.all(tops.map((t) => sourceFiles(dir, t)))).flat().sort();
  const entry = files.map((f) => `import ${JSON.stringify(new URL(f, root).href)};`).join("\n");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `data:application/typescript,${encodeURIComponent(entry)}`],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`deno info failed: ${new TextDecoder().decode(stderr).trim()}`);
  }
  return JSON.parse(new TextDecoder().decode(stdout));
}

/**
 * The offending imports of the tree at `root` (a folder URL ending in `/`).
 *
 * @example
 * ```ts
 * import { checkTree } from "./layers.ts";
 * for (const line of await checkTree(new URL("../", import.meta.url))) console.log(line);
 * ```
 */
export async function checkTree(root: URL): Promise<string[]> {
  return upwardImports(await moduleGraph(root), root);
}

if (import.meta.main) {
  const arg = Deno.args[0];
  const root = arg === undefined
    ? new URL("../", import.meta.url)
    : pathToFileURL(arg.endsWith("/") ? arg : `${arg}/`);
  const lines = await checkTree(root);
  for (const line of lines) console.log(line);
  if (lines.length > 0) Deno.exit(1);
  console.log(`layers: no upward import in ${relative(Deno.cwd(), fileURLToPath(root)) || "."}`);
}
