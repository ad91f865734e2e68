/**
 * Softmax cross-entropy on the GPU: per-row loss, the logits gradient, top-1 correctness and a
 * deterministic reduction into a small metrics buffer, in three dispatches:
 *
 * 1. `count` (one workgroup): metrics[2] ← number of unmasked rows.
 * 2. `rows` (one workgroup per row): one pass over the row keeps, per invocation, a running max
 *    `m`, the sum `s = Σ exp(x − m)` rescaled whenever `m` grows (the online softmax of Milakov &
 *    Gimelshein, arXiv 1805.02867) and the lowest index of the max; a fixed tree in workgroup
 *    memory combines them (`m = max(m₁, m₂)`, `s = s₁·e^(m₁−m) + s₂·e^(m₂−m)`, argmax ties to the
 *    lower index). Then loss = `log s − (x_t − m)`, correct = `argmax == t`, and a second pass
 *    writes `(e^(x−m)/s − onehot(t)) · scale`.
 * 3. `reduce` (one workgroup): mean loss and accuracy over the unmasked rows.
 *
 * Every invocation visits its elements in a fixed order and every reduction is a fixed tree, so
 * results are bit-identical from run to run. When the vocabulary is a multiple of 4 rows are read
 * as vec4 (coalesced); otherwise as scalars, which is slower: pad the vocabulary (GPT-2's 50257 to
 * 50304). On the H100, 4096 rows × 50304 took 0.87 ms (2.8 TB/s counting both passes over the
 * logits and the gradient write; the second pass partly hits L2; a vec4 copy reached 2.45 TB/s),
 * 8192 × 50257 (scalar) 2.5 ms, 16384 × 256 0.05 ms.
 *
 * @module
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, f32Word, uniformBuffer } from "../../src/gpu/op.ts";
import {
  bindGroup,
  type BufferBinding,
  pipelineCache,
  splitDispatch,
} from "../../src/gpu/pipelines.ts";
import { IGNORE_TARGET, type XentScale } from "./reference.ts";

/**
 * Byte size of the metrics buffer: four f32, `[mean loss, accuracy, unmasked rows, correct rows]`
 * (means over unmasked rows; 0 when every row is masked; counts exact below 2²⁴).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { XENT_METRICS_BYTES } from "./mod.ts";
 * assert.equal(XENT_METRICS_BYTES, 16);
 * ```
 */
export const XENT_METRICS_BYTES = 16;

/**
 * What a {@link XentKernel} is compiled for.
 *
 * @example
 * ```ts
 * import type { XentConfig } from "./mod.ts";
 * const config: XentConfig = { vocab: 50304, gradient: "in-place" };
 * ```
 */
export interface XentConfig {
  /** Vocabulary size V (columns of the logits), ≥ 1. */
  readonly vocab: number;
  /**
   * Where the gradient goes: `"in-place"` (default) overwrites the logits with dlogits, saving a
   * `[rows, V]` buffer (the logits are not needed after the loss); `"separate"` writes it to
   * `io.dlogits` and leaves the logits intact.
   */
  readonly gradient?: "in-place" | "separate";
}

/**
 * Buffers of a bound cross-entropy (all storage buffers; sizes at least those given).
 *
 * @example
 * ```ts
 * import type { XentIo } from "./mod.ts";
 * function io(logits: GPUBuffer, targets: GPUBuffer, scratch: GPUBuffer[]): XentIo {
 *   const [loss, correct, metrics] = scratch;
 *   return { logits, targets, loss, correct, metrics };
 * }
 * ```
 */
export interface XentIo {
  /** f32 `[rows, V]` row-major; overwritten by the gradient when compiled `"in-place"`. */
  readonly logits: GPUBuffer;
  /** u32 `[rows]`: class index < V, or `IGNORE_TARGET` (0xFFFFFFFF) to mask the row out. */
  readonly targets: GPUBuffer;
  /** f32 `[rows]` out: per-row loss (0 for masked rows). */
  readonly loss: GPUBuffer;
  /** u32 `[rows]` out: 1 where argmax == target (ties to the lowest index), else 0. */
  readonly correct: GPUBuffer;
  /** f32 `[4]` out ({@link XENT_METRICS_BYTES}). */
  readonly metrics: GPUBuffer;
  /** f32 `[rows, V]` out: dlogits, for `gradient: "separate"` only. */
  readonly dlogits?: GPUBuffer;
}

/**
 * Dimensions of a bound cross-entropy.
 *
 * @example
 * ```ts
 * import type { XentDims } from "./mod.ts";
 * const dims: XentDims = { rows: 8192, scale: "mean" };
 * ```
 */
export interface XentDims {
  /** Rows (tokens), ≥ 1. */
  readonly rows: number;
  /**
   * Gradient scale: a finite number, default `1 / rows` (the gradient of Σ loss / rows), or
   * `"mean"` for `1 / (unmasked rows)`, read on the GPU from the count, which makes dlogits the
   * gradient of the reported mean loss when rows are masked (PyTorch's `ignore_index` mean).
   */
  readonly scale?: XentScale;
}

const WG_REDUCE = 256;
const NEG_MAX = "-3.40282347e38";

/**
 * Fused softmax cross-entropy forward and backward.
 *
 * Targets ≥ V other than `IGNORE_TARGET` are not checked on the GPU (that would need a readback):
 * such a row gets a NaN loss, which makes the mean loss NaN, and a gradient without the one-hot
 * term.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
 * import { XentKernel } from "./mod.ts";
 * const gpu = await getGpu();
 * const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
 * const buf = (data: Float32Array | Uint32Array) => createBufferFrom(gpu.device, data, usage);
 * // Two rows over V = 4; the second is masked out.
 * const logits = buf(new Float32Array([0, 0, Math.log(2), 0, 9, 9, 9, 9]));
 * const io = {
 *   logits,
 *   targets: buf(new Uint32Array([2, 0xffffffff])),
 *   loss: buf(new Float32Array(2)),
 *   correct: buf(new Uint32Array(2)),
 *   metrics: buf(new Float32Array(4)),
 * };
 * const kernel = await XentKernel.create(gpu, { vocab: 4 });
 * const op = kernel.bind(io, { rows: 2, scale: "mean" });
 * const enc = gpu.device.createCommandEncoder();
 * const pass = enc.beginComputePass();
 * op.encode(pass);
 * pass.end();
 * gpu.device.queue.submit([enc.finish()]);
 * const metrics = new Float32Array(await readBuffer(gpu.device, io.metrics));
 * assert.ok(Math.abs(metrics[0] - Math.log(5 / 2)) < 1e-6); // softmax = [1, 1, 2, 1] / 5
 * assert.deepEqual([...metrics.slice(1)], [1, 1, 1]);
 * const dlogits = new Float32Array(await readBuffer(gpu.device, logits));
 * assert.deepEqual([...dlogits].map((g) => Math.round(g * 1e6) / 1e6), [
 *   0.2, 0.2, -0.6, 0.2, 0, 0, 0, 0,
 * ]);
 * op.destroy();
 * ```
 */
export class XentKernel {
  readonly config: Required<XentConfig>;
  readonly #gpu: Gpu;
  readonly #count: GPUComputePipeline;
  readonly #rows: GPUComputePipeline;
  readonly #reduce: GPUComputePipeline;

  private constructor(
    gpu: Gpu,
    config: Required<XentConfig>,
    pipelines: GPUComputePipeline[],
  ) {
    this.#gpu = gpu;
    this.config = config;
    [this.#count, this.#rows, this.#reduce] = pipelines;
  }

  /** Compiles (or fetches from the cache) the three kernels for a vocabulary. */
  static async create(gpu: Gpu, config: XentConfig): Promise<XentKernel> {
    const { vocab } = config;
    if (!Number.isSafeInteger(vocab) || vocab < 1 || vocab >= IGNORE_TARGET) {
      throw new RangeError(`vocab must be an integer in [1, 2³²−1), got ${vocab}`);
    }
    const gradient = config.gradient ?? "in-place";
    if (gradient !== "in-place" && gradient !== "separate") {
      throw new RangeError(
        `gradient must be "in-place" or "separate", got ${JSON.stringify(gradient)}`,
      );
    }
    const cache = pipelineCache(gpu.device);
    const pipelines = await Promise.all([
      cache.getAsync(COUNT),
      cache.getAsync(rowsShader(vocab, gradient === "in-place")),
      cache.getAsync(REDUCE),
    ]);
    return new XentKernel(gpu, { vocab, gradient }, pipelines);
  }

  /** Binds the kernels to buffers for `dims.rows` rows; creates the uniforms and bind groups. */
  bind(io: XentIo, dims: XentDims): BoundOp {
    const { rows } = dims;
    const { vocab, gradient } = this.config;
    if (!Number.isSafeInteger(rows) || rows < 1) {
      throw new RangeError(`rows must be an integer ≥ 1, got ${rows}`);
    }
    const scale = dims.scale ?? 1 / rows;
    if (scale !== "mean" && !(typeof scale === "number" && Number.isFinite(scale))) {
      throw new RangeError(`scale must be a finite number or "mean", got ${scale}`);
    }
    const limit = this.#gpu.limits.maxStorageBufferBindingSize ?? 2 ** 27;
    // Binds exactly the bytes used, so a larger buffer never exceeds the binding limit.
    const need = (name: keyof XentIo, bytes: number): BufferBinding => {
      const buffer = io[name];
      if (!buffer) throw new TypeError(`io.${name} is required for gradient: "${gradient}"`);
      if (buffer.size < bytes) {
        throw new RangeError(`io.${name} holds ${buffer.size} bytes, needs ${bytes}`);
      }
      if (bytes > limit) {
        throw new RangeError(
          `io.${name}: ${rows} rows need ${bytes} bytes, more than one binding may hold ` +
            `(${limit}); bind fewer rows per call`,
        );
      }
      return { buffer, offset: 0, size: bytes };
    };
    const logits = need("logits", rows * vocab * 4);
    const targets = need("targets", rows * 4);
    const loss = need("loss", rows * 4);
    const correct = need("correct", rows * 4);
    const metrics = need("metrics", XENT_METRICS_BYTES);
    let out: BufferBinding[] = [];
    if (gradient === "separate") out = [need("dlogits", rows * vocab * 4)];
    else if (io.dlogits) throw new TypeError(`io.dlogits is not used for gradient: "in-place"`);

    const device = this.#gpu.device;
    const [gx, gy] = splitDispatch(this.#gpu, rows);
    const small = uniformBuffer(device, [rows]);
    const params = uniformBuffer(device, [
      rows,
      gx,
      scale === "mean" ? 1 : 0,
      f32Word(scale === "mean" ? 0 : scale),
    ]);
    const steps: [GPUComputePipeline, GPUBindGroup, number, number][] = [
      [this.#count, bindGroup(device, this.#count, [targets, metrics, small]), 1, 1],
      [
        this.#rows,
        bindGroup(device, this.#rows, [logits, targets, loss, correct, metrics, params, ...out]),
        gx,
        gy,
      ],
      [this.#reduce, bindGroup(device, this.#reduce, [loss, correct, metrics, small]), 1, 1],
    ];
    return {
      dispatches: steps.length,
      encode(pass) {
        for (const [pipeline, group, x, y] of steps) {
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, group);
          pass.dispatchWorkgroups(x, y);
        }
      },
      destroy() {
        small.destroy();
        params.destroy();
      },
    };
  }
}

/** Invocations of the per-row kernel: the lanes of a row rounded up to a power of 2, 32…256. */
function rowWorkgroup(lanes: number): number {
  let wg = 32;
  while (wg < lanes && wg < 256) wg *= 2;
  return wg;
}

/** A fixed-tree reduction over `wg` workgroup slots, fully unrolled; `body(h)` combines lid+h. */
function tree(wg: number, body: (h: number) => string): string {
  const lines: string[] = [];
  for (let h = wg / 2; h >= 1; h /= 2) {
    lines.push(`  if (lid < ${h}u) {\n${body(h)}\n  }\n  workgroupBarrier();`);
  }
  return lines.join("\n");
}

/** The per-row kernel for vocabulary `vocab`, writing dlogits over the logits or into `dx`. */
function rowsShader(vocab: number, inPlace: boolean): string {
  const w = vocab % 4 === 0 ? 4 : 1;
  const lanes = vocab / w;
  const wg = rowWorkgroup(lanes);
  const iters = Math.ceil(lanes / wg);
  const unroll = Math.min(iters, 4);
  const chunks = Math.ceil(iters / unroll);
  const T = w === 4 ? "vec4<f32>" : "f32";
  const out = inPlace ? "x" : "dx";
  const ks = Array.from({ length: unroll }, (_, k) => k);

  // Loads of a chunk first (clamped in bounds), then the guarded updates: the loads can overlap.
  const load = (k: number) =>
    `    let j${k} = j + ${k * wg}u;\n    let v${k} = x[base + min(j${k}, LANES - 1u)];`;
  const update = (k: number) =>
    w === 4
      ? `    if (j${k} < LANES) {
      let mv = max(max(v${k}.x, v${k}.y), max(v${k}.z, v${k}.w));
      let mn = max(m, mv);
      let e = exp(v${k} - vec4(mn));
      s = s * exp(m - mn) + ((e.x + e.y) + (e.z + e.w));
      let first = select(select(select(3u, 2u, v${k}.z == mv), 1u, v${k}.y == mv), 0u, v${k}.x == mv);
      idx = select(idx, j${k} * 4u + first, mv > m || idx == NONE);
      m = mn;
    }`
      : `    if (j${k} < LANES) {
      let mn = max(m, v${k});
      s = s * exp(m - mn) + exp(v${k} - mn);
      idx = select(idx, j${k}, v${k} > m || idx == NONE);
      m = mn;
    }`;
  const grad = (k: number) =>
    w === 4
      ? `    if (j${k} < LANES) {
      let hot = vec4<u32>(j${k} * 4u) + vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(t);
      let g = exp(v${k} - vec4(mx)) * q - select(vec4(0.0), vec4(oh), hot);
      ${out}[base + j${k}] = select(g, vec4(0.0), !valid);
    }`
      : `    if (j${k} < LANES) {
      let g = exp(v${k} - mx) * q - select(0.0, oh, j${k} == t);
      ${out}[base + j${k}] = select(g, 0.0, !valid);
    }`;
  const loop = (body: (k: number) => string) => {
    const inner = [...ks.map(load), ...ks.map(body)].join("\n");
    return chunks === 1
      ? `  {\n    let j = lid;\n${inner}\n  }`
      : `  for (var c = 0u; c < ${chunks}u; c++) {\n    let j = lid + c * ${
        unroll * wg
      }u;\n${inner}\n  }`;
  };
  const xt = w === 4 ? "x[base + tc / 4u][tc % 4u]" : "x[base + tc]";

  return /* wgsl */ `
struct Params { rows: u32, gx: u32, mean: u32, scale: f32 }
@group(0) @binding(0) var<storage, ${inPlace ? "read_write" : "read"}> x: array<${T}>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> correct: array<u32>;
@group(0) @binding(4) var<storage, read> metrics: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
${inPlace ? "" : `@group(0) @binding(6) var<storage, read_write> dx: array<${T}>;`}
const V = ${vocab}u;
const LANES = ${lanes}u;
const NONE = 0xffffffffu;
var<workgroup> sm_m: array<f32, ${wg}>;
var<workgroup> sm_s: array<f32, ${wg}>;
var<workgroup> sm_i: array<u32, ${wg}>;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * params.gx + wid.x;
  if (r >= params.rows) { return; }
  let base = r * LANES;
  let t = targets[r];
  let valid = t != NONE;
  let hit = t < V;
  let tc = min(t, V - 1u);
  let xt = ${xt}; // read before any gradient overwrites the row

  var m = ${NEG_MAX};
  var s = 0.0;
  var idx = NONE;
${loop(update)}
  sm_m[lid] = m;
  sm_s[lid] = s;
  sm_i[lid] = idx;
  workgroupBarrier();
${
    tree(wg, (h) =>
      `    let m1 = sm_m[lid];
    let m2 = sm_m[lid + ${h}u];
    let mn = max(m1, m2);
    sm_s[lid] = sm_s[lid] * exp(m1 - mn) + sm_s[lid + ${h}u] * exp(m2 - mn);
    let i1 = sm_i[lid];
    let i2 = sm_i[lid + ${h}u];
    sm_i[lid] = select(i1, i2, m2 > m1 || (m2 == m1 && i2 < i1));
    sm_m[lid] = mn;`)
  }
  let mx = sm_m[0];
  let sum = sm_s[0];
  if (lid == 0u) {
    var l = 0.0;
    if (hit) {
      l = log(sum) - (xt - mx);
    } else if (valid) {
      l = bitcast<f32>(0x7fc00000u); // target ≥ V: NaN marks the bad row in the mean loss
    }
    loss[r] = l;
    correct[r] = select(0u, 1u, hit && sm_i[0] == t);
  }
  let sc = select(params.scale, 1.0 / metrics[2], params.mean != 0u);
  let q = sc / sum;
  let oh = select(0.0, sc, hit);
${loop(grad)}
}
`;
}

const COUNT = /* wgsl */ `
struct Params { rows: u32 }
@group(0) @binding(0) var<storage, read> targets: array<u32>;
@group(0) @binding(1) var<storage, read_write> metrics: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> sm: array<u32, ${WG_REDUCE}>;

@compute @workgroup_size(${WG_REDUCE})
fn main(@builtin(local_invocation_index) lid: u32) {
  var c = 0u;
  for (var i = lid; i < params.rows; i += ${WG_REDUCE}u) {
    c += select(0u, 1u, targets[i] != 0xffffffffu);
  }
  sm[lid] = c;
  workgroupBarrier();
${tree(WG_REDUCE, (h) => `    sm[lid] += sm[lid + ${h}u];`)}
  if (lid == 0u) { metrics[2] = f32(sm[0]); }
}
`;

const REDUCE = /* wgsl */ `
struct Params { rows: u32 }
@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read> correct: array<u32>;
@group(0) @binding(2) var<storage, read_write> metrics: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
var<workgroup> sm_l: array<f32, ${WG_REDUCE}>;
var<workgroup> sm_c: array<u32, ${WG_REDUCE}>;

@compute @workgroup_size(${WG_REDUCE})
fn main(@builtin(local_invocation_index) lid: u32) {
  var l = 0.0;
  var c = 0u;
  for (var i = lid; i < params.rows; i += ${WG_REDUCE}u) {
    l += loss[i];
    c += correct[i];
  }
  sm_l[lid] = l;
  sm_c[lid] = c;
  workgroupBarrier();
${
  tree(WG_REDUCE, (h) =>
    `    sm_l[lid] += sm_l[lid + ${h}u];\n    sm_c[lid] += sm_c[lid + ${h}u];`)
}
  if (lid == 0u) {
    let n = metrics[2];
    metrics[0] = select(0.0, sm_l[0] / n, n > 0.0);
    metrics[1] = select(0.0, f32(sm_c[0]) / n, n > 0.0);
    metrics[3] = f32(sm_c[0]);
  }
}
`;
