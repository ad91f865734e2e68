/**
 * WGSL generators for Mamba-2's causal depthwise conv1d + SiLU (kernels/conv1d/mod.ts; formulas
 * and CPU reference in kernels/conv1d/reference.ts).
 *
 * Both kernels run over (row block, channel group) workgroups of {@link CONV_WORKGROUP}
 * invocations: an invocation owns one channel and walks its block's rows in order, keeping a
 * sliding window of rows in registers (rebuilt at the block's first row and at each sequence
 * start), so each input row is loaded about once. `x` is read at `x[m·x_stride + x_offset + c]`;
 * taps before a sequence's first row or after its last read zero. `exp` arguments are clamped at 80
 * (`e^80 < FLT_MAX`) so that no product meets `∞·0`.
 *
 * @module
 */

import { range } from "../_wgsl/unroll.ts";

/**
 * Invocations (channels) per workgroup of both kernels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONV_WORKGROUP } from "./wgsl.ts";
 * assert.equal(Math.ceil(1152 / CONV_WORKGROUP), 18); // channel groups for C = 1152
 * ```
 */
export const CONV_WORKGROUP = 64;

const WG = CONV_WORKGROUP;

/**
 * The declarations both kernels share: params {rows, gx, rb, seq, x_stride, x_offset, cgroups},
 * bindings x, w, bias at 0…2, and helpers.
 */
const PRELUDE = (C: number, K: number) =>
  `struct Params {
  rows: u32, gx: u32, rb: u32, seq: u32, x_stride: u32, x_offset: u32, cgroups: u32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
const C = ${C}u;
const K = ${K}u;
fn load_x(row: u32, c: u32) -> f32 { return x[row * params.x_stride + params.x_offset + c]; }
fn exp_neg(p: f32) -> f32 { return exp(min(-p, 80.0)); }`;

/**
 * The start of both kernels' `main`: workgroup `blk·cgroups + cg` owns rows `[r0, r1)` of
 * channel `c = cg·WG + lid`, whose bias `b` and taps `w0…` it loads.
 */
const HEAD = (K: number) =>
  `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = wid.y * params.gx + wid.x;
  let blk = id / params.cgroups;
  let c = (id % params.cgroups) * ${WG}u + lid;
  let r0 = blk * params.rb;
  if (r0 >= params.rows || c >= C) { return; }
  let r1 = min(r0 + params.rb, params.rows);
  let b = bias[c];
${range(K).map((k) => `  let w${k} = w[c * K + ${k}u];`).join("\n")}`;

/** `x${j} = x[row m + off]`, or zero when that row is outside row m's sequence. */
function loadWindow(j: number, off: number): string {
  const at = off < 0 ? `m - ${-off}u` : `m + ${off}u`;
  const cond = off < 0 ? `t >= ${-off}u` : off > 0 ? `left >= ${off}u` : "true";
  return `x${j} = 0.0; if (${cond}) { x${j} = load_x(${at}, c); }`;
}

/** `a0 = a1; a1 = a2; …` over registers `a0…a{n−1}`: the window moves one row on. */
const shift = (name: string, n: number) =>
  range(n - 1).map((j) => `${name}${j} = ${name}${j + 1};`).join(" ");

/**
 * Forward: an invocation walks its rows keeping `x[m−K+1 … m]` in registers `x0…`; at the block's
 * first row and at each sequence start it reloads the window (zero before the sequence), else it
 * shifts the window and loads row `m` only, then writes `y = pre·σ(pre)`. Bindings x, w, bias, y,
 * params {rows, gx, rb, seq, x_stride, x_offset, cgroups}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convForwardShader } from "./wgsl.ts";
 * assert.match(convForwardShader(1152, 4), /const K = 4u;/);
 * ```
 */
export function convForwardShader(C: number, K: number): string {
  const pre = ["b", ...range(K).map((k) => `w${k} * x${k}`)].join(" + ");
  return `${PRELUDE(C, K)}
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
${HEAD(K)}
  ${range(K).map((j) => `var x${j} = 0.0;`).join(" ")}
  for (var m = r0; m < r1; m = m + 1u) {
    let t = m % params.seq;
    if (m == r0 || t == 0u) {
${range(K - 1).map((j) => `      ${loadWindow(j, j - (K - 1))}`).join("\n")}
    } else {
      ${shift("x", K)}
    }
    x${K - 1} = load_x(m, c);
    let p = ${pre};
    y[m * C + c] = p / (1.0 + exp_neg(p));
  }
}
`;
}

/**
 * Backward: an invocation walks its rows keeping `x[m−K+1 … m+K−1]` in `x0…x{2K−2}` and
 * `dpre[m … m+K−1]` in `d0…d{K−1}` (zero outside row m's sequence); at the block's first row and
 * at each sequence start it rebuilds both, else it shifts them and computes the leading row
 * `m+K−1` only. It writes `dx[m] = Σ_k w[k]·dpre[m+K−1−k]` and accumulates `dpre[m]·x[m−K+1+k]`
 * and `dpre[m]` in registers, stored to `partial[blk, :]` (`[C, K]` then `[C]`), which the column
 * sum of kernels/norm/wgsl.ts adds in block order. Bindings x, w, bias, dy, dx, partial, params.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convBackwardShader } from "./wgsl.ts";
 * assert.match(convBackwardShader(64, 4), /partial\[pb \+ 256u \+ c\] = ab;/);
 * ```
 */
export function convBackwardShader(C: number, K: number): string {
  const dpre = (i: number) =>
    `let p = ${["b", ...range(K).map((k) => `w${k} * x${i + k}`)].join(" + ")}; ` +
    `let e = exp_neg(p); let s = 1.0 / (1.0 + e); ` +
    `d${i} = dy[(m + ${i}u) * C + c] * s * (1.0 + p * (e * s));`;
  const lead = 2 * K - 2;
  return `${PRELUDE(C, K)}
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
${HEAD(K)}
  ${range(2 * K - 1).map((j) => `var x${j} = 0.0;`).join(" ")}
  ${range(K).map((i) => `var d${i} = 0.0;`).join(" ")}
  ${range(K).map((k) => `var a${k} = 0.0;`).join(" ")}
  var ab = 0.0;
  for (var m = r0; m < r1; m = m + 1u) {
    let t = m % params.seq;
    let left = params.seq - 1u - t;
    if (m == r0 || t == 0u) {
${range(lead).map((j) => `      ${loadWindow(j, j - (K - 1))}`).join("\n")}
${range(K - 1).map((i) => `      d${i} = 0.0; if (left >= ${i}u) { ${dpre(i)} }`).join("\n")}
    } else {
      ${shift("x", 2 * K - 1)} ${shift("d", K)}
    }
    x${lead} = 0.0;
    d${K - 1} = 0.0;
    if (left >= ${K - 1}u) { x${lead} = load_x(m + ${K - 1}u, c); ${dpre(K - 1)} }
    dx[m * params.x_stride + params.x_offset + c] = ${
    range(K).map((k) => `w${k} * d${K - 1 - k}`).join(" + ")
  };
    ${range(K).map((k) => `a${k} = a${k} + d0 * x${k};`).join(" ")}
    ab = ab + d0;
  }
  let pb = blk * ${C * (K + 1)}u;
${range(K).map((k) => `  partial[pb + c * K + ${k}u] = a${k};`).join("\n")}
  partial[pb + ${C * K}u + c] = ab;
}
`;
}
