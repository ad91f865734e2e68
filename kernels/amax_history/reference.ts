/**
 * The contract of the delayed-scaling update (TransformerEngine's `DelayedScaling`, NUMERICS.md
 * §8.3): what the kernel is configured with ({@link AmaxHistoryConfig}), the layout of the buffer
 * that keeps one tensor's state on the GPU (and in checkpoints), and the CPU reference of one
 * update, which is `DelayedScaling.record` of `src/formats/fp8.ts`.
 *
 * The state buffer holds `1 + historyLength` FP32 words: the scale the tensor's quantizer uses
 * next, then the amax history in TE's layout (see `DelayedScaling`). A step's quantizer reads the
 * scale (word 0) and writes its amax into its stats words; the update reads that amax, rolls the
 * history and writes the next step's scale.
 *
 * @module
 */

import { DelayedScaling, type ResolvedDelayedOptions } from "../../src/formats/fp8.ts";
import { delayedScalingOf, type ResolvedFormat } from "../../src/formats/spec.ts";

/**
 * The update's configuration: the FP8 element and TE's delayed-scaling options.
 *
 * @example
 * ```ts
 * import type { AmaxHistoryConfig } from "./reference.ts";
 * const cfg: AmaxHistoryConfig = { element: "e4m3", historyLength: 16, algo: "max", margin: 0 };
 * ```
 */
export interface AmaxHistoryConfig extends ResolvedDelayedOptions {
  /** The FP8 element the scale maps the amax onto (its largest finite value). */
  readonly element: "e4m3" | "e5m2";
}

/**
 * The update configuration of a format with delayed scaling; undefined for any other format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { amaxHistoryConfig } from "./reference.ts";
 * import { resolveFormat } from "../../src/formats/spec.ts";
 * const f = resolveFormat({ kind: "fp8", element: "e5m2", scaling: { delayed: { historyLength: 8 } } });
 * assert.deepEqual(amaxHistoryConfig(f), { element: "e5m2", historyLength: 8, algo: "max", margin: 0 });
 * assert.equal(amaxHistoryConfig(resolveFormat("fp8-e4m3")), undefined);
 * ```
 */
export function amaxHistoryConfig(f: ResolvedFormat): AmaxHistoryConfig | undefined {
  const delayed = delayedScalingOf(f);
  if (!delayed || f.kind !== "fp8") return undefined;
  return { element: f.element, ...delayed.options };
}

/**
 * FP32 words of a state buffer: the scale, then the history.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyWords } from "./reference.ts";
 * assert.equal(historyWords({ element: "e4m3", historyLength: 1024, algo: "max", margin: 0 }), 1025);
 * ```
 */
export function historyWords(cfg: AmaxHistoryConfig): number {
  return 1 + cfg.historyLength;
}

/**
 * The words of a fresh state: scale 1 (TE's initial scale), an empty (zero) history.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initialHistory } from "./reference.ts";
 * const cfg = { element: "e4m3", historyLength: 2, algo: "max", margin: 0 } as const;
 * assert.deepEqual([...initialHistory(cfg)], [1, 0, 0]);
 * ```
 */
export function initialHistory(cfg: AmaxHistoryConfig): Float32Array<ArrayBuffer> {
  return new DelayedScaling(cfg.element, cfg).toWords();
}

/**
 * The CPU reference of one update: the state `words` after a step whose quantizer saw `amax`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initialHistory, updateHistory } from "./reference.ts";
 * const cfg = { element: "e4m3", historyLength: 2, algo: "max", margin: 1 } as const;
 * assert.deepEqual([...updateHistory(initialHistory(cfg), 112, cfg)], [2, 0, 112]);
 * ```
 */
export function updateHistory(
  words: Float32Array,
  amax: number,
  cfg: AmaxHistoryConfig,
): Float32Array {
  const state = DelayedScaling.fromWords(cfg.element, cfg, words);
  state.record(amax);
  return state.toWords();
}
