/** Corpora: each built-in loads and is long, Brown tags are stripped, text files and their errors. */

import { assertOk, assertRejects, assertStrictEquals } from "../assert.ts";
import {
  CORPUS_NAMES,
  corpusText,
  DOCUMENT_SEPARATOR,
  loadCorpus,
} from "../../src/train/data/corpora.ts";
import { stripBrownTags } from "../../src/train/data/brown.ts";
import { DataError } from "../../src/train/data/errors.ts";

Deno.test("moby-dick: the whole book, chapters headed", async () => {
  const text = await corpusText("moby-dick");
  assertOk(text.length > 1_150_000, `moby-dick has ${text.length} characters`);
  assertOk(text.startsWith("CONTENTS"));
  assertOk(text.includes("\n\nCHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago"));
  assertOk(text.includes("\n\nCHAPTER 135. The Chase.—Third Day.\n\n"));
  assertOk(text.endsWith(
    "Rachel, that in her retracing search after her missing children, " +
      "only found another orphan.",
  ));
});

Deno.test("sotu: 233 addresses from 1790 to 2021", async () => {
  const text = await corpusText("sotu");
  assertOk(text.length > 10_000_000, `sotu has ${text.length} characters`);
  assertOk(text.startsWith("Fellow-Citizens of the Senate and House of Representatives:"));
  assertStrictEquals(text.split(DOCUMENT_SEPARATOR).length, 233);
});

Deno.test("brown: 500 samples, no part-of-speech tags left", async () => {
  const text = await corpusText("brown");
  assertOk(text.length > 5_000_000, `brown has ${text.length} characters`);
  assertOk(text.startsWith("The Fulton County Grand Jury said Friday an investigation of"));
  assertStrictEquals(text.split(DOCUMENT_SEPARATOR).length, 500);
  // Tags look like the/at, County/nn-tl, Atlanta's/np$, ./. : none may survive.
  for (const tag of ["/at ", "/nn ", "/in ", "/vbd ", "/np$", "/nn-tl", "./.", ",/,"]) {
    assertOk(!text.includes(tag), `found tag ${tag}`);
  }
  assertOk(!text.includes("``") && !text.includes("''"));
});

Deno.test("stripBrownTags: words keep their own slashes, quotes and punctuation attach", () => {
  assertStrictEquals(
    stripBrownTags("\n\n\tHe/pps said/vbd ``/`` and/or/cc ''/'' (/( 1/2/cd )/) ;/. ok/uh !/.\n"),
    'He said "and/or" (1/2); ok!',
  );
  assertStrictEquals(stripBrownTags("\tA/at\n\n\tB/np\n"), "A\nB");
  assertStrictEquals(stripBrownTags(""), "");
});

Deno.test("built-in corpora are deterministic", async () => {
  assertStrictEquals(CORPUS_NAMES.join(), "moby-dick,sotu,brown");
  assertStrictEquals(await corpusText("moby-dick"), await corpusText("moby-dick"));
});

Deno.test("text files: relative to baseDir; missing, non-UTF-8 and unknown names fail clearly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "hello\n");
    const c = await loadCorpus("a.txt", dir);
    assertStrictEquals(c.source, `${dir}/a.txt`);
    assertStrictEquals(c.text, "hello\n");
    assertStrictEquals((await loadCorpus(`${dir}/a.txt`)).text, "hello\n");

    await assertRejects(loadCorpus("b.txt", dir), DataError);
    await assertRejects(
      loadCorpus("b.txt", dir),
      (e: DataError) => e.code === "DATA_NOT_FOUND" && e.message.includes(`${dir}/b.txt`),
    );
    await Deno.writeFile(`${dir}/bad.txt`, Uint8Array.of(0x61, 0xc3));
    await assertRejects(
      loadCorpus("bad.txt", dir),
      (e: DataError) => e.code === "DATA_INVALID" && e.message.includes(`${dir}/bad.txt`),
    );
    await assertRejects(loadCorpus(dir), (e: DataError) => e.code === "DATA_INVALID");
    await assertRejects(loadCorpus(""), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
