/**
 * WGSL of the AdamW update (kernels/adamw/mod.ts; formulas and CPU reference in
 * kernels/adamw/reference.ts): one invocation per vec4 of a tensor, elementwise, so deterministic.
 *
 * The fixed hyperparameters are override constants (`BETA1`, `BETA2`, `OMB1 = 1 − β₁` and
 * `OMB2 = 1 − β₂` rounded once from the double, `LNB1 = ln β₁`, `LNB2 = ln β₂`, `EPS`); the bias
 * corrections are computed as `1 − βᵗ = −expm1(t·ln β)`, accurate to a few FP32 ulps even where
 * `1 − βᵗ` is tiny. Bindings: param, grad, m, v (vec4 f32), hyper {lr: f32, step: u32}, clip
 * (f32 `[norm, factor]`), params {n, gx, wd (f32)}.
 *
 * @module
 */

/**
 * Invocations per workgroup; each updates one vec4.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ADAMW_WORKGROUP } from "./wgsl.ts";
 * assert.equal(Math.ceil(1000 / 4 / ADAMW_WORKGROUP), 1); // workgroups for 1000 elements
 * ```
 */
export const ADAMW_WORKGROUP = 256;

const WG = ADAMW_WORKGROUP;

/** expm1(x) for x ≤ 0: Horner form of the Taylor series to x⁹/9! where |x| < 0.5 (truncation
 * below 1e-9 relative), else exp(x) − 1, which has no cancellation there. */
const EXPM1 = /* wgsl */ `
fn expm1(x: f32) -> f32 {
  if (x > -0.5) {
    return x * (1.0 + x * ${1 / 2} * (1.0 + x * ${1 / 3} * (1.0 + x * ${1 / 4} * (1.0 + x * ${
  1 / 5
} * (1.0 + x * ${1 / 6} * (1.0 + x * ${1 / 7} * (1.0 + x * ${1 / 8} * (1.0 + x * ${1 / 9}))))))));
  }
  return exp(x) - 1.0;
}
`;

/**
 * The AdamW kernel (see the module comment for its constants and bindings).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ADAMW_SHADER } from "./wgsl.ts";
 * assert.match(ADAMW_SHADER, /override LNB2: f32;/);
 * ```
 */
export const ADAMW_SHADER = /* wgsl */ `
override BETA1: f32;
override BETA2: f32;
override OMB1: f32; // 1 − β₁, rounded once from the double
override OMB2: f32;
override LNB1: f32; // ln β₁
override LNB2: f32;
override EPS: f32;
struct Hyper { lr: f32, step: u32 }
struct Params { n: u32, gx: u32, wd: f32 }
@group(0) @binding(0) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> hyper: Hyper;
@group(0) @binding(5) var<storage, read> clip: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
${EXPM1}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * params.gx + wid.x) * ${WG}u + lid;
  if (i * 4u >= params.n) { return; }
  let t = f32(hyper.step);
  let lr = hyper.lr;
  let step_size = lr / -expm1(t * LNB1);
  let rbc2 = inverseSqrt(-expm1(t * LNB2));
  let decay = lr * params.wd;

  let g = grad[i] * clip[1];
  let m0 = m[i];
  let v0 = v[i];
  let p0 = param[i];
  let m1 = BETA1 * m0 + OMB1 * g;
  let v1 = BETA2 * v0 + OMB2 * (g * g);
  let p1 = (p0 - decay * p0) - step_size * (m1 / (sqrt(v1) * rbc2 + EPS));
  // Elements past n in the last vec4 keep their values.
  let live = vec4<u32>(i * 4u) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(params.n);
  param[i] = select(p0, p1, live);
  m[i] = select(m0, m1, live);
  v[i] = select(v0, v1, live);
}
`;
