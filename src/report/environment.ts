/**
 * The environment block of a report: runtime versions, OS, the WebGPU implementation and adapter,
 * the adapter's features and key limits, the git state and the input hashes, taken from the
 * records; a field on which the records disagree lists every value with its run count.
 *
 * @module
 */

import type { Environment, RunRecord } from "../runner/record.ts";

/**
 * Limits shown in a report (every limit stays in the records).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KEY_LIMITS } from "./environment.ts";
 * assert.ok(KEY_LIMITS.includes("maxStorageBufferBindingSize"));
 * ```
 */
export const KEY_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxStorageBuffersPerShaderStage",
] as const;

/** One row of the environment block. */
export interface EnvironmentRow {
  readonly field: string;
  /** The value, or each distinct value with its run count when the records disagree. */
  readonly value: string;
  readonly disagree: boolean;
}

/**
 * Whether a run's adapter is a software rasteriser (timings mean nothing there).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSoftwareAdapter } from "./environment.ts";
 * const adapter = { vendor: "mesa", architecture: "", device: "", description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: false };
 * assert.equal(isSoftwareAdapter({ adapter } as never), true);
 * ```
 */
export function isSoftwareAdapter(env: Pick<Environment, "adapter">): boolean {
  const a = env.adapter;
  return a.isFallbackAdapter ||
    /\b(llvmpipe|lavapipe|swiftshader|softpipe|software)\b/i.test(
      [a.vendor, a.architecture, a.device, a.description].join(" "),
    );
}

/**
 * A run's adapter by name (its description, which is where WebGPU puts the product name), marked
 * when it is a software or fallback adapter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adapterName } from "./environment.ts";
 * const adapter = { vendor: "4318", architecture: "", device: "9008", description: "NVIDIA H100 80GB HBM3", isFallbackAdapter: false };
 * assert.equal(adapterName({ adapter }), "NVIDIA H100 80GB HBM3");
 * ```
 */
export function adapterName(env: Pick<Environment, "adapter">): string {
  const a = env.adapter;
  const name = a.description || a.device || a.vendor || "(the adapter gave no name)";
  const marks = [
    ...(isSoftwareAdapter(env) ? ["software"] : []),
    ...(a.isFallbackAdapter ? ["fallback adapter"] : []),
  ];
  return marks.length > 0 ? `${name} (${marks.join(", ")})` : name;
}

/**
 * A run's WebGPU implementation in words: which one, its version, and for Dawn the toggles and
 * feature level it was created with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { implementationOf } from "./environment.ts";
 * const deno = { name: "deno" as const, version: "2.9.6", toggles: [] };
 * assert.equal(implementationOf({ implementation: deno }), "Deno 2.9.6 built-in (wgpu)");
 * const implementation = { name: "dawn" as const, version: "0.6.2", toggles: ["backend=opengl"], featureLevel: "compatibility" };
 * assert.equal(
 *   implementationOf({ implementation }),
 *   "Dawn (npm:webgpu 0.6.2), toggles backend=opengl, compatibility feature level",
 * );
 * ```
 */
export function implementationOf(env: Pick<Environment, "implementation">): string {
  const i = env.implementation;
  if (i.name === "deno") return `Deno ${i.version} built-in (wgpu)`;
  return [
    `Dawn (npm:webgpu ${i.version})`,
    ...(i.toggles.length > 0 ? [`toggles ${i.toggles.join(" ")}`] : []),
    ...(i.featureLevel ? [`${i.featureLevel} feature level`] : []),
  ].join(", ");
}

const FIELDS: readonly [string, (r: RunRecord) => string][] = [
  ["Deno", (r) => r.env.deno],
  ["V8", (r) => r.env.v8],
  ["TypeScript", (r) => r.env.typescript],
  ["OS", (r) => `${r.env.os} (${r.env.arch})`],
  ["CPU", (r) => (r.env.cpu ? cpuCell(r.env.cpu) : "—")],
  ["WebGPU", (r) => implementationOf(r.env)],
  ["Adapter", (r) => adapterName(r.env)],
  ["Driver", (r) => r.env.driver ?? "—"],
  [
    "Adapter ids",
    ({ env: { adapter: a } }) =>
      `vendor ${a.vendor || "—"}, architecture ${a.architecture || "—"}, device ${a.device || "—"}`,
  ],
  ["Features", (r) => r.env.features.join(", ") || "none"],
  ["WGSL language features", (r) => r.env.wgslLanguageFeatures?.join(", ") || "—"],
  ...KEY_LIMITS.map((k): [string, (r: RunRecord) => string] => [
    k,
    (r) => String(r.env.limits[k] ?? "—"),
  ]),
  [
    "Git commit",
    (r) =>
      r.env.git
        ? `${r.env.git.commit} (${r.env.git.dirty ? "dirty" : "clean"} tree)`
        : "not in git",
  ],
  ["deno.lock sha256", (r) => r.env.lockfile ?? "—"],
  ["Recipe sha256", (r) => r.hashes.recipe],
  ["Data sha256", (r) => r.hashes.data],
  ["Kernel sources sha256", (r) => r.hashes.kernels],
];

/**
 * The rows of the environment block for a suite's records.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { environmentRows } from "./environment.ts";
 * import type { RunRecord } from "../runner/record.ts";
 * const env = (deno: string) => ({
 *   deno, v8: "14", typescript: "5.9", os: "linux", arch: "x86_64", features: [], limits: {}, git: null,
 *   implementation: { name: "deno", version: deno, toggles: [] },
 *   adapter: { vendor: "4318", architecture: "", device: "9008", description: "NVIDIA H100 80GB HBM3", isFallbackAdapter: false },
 * });
 * const hashes = { recipe: "r", data: "d", kernels: "k" };
 * const rows = environmentRows([
 *   { env: env("2.9.6"), hashes }, { env: env("2.9.6"), hashes }, { env: env("2.9.5"), hashes },
 * ] as unknown as RunRecord[]);
 * assert.deepEqual(rows[0], { field: "Deno", value: "2.9.6 (2 runs); 2.9.5 (1 run)", disagree: true });
 * assert.equal(rows[1].disagree, false);
 * ```
 */
export function environmentRows(records: readonly RunRecord[]): EnvironmentRow[] {
  return FIELDS.map(([field, get]) => {
    const counts = new Map<string, number>();
    for (const r of records) counts.set(get(r), (counts.get(get(r)) ?? 0) + 1);
    const disagree = counts.size > 1;
    const value = disagree
      ? [...counts.entries()]
        .sort(([a, m], [b, n]) => n - m || (a < b ? -1 : 1))
        .map(([v, n]) => `${v} (${n} run${n === 1 ? "" : "s"})`)
        .join("; ")
      : [...counts.keys()][0] ?? "—";
    return { field, value, disagree };
  });
}

/** `model (N threads; vector sets)`: the sets decide a software adapter's numerics. */
function cpuCell(cpu: NonNullable<RunRecord["env"]["cpu"]>): string {
  const simd = cpu.simd?.length ? `; ${cpu.simd.join(" ")}` : "";
  return `${cpu.model} (${cpu.cores} threads${simd})`;
}
