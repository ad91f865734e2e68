import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { aggregate } from "../../src/report/aggregate.ts";
import { suiteCharts } from "../../src/report/charts.ts";
import { makeRecord, suiteA } from "../runner/fixtures.ts";

async function svgs(records = suiteA()) {
  const [s] = aggregate(records);
  return Object.fromEntries((await suiteCharts(s)).map((c) => [c.file, c.svg]));
}

Deno.test("the same records give byte-identical SVG, whatever their order", async () => {
  const first = await svgs();
  const second = await svgs();
  const shuffled = await svgs(suiteA().reverse());
  assertEquals(Object.keys(first), ["loss.svg", "relative-loss.svg", "throughput.svg"]);
  for (const file of Object.keys(first)) {
    assertStrictEquals(second[file], first[file], `${file} differs between two renders`);
    assertStrictEquals(shuffled[file], first[file], `${file} depends on record order`);
  }
});

Deno.test("concurrent renders stay deterministic", async () => {
  const [a, b] = await Promise.all([svgs(), svgs()]);
  assertEquals(a, b);
});

Deno.test("the charts are standalone SVG naming every policy and the baseline", async () => {
  const c = await svgs();
  for (const svg of Object.values(c)) {
    assertOk(svg.startsWith("<svg ") && svg.endsWith("</svg>"), "an SVG document");
    for (const p of ["bf16", "nvfp4", "mxfp4", "fp8"]) assertOk(svg.includes(`>${p}<`), p);
    assertOk(!/\d{4}-\d\d-\d\dT/.test(svg), "no timestamps");
  }
  assertOk(c["loss.svg"].includes(">validation<") && c["loss.svg"].includes(">train<"));
  assertOk(c["relative-loss.svg"].includes("Δ validation loss vs bf16 (%)"));
  assertOk(c["throughput.svg"].includes(">tokens/s<"));
});

Deno.test("without baseline runs there is no relative chart; without eval it compares train", async () => {
  const noBase = await svgs([makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2 })]);
  assertEquals(Object.keys(noBase), ["loss.svg", "throughput.svg"]);
  const trainOnly = await svgs([
    makeRecord({ policy: "bf16", seed: 0, trainLoss: 2 }),
    makeRecord({ policy: "nvfp4", seed: 0, trainLoss: 2.1 }),
  ]);
  assertOk(trainOnly["relative-loss.svg"].includes("Δ train loss vs bf16 (%)"));
});

Deno.test("the loss chart shades the seeds' min–max band only where a policy has several seeds", async () => {
  const c = await svgs();
  assertOk(c["loss.svg"].includes("shaded: min–max over seeds of the validation loss"));
  const areas = (svg: string) => (svg.match(/mark-area/g) ?? []).length;
  assertOk(areas(c["loss.svg"]) > 0, "a band");
  const one = await svgs(suiteA().filter((r) => r.spec.seed === 0));
  assertOk(!one["loss.svg"].includes("shaded:"), "one seed per policy: no band named");
  assertStrictEquals(areas(one["loss.svg"]), 0);
});

Deno.test("the gradient-norm chart and the clipped share come from the recorded norms", async () => {
  const withNorms = suiteA().map((r) => ({
    ...r,
    result: {
      ...r.result,
      train: r.result.train.map((p, i) => ({ ...p, gradNorm: i % 2 === 0 ? 0.5 : 2 })),
    },
  }));
  const [s] = aggregate(withNorms);
  const charts = await suiteCharts(s);
  const norm = charts.find((c) => c.file === "grad-norm.svg");
  assertOk(norm, "a gradient-norm chart");
  assertOk(norm.svg.includes("dashed: the clipping threshold 1"));
  // Every other logged step has a norm of 2 > clip 1.
  const nvfp4 = s.policies.find((p) => p.policy === "nvfp4")!;
  const logged = withNorms.filter((r) => r.spec.policyName === "nvfp4")
    .flatMap((r) => r.result.train.map((_, i) => i % 2 === 1));
  assertStrictEquals(nvfp4.clipped, logged.filter(Boolean).length / logged.length);
  const [without] = aggregate(suiteA());
  assertOk(
    !(await suiteCharts(without)).some((c) => c.file === "grad-norm.svg"),
    "no norms: no chart",
  );
  assertStrictEquals(without.policies[0].clipped, null);
});

const areas = (svg: string) => (svg.match(/mark-area/g) ?? []).length;
const rules = (svg: string) => (svg.match(/mark-rule role-mark/g) ?? []).length;

Deno.test("the relative-loss chart shades the seeds' min–max band only where a policy has several seeds", async () => {
  const c = await svgs();
  assertOk(
    c["relative-loss.svg"].includes(
      "shaded: min–max over seeds of each run's loss vs the bf16 mean",
    ),
  );
  assertOk(areas(c["relative-loss.svg"]) > 0, "a band");
  const one = await svgs(suiteA().filter((r) => r.spec.seed === 0));
  assertOk(!one["relative-loss.svg"].includes("shaded:"), "one seed per policy: no band named");
  assertStrictEquals(areas(one["relative-loss.svg"]), 0);
});

/** suiteA with each training point's learning rate set by `lr(policy, step)`. */
const withLr = (lr: (policy: string, step: number) => number) =>
  suiteA().map((r) => ({
    ...r,
    result: {
      ...r.result,
      train: r.result.train.map((p) => ({ ...p, lr: lr(r.spec.policyName, p.step) })),
    },
  }));

Deno.test("the learning-rate chart draws one line for the policies that share a schedule", async () => {
  const shared = await svgs(withLr((_, step) => 3e-3 * Math.min(1, step / 20)));
  assertOk(shared["lr.svg"], "an lr chart");
  assertOk(shared["lr.svg"].includes(">all policies<"), "one line for every policy");
  assertOk(shared["lr.svg"].includes(">learning rate<"));
  const split = await svgs(withLr((policy) => (policy === "nvfp4" ? 1e-3 : 3e-3)));
  assertOk(split["lr.svg"].includes(">nvfp4<"), "nvfp4's own schedule");
  assertOk(split["lr.svg"].includes(">bf16, fp32, fp8, mxfp4<"), "the others share a line");
  assertOk(!(await svgs())["lr.svg"], "no recorded learning rates: no chart");
});

Deno.test("the throughput chart shows each policy's median tokens/s with whiskers over its seeds", async () => {
  const [s] = aggregate(suiteA());
  const chart = (await suiteCharts(s)).find((c) => c.file === "throughput.svg");
  assertOk(chart, "a throughput chart");
  for (const p of ["bf16", "nvfp4", "mxfp4", "fp8", "fp32"]) assertOk(chart.svg.includes(`>${p}<`));
  assertOk(chart.svg.includes("whiskers the slowest and fastest seed"));
  assertOk(rules(chart.svg) > 0, "whiskers");
  const one = await svgs(suiteA().filter((r) => r.spec.seed === 0));
  assertOk(!one["throughput.svg"].includes("whiskers"), "one seed per policy: no whiskers");
  assertStrictEquals(rules(one["throughput.svg"]), 0);
  const unmeasured = suiteA().map((r) => ({ ...r, result: { ...r.result, tokensPerSecond: NaN } }));
  assertOk(!(await svgs(unmeasured))["throughput.svg"], "no tokens/s recorded: no chart");
});
