/**
 * A compute shader that keeps the GPU busy for a measurable moment (64 dependent FMAs per element
 * of a storage buffer), for the timing tests.
 *
 * @module
 */

/** WGSL: `x[i] = 1.0001·x[i] + 1` 64 times, one invocation per element, 64 per workgroup. */
export const BUSY_SHADER = `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  var v = x[id.x];
  for (var i = 0u; i < 64u; i++) { v = v * 1.0001 + 1.0; }
  x[id.x] = v;
}`;
