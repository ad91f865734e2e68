/**
 * Model configuration: a decoder whose blocks follow a Nemotron-H style layer pattern — `M` a
 * Mamba-2 block, `*` an attention block, `-` an MLP block (each pre-norm RMSNorm with a residual
 * connection) — with RoPE, untied embeddings and no biases in the linear layers. GPT-2 style is
 * `"*-*-*-"` (attention and MLP alternating); the NVFP4 paper's 12B model is a hybrid such as
 * `"M-M-M*-M-M-M*-"` (NUMERICS.md §6.2).
 *
 * @module
 */

/** MLP activations. */
export type Activation = "relu2" | "gelu" | "swiglu";

/**
 * The Mamba-2 mixer's shape (Dao & Gu 2024, "Transformers are SSMs", §7; mamba_ssm's `Mamba2`
 * arguments). Nemotron-H 8B uses d_state 128, head_dim 64, expand 2, n_groups 8, window 4.
 */
export interface MambaConfig {
  /** SSM state size N per head (default 64). */
  readonly dState?: number;
  /** Channels per SSM head P (default 32). */
  readonly headDim?: number;
  /** Inner width d_inner = expand · d_model (default 2). */
  readonly expand?: number;
  /** Groups sharing B and C (and the gated norm's groups); divides the heads (default 1). */
  readonly nGroups?: number;
  /** Causal depthwise convolution window (default 4). */
  readonly convWindow?: number;
}

/** A model configuration. */
export interface ModelConfig {
  /** Blocks: `M` Mamba-2, `*` attention, `-` MLP. */
  readonly pattern: string;
  /** Width of the residual stream d_model. */
  readonly dModel: number;
  /** Attention heads; divides `dModel`. */
  readonly heads: number;
  /** Hidden width of the MLP blocks d_ff (SwiGLU's fc1 has twice as many outputs). */
  readonly dFf: number;
  /** Tokens per sequence. */
  readonly seqLen: number;
  /** Vocabulary size (rows of the embedding and of the LM head). */
  readonly vocab: number;
  /** The MLP blocks' activation. */
  readonly mlp: Activation;
  /** Std of the normal init of weight matrices (default 0.02, GPT-2). */
  readonly initStd?: number;
  /** The Mamba-2 blocks' shape (used where the pattern has `M`). */
  readonly mamba?: MambaConfig;
}

/** Block kinds in pattern order. */
export type BlockKind = "attention" | "mlp" | "mamba";

const KIND_OF: Readonly<Record<string, BlockKind>> = { "*": "attention", "-": "mlp", M: "mamba" };

/** The block kinds of a pattern. */
export function blockKinds(pattern: string): BlockKind[] {
  return [...pattern].map((c) => KIND_OF[c]);
}

/** The linear layers of each block kind, in the order a block runs them. */
export const BLOCK_LINEARS = {
  attention: ["qkv", "proj"],
  mlp: ["fc1", "fc2"],
  mamba: ["in_proj", "out_proj"],
} as const satisfies Readonly<Record<BlockKind, readonly string[]>>;

/** The role of a linear layer within its block (`qkv`, `fc2`, `out_proj`, …). */
export type LinearRole = (typeof BLOCK_LINEARS)[BlockKind][number];

/** One linear layer of the blocks of a pattern. */
export interface LinearLayer {
  /** Its name in records, plans and per-layer selectors: `blocks.<block>.<role>`. */
  readonly name: string;
  /** The index of its block in the pattern. */
  readonly block: number;
  /** Its block's kind. */
  readonly kind: BlockKind;
  readonly role: LinearRole;
}

/**
 * Every linear layer of a pattern's blocks in model order (the LM head is not among them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linearLayers } from "./config.ts";
 * assert.deepEqual(linearLayers("*M").map((l) => l.name), [
 *   "blocks.0.qkv", "blocks.0.proj", "blocks.1.in_proj", "blocks.1.out_proj",
 * ]);
 * ```
 */
export function linearLayers(pattern: string): LinearLayer[] {
  return blockKinds(pattern).flatMap((kind, block) =>
    BLOCK_LINEARS[kind].map((role) => ({ name: `blocks.${block}.${role}`, block, kind, role }))
  );
}

/**
 * Block counts of a pattern in words, Mamba-2 first where there are any.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeBlocks } from "./config.ts";
 * assert.equal(describeBlocks("*-*-"), "2 attention and 2 MLP blocks");
 * assert.equal(describeBlocks("M-M*-"), "2 Mamba-2, 1 attention and 2 MLP blocks");
 * ```
 */
export function describeBlocks(pattern: string): string {
  const kinds = blockKinds(pattern);
  const count = (k: BlockKind) => kinds.filter((x) => x === k).length;
  const mamba = count("mamba");
  return `${mamba > 0 ? `${mamba} Mamba-2, ` : ""}${count("attention")} attention and ` +
    `${count("mlp")} MLP blocks`;
}

/**
 * The Mamba-2 shape of a configuration in words, or undefined where the pattern has no `M`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeMamba } from "./config.ts";
 * const cfg = { pattern: "M-", dModel: 64, heads: 2, dFf: 128, seqLen: 8, vocab: 64, mlp: "relu2" } as const;
 * assert.equal(
 *   describeMamba(cfg),
 *   "Mamba-2 d_state 64, head_dim 32 (4 heads), expand 2 (d_inner 128), 1 group, conv window 4",
 * );
 * ```
 */
export function describeMamba(c: ModelConfig): string | undefined {
  if (!c.pattern.includes("M")) return undefined;
  const m = mambaDims(c);
  return `Mamba-2 d_state ${m.dState}, head_dim ${m.headDim} (${m.heads} heads), expand ` +
    `${m.dInner / c.dModel} (d_inner ${m.dInner}), ${m.groups} group${m.groups > 1 ? "s" : ""}, ` +
    `conv window ${m.window}`;
}

/**
 * The derived widths of a Mamba-2 block: `in_proj` maps d_model to
 * `[z (dInner) | x (dInner) | B (nGroups·dState) | C (nGroups·dState) | dt (heads)]`, the causal
 * convolution runs over the `convChannels = dInner + 2·nGroups·dState` channels `[x | B | C]`.
 */
export interface MambaDims {
  /** Inner width `expand · d_model`. */
  readonly dInner: number;
  /** SSM heads `dInner / headDim`. */
  readonly heads: number;
  /** Channels per SSM head. */
  readonly headDim: number;
  /** SSM state size per head. */
  readonly dState: number;
  /** Groups sharing B and C. */
  readonly groups: number;
  /** The causal convolution's window. */
  readonly window: number;
  /** Channels of the convolution: `dInner + 2·groups·dState`. */
  readonly convChannels: number;
  /** Rows of `in_proj`: `2·dInner + 2·nGroups·dState + heads`. */
  readonly inProj: number;
}

/**
 * The Mamba-2 widths of a configuration (defaults filled in).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mambaDims } from "./config.ts";
 * const cfg = { pattern: "M-", dModel: 256, heads: 4, dFf: 512, seqLen: 64, vocab: 256, mlp: "relu2" } as const;
 * const m = mambaDims(cfg);
 * assert.deepEqual([m.dInner, m.heads, m.convChannels, m.inProj], [512, 16, 640, 1168]);
 * ```
 */
export function mambaDims(c: ModelConfig): MambaDims {
  const dState = c.mamba?.dState ?? 64;
  const headDim = c.mamba?.headDim ?? 32;
  const groups = c.mamba?.nGroups ?? 1;
  const dInner = (c.mamba?.expand ?? 2) * c.dModel;
  const heads = dInner / headDim;
  const convChannels = dInner + 2 * groups * dState;
  return {
    dInner,
    heads,
    headDim,
    dState,
    groups,
    window: c.mamba?.convWindow ?? 4,
    convChannels,
    inProj: dInner + convChannels + heads,
  };
}

/**
 * Checks a configuration, throwing a RangeError/TypeError that names the field and value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateModelConfig } from "./config.ts";
 * assert.throws(
 *   () => validateModelConfig({ pattern: "*-x", dModel: 64, heads: 4, dFf: 128, seqLen: 32, vocab: 256, mlp: "relu2" }),
 *   /model.pattern/,
 * );
 * ```
 */
export function validateModelConfig(c: ModelConfig): void {
  if (typeof c.pattern !== "string" || !/^[*\-M]+$/.test(c.pattern)) {
    throw new TypeError(
      `model.pattern must be a non-empty string of "M" (Mamba-2), "*" (attention) and "-" (MLP), ` +
        `got ${JSON.stringify(c.pattern)}`,
    );
  }
  const positive = (name: string, v: number, multiple = 1) => {
    if (!Number.isInteger(v) || v <= 0 || v % multiple !== 0) {
      throw new RangeError(
        `model.${name} must be a positive integer${
          multiple > 1 ? ` divisible by ${multiple}` : ""
        }, got ${v}`,
      );
    }
  };
  positive("dModel", c.dModel, 16);
  positive("heads", c.heads);
  positive("dFf", c.dFf, 16);
  positive("seqLen", c.seqLen);
  positive("vocab", c.vocab);
  if (c.dModel % c.heads !== 0 || (c.dModel / c.heads) % 2 !== 0 || c.dModel / c.heads > 128) {
    throw new RangeError(
      `model.heads must divide model.dModel into an even head size of at most 128, got ` +
        `${c.heads} heads for dModel ${c.dModel}`,
    );
  }
  if (!["relu2", "gelu", "swiglu"].includes(c.mlp)) {
    throw new TypeError(
      `model.mlp must be "relu2", "gelu" or "swiglu", got ${JSON.stringify(c.mlp)}`,
    );
  }
  if (c.pattern.includes("M")) validateMamba(c);
}

/**
 * The Mamba-2 checks of {@link validateModelConfig}: a RangeError whose message starts with
 * `model.mamba`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateMamba } from "./config.ts";
 * const cfg = { pattern: "M-", dModel: 64, heads: 2, dFf: 128, seqLen: 8, vocab: 64, mlp: "relu2" } as const;
 * assert.throws(() => validateMamba({ ...cfg, mamba: { headDim: 48 } }), /model.mamba.headDim/);
 * ```
 */
export function validateMamba(c: ModelConfig): void {
  const m = mambaDims(c);
  const positive = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(`model.mamba.${name} must be a positive integer, got ${v}`);
    }
  };
  positive("dState", m.dState);
  positive("headDim", m.headDim);
  positive("expand", c.mamba?.expand ?? 2);
  positive("nGroups", m.groups);
  positive("convWindow", m.window);
  if (!Number.isInteger(m.heads)) {
    throw new RangeError(
      `model.mamba.headDim must divide d_inner = expand · dModel = ${m.dInner}, got ${m.headDim}`,
    );
  }
  if (m.heads % m.groups !== 0) {
    throw new RangeError(
      `model.mamba.nGroups must divide the ${m.heads} Mamba heads (d_inner / headDim), got ` +
        `${m.groups}`,
    );
  }
  if (m.inProj % 16 !== 0) {
    throw new RangeError(
      `model.mamba: in_proj width 2·d_inner + 2·n_groups·d_state + heads = 2·${m.dInner} + ` +
        `2·${m.groups}·${m.dState} + ${m.heads} = ${m.inProj} must be a multiple of 16 (the ` +
        `quantizers' blocks); change head_dim, d_state or n_groups`,
    );
  }
}

/**
 * How a parameter starts: normal with a std, constant 1 (norm gains, Mamba's D), uniform in
 * `[low, high)` (the convolution, PyTorch's Conv1d default bound 1/√window), `log(uniform)` (Mamba's
 * A_log, A ∈ [1, 16)), or Mamba's dt bias: the inverse softplus of a dt drawn log-uniformly in
 * `[min, max)` and floored at 1e-4 (Gu & Dao 2023 §3.6; mamba_ssm's `dt_min`, `dt_max`).
 */
export type ParamInit =
  | { readonly normal: number }
  | { readonly ones: true }
  | { readonly uniform: readonly [number, number] }
  | { readonly logUniform: readonly [number, number] }
  | { readonly dtBias: readonly [number, number] };

/** A named parameter tensor. */
export interface ParamSpec {
  /** `wte`, `blocks.<i>.<name>`, `norm_f` or `lm_head` (see {@link paramSpecs}). */
  readonly name: string;
  /** Row-major shape; matrices are `[outputs, inputs]`. */
  readonly shape: readonly number[];
  /** Weight decay applies (matrices, the convolution's weight), or not (gains, biases, A, D). */
  readonly decay: boolean;
  /** How the parameter is initialised (see init.ts). */
  readonly init: ParamInit;
}

/**
 * The model's parameters in a fixed order. Names: `wte`, `blocks.<i>.norm`, attention blocks
 * `blocks.<i>.qkv` [3d, d] and `blocks.<i>.proj` [d, d], MLP blocks `blocks.<i>.fc1` [f or 2f, d]
 * and `blocks.<i>.fc2` [d, f], Mamba-2 blocks `blocks.<i>.in_proj` [inProj, d], `conv_w`
 * [convChannels, window], `conv_b` [convChannels], `dt_bias`, `A_log`, `D` [heads],
 * `mixer_norm` [dInner] and `out_proj` [d, dInner] (see {@link mambaDims}), then `norm_f` and
 * `lm_head` [vocab, d]. Output projections (`proj`, `fc2`, `out_proj`) start with
 * std / √(2·blocks) as in GPT-2.
 */
export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const std = c.initStd ?? 0.02;
  const kinds = blockKinds(c.pattern);
  const outStd = std / Math.sqrt(2 * kinds.length);
  const d = c.dModel;
  const specs: ParamSpec[] = [{
    name: "wte",
    shape: [c.vocab, d],
    decay: true,
    init: { normal: std },
  }];
  kinds.forEach((kind, i) => {
    const p = `blocks.${i}`;
    specs.push({ name: `${p}.norm`, shape: [d], decay: false, init: { ones: true } });
    if (kind === "attention") {
      specs.push({ name: `${p}.qkv`, shape: [3 * d, d], decay: true, init: { normal: std } });
      specs.push({ name: `${p}.proj`, shape: [d, d], decay: true, init: { normal: outStd } });
    } else if (kind === "mamba") {
      specs.push(...mambaSpecs(c, p, std, outStd));
    } else {
      const up = c.mlp === "swiglu" ? 2 * c.dFf : c.dFf;
      specs.push({ name: `${p}.fc1`, shape: [up, d], decay: true, init: { normal: std } });
      specs.push({ name: `${p}.fc2`, shape: [d, c.dFf], decay: true, init: { normal: outStd } });
    }
  });
  specs.push({ name: "norm_f", shape: [d], decay: false, init: { ones: true } });
  specs.push({ name: "lm_head", shape: [c.vocab, d], decay: true, init: { normal: std } });
  return specs;
}

/** The parameters of Mamba-2 block `p` after its pre-norm (see {@link paramSpecs}). */
function mambaSpecs(c: ModelConfig, p: string, std: number, outStd: number): ParamSpec[] {
  const m = mambaDims(c);
  const convBound = 1 / Math.sqrt(m.window);
  return [
    { name: `${p}.in_proj`, shape: [m.inProj, c.dModel], decay: true, init: { normal: std } },
    {
      name: `${p}.conv_w`,
      shape: [m.convChannels, m.window],
      decay: true,
      init: { uniform: [-convBound, convBound] },
    },
    {
      name: `${p}.conv_b`,
      shape: [m.convChannels],
      decay: false,
      init: { uniform: [-convBound, convBound] },
    },
    { name: `${p}.dt_bias`, shape: [m.heads], decay: false, init: { dtBias: [1e-3, 1e-1] } },
    { name: `${p}.A_log`, shape: [m.heads], decay: false, init: { logUniform: [1, 16] } },
    { name: `${p}.D`, shape: [m.heads], decay: false, init: { ones: true } },
    { name: `${p}.mixer_norm`, shape: [m.dInner], decay: false, init: { ones: true } },
    { name: `${p}.out_proj`, shape: [c.dModel, m.dInner], decay: true, init: { normal: outStd } },
  ];
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
