/**
 * The numeric-health probe of a model's training step (issue 13): operations that, inserted into
 * one training step right after each linear layer's backward pass, re-quantize every GEMM operand
 * from its high-precision source with the health variant of the quantizer (the same format,
 * orientation, RHT and stochastic-rounding key as training, and for delayed FP8 scaling training's
 * scale of the step, read from the copy's state buffer: so the same values), multiply the
 * quantized operands and the sources with the f32 GEMM, and compare the two products; and, before
 * the optimizer, count the non-finite values of every gradient. They write only the probe's own
 * buffers, so a step with the probe trains exactly like one without it; a step without it runs
 * none of this.
 *
 * Stochastically rounded operands are also quantized `draws − 1` more times with other keys, for
 * the bias of the rounding. The GEMM product the probe checks is that of the fake-quant values
 * (the numerics contract, NUMERICS.md §5.1): the packed and matrix-unit paths compute it up to
 * f32 summation order, except that the matrix path's f16 operands of bf16 and MX round values far
 * below a tensor's largest to f16's subnormal grid (src/formats/f16.ts), which the probe does not
 * see.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { BoundOp } from "../gpu/op.ts";
import { readBuffer } from "../gpu/buffers.ts";
import { streamKey } from "../formats/rng.ts";
import { resolveFormat } from "../formats/spec.ts";
import type { GemmKernel } from "../../kernels/gemm/mod.ts";
import type { ElementwiseKernels } from "../../kernels/elementwise/mod.ts";
import {
  COMPARE_FIELDS,
  compareGrid,
  CompareKernel,
  sumPartials,
} from "../../kernels/health/mod.ts";
import { type BoundQuantize, quantizeGrid, QuantizeKernel } from "../../kernels/quantize/mod.ts";
import { HEALTH_FIELDS } from "../../kernels/quantize/health_wgsl.ts";
import { HEALTH_EXTREMES, operandStatsOf } from "../../kernels/quantize/health.ts";
import { type KernelConfig, needsKey, quantizeSizes } from "../../kernels/quantize/reference.ts";
import {
  type GemmPlan,
  type LinearOps,
  type LinearPlan,
  type OperandPlan,
  quantizerConfig,
} from "./linear.ts";
import { isIdentity } from "./policy.ts";
import type { ComputePrecision } from "../formats/bf16.ts";
import type { OperandStats } from "../formats/health_reference.ts";
import type { GemmHealth, HealthPoint, LayerHealth, OperandHealth } from "../health/types.ts";

/** What the probe needs of a model: its device, its f32 GEMMs and transposes. */
export interface ProbeKernels {
  readonly gpu: Gpu;
  readonly gemm: { readonly nt: GemmKernel; readonly nn: GemmKernel; readonly tn: GemmKernel };
  readonly elementwise: ElementwiseKernels;
}

/** A parameter's name, gradient buffer and size, for the non-finite count. */
export interface ProbedGradient {
  readonly name: string;
  readonly g: GPUBuffer;
  readonly size: number;
}

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Partials offsets are multiples of 64 f32 (256 bytes, the storage-offset alignment). */
const align64 = (n: number) => Math.ceil(n / 64) * 64;

/**
 * The key of draw `draw` of a stochastically rounded copy: draw 0 is training's own; the others
 * use tensor ids with the top bit set, which training (ids counted from 0) never reaches.
 */
export function probeKey(seed: number, tensorId: number, step: number, draw: number): number {
  if (draw === 0) return streamKey(seed, tensorId, step);
  return streamKey(seed, (0x80000000 | ((draw & 0x7f) << 24) | (tensorId & 0xffffff)) >>> 0, step);
}

/** A probe copy that takes keys: its training stream, its RHT signs stream and its draw. */
interface Keyed {
  readonly bound: BoundQuantize;
  readonly tensorId: number;
  readonly signId: number;
  readonly draw: number;
}

interface Slot {
  readonly offset: number;
  readonly rows: number;
  readonly fields: number;
}

interface OperandProbe {
  readonly plan: OperandPlan;
  /** The health quantizer's configuration; none for identity copies. */
  readonly config?: KernelConfig;
  /** One slot per draw (the last one is training's draw); none for identity copies. */
  readonly slots: Slot[];
  readonly stochastic: boolean;
}

interface GemmProbe {
  readonly gemm: GemmHealth["gemm"];
  readonly plan: GemmPlan;
  readonly a: OperandProbe;
  readonly b: OperandProbe;
  readonly slot: Slot;
}

/** See the module comment. */
export class HealthProbe {
  /** Operations to run right after each key, the last backward operation of a linear layer. */
  readonly after: ReadonlyMap<BoundOp, readonly BoundOp[]>;
  /** Operations to run after the backward pass, before the optimizer. */
  readonly beforeUpdate: readonly BoundOp[];
  /** GPU memory the probe allocated (bytes). */
  readonly bytes: number;
  readonly #gpu: Gpu;
  readonly #layers: { layer: string; gemms: GemmProbe[] }[];
  readonly #grads: { name: string; slot: Slot }[];
  readonly #keyed: Keyed[];
  readonly #partials: GPUBuffer;
  readonly #buffers: GPUBuffer[];
  readonly #ops: BoundOp[];

  private constructor(init: {
    gpu: Gpu;
    after: Map<BoundOp, BoundOp[]>;
    beforeUpdate: BoundOp[];
    layers: { layer: string; gemms: GemmProbe[] }[];
    grads: { name: string; slot: Slot }[];
    keyed: Keyed[];
    partials: GPUBuffer;
    buffers: GPUBuffer[];
  }) {
    this.#gpu = init.gpu;
    this.after = init.after;
    this.beforeUpdate = init.beforeUpdate;
    this.#layers = init.layers;
    this.#grads = init.grads;
    this.#keyed = init.keyed;
    this.#partials = init.partials;
    this.#buffers = init.buffers;
    this.#ops = [...[...init.after.values()].flat(), ...init.beforeUpdate];
    this.bytes = init.buffers.reduce((n, b) => n + b.size, 0);
  }

  /**
   * Builds the probe of `linears` (as built for the current policy phase) and `gradients`; `draws`:
   * quantizations of each stochastically rounded operand (at least 1); `compute`: the policy's
   * compute precision, which the probe's quantizers apply as the layers' do.
   */
  static async create(
    k: ProbeKernels,
    linears: readonly LinearOps[],
    gradients: readonly ProbedGradient[],
    draws: number,
    compute: ComputePrecision = "fp32",
  ): Promise<HealthProbe> {
    if (!Number.isInteger(draws) || draws < 1) {
      throw new RangeError(`draws must be a positive integer, got ${draws}`);
    }
    const { gpu } = k;
    const device = gpu.device;
    const compare = await CompareKernel.create(gpu);
    const plans = linears.map((l) => l.plan);
    const layout = planProbe(plans, gradients.map((g) => g.size), draws, gpu, compute);
    const { scratch, partialFloats } = layout;
    const kernels = new Map<OperandPlan, QuantizeKernel>();
    for (const { gemms } of layout.layers) {
      for (const g of gemms) {
        for (const p of [g.a, g.b]) {
          if (p.config) {
            kernels.set(p.plan, await QuantizeKernel.create(gpu, p.config, { health: true }));
          }
        }
      }
    }
    const layers = layout.layers.map((l, i) => ({ ...l, ops: linears[i] }));
    const gradSlots = gradients.map((g, i) => ({ ...g, slot: layout.grads[i] }));

    const buffers: GPUBuffer[] = [];
    const make = (label: string, bytes: number) => {
      const b = device.createBuffer({ label, size: probeBufferBytes(bytes), usage: STORAGE });
      buffers.push(b);
      return b;
    };
    const partials = make("health partials", partialFloats * 4);
    const buf = {
      t: [make("health T.a", scratch.t), make("health T.b", scratch.t)],
      q: [make("health Q.a", scratch.q), make("health Q.b", scratch.q)],
      stats: [make("health stats.a", scratch.stats), make("health stats.b", scratch.stats)],
      tiles: [make("health tiles.a", scratch.tiles), make("health tiles.b", scratch.tiles)],
      cq: make("health C.q", scratch.c),
      cref: make("health C.ref", scratch.c),
    };

    const after = new Map<BoundOp, BoundOp[]>();
    const keyed: Keyed[] = [];
    for (const { gemms, ops } of layers) {
      const src = { x: ops.buffers.x, w: ops.buffers.w, dy: ops.buffers.dy };
      const list: BoundOp[] = [];
      for (const g of gemms) {
        const copies = [g.a, g.b].map((p, side) => {
          const o = p.plan;
          let input = src[o.source];
          let [rows, cols] = [o.rows, o.cols];
          if (o.transpose) {
            list.push(k.elementwise.transpose({ x: input, y: buf.t[side] }, { rows, cols }));
            [input, rows, cols] = [buf.t[side], cols, rows];
          }
          const kernel = kernels.get(o);
          if (!kernel) return input;
          const tensorId = ops.tensorIds.get(o);
          // Extra draws first, training's draw last, so that Q holds training's values.
          p.slots.forEach((s, i) => {
            const draw = p.slots.length - 1 - i;
            // Delayed FP8 scaling quantizes with training's scale of this step (its state is
            // updated only at the end of the step).
            const history = ops.histories.get(o);
            const bound = kernel.bind(rows, cols, {
              x: input,
              stats: buf.stats[side],
              out: buf.q[side],
              ...(kernel.geometry.tiled ? { tileAmax: buf.tiles[side] } : {}),
              ...(history ? { history } : {}),
              health: { buffer: partials, offset: s.offset * 4, size: s.rows * s.fields * 4 },
            });
            if (needsKey(kernel.config)) {
              const signId = ops.signIds.get(o) ?? tensorId ?? 0;
              keyed.push({ bound, tensorId: tensorId ?? 0, signId, draw });
            }
            list.push(bound);
          });
          return buf.q[side];
        });
        const layout = g.plan.kernel === "packed" ? "nt" : g.plan.kernel;
        list.push(k.gemm[layout].bind({ a: copies[0], b: copies[1], c: buf.cq }, g.plan.dims));
        const ref = REFERENCE[g.gemm];
        list.push(
          k.gemm[ref.layout].bind({ a: src[ref.a], b: src[ref.b], c: buf.cref }, g.plan.dims),
        );
        const { m, n } = g.plan.dims;
        list.push(
          compare.bind({ q: buf.cq, r: buf.cref }, m * n, {
            buffer: partials,
            offset: g.slot.offset,
          }),
        );
      }
      const last = ops.backward.at(-1);
      if (!last) throw new Error(`linear ${ops.plan.label} has no backward operations`);
      after.set(last, list);
    }
    const beforeUpdate = gradSlots.map(({ g, size, slot }) =>
      compare.bind({ q: g, r: g }, size, { buffer: partials, offset: slot.offset })
    );
    return new HealthProbe({
      gpu,
      after,
      beforeUpdate,
      layers: layers.map(({ layer, gemms }) => ({ layer, gemms })),
      grads: gradSlots.map(({ name, slot }) => ({ name, slot })),
      keyed,
      partials,
      buffers,
    });
  }

  /** Sets the stochastic-rounding keys of `step` (call before submitting the step). */
  setStep(seed: number, step: number): void {
    for (const { bound, tensorId, signId, draw } of this.#keyed) {
      // Every draw transforms with training's signs; only the rounding stream differs.
      bound.setParams(probeKey(seed, tensorId, step, draw), streamKey(seed, signId, step));
    }
  }

  /** Reads the statistics of the last submitted probed step as the diagnostics of `step`. */
  async read(step: number): Promise<HealthPoint> {
    const data = new Float32Array(await readBuffer(this.#gpu.device, this.#partials));
    const sum = (s: Slot, extremes = {}) => sumPartials(data, s.offset, s.rows, s.fields, extremes);
    const operand = (p: OperandProbe): OperandHealth => {
      const o = p.plan;
      const base = { source: o.source, format: operandFormat(o), elements: o.rows * o.cols };
      if (p.slots.length === 0) {
        return { ...base, relL2: 0, saturation: 0, underflow: 0, nonFinite: 0 };
      }
      const draws = p.slots.map((s) => operandStatsOf(sum(s, HEALTH_EXTREMES)));
      return operandHealth(base, draws.at(-1)!, p.stochastic ? draws : undefined);
    };
    const layers: LayerHealth[] = this.#layers.map(({ layer, gemms }) => ({
      layer,
      gemms: gemms.map((g): GemmHealth => {
        const [err2, ref2, q2, nonFinite] = sum(g.slot);
        return {
          gemm: g.gemm,
          path: g.plan.path,
          a: operand(g.a),
          b: operand(g.b),
          relL2: ratio(err2, ref2),
          // Two zero products agree: gain 1.
          gain: ref2 > 0 || q2 > 0 ? ratio(q2, ref2) : 1,
          nonFinite,
        };
      }),
    }));
    const gradNonFinite: Record<string, number> = {};
    for (const { name, slot } of this.#grads) {
      const n = sum(slot)[3];
      if (n > 0) gradNonFinite[name] = n;
    }
    return { step, layers, gradNonFinite };
  }

  /** Frees the probe's operations and buffers. */
  destroy(): void {
    for (const o of this.#ops) o.destroy();
    for (const b of this.#buffers) b.destroy();
  }
}

/** The bytes a probe buffer of `bytes` takes (at least 4, a multiple of 64). */
function probeBufferBytes(bytes: number): number {
  return align64(Math.max(bytes, 4));
}

/** Where everything of a probe goes, before any GPU object exists (see {@link planProbe}). */
export interface ProbeLayout {
  /** Per linear layer, its GEMMs' operand and comparison slots. */
  readonly layers: { readonly layer: string; readonly gemms: GemmProbe[] }[];
  /** The comparison slot of each gradient. */
  readonly grads: readonly Slot[];
  /** f32 elements of the partials buffer. */
  readonly partialFloats: number;
  /** Bytes of each shared scratch buffer (two of each but the products). */
  readonly scratch: {
    readonly t: number;
    readonly q: number;
    readonly stats: number;
    readonly tiles: number;
    readonly c: number;
  };
}

/**
 * The layout of the probe of linear layers `plans` and gradients of `gradSizes` elements, with
 * `draws` stochastic-rounding draws, on a device with `limits` (workgroups per dispatch
 * dimension): what {@link HealthProbe.create} allocates and binds, and what the memory estimate
 * counts.
 */
export function planProbe(
  plans: readonly LinearPlan[],
  gradSizes: readonly number[],
  draws: number,
  limits: { readonly limits: Readonly<Record<string, number>> },
  compute: ComputePrecision = "fp32",
): ProbeLayout {
  let partialFloats = 0;
  const slot = (rows: number, fields: number): Slot => {
    const s = { offset: partialFloats, rows, fields };
    partialFloats += align64(rows * fields);
    return s;
  };
  const count = ([gx, gy]: [number, number]) => gx * gy;
  const scratch = { t: 4, q: 4, stats: 16, tiles: 4, c: 4 };
  const layers = plans.map((plan) => {
    const entries = [
      ["fprop", plan.fprop],
      ...(plan.dgrad ? [["dgrad", plan.dgrad] as const] : []),
      ["wgrad", plan.wgrad],
    ] as const;
    const gemms = entries.map(([gemm, g]): GemmProbe => {
      const operand = (o: OperandPlan): OperandProbe => {
        const [rows, cols] = o.transpose ? [o.cols, o.rows] : [o.rows, o.cols];
        if (o.transpose) scratch.t = Math.max(scratch.t, rows * cols * 4);
        if (isIdentity(o.policy)) return { plan: o, slots: [], stochastic: false };
        const config = quantizerConfig(o.policy, "fake", cols, compute);
        const sizes = quantizeSizes(config, rows, cols);
        scratch.q = Math.max(scratch.q, sizes.outBytes);
        scratch.stats = Math.max(scratch.stats, sizes.statsBytes);
        scratch.tiles = Math.max(scratch.tiles, sizes.tileBytes);
        const workgroups = count(quantizeGrid(limits, rows * cols));
        const n = config.stochastic ? draws : 1;
        const slots = Array.from({ length: n }, () => slot(workgroups, HEALTH_FIELDS));
        return { plan: o, slots, stochastic: config.stochastic, config };
      };
      const { m, n } = g.dims;
      scratch.c = Math.max(scratch.c, m * n * 4);
      const a = operand(g.a);
      const b = operand(g.b);
      const compareGroups = count(compareGrid(limits, m * n));
      return { gemm, plan: g, a, b, slot: slot(compareGroups, COMPARE_FIELDS) };
    });
    return { layer: plan.label, gemms };
  });
  const grads = gradSizes.map((n) => slot(count(compareGrid(limits, n)), COMPARE_FIELDS));
  return { layers, grads, partialFloats, scratch };
}

/**
 * The GPU memory (bytes) of the probe of `plans` and gradients of `gradSizes` elements: its
 * partials and scratch buffers, as {@link HealthProbe.create} allocates them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeBytes } from "./health_probe.ts";
 * assert.equal(probeBytes([], [], 4), 11 * 64); // empty partials and ten minimal scratch buffers
 * ```
 */
export function probeBytes(
  plans: readonly LinearPlan[],
  gradSizes: readonly number[],
  draws: number,
  limits: { readonly limits: Readonly<Record<string, number>> } = { limits: {} },
): number {
  const { partialFloats, scratch: s } = planProbe(plans, gradSizes, draws, limits);
  const each = [s.t, s.t, s.q, s.q, s.stats, s.stats, s.tiles, s.tiles, s.c, s.c];
  return [partialFloats * 4, ...each].reduce((n, b) => n + probeBufferBytes(b), 0);
}

/** The FP32 GEMM each GEMM of a layer stands for, on the layer's own tensors. */
const REFERENCE = {
  fprop: { layout: "nt", a: "x", b: "w" },
  dgrad: { layout: "nn", a: "dy", b: "w" },
  wgrad: { layout: "tn", a: "dy", b: "x" },
} as const;

/** The copy's format as a short name: `nvfp4`, `nvfp4-2d`, `bf16`, with `+rht` and `+sr`. */
export function operandFormat(o: Pick<OperandPlan, "policy">): string {
  const p = o.policy;
  let name: string;
  if (typeof p.format === "string") {
    name = p.format;
  } else {
    const f = resolveFormat(p.format);
    name = f.kind === "nvfp4"
      ? (f.tile === "16x16" ? "nvfp4-2d" : "nvfp4")
      : f.kind === "float"
      ? f.element
      : `${f.kind === "mx" ? "mx" : "fp8-"}${f.element}`;
  }
  return name + (p.rht ? "+rht" : "") + (p.rounding === "stochastic" ? "+sr" : "");
}

/** √(a / b), 0 where b is 0. */
function ratio(a: number, b: number): number {
  return b > 0 ? Math.sqrt(a / b) : 0;
}

/** An operand's health from training's draw and, for stochastic rounding, every draw. */
export function operandHealth(
  base: Pick<OperandHealth, "source" | "format" | "elements">,
  s: OperandStats,
  draws?: readonly OperandStats[],
): OperandHealth {
  const scaled = s.blocks > 0 || s.zeroScales > 0;
  const out: OperandHealth = {
    ...base,
    relL2: ratio(s.err2, s.ref2),
    saturation: s.saturated / base.elements,
    underflow: s.underflow / base.elements,
    nonFinite: s.nonFinite,
    ...(scaled
      ? {
        scales: {
          blocks: s.blocks,
          zero: s.zeroScales,
          subnormal: s.subnormalScales,
          minLog2: s.minLog2,
          maxLog2: s.maxLog2,
        },
      }
      : {}),
  };
  if (!draws) return out;
  const rel = draws.map((d) => (d.abs > 0 ? d.bias / d.abs : 0));
  const mean = rel.reduce((a, b) => a + b, 0) / rel.length;
  const variance = rel.length > 1
    ? rel.reduce((a, b) => a + (b - mean) ** 2, 0) / (rel.length - 1)
    : 0;
  return { ...out, bias: { mean, stderr: Math.sqrt(variance / rel.length), draws: rel.length } };
}
