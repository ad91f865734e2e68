/**
 * `deno run -A bench/completion.ts`: how long the WebGPU implementation takes to tell JavaScript
 * that submitted training steps have finished, beside the GPU time of those steps. On the H100 and
 * H200, GPT-2 small steps on Dawn took 124 ms of GPU time but 200–1400 ms of wall clock, while the
 * host spent under 6 ms per step recording and submitting them (reports/h200-train-matrix.md): the
 * gap is in waiting, and this benchmark takes it apart.
 *
 * Each mode trains `--steps` steps of a reference GPT (GPT-2 small by default, random tokens) after
 * 3 untimed ones and reports per step: the wall clock, the GPU time from timestamps around the
 * step's compute pass (src/gpu/step_clock.ts), and their difference. Modes:
 * - `end`: every step submitted back to back, one `onSubmittedWorkDone()` after the last;
 * - `each`: `onSubmittedWorkDone()` awaited after every step;
 * - `each-timer`: as `each`, with a 1 ms `setInterval` running, so the event loop wakes every
 *   millisecond whatever else it waits for;
 * - `each-1ms` and `end-1ms`: as `each` and `end`, with every `setImmediate` callback delayed to a
 *   1 ms timer, so that Dawn polls for finished work about a thousand times a second instead of as
 *   fast as the event loop turns;
 * - `end-settle` and `each-settle`: as `end` and `each`, but before each wait a timer sleeps until
 *   the GPU should be done by the step's GPU time (measured on one untimed step first), so that
 *   Dawn's polls only start once the work is finished; the sleep counts in the wall clock;
 * - `end-sleep`: as `end`, then a 3 s sleep before the wait; a wait that still takes long after the
 *   sleep means the GPU had not run the work, not that its completion was reported late.
 *
 * Dawn's Node bindings find finished work by calling `wgpuInstanceProcessEvents` from a
 * `setImmediate` callback that re-schedules itself while a promise is pending. On Dawn, each mode
 * wraps `globalThis.setImmediate` (restored afterwards) to count those polls, their delay from
 * scheduling to running, and the time spent inside them.
 *
 * Usage: deno run -A bench/completion.ts [--gpu deno|dawn|auto] [--policy bf16] [--steps 6]
 *   [--batch 8] [--layers 12] [--seq 1024] [--vocab 50304] [--modes end,each,each-timer,each-1ms,end-1ms,end-sleep,end-settle,each-settle] [--out file.md]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { getGpu, type Gpu } from "../src/gpu/device.ts";
import { parseGpuImplementation, useGpuImplementation } from "../src/gpu/implementation.ts";
import { StepClock } from "../src/gpu/step_clock.ts";
import { median } from "../src/gpu/timing.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { DecoderModel } from "../src/model/decoder.ts";
import { describeGemmPaths } from "../src/model/plan.ts";
import { POLICIES } from "../src/recipe/preset_policies.ts";
import { randomBits, streamKey } from "../src/formats/rng.ts";
import { environmentLine } from "./environment_line.ts";
import { benchMain, publishTable } from "./main.ts";

const USAGE = "Usage: deno run -A bench/completion.ts [--gpu deno|dawn|auto] [--policy bf16] " +
  "[--steps 6] [--batch 8] [--layers 12] [--seq 1024] [--vocab 50304] [--modes end,each,each-timer,each-1ms,end-1ms,end-sleep,end-settle,each-settle] [--out file.md]";

const MODES = [
  "end",
  "each",
  "each-timer",
  "each-1ms",
  "end-1ms",
  "end-sleep",
  "end-settle",
  "each-settle",
] as const;
type Mode = typeof MODES[number];

/** What the wrapped `setImmediate` saw during one mode. */
interface Polls {
  /** Callbacks run. */
  count: number;
  /** ms from each `setImmediate` call to its callback. */
  delays: number[];
  /** ms spent inside each callback (Dawn's `ProcessEvents`). */
  inside: number[];
}

type SetImmediate = (callback: () => void) => unknown;

/**
 * Wraps `globalThis.setImmediate` to record `polls` until the returned function restores it; with
 * `delayMs`, each callback runs from a timer of that delay instead.
 */
function watchImmediates(polls: Polls, delayMs?: number): () => void {
  const g = globalThis as unknown as { setImmediate: SetImmediate };
  const original = g.setImmediate;
  const schedule: SetImmediate = delayMs === undefined
    ? original
    : (callback) => setTimeout(callback, delayMs);
  g.setImmediate = (callback) => {
    const scheduled = performance.now();
    return schedule(() => {
      const start = performance.now();
      polls.delays.push(start - scheduled);
      callback();
      polls.inside.push(performance.now() - start);
      polls.count++;
    });
  };
  return () => {
    g.setImmediate = original;
  };
}

/** Runs the benchmark with command-line arguments; prints and returns the markdown table. */
export async function runCompletionBenchmark(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      gpu: { type: "string" },
      policy: { type: "string", default: "bf16" },
      steps: { type: "string", default: "6" },
      batch: { type: "string", default: "8" },
      layers: { type: "string", default: "12" },
      seq: { type: "string", default: "1024" },
      vocab: { type: "string", default: "50304" },
      modes: { type: "string", default: MODES.join(",") },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return "";
  }
  const int = (name: "steps" | "batch" | "layers" | "seq" | "vocab") => {
    const v = Number(values[name]);
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`--${name} must be a positive integer, got ${values[name]}`);
    }
    return v;
  };
  const [steps, batch, layers] = [int("steps"), int("batch"), int("layers")];
  const policy = POLICIES[values.policy!];
  if (!policy) throw new RangeError(`--policy: unknown policy ${JSON.stringify(values.policy)}`);
  const modes = values.modes!.split(",") as Mode[];
  for (const m of modes) {
    if (!MODES.includes(m)) {
      throw new RangeError(`--modes: unknown mode ${JSON.stringify(m)} (${MODES.join(", ")})`);
    }
  }
  if (values.gpu !== undefined) useGpuImplementation(parseGpuImplementation(values.gpu));
  const gpu = await getGpu();
  if (!gpu.features.has("timestamp-query")) {
    throw new RangeError(
      `bench/completion needs timestamp-query, which "${gpu.info.description}" ` +
        `(${gpu.implementation.name}) does not offer`,
    );
  }
  const cfg: ModelConfig = {
    pattern: "*-".repeat(layers),
    dModel: 768,
    heads: 12,
    dFf: 3072,
    seqLen: int("seq"),
    vocab: int("vocab"),
    mlp: "gelu",
    mamba: { dState: 64, headDim: 32, expand: 2, nGroups: 1 },
  };
  const model = await DecoderModel.create(gpu, cfg, policy, {
    batch,
    seed: 0,
    totalSteps: 3 + steps * modes.length,
    clip: 1,
    adamw: { weightDecay: 0.1 },
  });
  const tokens = batch * cfg.seqLen;
  const batchAt = (s: number) => {
    const key = streamKey(0, 0xc0de, s);
    return {
      inputs: Uint32Array.from({ length: tokens }, (_, i) => randomBits(key, i) % cfg.vocab),
      targets: Uint32Array.from(
        { length: tokens },
        (_, i) => randomBits(key, i + tokens) % cfg.vocab,
      ),
    };
  };
  let step = 1;
  for (; step <= 3; step++) await model.step(batchAt(step), step, 1e-4);
  await model.readMetrics();
  // One more untimed step with a clock: the GPU time the settle modes sleep for.
  const probe = new StepClock(gpu, 1);
  await model.step(batchAt(step), step++, 1e-4, probe);
  const gpuMs = median(await probe.read());
  probe.destroy();
  const rows: string[][] = [];
  try {
    for (const mode of modes) {
      rows.push(
        await timeMode(gpu, model, mode, steps, () => batchAt(step), () => step++, gpuMs),
      );
      console.error(`${mode}: ${rows.at(-1)!.join(" | ")}`);
    }
  } finally {
    model.destroy();
  }
  const dawn = gpu.implementation.name === "dawn";
  const header = [
    "mode",
    "wall ms/step",
    "GPU ms/step",
    "wall − GPU",
    "host ms/step",
    "last wait ms",
    ...(dawn ? ["polls/step", "poll delay median / max ms", "inside polls ms/step (max)"] : []),
  ];
  const text = [
    `## Completion latency on ${gpu.info.description || gpu.info.vendor}`,
    "",
    `${values.policy} steps of a GPT (${layers} attention + ${layers} MLP blocks, d_model 768, ` +
    `seq ${cfg.seqLen}, vocab ${cfg.vocab}, batch ${batch}; GEMMs ${
      describeGemmPaths(model.gemmPaths)
    }), ` +
    `${steps} timed steps per mode after 3 untimed ones. Wall ms/step: from the first timed ` +
    `step's submission to its wait's end (the sleep of end-sleep excluded); GPU ms/step: median ` +
    `of the timestamps around each step's compute pass; host ms/step: recording and submitting; last wait: the final \`onSubmittedWorkDone()\`.` +
    (dawn
      ? " Polls: Dawn's setImmediate callbacks (each one wgpuInstanceProcessEvents) during the mode."
      : ""),
    "",
    `| ${header.join(" | ")} |`,
    `|---|${header.slice(1).map(() => "---:").join("|")}|`,
    ...rows.map((r) => `| ${dawn ? r.join(" | ") : r.slice(0, 6).join(" | ")} |`),
    "",
    environmentLine(gpu),
    "",
  ].join("\n");
  return await publishTable(text, values.out);
}

/** Sleeps `ms` milliseconds; not at all (no timer) for ms ≤ 0, as a late timer can stall on Dawn. */
async function settleFor(ms: number): Promise<void> {
  if (ms > 0) await sleep(ms);
}

/** Times `steps` steps in `mode`; returns the table row. */
async function timeMode(
  gpu: Gpu,
  model: DecoderModel,
  mode: Mode,
  steps: number,
  nextBatch: () => { inputs: Uint32Array; targets: Uint32Array },
  advance: () => number,
  settleMs: number,
): Promise<string[]> {
  const queue = gpu.device.queue;
  const clock = new StepClock(gpu, steps);
  const polls: Polls = { count: 0, delays: [], inside: [] };
  const restore = watchImmediates(polls, mode.endsWith("-1ms") ? 1 : undefined);
  const timer = mode === "each-timer" ? setInterval(() => {}, 1) : undefined;
  let host = 0;
  let slept = 0;
  let lastWait = 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < steps; i++) {
      const batch = nextBatch();
      const h = performance.now();
      await model.step(batch, advance(), 1e-4, clock);
      host += performance.now() - h;
      if (mode === "each-settle") await settleFor(settleMs - (performance.now() - h));
      if (mode.startsWith("each")) await queue.onSubmittedWorkDone();
    }
    if (mode === "end-settle") {
      await sleep(Math.max(0, steps * settleMs - (performance.now() - t0)));
    }
    if (mode === "end-sleep") {
      const s = performance.now();
      await sleep(3000);
      slept = performance.now() - s;
    }
    const w = performance.now();
    await queue.onSubmittedWorkDone();
    lastWait = performance.now() - w;
  } finally {
    clearInterval(timer);
    restore();
  }
  const wall = (performance.now() - t0 - slept) / steps;
  const gpuMs = median(await clock.read());
  clock.destroy();
  const f = (x: number) => x.toFixed(1);
  const inside = polls.inside.reduce((a, b) => a + b, 0);
  return [
    mode,
    f(wall),
    f(gpuMs),
    f(wall - gpuMs),
    f(host / steps),
    f(lastWait),
    String(Math.round(polls.count / steps)),
    polls.count > 0 ? `${median(polls.delays).toFixed(3)} / ${f(Math.max(...polls.delays))}` : "—",
    polls.count > 0 ? `${f(inside / steps)} (${f(Math.max(...polls.inside))})` : "—",
  ];
}

if (import.meta.main) await benchMain(runCompletionBenchmark, USAGE);
