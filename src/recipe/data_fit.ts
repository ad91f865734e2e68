/**
 * Checks that need the recipe's data loaded: every training window and at least one evaluation
 * batch fit in their splits. A recipe that passes them never fails for its data after training
 * has started; one that does not gets `file:line:col` problems at the keys that set the sizes.
 *
 * @module
 */

import type { ModelConfig } from "../model/config.ts";
import type { Dataset } from "../train/data/dataset.ts";
import { sequentialBatchCount } from "../train/data/sampler.ts";
import type { RunTrain } from "./run_spec.ts";
import type { Problem } from "./problems.ts";
import type { SourceFile } from "./source.ts";

/**
 * The problems of training `model` with `train` on `data`: the training split must hold one
 * window of `seq_len + 1` tokens, the validation split one evaluation batch of `batch` windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dataFitProblems } from "./data_fit.ts";
 * import { SourceFile } from "./source.ts";
 * import type { Dataset } from "../train/data/dataset.ts";
 * import type { ModelConfig } from "../model/config.ts";
 * import type { RunTrain } from "./run_spec.ts";
 * const src = new SourceFile("r.yaml", "model:\n  seq_len: 64\ntrain:\n  batch: 8\n  eval: { every: 10, batches: 2 }\n");
 * const data = { train: { length: 10_000 }, val: { length: 300 } } as unknown as Dataset;
 * const problems = dataFitProblems(src, { seqLen: 64 } as ModelConfig, { batch: 8 } as RunTrain, data);
 * assert.deepEqual(problems.map((p) => `${p.line}:${p.column} ${p.path}`), ["5:9 train.eval"]);
 * ```
 */
export function dataFitProblems(
  src: SourceFile,
  model: ModelConfig,
  train: RunTrain,
  data: Dataset,
): Problem[] {
  const problems: Problem[] = [];
  const { seqLen } = model;
  if (data.train.length < seqLen + 1) {
    problems.push(src.problem(
      ["model", "seq_len"],
      `a training window of seq_len ${seqLen} needs ${seqLen + 1} tokens; the training split ` +
        `has ${data.train.length}`,
    ));
  }
  if (sequentialBatchCount(data.val.length, train.batch, seqLen) < 1) {
    const need = train.batch * seqLen + 1;
    problems.push(src.problem(
      ["train", "eval"],
      `one evaluation batch (train.batch ${train.batch} × seq_len ${seqLen} + 1 = ${need} ` +
        `tokens) does not fit the validation split (${data.val.length} tokens): raise ` +
        `data.val_fraction or give more data, or lower train.batch or model.seq_len`,
    ));
  }
  return problems;
}
