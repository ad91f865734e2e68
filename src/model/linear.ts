/**
 * A linear layer Y = X·Wᵀ under a {@link LinearPolicy}: each GEMM operand is fake-quantized
 * (quantize → dequantize, bit-exact to `src/formats/`) in the format and orientation the policy
 * gives, then multiplied by the f32 GEMM with f32 accumulation (NUMERICS.md §5.1):
 *
 * - Fprop `Y = Q(X)·Q(W)ᵀ`, blocks along K;
 * - Dgrad `dX = Q(dY)·Q(W)`, blocks along N: W's columnwise copy (quantized from the transposed
 *   high-precision W) unless quantization commutes with transposition (elementwise formats,
 *   16×16 tiles);
 * - Wgrad `dW = Q(dYᵀ)·Q(Xᵀ)`, blocks (and the RHT) along the token dimension M.
 *
 * Rowwise and columnwise copies are each quantized from the high-precision tensor.
 *
 * Where both operands of a GEMM have an f16 operand (every format but fp32: `src/formats/f16.ts`),
 * the shape fits its tiles and the context has matrix-unit GEMMs (`kernels/gemm_matrix/`, Dawn with
 * subgroup matrices), that GEMM runs on the matrix units: the quantizers write the f16 operands
 * directly (no fake-quant copy) and the GEMM multiplies by the two tensor factors in its epilogue —
 * the fake-quant GEMM's values up to f32 rounding order (for bf16 and MX, values far below the
 * tensor's largest round to f16's subnormal grid; see `src/formats/f16.ts`).
 *
 * Otherwise, where both operands of a GEMM are NVFP4 of one element grid (E2M1, or both INT4 or
 * both E1M2) and the context has a packed NVFP4 GEMM (`kernels/gemm_nvfp4/mod.ts`), that GEMM runs
 * on the packed codes and scales instead: integer block dot products with `dot4I8Packed`, f32
 * accumulation across blocks — the same values up to f32 rounding order. Its B operand is always a [n, k] copy with blocks along k, so Dgrad quantizes a
 * transposed weight even for 16×16 tiles.
 *
 * A layer is planned first ({@link planLinear}: which path each GEMM takes and every buffer its
 * operand copies need, without a GPU), then built from that plan ({@link buildLinear}). The model's
 * buffer plan (`plan.ts`) lists the same buffers, so the memory estimate and the allocation agree
 * by construction. Stream tensor ids are drawn in the order Fprop A, B; Dgrad A, B; Wgrad A, B, one
 * per copy that needs a key per step (stochastic rounding or random RHT signs).
 *
 * An operand copy with delayed FP8 scaling (TE's `DelayedScaling`) keeps its own state buffer —
 * the scale it quantizes with and its amax history (kernels/amax_history/) — on the GPU across
 * steps; a copy that another GEMM reuses shares it. Each step's quantization reads the scale from
 * it and records its amax, and the layer's `scaleUpdates`, run at the end of the step, roll each
 * history and set the next step's scale, with no readback.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { BoundOp } from "../gpu/op.ts";
import type { ComputePrecision } from "../formats/bf16.ts";
import { streamKey } from "../formats/rng.ts";
import { elementOf, type Nvfp4Element, resolveFormat } from "../formats/spec.ts";
import type { GemmKernel } from "../../kernels/gemm/mod.ts";
import type { MatrixGemmKernel } from "../../kernels/gemm_matrix/mod.ts";
import { MATRIX_GEMM_TILINGS, matrixGemmAvailable } from "../../kernels/gemm_matrix/mod.ts";
import { matrixGemmFits } from "../../kernels/gemm_matrix/reference.ts";
import type { GemmDims } from "../../kernels/gemm/reference.ts";
import { hasF16Operand } from "../formats/f16.ts";
import type { ElementwiseKernels } from "../../kernels/elementwise/mod.ts";
import { type BoundQuantize, QuantizeKernel } from "../../kernels/quantize/mod.ts";
import { AmaxHistoryKernel } from "../../kernels/amax_history/mod.ts";
import {
  type AmaxHistoryConfig,
  amaxHistoryConfig,
  historyWords,
  initialHistory,
} from "../../kernels/amax_history/reference.ts";
import {
  hasRandomSigns,
  kernelConfig,
  needsKey,
  quantizeSizes,
} from "../../kernels/quantize/reference.ts";
import type { PackedNvfp4GemmKernel } from "../../kernels/gemm_nvfp4/mod.ts";
import { isIdentity, layoutFree, type LinearPolicy, type OperandPolicy } from "./policy.ts";

/**
 * One GPU buffer of the model's buffer plan: its label and its size in f32 elements (allocated
 * padded for the quantizers, see `bufferBytes` in plan.ts).
 */
export interface PlannedBuffer {
  /** The buffer's label, unique within a model's plan. */
  readonly label: string;
  /** Its size in f32 elements. */
  readonly elements: number;
}

/** What a model needs to build its layers: kernels, an allocator and a tensor-id counter. */
export interface LayerContext {
  /** The device the layers run on. */
  readonly gpu: Gpu;
  /** The transposes of columnwise copies. */
  readonly elementwise: ElementwiseKernels;
  /** The f32 GEMMs `A·Bᵀ`, `A·B` and `Aᵀ·B`. */
  readonly gemm: { readonly nt: GemmKernel; readonly nn: GemmKernel; readonly tn: GemmKernel };
  /**
   * A zeroed f32 storage buffer for an entry of the model's buffer plan; refuses a buffer the plan
   * does not hold.
   */
  alloc(buffer: PlannedBuffer): GPUBuffer;
  /** A fresh tensor id for a stochastic-rounding stream. */
  nextTensorId(): number;
  /** The policy's compute precision: what ops store their outputs in ({@link storeOutputs}). */
  readonly compute: ComputePrecision;
  /** Runs GEMMs whose operands are both NVFP4 on packed codes (see the module comment). */
  readonly packedGemm?: PackedNvfp4GemmKernel;
  /** Scaled matrix-unit GEMMs on f16 operands, per layout (see the module comment). */
  readonly matrixGemm?: {
    readonly nt: MatrixGemmKernel;
    readonly nn: MatrixGemmKernel;
    readonly tn: MatrixGemmKernel;
  };
}

/**
 * The GEMM kernels a model has besides the f32 GEMM: the packed NVFP4 GEMM and the matrix-unit
 * GEMMs. Planning uses it; {@link gemmUnits} finds what a device offers.
 *
 * @example
 * ```ts
 * import type { GemmUnits } from "./linear.ts";
 * const simtOnly: GemmUnits = { packed: false, matrix: false };
 * ```
 */
export interface GemmUnits {
  /** GEMMs whose operands are both NVFP4 may run on packed codes. */
  readonly packed: boolean;
  /** GEMMs whose operands have f16 operands may run on the matrix units. */
  readonly matrix: boolean;
}

/** No GEMM kernels besides the f32 GEMM. */
export const F32_GEMM_ONLY: GemmUnits = { packed: false, matrix: false };

/**
 * The path a GEMM takes: `f32`, the f32 SIMT GEMM on fake-quantized copies; `packed`, the packed
 * NVFP4 GEMM on codes and scales; `matrix`, the matrix-unit GEMM on f16 operands.
 */
export type GemmPath = "f32" | "packed" | "matrix";

/** The buffers of a linear layer; `dx` is omitted where the input needs no gradient. */
export interface LinearBuffers {
  /** The input `[m, k]`. */
  readonly x: GPUBuffer;
  /** The weight `[n, k]`. */
  readonly w: GPUBuffer;
  /** The output `[m, n]`. */
  readonly y: GPUBuffer;
  /** The output's gradient `[m, n]` (read by the backward pass). */
  readonly dy: GPUBuffer;
  /** The weight's gradient `[n, k]` (written). */
  readonly dw: GPUBuffer;
  /** The input's gradient `[m, k]` (written). */
  readonly dx?: GPUBuffer;
}

/** A linear layer's recorded operations. */
export interface LinearOps {
  /** The plan it was built from. */
  readonly plan: LinearPlan;
  /** The layer's buffers. */
  readonly buffers: LinearBuffers;
  /**
   * The stochastic-rounding tensor id of each stochastically rounded operand copy (an `fprop`
   * copy maps to the id of the Fprop copy it reuses).
   */
  readonly tensorIds: ReadonlyMap<OperandPlan, number>;
  /**
   * For operand copies with random RHT signs, the id of the stream their GEMM's shared sign vector
   * is drawn from at each step.
   */
  readonly signIds: ReadonlyMap<OperandPlan, number>;
  /**
   * The state buffers of operand copies with delayed FP8 scaling (an `fprop` copy maps to the
   * buffer of the Fprop copy it reuses): the health probe quantizes with their scales.
   */
  readonly histories: ReadonlyMap<OperandPlan, GPUBuffer>;
  /**
   * Each delayed-scaling copy's state: its buffer label in the plan, its buffer and its update
   * configuration (checkpoints save and restore them).
   */
  readonly delayedStates: readonly DelayedState[];
  /** Fprop: the operand copies, then the GEMM. */
  readonly forward: BoundOp[];
  /** Dgrad, then Wgrad, each its operand copies, then its GEMM. */
  readonly backward: BoundOp[];
  /**
   * The delayed-scaling updates of the step (kernels/amax_history/), one per delayed copy: run once
   * per training step after every use of the step's scales (the model runs them last), as TE
   * updates its scales after the forward and the backward pass.
   */
  readonly scaleUpdates: BoundOp[];
  /** Sets the stochastic-rounding keys of this step (call before submitting the step). */
  setStep(seed: number, step: number): void;
  /** Frees the layer's bound operations (not its buffers, which the model owns). */
  destroy(): void;
}

/**
 * The buffers of one operand copy, in allocation order: the transposed tensor, then the fake-quant
 * output or the packed codes and scales, the tensor statistics and the 16×16 tile amaxes.
 */
export interface OperandBuffers {
  /** `[cols, rows]`: the source transposed (columnwise copies). */
  readonly transposed?: PlannedBuffer;
  /** The fake-quantized f32 copy, or the f16 operand. */
  readonly out?: PlannedBuffer;
  /** Packed NVFP4 codes. */
  readonly codes?: PlannedBuffer;
  /** Packed NVFP4 block scales. */
  readonly scales?: PlannedBuffer;
  /** The quantizer's amax and decode scale. */
  readonly stats?: PlannedBuffer;
  /** Amaxes of 16×16 tiles (2D NVFP4). */
  readonly tiles?: PlannedBuffer;
  /**
   * Delayed FP8 scaling: the copy's scale and amax history (kernels/amax_history/), kept across
   * steps.
   */
  readonly history?: PlannedBuffer;
}

/** One GEMM operand: a tensor of the layer (`[rows, cols]`) and the copy of it the GEMM reads. */
export interface OperandPlan {
  /** The layer's input `x`, weight `w` or output gradient `dy`. */
  readonly source: "x" | "w" | "dy";
  /** Rows of the source tensor. */
  readonly rows: number;
  /** Columns of the source tensor. */
  readonly cols: number;
  /** How the copy is quantized. */
  readonly policy: OperandPolicy;
  /**
   * `fake`: quantize → dequantize into an f32 copy (the tensor itself where the policy is the
   * identity); `packed`: NVFP4 codes and scales; `f16`: the f16 operand and its tensor factor;
   * `fprop`: the Fprop copy of the same tensor serves (no buffers, no operations).
   */
  readonly copy: "fake" | "packed" | "f16" | "fprop";
  /** Transposed to `[cols, rows]` first, so that blocks run along the rows. */
  readonly transpose: boolean;
  /** The buffers the copy allocates (none for `fprop` and identity copies). */
  readonly buffers: OperandBuffers;
}

/** One of a layer's GEMMs `C = A·Bᵀ` (`nt`), `A·B` (`nn`), `Aᵀ·B` (`tn`) or on packed codes. */
export interface GemmPlan {
  /** The GEMM's layout, or the packed NVFP4 GEMM (`A·Bᵀ` on codes). */
  readonly kernel: "nt" | "nn" | "tn" | "packed";
  /** Which kernel runs it. */
  readonly path: GemmPath;
  /** The left operand's copy. */
  readonly a: OperandPlan;
  /** The right operand's copy. */
  readonly b: OperandPlan;
  /** `m`, `n`, `k` of the GEMM (not of the layer). */
  readonly dims: { readonly m: number; readonly n: number; readonly k: number };
}

/** A linear layer's three GEMMs (no Dgrad where the input needs no gradient). */
export interface LinearPlan {
  /** The layer's name, e.g. `blocks.1.fc1` (its buffers' label prefix). */
  readonly label: string;
  /** `Y = Q(X)·Q(W)ᵀ`. */
  readonly fprop: GemmPlan;
  /** `dX = Q(dY)·Q(W)`. */
  readonly dgrad?: GemmPlan;
  /** `dW = Q(dYᵀ)·Q(Xᵀ)ᵀ`. */
  readonly wgrad: GemmPlan;
}

/**
 * The quantizer configuration of an operand copy with `cols` columns (blocks along cols) under the
 * policy's compute precision (default fp32; bf16 rounds the quantizer's input and RHT output).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantizerConfig } from "./linear.ts";
 * assert.equal(quantizerConfig({ format: "nvfp4" }, "fake", 64).format.kind, "nvfp4");
 * assert.equal(quantizerConfig({ format: "nvfp4" }, "fake", 64, "bf16").compute, "bf16");
 * ```
 */
export function quantizerConfig(
  p: OperandPolicy,
  output: "fake" | "packed" | "f16",
  cols: number,
  compute: ComputePrecision = "fp32",
) {
  const opts = { rounding: p.rounding ?? "rne", ...(p.rht ? { rht: p.rht } : {}), compute };
  return kernelConfig(resolveFormat(p.format), opts, output, cols);
}

/**
 * The operations that store op outputs in the context's compute precision: none under fp32; under
 * bf16 one in-place BF16 rounding of each buffer (kernels/elementwise), recorded right after the
 * op that wrote it — the op's FP32 result rounded once on store, as TransformerEngine's kernels
 * compute in FP32 and write BF16.
 */
export function storeOutputs(
  ctx: Pick<LayerContext, "compute" | "elementwise">,
  ...outputs: GPUBuffer[]
): BoundOp[] {
  if (ctx.compute === "fp32") return [];
  return outputs.map((y) => ctx.elementwise.roundBf16({ y }, { n: y.size / 4 }));
}

/** An operand copy of a `[rows, cols]` tensor and the buffers it needs, labelled `label.*`. */
function operand(
  source: OperandPlan["source"],
  rows: number,
  cols: number,
  policy: OperandPolicy,
  copy: "fake" | "packed" | "f16",
  transpose: boolean,
  label: string,
): OperandPlan {
  const buf = (name: string, elements: number) => ({ label: `${label}.${name}`, elements });
  const plan = { source, rows, cols, policy, copy, transpose };
  const transposed = transpose ? { transposed: buf("T", rows * cols) } : {};
  const [r, c] = transpose ? [cols, rows] : [rows, cols];
  if (copy === "packed") {
    const sizes = quantizeSizes(quantizerConfig(policy, "packed", c), r, c);
    return {
      ...plan,
      buffers: {
        ...transposed,
        codes: buf("codes", sizes.codesBytes / 4),
        scales: buf("scales", sizes.scalesBytes / 4),
        stats: buf("stats", sizes.statsBytes / 4),
        ...(sizes.tileBytes ? { tiles: buf("tiles", sizes.tileBytes / 4) } : {}),
      },
    };
  }
  if (copy === "fake" && isIdentity(policy)) return { ...plan, buffers: transposed };
  // A transposed copy is labelled `label.T.*`; an f16 operand `label.h`.
  const q = (name: string, elements: number) =>
    transpose ? buf(`T.${name}`, elements) : buf(name, elements);
  const sizes = quantizeSizes(quantizerConfig(policy, copy, c), r, c);
  const delayed = amaxHistoryConfig(resolveFormat(policy.format));
  return {
    ...plan,
    buffers: {
      ...transposed,
      out: copy === "f16" ? q("h", Math.ceil((r * c) / 2)) : q("q", r * c),
      stats: q("stats", sizes.statsBytes / 4),
      ...(sizes.tileBytes ? { tiles: q("tiles", sizes.tileBytes / 4) } : {}),
      ...(delayed ? { history: q("history", historyWords(delayed)) } : {}),
    },
  };
}

/** The Fprop copy of `of` serving another GEMM. */
function fpropCopy(of: OperandPlan): OperandPlan {
  return { ...of, copy: "fprop", buffers: {} };
}

const samePolicy = (a: OperandPolicy, b: OperandPolicy) => JSON.stringify(a) === JSON.stringify(b);

/** The operand copy a GEMM path reads. */
const COPY_OF_PATH = { f32: "fake", packed: "packed", matrix: "f16" } as const;

/**
 * Plans a linear layer with `m` tokens, `k` inputs and `n` outputs under `policy`: the path of
 * each GEMM and the buffers of every operand copy, labelled `<label>.<operand>.*`. `units`: the
 * GEMM kernels the model has besides the f32 GEMM; `dx`: the layer computes its input's gradient
 * (default true). A GEMM runs on the matrix units where it can, else on packed NVFP4 codes where
 * it can, else on the f32 GEMM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { F32_GEMM_ONLY, linearBuffers, planLinear } from "./linear.ts";
 * import { uniformLinear } from "./policy.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const dims = { m: 128, n: 64, k: 64 }; // every GEMM fits the matrix tiles
 * assert.deepEqual(linearBuffers(planLinear(uniformLinear("fp32"), dims, F32_GEMM_ONLY, "l")), []);
 * const paths = (units: { packed: boolean; matrix: boolean }) => {
 *   const p = planLinear(POLICIES.nvfp4.linear, dims, units, "l");
 *   return [p.fprop.path, p.dgrad?.path, p.wgrad.path];
 * };
 * assert.deepEqual(paths({ packed: true, matrix: true }), ["matrix", "matrix", "matrix"]);
 * assert.deepEqual(paths({ packed: true, matrix: false }), ["packed", "packed", "packed"]);
 * assert.deepEqual(paths(F32_GEMM_ONLY), ["f32", "f32", "f32"]);
 * ```
 */
export function planLinear(
  policy: LinearPolicy,
  dims: { readonly m: number; readonly n: number; readonly k: number },
  units: GemmUnits,
  label: string,
  dx = true,
): LinearPlan {
  const { m, n, k } = dims;
  const all = [m, n, k];
  const pathOf = (a: OperandPolicy, b: OperandPolicy, d: GemmDims, packedOk = true): GemmPath =>
    runsMatrixGemm(units.matrix, a, b, d)
      ? "matrix"
      : packedOk && runsPackedGemm(units.packed, a, b, all)
      ? "packed"
      : "f32";

  // Fprop: Y[m,n] = Q(X)[m,k] · Q(W)[n,k]ᵀ.
  const { x: fx, w: fw } = policy.fprop;
  const fpath = pathOf(fx, fw, dims);
  const fcopy = COPY_OF_PATH[fpath];
  const fprop: GemmPlan = {
    kernel: fpath === "packed" ? "packed" : "nt",
    path: fpath,
    a: operand("x", m, k, fx, fcopy, false, `${label}.x`),
    b: operand("w", n, k, fw, fcopy, false, `${label}.w`),
    dims,
  };
  /** The Fprop copy of `source` where it is the copy a GEMM on `path` under `p` needs. */
  const reuse = (path: GemmPath, p: OperandPolicy, source: "x" | "w") => {
    const f = source === "x" ? fprop.a : fprop.b;
    return path === fpath && samePolicy(p, f.policy) ? fpropCopy(f) : undefined;
  };

  // Dgrad: dX[m,k] = Q(dY)[m,n] · Q(W)[n,k], the dot product along n.
  let dgrad: GemmPlan | undefined;
  if (dx) {
    const { dy, w } = policy.dgrad;
    const gemmDims = { m, n: k, k: n };
    const path = pathOf(dy, w, gemmDims);
    const copy = COPY_OF_PATH[path];
    const a = operand("dy", m, n, dy, copy, false, `${label}.dy`);
    if (path === "packed") {
      // The packed GEMM's B is always [n, k] with blocks along k: W transposed.
      const b = operand("w", n, k, w, copy, true, `${label}.wd`);
      dgrad = { kernel: "packed", path, a, b, dims: gemmDims };
    } else if (layoutFree(w)) {
      const b = reuse(path, w, "w") ?? operand("w", n, k, w, copy, false, `${label}.wd`);
      dgrad = { kernel: "nn", path, a, b, dims: gemmDims };
    } else {
      const b = operand("w", n, k, w, copy, true, `${label}.wd`);
      dgrad = { kernel: "nt", path, a, b, dims: gemmDims };
    }
  }

  // Wgrad: dW[n,k] = Q(dYᵀ)[n,m] · Q(Xᵀ)[k,m]ᵀ, the dot product along the tokens m.
  const { dy: wdy, x: wx } = policy.wgrad;
  const asIs = layoutFree(wdy) && layoutFree(wx);
  const wgradDims = { m: n, n: k, k: m };
  // Operands that need no transposition stay on the f32 GEMM's `tn` rather than the packed GEMM.
  const wpath = pathOf(wdy, wx, wgradDims, !asIs);
  const wcopy = COPY_OF_PATH[wpath];
  let wgrad: GemmPlan;
  if (asIs && wpath !== "packed") {
    wgrad = {
      kernel: "tn",
      path: wpath,
      a: operand("dy", m, n, wdy, wcopy, false, `${label}.dyw`),
      b: reuse(wpath, wx, "x") ?? operand("x", m, k, wx, wcopy, false, `${label}.xw`),
      dims: wgradDims,
    };
  } else {
    wgrad = {
      kernel: wpath === "packed" ? "packed" : "nt",
      path: wpath,
      a: operand("dy", m, n, wdy, wcopy, true, `${label}.dyw`),
      b: operand("x", m, k, wx, wcopy, true, `${label}.xw`),
      dims: wgradDims,
    };
  }
  return dgrad ? { label, fprop, dgrad, wgrad } : { label, fprop, wgrad };
}

/** Every buffer a planned linear layer allocates, in allocation order. */
export function linearBuffers(plan: LinearPlan): PlannedBuffer[] {
  const gemms = [plan.fprop, ...(plan.dgrad ? [plan.dgrad] : []), plan.wgrad];
  return gemms.flatMap((g) => [g.a, g.b]).flatMap((o) =>
    Object.values(o.buffers) as PlannedBuffer[]
  );
}

/**
 * The element grid of a packed GEMM's operands (E2M1, INT4 or E1M2; {@link runsPackedGemm} makes
 * sure both share it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packedElement } from "./linear.ts";
 * assert.equal(packedElement({ format: "nvfp4-2d" }), "e2m1");
 * assert.equal(packedElement({ format: "ufp4" }), "e1m2");
 * ```
 */
export function packedElement(p: OperandPolicy): Nvfp4Element {
  return elementOf(resolveFormat(p.format)) as Nvfp4Element;
}

/**
 * Whether a GEMM of operands `a`, `b` over `dims` runs on packed NVFP4 codes: both NVFP4 with one
 * tensor scale each (not row-scaled: the packed GEMM applies one factor per operand) and of one
 * element grid (the kernel widens both operands' codes through one table), every dimension a
 * multiple of 16, and a packed GEMM `available`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runsPackedGemm } from "./linear.ts";
 * const x = { format: "nvfp4" } as const;
 * assert.equal(runsPackedGemm(true, x, { format: "nvfp4-2d" }, [64, 32, 16]), true);
 * assert.equal(runsPackedGemm(true, x, { format: "bf16" }, [64, 32, 16]), false);
 * assert.equal(runsPackedGemm(false, x, x, [64, 32, 16]), false);
 * const rows = { format: { kind: "nvfp4", rowScaled: true } } as const;
 * assert.equal(runsPackedGemm(true, rows, x, [64, 32, 16]), false);
 * assert.equal(runsPackedGemm(true, { format: "nvint4" }, { format: "nvint4-2d" }, [64, 32, 16]), true);
 * assert.equal(runsPackedGemm(true, { format: "nvint4" }, { format: "ufp4" }, [64, 32, 16]), false);
 * ```
 */
export function runsPackedGemm(
  available: boolean,
  a: OperandPolicy,
  b: OperandPolicy,
  dims: readonly number[],
): boolean {
  const nvfp4 = (p: OperandPolicy) => {
    const f = resolveFormat(p.format);
    return f.kind === "nvfp4" && !f.rowScaled;
  };
  return available && nvfp4(a) && nvfp4(b) && packedElement(a) === packedElement(b) &&
    dims.every((d) => d % 16 === 0);
}

/**
 * Whether a GEMM of operands `a`, `b` over `dims` (m, n, k of the GEMM) runs on the matrix units:
 * both have an f16 operand (`src/formats/f16.ts`), some matrix-GEMM tiling divides the shape, and
 * matrix-unit GEMMs are `available`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runsMatrixGemm } from "./linear.ts";
 * const bf16 = { format: "bf16" } as const;
 * assert.equal(runsMatrixGemm(true, bf16, { format: "nvfp4-2d" }, { m: 128, n: 64, k: 32 }), true);
 * assert.equal(runsMatrixGemm(true, bf16, { format: "mxfp4" }, { m: 128, n: 64, k: 32 }), true);
 * assert.equal(runsMatrixGemm(true, bf16, bf16, { m: 128, n: 48, k: 32 }), false);
 * assert.equal(runsMatrixGemm(true, bf16, { format: "fp32" }, { m: 128, n: 64, k: 32 }), false);
 * ```
 */
export function runsMatrixGemm(
  available: boolean,
  a: OperandPolicy,
  b: OperandPolicy,
  dims: GemmDims,
): boolean {
  const f16 = (p: OperandPolicy) => hasF16Operand(resolveFormat(p.format));
  return available && f16(a) && f16(b) &&
    MATRIX_GEMM_TILINGS.some(({ tile }) => matrixGemmFits(dims, tile));
}

/**
 * Whether the WGSL of `gpu`'s implementation has `dot4I8Packed` (the language feature
 * `packed_4x8_integer_dot_product`), which the packed NVFP4 GEMM needs.
 *
 * @example
 * ```ts
 * import { getGpu } from "../gpu/device.ts";
 * import { packedGemmAvailable } from "./linear.ts";
 * console.log(packedGemmAvailable(await getGpu())); // true on Deno ≥ 2.6.4 and on Dawn
 * ```
 */
export function packedGemmAvailable(gpu: Pick<Gpu, "wgslLanguageFeatures">): boolean {
  return gpu.wgslLanguageFeatures.has("packed_4x8_integer_dot_product");
}

/**
 * The GEMM kernels a device offers a model besides the f32 GEMM, as `opts` allows them (both
 * default true): packed NVFP4 where WGSL has `dot4I8Packed`, matrix units where the device has
 * subgroup matrices.
 *
 * @example
 * ```ts
 * import { getGpu } from "../gpu/device.ts";
 * import { gemmUnits } from "./linear.ts";
 * console.log(gemmUnits(await getGpu(), { matrixUnits: false })); // { packed: true, matrix: false }
 * ```
 */
export function gemmUnits(
  gpu: Gpu,
  opts: { readonly packedNvfp4?: boolean; readonly matrixUnits?: boolean } = {},
): GemmUnits {
  return {
    packed: (opts.packedNvfp4 ?? true) && packedGemmAvailable(gpu),
    matrix: (opts.matrixUnits ?? true) && matrixGemmAvailable(gpu),
  };
}

/**
 * A copy whose quantizer takes a key per step: its stream's tensor id and, for random RHT signs,
 * the id of the stream its GEMM's two operands draw their shared sign vector from.
 */
type Keyed = { bound: BoundQuantize; tensorId: number; random: boolean; signId?: number };

/** The delayed-scaling state of an operand copy on the GPU. */
export interface DelayedState {
  /** The state buffer's label in the model's buffer plan (`blocks.0.fc1.x.history`). */
  readonly label: string;
  /** The buffer: {@link historyWords} FP32 words, the scale then the amax history. */
  readonly buffer: GPUBuffer;
  /** The update's configuration (element, history length, algorithm, margin). */
  readonly config: AmaxHistoryConfig;
}

/**
 * An operand copy on the GPU: the f32 copy or f16 operand (`out`) or the packed codes, its stats
 * words, its delayed-scaling state, and its operations.
 */
interface Copy {
  readonly out: GPUBuffer;
  readonly codes?: GPUBuffer;
  readonly scales?: GPUBuffer;
  readonly stats?: GPUBuffer;
  readonly delayed?: DelayedState & { readonly update: BoundOp };
  readonly ops: BoundOp[];
  readonly keyed: Keyed[];
}

/** Allocates and binds a planned operand copy of `src` (not an `fprop` one). */
async function copyOf(ctx: LayerContext, o: OperandPlan, src: GPUBuffer): Promise<Copy> {
  const b = o.buffers;
  const ops: BoundOp[] = [];
  let [rows, cols] = [o.rows, o.cols];
  if (o.transpose) {
    const t = ctx.alloc(b.transposed!);
    ops.push(ctx.elementwise.transpose({ x: src, y: t }, { rows, cols }));
    [src, rows, cols] = [t, cols, rows];
  }
  if (o.copy === "fake" && isIdentity(o.policy)) return { out: src, ops, keyed: [] };
  const output = o.copy === "fprop" ? "fake" : o.copy;
  const kernel = await QuantizeKernel.create(
    ctx.gpu,
    quantizerConfig(o.policy, output, cols, ctx.compute),
  );
  const [out, codes, scales, stats, tileAmax, history] = [
    b.out,
    b.codes,
    b.scales,
    b.stats,
    b.tiles,
    b.history,
  ].map((p) => p && ctx.alloc(p));
  const bound = kernel.bind(rows, cols, {
    x: src,
    stats: stats!,
    ...(out ? { out } : { codes, scales }),
    ...(tileAmax ? { tileAmax } : {}),
    ...(history ? { history } : {}),
  });
  ops.push(bound);
  const keyed = needsKey(kernel.config)
    ? [{ bound, tensorId: ctx.nextTensorId(), random: hasRandomSigns(kernel.config) }]
    : [];
  let delayed: Copy["delayed"];
  if (history) {
    const config = amaxHistoryConfig(resolveFormat(o.policy.format))!;
    ctx.gpu.device.queue.writeBuffer(history, 0, initialHistory(config));
    const update = (await AmaxHistoryKernel.create(ctx.gpu, config)).bind({
      stats: stats!,
      history,
    });
    delayed = { label: b.history!.label, buffer: history, config, update };
  }
  return { out: out ?? src, codes, scales, stats, delayed, ops, keyed };
}

/**
 * Builds the forward and backward operations of a planned linear layer (see {@link planLinear};
 * the plan must be the one the context's allocator holds).
 */
export async function buildLinear(
  ctx: LayerContext,
  plan: LinearPlan,
  bufs: LinearBuffers,
): Promise<LinearOps> {
  const sources = { x: bufs.x, w: bufs.w, dy: bufs.dy };
  const keyed: Keyed[] = [];
  const tensorIds = new Map<OperandPlan, number>();
  const signIds = new Map<OperandPlan, number>();
  const fpropIds: Partial<Record<OperandPlan["source"], number>> = {};
  const fpropCopies: Partial<Record<OperandPlan["source"], Copy>> = {};
  const histories = new Map<OperandPlan, GPUBuffer>();
  const delayedStates: DelayedState[] = [];
  const scaleUpdates: BoundOp[] = [];
  const gemm = async (g: GemmPlan, c: GPUBuffer, fprop = false): Promise<BoundOp[]> => {
    const copies: Copy[] = [];
    for (const o of [g.a, g.b]) {
      const copy = o.copy === "fprop"
        ? { ...fpropCopies[o.source]!, ops: [], keyed: [] }
        : await copyOf(ctx, o, sources[o.source]);
      if (fprop) fpropCopies[o.source] = copy;
      if (copy.delayed) {
        histories.set(o, copy.delayed.buffer);
        if (o.copy !== "fprop") {
          const { update, ...state } = copy.delayed;
          delayedStates.push(state);
          scaleUpdates.push(update);
        }
      }
      const id = o.copy === "fprop" ? fpropIds[o.source] : copy.keyed[0]?.tensorId;
      if (id !== undefined) tensorIds.set(o, id);
      if (fprop && id !== undefined) fpropIds[o.source] = id;
      keyed.push(...copy.keyed);
      copies.push(copy);
    }
    const [ca, cb] = copies;
    // Random RHT signs: both operands of the GEMM transform with one vector per step.
    const random = [ca, cb].flatMap((c) => c.keyed).filter((k) => k.random);
    if (random.length > 0) {
      const signId = ctx.nextTensorId();
      for (const k of random) k.signId = signId;
      for (const o of [g.a, g.b]) if (tensorIds.has(o)) signIds.set(o, signId);
    }
    let op: BoundOp;
    if (g.kernel === "packed") {
      if (!ctx.packedGemm) throw new Error("the layer's plan needs a packed NVFP4 GEMM");
      op = ctx.packedGemm.bind({
        aCodes: ca.codes!,
        aScales: ca.scales!,
        aStats: ca.stats!,
        bCodes: cb.codes!,
        bScales: cb.scales!,
        bStats: cb.stats!,
        c,
        element: packedElement(g.a.policy),
      }, g.dims);
    } else if (g.path === "matrix") {
      if (!ctx.matrixGemm) throw new Error("the layer's plan needs matrix-unit GEMMs");
      op = ctx.matrixGemm[g.kernel].bind(
        { a: ca.out, b: cb.out, c, aStats: ca.stats!, bStats: cb.stats! },
        g.dims,
      );
    } else {
      op = ctx.gemm[g.kernel].bind({ a: ca.out, b: cb.out, c }, g.dims);
    }
    return [...ca.ops, ...cb.ops, op];
  };
  // Y and dX are activations (BF16 under compute bf16); dW stays FP32 (Megatron's main_grad).
  const forward = [...await gemm(plan.fprop, bufs.y, true), ...storeOutputs(ctx, bufs.y)];
  const backward: BoundOp[] = [];
  if (plan.dgrad) {
    if (!bufs.dx) throw new TypeError("the layer's plan has a Dgrad but no dx buffer was given");
    backward.push(...await gemm(plan.dgrad, bufs.dx), ...storeOutputs(ctx, bufs.dx));
  }
  backward.push(...await gemm(plan.wgrad, bufs.dw));
  return {
    plan,
    buffers: bufs,
    tensorIds,
    signIds,
    histories,
    delayedStates,
    forward,
    backward,
    scaleUpdates,
    setStep(seed, step) {
      for (const { bound, tensorId, signId } of keyed) {
        bound.setParams(streamKey(seed, tensorId, step), streamKey(seed, signId ?? tensorId, step));
      }
    },
    destroy() {
      for (const o of [...forward, ...backward, ...scaleUpdates]) o.destroy();
    },
  };
}
