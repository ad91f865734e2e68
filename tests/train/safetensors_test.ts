import { assertEquals, assertOk, assertRejects, assertThrows } from "../assert.ts";
import { list, withTempDir } from "../temp_dir.ts";
import {
  decodeSafetensors,
  type Dtype,
  encodeSafetensors,
  readSafetensors,
  type Tensor,
  writeSafetensors,
} from "../../src/train/safetensors.ts";

/** The bytes of a typed array, for comparing arrays of any element type bit for bit. */
function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** `n` pseudo-random bytes (a fixed LCG, so failures reproduce). */
function randomBytes(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

const ARRAYS = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  F8_E5M2: Uint8Array,
  F8_E4M3: Uint8Array,
  I16: Int16Array,
  U16: Uint16Array,
  F16: Float16Array,
  BF16: Uint16Array,
  I32: Int32Array,
  U32: Uint32Array,
  F32: Float32Array,
  F64: Float64Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
};

/** A tensor of `dtype` and `shape` whose bytes are random (BOOL: random 0/1). */
function randomTensor(dtype: Dtype, shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = randomBytes(n * ARRAYS[dtype].BYTES_PER_ELEMENT, seed);
  if (dtype === "BOOL") bytes.forEach((b, i) => bytes[i] = b & 1);
  return { dtype, shape, data: new ARRAYS[dtype](bytes.buffer) } as Tensor;
}

const ALL_DTYPES: Dtype[] = [
  "BOOL",
  "U8",
  "I8",
  "F8_E5M2",
  "F8_E4M3",
  "I16",
  "U16",
  "F16",
  "BF16",
  "I32",
  "U32",
  "F32",
  "F64",
  "I64",
  "U64",
];

/** A file from a header text and data bytes, the header padded with spaces to 8 bytes. */
function file(header: string, data: number[] = []): Uint8Array {
  const json = new TextEncoder().encode(header);
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + data.length).fill(0x20, 8, 8 + n);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.set(data, 8 + n);
  return out;
}

/** The header JSON of an encoded file. */
function headerOf(bytes: Uint8Array): Record<string, { data_offsets: number[] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

Deno.test("every dtype round-trips bit for bit, with scalar, empty and 3-d shapes", () => {
  const shapes = [[], [0, 3], [2, 3, 5]];
  const tensors: Record<string, Tensor> = {};
  ALL_DTYPES.forEach((dtype, i) => {
    shapes.forEach((shape, j) => tensors[`${dtype}/${j}`] = randomTensor(dtype, shape, i * 3 + j));
  });
  const back = decodeSafetensors(encodeSafetensors(tensors, { a: "1", "ü": "ß" }));
  assertEquals(Object.keys(back.tensors).sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const got = back.tensors[name];
    assertEquals(got.dtype, t.dtype, name);
    assertEquals(got.shape, t.shape, name);
    assertEquals(got.data.constructor, t.data.constructor, name);
    assertEquals(bytesOf(got.data), bytesOf(t.data), name);
  }
  assertEquals(back.metadata, { a: "1", "ü": "ß" });
});

Deno.test("decoded tensors own their bytes, also from a subarray at an odd offset", () => {
  const bytes = encodeSafetensors({ x: randomTensor("F64", [3], 1) });
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const { tensors } = decodeSafetensors(shifted.subarray(1));
  shifted.fill(0);
  assertEquals(bytesOf(tensors.x.data), bytesOf(randomTensor("F64", [3], 1).data));
});

Deno.test("the same tensors give the same bytes, whatever the insertion order", () => {
  const a = randomTensor("F32", [4], 1), b = randomTensor("U8", [3], 2);
  const c = randomTensor("F32", [2], 3);
  const one = encodeSafetensors({ a, b, c }, { x: "1", y: "2" });
  const two = encodeSafetensors({ c, b, a }, { y: "2", x: "1" });
  assertEquals(one, two);
  assertEquals(encodeSafetensors({ a, b, c }, { x: "1", y: "2" }), one);
});

Deno.test("layout: descending dtype alignment then name (code points), every tensor aligned", () => {
  const tensors: Record<string, Tensor> = {};
  for (const [i, dtype] of ALL_DTYPES.entries()) {
    tensors[`z${dtype}`] = randomTensor(dtype, [3], i);
    tensors[`a${dtype}`] = randomTensor(dtype, [1], i);
  }
  tensors["\u{1F600}"] = randomTensor("U8", [1], 0); // astral: after U+FFFD by code point
  tensors["\uFFFD"] = randomTensor("U8", [1], 0);
  const bytes = encodeSafetensors(tensors);
  const header = headerOf(bytes);
  const order = Object.keys(header).sort((x, y) =>
    header[x].data_offsets[0] - header[y].data_offsets[0]
  );
  const expected = ALL_DTYPES.toReversed().flatMap((d) => [`a${d}`, `z${d}`]);
  expected.splice(expected.indexOf("zU8") + 1, 0, "\uFFFD", "\u{1F600}");
  assertEquals(order, expected);
  const dataStart = 8 + Number(bytes[0] | bytes[1] << 8);
  assertEquals(dataStart % 8, 0);
  for (const name of order) {
    const size = tensors[name].data.BYTES_PER_ELEMENT;
    assertEquals((dataStart + header[name].data_offsets[0]) % size, 0, name);
  }
});

Deno.test("golden: a file written out by hand per the spec decodes, and encoding gives it back", () => {
  const header = '{"__metadata__":{"format":"pt"},' +
    '"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"a":{"dtype":"U8","shape":[1,3],"data_offsets":[8,11]}}';
  assertEquals(header.length, 140); // 140 % 8 = 4: four spaces of padding, N = 144
  const bytes = new Uint8Array([
    ...[144, 0, 0, 0, 0, 0, 0, 0], // N = 144, little-endian u64
    ...new TextEncoder().encode(header),
    ...[0x20, 0x20, 0x20, 0x20],
    ...[0x00, 0x00, 0x80, 0x3f], // 1.0f
    ...[0x00, 0x00, 0x00, 0xc0], // -2.0f
    ...[7, 8, 9],
  ]);
  const { tensors, metadata } = decodeSafetensors(bytes);
  assertEquals(metadata, { format: "pt" });
  assertEquals(tensors, {
    b: { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
    a: { dtype: "U8", shape: [1, 3], data: new Uint8Array([7, 8, 9]) },
  });
  assertEquals(encodeSafetensors(tensors, metadata), bytes);
});

Deno.test("golden: offsets in any header order, zero-size tensors, no metadata, empty file", () => {
  const bytes = file(
    '{"late":{"dtype":"I16","shape":[2],"data_offsets":[2,6]},' +
      '"empty":{"dtype":"F64","shape":[0,4],"data_offsets":[2,2]},' +
      '"early":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}',
    [0x80, 0x3f, 0xff, 0xff, 0x02, 0x01],
  );
  const { tensors, metadata } = decodeSafetensors(bytes);
  assertEquals(metadata, {});
  assertEquals(Object.keys(tensors), ["early", "empty", "late"]);
  assertEquals(tensors.early.data, new Uint16Array([0x3f80]));
  assertEquals(tensors.empty.data, new Float64Array(0));
  assertEquals(tensors.late.data, new Int16Array([-1, 0x0102]));
  assertEquals(decodeSafetensors(file("{}")), { tensors: {}, metadata: {} });
  assertEquals(encodeSafetensors({}), file("{}"));
  assertEquals(decodeSafetensors(file('{"__metadata__":null}')).metadata, {});
});

Deno.test("names that are JS specials or integer-like keep their order and identity", () => {
  const tensors: Record<string, Tensor> = Object.fromEntries([
    ["__proto__", randomTensor("U8", [1], 1)],
    ["10", randomTensor("U8", [1], 2)],
    ["9", randomTensor("U8", [1], 3)],
    ['q"\\\n', randomTensor("U8", [1], 4)],
  ]);
  const bytes = encodeSafetensors(tensors);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + bytes[0]));
  assertOk(text.startsWith('{"10":{'), text);
  assertOk(text.indexOf('"9"') < text.indexOf('"__proto__"'), text);
  const back = decodeSafetensors(bytes).tensors;
  // A JS object lists integer-like keys first, in numeric order.
  assertEquals(Object.keys(back), ["9", "10", "__proto__", 'q"\\\n']);
  assertEquals(Object.getPrototypeOf(back), Object.prototype);
  assertEquals(back["__proto__"].data, new Uint8Array([tensors["__proto__"].data[0] as number]));
});

const F32x2 = '"dtype":"F32","shape":[2],"data_offsets"';

Deno.test("decode rejects corrupted input with a clear error", () => {
  const good = encodeSafetensors({ w: randomTensor("F32", [2], 1) });
  const cases: [Uint8Array, string, RegExp][] = [
    [good.subarray(0, 5), "RangeError", /5 bytes is too short for the 8-byte header length/],
    [good.subarray(0, 40), "RangeError", /header length 56 runs past the end of the 40-byte file/],
    [
      good.subarray(0, good.length - 1),
      "RangeError",
      /"w" data_offsets \[0, 8\] run past the end of the 7-byte data section/,
    ],
    [new Uint8Array([...good, 0, 0]), "RangeError", /2 bytes after the last tensor/],
    [
      new Uint8Array([0, 0xe2, 0xf5, 0x05, 0, 0, 0, 0, ...good]),
      "RangeError",
      /header length 100000256 exceeds the limit of 100000000/,
    ],
    [
      new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x80]),
      "RangeError",
      /header length 9223372036854775808 exceeds/,
    ],
    [
      file(`{"a":{${F32x2}:[0,8]},"b":{${F32x2}:[4,12]}}`, Array(12).fill(0)),
      "RangeError",
      /tensor "b" data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/,
    ],
    [
      file(`{"a":{${F32x2}:[0,8]},"b":{${F32x2}:[0,8]}}`, Array(8).fill(0)),
      "RangeError",
      /overlap/,
    ],
    [
      file(`{"a":{${F32x2}:[4,12]}}`, Array(12).fill(0)),
      "RangeError",
      /data bytes 0\.\.4 belong to no tensor \(a gap before "a"\)/,
    ],
    [
      file(`{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}`, Array(8).fill(0)),
      "TypeError",
      /tensor "a" has unknown dtype "F31" \(known: BOOL,U8,/,
    ],
    [
      file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, Array(8).fill(0)),
      "RangeError",
      /tensor "a": F32 shape \[3\] needs 12 bytes but data_offsets \[0, 8\] span 8/,
    ],
    [
      file(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, Array(8).fill(0)),
      "RangeError",
      /shape \[-2\] has a dimension that is not an integer ≥ 0/,
    ],
    [
      file(`{"a":{"dtype":"U8","shape":[9007199254740991,2],"data_offsets":[0,8]}}`),
      "RangeError",
      /is too large/,
    ],
    [file(`{"a":{"dtype":"U8","shape":"2","data_offsets":[0,2]}}`), "TypeError", /shape must be/],
    [
      file(`{"a":{${F32x2}:[8,0]}}`, Array(8).fill(0)),
      "RangeError",
      /data_offsets \[8,0\] must be \[begin, end\] with 0 ≤ begin ≤ end/,
    ],
    [file(`{"a":{${F32x2}:[0.5,8.5]}}`), "RangeError", /data_offsets \[0.5,8.5\] must be/],
    [file(`{"a":{${F32x2}:[0,8,9]}}`), "RangeError", /data_offsets \[0,8,9\] must be/],
    [file(`{"a":{"dtype":"F32","shape":[0]}}`), "TypeError", /tensor "a" has no "data_offsets"/],
    [file(`{"a":{${F32x2}:[0,0],"x":1}}`), "TypeError", /tensor "a" has an unknown field "x"/],
    [file(`{"a":[1]}`), "TypeError", /tensor "a" must be an object with dtype, shape/],
    [file(`{"__metadata__":{"k":1}}`), "TypeError", /__metadata__\["k"\] is not a string/],
    [file(`{"__metadata__":[]}`), "TypeError", /__metadata__ must be an object of strings/],
    [file(`{"a":{"dtype":"F32",`), "SyntaxError", /header is not valid JSON: /],
    [file(`[]`), "SyntaxError", /header does not start with "{"/],
    [file(` {}`), "SyntaxError", /header does not start with "{"/],
    [
      new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x22, 0xff, 0x22, 0x7d, 0x20, 0x20, 0x20]),
      "SyntaxError",
      /header is not valid UTF-8/,
    ],
    [
      file(`{"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}`, [1, 2]),
      "RangeError",
      /tensor "a": BOOL element 1 is 2, not 0 or 1/,
    ],
  ];
  for (const [bytes, name, message] of cases) {
    assertThrows(() => decodeSafetensors(bytes), (e: Error) => {
      assertEquals(e.name, name, `${message}: ${e.message}`);
      assertOk(message.test(e.message), `${message} ≠ ${e.message}`);
      assertOk(e.message.startsWith("safetensors: "), e.message);
      return true;
    });
  }
  assertThrows(() => decodeSafetensors([1, 2] as unknown as Uint8Array), TypeError);
});

Deno.test("encode rejects bad tensors and metadata, naming the tensor", () => {
  const f32 = new Float32Array(2);
  const cases: [() => unknown, string, RegExp][] = [
    [
      () => encodeSafetensors({ w: { dtype: "F31", shape: [2], data: f32 } as unknown as Tensor }),
      "TypeError",
      /tensor "w": unknown dtype "F31"/,
    ],
    [
      () =>
        encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Uint32Array(2) } as never }),
      "TypeError",
      /tensor "w": dtype F32 needs a Float32Array, got Uint32Array/,
    ],
    [
      () => encodeSafetensors({ w: { dtype: "F32", shape: [3], data: f32 } }),
      "RangeError",
      /tensor "w": shape \[3\] has 3 elements but data has 2/,
    ],
    [
      () => encodeSafetensors({ w: { dtype: "F32", shape: [-1, -2], data: f32 } }),
      "RangeError",
      /shape \[-1,-2\] has a dimension that is not an integer ≥ 0/,
    ],
    [
      () => encodeSafetensors({ w: { dtype: "F32", shape: [1.5], data: f32 } }),
      "RangeError",
      /not an integer/,
    ],
    [
      () => encodeSafetensors({ w: { dtype: "BOOL", shape: [2], data: new Uint8Array([0, 3]) } }),
      "RangeError",
      /tensor "w": BOOL element 1 is 3, not 0 or 1/,
    ],
    [
      () => encodeSafetensors({ __metadata__: { dtype: "F32", shape: [2], data: f32 } }),
      "TypeError",
      /tensor "__metadata__" is reserved for metadata/,
    ],
    [
      () => encodeSafetensors({ "\ud800": { dtype: "F32", shape: [2], data: f32 } }),
      "TypeError",
      /tensor name "\\ud800" has a lone surrogate/,
    ],
    [
      () => encodeSafetensors({}, { k: 1 } as unknown as Record<string, string>),
      "TypeError",
      /metadata value of "k" must be a string, got number/,
    ],
    [
      () => encodeSafetensors({}, "k" as unknown as Record<string, string>),
      "TypeError",
      /metadata must be an object/,
    ],
    [
      () => encodeSafetensors(null as unknown as Record<string, Tensor>),
      "TypeError",
      /tensors must be an object/,
    ],
  ];
  for (const [f, name, message] of cases) {
    assertThrows(f, (e: Error) => {
      assertEquals(e.name, name, e.message);
      assertOk(message.test(e.message), `${message} ≠ ${e.message}`);
      return true;
    });
  }
});

Deno.test("writeSafetensors writes exactly the encoded bytes and replaces a file atomically", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/w.safetensors`;
    await Deno.writeTextFile(path, "old content");
    const tensors = { w: randomTensor("F32", [3, 2], 7), n: randomTensor("I64", [2], 8) };
    await writeSafetensors(path, tensors, { note: "x" });
    assertEquals(await Deno.readFile(path), encodeSafetensors(tensors, { note: "x" }));
    assertEquals(await list(dir), ["w.safetensors"]);
    const back = await readSafetensors(path);
    assertEquals(back.metadata, { note: "x" });
    assertEquals(bytesOf(back.tensors.n.data), bytesOf(tensors.n.data));
  });
});

Deno.test("a failed write leaves the old file and no temporary file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/w.safetensors`;
    await Deno.writeTextFile(path, "old content");
    const bad = { w: { dtype: "F32", shape: [5], data: new Float32Array(2) } } as const;
    await assertRejects(() => writeSafetensors(path, bad), RangeError);
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/sub/keep`, "");
    await assertRejects(() => writeSafetensors(`${dir}/sub`, {})); // rename onto a directory
    await assertRejects(() => writeSafetensors(`${path}/w.safetensors`, {})); // folder is a file
    assertEquals(await Deno.readTextFile(path), "old content");
    assertEquals(await list(dir), ["sub", "w.safetensors"]);
    assertEquals(await list(`${dir}/sub`), ["keep"]);
  });
});

Deno.test("readSafetensors names the file in its errors", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bad.safetensors`;
    await Deno.writeFile(path, new Uint8Array(3));
    await assertRejects(() => readSafetensors(path), {
      name: "RangeError",
      message: `${path}: 3 bytes is too short for the 8-byte header length (truncated?)`,
    });
    await assertRejects(() => readSafetensors(`${dir}/none`), Deno.errors.NotFound);
  });
});
