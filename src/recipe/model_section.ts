/**
 * The `model` section of a recipe: its snake_case keys mapped onto {@link ModelConfig}, with the
 * checks that relate its fields (what `validateModelConfig` requires), each at its key.
 *
 * @module
 */

import { type MambaConfig, type ModelConfig, validateMamba } from "../model/config.ts";
import type { Problem } from "./problems.ts";
import type { RecipeInput } from "./schema.ts";
import type { SourceFile } from "./source.ts";

/**
 * The model configuration of a structurally valid `model` section, or undefined with a problem
 * for each width that is not a multiple of 16 and for heads that do not split `d_model` into an
 * even head size of at most 128.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "./model_section.ts";
 * import type { Problem } from "./problems.ts";
 * import { SourceFile } from "./source.ts";
 * const src = new SourceFile("r.yaml", "model:\n  d_model: 96\n  heads: 5\n");
 * const m = { pattern: "*-", d_model: 96, heads: 4, d_ff: 384, seq_len: 64, vocab: 256, mlp: "gelu" } as const;
 * const problems: Problem[] = [];
 * assert.equal(modelConfig(src, m, problems)?.dModel, 96);
 * assert.equal(modelConfig(src, { ...m, heads: 5 }, problems), undefined);
 * assert.deepEqual(problems, [{
 *   file: "r.yaml", line: 3, column: 10, path: "model.heads",
 *   message: "must split d_model = 96 into heads of an even size of at most 128, got 5",
 * }]);
 * ```
 */
export function modelConfig(
  src: SourceFile,
  m: RecipeInput["model"],
  problems: Problem[],
): ModelConfig | undefined {
  const before = problems.length;
  for (const key of ["d_model", "d_ff"] as const) {
    if (m[key] % 16 !== 0) {
      problems.push(src.problem(["model", key], `must be a multiple of 16, got ${m[key]}`));
    }
  }
  const head = m.d_model / m.heads;
  if (!Number.isInteger(head) || head % 2 !== 0 || head > 128) {
    problems.push(src.problem(
      ["model", "heads"],
      `must split d_model = ${m.d_model} into heads of an even size of at most 128, got ${m.heads}` +
        (Number.isInteger(head) ? ` (head size ${head})` : ""),
    ));
  }
  const given = m.mamba;
  const mamba: MambaConfig | undefined = given && Object.fromEntries(
    Object.entries(SNAKE).flatMap(([field, key]) =>
      given[key] === undefined ? [] : [[field, given[key]]]
    ),
  );
  const config: ModelConfig = { ...base(m), ...(mamba ? { mamba } : {}) };
  if (m.pattern.includes("M") && problems.length === before) {
    try {
      validateMamba(config);
    } catch (e) {
      if (!(e instanceof RangeError) || !e.message.startsWith("model.mamba")) throw e;
      const field = /^model\.mamba\.(\w+)/.exec(e.message)?.[1];
      const key = field && SNAKE[field as keyof MambaConfig];
      problems.push(src.problem(
        key && m.mamba?.[key] !== undefined
          ? ["model", "mamba", key]
          : m.mamba
          ? ["model", "mamba"]
          : ["model", "pattern"],
        e.message.replace(/^model\.mamba(\.\w+)?:? /, ""),
      ));
    }
  }
  return problems.length > before ? undefined : config;
}

/** The recipe key of each {@link MambaConfig} field. */
const SNAKE: Record<keyof MambaConfig, keyof NonNullable<RecipeInput["model"]["mamba"]>> = {
  dState: "d_state",
  headDim: "head_dim",
  expand: "expand",
  nGroups: "n_groups",
  convWindow: "conv_window",
};

/** The fields every model has. */
function base(m: RecipeInput["model"]): ModelConfig {
  return {
    pattern: m.pattern,
    dModel: m.d_model,
    heads: m.heads,
    dFf: m.d_ff,
    seqLen: m.seq_len,
    vocab: m.vocab,
    mlp: m.mlp,
    ...(m.init_std !== undefined ? { initStd: m.init_std } : {}),
  };
}
