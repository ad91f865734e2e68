/**
 * WGSL of the NVFP4 quantizer's scale chain, with TransformerEngine's two options
 * (src/formats/spec.ts `ResolvedNvfp4`), bit for bit equal to `src/formats/nvfp4.ts` and
 * `src/formats/four_over_six.ts`; a uniform element grid (INT4, E1M2) puts its largest value in
 * place of E2M1's 6 in `S_enc` and `mult`:
 *
 * - plain: the tensor scales from stats[0] in the prologue, and a table of the element
 *   multipliers of all 127 finite E4M3 scales per workgroup (`sm_rcp`);
 * - `fourOverSix`: the bound in `S_enc`; each 1×16 block computes both candidates, their errors
 *   (each of its four invocations computes four terms, shares them through workgroup memory and
 *   sums all 16 in element order) and keeps the smaller. A 16×16 tile's rows live in other
 *   workgroups, so the `tileChoice` pass ({@link tileChoiceShader}), run after the tile amaxes,
 *   decides per tile and marks a tile that keeps map-to-4 by negating its amax in `tile_amax`;
 * - `rowScaled`: the `rowStats` pass ({@link rowStatsShader}) writes each row's amax, S_enc and
 *   S_dec to stats[2 + 3·row …] (and the tensor amax to stats[0]); the quantize pass reads its
 *   row's and computes element multipliers per block.
 *
 * @module
 */

import { f32Literal, wgslNumerics } from "../_wgsl/numerics.ts";
import { nvfp4ElementFormat } from "../../src/formats/nvfp4.ts";
import type { ResolvedNvfp4 } from "../../src/formats/spec.ts";
import type { KernelConfig } from "./reference.ts";
import {
  BINDINGS,
  blockMax,
  indent,
  loadFn,
  loadLines,
  PARAMS,
  PARTIAL_MAX,
  publish,
  rhtLines,
  SHARED,
  V,
  WORKGROUP,
} from "./wgsl_parts.ts";

/** The E4M3 bound of `S_enc = emax · bound / amax`. */
const boundOf = (f: ResolvedNvfp4) => f.fourOverSix?.scaleBound ?? 448;

/** The element grid's largest value `emax`: 6 (E2M1), 7 (INT4) or 1.75 (E1M2). */
const emaxOf = (f: ResolvedNvfp4) => nvfp4ElementFormat(f).maxFinite;

/** `s_enc` and `s_dec` from the amax expression `amax` (S_enc = 1 for a zero amax). */
function tensorScaleLines(f: ResolvedNvfp4, amax: string): string[] {
  const num = f32Literal(emaxOf(f) * boundOf(f));
  return [
    `var s_enc = 1.0;`,
    `if (${amax} != 0.0) { s_enc = min(div_rn(${num}, ${amax}), FLT_MAX); }`,
    `let s_dec = div_rn(1.0, s_enc);`,
  ];
}

/** `mult = fp32(S_enc · fp32(1/emax))`, which turns a block amax into its FP32 block scale. */
const multLine = (f: ResolvedNvfp4) =>
  `let mult = mul_ftz(s_enc, ${f32Literal(Math.fround(1 / emaxOf(f)))});`;

/**
 * WGSL functions of the chain: `enc_mult` (the element multiplier of a scale byte) and, under Four
 * Over Six, `fos_err` (one element's error term under a candidate; src/formats/four_over_six.ts).
 */
export function nvfp4Functions(f: ResolvedNvfp4): string {
  const encMult = /* wgsl */ `
fn enc_mult(byte: u32, s_dec: f32) -> f32 {
  let p = mul_ftz(dec_e4m3(byte), s_dec);
  return select(FLT_MAX, min(div_rn(1.0, p), FLT_MAX), p != 0.0);
}
`;
  if (!f.fourOverSix) return encMult;
  const term = f.fourOverSix.error === "mse" ? "mul_ftz(d, d)" : "abs(d)";
  return `${encMult}
fn fos_err(x: f32, enc: f32, sv: f32, amax: f32) -> f32 {
  let c = enc_e2m1(bitcast<u32>(x) >> 31u, min(abs(mul_ftz(x, enc)), 6.0));
  let p = mul_ftz(dec_e2m1(c) * sv, amax);
  let q = div_rn(abs(p), ${f32Literal(6 * f.fourOverSix.scaleBound)});
  let val = select(select(q, -q, p < 0.0), p, p == 0.0);
  let d = ftz(val - x);
  return ${term};
}

fn fos_candidates(m: f32, s_enc: f32) -> vec2<u32> {
  let base = mul_ftz(select(0.0, div_rn(m, 6.0), m != 0.0), s_enc);
  return vec2<u32>(enc_e4m3(0u, min(mul_ftz(base, 1.5), FLT_MAX)), enc_e4m3(0u, min(base, FLT_MAX)));
}
`;
}

/**
 * The quantize kernel's prologue: publishes the tensor decode scale (1 when row-scaled) and,
 * unless row-scaled, defines `amax`, `s_enc`, `s_dec`, `mult` and the `sm_rcp` table.
 */
export function nvfp4Prologue(f: ResolvedNvfp4): string[] {
  if (f.rowScaled) return [publish("1.0")];
  return [
    `let amax = bitcast<f32>(atomicLoad(&stats[0]));`,
    ...tensorScaleLines(f, "amax"),
    multLine(f),
    publish("s_dec"),
    // enc_b for each of the 127 finite E4M3 scale bytes, once per workgroup: the correctly
    // rounded division is the costliest step of an element.
    `if (lid < 127u) { sm_rcp[lid] = enc_mult(lid, s_dec); }`,
    `workgroupBarrier();`,
  ];
}

/** Workgroup arrays the NVFP4 quantize kernel adds to {@link SHARED}. */
export function nvfp4Shared(f: ResolvedNvfp4): string {
  return [
    f.rowScaled ? "" : "var<workgroup> sm_rcp: array<f32, 127>;",
    f.fourOverSix && f.tile === "1x16"
      ? `var<workgroup> sm_e: array<vec4<f32>, ${WORKGROUP}>;`
      : "",
  ].join("\n");
}

/**
 * The lines of a slab that define the block's `m` (amax), `byte`, `sv` (its E4M3 scale), `enc_b`
 * and, row-scaled, the row's `s_dec`, from v0…v3 (after the RHT).
 */
export function nvfp4ScaleLines(f: ResolvedNvfp4): string[] {
  const row = f.rowScaled
    ? [
      `let rw = 2u + 3u * min(gv / (params.nb * 4u), params.rows - 1u);`,
      `let amax = bitcast<f32>(atomicLoad(&stats[rw]));`,
      `let s_enc = bitcast<f32>(atomicLoad(&stats[rw + 1u]));`,
      `let s_dec = bitcast<f32>(atomicLoad(&stats[rw + 2u]));`,
      multLine(f),
    ]
    : [];
  const rcp = (byte: string) => f.rowScaled ? `enc_mult(${byte}, s_dec)` : `sm_rcp[${byte}]`;
  const tileAmax = `tile_amax[(gv / 4u / params.nb / 16u) * params.nb + (gv / 4u) % params.nb]`;
  if (!f.fourOverSix) {
    return [
      ...(f.tile === "16x16" ? [`let m = ${tileAmax};`] : blockMax(16)),
      ...row,
      `let byte = enc_e4m3(0u, min(mul_ftz(m, mult), FLT_MAX));`,
      `let sv = dec_e4m3(byte);`,
      `let enc_b = ${rcp("byte")};`,
    ];
  }
  const pick = f.tile === "16x16"
    // The tileChoice pass negated the amax of tiles that keep map-to-4.
    ? [`let m_tag = ${tileAmax};`, `let m = abs(m_tag);`, `let cand = fos_candidates(m, s_enc);`]
    : [...blockMax(16), ...row, `let cand = fos_candidates(m, s_enc);`];
  const choose = f.tile === "16x16" ? [`let pick4 = m_tag < 0.0;`] : [
    `let enc4 = ${rcp("cand.x")};`,
    `let enc6 = ${rcp("cand.y")};`,
    `let sv4 = dec_e4m3(cand.x);`,
    `let sv6 = dec_e4m3(cand.y);`,
    `sm_v[lid] = vec4<f32>(${V.map((i) => `fos_err(v${i}, enc4, sv4, amax)`).join(", ")});`,
    `sm_e[lid] = vec4<f32>(${V.map((i) => `fos_err(v${i}, enc6, sv6, amax)`).join(", ")});`,
    `workgroupBarrier();`,
    `var err4 = 0.0;`,
    `var err6 = 0.0;`,
    `for (var k = 0u; k < 4u; k = k + 1u) {`,
    `  let a = sm_v[b0 + k];`,
    `  let b = sm_e[b0 + k];`,
    ...V.map((i) => `  err4 = ftz(err4 + a[${i}]); err6 = ftz(err6 + b[${i}]);`),
    `}`,
    `let pick4 = err4 < err6;`,
  ];
  return [
    ...pick,
    ...choose,
    `let byte = select(cand.y, cand.x, pick4);`,
    `let sv = dec_e4m3(byte);`,
    `let enc_b = ${rcp("byte")};`,
  ];
}

/**
 * The `rowStats` kernel of row-scaled NVFP4: one workgroup per row (grid `row_gx` wide) reduces
 * the row's amax after the optional RHT, writes it with the row's S_enc and S_dec to
 * stats[2 + 3·row …] and reduces it into stats[0]. Bindings: x, stats, params.
 */
export function rowStatsShader(cfg: KernelConfig): string {
  const f = cfg.format as ResolvedNvfp4;
  const body = [...loadLines(cfg), ...rhtLines(cfg), PARTIAL_MAX, `um = max(um, pm);`];
  return `${wgslNumerics([])}${PARAMS}${BINDINGS}${SHARED}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.row_gx + wid.x;
  if (row >= params.rows) { return; }
  let nv = params.nb * 4u;
  var um = 0.0;
  for (var j = 0u; j < (nv + ${WORKGROUP - 1}u) / ${WORKGROUP}u; j = j + 1u) {
    let idx = j * ${WORKGROUP}u + lid;
    var t = vec4<f32>();
    if (idx < nv) { t = x[row * nv + idx]; }
${indent(body, 4)}
    workgroupBarrier();
  }
  sm_u[lid] = bitcast<u32>(um);
  workgroupBarrier();
  for (var s = ${WORKGROUP / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { sm_u[lid] = max(sm_u[lid], sm_u[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let amax = bitcast<f32>(sm_u[0]);
${indent(tensorScaleLines(f, "amax"), 4)}
    atomicStore(&stats[2u + 3u * row], sm_u[0]);
    atomicStore(&stats[3u + 3u * row], bitcast<u32>(s_enc));
    atomicStore(&stats[4u + 3u * row], bitcast<u32>(s_dec));
    atomicMax(&stats[0], sm_u[0]);
  }
}
`;
}

/**
 * The `tileChoice` kernel of Four Over Six on 16×16 tiles, run after `tileStats`: one workgroup of
 * 16×16 invocations per tile row and 16 block columns; each invocation sums the errors of its
 * row's 1×16 block under both candidates, then the tile's 16 rows are summed in TE's tree order
 * and a tile that keeps map-to-4 gets its amax negated. Bindings: x, stats, params, tile_amax.
 */
export function tileChoiceShader(cfg: KernelConfig): string {
  const f = cfg.format as ResolvedNvfp4;
  const lanes = ["x", "y", "z", "w"];
  return `${wgslNumerics(["e2m1", "e4m3"])}${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> tile_amax: array<f32>;
var<workgroup> sm4: array<f32, 256>;
var<workgroup> sm6: array<f32, 256>;
${nvfp4Functions(f)}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let amax = bitcast<f32>(atomicLoad(&stats[0]));
${indent(tensorScaleLines(f, "amax"), 2)}
  let bc = wid.x * 16u + l.x;
  let row = wid.y * 16u + l.y;
  var e4 = 0.0;
  var e6 = 0.0;
  if (bc < params.nb) {
    let cand = fos_candidates(tile_amax[wid.y * params.nb + bc], s_enc);
    let enc4 = enc_mult(cand.x, s_dec);
    let enc6 = enc_mult(cand.y, s_dec);
    let sv4 = dec_e4m3(cand.x);
    let sv6 = dec_e4m3(cand.y);
    for (var k = 0u; k < 4u; k = k + 1u) {
      let t = x[(row * params.nb + bc) * 4u + k];
${
    lanes.map((c) =>
      `      { let v = ${loadFn(cfg)}(t.${c}); e4 = ftz(e4 + fos_err(v, enc4, sv4, amax)); ` +
      `e6 = ftz(e6 + fos_err(v, enc6, sv6, amax)); }`
    ).join("\n")
  }
    }
  }
  sm4[l.y * 16u + l.x] = e4;
  sm6[l.y * 16u + l.x] = e6;
  workgroupBarrier();
  if (l.y == 0u && bc < params.nb) {
    var a: array<f32, 16>;
    var b: array<f32, 16>;
    for (var i = 0u; i < 16u; i = i + 1u) { a[i] = sm4[i * 16u + l.x]; b[i] = sm6[i * 16u + l.x]; }
    for (var h = 8u; h > 0u; h = h >> 1u) {
      for (var i = 0u; i < h; i = i + 1u) { a[i] = ftz(a[i] + a[i + h]); b[i] = ftz(b[i] + b[i + h]); }
    }
    if (a[0] < b[0]) {
      let at = wid.y * params.nb + bc;
      tile_amax[at] = -tile_amax[at];
    }
  }
}
`;
}
