/**
 * The decoder on WebGPU: parameters, activations and gradients as GPU buffers, and one training
 * step (forward, backward, global-norm clipping, AdamW) recorded into a single compute pass and
 * submitted once. Every linear layer of the blocks runs under the precision policy
 * (`src/model/linear.ts`); embeddings, norms, attention, the Mamba-2 convolution and scan
 * (`src/model/blocks/mamba.ts`) and the loss stay in f32, the LM head in f32 or BF16 as the policy
 * says.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { BoundOp } from "../gpu/op.ts";
import { readBuffer } from "../gpu/buffers.ts";
import { ActivationKernel } from "../../kernels/activation/mod.ts";
import { adamwHyper, AdamwKernel } from "../../kernels/adamw/mod.ts";
import { AttentionKernel } from "../../kernels/attention/mod.ts";
import { CLIP_BYTES, ClipKernel } from "../../kernels/clip/mod.ts";
import { ElementwiseKernels } from "../../kernels/elementwise/mod.ts";
import {
  embeddingBackwardLayout,
  embeddingGradIndex,
  EmbeddingKernel,
} from "../../kernels/embedding/mod.ts";
import { GemmKernel } from "../../kernels/gemm/mod.ts";
import { RmsNormKernel } from "../../kernels/norm/mod.ts";
import { RopeKernel } from "../../kernels/rope/mod.ts";
import { XENT_METRICS_BYTES, XentKernel } from "../../kernels/xent/mod.ts";
import { paddedElements } from "../../kernels/quantize/mod.ts";
import type { AdamwConfig } from "../../kernels/adamw/reference.ts";
import {
  type BlockKind,
  blockKinds,
  type ModelConfig,
  numel,
  type ParamSpec,
  paramSpecs,
  validateModelConfig,
} from "./config.ts";
import { initParam } from "./init.ts";
import { adapterMemoryBudget, checkMemory } from "./memory.ts";
import { buildLinear, type LayerContext, type LinearOps, packedGemmAvailable } from "./linear.ts";
import { PackedNvfp4GemmKernel } from "../../kernels/gemm_nvfp4/mod.ts";
import {
  allocMambaShared,
  buildMambaBlock,
  createMambaKernels,
  type MambaKernels,
} from "./blocks/mamba.ts";
import { linearPolicyAt, type PrecisionPolicy, uniformLinear, usesNvfp4 } from "./policy.ts";

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
  readonly adamw: AdamwConfig;
  /** GPU memory the run may use (bytes); default: what the adapter offers (see memory.ts). */
  readonly memoryBudget?: number;
  /**
   * Run GEMMs whose operands are both NVFP4 on packed codes with `dot4I8Packed` where the runtime
   * has it (default true); false keeps them on fake-quantized f32 operands (see linear.ts).
   */
  readonly packedNvfp4?: boolean;
}

/** A parameter with its gradient and AdamW moments. */
export interface ParamState {
  readonly spec: ParamSpec;
  readonly size: number;
  readonly p: GPUBuffer;
  readonly g: GPUBuffer;
  readonly m: GPUBuffer;
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

/** The compiled kernels a model uses. */
interface Kernels {
  elementwise: ElementwiseKernels;
  gemm: { nt: GemmKernel; nn: GemmKernel; tn: GemmKernel };
  norm: RmsNormKernel;
  act: ActivationKernel;
  attention: AttentionKernel;
  rope: RopeKernel;
  embedding: EmbeddingKernel;
  xent: XentKernel;
  clip: ClipKernel;
  adamw: AdamwKernel;
  /** Present where NVFP4 GEMMs run on packed codes. */
  packedGemm?: PackedNvfp4GemmKernel;
  /** Present where the pattern has Mamba-2 blocks. */
  mamba?: MambaKernels;
}

/** Per-block activation buffers (a Mamba-2 block allocates its own in `blocks/mamba.ts`). */
interface BlockBuffers {
  kind: BlockKind;
  /** Input of the block (the residual stream). */
  x: GPUBuffer;
  /** Output of the block. */
  out: GPUBuffer;
  h: GPUBuffer;
  rstd: GPUBuffer;
  /** Attention: qkv, att, lse. MLP: u (pre-activation), a (activation). */
  qkv?: GPUBuffer;
  att?: GPUBuffer;
  lse?: GPUBuffer;
  u?: GPUBuffer;
  a?: GPUBuffer;
}

/**
 * A decoder and its training step on the GPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "../gpu/device.ts";
 * import { DecoderModel } from "./decoder.ts";
 * import { POLICIES } from "./policy.ts";
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
  readonly config: ModelConfig;
  readonly policy: PrecisionPolicy;
  readonly step_: StepConfig;
  readonly params: ParamState[];
  readonly #gpu: Gpu;
  readonly #k: Kernels;
  /** Buffers of the model's lifetime (parameters, optimizer state, batch inputs). */
  readonly #buffers: GPUBuffer[] = [];
  /** Buffers of the current build (activations, gradients, quantized copies); freed on rebuild. */
  #buildBuffers: GPUBuffer[] = [];
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
  #phase = -1;
  #train: BoundOp[] = [];
  #eval: BoundOp[] = [];
  #linears: LinearOps[] = [];

  private constructor(
    gpu: Gpu,
    config: ModelConfig,
    policy: PrecisionPolicy,
    step: StepConfig,
    k: Kernels,
  ) {
    this.#gpu = gpu;
    this.config = config;
    this.policy = policy;
    this.step_ = step;
    this.#k = k;
    const m = step.batch * config.seqLen;
    this.#tokens = this.#alloc(m, "tokens");
    this.#targets = this.#alloc(m, "targets");
    this.#embIndex = this.#alloc(embeddingBackwardLayout(m, config.vocab).words, "emb.index");
    this.#hyper = this.#alloc(2, "adamw.hyper");
    this.#clipOut = this.#alloc(CLIP_BYTES / 4, "clip");
    this.#metrics = this.#alloc(XENT_METRICS_BYTES / 4, "metrics");
    this.params = paramSpecs(config).map((spec, i) => {
      const size = numel(spec.shape);
      const p = this.#alloc(size, spec.name);
      gpu.device.queue.writeBuffer(p, 0, initParam(spec, i, step.seed));
      return {
        spec,
        size,
        p,
        g: this.#alloc(size, `${spec.name}.grad`),
        m: this.#alloc(size, `${spec.name}.m`),
        v: this.#alloc(size, `${spec.name}.v`),
      };
    });
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
    const packed = (step.packedNvfp4 ?? true) && packedGemmAvailable();
    // Refuse a run that will not fit before allocating anything.
    checkMemory(
      gpu,
      config,
      policy,
      step.batch,
      step.totalSteps,
      step.memoryBudget ?? adapterMemoryBudget(gpu),
      packed,
    );
    const d = config.dModel;
    const headDim = d / config.heads;
    const [nt, nn, tn] = await Promise.all(
      (["nt", "nn", "tn"] as const).map((layout) => GemmKernel.create(gpu, { layout })),
    );
    const k: Kernels = {
      elementwise: await ElementwiseKernels.create(gpu),
      gemm: { nt, nn, tn },
      norm: await RmsNormKernel.create(gpu, { d }),
      act: await ActivationKernel.create(gpu, { kind: config.mlp }),
      attention: await AttentionKernel.create(gpu, { heads: config.heads, headDim }),
      rope: await RopeKernel.create(gpu, { heads: config.heads, headDim }),
      embedding: await EmbeddingKernel.create(gpu, { d }),
      xent: await XentKernel.create(gpu, { vocab: config.vocab }),
      clip: await ClipKernel.create(gpu),
      adamw: await AdamwKernel.create(gpu, step.adamw),
      ...(config.pattern.includes("M") ? { mamba: await createMambaKernels(gpu, config) } : {}),
      ...(packed && usesNvfp4(policy)
        ? { packedGemm: await PackedNvfp4GemmKernel.create(gpu) }
        : {}),
    };
    const model = new DecoderModel(gpu, config, policy, step, k);
    await model.#build(0);
    return model;
  }

  /** Bytes of GPU memory the model holds. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Dispatches per training step. */
  get dispatchesPerStep(): number {
    return this.#train.reduce((n, o) => n + o.dispatches, 0);
  }

  #alloc(n: number, label: string): GPUBuffer {
    const size = paddedElements(Math.max(n, 1)) * 4;
    const b = this.#gpu.device.createBuffer({ label, size, usage: STORAGE });
    (this.#building ? this.#buildBuffers : this.#buffers).push(b);
    this.#bytes += size;
    return b;
  }

  /** 0 before the policy's late switch, 1 after. */
  #phaseAt(step: number): number {
    const s = this.policy.switchTo;
    return s && step >= s.atFraction * this.step_.totalSteps ? 1 : 0;
  }

  /** Builds the step's operations for a policy phase (0, or 1 after the late switch). */
  async #build(phase: number): Promise<void> {
    for (const o of [...this.#train, ...this.#eval]) o.destroy();
    for (const b of this.#buildBuffers) {
      this.#bytes -= b.size;
      b.destroy();
    }
    this.#buildBuffers = [];
    this.#building = true;
    const cfg = this.config;
    const { batch } = this.step_;
    const M = batch * cfg.seqLen;
    const D = cfg.dModel;
    const F = cfg.dFf;
    const Fu = cfg.mlp === "swiglu" ? 2 * F : F;
    const V = cfg.vocab;
    const k = this.#k;
    const ew = k.elementwise;
    const ctx: LayerContext = {
      gpu: this.#gpu,
      elementwise: ew,
      gemm: k.gemm,
      alloc: (n, label) => this.#alloc(n, label),
      nextTensorId: () => this.#tensorIds++,
      ...(k.packedGemm ? { packedGemm: k.packedGemm } : {}),
    };
    const param = (name: string) => this.params.find((p) => p.spec.name === name)!;
    const kinds = blockKinds(cfg.pattern);
    const step = phase === 0 ? 0 : this.step_.totalSteps;
    const attnDims = { batch, seq: cfg.seqLen };

    // Activations.
    let x = this.#alloc(M * D, "x0");
    const x0 = x;
    const blocks: BlockBuffers[] = kinds.map((kind, i) => {
      const b: BlockBuffers = {
        kind,
        x,
        out: this.#alloc(M * D, `blocks.${i}.out`),
        h: this.#alloc(M * D, `blocks.${i}.h`),
        rstd: this.#alloc(M, `blocks.${i}.rstd`),
      };
      if (kind === "attention") {
        b.qkv = this.#alloc(M * 3 * D, `blocks.${i}.qkv`);
        b.att = this.#alloc(M * D, `blocks.${i}.att`);
        b.lse = this.#alloc(M * cfg.heads, `blocks.${i}.lse`);
      } else if (kind === "mlp") {
        b.u = this.#alloc(M * Fu, `blocks.${i}.u`);
        b.a = this.#alloc(M * F, `blocks.${i}.a`);
      }
      x = b.out;
      return b;
    });
    const hf = this.#alloc(M * D, "hf");
    const rstdf = this.#alloc(M, "rstdf");
    const logits = this.#alloc(M * V, "logits");
    const loss = this.#alloc(M, "loss");
    const correct = this.#alloc(M, "correct");
    // Gradient scratch.
    const gres = this.#alloc(M * D, "grad.residual");
    const dh = this.#alloc(M * D, "grad.h");
    const datt = this.#alloc(M * D, "grad.att");
    const dqkv = this.#alloc(M * 3 * D, "grad.qkv");
    const da = this.#alloc(M * F, "grad.a");
    const du = this.#alloc(M * Fu, "grad.u");
    const normScratch = this.#alloc(k.norm.scratchElements(M), "norm.scratch");
    const embScratch = this.#alloc(
      k.embedding.scratchElements({ tokens: M, vocab: V }),
      "emb.scratch",
    );
    const mambaShared = k.mamba && allocMambaShared(ctx, cfg, batch);

    const forward: BoundOp[] = [];
    const backward: BoundOp[] = [];
    const linears: LinearOps[] = [];
    const wte = param("wte");
    forward.push(
      k.embedding.forward({ tokens: this.#tokens, table: wte.p, out: x0 }, { tokens: M, vocab: V }),
    );

    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i];
      const norm = param(`blocks.${i}.norm`);
      const policy = linearPolicyAt(this.policy, i, blocks.length, step, this.step_.totalSteps);
      forward.push(k.norm.forward({ x: b.x, g: norm.p, y: b.h, rstd: b.rstd }, { rows: M }));
      if (b.kind === "attention") {
        const qkvW = param(`blocks.${i}.qkv`);
        const projW = param(`blocks.${i}.proj`);
        const qkv = await buildLinear(ctx, policy, { m: M, n: 3 * D, k: D }, {
          x: b.h,
          w: qkvW.p,
          y: b.qkv!,
          dy: dqkv,
          dw: qkvW.g,
          dx: dh,
        }, `blocks.${i}.qkv`);
        const proj = await buildLinear(ctx, policy, { m: M, n: D, k: D }, {
          x: b.att!,
          w: projW.p,
          y: b.out,
          dy: gres,
          dw: projW.g,
          dx: datt,
        }, `blocks.${i}.proj`);
        linears.push(qkv, proj);
        forward.push(
          ...qkv.forward,
          k.rope.bindForward({ qkv: b.qkv! }, attnDims),
          k.attention.bindForward({ qkv: b.qkv!, y: b.att!, lse: b.lse! }, attnDims),
          ...proj.forward,
          ew.add({ x: b.x, y: b.out }, { n: M * D }),
        );
        backward.unshift(
          ...proj.backward,
          k.attention.bindBackward(
            { qkv: b.qkv!, y: b.att!, lse: b.lse!, dy: datt, dqkv },
            attnDims,
          ),
          k.rope.bindBackward({ dqkv }, attnDims),
          ...qkv.backward,
          k.norm.backward(
            { x: b.x, g: norm.p, rstd: b.rstd, dy: dh, dx: gres, dg: norm.g, scratch: normScratch },
            { rows: M, accumulateDx: true },
          ),
        );
      } else if (b.kind === "mamba") {
        const mamba = await buildMambaBlock(ctx, k.mamba!, mambaShared!, cfg, policy, batch, {
          h: b.h,
          out: b.out,
          dOut: gres,
          dH: dh,
          params: (name) => param(`blocks.${i}.${name}`),
        }, `blocks.${i}`);
        linears.push(...mamba.linears);
        forward.push(...mamba.forward, ew.add({ x: b.x, y: b.out }, { n: M * D }));
        backward.unshift(
          ...mamba.backward,
          k.norm.backward(
            { x: b.x, g: norm.p, rstd: b.rstd, dy: dh, dx: gres, dg: norm.g, scratch: normScratch },
            { rows: M, accumulateDx: true },
          ),
        );
      } else {
        const fc1W = param(`blocks.${i}.fc1`);
        const fc2W = param(`blocks.${i}.fc2`);
        const fc1 = await buildLinear(ctx, policy, { m: M, n: Fu, k: D }, {
          x: b.h,
          w: fc1W.p,
          y: b.u!,
          dy: du,
          dw: fc1W.g,
          dx: dh,
        }, `blocks.${i}.fc1`);
        const fc2 = await buildLinear(ctx, policy, { m: M, n: D, k: F }, {
          x: b.a!,
          w: fc2W.p,
          y: b.out,
          dy: gres,
          dw: fc2W.g,
          dx: da,
        }, `blocks.${i}.fc2`);
        linears.push(fc1, fc2);
        forward.push(
          ...fc1.forward,
          k.act.forward({ x: b.u!, y: b.a! }, { rows: M, cols: F }),
          ...fc2.forward,
          ew.add({ x: b.x, y: b.out }, { n: M * D }),
        );
        backward.unshift(
          ...fc2.backward,
          k.act.backward({ x: b.u!, dy: da, dx: du }, { rows: M, cols: F }),
          ...fc1.backward,
          k.norm.backward(
            { x: b.x, g: norm.p, rstd: b.rstd, dy: dh, dx: gres, dg: norm.g, scratch: normScratch },
            { rows: M, accumulateDx: true },
          ),
        );
      }
    }
    // Head: final norm, LM head (its own precision), loss; the loss kernel leaves dlogits in place.
    const normF = param("norm_f");
    const head = param("lm_head");
    const headLinear = await buildLinear(
      ctx,
      uniformLinear(this.policy.head),
      { m: M, n: V, k: D },
      {
        x: hf,
        w: head.p,
        y: logits,
        dy: logits,
        dw: head.g,
        dx: dh,
      },
      "lm_head",
    );
    linears.push(headLinear);
    forward.push(
      k.norm.forward({ x, g: normF.p, y: hf, rstd: rstdf }, { rows: M }),
      ...headLinear.forward,
      k.xent.bind({ logits, targets: this.#targets, loss, correct, metrics: this.#metrics }, {
        rows: M,
      }),
    );
    backward.unshift(
      ...headLinear.backward,
      k.norm.backward(
        { x, g: normF.p, rstd: rstdf, dy: dh, dx: gres, dg: normF.g, scratch: normScratch },
        { rows: M },
      ),
    );
    backward.push(
      ew.fill({ y: wte.g }, { n: wte.size }),
      k.embedding.backward(
        { index: this.#embIndex, dOut: gres, dTable: wte.g, scratch: embScratch },
        { tokens: M, vocab: V },
      ),
    );
    const grads = this.params.map((p) => ({ grad: p.g, size: p.size }));
    const update = [
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
    this.#train = [...forward, ...backward, ...update];
    this.#eval = forward;
    this.#linears = linears;
    this.#phase = phase;
    this.#building = false;
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

  #submit(ops: BoundOp[]): void {
    const enc = this.#gpu.device.createCommandEncoder({ label: "lpbench step" });
    const pass = enc.beginComputePass();
    for (const o of ops) o.encode(pass);
    pass.end();
    this.#gpu.device.queue.submit([enc.finish()]);
  }

  /**
   * Records and submits one training step (forward, backward, clipping, AdamW) at `step` (1-based)
   * with learning rate `lr`. Nothing is read back; see {@link readMetrics}.
   */
  async step(
    batch: { inputs: Uint32Array; targets: Uint32Array },
    step: number,
    lr: number,
  ): Promise<void> {
    const phase = this.#phaseAt(step);
    if (phase !== this.#phase) await this.#build(phase);
    this.#upload(batch, true);
    this.#gpu.device.queue.writeBuffer(this.#hyper, 0, adamwHyper(lr, step));
    for (const l of this.#linears) l.setStep(this.step_.seed, step);
    this.#submit(this.#train);
  }

  /** Runs the forward pass and the loss on a batch without updating anything; returns metrics. */
  async evaluate(batch: { inputs: Uint32Array; targets: Uint32Array }): Promise<StepMetrics> {
    this.#upload(batch, false);
    this.#submit(this.#eval);
    return await this.readMetrics();
  }

  /** Reads the loss and accuracy of the last step or evaluation and the last gradient norm. */
  async readMetrics(): Promise<StepMetrics> {
    const device = this.#gpu.device;
    const [m, c] = await Promise.all([
      readBuffer(device, this.#metrics, XENT_METRICS_BYTES),
      readBuffer(device, this.#clipOut, CLIP_BYTES),
    ]);
    const metrics = new Float32Array(m);
    return { loss: metrics[0], accuracy: metrics[1], gradNorm: new Float32Array(c)[0] };
  }

  /** Reads a parameter (or its gradient / moments) back. */
  async read(name: string, which: "p" | "g" | "m" | "v" = "p"): Promise<Float32Array> {
    const p = this.params.find((q) => q.spec.name === name);
    if (!p) throw new RangeError(`unknown parameter ${JSON.stringify(name)}`);
    return new Float32Array(await readBuffer(this.#gpu.device, p[which], p.size * 4));
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
    for (const o of [...this.#train, ...this.#eval]) o.destroy();
    for (const b of [...this.#buffers, ...this.#buildBuffers]) b.destroy();
  }
}
