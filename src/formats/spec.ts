/**
 * Quantization formats: the names users type and the full specifications behind them.
 *
 * @module
 */

import type { ElementName } from "./elements.ts";
import type { DelayedScaling } from "./fp8.ts";

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

/** FP8 with one FP32 scale per tensor: current scaling (this tensor's amax) or delayed. */
export interface Fp8Spec {
  /** Discriminates the format family. */
  readonly kind: "fp8";
  /** The FP8 element: E4M3 (forward operands) or E5M2 (gradients), saturating. */
  readonly element: "e4m3" | "e5m2";
  /** `current` (default) or the state of a delayed-scaling recipe. */
  readonly scaling?: "current" | DelayedScaling;
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

/** NVFP4: E2M1 elements, E4M3 block scales and an FP32 tensor scale (TE scale chain). */
export interface Nvfp4Spec {
  /** Discriminates the format family. */
  readonly kind: "nvfp4";
  /** `1x16` blocks along rows (default) or `16x16` tiles (weights, NUMERICS.md §2.4). */
  readonly tile?: "1x16" | "16x16";
}

/** A full format specification. */
export type FormatSpec = FloatSpec | Fp8Spec | MxSpec | Nvfp4Spec;

/** A format spec with every default filled in. */
export type ResolvedFormat =
  | FloatSpec
  | {
    readonly kind: "fp8";
    readonly element: "e4m3" | "e5m2";
    readonly scaling: Fp8Spec["scaling"];
  }
  | { readonly kind: "mx"; readonly element: MxSpec["element"]; readonly scaleRule: MxScaleRule }
  | { readonly kind: "nvfp4"; readonly tile: "1x16" | "16x16" };

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
      const scaling = f.scaling ?? "current";
      if (scaling !== "current" && (typeof scaling !== "object" || !("scaleFor" in scaling))) {
        throw new TypeError(
          `format.scaling must be "current" or a DelayedScaling, got ${String(scaling)}`,
        );
      }
      return { kind, element: oneOf("format.element", f.element, ["e4m3", "e5m2"]), scaling };
    }
    case "mx": {
      const f = format as MxSpec;
      return {
        kind,
        element: oneOf("format.element", f.element, ["e2m1", "e4m3", "e5m2"]),
        scaleRule: oneOf("format.scaleRule", f.scaleRule ?? "floor", ["floor", "ceil", "rceil"]),
      };
    }
    case "nvfp4": {
      const f = format as Nvfp4Spec;
      return { kind, tile: oneOf("format.tile", f.tile ?? "1x16", ["1x16", "16x16"]) };
    }
  }
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
  return f.kind === "nvfp4" ? "e2m1" : f.element;
}

/** Storage bits per value, scales included (e.g. 4.5 for NVFP4, 4.25 for MXFP4). */
export function bitsPerValue(f: ResolvedFormat): number {
  const elem = { fp32: 32, bf16: 16, fp16: 16, e4m3: 8, e5m2: 8, e2m1: 4 }[elementOf(f)];
  const [br, bc] = blockShape(f);
  return br === 0 ? elem : elem + 8 / (br * bc);
}
