/**
 * The expanded plan in words, for `--dry-run`: per recipe its model, data and training settings,
 * then one line per policy with its seeds and what it quantizes how, and under it the formats
 * every linear layer resolves to (per-layer selectors and high-precision blocks applied).
 *
 * @module
 */

import {
  blockKinds,
  describeBlocks,
  describeMamba,
  linearLayers,
  type ModelConfig,
} from "../model/config.ts";
import {
  type BlockCount,
  blockCount,
  layerPolicyAt,
  type LinearPolicy,
  type OperandPolicy,
  type PrecisionPolicy,
} from "../model/policy.ts";
import {
  formatOptionsLabel,
  nvfp4Family,
  type ResolvedNvfp4,
  resolveFormat,
} from "../formats/spec.ts";
import type { Schedule } from "../train/schedule.ts";
import { OPERANDS } from "./canonical_policy.ts";
import type { RunSpec } from "./run_spec.ts";

/**
 * An operand as `format` (NVFP4, NVINT4 or UFP4 with its tile and its `+4over6/<error>/<bound>`
 * and `/rows` options, e.g. `nvfp4-1x16/rows`, `ufp4-16x16`; FP8 with
 * `+delayed/<algo>/len<n>/margin<m>`), plus `/sr`
 * for stochastic rounding and `+rht16` for an RHT (`/random` signs, `/nosign` for all +1, `/signs`
 * for another fixed vector).
 */
function operandText(op: OperandPolicy): string {
  const f = op.format;
  const format = typeof f === "string"
    ? f
    : f.kind === "mx"
    ? `mx-${f.element}/${f.scaleRule ?? "floor"}`
    : f.kind === "nvfp4"
    ? nvfp4Text(resolveFormat(f) as ResolvedNvfp4)
    : `${f.kind}-${f.element}${formatOptionsLabel(resolveFormat(f))}`;
  const sr = op.rounding === "stochastic" ? "/sr" : "";
  const signs = op.rht?.signs;
  const signText = signs === undefined
    ? ""
    : signs === "random"
    ? "/random"
    : signs.every((s) => s === 1)
    ? "/nosign"
    : "/signs";
  return `${format}${sr}${op.rht ? `+rht${op.rht.size ?? 16}${signText}` : ""}`;
}

/** An NVFP4-style spec as `<family>-<tile><options>`. */
function nvfp4Text(f: ResolvedNvfp4): string {
  return `${nvfp4Family(f)}-${f.tile}${formatOptionsLabel(f)}`;
}

/** A linear policy in one line: one format if all six operands agree, else per GEMM. */
function linearText(p: LinearPolicy): string {
  const ops = OPERANDS.map(([g, o]) => operandText((p[g] as Record<string, OperandPolicy>)[o]));
  if (ops.every((o) => o === ops[0])) return ops[0];
  return `fprop x ${ops[0]} w ${ops[1]} | dgrad dy ${ops[2]} w ${ops[3]} | wgrad dy ${ops[4]} x ${
    ops[5]
  }`;
}

/**
 * The resolved formats of every linear layer of `model` under `p` before any late switch, runs of
 * layers with the same formats joined (`blocks.1.qkv … blocks.6.fc2 (12)`), the LM head last.
 */
function layerLines(p: PrecisionPolicy, model: ModelConfig): string[] {
  const blocks = blockKinds(model.pattern).length;
  const texts: [string, string][] = [
    ...linearLayers(model.pattern).map((l): [string, string] => [
      l.name,
      linearText(layerPolicyAt(p, l.name, l.block, blocks, 0, 1)),
    ]),
    ["lm_head", p.head],
  ];
  const lines: string[] = [];
  for (let a = 0; a < texts.length;) {
    let b = a;
    while (b + 1 < texts.length && texts[b + 1][1] === texts[a][1]) b++;
    const span = a === b ? texts[a][0] : `${texts[a][0]} … ${texts[b][0]} (${b - a + 1})`;
    lines.push(`${span}: ${texts[a][1]}`);
    a = b + 1;
  }
  return lines;
}

/**
 * A resolved policy in one line: its linear layers' formats, selectors, high-precision blocks, late
 * switch, head and evaluation policy (the `--dry-run` plan and the report's policy table).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { policyText } from "./plan.ts";
 * import { POLICIES } from "./preset_policies.ts";
 * assert.equal(
 *   policyText({ ...POLICIES["nvfp4-no-rht"], evalPolicy: POLICIES.bf16 }, 4),
 *   "fprop x nvfp4 w nvfp4-2d | dgrad dy nvfp4/sr w nvfp4-2d | wgrad dy nvfp4/sr x nvfp4; " +
 *     "first 1 + last 1 of 4 blocks bf16; head bf16; evaluated as bf16 (bf16; head bf16)",
 * );
 * ```
 */
export function policyText(p: PrecisionPolicy, blocks: number): string {
  const parts = [linearText(p.linear)];
  for (const l of p.layers ?? []) parts.push(`layers ${l.match} ${linearText(l.policy)}`);
  const hp = p.highPrecisionBlocks;
  if (hp) {
    const count = (c: BlockCount) =>
      typeof c === "number" ? `${c}` : `${c.percent}% (${blockCount(c, blocks)})`;
    const first = blockCount(hp.first, blocks) > 0 ? `first ${count(hp.first)}` : "";
    const last = blockCount(hp.last, blocks) > 0 ? `last ${count(hp.last)}` : "";
    parts.push(
      `${[first, last].filter(Boolean).join(" + ")} of ${blocks} blocks ${linearText(hp.policy)}`,
    );
  }
  if (p.switchTo) {
    parts.push(
      `from ${Math.round(p.switchTo.atFraction * 100)}% of steps ${linearText(p.switchTo.policy)}`,
    );
  }
  parts.push(`head ${p.head}`);
  if (p.compute === "bf16") parts.push("compute bf16");
  const ev = p.evalPolicy;
  if (ev) parts.push(`evaluated as ${ev.name} (${policyText(ev, blocks)})`);
  return parts.join("; ");
}

function scheduleText(s: Schedule): string {
  const warmup = s.warmup ? `, warmup ${s.warmup}` : "";
  switch (s.kind) {
    case "constant":
      return `constant lr ${s.lr}${warmup}`;
    case "cosine":
      return `cosine lr ${s.lr} → ${s.minLr ?? 0}${warmup}`;
    case "wsd":
      return `wsd lr ${s.lr}${warmup}, ${s.decay ?? "linear"} decay over the last ${
        Math.round((s.decayFraction ?? 0.2) * 100)
      }% to ${s.finalLr ?? 0}`;
  }
}

const list = (v: string | readonly string[] | undefined) =>
  v === undefined ? [] : typeof v === "string" ? [v] : v;

/** The plan of one recipe's runs. */
function recipePlan(runs: readonly RunSpec[]): string[] {
  const { suite, recipePath, recipeHash, model: m, data, train: t, baseline } = runs[0];
  const kinds = blockKinds(m.pattern);
  const tokens = t.batch * m.seqLen;
  const sources = data.shards !== undefined
    ? `shards ${list(data.shards).join(", ")}${
      data.valShards ? `, validation shards ${list(data.valShards).join(", ")}` : ""
    }`
    : `corpus ${list(data.corpus).join(", ")}`;
  const a = t.adamw;
  const policies = [...new Set(runs.map((r) => r.policyName))];
  const width = Math.max(...policies.map((p) => p.length));
  const lines = [
    `${suite} (${recipePath}, recipe ${recipeHash.slice(0, 12)})`,
    `  model  "${m.pattern}" (${describeBlocks(m.pattern)}), d_model ` +
    `${m.dModel}, ${m.heads} heads, d_ff ${m.dFf} ${m.mlp}, seq_len ${m.seqLen}, vocab ${m.vocab}` +
    (describeMamba(m) ? `; ${describeMamba(m)}` : ""),
    `  data   ${sources}; ${data.tokenizer ?? "byte"} tokens${
      data.valFraction !== undefined ? `, ${data.valFraction * 100}% held out` : ""
    }`,
    `  train  ${t.steps} steps × ${t.batch} sequences (${tokens} tokens/step, ${
      t.steps * tokens
    } ` +
    `in all); ${scheduleText(t.schedule)}; AdamW β ${a.beta1}/${a.beta2} ε ${a.eps} ` +
    `weight decay ${a.weightDecay}; clip ${t.clip ?? "none"}`,
    `         eval every ${t.eval.every} steps on ${t.eval.batches} batches; loss logged every ` +
    `${t.logEvery} steps; first ${t.warmupSteps} steps untimed`,
    `  runs   ${runs.length} (baseline ${baseline})`,
  ];
  for (const name of policies) {
    const mine = runs.filter((r) => r.policyName === name);
    const seeds = `seed${mine.length > 1 ? "s" : ""} ${mine.map((r) => r.seed).join(" ")}`;
    lines.push(`    ${name.padEnd(width)}  ${seeds}: ${policyText(mine[0].policy, kinds.length)}`);
    for (const l of layerLines(mine[0].policy, m)) lines.push(`      ${l}`);
  }
  return lines;
}

/**
 * A human-readable plan of `runs`, grouped by recipe, for `--dry-run`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describePlan } from "./plan.ts";
 * import { POLICIES } from "./preset_policies.ts";
 * import type { RunSpec } from "./run_spec.ts";
 * const run: RunSpec = {
 *   suite: "tiny", recipePath: "recipes/tiny.yaml", recipeHash: "0123456789ab".repeat(5) + "cdef",
 *   policyName: "nvfp4", baseline: "bf16", seed: 0,
 *   model: { pattern: "*-*-", dModel: 64, heads: 4, dFf: 256, seqLen: 32, vocab: 256, mlp: "relu2" },
 *   policy: POLICIES.nvfp4,
 *   data: { corpus: ["moby-dick"], tokenizer: "byte", valFraction: 0.05 },
 *   train: {
 *     steps: 100, batch: 4, schedule: { kind: "constant", lr: 0.001, warmup: 10 }, clip: 1,
 *     adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, logEvery: 10,
 *     eval: { every: 50, batches: 2 }, warmupSteps: 3,
 *   },
 * };
 * const plan = describePlan([run, { ...run, seed: 1 }]);
 * assert.ok(plan.startsWith("tiny (recipes/tiny.yaml, recipe 0123456789ab)\n"));
 * assert.ok(plan.includes(
 *   "    nvfp4  seeds 0 1: fprop x nvfp4 w nvfp4-2d | dgrad dy nvfp4/sr w nvfp4-2d | " +
 *     "wgrad dy nvfp4/sr+rht16 x nvfp4+rht16; first 1 + last 1 of 4 blocks bf16; head bf16",
 * ));
 * assert.ok(plan.endsWith("2 runs"));
 * ```
 */
export function describePlan(runs: readonly RunSpec[]): string {
  const groups = new Map<string, RunSpec[]>();
  for (const r of runs) {
    const key = `${r.recipePath}\u0000${r.recipeHash}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const blocks = [...groups.values()].map((g) => recipePlan(g).join("\n"));
  return [...blocks, `${runs.length} run${runs.length === 1 ? "" : "s"}`].join("\n\n");
}
