/**
 * Which adapter of a multi-GPU host a process binds to (`--adapter <index or name>`), and the
 * process-wide choice `getGpu()` uses, set once by the CLI through {@link useAdapter}.
 *
 * What each implementation can do: Dawn (npm:webgpu) takes an `adapter=<name>` flag in `create()`
 * and picks the first adapter whose name contains it (a name that matches none makes
 * `requestAdapter` reject, listing the adapters: that is how an index is turned into a name).
 * Deno's built-in WebGPU cannot choose: its `requestAdapter` reads only `powerPreference` and
 * `forceFallbackAdapter`, so `--adapter` with `--gpu deno` is refused with that reason.
 *
 * @module
 */

/** An adapter by its position among the implementation's adapters, or by (part of) its name. */
export type AdapterSelector = { readonly index: number } | { readonly name: string };

/**
 * Parses `--adapter`'s value: a non-negative integer is an index, anything else a name.
 *
 * @throws {RangeError} naming the value when it is empty
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAdapter } from "./adapter_choice.ts";
 * assert.deepEqual(parseAdapter("1"), { index: 1 });
 * assert.deepEqual(parseAdapter("NVIDIA H100"), { name: "NVIDIA H100" });
 * assert.throws(() => parseAdapter(" "), /"\s" is not an adapter index or name/);
 * ```
 */
export function parseAdapter(value: string): AdapterSelector {
  if (/^\d+$/.test(value)) return { index: Number(value) };
  if (value.trim() === "") {
    throw new RangeError(`${JSON.stringify(value)} is not an adapter index or name`);
  }
  return { name: value };
}

/**
 * `--adapter`'s value as the user wrote it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adapterText } from "./adapter_choice.ts";
 * assert.equal(adapterText({ index: 2 }), "2");
 * ```
 */
export function adapterText(s: AdapterSelector): string {
  return "index" in s ? String(s.index) : s.name;
}

let chosen: AdapterSelector | undefined;

/**
 * Sets (or, with undefined, clears) the adapter `getGpu()` asks its implementation for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chosenAdapter, useAdapter } from "./adapter_choice.ts";
 * useAdapter({ name: "llvmpipe" });
 * assert.deepEqual(chosenAdapter(), { name: "llvmpipe" });
 * useAdapter(undefined);
 * ```
 */
export function useAdapter(selector: AdapterSelector | undefined): void {
  chosen = selector;
}

/**
 * The adapter set by {@link useAdapter}, if any.
 *
 * @example
 * ```ts
 * import { chosenAdapter } from "./adapter_choice.ts";
 * console.log(chosenAdapter() ?? "the implementation's default adapter");
 * ```
 */
export function chosenAdapter(): AdapterSelector | undefined {
  return chosen;
}
