/**
 * Structural validation of a YAML file against a zod schema, with zod's issues turned into
 * located problems worded for YAML users: `missing required key`, `expected an integer, got 1.5`,
 * `expected a finite number, got .nan`, `unknown key "decay_from" (known: ...)`. A failed union
 * is explained by the one alternative whose type matches the value, else by its own message.
 *
 * @module
 */

import { z } from "zod";
import { type KeyPath, type Problem, showValue } from "./problems.ts";
import type { SourceFile } from "./source.ts";

type Issue = z.core.$ZodIssue;

/**
 * Validates `src`'s data against `schema`: the typed data when it conforms, and every problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { checkSchema } from "./issues.ts";
 * import { SourceFile } from "./source.ts";
 * const schema = z.strictObject({ steps: z.int().min(1), lr: z.number() });
 * const src = new SourceFile("r.yaml", "steps: 0\nlr: .nan\nlrr: 1\n");
 * const { data, problems } = checkSchema(src, schema);
 * assert.equal(data, undefined);
 * assert.deepEqual(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`), [
 *   "1:8 steps: must be ≥ 1, got 0",
 *   "2:5 lr: expected a finite number, got .nan",
 *   '3:1 lrr: unknown key "lrr" (known: steps, lr)',
 * ]);
 * ```
 */
export function checkSchema<S extends z.ZodType>(
  src: SourceFile,
  schema: S,
): { data?: z.infer<S>; problems: Problem[] } {
  const result = schema.safeParse(src.data);
  if (result.success) return { data: result.data, problems: [] };
  const problems = result.error.issues.flatMap((i) => explain(src, i, [], schema));
  return { problems };
}

/** Problems for one issue whose path is relative to `base`, where `schema` validates. */
function explain(src: SourceFile, issue: Issue, base: KeyPath, schema: z.ZodType): Problem[] {
  const path = [...base, ...(issue.path as KeyPath)];
  const { found, value } = valueAt(src.data, path);
  const got = `got ${showValue(value)}`;
  const at = (message: string) => [src.problem(path, message)];
  switch (issue.code) {
    case "invalid_type": {
      if (!found) return at("missing required key");
      if (typeof value === "number" && !Number.isFinite(value)) {
        return at(`expected a finite number, ${got}`);
      }
      return at(`expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, ${got}`);
    }
    case "too_small":
    case "too_big": {
      const small = issue.code === "too_small";
      const bound = small ? issue.minimum : issue.maximum;
      if (issue.origin === "array") {
        return at(`must hold ${small ? "at least" : "at most"} ${bound} items, ${got}`);
      }
      if (issue.origin === "string") return at(`must not be empty`);
      const op = small ? (issue.inclusive ? "≥" : ">") : (issue.inclusive ? "≤" : "<");
      return at(`must be ${op} ${bound}, ${got}`);
    }
    case "invalid_value": {
      const values = issue.values.map(showValue);
      const expected = values.length === 1 ? values[0] : `one of ${values.join(", ")}`;
      return at(found ? `expected ${expected}, ${got}` : `missing required key (${expected})`);
    }
    case "unrecognized_keys": {
      const known = keysAt(schema, src.data, path, base.length);
      const hint = known.length > 0 ? ` (known: ${known.join(", ")})` : "";
      return issue.keys.map((k) =>
        src.problem([...path, k], `unknown key ${JSON.stringify(k)}${hint}`, "key")
      );
    }
    case "invalid_key":
      return [src.problem(path, `${issue.issues[0]?.message ?? issue.message}, ${got}`, "key")];
    case "invalid_union": {
      if (issue.discriminator !== undefined && "options" in issue) {
        const options = (issue.options ?? []).map(showValue).join(", ");
        return at(
          found ? `expected one of ${options}, ${got}` : `missing required key (one of ${options})`,
        );
      }
      if (!found) return at("missing required key");
      const branches = issue.errors.map((errors, i) => ({ errors, i }))
        .filter(({ errors }) => errors.every((e) => fitsType(e, value)));
      if (branches.length === 1) {
        const union = walk(schema, src.data, path, base.length) as z.ZodUnion;
        const option = union.options[branches[0].i] as z.ZodType;
        return branches[0].errors.flatMap((e) => explain(src, e, path, option));
      }
      return at(`${issue.message}, ${got}`);
    }
    default:
      return at(found ? `${issue.message}, ${got}` : issue.message);
  }
}

/**
 * Whether an issue of a union's alternative leaves the value's type matching the alternative:
 * it lies deeper, is about unknown keys, or rejects a value of the right type (a string not in
 * an enum).
 */
function fitsType(issue: Issue, value: unknown): boolean {
  if (issue.path.length > 0 || issue.code === "unrecognized_keys") return true;
  return issue.code === "invalid_value" && typeof value !== "object" &&
    issue.values.some((v) => typeof v === typeof value);
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  tuple: "a list",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  null: "null",
};

function valueAt(data: unknown, path: KeyPath): { found: boolean; value: unknown } {
  let value = data;
  for (const key of path) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) {
      return { found: false, value: undefined };
    }
    value = (value as Record<string | number, unknown>)[key];
  }
  return { found: true, value };
}

/** Unwraps optional and nullable wrappers. */
function bare(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  return s;
}

/**
 * The schema (without optional/nullable wrappers) that validates the value at `path`, where
 * `schema` validates the value at `path.slice(0, from)`; unions on the way are resolved by the
 * data.
 */
function walk(schema: z.ZodType, data: unknown, path: KeyPath, from: number): z.ZodType {
  let s = bare(schema);
  for (let i = from; i < path.length; i++) {
    s = pick(s, valueAt(data, path.slice(0, i)).value);
    const key = path[i];
    if (s instanceof z.ZodObject) s = s.shape[key] as z.ZodType;
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodTuple) s = s.def.items[key as number] as z.ZodType;
    s = bare(s);
  }
  return s;
}

/**
 * The object alternative of a union (nested unions included) that fits `value`, by its `kind`
 * where several could.
 */
function pick(schema: z.ZodType, value: unknown): z.ZodType {
  if (!(schema instanceof z.ZodUnion)) return schema;
  const flat = (u: z.ZodUnion): z.ZodType[] =>
    (u.options as z.ZodType[]).map(bare).flatMap((o) => o instanceof z.ZodUnion ? flat(o) : [o]);
  const objects = flat(schema).filter((o) => o instanceof z.ZodObject);
  const kind = (value as { kind?: unknown } | undefined)?.kind;
  return objects.find((o) => {
    const k = (o as z.ZodObject).shape.kind;
    return k instanceof z.ZodLiteral && k.values.has(kind as never);
  }) ?? objects[0] ?? schema;
}

function keysAt(schema: z.ZodType, data: unknown, path: KeyPath, from: number): string[] {
  const s = pick(walk(schema, data, path, from), valueAt(data, path).value);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}
