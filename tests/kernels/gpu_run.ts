/**
 * Test helper: upload arrays, run bound ops in one pass, read results back.
 *
 * @module
 */

import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import type { BoundOp } from "../../src/gpu/op.ts";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A storage buffer holding `data`. */
export function upload(gpu: Gpu, data: Float32Array | Uint32Array): GPUBuffer {
  return createBufferFrom(gpu.device, data, USAGE);
}

/** A zeroed storage buffer of `n` f32. */
export function zeros(gpu: Gpu, n: number): GPUBuffer {
  return createBufferFrom(gpu.device, new Float32Array(Math.max(n, 1)), USAGE);
}

/** Records `ops` into one compute pass and submits it. */
export function runOps(gpu: Gpu, ops: BoundOp[]): void {
  const enc = gpu.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (const o of ops) o.encode(pass);
  pass.end();
  gpu.device.queue.submit([enc.finish()]);
}

/** Reads `n` f32 from a buffer. */
export async function download(gpu: Gpu, b: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(gpu.device, b, n * 4));
}
