import { assertOk, assertRejects, assertStrictEquals } from "../assert.ts";
import { renderReport } from "../../src/report/markdown.ts";
import { ENV, makeRecord, suiteA } from "../runner/fixtures.ts";
import { POLICIES } from "../../src/recipe/preset_policies.ts";

const render = async (records = suiteA()) =>
  (await renderReport("suite-a", records, { chartDir: "suite-a" })).markdown;

/** The cells of the markdown table row that starts with `first`. */
function row(md: string, first: string): string[] {
  const line = md.split("\n").find((l) => l.startsWith(`| ${first} `));
  assertOk(line, `no table row for ${first}`);
  return line.split(" | ").map((c) => c.replace(/^\|\s*|\s*\|$/g, "").trim());
}

Deno.test("the policy table has every column and one row per policy with its statistics", async () => {
  const md = await render();
  assertOk(md.startsWith("# suite-a\n"));
  const header = row(md, "policy");
  for (
    const col of [
      "final val loss (n)",
      "Δ vs bf16 [95 % CI]",
      "p (Holm)",
      "seeds for 80 % power",
      "top-1 acc",
      "tokens/s",
      "ms/step of log windows p50/p99",
      "dispatches/step",
      "GEMMs",
      "GEMM FLOPs",
      "bits/weight",
      "GPU memory",
      "diverged",
    ]
  ) assertOk(header.includes(col), `column ${col}`);
  const cells = (p: string) => {
    const r = row(md, p);
    return (col: string) => r[header.indexOf(col)];
  };
  const bf16 = cells("bf16 (baseline)");
  assertStrictEquals(bf16("final val loss (n)"), "2.1100 ± 0.0100 (3)");
  assertStrictEquals(bf16("Δ vs bf16 [95 % CI]"), "—");
  assertStrictEquals(bf16("tokens/s"), "10,000");
  assertStrictEquals(bf16("bits/weight"), "16");
  assertStrictEquals(bf16("GPU memory"), "64.0 MiB");
  const nvfp4 = cells("nvfp4");
  assertStrictEquals(nvfp4("final val loss (n)"), "2.1633 ± 0.0153 (3)");
  // scipy: ttest_ind([2.15, 2.18, 2.16], [2.10, 2.12, 2.11], equal_var=False) gives p 0.010555
  // and the interval (1.0486 %, 4.0067 %) of the baseline mean; Holm over three tests: ×3.
  assertStrictEquals(nvfp4("Δ vs bf16 [95 % CI]"), "+2.53 % [+1.05, +4.01]");
  assertStrictEquals(nvfp4("p (Holm)"), "0.011 (0.032)");
  assertStrictEquals(nvfp4("seeds for 80 % power"), "2");
  assertStrictEquals(nvfp4("top-1 acc"), "40.0 %");
  assertStrictEquals(nvfp4("ms/step of log windows p50/p99"), "11.0 / 25.0");
  assertStrictEquals(nvfp4("bits/weight"), "7.38"); // BF16 first/last blocks and head counted
  assertStrictEquals(nvfp4("diverged"), "0/3");
  assertStrictEquals(cells("fp8")("p (Holm)"), "n/a");
  assertStrictEquals(cells("fp8")("seeds for 80 % power"), "—");
  assertStrictEquals(cells("fp8")("final val loss (n)"), "2.1100 (1)");
  assertStrictEquals(cells("mxfp4")("diverged"), "1/3 (step 70)");
  assertStrictEquals(cells("fp32")("final val loss (n)"), "2.0850 ± 0.0071 (2) †");
  assertStrictEquals(cells("fp32")("Δ vs bf16 [95 % CI]"), "−1.18 % [−2.36, −0.01]");
  assertOk(md.includes("† Final train loss instead (runs without validation points): `fp32`."));
});

Deno.test("charts, environment, reproduce commands, caveats and record ids are present", async () => {
  const md = await render();
  assertOk(md.includes("![Loss curves of suite-a (mean over seeds)](suite-a/loss.svg)"));
  assertOk(md.includes("](suite-a/relative-loss.svg)"));
  const text = md.replace(/\s+/g, " ");
  assertOk(text.includes("The runs finished at 2026-11-22 18:00 (UTC) and took 2.4 min in all."));
  assertOk(md.includes("## Environment"));
  assertStrictEquals(row(md, "Deno")[1], "2.9.6");
  assertStrictEquals(row(md, "WebGPU")[1], "Deno 2.9.6 built-in (wgpu)");
  assertStrictEquals(row(md, "Adapter")[1], "NVIDIA H100 80GB HBM3");
  assertStrictEquals(row(md, "Adapter ids")[1], "vendor 4318, architecture —, device 9008");
  assertStrictEquals(row(md, "Features")[1], "timestamp-query, shader-f16");
  assertStrictEquals(row(md, "maxStorageBufferBindingSize")[1], "2147483644");
  assertStrictEquals(row(md, "Git commit")[1], `${ENV.git!.commit} (clean tree)`);
  assertOk(
    md.includes(
      "```sh\ndeno task bench recipes/suite-a.yaml --policy bf16,fp32,fp8,mxfp4,nvfp4 --seeds 0,1,2 " +
        "--steps 100\ndeno task verify reports/suite-a.md\n```",
    ),
  );
  assertOk(text.includes("Formats are emulated: exact values, not native FP8/FP4 arithmetic"));
  assertOk(text.includes("12 of 12 records predate GEMM-path recording"));
  assertOk(text.includes("not of native low-precision units"));
  assertOk(md.includes("**Hardware**: NVIDIA H100 80GB HBM3."));
  assertOk(!md.includes("software adapter"), "no software-adapter caveat on an H100");
  const details = md.slice(md.indexOf("<details>"), md.indexOf("</details>"));
  for (const r of suiteA()) assertOk(details.includes(`(runs/${r.id}.json)`), r.id);
});

Deno.test("records that disagree on the environment are flagged; software adapters warned", async () => {
  const llvmpipe = {
    ...ENV,
    adapter: {
      ...ENV.adapter,
      vendor: "65541",
      device: "0",
      description: "llvmpipe (LLVM 15.0.6)",
    },
    git: { commit: ENV.git!.commit, dirty: true },
  };
  const md = await render([
    ...suiteA(),
    makeRecord({ policy: "fp8", seed: 1, evalLoss: 2.1, env: llvmpipe }),
  ]);
  const adapter = row(md, "Adapter")[1];
  assertStrictEquals(
    adapter,
    "**records disagree:** NVIDIA H100 80GB HBM3 (12 runs); llvmpipe (LLVM 15.0.6) (software) (1 run)",
  );
  assertOk(md.includes("**The records disagree on the environment** (Adapter, Adapter ids, Git"));
  assertOk(md.includes("**1 of 13 runs used a software adapter**: their timings"));
  assertOk(md.includes("**1 of 13 runs came from a git tree with uncommitted changes**"));
});

Deno.test("a missing baseline and superseded records are said in the caveats", async () => {
  const md = await render([
    makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2.2, finishedAt: "2026-11-22T10:00:00Z" }),
    makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2.3, finishedAt: "2026-11-21T10:00:00Z" }),
  ]);
  assertOk(md.includes("**The baseline `bf16` has no runs**"));
  assertOk(
    md.replace(/\s+/g, " ").includes(
      "1 precision policy without runs of the baseline `bf16` yet (so no differences from it), on",
    ),
  );
  assertOk(md.replace(/\s+/g, " ").includes("comparing 1 policy with one baseline"));
  assertOk(md.includes("**1 older record of this suite is left out**: it comes"));
  assertStrictEquals(row(md, "nvfp4")[1], "2.2000 (1)");
  assertOk(!md.includes("relative-loss.svg"));
});

Deno.test("a policy whose every run diverged shows it instead of a loss", async () => {
  const md = await render([
    ...suiteA(),
    makeRecord({ policy: "fp4-naive", seed: 0, evalLoss: 3, divergedAt: 30 }),
    makeRecord({ policy: "fp4-naive", seed: 1, evalLoss: 3, divergedAt: 40 }),
  ]);
  const r = row(md, "fp4-naive");
  assertStrictEquals(r[1], "diverged");
  assertStrictEquals(r[2], "—");
  assertStrictEquals(r[3], "n/a");
  assertStrictEquals(r.at(-1), "2/2 (step 30, 40)");
});

Deno.test("the report is laid out as deno fmt lays out markdown", async () => {
  // Layer selectors' globs (`blocks.*.qkv`) must not read as emphasis in the policies table.
  const selected = makeRecord({ policy: "nvfp4-selected", seed: 0, evalLoss: 2.3 });
  const bf16 = POLICIES.bf16.linear;
  const layers = [{ match: "blocks.*.qkv", policy: bf16 }, { match: "blocks.*.fc2", policy: bf16 }];
  const md = await render([
    ...suiteA(),
    makeRecord({ policy: "nvfp4-with-a-rather-long-policy-name", seed: 0, evalLoss: 2.2 }),
    { ...selected, spec: { ...selected.spec, policy: { ...selected.spec.policy, layers } } },
  ]);
  const fmt = new Deno.Command(Deno.execPath(), {
    args: [
      "fmt",
      "--config",
      new URL("../../deno.json", import.meta.url).pathname,
      "--ext=md",
      "-",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = fmt.stdin.getWriter();
  await writer.write(new TextEncoder().encode(md));
  await writer.close();
  const out = await fmt.output();
  assertOk(out.success, new TextDecoder().decode(out.stderr));
  assertStrictEquals(new TextDecoder().decode(out.stdout), md);
});

Deno.test("renderReport names a suite without records", async () => {
  await assertRejects(renderReport("nope", suiteA()), /no run records for suite "nope"/);
});

Deno.test("a report of runs on Dawn names it in the environment and in the bench command", async () => {
  const implementation = {
    name: "dawn" as const,
    version: "0.6.2",
    toggles: ["backend=vulkan", "enable-dawn-features=allow_unsafe_apis"],
    featureLevel: "core",
  };
  const dawn = suiteA().map((r) => ({ ...r, env: { ...r.env, implementation } }));
  const md = await render(dawn);
  assertStrictEquals(
    row(md, "WebGPU")[1],
    "Dawn (npm:webgpu 0.6.2), toggles backend=vulkan enable-dawn-features=allow_unsafe_apis, " +
      "core feature level",
  );
  assertOk(md.includes("--steps 100 --gpu dawn\ndeno task verify reports/suite-a.md\n"));
  const mixed = await render([...dawn.slice(1), suiteA()[0]]);
  assertOk(row(mixed, "WebGPU")[1].startsWith("**records disagree:** Dawn (npm:webgpu 0.6.2)"));
  assertOk(!mixed.includes("--gpu dawn"), "no --gpu flag for records of both implementations");
});

Deno.test("the step-time column says which clock its percentiles come from", async () => {
  const gpu = suiteA().map((r) => ({
    ...r,
    result: { ...r.result, stepMs: { ...r.result.stepMs, clock: "gpu" as const } },
  }));
  assertOk(row(await render(gpu), "policy").includes("GPU ms/step p50/p99"));
  const mixed = gpu.map((r, i) =>
    i === 0
      ? { ...r, result: { ...r.result, stepMs: { p50: 3, p99: 4, clock: "window" as const } } }
      : r
  );
  const md = await render(mixed);
  assertOk(row(md, "policy").includes("step ms p50/p99 (gpu: per step, window: log windows)"));
  assertOk(row(md, "nvfp4").some((c) => c.endsWith(" gpu")));
  assertOk(row(md, "bf16 (baseline)").some((c) => c.endsWith(" mixed")));
});

Deno.test("caveats describe the GEMM paths the records used and the measured throughput order", async () => {
  const paths = (policy: string) =>
    policy === "nvfp4"
      ? [[{
        layer: "l",
        fprop: "packed" as const,
        dgrad: "packed" as const,
        wgrad: "f32" as const,
      }]]
      : [[{ layer: "l", fprop: "f32" as const, dgrad: "f32" as const, wgrad: "f32" as const }]];
  const records = suiteA().map((r) => ({
    ...r,
    result: {
      ...r.result,
      gemms: paths(r.spec.policyName),
      tokensPerSecond: r.spec.policyName === "nvfp4" ? 20000 : r.result.tokensPerSecond,
    },
  }));
  const md = await render(records);
  const text = md.slice(md.indexOf("## Caveats")).replace(/\s+/g, " ");
  assertOk(text.includes("`packed`: NVFP4 × NVFP4 GEMMs on the 4-bit codes"));
  assertOk(text.includes("`f32`: operands in f32"));
  assertOk(!text.includes("`matrix`:"), "no matrix path was used");
  assertOk(!text.includes("predate GEMM-path recording"));
  assertOk(text.includes("Here nvfp4 ran faster and"), "nvfp4 measured faster than bf16");
  assertOk(!text.includes("slower than BF16"), "no fixed claim that low precision is slower");
});

Deno.test("the policy table gives each policy's share of GEMM FLOPs by format and says what it counts", async () => {
  const md = await render();
  const header = row(md, "policy");
  const flops = (p: string) => row(md, p)[header.indexOf("GEMM FLOPs")];
  // Eight blocks of 65,536 (attention) and 131,072 (MLP) weights and an LM head of 32,768: FLOPs
  // in proportion. nvfp4 keeps blocks 0 and 7 and the head in BF16, 229,376 of 819,200 weights;
  // fp8 and mxfp4 keep only the head in BF16, 4 %.
  assertStrictEquals(flops("bf16 (baseline)"), "bf16 100 %");
  assertStrictEquals(flops("fp32"), "fp32 100 %");
  assertStrictEquals(flops("nvfp4"), "nvfp4 72 %, bf16 28 %");
  assertStrictEquals(flops("fp8"), "fp8 96 %, bf16 4 %");
  assertStrictEquals(flops("mxfp4"), "mxfp4 96 %, bf16 4 %");
  const notes = md.replaceAll("\n", " ");
  assertOk(notes.includes("GEMM FLOPs: the share of the training steps' GEMM FLOPs"));
  assertOk(notes.includes("attention's score and value products, the Mamba scan and evaluation"));
});

Deno.test("the learning-rate and throughput charts are linked with the others", async () => {
  const records = suiteA().map((r) => ({
    ...r,
    result: { ...r.result, train: r.result.train.map((p) => ({ ...p, lr: 1e-3 })) },
  }));
  const md = await render(records);
  assertOk(md.includes("![Learning rate over training](suite-a/lr.svg)"));
  assertOk(md.includes("](suite-a/throughput.svg)"));
});

Deno.test("the policy table shows each policy's compute precision where a policy computes in BF16", async () => {
  assertOk(!row(await render(), "policy").includes("compute"), "no compute column without bf16");
  const records = suiteA().map((r) =>
    r.spec.policyName === "nvfp4"
      ? { ...r, spec: { ...r.spec, policy: { ...r.spec.policy, compute: "bf16" as const } } }
      : r
  );
  const md = await render(records);
  const header = row(md, "policy");
  const compute = (p: string) => row(md, p)[header.indexOf("compute")];
  assertStrictEquals(compute("nvfp4"), "bf16");
  assertStrictEquals(compute("bf16 (baseline)"), "fp32");
  assertOk(md.replaceAll("\n", " ").includes("Compute: the precision tensors flow between ops in"));
});
