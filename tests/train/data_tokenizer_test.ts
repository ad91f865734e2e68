/** Tokenizers: exact byte-level round trips, GPT-2 BPE ids of known strings, bad input. */

import { assertEquals, assertOk, assertStrictEquals, assertThrows } from "../assert.ts";
import { byteTokenizer } from "../../src/train/data/byte_tokenizer.ts";
import { gpt2Tokenizer } from "../../src/train/data/gpt2_tokenizer.ts";
import { getTokenizer, TOKENIZER_NAMES } from "../../src/train/data/tokenizers.ts";

const SAMPLES = ["", "Call me Ishmael.", "naïve café — 東京 🐋\n\ttabs\r\n", "<|endoftext|>"];

Deno.test("byte tokenizer: UTF-8 bytes, exact round trip", () => {
  for (const s of SAMPLES) {
    const ids = byteTokenizer.encode(s);
    assertEquals([...ids], [...new TextEncoder().encode(s)]);
    assertStrictEquals(byteTokenizer.decode(ids), s);
  }
  assertStrictEquals(byteTokenizer.encode("🐋").length, 4);
});

Deno.test("byte tokenizer: a cut multi-byte character decodes to U+FFFD", () => {
  assertStrictEquals(byteTokenizer.decode([0x61, 0xf0, 0x9f]), "a\ufffd");
});

Deno.test("gpt2 tokenizer: known ids", () => {
  // Ids from OpenAI's tiktoken "gpt2" encoding (cross-checked with the js-tiktoken port).
  assertEquals([...gpt2Tokenizer.encode("Hello world")], [15496, 995]);
  assertEquals([...gpt2Tokenizer.encode("hello world")], [31373, 995]);
  assertEquals([...gpt2Tokenizer.encode("Call me Ishmael.")], [14134, 502, 1148, 21720, 417, 13]);
  assertEquals(
    [...gpt2Tokenizer.encode(SAMPLES[2])],
    [
      2616,
      38776,
      40304,
      851,
      10545,
      251,
      109,
      12859,
      105,
      12520,
      238,
      233,
      198,
      197,
      8658,
      82,
      201,
      198,
    ],
  );
});

Deno.test("gpt2 tokenizer: round trip, ids in range, special tokens stay text", () => {
  for (const s of SAMPLES) {
    const ids = gpt2Tokenizer.encode(s);
    assertOk(ids.every((t) => t < 50257));
    assertStrictEquals(gpt2Tokenizer.decode(ids), s);
  }
  assertOk(!gpt2Tokenizer.encode("<|endoftext|>").includes(50256));
  assertStrictEquals(gpt2Tokenizer.decode([50256]), "<|endoftext|>");
});

Deno.test("registry: names, default, unknown name, out-of-range ids", () => {
  assertEquals(TOKENIZER_NAMES, ["byte", "gpt2"]);
  assertStrictEquals(getTokenizer(), byteTokenizer);
  assertStrictEquals(getTokenizer("gpt2"), gpt2Tokenizer);
  assertThrows(() => getTokenizer("tiktoken"), /data.tokenizer must be one of byte, gpt2/);
  assertThrows(() => byteTokenizer.decode([256]), RangeError);
  assertThrows(() => gpt2Tokenizer.decode([1, 50257]), /tokens\[1\] = 50257/);
  assertThrows(() => byteTokenizer.encode(3 as unknown as string), TypeError);
});
