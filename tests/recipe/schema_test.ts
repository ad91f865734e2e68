/**
 * The committed JSON Schemas are what `src/recipe/write_schema.ts` generates, and they describe
 * the files the loader accepts.
 */

import { assertEquals, assertOk } from "../assert.ts";
import { schemaFiles } from "../../src/recipe/write_schema.ts";
import { RecipeSchema } from "../../src/recipe/schema.ts";

Deno.test("recipes/schema.json and recipes/presets/schema.json are up to date", async () => {
  for (const { url, text } of schemaFiles()) {
    assertEquals(
      await Deno.readTextFile(url),
      text,
      `${url.pathname} is stale: run deno run --allow-write src/recipe/write_schema.ts`,
    );
  }
});

Deno.test("the recipe schema lists every top-level key and forbids others", () => {
  const schema = JSON.parse(schemaFiles()[0].text);
  assertEquals(Object.keys(schema.properties), Object.keys(RecipeSchema.shape));
  assertEquals(schema.additionalProperties, false);
  const schedule = schema.properties.train.properties.schedule;
  assertEquals([schedule.minProperties, schedule.maxProperties], [1, 1]);
  const policy = schema.definitions.Policy;
  assertEquals(policy.additionalProperties, false);
  assertOk(policy.properties.weights.description.includes("fprop.w and dgrad.w"));
});
