/**
 * Glob matching of linear-layer names (`blocks.3.qkv`, `blocks.12.out_proj`) for per-layer
 * precision selectors, with the `fnmatch` semantics of Python's standard library, which Megatron's
 * `--te-precision-config-file` uses: `*` matches any run of characters, dots included
 * (`*.out_proj`), `?` one character, `[0-1]` a character class and `[!0]` its complement; the
 * whole name must match. Written out here (a translation to a RegExp) rather than taken from a
 * glob package because the model is loaded by `deno task kernels`, which runs with no npm packages.
 *
 * @module
 */

const compiled = new Map<string, RegExp>();

/**
 * The RegExp equivalent of an `fnmatch` pattern (Python's `fnmatch.translate`): `*` → `.*`,
 * `?` → `.`, `[…]` a class (`[!…]` negated, `]` first taken literally), an unclosed `[` literal.
 */
function translate(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      let j = i + 1;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j++;
      if (j >= pattern.length) re += "\\[";
      else {
        let body = pattern.slice(i + 1, j).replaceAll("\\", "\\\\").replaceAll("]", "\\]");
        if (body.startsWith("!")) body = "^" + body.slice(1);
        else if (body.startsWith("^")) body = "\\" + body;
        re += `[${body}]`;
        i = j;
      }
    } else re += c.replace(/[.+^${}()|\\/\]]/g, "\\$&");
  }
  return new RegExp(`^(?:${re})$`, "s");
}

/**
 * Whether the glob `pattern` matches the whole layer `name`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerMatches } from "./layer_match.ts";
 * assert.equal(layerMatches("blocks.[0-1].*", "blocks.1.fc1"), true);
 * assert.equal(layerMatches("blocks.[0-1].*", "blocks.10.fc1"), false);
 * assert.equal(layerMatches("blocks.[!0].fc1", "blocks.0.fc1"), false);
 * assert.equal(layerMatches("*.out_proj", "blocks.5.out_proj"), true);
 * assert.equal(layerMatches("blocks.*.qkv", "blocks.12.qkv"), true);
 * assert.equal(layerMatches("blocks.1?.fc2", "blocks.12.fc2"), true);
 * assert.equal(layerMatches("blocks.1.fc", "blocks.1.fc1"), false);
 * ```
 */
export function layerMatches(pattern: string, name: string): boolean {
  let re = compiled.get(pattern);
  if (re === undefined) {
    re = translate(pattern);
    compiled.set(pattern, re);
  }
  return re.test(name);
}
