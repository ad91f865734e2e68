/**
 * Canonical JSON and the recipe hash: key order, spelling of equivalent settings, the file's
 * place and descriptions do not change it; anything that changes a result does.
 */

import { assertEquals, assertThrows } from "../assert.ts";
import { canonicalJson, sha256Hex } from "../../src/recipe/hash.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import { DelayedScaling } from "../../src/formats/fp8.ts";
import { BASE, edit, load } from "./fixture.ts";

Deno.test("canonical JSON sorts keys at every depth and has no whitespace", () => {
  const a = { z: 1, a: { y: [3, { c: true, b: null }], x: "s" } };
  const b = { a: { x: "s", y: [3, { b: null, c: true }] }, z: 1 };
  assertEquals(canonicalJson(a), '{"a":{"x":"s","y":[3,{"b":null,"c":true}]},"z":1}');
  assertEquals(canonicalJson(a), canonicalJson(b));
  assertEquals(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  assertEquals(canonicalJson([1e21, 0.1, -0]), "[1e+21,0.1,0]");
});

Deno.test("canonical JSON refuses what JSON cannot hold exactly", () => {
  assertThrows(() => canonicalJson({ x: [Infinity] }), /x\[0\]: Infinity is not JSON/);
  assertThrows(
    () => canonicalJson({ s: new DelayedScaling("e4m3") }),
    /s: a DelayedScaling is not plain JSON/,
  );
  assertThrows(() => canonicalJson(new Map()), /a Map is not plain JSON/);
});

Deno.test("sha256Hex of text and of bytes", () => {
  assertEquals(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assertEquals(sha256Hex(new TextEncoder().encode("abc")), sha256Hex("abc"));
});

Deno.test("the recipe hash ignores key order, equivalent spellings, the path and descriptions", async () => {
  const base = await load(BASE);
  const reordered = await load(`description: the same recipe, written differently
policies:
  bf16: { extends: bf16, description: plain BF16 }
  nvfp4:
    extends: bf16
    activations: { format: nvfp4 }
    weights: { format: { kind: nvfp4, tile: 16x16 } }
    grads: { format: nvfp4, rounding: stochastic }
    wgrad: { rht: { size: 16, signs: [1, 1, 1, -1, 1, -1, -1, -1, -1, -1, -1, 1, -1, 1, -1, -1] } }
    high_precision_blocks: { first: 1, last: 1 }
baseline: bf16
seeds: [0, 1]
train:
  eval: { batches: 2, every: 10 }
  clip: 1.0
  schedule: { wsd: { warmup: 2, decay_fraction: 0.2, decay: linear } }
  optimizer: { adamw: { weight_decay: 0.1, eps: 1.0e-8, betas: [0.9, 0.95], lr: 1.0e-3 } }
  batch: 4
  steps: 20
  log_every: 10
  warmup_steps: 3
data: { corpus: [moby-dick], tokenizer: byte, val_fraction: 0.05 }
model: { mlp: relu2, vocab: 256, seq_len: 32, d_ff: 256, heads: 4, d_model: 64, pattern: "*-*-" }
name: tiny
`);
  assertEquals(reordered.hash, base.hash);
  assertEquals(reordered.hash.length, 64);
  assertEquals(
    expandRuns(reordered),
    expandRuns(base).map((r) => ({ ...r, recipePath: reordered.path })),
  );
});

Deno.test("the recipe hash changes with anything that changes a result", async () => {
  const base = (await load(BASE)).hash;
  const variants: [string, string][] = [
    ["name: tiny", "name: tiny2"],
    ["  d_ff: 256", "  d_ff: 512"],
    ["  corpus: moby-dick", "  corpus: sotu"],
    ["  batch: 4", "  batch: 8"],
    ["eps: 1.0e-8", "eps: 1.0e-7"],
    ["  clip: 1.0", "  clip: null"],
    ["seeds: [0, 1]", "seeds: [1, 0]"],
    ["  nvfp4: { extends: nvfp4 }", "  nvfp4: { extends: nvfp4-no-sr }"],
  ];
  const hashes = new Set([base]);
  for (const change of variants) hashes.add((await load(edit(BASE, change))).hash);
  assertEquals(hashes.size, variants.length + 1);
});
