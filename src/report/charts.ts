/**
 * The charts of a report, as SVG: loss curves per policy (validation thick, train thin; means
 * over seeds, shaded by the seeds' min–max), the relative loss difference from the baseline over
 * training in % (the NVFP4 paper's Fig. 4, shaded likewise), the gradient norm against the
 * clipping threshold, the learning rate (`chart_lr.ts`), the numeric-health heatmap
 * (`chart_health.ts`) and the throughput per policy (`chart_throughput.ts`). Values are rounded before plotting so the SVG stays small and stable.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import type { SuiteSummary } from "./aggregate.ts";
import { lrSpec } from "./chart_lr.ts";
import { HEIGHT, policyColor, round, WIDTH } from "./chart_style.ts";
import { throughputSpec } from "./chart_throughput.ts";
import { HEALTH_CHART, healthHeatmapSpec } from "./chart_health.ts";
import { relativeCurve } from "./curves.ts";
import { type SeedBand, seedBands, seedMeans } from "./seed_stats.ts";
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

/** The curve the relative chart compares: validation when the baseline has any, else train. */
function comparedCurve(summary: SuiteSummary): "eval" | "train" {
  const base = summary.policies.find((p) => p.policy === summary.baseline);
  return base && base.curves.eval.length > 0 ? "eval" : "train";
}

/** The layer that shades each policy's band over seeds (none without bands). */
function bandLayer(summary: SuiteSummary, bands: readonly SeedBand[], digits: number) {
  if (bands.length === 0) return [];
  const values = bands.map((b) => ({ ...b, min: round(b.min, digits), max: round(b.max, digits) }));
  return [{
    data: { values },
    mark: { type: "area" as const, opacity: 0.15 },
    encoding: {
      x: { field: "step", type: "quantitative" as const },
      y: { field: "min", type: "quantitative" as const },
      y2: { field: "max" },
      // The legend is shared with the lines: full-strength symbols, not the band's faint fill.
      color: { ...policyColor(summary), legend: { symbolOpacity: 1 } },
    },
  }];
}

function lossSpec(summary: SuiteSummary): TopLevelSpec {
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
  const band = bandCurve(summary);
  const bands = seedBands(summary, band === "validation" ? "eval" : "train");
  return {
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    title: {
      text: `${summary.suite}: loss`,
      subtitle: bands.length > 0
        ? `mean over seeds; shaded: min–max over seeds of the ${band} loss`
        : "mean over seeds",
    },
    layer: [
      ...bandLayer(summary, bands, 6),
      {
        data: { values },
        mark: { type: "line" as const, interpolate: "linear" as const },
        encoding: {
          x: { field: "step", type: "quantitative", title: "step" },
          y: { field: "loss", type: "quantitative", title: "loss", scale: { zero: false } },
          color: policyColor(summary),
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

/**
 * Per policy with several seeds and step, the min and max over its seeds of each run's loss
 * relative to the baseline's mean loss (%): the band around the policy's relative curve, which
 * is the same quantity for the mean loss. The baseline's own band shows its seeds' spread.
 */
function relativeBands(summary: SuiteSummary, which: "eval" | "train"): SeedBand[] {
  const base = summary.policies.find((p) => p.policy === summary.baseline);
  if (!base) return [];
  const baseLoss = new Map(base.curves[which].map((p) => [p.step, p.loss]));
  return seedBands(summary, which, (point) => {
    const b = baseLoss.get(point.step);
    return b === undefined || !Number.isFinite(point.loss)
      ? undefined
      : (100 * (point.loss - b)) / b;
  });
}

function relativeSpec(summary: SuiteSummary): TopLevelSpec {
  const which = comparedCurve(summary);
  const base = summary.policies.find((p) => p.policy === summary.baseline);
  const values = base
    ? summary.policies.flatMap((p) =>
      relativeCurve(p.curves[which], base.curves[which]).map((r) => ({
        policy: p.policy,
        step: r.step,
        percent: round(r.percent, 5),
      }))
    )
    : [];
  const bands = relativeBands(summary, which);
  const what = which === "eval" ? "validation" : "train";
  const means =
    `100 · (loss − ${summary.baseline} loss) / ${summary.baseline} loss, means over seeds`;
  return {
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    title: {
      text: `${summary.suite}: ${what} loss relative to ${summary.baseline}`,
      subtitle: bands.length > 0
        ? [
          `${means};`,
          `shaded: min–max over seeds of each run's loss vs the ${summary.baseline} mean`,
        ]
        : means,
    },
    layer: [
      ...bandLayer(summary, bands, 5),
      {
        data: { values },
        mark: { type: "line" as const, point: true },
        encoding: {
          x: { field: "step", type: "quantitative", title: "step" },
          y: {
            field: "percent",
            type: "quantitative",
            title: `Δ ${what} loss vs ${summary.baseline} (%)`,
          },
          color: policyColor(summary),
          order: { field: "step", type: "quantitative" },
        },
      },
    ],
  };
}

/**
 * Renders a suite's charts: `loss.svg`, `relative-loss.svg` (when the baseline has runs),
 * `grad-norm.svg` and `lr.svg` (when the records hold gradient norms and learning rates),
 * `health-rel-l2.svg` (when they hold numeric-health diagnostics) and `throughput.svg` (when they
 * hold tokens/s).
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
  const lr = lrSpec(summary);
  if (lr) {
    charts.push({
      file: "lr.svg",
      title: "Learning rate over training",
      svg: await renderSvg(lr),
    });
  }
  const health = healthHeatmapSpec(summary);
  if (health) {
    charts.push({
      file: HEALTH_CHART,
      title: "GEMM output relL2 vs FP32 per layer and GEMM",
      svg: await renderSvg(health),
    });
  }
  const throughput = throughputSpec(summary);
  if (throughput) {
    charts.push({
      file: "throughput.svg",
      title: "Training throughput per policy (tokens/s, median and min–max over seeds)",
      svg: await renderSvg(throughput),
    });
  }
  return charts;
}

/** Per policy and logged step, the mean over seeds of the global gradient norm before clipping. */
function gradNormValues(summary: SuiteSummary): { policy: string; step: number; norm: number }[] {
  const positive = (p: { gradNorm?: number | null }) =>
    typeof p.gradNorm === "number" && p.gradNorm > 0 ? p.gradNorm : undefined;
  return seedMeans(summary, "train", positive).map((m) => ({
    policy: m.policy,
    step: m.step,
    norm: round(m.mean, 5),
  }));
}

function gradNormSpec(
  summary: SuiteSummary,
  values: { policy: string; step: number; norm: number }[],
): TopLevelSpec {
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
          color: policyColor(summary),
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
