/**
 * WGSL generator for the packed NVFP4 × NVFP4 → f32 GEMM C[M,N] = Σ_k A[m,k]·B[n,k] (both
 * operands row-major with K contiguous, the layout TE's NVFP4 GEMM takes), reading the packed
 * output of the quantizer (kernels/quantize/mod.ts): two E2M1 codes per byte (element 2i in the low
 * nibble), one E4M3 scale byte per 1×16 block, row-major `[rows, K/16]` (a 16×16 tile's byte
 * repeated on its rows for `nvfp4-2d`), and the FP32 decode scale S_dec in `stats[1]`.
 *
 * Arithmetic (NUMERICS.md §2.1 item 5: per-block scales applied to the block's dot product, FP32
 * accumulation across blocks, tensor scales applied after the sum):
 * - 2·e2m1 is an integer in [−12, 12], so each code becomes an int8 (a 16-entry table built here
 *   from the E2M1 codec), four per u32, and `dot4I8Packed` four times gives the exact integer dot
 *   product d of a 16-block (|d| ≤ 16·144). The uniform grids (both operands INT4, or both E1M2;
 *   src/formats/elements.ts) take the same path with the factor `g` = 1 (INT4: −7…7) or 4 (E1M2:
 *   4·e1m2 in −7…7) in place of 2 (`integerFactor` in ./reference.ts; |d| ≤ 16·49).
 * - Scale bytes decode to e4m3/g (exact) with bit arithmetic; the block term d·(sa/g)·(sb/g) has at
 *   most 20 significant bits and is exact in f32, whether `fma` fuses or not. d reaches f32 as
 *   bitcast(d + 0x4B400000) − 1.5·2²³ (exact for |d| < 2²²): an integer add that starts the chain
 *   of dot products and one f32 subtraction, instead of an i32→f32 conversion, which NVIDIA GPUs
 *   run at a fraction of the FMA rate.
 * - acc ← acc + term over the K/16 blocks in order from +0 (the only rounding inside the sum), then
 *   C = fp32(fp32(acc · S_dec,a) · S_dec,b). Each output is one fixed sequence of f32 operations,
 *   independent of the tiling: deterministic, and reproducible on the CPU bit for bit.
 *
 * Structure (one workgroup per BM×BN tile of C, (BM/TM)·(BN/TN) invocations, each owning TM×TN
 * outputs in named f32 accumulators; row i of an invocation is ty + i·(BM/TM), column j is
 * tx + j·(BN/TN), so a subgroup reads one A row (broadcast) and consecutive B rows):
 * - K advances in tiles of BK elements (BK/16 blocks). A load unit is one row's 16-block: its 8 code
 *   bytes as a vec2<u32> and its scale byte. Units of the next K tile are loaded into registers
 *   before the current tile is multiplied; storing them widens the codes through a 256-entry
 *   workgroup table (byte → two int8) into `sa[block][row]` / `sb[block][row]` (vec4<u32>: 16 int8)
 *   and the scales into `fa` / `fb` (f32, rows padded by 8 against bank conflicts).
 * - Every loop inside a K tile, the register tile and every load is unrolled here (naga emits loops
 *   as `while (true)` and clamps dynamically indexed private arrays: PERFORMANCE.md §4.3–4.4).
 * - Rows past M or N and blocks past K load as zero codes with scale 0.
 *
 * The kernel is most likely bound by instruction issue (the integer dots, their adds and three f32
 * operations per 16-block and output), not by memory, so the tiling barely changes its speed;
 * bench/gemm_nvfp4.ts measures it beside the f32 GEMM (reports/h100-kernels.md). The `unpacked`
 * variant multiplies the int8 values one by one, as a polyfill of `dot4I8Packed` would: comparing
 * the two tells a native integer dot product from a polyfill.
 *
 * Bindings: 0 a_codes, 1 a_scales, 2 a_stats, 3 b_codes, 4 b_scales, 5 b_stats (read), 6 c
 * (read_write), 7 params uniform (8 u32: m, n, k_blocks, tiles_m, tiles_n, gx, k_tiles, 0).
 * Workgroups are numbered `wid.y·gx + wid.x` over tiles_m·tiles_n tiles, visited in the order of
 * `kernels/_wgsl/tile_order.ts` (as the f32 GEMM).
 *
 * @module
 */

import { decodeElement, ELEMENTS } from "../../src/formats/elements.ts";
import type { Nvfp4Element } from "../../src/formats/spec.ts";
import { integerFactor } from "./reference.ts";
import { tileOrigin } from "../_wgsl/tile_order.ts";

/**
 * The tiling of a packed NVFP4 GEMM kernel. All are powers of two.
 *
 * @example
 * ```ts
 * import type { Nvfp4GemmTile } from "./wgsl.ts";
 * const tile: Nvfp4GemmTile = { bm: 128, bn: 128, bk: 64, tm: 8, tn: 8 };
 * ```
 */
export interface Nvfp4GemmTile {
  /** Rows of C per workgroup. */
  readonly bm: number;
  /** Columns of C per workgroup. */
  readonly bn: number;
  /** K elements per workgroup-memory tile: 16, 32, 64 or 128. */
  readonly bk: number;
  /** Rows of C per invocation: 1 to 8. */
  readonly tm: number;
  /** Columns of C per invocation: 1 to 8. */
  readonly tn: number;
}

/**
 * How a block's integer dot product is computed: `dot4I8Packed` (the WGSL builtin, a DP4A where
 * the backend maps it to one), or `unpacked`: each int8 extracted and multiplied separately, the
 * form a polyfill takes, for telling the two apart in benchmarks. Results are identical.
 *
 * @example
 * ```ts
 * import type { Nvfp4Dot } from "./wgsl.ts";
 * const dot: Nvfp4Dot = "dot4I8Packed";
 * ```
 */
export type Nvfp4Dot = "dot4I8Packed" | "unpacked";

/**
 * What one packed NVFP4 GEMM shader computes.
 *
 * @example
 * ```ts
 * import type { Nvfp4GemmShaderConfig } from "./wgsl.ts";
 * const cfg: Nvfp4GemmShaderConfig = {
 *   tile: { bm: 64, bn: 64, bk: 64, tm: 4, tn: 4 },
 *   dot: "dot4I8Packed",
 * };
 * ```
 */
export interface Nvfp4GemmShaderConfig {
  /** The workgroup tiling. */
  readonly tile: Nvfp4GemmTile;
  /** How block dot products are computed. */
  readonly dot: Nvfp4Dot;
  /** The element grid of both operands (default `e2m1`). */
  readonly element?: Nvfp4Element;
}

/**
 * g·value(code) as an int8 byte (two's complement) for each of the 16 codes of an element grid
 * (`integerFactor` in ./reference.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integerBytes } from "./wgsl.ts";
 * assert.equal(integerBytes("e2m1")[0x7], 12); // 2·6
 * assert.equal(integerBytes("e2m1")[0xf], 0xf4); // −12
 * assert.equal(integerBytes("int4")[0x9], 0xf9); // −7
 * assert.equal(integerBytes("e1m2")[0x7], 7); // 4·1.75
 * ```
 */
export function integerBytes(element: Nvfp4Element): number[] {
  const g = integerFactor(element);
  return Array.from(
    { length: 16 },
    (_, code) => (g * decodeElement(ELEMENTS[element], code)) & 0xff,
  );
}

/** 1.5·2²³: bitcast<f32>(MAGIC_BITS + d) = MAGIC + d for every integer |d| < 2²². */
const MAGIC = 12582912;
const MAGIC_BITS = 0x4b400000;

/**
 * Invocations per workgroup of a tile.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4GemmWorkgroupSize } from "./wgsl.ts";
 * assert.equal(nvfp4GemmWorkgroupSize({ bm: 128, bn: 256, bk: 32, tm: 8, tn: 8 }), 512);
 * ```
 */
export function nvfp4GemmWorkgroupSize(tile: Nvfp4GemmTile): number {
  return (tile.bm / tile.tm) * (tile.bn / tile.tn);
}

/** Padding (f32) of each row of the scale tiles. */
const SCALE_PAD = 8;

/**
 * Bytes of workgroup memory a shader declares: the byte table, the widened code tiles and the
 * scale tiles.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4GemmWorkgroupBytes } from "./wgsl.ts";
 * const tile = { bm: 64, bn: 64, bk: 64, tm: 4, tn: 4 };
 * assert.equal(nvfp4GemmWorkgroupBytes(tile), 1024 + 4 * 128 * 16 + 4 * (72 + 72) * 4);
 * ```
 */
export function nvfp4GemmWorkgroupBytes(tile: Nvfp4GemmTile): number {
  const blocks = tile.bk / 16;
  const codes = blocks * (tile.bm + tile.bn) * 16;
  const scales = blocks * (tile.bm + tile.bn + 2 * SCALE_PAD) * 4;
  return 256 * 4 + codes + scales;
}

/**
 * Throws a RangeError naming the first constraint a tile breaks: powers of two, `bk` in
 * {16, 32, 64, 128}, `tm`, `tn` ≤ 8 and ≤ `bm`, `bn`, and at least bk/16 invocations (each
 * invocation loads units of one block column; powers of two make the unit counts divide evenly).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkNvfp4GemmTile } from "./wgsl.ts";
 * checkNvfp4GemmTile({ bm: 128, bn: 128, bk: 64, tm: 8, tn: 8 });
 * assert.throws(() => checkNvfp4GemmTile({ bm: 128, bn: 128, bk: 48, tm: 8, tn: 8 }), /bk/);
 * ```
 */
export function checkNvfp4GemmTile(tile: Nvfp4GemmTile): void {
  const { bm, bn, bk, tm, tn } = tile;
  const pow2 = (v: number) => Number.isInteger(v) && v > 0 && (v & (v - 1)) === 0;
  const fail = (why: string) => {
    throw new RangeError(`NVFP4 GEMM tile ${JSON.stringify(tile)}: ${why}`);
  };
  if (![bm, bn, bk, tm, tn].every(pow2)) fail("sizes must be powers of two");
  if (![16, 32, 64, 128].includes(bk)) fail("bk must be 16, 32, 64 or 128");
  if (tm > 8 || tn > 8) fail("tm and tn must be at most 8");
  if (tm > bm || tn > bn) fail("tm, tn must not exceed bm, bn");
  const wg = nvfp4GemmWorkgroupSize(tile);
  if (wg < bk / 16) fail("the workgroup must have at least bk/16 invocations");
}

/** One operand's loads and stores (`x` = "a" or "b"). */
function operand(x: "a" | "b", tile: Nvfp4GemmTile) {
  const rows = x === "a" ? tile.bm : tile.bn;
  const extent = x === "a" ? "p.m" : "p.n";
  const origin = x === "a" ? "m0" : "n0";
  const blocks = tile.bk / 16;
  const wg = nvfp4GemmWorkgroupSize(tile);
  const units = rows * blocks;
  const count = Math.max(units / wg, 1);
  // With fewer units than invocations the first `units` invocations load one each.
  const guard = units < wg ? `lid < ${units}u` : "";
  const pre = [`let ${x}_q = lid % ${blocks}u;`];
  const regs: string[] = [];
  const load: string[] = [];
  const store: string[] = [];
  for (let l = 0; l < count; l++) {
    const r = `${x}_r${l}`;
    pre.push(`let ${r} = lid / ${blocks}u + ${(l * wg) / blocks}u;`);
    pre.push(`let ${x}_in${l} = ${origin} + ${r} < ${extent};`);
    pre.push(`let ${x}_row${l} = (${origin} + ${r}) * p.kb;`);
    regs.push(`var ${x}_c${l}: vec2<u32>;`, `var ${x}_s${l}: u32;`);
    load.push(
      `{ let blk = kt * ${blocks}u + ${x}_q;`,
      `  ${x}_c${l} = vec2<u32>();`,
      `  ${x}_s${l} = 0u;`,
      `  if (${x}_in${l} && blk < p.kb${guard ? ` && ${guard}` : ""}) {`,
      `    let u = ${x}_row${l} + blk;`,
      `    ${x}_c${l} = ${x}_codes[u];`,
      `    ${x}_s${l} = (${x}_scales[u >> 2u] >> ((u & 3u) * 8u)) & 0xffu;`,
      `  } }`,
    );
    const body = [
      `s${x}[${x}_q][${r}] = vec4<u32>(widen(${x}_c${l}.x), widen(${x}_c${l}.y));`,
      `f${x}[${x}_q][${r}] = scale_e4m3(${x}_s${l});`,
    ];
    store.push(...(guard ? [`if (${guard}) {`, ...body.map((s) => "  " + s), `}`] : body));
  }
  return { pre: [...pre, ...regs], load, store };
}

/** The block dot product of vec4<u32> `a`, `b` plus MAGIC_BITS, as an i32 expression list. */
function blockDot(dot: Nvfp4Dot, a: string, b: string): string[] {
  const c = ["x", "y", "z", "w"];
  const fn = dot === "dot4I8Packed" ? "dot4I8Packed" : "dot4_unpacked";
  return [
    `var t = ${fn}(${a}.x, ${b}.x) + ${MAGIC_BITS}i;`,
    ...c.slice(1).map((q) => `t = ${fn}(${a}.${q}, ${b}.${q}) + t;`),
  ];
}

/** The manual unpacked form of dot4I8Packed (for {@link Nvfp4Dot} "unpacked"). */
const DOT4_UNPACKED = /* wgsl */ `
fn dot4_unpacked(x: u32, y: u32) -> i32 {
  let xi = bitcast<i32>(x);
  let yi = bitcast<i32>(y);
  return ((xi << 24u) >> 24u) * ((yi << 24u) >> 24u) + ((xi << 16u) >> 24u) * ((yi << 16u) >> 24u)
    + ((xi << 8u) >> 24u) * ((yi << 8u) >> 24u) + (xi >> 24u) * (yi >> 24u);
}
`;

/**
 * The WGSL of a packed NVFP4 GEMM kernel (entry point `main`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nvfp4GemmShader } from "./wgsl.ts";
 * const code = nvfp4GemmShader({
 *   tile: { bm: 64, bn: 64, bk: 64, tm: 4, tn: 4 },
 *   dot: "dot4I8Packed",
 * });
 * assert.ok(code.includes("@compute @workgroup_size(256)"));
 * assert.ok(code.includes("dot4I8Packed("));
 * ```
 */
export function nvfp4GemmShader(cfg: Nvfp4GemmShaderConfig): string {
  const { tile, dot } = cfg;
  const element = cfg.element ?? "e2m1";
  const shift = Math.log2(integerFactor(element));
  checkNvfp4GemmTile(tile);
  const { bm, bn, bk, tm, tn } = tile;
  const blocks = bk / 16;
  const tx = bn / tn; // invocations along N
  const ty = bm / tm; // invocations along M
  const wg = tx * ty;
  const lines: string[] = [];
  const emit = (...ss: string[]) => lines.push(...ss);
  const indent = (n: number, ss: string[]) => ss.map((s) => " ".repeat(n) + s);
  const nib = integerBytes(element).map((b) => `${b}u`).join(", ");

  emit(
    `requires packed_4x8_integer_dot_product;
struct Params { m: u32, n: u32, kb: u32, tiles_m: u32, tiles_n: u32, gx: u32, k_tiles: u32, _p: u32 }
@group(0) @binding(0) var<storage, read> a_codes: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read> a_scales: array<u32>;
@group(0) @binding(2) var<storage, read> a_stats: array<u32>;
@group(0) @binding(3) var<storage, read> b_codes: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read> b_scales: array<u32>;
@group(0) @binding(5) var<storage, read> b_stats: array<u32>;
@group(0) @binding(6) var<storage, read_write> c: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;
// ${2 ** shift}·${element}(code) as an int8 byte, by code.
const NIB = array<u32, 16>(${nib});
// byte (two codes) → its two int8 in the low 16 bits, the low nibble's first.
var<workgroup> lut: array<u32, 256>;
var<workgroup> sa: array<array<vec4<u32>, ${bm}>, ${blocks}>;
var<workgroup> sb: array<array<vec4<u32>, ${bn}>, ${blocks}>;
var<workgroup> fa: array<array<f32, ${bm + SCALE_PAD}>, ${blocks}>;
var<workgroup> fb: array<array<f32, ${bn + SCALE_PAD}>, ${blocks}>;

// Eight codes (element 2i in the low nibble of byte i) → their eight int8, in order.
fn widen(w: u32) -> vec2<u32> {
  return vec2<u32>(
    lut[w & 0xffu] | (lut[(w >> 8u) & 0xffu] << 16u),
    lut[(w >> 16u) & 0xffu] | (lut[w >> 24u] << 16u),
  );
}

// e4m3(byte)/${
      2 ** shift
    } for a non-negative finite E4M3 byte: exponent field e = byte >> 3, bias 7.
fn scale_e4m3(byte: u32) -> f32 {
  // Normal: (1 + m/8)·2^(e−7−${shift}) has f32 exponent field e + ${120 - shift}, i.e. bits
  // (byte + ${120 - shift}·8) << 20. Subnormal: m·2^−9 / ${2 ** shift}.
  return select(f32(byte & 7u) * ${2 ** (-9 - shift)}, bitcast<f32>((byte + ${
      (120 - shift) * 8
    }u) << 20u), byte >= 8u);
}
${dot === "unpacked" ? DOT4_UNPACKED : ""}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {`,
  );
  for (let r = 0; r < Math.max(256 / wg, 1); r++) {
    const i = r === 0 ? "lid" : `lid + ${r * wg}u`;
    emit(`  if (${i} < 256u) { lut[${i}] = NIB[(${i}) & 15u] | (NIB[(${i}) >> 4u] << 8u); }`);
  }
  emit(tileOrigin({ bm, bn, tx }));
  const A = operand("a", tile);
  const B = operand("b", tile);
  emit(...indent(2, [...A.pre, ...B.pre]));
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) emit(`  var acc_${i}_${j} = 0.0;`);
  }

  const loadTile = (kt: string) => [`{ let kt = ${kt};`, ...A.load, ...B.load, "}"];
  const compute: string[] = [];
  for (let q = 0; q < blocks; q++) {
    compute.push("{");
    for (let i = 0; i < tm; i++) {
      compute.push(`  let a${i} = sa[${q}][ty + ${i * ty}u];`);
      compute.push(`  let ga${i} = fa[${q}][ty + ${i * ty}u];`);
    }
    for (let j = 0; j < tn; j++) {
      compute.push(`  {`);
      compute.push(`    let b = sb[${q}][tx + ${j * tx}u];`);
      compute.push(`    let gb = fb[${q}][tx + ${j * tx}u];`);
      for (let i = 0; i < tm; i++) {
        compute.push(
          `    {`,
          ...indent(6, blockDot(dot, `a${i}`, "b")),
          `      acc_${i}_${j} = fma(bitcast<f32>(t) - ${MAGIC}.0, ga${i} * gb, acc_${i}_${j});`,
          `    }`,
        );
      }
      compute.push(`  }`);
    }
    compute.push("}");
  }

  emit(`  workgroupBarrier();`); // the byte table is complete
  emit(...indent(2, loadTile("0u")));
  emit(`  for (var t = 0u; t < p.k_tiles; t++) {`);
  emit(...indent(4, [...A.store, ...B.store]));
  emit(`    workgroupBarrier();`);
  emit(`    if (t + 1u < p.k_tiles) {`);
  emit(...indent(6, loadTile("t + 1u")));
  emit(`    }`);
  emit(...indent(4, compute));
  emit(`    workgroupBarrier();`);
  emit(`  }`);

  emit(`  let sda = bitcast<f32>(a_stats[1]);`);
  emit(`  let sdb = bitcast<f32>(b_stats[1]);`);
  for (let j = 0; j < tn; j++) emit(`  let col${j} = n0 + tx + ${j * tx}u;`);
  for (let i = 0; i < tm; i++) {
    emit(`  {`);
    emit(`    let m = m0 + ty + ${i * ty}u;`);
    emit(`    if (m < p.m) {`);
    for (let j = 0; j < tn; j++) {
      emit(`      if (col${j} < p.n) {`);
      emit(`        let scaled = acc_${i}_${j} * sda;`);
      emit(`        c[m * p.n + col${j}] = scaled * sdb;`);
      emit(`      }`);
    }
    emit(`    }`);
    emit(`  }`);
  }
  emit(`}`);
  return lines.join("\n") + "\n";
}
