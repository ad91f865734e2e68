/**
 * Reading JSON text checked against a zod schema, for the files lpbench writes and reads back (run
 * records, report run lists). The outcome is the value or one line saying what is wrong: `not
 * valid JSON (…)`, or the first three schema problems as `key.path: message`, joined by `; `, with
 * `(and N more)`. The value is the parsed JSON itself, not zod's copy: the schemas only check (no
 * transforms), and keys stay in the order and with the extra fields the file has. The caller
 * names the file in its own error.
 *
 * @module
 */

import type { z } from "zod";

/** A checked value, or why the text is not one. */
export type Checked<T> = { readonly value: T } | { readonly problem: string };

/**
 * Parses `text` as JSON and checks it against `schema`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { parseChecked } from "./json.ts";
 * const schema = z.object({ a: z.number(), b: z.string() });
 * assert.deepEqual(parseChecked('{"a": 1, "b": "x"}', schema), { value: { a: 1, b: "x" } });
 * assert.deepEqual(parseChecked('{"a": "1"}', schema), {
 *   problem: "a: Invalid input: expected number, received string; " +
 *     "b: Invalid input: expected string, received undefined",
 * });
 * assert.match((parseChecked("{", schema) as { problem: string }).problem, /^not valid JSON \(/);
 * ```
 */
export function parseChecked<S extends z.ZodType>(text: string, schema: S): Checked<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { problem: `not valid JSON (${(e as Error).message})` };
  }
  const checked = schema.safeParse(json);
  if (checked.success) return { value: json as z.output<S> };
  const issues = checked.error.issues;
  const first = issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : "";
  return { problem: first.join("; ") + more };
}
