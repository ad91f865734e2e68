/**
 * The setup of a suite in words, from its run specs: model, data, training and seeds — what a
 * reader needs to interpret the numbers without opening the recipe.
 *
 * @module
 */

import { describeBlocks, describeMamba, numel, paramSpecs } from "../model/config.ts";
import type { RunRecord } from "../runner/record.ts";
import { sequentialBatchCount } from "../train/data/sampler.ts";
import { resolveAdamw } from "../../kernels/adamw/reference.ts";
import type { RunSpec } from "../recipe/run_spec.ts";
import type { Schedule } from "../train/schedule.ts";
import { grouped } from "./format.ts";

function schedule(s: Schedule): string {
  const warmup = s.warmup ? `, ${s.warmup} warm-up steps` : "";
  switch (s.kind) {
    case "constant":
      return `constant learning rate ${s.lr}${warmup}`;
    case "cosine":
      return `cosine schedule from ${s.lr} to ${s.minLr ?? 0}${warmup}`;
    case "wsd":
      return `warmup–stable–decay schedule, peak ${s.lr}${warmup}, ${
        s.decay ?? "linear"
      } decay to ${s.finalLr ?? 0} over the last ${100 * (s.decayFraction ?? 0.2)} % of steps`;
  }
}

function list(v: string | readonly string[] | undefined): string {
  return v === undefined ? "" : (typeof v === "string" ? [v] : v).map((x) => `\`${x}\``).join(", ");
}

/**
 * The setup lines (markdown, unwrapped) of the runs: model, data, training, scale, seeds. With
 * `sizes` (a record's data sizes) the scale line adds epochs and evaluated validation tokens.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setupLines } from "./setup.ts";
 * import { POLICIES } from "../recipe/preset_policies.ts";
 * const spec = {
 *   suite: "demo", recipePath: "recipes/demo.yaml", recipeHash: "h", policyName: "bf16",
 *   baseline: "bf16", seed: 0, policy: POLICIES.bf16,
 *   model: { pattern: "*-*-", dModel: 64, heads: 4, dFf: 256, seqLen: 32, vocab: 256, mlp: "relu2" as const },
 *   data: { corpus: "moby-dick" },
 *   train: {
 *     steps: 20, batch: 4, schedule: { kind: "constant" as const, lr: 1e-3 }, clip: 1, adamw: {},
 *     logEvery: 5, eval: { every: 10, batches: 2 }, warmupSteps: 2,
 *   },
 * };
 * const lines = setupLines([spec, { ...spec, seed: 1 }]);
 * assert.match(lines[0], /2 attention and 2 MLP blocks/);
 * assert.match(lines[3], /tokens per parameter/);
 * assert.match(lines[4], /seeds 0, 1/);
 * ```
 */
export function setupLines(specs: readonly RunSpec[], sizes?: RunRecord["data"]): string[] {
  const s = specs[0];
  const m = s.model;
  const t = s.train;
  const a = resolveAdamw(t.adamw);
  const tokens = t.steps * t.batch * m.seqLen;
  const data = s.data.shards !== undefined
    ? `nanoGPT shards ${list(s.data.shards)}${
      s.data.valShards ? `, validation shards ${list(s.data.valShards)}` : ""
    }`
    : `corpus ${list(s.data.corpus ?? "moby-dick")}`;
  const val = s.data.valShards ? "" : `, ${100 * (s.data.valFraction ?? 0.05)} % held out`;
  const seeds = [...new Set(specs.map((x) => x.seed))].sort((a, b) => a - b);
  return [
    `**Model**: layer pattern \`${m.pattern}\` (${describeBlocks(m.pattern)}), d_model ` +
    `${m.dModel}, ${m.heads} heads, d_ff ${m.dFf} (${m.mlp}), sequence length ${m.seqLen}, ` +
    `vocabulary ${m.vocab}${describeMamba(m) ? `; ${describeMamba(m)}` : ""}.`,
    `**Data**: ${data}, tokenizer \`${s.data.tokenizer ?? "byte"}\`${val}.`,
    `**Training**: ${t.steps} steps of batch ${t.batch} (${grouped(tokens)} tokens), ${
      schedule(t.schedule)
    }, AdamW (β1 ${a.beta1}, β2 ${a.beta2}, ε ${a.eps}, weight decay ${a.weightDecay}), gradient ` +
    `clipping ${t.clip ?? "off"}; validation every ` +
    `${t.eval.every} steps over ${t.eval.batches} batches; timing after ${t.warmupSteps} ` +
    `untimed warm-up steps.`,
    scaleLine(s, sizes),
    `**Runs**: ${specs.length} (seeds ${seeds.join(", ")}), recipe \`${s.recipePath}\`.`,
  ];
}

/**
 * The run's scale: parameters N (and those in linear layers), training tokens D, D/N, and — where
 * the records know their data's size — epochs over the training split and the validation tokens
 * each evaluation reads.
 */
function scaleLine(s: RunSpec, data?: RunRecord["data"]): string {
  const m = s.model;
  const t = s.train;
  const params = paramSpecs(m).reduce((n, p) => n + numel(p.shape), 0);
  const tokens = t.steps * t.batch * m.seqLen;
  const parts = [
    `${grouped(params)} parameters, ${grouped(tokens)} training tokens: ` +
    `${(tokens / params).toPrecision(3)} tokens per parameter`,
  ];
  if (data) {
    const evalTokens = Math.min(
      t.eval.batches,
      sequentialBatchCount(data.valTokens, t.batch, m.seqLen),
    ) * t.batch * m.seqLen;
    parts.push(
      `${(tokens / data.trainTokens).toPrecision(3)} epochs over the training split ` +
        `(${grouped(data.trainTokens)} tokens)`,
      `each evaluation reads ${grouped(evalTokens)} of the ${grouped(data.valTokens)} ` +
        `validation tokens`,
    );
  }
  return `**Scale**: ${parts.join("; ")}.`;
}
