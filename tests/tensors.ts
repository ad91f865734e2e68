/**
 * Deterministic test tensors for the bit-exactness suites: the distributions the quantizers must
 * survive (normal, log-normal, outliers, sparse, underflowing blocks, E2M1 ties, 1e-30…1e30).
 *
 * @module
 */

import { randomBits, streamKey } from "../src/formats/rng.ts";

/** A seeded uniform generator on [0, 1). */
export function uniform(seed: number): () => number {
  const key = streamKey(seed, 0xdead, 0);
  let i = 0;
  return () => randomBits(key, i++) / 2 ** 32;
}

/** A seeded standard normal generator (Box–Muller). */
export function normal(seed: number): () => number {
  const u = uniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

const fill = (n: number, f: (i: number) => number) =>
  Float32Array.from({ length: n }, (_, i) => Math.fround(f(i)));

/** Named tensor generators; each returns `n` FP32 values (n a multiple of 512). */
export const DISTRIBUTIONS: Record<string, (n: number, seed: number) => Float32Array> = {
  normal: (n, seed) => {
    const g = normal(seed);
    return fill(n, () => g());
  },
  lognormal: (n, seed) => {
    const g = normal(seed);
    const u = uniform(seed + 1);
    return fill(n, () => (u() < 0.5 ? -1 : 1) * Math.exp(2 * g()));
  },
  outliers: (n, seed) => {
    const g = normal(seed);
    const u = uniform(seed + 1);
    return fill(n, () => g() * (u() < 0.01 ? 1e4 : 1));
  },
  sparse: (n, seed) => {
    const g = normal(seed);
    const u = uniform(seed + 1);
    return fill(n, () => (u() < 0.9 ? 0 : g()));
  },
  /** Blocks far below the tensor amax, whose E4M3 scale underflows to 0 or a subnormal. */
  underflow: (n, seed) => {
    const g = normal(seed);
    return fill(n, (i) => {
      if (i === 7) return 3e4;
      const block = Math.floor(i / 32);
      return g() * 10 ** -(block % 8);
    });
  },
  /** E2M1 ties and their FP32 neighbours at block scale 1 (tensor amax 2688 in element 0). */
  ties: (n) => {
    const ties = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 6];
    return fill(n, (i) => {
      if (i === 0) return 2688;
      if (i % 16 === 15) return 6; // every block's amax is 6, so enc_b = 1 where S_enc = 1
      const t = ties[i % ties.length];
      const v = [t, Math.fround(t * (1 + 2 ** -23)), Math.fround(t * (1 - 2 ** -24))][i % 3];
      return (i & 16) ? -v : v;
    });
  },
  /** Magnitudes log-uniform in [1e-30, 1e30], random signs, one range per 32-block. */
  magnitudes: (n, seed) => {
    const u = uniform(seed);
    return fill(n, (i) => {
      const decade = -30 + (Math.floor(i / 32) * 7) % 61;
      return (u() < 0.5 ? -1 : 1) * 10 ** (decade + u());
    });
  },
};
