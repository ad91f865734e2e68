/**
 * WGSL pieces shared by the quantize kernels (`./wgsl.ts`, and `./nvfp4_wgsl.ts` for the NVFP4
 * options): the params uniform, the common bindings and workgroup arrays, loading a vec4, the RHT
 * butterfly, block amaxes, and publishing the tensor decode scale.
 *
 * Params: `n_vec4` (vec4 in the padded tensor), `key` (stochastic rounding), `pad` (unused),
 * `nb` (16-element blocks per row), `gx` (workgroups along x of the flat grid), `sign_key` (random
 * RHT signs), `row_gx` (workgroups along x of the per-row grid), `rows`.
 *
 * @module
 */

import { f32Literal } from "../_wgsl/numerics.ts";
import { hadamardScale, RHT_SIGN_SALT } from "../../src/formats/rht.ts";
import type { KernelConfig } from "./reference.ts";

/** Invocations per workgroup of the flat kernels; each owns one vec4 of a slab. */
export const WORKGROUP = 256;

/** Slabs of {@link WORKGROUP} vec4 each workgroup processes (fewer workgroups, fewer atomics). */
export const SLABS = 4;

/** The params uniform of every quantize kernel (fields in the module comment). */
export const PARAMS = /* wgsl */ `
struct Params {
  n_vec4: u32,
  key: u32,
  pad: u32,
  nb: u32,
  gx: u32,
  sign_key: u32,
  row_gx: u32,
  rows: u32,
}
`;

/** Byte size of the params uniform. */
export const PARAMS_BYTES = 32;

/** Bindings 0–2 of every quantize kernel: the input, the stats words and the params. */
export const BINDINGS = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> params: Params;
`;

/** The workgroup arrays of the flat kernels and their amax reduction into stats[0]. */
export const SHARED = /* wgsl */ `
var<workgroup> sm_v: array<vec4<f32>, ${WORKGROUP}>;
var<workgroup> sm_m: array<f32, ${WORKGROUP}>;
var<workgroup> sm_u: array<u32, ${WORKGROUP}>;
var<workgroup> sm_s: array<u32, ${WORKGROUP / 4}>;

fn reduce_amax(lid: u32, m: f32) {
  sm_u[lid] = bitcast<u32>(m);
  workgroupBarrier();
  for (var s = ${WORKGROUP / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { sm_u[lid] = max(sm_u[lid], sm_u[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) { atomicMax(&stats[0], sm_u[0]); }
}
`;

/** The four lanes of an invocation's vec4. */
export const V = [0, 1, 2, 3];

/**
 * The WGSL function every input element passes through as it is loaded: `ftz`, or `round_bf16`
 * under `compute: bf16` (a no-op on BF16 activations; an FP32 master weight becomes the BF16 copy
 * Megatron's mixed precision multiplies).
 */
export function loadFn(cfg: KernelConfig): "ftz" | "round_bf16" {
  return cfg.compute === "bf16" ? "round_bf16" : "ftz";
}

/** Loads this slab's vec4 (read up front, see {@link flatKernel}) into v0…v3 ({@link loadFn}). */
export function loadLines(cfg: KernelConfig): string[] {
  return V.map((i) => `var v${i} = ${loadFn(cfg)}(t[${i}]);`);
}

/**
 * The RHT of the d-element group this invocation's four elements belong to: signs, the two
 * in-register butterfly stages, then one workgroup exchange per remaining stage, then the scale;
 * under `compute: bf16` the result is rounded to BF16 before anything takes its amax, as
 * TransformerEngine's RHT returns a BF16 tensor.
 */
export function rhtLines(cfg: KernelConfig): string[] {
  const rht = cfg.rht;
  if (!rht) return [];
  const d = rht.size;
  const d4 = d / 4;
  let pick: string;
  if ("random" in rht) {
    // This step's vector from the signs key (src/formats/rht.ts randomSigns): word q / 8.
    pick = `rand_bits(mix32(params.sign_key ^ ${RHT_SIGN_SALT >>> 0}u), q >> 3u)`;
  } else {
    const words: number[] = [];
    rht.signs.forEach((s, p) => {
      if (s < 0) words[p >> 5] = ((words[p >> 5] ?? 0) | (1 << (p & 31))) >>> 0;
    });
    const word = (w: number) => `${(words[w] ?? 0) >>> 0}u`;
    pick = word(0);
    for (let w = 1; w < d / 32; w++) pick = `select(${pick}, ${word(w)}, (q >> 3u) == ${w}u)`;
  }
  const lines = [
    `let q = lid % ${d4}u;`,
    `let sbits = ${pick} >> ((q * 4u) & 31u);`,
    ...V.map((i) =>
      `v${i} = bitcast<f32>(bitcast<u32>(v${i}) ^ (((sbits >> ${i}u) & 1u) << 31u));`
    ),
  ];
  const pair = (a: number, b: number) =>
    `{ let a = v${a}; let b = v${b}; v${a} = ftz(a + b); v${b} = ftz(a - b); }`;
  lines.push(pair(0, 1), pair(2, 3), pair(0, 2), pair(1, 3));
  for (let hq = 1; hq < d4; hq *= 2) {
    lines.push(
      `sm_v[lid] = vec4<f32>(v0, v1, v2, v3);`,
      `workgroupBarrier();`,
      `{`,
      `  let o = sm_v[lid ^ ${hq}u];`,
      `  let upper = (q & ${hq}u) != 0u;`,
      ...V.map((i) => `  v${i} = ftz(select(v${i} + o[${i}], o[${i}] - v${i}, upper));`),
      `}`,
      `workgroupBarrier();`,
    );
  }
  const scale = f32Literal(hadamardScale(d));
  lines.push(...V.map((i) => `v${i} = mul_ftz(v${i}, ${scale});`));
  if (cfg.compute === "bf16") lines.push(...V.map((i) => `v${i} = round_bf16(v${i});`));
  return lines;
}

/** The largest magnitude of v0…v3. */
export const PARTIAL_MAX = `let pm = max(max(abs(v0), abs(v1)), max(abs(v2), abs(v3)));`;

/** The amax of this invocation's block, from the partial maxes of its block / 4 invocations. */
export function blockMax(block: number): string[] {
  const b4 = block / 4;
  const terms = Array.from({ length: b4 - 1 }, (_, k) => `m = max(m, sm_m[b0 + ${k + 1}u]);`);
  return [
    `sm_m[lid] = pm;`,
    `workgroupBarrier();`,
    `let b0 = lid & ${(~(b4 - 1)) >>> 0}u;`,
    `var m = sm_m[b0];`,
    ...terms,
  ];
}

/** Stores the tensor decode scale (an f32 expression) into stats[1], once per dispatch. */
export function publish(v: string): string {
  return `if (wg == 0u && lid == 0u) { atomicStore(&stats[1], bitcast<u32>(${v})); }`;
}

/** Indents WGSL lines by `n` spaces and joins them. */
export function indent(lines: string[], n: number): string {
  return lines.map((l) => " ".repeat(n) + l).join("\n");
}
