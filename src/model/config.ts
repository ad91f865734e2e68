/**
 * Model configuration: a decoder whose blocks follow a Nemotron-H style layer pattern — `*` an
 * attention block, `-` an MLP block (each pre-norm RMSNorm with a residual connection) — with RoPE,
 * untied embeddings and no biases. GPT-2 style is `"*-*-*-"` (attention and MLP alternating).
 *
 * @module
 */

/** MLP activations. */
export type Activation = "relu2" | "gelu" | "swiglu";

/** A model configuration. */
export interface ModelConfig {
  /** Blocks: `*` attention, `-` MLP. */
  readonly pattern: string;
  readonly dModel: number;
  readonly heads: number;
  readonly dFf: number;
  readonly seqLen: number;
  readonly vocab: number;
  readonly mlp: Activation;
  /** Std of the normal init of weight matrices (default 0.02, GPT-2). */
  readonly initStd?: number;
}

/** Block kinds in pattern order. */
export type BlockKind = "attention" | "mlp";

/** The block kinds of a pattern. */
export function blockKinds(pattern: string): BlockKind[] {
  return [...pattern].map((c) => (c === "*" ? "attention" : "mlp"));
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
  if (typeof c.pattern !== "string" || !/^[*-]+$/.test(c.pattern)) {
    throw new TypeError(
      `model.pattern must be a non-empty string of "*" (attention) and "-" (MLP), got ${
        JSON.stringify(c.pattern)
      }`,
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
}

/** A named parameter tensor. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Weight decay applies (matrices), or not (norm gains). */
  readonly decay: boolean;
  /** Init: normal with this std, or constant 1 (norm gains). */
  readonly init: { readonly normal: number } | { readonly ones: true };
}

/**
 * The model's parameters in a fixed order. Names: `wte`, `blocks.<i>.norm`, attention blocks
 * `blocks.<i>.qkv` [3d, d] and `blocks.<i>.proj` [d, d], MLP blocks `blocks.<i>.fc1` [f or 2f, d]
 * and `blocks.<i>.fc2` [d, f], then `norm_f` and `lm_head` [vocab, d]. Output projections
 * (`proj`, `fc2`) start with std / √(2·blocks) as in GPT-2.
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

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
