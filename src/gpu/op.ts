/**
 * The shape every GPU operation takes once bound to its buffers: a few dispatches recorded into a
 * compute pass. A training step is the concatenation of bound ops, recorded into one pass and
 * submitted once.
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
}

/**
 * A uniform buffer holding `words` (u32 or f32 bit patterns), padded to 16 bytes.
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

/** The u32 bit pattern of an FP32 value, for {@link uniformBuffer}. */
export function f32Word(v: number): number {
  return new Uint32Array(new Float32Array([v]).buffer)[0];
}
