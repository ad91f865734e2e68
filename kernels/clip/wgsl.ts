/**
 * WGSL generators for global-norm gradient clipping (kernels/clip/mod.ts; CPU reference in
 * kernels/clip/reference.ts): a partial pass and a final pass, deterministic by construction.
 *
 * - {@link clipPartialShader}: workgroup w of a dispatch covering up to `slots` tensors (one binding
 *   each) sums the squares of a fixed chunk of {@link CLIP_CHUNK} elements of one tensor (each
 *   invocation a fixed run of vec4, then a fixed tree) into slot `offset + w` of a partials buffer.
 * - {@link CLIP_FINAL_SHADER}: one workgroup sums all partials in a fixed order (strided per
 *   invocation, then a tree) and writes `[norm, factor]`, `factor = min(1, maxNorm / (norm + ε))`.
 *
 * The chunking depends only on the tensor sizes, never on timing.
 *
 * @module
 */

import { range } from "../_wgsl/unroll.ts";
import { CLIP_EPS } from "./reference.ts";

const WG = 256;
/** Vec4 loads per invocation in the partial pass. */
const LOADS = 8;

/**
 * Elements each workgroup of the partial pass reduces (one partial sum each).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLIP_CHUNK } from "./wgsl.ts";
 * assert.equal(CLIP_CHUNK, 8192);
 * ```
 */
export const CLIP_CHUNK = WG * LOADS * 4;

/** Fixed-tree sum of `sm` over the workgroup, unrolled. */
const TREE = Array.from({ length: Math.log2(WG) }, (_, s) => WG >> (s + 1))
  .map((h) => `  if (lid < ${h}u) { sm[lid] += sm[lid + ${h}u]; }\n  workgroupBarrier();`)
  .join("\n");

const LOAD_INDICES = range(LOADS);

/**
 * The partial-sum kernel over `slots` gradient bindings. Bindings: partials, params {offset, gx,
 * slot[k] = (size, first workgroup, 0, 0)}, then the gradients g0 … g{slots−1} (vec4 f32).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clipPartialShader } from "./wgsl.ts";
 * assert.match(clipPartialShader(7), /binding\(8\) var<storage, read> g6/);
 * ```
 */
export function clipPartialShader(slots: number): string {
  const ks = range(slots);
  const cases = ks.map((k) => `    case ${k}u: { return g${k}[j]; }`);
  cases[cases.length - 1] = `    default: { return g${slots - 1}[j]; }`;
  return /* wgsl */ `
struct Params { offset: u32, gx: u32, slot: array<vec4<u32>, ${slots}> }
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
${
    ks.map((k) => `@group(0) @binding(${k + 2}) var<storage, read> g${k}: array<vec4<f32>>;`).join(
      "\n",
    )
  }
var<workgroup> sm: array<f32, ${WG}>;

fn load(k: u32, j: u32) -> vec4<f32> {
  switch k {
${cases.join("\n")}
  }
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wid.y * params.gx + wid.x;
  var k = 0u;
${ks.slice(1).map((s) => `  k = select(k, ${s}u, w >= params.slot[${s}].y);`).join("\n")}
  let n = params.slot[k].x;
  let nv = (n + 3u) / 4u;
  let first = (w - params.slot[k].y) * ${WG * LOADS}u;
  if (first >= nv) { return; }
  let lanes = vec4<u32>(0u, 1u, 2u, 3u);
${
    LOAD_INDICES.map((i) =>
      `  let j${i} = first + lid + ${i * WG}u;\n  let v${i} = load(k, min(j${i}, nv - 1u));`
    ).join("\n")
  }
  var acc = vec4(0.0);
${
    LOAD_INDICES.map((i) =>
      `  let x${i} = select(vec4(0.0), v${i}, vec4<u32>(j${i} * 4u) + lanes < vec4<u32>(n));\n` +
      `  acc += x${i} * x${i};`
    ).join("\n")
  }
  sm[lid] = (acc.x + acc.y) + (acc.z + acc.w);
  workgroupBarrier();
${TREE}
  if (lid == 0u) { partials[params.offset + w] = sm[0]; }
}
`;
}

/**
 * The final kernel: `clip = [norm, factor]` from `count` partials, `norm = √(Σ partials)` and
 * `factor = min(1, max_norm / (norm + 1e-6))` when `finite`, else 1. Bindings: partials, clip,
 * params {count, max_norm (f32), finite}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLIP_FINAL_SHADER } from "./wgsl.ts";
 * assert.match(CLIP_FINAL_SHADER, /clip\[0\] = norm;/);
 * ```
 */
export const CLIP_FINAL_SHADER = /* wgsl */ `
struct Params { count: u32, max_norm: f32, finite: u32 }
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> clip: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> sm: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < params.count; i += ${WG}u) { s += partials[i]; }
  sm[lid] = s;
  workgroupBarrier();
${TREE}
  if (lid == 0u) {
    let norm = sqrt(sm[0]);
    let c = params.max_norm / (norm + ${CLIP_EPS});
    clip[0] = norm;
    clip[1] = select(1.0, c, params.finite != 0u && c < 1.0);
  }
}
`;
