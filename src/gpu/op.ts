/**
 * The shape every GPU operation takes once bound to its buffers: a few dispatches recorded into a
 * compute pass. A training step is the concatenation of bound ops, recorded into one pass and
 * submitted once.
 *
 * Every kernel builds its bound ops with {@link dispatchOp}: a list of {@link Dispatch}es (pipeline,
 * bind group 0, workgroup counts), recorded in list order, and the buffers the op owns (its
 * uniforms and scratch), freed by `destroy`. The order of dispatches is the order of the
 * computation, so it is part of an op's numerics; nothing here reorders or merges them.
 *
 * @module
 */

/**
 * A GPU operation bound to its buffers and dimensions (uniforms and bind groups made once).
 *
 * @example
 * ```ts
 * import type { BoundOp } from "./op.ts";
 * const noop: BoundOp = { dispatches: 0, encode() {}, destroy() {} };
 * noop.encode({} as GPUComputePassEncoder);
 * ```
 */
export interface BoundOp {
  /** Dispatches {@link BoundOp.encode} records. */
  readonly dispatches: number;
  /** Records the operation's dispatches into `pass`; no CPU work beyond that. */
  encode(pass: GPUComputePassEncoder): void;
  /** Frees what {@link BoundOp} owns (uniform buffers), not the bound tensors. */
  destroy(): void;
  /** What the operation is, for step profiles (`gemm matrix`, `quantize`, `attention`, …). */
  readonly kind?: string;
}

/**
 * One recorded dispatch: the pipeline, its bind group 0, and the workgroup counts in x, y and
 * (optionally, default 1) z.
 *
 * @example
 * ```ts
 * import type { Dispatch } from "./op.ts";
 * const one = (pipeline: GPUComputePipeline, group: GPUBindGroup): Dispatch => [pipeline, group, 4, 1];
 * ```
 */
export type Dispatch = readonly [
  pipeline: GPUComputePipeline,
  group: GPUBindGroup,
  x: number,
  y: number,
  z?: number,
];

/**
 * Records `dispatches` into `pass` in order, each as `setPipeline`, `setBindGroup(0, …)`,
 * `dispatchWorkgroups(x, y, z)`.
 *
 * @example
 * ```ts
 * import { encodeDispatches } from "./op.ts";
 * encodeDispatches({} as GPUComputePassEncoder, []); // records nothing
 * ```
 */
export function encodeDispatches(
  pass: GPUComputePassEncoder,
  dispatches: readonly Dispatch[],
): void {
  for (const [pipeline, group, x, y, z = 1] of dispatches) {
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
  }
}

/**
 * The {@link BoundOp} that records `dispatches` in order ({@link encodeDispatches}) and whose
 * `destroy` frees `owned` (the op's uniforms and scratch buffers, never the bound tensors); `kind`
 * names it in step profiles. With no dispatches it is an op that records nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGpu } from "./device.ts";
 * import { dispatchOp, uniformBuffer } from "./op.ts";
 * const { device } = await getGpu();
 * const params = uniformBuffer(device, [1, 2]);
 * const op = dispatchOp([], [params]);
 * assert.equal(op.dispatches, 0);
 * op.destroy(); // destroys params
 * ```
 */
export function dispatchOp(
  dispatches: readonly Dispatch[],
  owned: readonly GPUBuffer[] = [],
  kind?: string,
): BoundOp {
  return {
    ...(kind ? { kind } : {}),
    dispatches: dispatches.length,
    encode: (pass) => encodeDispatches(pass, dispatches),
    destroy: () => owned.forEach((b) => b.destroy()),
  };
}

/**
 * A uniform buffer holding `words` (u32, or f32 bit patterns from `f32Bits` of
 * src/formats/fp32.ts), padded to 16 bytes.
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import { uniformBuffer } from "./op.ts";
 * const { device } = await getGpu();
 * const u = uniformBuffer(device, [3, 4]);
 * u.destroy();
 * ```
 */
export function uniformBuffer(device: GPUDevice, words: ArrayLike<number>): GPUBuffer {
  const data = new Uint32Array(Math.max(4, Math.ceil(words.length / 4) * 4));
  data.set(Array.from(words, (w) => w >>> 0));
  const buffer = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}
