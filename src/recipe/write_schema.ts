/**
 * Writes the JSON Schemas that editors use for recipe and preset files, generated from the zod
 * schemas of `schema.ts`: `recipes/schema.json` and `recipes/presets/schema.json`.
 *
 * ```sh
 * deno run --allow-write src/recipe/write_schema.ts
 * ```
 *
 * @module
 */

import { presetJsonSchema, recipeJsonSchema } from "./schema.ts";

/**
 * The schema files: where each lies and its text (2-space JSON with a final newline).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemaFiles } from "./write_schema.ts";
 * const [recipe, preset] = schemaFiles();
 * assert.ok(recipe.url.pathname.endsWith("/recipes/schema.json"));
 * assert.ok(preset.url.pathname.endsWith("/recipes/presets/schema.json"));
 * assert.equal(JSON.parse(recipe.text).title, "lpbench recipe");
 * ```
 */
export function schemaFiles(): { url: URL; text: string }[] {
  const text = (schema: unknown) => `${JSON.stringify(schema, null, 2)}\n`;
  return [
    { url: new URL("../../recipes/schema.json", import.meta.url), text: text(recipeJsonSchema()) },
    {
      url: new URL("../../recipes/presets/schema.json", import.meta.url),
      text: text(presetJsonSchema()),
    },
  ];
}

if (import.meta.main) {
  for (const { url, text } of schemaFiles()) {
    await Deno.writeTextFile(url, text);
    console.log(`wrote ${url.pathname}`);
  }
}
