import assert from "node:assert/strict";
import { fittingTilings, pickTiling, unfitReason } from "../../src/gpu/fit.ts";

const limits = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 };
const gpu = { limits };

Deno.test("unfitReason names the first limit a workgroup exceeds and accepts one at the limits", () => {
  assert.equal(unfitReason(gpu, { bytes: 16384, invocations: 256 }), undefined);
  assert.equal(
    unfitReason(gpu, { bytes: 16385, invocations: 512 }),
    "needs 16385 bytes of workgroup memory; the device allows 16384",
  );
  assert.equal(
    unfitReason(gpu, { bytes: 0, invocations: 257 }),
    "needs 257 invocations per workgroup; the device allows 256",
  );
  assert.match(unfitReason({ limits: {} }, { bytes: 0, invocations: 512 })!, /allows 256/);
});

interface Tile {
  readonly bm: number;
  readonly bn: number;
  readonly invocations: number;
}
const needs = (t: Tile) => ({ bytes: 0, invocations: t.invocations });
const large: Tile = { bm: 128, bn: 256, invocations: 512 };
const small: Tile = { bm: 64, bn: 64, invocations: 256 };
const tilings = [{ tile: large, minWorkgroups: 128 }, { tile: small, minWorkgroups: 0 }];

Deno.test("fittingTilings keeps the default tilings the device runs, in order", () => {
  const roomy = { limits: { ...limits, maxComputeInvocationsPerWorkgroup: 1024 } };
  assert.deepEqual(fittingTilings(roomy, tilings, needs, "test"), tilings);
  assert.deepEqual(fittingTilings(gpu, tilings, needs, "test"), [tilings[1]]);
  assert.throws(
    () => fittingTilings(gpu, [tilings[0]], needs, "test"),
    /test: the device runs none of the tilings/,
  );
});

Deno.test("fittingTilings takes a fixed tile alone with no minimum, or names why it does not fit", () => {
  assert.deepEqual(fittingTilings(gpu, tilings, needs, "test", small), [
    { tile: small, minWorkgroups: 0 },
  ]);
  assert.throws(
    () => fittingTilings(gpu, tilings, needs, "GEMM", large),
    (e) =>
      e instanceof RangeError && /^GEMM tile \{"bm":128.*needs 512 invocations/.test(e.message),
  );
});

Deno.test("pickTiling takes the first tiling whose workgroup count reaches its minimum, else the last", () => {
  // 2048×2048 in 128×256 tiles: 16·8 = 128 workgroups, exactly the minimum.
  assert.equal(pickTiling(tilings, 2048, 2048).tile, large);
  assert.equal(pickTiling(tilings, 2047, 2048).tile, large, "partial tiles count");
  assert.equal(pickTiling(tilings, 1920, 2048).tile, small);
  assert.equal(pickTiling([{ tile: large, minWorkgroups: 1e9 }], 64, 64).tile, large);
});
