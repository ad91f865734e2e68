/**
 * WGSL generators for softmax cross-entropy (kernels/xent/mod.ts; CPU reference in
 * kernels/xent/reference.ts), three kernels run in this order:
 *
 * 1. {@link XENT_COUNT_SHADER} (one workgroup): metrics[2] ← number of unmasked rows.
 * 2. {@link xentRowsShader} (one workgroup per row): one pass over the row keeps, per invocation,
 *    a running max `m`, the sum `s = Σ exp(x − m)` rescaled whenever `m` grows (the online softmax
 *    of Milakov & Gimelshein, arXiv 1805.02867) and the lowest index of the max; a fixed tree in
 *    workgroup memory combines them (`m = max(m₁, m₂)`, `s = s₁·e^(m₁−m) + s₂·e^(m₂−m)`, argmax
 *    ties to the lower index). Then loss = `log s − (x_t − m)`, correct = `argmax == t`, and a
 *    second pass writes `(e^(x−m)/s − onehot(t)) · scale`.
 * 3. {@link XENT_REDUCE_SHADER} (one workgroup): mean loss and accuracy over the unmasked rows.
 *
 * Every invocation visits its elements in a fixed order and every reduction is a fixed tree, so
 * results are bit-identical from run to run. Rows are read as vec4 when the vocabulary is a
 * multiple of 4, else as scalars.
 *
 * @module
 */

import { FLT_MAX } from "../../src/formats/fp32.ts";
import { range } from "../_wgsl/unroll.ts";

const WG_REDUCE = 256;
// The exact value of -FLT_MAX: Dawn (Tint) rejects "-3.40282347e38", which lies beyond it.
const NEG_MAX = String(-FLT_MAX);

/** Invocations of the per-row kernel: the lanes of a row rounded up to a power of 2, 32…256. */
function rowWorkgroup(lanes: number): number {
  let wg = 32;
  while (wg < lanes && wg < 256) wg *= 2;
  return wg;
}

/** A fixed-tree reduction over `wg` workgroup slots, fully unrolled; `body(h)` combines lid+h. */
function tree(wg: number, body: (h: number) => string): string {
  const lines: string[] = [];
  for (let h = wg / 2; h >= 1; h /= 2) {
    lines.push(`  if (lid < ${h}u) {\n${body(h)}\n  }\n  workgroupBarrier();`);
  }
  return lines.join("\n");
}

/**
 * The per-row kernel for vocabulary `vocab`, writing dlogits over the logits (`inPlace`) or into
 * `dx`. Bindings: x (logits), targets, loss, correct, metrics (read: the unmasked-row count),
 * params {rows, gx, mean (scale by 1/count), scale (f32)}, then dx when not in place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { xentRowsShader } from "./wgsl.ts";
 * assert.match(xentRowsShader(50304, true), /array<vec4<f32>>/);
 * assert.match(xentRowsShader(50257, false), /binding\(6\) var<storage, read_write> dx/);
 * ```
 */
export function xentRowsShader(vocab: number, inPlace: boolean): string {
  const w = vocab % 4 === 0 ? 4 : 1;
  const lanes = vocab / w;
  const wg = rowWorkgroup(lanes);
  const iters = Math.ceil(lanes / wg);
  const unroll = Math.min(iters, 4);
  const chunks = Math.ceil(iters / unroll);
  const T = w === 4 ? "vec4<f32>" : "f32";
  const out = inPlace ? "x" : "dx";
  const ks = range(unroll);

  // Loads of a chunk first (clamped in bounds), then the guarded updates: the loads can overlap.
  const load = (k: number) =>
    `    let j${k} = j + ${k * wg}u;\n    let v${k} = x[base + min(j${k}, LANES - 1u)];`;
  const update = (k: number) =>
    w === 4
      ? `    if (j${k} < LANES) {
      let mv = max(max(v${k}.x, v${k}.y), max(v${k}.z, v${k}.w));
      let mn = max(m, mv);
      let e = exp(v${k} - vec4(mn));
      s = s * exp(m - mn) + ((e.x + e.y) + (e.z + e.w));
      let first = select(select(select(3u, 2u, v${k}.z == mv), 1u, v${k}.y == mv), 0u, v${k}.x == mv);
      idx = select(idx, j${k} * 4u + first, mv > m || idx == NONE);
      m = mn;
    }`
      : `    if (j${k} < LANES) {
      let mn = max(m, v${k});
      s = s * exp(m - mn) + exp(v${k} - mn);
      idx = select(idx, j${k}, v${k} > m || idx == NONE);
      m = mn;
    }`;
  const grad = (k: number) =>
    w === 4
      ? `    if (j${k} < LANES) {
      let hot = vec4<u32>(j${k} * 4u) + vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(t);
      let g = exp(v${k} - vec4(mx)) * q - select(vec4(0.0), vec4(oh), hot);
      ${out}[base + j${k}] = select(g, vec4(0.0), !valid);
    }`
      : `    if (j${k} < LANES) {
      let g = exp(v${k} - mx) * q - select(0.0, oh, j${k} == t);
      ${out}[base + j${k}] = select(g, 0.0, !valid);
    }`;
  const loop = (body: (k: number) => string) => {
    const inner = [...ks.map(load), ...ks.map(body)].join("\n");
    return chunks === 1
      ? `  {\n    let j = lid;\n${inner}\n  }`
      : `  for (var c = 0u; c < ${chunks}u; c++) {\n    let j = lid + c * ${
        unroll * wg
      }u;\n${inner}\n  }`;
  };
  const xt = w === 4 ? "x[base + tc / 4u][tc % 4u]" : "x[base + tc]";

  return /* wgsl */ `
struct Params { rows: u32, gx: u32, mean: u32, scale: f32 }
@group(0) @binding(0) var<storage, ${inPlace ? "read_write" : "read"}> x: array<${T}>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> correct: array<u32>;
@group(0) @binding(4) var<storage, read> metrics: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
${inPlace ? "" : `@group(0) @binding(6) var<storage, read_write> dx: array<${T}>;`}
const V = ${vocab}u;
const LANES = ${lanes}u;
const NONE = 0xffffffffu;
// A quiet NaN's bits in a variable: WGSL forbids a constant expression that is NaN (Dawn enforces it).
var<private> nan_bits: u32 = 0x7fc00000u;
var<workgroup> sm_m: array<f32, ${wg}>;
var<workgroup> sm_s: array<f32, ${wg}>;
var<workgroup> sm_i: array<u32, ${wg}>;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * params.gx + wid.x;
  if (r >= params.rows) { return; }
  let base = r * LANES;
  let t = targets[r];
  let valid = t != NONE;
  let hit = t < V;
  let tc = min(t, V - 1u);
  let xt = ${xt}; // read before any gradient overwrites the row

  var m = ${NEG_MAX};
  var s = 0.0;
  var idx = NONE;
${loop(update)}
  sm_m[lid] = m;
  sm_s[lid] = s;
  sm_i[lid] = idx;
  workgroupBarrier();
${
    tree(wg, (h) =>
      `    let m1 = sm_m[lid];
    let m2 = sm_m[lid + ${h}u];
    let mn = max(m1, m2);
    sm_s[lid] = sm_s[lid] * exp(m1 - mn) + sm_s[lid + ${h}u] * exp(m2 - mn);
    let i1 = sm_i[lid];
    let i2 = sm_i[lid + ${h}u];
    sm_i[lid] = select(i1, i2, m2 > m1 || (m2 == m1 && i2 < i1));
    sm_m[lid] = mn;`)
  }
  let mx = sm_m[0];
  let sum = sm_s[0];
  if (lid == 0u) {
    var l = 0.0;
    if (hit) {
      l = log(sum) - (xt - mx);
    } else if (valid) {
      l = bitcast<f32>(nan_bits); // target ≥ V: NaN marks the bad row in the mean loss
    }
    loss[r] = l;
    correct[r] = select(0u, 1u, hit && sm_i[0] == t);
  }
  let sc = select(params.scale, 1.0 / metrics[2], params.mean != 0u);
  let q = sc / sum;
  let oh = select(0.0, sc, hit);
${loop(grad)}
}
`;
}

/**
 * The count kernel: metrics[2] ← the number of rows whose target is not `IGNORE_TARGET`, as f32.
 * Bindings: targets, metrics, params {rows}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { XENT_COUNT_SHADER } from "./wgsl.ts";
 * assert.match(XENT_COUNT_SHADER, /metrics\[2\] = f32\(sm\[0\]\)/);
 * ```
 */
export const XENT_COUNT_SHADER = /* wgsl */ `
struct Params { rows: u32 }
@group(0) @binding(0) var<storage, read> targets: array<u32>;
@group(0) @binding(1) var<storage, read_write> metrics: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> sm: array<u32, ${WG_REDUCE}>;

@compute @workgroup_size(${WG_REDUCE})
fn main(@builtin(local_invocation_index) lid: u32) {
  var c = 0u;
  for (var i = lid; i < params.rows; i += ${WG_REDUCE}u) {
    c += select(0u, 1u, targets[i] != 0xffffffffu);
  }
  sm[lid] = c;
  workgroupBarrier();
${tree(WG_REDUCE, (h) => `    sm[lid] += sm[lid + ${h}u];`)}
  if (lid == 0u) { metrics[2] = f32(sm[0]); }
}
`;

/**
 * The reduce kernel: metrics[0, 1, 3] ← mean loss and accuracy over the unmasked rows (0 when
 * there are none) and the number of correct rows. Bindings: loss, correct, metrics, params {rows}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { XENT_REDUCE_SHADER } from "./wgsl.ts";
 * assert.match(XENT_REDUCE_SHADER, /metrics\[3\] = f32\(sm_c\[0\]\)/);
 * ```
 */
export const XENT_REDUCE_SHADER = /* wgsl */ `
struct Params { rows: u32 }
@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read> correct: array<u32>;
@group(0) @binding(2) var<storage, read_write> metrics: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
var<workgroup> sm_l: array<f32, ${WG_REDUCE}>;
var<workgroup> sm_c: array<u32, ${WG_REDUCE}>;

@compute @workgroup_size(${WG_REDUCE})
fn main(@builtin(local_invocation_index) lid: u32) {
  var l = 0.0;
  var c = 0u;
  for (var i = lid; i < params.rows; i += ${WG_REDUCE}u) {
    l += loss[i];
    c += correct[i];
  }
  sm_l[lid] = l;
  sm_c[lid] = c;
  workgroupBarrier();
${
  tree(WG_REDUCE, (h) =>
    `    sm_l[lid] += sm_l[lid + ${h}u];\n    sm_c[lid] += sm_c[lid + ${h}u];`)
}
  if (lid == 0u) {
    let n = metrics[2];
    metrics[0] = select(0.0, sm_l[0] / n, n > 0.0);
    metrics[1] = select(0.0, f32(sm_c[0]) / n, n > 0.0);
    metrics[3] = f32(sm_c[0]);
  }
}
`;
