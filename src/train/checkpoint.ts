/**
 * Training checkpoints: model weights, AdamW state, step, RNG state and the run's JSON config in
 * one safetensors file (see `safetensors.ts`), so any safetensors reader can open them.
 *
 * Format `lpbench.checkpoint/v1`; every tensor is F32, row-major:
 *
 * | tensor name             | content                                                   |
 * | ----------------------- | --------------------------------------------------------- |
 * | `model.<param name>`    | the parameter's weights                                   |
 * | `optim.m.<param name>`  | AdamW first moment (PyTorch's `exp_avg`), same shape      |
 * | `optim.v.<param name>`  | AdamW second moment (PyTorch's `exp_avg_sq`), same shape  |
 * | `scaling.<state label>` | a delayed FP8 scaling state, `[1 + history length]`: the  |
 * |                         | scale, then TE's amax history (kernels/amax_history/)      |
 *
 * and `__metadata__` holds exactly these strings:
 *
 * | key      | value                                                      |
 * | -------- | ---------------------------------------------------------- |
 * | `format` | `lpbench.checkpoint/v1`                                    |
 * | `step`   | optimizer steps taken, in decimal (`"0"`, `"1200"`)        |
 * | `rng`    | the training RNG state, an opaque string                   |
 * | `config` | the run's configuration as JSON text                       |
 *
 * and, optionally, `progress`: what the run measured up to `step` (its curves so far), as JSON
 * text, so that a resumed run's record equals that of an uninterrupted one.
 *
 * Every parameter has both moments and every moment belongs to a parameter. `scaling.` tensors
 * appear only for runs with delayed FP8 scaling, one per operand copy that keeps a state
 * (`scaling.blocks.0.fc1.x.history`). From PyTorch:
 *
 * ```python
 * import json
 * from safetensors import safe_open
 * from safetensors.torch import load_file
 * state = load_file("ckpt.safetensors")
 * weights = {k.removeprefix("model."): t for k, t in state.items() if k.startswith("model.")}
 * exp_avg = {k.removeprefix("optim.m."): t for k, t in state.items() if k.startswith("optim.m.")}
 * with safe_open("ckpt.safetensors", framework="pt") as f:
 *     meta = f.metadata()
 * step, config = int(meta["step"]), json.loads(meta["config"])
 * ```
 *
 * @module
 */

import { readSafetensors, type Tensor, writeSafetensors } from "./safetensors.ts";

/** The `format` metadata value of checkpoints this module writes and reads. */
export const CHECKPOINT_FORMAT = "lpbench.checkpoint/v1";

/** A JSON value that survives `JSON.stringify` then `JSON.parse` unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | {
  [key: string]: JsonValue;
};

/** One model parameter: its shape and FP32 weights. */
export interface Parameter {
  /** Row-major shape; the product of its dimensions is `data.length`. */
  shape: readonly number[];
  /** The weights. */
  data: Float32Array;
}

/** Everything needed to resume training. */
export interface Checkpoint {
  /** Model parameters by name. */
  params: Map<string, Parameter>;
  /** AdamW first moments by parameter name, each as long as its parameter. */
  m: Map<string, Float32Array>;
  /** AdamW second moments by parameter name, each as long as its parameter. */
  v: Map<string, Float32Array>;
  /**
   * Delayed FP8 scaling states by label (scale, then amax history); absent or empty without
   * delayed scaling.
   */
  scaling?: Map<string, Float32Array>;
  /** Optimizer steps taken: an integer ≥ 0. */
  step: number;
  /** The training RNG state, opaque to this module. */
  rng: string;
  /** The run's configuration. */
  config: JsonValue;
  /** What the run measured up to `step` (optional; opaque to this module). */
  progress?: JsonValue;
}

const MODEL = "model.";
const SCALING = "scaling.";
const MOMENTS = [["m", "optim.m."], ["v", "optim.v."]] as const;
const METADATA_KEYS = ["config", "format", "rng", "step"];
const OPTIONAL_METADATA_KEYS = ["progress"];

const q = (name: string): string => JSON.stringify(name);

/**
 * Throws a TypeError naming the first place (`config.a[2]`) where `value` is not plain JSON.
 * `open` holds the arrays and objects being checked further up, to catch cycles.
 */
function checkJson(value: unknown, at: string, open = new Set<object>()): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`${at} is ${value}, which JSON cannot hold`);
    return;
  }
  const plain = typeof value === "object" &&
    (Array.isArray(value) || [Object.prototype, null].includes(Object.getPrototypeOf(value)));
  if (!plain) {
    const kind = value === undefined
      ? "undefined"
      : `a ${typeof value === "object" ? value.constructor.name : typeof value}`;
    throw new TypeError(`${at} is ${kind}, which JSON cannot hold`);
  }
  if (open.has(value)) throw new TypeError(`${at} refers back to itself, which JSON cannot hold`);
  open.add(value);
  if (Array.isArray(value)) value.forEach((v, i) => checkJson(v, `${at}[${i}]`, open));
  else for (const [k, v] of Object.entries(value)) checkJson(v, `${at}.${k}`, open);
  open.delete(value);
}

/** Checks that `c[which]` holds one Float32Array per parameter, of its length, and no more. */
function checkMoments(c: Checkpoint, which: "m" | "v"): void {
  const moments = c[which];
  if (!(moments instanceof Map)) throw new TypeError(`${which} must be a Map`);
  for (const name of moments.keys()) {
    if (!c.params.has(name)) {
      throw new RangeError(`${which} has an entry ${q(name)} that is not a parameter`);
    }
  }
  for (const [name, p] of c.params) {
    const moment = moments.get(name);
    const what = `${which}[${q(name)}]`;
    if (moment === undefined) {
      throw new RangeError(`${which} has no entry for parameter ${q(name)}`);
    }
    if (!(moment instanceof Float32Array)) throw new TypeError(`${what} must be a Float32Array`);
    if (moment.length !== p.data.length) {
      throw new RangeError(
        `${what} has ${moment.length} elements; parameter ${q(name)} has ${p.data.length}`,
      );
    }
  }
}

/**
 * Saves a checkpoint to `path` atomically (temporary file, then rename). Everything is checked
 * first: a missing or extra optimizer entry, a length or shape mismatch, a step that is not an
 * integer ≥ 0, or a config that is not plain JSON throws and leaves `path` untouched.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * const w = { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };
 * await saveCheckpoint(`${dir}/ckpt.safetensors`, {
 *   params: new Map([["w", w]]),
 *   m: new Map([["w", new Float32Array(4)]]),
 *   v: new Map([["w", new Float32Array(4)]]),
 *   step: 10,
 *   rng: "seed=1",
 *   config: { lr: 3e-3 },
 * });
 * assert.equal((await loadCheckpoint(`${dir}/ckpt.safetensors`)).step, 10);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  const { params, step, rng, config } = checkpoint;
  if (!(params instanceof Map)) throw new TypeError("params must be a Map");
  for (const [name, p] of params) {
    if (!(p?.data instanceof Float32Array)) {
      throw new TypeError(`params[${q(name)}] must be { shape, data: Float32Array }`);
    }
  }
  for (const [which] of MOMENTS) checkMoments(checkpoint, which);
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new RangeError(`step must be an integer ≥ 0, got ${step}`);
  }
  if (typeof rng !== "string") throw new TypeError(`rng must be a string, got ${typeof rng}`);
  checkJson(config, "config");
  if (checkpoint.progress !== undefined) checkJson(checkpoint.progress, "progress");
  const scaling = checkpoint.scaling ?? new Map<string, Float32Array>();
  if (!(scaling instanceof Map)) throw new TypeError("scaling must be a Map");
  for (const [label, words] of scaling) {
    if (!(words instanceof Float32Array)) {
      throw new TypeError(`scaling[${q(label)}] must be a Float32Array`);
    }
  }

  // Every name has a prefix, so none can be "__proto__".
  const tensors: Record<string, Tensor> = {};
  for (const [name, p] of params) {
    tensors[MODEL + name] = { dtype: "F32", shape: p.shape, data: p.data };
    for (const [which, prefix] of MOMENTS) {
      tensors[prefix + name] = { dtype: "F32", shape: p.shape, data: checkpoint[which].get(name)! };
    }
  }
  for (const [label, words] of scaling) {
    tensors[SCALING + label] = { dtype: "F32", shape: [words.length], data: words };
  }
  await writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    step: String(step),
    rng,
    config: JSON.stringify(config),
    ...(checkpoint.progress !== undefined ? { progress: JSON.stringify(checkpoint.progress) } : {}),
  });
}

/**
 * Loads and validates a checkpoint written by {@link saveCheckpoint} (or by anything that follows
 * the format in this module's documentation). Errors name the path and what is wrong: another
 * format, a missing or unexpected metadata key, a tensor that is not F32 or has an unknown name,
 * a parameter without both moments, a moment without a parameter, a moment of another shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/ckpt.safetensors`;
 * const bias = { shape: [3], data: new Float32Array([0.5, -1, 2]) };
 * await saveCheckpoint(path, {
 *   params: new Map([["bias", bias]]),
 *   m: new Map([["bias", new Float32Array([0.1, 0.2, 0.3])]]),
 *   v: new Map([["bias", new Float32Array([1, 2, 3])]]),
 *   step: 0,
 *   rng: "",
 *   config: { model: { d_model: 8 } },
 * });
 * const c = await loadCheckpoint(path);
 * assert.deepEqual(c.params.get("bias"), bias);
 * assert.deepEqual(c.config, { model: { d_model: 8 } });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new TypeError(
      `${path}: not an lpbench checkpoint: __metadata__.format is ` +
        `${JSON.stringify(metadata.format ?? null)}, expected "${CHECKPOINT_FORMAT}"`,
    );
  }
  for (const key of Object.keys(metadata)) {
    if (!METADATA_KEYS.includes(key) && !OPTIONAL_METADATA_KEYS.includes(key)) {
      throw new TypeError(`${path}: unexpected __metadata__ key ${JSON.stringify(key)}`);
    }
  }
  for (const key of METADATA_KEYS) {
    if (!(key in metadata)) throw new TypeError(`${path}: __metadata__ has no "${key}"`);
  }
  if (!/^(0|[1-9][0-9]*)$/.test(metadata.step) || !Number.isSafeInteger(Number(metadata.step))) {
    throw new SyntaxError(
      `${path}: __metadata__.step ${JSON.stringify(metadata.step)} is not an integer ≥ 0`,
    );
  }
  const json = (key: string): JsonValue => {
    try {
      return JSON.parse(metadata[key]);
    } catch (e) {
      throw new SyntaxError(`${path}: __metadata__.${key} is not JSON: ${(e as Error).message}`);
    }
  };
  const config = json("config");

  const f32 = new Map<string, Parameter>();
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== "F32") throw new TypeError(`${path}: tensor ${q(name)} is ${t.dtype}, not F32`);
    if (![MODEL, SCALING, ...MOMENTS.map(([, prefix]) => prefix)].some((p) => name.startsWith(p))) {
      throw new TypeError(
        `${path}: tensor ${q(name)} is neither model.<param>, optim.m.<param>, optim.v.<param> ` +
          `nor scaling.<state>`,
      );
    }
    f32.set(name, { shape: t.shape, data: t.data });
  }
  const c: Checkpoint = {
    params: new Map(),
    m: new Map(),
    v: new Map(),
    scaling: new Map(),
    step: Number(metadata.step),
    rng: metadata.rng,
    config,
    ...("progress" in metadata ? { progress: json("progress") } : {}),
  };
  for (const [name, t] of f32) {
    if (name.startsWith(MODEL)) c.params.set(name.slice(MODEL.length), t);
    if (name.startsWith(SCALING)) c.scaling!.set(name.slice(SCALING.length), t.data);
  }
  for (const [which, prefix] of MOMENTS) {
    for (const name of f32.keys()) {
      const param = name.slice(prefix.length);
      if (name.startsWith(prefix) && !c.params.has(param)) {
        throw new RangeError(`${path}: tensor ${q(name)} has no parameter ${q(MODEL + param)}`);
      }
    }
    for (const [param, p] of c.params) {
      const t = f32.get(prefix + param);
      if (t === undefined) {
        throw new RangeError(`${path}: parameter ${q(param)} has no tensor ${q(prefix + param)}`);
      }
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new RangeError(
          `${path}: tensor ${q(prefix + param)} has shape [${t.shape}], but parameter ${q(param)}` +
            ` has [${p.shape}]`,
        );
      }
      c[which].set(param, t.data);
    }
  }
  return c;
}
