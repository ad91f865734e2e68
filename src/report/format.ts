/**
 * Number and text formatting for reports: fixed digits per kind of number, locale-independent
 * grouping, binary byte units, table-cell escaping and tables, and paragraph wrapping at the formatter's
 * line width (so `deno fmt` leaves a written report unchanged).
 *
 * @module
 */

import { markdownTable } from "markdown-table";

const GROUPED = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/**
 * A number with `digits` decimals, or `—` when missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixed } from "./format.ts";
 * assert.equal(fixed(2.16333, 4), "2.1633");
 * assert.equal(fixed(null, 4), "—");
 * ```
 */
export function fixed(x: number | null, digits: number): string {
  return x === null || !Number.isFinite(x) ? "—" : x.toFixed(digits);
}

/**
 * A signed percentage with two decimals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signedPercent } from "./format.ts";
 * assert.equal(signedPercent(2.527), "+2.53 %");
 * assert.equal(signedPercent(-0.1), "−0.10 %");
 * ```
 */
export function signedPercent(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return "—";
  const s = Math.abs(x).toFixed(2);
  return `${x < 0 && s !== "0.00" ? "−" : "+"}${s} %`;
}

/**
 * A p-value: three decimals from 0.001 up, one-digit mantissa exponent form below.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pValue } from "./format.ts";
 * assert.equal(pValue(0.0106), "0.011");
 * assert.equal(pValue(0.00036713), "3.7e-4");
 * assert.equal(pValue(null), "n/a");
 * ```
 */
export function pValue(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return "n/a";
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}

/**
 * An integer with thousands separators (`,`), or `—`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { grouped } from "./format.ts";
 * assert.equal(grouped(1234567.4), "1,234,567");
 * ```
 */
export function grouped(x: number | null): string {
  return x === null || !Number.isFinite(x) ? "—" : GROUPED.format(x);
}

/**
 * Bytes in binary units (KiB, MiB, GiB) with one decimal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytes } from "./format.ts";
 * assert.equal(bytes(64 * 2 ** 20), "64.0 MiB");
 * assert.equal(bytes(3 * 2 ** 30), "3.0 GiB");
 * assert.equal(bytes(512), "512 B");
 * ```
 */
export function bytes(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return "—";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (x < 1024) return `${x} B`;
  let v = x / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * A duration in seconds, minutes or hours.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { duration } from "./format.ts";
 * assert.deepEqual([duration(42.4), duration(150), duration(5400)], ["42 s", "2.5 min", "1.5 h"]);
 * ```
 */
export function duration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/**
 * Escapes text for a markdown table cell (pipes, newlines).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cell } from "./format.ts";
 * assert.equal(cell("a|b\nc"), "a\\|b c");
 * ```
 */
export function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}

/**
 * A markdown table of `rows` (the header first), each cell escaped with {@link cell}, columns
 * aligned by `align` (`l`, `r`, `c`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { table } from "./format.ts";
 * assert.equal(table([["a", "b"], ["1|2", "3"]], ["l", "r"]).split("\n")[2], "| 1\\|2 |  3 |");
 * ```
 */
export function table(rows: readonly (readonly string[])[], align: readonly string[]): string {
  return markdownTable(rows.map((r) => r.map(cell)), { align: [...align] });
}

/**
 * Wraps a paragraph greedily at `width` columns (words never split), each line after the first
 * starting with `indent`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wrap } from "./format.ts";
 * assert.equal(wrap("- one two three", 9, "  "), "- one two\n  three");
 * ```
 */
export function wrap(text: string, width = 100, indent = ""): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && [...line].length + 1 + [...word].length > width) {
      lines.push(line);
      line = indent + word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines.join("\n");
}
