/**
 * The run record: everything a report needs about one finished run, written atomically to
 * `reports/runs/<id>.json`. Reports read only records; nothing is edited by hand.
 *
 * @module
 */

import type { RunSpec } from "../recipe/run_spec.ts";
import type { CurvePoint } from "../train/loop.ts";

/** Identifier of the record format. */
export const RECORD_FORMAT = "lpbench.run/v1";

/** Where and with what a run ran. */
export interface Environment {
  readonly deno: string;
  readonly v8: string;
  readonly typescript: string;
  readonly os: string;
  readonly arch: string;
  readonly adapter: {
    readonly vendor: string;
    readonly architecture: string;
    readonly device: string;
    readonly description: string;
    readonly isFallbackAdapter: boolean;
  };
  readonly features: readonly string[];
  readonly limits: Readonly<Record<string, number>>;
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
}

/** The outcome of a run. */
export interface RunResult {
  readonly train: readonly CurvePoint[];
  readonly eval: readonly CurvePoint[];
  readonly tokensPerSecond: number;
  readonly stepMs: { readonly p50: number; readonly p99: number };
  readonly dispatchesPerStep: number;
  readonly gpuBytes: number;
  /** The step at which the loss became NaN/Inf; training stopped there. */
  readonly divergedAt: number | null;
}

/** A run record. */
export interface RunRecord {
  readonly format: typeof RECORD_FORMAT;
  /** sha256 of the canonical spec plus the data and kernel-source hashes. */
  readonly id: string;
  readonly spec: RunSpec;
  readonly hashes: { readonly recipe: string; readonly data: string; readonly kernels: string };
  readonly env: Environment;
  readonly result: RunResult;
  /** ISO time the run finished. */
  readonly finishedAt: string;
  readonly durationSeconds: number;
}
