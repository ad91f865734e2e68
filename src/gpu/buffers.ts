/**
 * GPU buffer helpers: creation from host data, creation zero-filled, and read-back.
 *
 * All sizes are padded up to a multiple of 4 bytes (WebGPU copy granularity), minimum 4.
 *
 * @module
 */

/**
 * Rounds `byteLength` up to a multiple of 4, minimum 4.
 *
 * @example
 * ```ts
 * import { paddedSize } from "./buffers.ts";
 * console.log(paddedSize(0), paddedSize(5)); // 4 8
 * ```
 */
export function paddedSize(byteLength: number): number {
  return Math.max(4, Math.ceil(byteLength / 4) * 4);
}

/**
 * Creates a buffer holding a copy of `data` (written through `mappedAtCreation`).
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import { createBufferFrom } from "./buffers.ts";
 * const { device } = await getGpu();
 * const buf = createBufferFrom(device, new Float32Array([1, 2, 3]), GPUBufferUsage.STORAGE, "x");
 * buf.destroy();
 * ```
 */
export function createBufferFrom(
  device: GPUDevice,
  data: ArrayBufferView,
  usage: GPUBufferUsageFlags,
  label?: string,
): GPUBuffer {
  const buffer = device.createBuffer({
    label,
    size: paddedSize(data.byteLength),
    usage,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange()).set(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
  buffer.unmap();
  return buffer;
}

/**
 * Creates a zero-filled buffer of at least `byteLength` bytes.
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import { createEmptyBuffer } from "./buffers.ts";
 * const { device } = await getGpu();
 * const out = createEmptyBuffer(device, 1024, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
 * out.destroy();
 * ```
 */
export function createEmptyBuffer(
  device: GPUDevice,
  byteLength: number,
  usage: GPUBufferUsageFlags,
  label?: string,
): GPUBuffer {
  return device.createBuffer({ label, size: paddedSize(byteLength), usage });
}

/**
 * Copies `byteLength` bytes at `offset` (a multiple of 4) of `buffer`, which needs `COPY_SRC`
 * usage, into a new `ArrayBuffer` through a temporary `MAP_READ` staging buffer.
 *
 * @example
 * ```ts
 * import { getGpu } from "./device.ts";
 * import { createBufferFrom, readBuffer } from "./buffers.ts";
 * const { device } = await getGpu();
 * const buf = createBufferFrom(device, new Uint32Array([7, 8]), GPUBufferUsage.COPY_SRC);
 * console.log(new Uint32Array(await readBuffer(device, buf))); // [7, 8]
 * buf.destroy();
 * ```
 */
export async function readBuffer(
  device: GPUDevice,
  buffer: GPUBuffer,
  byteLength?: number,
  offset = 0,
): Promise<ArrayBuffer> {
  const length = byteLength ?? buffer.size - offset;
  const copySize = Math.min(paddedSize(length), buffer.size - offset);
  const staging = device.createBuffer({
    label: "readBuffer staging",
    size: paddedSize(length),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const encoder = device.createCommandEncoder({ label: "readBuffer" });
    encoder.copyBufferToBuffer(buffer, offset, staging, 0, copySize);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange().slice(0, length);
  } finally {
    staging.destroy();
  }
}
