/**
 * lpbench: low-precision training recipes (NVFP4, MXFP4, FP8, BF16) reproduced on WebGPU.
 *
 * This module exports the number formats: the bit-exact CPU reference (`quantize`, `hadamard`) and
 * the WGSL kernels that match it bit for bit (`quantizeGpu`, `fakeQuantizeGpu`, `hadamardGpu`, and
 * `QuantizeKernel` for GPU-resident buffers).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantize } from "./mod.ts";
 * const x = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i) * 3);
 * const q = quantize(x, 4, 16, "nvfp4");
 * const xHat = q.dequantize();
 * assert(Math.abs(xHat[0] - x[0]) < 0.5);
 * ```
 *
 * @module
 */

export {
  checkQuantizeArgs,
  hadamard,
  quantize,
  Quantized,
  type QuantizeOptions,
} from "./src/formats/quantize.ts";
export {
  bitsPerValue,
  blockShape,
  FORMAT_NAMES,
  type FormatName,
  type FormatSpec,
  type MxScaleRule,
  type ResolvedFormat,
  resolveFormat,
} from "./src/formats/spec.ts";
export { DelayedScaling, type DelayedScalingOptions } from "./src/formats/fp8.ts";
export { type HadamardOptions, RHT_SIGNS_16 } from "./src/formats/rht.ts";
export {
  decodeElement,
  type ElementFormat,
  type ElementName,
  ELEMENTS,
  encodeElement,
  encodeStochastic,
} from "./src/formats/elements.ts";
export { randomBits, streamKey } from "./src/formats/rng.ts";
export {
  BoundQuantize,
  fakeQuantizeGpu,
  hadamardGpu,
  kernelConfig,
  quantizeGpu,
  QuantizeKernel,
  quantizeSizes,
} from "./kernels/quantize/mod.ts";
export { getGpu, type Gpu, GpuUnavailableError, requireFeature } from "./src/gpu/device.ts";
export {
  type Activation,
  type MambaConfig,
  type ModelConfig,
  type ParamInit,
  type ParamSpec,
  paramSpecs,
  validateModelConfig,
} from "./src/model/config.ts";
export {
  type LinearPolicy,
  type OperandPolicy,
  type PrecisionPolicy,
  uniformLinear,
} from "./src/model/policy.ts";
export {
  DecoderModel,
  type ParamState,
  type StepConfig,
  type StepMetrics,
} from "./src/model/decoder.ts";
export {
  adapterMemoryBudget,
  checkMemory,
  estimateMemory,
  GpuMemoryError,
} from "./src/model/memory.ts";
export { type CurvePoint, train, type TrainConfig, type TrainResult } from "./src/train/loop.ts";
export { lrAt, type Schedule } from "./src/train/schedule.ts";
export { Dataset, type DataSpec, loadDataset } from "./src/train/data/dataset.ts";
export { loadCheckpoint, saveCheckpoint } from "./src/train/checkpoint.ts";
export { loadRecipe } from "./src/recipe/load.ts";
export { POLICIES, presetPolicy } from "./src/recipe/preset_policies.ts";
export { expandRuns } from "./src/recipe/expand.ts";
export { describePlan } from "./src/recipe/plan.ts";
export { RecipeError } from "./src/recipe/problems.ts";
export type { RunSpec } from "./src/recipe/run_spec.ts";
export {
  type PlannedRun,
  planRuns,
  type RunnerOptions,
  runSuite,
  type SuiteOutcome,
} from "./src/runner/run.ts";
export {
  type Environment,
  parseRecord,
  readRecord,
  type ReadRecords,
  readRecords,
  RECORD_FORMAT,
  RecordError,
  type RunRecord,
  type RunResult,
} from "./src/runner/record.ts";
export { reportRecords, type Verdict, verifyRecords, verifyReport } from "./src/report/verify.ts";
export { readRunList, RUN_LIST_FORMAT, type RunList, RunListError } from "./src/report/run_list.ts";
export {
  aggregate,
  type PolicySummary,
  type RunOutcome,
  type SuiteSummary,
} from "./src/report/aggregate.ts";
export { type MeanPoint } from "./src/report/curves.ts";
export { type Chart } from "./src/report/charts.ts";
export { type RenderedReport, renderReport, type ReportOptions } from "./src/report/markdown.ts";
export { writeReport, type WriteReportOptions, type WrittenReport } from "./src/report/write.ts";
