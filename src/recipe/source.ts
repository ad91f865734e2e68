/**
 * A parsed YAML file that remembers where every key and value came from: strict YAML 1.2 (core
 * schema, duplicate keys rejected) through the `yaml` package, and problems located by key path.
 *
 * @module
 */

import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from "yaml";
import { formatPath, type KeyPath, type Problem } from "./problems.ts";

/** Whether a problem points at a map entry's key or at its value. */
export type Anchor = "key" | "value";

/**
 * A YAML file's data with the positions of its nodes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SourceFile } from "./source.ts";
 * const src = new SourceFile("r.yaml", "name: a\nmodel:\n  heads: 0\nname: b\n");
 * assert.deepEqual(src.problems.map((p) => [p.line, p.column, p.path, p.message]), [
 *   [4, 1, "name", 'duplicate key "name"'],
 * ]);
 * assert.equal(src.broken, false);
 * assert.deepEqual(src.problem(["model", "heads"], "must be ≥ 1, got 0"), {
 *   file: "r.yaml", line: 3, column: 10, path: "model.heads", message: "must be ≥ 1, got 0",
 * });
 * ```
 */
export class SourceFile {
  /** The file name used in problems. */
  readonly file: string;
  /** The plain data (maps as objects, `.nan`/`.inf` as NaN/Infinity). */
  readonly data: unknown;
  /** Syntax problems, duplicate keys and unresolved tags. */
  readonly problems: readonly Problem[];
  /** Whether the syntax problems leave no document worth checking further. */
  readonly broken: boolean;
  readonly #doc: ReturnType<typeof parseDocument>;
  readonly #lines: LineCounter;

  /** Parses `text`, the contents of `file`. */
  constructor(file: string, text: string) {
    this.file = file;
    this.#lines = new LineCounter();
    this.#doc = parseDocument(text, {
      lineCounter: this.#lines,
      prettyErrors: false,
      schema: "core",
      uniqueKeys: true,
      strict: true,
    });
    const problems: Problem[] = [];
    for (const e of [...this.#doc.errors, ...this.#doc.warnings]) {
      const duplicate = e.code === "DUPLICATE_KEY";
      const path = duplicate ? this.#keyPathAt(e.pos[0]) : [];
      const key = path.at(-1);
      const message = duplicate && key !== undefined
        ? `duplicate key ${JSON.stringify(key)}`
        : e.message;
      problems.push(this.#at(e.pos[0], path, message));
    }
    this.problems = problems;
    this.broken = this.#doc.errors.some((e) => e.code !== "DUPLICATE_KEY");
    this.data = this.broken ? undefined : this.#doc.toJS();
  }

  /**
   * A problem at `path`: at the value there (or at its key, with `anchor` `"key"`). Where the
   * path does not exist (a missing key), the deepest node that does is used.
   */
  problem(path: KeyPath, message: string, anchor: Anchor = "value"): Problem {
    const node = this.#find(path, anchor);
    return this.#at(node?.range?.[0] ?? 0, path, message);
  }

  #at(offset: number, path: KeyPath, message: string): Problem {
    const { line, col } = this.#lines.linePos(offset);
    return { file: this.file, line, column: col, path: formatPath(path), message };
  }

  #find(path: KeyPath, anchor: Anchor): Node | null {
    let node: unknown = this.#doc.contents;
    for (let i = 0; i < path.length; i++) {
      if (isAlias(node)) node = node.resolve(this.#doc);
      const key = path[i];
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.findLast((p) =>
          isScalar(p.key) && String(p.key.value) === String(key)
        );
        if (!pair) return node;
        if (anchor === "key" && i === path.length - 1) return pair.key as Node;
        next = pair.value;
      } else if (isSeq(node) && typeof key === "number") {
        next = node.items[key];
      }
      if (!next || !(isMap(next) || isSeq(next) || isScalar(next) || isAlias(next))) {
        return node as Node | null;
      }
      node = next;
    }
    return node as Node | null;
  }

  /** The key path of the map key that starts at `offset`. */
  #keyPathAt(offset: number): KeyPath {
    const walk = (node: unknown, path: KeyPath): KeyPath | undefined => {
      if (isMap(node)) {
        for (const pair of node.items) {
          if (!isPair(pair) || !isScalar(pair.key)) continue;
          const here = [...path, String(pair.key.value)];
          if (pair.key.range?.[0] === offset) return here;
          const found = walk(pair.value, here);
          if (found) return found;
        }
      } else if (isSeq(node)) {
        for (let i = 0; i < node.items.length; i++) {
          const found = walk(node.items[i], [...path, i]);
          if (found) return found;
        }
      }
      return undefined;
    };
    return walk(this.#doc.contents, []) ?? [];
  }
}
