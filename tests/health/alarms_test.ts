import { assertEquals } from "../assert.ts";
import { healthAlarms } from "../../src/health/alarms.ts";
import { DEFAULT_ALARMS, type HealthAlarm } from "../../src/health/types.ts";
import { healthPoint, SATURATED } from "./fixtures.ts";

const where = (a: HealthAlarm) =>
  `${a.layer} ${a.gemm} ${a.operand ?? "output"} ${a.measure} ${a.limit}`;

Deno.test("healthy NVFP4 and BF16 steps raise no alarm under the default thresholds", () => {
  assertEquals(healthAlarms(healthPoint(100, "nvfp4"), DEFAULT_ALARMS), []);
  assertEquals(healthAlarms(healthPoint(100, "bf16"), DEFAULT_ALARMS), []);
});

Deno.test("a saturated operand raises one alarm naming its step, layer, GEMM and operand", () => {
  assertEquals(healthAlarms(healthPoint(100, "nvfp4", [SATURATED]), DEFAULT_ALARMS), [{
    step: 100,
    layer: "blocks.1.fc1",
    gemm: "wgrad",
    operand: "a",
    measure: "saturation",
    value: 0.02,
    limit: "> 0.001",
  }]);
});

Deno.test("a value at its threshold does not alarm; just above it does", () => {
  const at = healthPoint(1, "nvfp4", [
    { layer: "lm_head", gemm: "fprop", change: { b: { underflow: 0.01, saturation: 0.001 } } },
    { layer: "lm_head", gemm: "dgrad", change: { gain: 1.1 } },
  ]);
  assertEquals(healthAlarms(at, DEFAULT_ALARMS), []);
  const above = healthPoint(1, "nvfp4", [
    { layer: "lm_head", gemm: "fprop", change: { b: { underflow: 0.0101 } } },
  ]);
  assertEquals(healthAlarms(above, DEFAULT_ALARMS).map(where), [
    "lm_head fprop b underflow > 0.01",
  ]);
});

Deno.test("GEMM relL2 alarms only where a limit is set", () => {
  const point = healthPoint(100, "nvfp4");
  assertEquals(healthAlarms(point, DEFAULT_ALARMS), []);
  const alarms = healthAlarms(point, { ...DEFAULT_ALARMS, relL2: 0.16 });
  // Only Wgrad (0.17) is above 0.16, in every layer.
  assertEquals(alarms.map(where), [
    "blocks.0.qkv wgrad output relL2 > 0.16",
    "blocks.0.fc1 wgrad output relL2 > 0.16",
    "blocks.1.fc1 wgrad output relL2 > 0.16",
    "lm_head wgrad output relL2 > 0.16",
  ]);
  assertEquals(alarms[0].value, 0.17);
});

Deno.test("a gain below or above its range alarms, and so does a NaN gain or relL2", () => {
  const point = healthPoint(7, "nvfp4", [
    { layer: "blocks.0.qkv", gemm: "wgrad", change: { gain: 0.5 } },
    { layer: "blocks.0.fc1", gemm: "fprop", change: { gain: 1.25 } },
    { layer: "lm_head", gemm: "dgrad", change: { gain: NaN, relL2: NaN } },
  ]);
  const alarms = healthAlarms(point, { ...DEFAULT_ALARMS, relL2: 0.3 });
  assertEquals(alarms.map(where), [
    "blocks.0.qkv wgrad output gain outside [0.9, 1.1]",
    "blocks.0.fc1 fprop output gain outside [0.9, 1.1]",
    "lm_head dgrad output gain outside [0.9, 1.1]",
    "lm_head dgrad output relL2 > 0.3",
  ]);
  assertEquals(alarms.map((a) => a.value), [0.5, 1.25, NaN, NaN]);
});

Deno.test("any non-finite operand or output value alarms with the limit > 0", () => {
  const point = healthPoint(3, "nvfp4", [
    { layer: "blocks.1.fc1", gemm: "dgrad", change: { a: { nonFinite: 2 }, nonFinite: 64 } },
  ]);
  const alarms = healthAlarms(point, DEFAULT_ALARMS);
  assertEquals(alarms.map(where), [
    "blocks.1.fc1 dgrad a nonFinite > 0",
    "blocks.1.fc1 dgrad output nonFinite > 0",
  ]);
  assertEquals(alarms.map((a) => a.value), [2, 64]);
});

Deno.test("alarms come in layer order, then Fprop, Dgrad, Wgrad, then operand a, b, the output", () => {
  // Planted in the reverse of the expected order.
  const point = healthPoint(9, "nvfp4", [
    { layer: "lm_head", gemm: "wgrad", change: { gain: 0.8, b: { saturation: 0.5 } } },
    { layer: "lm_head", gemm: "fprop", change: { a: { underflow: 0.2 } } },
    {
      layer: "blocks.0.qkv",
      gemm: "dgrad",
      change: { b: { nonFinite: 1 }, a: { saturation: 0.01, underflow: 0.05 } },
    },
  ]);
  assertEquals(healthAlarms(point, DEFAULT_ALARMS).map(where), [
    "blocks.0.qkv dgrad a saturation > 0.001",
    "blocks.0.qkv dgrad a underflow > 0.01",
    "blocks.0.qkv dgrad b nonFinite > 0",
    "lm_head fprop a underflow > 0.01",
    "lm_head wgrad b saturation > 0.001",
    "lm_head wgrad output gain outside [0.9, 1.1]",
  ]);
});
