/**
 * The health variant of the fake-quant quantize kernel (src/health/): besides its output, each
 * workgroup writes {@link HEALTH_FIELDS} partial sums of how its elements quantized — squared
 * error, squared source, signed error, source magnitude, clipped, flushed and non-finite elements,
 * and block-scale counts and exponent range — to `health[wg · HEALTH_FIELDS + field]`. The
 * quantized values are the kernel's own, so the statistics describe exactly the copy the GEMM
 * reads; the sums are in f32 per workgroup and are added up in f64 on the CPU.
 *
 * @module
 */

import { f32Literal } from "../_wgsl/numerics.ts";
import { clipThreshold, type ElementName, ELEMENTS } from "../../src/formats/elements.ts";
import type { Geometry, KernelConfig } from "./reference.ts";

/**
 * The partial sums per workgroup, in order: Σ(Q−S)², ΣS², Σ(Q−S)·sign(S) over the elements not
 * clipped (the rounding's own bias, apart from clipping's), Σ|S|, elements saturated (past the
 * format's largest value by more than rounding),
 * clipped, nonzero elements flushed to zero, non-finite source elements, blocks with a nonzero
 * amax, of those with a zero scale, with a subnormal (E4M3) scale, and the smallest and largest
 * ⌊log2⌋ of a decoded block scale (±3e38 where there is none). S is the kernel's input after the
 * RHT, where the copy has one.
 */
export const HEALTH_FIELDS = 12;

/** Index of each field in a workgroup's partials. */
export const HEALTH_FIELD = {
  err2: 0,
  ref2: 1,
  bias: 2,
  abs: 3,
  saturated: 4,
  underflow: 5,
  nonFinite: 6,
  blocks: 7,
  zeroScales: 8,
  subnormalScales: 9,
  minLog2: 10,
  maxLog2: 11,
} as const;

const NONE = "3.0e38";

/** The per-workgroup reductions (sum, min, max) over the 256 invocations. */
export const HEALTH_REDUCE = /* wgsl */ `
var<workgroup> sm_h: array<f32, 256>;

fn h_reduce(lid: u32, v: f32, op: u32) -> f32 {
  workgroupBarrier();
  sm_h[lid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let a = sm_h[lid];
      let b = sm_h[lid + s];
      sm_h[lid] = select(select(max(a, b), min(a, b), op == 1u), a + b, op == 0u);
    }
    workgroupBarrier();
  }
  return sm_h[0];
}
`;

const ACC = [
  "h_err2",
  "h_ref2",
  "h_bias",
  "h_abs",
  "h_sat",
  "h_under",
  "h_nonfin",
  "h_blocks",
  "h_zero",
  "h_sub",
  "h_min",
  "h_max",
];

/** Declarations before the slabs and the reduction and store after them. */
export const HEALTH_HOOKS: { declare: string[]; post: string[] } = {
  declare: ACC.map((a) =>
    `var ${a} = ${a === "h_min" ? NONE : a === "h_max" ? `-${NONE}` : "0.0"};`
  ),
  post: [
    ...ACC.map((a, i) =>
      `let r${i} = h_reduce(lid, ${a}, ${a === "h_min" ? 1 : a === "h_max" ? 2 : 0}u);`
    ),
    `if (lid == 0u) {`,
    ...ACC.map((_, i) => `  health[wg * ${HEALTH_FIELDS}u + ${i}u] = r${i};`),
    `}`,
  ],
};

/**
 * The magnitude each element had on the format's grid before clipping, as a vec4; the largest
 * magnitude the format holds (above it the element was clipped, which the bias leaves out); and
 * the magnitude from which it counts as saturated ({@link clipThreshold}: rounding would have gone
 * past the largest value, so an NVFP4 block's largest element just above 6 after its E4M3 scale
 * rounded down is rounding, not saturation).
 */
function scaledMagnitude(cfg: KernelConfig): { expr: string; max: string; limit: string } {
  const f = cfg.format;
  const of = (e: ElementName) => ({
    max: f32Literal(ELEMENTS[e].maxFinite),
    limit: f32Literal(clipThreshold(ELEMENTS[e])),
  });
  switch (f.kind) {
    case "nvfp4":
      return { expr: "abs(hv * enc_b)", ...of(f.element ?? "e2m1") };
    case "mx":
      return { expr: "abs(hv * inv)", ...of(f.element) };
    case "fp8":
      return { expr: "abs(hv * scale)", ...of(f.element) };
    default:
      // FP32 copies are the tensor itself: nothing clips.
      return f.element === "fp32"
        ? { expr: "vec4<f32>(0.0)", max: "1.0", limit: "1.0" }
        : { expr: "abs(hv)", ...of(f.element) };
  }
}

/** Block-scale counts, once per block (its first invocation), for block-scaled formats. */
function blockLines(cfg: KernelConfig, g: Geometry): string[] {
  const f = cfg.format;
  const first = `in_range && lid % ${g.block / 4}u == 0u && m != 0.0`;
  const range = (log2: string) => [
    `  let e = ${log2};`,
    `  h_min = min(h_min, e);`,
    `  h_max = max(h_max, e);`,
  ];
  if (f.kind === "nvfp4") {
    return [
      `if (${first}) {`,
      `  h_blocks += 1.0;`,
      `  if (byte == 0u) { h_zero += 1.0; } else {`,
      `    if ((byte >> 3u) == 0u) { h_sub += 1.0; }`,
      ...range(`f32(i32((bitcast<u32>(sv * s_dec) >> 23u) & 0xffu) - 127)`).map((l) => "  " + l),
      `  }`,
      `}`,
    ];
  }
  if (f.kind === "mx") {
    return [`if (${first}) {`, `  h_blocks += 1.0;`, ...range(`f32(i32(byte) - 127)`), `}`];
  }
  return [];
}

/**
 * The lines each slab adds to the fake-quant kernel: they read v0…v3 (the kernel's input after the
 * RHT), d0…d3 (the fake-quant values) and t (the loaded source) and accumulate the fields.
 */
export function healthLines(cfg: KernelConfig, g: Geometry): string[] {
  const { expr, max, limit } = scaledMagnitude(cfg);
  const ones = "vec4<f32>(1.0)";
  const count = (mask: string) => `dot(select(vec4<f32>(0.0), ${ones}, ${mask}), ${ones})`;
  return [
    `if (in_range) {`,
    `  let hv = vec4<f32>(v0, v1, v2, v3);`,
    `  let hd = vec4<f32>(d0, d1, d2, d3);`,
    `  let he = hd - hv;`,
    `  h_err2 += dot(he, he);`,
    `  h_ref2 += dot(hv, hv);`,
    `  let hmag = ${expr};`,
    `  let hsat = hmag >= vec4<f32>(${limit});`,
    `  h_bias += dot(select(he * sign(hv), vec4<f32>(0.0), hmag > vec4<f32>(${max})), ${ones});`,
    `  h_abs += dot(abs(hv), ${ones});`,
    `  h_sat += ${count("hsat")};`,
    `  h_under += ${count(`(hv != vec4<f32>(0.0)) & (hd == vec4<f32>(0.0))`)};`,
    `  let tb = bitcast<vec4<u32>>(t) & vec4<u32>(0x7f800000u);`,
    `  h_nonfin += ${count(`tb == vec4<u32>(0x7f800000u)`)};`,
    `}`,
    ...(g.scaled ? blockLines(cfg, g) : []),
  ];
}
