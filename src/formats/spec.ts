/**
 * Quantization formats: the names users type and the full specifications behind them.
 *
 * @module
 */

import type { ElementName } from "./elements.ts";
import {
  DelayedScaling,
  type DelayedScalingOptions,
  type ResolvedDelayedOptions,
  resolveDelayedOptions,
} from "./fp8.ts";

/** Named formats accepted everywhere a format is expected. */
export const FORMAT_NAMES = [
  "fp32",
  "bf16",
  "fp16",
  "fp8-e4m3",
  "fp8-e5m2",
  "mxfp8-e4m3",
  "mxfp8-e5m2",
  "mxfp4",
  "nvfp4",
  "nvfp4-2d",
  "nvint4",
  "nvint4-2d",
  "ufp4",
  "ufp4-2d",
] as const;

/** A named format. */
export type FormatName = typeof FORMAT_NAMES[number];

/** E8M0 scale rules of the MX formats (NUMERICS.md §7, §8.2). */
export type MxScaleRule = "floor" | "ceil" | "rceil";

/** Plain element formats without scaling. */
export interface FloatSpec {
  /** Discriminates the format family. */
  readonly kind: "float";
  /** The element format (round to nearest even; fp32 leaves values as they are). */
  readonly element: "fp32" | "bf16" | "fp16";
}

/**
 * FP8 with one FP32 scale per tensor: current scaling (this tensor's amax) or delayed (TE's
 * `DelayedScaling`: the scale comes from a history of earlier amaxes, src/formats/fp8.ts).
 */
export interface Fp8Spec {
  /** Discriminates the format family. */
  readonly kind: "fp8";
  /** The FP8 element: E4M3 (forward operands) or E5M2 (gradients), saturating. */
  readonly element: "e4m3" | "e5m2";
  /**
   * `current` (default); `{ delayed: options }`, delayed scaling as a policy states it (each
   * quantizer of a training run keeps its own history; quantizing with it alone uses the scale of a
   * fresh history, 1); or the state of one tensor's delayed scaling, whose scale is used.
   */
  readonly scaling?: "current" | { readonly delayed: DelayedScalingOptions } | DelayedScaling;
}

/** OCP MX: 1×32 blocks along rows with one E8M0 scale each. */
export interface MxSpec {
  /** Discriminates the format family. */
  readonly kind: "mx";
  /** The block's element format: E2M1 (MXFP4) or E4M3/E5M2 (MXFP8). */
  readonly element: "e2m1" | "e4m3" | "e5m2";
  /** E8M0 rule: OCP `floor` (default), the paper's `ceil`, or TE/cuBLAS `rceil`. */
  readonly scaleRule?: MxScaleRule;
}

/**
 * "Four Over Six" (arXiv 2512.02010; TransformerEngine's `nvfp4_4over6`, src/formats/four_over_six.ts):
 * each block keeps whichever of its map-to-6 and 1.5× expanded map-to-4 candidates has the smaller
 * error.
 */
export interface FourOverSix {
  /** How the candidates' errors are summed: absolute (`mae`, TE's default) or squared (`mse`). */
  readonly error: "mae" | "mse";
  /** The E4M3 bound of the tensor scale, `S_enc = 6 · bound / amax`: 256 (TE's default) or 448. */
  readonly scaleBound: 256 | 448;
}

/**
 * The element grid of an NVFP4-style format: E2M1 (NVFP4 itself), or a uniform 4-bit grid (UFP4,
 * arXiv 2606.20381): `int4` (−7…7, the NVINT4 of arXiv 2510.25602) or `e1m2` (0…1.75 in steps of
 * 0.25; src/formats/elements.ts). The scale chain is NVFP4's with the grid's largest value in place
 * of E2M1's 6 (src/formats/nvfp4_scales.ts).
 */
export type Nvfp4Element = "e2m1" | "int4" | "e1m2";

/**
 * NVFP4: E2M1 elements (or a uniform 4-bit grid), E4M3 block scales and an FP32 tensor scale (TE
 * scale chain).
 */
export interface Nvfp4Spec {
  /** Discriminates the format family. */
  readonly kind: "nvfp4";
  /** The element grid (default `e2m1`); see {@link Nvfp4Element}. */
  readonly element?: Nvfp4Element;
  /** `1x16` blocks along rows (default) or `16x16` tiles (weights, NUMERICS.md §2.4). */
  readonly tile?: "1x16" | "16x16";
  /** Four Over Six block scales (E2M1 only); a missing field takes TE's default (`mae`, 256). */
  readonly fourOverSix?: Partial<FourOverSix>;
  /**
   * One FP32 amax, hence one tensor scale, per row instead of per tensor (TE's
   * `row_scaled_activation`); 1×16 blocks only.
   */
  readonly rowScaled?: boolean;
}

/**
 * NVFP4 with every default filled in; the options appear only where they are on, and the element
 * only where it is not E2M1 (so NVFP4's canonical form, and its run ids, stay as they were).
 */
export interface ResolvedNvfp4 {
  /** Discriminates the format family. */
  readonly kind: "nvfp4";
  /** A uniform element grid; absent for E2M1. */
  readonly element?: "int4" | "e1m2";
  /** Block shape. */
  readonly tile: "1x16" | "16x16";
  /** Four Over Six block scales. */
  readonly fourOverSix?: FourOverSix;
  /** One tensor scale per row. */
  readonly rowScaled?: true;
}

/** A full format specification. */
export type FormatSpec = FloatSpec | Fp8Spec | MxSpec | Nvfp4Spec;

/** A format spec with every default filled in. */
export type ResolvedFormat =
  | FloatSpec
  | {
    readonly kind: "fp8";
    readonly element: "e4m3" | "e5m2";
    readonly scaling: "current" | { readonly delayed: ResolvedDelayedOptions } | DelayedScaling;
  }
  | { readonly kind: "mx"; readonly element: MxSpec["element"]; readonly scaleRule: MxScaleRule }
  | ResolvedNvfp4;

const NAMED: Readonly<Record<FormatName, ResolvedFormat>> = {
  "fp32": { kind: "float", element: "fp32" },
  "bf16": { kind: "float", element: "bf16" },
  "fp16": { kind: "float", element: "fp16" },
  "fp8-e4m3": { kind: "fp8", element: "e4m3", scaling: "current" },
  "fp8-e5m2": { kind: "fp8", element: "e5m2", scaling: "current" },
  "mxfp8-e4m3": { kind: "mx", element: "e4m3", scaleRule: "floor" },
  "mxfp8-e5m2": { kind: "mx", element: "e5m2", scaleRule: "floor" },
  "mxfp4": { kind: "mx", element: "e2m1", scaleRule: "floor" },
  "nvfp4": { kind: "nvfp4", tile: "1x16" },
  "nvfp4-2d": { kind: "nvfp4", tile: "16x16" },
  "nvint4": { kind: "nvfp4", element: "int4", tile: "1x16" },
  "nvint4-2d": { kind: "nvfp4", element: "int4", tile: "16x16" },
  "ufp4": { kind: "nvfp4", element: "e1m2", tile: "1x16" },
  "ufp4-2d": { kind: "nvfp4", element: "e1m2", tile: "16x16" },
};

function oneOf<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new TypeError(
    `${what} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${
      JSON.stringify(value) ?? String(value)
    }`,
  );
}

/**
 * Resolves a format name or spec into a complete spec, checking every field.
 *
 * @throws {TypeError} for unknown names, kinds or fields
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveFormat } from "./spec.ts";
 * assert(resolveFormat("mxfp4").kind === "mx");
 * ```
 */
export function resolveFormat(format: FormatName | FormatSpec): ResolvedFormat {
  if (typeof format === "string") return NAMED[oneOf("format", format, FORMAT_NAMES)];
  if (typeof format !== "object" || format === null) {
    throw new TypeError(`format must be a format name or spec, got ${String(format)}`);
  }
  const kind = oneOf("format.kind", format.kind, ["float", "fp8", "mx", "nvfp4"] as const);
  switch (kind) {
    case "float": {
      const f = format as FloatSpec;
      return { kind, element: oneOf("format.element", f.element, ["fp32", "bf16", "fp16"]) };
    }
    case "fp8": {
      const f = format as Fp8Spec;
      const element = oneOf("format.element", f.element, ["e4m3", "e5m2"] as const);
      const scaling = f.scaling ?? "current";
      if (scaling === "current" || scaling instanceof DelayedScaling) {
        return { kind, element, scaling };
      }
      if (typeof scaling !== "object" || scaling === null || !("delayed" in scaling)) {
        throw new TypeError(
          `format.scaling must be "current", { delayed: {...} } or a DelayedScaling, got ${
            JSON.stringify(scaling) ?? String(scaling)
          }`,
        );
      }
      return { kind, element, scaling: { delayed: resolveDelayedOptions(scaling.delayed) } };
    }
    case "mx": {
      const f = format as MxSpec;
      return {
        kind,
        element: oneOf("format.element", f.element, ["e2m1", "e4m3", "e5m2"]),
        scaleRule: oneOf("format.scaleRule", f.scaleRule ?? "floor", ["floor", "ceil", "rceil"]),
      };
    }
    case "nvfp4":
      return resolveNvfp4(format as Nvfp4Spec);
  }
}

function resolveNvfp4(f: Nvfp4Spec): ResolvedNvfp4 {
  const tile = oneOf("format.tile", f.tile ?? "1x16", ["1x16", "16x16"] as const);
  const element = oneOf("format.element", f.element ?? "e2m1", ["e2m1", "int4", "e1m2"] as const);
  let fourOverSix: FourOverSix | undefined;
  if (f.fourOverSix !== undefined && element !== "e2m1") {
    throw new TypeError(
      `format.fourOverSix needs E2M1 elements (it chooses between scaling a block to E2M1's 4 or ` +
        `6), got element ${JSON.stringify(element)}`,
    );
  }
  if (f.fourOverSix !== undefined) {
    const o = f.fourOverSix;
    if (typeof o !== "object" || o === null) {
      throw new TypeError(`format.fourOverSix must be an object, got ${String(o)}`);
    }
    const bound = o.scaleBound ?? 256;
    if (bound !== 256 && bound !== 448) {
      throw new TypeError(`format.fourOverSix.scaleBound must be 256 or 448, got ${String(bound)}`);
    }
    const error = oneOf("format.fourOverSix.error", o.error ?? "mae", ["mae", "mse"] as const);
    fourOverSix = { error, scaleBound: bound };
  }
  if (f.rowScaled !== undefined && typeof f.rowScaled !== "boolean") {
    throw new TypeError(`format.rowScaled must be a boolean, got ${String(f.rowScaled)}`);
  }
  if (f.rowScaled && tile !== "1x16") {
    throw new TypeError(
      "format.rowScaled needs 1x16 blocks: a row amax cannot scale a 16×16 tile that spans 16 rows",
    );
  }
  return {
    kind: "nvfp4",
    ...(element !== "e2m1" ? { element } : {}),
    tile,
    ...(fourOverSix ? { fourOverSix } : {}),
    ...(f.rowScaled ? { rowScaled: true as const } : {}),
  };
}

/**
 * Delayed FP8 scaling of a format: its options and the scale a quantizer uses now (the state's,
 * or 1, a fresh history's); undefined for any other format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { delayedScalingOf, resolveFormat } from "./spec.ts";
 * const f = resolveFormat({ kind: "fp8", element: "e4m3", scaling: { delayed: { algo: "most_recent" } } });
 * assert.deepEqual(delayedScalingOf(f), {
 *   options: { historyLength: 1024, algo: "most_recent", margin: 0 },
 *   scale: 1,
 * });
 * assert.equal(delayedScalingOf(resolveFormat("fp8-e4m3")), undefined);
 * ```
 */
export function delayedScalingOf(
  f: ResolvedFormat,
): { options: ResolvedDelayedOptions; scale: number } | undefined {
  if (f.kind !== "fp8" || f.scaling === "current") return undefined;
  if (f.scaling instanceof DelayedScaling) {
    return { options: f.scaling.options, scale: f.scaling.scaleFor() };
  }
  return { options: f.scaling.delayed, scale: 1 };
}

/**
 * A short label of a spec's options for plans and reports: NVFP4's `+4over6/<error>/<bound>` and
 * `/rows`, FP8's `+delayed/<algo>/len<history length>/margin<margin>`; empty for plain formats.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatOptionsLabel, resolveFormat } from "./spec.ts";
 * const f = resolveFormat({ kind: "nvfp4", fourOverSix: {}, rowScaled: true });
 * assert.equal(formatOptionsLabel(f), "+4over6/mae/256/rows");
 * assert.equal(formatOptionsLabel(resolveFormat("nvfp4")), "");
 * const fp8 = resolveFormat({ kind: "fp8", element: "e5m2", scaling: { delayed: { margin: 1 } } });
 * assert.equal(formatOptionsLabel(fp8), "+delayed/max/len1024/margin1");
 * ```
 */
export function formatOptionsLabel(f: ResolvedFormat): string {
  const delayed = delayedScalingOf(f)?.options;
  if (delayed) {
    return `+delayed/${delayed.algo}/len${delayed.historyLength}/margin${delayed.margin}`;
  }
  if (f.kind !== "nvfp4") return "";
  const fos = f.fourOverSix ? `+4over6/${f.fourOverSix.error}/${f.fourOverSix.scaleBound}` : "";
  return `${fos}${f.rowScaled ? "/rows" : ""}`;
}

/**
 * The family name of an NVFP4-style format by its element grid: `nvfp4` (E2M1), `nvint4` (INT4) or
 * `ufp4` (E1M2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4Family } from "./spec.ts";
 * assert.equal(nvfp4Family({ kind: "nvfp4", tile: "16x16" }), "nvfp4");
 * assert.equal(nvfp4Family({ kind: "nvfp4", element: "int4", tile: "1x16" }), "nvint4");
 * assert.equal(nvfp4Family({ kind: "nvfp4", element: "e1m2", tile: "16x16" }), "ufp4");
 * ```
 */
export function nvfp4Family(f: ResolvedNvfp4): "nvfp4" | "nvint4" | "ufp4" {
  return f.element === "int4" ? "nvint4" : f.element === "e1m2" ? "ufp4" : "nvfp4";
}

/** Block shape `[rows, cols]` of a format's scales; `[0, 0]` for per-tensor or unscaled formats. */
export function blockShape(f: ResolvedFormat): readonly [number, number] {
  switch (f.kind) {
    case "nvfp4":
      return f.tile === "16x16" ? [16, 16] : [1, 16];
    case "mx":
      return [1, 32];
    default:
      return [0, 0];
  }
}

/** The element codec a format stores its values in. */
export function elementOf(f: ResolvedFormat): ElementName | "fp32" {
  return f.kind === "nvfp4" ? f.element ?? "e2m1" : f.element;
}

/** Storage bits per value, scales included (e.g. 4.5 for NVFP4, NVINT4 and UFP4, 4.25 for MXFP4). */
export function bitsPerValue(f: ResolvedFormat): number {
  const elem = { fp32: 32, bf16: 16, fp16: 16, e4m3: 8, e5m2: 8, e2m1: 4, int4: 4, e1m2: 4 }[
    elementOf(f)
  ];
  const [br, bc] = blockShape(f);
  return br === 0 ? elem : elem + 8 / (br * bc);
}
