/**
 * WGSL generators for the token embedding (kernels/embedding/mod.ts; the summation order and the
 * index buffer's layout are defined in kernels/embedding/reference.ts).
 *
 * - {@link embeddingForwardShader}: one invocation per output element (vec4 where `d % 4 == 0`),
 *   `out[t, :] = table[tokens[t], :]`, zeros for ids ≥ vocab.
 * - {@link embeddingChunkShader}: a workgroup sums one chunk record over up to 256 columns (one
 *   column per invocation, rows in ascending position order, eight loads in flight) and writes the
 *   id's row, or, for an id with several chunks, a scratch row.
 * - {@link embeddingMergeShader}: a workgroup adds one frequent id's chunk sums in order over 64
 *   columns, so that a very frequent id is spread over several workgroups.
 *
 * Every sum runs left to right from +0 in the reference's order, so GPU and CPU agree bit for bit.
 *
 * @module
 */

import { range } from "../_wgsl/unroll.ts";
import { EMBEDDING_RECORD_WORDS as RECORD } from "./reference.ts";

/**
 * Invocations of a forward workgroup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMBEDDING_FORWARD_WORKGROUP } from "./wgsl.ts";
 * assert.equal(EMBEDDING_FORWARD_WORKGROUP, 256);
 * ```
 */
export const EMBEDDING_FORWARD_WORKGROUP = 256;

/**
 * Invocations (columns) of a merge workgroup: merges are few, so they are spread thin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMBEDDING_MERGE_WORKGROUP } from "./wgsl.ts";
 * assert.equal(EMBEDDING_MERGE_WORKGROUP, 64);
 * ```
 */
export const EMBEDDING_MERGE_WORKGROUP = 64;

const WG_FORWARD = EMBEDDING_FORWARD_WORKGROUP;
const WG_MERGE = EMBEDDING_MERGE_WORKGROUP;

/**
 * Invocations of a chunk workgroup for rows of `nc` vec units: `nc` as a power of two in
 * [32, 256].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingChunkWorkgroup } from "./wgsl.ts";
 * assert.deepEqual([2, 192, 1000].map(embeddingChunkWorkgroup), [32, 256, 256]);
 * ```
 */
export function embeddingChunkWorkgroup(nc: number): number {
  return Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(nc))));
}

/** Loads in flight per invocation in the backward sums. */
const UNROLL = 8;

/**
 * The forward gather for rows of `nc` units of `vec` f32. Bindings: tokens, table, out,
 * params {n (output units), gx, vocab}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingForwardShader } from "./wgsl.ts";
 * assert.match(embeddingForwardShader(4, 192), /alias T = vec4<f32>;/);
 * ```
 */
export function embeddingForwardShader(vec: 1 | 4, nc: number): string {
  return `alias T = ${vec === 4 ? "vec4<f32>" : "f32"};
struct Params { n: u32, gx: u32, vocab: u32 }
@group(0) @binding(0) var<storage, read> tokens: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
@group(0) @binding(3) var<uniform> params: Params;
@compute @workgroup_size(${WG_FORWARD})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * params.gx + wid.x) * ${WG_FORWARD}u + lid;
  if (i >= params.n) { return; }
  let t = i / ${nc}u;
  let id = tokens[t];
  var v = T();
  if (id < params.vocab) { v = table[id * ${nc}u + (i - t * ${nc}u)]; }
  out[i] = v;
}
`;
}

/**
 * `s = Σ_{k<n} src[row(k)·NC + c]` left to right from +0: eight loads in flight per step while
 * eight rows remain, then one at a time.
 */
function sumLoop(src: string, row: (k: string) => string): string {
  const us = range(UNROLL);
  return `  var s = T();
  var k = 0u;
  for (; k + ${UNROLL}u <= n; k = k + ${UNROLL}u) {
${us.map((u) => `    let v${u} = ${src}[${row(`k + ${u}u`)} * NC + c];`).join("\n")}
${us.map((u) => `    s = s + v${u};`).join("\n")}
  }
  for (; k < n; k = k + 1u) { s = s + ${src}[${row("k")} * NC + c]; }`;
}

/** `d_table[o] = s`, or `+= s` when params.acc is set. */
const STORE_TABLE =
  `if (params.acc != 0u) { d_table[o] = d_table[o] + s; } else { d_table[o] = s; }`;

const BACKWARD_HEAD = (vec: 1 | 4, nc: number, wg: number) =>
  `alias T = ${vec === 4 ? "vec4<f32>" : "f32"};
const NC: u32 = ${nc}u;
const CB: u32 = ${Math.ceil(nc / wg)}u;
struct Params { gx: u32, acc: u32, chunks: u32, merges: u32, order: u32 }`;

/**
 * Workgroup `g` takes record `g / CB` (returning when that is not below `count`) and the
 * invocation its column `c` of column block `g % CB` (returning past the row's end).
 */
const RECORD_AND_COLUMN = (count: string, wg: number) =>
  `  let g = wid.y * params.gx + wid.x;
  let rec = g / CB;
  let c = (g - rec * CB) * ${wg}u + lid;
  if (rec >= ${count} || c >= NC) { return; }`;

/**
 * The chunk sums: one workgroup per chunk record and column block. Bindings: index, d_out,
 * d_table, scratch, params {gx, acc, chunks, merges, order (word offsets of the index parts)}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingChunkShader } from "./wgsl.ts";
 * assert.match(embeddingChunkShader(1, 6), /@workgroup_size\(32\)/);
 * ```
 */
export function embeddingChunkShader(vec: 1 | 4, nc: number): string {
  const wg = embeddingChunkWorkgroup(nc);
  return `${BACKWARD_HEAD(vec, nc, wg)}
@group(0) @binding(0) var<storage, read> index: array<u32>;
@group(0) @binding(1) var<storage, read> d_out: array<T>;
@group(0) @binding(2) var<storage, read_write> d_table: array<T>;
@group(0) @binding(3) var<storage, read_write> scratch: array<T>;
@group(0) @binding(4) var<uniform> params: Params;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
${RECORD_AND_COLUMN("index[0]", wg)}
  let e = params.chunks + ${RECORD}u * rec;
  let start = params.order + index[e];
  let n = index[e + 1u];
  let row = index[e + 2u];
  let to_scratch = index[e + 3u] != 0u;
${sumLoop("d_out", (k) => `index[start + ${k}]`)}
  let o = row * NC + c;
  if (to_scratch) { scratch[o] = s; } else { ${STORE_TABLE} }
}
`;
}

/**
 * The merges of frequent ids' chunk sums: one workgroup per merge record and column block.
 * Bindings: index, scratch, d_table, params (as {@link embeddingChunkShader}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingMergeShader } from "./wgsl.ts";
 * assert.match(embeddingMergeShader(4, 192), /let id = index\[e\];/);
 * ```
 */
export function embeddingMergeShader(vec: 1 | 4, nc: number): string {
  return `${BACKWARD_HEAD(vec, nc, WG_MERGE)}
@group(0) @binding(0) var<storage, read> index: array<u32>;
@group(0) @binding(1) var<storage, read> scratch: array<T>;
@group(0) @binding(2) var<storage, read_write> d_table: array<T>;
@group(0) @binding(3) var<uniform> params: Params;
@compute @workgroup_size(${WG_MERGE})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
${RECORD_AND_COLUMN("index[1]", WG_MERGE)}
  let e = params.merges + ${RECORD}u * rec;
  let id = index[e];
  let first = index[e + 1u];
  let n = index[e + 2u];
${sumLoop("scratch", (k) => `(first + ${k})`)}
  let o = id * NC + c;
  ${STORE_TABLE}
}
`;
}
