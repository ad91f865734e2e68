import { assertEquals, assertOk } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";
import { makeRecord } from "../runner/fixtures.ts";
import { healthAlarms } from "../../src/health/alarms.ts";
import { DEFAULT_ALARMS, type HealthPoint } from "../../src/health/types.ts";

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    cwd: new URL("../..", import.meta.url),
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** An nvfp4 record whose fc1 Wgrad saturates 2 % of its dY at step 100. */
function record() {
  const op = (source: "x" | "w" | "dy", relL2: number, saturation = 0) => ({
    source,
    format: "nvfp4",
    elements: 4096,
    relL2,
    saturation,
    underflow: 0.004,
    nonFinite: 0,
  });
  const point: HealthPoint = {
    step: 100,
    gradNonFinite: {},
    layers: ["blocks.0.fc1", "lm_head"].map((layer) => ({
      layer,
      gemms: [{
        gemm: "wgrad",
        path: "f32",
        a: op("dy", 0.12, layer === "blocks.0.fc1" ? 0.02 : 0),
        b: op("x", 0.11),
        relL2: layer === "lm_head" ? 0.21 : 0.17,
        gain: 0.97,
        nonFinite: 0,
      }],
    })),
  };
  const r = makeRecord({ policy: "nvfp4", seed: 0, evalLoss: 2 });
  const health = {
    config: { every: 100, draws: 4, alarms: DEFAULT_ALARMS },
    points: [point],
    alarms: healthAlarms(point, DEFAULT_ALARMS),
    stoppedAt: null,
  };
  return { ...r, result: { ...r.result, health } };
}

Deno.test("deno task health prints a record's alarms and worst GEMMs and operands", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/r.json`, JSON.stringify(record()));
    const r = await cli("health", `${dir}/r.json`, "--top", "1");
    assertEquals(r.code, 0, r.stderr);
    assertOk(
      /alarms \(1\):\n.*\n.*blocks\.0\.fc1\s+wgrad\s+a\s+saturation\s+0\.02000/.test(r.stdout),
      r.stdout,
    );
    // The largest GEMM relL2 is the LM head's.
    assertOk(/relL2 vs FP32:\n.*\n.*lm_head\s+wgrad\s+f32\s+0\.2100/.test(r.stdout), r.stdout);
  });
});

Deno.test("deno task health refuses a missing file and a bad --top with exit 2", async () => {
  const missing = await cli("health", "nowhere/r.json");
  assertEquals(missing.code, 2);
  assertOk(
    /no such record/.test(missing.stderr) && !/at file:/.test(missing.stderr),
    missing.stderr,
  );
  const top = await cli("health", "reports/quick.md", "--top", "0");
  assertEquals(top.code, 2);
  assertOk(/--top must be a positive integer, got 0/.test(top.stderr), top.stderr);
});
