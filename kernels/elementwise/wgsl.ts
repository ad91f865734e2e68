/**
 * WGSL of the small elementwise kernels (kernels/elementwise/mod.ts): `y += x` (one f32 add per
 * element), fill, BF16 rounding in place (`round_bf16` of kernels/_wgsl/numerics.ts), and a tiled
 * 2D transpose through workgroup memory (a copy). Each output element is written by one
 * invocation, so results are deterministic.
 *
 * @module
 */

import { wgslNumerics } from "../_wgsl/numerics.ts";

/**
 * Invocations per workgroup of the add and fill kernels (one element each).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ELEMENTWISE_WORKGROUP } from "./wgsl.ts";
 * assert.equal(ELEMENTWISE_WORKGROUP, 256);
 * ```
 */
export const ELEMENTWISE_WORKGROUP = 256;

/**
 * `y[i] = round_bf16(y[i])` for `i < n`: an op's output stored as BF16 (`compute: bf16`).
 * Bindings: y, params {n, gx}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ROUND_BF16_SHADER } from "./wgsl.ts";
 * assert.match(ROUND_BF16_SHADER, /y\[i\] = round_bf16\(y\[i\]\)/);
 * ```
 */
export const ROUND_BF16_SHADER = /* wgsl */ `${wgslNumerics([])}
struct P { n: u32, gx: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * p.gx + wid.x) * ${ELEMENTWISE_WORKGROUP}u + lid;
  if (i < p.n) { y[i] = round_bf16(y[i]); }
}
`;

/**
 * Rows and columns of a transpose tile (one workgroup of `TRANSPOSE_TILE²` invocations).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TRANSPOSE_TILE } from "./wgsl.ts";
 * assert.equal(Math.ceil(100 / TRANSPOSE_TILE), 7); // workgroups along 100 columns
 * ```
 */
export const TRANSPOSE_TILE = 16;

const WG = ELEMENTWISE_WORKGROUP;
const T = TRANSPOSE_TILE;

/**
 * `y[i] += x[i]` for `i < n`. Bindings: x, y, params {n, gx}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ADD_SHADER } from "./wgsl.ts";
 * assert.match(ADD_SHADER, /y\[i\] = y\[i\] \+ x\[i\]/);
 * ```
 */
export const ADD_SHADER = /* wgsl */ `
struct P { n: u32, gx: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * p.gx + wid.x) * ${WG}u + lid;
  if (i < p.n) { y[i] = y[i] + x[i]; }
}
`;

/**
 * `y[i] = value` for `i < n`. Bindings: y, params {n, gx, value (f32)}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FILL_SHADER } from "./wgsl.ts";
 * assert.match(FILL_SHADER, /y\[i\] = p.value/);
 * ```
 */
export const FILL_SHADER = /* wgsl */ `
struct P { n: u32, gx: u32, value: f32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * p.gx + wid.x) * ${WG}u + lid;
  if (i < p.n) { y[i] = p.value; }
}
`;

/**
 * `y [cols, rows] = xᵀ` for a row-major `x [rows, cols]`, one {@link TRANSPOSE_TILE}-square tile
 * per workgroup (the workgroup tile padded by one column against bank conflicts). Bindings: x, y,
 * params {rows, cols}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TRANSPOSE_SHADER } from "./wgsl.ts";
 * assert.match(TRANSPOSE_SHADER, /@workgroup_size\(16, 16\)/);
 * ```
 */
export const TRANSPOSE_SHADER = /* wgsl */ `
struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> tile: array<f32, ${T * (T + 1)}>;
@compute @workgroup_size(${T}, ${T})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let r = wid.y * ${T}u + l.y;
  let c = wid.x * ${T}u + l.x;
  if (r < p.rows && c < p.cols) { tile[l.y * ${T + 1}u + l.x] = x[r * p.cols + c]; }
  workgroupBarrier();
  let tr = wid.x * ${T}u + l.y;
  let tc = wid.y * ${T}u + l.x;
  if (tr < p.cols && tc < p.rows) { y[tr * p.rows + tc] = tile[l.x * ${T + 1}u + l.y]; }
}
`;
