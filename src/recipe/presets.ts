/**
 * Preset policies: the YAML files of `recipes/presets/`, one policy each, named by their file
 * name (`nvfp4.yaml` is the preset `nvfp4`). They are read once per recipe load and checked
 * against the policy schema when first used, so a problem in a preset is reported (with the
 * preset's file and line) only when a recipe uses it. `preset_policies.ts` resolves them all
 * into the built-in `POLICIES`.
 *
 * @module
 */

import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { checkSchema } from "./issues.ts";
import type { Problem } from "./problems.ts";
import { type PolicyInput, PolicySchema } from "./schema.ts";
import { SourceFile } from "./source.ts";

/**
 * The folder of the preset files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PRESETS_DIR } from "./presets.ts";
 * assert.ok((await Deno.stat(new URL("nvfp4.yaml", PRESETS_DIR))).isFile);
 * ```
 */
export const PRESETS_DIR: URL = new URL("../../recipes/presets/", import.meta.url);

/** A policy as written, and where: a preset file or an entry of a recipe's `policies`. */
export interface PolicyDef {
  /** Where the policy is written: a recipe's `policies` or a preset file. */
  readonly scope: "recipe" | "preset";
  /** Its key in the recipe's `policies`, or the preset's file name without `.yaml`. */
  readonly name: string;
  /** The policy as written, checked against the policy schema. */
  readonly input: PolicyInput;
  /** The file it is written in. */
  readonly src: SourceFile;
  /** The policy's key path in `src` (`[]` for a preset, `["policies", name]` in a recipe). */
  readonly path: readonly (string | number)[];
}

/**
 * The preset files of a folder, parsed and checked on first use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Presets } from "./presets.ts";
 * import type { Problem } from "./problems.ts";
 * const presets = await Presets.read();
 * assert.ok(presets.names.includes("nvfp4"));
 * const problems: Problem[] = [];
 * assert.equal(presets.def("nvfp4", problems)?.input.head, "bf16");
 * assert.equal(presets.def("nvfp5", problems), undefined);
 * assert.deepEqual(problems, []);
 * ```
 */
export class Presets {
  /** Preset names, sorted. */
  readonly names: readonly string[];
  readonly #texts: ReadonlyMap<string, { file: string; text: string }>;
  readonly #defs = new Map<string, PolicyDef | null>();

  private constructor(texts: ReadonlyMap<string, { file: string; text: string }>) {
    this.#texts = texts;
    this.names = [...texts.keys()].sort();
  }

  /** Reads every `*.yaml` file of `dir` (default {@link PRESETS_DIR}). */
  static async read(dir: URL = PRESETS_DIR): Promise<Presets> {
    const texts = new Map<string, { file: string; text: string }>();
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".yaml")) continue;
      const url = new URL(entry.name, dir);
      const file = relative(Deno.cwd(), fileURLToPath(url));
      texts.set(entry.name.slice(0, -".yaml".length), { file, text: await Deno.readTextFile(url) });
    }
    return new Presets(texts);
  }

  /**
   * The same files with nothing parsed or checked yet, so that each preset's problems are
   * reported again (to resolve presets one at a time, each with the problems of all it uses).
   */
  fresh(): Presets {
    return new Presets(this.#texts);
  }

  /**
   * The preset `name`: its definition; `undefined` when there is no such preset; `null` when
   * its file has problems (pushed to `problems` the first time).
   */
  def(name: string, problems: Problem[]): PolicyDef | null | undefined {
    if (this.#defs.has(name)) return this.#defs.get(name);
    const entry = this.#texts.get(name);
    if (entry === undefined) return undefined;
    const src = new SourceFile(entry.file, entry.text);
    problems.push(...src.problems);
    const checked = src.broken ? { problems: [] } : checkSchema(src, PolicySchema);
    problems.push(...checked.problems);
    const def = src.problems.length === 0 && checked.data
      ? { scope: "preset" as const, name, input: checked.data, src, path: [] }
      : null;
    this.#defs.set(name, def);
    return def;
  }
}
