/**
 * WGSL generator of the MLP activations (kernels/activation/mod.ts; formulas and CPU reference in
 * kernels/activation/reference.ts): squared ReLU, GELU (GPT-2's tanh approximation) and SwiGLU,
 * forward and backward, one output element (or vec4) per invocation.
 *
 * GELU is evaluated as `x·σ(2u) = x / (1 + exp(−2u))`, which equals `0.5·x·(1 + tanh u)` because
 * `0.5·(1 + tanh u) = 1/(1 + e^{−2u})`; unlike `1 + tanh u` it keeps its relative accuracy for
 * negative inputs. Exponent arguments are clamped at 80 (`e^80 < FLT_MAX`) so that no product
 * meets `∞·0`.
 *
 * @module
 */

import { f32Literal } from "../_wgsl/numerics.ts";
import type { ActivationKind } from "./reference.ts";

/**
 * Invocations per workgroup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ACTIVATION_WORKGROUP } from "./wgsl.ts";
 * assert.equal(ACTIVATION_WORKGROUP, 256);
 * ```
 */
export const ACTIVATION_WORKGROUP = 256;

const WG = ACTIVATION_WORKGROUP;

/** `-2·√(2/π)` and `0.044715`, GELU's constants (see the module comment). */
const GELU_M2C = f32Literal(Math.fround(-2 * Math.sqrt(2 / Math.PI)));
const GELU_K = f32Literal(Math.fround(0.044715));
const GELU_3K = f32Literal(Math.fround(3 * 0.044715));

/** The per-element WGSL of an activation; `i` indexes the output in `T` units. */
function body(kind: ActivationKind, backward: boolean): string {
  switch (kind) {
    case "relu2":
      return backward
        ? `dx[i] = dy[i] * (2.0 * max(x[i], T(0.0)));`
        : `let r = max(x[i], T(0.0));\n  y[i] = r * r;`;
    case "gelu": {
      const common = `let v = x[i];
  let e = exp(min(${GELU_M2C} * v * (1.0 + ${GELU_K} * v * v), T(80.0)));`;
      return backward
        ? `${common}
  let s = 1.0 / (1.0 + e);
  let du = ${GELU_M2C} * (-1.0 - ${GELU_3K} * v * v);
  dx[i] = dy[i] * (s + v * du * (e * s) * s);`
        : `${common}\n  y[i] = v / (1.0 + e);`;
    }
    case "swiglu": {
      const common = `let row = i / params.cols;
  let ia = i + row * params.cols;
  let ib = ia + params.cols;
  let a = x[ia];
  let b = x[ib];
  let e = exp(min(-a, T(80.0)));
  let s = 1.0 / (1.0 + e);`;
      return backward
        ? `${common}
  let g = dy[i];
  dx[ia] = g * b * s * (1.0 + a * (e * s));
  dx[ib] = g * a * s;`
        : `${common}\n  y[i] = a * s * b;`;
    }
  }
}

/**
 * The WGSL of one activation pass over `vec`-wide elements. Bindings: x, y, params (forward) or
 * x, dy, dx, params (backward); params {n: output elements / vec, gx, cols: output row / vec
 * (SwiGLU only)}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationShader } from "./wgsl.ts";
 * assert.match(activationShader("relu2", false, 4), /y\[i\] = r \* r;/);
 * ```
 */
export function activationShader(kind: ActivationKind, backward: boolean, vec: 1 | 4): string {
  const io = backward
    ? `@group(0) @binding(1) var<storage, read> dy: array<T>;
@group(0) @binding(2) var<storage, read_write> dx: array<T>;
@group(0) @binding(3) var<uniform> params: Params;`
    : `@group(0) @binding(1) var<storage, read_write> y: array<T>;
@group(0) @binding(2) var<uniform> params: Params;`;
  return `alias T = ${vec === 4 ? "vec4<f32>" : "f32"};
struct Params { n: u32, gx: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<T>;
${io}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * params.gx + wid.x) * ${WG}u + lid;
  if (i >= params.n) { return; }
  ${body(kind, backward)}
}
`;
}
