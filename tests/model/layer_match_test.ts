import { assertEquals } from "../assert.ts";
import { layerMatches } from "../../src/model/layer_match.ts";

Deno.test("layer globs follow Python's fnmatch: * crosses dots, classes, negation, literal brackets", () => {
  const cases: [string, string, boolean][] = [
    ["*", "blocks.0.qkv", true],
    ["blocks.*", "blocks.0.qkv", true],
    ["*.out_proj", "blocks.11.out_proj", true],
    ["*.out_proj", "blocks.11.out_proj2", false],
    ["blocks.?.fc1", "blocks.7.fc1", true],
    ["blocks.?.fc1", "blocks.17.fc1", false],
    ["blocks.[0-2].*", "blocks.2.proj", true],
    ["blocks.[0-2].*", "blocks.3.proj", false],
    ["blocks.[!0-2].*", "blocks.3.proj", true],
    ["blocks.[]0].x", "blocks.].x", true],
    ["blocks.[0.x", "blocks.[0.x", true],
    ["blocks.0.qkv", "blocksX0.qkv", false], // a dot is a dot, not any character
    ["blocks.(0|1).qkv", "blocks.0.qkv", false], // no regular-expression syntax
    ["lm_head", "lm_head", true],
  ];
  for (const [pattern, name, expected] of cases) {
    assertEquals(layerMatches(pattern, name), expected, `${pattern} vs ${name}`);
  }
});
