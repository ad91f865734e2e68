/**
 * The shape of recipe and preset YAML files as zod schemas: the source of the JSON Schemas that
 * editors complete keys from (`recipes/schema.json`, `recipes/presets/schema.json`) and of the
 * first, structural pass of validation. Keys are snake_case as written in YAML; every object is
 * strict (unknown keys are errors). Checks that relate several fields (block sizes against model
 * dimensions, `extends` chains, files on disk) are made later, in `load.ts` and `policies.ts`.
 *
 * @module
 */

import { z } from "zod";
import { MARGIN_RANGE } from "../formats/fp8.ts";
import { FORMAT_NAMES } from "../formats/spec.ts";
import { TOKENIZER_NAMES } from "../train/data/tokenizers.ts";

/**
 * Names of recipes, policies and presets: letters, digits, `_` and `-`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NAME_PATTERN } from "./schema.ts";
 * assert.ok(NAME_PATTERN.test("nvfp4-no-rht"));
 * assert.ok(!NAME_PATTERN.test("a.b"));
 * ```
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

const name = (what: string) =>
  z.string().regex(NAME_PATTERN, {
    error: "expected a name of letters, digits, _ and - (starting with a letter or digit)",
  }).describe(what);

const positiveInt = (what: string) => z.int().min(1).describe(what);

/** A number of blocks, or a share of the model's blocks such as `12.5%` (see `BlockCount`). */
const BLOCK_COUNT_ERROR =
  'expected a number of blocks or a share of them from 0% to 100%, such as "12.5%"';
const blockCount = (what: string) =>
  z.union([
    z.int().min(0),
    z.string().refine((s) => /^\d+(\.\d+)?%$/.test(s) && parseFloat(s) <= 100, {
      error: BLOCK_COUNT_ERROR,
    }),
  ], { error: BLOCK_COUNT_ERROR })
    .describe(`${what}: a count, or a share of the model's blocks such as 12.5% (rounded).`);

const formatSpec = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("float"),
    element: z.enum(["fp32", "bf16", "fp16"]),
  }).describe("Plain floating point, no scaling."),
  z.strictObject({
    kind: z.literal("fp8"),
    element: z.enum(["e4m3", "e5m2"]),
    scaling: z.union([
      z.literal("current"),
      z.strictObject({
        delayed: z.strictObject({
          history_length: positiveInt(
            "Amax history length, TransformerEngine's amax_history_len (default 1024, TE's).",
          ).optional(),
          algo: z.enum(["max", "most_recent"]).describe(
            "Scale from the history's max (default, TE's) or the most recent amax.",
          ).optional(),
          margin: z.int().min(MARGIN_RANGE[0]).max(MARGIN_RANGE[1]).describe(
            "Scale is fp8_max · 2^-margin / amax (default 0, TE's).",
          ).optional(),
        }),
      }),
    ], { error: 'expected "current" or { delayed: {...} }' })
      .describe(
        "Per-tensor FP32 scale: current (this tensor's amax, default) or delayed " +
          "(TransformerEngine's DelayedScaling: each quantizer keeps an amax history on the GPU).",
      )
      .optional(),
  }).describe("FP8 with one FP32 scale per tensor."),
  z.strictObject({
    kind: z.literal("mx"),
    element: z.enum(["e2m1", "e4m3", "e5m2"]),
    scale_rule: z.enum(["floor", "ceil", "rceil"])
      .describe("E8M0 rule: OCP floor (default), the paper's ceil, or TE/cuBLAS rceil.")
      .optional(),
  }).describe("OCP MX: 1×32 blocks with one E8M0 scale each."),
  z.strictObject({
    kind: z.literal("nvfp4"),
    element: z.enum(["e2m1", "int4", "e1m2"]).describe(
      "Element grid: e2m1 (NVFP4, default), or a uniform 4-bit grid (UFP4, arXiv 2606.20381): " +
        "int4 (−7…7, NVINT4 of arXiv 2510.25602) or e1m2 (0…1.75 in steps of 0.25), with the " +
        "grid's largest value in place of E2M1's 6 in the scale chain.",
    ).optional(),
    tile: z.enum(["1x16", "16x16"]).describe("1×16 blocks along rows (default) or 16×16 tiles.")
      .optional(),
    four_over_six: z.strictObject({
      error: z.enum(["mae", "mse"]).describe(
        "How the two candidates' errors are summed: absolute (mae, TE's default) or squared.",
      ).optional(),
      scale_bound: z.literal([256, 448]).describe(
        "E4M3 bound of the tensor scale 6·bound/amax: 256 (TE's default) or 448.",
      ).optional(),
    }).describe(
      "Four Over Six (TE nvfp4_4over6, arXiv 2512.02010): each block keeps the map-to-6 or the " +
        "1.5× map-to-4 scale, whichever quantizes it with the smaller error (ties: map-to-6). " +
        "Round to nearest and E2M1 elements only.",
    ).optional(),
    row_scaled: z.boolean().describe(
      "One FP32 amax and tensor scale per row instead of per tensor (TE row_scaled_activation); " +
        "1×16 blocks only.",
    ).optional(),
  }).describe(
    "NVFP4: E2M1 (or uniform INT4/E1M2) elements, E4M3 block scales, FP32 tensor scale.",
  ),
]).meta({ id: "FormatSpec" });

/** A format: a name (`nvfp4`, `mxfp4`, …) or a full specification. */
const FormatSchema = z.union([z.enum(FORMAT_NAMES), formatSpec], {
  error: `expected a format name (${FORMAT_NAMES.join(", ")}) or a format spec { kind, ... }`,
}).meta({ id: "Format" }).describe("A format name or a full format spec { kind, ... }.");

const rht = z.union([
  z.literal("none"),
  z.strictObject({
    size: z.literal([16, 32, 64, 128]).describe("Transform size d (16, 32, 64 or 128)."),
    signs: z.union([z.array(z.literal([1, -1])), z.enum(["fixed", "none", "random"])], {
      error: 'expected a list of d signs (1 or -1), "fixed", "none" or "random"',
    }).describe(
      "fixed: TransformerEngine's fixed vector (default); none: all +1, a deterministic " +
        "Hadamard; random: a vector per tensor and step from the tensor's random stream (as " +
        "Quartet II); or a list of d signs.",
    ).optional(),
  }),
], { error: 'expected { size, signs? } or "none"' })
  .describe("Random Hadamard Transform along the dot-product dimension, or none.");

/** Settings applied to one operand, or to every operand a group names. */
const OperandPatchSchema = z.strictObject({
  format: FormatSchema.optional(),
  rounding: z.enum(["rne", "stochastic"])
    .describe("Element rounding: round-to-nearest-even or stochastic (for gradients).").optional(),
  rht: rht.optional(),
  block: z.union(
    [z.tuple([z.literal(1), z.literal(16)]), z.tuple([z.literal(16), z.literal(16)])],
    {
      error: "expected [1,16] or [16,16]",
    },
  ).describe("NVFP4 scale blocks: [1,16] along rows or [16,16] tiles.").optional(),
}).meta({ id: "OperandPatch" });

const operand = (what: string) =>
  z.union([z.enum(FORMAT_NAMES), OperandPatchSchema], {
    error: `expected a format name or { format, rounding, rht, block }`,
  }).describe(what).optional();

const gemm = <A extends string, B extends string>(
  a: A,
  b: B,
  what: string,
  dA: string,
  dB: string,
) =>
  OperandPatchSchema.extend(
    { [a]: operand(dA), [b]: operand(dB) } as Record<A | B, ReturnType<typeof operand>>,
  )
    .describe(`${what}; format/rounding/rht/block here apply to both operands.`).optional();

/**
 * A precision policy as written: a preset file, or one entry of a recipe's `policies`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PolicySchema } from "./schema.ts";
 * assert.ok(PolicySchema.safeParse({ extends: "nvfp4", grads: { rounding: "rne" } }).success);
 * assert.ok(!PolicySchema.safeParse({ extends: "nvfp4", gradz: {} }).success);
 * ```
 */
export const PolicySchema = z.strictObject({
  description: z.string().describe("What the policy is.").optional(),
  extends: name("A preset (recipes/presets/<name>.yaml) or another policy of this recipe.")
    .optional(),
  all: OperandPatchSchema.describe("Applies to all six operands.").optional(),
  activations: OperandPatchSchema.describe("Applies to fprop.x and wgrad.x.").optional(),
  weights: OperandPatchSchema.describe("Applies to fprop.w and dgrad.w.").optional(),
  grads: OperandPatchSchema.describe("Applies to dgrad.dy and wgrad.dy.").optional(),
  fprop: gemm("x", "w", "Forward GEMM Y = X·Wᵀ", "Input activations.", "Weights."),
  dgrad: gemm(
    "dy",
    "w",
    "Data-gradient GEMM dX = dY·W",
    "Output gradient.",
    "Weights (columnwise).",
  ),
  wgrad: gemm(
    "dy",
    "x",
    "Weight-gradient GEMM dW = dYᵀ·X",
    "Output gradient (columnwise).",
    "Input activations (columnwise).",
  ),
  high_precision_blocks: z.union([
    z.literal("none"),
    z.strictObject({
      first: blockCount("Blocks at the start of the layer pattern"),
      last: blockCount("Blocks at the end of the layer pattern"),
      policy: name("Policy or preset whose linear layers these blocks use (default bf16).")
        .optional(),
    }),
  ], { error: 'expected { first, last, policy? } or "none"' })
    .describe("The first and last blocks kept in higher precision.").optional(),
  layers: z.union([
    z.literal("none"),
    z.array(z.strictObject({
      match: z.string().min(1).describe(
        "Glob over linear-layer names such as blocks.3.qkv or blocks.5.out_proj: * matches any " +
          "characters (dots too), ? one, [0-1] a class.",
      ),
      policy: name("Policy or preset whose linear layers the matching layers use."),
    })).min(1),
  ], { error: 'expected a list of { match, policy } or "none"' })
    .describe(
      "Per-layer selectors (Megatron's --te-precision-config-file): the first whose match fits " +
        "a layer's name sets that layer's policy, before high_precision_blocks; a selector " +
        "that matches no layer of the model is an error.",
    ).optional(),
  switch: z.union([
    z.literal("none"),
    z.strictObject({
      at: z.number().gt(0).lt(1).describe("Fraction of the training steps (0 < at < 1)."),
      to: name("Policy or preset whose linear layers every block uses from then on."),
    }),
  ], { error: 'expected { at, to } or "none"' })
    .describe("Late precision switch (e.g. to bf16 for the LR decay).").optional(),
  head: z.enum(["fp32", "bf16"]).describe("The LM head's precision.").optional(),
  compute: z.enum(["fp32", "bf16"]).describe(
    "Precision of the tensors between ops (default fp32): bf16 stores every non-GEMM op's " +
      "output, the residual stream, the linear layers' outputs and the activation gradients as " +
      "BF16 and rounds each quantizer's input and RHT output to BF16, as Megatron/" +
      "TransformerEngine BF16 mixed precision does; weights, gradients of weights, optimizer " +
      "state and the loss stay FP32.",
  ).optional(),
  eval_policy: z.union([z.literal("none"), name("")], { error: 'expected a policy name or "none"' })
    .describe(
      "Policy or preset the validation passes run under (its forward GEMMs and head), e.g. " +
        'train nvfp4 and evaluate bf16; "none" evaluates under the training policy (default).',
    ).optional(),
}).meta({ id: "Policy" });

const percent = (what: string) =>
  z.string().refine((s) => /^-?\d+(\.\d+)?%$/.test(s), {
    error: 'expected a percentage such as "1.5%"',
  }).describe(what);

/** One declared claim: a cited statement comparing two policies (three for `closes`) on a metric. */
export const ClaimSchema = z.strictObject({
  source: z.string().min(1).describe("Where the claim is published (paper, section, figure)."),
  statement: z.string().describe("The claim in words (default: generated).").optional(),
  policy: name("The policy the claim is about."),
  versus: name("The policy it is compared with (default: the baseline).").optional(),
  metric: z.union([
    z.literal("final"),
    z.strictObject({ at_step: positiveInt("A step with a validation point.") }),
    z.strictObject({
      tokens_to_loss: z.number().gt(0).describe(
        "Training tokens until the validation loss first reaches this value (interpolated " +
          "between validation points).",
      ),
    }),
  ], { error: 'expected "final", { at_step: N } or { tokens_to_loss: L }' })
    .describe(
      "What is compared per run: the final validation loss (default), the validation " +
        "loss at a step, or the tokens needed to reach a loss.",
    ).optional(),
  expect: z.union([
    z.enum(["worse", "better"]),
    z.strictObject({ within: percent("|Δ| ≤ this share of versus's mean (equivalence, TOST).") }),
    z.strictObject({ at_most: percent("Δ ≤ this share of versus's mean (non-inferiority).") }),
    z.strictObject({
      closes: percent("At least this share of the gap from `of` to versus is closed."),
      of: name("The policy whose gap to versus `policy` closes."),
    }),
  ], {
    error: 'expected "worse", "better", { within: "p%" }, { at_most: "p%" } or ' +
      '{ closes: "p%", of: policy }',
  }).describe(
    "What the claim says of policy − versus: worse (a higher metric) or better, within or " +
      "at most a margin, or that policy closes a share of the gap from `of` to versus.",
  ),
  alpha: z.number().gt(0).lt(0.5).describe("The test's level (default 0.05).").optional(),
}).meta({ id: "Claim" });

const stringOrList = (what: string) =>
  z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    error: "expected a string or a non-empty list of strings",
  }).describe(what).optional();

const lr = z.number().gt(0).describe("Peak learning rate (here or in optimizer.adamw.lr).")
  .optional();
const warmup = z.int().min(0).describe("Linear warmup steps (default 0).").optional();

const schedule = z.strictObject({
  constant: z.strictObject({ lr, warmup }).describe("Constant rate after the warmup.").optional(),
  cosine: z.strictObject({
    lr,
    min_lr: z.number().min(0).describe("Rate at the last step (default 0).").optional(),
    warmup,
  }).describe("Cosine decay to min_lr after the warmup.").optional(),
  wsd: z.strictObject({
    lr,
    final_lr: z.number().min(0).describe("Rate at the last step (default 0).").optional(),
    warmup,
    decay_fraction: z.number().min(0).max(1)
      .describe("Share of the steps spent decaying (default 0.2).").optional(),
    decay: z.enum(["linear", "cosine"]).describe("Decay shape (default linear).").optional(),
  }).describe("Warmup, stable, then decay over the last decay_fraction of the steps.").optional(),
}).meta({ minProperties: 1, maxProperties: 1 }).describe("One of constant, cosine, wsd.");

const beta = z.number().min(0).lt(1);

/**
 * A recipe file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RecipeSchema } from "./schema.ts";
 * const r = RecipeSchema.safeParse({ name: "x" });
 * assert.equal(r.success, false);
 * assert.deepEqual(r.error?.issues.map((i) => i.path.join(".")), [
 *   "model", "data", "train", "seeds", "baseline", "policies",
 * ]);
 * ```
 */
export const RecipeSchema = z.strictObject({
  name: name("The suite name; reports group runs by it."),
  description: z.string().describe("What the recipe compares.").optional(),
  model: z.strictObject({
    pattern: z.string().regex(/^[*\-M]+$/, {
      error: 'expected a string of "M" (Mamba-2), "*" (attention) and "-" (MLP) blocks',
    }).describe('Blocks: "M" Mamba-2, "*" attention, "-" MLP, e.g. "*-*-" or "M-M*-".'),
    d_model: positiveInt("Model width (a multiple of 16; 32 for MX formats)."),
    heads: positiveInt("Attention heads (an even head size of at most 128)."),
    d_ff: positiveInt("MLP width (a multiple of 16; 32 for MX formats)."),
    seq_len: positiveInt("Tokens per sequence."),
    vocab: positiveInt("Vocabulary size (at least the tokenizer's)."),
    mlp: z.enum(["relu2", "gelu", "swiglu"]).describe("MLP activation."),
    init_std: z.number().gt(0).describe("Std of the weights' normal init (default 0.02).")
      .optional(),
    mamba: z.strictObject({
      d_state: positiveInt("SSM state size per head (default 64).").optional(),
      head_dim: positiveInt("Channels per SSM head (default 32).").optional(),
      expand: positiveInt("d_inner = expand · d_model (default 2).").optional(),
      n_groups: positiveInt("Groups sharing B and C; divides the heads (default 1).").optional(),
      conv_window: positiveInt("Causal convolution window (default 4).").optional(),
    }).describe('The Mamba-2 blocks ("M" in the pattern).').optional(),
  }),
  data: z.strictObject({
    corpus: stringOrList("Built-in corpora (moby-dick, sotu, brown) or text files."),
    shards: stringOrList("nanoGPT .bin shards: paths or globs (instead of corpus)."),
    val_shards: stringOrList("Shards forming the validation split (with shards)."),
    tokenizer: z.enum(TOKENIZER_NAMES as [string, ...string[]]).describe("Default byte.")
      .optional(),
    val_fraction: z.number().min(0).lt(1).describe("Share held out for validation (default 0.05).")
      .optional(),
  }).describe("Training data; relative paths are relative to the recipe's folder."),
  train: z.strictObject({
    steps: positiveInt("Optimizer steps."),
    batch: positiveInt("Sequences per step."),
    optimizer: z.strictObject({
      adamw: z.strictObject({
        lr,
        betas: z.tuple([beta, beta]).describe("[β₁, β₂], each in [0, 1)."),
        eps: z.number().gt(0).describe("ε > 0."),
        weight_decay: z.number().min(0).describe("Decoupled weight decay λ ≥ 0 (matrices only)."),
      }),
    }),
    schedule,
    clip: z.number().gt(0).nullable().describe("Global gradient-norm limit, or null for none."),
    eval: z.strictObject({
      every: positiveInt("Evaluate every this many steps (and at the end)."),
      batches: positiveInt("Validation batches per evaluation."),
    }),
    log_every: positiveInt("Read the training loss back every this many steps (default 10).")
      .optional(),
    warmup_steps: z.int().min(0).describe("Steps left out of the throughput figures (default 3).")
      .optional(),
    matrix_units: z.boolean().describe(
      "Run GEMMs whose operands are quantized (every format but fp32) on the GPU's matrix " +
        "units where the device has them (default true); false forces the SIMT GEMMs.",
    ).optional(),
  }),
  health: z.strictObject({
    every: positiveInt("Take the diagnostics every this many steps (default train.eval.every).")
      .optional(),
    draws: positiveInt("Stochastic-rounding draws per operand for the bias (default 4).")
      .optional(),
    alarms: z.strictObject({
      rel_l2: z.number().gt(0).describe("Largest GEMM-output relL2 (default: none).").optional(),
      saturation: z.number().min(0).max(1).describe(
        "Largest share of an operand's elements clipped (default 0.001).",
      ).optional(),
      underflow: z.number().min(0).max(1).describe(
        "Largest share of an operand's elements flushed to zero (default 0.01).",
      ).optional(),
      gain: z.tuple([z.number().min(0), z.number().gt(0)]).describe(
        "Allowed range of a GEMM's ‖C_Q‖/‖C_ref‖ (default [0.9, 1.1]).",
      ).optional(),
      stop: z.boolean().describe("Stop a run at its first alarm (default false).").optional(),
    }).describe("Thresholds that mark a run in the report.").optional(),
  }).describe(
    "Numeric-health diagnostics per linear layer and GEMM (src/health/); off when absent. " +
      "They do not change the run's results, nor its id.",
  ).optional(),
  seeds: z.array(z.int().min(0).max(0xffffffff)).min(1).describe("One run per seed and policy."),
  baseline: name("The policy the others are compared against."),
  policies: z.record(name("Policy name."), PolicySchema).describe("The policies to compare."),
  claims: z.record(name("Claim name."), ClaimSchema).describe(
    "Published claims the report tests with the runs' seeds, each with a verdict (src/report/" +
      "claims.ts). They change no run and not the recipe's hash.",
  ).optional(),
});

/** A recipe file as parsed (snake_case keys, nothing resolved). */
export type RecipeInput = z.infer<typeof RecipeSchema>;
/** A policy as written. */
export type PolicyInput = z.infer<typeof PolicySchema>;
/** Operand settings as written (the same for one operand, a GEMM or a group). */
export type OperandPatchInput = z.infer<typeof OperandPatchSchema>;
/** A format as written. */
export type FormatInput = z.infer<typeof FormatSchema>;

function jsonSchema(schema: z.ZodType, title: string): Record<string, unknown> {
  return { title, ...z.toJSONSchema(schema, { target: "draft-7", io: "input" }) };
}

/**
 * The JSON Schema of recipe files (`recipes/schema.json`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recipeJsonSchema } from "./schema.ts";
 * const s = recipeJsonSchema();
 * assert.deepEqual(s.required, ["name", "model", "data", "train", "seeds", "baseline", "policies"]);
 * assert.equal(s.additionalProperties, false);
 * ```
 */
export function recipeJsonSchema(): Record<string, unknown> {
  return jsonSchema(RecipeSchema, "lpbench recipe");
}

/**
 * The JSON Schema of preset files (`recipes/presets/schema.json`): one policy each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { presetJsonSchema } from "./schema.ts";
 * const s = presetJsonSchema();
 * assert.equal(s.$ref, "#/definitions/Policy");
 * assert.ok("extends" in (s.definitions as { Policy: { properties: object } }).Policy.properties);
 * ```
 */
export function presetJsonSchema(): Record<string, unknown> {
  return jsonSchema(PolicySchema, "lpbench precision policy preset");
}
