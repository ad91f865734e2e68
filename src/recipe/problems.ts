/**
 * Problems found in recipe files, each with its file, line, column and key path, and the
 * {@link RecipeError} that carries all of them, one per line:
 * `recipes/x.yaml:14:7 policies.nvfp4.weights.block: expected [1,16] or [16,16], got [8,8]`.
 *
 * @module
 */

/** A key path into a YAML document: map keys and sequence indices. */
export type KeyPath = readonly (string | number)[];

/** One problem of a recipe or preset file. */
export interface Problem {
  /** The file as it was named (recipe path as given, preset path relative to the working dir). */
  readonly file: string;
  /** 1-based line; 0 when the problem concerns the file as a whole (for instance, unreadable). */
  readonly line: number;
  /** 1-based column; 0 with line 0. */
  readonly column: number;
  /** Dotted key path such as `policies.nvfp4.weights.block` or `seeds[2]`; empty for the file. */
  readonly path: string;
  /** What is wrong, and where it helps, what to write instead. */
  readonly message: string;
}

/**
 * Formats a key path: keys joined by dots, indices in brackets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPath } from "./problems.ts";
 * assert.equal(formatPath(["train", "optimizer", "adamw", "betas", 1]), "train.optimizer.adamw.betas[1]");
 * ```
 */
export function formatPath(path: KeyPath): string {
  let out = "";
  for (const key of path) {
    out += typeof key === "number" ? `[${key}]` : out === "" ? key : `.${key}`;
  }
  return out;
}

/**
 * One problem as a line: `file:line:column path: message` (the location and path left out
 * where they are empty).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatProblem } from "./problems.ts";
 * const p = { file: "r.yaml", line: 3, column: 5, path: "seeds[0]", message: "expected an integer, got 1.5" };
 * assert.equal(formatProblem(p), "r.yaml:3:5 seeds[0]: expected an integer, got 1.5");
 * ```
 */
export function formatProblem(p: Problem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return p.path === "" ? `${where}: ${p.message}` : `${where} ${p.path}: ${p.message}`;
}

/**
 * Every problem of a recipe (and the presets it uses). `message` lists them one per line, by
 * file, then line and column, so a command line tool prints it as it is (and exits 2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RecipeError } from "./problems.ts";
 * const e = new RecipeError([
 *   { file: "r.yaml", line: 2, column: 8, path: "model.heads", message: "must be ≥ 1, got 0" },
 *   { file: "r.yaml", line: 1, column: 7, path: "name", message: "expected a string, got 5" },
 * ]);
 * assert.equal(e.message, "r.yaml:1:7 name: expected a string, got 5\nr.yaml:2:8 model.heads: must be ≥ 1, got 0");
 * assert.equal(e.problems.length, 2);
 * ```
 */
export class RecipeError extends Error {
  /** The problems, by file (in order of first appearance), then line and column. */
  readonly problems: readonly Problem[];

  /** An error carrying `problems` (at least one), sorted and with duplicates dropped. */
  constructor(problems: readonly Problem[]) {
    const sorted = sortProblems(problems);
    super(sorted.map(formatProblem).join("\n"));
    this.name = "RecipeError";
    this.problems = sorted;
  }
}

/**
 * Problems grouped by file (in the order the files first appear), then in line and column order;
 * duplicates (the same line of output) dropped.
 */
function sortProblems(problems: readonly Problem[]): Problem[] {
  const files = [...new Set(problems.map((p) => p.file))];
  const seen = new Set<string>();
  return [...problems]
    .sort((a, b) =>
      files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line || a.column - b.column
    )
    .filter((p) => {
      const line = formatProblem(p);
      if (seen.has(line)) return false;
      seen.add(line);
      return true;
    });
}

/**
 * A value as YAML users write it, for messages: `.nan`, `.inf`, strings quoted, lists and maps
 * compact (`[8,8]`), cut after 60 characters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showValue } from "./problems.ts";
 * assert.equal(showValue([8, 8]), "[8,8]");
 * assert.equal(showValue(Number.NaN), ".nan");
 * assert.equal(showValue({ size: -Infinity }), '{"size":-.inf}');
 * assert.equal(showValue("fp4"), '"fp4"');
 * ```
 */
export function showValue(value: unknown): string {
  const text = show(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function show(value: unknown): string {
  if (typeof value === "number") {
    if (Number.isNaN(value)) return ".nan";
    if (!Number.isFinite(value)) return value > 0 ? ".inf" : "-.inf";
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(show).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    return `{${
      Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${show(v)}`).join(",")
    }}`;
  }
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
