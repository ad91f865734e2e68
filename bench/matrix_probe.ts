/**
 * `deno run -A bench/matrix_probe.ts`: what bounds the matrix-unit GEMM (kernels/gemm_matrix/) —
 * its inner loop taken apart, piece by piece, on the same device in one run.
 *
 * Every probe is a workgroup of 2×2 subgroups shaped like the GEMM's default tiling (each
 * subgroup owning `tm × tn` f32 result matrices of 16×16, f16 operands staged in workgroup memory
 * as `nt` stages them: A's slice row-major [128][16], B's column-major [128][16]), looping
 * `--iterations` times over one 16-deep K slice of work:
 *
 * - `mma`: the multiply-accumulates alone, on left and right matrices loaded once before the loop
 *   — the rate the matrix units reach through WGSL, Tint and the driver;
 * - `load`: as the GEMM's inner loop: each iteration loads its `tm` left and `tn` right matrices
 *   from workgroup memory (alternating between two slices), then multiplies;
 * - `stage`: as `load`, plus the two-stage GEMM's staging: each invocation writes 2·16 f16 of the
 *   next slice into workgroup memory (one f16 store each, as the GEMM unpacks its loaded words),
 *   then the workgroup barrier — the GEMM without its global-memory loads; `stage-rotated` stores
 *   the words of each 8-f16 chunk starting at word lid/8 mod 4 (the GEMM's `rotate`), which spreads
 *   a subgroup's stores over 32 banks instead of 8;
 * - `stage-matrix`: as `stage`, but the next slice goes into workgroup memory as matrix stores
 *   (`subgroupMatrixStore`, two left and two right matrices per subgroup, from registers);
 * - `stores-f16`, `stores-f16-rotated`, `stores-u32` and `stores-vec4`: the staging writes and barrier alone, the same
 *   bytes per invocation and iteration (32 f16) as 32 f16, 16 u32 or 4 `vec4<u32>` stores, no
 *   multiplies.
 *
 * TFLOP/s counts 2·16³ per multiply-accumulate. The outputs (every result matrix) are written to a
 * buffer so that nothing is optimised away; they are not checked.
 *
 * Usage: deno run -A bench/matrix_probe.ts [--modes mma,load,stage,stage-rotated,stage-matrix,stores-f16,stores-f16-rotated,stores-u32,stores-vec4]
 *   [--fragments 4x4,2x2] [--workgroups 2048] [--iterations 2048] [--repeats 5] [--out file.md]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getGpu } from "../src/gpu/device.ts";
import { uniformBuffer } from "../src/gpu/op.ts";
import { bindGroup, pipelineCache } from "../src/gpu/pipelines.ts";
import { GpuTimer, median } from "../src/gpu/timing.ts";
import { wgslEnables } from "../src/gpu/wgsl_enables.ts";
import { SUBGROUP_MATRIX_FEATURE } from "../kernels/gemm_matrix/mod.ts";
import { environmentLine } from "./environment_line.ts";
import { positiveList } from "./inputs.ts";
import { benchMain, publishTable } from "./main.ts";
import { timeWarm, WARMUP_MS } from "./warm_timing.ts";

const USAGE =
  "Usage: deno run -A bench/matrix_probe.ts [--modes mma,load,stage,stage-rotated,stage-matrix,stores-f16,stores-f16-rotated,stores-u32,stores-vec4] " +
  "[--fragments 4x4,2x2] [--workgroups 2048] [--iterations 2048] [--repeats 5] [--out file.md]";

/** The probes, in the order of the module comment. */
export const PROBE_MODES = [
  "mma",
  "load",
  "stage",
  "stage-rotated",
  "stage-matrix",
  "stores-f16",
  "stores-f16-rotated",
  "stores-u32",
  "stores-vec4",
] as const;
/** One probe. */
export type ProbeMode = (typeof PROBE_MODES)[number];

/** Rows of A's (and columns of B's) staged slice: 2 subgroups × 4 matrices × 16. */
const SLICE_ROWS = 128;
/** The slice depth, one matrix. */
const S = 16;
/** Invocations per workgroup: 2×2 subgroups of 32. */
const WORKGROUP = 128;

/**
 * The WGSL of one probe; `tm × tn` result matrices per subgroup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeShader } from "./matrix_probe.ts";
 * const code = probeShader("load", 4, 4, "");
 * assert.equal(code.match(/subgroupMatrixMultiplyAccumulate/g)?.length, 16);
 * assert.doesNotMatch(probeShader("stores-u32", 4, 4, ""), /subgroupMatrixMultiplyAccumulate/);
 * ```
 */
export function probeShader(mode: ProbeMode, tm: number, tn: number, enables: string): string {
  const sliceHalves = SLICE_ROWS * S;
  const multiplies = !mode.startsWith("stores");
  const left = (i: number, buf: string) =>
    `subgroupMatrixLoad<subgroup_matrix_left<f16, ${S}, ${S}>, row_major>(&sa, ${buf} + (mb + ${
      S * i
    }u) * ${S}u, ${S}u)`;
  const right = (j: number, buf: string) =>
    `subgroupMatrixLoad<subgroup_matrix_right<f16, ${S}, ${S}>, col_major>(&sb, ${buf} + (nb + ${
      S * j
    }u) * ${S}u, ${S}u)`;
  const pairs: [number, number][] = [];
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) pairs.push([i, j]);
  const fragments = (buf: string, decl: string) => [
    ...Array.from({ length: tm }, (_, i) => `    ${decl} a${i} = ${left(i, buf)};`),
    ...Array.from({ length: tn }, (_, j) => `    ${decl} b${j} = ${right(j, buf)};`),
  ];
  const mmas = pairs.map(([i, j]) =>
    `    acc${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, acc${i}_${j});`
  );
  // Staging as the GEMM does it with 4-word loads: invocation `lid` holds chunks lid and lid + 128
  // of 8 f16 (16 bytes) per operand and writes chunk e to halves 8e…8e+7 of the next slice.
  const chunks = sliceHalves / 8 / WORKGROUP;
  const chunk = (c: number) => (c === 0 ? "lid" : `(lid + ${c * WORKGROUP}u)`);
  // Rotated (the GEMM's `rotate`): the j-th word invocation `lid` stores is word (j + lid/8) mod 4.
  const rotated = mode.endsWith("rotated");
  const half = (t: number) => rotated ? `2u * ((${t >> 1}u + rot) & 3u) + ${t & 1}u` : `${t}u`;
  const stagingF16 = [
    `    let next = ((it + 1u) & 1u) * ${sliceHalves}u;`,
    `    let h = bitcast<vec2<f16>>((it ^ lid) & 0x3bff3bffu);`,
    ...Array.from({ length: chunks }, (_, c) =>
      Array.from({ length: 8 }, (_, t) => [
        `    sa[next + ${chunk(c)} * 8u + ${half(t)}] = h.${"xy"[t & 1]};`,
        `    sb[next + ${chunk(c)} * 8u + ${half(t)}] = h.${"yx"[t & 1]};`,
      ]).flat()).flat(),
    "    workgroupBarrier();",
  ];
  const stagingU32 = [
    `    let next = ((it + 1u) & 1u) * ${sliceHalves / 2}u;`,
    `    let word = it ^ lid;`,
    ...Array.from({ length: chunks }, (_, c) =>
      Array.from({ length: 4 }, (_, t) => [
        `    wa[next + ${chunk(c)} * 4u + ${t}u] = word + ${t}u;`,
        `    wb[next + ${chunk(c)} * 4u + ${t}u] = word ^ ${t}u;`,
      ]).flat()).flat(),
    "    workgroupBarrier();",
  ];
  const stagingVec4 = [
    `    let next = ((it + 1u) & 1u) * ${sliceHalves / 8}u;`,
    `    let word = vec4<u32>(it ^ lid, it, lid, 7u);`,
    ...Array.from({ length: chunks }, (_, c) => [
      `    va[next + ${chunk(c)}] = word;`,
      `    vb[next + ${chunk(c)}] = word.wzyx;`,
    ]).flat(),
    "    workgroupBarrier();",
  ];
  // Staging with matrix stores: the slice's 8 + 8 matrices, 2 + 2 per subgroup, from matrices
  // held in registers (standing in for matrix loads from storage).
  const stagingMatrix = [
    `    let next = ((it + 1u) & 1u) * ${sliceHalves}u;`,
    ...[0, 1].map((q) =>
      `    subgroupMatrixStore<row_major>(&sa, next + (sg * 2u + ${q}u) * ${
        S * S
      }u, ga${q}, ${S}u);`
    ),
    ...[0, 1].map((q) =>
      `    subgroupMatrixStore<col_major>(&sb, next + (sg * 2u + ${q}u) * ${
        S * S
      }u, gb${q}, ${S}u);`
    ),
    "    workgroupBarrier();",
  ];
  const loadAndMultiply = [
    `    let cur = (it & 1u) * ${sliceHalves}u;`,
    ...fragments("cur", "let"),
    ...mmas,
  ];
  const body: Record<ProbeMode, string[]> = {
    mma: mmas,
    load: loadAndMultiply,
    stage: [...loadAndMultiply, ...stagingF16],
    "stage-rotated": [...loadAndMultiply, ...stagingF16],
    "stage-matrix": [...loadAndMultiply, ...stagingMatrix],
    "stores-f16": stagingF16,
    "stores-f16-rotated": stagingF16,
    "stores-u32": stagingU32,
    "stores-vec4": stagingVec4,
  };
  const result = `subgroup_matrix_result<f32, ${S}, ${S}>`;
  const outAt = (i: number, j: number) => `base + ${(i * tn + j) * S * S}u`;
  return [
    enables.trimEnd(),
    "struct Params { iterations: u32, seed: u32, _a: u32, _b: u32 }",
    "@group(0) @binding(0) var<storage, read_write> out: array<f32>;",
    "@group(0) @binding(1) var<uniform> p: Params;",
    mode === "stores-u32"
      ? [
        `var<workgroup> wa: array<u32, ${sliceHalves}>;`,
        `var<workgroup> wb: array<u32, ${sliceHalves}>;`,
      ].join("\n")
      : mode === "stores-vec4"
      ? [
        `var<workgroup> va: array<vec4<u32>, ${sliceHalves / 4}>;`,
        `var<workgroup> vb: array<vec4<u32>, ${sliceHalves / 4}>;`,
      ].join("\n")
      : [
        `var<workgroup> sa: array<f16, ${2 * sliceHalves}>;`,
        `var<workgroup> sb: array<f16, ${2 * sliceHalves}>;`,
      ].join("\n"),
    "",
    `@compute @workgroup_size(${WORKGROUP})`,
    "fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,",
    "        @builtin(subgroup_id) sg: u32) {",
    ...(mode === "stores-u32"
      ? [
        `  for (var i = lid; i < ${sliceHalves}u; i += ${WORKGROUP}u) { wa[i] = i; wb[i] = i; }`,
      ]
      : mode === "stores-vec4"
      ? [
        `  for (var i = lid; i < ${
          sliceHalves / 4
        }u; i += ${WORKGROUP}u) { va[i] = vec4<u32>(i); vb[i] = vec4<u32>(i); }`,
      ]
      : [
        `  for (var i = lid; i < ${2 * sliceHalves}u; i += ${WORKGROUP}u) {`,
        "    sa[i] = f16(f32((i * 7u + p.seed) % 13u) * 0.125);",
        "    sb[i] = f16(f32((i * 5u + p.seed) % 11u) * 0.125);",
        "  }",
      ]),
    "  workgroupBarrier();",
    `  let mb = ${S * tm}u * (sg / 2u);`,
    `  let nb = ${S * tn}u * (sg % 2u);`,
    ...(rotated ? ["  let rot = (lid / 8u) % 4u;"] : []),
    ...(multiplies ? pairs.map(([i, j]) => `  var acc${i}_${j}: ${result};`) : []),
    ...(mode === "mma" ? fragments("0u", "let").map((l) => l.slice(2)) : []),
    ...(mode === "stage-matrix"
      ? [0, 1].flatMap((q) => [
        `  let ga${q} = ${left(q, "0u")};`,
        `  let gb${q} = ${right(q, "0u")};`,
      ])
      : []),
    "  for (var it = 0u; it < p.iterations; it++) {",
    ...body[mode],
    "  }",
    `  let base = (wid.x * 4u + sg) * ${tm * tn * S * S}u;`,
    ...(multiplies
      ? pairs.map(([i, j]) =>
        `  subgroupMatrixStore<row_major>(&out, ${outAt(i, j)}, acc${i}_${j}, ${S}u);`
      )
      : mode === "stores-u32"
      ? ["  out[base + lid] = f32(wa[lid ^ 5u] + wb[lid ^ 9u]);"]
      : mode === "stores-vec4"
      ? ["  out[base + lid] = f32(va[lid ^ 5u].x + vb[lid ^ 9u].y);"]
      : ["  out[base + lid] = f32(sa[lid ^ 5u] + sb[lid ^ 9u]);"]),
    "}",
    "",
  ].join("\n");
}

/** Runs the probes with command-line arguments; prints and returns the markdown table. */
export async function runMatrixProbe(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      modes: { type: "string", default: PROBE_MODES.join(",") },
      fragments: { type: "string", default: "4x4,2x2" },
      workgroups: { type: "string", default: "2048" },
      iterations: { type: "string", default: "2048" },
      repeats: { type: "string", default: "5" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return "";
  }
  const modes = values.modes.split(",") as ProbeMode[];
  for (const m of modes) {
    if (!PROBE_MODES.includes(m)) {
      throw new RangeError(
        `--modes: unknown probe ${JSON.stringify(m)} (${PROBE_MODES.join(", ")})`,
      );
    }
  }
  const fragments = values.fragments.split(",").map((f) => {
    const m = /^([1-4])x([1-4])$/.exec(f);
    if (!m) {
      throw new RangeError(`--fragments: expected TMxTN (1–4 each), got ${JSON.stringify(f)}`);
    }
    return [Number(m[1]), Number(m[2])] as const;
  });
  const [workgroups] = positiveList(values.workgroups, "workgroups");
  const [iterations] = positiveList(values.iterations, "iterations");
  const [repeats] = positiveList(values.repeats, "repeats");
  const gpu = await getGpu({ implementation: "dawn" });
  if (!gpu.features.has(SUBGROUP_MATRIX_FEATURE)) {
    throw new RangeError(`the device lacks ${SUBGROUP_MATRIX_FEATURE}; run on a GPU that has it`);
  }
  const enables = wgslEnables(gpu, ["f16", "subgroups", "chromium_experimental_subgroup_matrix"]);
  const device = gpu.device;
  const timer = new GpuTimer(gpu);
  const cache = pipelineCache(device);
  const out = device.createBuffer({
    size: workgroups * 4 * 16 * S * S * 4,
    usage: GPUBufferUsage.STORAGE,
  });
  const params = uniformBuffer(device, [iterations, 1, 0, 0]);
  const header = ["probe", "matrices/subgroup", "median ms", "TFLOP/s", "ns/iteration/workgroup"];
  const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const rows: string[] = [];
  console.error(row(header));
  for (const [tm, tn] of fragments) {
    for (const mode of modes) {
      let pipeline: GPUComputePipeline;
      try {
        pipeline = await cache.getAsync(probeShader(mode, tm, tn, enables));
      } catch (e) {
        console.error(`${mode} ${tm}x${tn}: ${e instanceof Error ? e.message : e}`);
        continue;
      }
      const group = bindGroup(device, pipeline, [out, params]);
      const record = (pass: GPUComputePassEncoder) => {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(workgroups);
      };
      const ms = median(await timeWarm(timer, record, repeats));
      const multiplies = !mode.startsWith("stores");
      const flops = multiplies ? workgroups * 4 * iterations * tm * tn * 2 * S ** 3 : 0;
      rows.push(row([
        mode,
        `${tm}x${tn}`,
        ms.toFixed(3),
        multiplies ? (flops / ms / 1e9).toFixed(1) : "—",
        ((ms * 1e6) / iterations / workgroups).toFixed(3),
      ]));
      console.error(rows.at(-1));
    }
  }
  out.destroy();
  params.destroy();
  const text = [
    `## Matrix-unit probes on ${
      gpu.info.description || gpu.info.vendor
    } (${gpu.implementation.name} ${gpu.implementation.version})`,
    "",
    `${workgroups} workgroups of 2×2 subgroups, ${iterations} iterations each; median of ${repeats} ` +
    `runs after ≥ ${WARMUP_MS} ms of untimed runs, timed by ${timer.method}.`,
    "",
    row(header),
    `|${header.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
    ...rows,
    "",
    environmentLine(gpu),
    "",
  ].join("\n");
  return await publishTable(text, values.out);
}

if (import.meta.main) await benchMain(runMatrixProbe, USAGE);
