/**
 * WGSL generator for the quantize kernels.
 *
 * Layout: every invocation owns one vec4 (four consecutive elements) of a slab of 256 vec4, so
 * every global load and store is coalesced (runs of several consecutive vec4 per invocation cost
 * bandwidth, the arithmetic does not: bench/access_patterns.ts). So a block of 16 (NVFP4) or 32
 * (MX) elements spans 4 or 8 invocations, which share their partial amaxes, RHT butterfly stages,
 * packed codes and scale bytes through small workgroup arrays. All arithmetic is that of
 * `src/formats/`, bit for bit; the RHT exchanges compute exactly the butterfly's adds in the same
 * order.
 *
 * Kernels (bindings in order):
 * - `clear`: stats ← 0.
 * - `stats` (nvfp4, fp8 current scaling): stats[0] ← bits of the tensor amax (after the RHT); for
 *   16×16 tiles, `tileStats` also writes tile_amax[tileRow · nb + blockCol]; row-scaled NVFP4
 *   runs `rowStats` instead, and Four Over Six on 16×16 tiles adds `tileChoice` after `tileStats`
 *   (both in `./nvfp4_wgsl.ts`).
 * - `quantize`: x → fake-quant FP32 `out`, packed `codes` + `scales`, or the f16 operand `out`
 *   (binary16 pairs in u32 words, src/formats/f16.ts); stats[1] ← tensor decode scale (the f16
 *   operand's factor); formats without a stats pass also reduce their amax into stats[0]. Delayed
 *   FP8 scaling reads its scale from word 0 of the tensor's state buffer `hist`
 *   (kernels/amax_history/), whose update then takes the amax from stats[0].
 *
 * GPU tensors are zero-padded to a multiple of `GPU_PAD` elements; the configurations, their
 * geometry and the buffer sizes are the contract in `./reference.ts`.
 *
 * @module
 */

import { f32Literal, wgslNumerics } from "../_wgsl/numerics.ts";
import { type ElementName, ELEMENTS } from "../../src/formats/elements.ts";
import { MX_EMAX } from "../../src/formats/mx.ts";
import { elementName, type Geometry, geometry, type KernelConfig } from "./reference.ts";
import { HEALTH_HOOKS, HEALTH_REDUCE, healthLines } from "./health_wgsl.ts";
import { nvfp4Functions, nvfp4Prologue, nvfp4ScaleLines, nvfp4Shared } from "./nvfp4_wgsl.ts";
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
  SLABS,
  V,
  WORKGROUP,
} from "./wgsl_parts.ts";

export { PARAMS_BYTES, SLABS, WORKGROUP } from "./wgsl_parts.ts";

/**
 * Per-tensor prologue: defines the tensor-level scales and publishes the decode scale (for the f16
 * operand of bf16, its factor 2^E; `src/formats/f16.ts`).
 */
function prologue(cfg: KernelConfig): string[] {
  const f = cfg.format;
  switch (f.kind) {
    case "nvfp4":
      return nvfp4Prologue(f);
    case "fp8": {
      const max = f32Literal(ELEMENTS[f.element].maxFinite);
      const scale = f.delayed ? [`let scale = hist[0];`] : [
        `let amax = bitcast<f32>(atomicLoad(&stats[0]));`,
        `var scale = 1.0;`,
        `if (amax != 0.0) { scale = min(div_rn(${max}, amax), FLT_MAX); }`,
      ];
      return [...scale, `let t_dec = div_rn(1.0, scale);`, publish("t_dec")];
    }
    case "mx":
      if (cfg.output !== "f16") return [publish("1.0")];
      // The f16 operand's factor 2^E puts the largest value the tensor's scales allow just
      // below 2^16 (src/formats/f16.ts).
      return [
        `let amax = bitcast<f32>(atomicLoad(&stats[0]));`,
        `var shift = 0;`,
        `if (amax != 0.0) {`,
        `  shift = clamp(${MX_EMAX[f.element] - 142} + i32(mx_byte(amax)), -126, 127);`,
        `}`,
        publish("bitcast<f32>(u32(shift + 127) << 23u)"),
      ];
    default:
      if (cfg.output === "f16" && f.element === "bf16") {
        return [
          `let amax = bitcast<f32>(atomicLoad(&stats[0]));`,
          `var shift = 0;`,
          `if (amax != 0.0) {`,
          `  shift = clamp(i32((bitcast<u32>(amax) >> 23u) & 0xffu) - ${127 + 14}, -126, 127);`,
          `}`,
          publish("bitcast<f32>(u32(shift + 127) << 23u)"),
        ];
      }
      return [publish("1.0")];
  }
}

/**
 * Encodes v0…v3 into c0…c3; for fake-quant decodes them into d0…d3, for the f16 operand into the
 * binary16 bits h0…h3; defines `byte`.
 */
function quantizeLines(cfg: KernelConfig): string[] {
  const f = cfg.format;
  const fake = cfg.output === "fake";
  const half = (expr: (i: number) => string) =>
    cfg.output === "f16" ? V.map((i) => `let h${i} = ${expr(i)};`) : [];
  const enc = (elem: ElementName, mag: (i: number) => string) =>
    V.map((i) => {
      const sign = `(bitcast<u32>(v${i}) >> 31u)`;
      const r = cfg.stochastic ? `, rand_bits(params.key, gv * 4u + ${i}u)` : "";
      return `let c${i} = enc${cfg.stochastic ? "_sr" : ""}_${elem}(${sign}, ${mag(i)}${r});`;
    });
  const dec = (expr: (i: number) => string) => fake ? V.map((i) => `let d${i} = ${expr(i)};`) : [];
  switch (f.kind) {
    case "nvfp4": {
      const el = f.element ?? "e2m1";
      const emax = f32Literal(ELEMENTS[el].maxFinite);
      return [
        ...nvfp4ScaleLines(f),
        ...enc(el, (i) => `min(abs(mul_ftz(v${i}, enc_b)), ${emax})`),
        ...dec((i) => `mul_ftz(dec_${el}(c${i}) * sv, s_dec)`),
        ...half((i) => `f16_bits(dec_${el}(c${i}) * sv, 0)`),
      ];
    }
    case "mx":
      return [
        ...blockMax(32),
        `let byte = mx_byte(m);`,
        `let inv = bitcast<f32>((254u - byte) << 23u);`,
        ...enc(f.element, (i) => `abs(mul_ftz(v${i}, inv))`),
        ...dec((i) => `ldexp_ftz(dec_${f.element}(c${i}), byte)`),
        // The element times 2^(byte − 127 − E): the block scale relative to the tensor factor.
        ...half((i) => `f16_bits(dec_${f.element}(c${i}), shift - (i32(byte) - 127))`),
      ];
    case "fp8":
      return [
        ...enc(f.element, (i) => `abs(mul_ftz(v${i}, scale))`),
        ...dec((i) => `mul_ftz(dec_${f.element}(c${i}), t_dec)`),
        ...half((i) => `f16_bits(dec_${f.element}(c${i}), 0)`),
      ];
    case "float":
      if (f.element === "fp32") {
        return [...V.map((i) => `let c${i} = bitcast<u32>(v${i});`), ...dec((i) => `v${i}`)];
      }
      return [
        ...enc(f.element, (i) => `abs(v${i})`),
        ...dec((i) => `dec_${f.element}(c${i})`),
        // An fp16 code is its binary16 bits; bf16 values are shifted by 2^-E (see the prologue).
        ...half((i) => f.element === "fp16" ? `c${i}` : `f16_bits(dec_bf16(c${i}), shift)`),
      ];
  }
}

/** Stores d0…d3 (fake-quant), h0…h3 (f16 operand) or the packed codes and scale words. */
function storeLines(cfg: KernelConfig, g: Geometry): string[] {
  if (cfg.output === "fake") return [`if (in_range) { out[gv] = vec4<f32>(d0, d1, d2, d3); }`];
  if (cfg.output === "f16") {
    return [`if (in_range) { out[gv] = vec2<u32>(h0 | (h1 << 16u), h2 | (h3 << 16u)); }`];
  }
  const lines: string[] = [];
  const shared = g.codeBits === 4 || g.scaled;
  switch (g.codeBits) {
    case 4:
      lines.push(`sm_u[lid] = c0 | (c1 << 4u) | (c2 << 8u) | (c3 << 12u);`);
      break;
    case 8:
      lines.push(`if (in_range) { codes[gv] = c0 | (c1 << 8u) | (c2 << 16u) | (c3 << 24u); }`);
      break;
    case 16:
      lines.push(
        `if (in_range) { codes[2u * gv] = c0 | (c1 << 16u); codes[2u * gv + 1u] = c2 | (c3 << 16u); }`,
      );
      break;
    default:
      lines.push(`if (in_range) { ${V.map((i) => `codes[4u * gv + ${i}u] = c${i};`).join(" ")} }`);
  }
  const b4 = g.block / 4;
  if (g.scaled) lines.push(`if (lid % ${b4}u == 0u) { sm_s[lid / ${b4}u] = byte; }`);
  if (shared) lines.push(`workgroupBarrier();`);
  if (g.codeBits === 4) {
    lines.push(
      `if (in_range && lid % 2u == 0u) { codes[gv / 2u] = sm_u[lid] | (sm_u[lid + 1u] << 16u); }`,
    );
  }
  if (g.scaled) {
    lines.push(
      `if (in_range && lid % ${4 * b4}u == 0u) {`,
      `  let b = lid / ${b4}u;`,
      `  scales[gv / ${
        4 * b4
      }u] = sm_s[b] | (sm_s[b + 1u] << 8u) | (sm_s[b + 2u] << 16u) | (sm_s[b + 3u] << 24u);`,
      `}`,
    );
  }
  return lines;
}

/** `mx_byte(m)`: the E8M0 scale byte of a block with amax `m` under the format's scale rule. */
function mxByteFn(f: Extract<KernelConfig["format"], { kind: "mx" }>): string {
  const el = ELEMENTS[f.element];
  let rule: string[];
  if (f.scaleRule === "floor") {
    rule = [
      `  let e = i32((bitcast<u32>(m) >> 23u) & 0xffu) - ${127 + MX_EMAX[f.element]};`,
      `  byte = u32(clamp(e, -127, 127) + 127);`,
    ];
  } else {
    const q = f.scaleRule === "ceil"
      ? `div_rn(m, ${f32Literal(el.maxFinite)})`
      : `mul_ftz(m, ${f32Literal(Math.fround(1 / el.maxFinite))})`;
    rule = [
      `  let q = bitcast<u32>(${q});`,
      `  let e = i32(q >> 23u) + select(0, 1, (q & 0x7fffffu) != 0u);`,
      `  byte = select(u32(clamp(e, 0, 254)), 0u, q == 0u);`,
    ];
  }
  return [
    "",
    "fn mx_byte(m: f32) -> u32 {",
    "  var byte = 0u;",
    "  if (m != 0.0) {",
    ...rule.map((l) => "  " + l),
    "  }",
    "  return byte;",
    "}",
    "",
  ].join("\n");
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

/**
 * The binary16 bits of `v · 2^-shift` rounded to nearest even, with f16 subnormals; `v` is a
 * normal FP32 value or a (flushed) zero. Integer arithmetic only, so no GPU flushes or rounds it
 * differently (`f16Bits` in src/formats/f16.ts is the reference).
 */
const F16_BITS = /* wgsl */ `
fn f16_bits(v: f32, shift: i32) -> u32 {
  let b = bitcast<u32>(v);
  let s = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  if (a < 0x00800000u) { return s; }
  let e = i32(a >> 23u) - 127 - shift;
  let sig = (a & 0x7fffffu) | 0x800000u;
  let d = u32(max(e, -14) - e + 13);
  if (d > 24u) { return s; }
  let m0 = sig >> d;
  let rem = sig & ((1u << d) - 1u);
  let hf = 1u << (d - 1u);
  let m = m0 + select(0u, 1u, rem > hf || (rem == hf && (m0 & 1u) == 1u));
  if (e < -14) { return s | m; }
  return s | min(u32(e + 15) * 1024u + m - 1024u, 0x7c00u);
}
`;

/**
 * A flat kernel: the prologue, then the invocation's vec4 of all {@link SLABS} slabs loaded at once
 * (several coalesced loads in flight per invocation hide memory latency even at the low occupancy
 * of register-heavy quantizers), then `perSlab` for each slab, unrolled, then the optional amax
 * reduction. `perSlab` sees `gv` (the global vec4 index), `in_range` and `t` (the loaded vec4).
 */
function flatKernel(
  pre: string[],
  perSlab: string[],
  reduce: boolean,
  health?: { declare: string[]; post: string[] },
): string {
  const slabs = Array.from({ length: SLABS }, (_, k) => k);
  const loads = slabs.flatMap((k) => [
    `let gv${k} = (wg * ${SLABS}u + ${k}u) * ${WORKGROUP}u + lid;`,
    `var t${k} = vec4<f32>();`,
    `if (gv${k} < params.n_vec4) { t${k} = x[gv${k}]; }`,
  ]);
  const bodies = slabs.flatMap((k) => [
    `{`,
    `  let gv = gv${k};`,
    `  let in_range = gv < params.n_vec4;`,
    `  let t = t${k};`,
    indent(perSlab, 2),
    `  workgroupBarrier();`,
    `}`,
  ]);
  return `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.y * params.gx + wid.x;
${indent(pre, 2)}
${indent(loads, 2)}
  var um = 0.0;
${health ? indent(health.declare, 2) : ""}
${indent(bodies, 2)}
${reduce ? "  reduce_amax(lid, um);" : ""}
${health ? indent(health.post, 2) : ""}
}
`;
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
  const body = [...loadLines(cfg), ...rhtLines(cfg), PARTIAL_MAX, `um = max(um, pm);`];
  return `${wgslNumerics([])}${PARAMS}${BINDINGS}${SHARED}
${flatKernel([], body, true)}`;
}

/**
 * The 16×16 tile `stats` kernel of nvfp4-2d: one workgroup of 16×16 invocations per tile row and
 * 16 block columns, each invocation reducing one 1×16 block. Bindings: x, stats, params, tile_amax.
 */
export function tileStatsShader(cfg: KernelConfig): string {
  const load = loadFn(cfg);
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
    let base = (row * params.nb + bc) * 4u;
    for (var k = 0u; k < 4u; k = k + 1u) {
      let t = x[base + k];
      m = max(m, max(max(abs(${load}(t.x)), abs(${load}(t.y))), max(abs(${load}(t.z)), abs(${load}(t.w)))));
    }
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
 * (packed), then `tile_amax` for 16×16 tiles, `hist` for delayed FP8 scaling, `health` for the
 * health variant.
 */
export function quantizeShader(cfg: KernelConfig, opts: { health?: boolean } = {}): string {
  const g = geometry(cfg);
  const f = cfg.format;
  const elem = elementName(f);
  if (opts.health && cfg.output !== "fake") {
    throw new RangeError(`the health variant needs fake-quant output, got ${cfg.output}`);
  }
  const body = [
    ...loadLines(cfg),
    ...rhtLines(cfg),
    PARTIAL_MAX,
    ...(g.needsStats ? [] : [`um = max(um, pm);`]),
    ...quantizeLines(cfg),
    ...storeLines(cfg, g),
    ...(opts.health ? healthLines(cfg, g) : []),
  ];
  const bindings = cfg.output === "fake"
    ? [`@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;`]
    : cfg.output === "f16"
    ? [`@group(0) @binding(3) var<storage, read_write> out: array<vec2<u32>>;`]
    : [
      `@group(0) @binding(3) var<storage, read_write> codes: array<u32>;`,
      ...(g.scaled ? [`@group(0) @binding(4) var<storage, read_write> scales: array<u32>;`] : []),
    ];
  if (g.tiled) {
    const b = bindings.length + 3;
    bindings.push(`@group(0) @binding(${b}) var<storage, read> tile_amax: array<f32>;`);
  }
  if (f.kind === "fp8" && f.delayed) {
    const b = bindings.length + 3;
    bindings.push(`@group(0) @binding(${b}) var<storage, read> hist: array<f32>;`);
  }
  if (opts.health) {
    const b = bindings.length + 3;
    bindings.push(`@group(0) @binding(${b}) var<storage, read_write> health: array<f32>;`);
  }
  const numerics = elem === "fp32" ? [] : [elem, ...(f.kind === "nvfp4" ? ["e4m3" as const] : [])];
  const helpers = (f.kind === "mx" ? LDEXP_FTZ + mxByteFn(f) : "") +
    (f.kind === "nvfp4" ? nvfp4Functions(f) : "") + (cfg.output === "f16" ? F16_BITS : "");
  return `${wgslNumerics(numerics)}${helpers}${PARAMS}${BINDINGS}
${bindings.join("\n")}
${SHARED}${f.kind === "nvfp4" ? nvfp4Shared(f) : ""}
${opts.health ? HEALTH_REDUCE : ""}
${flatKernel(prologue(cfg), body, !g.needsStats, opts.health ? HEALTH_HOOKS : undefined)}`;
}
