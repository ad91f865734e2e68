/**
 * WGSL generator for causal multi-head attention, forward and backward, in f32 (FlashAttention-2
 * structure: Dao, "FlashAttention-2", arXiv 2307.08691, Alg. 1 and 2; online softmax of Milakov &
 * Gimelshein, arXiv 1805.02867). No T×T matrix is stored: the forward keeps a running row max and
 * sum and saves the row log-sum-exp; the backward recomputes the probabilities from it.
 *
 * Every kernel gives a workgroup one block of `rows` rows of one (batch, head) and walks tiles of
 * `cols` columns: thread (ty, tx) owns rows 4·ty … 4·ty + 3 (so per-row values are vec4s over
 * those rows) and, of each tile, the columns 4·(tx + ntx·u) + {0…3}; of a head-dimension vector
 * it owns the features 4·(tx + ntx·v) + {0…3}. Both GEMMs of a tile are register-tiled:
 * - scores (rows × cols, a sum over the head dimension): chunks of `dk` features of both operands
 *   are staged transposed in workgroup memory, and each step is one vec4 of the row operand times
 *   `cols/(4·ntx)` vec4s of the column operand;
 * - accumulation (rows × head dim, a sum over the tile's columns): the tile's probabilities (or
 *   score gradients) are written transposed to workgroup memory, and chunks of `ck` rows of the
 *   value-like operand are staged; each step is one vec4 of probabilities times the owned vec4s.
 * All loops over features and columns inside a chunk are unrolled here, accumulators are named
 * vec4s, and every sum runs in one fixed order, so results are deterministic.
 *
 * Kernels (one dispatch each; f32 storage buffers, bindings in order):
 * - forward (qkv, y, lse, params): y = softmax(q·kᵀ·scale + causal mask)·v and
 *   lse[b, h, t] = m + log(l). Query blocks run in reverse order (the longest first).
 * - delta (y, dy, delta, params): delta[b, h, t] = Σ_d dy·y (FlashAttention-2, Alg. 2).
 * - dq (qkv, dy, lse, delta, dqkv, params): per query block, dq = scale·Σ_j dS·k with
 *   P = exp(S − lse), dP = dy·vᵀ, dS = P∘(dP − delta).
 * - dkv (qkv, dy, lse, delta, dqkv, params): per key block, dv = Σ_t Pᵀ·dy and
 *   dk = scale·Σ_t dSᵀ·q over the query tiles at or after the block.
 * dq and dkv write disjoint columns of dqkv, so neither needs atomics.
 *
 * Params: seq, blocks (row blocks per (batch, head)), groups (workgroups), gx (dispatch width),
 * scale (f32 bits). The workgroup index is `wid.y · gx + wid.x`.
 *
 * The tiles depend only on the kernel and the head dimension ({@link attentionTiles}), so for a
 * given head layout every sum has one order whatever the batch and sequence length. Their speed
 * shows in the training-step throughput of reports/h100-kernels.md.
 *
 * @module
 */

/**
 * Tile geometry of one attention kernel.
 *
 * @example
 * ```ts
 * import { attentionTiles, type AttentionTiles } from "./wgsl.ts";
 * const tiles: AttentionTiles = attentionTiles("forward", 64);
 * console.log(tiles.rows * tiles.ntx / 4); // threads per workgroup
 * ```
 */
export interface AttentionTiles {
  /** Rows of the block a workgroup owns (queries; keys for dkv); a multiple of 4. */
  readonly rows: number;
  /** Threads along the columns of a tile (a power of two). */
  readonly ntx: number;
  /** Columns of a tile; a multiple of 4·ntx and of 8. */
  readonly cols: number;
}

/**
 * The tiled attention kernels (the delta kernel has no tiles).
 *
 * @example
 * ```ts
 * import type { AttentionKernelName } from "./wgsl.ts";
 * const name: AttentionKernelName = "dkv";
 * ```
 */
export type AttentionKernelName = "forward" | "dq" | "dkv";

/**
 * The tiles for a kernel and head dimension: 64-row blocks, ntx the smallest power of two (≤ 8)
 * with 4·ntx ≥ headDim, and 32-column tiles (16 for small heads). dkv holds two accumulators, so
 * above 64 features it takes 32 rows × 64 columns with ntx = 16 to halve the registers per thread.
 * All fit in 16 KiB of workgroup memory for head dimensions up to 128.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionTiles } from "./wgsl.ts";
 * assert.deepEqual(attentionTiles("forward", 64), { rows: 64, ntx: 8, cols: 32 });
 * assert.deepEqual(attentionTiles("dq", 8), { rows: 64, ntx: 2, cols: 16 });
 * assert.deepEqual(attentionTiles("dkv", 128), { rows: 32, ntx: 16, cols: 64 });
 * ```
 */
export function attentionTiles(kernel: AttentionKernelName, headDim: number): AttentionTiles {
  if (kernel === "dkv" && headDim > 64) return { rows: 32, ntx: 16, cols: 64 };
  let ntx = 1;
  while (ntx < 8 && 4 * ntx < headDim) ntx *= 2;
  return { rows: 64, ntx, cols: Math.max(4 * ntx, 16) };
}

/** Derived sizes of a kernel's tiles (all in vec4 units where named *4). */
interface Geometry {
  heads: number;
  dh: number;
  /** Model width D = heads·dh. */
  d: number;
  rows: number;
  cols: number;
  ntx: number;
  nty: number;
  /** Threads per workgroup. */
  nt: number;
  /** vec4 column groups per thread in a tile. */
  tn4: number;
  /** Head dimension padded to a multiple of 4·ntx. */
  dhp: number;
  /** vec4 feature groups per thread. */
  nv: number;
  /** Features per staged chunk of the score GEMM. */
  dk: number;
  /** Rows per staged chunk of the accumulation GEMM. */
  ck: number;
  /** Row strides (vec4) of the transposed staging tiles, padded against bank conflicts. */
  xs4: number;
  ys4: number;
  /** vec4 offset of the column operand's staging tile. */
  yoff: number;
  /** vec4 sizes of the staging and probability arrays. */
  stage: number;
  pSize: number;
}

/**
 * Workgroup memory the kernels may use (the WebGPU default limit), in bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ATTENTION_WORKGROUP_BYTES } from "./wgsl.ts";
 * assert.equal(ATTENTION_WORKGROUP_BYTES, 16 * 1024);
 * ```
 */
export const ATTENTION_WORKGROUP_BYTES = 16384;

function geometry(heads: number, dh: number, t: AttentionTiles): Geometry {
  const nty = t.rows / 4;
  const dhp = Math.ceil(dh / (4 * t.ntx)) * 4 * t.ntx;
  let dk = 16;
  while (dhp % dk !== 0) dk /= 2;
  const ck = 8;
  const xs4 = nty + 1;
  const ys4 = t.cols / 4 + 1;
  const g: Geometry = {
    heads,
    dh,
    d: heads * dh,
    rows: t.rows,
    cols: t.cols,
    ntx: t.ntx,
    nty,
    nt: nty * t.ntx,
    tn4: t.cols / (4 * t.ntx),
    dhp,
    nv: dhp / (4 * t.ntx),
    dk,
    ck,
    xs4,
    ys4,
    yoff: dk * xs4,
    stage: Math.max(dk * (xs4 + ys4), (ck * dhp) / 4, t.ntx * nty),
    pSize: t.cols * nty,
  };
  if (
    t.rows % 4 !== 0 || t.cols % (4 * t.ntx) !== 0 || t.cols % ck !== 0 ||
    (g.stage + g.pSize) * 16 > ATTENTION_WORKGROUP_BYTES
  ) {
    throw new RangeError(`attention: tiles ${JSON.stringify(t)} do not fit head dim ${dh}`);
  }
  return g;
}

const C = ["x", "y", "z", "w"];
const NEG = "-1e30";

/** Rows of an f32 operand: element (r, e) at (row0 + r)·stride + col + e, valid for r < count. */
interface Operand {
  buf: string;
  stride: number;
  col: string;
  row0: string;
  count: string;
}

/** Stages features kc … kc+dk−1 of `rows` operand rows transposed at vec4 offset `base`. */
function stageTransposed(g: Geometry, op: Operand, rows: number, base: number, s4: number) {
  const total = rows * g.dk;
  const lines: string[] = [];
  for (let u = 0; u * g.nt < total; u++) {
    const guard = (u + 1) * g.nt > total ? `if (e < ${total}u) ` : "";
    const padded = g.dhp !== g.dh ? ` && kc + c < ${g.dh}u` : "";
    lines.push(
      `{ let e = lid + ${u * g.nt}u; ${guard}{ let r = e / ${g.dk}u; let c = e % ${g.dk}u;`,
      `  var v = 0.0; if (r < ${op.count}${padded}) { v = ${op.buf}[(${op.row0} + r) * ${op.stride}u + ${op.col} + kc + c]; }`,
      `  st[${base}u + c * ${s4}u + r / 4u][r % 4u] = v; } }`,
    );
  }
  return lines.join("\n");
}

/**
 * One rank-1 step of a register tile, as a WGSL block: with `a` (a vec4 over the invocation's 4
 * rows) and `b0…` (vec4s over its column groups) loaded from the given expressions,
 * `acc{i}_{u} = fma(a[i], b{u}, acc{i}_{u})` for every row i and group u, in that order.
 */
function rank1Update(
  acc: string,
  [a, aExpr]: [string, string],
  b: string,
  bExprs: string[],
): string[] {
  const lines = [`{ let ${a} = ${aExpr};`, ...bExprs.map((e, u) => `let ${b}${u} = ${e};`)];
  for (let i = 0; i < 4; i++) {
    for (let u = 0; u < bExprs.length; u++) {
      lines.push(`${acc}${i}_${u} = fma(vec4f(${a}.${C[i]}), ${b}${u}, ${acc}${i}_${u});`);
    }
  }
  return [...lines, "}"];
}

/** `out{i}_{u}` (vec4 over owned columns) ← Σ_e x[row i, e]·y[col, e], rows × cols. */
function scores(g: Geometry, out: string, x: Operand, y: Operand): string {
  const lines: string[] = [];
  for (let i = 0; i < 4; i++) {
    for (let u = 0; u < g.tn4; u++) lines.push(`var ${out}${i}_${u} = vec4f(0.0);`);
  }
  lines.push(
    `for (var kc = 0u; kc < ${g.dhp}u; kc += ${g.dk}u) {`,
    "workgroupBarrier();",
    stageTransposed(g, x, g.rows, 0, g.xs4),
    stageTransposed(g, y, g.cols, g.yoff, g.ys4),
    "workgroupBarrier();",
  );
  for (let k = 0; k < g.dk; k++) {
    const b = Array.from(
      { length: g.tn4 },
      (_, u) => `st[${g.yoff + k * g.ys4 + g.ntx * u}u + tx]`,
    );
    lines.push(...rank1Update(out, ["a", `st[${k * g.xs4}u + ty]`], "b", b));
  }
  lines.push("}");
  return lines.join("\n");
}

/** Writes `src{i}_{u}` transposed to ps: ps[col · rows/4 + ty] = the column's 4 owned rows. */
function writeTile(g: Geometry, src: string): string {
  const lines: string[] = [];
  for (let u = 0; u < g.tn4; u++) {
    for (let c = 0; c < 4; c++) {
      const parts = [0, 1, 2, 3].map((i) => `${src}${i}_${u}.${C[c]}`).join(", ");
      lines.push(
        `ps[(4u * tx + ${4 * g.ntx * u + c}u) * ${g.nty}u + ty] = vec4f(${parts});`,
      );
    }
  }
  return lines.join("\n");
}

/** `acc{i}_{v}` += Σ_c ps[c][row i]·w[c, owned features], over the tile's `w.count` rows. */
function accumulate(g: Geometry, acc: string, w: Operand): string {
  const total = g.ck * g.dhp;
  const lines = [
    `for (var cc = 0u; cc < ${w.count}; cc += ${g.ck}u) {`,
    "workgroupBarrier();",
  ];
  for (let u = 0; u * g.nt < total; u++) {
    const guard = (u + 1) * g.nt > total ? `if (e < ${total}u) ` : "";
    const padded = g.dhp !== g.dh ? ` && c < ${g.dh}u` : "";
    lines.push(
      `{ let e = lid + ${u * g.nt}u; ${guard}{ let r = e / ${g.dhp}u; let c = e % ${g.dhp}u;`,
      `  var v = 0.0; if (cc + r < ${w.count}${padded}) { v = ${w.buf}[(${w.row0} + cc + r) * ${w.stride}u + ${w.col} + c]; }`,
      `  st[e / 4u][e % 4u] = v; } }`,
    );
  }
  lines.push("workgroupBarrier();");
  for (let c = 0; c < g.ck; c++) {
    const w = Array.from({ length: g.nv }, (_, v) => `st[${(c * g.dhp) / 4 + g.ntx * v}u + tx]`);
    lines.push(...rank1Update(acc, ["pv", `ps[(cc + ${c}u) * ${g.nty}u + ty]`], "w", w));
  }
  lines.push("}");
  return lines.join("\n");
}

function zeroAccumulator(g: Geometry, acc: string): string {
  const lines: string[] = [];
  for (let i = 0; i < 4; i++) {
    for (let v = 0; v < g.nv; v++) lines.push(`var ${acc}${i}_${v} = vec4f(0.0);`);
  }
  return lines.join("\n");
}

/** Stores the owned rows (< nr) and features (< dh) of `acc`, times `factor(i)`. */
function storeRows(
  g: Geometry,
  acc: string,
  buf: string,
  stride: number,
  col: string,
  factor: (i: number) => string,
): string {
  const lines: string[] = [];
  for (let i = 0; i < 4; i++) {
    lines.push(
      `if (4u * ty + ${i}u < nr) {`,
      `let at = (tok + r0 + 4u * ty + ${i}u) * ${stride}u + ${col} + 4u * tx;`,
    );
    for (let v = 0; v < g.nv; v++) {
      for (let c = 0; c < 4; c++) {
        const f = g.ntx * 4 * v + c;
        const store = `${buf}[at + ${f}u] = ${acc}${i}_${v}.${C[c]}${factor(i)};`;
        lines.push(g.dhp !== g.dh ? `if (4u * tx + ${f}u < ${g.dh}u) { ${store} }` : store);
      }
    }
    lines.push("}");
  }
  return lines.join("\n");
}

/** Column index vectors `col{u}` of the current tile (first column c0). */
function columns(g: Geometry): string {
  const lines: string[] = [];
  for (let u = 0; u < g.tn4; u++) {
    lines.push(
      `let col${u} = vec4u(c0 + 4u * tx + ${4 * g.ntx * u}u) + vec4u(0u, 1u, 2u, 3u);`,
    );
  }
  return lines.join("\n");
}

/** Applies `f(i, u)` (an expression) to every score vec4 `s{i}_{u}`, in place. */
function each(g: Geometry, s: string, f: (i: number, u: number) => string): string {
  const lines: string[] = [];
  for (let i = 0; i < 4; i++) {
    for (let u = 0; u < g.tn4; u++) lines.push(`${s}${i}_${u} = ${f(i, u)};`);
  }
  return lines.join("\n");
}

/** Horizontal reduction of the owned scores of row i with `op` ("max" or "+"), in fixed order. */
function rowReduce(g: Geometry, s: string, i: number, op: "max" | "+"): string {
  const terms = Array.from({ length: g.tn4 }, (_, u) => {
    const v = `${s}${i}_${u}`;
    return op === "max"
      ? `max(max(${v}.x, ${v}.y), max(${v}.z, ${v}.w))`
      : `((${v}.x + ${v}.y) + (${v}.z + ${v}.w))`;
  });
  return terms.reduce((a, b) => (op === "max" ? `max(${a}, ${b})` : `(${a} + ${b})`));
}

/** The row-block partial sums/maxima of all ntx threads of a row group, combined in order. */
function combine(g: Geometry, name: string, value: string, op: "max" | "+"): string {
  const lines = [
    "workgroupBarrier();",
    `st[tx * ${g.nty}u + ty] = ${value};`,
    "workgroupBarrier();",
    `var ${name} = st[ty];`,
  ];
  for (let t = 1; t < g.ntx; t++) {
    const next = `st[${t * g.nty}u + ty]`;
    lines.push(op === "max" ? `${name} = max(${name}, ${next});` : `${name} = ${name} + ${next};`);
  }
  return lines.join("\n");
}

function header(g: Geometry, bindings: [string, string][], reverse: boolean): string {
  const decls = bindings.map(([name, access], i) =>
    `@group(0) @binding(${i}) var<storage, ${access}> ${name}: array<f32>;`
  );
  return /* wgsl */ `
struct Params { seq: u32, blocks: u32, groups: u32, gx: u32, scale: f32 }
${decls.join("\n")}
@group(0) @binding(${bindings.length}) var<uniform> p: Params;
var<workgroup> st: array<vec4f, ${g.stage}>;
var<workgroup> ps: array<vec4f, ${g.pSize}>;

@compute @workgroup_size(${g.nt})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let gid = wid.y * p.gx + wid.x;
  if (gid >= p.groups) { return; }
  let T = p.seq;
  let nbh = p.groups / p.blocks;
  let bh = gid % nbh;
  let blk = ${reverse ? "p.blocks - 1u - gid / nbh" : "gid / nbh"};
  let tok = (bh / ${g.heads}u) * T;
  let hq = (bh % ${g.heads}u) * ${g.dh}u;
  let tx = lid % ${g.ntx}u;
  let ty = lid / ${g.ntx}u;
  let r0 = blk * ${g.rows}u;
  let nr = min(${g.rows}u, T - r0);
  let rowi = vec4u(r0 + 4u * ty) + vec4u(0u, 1u, 2u, 3u);
`;
}

/** Row vector of a per-(b, h, t) buffer at the owned rows (0 beyond T). */
function rowVector(buf: string): string {
  const parts = C.map((c) => `select(0.0, ${buf}[bh * T + min(rowi.${c}, T - 1u)], rowi.${c} < T)`);
  return `vec4f(${parts.join(", ")})`;
}

/** Column vector `{buf}[bh·T + col{u}]` (0 beyond T). */
function columnVector(buf: string, u: number): string {
  const parts = C.map((c) =>
    `select(0.0, ${buf}[bh * T + min(col${u}.${c}, T - 1u)], col${u}.${c} < T)`
  );
  return `vec4f(${parts.join(", ")})`;
}

/** Operands for a kernel: rows of q, k, v (in qkv) or dy, from token `row0`, `count` valid. */
function operands(g: Geometry) {
  const qkv = (part: number) => (row0: string, count: string): Operand => ({
    buf: "qkv",
    stride: 3 * g.d,
    col: part === 0 ? "hq" : `${part * g.d}u + hq`,
    row0: `tok + ${row0}`,
    count,
  });
  return {
    q: qkv(0),
    k: qkv(1),
    v: qkv(2),
    dy: (row0: string, count: string): Operand => ({
      buf: "dy",
      stride: g.d,
      col: "hq",
      row0: `tok + ${row0}`,
      count,
    }),
  };
}

/**
 * Opens the loop over the key blocks a row block attends to (causal: up to its last row) and
 * computes the block's scores `s{i}_{u}` = q·k and the column indices `col{u}`; the caller closes
 * the loop.
 */
function causalKeyBlocks(g: Geometry, op: ReturnType<typeof operands>): string {
  return `  let nkb = (r0 + nr - 1u) / ${g.cols}u + 1u;
  for (var kb = 0u; kb < nkb; kb++) {
    let c0 = kb * ${g.cols}u;
    let nc = min(${g.cols}u, T - c0);
${scores(g, "s", op.q("r0", "nr"), op.k("c0", "nc"))}
${columns(g)}`;
}

/**
 * The forward kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionForwardShader, attentionTiles } from "./wgsl.ts";
 * const code = attentionForwardShader(2, 16, attentionTiles("forward", 16));
 * assert.ok(code.includes("fn main"));
 * ```
 */
export function attentionForwardShader(heads: number, dh: number, tiles: AttentionTiles): string {
  const g = geometry(heads, dh, tiles);
  const op = operands(g);
  const rowMax = C.map((_, i) => rowReduce(g, "s", i, "max")).join(", ");
  const rowSum = C.map((_, i) => rowReduce(g, "s", i, "+")).join(", ");
  const alphaRows: string[] = [];
  for (let i = 0; i < 4; i++) {
    for (let v = 0; v < g.nv; v++) alphaRows.push(`o${i}_${v} = o${i}_${v} * alpha.${C[i]};`);
  }
  return header(g, [["qkv", "read"], ["y", "read_write"], ["lse", "read_write"]], true) + `
  var m = vec4f(${NEG});
  var l = vec4f(0.0);
${zeroAccumulator(g, "o")}
${causalKeyBlocks(g, op)}
${
    each(g, "s", (i, u) =>
      `select(vec4f(${NEG}), s${i}_${u} * p.scale, col${u} <= vec4u(rowi.${C[i]}))`)
  }
${combine(g, "mt", `vec4f(${rowMax})`, "max")}
    let mn = max(m, mt);
    let alpha = exp(m - mn);
    m = mn;
${each(g, "s", (i, u) => `exp(s${i}_${u} - vec4f(mn.${C[i]}))`)}
    l = l * alpha + vec4f(${rowSum});
${alphaRows.join("\n")}
${writeTile(g, "s")}
${accumulate(g, "o", op.v("c0", "nc"))}
  }
${combine(g, "lt", "l", "+")}
  let inv = 1.0 / lt;
${storeRows(g, "o", "y", g.d, "hq", (i) => ` * inv.${C[i]}`)}
  if (tx == 0u) {
${
    C.map((c, i) =>
      `if (4u * ty + ${i}u < nr) { lse[bh * T + rowi.${c}] = m.${c} + log(lt.${c}); }`
    ).join("\n")
  }
  }
}
`;
}

/**
 * Invocations per workgroup of the delta kernel (one per (row, head)).
 *
 * @example
 * ```ts
 * import { DELTA_WORKGROUP } from "./wgsl.ts";
 * const workgroups = Math.ceil((1024 * 12) / DELTA_WORKGROUP); // B·T = 1024 rows, 12 heads
 * ```
 */
export const DELTA_WORKGROUP = 256;

/**
 * The delta kernel: delta[b, h, t] = Σ_d dy[b·T + t, h·Dh + d] · y[b·T + t, h·Dh + d].
 * Params: rows (B·T), seq, gx.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionDeltaShader } from "./wgsl.ts";
 * assert.ok(attentionDeltaShader(2, 16).includes("delta"));
 * ```
 */
export function attentionDeltaShader(heads: number, dh: number): string {
  return /* wgsl */ `
struct Params { rows: u32, seq: u32, gx: u32 }
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> delta: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@compute @workgroup_size(${DELTA_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.y * p.gx + wid.x) * ${DELTA_WORKGROUP}u + lid;
  if (idx >= p.rows * ${heads}u) { return; }
  let row = idx / ${heads}u;
  let h = idx % ${heads}u;
  let at = row * ${heads * dh}u + h * ${dh}u;
  var acc = 0.0;
  for (var e = 0u; e < ${dh}u; e++) { acc = fma(dy[at + e], y[at + e], acc); }
  delta[((row / p.seq) * ${heads}u + h) * p.seq + row % p.seq] = acc;
}
`;
}

const BACKWARD_BINDINGS: [string, string][] = [
  ["qkv", "read"],
  ["dy", "read"],
  ["lse", "read"],
  ["delta", "read"],
  ["dqkv", "read_write"],
];

/**
 * The dq kernel (per query block).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionDqShader, attentionTiles } from "./wgsl.ts";
 * assert.ok(attentionDqShader(2, 16, attentionTiles("dq", 16)).includes("dqkv"));
 * ```
 */
export function attentionDqShader(heads: number, dh: number, tiles: AttentionTiles): string {
  const g = geometry(heads, dh, tiles);
  const op = operands(g);
  return header(g, BACKWARD_BINDINGS, true) + `
  let lr = ${rowVector("lse")};
  let dr = ${rowVector("delta")};
${zeroAccumulator(g, "g")}
${causalKeyBlocks(g, op)}
${
    each(g, "s", (i, u) =>
      `select(vec4f(0.0), exp(s${i}_${u} * p.scale - vec4f(lr.${C[i]})), col${u} <= vec4u(rowi.${
        C[i]
      }))`)
  }
${scores(g, "t", op.dy("r0", "nr"), op.v("c0", "nc"))}
${each(g, "t", (i, u) => `s${i}_${u} * (t${i}_${u} - vec4f(dr.${C[i]}))`)}
${writeTile(g, "t")}
${accumulate(g, "g", op.k("c0", "nc"))}
  }
${storeRows(g, "g", "dqkv", 3 * g.d, "hq", () => " * p.scale")}
}
`;
}

/**
 * The dk/dv kernel (per key block).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attentionDkvShader, attentionTiles } from "./wgsl.ts";
 * assert.ok(attentionDkvShader(2, 128, attentionTiles("dkv", 128)).includes("dqkv"));
 * ```
 */
export function attentionDkvShader(heads: number, dh: number, tiles: AttentionTiles): string {
  const g = geometry(heads, dh, tiles);
  const op = operands(g);
  const lse: string[] = [];
  for (let u = 0; u < g.tn4; u++) {
    lse.push(
      `let lc${u} = ${columnVector("lse", u)};`,
      `let dc${u} = ${columnVector("delta", u)};`,
    );
  }
  return header(g, BACKWARD_BINDINGS, false) + `
${zeroAccumulator(g, "gk")}
${zeroAccumulator(g, "gv")}
  let nqt = (T + ${g.cols - 1}u) / ${g.cols}u;
  for (var qt = r0 / ${g.cols}u; qt < nqt; qt++) {
    let c0 = qt * ${g.cols}u;
    let nc = min(${g.cols}u, T - c0);
${scores(g, "s", op.k("r0", "nr"), op.q("c0", "nc"))}
${columns(g)}
${lse.join("\n")}
${
    each(g, "s", (i, u) =>
      `select(vec4f(0.0), exp(s${i}_${u} * p.scale - lc${u}), (col${u} >= vec4u(rowi.${
        C[i]
      })) & (col${u} < vec4u(T)))`)
  }
${writeTile(g, "s")}
${accumulate(g, "gv", op.dy("c0", "nc"))}
${scores(g, "t", op.v("r0", "nr"), op.dy("c0", "nc"))}
${each(g, "t", (i, u) => `s${i}_${u} * (t${i}_${u} - dc${u})`)}
${writeTile(g, "t")}
${accumulate(g, "gk", op.q("c0", "nc"))}
  }
${storeRows(g, "gk", "dqkv", 3 * g.d, `${g.d}u + hq`, () => " * p.scale")}
${storeRows(g, "gv", "dqkv", 3 * g.d, `${2 * g.d}u + hq`, () => "")}
}
`;
}
