/**
 * `deno run -A bench/train.ts`: training-step throughput of a reference GPT under each precision
 * policy — by default the GPT-2 small shape (12 layers as 12 attention + 12 MLP blocks, d_model 768,
 * 12 heads, d_ff 3072, GELU, seq 1024, vocab 50304) at batch 8 × 1024 tokens, the shape of the
 * PyTorch figures in PERFORMANCE.md. Tokens are uniform random ids (throughput does not depend on
 * the data). Each policy runs untimed warm-up steps, then timed steps; step time is wall clock
 * from the first timed submission to the GPU finishing the last, divided by the steps.
 *
 * `--pattern` trains another layer pattern instead (e.g. the hybrid `"M-M-M*-M-M-M*-M-"`, whose
 * Mamba-2 blocks take `--d-state`, `--ssm-head-dim`, `--expand`, `--n-groups`).
 *
 * Usage: deno run -A bench/train.ts [--policies fp32,bf16,fp8-current,mxfp4,nvfp4] [--steps 10]
 *   [--warmup 3] [--batch 8] [--layers 12] [--d-model 768] [--heads 12] [--seq 1024]
 *   [--vocab 50304] [--pattern P] [--mlp gelu] [--d-ff 4·d_model] [--d-state 64]
 *   [--ssm-head-dim 32] [--expand 2] [--n-groups 1] [--gpu deno|dawn|auto]
 *   [--matrix on|off|both] [--packed on|off|both] [--pace on|off|both] [--profile] [--health]
 *   [--out file.md]
 *
 * `--matrix` runs the GEMMs whose operands are exact in f16 on the matrix units (`on`, the default
 * where the device has subgroup matrices: Dawn on NVIDIA), on the SIMT GEMMs (`off`), or both, one
 * row each. `--packed` runs the NVFP4 policies' NVFP4 × NVFP4 GEMMs that the matrix units do not
 * take on packed codes (`on`, the default where the runtime has `dot4I8Packed`), on fake-quantized
 * f32 operands (`off`), or both. `--pace off` (or `both`) lets the model wait for results without
 * first sleeping through the GPU time it expects (`StepConfig.pace`, src/gpu/pacer.ts), which on
 * Dawn shows the stalls pacing avoids; on Deno's WebGPU pacing is off either way. The GEMMs column counts the GEMMs on each path (src/model/linear.ts);
 * a combination that gives the same paths as an earlier row is not run again. `--profile` also runs
 * one more step with every operation in its own timed pass (timestamp queries) and tabulates where
 * its GPU time goes, by kind of operation. `--health` builds the numeric-health probe
 * (src/model/health_probe.ts) and times two more steps with it: the GPU time of a probed step and the
 * probe's memory (GiB, included in the GPU GiB column) are added to the row.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getGpu } from "../src/gpu/device.ts";
import { parseGpuImplementation, useGpuImplementation } from "../src/gpu/implementation.ts";
import { environmentLine } from "./environment_line.ts";
import { DecoderModel } from "../src/model/decoder.ts";
import {
  type Activation,
  describeBlocks,
  describeMamba,
  type ModelConfig,
  validateModelConfig,
} from "../src/model/config.ts";
import { POLICIES } from "../src/recipe/preset_policies.ts";
import { describeGemmPaths } from "../src/model/plan.ts";
import { benchMain, publishTable } from "./main.ts";
import { randomBits, streamKey } from "../src/formats/rng.ts";
import { StepClock } from "../src/gpu/step_clock.ts";
import { median } from "../src/gpu/timing.ts";

const USAGE = "Usage: deno run -A bench/train.ts [--policies fp32,bf16,fp8-current,mxfp4,nvfp4] " +
  "[--steps 10] [--warmup 3] [--batch 8] [--layers 12] [--d-model 768] [--heads 12] " +
  "[--seq 1024] [--vocab 50304] [--pattern P] [--mlp gelu] [--d-ff 4·d_model] [--d-state 64] " +
  "[--ssm-head-dim 32] [--expand 2] [--n-groups 1] [--gpu deno|dawn|auto] " +
  "[--matrix on|off|both] [--packed on|off|both] [--pace on|off|both] [--profile] [--health] [--out file.md]";

/** Runs the benchmark with command-line arguments; prints and returns the markdown table. */
export async function runTrainBenchmark(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      policies: { type: "string", default: "fp32,bf16,fp8-current,mxfp4,nvfp4" },
      steps: { type: "string", default: "10" },
      warmup: { type: "string", default: "3" },
      batch: { type: "string", default: "8" },
      layers: { type: "string", default: "12" },
      "d-model": { type: "string", default: "768" },
      heads: { type: "string", default: "12" },
      seq: { type: "string", default: "1024" },
      vocab: { type: "string", default: "50304" },
      pattern: { type: "string" },
      mlp: { type: "string", default: "gelu" },
      "d-ff": { type: "string" },
      "d-state": { type: "string", default: "64" },
      "ssm-head-dim": { type: "string", default: "32" },
      expand: { type: "string", default: "2" },
      "n-groups": { type: "string", default: "1" },
      packed: { type: "string", default: "on" },
      matrix: { type: "string", default: "on" },
      pace: { type: "string", default: "on" },
      gpu: { type: "string" },
      profile: { type: "boolean", default: false },
      health: { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return "";
  }
  const int = (name: keyof typeof values) => {
    const v = Number(values[name]);
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`--${name} must be a positive integer, got ${values[name]}`);
    }
    return v;
  };
  const [steps, warmup, batch, layers] = [int("steps"), int("warmup"), int("batch"), int("layers")];
  const d = int("d-model");
  const cfg: ModelConfig = {
    pattern: values.pattern ?? "*-".repeat(layers),
    dModel: d,
    heads: int("heads"),
    dFf: values["d-ff"] === undefined ? 4 * d : int("d-ff"),
    seqLen: int("seq"),
    vocab: int("vocab"),
    mlp: values.mlp as Activation,
    mamba: {
      dState: int("d-state"),
      headDim: int("ssm-head-dim"),
      expand: int("expand"),
      nGroups: int("n-groups"),
    },
  };
  validateModelConfig(cfg);
  const policies = values.policies!.split(",");
  for (const p of policies) {
    if (!POLICIES[p]) throw new RangeError(`--policies: unknown policy ${JSON.stringify(p)}`);
  }
  const modes = (flag: "packed" | "matrix" | "pace") => {
    const m = { on: [true], off: [false], both: [true, false] }[values[flag]!];
    if (!m) throw new RangeError(`--${flag} must be on, off or both, got ${values[flag]}`);
    return m;
  };
  const [packedModes, matrixModes, paceModes] = [modes("packed"), modes("matrix"), modes("pace")];
  const runs = policies.flatMap((name) =>
    matrixModes.flatMap((matrixUnits) =>
      packedModes.flatMap((packedNvfp4) =>
        paceModes.map((pace) => ({ name, matrixUnits, packedNvfp4, pace }))
      )
    )
  );
  if (values.gpu !== undefined) useGpuImplementation(parseGpuImplementation(values.gpu));
  const gpu = await getGpu();
  if (values.profile && !gpu.features.has("timestamp-query")) {
    throw new RangeError(
      `--profile needs timestamp-query, which "${gpu.info.description}" ` +
        `(${gpu.implementation.name}) does not offer`,
    );
  }
  const seen = new Set<string>();
  const profiles: string[] = [];
  const tokens = batch * cfg.seqLen;
  const rows: string[][] = [];
  for (const { name, matrixUnits, packedNvfp4, pace } of runs) {
    const model = await DecoderModel.create(gpu, cfg, POLICIES[name], {
      batch,
      seed: 0,
      totalSteps: warmup + steps,
      clip: 1,
      adamw: { weightDecay: 0.1 },
      packedNvfp4,
      matrixUnits,
      // Off: waits as Dawn answers them, to show what pacing saves (src/gpu/pacer.ts).
      ...(pace ? {} : { pace: false }),
      ...(values.health ? { health: { draws: 4 } } : {}),
    });
    const gemm = describeGemmPaths(model.gemmPaths);
    const label = pace ? name : `${name}, waits unpaced`;
    if (seen.has(`${label}: ${gemm}`)) {
      model.destroy();
      continue;
    }
    seen.add(`${label}: ${gemm}`);
    const batchAt = (s: number) => {
      const key = streamKey(0, 0xbe7c, s);
      const inputs = Uint32Array.from({ length: tokens }, (_, i) => randomBits(key, i) % cfg.vocab);
      const targets = Uint32Array.from(
        { length: tokens },
        (_, i) => randomBits(key, i + tokens) % cfg.vocab,
      );
      return { inputs, targets };
    };
    for (let s = 1; s <= warmup; s++) await model.step(batchAt(s), s, 1e-4);
    await model.readMetrics();
    await model.stepTimes(); // the warm-up steps', not reported
    const t0 = performance.now();
    for (let s = warmup + 1; s <= warmup + steps; s++) await model.step(batchAt(s), s, 1e-4);
    const m = await model.readMetrics();
    const ms = (performance.now() - t0) / steps;
    const gpuMs = await model.stepTimes();
    if (values.profile) {
      const kinds = await model.profileStep(batchAt(warmup + steps + 1), warmup + steps + 1, 1e-4);
      profiles.push(profileTable(`${name} (${gemm})`, kinds, ms));
    }
    const probed: string[] = [];
    if (values.health) {
      const probeClock = gpu.features.has("timestamp-query") ? new StepClock(gpu, 2) : undefined;
      for (let s = warmup + steps + 2; s <= warmup + steps + 3; s++) {
        await model.stepWithHealth(batchAt(s), s, 1e-4, probeClock);
      }
      const probeMs = probeClock ? await probeClock.read() : [];
      probeClock?.destroy();
      probed.push(
        probeMs.length > 0 ? median(probeMs).toFixed(1) : "—",
        (model.healthBytes / 2 ** 30).toFixed(2),
      );
    }
    rows.push([
      label,
      gemm,
      ms.toFixed(1),
      gpuMs.length > 0 ? `${median(gpuMs).toFixed(1)} / ${Math.max(...gpuMs).toFixed(1)}` : "—",
      ((1000 * tokens) / ms).toFixed(0),
      String(model.dispatchesPerStep),
      (model.bytes / 2 ** 30).toFixed(2),
      m.loss.toFixed(3),
      ...probed,
    ]);
    console.error(`${name}: ${rows.at(-1)!.join(" | ")}`);
    model.destroy();
  }
  const header = [
    "policy",
    "GEMMs",
    "ms/step",
    "GPU ms/step median / max",
    "tokens/s",
    "dispatches/step",
    "GPU GiB",
    "loss at end",
    ...(values.health ? ["probed step GPU ms", "probe GiB"] : []),
  ];
  const text = [
    `## Training-step throughput on ${gpu.info.description || gpu.info.vendor}`,
    "",
    `Model: pattern \`${cfg.pattern}\` (${describeBlocks(cfg.pattern)}), d_model ${d}, ` +
    `${cfg.heads} heads, d_ff ${cfg.dFf}, ${cfg.mlp}, seq ${cfg.seqLen}, vocab ${cfg.vocab}` +
    `${describeMamba(cfg) ? `; ${describeMamba(cfg)}` : ""}; batch ${batch} × ${cfg.seqLen} = ` +
    `${tokens} tokens/step; AdamW; ${warmup} untimed steps, then ${steps} timed steps: ` +
    `ms/step and tokens/s by the wall clock until the GPU finished, GPU ms/step from timestamps ` +
    `around each step's compute pass (src/gpu/pacer.ts; on Dawn the model sleeps through the ` +
    `expected GPU time before it waits, except in rows marked "waits unpaced"). GEMMs: how many ` +
    `GEMMs run on each path — \`f32\`: ` +
    `fake-quantized operands (quantize → dequantize) on the f32 SIMT GEMM; \`packed\`: NVFP4 ` +
    `codes with dot4I8Packed; \`matrix\`: f16 operands on the matrix units with the tensor ` +
    `scales in the epilogue (src/model/linear.ts).`,
    "",
    `| ${header.join(" | ")} |`,
    `|---|---|${header.slice(2).map(() => "---:").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    ...(profiles.length > 0
      ? [
        "### Where a step's GPU time goes",
        "",
        "One more step per row with every operation in its own compute pass between timestamp " +
        "writes (so the sum exceeds the pipelined step a little), summed by kind of operation.",
        "",
        ...profiles,
      ]
      : []),
    environmentLine(gpu),
    "",
  ].join("\n");
  return await publishTable(text, values.out);
}

if (import.meta.main) await benchMain(runTrainBenchmark, USAGE);

/** The markdown table of one profiled step: GPU ms and share per kind of operation. */
function profileTable(
  title: string,
  kinds: { kind: string; ms: number; ops: number }[],
  stepMs: number,
): string {
  const total = kinds.reduce((t, k) => t + k.ms, 0);
  return [
    `**${title}**: ${total.toFixed(1)} ms of GPU time in separate passes (${
      stepMs.toFixed(1)
    } ms ` +
    `per pipelined step)`,
    "",
    "| operations | ms | share | ops |",
    "|---|---:|---:|---:|",
    ...kinds.map((k) =>
      `| ${k.kind} | ${k.ms.toFixed(2)} | ${(100 * k.ms / total).toFixed(1)} % | ${k.ops} |`
    ),
    "",
  ].join("\n");
}
