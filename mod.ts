/**
 * lpbench: low-precision training recipes (NVFP4, MXFP4, FP8, BF16) reproduced on WebGPU.
 *
 * The API follows the data flow, each layer built only on those before it (`deno task check`
 * enforces the direction):
 *
 * 1. **Formats** (`src/formats/`): the bit-exact CPU oracle of every number format — `quantize`,
 *    `hadamard`, `resolveFormat`, the element codecs, the counter-based RNG of stochastic
 *    rounding and the BF16 rounding of `compute: bf16` (`roundBf16`).
 * 2. **Kernels** (`kernels/<op>/`): WGSL kernels tested bit for bit against their CPU references —
 *    the quantizers (`quantizeGpu`, `QuantizeKernel`; delayed FP8 scaling's update,
 *    `AmaxHistoryKernel`), the f32 GEMM (`GemmKernel`) and the packed
 *    NVFP4 GEMM (`PackedNvfp4GemmKernel`) — on a device from `getGpu`, of Deno's built-in WebGPU
 *    or of Dawn through npm:webgpu (`getGpu({ implementation: "dawn" })`, or `useGpuImplementation`
 *    for the whole process; `wgslEnables` writes a shader's `enable` directives for either).
 * 3. **Model** (`src/model/`): `DecoderModel`, a Mamba-2/attention/MLP decoder whose every linear
 *    layer quantizes its three GEMMs as a `PrecisionPolicy` says, with its exact memory estimate.
 * 4. **Training** (`src/train/`): `train` (schedules, evaluation, throughput, checkpoints) on a
 *    `Dataset`.
 * 5. **Recipes** (`src/recipe/`): YAML recipes loaded with file:line:column errors (`loadRecipe`),
 *    the preset policies of `recipes/presets/` (`POLICIES`), and their expansion into runs.
 * 6. **Runs** (`src/runner/`): `planRuns` and `runSuite` train each run once and write its
 *    `RunRecord` atomically.
 * 7. **Reports** (`src/report/`): `aggregate`, `renderReport`, `writeReport` and `verifyReport`.
 *
 * Importing this module reads `recipes/presets/` (for `POLICIES`), so it needs `--allow-read`.
 *
 * @example Formats: quantize on the CPU, then on the GPU, bit for bit the same
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantize, quantizeGpu } from "./mod.ts";
 * const x = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i) * 3);
 * const cpu = quantize(x, 4, 16, "nvfp4");
 * const gpu = await quantizeGpu(x, 4, 16, "nvfp4");
 * assert.deepEqual(gpu.codes, cpu.codes);
 * assert.deepEqual(gpu.scales, cpu.scales);
 * assert(Math.abs(cpu.dequantize()[0] - x[0]) < 0.5);
 * ```
 *
 * @example Model and training: a tiny GPT under the NVFP4 recipe
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu, loadDataset, POLICIES, train } from "./mod.ts";
 * const result = await train(await getGpu(), await loadDataset({ corpus: "moby-dick" }), {
 *   model: { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 16, vocab: 256, mlp: "relu2" },
 *   policy: POLICIES.nvfp4, steps: 4, batch: 2, seed: 0, clip: 1, adamw: {},
 *   schedule: { kind: "constant", lr: 1e-3 }, logEvery: 2,
 * });
 * assert.equal(result.train.length, 2);
 * ```
 *
 * @example Recipes, runs and reports: the plan of the quick recipe, and its published report
 * ```ts
 * import assert from "node:assert/strict";
 * import { describePlan, expandRuns, loadRecipe, readRecords, renderReport } from "./mod.ts";
 * const runs = expandRuns(await loadRecipe("recipes/quick.yaml"), { seeds: [0] });
 * assert.ok(runs.every((r) => r.seed === 0));
 * console.log(describePlan(runs));
 * const { records } = await readRecords("reports/runs");
 * const report = await renderReport("quick", records);
 * assert.match(report.markdown, /^# quick/);
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
  delayedScalingOf,
  type FloatSpec,
  FORMAT_NAMES,
  type FormatName,
  formatOptionsLabel,
  type FormatSpec,
  type Fp8Spec,
  type MxScaleRule,
  type MxSpec,
  type Nvfp4Spec,
  type ResolvedFormat,
  resolveFormat,
} from "./src/formats/spec.ts";
export {
  DelayedScaling,
  type DelayedScalingOptions,
  type ResolvedDelayedOptions,
  resolveDelayedOptions,
} from "./src/formats/fp8.ts";
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
export { type ComputePrecision, isBf16, roundBf16 } from "./src/formats/bf16.ts";
export { type RoundingOptions } from "./src/formats/rounding.ts";
export {
  BoundQuantize,
  fakeQuantizeGpu,
  hadamardGpu,
  quantizeGpu,
  type QuantizeIo,
  QuantizeKernel,
} from "./kernels/quantize/mod.ts";
export {
  type AmaxHistoryIo,
  AmaxHistoryKernel,
  updateHistoryGpu,
} from "./kernels/amax_history/mod.ts";
export {
  type AmaxHistoryConfig,
  amaxHistoryConfig,
  historyWords,
  initialHistory,
  updateHistory,
} from "./kernels/amax_history/reference.ts";
export {
  type Geometry,
  type KernelConfig,
  kernelConfig,
  type KernelFormat,
  type QuantizeSizes,
  quantizeSizes,
} from "./kernels/quantize/reference.ts";
export {
  GEMM_TILINGS,
  type GemmConfig,
  gemmGpu,
  type GemmGpuOptions,
  type GemmIo,
  GemmKernel,
} from "./kernels/gemm/mod.ts";
export { type GemmTile } from "./kernels/gemm/wgsl.ts";
export {
  type FmaRounding,
  type GemmDims,
  type GemmLayout,
  gemmReference,
  type GemmReferenceOptions,
} from "./kernels/gemm/reference.ts";
export {
  NVFP4_GEMM_TILINGS,
  type PackedNvfp4GemmIo,
  PackedNvfp4GemmKernel,
  type PackedNvfp4GemmOptions,
} from "./kernels/gemm_nvfp4/mod.ts";
export { type Nvfp4Dot, type Nvfp4GemmTile } from "./kernels/gemm_nvfp4/wgsl.ts";
export { type Tiling } from "./src/gpu/fit.ts";
export { type AdamwConfig } from "./kernels/adamw/reference.ts";
export {
  getGpu,
  type GetGpuOptions,
  type Gpu,
  type GpuInfo,
  GpuUnavailableError,
  requireFeature,
} from "./src/gpu/device.ts";
export {
  defaultGpuImplementation,
  GPU_IMPLEMENTATION_CHOICES,
  type GpuImplementation,
  type GpuImplementationChoice,
  type GpuImplementationName,
  parseGpuImplementation,
  useGpuImplementation,
} from "./src/gpu/implementation.ts";
export { wgslEnables, type WgslExtension } from "./src/gpu/wgsl_enables.ts";
export { type BoundOp } from "./src/gpu/op.ts";
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
export {
  type CurvePoint,
  train,
  type TrainConfig,
  type TrainOptions,
  type TrainResult,
} from "./src/train/loop.ts";
export {
  type ConstantSchedule,
  type CosineSchedule,
  lrAt,
  type Schedule,
  type WsdSchedule,
} from "./src/train/schedule.ts";
export {
  type DataPart,
  Dataset,
  type DatasetInfo,
  type DataSpec,
  loadDataset,
  type PartRole,
  type Split,
} from "./src/train/data/dataset.ts";
export {
  type Batch,
  type SampleOptions,
  type SequentialOptions,
} from "./src/train/data/sampler.ts";
export { type Tokenizer, type TokenizerName } from "./src/train/data/tokenizer.ts";
export { type TokenArray } from "./src/train/data/tokens.ts";
export {
  type Checkpoint,
  type JsonValue,
  loadCheckpoint,
  type Parameter,
  saveCheckpoint,
} from "./src/train/checkpoint.ts";
export { loadRecipe } from "./src/recipe/load.ts";
export { type Recipe, type RecipeContent } from "./src/recipe/recipe.ts";
export { POLICIES, presetPolicy } from "./src/recipe/preset_policies.ts";
export { type ExpandOptions, expandRuns } from "./src/recipe/expand.ts";
export { describePlan } from "./src/recipe/plan.ts";
export { type Problem, RecipeError } from "./src/recipe/problems.ts";
export type { RunSpec, RunTrain } from "./src/recipe/run_spec.ts";
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
export { type FlopShare } from "./src/report/gemm_flops.ts";
export { type Chart } from "./src/report/charts.ts";
export { type RenderedReport, renderReport, type ReportOptions } from "./src/report/markdown.ts";
export { writeReport, type WriteReportOptions, type WrittenReport } from "./src/report/write.ts";
