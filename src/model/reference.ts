/**
 * A plain-TypeScript float64 reference of the decoder's forward and backward pass in full
 * precision, built from the per-kernel references. It is the oracle for one fp32 training step of
 * `src/model/decoder.ts` (same parameters, same batch ⇒ same loss and gradients to ~1e-6). With
 * `bf16`, it models the `bf16` policy under `compute: bf16` instead: every GEMM operand and every
 * op's stored output BF16 (the decoder's rounding points), weight gradients and the loss not.
 *
 * @module
 */

import { activationBackward, activationForward } from "../../kernels/activation/reference.ts";
import { attentionBackward, attentionForward } from "../../kernels/attention/reference.ts";
import { embeddingBackward, embeddingForward } from "../../kernels/embedding/reference.ts";
import { rmsNormBackward, rmsNormForward } from "../../kernels/norm/reference.ts";
import { ropeBackward, ropeForward } from "../../kernels/rope/reference.ts";
import { xentReference } from "../../kernels/xent/reference.ts";
import { causalConvBackward, causalConvForward } from "../../kernels/conv1d/reference.ts";
import { gatedRmsNormBackward, gatedRmsNormForward } from "../../kernels/gated_norm/reference.ts";
import { ssdBackward, ssdForward, type SsdInputs } from "../../kernels/ssd/reference.ts";
import { blockKinds, mambaDims, type ModelConfig } from "./config.ts";
import { roundBf16 } from "../formats/bf16.ts";

type Vec = ArrayLike<number>;

/**
 * The reference's GEMMs and stores: exact float64, or with BF16 operands and BF16 stores of every
 * op's output (Fprop and Dgrad outputs included, Wgrad's not).
 */
class Arith {
  readonly #bf16: boolean;
  constructor(bf16: boolean) {
    this.#bf16 = bf16;
  }
  /** An op's output as stored. */
  store(a: Float64Array): Float64Array {
    return this.#bf16 ? Float64Array.from(a, roundBf16) : a;
  }
  /** A GEMM operand as the GEMM reads it. */
  operand(a: Vec): Vec {
    return this.#bf16 ? Float64Array.from(a, roundBf16) : a;
  }
  /** Fprop `[m, n] = x[m, k] · w[n, k]ᵀ`, stored. */
  fprop(x: Vec, w: Vec, m: number, n: number, k: number): Float64Array {
    return this.store(matmulNT(this.operand(x), this.operand(w), m, n, k));
  }
  /** Dgrad `[m, k] = dy[m, n] · w[n, k]`, stored. */
  dgrad(dy: Vec, w: Vec, m: number, k: number, n: number): Float64Array {
    return this.store(matmulNN(this.operand(dy), this.operand(w), m, k, n));
  }
  /** Wgrad `[n, k] = dy[m, n]ᵀ · x[m, k]` (a weight gradient: not rounded). */
  wgrad(dy: Vec, x: Vec, n: number, k: number, m: number): Float64Array {
    return matmulTN(this.operand(dy), this.operand(x), n, k, m);
  }
}

/** C[m,n] = A[m,k] · B[n,k]ᵀ in float64. */
function matmulNT(a: Vec, b: Vec, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
      c[i * n + j] = s;
    }
  }
  return c;
}

/** C[m,n] = A[m,k] · B[k,n] in float64. */
function matmulNN(a: Vec, b: Vec, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      for (let j = 0; j < n; j++) c[i * n + j] += av * b[p * n + j];
    }
  }
  return c;
}

/** C[m,n] = A[k,m]ᵀ · B[k,n] in float64. */
function matmulTN(a: Vec, b: Vec, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let p = 0; p < k; p++) {
    for (let i = 0; i < m; i++) {
      const av = a[p * m + i];
      for (let j = 0; j < n; j++) c[i * n + j] += av * b[p * n + j];
    }
  }
  return c;
}

function add(a: Vec, b: Vec): Float64Array {
  return Float64Array.from(a, (v, i) => v + b[i]);
}

/** Columns `[start, start + count)` of a `[rows, width]` matrix. */
function columns(a: Vec, rows: number, width: number, start: number, count: number): Float64Array {
  const out = new Float64Array(rows * count);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < count; c++) out[r * count + c] = a[r * width + start + c];
  }
  return out;
}

/** Side by side: `[rows, Σ widths]` from `[rows, width_i]` matrices. */
function concatColumns(rows: number, parts: Float64Array[]): Float64Array {
  const widths = parts.map((p) => p.length / rows);
  const width = widths.reduce((a, b) => a + b, 0);
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let at = r * width;
    parts.forEach((p, i) => {
      out.set(p.subarray(r * widths[i], (r + 1) * widths[i]), at);
      at += widths[i];
    });
  }
  return out;
}

/** What a Mamba-2 block's backward needs of its forward. */
interface MambaSaved {
  z: Float64Array;
  xbcIn: Float64Array;
  ssd: SsdInputs;
  y: Float64Array;
  o: Float64Array;
}

/** A Mamba-2 mixer (see `src/model/blocks/mamba.ts`) from `h` to its output, in float64. */
function mambaForward(
  cfg: ModelConfig,
  P: (name: string) => Float32Array,
  i: number,
  h: Float64Array,
  batch: number,
  r: Arith,
): { out: Float64Array; saved: MambaSaved } {
  const m = mambaDims(cfg);
  const M = batch * cfg.seqLen;
  const p = (n: string) => P(`blocks.${i}.${n}`);
  const zx = r.fprop(h, p("in_proj"), M, m.inProj, cfg.dModel);
  const z = columns(zx, M, m.inProj, 0, m.dInner);
  const xbcIn = columns(zx, M, m.inProj, m.dInner, m.convChannels);
  const conv = { batch, seq: cfg.seqLen, channels: m.convChannels, window: m.window };
  const ssd: SsdInputs = {
    xbc: r.store(causalConvForward(xbcIn, p("conv_w"), p("conv_b"), conv)),
    dtRaw: columns(zx, M, m.inProj, m.dInner + m.convChannels, m.heads),
    dtBias: p("dt_bias"),
    aLog: p("A_log"),
    d: p("D"),
  };
  const y = r.store(ssdForward(ssd, ssdDims(cfg, batch)));
  const o = r.store(gatedRmsNormForward(y, z, p("mixer_norm"), gateDims(cfg, M)).out);
  return {
    out: r.fprop(o, p("out_proj"), M, cfg.dModel, m.dInner),
    saved: { z, xbcIn, ssd, y, o },
  };
}

/** The backward of {@link mambaForward}: sets the block's gradients, returns dh. */
function mambaBackward(
  cfg: ModelConfig,
  P: (name: string) => Float32Array,
  i: number,
  h: Float64Array,
  s: MambaSaved,
  dOut: Float64Array,
  batch: number,
  grads: Map<string, Float64Array>,
  r: Arith,
): Float64Array {
  const m = mambaDims(cfg);
  const M = batch * cfg.seqLen;
  const D = cfg.dModel;
  const p = (n: string) => P(`blocks.${i}.${n}`);
  const set = (n: string, g: Float64Array) => grads.set(`blocks.${i}.${n}`, g);
  set("out_proj", r.wgrad(dOut, s.o, D, m.dInner, M));
  const dO = r.dgrad(dOut, p("out_proj"), M, m.dInner, D);
  const gate = gatedRmsNormBackward(s.y, s.z, p("mixer_norm"), dO, gateDims(cfg, M));
  set("mixer_norm", gate.dw);
  const scan = ssdBackward(s.ssd, r.store(gate.dy), ssdDims(cfg, batch));
  set("dt_bias", scan.dDtBias);
  set("A_log", scan.dALog);
  set("D", scan.dD);
  const conv = causalConvBackward(s.xbcIn, p("conv_w"), p("conv_b"), r.store(scan.dxbc), {
    batch,
    seq: cfg.seqLen,
    channels: m.convChannels,
    window: m.window,
  });
  set("conv_w", conv.dw);
  set("conv_b", conv.dBias);
  const dzx = r.store(concatColumns(M, [gate.dz, conv.dx, scan.dDtRaw]));
  set("in_proj", r.wgrad(dzx, h, m.inProj, D, M));
  return r.dgrad(dzx, p("in_proj"), M, D, m.inProj);
}

function ssdDims(cfg: ModelConfig, batch: number) {
  const m = mambaDims(cfg);
  return {
    batch,
    seq: cfg.seqLen,
    heads: m.heads,
    headDim: m.headDim,
    dState: m.dState,
    groups: m.groups,
  };
}

function gateDims(cfg: ModelConfig, rows: number) {
  const m = mambaDims(cfg);
  return { rows, d: m.dInner, groups: m.groups };
}

/** Loss, accuracy and the gradient of every parameter, by name. */
export interface ReferenceStep {
  /** Mean cross-entropy over the batch's tokens (nats). */
  readonly loss: number;
  /** Top-1 next-token accuracy. */
  readonly accuracy: number;
  /** The gradient of every parameter, by name. */
  readonly grads: Map<string, Float64Array>;
}

/**
 * Forward and backward of the decoder on one batch (`tokens`, `targets`: `[batch·seqLen]`),
 * with the mean cross-entropy as the loss; `opts.bf16` models the `bf16` policy under
 * `compute: bf16` (see the module comment).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paramSpecs } from "./config.ts";
 * import { initParam } from "./init.ts";
 * import { referenceStep } from "./reference.ts";
 * const cfg = { pattern: "*-", dModel: 16, heads: 2, dFf: 32, seqLen: 4, vocab: 8, mlp: "relu2" } as const;
 * const params = new Map(paramSpecs(cfg).map((s, i) => [s.name, initParam(s, i, 0)]));
 * const r = referenceStep(cfg, params, 1, new Uint32Array([1, 2, 3, 4]), new Uint32Array([2, 3, 4, 5]));
 * assert.ok(Math.abs(r.loss - Math.log(8)) < 0.1);
 * ```
 */
export function referenceStep(
  cfg: ModelConfig,
  params: ReadonlyMap<string, Float32Array>,
  batch: number,
  tokens: Uint32Array,
  targets: Uint32Array,
  opts: { readonly bf16?: boolean } = {},
): ReferenceStep {
  const M = batch * cfg.seqLen;
  const D = cfg.dModel;
  const F = cfg.dFf;
  const Fu = cfg.mlp === "swiglu" ? 2 * F : F;
  const V = cfg.vocab;
  const P = (name: string) => params.get(name)!;
  const dims = { batch, seq: cfg.seqLen, heads: cfg.heads, headDim: D / cfg.heads };
  const kinds = blockKinds(cfg.pattern);
  const r = new Arith(opts.bf16 ?? false);

  // Forward, keeping what the backward needs.
  let x: Float64Array = r.store(embeddingForward(P("wte"), tokens, V, D));
  const saved: {
    x: Float64Array;
    h: Float64Array;
    qkv?: Float64Array;
    att?: Float64Array;
    u?: Float64Array;
    a?: Float64Array;
    mamba?: MambaSaved;
  }[] = [];
  kinds.forEach((kind, i) => {
    const h = r.store(rmsNormForward(x, P(`blocks.${i}.norm`), M, D).y);
    if (kind === "attention") {
      const qkv = r.store(ropeForward(r.fprop(h, P(`blocks.${i}.qkv`), M, 3 * D, D), dims));
      const att = r.store(attentionForward(qkv, dims).y);
      saved.push({ x, h, qkv, att });
      x = r.store(add(x, r.fprop(att, P(`blocks.${i}.proj`), M, D, D)));
    } else if (kind === "mamba") {
      const mamba = mambaForward(cfg, P, i, h, batch, r);
      saved.push({ x, h, mamba: mamba.saved });
      x = r.store(add(x, mamba.out));
    } else {
      const u = r.fprop(h, P(`blocks.${i}.fc1`), M, Fu, D);
      const a = r.store(activationForward(cfg.mlp, u, M, F));
      saved.push({ x, h, u, a });
      x = r.store(add(x, r.fprop(a, P(`blocks.${i}.fc2`), M, D, F)));
    }
  });
  const hf = r.store(rmsNormForward(x, P("norm_f"), M, D).y);
  const logits = r.fprop(hf, P("lm_head"), M, V, D);
  const xent = xentReference(logits, targets, M, V);

  // Backward.
  const grads = new Map<string, Float64Array>();
  const dlogits = r.store(xent.dlogits);
  grads.set("lm_head", r.wgrad(dlogits, hf, V, D, M));
  const normF = rmsNormBackward(x, P("norm_f"), r.dgrad(dlogits, P("lm_head"), M, D, V), M, D);
  grads.set("norm_f", normF.dg);
  let g = r.store(normF.dx);
  for (let i = kinds.length - 1; i >= 0; i--) {
    const s = saved[i];
    let dh: Float64Array;
    if (kinds[i] === "attention") {
      grads.set(`blocks.${i}.proj`, r.wgrad(g, s.att!, D, D, M));
      const datt = r.dgrad(g, P(`blocks.${i}.proj`), M, D, D);
      const dqkv = r.store(ropeBackward(r.store(attentionBackward(s.qkv!, datt, dims)), dims));
      grads.set(`blocks.${i}.qkv`, r.wgrad(dqkv, s.h, 3 * D, D, M));
      dh = r.dgrad(dqkv, P(`blocks.${i}.qkv`), M, D, 3 * D);
    } else if (kinds[i] === "mamba") {
      dh = mambaBackward(cfg, P, i, s.h, s.mamba!, g, batch, grads, r);
    } else {
      grads.set(`blocks.${i}.fc2`, r.wgrad(g, s.a!, D, F, M));
      const da = r.dgrad(g, P(`blocks.${i}.fc2`), M, F, D);
      const du = r.store(activationBackward(cfg.mlp, s.u!, da, M, F));
      grads.set(`blocks.${i}.fc1`, r.wgrad(du, s.h, Fu, D, M));
      dh = r.dgrad(du, P(`blocks.${i}.fc1`), M, D, Fu);
    }
    const nb = rmsNormBackward(s.x, P(`blocks.${i}.norm`), dh, M, D);
    grads.set(`blocks.${i}.norm`, nb.dg);
    g = r.store(add(g, nb.dx));
  }
  grads.set("wte", embeddingBackward(g, tokens, V, D));
  return { loss: xent.meanLoss, accuracy: xent.accuracy, grads };
}
