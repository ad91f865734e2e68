/**
 * The two charts of a report, as SVG: loss curves per policy (validation thick, train thin; means
 * over seeds) and the relative loss difference from the baseline over training in % (the NVFP4
 * paper's Fig. 4). Values are rounded before plotting so the SVG stays small and stable.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import type { SuiteSummary } from "./aggregate.ts";
import { relativeCurve } from "./curves.ts";
import { renderSvg } from "./svg.ts";

/** A chart file of a report. */
export interface Chart {
  /** File name within the report's chart folder. */
  readonly file: string;
  /** What it shows (the image's alt text). */
  readonly title: string;
  /** The SVG document. */
  readonly svg: string;
}

const WIDTH = 640;
const HEIGHT = 320;
const round = (x: number, digits: number) => Number(x.toPrecision(digits));

/** The curve the relative chart compares: validation when the baseline has any, else train. */
function comparedCurve(summary: SuiteSummary): "eval" | "train" {
  const base = summary.policies.find((p) => p.policy === summary.baseline);
  return base && base.curves.eval.length > 0 ? "eval" : "train";
}

function lossSpec(summary: SuiteSummary): TopLevelSpec {
  const domain = summary.policies.map((p) => p.policy);
  const values = summary.policies.flatMap((p) => [
    ...p.curves.train.map((c) => ({
      policy: p.policy,
      curve: "train",
      step: c.step,
      loss: c.loss,
    })),
    ...p.curves.eval.map((c) => ({
      policy: p.policy,
      curve: "validation",
      step: c.step,
      loss: c.loss,
    })),
  ]).map((v) => ({ ...v, loss: round(v.loss, 6) }));
  const curves = ["validation", "train"];
  const bands = seedBands(summary);
  return {
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    title: {
      text: `${summary.suite}: loss`,
      subtitle: bands.length > 0
        ? `mean over seeds; shaded: min–max over seeds of the ${bandCurve(summary)} loss`
        : "mean over seeds",
    },
    layer: [
      ...(bands.length > 0
        ? [{
          data: { values: bands },
          mark: { type: "area" as const, opacity: 0.15 },
          encoding: {
            x: { field: "step", type: "quantitative" as const },
            y: { field: "min", type: "quantitative" as const },
            y2: { field: "max" },
            color: {
              field: "policy",
              type: "nominal" as const,
              scale: { domain },
              title: "policy",
            },
          },
        }]
        : []),
      {
        data: { values },
        mark: { type: "line" as const, interpolate: "linear" as const },
        encoding: {
          x: { field: "step", type: "quantitative", title: "step" },
          y: { field: "loss", type: "quantitative", title: "loss", scale: { zero: false } },
          color: { field: "policy", type: "nominal", scale: { domain }, title: "policy" },
          strokeWidth: {
            field: "curve",
            type: "ordinal",
            sort: curves,
            scale: { domain: curves, range: [2.5, 1] },
            title: "curve",
          },
          opacity: {
            field: "curve",
            type: "ordinal",
            sort: curves,
            scale: { domain: curves, range: [1, 0.5] },
          },
          order: { field: "step", type: "quantitative" as const },
        },
      },
    ],
  };
}

/** The curve whose spread over seeds the loss chart shades: validation where any, else train. */
function bandCurve(summary: SuiteSummary): "validation" | "train" {
  return summary.records.some((r) => r.result.eval.length > 0) ? "validation" : "train";
}

/** Per policy and step, the min and max loss over the seeds (policies with ≥ 2 runs only). */
function seedBands(
  summary: SuiteSummary,
): { policy: string; step: number; min: number; max: number }[] {
  const which = bandCurve(summary) === "validation" ? "eval" : "train";
  return summary.policies.flatMap((p) => {
    const runs = summary.records.filter((r) => r.spec.policyName === p.policy);
    if (runs.length < 2) return [];
    const byStep = new Map<number, number[]>();
    for (const r of runs) {
      for (const c of r.result[which]) {
        if (Number.isFinite(c.loss)) byStep.set(c.step, [...(byStep.get(c.step) ?? []), c.loss]);
      }
    }
    return [...byStep.entries()].filter(([, ls]) => ls.length >= 2).sort(([a], [b]) => a - b)
      .map(([step, ls]) => ({
        policy: p.policy,
        step,
        min: round(Math.min(...ls), 6),
        max: round(Math.max(...ls), 6),
      }));
  });
}

function relativeSpec(summary: SuiteSummary): TopLevelSpec {
  const which = comparedCurve(summary);
  const base = summary.policies.find((p) => p.policy === summary.baseline);
  const domain = summary.policies.map((p) => p.policy);
  const values = base
    ? summary.policies.flatMap((p) =>
      relativeCurve(p.curves[which], base.curves[which]).map((r) => ({
        policy: p.policy,
        step: r.step,
        percent: round(r.percent, 5),
      }))
    )
    : [];
  const what = which === "eval" ? "validation" : "train";
  return {
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    title: {
      text: `${summary.suite}: ${what} loss relative to ${summary.baseline}`,
      subtitle:
        `100 · (loss − ${summary.baseline} loss) / ${summary.baseline} loss, means over seeds`,
    },
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "step", type: "quantitative", title: "step" },
      y: {
        field: "percent",
        type: "quantitative",
        title: `Δ ${what} loss vs ${summary.baseline} (%)`,
      },
      color: { field: "policy", type: "nominal", scale: { domain }, title: "policy" },
      order: { field: "step", type: "quantitative" },
    },
  };
}

/**
 * Renders a suite's charts: `loss.svg` and `relative-loss.svg` (the latter only when the
 * baseline has runs).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { suiteCharts } from "./charts.ts";
 * import type { SuiteSummary } from "./aggregate.ts";
 * const summary = {
 *   suite: "demo", baseline: "bf16", hasBaseline: false, records: [], superseded: [],
 *   policies: [],
 * } as unknown as SuiteSummary;
 * assert.deepEqual((await suiteCharts(summary)).map((c) => c.file), ["loss.svg"]);
 * ```
 */
export async function suiteCharts(summary: SuiteSummary): Promise<Chart[]> {
  const charts: Chart[] = [{
    file: "loss.svg",
    title: `Loss curves of ${summary.suite} (mean over seeds)`,
    svg: await renderSvg(lossSpec(summary)),
  }];
  if (summary.hasBaseline) {
    const what = comparedCurve(summary) === "eval" ? "validation" : "train";
    charts.push({
      file: "relative-loss.svg",
      title: `Relative ${what} loss difference vs ${summary.baseline} over training (%)`,
      svg: await renderSvg(relativeSpec(summary)),
    });
  }
  const norms = gradNormValues(summary);
  if (norms.length > 0) {
    charts.push({
      file: "grad-norm.svg",
      title: `Gradient norm before clipping (mean over seeds)`,
      svg: await renderSvg(gradNormSpec(summary, norms)),
    });
  }
  return charts;
}

/** Per policy and logged step, the mean over seeds of the global gradient norm before clipping. */
function gradNormValues(summary: SuiteSummary): { policy: string; step: number; norm: number }[] {
  return summary.policies.flatMap((p) => {
    const byStep = new Map<number, number[]>();
    for (const r of summary.records.filter((r) => r.spec.policyName === p.policy)) {
      for (const c of r.result.train) {
        const g = c.gradNorm;
        if (typeof g === "number" && Number.isFinite(g) && g > 0) {
          byStep.set(c.step, [...(byStep.get(c.step) ?? []), g]);
        }
      }
    }
    return [...byStep.entries()].sort(([a], [b]) => a - b).map(([step, gs]) => ({
      policy: p.policy,
      step,
      norm: round(gs.reduce((a, b) => a + b, 0) / gs.length, 5),
    }));
  });
}

function gradNormSpec(
  summary: SuiteSummary,
  values: { policy: string; step: number; norm: number }[],
): TopLevelSpec {
  const domain = summary.policies.map((p) => p.policy);
  const clip = summary.records[0]?.spec.train.clip;
  return {
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    title: {
      text: `${summary.suite}: gradient norm`,
      subtitle: `global norm before clipping at the logged steps, mean over seeds${
        clip != null ? `; dashed: the clipping threshold ${clip}` : ""
      }`,
    },
    layer: [
      {
        data: { values },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "step", type: "quantitative", title: "step" },
          y: { field: "norm", type: "quantitative", title: "‖g‖", scale: { type: "log" } },
          color: { field: "policy", type: "nominal", scale: { domain }, title: "policy" },
          order: { field: "step", type: "quantitative" },
        },
      },
      ...(clip != null
        ? [{
          data: { values: [{ clip }] },
          mark: { type: "rule" as const, strokeDash: [4, 4], color: "gray" },
          encoding: { y: { field: "clip", type: "quantitative" as const } },
        }]
        : []),
    ],
  };
}
