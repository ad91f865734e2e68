/**
 * WGSL generator of rotary position embedding (kernels/rope/mod.ts; formula and CPU reference in
 * kernels/rope/reference.ts). Consecutive invocations take consecutive pairs of a head, so both
 * halves are read and written coalesced.
 *
 * @module
 */

/**
 * Invocations per workgroup; each rotates one pair.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ROPE_WORKGROUP } from "./wgsl.ts";
 * assert.equal(ROPE_WORKGROUP, 256);
 * ```
 */
export const ROPE_WORKGROUP = 256;

const WG = ROPE_WORKGROUP;

/**
 * The in-place rotation of q and k of qkv `[rows, 3·heads·headDim]`; `sign` 1 rotates forward,
 * −1 backward (the transpose). One invocation per rotated pair. Bindings: x (qkv or dqkv),
 * cs (the cos/sin table `[seq, headDim/2]` as vec2), params {pairs, seq, gx}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ropeShader } from "./wgsl.ts";
 * assert.match(ropeShader(12, 64, -1), /x\[at\] = a \* r.x \+ b \* r.y;/);
 * ```
 */
export function ropeShader(heads: number, headDim: number, sign: 1 | -1): string {
  const half = headDim / 2;
  const d = heads * headDim;
  // Forward: (a, b) → (a·c − b·s, b·c + a·s). Backward (transpose): (a·c + b·s, b·c − a·s).
  const [minus, plus] = sign === 1 ? ["-", "+"] : ["+", "-"];
  return /* wgsl */ `
struct P { pairs: u32, seq: u32, gx: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> cs: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.y * p.gx + wid.x) * ${WG}u + lid;
  if (idx >= p.pairs) { return; }
  // idx = ((row · 2 + part) · H + h) · Dh/2 + i
  let row = idx / ${d}u;
  let rest = idx % ${d}u;
  let part = rest / ${heads * half}u;
  let within = rest % ${heads * half}u;
  let h = within / ${half}u;
  let i = within % ${half}u;
  let at = row * ${3 * d}u + part * ${d}u + h * ${headDim}u + i;
  let r = cs[(row % p.seq) * ${half}u + i];
  let a = x[at];
  let b = x[at + ${half}u];
  x[at] = a * r.x ${minus} b * r.y;
  x[at + ${half}u] = b * r.x ${plus} a * r.y;
}
`;
}
