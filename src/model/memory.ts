/**
 * GPU memory of a training run, computed before anything is allocated, and the check that refuses
 * a run that would not fit the adapter (instead of crashing the device half-way).
 *
 * The estimate sums the model's buffer plan (`plan.ts`), which is also what the model allocates,
 * so it is exact for the model's own buffers; with matrix units it adds a bound on the matrix GEMMs'
 * split-K workspaces (one per layout); kernels' small uniform and table buffers and the driver's
 * own overhead come on top.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { ModelConfig } from "./config.ts";
import { F32_GEMM_ONLY, type GemmUnits } from "./linear.ts";
import { bufferBytes, namedLinears, planModel, policyBuilds } from "./plan.ts";
import { probeBytes } from "./health_probe.ts";
import type { PrecisionPolicy } from "./policy.ts";
import { MATRIX_GEMM_TILINGS } from "../../kernels/gemm_matrix/mod.ts";
import { matrixSplitKWorkspaceBound } from "../../kernels/gemm_matrix/reference.ts";

/** The matrix GEMMs' split-K workspaces: one kernel per layout, each within its bound. */
const MATRIX_WORKSPACE_BYTES = 3 *
  Math.max(...MATRIX_GEMM_TILINGS.map(({ tile }) => matrixSplitKWorkspaceBound(tile)));

/** The numeric-health probe a run builds: its draws, and the device whose dispatch limits it uses. */
export interface HealthMemory {
  /** Stochastic-rounding draws per operand. */
  readonly draws: number;
  /** The device (its `maxComputeWorkgroupsPerDimension`; WebGPU's default 65,535 without one). */
  readonly device?: { readonly limits: Readonly<Record<string, number>> };
}

/**
 * The GPU memory a run needs (bytes): the total and the largest single buffer, the largest over
 * the model's builds (see `policyBuilds`: the phases before and after the policy's late switch and
 * those of its evaluation policy; the model rebuilds between them); `units`:
 * the GEMM kernels the model has besides the f32 GEMM (see linear.ts); `health`: the run builds
 * the numeric-health probe (its buffers are counted).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { estimateMemory } from "./memory.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const cfg = { pattern: "*-", dModel: 64, heads: 2, dFf: 128, seqLen: 32, vocab: 256, mlp: "relu2" } as const;
 * const fp32 = estimateMemory(cfg, POLICIES.fp32, 4, 10);
 * assert.ok(estimateMemory(cfg, POLICIES.nvfp4, 4, 10).bytes > fp32.bytes); // quantized copies
 * assert.equal(fp32.largest, 4 * 32 * 256 * 4); // the logits
 * ```
 */
export function estimateMemory(
  cfg: ModelConfig,
  policy: PrecisionPolicy,
  batch: number,
  totalSteps: number,
  units: GemmUnits = F32_GEMM_ONLY,
  health?: HealthMemory,
): { bytes: number; largest: number } {
  const est = policyBuilds(policy).map((build) => {
    const plan = planModel(cfg, build.policy, { batch, totalSteps, phase: build.phase, units });
    const sizes = [...plan.model, ...plan.step].map((b) => bufferBytes(b.elements));
    // Evaluation builds carry no health probe.
    const probe = health && build.policy === policy
      ? probeBytes(
        namedLinears(plan).map(([, p]) => p),
        plan.params.map((p) => p.p.elements),
        health.draws,
        health.device ?? { limits: {} },
      )
      : 0;
    return { bytes: sizes.reduce((a, b) => a + b, 0) + probe, largest: Math.max(...sizes) };
  });
  return {
    bytes: Math.max(...est.map((e) => e.bytes)) + (units.matrix ? MATRIX_WORKSPACE_BYTES : 0),
    largest: Math.max(...est.map((e) => e.largest)),
  };
}

/**
 * Thrown when a run will not fit the adapter (see {@link checkMemory}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GpuMemoryError } from "./memory.ts";
 * const e = new GpuMemoryError("the run needs 2.00 GiB of GPU memory");
 * assert.ok(e instanceof RangeError && e.name === "GpuMemoryError");
 * ```
 */
export class GpuMemoryError extends RangeError {
  /** `"GpuMemoryError"`. */
  override name = "GpuMemoryError";
}

const GiB = 2 ** 30;
const gib = (b: number) => `${(b / GiB).toFixed(2)} GiB`;

/**
 * How much memory the adapter offers, when it can be told: WebGPU does not expose the size of
 * device memory, so this reads it from the adapter's description (e.g. "NVIDIA H100 80GB HBM3"),
 * keeping 10% for the driver; for a software adapter it is half of the system's memory. Returns
 * undefined when unknown.
 *
 * @example
 * ```ts
 * import { getGpu } from "../gpu/device.ts";
 * import { adapterMemoryBudget } from "./memory.ts";
 * const budget = adapterMemoryBudget(await getGpu());
 * console.log(budget === undefined ? "unknown" : `${(budget / 2 ** 30).toFixed(1)} GiB`);
 * ```
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
 * import { POLICIES } from "../recipe/preset_policies.ts";
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
  units: GemmUnits = F32_GEMM_ONLY,
  health?: { readonly draws: number },
): { bytes: number; largest: number } {
  const est = estimateMemory(
    cfg,
    policy,
    batch,
    totalSteps,
    units,
    health && { draws: health.draws, device: gpu },
  );
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
