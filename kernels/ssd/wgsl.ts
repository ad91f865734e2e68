/**
 * WGSL generators for the Mamba-2 SSD scan (Dao & Gu 2024, "Transformers are SSMs", scalar `A`
 * per head, sequential form), forward and backward; the host side and the backward's derivation
 * are in `kernels/ssd/mod.ts`, the float64 reference in `kernels/ssd/reference.ts`.
 *
 * Every scan stage walks time sequentially over one row or one column of a (b, h)'s `P×N` state
 * (or adjoint), split over `K` lanes ({@link ssdLanes}; each lane's slice is a private array of
 * compile-time length, fully unrolled so it stays in registers). The lanes' per-step partials
 * meet in workgroup memory (4 KiB) once per block of 16 steps and are summed in lane order.
 * `dt`, `B_t`, `C_t` are re-read per step by every lane. Sizes `H, P, N, G` are baked into the
 * source.
 *
 * Scratch layout (f32, `M = batch·seq`): `[0, MHN)` per-head `dC`, `[MHN, 2MHN)` per-head
 * `q = G_tᵀ x_t`, then `[f, xu, e]` per (m, h), then `[dA, dD, dDtBias]` per (b, h).
 *
 * @module
 */

/** Sizes a set of shaders is compiled for. */
export interface SsdShape {
  /** Heads (H). */
  readonly heads: number;
  /** Channels per head (P). */
  readonly headDim: number;
  /** State size per channel (N). */
  readonly dState: number;
  /** B/C groups (G), dividing the heads. */
  readonly groups: number;
}

/** Invocations per workgroup of every stage. */
export const SSD_WORKGROUP = 64;

/** The stages, in the order the backward pass runs them (`forward` runs alone). */
export type SsdStage =
  | "forward"
  | "states"
  | "adjointColumns"
  | "adjointRows"
  | "dots"
  | "dt"
  | "params"
  | "groups";

/** Uniforms: batch, seq, dtOffset, dtStride, gx (the x size of the dispatch). */
const PARAMS = "struct Params { batch: u32, seq: u32, dtOffset: u32, dtStride: u32, gx: u32 }";

/** Helpers shared by every stage. */
function prelude(s: SsdShape): string {
  const { heads: H, headDim: P, dState: N, groups: G } = s;
  return `const H = ${H}u;
const P = ${P}u;
const N = ${N}u;
const G = ${G}u;
const HPG = ${H / G}u;
const W = ${H * P + 2 * G * N}u;
const XB = ${H * P}u;
const MHN_ROW = ${H * N}u;
${PARAMS}

// softplus(v) = v > 20 ? v : log1p(e^v) = max(v, 0) + log1p(e^-|v|), with log1p(e) =
// 2·atanh(z), z = e/(2+e) ≤ 1/3, summed to z^15 (relative error < 1e-8): WGSL has no log1p and
// log(1 + e) would lose e's low bits.
fn softplus(v: f32) -> f32 {
  if (v > 20.0) { return v; }
  let e = exp(-abs(v));
  let z = e / (2.0 + e);
  let z2 = z * z;
  var s = 1.0 / 15.0;
  s = s * z2 + 1.0 / 13.0;
  s = s * z2 + 1.0 / 11.0;
  s = s * z2 + 1.0 / 9.0;
  s = s * z2 + 1.0 / 7.0;
  s = s * z2 + 1.0 / 5.0;
  s = s * z2 + 1.0 / 3.0;
  s = s * z2 + 1.0;
  return max(v, 0.0) + 2.0 * z * s;
}

// The derivative of softplus as thresholded above: σ(v), or 1 above 20. exp's argument is
// clamped so that nothing overflows.
fn dsoftplus(v: f32) -> f32 {
  if (v > 20.0) { return 1.0; }
  return 1.0 / (1.0 + exp(min(-v, 80.0)));
}

// A = -exp(aLog), clamped so that A stays finite.
fn decayRate(aLog: f32) -> f32 { return -exp(min(aLog, 80.0)); }

fn dtIndex(m: u32, h: u32) -> u32 { return m * params.dtStride + params.dtOffset + h; }
`;
}

/** A compute shader: `bindings` are `[name, "read" | "read_write"]` f32 arrays, then params. */
function shader(s: SsdShape, bindings: [string, string][], body: string, decls = ""): string {
  const storage = bindings.map(([name, access], i) =>
    `@group(0) @binding(${i}) var<storage, ${access}> ${name}: array<f32>;`
  );
  return `${storage.join("\n")}
@group(0) @binding(${bindings.length}) var<uniform> params: Params;
${prelude(s)}${decls}
@compute @workgroup_size(${SSD_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * params.gx + wid.x) * ${SSD_WORKGROUP}u + lid;
${body}
}
`;
}

const R = "read";
const RW = "read_write";

/** Time steps per block of a scan: partials of a block are reduced together. */
const BLOCK = 16;

/**
 * Lanes a scan splits its inner dimension (`N` for row scans, `P` for column scans) over: the
 * largest power of two ≤ 16 dividing `inner` that leaves each lane ≥ 16 values (else 1).
 */
function lanesOf(inner: number): number {
  return [16, 8, 4, 2].find((k) => inner % k === 0 && inner / k >= 16) ?? 1;
}

/**
 * Invocations per (b, h) row of a stage's work: the scans run `lanes` invocations per state row
 * (`forward`, `adjointRows`: `headDim` rows of `dState`) or column (`states`, `adjointColumns`:
 * `dState` columns of `headDim`); the other stages return 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ssdLanes } from "./wgsl.ts";
 * const shape = { heads: 16, headDim: 64, dState: 128, groups: 1 };
 * assert.deepEqual([ssdLanes("forward", shape), ssdLanes("states", shape)], [8, 4]);
 * ```
 */
export function ssdLanes(stage: SsdStage, shape: SsdShape): number {
  if (stage === "forward" || stage === "adjointRows") return lanesOf(shape.dState);
  if (stage === "states" || stage === "adjointColumns") return lanesOf(shape.headDim);
  return 1;
}

/** Row offsets at step `t` (`m`, x/B/C columns, the head's y/dy row). */
const OFFSETS = `    let m = b * T + t;
    let row = m * W;
    let xo = row + h * P;
    let bo = row + XB + g * N;
    let co = bo + G * N;
    let yo = (m * H + h) * P;`;

/** One stage's recurrence, written per private-array element `j` at inner index `c`. */
interface ScanSpec {
  /** `"P"`: one state row per (b, h, p); `"N"`: one column per (b, h, n). */
  rows: "P" | "N";
  reverse: boolean;
  bindings: [string, string][];
  /** Per step, before the element updates (may use `dt`, `a`, `aNext`, offsets, `r` = row). */
  pre: string;
  /** The update of element `j` at inner index `c`, adding to `acc`. */
  update: (j: number, c: string) => string;
  /** This lane's partial of the step's output (`acc` summed over its slice). */
  partial: string;
  /** The output element the partials of row `r` at step `t` sum into. */
  out: string;
}

/**
 * A scan: invocation (b, h, r, k) holds elements `k·CH … k·CH + CH − 1` of row (or column) `r`
 * of the state or adjoint, fully unrolled so they stay in registers; `K` lanes share a row and
 * their per-step partials meet in workgroup memory once per block of steps, summed in lane order.
 */
function scanShader(s: SsdShape, spec: ScanSpec): string {
  const inner = spec.rows === "P" ? s.dState : s.headDim;
  const rows = spec.rows === "P" ? s.headDim : s.dState;
  const k = lanesOf(inner);
  const ch = inner / k;
  const updates = Array.from({ length: ch }, (_, j) => spec.update(j, `c0 + ${j}u`)).join("\n");
  const time = spec.reverse ? "T - 1u - (t0 + l)" : "t0 + l";
  return shader(
    s,
    spec.bindings,
    `  let total = params.batch * H * ${rows}u * ${k}u;
  let live = i < total;
  let ii = min(i, total - 1u);
  let k = ii % ${k}u;
  let r = (ii / ${k}u) % ${rows}u;
  let h = (ii / ${k * rows}u) % H;
  let b = ii / ${k * rows}u / H;
  let g = h / HPG;
  let A = decayRate(aLog[h]);
  let bias = dtBias[h];
  let T = params.seq;
  let c0 = k * ${ch}u;
  let base = lid - k;
  var st: array<f32, ${ch}>;
  var aNext = 0.0;
  for (var t0 = 0u; t0 < T; t0 += ${BLOCK}u) {
    for (var l = 0u; l < ${BLOCK}u; l++) {
      if (t0 + l >= T) { break; }
      let t = ${time};
  ${OFFSETS}
      let dt = softplus(dtRaw[dtIndex(m, h)] + bias);
      let a = exp(dt * A);
      ${spec.pre}
      var acc = 0.0;
      ${updates}
      part[l * ${SSD_WORKGROUP}u + lid] = ${spec.partial};
      aNext = a;
    }
    workgroupBarrier();
    for (var l = k; l < ${BLOCK}u; l += ${k}u) {
      if (!live || t0 + l >= T) { break; }
      let t = ${time};
  ${OFFSETS}
      var sum = 0.0;
      for (var j = 0u; j < ${k}u; j++) { sum += part[l * ${SSD_WORKGROUP}u + base + j]; }
      ${spec.out} = sum;
    }
    workgroupBarrier();
  }`,
    `var<workgroup> part: array<f32, ${BLOCK * SSD_WORKGROUP}>;`,
  );
}

const BODIES: Record<SsdStage, (s: SsdShape) => string> = {
  // Rows S[p, ·]: y_t[p] = Σ_n S_t[p,n]·C_t[n] + D·x_t[p].
  forward: (s) =>
    scanShader(s, {
      rows: "P",
      reverse: false,
      bindings: [["xbc", R], ["dtRaw", R], ["dtBias", R], ["aLog", R], ["d", R], ["y", RW]],
      pre: "let xv = xbc[xo + r];\n      let u = dt * xv;",
      update: (j, c) =>
        `st[${j}] = a * st[${j}] + u * xbc[bo + ${c}]; acc += st[${j}] * xbc[co + ${c}];`,
      partial: "acc + select(0.0, d[h] * xv, k == 0u)",
      out: "y[yo + r]",
    }),
  // Columns S[·, n]: per-head dC_t[n] = Σ_p S_t[p,n]·dy_t[p].
  states: (s) =>
    scanShader(s, {
      rows: "N",
      reverse: false,
      bindings: [["xbc", R], ["dtRaw", R], ["dtBias", R], ["aLog", R], ["dy", R], ["scratch", RW]],
      pre: "let u = dt * xbc[bo + r];",
      update: (j, c) =>
        `st[${j}] = a * st[${j}] + u * xbc[xo + ${c}]; acc += st[${j}] * dy[yo + ${c}];`,
      partial: "acc",
      out: "scratch[m * MHN_ROW + h * N + r]",
    }),
  // Columns G[·, n], backwards: per-head q_t[n] = Σ_p G_t[p,n]·x_t[p] (dB = dt·q).
  adjointColumns: (s) =>
    scanShader(s, {
      rows: "N",
      reverse: true,
      bindings: [["xbc", R], ["dtRaw", R], ["dtBias", R], ["aLog", R], ["dy", R], ["scratch", RW]],
      pre: "let cn = xbc[co + r];",
      update: (j, c) =>
        `st[${j}] = aNext * st[${j}] + dy[yo + ${c}] * cn; acc += st[${j}] * xbc[xo + ${c}];`,
      partial: "acc",
      out: "scratch[params.batch * T * MHN_ROW + m * MHN_ROW + h * N + r]",
    }),
  // Rows G[p, ·], backwards: dx_t[p] = dt·Σ_n G_t[p,n]·B_t[n] + D·dy_t[p].
  adjointRows: (s) =>
    scanShader(s, {
      rows: "P",
      reverse: true,
      bindings: [
        ["xbc", R],
        ["dtRaw", R],
        ["dtBias", R],
        ["aLog", R],
        ["d", R],
        ["dy", R],
        ["dxbc", RW],
      ],
      pre: "let dyv = dy[yo + r];",
      update: (j, c) =>
        `st[${j}] = aNext * st[${j}] + dyv * xbc[co + ${c}]; acc += st[${j}] * xbc[bo + ${c}];`,
      partial: "dt * acc + select(0.0, d[h] * dyv, k == 0u)",
      out: "dxbc[xo + r]",
    }),
  // Invocation (m, h): f = C·dC_h = dy·(S C), xu = B·q_h = xᵀ G B, e = dy·x.
  dots: (s) =>
    shader(
      s,
      [["xbc", R], ["dy", R], ["scratch", RW]],
      `  let T = params.seq;
  let M = params.batch * T;
  if (i >= M * H) { return; }
  let h = i % H;
  let m = i / H;
  let g = h / HPG;
  let row = m * W;
  let bo = row + XB + g * N;
  let co = bo + G * N;
  let so = m * MHN_ROW + h * N;
  let qo = M * MHN_ROW + so;
  var f = 0.0;
  var xu = 0.0;
  for (var n = 0u; n < N; n++) {
    f += xbc[co + n] * scratch[so + n];
    xu += xbc[bo + n] * scratch[qo + n];
  }
  var e = 0.0;
  for (var p = 0u; p < P; p++) { e += dy[(m * H + h) * P + p] * xbc[row + h * P + p]; }
  let o = 2u * M * MHN_ROW + 3u * i;
  scratch[o] = f;
  scratch[o + 1u] = xu;
  scratch[o + 2u] = e;`,
    ),
  // Invocation (b, h), backwards in time: r_t = a_t·da_t = Σ_{u≥t} f_u − Σ_{s≥t} dt_s·xu_s,
  // d(dt_t) = xu_t + A·r_t, dA = Σ dt_t·r_t; partials of dA, dD, dDtBias per (b, h).
  dt: (s) =>
    shader(
      s,
      [["dtRaw", R], ["dtBias", R], ["aLog", R], ["scratch", RW], ["dDtRaw", RW]],
      `  if (i >= params.batch * H) { return; }
  let h = i % H;
  let b = i / H;
  let A = decayRate(aLog[h]);
  let bias = dtBias[h];
  let T = params.seq;
  let M = params.batch * T;
  let dots = 2u * M * MHN_ROW;
  var rr = 0.0;
  var dA = 0.0;
  var dD = 0.0;
  var dBias = 0.0;
  for (var r = 0u; r < T; r++) {
    let t = T - 1u - r;
    let m = b * T + t;
    let k = dtIndex(m, h);
    let v = dtRaw[k] + bias;
    let dt = softplus(v);
    let o = dots + 3u * (m * H + h);
    let xu = scratch[o + 1u];
    // r_0 = 0 exactly (S_{-1} = 0): drop the rounding the suffix sums leave there.
    rr = select(rr + scratch[o] - dt * xu, 0.0, t == 0u);
    let dv = (xu + A * rr) * dsoftplus(v);
    dDtRaw[k] = dv;
    dA += dt * rr;
    dD += scratch[o + 2u];
    dBias += dv;
  }
  // The per-(b, h) partials follow the 3·M·H per-token dots.
  let o = dots + 3u * M * H + 3u * (b * H + h);
  scratch[o] = dA;
  scratch[o + 1u] = dD;
  scratch[o + 2u] = dBias;`,
    ),
  // Invocation h: the per-(b, h) partials summed over b in order.
  params: (s) =>
    shader(
      s,
      [["aLog", R], ["scratch", R], ["dALog", RW], ["dD", RW], ["dDtBias", RW]],
      `  if (i >= H) { return; }
  let M = params.batch * params.seq;
  let base = 2u * M * MHN_ROW + 3u * M * H;
  var dA = 0.0;
  var dd = 0.0;
  var dBias = 0.0;
  for (var b = 0u; b < params.batch; b++) {
    let o = base + 3u * (b * H + i);
    dA += scratch[o];
    dd += scratch[o + 1u];
    dBias += scratch[o + 2u];
  }
  dALog[i] = dA * decayRate(aLog[i]);
  dD[i] = dd;
  dDtBias[i] = dBias;`,
    ),
  // Invocation (m, g, n): dB = Σ_h dt_h·q_h[n], dC = Σ_h dC_h[n] over the group's heads in order.
  groups: (s) =>
    shader(
      s,
      [["dtRaw", R], ["dtBias", R], ["scratch", R], ["dxbc", RW]],
      `  let M = params.batch * params.seq;
  if (i >= M * G * N) { return; }
  let n = i % N;
  let g = (i / N) % G;
  let m = i / (N * G);
  var db = 0.0;
  var dc = 0.0;
  for (var j = 0u; j < HPG; j++) {
    let h = g * HPG + j;
    let so = m * MHN_ROW + h * N + n;
    db += softplus(dtRaw[dtIndex(m, h)] + dtBias[h]) * scratch[M * MHN_ROW + so];
    dc += scratch[so];
  }
  let bo = m * W + XB + g * N + n;
  dxbc[bo] = db;
  dxbc[bo + G * N] = dc;`,
    ),
};

/**
 * The WGSL of one stage for one shape. Bindings are the f32 arrays each stage names in its
 * source, in order, then the uniform `Params`.
 *
 * @example
 * ```ts
 * import { ssdShader } from "./wgsl.ts";
 * const code = ssdShader("forward", { heads: 2, headDim: 4, dState: 8, groups: 1 });
 * console.log(code.includes("const N = 8u;")); // true
 * ```
 */
export function ssdShader(stage: SsdStage, shape: SsdShape): string {
  return BODIES[stage](shape);
}
