/**
 * WGSL generators for the gated grouped RMSNorm of `kernels/gated_norm/mod.ts` (formulas and CPU
 * reference in `kernels/gated_norm/reference.ts`; Dao & Gu 2024, Mamba-2, §7.3).
 *
 * A workgroup owns one group of `d/G` channels, shaped by `rowGeometry(d/G)` from `../norm/wgsl.ts`
 * (vec4 loads of `y`, `w` and `out` when the group size allows, unrolled register slots, a fixed
 * binary-tree reduction). The gate `z` and its gradient live inside a wider buffer at an arbitrary
 * offset and stride, so they are read and written as scalars. `exp` arguments are clamped at 80
 * (`e^80 < FLT_MAX`) so that `σ(z) = 1/(1 + e^{−z})` and `1 − σ(z) = e^{−z}·σ(z)` never meet `∞·0`.
 *
 * @module
 */

import type { RowGeometry } from "../norm/wgsl.ts";
import { f32Literal } from "../_wgsl/numerics.ts";
import { range } from "../_wgsl/unroll.ts";

/** `1/(d/G)` as an exact FP32 literal (WGSL's `bitcast` is no constant expression). */
const invGs = (g: RowGeometry) => f32Literal(Math.fround(1 / g.d));

/** The shared declarations and helpers of both shaders for `groups` groups of geometry `g`. */
function prelude(g: RowGeometry, groups: number): string {
  const t = g.vec === 4 ? "vec4<f32>" : "f32";
  const zLoad = g.vec === 4 ? "T(z[i], z[i + 1u], z[i + 2u], z[i + 3u])" : "z[i]";
  const steps = range(Math.log2(g.wg)).map((j) => g.wg >> (j + 1)).map((s) =>
    `  if (lid < ${s}u) { red[lid] = red[lid] + red[lid + ${s}u]; }\n  workgroupBarrier();`
  );
  return `alias T = ${t};
const G = ${groups}u;
const NV = ${g.nv}u;
const GS = ${g.d}u;
fn load_z(i: u32) -> T { return ${zLoad}; }
fn exp_neg(v: T) -> T { return exp(min(-v, T(80.0))); }
fn hsum(v: T) -> f32 { return ${g.vec === 4 ? "(v.x + v.y) + (v.z + v.w)" : "v"}; }
var<workgroup> red: array<f32, ${g.wg}>;
fn group_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
${steps.join("\n")}
  let total = red[0];
  workgroupBarrier();
  return total;
}`;
}

/** The unrolled slots of `g`, each wrapped in the bounds guard it needs. */
function slots(g: RowGeometry, body: (k: number, col: string) => string, indent = "  "): string {
  return range(g.k).map((k) => {
    const col = `(lid + ${k * g.wg}u)`;
    const overhang = k === g.k - 1 && g.nv % g.wg !== 0;
    return `${indent}${overhang ? `if (${col} < NV) ` : ""}{ ${body(k, col)} }`;
  }).join("\n");
}

const decl = (g: RowGeometry, names: string[], indent = "  ") =>
  range(g.k).map((k) => `${indent}${names.map((n) => `var ${n}${k} = T();`).join(" ")}`).join(
    "\n",
  );

const sumSlots = (g: RowGeometry, term: (k: number) => string) =>
  range(g.k).map((k) => `hsum(${term(k)})`).join(" + ");

const HEADER = (wg: number) =>
  `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {`;

/**
 * Forward: `u = y·silu(z)`, `r = 1/sqrt(mean_group(u²) + eps)`, `out = u·r·w`, one workgroup per
 * (row, group) with linear index `row·G + group`. Bindings: y, z, w, out, rstd `[rows·G]`,
 * params {rows, gx, z_stride, z_offset, eps}; `y`, `w`, `out` in `T` units, `z` in f32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gatedForwardShader } from "./wgsl.ts";
 * import { rowGeometry } from "../norm/wgsl.ts";
 * assert.match(gatedForwardShader(rowGeometry(256), 4), /const G = 4u/);
 * ```
 */
export function gatedForwardShader(g: RowGeometry, groups: number): string {
  return `struct Params { rows: u32, gx: u32, z_stride: u32, z_offset: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> y: array<T>;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<T>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
${prelude(g, groups)}
${HEADER(g.wg)}
  let id = wid.y * params.gx + wid.x;
  let row = id / G;
  let grp = id % G;
  if (row >= params.rows) { return; }
  let yb = id * NV;
  let zb = row * params.z_stride + params.z_offset + grp * GS;
${decl(g, ["u"])}
${
    slots(g, (k, col) =>
      `let zv = load_z(zb + ${col} * ${g.vec}u); ` +
      `u${k} = y[yb + ${col}] * (zv * (1.0 / (1.0 + exp_neg(zv))));`)
  }
  let r = inverseSqrt(group_sum(lid, ${sumSlots(g, (k) => `u${k} * u${k}`)}) * ${
    invGs(g)
  } + params.eps);
  if (lid == 0u) { rstd[id] = r; }
${slots(g, (k, col) => `out[yb + ${col}] = u${k} * r * w[grp * NV + ${col}];`)}
}
`;
}

/**
 * Backward for a block of `params.rb` rows per workgroup and one group (linear index
 * `block·G + group`): with `û = u·r` and `q = dout·w`, `du = r·(q − û·mean_group(q·û))`,
 * `dy = du·silu(z)`, `dz = du·y·silu'(z)`; the block's partial `Σ_rows dout·û` goes to
 * `partial[block, group·d/G …]` (`[blocks, d]`). Bindings: y, z, w, rstd, dout, dy, dz, partial,
 * params {rows, gx, rb, z_stride, z_offset}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gatedBackwardShader } from "./wgsl.ts";
 * import { rowGeometry } from "../norm/wgsl.ts";
 * assert.match(gatedBackwardShader(rowGeometry(6), 2), /partial\[/);
 * ```
 */
export function gatedBackwardShader(g: RowGeometry, groups: number): string {
  const dz = g.vec === 4
    ? "let i = zb + COL * 4u; dz[i] = v.x; dz[i + 1u] = v.y; dz[i + 2u] = v.z; dz[i + 3u] = v.w;"
    : "dz[zb + COL] = v;";
  return `struct Params { rows: u32, gx: u32, rb: u32, z_stride: u32, z_offset: u32 }
@group(0) @binding(0) var<storage, read> y: array<T>;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<T>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<T>;
@group(0) @binding(5) var<storage, read_write> dy: array<T>;
@group(0) @binding(6) var<storage, read_write> dz: array<f32>;
@group(0) @binding(7) var<storage, read_write> partial: array<T>;
@group(0) @binding(8) var<uniform> params: Params;
${prelude(g, groups)}
${HEADER(g.wg)}
${decl(g, ["a"])}
  let id = wid.y * params.gx + wid.x;
  let blk = id / G;
  let grp = id % G;
  let r0 = blk * params.rb;
  if (r0 >= params.rows) { return; }
  let r1 = min(r0 + params.rb, params.rows);
  for (var r = r0; r < r1; r = r + 1u) {
    let yb = (r * G + grp) * NV;
    let zb = r * params.z_stride + params.z_offset + grp * GS;
    let rs = rstd[r * G + grp];
${decl(g, ["h", "q", "sl", "ds"], "    ")}
${
    slots(
      g,
      (k, col) =>
        `let yv = y[yb + ${col}]; let zv = load_z(zb + ${col} * ${g.vec}u); ` +
        `let e = exp_neg(zv); let s = 1.0 / (1.0 + e); sl${k} = zv * s; ` +
        `ds${k} = yv * s * (1.0 + zv * (e * s)); h${k} = yv * sl${k} * rs; ` +
        `let o = dout[yb + ${col}]; a${k} = a${k} + o * h${k}; q${k} = o * w[grp * NV + ${col}];`,
      "    ",
    )
  }
    let m = group_sum(lid, ${sumSlots(g, (k) => `q${k} * h${k}`)}) * ${invGs(g)};
${
    slots(
      g,
      (k, col) =>
        `let du = rs * (q${k} - h${k} * m); dy[yb + ${col}] = du * sl${k}; ` +
        `let v = du * ds${k}; ${dz.replaceAll("COL", col)}`,
      "    ",
    )
  }
  }
${slots(g, (k, col) => `partial[id * NV + ${col}] = a${k};`)}
}
`;
}
