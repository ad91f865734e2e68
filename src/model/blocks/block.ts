/**
 * What the block kinds (`attention.ts`, `mlp.ts`, `mamba.ts`) have in common. The decoder wraps
 * every block in its pre-norm and residual add; a block maps the normed input `h` to `out` (the
 * decoder adds the residual) and back, and plans its buffers before it is built: its activations
 * by role and its linear layers, listed in the model's buffer plan (`../plan.ts`) and allocated
 * from it.
 *
 * @module
 */

import type { BoundOp } from "../../gpu/op.ts";
import {
  buildLinear,
  type LayerContext,
  linearBuffers,
  type LinearOps,
  type LinearPlan,
  type PlannedBuffer,
} from "../linear.ts";

/** A parameter's value and gradient buffers. */
export interface ParamBuffers {
  /** The parameter's value. */
  readonly p: GPUBuffer;
  /** Its gradient. */
  readonly g: GPUBuffer;
}

/** What one block reads and writes. */
export interface BlockIo {
  /** The block's pre-normed input `[tokens, d_model]`. */
  readonly h: GPUBuffer;
  /** Where the block's output goes `[tokens, d_model]` (the caller adds the residual). */
  readonly out: GPUBuffer;
  /** The gradient of `out` (read). */
  readonly dOut: GPUBuffer;
  /** The gradient of `h` (written). */
  readonly dH: GPUBuffer;
  /** Parameters by their name after `blocks.<i>.` (`qkv`, `fc1`, `in_proj`, … see config.ts). */
  readonly params: (name: string) => ParamBuffers;
}

/** One block's operations, from `h` to `out` and back. */
export interface BlockOps {
  /** The block's forward pass, in execution order (from `h` to `out`). */
  readonly forward: BoundOp[];
  /** The block's backward pass, in execution order (from `dOut` to `dH`). */
  readonly backward: BoundOp[];
  /** The block's linear layers (for their stochastic-rounding keys). */
  readonly linears: LinearOps[];
}

/** A block's planned activations (by role) and linear layers (by name). */
export interface BlockPlan<A extends string, L extends string> {
  /** The activations the block keeps for its backward pass, by role. */
  readonly activations: Readonly<Record<A, PlannedBuffer>>;
  /** The block's policy-controlled linear layers, by name. */
  readonly linears: Readonly<Record<L, LinearPlan>>;
}

/**
 * Every buffer of a planned block: its activations, then its linear layers' operand copies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockBuffers } from "./block.ts";
 * const plan = { activations: { u: { label: "b.u", elements: 8 } }, linears: {} };
 * assert.deepEqual(blockBuffers(plan), [{ label: "b.u", elements: 8 }]);
 * ```
 */
export function blockBuffers(plan: BlockPlan<string, string>): PlannedBuffer[] {
  return [
    ...Object.values(plan.activations),
    ...Object.values(plan.linears).flatMap(linearBuffers),
  ];
}

/** Allocates every buffer of a record of planned buffers through the model's allocator. */
export function allocAll<K extends string>(
  ctx: Pick<LayerContext, "alloc">,
  plan: Readonly<Record<K, PlannedBuffer>>,
): Record<K, GPUBuffer> {
  const entries = Object.entries(plan) as [K, PlannedBuffer][];
  return Object.fromEntries(entries.map(([k, b]) => [k, ctx.alloc(b)])) as Record<K, GPUBuffer>;
}

/** A block's first or last linear layer: its plan, its weight's name and its other buffers. */
export interface BlockLinear<B extends "x" | "y"> {
  /** The layer's plan (from the block's plan). */
  readonly plan: LinearPlan;
  /** The weight's name after `blocks.<i>.`. */
  readonly param: string;
  /** The layer's output (first layer) or input (last layer) and its gradient. */
  readonly buffers: Readonly<Record<B | `d${B}`, GPUBuffer>>;
}

/**
 * Builds a block's first linear layer (reading `h`, its input gradient into `dH`), then its last
 * (writing `out`, reading `dOut`): the two policy-controlled layers every block kind has, in the
 * order their stochastic-rounding tensor ids are drawn.
 */
export async function buildBlockLinears(
  ctx: LayerContext,
  io: BlockIo,
  first: BlockLinear<"y">,
  last: BlockLinear<"x">,
): Promise<[LinearOps, LinearOps]> {
  const w1 = io.params(first.param);
  const w2 = io.params(last.param);
  const { y, dy } = first.buffers;
  const { x, dx } = last.buffers;
  return [
    await buildLinear(ctx, first.plan, { x: io.h, w: w1.p, y, dy, dw: w1.g, dx: io.dH }),
    await buildLinear(ctx, last.plan, { x, w: w2.p, y: io.out, dy: io.dOut, dw: w2.g, dx }),
  ];
}
