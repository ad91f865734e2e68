/**
 * The counter-based hash behind stochastic rounding, identical in TypeScript and WGSL.
 *
 * Random bits for element `index` of tensor `tensorId` at training step `step` under `seed` are a
 * pure function of those four 32-bit words, so results never depend on workgroup geometry,
 * dispatch order or the adapter (ANCHORS.md §0 item 4). Each word is folded in with the
 * "lowbias32" integer finalizer (constants 0x7feb352d / 0x846ca68b, from Chris Wellons' hash
 * prospector, https://nullprogram.com/blog/2018/07/31/).
 *
 * @module
 */

/** The lowbias32 finalizer: a bijection on 32-bit words with strong avalanche. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Golden-ratio constant that keeps an all-zero key away from the finalizer's fixed point 0. */
const KEY_OFFSET = 0x9e3779b9;

/**
 * The 32-bit key of a tensor at a step: `mix32(mix32(mix32(seed + φ) ^ tensorId) ^ step)`.
 * Kernels receive it precomputed and only fold in the element index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { streamKey } from "./rng.ts";
 * assert(streamKey(0, 0, 0) !== streamKey(1, 0, 0));
 * ```
 */
export function streamKey(seed: number, tensorId: number, step: number): number {
  const h = mix32((seed + KEY_OFFSET) >>> 0);
  return mix32((mix32((h ^ tensorId) >>> 0) ^ step) >>> 0);
}

/**
 * The random word for element `index` of a stream: `mix32(key ^ index)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomBits, streamKey } from "./rng.ts";
 * const key = streamKey(42, 7, 3);
 * assert(randomBits(key, 0) === randomBits(key, 0));
 * ```
 */
export function randomBits(key: number, index: number): number {
  return mix32((key ^ index) >>> 0);
}
