/**
 * WGSL generator for the quantize kernels. The TS side unrolls every per-element loop, so the
 * generated code indexes its register arrays only with constants (naga emits loops as
 * `while(true)` with counters and clamps dynamic indices; PERFORMANCE.md §4.3–4.4).
 *
 * A tensor is processed in flat "units" of U elements, one per invocation. A unit is loaded in
 * groups of G = max(block, RHT size) elements; each group gets the RHT (if any), then each block of
 * the group is scaled and encoded. U spans four blocks so that one invocation writes whole u32
 * words of scale bytes. GPU tensors are zero-padded to a multiple of {@link GPU_PAD} elements.
 *
 * Kernels (bindings in order):
 * - `clear`: stats ← 0.
 * - `stats` (nvfp4, fp8 current scaling): stats[0] ← bits of the tensor amax (after the RHT); for
 *   16×16 tiles also tile_amax[tileRow · nb + blockCol].
 * - `quantize`: x → fake-quant FP32 `out`, or packed `codes` + `scales`; stats[1] ← tensor
 *   decode scale; formats without a stats pass also reduce their amax into stats[0].
 *
 * @module
 */

import { f32Literal, wgslNumerics } from "./numerics.ts";
import { type ElementName, ELEMENTS } from "../../src/formats/elements.ts";
import { MX_EMAX } from "../../src/formats/mx.ts";
import { RECIP_6 } from "../../src/formats/nvfp4.ts";
import { hadamardScale } from "../../src/formats/rht.ts";

/** Every GPU tensor is zero-padded to a multiple of this many elements. */
export const GPU_PAD = 128;

/** What a quantize kernel computes. Delayed FP8 scaling reads its scale from the params. */
export type KernelFormat =
  | { readonly kind: "float"; readonly element: "fp32" | "bf16" | "fp16" }
  | { readonly kind: "fp8"; readonly element: "e4m3" | "e5m2"; readonly delayed: boolean }
  | {
    readonly kind: "mx";
    readonly element: "e2m1" | "e4m3" | "e5m2";
    readonly scaleRule: "floor" | "ceil" | "rceil";
  }
  | { readonly kind: "nvfp4"; readonly tile: "1x16" | "16x16" };

/** A quantize kernel's configuration. */
export interface KernelConfig {
  readonly format: KernelFormat;
  readonly stochastic: boolean;
  readonly rht?: { readonly size: number; readonly signs: readonly number[] };
  readonly output: "fake" | "packed";
  /**
   * Stage loads and stores through workgroup memory so that global accesses are coalesced
   * (default), or let each invocation access its own unit directly.
   */
  readonly staged?: boolean;
}

/** Unit geometry of a configuration. */
export interface Geometry {
  /** Elements per scale block (16 for formats without block scales). */
  block: number;
  /** Elements loaded and transformed together. */
  group: number;
  /** Elements per invocation. */
  unit: number;
  /** Whether the format has block scales. */
  scaled: boolean;
  /** Whether a stats pass (tensor amax) precedes quantization. */
  needsStats: boolean;
  /** Invocations per workgroup (64, or 32 for 128-element units, to bound workgroup memory). */
  workgroup: number;
  /** Bits per packed code. */
  codeBits: number;
  /** Whether global loads and stores go through workgroup memory. */
  staged: boolean;
}

/** The geometry of a kernel configuration. */
export function geometry(cfg: KernelConfig): Geometry {
  const f = cfg.format;
  const scaled = f.kind === "nvfp4" || f.kind === "mx";
  const block = f.kind === "mx" ? 32 : 16;
  const group = Math.max(block, cfg.rht?.size ?? 0);
  const unit = Math.max(4 * block, group);
  const needsStats = f.kind === "nvfp4" || (f.kind === "fp8" && !f.delayed);
  const workgroup = unit > 64 ? 32 : 64;
  const elem = elementName(f);
  const codeBits = elem === "fp32" ? 32 : ELEMENTS[elem].bits;
  const staged = cfg.staged ?? true;
  return { block, group, unit, scaled, needsStats, workgroup, codeBits, staged };
}

/** The element codec of a kernel format; `fp32` for the identity. */
function elementName(f: KernelFormat): ElementName | "fp32" {
  return f.kind === "nvfp4" ? "e2m1" : f.element;
}

const PARAMS = /* wgsl */ `
struct Params {
  n_units: u32,
  key: u32,
  scale: f32,
  nb: u32,
  gx: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}
`;

/** Byte size of the params uniform. */
export const PARAMS_BYTES = 32;

/**
 * Loads `group` elements into `v` (flushed), then applies the RHT. `at(k)` is the WGSL expression
 * of the k-th vec4 of the group.
 */
function loadGroup(group: number, rht: KernelConfig["rht"], at: (k: number) => string): string[] {
  const lines = [`var v: array<f32, ${group}>;`];
  for (let k = 0; k < group / 4; k++) {
    lines.push(
      `{ let t = ${at(k)}; v[${4 * k}] = ftz(t.x); v[${4 * k + 1}] = ftz(t.y); ` +
        `v[${4 * k + 2}] = ftz(t.z); v[${4 * k + 3}] = ftz(t.w); }`,
    );
  }
  if (!rht) return lines;
  const d = rht.size;
  const scale = f32Literal(hadamardScale(d));
  for (let o = 0; o < group; o += d) {
    for (let i = 0; i < d; i++) if (rht.signs[i] < 0) lines.push(`v[${o + i}] = -v[${o + i}];`);
    for (let h = 1; h < d; h *= 2) {
      for (let i = 0; i < d; i += 2 * h) {
        for (let j = i; j < i + h; j++) {
          const a = o + j;
          const b = o + j + h;
          lines.push(
            `{ let a = v[${a}]; let b = v[${b}]; v[${a}] = ftz(a + b); v[${b}] = ftz(a - b); }`,
          );
        }
      }
    }
    for (let i = 0; i < d; i++) lines.push(`v[${o + i}] = mul_ftz(v[${o + i}], ${scale});`);
  }
  return lines;
}

function maxOf(from: number, count: number): string[] {
  const lines = [`var m = abs(v[${from}]);`];
  for (let i = from + 1; i < from + count; i++) lines.push(`m = max(m, abs(v[${i}]));`);
  return lines;
}

const sign = (i: number) => `(bitcast<u32>(v[${i}]) >> 31u)`;

/** Encodes element i of the group from its magnitude expression `mag`; defines `c${i}`. */
function encodeElem(cfg: KernelConfig, elem: ElementName, i: number, mag: string): string {
  const r = cfg.stochastic ? `, rand_bits(params.key, base + ${i}u)` : "";
  const fn = cfg.stochastic ? `enc_sr_${elem}` : `enc_${elem}`;
  return `let c${i} = ${fn}(${sign(i)}, ${mag}${r});`;
}

/** Puts the group's fake-quant values `d${i}` back into this invocation's slice of the tile. */
function storeFake(group: number, offset4: number, staged: boolean): string[] {
  return Array.from({ length: group / 4 }, (_, k) => {
    const d = [0, 1, 2, 3].map((j) => `d${4 * k + j}`).join(", ");
    const dst = staged ? `tile[slot + ${offset4 + k}u]` : `out[(base >> 2u) + ${k}u]`;
    return `${dst} = vec4<f32>(${d});`;
  });
}

/** The k-th vec4 of group `grp` of this invocation's unit. */
function groupVec4(g: Geometry, grp: number): (k: number) => string {
  return g.staged
    ? (k) => `tile[slot + ${(grp * g.group) / 4 + k}u]`
    : (k) => `x[(base >> 2u) + ${k}u]`;
}

/** Per-tensor prologue: defines the tensor-level scales and publishes the decode scale. */
function prologue(f: KernelFormat): string[] {
  const publish = (v: string) => `if (unit == 0u) { atomicStore(&stats[1], bitcast<u32>(${v})); }`;
  switch (f.kind) {
    case "nvfp4":
      return [
        `let amax = bitcast<f32>(atomicLoad(&stats[0]));`,
        `var s_enc = 1.0;`,
        `if (amax != 0.0) { s_enc = min(div_rn(2688.0, amax), FLT_MAX); }`,
        `let s_dec = div_rn(1.0, s_enc);`,
        `let mult = mul_ftz(s_enc, ${f32Literal(RECIP_6)});`,
        publish("s_dec"),
      ];
    case "fp8": {
      const max = f32Literal(ELEMENTS[f.element].maxFinite);
      const scale = f.delayed ? [`let scale = params.scale;`] : [
        `let amax = bitcast<f32>(atomicLoad(&stats[0]));`,
        `var scale = 1.0;`,
        `if (amax != 0.0) { scale = min(div_rn(${max}, amax), FLT_MAX); }`,
      ];
      return [...scale, `let t_dec = div_rn(1.0, scale);`, publish("t_dec")];
    }
    default:
      return [publish("1.0")];
  }
}

/** Puts scale byte `v` of block `j` of the unit into its word of `sw`. */
function storeScale(j: number, v: string): string {
  const w = Math.floor(j / 4);
  return `sw[${w}] = sw[${w}] | (${v} << ${8 * (j % 4)}u);`;
}

/** Scale one block (elements `from … from+block` of the group); defines `c${i}` and `d${i}`. */
function quantizeBlock(cfg: KernelConfig, from: number, block: number, j: number): string[] {
  const f = cfg.format;
  const lines: string[] = [];
  const fake = cfg.output === "fake";
  const idx = (i: number) => Array.from({ length: block }, (_, k) => i + k);
  switch (f.kind) {
    case "nvfp4": {
      if (f.tile === "16x16") {
        lines.push(
          `let fb = (base + ${from}u) / 16u;`,
          `let m = tile_amax[(fb / params.nb / 16u) * params.nb + fb % params.nb];`,
        );
      } else {
        lines.push(...maxOf(from, block));
      }
      lines.push(
        `let sc = enc_e4m3(0u, min(mul_ftz(m, mult), FLT_MAX));`,
        `let sv = dec_e4m3(sc);`,
        `let p = mul_ftz(sv, s_dec);`,
        `var enc_b = FLT_MAX;`,
        `if (p != 0.0) { enc_b = min(div_rn(1.0, p), FLT_MAX); }`,
      );
      for (const i of idx(from)) {
        lines.push(encodeElem(cfg, "e2m1", i, `min(abs(mul_ftz(v[${i}], enc_b)), 6.0)`));
        if (fake) lines.push(`d${i} = mul_ftz(dec_e2m1(c${i}) * sv, s_dec);`);
      }
      if (!fake) lines.push(storeScale(j, "sc"));
      break;
    }
    case "mx": {
      const el = ELEMENTS[f.element];
      lines.push(...maxOf(from, block), `var byte = 0u;`);
      if (f.scaleRule === "floor") {
        lines.push(
          `if (m != 0.0) {`,
          `  let e = i32((bitcast<u32>(m) >> 23u) & 0xffu) - ${127 + MX_EMAX[f.element]};`,
          `  byte = u32(clamp(e, -127, 127) + 127);`,
          `}`,
        );
      } else {
        const q = f.scaleRule === "ceil"
          ? `div_rn(m, ${f32Literal(el.maxFinite)})`
          : `mul_ftz(m, ${f32Literal(Math.fround(1 / el.maxFinite))})`;
        lines.push(
          `if (m != 0.0) {`,
          `  let q = bitcast<u32>(${q});`,
          `  if (q != 0u) {`,
          `    var e = i32(q >> 23u);`,
          `    if ((q & 0x7fffffu) != 0u) { e = e + 1; }`,
          `    byte = u32(clamp(e, 0, 254));`,
          `  }`,
          `}`,
        );
      }
      lines.push(`let inv = bitcast<f32>((254u - byte) << 23u);`);
      for (const i of idx(from)) {
        lines.push(encodeElem(cfg, f.element, i, `abs(mul_ftz(v[${i}], inv))`));
        if (fake) lines.push(`d${i} = ldexp_ftz(dec_${f.element}(c${i}), byte);`);
      }
      if (!fake) lines.push(storeScale(j, "byte"));
      break;
    }
    case "fp8":
      for (const i of idx(from)) {
        lines.push(encodeElem(cfg, f.element, i, `abs(mul_ftz(v[${i}], scale))`));
        if (fake) lines.push(`d${i} = mul_ftz(dec_${f.element}(c${i}), t_dec);`);
      }
      break;
    case "float":
      for (const i of idx(from)) {
        if (f.element === "fp32") {
          lines.push(`let c${i} = bitcast<u32>(v[${i}]);`);
          if (fake) lines.push(`d${i} = v[${i}];`);
        } else {
          lines.push(encodeElem(cfg, f.element, i, `abs(v[${i}])`));
          if (fake) lines.push(`d${i} = dec_${f.element}(c${i});`);
        }
      }
      break;
  }
  return lines;
}

/** `elem · 2^(byte−127)` with the result flushed to a signed zero below 2^-126, Inf above max. */
const LDEXP_FTZ = /* wgsl */ `
fn ldexp_ftz(d: f32, byte: u32) -> f32 {
  let b = bitcast<u32>(d);
  let s = b & 0x80000000u;
  let e = i32((b >> 23u) & 0xffu);
  let ne = e + i32(byte) - 127;
  var bits = select(s | (u32(max(ne, 0)) << 23u) | (b & 0x7fffffu), s, (e == 0) | (ne <= 0));
  bits = select(bits, s | 0x7f800000u, ne >= 255);
  return bitcast<f32>(bits);
}
`;

function reduceMax(wg: number): string {
  return /* wgsl */ `
var<workgroup> wg_max: array<u32, ${wg}>;

fn reduce_amax(lid: u32, m: f32) {
  wg_max[lid] = bitcast<u32>(m);
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { wg_max[lid] = max(wg_max[lid], wg_max[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) { atomicMax(&stats[0], wg_max[0]); }
}
`;
}

/**
 * Workgroup staging: the workgroup's units are read from `x` with coalesced vec4 loads into
 * `tile`, where each invocation's unit is a contiguous slice padded by one vec4 (so the
 * invocations of a quarter-warp hit distinct banks). Fake-quant values go back into the tile and
 * leave with coalesced stores; packed codes are staged the same way in `ctile`.
 */
function staging(g: Geometry, cfg: KernelConfig | undefined): string {
  if (!g.staged) return "";
  const u4 = g.unit / 4;
  const lines = [`var<workgroup> tile: array<vec4<f32>, ${g.workgroup * (u4 + 1)}>;`];
  if (cfg?.output === "packed") {
    const w = (g.unit * g.codeBits) / 32;
    lines.push(`var<workgroup> ctile: array<u32, ${g.workgroup * (w + 1)}>;`);
  }
  return lines.join("\n");
}

function entry(g: Geometry): string {
  return /* wgsl */ `@compute @workgroup_size(${g.workgroup})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let unit0 = (wid.y * params.gx + wid.x) * ${g.workgroup}u;
  let unit = unit0 + lid;
  let in_range = unit < params.n_units;${g.staged ? stagedLoad(g) : ""}`;
}

/** Coalesced stores of the staged results: fake-quant vec4s from `tile` or code words from `ctile`. */
function stagedStore(g: Geometry, output: "fake" | "packed"): string[] {
  const per = output === "fake" ? g.unit / 4 : (g.unit * g.codeBits) / 32;
  const [dst, src, limit] = output === "fake"
    ? ["out", "tile", "n_vec4"]
    : ["codes", "ctile", `params.n_units * ${per}u`];
  return [
    `for (var k = 0u; k < ${per}u; k = k + 1u) {`,
    `  let j = k * ${g.workgroup}u + lid;`,
    `  let gi = unit0 * ${per}u + j;`,
    `  if (gi < ${limit}) { ${dst}[gi] = ${src}[(j / ${per}u) * ${per + 1}u + j % ${per}u]; }`,
    `}`,
  ];
}

function stagedLoad(g: Geometry): string {
  const u4 = g.unit / 4;
  return `
  let slot = lid * ${u4 + 1}u;
  let n_vec4 = params.n_units * ${u4}u;
  for (var k = 0u; k < ${u4}u; k = k + 1u) {
    let j = k * ${g.workgroup}u + lid;
    let gi = unit0 * ${u4}u + j;
    var t = vec4<f32>();
    if (gi < n_vec4) { t = x[gi]; }
    tile[(j / ${u4}u) * ${u4 + 1}u + j % ${u4}u] = t;
  }
  workgroupBarrier();`;
}

function indent(lines: string[], n: number): string {
  return lines.map((l) => " ".repeat(n) + l).join("\n");
}

/** The `clear` kernel: zeroes the stats words. */
export function clearShader(): string {
  return /* wgsl */ `@group(0) @binding(0) var<storage, read_write> stats: array<atomic<u32>>;
@compute @workgroup_size(1) fn main() {
  atomicStore(&stats[0], 0u);
  atomicStore(&stats[1], 0u);
}
`;
}

/** The flat `stats` kernel (tensor amax after the optional RHT). Bindings: x, stats, params. */
export function statsShader(cfg: KernelConfig): string {
  const g = geometry(cfg);
  const body: string[] = [`var um = 0.0;`, `if (in_range) {`];
  for (let grp = 0; grp < g.unit / g.group; grp++) {
    const base = `    let base = unit * ${g.unit}u + ${grp * g.group}u;`;
    body.push(`  {`, base, indent(loadGroup(g.group, cfg.rht, groupVec4(g, grp)), 4));
    body.push(indent(maxOf(0, g.group), 4), `    um = max(um, m);`, `  }`);
  }
  body.push(`}`, `reduce_amax(lid, um);`);
  return `${wgslNumerics([])}${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> params: Params;
${staging(g, undefined)}
${reduceMax(g.workgroup)}
${entry(g)}
${indent(body, 2)}
}
`;
}

/**
 * The 16×16 tile `stats` kernel of nvfp4-2d: one workgroup of 16×16 invocations per tile row and
 * 16 block columns. Bindings: x, stats, params, tile_amax.
 */
export function tileStatsShader(): string {
  return `${wgslNumerics([])}${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> tile_amax: array<f32>;
var<workgroup> sm: array<f32, 256>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let bc = wid.x * 16u + l.x;
  let row = wid.y * 16u + l.y;
  var m = 0.0;
  if (bc < params.nb) {
    let base = (row * params.nb + bc) * 16u;
${indent(loadGroup(16, undefined, (k) => `x[(base >> 2u) + ${k}u]`), 4)}
${indent(maxOf(0, 16), 4).replace("var m = ", "m = ")}
  }
  sm[l.y * 16u + l.x] = m;
  workgroupBarrier();
  if (l.y == 0u && bc < params.nb) {
    var t = sm[l.x];
    for (var k = 1u; k < 16u; k = k + 1u) { t = max(t, sm[k * 16u + l.x]); }
    tile_amax[wid.y * params.nb + bc] = t;
  }
  if (l.x == 0u && l.y == 0u) {
    var w = 0.0;
    for (var k = 0u; k < 256u; k = k + 1u) { w = max(w, sm[k]); }
    atomicMax(&stats[0], bitcast<u32>(w));
  }
}
`;
}

/**
 * The `quantize` kernel. Bindings: x, stats, params, then `out` (fake) or `codes`, `scales`
 * (packed), then `tile_amax` for 16×16 tiles.
 */
export function quantizeShader(cfg: KernelConfig): string {
  const g = geometry(cfg);
  const f = cfg.format;
  const elem = elementName(f);
  const scaleWords = g.scaled && cfg.output === "packed" ? g.unit / g.block / 4 : 0;
  const body: string[] = [];
  body.push(...prologue(f));
  body.push(`var um = 0.0;`, `if (in_range) {`);
  if (scaleWords > 0) body.push(`  var sw: array<u32, ${scaleWords}>;`);
  const words = (g.unit * g.codeBits) / 32;
  for (let grp = 0; grp < g.unit / g.group; grp++) {
    const inner: string[] = [`let base = unit * ${g.unit}u + ${grp * g.group}u;`];
    inner.push(...loadGroup(g.group, cfg.rht, groupVec4(g, grp)));
    if (!g.needsStats) inner.push(...maxOf(0, g.group), `um = max(um, m);`);
    if (cfg.output === "fake") {
      inner.push(...Array.from({ length: g.group }, (_, i) => `var d${i} = 0.0;`));
    }
    for (let b = 0; b < g.group / g.block; b++) {
      const j = (grp * g.group) / g.block + b;
      inner.push(`{`, ...quantizeBlock(cfg, b * g.block, g.block, j).map((l) => "  " + l));
      // Packed codes are stored per block so that the c<i> names stay in scope.
      if (cfg.output === "packed") {
        const firstWord = ((grp * g.group + b * g.block) * g.codeBits) / 32;
        inner.push(
          ...storeBlockCodes(g, b * g.block, firstWord, words + 1).map((l) => "  " + l),
        );
      }
      inner.push(`}`);
    }
    if (cfg.output === "fake") inner.push(...storeFake(g.group, (grp * g.group) / 4, g.staged));
    body.push(`  {`, indent(inner, 4), `  }`);
  }
  if (scaleWords > 0) {
    for (let w = 0; w < scaleWords; w++) {
      body.push(`  scales[unit * ${scaleWords}u + ${w}u] = sw[${w}];`);
    }
  }
  body.push(`}`);
  if (!g.needsStats) body.push(`reduce_amax(lid, um);`);
  if (g.staged) body.push(`workgroupBarrier();`, ...stagedStore(g, cfg.output));
  const out = cfg.output === "fake"
    ? `@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;`
    : `@group(0) @binding(3) var<storage, read_write> codes: array<u32>;\n` +
      (g.scaled ? `@group(0) @binding(4) var<storage, read_write> scales: array<u32>;` : "");
  const tiles = f.kind === "nvfp4" && f.tile === "16x16"
    ? `@group(0) @binding(${
      cfg.output === "fake" ? 4 : 5
    }) var<storage, read> tile_amax: array<f32>;`
    : "";
  const numerics = elem === "fp32"
    ? []
    : [elem, ...(g.scaled && f.kind === "nvfp4" ? ["e4m3" as const] : [])];
  return `${wgslNumerics(numerics)}${f.kind === "mx" ? LDEXP_FTZ : ""}${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> params: Params;
${out}
${tiles}
${staging(g, cfg)}
${g.needsStats ? "" : reduceMax(g.workgroup)}
${entry(g)}
${indent(body, 2)}
}
`;
}

/** Packs one block's codes (whole u32 words) into `ctile` (staged) or straight into `codes`. */
function storeBlockCodes(g: Geometry, from: number, firstWord: number, stride: number): string[] {
  const perWord = 32 / g.codeBits;
  const lines: string[] = [];
  for (let w = 0; w < g.block / perWord; w++) {
    const terms = Array.from({ length: perWord }, (_, j) => {
      const c = `c${from + w * perWord + j}`;
      return j === 0 ? c : `(${c} << ${j * g.codeBits}u)`;
    });
    const dst = g.staged
      ? `ctile[lid * ${stride}u + ${firstWord + w}u]`
      : `codes[unit * ${stride - 1}u + ${firstWord + w}u]`;
    lines.push(`${dst} = ${terms.join(" | ")};`);
  }
  return lines;
}
