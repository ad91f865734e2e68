/**
 * Microbenchmark behind the quantize kernels' layout: vec4 copies and quantizer arithmetic with one,
 * four or sixteen consecutive vec4 per invocation, or sixteen strided (coalesced) vec4, on 64 MiB.
 * On the H100 it showed that per-invocation contiguous runs, not the arithmetic, cost bandwidth
 * (see kernels/quantize/wgsl.ts). Usage: deno run -A bench/access_patterns.ts
 *
 * @module
 */
import { getGpu } from "../src/gpu/device.ts";
import { GpuTimer } from "../src/gpu/timing.ts";
import { bindGroup } from "../src/gpu/pipelines.ts";
import { pipelineCache } from "../src/gpu/pipelines.ts";
import { wgslNumerics } from "../kernels/_wgsl/numerics.ts";
const gpu = await getGpu();
const d = gpu.device;
const timer = new GpuTimer(gpu);
const n = 16 * 1024 * 1024;
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
const a = d.createBuffer({ size: n * 4, usage });
const b = d.createBuffer({ size: n * 4, usage });
const hdr = `@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;`;
function perThread(u4: number, body: (k: number) => string, pre = "", wg = 64): string {
  const lines = [];
  for (let k = 0; k < u4; k++) lines.push(body(k));
  return `${wgslNumerics(["bf16"])}\n${hdr}
@compute @workgroup_size(${wg}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let unit = (wid.y * 4096u + wid.x) * ${wg}u + lid;
  let base = unit * ${u4}u;
  ${pre}
  ${lines.join("\n  ")}
}`;
}
const variants: Record<string, [string, number]> = {
  "copy 1 vec4/thread": [perThread(1, (k) => `y[base + ${k}u] = x[base + ${k}u];`), 1],
  "copy 4 vec4/thread direct": [perThread(4, (k) => `y[base + ${k}u] = x[base + ${k}u];`), 4],
  "copy 16 vec4/thread direct": [perThread(16, (k) => `y[base + ${k}u] = x[base + ${k}u];`), 16],
  "copy 16 vec4/thread strided (coalesced)": [
    perThread(16, (k) => `y[unit + ${k}u * 262144u] = x[unit + ${k}u * 262144u];`),
    16,
  ],
  "ftz 4 vec4/thread": [
    perThread(
      4,
      (k) =>
        `{ let t = x[base + ${k}u]; y[base + ${k}u] = vec4<f32>(ftz(t.x), ftz(t.y), ftz(t.z), ftz(t.w)); }`,
    ),
    4,
  ],
  "bf16 rt 1 vec4/thread": [
    perThread(
      1,
      (k) =>
        `{ let t = x[base + ${k}u]; y[base + ${k}u] = vec4<f32>(dec_bf16(enc_bf16(0u, abs(t.x))), dec_bf16(enc_bf16(0u, abs(t.y))), dec_bf16(enc_bf16(0u, abs(t.z))), dec_bf16(enc_bf16(0u, abs(t.w)))); }`,
    ),
    1,
  ],
  "bf16 rt 4 vec4/thread": [
    perThread(
      4,
      (k) =>
        `{ let t = x[base + ${k}u]; y[base + ${k}u] = vec4<f32>(dec_bf16(enc_bf16(0u, abs(t.x))), dec_bf16(enc_bf16(0u, abs(t.y))), dec_bf16(enc_bf16(0u, abs(t.z))), dec_bf16(enc_bf16(0u, abs(t.w)))); }`,
    ),
    4,
  ],
  "bf16 rt 16 vec4/thread": [
    perThread(
      16,
      (k) =>
        `{ let t = x[base + ${k}u]; y[base + ${k}u] = vec4<f32>(dec_bf16(enc_bf16(0u, abs(t.x))), dec_bf16(enc_bf16(0u, abs(t.y))), dec_bf16(enc_bf16(0u, abs(t.z))), dec_bf16(enc_bf16(0u, abs(t.w)))); }`,
    ),
    16,
  ],
  "div_rn per vec4": [
    perThread(
      1,
      (k) =>
        `{ let t = x[base + ${k}u]; y[base + ${k}u] = vec4<f32>(div_rn(abs(t.x) + 1.0, 3.0), t.y, t.z, t.w); }`,
    ),
    1,
  ],
  "array16 ftz 4 vec4/thread": [
    perThread(
      4,
      (k) =>
        `{ let t = x[base + ${k}u]; v[${4 * k}] = ftz(t.x); v[${4 * k + 1}] = ftz(t.y); v[${
          4 * k + 2
        }] = ftz(t.z); v[${4 * k + 3}] = ftz(t.w); }`,
      "var v: array<f32, 16>;",
    ).replace(
      /\n}$/,
      "\n" +
        Array.from(
          { length: 4 },
          (_, k) =>
            `  y[base + ${k}u] = vec4<f32>(v[${4 * k}], v[${4 * k + 1}], v[${4 * k + 2}], v[${
              4 * k + 3
            }]);`,
        ).join("\n") + "\n}",
    ),
    4,
  ],
};
for (const [name, [code, u4]] of Object.entries(variants)) {
  const p = await pipelineCache(d).getAsync(code);
  const g = bindGroup(d, p, [a, b]);
  const groups = n / 4 / u4 / 64;
  const gx = Math.min(groups, 4096), gy = Math.ceil(groups / gx);
  const r = await timer.time((pass) => {
    pass.setPipeline(p);
    pass.setBindGroup(0, g);
    pass.dispatchWorkgroups(gx, gy);
  }, { iterations: 20, warmup: 3 });
  console.log(
    `${name.padEnd(45)} ${r.msPerIteration.toFixed(3)} ms  ${
      (2 * n * 4 / r.msPerIteration / 1e6).toFixed(0)
    } GB/s`,
  );
}
