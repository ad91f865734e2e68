/**
 * GPU memory of a training run, computed before anything is allocated, and the check that refuses
 * a run that would not fit the adapter (instead of crashing the device half-way).
 *
 * The estimate mirrors every allocation of `DecoderModel` (a test holds the two equal), so it is
 * exact for the model's own buffers; drivers add their own overhead on top.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { paddedElements } from "../../kernels/quantize/mod.ts";
import { embeddingBackwardLayout } from "../../kernels/embedding/mod.ts";
import { normBlocks } from "../../kernels/norm/mod.ts";
import { CLIP_BYTES } from "../../kernels/clip/mod.ts";
import { XENT_METRICS_BYTES } from "../../kernels/xent/mod.ts";
import { blockKinds, mambaDims, type ModelConfig, numel, paramSpecs } from "./config.ts";
import { mambaBlockBuffers, mambaSharedBuffers } from "./blocks/mamba.ts";
import {
  isIdentity,
  layoutFree,
  type LinearPolicy,
  linearPolicyAt,
  type OperandPolicy,
  type PrecisionPolicy,
  uniformLinear,
} from "./policy.ts";
import { resolveFormat } from "../formats/spec.ts";
import { packedOperandElements, runsPackedGemm } from "./linear.ts";

/** Bytes of one model buffer of `n` f32 (padded as `DecoderModel` pads them). */
export function bufferBytes(n: number): number {
  return paddedElements(Math.max(n, 1)) * 4;
}

/** Buffers a quantized operand copy of a `[rows, cols]` tensor allocates. */
function quantizedBuffers(p: OperandPolicy, rows: number, cols: number): number[] {
  if (isIdentity(p)) return [];
  const f = resolveFormat(p.format);
  const tiles = f.kind === "nvfp4" && f.tile === "16x16" ? [(rows / 16) * (cols / 16)] : [];
  return [rows * cols, 2, ...tiles];
}

/** Buffers a columnwise (transposed, then quantized) copy allocates. */
function transposedBuffers(p: OperandPolicy, rows: number, cols: number): number[] {
  return [rows * cols, ...quantizedBuffers(p, cols, rows)];
}

/**
 * Buffers `buildLinear` allocates for a layer (element counts), in the same decisions; `packed`:
 * whether the model has a packed NVFP4 GEMM (see linear.ts).
 */
export function linearBuffers(
  policy: LinearPolicy,
  dims: { m: number; n: number; k: number },
  withDx: boolean,
  packed = false,
): number[] {
  const { m, n, k } = dims;
  const all = [m, n, k];
  const { x: fx, w: fw } = policy.fprop;
  const fpropPacked = runsPackedGemm(packed, fx, fw, all);
  const out = fpropPacked
    ? [...packedOperandElements(fx, m, k), ...packedOperandElements(fw, n, k)]
    : [...quantizedBuffers(fx, m, k), ...quantizedBuffers(fw, n, k)];
  if (withDx && runsPackedGemm(packed, policy.dgrad.dy, policy.dgrad.w, all)) {
    out.push(...packedOperandElements(policy.dgrad.dy, m, n));
    out.push(n * k, ...packedOperandElements(policy.dgrad.w, k, n));
  } else if (withDx) {
    out.push(...quantizedBuffers(policy.dgrad.dy, m, n));
    const wp = policy.dgrad.w;
    if (layoutFree(wp)) {
      if (fpropPacked || JSON.stringify(wp) !== JSON.stringify(policy.fprop.w)) {
        out.push(...quantizedBuffers(wp, n, k));
      }
    } else {
      out.push(...transposedBuffers(wp, n, k));
    }
  }
  const { dy, x } = policy.wgrad;
  const asIs = layoutFree(dy) && layoutFree(x);
  if (!asIs && runsPackedGemm(packed, dy, x, all)) {
    out.push(m * n, ...packedOperandElements(dy, n, m), m * k, ...packedOperandElements(x, k, m));
  } else if (asIs) {
    out.push(...quantizedBuffers(dy, m, n));
    if (fpropPacked || JSON.stringify(x) !== JSON.stringify(policy.fprop.x)) {
      out.push(...quantizedBuffers(x, m, k));
    }
  } else {
    out.push(...transposedBuffers(dy, m, n), ...transposedBuffers(x, m, k));
  }
  return out;
}

/**
 * Every buffer (element counts) a model allocates for `batch` sequences while the policy is in
 * force at `step` (before or after its late switch).
 */
export function modelBuffers(
  cfg: ModelConfig,
  policy: PrecisionPolicy,
  batch: number,
  totalSteps: number,
  step = 0,
  packed = false,
): number[] {
  const M = batch * cfg.seqLen;
  const D = cfg.dModel;
  const F = cfg.dFf;
  const Fu = cfg.mlp === "swiglu" ? 2 * F : F;
  const V = cfg.vocab;
  const out = [
    M,
    M,
    embeddingBackwardLayout(M, V).words,
    2,
    CLIP_BYTES / 4,
    XENT_METRICS_BYTES / 4,
  ];
  for (const spec of paramSpecs(cfg)) out.push(...Array(4).fill(numel(spec.shape)));
  out.push(M * D); // x0
  const kinds = blockKinds(cfg.pattern);
  kinds.forEach((kind) => {
    out.push(M * D, M * D, M);
    if (kind === "attention") out.push(M * 3 * D, M * D, M * cfg.heads);
    else if (kind === "mlp") out.push(M * Fu, M * F);
    else out.push(...mambaBlockBuffers(cfg, M));
  });
  out.push(M * D, M, M * V, M, M, M * D, M * D, M * D, M * 3 * D, M * F, M * Fu);
  // The kernels' scratchElements(), computed without a compiled kernel.
  const embScratchRows = Math.max(1, embeddingBackwardLayout(M, V).maxScratchRows);
  out.push(normBlocks(M).blocks * D, embScratchRows * D, ...mambaSharedBuffers(cfg, batch));
  const mamba = mambaDims(cfg);
  kinds.forEach((kind, i) => {
    const p = linearPolicyAt(policy, i, kinds.length, step, totalSteps);
    if (kind === "attention") {
      out.push(...linearBuffers(p, { m: M, n: 3 * D, k: D }, true, packed));
      out.push(...linearBuffers(p, { m: M, n: D, k: D }, true, packed));
    } else if (kind === "mamba") {
      out.push(...linearBuffers(p, { m: M, n: mamba.inProj, k: D }, true, packed));
      out.push(...linearBuffers(p, { m: M, n: D, k: mamba.dInner }, true, packed));
    } else {
      out.push(...linearBuffers(p, { m: M, n: Fu, k: D }, true, packed));
      out.push(...linearBuffers(p, { m: M, n: D, k: F }, true, packed));
    }
  });
  out.push(...linearBuffers(uniformLinear(policy.head), { m: M, n: V, k: D }, true, packed));
  return out;
}

/**
 * The GPU memory a run needs (bytes): the total and the largest single buffer, the larger of the
 * phases before and after the policy's late switch (the model rebuilds at the switch).
 */
export function estimateMemory(
  cfg: ModelConfig,
  policy: PrecisionPolicy,
  batch: number,
  totalSteps: number,
  packed = false,
): { bytes: number; largest: number } {
  const phases = policy.switchTo ? [0, totalSteps] : [0];
  const est = phases.map((step) => {
    const sizes = modelBuffers(cfg, policy, batch, totalSteps, step, packed).map(bufferBytes);
    return { bytes: sizes.reduce((a, b) => a + b, 0), largest: Math.max(...sizes) };
  });
  return {
    bytes: Math.max(...est.map((e) => e.bytes)),
    largest: Math.max(...est.map((e) => e.largest)),
  };
}

/** Thrown when a run will not fit the adapter. */
export class GpuMemoryError extends RangeError {
  override name = "GpuMemoryError";
}

const GiB = 2 ** 30;
const gib = (b: number) => `${(b / GiB).toFixed(2)} GiB`;

/**
 * How much memory the adapter offers, when it can be told: WebGPU does not expose the size of
 * device memory, so this reads it from the adapter's description (e.g. "NVIDIA H100 80GB HBM3"),
 * keeping 10% for the driver; for a software adapter it is half of the system's memory. Returns
 * undefined when unknown.
 */
export function adapterMemoryBudget(gpu: Gpu): number | undefined {
  const m = /(\d+)\s*GB\b/i.exec(gpu.info.description);
  if (m) return Number(m[1]) * 1e9 * 0.9;
  if (gpu.info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(gpu.info.description)) {
    return Deno.systemMemoryInfo().total * 0.5;
  }
  return undefined;
}

/**
 * Throws a {@link GpuMemoryError} when a run will not fit: a buffer larger than the device's
 * `maxStorageBufferBindingSize` or `maxBufferSize`, or a total above `budget` (default
 * {@link adapterMemoryBudget}). Returns the estimate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../gpu/device.ts";
 * import { checkMemory, GpuMemoryError } from "./memory.ts";
 * import { POLICIES } from "./policy.ts";
 * const gpu = await getGpu();
 * const cfg = { pattern: "*-", dModel: 64, heads: 2, dFf: 128, seqLen: 32, vocab: 256, mlp: "relu2" } as const;
 * assert.ok(checkMemory(gpu, cfg, POLICIES.nvfp4, 4, 10).bytes > 0);
 * assert.throws(() => checkMemory(gpu, cfg, POLICIES.nvfp4, 4, 10, 1e6), GpuMemoryError);
 * ```
 */
export function checkMemory(
  gpu: Gpu,
  cfg: ModelConfig,
  policy: PrecisionPolicy,
  batch: number,
  totalSteps: number,
  budget = adapterMemoryBudget(gpu),
  packed = false,
): { bytes: number; largest: number } {
  const est = estimateMemory(cfg, policy, batch, totalSteps, packed);
  const where = `adapter "${gpu.info.description || gpu.info.vendor}"`;
  const limit = Math.min(
    gpu.limits.maxStorageBufferBindingSize ?? Infinity,
    gpu.limits.maxBufferSize ?? Infinity,
  );
  if (est.largest > limit) {
    throw new GpuMemoryError(
      `the run needs a ${gib(est.largest)} buffer (the logits or a layer's activations) but ` +
        `${where} binds at most ${gib(limit)}; use a smaller batch, sequence or vocabulary`,
    );
  }
  if (budget !== undefined && est.bytes > budget) {
    throw new GpuMemoryError(
      `the run needs ${gib(est.bytes)} of GPU memory but ${where} offers about ${gib(budget)}; ` +
        `use a smaller batch or model`,
    );
  }
  return est;
}
