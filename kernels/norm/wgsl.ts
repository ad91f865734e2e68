/**
 * WGSL generators for RMSNorm over the rows of a `[rows, d]` tensor, forward and backward, plus
 * the fixed-order column sum that turns per-row-block partials into the weight gradients (also
 * used by the gated norm and the causal conv1d).
 *
 * Geometry: one workgroup per row (forward) or per block of consecutive rows (backward). Invocation
 * `lid` owns the columns `lid + k·WG` (vec4 units when `d % 4 == 0`, else scalars) for the
 * unrolled `k < K`, kept in named registers, so a row is read once and the backward kernel
 * accumulates the weight-gradient partials of its columns in registers across its rows. Row sums
 * go through a fixed binary tree in workgroup memory; nothing depends on scheduling or on the
 * adapter's subgroup size.
 *
 * Formulas (Zhang & Sennrich 2019, "Root Mean Square Layer Normalization", eq. 4; the gradients
 * follow by the chain rule, written out in `kernels/norm/reference.ts`).
 *
 * @module
 */

import { f32Literal } from "../_wgsl/numerics.ts";
import { range } from "../_wgsl/unroll.ts";
import { MAX_NORM_D } from "./reference.ts";

/**
 * Workgroup shape of a row kernel for rows of `d` values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RowGeometry, rowGeometry } from "./wgsl.ts";
 * const g: RowGeometry = rowGeometry(768);
 * assert.equal(g.k * g.wg * g.vec >= g.d, true);
 * ```
 */
export interface RowGeometry {
  /** Row length. */
  readonly d: number;
  /** Values per load: 4 (vec4) when `d % 4 == 0`, else 1. */
  readonly vec: 1 | 4;
  /** Loads per row (`d / vec`). */
  readonly nv: number;
  /** Workgroup size, a power of two in [32, 256]. */
  readonly wg: number;
  /** Loads per invocation per row (`ceil(nv / wg)`). */
  readonly k: number;
}

/**
 * The geometry the norm kernels use for rows of `d` values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rowGeometry } from "./wgsl.ts";
 * assert.deepEqual(rowGeometry(8192), { d: 8192, vec: 4, nv: 2048, wg: 256, k: 8 });
 * assert.deepEqual(rowGeometry(6), { d: 6, vec: 1, nv: 6, wg: 32, k: 1 });
 * ```
 */
export function rowGeometry(d: number): RowGeometry {
  if (!Number.isInteger(d) || d < 1 || d > MAX_NORM_D) {
    throw new RangeError(`norm: d must be an integer in [1, ${MAX_NORM_D}], got ${d}`);
  }
  const vec = d % 4 === 0 ? 4 : 1;
  const nv = d / vec;
  const wg = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(nv))));
  return { d, vec, nv, wg, k: Math.ceil(nv / wg) };
}

/**
 * Column lanes (and block lanes) of a {@link colSumShader} workgroup: it sums 16 columns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COLSUM_LANES } from "./wgsl.ts";
 * assert.equal(Math.ceil(192 / COLSUM_LANES), 12); // workgroups for 192 columns
 * ```
 */
export const COLSUM_LANES = 16;

/** Shared pieces of a row kernel's source for a geometry. */
class RowSource {
  readonly g: RowGeometry;
  readonly t: string;
  constructor(g: RowGeometry) {
    this.g = g;
    this.t = g.vec === 4 ? "vec4<f32>" : "f32";
  }

  /** Indices of the unrolled slots. */
  get slots(): number[] {
    return range(this.g.k);
  }

  /** Column (load index within a row) of slot `k`. */
  col(k: number): string {
    return `(lid + ${k * this.g.wg}u)`;
  }

  /** Wraps `body` in the bounds guard slot `k` needs (only the last slot can overhang). */
  guarded(k: number, body: string): string {
    const overhang = k === this.g.k - 1 && this.g.nv % this.g.wg !== 0;
    return overhang ? `if (${this.col(k)} < ${this.g.nv}u) { ${body} }` : `{ ${body} }`;
  }

  /** Dot product of two values. */
  dot(a: string, b: string): string {
    return this.g.vec === 4 ? `dot(${a}, ${b})` : `(${a} * ${b})`;
  }

  /** `Σ_k term(k)`, left to right. */
  sum(term: (k: number) => string): string {
    return this.slots.map(term).join(" + ");
  }

  /** `1/d` as an exact FP32 literal. */
  get invD(): string {
    return f32Literal(Math.fround(1 / this.g.d));
  }

  /**
   * `reduce_<name>(lid, v)`: the workgroup sum of `v` over a fixed binary tree, returned to every
   * invocation; ends with a barrier so the scratch array can be reused at once.
   */
  reducer(name: string, type: string): string {
    const steps: string[] = [];
    for (let s = this.g.wg / 2; s >= 1; s /= 2) {
      steps.push(
        `  if (lid < ${s}u) { red_${name}[lid] = red_${name}[lid] + red_${name}[lid + ${s}u]; }
  workgroupBarrier();`,
      );
    }
    return `var<workgroup> red_${name}: array<${type}, ${this.g.wg}>;
fn reduce_${name}(lid: u32, v: ${type}) -> ${type} {
  red_${name}[lid] = v;
  workgroupBarrier();
${steps.join("\n")}
  let total = red_${name}[0];
  workgroupBarrier();
  return total;
}
`;
  }
}

const HEADER = (wg: number) =>
  `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {`;

/**
 * RMSNorm forward: `y = x · rstd · g`, `rstd = 1/sqrt(mean(x²) + eps)` per row.
 * Bindings: x, g, y, rstd [rows], params {rows, gx, eps}. One workgroup per row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rmsForwardShader, rowGeometry } from "./wgsl.ts";
 * assert.match(rmsForwardShader(rowGeometry(64)), /inverseSqrt/);
 * ```
 */
export function rmsForwardShader(g: RowGeometry): string {
  const s = new RowSource(g);
  const { t } = s;
  return `struct Params { rows: u32, gx: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<${t}>;
@group(0) @binding(1) var<storage, read> g: array<${t}>;
@group(0) @binding(2) var<storage, read_write> y: array<${t}>;
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
${s.reducer("f", "f32")}
${HEADER(g.wg)}
  let row = wid.y * params.gx + wid.x;
  if (row >= params.rows) { return; }
  let base = row * ${g.nv}u;
${
    s.slots.map((k) => `  var t${k} = ${t}();\n  ${s.guarded(k, `t${k} = x[base + ${s.col(k)}];`)}`)
      .join("\n")
  }
  let ms = reduce_f(lid, ${s.sum((k) => s.dot(`t${k}`, `t${k}`))}) * ${s.invD};
  let r = inverseSqrt(ms + params.eps);
  if (lid == 0u) { rstd[row] = r; }
${
    s.slots.map((k) => `  ${s.guarded(k, `y[base + ${s.col(k)}] = t${k} * r * g[${s.col(k)}];`)}`)
      .join("\n")
  }
}
`;
}

/** The row-block loop of a backward kernel around `perRow`, then `after` (partials stores). */
function blockLoop(perRow: string, after: string): string {
  return `  let blk = wid.y * params.gx + wid.x;
  let r0 = blk * params.rb;
  if (r0 >= params.rows) { return; }
  let r1 = min(r0 + params.rb, params.rows);
${perRow}
${after}`;
}

/** `dx = v`, or `dx += v` when params.acc is set, at load index `i`. */
const storeDx = (i: string, v: string) =>
  `let i_dx = ${i}; var v_dx = ${v}; if (params.acc != 0u) { v_dx = dx[i_dx] + v_dx; } dx[i_dx] = v_dx;`;

/**
 * RMSNorm backward for a block of `params.rb` rows per workgroup:
 * `dx = rstd · (dy·g − x̂ · mean(dy·g·x̂))` with `x̂ = x · rstd`, and the block's partial
 * `Σ_rows dy·x̂` written to `partial[blk, :]`. Bindings: x, g, rstd, dy, dx, partial,
 * params {rows, gx, rb, acc (dx += instead of =)}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rmsBackwardShader, rowGeometry } from "./wgsl.ts";
 * assert.match(rmsBackwardShader(rowGeometry(64)), /partial\[/);
 * ```
 */
export function rmsBackwardShader(g: RowGeometry): string {
  const s = new RowSource(g);
  const { t } = s;
  const perRow = `  for (var r = r0; r < r1; r = r + 1u) {
    let base = r * ${g.nv}u;
    let rs = rstd[r];
${
    s.slots.map((k) =>
      `    var h${k} = ${t}();\n    var q${k} = ${t}();\n    ${
        s.guarded(
          k,
          `let e = dy[base + ${s.col(k)}]; h${k} = x[base + ${s.col(k)}] * rs; ` +
            `a${k} = a${k} + e * h${k}; q${k} = e * g[${s.col(k)}];`,
        )
      }`
    ).join("\n")
  }
    let m = reduce_f(lid, ${s.sum((k) => s.dot(`q${k}`, `h${k}`))}) * ${s.invD};
${
    s.slots.map((k) =>
      `    ${s.guarded(k, storeDx(`base + ${s.col(k)}`, `rs * (q${k} - h${k} * m)`))}`
    ).join("\n")
  }
  }`;
  const after = s.slots.map((k) =>
    `  ${s.guarded(k, `partial[blk * ${g.nv}u + ${s.col(k)}] = a${k};`)}`
  ).join("\n");
  return `struct Params { rows: u32, gx: u32, rb: u32, acc: u32 }
@group(0) @binding(0) var<storage, read> x: array<${t}>;
@group(0) @binding(1) var<storage, read> g: array<${t}>;
@group(0) @binding(2) var<storage, read> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<${t}>;
@group(0) @binding(4) var<storage, read_write> dx: array<${t}>;
@group(0) @binding(5) var<storage, read_write> partial: array<${t}>;
@group(0) @binding(6) var<uniform> params: Params;
${s.reducer("f", "f32")}
${HEADER(g.wg)}
${s.slots.map((k) => `  var a${k} = ${t}();`).join("\n")}
${blockLoop(perRow, after)}
}
`;
}

/**
 * The column sum `out[c] = Σ_{b<nb} partial[b·stride + offset + c]` (or `out[c] += …` when
 * `acc`), for `c < n` in `vec`-wide units. A workgroup is 16 column lanes × 16 block lanes: block
 * lane `j` sums blocks `j, j+16, j+32, …` in ascending order (four loads in flight), then a fixed
 * tree adds the 16 lane sums. Bindings: partial, out, params {nb, n, stride, offset, acc, gx}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { colSumShader } from "./wgsl.ts";
 * assert.match(colSumShader(4), /workgroup_size\(16, 16\)/);
 * ```
 */
export function colSumShader(vec: 1 | 4): string {
  const t = vec === 4 ? "vec4<f32>" : "f32";
  const L = COLSUM_LANES;
  const tree: string[] = [];
  for (let h = L / 2; h >= 1; h /= 2) {
    tree.push(
      `  if (l.y < ${h}u) { sm[l.y * ${L}u + l.x] = sm[l.y * ${L}u + l.x] + sm[(l.y + ${h}u) * ${L}u + l.x]; }
  workgroupBarrier();`,
    );
  }
  const at = (o: number) => `partial[(b + ${o * L}u) * params.stride + col]`;
  return `struct Params { nb: u32, n: u32, stride: u32, offset: u32, acc: u32, gx: u32 }
@group(0) @binding(0) var<storage, read> partial: array<${t}>;
@group(0) @binding(1) var<storage, read_write> out: array<${t}>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> sm: array<${t}, ${L * L}>;
@compute @workgroup_size(${L}, ${L})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let c = (wid.y * params.gx + wid.x) * ${L}u + l.x;
  let col = params.offset + c;
  var s = ${t}();
  if (c < params.n) {
    var b = l.y;
    for (; b + ${3 * L}u < params.nb; b = b + ${4 * L}u) {
      let v0 = ${at(0)};
      let v1 = ${at(1)};
      let v2 = ${at(2)};
      let v3 = ${at(3)};
      s = s + v0;
      s = s + v1;
      s = s + v2;
      s = s + v3;
    }
    for (; b < params.nb; b = b + ${L}u) { s = s + ${at(0)}; }
  }
  sm[l.y * ${L}u + l.x] = s;
  workgroupBarrier();
${tree.join("\n")}
  if (l.y == 0u && c < params.n) {
    var v = sm[l.x];
    if (params.acc != 0u) { v = out[c] + v; }
    out[c] = v;
  }
}
`;
}
