/**
 * The decoder on WebGPU: parameters, activations and gradients as GPU buffers, and one training
 * step (forward, backward, global-norm clipping, AdamW) recorded into a single compute pass and
 * submitted once. The step is the embedding, every block of the pattern (`blocks/attention.ts`,
 * `blocks/mlp.ts`, `blocks/mamba.ts`) between its pre-norm (RMSNorm) and its residual add, the
 * final norm, the LM head and the loss. Every linear layer of the blocks runs under the precision
 * policy (`linear.ts`); embeddings, norms, attention, the Mamba-2 convolution and scan and the
 * loss compute in f32, the LM head in f32 or BF16 as the policy says. Under the policy's
 * `compute: bf16` every op's output (and the residual stream and its gradient) is stored as BF16
 * (`storeOutputs` in linear.ts); the loss, weight gradients and optimizer state stay FP32.
 *
 * Every buffer comes from the model's buffer plan (`plan.ts`): the allocator refuses any other,
 * and a build fails unless it allocated the whole plan. Stochastic-rounding tensor ids are drawn
 * in build order (blocks in pattern order, their linear layers first to last, then the LM head)
 * and continue across the rebuild at the policy's late switch, so a run is deterministic from its
 * seed. A policy with an evaluation policy rebuilds for each evaluation (that policy's forward
 * pass) and back for the next training step; the training builds draw the same ids whatever the
 * evaluations did, so the evaluation policy never changes training.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { BoundOp } from "../gpu/op.ts";
import { readBuffer } from "../gpu/buffers.ts";
import { timeOps } from "../gpu/timing.ts";
import type { StepClock } from "../gpu/step_clock.ts";
import { CompletionPacer } from "../gpu/pacer.ts";
import { AdamwKernel } from "../../kernels/adamw/mod.ts";
import { adamwHyper } from "../../kernels/adamw/reference.ts";
import { ClipKernel } from "../../kernels/clip/mod.ts";
import { CLIP_BYTES } from "../../kernels/clip/reference.ts";
import { ElementwiseKernels } from "../../kernels/elementwise/mod.ts";
import { EmbeddingKernel } from "../../kernels/embedding/mod.ts";
import { embeddingGradIndex } from "../../kernels/embedding/reference.ts";
import { GemmKernel } from "../../kernels/gemm/mod.ts";
import { PackedNvfp4GemmKernel } from "../../kernels/gemm_nvfp4/mod.ts";
import { MatrixGemmKernel } from "../../kernels/gemm_matrix/mod.ts";
import { RmsNormKernel } from "../../kernels/norm/mod.ts";
import { XentKernel } from "../../kernels/xent/mod.ts";
import { XENT_METRICS_BYTES } from "../../kernels/xent/reference.ts";
import { historyWords } from "../../kernels/amax_history/reference.ts";
import type { AdamwConfig } from "../../kernels/adamw/reference.ts";
import { type ModelConfig, type ParamSpec, validateModelConfig } from "./config.ts";
import { initParam } from "./init.ts";
import { adapterMemoryBudget, checkMemory } from "./memory.ts";
import {
  buildLinear,
  type GemmUnits,
  gemmUnits,
  type LayerContext,
  type LinearOps,
  packedElement,
  type PlannedBuffer,
  storeOutputs,
} from "./linear.ts";
import {
  bufferBytes,
  gemmPaths,
  type LayerPlan,
  type LinearPaths,
  type ModelPlan,
  namedLinears,
  planModel,
  type PolicyBuild,
  policyBuilds,
  policyPhases,
} from "./plan.ts";
import type { PrecisionPolicy } from "./policy.ts";
import { allocAll, type BlockIo, type BlockOps } from "./blocks/block.ts";
import {
  type AttentionKernels,
  type AttentionShared,
  buildAttentionBlock,
  createAttentionKernels,
} from "./blocks/attention.ts";
import { buildMlpBlock, createMlpKernels, type MlpKernels, type MlpShared } from "./blocks/mlp.ts";
import {
  buildMambaBlock,
  createMambaKernels,
  type MambaKernels,
  type MambaShared,
} from "./blocks/mamba.ts";
import { HealthProbe } from "./health_probe.ts";
import type { HealthPoint } from "../health/types.ts";

/** Training hyper-parameters the GPU step needs. */
export interface StepConfig {
  /** Sequences per step. */
  readonly batch: number;
  /** Seed of the initialisation and of stochastic rounding. */
  readonly seed: number;
  /** Total steps (for the policy's late switch). */
  readonly totalSteps: number;
  /** Global gradient-norm limit; `Infinity` disables clipping. */
  readonly clip: number;
  /** AdamW's betas, epsilon and weight decay (defaults in kernels/adamw/reference.ts). */
  readonly adamw: AdamwConfig;
  /** GPU memory the run may use (bytes); default: what the adapter offers (see memory.ts). */
  readonly memoryBudget?: number;
  /**
   * Run GEMMs whose operands are both NVFP4 on packed codes with `dot4I8Packed` where the runtime
   * has it and the matrix units do not take them (default true); false keeps them on
   * fake-quantized f32 operands (see linear.ts).
   */
  readonly packedNvfp4?: boolean;
  /**
   * Run GEMMs whose operands are quantized (every format but fp32) on the matrix units where
   * the device has subgroup matrices (Dawn on NVIDIA; default true); false forces the SIMT GEMMs
   * (see linear.ts).
   */
  readonly matrixUnits?: boolean;
  /**
   * Build the numeric-health probe (src/model/health_probe.ts) with this many stochastic-rounding draws
   * per operand, for {@link DecoderModel.stepWithHealth}; absent, nothing of it is built.
   */
  readonly health?: { readonly draws: number };
  /**
   * Before reading results back, sleep until the submitted work should be done (src/gpu/pacer.ts;
   * needs `timestamp-query`). Default: on Dawn, where waiting on a busy GPU stalls, and not on
   * Deno's WebGPU. It changes when the host waits, never what the GPU computes.
   */
  readonly pace?: boolean;
}

/** A parameter with its gradient and AdamW moments. */
export interface ParamState {
  /** The parameter's name, shape and initialisation. */
  readonly spec: ParamSpec;
  /** Elements of the parameter. */
  readonly size: number;
  /** Its value. */
  readonly p: GPUBuffer;
  /** Its gradient of the last step. */
  readonly g: GPUBuffer;
  /** AdamW's first moment. */
  readonly m: GPUBuffer;
  /** AdamW's second moment. */
  readonly v: GPUBuffer;
}

/** Metrics of the last step (or evaluation), read back from the GPU. */
export interface StepMetrics {
  /** Mean cross-entropy over the batch's tokens (nats). */
  readonly loss: number;
  /** Top-1 next-token accuracy. */
  readonly accuracy: number;
  /** Global gradient norm before clipping (training steps only). */
  readonly gradNorm: number;
}

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * The first tensor id of an evaluation build: far above any training build's (a few per linear
 * layer), below the 2^24 the health probe's keys keep of an id (health_probe.ts).
 */
const EVAL_TENSOR_IDS = 1 << 23;

/** The compiled kernels a model uses. */
interface Kernels {
  elementwise: ElementwiseKernels;
  gemm: { nt: GemmKernel; nn: GemmKernel; tn: GemmKernel };
  norm: RmsNormKernel;
  embedding: EmbeddingKernel;
  xent: XentKernel;
  clip: ClipKernel;
  adamw: AdamwKernel;
  /** Present where NVFP4 GEMMs run on packed codes. */
  packedGemm?: PackedNvfp4GemmKernel;
  /** Present where GEMMs run on the matrix units: scaled f16 GEMMs per layout. */
  matrixGemm?: { nt: MatrixGemmKernel; nn: MatrixGemmKernel; tn: MatrixGemmKernel };
  /** Present where the pattern has blocks of the kind. */
  attention?: AttentionKernels;
  mlp?: MlpKernels;
  mamba?: MambaKernels;
}

/** The gradient of the residual stream and of a block's normed input, and the backward scratch. */
type ModelGrads = Record<keyof ModelPlan["grads"], GPUBuffer>;

/** The shared buffers of the block kinds a pattern has. */
interface SharedBuffers {
  attention?: AttentionShared<GPUBuffer>;
  mlp?: MlpShared<GPUBuffer>;
  mamba?: MambaShared<GPUBuffer>;
}

/**
 * A decoder and its training step on the GPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../gpu/device.ts";
 * import { DecoderModel } from "./decoder.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const gpu = await getGpu();
 * const cfg = { pattern: "*-", dModel: 32, heads: 2, dFf: 64, seqLen: 8, vocab: 64, mlp: "relu2" } as const;
 * const model = await DecoderModel.create(gpu, cfg, POLICIES.fp32, {
 *   batch: 2, seed: 0, totalSteps: 10, clip: 1, adamw: { weightDecay: 0.1 },
 * });
 * const tokens = Uint32Array.from({ length: 16 }, (_, i) => i % 64);
 * const targets = Uint32Array.from({ length: 16 }, (_, i) => (i + 1) % 64);
 * await model.step({ inputs: tokens, targets }, 1, 1e-3);
 * const m = await model.readMetrics();
 * assert.ok(m.loss > 3 && m.loss < 5); // ≈ ln 64 at init
 * model.destroy();
 * ```
 */
export class DecoderModel {
  /** The model's shape. */
  readonly config: ModelConfig;
  /** The precision policy its linear layers run under. */
  readonly policy: PrecisionPolicy;
  /** The training hyper-parameters it was created with. */
  readonly step_: StepConfig;
  /** The parameters in `paramSpecs` order, with their gradients and AdamW moments. */
  readonly params: ParamState[];
  readonly #gpu: Gpu;
  readonly #k: Kernels;
  /** The GEMM kernels the plan may use besides the f32 GEMM. */
  readonly #units: GemmUnits;
  /** Buffers of the model's lifetime (parameters, optimizer state, batch inputs). */
  readonly #buffers: GPUBuffer[] = [];
  /** Buffers of the current build (activations, gradients, quantized copies); freed on rebuild. */
  #buildBuffers: GPUBuffer[] = [];
  /** Planned buffers not allocated yet; {@link DecoderModel.#alloc} takes only these. */
  #pending = new Set<PlannedBuffer>();
  #building = false;
  #bytes = 0;
  #tensorIds = 0;
  // Fixed buffers.
  readonly #tokens: GPUBuffer;
  readonly #targets: GPUBuffer;
  readonly #embIndex: GPUBuffer;
  readonly #hyper: GPUBuffer;
  readonly #clipOut: GPUBuffer;
  readonly #metrics: GPUBuffer;
  /** What the current operations were built for (undefined before the first build). */
  #built: PolicyBuild | undefined;
  /** Tensor ids a training build of phase 0 draws (phase 1's start after them). */
  #phase0Ids = 0;
  /** The last training step prepared (0 before the first); evaluations follow its phase. */
  #lastStep = 0;
  /** The training build's delayed-scaling states while an evaluation build replaces it. */
  #stashedStates: { phase: 0 | 1; states: Map<string, Float32Array> } | undefined;
  #train: BoundOp[] = [];
  #eval: BoundOp[] = [];
  #linears: LinearOps[] = [];
  /** The health probe of the current build and the training step with it (`step_.health`). */
  #probe: HealthProbe | undefined;
  #trainWithProbe: BoundOp[] = [];
  /** Times every submission (where the device has timestamps) and paces waits on Dawn. */
  readonly #pacer: CompletionPacer | undefined;

  private constructor(
    gpu: Gpu,
    config: ModelConfig,
    policy: PrecisionPolicy,
    step: StepConfig,
    k: Kernels,
    units: GemmUnits,
  ) {
    this.#gpu = gpu;
    this.config = config;
    this.policy = policy;
    this.step_ = step;
    this.#k = k;
    this.#units = units;
    const plan = this.#plan({ policy, phase: 0 });
    this.#pending = new Set(plan.model);
    const i = plan.inputs;
    this.#tokens = this.#alloc(i.tokens);
    this.#targets = this.#alloc(i.targets);
    this.#embIndex = this.#alloc(i.embIndex);
    this.#hyper = this.#alloc(i.hyper);
    this.#clipOut = this.#alloc(i.clip);
    this.#metrics = this.#alloc(i.metrics);
    this.params = plan.params.map((pp, index) => {
      const p = this.#alloc(pp.p);
      gpu.device.queue.writeBuffer(p, 0, initParam(pp.spec, index, step.seed));
      return {
        spec: pp.spec,
        size: pp.p.elements,
        p,
        g: this.#alloc(pp.g),
        m: this.#alloc(pp.m),
        v: this.#alloc(pp.v),
      };
    });
    this.#checkAllocated();
    this.#pacer = gpu.features.has("timestamp-query")
      ? new CompletionPacer(gpu, { pace: step.pace ?? gpu.implementation.name === "dawn" })
      : undefined;
  }

  /**
   * Compiles the kernels, allocates and initialises the parameters (deterministic from the seed).
   *
   * @throws {GpuMemoryError} (from memory.ts) when the run would not fit the adapter
   */
  static async create(
    gpu: Gpu,
    config: ModelConfig,
    policy: PrecisionPolicy,
    step: StepConfig,
  ): Promise<DecoderModel> {
    validateModelConfig(config);
    const units = gemmUnits(gpu, step);
    // Refuse a run that will not fit before allocating anything.
    checkMemory(
      gpu,
      config,
      policy,
      step.batch,
      step.totalSteps,
      step.memoryBudget ?? adapterMemoryBudget(gpu),
      units,
      step.health,
    );
    // Which kernels some GEMM of some build takes, and the element grids of packed GEMMs.
    const gemms = policyBuilds(policy).flatMap(({ policy, phase }) => {
      const opts = { batch: step.batch, totalSteps: step.totalSteps, phase, units };
      return namedLinears(planModel(config, policy, opts)).flatMap(([, l]) =>
        l.dgrad ? [l.fprop, l.dgrad, l.wgrad] : [l.fprop, l.wgrad]
      );
    });
    const used = new Set(gemms.map((g) => g.path));
    const elements = [
      ...new Set(gemms.filter((g) => g.path === "packed").map((g) => packedElement(g.a.policy))),
    ];
    const d = config.dModel;
    const has = (c: string) => config.pattern.includes(c);
    const [nt, nn, tn] = await Promise.all(
      (["nt", "nn", "tn"] as const).map((layout) => GemmKernel.create(gpu, { layout })),
    );
    const k: Kernels = {
      elementwise: await ElementwiseKernels.create(gpu),
      gemm: { nt, nn, tn },
      norm: await RmsNormKernel.create(gpu, { d }),
      embedding: await EmbeddingKernel.create(gpu, { d }),
      xent: await XentKernel.create(gpu, { vocab: config.vocab }),
      clip: await ClipKernel.create(gpu),
      adamw: await AdamwKernel.create(gpu, step.adamw),
      ...(has("*") ? { attention: await createAttentionKernels(gpu, config) } : {}),
      ...(has("-") ? { mlp: await createMlpKernels(gpu, config) } : {}),
      ...(has("M") ? { mamba: await createMambaKernels(gpu, config) } : {}),
      ...(used.has("packed")
        ? { packedGemm: await PackedNvfp4GemmKernel.create(gpu, { elements }) }
        : {}),
      ...(used.has("matrix") ? { matrixGemm: await createMatrixGemms(gpu) } : {}),
    };
    const model = new DecoderModel(gpu, config, policy, step, k, units);
    await model.#build({ policy, phase: 0 });
    return model;
  }

  /** Bytes of GPU memory the model holds. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * The GEMM path of every linear layer (see linear.ts), one list per policy phase: before the late
   * switch, then after it where the policy has one.
   */
  get gemmPaths(): LinearPaths[][] {
    return policyPhases(this.policy).map((phase) =>
      gemmPaths(this.#plan({ policy: this.policy, phase }))
    );
  }

  /** The linear layers of the current build: their plans, buffers and operations, in build order. */
  get linears(): readonly LinearOps[] {
    return this.#linears;
  }

  /** GPU memory of the numeric-health probe (bytes, part of {@link bytes}); 0 without one. */
  get healthBytes(): number {
    return this.#probe?.bytes ?? 0;
  }

  /** Dispatches per training step. */
  get dispatchesPerStep(): number {
    return this.#train.reduce((n, o) => n + o.dispatches, 0);
  }

  /** The buffer plan of a build. */
  #plan({ policy, phase }: PolicyBuild): ModelPlan {
    const { batch, totalSteps } = this.step_;
    return planModel(this.config, policy, { batch, totalSteps, phase, units: this.#units });
  }

  /** Allocates a buffer of the plan being allocated; refuses any other. */
  #alloc(b: PlannedBuffer): GPUBuffer {
    if (!this.#pending.delete(b)) {
      throw new Error(`buffer ${b.label} is not in the buffer plan, or was allocated twice`);
    }
    const size = bufferBytes(b.elements);
    const buffer = this.#gpu.device.createBuffer({ label: b.label, size, usage: STORAGE });
    (this.#building ? this.#buildBuffers : this.#buffers).push(buffer);
    this.#bytes += size;
    return buffer;
  }

  /** Throws unless every buffer of the plan being allocated was. */
  #checkAllocated(): void {
    if (this.#pending.size) {
      const labels = [...this.#pending].map((b) => b.label).join(", ");
      throw new Error(`planned buffers were not allocated: ${labels}`);
    }
  }

  /** The build of `policy` at `step`: phase 0 before its late switch, 1 after. */
  #buildAt(policy: PrecisionPolicy, step: number): PolicyBuild {
    const s = policy.switchTo;
    return { policy, phase: s && step >= s.atFraction * this.step_.totalSteps ? 1 : 0 };
  }

  /** Rebuilds the operations for `build` unless they are built for it already. */
  async #ensureBuilt(build: PolicyBuild): Promise<void> {
    const b = this.#built;
    if (b?.policy === build.policy && b.phase === build.phase) return;
    // Delayed-scaling states live in a training build's buffers: an evaluation build between two
    // steps keeps them on the host and puts them back (a late switch starts fresh ones).
    if (b?.policy === this.policy && build.policy !== this.policy) {
      const states = await this.readDelayedStates();
      if (states.size > 0) this.#stashedStates = { phase: b.phase, states };
    }
    await this.#build(build);
    const stash = this.#stashedStates;
    if (build.policy === this.policy && stash) {
      this.#stashedStates = undefined;
      if (stash.phase === build.phase) this.#writeStates(stash.states);
    }
  }

  /**
   * Builds the step's operations for a policy phase from its plan: the embedding, every block in
   * its pre-norm and residual, the head and loss, the embedding's gradient, then clipping and
   * AdamW. Each part's backward runs before the previous part's. An evaluation build's forward
   * serves evaluations only; it draws its tensor ids from a range of its own and has no probe.
   */
  async #build(build: PolicyBuild): Promise<void> {
    const training = build.policy === this.policy;
    for (const o of [...this.#train, ...this.#eval]) o.destroy();
    for (const b of this.#buildBuffers) {
      this.#bytes -= b.size;
      b.destroy();
    }
    this.#buildBuffers = [];
    this.#tensorIds = !training ? EVAL_TENSOR_IDS : build.phase === 0 ? 0 : this.#phase0Ids;
    const plan = this.#plan(build);
    this.#building = true;
    this.#pending = new Set(plan.step);
    const k = this.#k;
    const ctx: LayerContext = {
      gpu: this.#gpu,
      elementwise: k.elementwise,
      gemm: k.gemm,
      alloc: (b) => this.#alloc(b),
      nextTensorId: () => this.#tensorIds++,
      compute: build.policy.compute ?? "fp32",
      ...(k.packedGemm ? { packedGemm: k.packedGemm } : {}),
      ...(k.matrixGemm ? { matrixGemm: k.matrixGemm } : {}),
    };
    const M = this.step_.batch * this.config.seqLen;
    const V = this.config.vocab;
    const x0 = ctx.alloc(plan.x0);
    const grad = allocAll(ctx, plan.grads);
    const s = plan.shared;
    const shared: SharedBuffers = {
      ...(s.attention ? { attention: allocAll(ctx, s.attention) } : {}),
      ...(s.mlp ? { mlp: allocAll(ctx, s.mlp) } : {}),
      ...(s.mamba ? { mamba: allocAll(ctx, s.mamba) } : {}),
    };
    const wte = this.#param("wte");
    const forward = [
      k.embedding.forward({ tokens: this.#tokens, table: wte.p, out: x0 }, { tokens: M, vocab: V }),
      ...storeOutputs(ctx, x0),
    ];
    const backward: BoundOp[] = [];
    const linears: LinearOps[] = [];
    const append = (part: BlockOps) => {
      forward.push(...part.forward);
      backward.unshift(...part.backward);
      linears.push(...part.linears);
    };
    let x = x0;
    for (const [i, layer] of plan.blocks.entries()) {
      const block = await this.#residualBlock(ctx, shared, grad, layer, i, x);
      append(block);
      x = block.out;
    }
    append(await this.#head(ctx, plan.head, grad, x));
    backward.push(
      k.elementwise.fill({ y: wte.g }, { n: wte.size }),
      k.embedding.backward(
        { index: this.#embIndex, dOut: grad.residual, dTable: wte.g, scratch: grad.embScratch },
        { tokens: M, vocab: V },
      ),
    );
    this.#checkAllocated();
    // The delayed-scaling updates run last, after every use of the step's scales (the health
    // probe's included).
    const update = [...this.#update(), ...linears.flatMap((l) => l.scaleUpdates)];
    this.#train = [...forward, ...backward, ...update];
    this.#eval = forward;
    this.#linears = linears;
    this.#built = build;
    if (training && build.phase === 0) this.#phase0Ids = this.#tensorIds;
    this.#building = false;
    await this.#buildProbe(training ? { forward, backward, update } : undefined);
  }

  /**
   * The health probe of this build, where the step configuration asks for one, and the training
   * step with its operations: each linear layer's after its backward pass, the gradients' before
   * the update.
   */
  async #buildProbe(
    ops: { forward: BoundOp[]; backward: BoundOp[]; update: BoundOp[] } | undefined,
  ): Promise<void> {
    if (this.#probe) {
      this.#bytes -= this.#probe.bytes;
      this.#probe.destroy();
      this.#probe = undefined;
    }
    const health = this.step_.health;
    if (!health || !ops) return;
    const { forward, backward, update } = ops;
    const k = this.#k;
    const probe = await HealthProbe.create(
      { gpu: this.#gpu, gemm: k.gemm, elementwise: k.elementwise },
      this.#linears,
      this.params.map((p) => ({ name: p.spec.name, g: p.g, size: p.size })),
      health.draws,
      this.policy.compute,
    );
    this.#probe = probe;
    this.#bytes += probe.bytes;
    this.#trainWithProbe = [
      ...forward,
      ...backward.flatMap((o) => [o, ...(probe.after.get(o) ?? [])]),
      ...probe.beforeUpdate,
      ...update,
    ];
  }

  /** A parameter by name. */
  #param(name: string): ParamState {
    return this.params.find((p) => p.spec.name === name)!;
  }

  /**
   * Block `i` of the pattern on the residual stream `x`: its pre-norm, the block, the residual
   * add into the block's output `out`; backward, the block's then the pre-norm's (which adds its
   * input gradient to the residual stream's).
   */
  async #residualBlock(
    ctx: LayerContext,
    shared: SharedBuffers,
    grad: ModelGrads,
    layer: LayerPlan,
    i: number,
    x: GPUBuffer,
  ): Promise<BlockOps & { out: GPUBuffer }> {
    const k = this.#k;
    const rows = this.step_.batch * this.config.seqLen;
    const { out, h, rstd } = allocAll(ctx, { out: layer.out, h: layer.h, rstd: layer.rstd });
    const norm = this.#param(`blocks.${i}.norm`);
    const block = await this.#buildBlock(ctx, shared, layer, {
      h,
      out,
      dOut: grad.residual,
      dH: grad.h,
      params: (name) => this.#param(`blocks.${i}.${name}`),
    });
    const normBackward = k.norm.backward(
      { x, g: norm.p, rstd, dy: grad.h, dx: grad.residual, dg: norm.g, scratch: grad.normScratch },
      { rows, accumulateDx: true },
    );
    return {
      out,
      forward: [
        k.norm.forward({ x, g: norm.p, y: h, rstd }, { rows }),
        ...storeOutputs(ctx, h),
        ...block.forward,
        k.elementwise.add({ x, y: out }, { n: rows * this.config.dModel }),
        ...storeOutputs(ctx, out),
      ],
      // The norm's input gradient is added to the residual gradient in the norm kernel, in FP32;
      // under compute bf16 the sum is stored as BF16.
      backward: [...block.backward, normBackward, ...storeOutputs(ctx, grad.residual)],
      linears: block.linears,
    };
  }

  /**
   * The head on the last block's output `x`: the final norm, the LM head (its own precision) and
   * the loss, which leaves dlogits in place of the logits.
   */
  async #head(
    ctx: LayerContext,
    plan: ModelPlan["head"],
    grad: ModelGrads,
    x: GPUBuffer,
  ): Promise<BlockOps> {
    const k = this.#k;
    const rows = this.step_.batch * this.config.seqLen;
    const { linear, ...buffers } = plan;
    const head = allocAll(ctx, buffers);
    const norm = this.#param("norm_f");
    const w = this.#param("lm_head");
    const lmHead = await buildLinear(ctx, linear, {
      x: head.h,
      w: w.p,
      y: head.logits,
      dy: head.logits,
      dw: w.g,
      dx: grad.h,
    });
    const { logits, loss, correct } = head;
    return {
      forward: [
        k.norm.forward({ x, g: norm.p, y: head.h, rstd: head.rstd }, { rows }),
        ...storeOutputs(ctx, head.h),
        ...lmHead.forward,
        k.xent.bind({ logits, targets: this.#targets, loss, correct, metrics: this.#metrics }, {
          rows,
        }),
        // dlogits (in place of the logits); the loss itself stays FP32.
        ...storeOutputs(ctx, logits),
      ],
      backward: [
        ...lmHead.backward,
        k.norm.backward({
          x,
          g: norm.p,
          rstd: head.rstd,
          dy: grad.h,
          dx: grad.residual,
          dg: norm.g,
          scratch: grad.normScratch,
        }, { rows }),
        ...storeOutputs(ctx, grad.residual),
      ],
      linears: [lmHead],
    };
  }

  /** Global-norm clipping of every gradient, then AdamW on every parameter. */
  #update(): BoundOp[] {
    const k = this.#k;
    const grads = this.params.map((p) => ({ grad: p.g, size: p.size }));
    return [
      k.clip.bind({ tensors: grads, clip: this.#clipOut }, { maxNorm: this.step_.clip }),
      k.adamw.bind({
        tensors: this.params.map((p) => ({
          grad: p.g,
          size: p.size,
          param: p.p,
          m: p.m,
          v: p.v,
          decay: p.spec.decay,
        })),
        hyper: this.#hyper,
        clip: this.#clipOut,
      }),
    ];
  }

  /** Builds one planned block of the pattern by its kind. */
  #buildBlock(
    ctx: LayerContext,
    shared: SharedBuffers,
    layer: LayerPlan,
    io: BlockIo,
  ): Promise<BlockOps> {
    const { config: cfg, step_: { batch } } = this;
    const k = this.#k;
    switch (layer.kind) {
      case "attention":
        return buildAttentionBlock(
          ctx,
          k.attention!,
          shared.attention!,
          cfg,
          batch,
          layer.block,
          io,
        );
      case "mlp":
        return buildMlpBlock(ctx, k.mlp!, shared.mlp!, cfg, batch, layer.block, io);
      case "mamba":
        return buildMambaBlock(ctx, k.mamba!, shared.mamba!, cfg, batch, layer.block, io);
    }
  }

  /** Uploads a batch's tokens and targets (`[batch, seqLen]`, row-major). */
  #upload(batch: { inputs: Uint32Array; targets: Uint32Array }, withGradIndex: boolean): void {
    const q = this.#gpu.device.queue;
    const m = this.step_.batch * this.config.seqLen;
    if (batch.inputs.length !== m || batch.targets.length !== m) {
      throw new RangeError(
        `batch must hold ${m} tokens (batch ${this.step_.batch} × seqLen ${this.config.seqLen}), ` +
          `got ${batch.inputs.length} inputs and ${batch.targets.length} targets`,
      );
    }
    q.writeBuffer(this.#tokens, 0, new Uint32Array(batch.inputs));
    q.writeBuffer(this.#targets, 0, new Uint32Array(batch.targets));
    if (withGradIndex) {
      q.writeBuffer(this.#embIndex, 0, embeddingGradIndex(batch.inputs, this.config.vocab));
    }
  }

  /**
   * Records `ops` into one compute pass and submits it, timestamped by `clock` where given, else
   * by the pacer as a submission of `kind`.
   */
  #submit(ops: BoundOp[], kind: string, clock?: StepClock): void {
    const enc = this.#gpu.device.createCommandEncoder({ label: `lpbench ${kind}` });
    const pacer = this.#pacer;
    const writes = clock ? clock.nextWrites() : pacer?.writes(kind);
    if (clock) pacer?.expect(kind);
    const pass = enc.beginComputePass(writes ? { timestampWrites: writes } : {});
    for (const o of ops) o.encode(pass);
    pass.end();
    if (clock) clock.resolve(enc);
    else pacer?.resolve(enc);
    this.#gpu.device.queue.submit([enc.finish()]);
  }

  /**
   * Reads results back: sleeps first until the submitted work should be done (where pacing), then
   * `read`s, then collects the submissions' GPU times.
   */
  async #wait<T>(read: () => Promise<T>): Promise<T> {
    const pacer = this.#pacer;
    await pacer?.settle();
    const result = await read();
    await pacer?.collect();
    return result;
  }

  /** Waits (paced) for everything submitted so far; call before timing from the host. */
  async finish(): Promise<void> {
    await this.#wait(() => this.#gpu.device.queue.onSubmittedWorkDone());
  }

  /**
   * GPU milliseconds of each training step submitted without a `clock` since the last call (from
   * timestamps around the step's compute pass; empty without `timestamp-query`). Waits (paced) for
   * everything submitted to finish.
   */
  async stepTimes(): Promise<number[]> {
    await this.finish();
    return this.#pacer?.take("train") ?? [];
  }

  /** Collects the pacer's timestamps when it cannot time another submission. */
  async #roomToSubmit(): Promise<void> {
    if (this.#pacer?.full) await this.finish();
  }

  /**
   * Records and submits one training step (forward, backward, clipping, AdamW) at `step` (1-based)
   * with learning rate `lr`. Nothing is read back; see {@link readMetrics}. With `clock`, the
   * step's compute pass is timestamped (its GPU time comes from `clock.read()`).
   */
  async step(
    batch: { inputs: Uint32Array; targets: Uint32Array },
    step: number,
    lr: number,
    clock?: StepClock,
  ): Promise<void> {
    await this.#prepareStep(batch, step, lr);
    this.#submit(this.#train, "train", clock);
  }

  /**
   * Runs one training step like {@link step}, with the numeric-health probe's operations in it
   * (the step's results are the same as without them), and returns the diagnostics. Needs the
   * `health` step configuration.
   *
   * @throws {Error} when the model was created without `health`
   */
  async stepWithHealth(
    batch: { inputs: Uint32Array; targets: Uint32Array },
    step: number,
    lr: number,
    clock?: StepClock,
  ): Promise<HealthPoint> {
    await this.#prepareStep(batch, step, lr);
    const probe = this.#probe;
    if (!probe) throw new Error("stepWithHealth needs a model created with the health option");
    probe.setStep(this.step_.seed, step);
    this.#submit(this.#trainWithProbe, "probe", clock);
    return await this.#wait(() => probe.read(step));
  }

  /**
   * Everything before a training step's operations are recorded: the policy phase's build, the
   * batch, AdamW's hyper-parameters and the stochastic-rounding keys.
   */
  async #prepareStep(
    batch: { inputs: Uint32Array; targets: Uint32Array },
    step: number,
    lr: number,
  ): Promise<void> {
    await this.#roomToSubmit();
    await this.#ensureBuilt(this.#buildAt(this.policy, step));
    this.#lastStep = step;
    this.#upload(batch, true);
    this.#gpu.device.queue.writeBuffer(this.#hyper, 0, adamwHyper(lr, step));
    for (const l of this.#linears) l.setStep(this.step_.seed, step);
  }

  /**
   * Runs one training step like {@link step}, but with every operation in its own timed compute
   * pass, and returns the GPU time per kind of operation (`gemm matrix`, `quantize`, `attention`,
   * …; ms, largest first). For profiles only: the passes serialize the step. Needs
   * `timestamp-query`.
   */
  async profileStep(
    batch: { inputs: Uint32Array; targets: Uint32Array },
    step: number,
    lr: number,
  ): Promise<{ kind: string; ms: number; ops: number }[]> {
    await this.#prepareStep(batch, step, lr);
    await this.finish();
    const ms = await timeOps(this.#gpu, this.#train);
    const kinds = new Map<string, { ms: number; ops: number }>();
    this.#train.forEach((op, i) => {
      const k = kinds.get(op.kind ?? "other") ?? { ms: 0, ops: 0 };
      kinds.set(op.kind ?? "other", { ms: k.ms + ms[i], ops: k.ops + 1 });
    });
    return [...kinds].map(([kind, v]) => ({ kind, ...v })).sort((a, b) => b.ms - a.ms);
  }

  /**
   * Builds the training operations for `step` now if they are not built (after evaluations under
   * an evaluation policy), so that the rebuild is not timed with the step.
   */
  async buildFor(step: number): Promise<void> {
    await this.#ensureBuilt(this.#buildAt(this.policy, step));
  }

  /**
   * Runs the forward pass and the loss on a batch without updating anything; returns metrics.
   * Under the policy's evaluation policy where it has one (at the phase of the last step trained),
   * else under the training build's forward.
   */
  async evaluate(batch: { inputs: Uint32Array; targets: Uint32Array }): Promise<StepMetrics> {
    await this.#roomToSubmit();
    const ev = this.policy.evalPolicy;
    if (ev) {
      await this.#ensureBuilt(this.#buildAt(ev, this.#lastStep));
      for (const l of this.#linears) l.setStep(this.step_.seed, this.#lastStep);
    }
    this.#upload(batch, false);
    this.#submit(this.#eval, "eval");
    return await this.readMetrics();
  }

  /** Reads the loss and accuracy of the last step or evaluation and the last gradient norm. */
  async readMetrics(): Promise<StepMetrics> {
    const device = this.#gpu.device;
    const [m, c] = await this.#wait(() =>
      Promise.all([
        readBuffer(device, this.#metrics, XENT_METRICS_BYTES),
        readBuffer(device, this.#clipOut, CLIP_BYTES),
      ])
    );
    const metrics = new Float32Array(m);
    return { loss: metrics[0], accuracy: metrics[1], gradNorm: new Float32Array(c)[0] };
  }

  /**
   * The delayed FP8 scaling state of every operand copy that has one (src/model/linear.ts), by its
   * buffer label (`blocks.0.fc1.x.history`): the scale, then the amax history
   * (kernels/amax_history/). Empty without delayed scaling.
   */
  async readDelayedStates(): Promise<Map<string, Float32Array>> {
    const device = this.#gpu.device;
    const states = this.#linears.flatMap((l) => l.delayedStates);
    const words = await this.#wait(() =>
      Promise.all(states.map((s) => readBuffer(device, s.buffer, historyWords(s.config) * 4)))
    );
    return new Map(states.map((s, i) => [s.label, new Float32Array(words[i])]));
  }

  /**
   * Restores the delayed FP8 scaling states of {@link readDelayedStates} as they were after
   * `step` (e.g. from a checkpoint), building that step's policy phase first.
   *
   * @throws {RangeError} when `states` lacks a state the build has, has one it lacks, or holds
   * one of another length
   */
  async writeDelayedStates(states: ReadonlyMap<string, Float32Array>, step: number): Promise<void> {
    await this.#ensureBuilt(this.#buildAt(this.policy, step));
    this.#writeStates(states);
  }

  /** Writes delayed-scaling states into the current build's buffers (see writeDelayedStates). */
  #writeStates(states: ReadonlyMap<string, Float32Array>): void {
    const own = this.#linears.flatMap((l) => l.delayedStates);
    const labels = new Set(own.map((s) => s.label));
    for (const label of states.keys()) {
      if (!labels.has(label)) {
        throw new RangeError(`no operand copy with delayed scaling has the state ${label}`);
      }
    }
    for (const s of own) {
      const words = states.get(s.label);
      if (!words) throw new RangeError(`the delayed-scaling state ${s.label} is missing`);
      if (words.length !== historyWords(s.config)) {
        throw new RangeError(
          `${s.label} holds ${words.length} values, expected ${historyWords(s.config)}`,
        );
      }
      this.#gpu.device.queue.writeBuffer(s.buffer, 0, new Float32Array(words));
    }
  }

  /** Reads a parameter (or its gradient / moments) back. */
  async read(name: string, which: "p" | "g" | "m" | "v" = "p"): Promise<Float32Array> {
    const p = this.params.find((q) => q.spec.name === name);
    if (!p) throw new RangeError(`unknown parameter ${JSON.stringify(name)}`);
    return new Float32Array(
      await this.#wait(() => readBuffer(this.#gpu.device, p[which], p.size * 4)),
    );
  }

  /** Writes a parameter (or its moments), e.g. from a checkpoint. */
  write(name: string, data: Float32Array, which: "p" | "m" | "v" = "p"): void {
    const p = this.params.find((q) => q.spec.name === name);
    if (!p) throw new RangeError(`unknown parameter ${JSON.stringify(name)}`);
    if (data.length !== p.size) {
      throw new RangeError(`${name} holds ${p.size} values, got ${data.length}`);
    }
    this.#gpu.device.queue.writeBuffer(p[which], 0, new Float32Array(data));
  }

  /** Frees every GPU buffer the model owns. */
  destroy(): void {
    this.#probe?.destroy();
    this.#pacer?.destroy();
    for (const o of [...this.#train, ...this.#eval]) o.destroy();
    for (const b of [...this.#buffers, ...this.#buildBuffers]) b.destroy();
  }
}

/** The scaled matrix-unit GEMMs of the three layouts, compiled one after another (see their mod.ts). */
async function createMatrixGemms(gpu: Gpu): Promise<NonNullable<Kernels["matrixGemm"]>> {
  const nt = await MatrixGemmKernel.create(gpu, { layout: "nt", scaled: true });
  const nn = await MatrixGemmKernel.create(gpu, { layout: "nn", scaled: true });
  const tn = await MatrixGemmKernel.create(gpu, { layout: "tn", scaled: true });
  return { nt, nn, tn };
}
