import assert from "node:assert/strict";
import { getGpu } from "../../src/gpu/device.ts";
import { CompletionPacer } from "../../src/gpu/pacer.ts";
import { busyPasses } from "./busy_shader.ts";

/** A submitter of busy-shader passes, each timestamped by `pacer` under a kind. */
async function busySubmitter(pacer: CompletionPacer) {
  const gpu = await getGpu();
  const busy = await busyPasses(gpu);
  const submit = (kind: string) => busy.submit(pacer.writes(kind), (e) => pacer.resolve(e));
  return { gpu, submit, destroy: busy.destroy };
}

Deno.test("a pacer times each submission under its kind and hands the times over once", async () => {
  const gpu = await getGpu();
  if (!gpu.features.has("timestamp-query")) {
    assert.throws(() => new CompletionPacer(gpu, { pace: true }), /lacks timestamp-query/);
    return;
  }
  const pacer = new CompletionPacer(gpu, { pace: false, capacity: 4 });
  const { submit, destroy } = await busySubmitter(pacer);
  for (const kind of ["train", "eval", "train"]) submit(kind);
  assert.equal(pacer.full, false);
  submit("train");
  assert.equal(pacer.full, true);
  assert.throws(() => pacer.writes("train"), /4 steps are pending/);
  await gpu.device.queue.onSubmittedWorkDone();
  await pacer.collect();
  assert.equal(pacer.full, false);
  const train = pacer.take("train");
  assert.equal(train.length, 3);
  for (const t of train) assert.ok(Number.isFinite(t) && t >= 0, `bad GPU time ${t}`);
  assert.equal(pacer.take("eval").length, 1);
  assert.deepEqual(pacer.take("train"), []);
  pacer.destroy();
  destroy();
});

Deno.test("a pacer expects no time for kinds it has not timed, then the learned time per submission", async () => {
  const gpu = await getGpu();
  if (!gpu.features.has("timestamp-query")) return;
  const pacer = new CompletionPacer(gpu, { pace: true, capacity: 8 });
  const { submit, destroy } = await busySubmitter(pacer);
  assert.equal(pacer.msUntilIdle(), 0);
  submit("train");
  assert.ok(Number.isNaN(pacer.msUntilIdle()), "an untimed kind makes the wait unknown");
  await pacer.settle(); // returns without sleeping on an unknown wait
  await gpu.device.queue.onSubmittedWorkDone();
  await pacer.collect();
  const [learned] = pacer.take("train");
  assert.equal(pacer.msUntilIdle(), 0);
  const before = performance.now();
  submit("train");
  submit("train");
  pacer.expect("train"); // a third, timed by another clock
  const expected = pacer.msUntilIdle();
  assert.ok(expected <= 3 * learned + 1e-9, `${expected} > 3 × ${learned}`);
  assert.ok(expected >= 3 * learned - (performance.now() - before) - 1e-9);
  submit("eval");
  assert.ok(Number.isNaN(pacer.msUntilIdle()));
  await gpu.device.queue.onSubmittedWorkDone();
  await pacer.collect();
  assert.equal(pacer.msUntilIdle(), 0);
  pacer.destroy();
  destroy();
});
