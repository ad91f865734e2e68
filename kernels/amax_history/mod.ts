/**
 * The delayed-scaling update on the GPU (TransformerEngine's `DelayedScaling`): after a step's
 * quantizer wrote its amax, one dispatch rolls the tensor's amax history and writes the scale its
 * quantizer uses at the next step, so a training step needs no readback for it. The buffer layout
 * and the CPU reference are in `./reference.ts`, the WGSL in `./wgsl.ts`.
 *
 * @module
 */

import { createBufferFrom, readBuffer } from "../../src/gpu/buffers.ts";
import { getGpu, type Gpu } from "../../src/gpu/device.ts";
import { type BoundOp, dispatchOp } from "../../src/gpu/op.ts";
import { bindGroup, pipelineCache } from "../../src/gpu/pipelines.ts";
import { type AmaxHistoryConfig, historyWords } from "./reference.ts";
import { amaxHistoryShader } from "./wgsl.ts";

/** The buffers an update binds. */
export interface AmaxHistoryIo {
  /** The quantizer's stats words; word 0 holds the bits of the step's amax. */
  readonly stats: GPUBuffer;
  /** The tensor's state: {@link historyWords} FP32 words (scale, then history). */
  readonly history: GPUBuffer;
}

/**
 * The compiled update of one configuration.
 *
 * @example
 * ```ts
 * import { getGpu } from "../../src/gpu/device.ts";
 * import { AmaxHistoryKernel } from "./mod.ts";
 * const cfg = { element: "e4m3", historyLength: 16, algo: "max", margin: 0 } as const;
 * const kernel = await AmaxHistoryKernel.create(await getGpu(), cfg);
 * console.log(kernel.config.historyLength); // 16
 * ```
 */
export class AmaxHistoryKernel {
  /** The configuration compiled for. */
  readonly config: AmaxHistoryConfig;
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;

  private constructor(gpu: Gpu, config: AmaxHistoryConfig, pipeline: GPUComputePipeline) {
    this.#gpu = gpu;
    this.config = config;
    this.#pipeline = pipeline;
  }

  /** Compiles (or fetches from the cache) the update of `config`. */
  static async create(gpu: Gpu, config: AmaxHistoryConfig): Promise<AmaxHistoryKernel> {
    const pipeline = await pipelineCache(gpu.device).getAsync(amaxHistoryShader(config));
    return new AmaxHistoryKernel(gpu, config, pipeline);
  }

  /**
   * Binds the update to a quantizer's stats and a state buffer.
   *
   * @throws {RangeError} when `io.history` holds fewer than {@link historyWords} words
   */
  bind(io: AmaxHistoryIo): BoundOp {
    const need = historyWords(this.config) * 4;
    if (io.history.size < need) {
      throw new RangeError(`io.history holds ${io.history.size} bytes, needs ${need}`);
    }
    const group = bindGroup(this.#gpu.device, this.#pipeline, [
      io.stats,
      { buffer: io.history, offset: 0, size: need },
    ]);
    return dispatchOp([[this.#pipeline, group, 1, 1]], [], "amax history");
  }
}

/**
 * One update on the default adapter: the state `words` after a step whose quantizer saw `amax`;
 * equals `updateHistory` of `./reference.ts` bit for bit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { updateHistoryGpu } from "./mod.ts";
 * const cfg = { element: "e4m3", historyLength: 2, algo: "max", margin: 0 } as const;
 * assert.deepEqual([...await updateHistoryGpu(new Float32Array([1, 0, 0]), 224, cfg)], [2, 0, 224]);
 * ```
 */
export async function updateHistoryGpu(
  words: Float32Array,
  amax: number,
  cfg: AmaxHistoryConfig,
): Promise<Float32Array> {
  if (words.length !== historyWords(cfg)) {
    throw new RangeError(`words must hold ${historyWords(cfg)} values, got ${words.length}`);
  }
  const gpu = await getGpu();
  const device = gpu.device;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const stats = createBufferFrom(device, new Float32Array([amax, 0]), usage);
  const history = createBufferFrom(device, words, usage);
  try {
    const op = (await AmaxHistoryKernel.create(gpu, cfg)).bind({ stats, history });
    const encoder = device.createCommandEncoder({ label: "updateHistoryGpu" });
    const pass = encoder.beginComputePass();
    op.encode(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
    return new Float32Array(await readBuffer(device, history, words.length * 4));
  } finally {
    stats.destroy();
    history.destroy();
  }
}
