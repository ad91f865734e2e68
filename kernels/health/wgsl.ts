/**
 * WGSL of the health comparison kernel: each workgroup of {@link COMPARE_WORKGROUP} invocations
 * reads four consecutive elements per invocation of two f32 tensors `q` and `r` of `n` elements
 * and writes {@link COMPARE_FIELDS} partial sums — Σ(q−r)², Σr², Σq² and the non-finite
 * elements of `q` — to `partials[wg · COMPARE_FIELDS + field]`. The CPU adds the partials up in
 * f64.
 *
 * @module
 */

/** Invocations per workgroup. */
export const COMPARE_WORKGROUP = 256;

/** Elements each workgroup reads (four per invocation). */
export const COMPARE_ELEMENTS_PER_WORKGROUP = COMPARE_WORKGROUP * 4;

/** Partial sums per workgroup: Σ(q−r)², Σr², Σq², non-finite elements of q. */
export const COMPARE_FIELDS = 4;

/** The comparison kernel. Bindings: q, r, partials, params (n, gx). */
export function compareShader(): string {
  return /* wgsl */ `
struct Params { n: u32, gx: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> r: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
var<workgroup> sm: array<vec4<f32>, ${COMPARE_WORKGROUP}>;

@compute @workgroup_size(${COMPARE_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.y * params.gx + wid.x;
  var acc = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j = j + 1u) {
    let i = wg * ${COMPARE_ELEMENTS_PER_WORKGROUP}u + j * ${COMPARE_WORKGROUP}u + lid;
    if (i < params.n) {
      let a = q[i];
      let b = r[i];
      let e = a - b;
      let finite = (bitcast<u32>(a) & 0x7f800000u) != 0x7f800000u;
      acc = acc + vec4<f32>(e * e, b * b, a * a, select(1.0, 0.0, finite));
    }
  }
  sm[lid] = acc;
  workgroupBarrier();
  for (var s = ${COMPARE_WORKGROUP / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { sm[lid] = sm[lid] + sm[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let t = sm[0];
    for (var f = 0u; f < ${COMPARE_FIELDS}u; f = f + 1u) { partials[wg * ${COMPARE_FIELDS}u + f] = t[f]; }
  }
}
`;
}
