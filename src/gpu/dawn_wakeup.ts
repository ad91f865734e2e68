/**
 * Keeps Deno's event loop turning while a Dawn promise is pending. Dawn's Node bindings learn
 * that GPU work finished by calling `wgpuInstanceProcessEvents` from a `setImmediate` callback
 * that re-schedules itself while any promise is pending. Under Deno that chain stalls: on an
 * H100, with 6 GPT-2-small steps of 249 ms of GPU time submitted, one of those callbacks ran
 * 5.3 s after it was scheduled, while no JavaScript and no `ProcessEvents` call (3 ms at most)
 * was running — the loop slept with the callback queued (bench/completion.ts, 2026-12-06;
 * reports/h200-train-matrix.md). An interval timer that fires every {@link DAWN_WAKEUP_MS} ms
 * while such a promise is pending wakes the loop, and the queued callback runs.
 *
 * The wrapped calls are the queue's `onSubmittedWorkDone`, buffers' `mapAsync` and the device's
 * `createComputePipelineAsync`. `LPBENCH_DAWN_WAKEUP_MS=0` turns the timer off (for measuring
 * what it changes); another value sets its period.
 *
 * @module
 */

/** The wake-up period (ms): `LPBENCH_DAWN_WAKEUP_MS`, default 1; 0 means none. */
export const DAWN_WAKEUP_MS: number = (() => {
  let text: string | undefined;
  try {
    text = Deno.env.get("LPBENCH_DAWN_WAKEUP_MS");
  } catch {
    text = undefined; // no --allow-env: the default
  }
  const ms = text === undefined ? 1 : Number(text);
  return Number.isFinite(ms) && ms >= 0 ? ms : 1;
})();

/**
 * How Dawn's polls are scheduled while a promise is pending: `immediate` (Dawn's own
 * `setImmediate` chain, as fast as the loop turns) or `timer` (`setImmediate` replaced by a
 * zero-delay `setTimeout` for that time, about one poll per millisecond):
 * `LPBENCH_DAWN_POLL`, default `immediate`.
 */
export const DAWN_POLL: "immediate" | "timer" = (() => {
  try {
    return Deno.env.get("LPBENCH_DAWN_POLL") === "timer" ? "timer" : "immediate";
  } catch {
    return "immediate";
  }
})();

let pending = 0;
let timer: ReturnType<typeof setInterval> | undefined;
type SetImmediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
let immediate: SetImmediate | undefined;

/**
 * `promise`, with the event loop woken every {@link DAWN_WAKEUP_MS} ms until it settles.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { whileAwake } from "./dawn_wakeup.ts";
 * assert.equal(await whileAwake(Promise.resolve(7)), 7);
 * ```
 */
export function whileAwake<T>(promise: Promise<T>): Promise<T> {
  if (DAWN_WAKEUP_MS === 0 && DAWN_POLL === "immediate") return promise;
  const g = globalThis as unknown as { setImmediate: SetImmediate };
  if (pending++ === 0) {
    if (DAWN_WAKEUP_MS > 0) timer = setInterval(() => {}, DAWN_WAKEUP_MS);
    if (DAWN_POLL === "timer") {
      immediate = g.setImmediate;
      g.setImmediate = (callback, ...args) => setTimeout(callback, 0, ...args);
    }
  }
  return promise.finally(() => {
    if (--pending > 0) return;
    clearInterval(timer);
    if (immediate) g.setImmediate = immediate;
    immediate = undefined;
  });
}

const WRAPPED = Symbol("lpbench.dawnWakeup");

/** Replaces `obj[name]`, a method returning a promise, by one that calls {@link whileAwake}. */
function wrap(obj: object, name: string): void {
  const o = obj as Record<string | symbol, unknown>;
  const original = o[name] as ((...args: unknown[]) => Promise<unknown>) | undefined;
  if (typeof original !== "function" || (original as { [WRAPPED]?: true })[WRAPPED]) return;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    return whileAwake(original.apply(this, args));
  };
  Object.defineProperty(wrapped, WRAPPED, { value: true });
  o[name] = wrapped;
}

/**
 * Wraps the promise-returning calls of a Dawn `device` (its queue's, its buffers' through their
 * prototype, its own) in {@link whileAwake}.
 *
 * @example
 * ```ts ignore
 * import { keepAwakeWhileWaiting } from "./dawn_wakeup.ts";
 * keepAwakeWhileWaiting(dawnDevice);
 * ```
 */
export function keepAwakeWhileWaiting(device: GPUDevice): void {
  if (DAWN_WAKEUP_MS === 0 && DAWN_POLL === "immediate") return;
  wrap(device.queue, "onSubmittedWorkDone");
  wrap(device, "createComputePipelineAsync");
  const probe = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ });
  wrap(Object.getPrototypeOf(probe), "mapAsync");
  probe.destroy();
}
