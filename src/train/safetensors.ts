/**
 * The safetensors file format (https://github.com/huggingface/safetensors, "Format" in its
 * README): an 8-byte little-endian unsigned header length `N`, then `N` bytes of UTF-8 JSON
 * `{"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets": [begin, end]}}`,
 * then the raw little-endian, row-major tensor bytes, offsets counted from the start of that data
 * section.
 *
 * Writing follows the reference implementation byte for byte: compact JSON with `__metadata__`
 * first (its keys sorted here, so output is deterministic), the header padded with spaces to a
 * multiple of 8 bytes, and tensors laid out contiguously by descending dtype alignment
 * (U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16, F8_E4M3, F8_E5M2, I8, U8, BOOL), then by
 * name. That order keeps every tensor aligned to its element size and makes equal tensors give
 * equal bytes. Reading checks what the reference checks (header length at most 100 000 000 bytes
 * and inside the file, UTF-8 JSON object, known dtype, shape × element size = byte range, ranges
 * covering the data section exactly, without gaps or overlaps) and more (field types, unknown
 * fields, BOOL bytes 0 or 1), and copies each tensor into its own typed array.
 *
 * Deno runs only on little-endian hosts (x86-64, AArch64), so typed arrays are stored as they lie
 * in memory. F16 maps to `Float16Array`; BF16 and the FP8 dtypes carry raw bit patterns
 * (`Uint16Array`, `Uint8Array`), as `src/formats/` produces them.
 *
 * @module
 */

import { writeAtomic } from "../io/atomic.ts";

/** Element types of the safetensors format that this module reads and writes. */
export type Dtype =
  | "BOOL"
  | "U8"
  | "I8"
  | "F8_E5M2"
  | "F8_E4M3"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "F64"
  | "I64"
  | "U64";

/** The typed array that holds each dtype's elements. */
export interface DtypeArrays {
  /** Bytes 0 (false) or 1 (true). */
  BOOL: Uint8Array;
  /** Unsigned bytes. */
  U8: Uint8Array;
  /** Signed bytes. */
  I8: Int8Array;
  /** FP8 E5M2 bit patterns. */
  F8_E5M2: Uint8Array;
  /** FP8 E4M3 bit patterns. */
  F8_E4M3: Uint8Array;
  /** Signed 16-bit integers. */
  I16: Int16Array;
  /** Unsigned 16-bit integers. */
  U16: Uint16Array;
  /** IEEE half precision. */
  F16: Float16Array;
  /** bfloat16 bit patterns (the high half of an FP32). */
  BF16: Uint16Array;
  /** Signed 32-bit integers. */
  I32: Int32Array;
  /** Unsigned 32-bit integers. */
  U32: Uint32Array;
  /** IEEE single precision. */
  F32: Float32Array;
  /** IEEE double precision. */
  F64: Float64Array;
  /** Signed 64-bit integers. */
  I64: BigInt64Array;
  /** Unsigned 64-bit integers. */
  U64: BigUint64Array;
}

/** One tensor: its dtype, its row-major shape (`[]` is a scalar) and its elements. */
export type Tensor = {
  [D in Dtype]: { dtype: D; shape: readonly number[]; data: DtypeArrays[D] };
}[Dtype];

/** The content of a safetensors file. */
export interface Safetensors {
  /**
   * Tensors by name, in the order of their data in the file, except that (as in any JS object)
   * integer-like names such as "0" come first.
   */
  tensors: Record<string, Tensor>;
  /** The `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
}

interface DtypeInfo {
  /** Sort rank: the reference's dtype enum order; higher ranks are written first. */
  rank: number;
  array: {
    new (buffer: ArrayBuffer): DtypeArrays[Dtype];
    readonly BYTES_PER_ELEMENT: number;
    readonly name: string;
  };
}

const DTYPES: Record<Dtype, DtypeInfo> = {
  BOOL: { rank: 0, array: Uint8Array },
  U8: { rank: 1, array: Uint8Array },
  I8: { rank: 2, array: Int8Array },
  F8_E5M2: { rank: 3, array: Uint8Array },
  F8_E4M3: { rank: 4, array: Uint8Array },
  I16: { rank: 5, array: Int16Array },
  U16: { rank: 6, array: Uint16Array },
  F16: { rank: 7, array: Float16Array },
  BF16: { rank: 8, array: Uint16Array },
  I32: { rank: 9, array: Int32Array },
  U32: { rank: 10, array: Uint32Array },
  F32: { rank: 11, array: Float32Array },
  F64: { rank: 12, array: Float64Array },
  I64: { rank: 13, array: BigInt64Array },
  U64: { rank: 14, array: BigUint64Array },
};

/** The reference implementation refuses headers longer than this (its MAX_HEADER_SIZE). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";
const FIELDS = ["dtype", "shape", "data_offsets"];

function isDtype(s: unknown): s is Dtype {
  return typeof s === "string" && Object.hasOwn(DTYPES, s);
}

/** Orders strings by code point, as Rust's `str` ordering (UTF-8 bytes) does. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function checkString(s: unknown, what: string): string {
  if (typeof s !== "string") throw new TypeError(`${what} must be a string, got ${typeof s}`);
  if (!s.isWellFormed()) throw new TypeError(`${what} ${JSON.stringify(s)} has a lone surrogate`);
  return s;
}

/** Element count of `shape`, or a RangeError naming `what` when it is not a valid shape. */
function elementCount(shape: unknown, what: string): number {
  if (!Array.isArray(shape)) throw new TypeError(`${what}: shape must be an array`);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`${what}: shape [${shape}] has a dimension that is not an integer ≥ 0`);
    }
    n *= d;
    if (!Number.isSafeInteger(n)) throw new RangeError(`${what}: shape [${shape}] is too large`);
  }
  return n;
}

function checkBool(data: Uint8Array, what: string): void {
  const i = data.findIndex((b) => b > 1);
  if (i >= 0) throw new RangeError(`${what}: BOOL element ${i} is ${data[i]}, not 0 or 1`);
}

/**
 * Encodes tensors and optional string metadata as a safetensors file. Everything is checked
 * before any byte is produced; the same tensors and metadata always give the same bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } });
 * const header = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
 * assert.equal(bytes[0], header.length + 2); // padded from 54 to 56 with two spaces
 * assert.equal(new TextDecoder().decode(bytes.subarray(8, 8 + 54)), header);
 * assert.equal(bytes.length, 8 + 56 + 8);
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  if (typeof tensors !== "object" || tensors === null) {
    throw new TypeError("tensors must be an object mapping names to tensors");
  }
  const entries = Object.entries(tensors).map(([name, t]) => {
    checkString(name, "tensor name");
    const what = `tensor ${JSON.stringify(name)}`;
    if (name === METADATA_KEY) throw new TypeError(`${what} is reserved for metadata`);
    if (typeof t !== "object" || t === null) throw new TypeError(`${what} must be an object`);
    if (!isDtype(t.dtype)) {
      throw new TypeError(`${what}: unknown dtype ${JSON.stringify(t.dtype)}`);
    }
    const { array } = DTYPES[t.dtype];
    if (!(t.data instanceof array)) {
      const got = (t.data as object | undefined)?.constructor?.name ?? typeof t.data;
      throw new TypeError(`${what}: dtype ${t.dtype} needs a ${array.name}, got ${got}`);
    }
    const n = elementCount(t.shape, what);
    if (t.data.length !== n) {
      throw new RangeError(
        `${what}: shape [${t.shape}] has ${n} elements but data has ${t.data.length}`,
      );
    }
    if (t.dtype === "BOOL") checkBool(t.data, what);
    return { name, tensor: t };
  });
  entries.sort((a, b) =>
    DTYPES[b.tensor.dtype].rank - DTYPES[a.tensor.dtype].rank ||
    compareCodePoints(a.name, b.name)
  );

  if (metadata !== undefined && (typeof metadata !== "object" || metadata === null)) {
    throw new TypeError("metadata must be an object mapping strings to strings");
  }
  const parts: string[] = [];
  const metaKeys = Object.keys(metadata ?? {}).sort(compareCodePoints);
  if (metaKeys.length > 0) {
    const pairs = metaKeys.map((k) => {
      checkString(k, "metadata key");
      const v = checkString(metadata![k], `metadata value of ${JSON.stringify(k)}`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"${METADATA_KEY}":{${pairs.join(",")}}`);
  }
  let offset = 0;
  for (const { name, tensor } of entries) {
    const end = offset + tensor.data.byteLength;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${tensor.dtype}","shape":[${tensor.shape}],` +
        `"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const { tensor: { data } } of entries) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

interface Entry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(name: string, value: unknown, where: string): Entry {
  const what = `${where}: tensor ${JSON.stringify(name)}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object with dtype, shape and data_offsets`);
  }
  const info = value as Record<string, unknown>;
  for (const key of Object.keys(info)) {
    if (!FIELDS.includes(key)) throw new TypeError(`${what} has an unknown field "${key}"`);
  }
  for (const key of FIELDS) {
    if (!(key in info)) throw new TypeError(`${what} has no "${key}"`);
  }
  const { dtype, shape, data_offsets: offsets } = info;
  if (!isDtype(dtype)) {
    throw new TypeError(
      `${what} has unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPES)})`,
    );
  }
  const n = elementCount(shape, what);
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
  ) {
    throw new RangeError(
      `${what}: data_offsets ${JSON.stringify(offsets)} must be [begin, end] with 0 ≤ begin ≤ end`,
    );
  }
  const [begin, end] = offsets as number[];
  const bytes = n * DTYPES[dtype].array.BYTES_PER_ELEMENT;
  if (end - begin !== bytes) {
    throw new RangeError(
      `${what}: ${dtype} shape [${shape}] needs ${bytes} bytes but data_offsets [${begin}, ${end}]` +
        ` span ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function parseMetadata(value: unknown, where: string): Record<string, string> {
  if (value === null) return {}; // the reference reads null as "no metadata"
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${where}: ${METADATA_KEY} must be an object of strings`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      throw new TypeError(`${where}: ${METADATA_KEY}[${JSON.stringify(k)}] is not a string`);
    }
  }
  return value as Record<string, string>;
}

/** {@link decodeSafetensors} with `where` (a path, or "safetensors") leading every error message. */
function decode(bytes: Uint8Array, where: string): Safetensors {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${where}: bytes must be a Uint8Array`);
  if (bytes.length < 8) {
    throw new RangeError(
      `${where}: ${bytes.length} bytes is too short for the 8-byte header length (truncated?)`,
    );
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new RangeError(`${where}: header length ${n} exceeds the limit of ${MAX_HEADER_BYTES}`);
  }
  const headerEnd = 8 + Number(n);
  if (headerEnd > bytes.length) {
    throw new RangeError(
      `${where}: header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, headerEnd),
    );
  } catch {
    throw new SyntaxError(`${where}: header is not valid UTF-8`);
  }
  if (!text.startsWith("{")) throw new SyntaxError(`${where}: header does not start with "{"`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${where}: header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new SyntaxError(`${where}: header is not a JSON object`);
  }

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, where);
    else entries.push(parseEntry(name, value, where));
  }
  const dataLength = bytes.length - headerEnd;
  for (const e of entries) {
    if (e.end > dataLength) {
      throw new RangeError(
        `${where}: tensor ${JSON.stringify(e.name)} data_offsets [${e.begin}, ${e.end}] run past` +
          ` the end of the ${dataLength}-byte data section (truncated?)`,
      );
    }
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const [i, e] of entries.entries()) {
    if (e.begin < covered) {
      const prev = entries[i - 1];
      throw new RangeError(
        `${where}: tensor ${JSON.stringify(e.name)} data_offsets [${e.begin}, ${e.end}] overlap` +
          ` tensor ${JSON.stringify(prev.name)} [${prev.begin}, ${prev.end}]`,
      );
    }
    if (e.begin > covered) {
      throw new RangeError(
        `${where}: data bytes ${covered}..${e.begin} belong to no tensor (a gap before` +
          ` ${JSON.stringify(e.name)})`,
      );
    }
    covered = e.end;
  }
  if (covered !== dataLength) {
    throw new RangeError(
      `${where}: the data section has ${dataLength - covered} bytes after the last tensor`,
    );
  }

  const data = bytes.subarray(headerEnd);
  const tensors = Object.fromEntries(entries.map((e) => {
    const array = new DTYPES[e.dtype].array(data.slice(e.begin, e.end).buffer);
    const tensor = { dtype: e.dtype, shape: e.shape, data: array } as Tensor;
    if (tensor.dtype === "BOOL") {
      checkBool(tensor.data, `${where}: tensor ${JSON.stringify(e.name)}`);
    }
    return [e.name, tensor];
  }));
  return { tensors, metadata };
}

/**
 * Decodes and validates a safetensors file. Each tensor gets its own copy of its bytes.
 * Malformed input throws a RangeError (lengths, offsets, sizes), SyntaxError (header text) or
 * TypeError (header fields, dtypes) saying what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(
 *   { ids: { dtype: "U32", shape: [2, 2], data: new Uint32Array([1, 2, 3, 4]) } },
 *   { note: "hi" },
 * );
 * const { tensors, metadata } = decodeSafetensors(bytes);
 * assert.deepEqual(tensors.ids.shape, [2, 2]);
 * assert.deepEqual(tensors.ids.data, new Uint32Array([1, 2, 3, 4]));
 * assert.deepEqual(metadata, { note: "hi" });
 * assert.throws(() => decodeSafetensors(bytes.subarray(0, 20)), RangeError);
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  return decode(bytes, "safetensors");
}

/**
 * Writes tensors and metadata to `path` atomically: the bytes go to a temporary file in the same
 * directory, are flushed to disk, then renamed over `path`. On any error the temporary file is
 * removed and `path` is left as it was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/x.safetensors`;
 * await writeSafetensors(path, { b: { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) } });
 * assert.deepEqual((await readSafetensors(path)).tensors.b.data, new Uint8Array([1, 2, 3]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Reads and validates the safetensors file at `path`; errors name the path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * await writeSafetensors(`${dir}/m.safetensors`, {}, { step: "7" });
 * assert.deepEqual(await readSafetensors(`${dir}/m.safetensors`), {
 *   tensors: {},
 *   metadata: { step: "7" },
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readSafetensors(path: string): Promise<Safetensors> {
  return decode(await Deno.readFile(path), path);
}
