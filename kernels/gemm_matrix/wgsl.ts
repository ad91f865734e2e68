/**
 * WGSL of the matrix-unit GEMM (`chromium_experimental_subgroup_matrix`, Dawn): C[m, n] (+)=
 * op(A)·op(B) with f16 A and B and f32 C, on 16×16×16 subgroup matrices (f16 operands, f32
 * accumulation).
 *
 * Each workgroup owns one `(16·tm·sm) × (16·tn·sn)` tile of C (tile order of
 * kernels/_wgsl/tile_order.ts). Per K slice of `bk` values it copies A's and B's slices from storage
 * into workgroup memory, 2·`words` f16 per invocation and load (the operands are read as
 * arrays of u32 words, `vec4<u32>` by default; with `rotate`, each invocation stores the words of
 * a load starting at word lid/8 mod 4, so a subgroup's f16 stores hit 32 banks), rows padded by `pad` f16, keeping each operand's storage orientation (row- or column-major as the layout
 * says), then every subgroup loads its `tm` left and `tn` right matrices from there and multiplies
 * them into its `tm × tn` f32 result matrices, which are stored to C (after adding C's old values
 * when accumulating) at the end. Two-stage tilings keep two buffers per operand: the next slice's
 * loads are issued before the current slice's MMAs and stored after them, one barrier per slice. Offsets and strides depend only on the workgroup and the subgroup, as
 * subgroup-matrix loads require.
 *
 * Bindings: 0 `a_words`, 1 `b_words` (read, f16 pairs in u32 words), 2 `c` (read_write, f32), 3 params uniform
 * (8 u32: m, n, k, tiles_m, tiles_n, gx, 0, 0); scaled kernels also 4 `stats_a` and 5 `stats_b` (read, the
 * operands' stats words: amax, then the tensor factor), whose factors' product multiplies every
 * result matrix before it is stored.
 *
 * @module
 */

import type { GemmLayout } from "../gemm/reference.ts";
import { tileOrigin } from "../_wgsl/tile_order.ts";
import {
  MATRIX_SIZE,
  MATRIX_SUBGROUP_SIZE,
  type MatrixGemmTile,
  matrixTileShape,
} from "./reference.ts";

/**
 * What {@link matrixGemmShader} generates.
 *
 * @example
 * ```ts
 * import type { MatrixGemmShaderConfig } from "./wgsl.ts";
 * const cfg: MatrixGemmShaderConfig = {
 *   layout: "tn", accumulate: true, tile: { sm: 2, sn: 2, tm: 4, tn: 4, bk: 32 },
 *   enables: "enable f16;\nenable subgroups;\nenable chromium_experimental_subgroup_matrix;\n",
 * };
 * ```
 */
export interface MatrixGemmShaderConfig {
  /** `nt` (A [m,k], B [n,k]), `nn` (A [m,k], B [k,n]) or `tn` (A [k,m], B [k,n]). */
  readonly layout: GemmLayout;
  /** C ← C + op(A)·op(B) instead of C ← op(A)·op(B). */
  readonly accumulate: boolean;
  /**
   * C ← fp32(op(A)·op(B) · fp32(factorA · factorB)), the factors being word 1 of the operands'
   * stats buffers (the f16 operands' tensor factors, src/formats/f16.ts). Not with `accumulate`.
   */
  readonly scaled?: boolean;
  readonly tile: MatrixGemmTile;
  /** The `enable` directives the implementation needs (f16, subgroups, subgroup matrices). */
  readonly enables: string;
}

/** Invocations of a workgroup of `tile`. */
export function matrixGemmWorkgroupSize(tile: MatrixGemmTile): number {
  return MATRIX_SUBGROUP_SIZE * tile.sm * tile.sn;
}

/** Bytes of workgroup memory a workgroup of `tile` uses (A's and B's staged f16 slices). */
export function matrixGemmWorkgroupBytes(tile: MatrixGemmTile): number {
  const { rows, cols } = matrixTileShape(tile);
  const pad = tile.pad ?? 0;
  // Whichever way a slice is stored, padding its rows adds at most pad·max(rows, bk) per operand.
  const padded = (n: number) => n * tile.bk + pad * Math.max(n, tile.bk);
  return 2 * (padded(rows) + padded(cols)) * (tile.stages ?? 1);
}

/** Where an operand's K slice lives in storage. */
interface Slice {
  /** Rows and columns of the slice in storage order (contiguous along columns). */
  readonly rows: number;
  readonly cols: number;
  /** The storage index (in f16) of the slice's element (r, q) — r, q WGSL u32 expressions. */
  readonly at: (r: string, q: string) => string;
}

/** The WGSL type of one staging load of `words` u32 words. */
function wordsType(words: number): string {
  return words === 1 ? "u32" : `vec${words}<u32>`;
}

/**
 * Staging one operand's K slice: loads of `words` u32 words each (2·words f16) from `src` into
 * registers `reg0…`, and the stores that unpack each into f16 of `dst` at the same position in the
 * slice as in storage, rows `stride` f16 apart. Loads and stores are separate so that a two-stage
 * kernel can issue the next slice's loads before multiplying the current one.
 */
function stage(
  dst: string,
  src: string,
  reg: string,
  wg: number,
  slice: Slice,
  words: number,
  stride: number,
  rotate: boolean,
) {
  const halvesPerLoad = 2 * words;
  const vectors = (slice.rows * slice.cols) / halvesPerLoad;
  const perRow = slice.cols / halvesPerLoad;
  const loads: string[] = [];
  const stores: string[] = [];
  const parts = words === 1 ? ["v"] : ["v.x", "v.y", "v.z", "v.w"].slice(0, words);
  for (let it = 0; it * wg < vectors; it++) {
    const e = it === 0 ? "lid" : `lid + ${it * wg}u`;
    const partial = (it + 1) * wg > vectors;
    const guard = partial ? `if (${e} < ${vectors}u) ` : "";
    const rq = `let r = (${e}) / ${perRow}u; let q = ((${e}) % ${perRow}u) * ${halvesPerLoad}u;`;
    loads.push(
      `    var ${reg}${it} = ${wordsType(words)}();`,
      `    ${guard}{ ${rq} ${reg}${it} = ${src}[(${slice.at("r", "q")}) / ${halvesPerLoad}u]; }`,
    );
    // Rotated: the j-th word stored is word (j + rot) mod 4 of the load, at its own place.
    // Word (i + rot) mod 4 by selects on constant components: indexing the loaded vector with
    // `rot` itself put it in local memory on the H100 (3× slower GEMMs).
    const rotated = (i: number) => {
      const w = (d: number) => parts[(i + d) % 4];
      return `select(select(select(${w(0)}, ${w(1)}, rot == 1u), ${w(2)}, rot == 2u), ${
        w(3)
      }, rot == 3u)`;
    };
    const unpack = parts.map((w, i) =>
      `let h${i} = bitcast<vec2<f16>>(${rotate ? rotated(i) : w});`
    ).join(" ");
    const at = (t: number) =>
      rotate ? `o + 2u * ((${t >> 1}u + rot) & 3u) + ${t & 1}u` : `o + ${t}u`;
    const halves = Array.from(
      { length: halvesPerLoad },
      (_, t) => `${dst}[${at(t)}] = h${t >> 1}.${"xy"[t & 1]};`,
    ).join(" ");
    stores.push(
      `    ${guard}{`,
      `      ${rq} let o = r * ${stride}u + q; let v = ${reg}${it};`,
      `      ${unpack}`,
      `      ${halves}`,
      "    }",
    );
  }
  return { loads, stores };
}

/**
 * The matrix-unit GEMM kernel for one layout, tiling and accumulate mode.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matrixGemmShader } from "./wgsl.ts";
 * const code = matrixGemmShader({
 *   layout: "nn", accumulate: false, tile: { sm: 2, sn: 2, tm: 4, tn: 4, bk: 32 }, enables: "",
 * });
 * assert.match(code, /@workgroup_size\(128\)/);
 * assert.equal(code.match(/subgroupMatrixMultiplyAccumulate/g)?.length, 16);
 * ```
 */
export function matrixGemmShader(cfg: MatrixGemmShaderConfig): string {
  const { layout, tile, accumulate, scaled = false } = cfg;
  if (scaled && accumulate) throw new RangeError("a scaled matrix GEMM cannot accumulate");
  const { tm, tn, bk } = tile;
  const stages = tile.stages ?? 1;
  const pad = tile.pad ?? 0;
  const words = tile.words ?? 4;
  const S = MATRIX_SIZE;
  const { rows: bm, cols: bn } = matrixTileShape(tile);
  const wg = matrixGemmWorkgroupSize(tile);
  // Storage orientation: A is [k, m] for tn (column-major op(A)), B is [n, k] for nt.
  const aColumnMajor = layout === "tn";
  const bColumnMajor = layout === "nt";
  const aSlice = aColumnMajor
    ? { rows: bk, cols: bm, at: (r: string, q: string) => `(k0 + ${r}) * p.m + m0 + ${q}` }
    : { rows: bm, cols: bk, at: (r: string, q: string) => `(m0 + ${r}) * p.k + k0 + ${q}` };
  const bSlice = bColumnMajor
    ? { rows: bn, cols: bk, at: (r: string, q: string) => `(n0 + ${r}) * p.k + k0 + ${q}` }
    : { rows: bk, cols: bn, at: (r: string, q: string) => `(k0 + ${r}) * p.n + n0 + ${q}` };
  // Workgroup-memory row strides (f16): the slice's storage columns plus the padding.
  const aStride = (aColumnMajor ? bm : bk) + pad;
  const bStride = (bColumnMajor ? bk : bn) + pad;
  const left = (sa: string, i: number) =>
    aColumnMajor
      ? `subgroupMatrixLoad<subgroup_matrix_left<f16, ${S}, ${S}>, col_major>(&${sa}, kk * ${aStride}u + mb + ${
        S * i
      }u, ${aStride}u)`
      : `subgroupMatrixLoad<subgroup_matrix_left<f16, ${S}, ${S}>, row_major>(&${sa}, (mb + ${
        S * i
      }u) * ${aStride}u + kk, ${aStride}u)`;
  const right = (sb: string, j: number) =>
    bColumnMajor
      ? `subgroupMatrixLoad<subgroup_matrix_right<f16, ${S}, ${S}>, col_major>(&${sb}, (nb + ${
        S * j
      }u) * ${bStride}u + kk, ${bStride}u)`
      : `subgroupMatrixLoad<subgroup_matrix_right<f16, ${S}, ${S}>, row_major>(&${sb}, kk * ${bStride}u + nb + ${
        S * j
      }u, ${bStride}u)`;
  const cAt = (i: number, j: number) => `cz + (m0 + mb + ${S * i}u) * p.n + n0 + nb + ${S * j}u`;
  const pairs: [number, number][] = [];
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) pairs.push([i, j]);
  const result = `subgroup_matrix_result<f32, ${S}, ${S}>`;
  /** The MMAs of one staged slice in buffers `sa`, `sb`. */
  const multiply = (sa: string, sb: string) => [
    `    for (var kk = 0u; kk < ${bk}u; kk += ${S}u) {`,
    ...Array.from({ length: tm }, (_, i) => `      let a${i} = ${left(sa, i)};`),
    ...Array.from({ length: tn }, (_, j) => `      let b${j} = ${right(sb, j)};`),
    ...pairs.map(([i, j]) =>
      `      acc${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, acc${i}_${j});`
    ),
    "    }",
  ];
  const rotate = tile.rotate ?? false;
  const staged = (n: number) => ({
    a: stage(`sa${n}`, "a_words", "ra", wg, aSlice, words, aStride, rotate),
    b: stage(`sb${n}`, "b_words", "rb", wg, bSlice, words, bStride, rotate),
  });
  let loop: string[];
  if (stages === 1) {
    const { a, b } = staged(0);
    loop = [
      `  for (var k0 = kb; k0 < ke; k0 += ${bk}u) {`,
      "    workgroupBarrier();",
      ...a.loads,
      ...b.loads,
      ...a.stores,
      ...b.stores,
      "    workgroupBarrier();",
      ...multiply("sa0", "sb0"),
      "  }",
    ];
  } else {
    // Slice k0 is in buffers 0; each half-step issues the next slice's loads, multiplies the
    // current buffers, then stores the next slice into the other buffers behind one barrier.
    const [s0, s1] = [staged(0), staged(1)];
    const half = (cur: number, next: typeof s0) => [
      `    if (k0 + ${bk}u < ke) {`,
      `      let k1 = k0 + ${bk}u;`,
      ...next.a.loads.map((l) => l.replaceAll("k0", "k1")).map((l) => "  " + l),
      ...next.b.loads.map((l) => l.replaceAll("k0", "k1")).map((l) => "  " + l),
      ...multiply(`sa${cur}`, `sb${cur}`).map((l) => "  " + l),
      ...next.a.stores.map((l) => "  " + l),
      ...next.b.stores.map((l) => "  " + l),
      "    } else {",
      ...multiply(`sa${cur}`, `sb${cur}`).map((l) => "  " + l),
      "    }",
      "    workgroupBarrier();",
      `    k0 += ${bk}u;`,
    ];
    const first = staged(0);
    loop = [
      "  var k0 = kb;",
      "  {",
      ...first.a.loads,
      ...first.b.loads,
      ...first.a.stores,
      ...first.b.stores,
      "  }",
      "  workgroupBarrier();",
      "  loop {",
      "    if (k0 >= ke) { break; }",
      ...half(0, s1),
      "    if (k0 >= ke) { break; }",
      ...half(1, s0),
      "  }",
    ];
  }
  return [
    cfg.enables.trimEnd(),
    "struct Params { m: u32, n: u32, k: u32, tiles_m: u32, tiles_n: u32, gx: u32, kc: u32, splits: u32 }",
    `@group(0) @binding(0) var<storage, read> a_words: array<${wordsType(words)}>;`,
    `@group(0) @binding(1) var<storage, read> b_words: array<${wordsType(words)}>;`,
    "@group(0) @binding(2) var<storage, read_write> c: array<f32>;",
    "@group(0) @binding(3) var<uniform> p: Params;",
    ...(scaled
      ? [
        "@group(0) @binding(4) var<storage, read> stats_a: array<u32>;",
        "@group(0) @binding(5) var<storage, read> stats_b: array<u32>;",
      ]
      : []),
    ...Array.from({ length: stages }, (_, n) => [
      `var<workgroup> sa${n}: array<f16, ${aSlice.rows * aStride}>;`,
      `var<workgroup> sb${n}: array<f16, ${bSlice.rows * bStride}>;`,
    ]).flat(),
    "",
    `@compute @workgroup_size(${wg})`,
    "fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,",
    "        @builtin(subgroup_id) sg: u32) {",
    tileOrigin({ bm, bn, tx: wg }),
    ...(rotate ? ["  let rot = (lid / 8u) % 4u;"] : []),
    `  let mb = ${S * tm}u * (sg / ${tile.sn}u);`,
    `  let nb = ${S * tn}u * (sg % ${tile.sn}u);`,
    "  // K range wid.z of p.splits; split sums go unscaled to slab wid.z of the workspace bound as c.",
    "  let kb = wid.z * p.kc;",
    "  let ke = kb + p.kc;",
    "  let partial = p.splits > 1u;",
    "  let cz = wid.z * p.m * p.n;",
    ...pairs.map(([i, j]) => `  var acc${i}_${j}: ${result};`),
    ...(accumulate
      ? [
        "  if (!partial) {",
        ...pairs.map(([i, j]) =>
          `    acc${i}_${j} = subgroupMatrixLoad<${result}, row_major>(&c, ${cAt(i, j)}, p.n);`
        ),
        "  }",
      ]
      : []),
    ...loop,
    ...(scaled
      ? ["  let s = select(bitcast<f32>(stats_a[1]) * bitcast<f32>(stats_b[1]), 1.0, partial);"]
      : []),
    ...pairs.map(([i, j]) => {
      const value = scaled ? `subgroupMatrixScalarMultiply(acc${i}_${j}, s)` : `acc${i}_${j}`;
      return `  subgroupMatrixStore<row_major>(&c, ${cAt(i, j)}, ${value}, p.n);`;
    }),
    "}",
    "",
  ].join("\n");
}

/**
 * The second pass of a split-K GEMM: C[i] ← (C[i] +) Σ_z W[z][i] over the `p.splits` partial-sum
 * slabs of the workspace W, in slab order, then (scaled kernels) fp32(C[i] · fp32(factorA ·
 * factorB)). Four values per invocation.
 *
 * Bindings: 0 `w` (read, f32 slabs of m·n), 1 `c` (read_write), 2 params uniform (4 u32: m·n / 4,
 * splits, gx (invocations along x), 0); scaled: 3 `stats_a`, 4 `stats_b`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitKReduceShader } from "./wgsl.ts";
 * assert.match(splitKReduceShader({ accumulate: true, scaled: false }), /var s = c\[i\];/);
 * ```
 */
export function splitKReduceShader(cfg: { accumulate: boolean; scaled: boolean }): string {
  return [
    "struct Params { quads: u32, splits: u32, gx: u32, _a: u32 }",
    "@group(0) @binding(0) var<storage, read> w: array<vec4<f32>>;",
    "@group(0) @binding(1) var<storage, read_write> c: array<vec4<f32>>;",
    "@group(0) @binding(2) var<uniform> p: Params;",
    ...(cfg.scaled
      ? [
        "@group(0) @binding(3) var<storage, read> stats_a: array<u32>;",
        "@group(0) @binding(4) var<storage, read> stats_b: array<u32>;",
      ]
      : []),
    "",
    `@compute @workgroup_size(${SPLIT_K_REDUCE_WORKGROUP})`,
    "fn main(@builtin(global_invocation_id) gid: vec3u) {",
    "  let i = gid.y * p.gx + gid.x;",
    "  if (i >= p.quads) { return; }",
    cfg.accumulate ? "  var s = c[i];" : "  var s = vec4<f32>();",
    "  for (var z = 0u; z < p.splits; z++) { s += w[z * p.quads + i]; }",
    cfg.scaled
      ? "  c[i] = s * (bitcast<f32>(stats_a[1]) * bitcast<f32>(stats_b[1]));"
      : "  c[i] = s;",
    "}",
    "",
  ].join("\n");
}

/** Invocations per workgroup of {@link splitKReduceShader}. */
export const SPLIT_K_REDUCE_WORKGROUP = 256;
