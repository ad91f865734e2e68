/**
 * WGSL generator for the f32 GEMM C[M,N] (+)= op(A)·op(B) in the layouts `nt`, `nn`, `tn`
 * (kernels/gemm/reference.ts).
 *
 * Structure (one workgroup per BM×BN tile of C, (BM/TM)·(BN/TN) invocations, each owning TM×TN
 * outputs held in named vec4 accumulators):
 * - Workgroup tiles are stored K-major, `sa[k][m/4]` and `sb[k][n/4]` as vec4, so the inner
 *   product step reads one vec4 of A and one of B per 4 rows/columns and does TM·TN FMAs.
 * - Global loads are vec4 along each operand's contiguous dimension, coalesced in every layout:
 *   K-major operands (A of `tn`, B of `nn`/`tn`) copy vec4 straight into the tile; M-major ones
 *   (A of `nt`/`nn`, B of `nt`) are read as vec4 along K and scattered into the K-major tile by
 *   component, with the tile row padded by one vec4 against bank conflicts. Where the contiguous
 *   dimensions are not multiples of 4 the `scalar` variant loads and stores element by element.
 * - The next K tile is loaded into registers before the current one is multiplied (its latency
 *   hides behind the FMAs); with `stages: 2` two tile buffers alternate and one barrier per K tile
 *   suffices (the loop body is unrolled twice so every tile index stays a constant).
 * - Every loop inside a K tile, every register tile and every load is unrolled here, so the
 *   shader has no private arrays and the inner product indexes workgroup tiles by constant rows.
 *
 * Numerics: each output is one f32 sum over k = 0…K−1 in order, started at +0, one `fma` per step,
 * so results do not depend on how M and N are tiled; past K's last tile the sum only adds +0
 * (products of zero padding). With `accumulate`, C ← C + sum. No atomics: deterministic.
 *
 * Bindings: 0 `a`, 1 `b` (read), 2 `c` (read_write), 3 params uniform (8 u32: m, n, k, tiles_m,
 * tiles_n, gx, k_tiles, 0). Workgroups are numbered `wid.y·gx + wid.x` over
 * tiles_m·tiles_n tiles, visited in the order of `kernels/_wgsl/tile_order.ts`.
 *
 * @module
 */

import { tileOrigin } from "../_wgsl/tile_order.ts";
import type { GemmLayout } from "./reference.ts";

/**
 * The tiling of a GEMM kernel. All are powers of two; `tm`, `tn` and `bk` at least 4.
 *
 * @example
 * ```ts
 * import type { GemmTile } from "./wgsl.ts";
 * const tile: GemmTile = { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, stages: 2 };
 * ```
 */
export interface GemmTile {
  /** Rows of C per workgroup. */
  readonly bm: number;
  /** Columns of C per workgroup. */
  readonly bn: number;
  /** K depth of a workgroup-memory tile. */
  readonly bk: number;
  /** Rows of C per invocation. */
  readonly tm: number;
  /** Columns of C per invocation. */
  readonly tn: number;
  /** Workgroup-memory tile buffers: 1 (two barriers per K tile) or 2 (one barrier). */
  readonly stages: 1 | 2;
}

/**
 * What one GEMM shader computes.
 *
 * @example
 * ```ts
 * import type { GemmShaderConfig } from "./wgsl.ts";
 * const cfg: GemmShaderConfig = {
 *   layout: "nn",
 *   accumulate: false,
 *   scalar: false,
 *   tile: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, stages: 1 },
 * };
 * ```
 */
export interface GemmShaderConfig {
  /** Which operands are transposed. */
  readonly layout: GemmLayout;
  /** C ← C + op(A)·op(B) instead of C ← op(A)·op(B). */
  readonly accumulate: boolean;
  /** Element-wise loads and stores, for dimensions that are not multiples of 4. */
  readonly scalar: boolean;
  /** The workgroup tiling. */
  readonly tile: GemmTile;
}

const COMPONENTS = ["x", "y", "z", "w"];

/** Whether operand `a` or `b` of a layout is stored K-major (its K index is the row index). */
function kMajor(layout: GemmLayout, operand: "a" | "b"): boolean {
  return operand === "a" ? layout === "tn" : layout !== "nt";
}

/** vec4 per K row of an operand's workgroup tile (M-major operands get one vec4 of padding). */
function tileWidth(layout: GemmLayout, operand: "a" | "b", tile: GemmTile): number {
  const rows = operand === "a" ? tile.bm : tile.bn;
  return rows / 4 + (kMajor(layout, operand) ? 0 : 1);
}

/**
 * Invocations per workgroup of a tile.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmWorkgroupSize } from "./wgsl.ts";
 * assert.equal(gemmWorkgroupSize({ bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, stages: 1 }), 256);
 * ```
 */
export function gemmWorkgroupSize(tile: GemmTile): number {
  return (tile.bm / tile.tm) * (tile.bn / tile.tn);
}

/**
 * Bytes of workgroup memory a shader declares.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmWorkgroupBytes } from "./wgsl.ts";
 * const tile = { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, stages: 2 } as const;
 * assert.equal(gemmWorkgroupBytes("tn", tile), 2 * 2 * 8 * 32 * 16);
 * ```
 */
export function gemmWorkgroupBytes(layout: GemmLayout, tile: GemmTile): number {
  const rows = tile.bk * tile.stages;
  return (tileWidth(layout, "a", tile) + tileWidth(layout, "b", tile)) * rows * 16;
}

/**
 * Throws a RangeError naming the first constraint a tile breaks: powers of two, `tm`/`tn` in
 * {4, 8}, `bk` ≥ 4, `tm ≤ bm`, `tn ≤ bn`, and whole vec4 loads per invocation for both tiles.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkGemmTile } from "./wgsl.ts";
 * checkGemmTile({ bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, stages: 1 });
 * assert.throws(() => checkGemmTile({ bm: 96, bn: 64, bk: 8, tm: 4, tn: 4, stages: 1 }));
 * ```
 */
export function checkGemmTile(tile: GemmTile): void {
  const { bm, bn, bk, tm, tn, stages } = tile;
  const pow2 = (v: number) => Number.isInteger(v) && v > 0 && (v & (v - 1)) === 0;
  const fail = (why: string) => {
    throw new RangeError(`GEMM tile ${JSON.stringify(tile)}: ${why}`);
  };
  if (![bm, bn, bk, tm, tn].every(pow2)) fail("sizes must be powers of two");
  if (![4, 8].includes(tm) || ![4, 8].includes(tn)) fail("tm and tn must be 4 or 8");
  if (bk < 4) fail("bk must be at least 4");
  if (tm > bm || tn > bn) fail("tm, tn must not exceed bm, bn");
  if (stages !== 1 && stages !== 2) fail("stages must be 1 or 2");
  const wg = gemmWorkgroupSize(tile);
  for (const rows of [bm, bn]) {
    if (((rows * bk) / 4) % wg !== 0) fail("each invocation must load whole vec4 of each tile");
    if (wg % (rows / 4) !== 0 || wg % (bk / 4) !== 0) fail("tile rows must split evenly");
  }
}

/**
 * The WGSL of a GEMM kernel (entry point `main`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gemmShader } from "./wgsl.ts";
 * const code = gemmShader({
 *   layout: "tn",
 *   accumulate: true,
 *   scalar: false,
 *   tile: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, stages: 2 },
 * });
 * assert.ok(code.includes("@compute @workgroup_size(256)"));
 * ```
 */
export function gemmShader(cfg: GemmShaderConfig): string {
  checkGemmTile(cfg.tile);
  const { layout, accumulate, scalar, tile } = cfg;
  const { bm, bn, bk, tm, tn, stages } = tile;
  const tx = bn / tn; // invocations along N
  const ty = bm / tm; // invocations along M
  const wg = tx * ty;
  const elem = scalar ? "f32" : "vec4<f32>";
  const lines: string[] = [];
  const emit = (...ss: string[]) => lines.push(...ss);

  emit(
    `struct Params { m: u32, n: u32, k: u32, tiles_m: u32, tiles_n: u32, gx: u32, k_tiles: u32, _p: u32 }
@group(0) @binding(0) var<storage, read> a: array<${elem}>;
@group(0) @binding(1) var<storage, read> b: array<${elem}>;
@group(0) @binding(2) var<storage, read_write> c: array<${elem}>;
@group(0) @binding(3) var<uniform> p: Params;
var<workgroup> sa: array<array<vec4<f32>, ${tileWidth(layout, "a", tile)}>, ${bk * stages}>;
var<workgroup> sb: array<array<vec4<f32>, ${tileWidth(layout, "b", tile)}>, ${bk * stages}>;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {`,
    tileOrigin({ bm, bn, tx }),
  );

  /**
   * One operand's tile loads. Each invocation moves `count` vec4-sized pieces per K tile into
   * registers `${x}r0…`; `load(kt)` reads K tile `kt` from global memory, `store(s)` writes the
   * registers into tile buffer `s`.
   */
  const operand = (x: "a" | "b") => {
    const rows = x === "a" ? bm : bn; // tile extent along M (A) or N (B)
    const extent = x === "a" ? "p.m" : "p.n";
    const origin = x === "a" ? "m0" : "n0";
    const count = (rows * bk) / 4 / wg;
    const shared = `s${x}`;
    const pre: string[] = [];
    const load: string[] = [];
    const store: (s: number) => string[] = (s) => {
      const out: string[] = [];
      for (let l = 0; l < count; l++) {
        if (kMajor(layout, x)) {
          out.push(`${shared}[${s * bk}u + ${x}_k${l}][${x}_c4] = ${x}r${l};`);
        } else {
          for (let q = 0; q < 4; q++) {
            out.push(
              `${shared}[${
                s * bk + q
              }u + 4u * ${x}_kq][${x}_r${l} >> 2u][${x}_r${l} & 3u] = ${x}r${l}.${COMPONENTS[q]};`,
            );
          }
        }
      }
      return out;
    };
    if (kMajor(layout, x)) {
      // [K, rows] row-major: piece = 4 consecutive columns of one K row.
      const perRow = rows / 4;
      pre.push(`let ${x}_c4 = lid % ${perRow}u;`);
      pre.push(`let ${x}_col = ${origin} + 4u * ${x}_c4;`);
      for (let l = 0; l < count; l++) {
        pre.push(`let ${x}_k${l} = lid / ${perRow}u + ${(l * wg) / perRow}u;`);
      }
      for (let l = 0; l < count; l++) {
        const k = `kt * ${bk}u + ${x}_k${l}`;
        if (scalar) {
          const parts = COMPONENTS.map((_, q) =>
            `select(0.0, ${x}[${x}_at${l} + ${q}u], ${x}_ok${l} && ${x}_col + ${q}u < ${extent})`
          );
          load.push(`{ let ${x}_at${l} = (${k}) * ${extent} + ${x}_col;`);
          load.push(`  let ${x}_ok${l} = ${k} < p.k;`);
          load.push(`  ${x}r${l} = vec4<f32>(${parts.join(", ")}); }`);
        } else {
          load.push(
            `${x}r${l} = select(vec4<f32>(), ${x}[(${k}) * (${extent} / 4u) + ${x}_col / 4u], ` +
              `${k} < p.k && ${x}_col < ${extent});`,
          );
        }
      }
    } else {
      // [rows, K] row-major: piece = 4 consecutive K values of one row.
      const perRow = bk / 4;
      pre.push(`let ${x}_kq = lid % ${perRow}u;`);
      for (let l = 0; l < count; l++) {
        pre.push(`let ${x}_r${l} = lid / ${perRow}u + ${(l * wg) / perRow}u;`);
        pre.push(`let ${x}_in${l} = ${origin} + ${x}_r${l} < ${extent};`);
        pre.push(`let ${x}_base${l} = (${origin} + ${x}_r${l}) * p.k + 4u * ${x}_kq;`);
      }
      for (let l = 0; l < count; l++) {
        const k = `kt * ${bk}u + 4u * ${x}_kq`;
        if (scalar) {
          const parts = COMPONENTS.map((_, q) =>
            `select(0.0, ${x}[${x}_base${l} + kt * ${bk}u + ${q}u], ${x}_in${l} && ${k} + ${q}u < p.k)`
          );
          load.push(`${x}r${l} = vec4<f32>(${parts.join(", ")});`);
        } else {
          load.push(
            `${x}r${l} = select(vec4<f32>(), ${x}[(${x}_base${l} + kt * ${bk}u) / 4u], ` +
              `${x}_in${l} && ${k} < p.k);`,
          );
        }
      }
    }
    const regs = Array.from({ length: count }, (_, l) => `var ${x}r${l}: vec4<f32>;`);
    return { pre: [...pre, ...regs], load, store };
  };

  const A = operand("a");
  const B = operand("b");
  for (const s of [...A.pre, ...B.pre]) emit(`  ${s}`);

  // Accumulators: acc_i_j holds row i, columns 4j…4j+3 of the invocation's TM×TN block.
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn / 4; j++) emit(`  var acc_${i}_${j} = vec4<f32>();`);
  }

  const indent = (n: number, ss: string[]) => ss.map((s) => " ".repeat(n) + s);
  const loadTile = (kt: string) => [`{ let kt = ${kt};`, ...A.load, ...B.load, "}"];
  const storeTile = (s: number) => [...A.store(s), ...B.store(s)];
  const compute = (s: number) => {
    const out: string[] = [];
    for (let k = 0; k < bk; k++) {
      const row = s * bk + k;
      out.push("{");
      for (let g = 0; g < tm / 4; g++) out.push(`  let a${g} = sa[${row}][ty + ${g * ty}u];`);
      for (let j = 0; j < tn / 4; j++) out.push(`  let b${j} = sb[${row}][tx + ${j * tx}u];`);
      for (let i = 0; i < tm; i++) {
        const ai = `a${i >> 2}.${COMPONENTS[i & 3]}`;
        for (let j = 0; j < tn / 4; j++) {
          out.push(`  acc_${i}_${j} = fma(vec4<f32>(${ai}), b${j}, acc_${i}_${j});`);
        }
      }
      out.push("}");
    }
    return out;
  };

  emit(`  let k_tiles = p.k_tiles;`);
  emit(...indent(2, loadTile("0u")));
  if (stages === 1) {
    emit(`  for (var t = 0u; t < k_tiles; t++) {`);
    emit(...indent(4, storeTile(0)));
    emit(`    workgroupBarrier();`);
    emit(`    if (t + 1u < k_tiles) {`);
    emit(...indent(6, loadTile("t + 1u")));
    emit(`    }`);
    emit(...indent(4, compute(0)));
    emit(`    workgroupBarrier();`);
    emit(`  }`);
  } else {
    emit(...indent(2, storeTile(0)));
    emit(`  workgroupBarrier();`);
    emit(`  for (var t = 0u; t < k_tiles; t += 2u) {`);
    emit(`    let more0 = t + 1u < k_tiles;`);
    emit(`    if (more0) {`);
    emit(...indent(6, loadTile("t + 1u")));
    emit(`    }`);
    emit(...indent(4, compute(0)));
    emit(`    if (!more0) { break; }`);
    emit(...indent(4, storeTile(1)));
    emit(`    workgroupBarrier();`);
    emit(`    let more1 = t + 2u < k_tiles;`);
    emit(`    if (more1) {`);
    emit(...indent(6, loadTile("t + 2u")));
    emit(`    }`);
    emit(...indent(4, compute(1)));
    emit(`    if (more1) {`);
    emit(...indent(6, storeTile(0)));
    emit(`    }`);
    emit(`    workgroupBarrier();`);
    emit(`  }`);
  }

  // Epilogue: row i of the block is m0 + 4·(ty + (i/4)·TY) + i%4; vec4 j covers columns
  // n0 + 4·(tx + j·TX) … +3.
  for (let j = 0; j < tn / 4; j++) emit(`  let col${j} = n0 + 4u * (tx + ${j * tx}u);`);
  for (let i = 0; i < tm; i++) {
    emit(`  {`);
    emit(`    let m = m0 + 4u * (ty + ${(i >> 2) * ty}u) + ${i & 3}u;`);
    emit(`    if (m < p.m) {`);
    for (let j = 0; j < tn / 4; j++) {
      const acc = `acc_${i}_${j}`;
      if (scalar) {
        for (let q = 0; q < 4; q++) {
          emit(`      if (col${j} + ${q}u < p.n) {`);
          emit(`        let o = m * p.n + col${j} + ${q}u;`);
          emit(`        c[o] = ${accumulate ? "c[o] + " : ""}${acc}.${COMPONENTS[q]};`);
          emit(`      }`);
        }
      } else {
        emit(`      if (col${j} < p.n) {`);
        emit(`        let o = m * (p.n / 4u) + col${j} / 4u;`);
        emit(`        c[o] = ${accumulate ? "c[o] + " : ""}${acc};`);
        emit(`      }`);
      }
    }
    emit(`    }`);
    emit(`  }`);
  }
  emit(`}`);
  return lines.join("\n") + "\n";
}
