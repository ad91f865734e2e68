/**
 * The report's "Claims" section: one row per declared claim (the claim, its source, the measured
 * effect with its 95 % interval, the p-value of the test that supports it, the verdict and the
 * seeds per policy a conclusive verdict needs), its notes, and how to read it.
 *
 * @module
 */

import type { ClaimResult } from "./claims.ts";
import { claimStatement } from "./claims.ts";
import { pValue, signedPercent, table, wrap } from "./format.ts";

/** A share (0.62) as a percentage without a sign (`62.0 %`), `∞` for an open end. */
function share(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : x > 0 ? "∞" : "−∞";
}

/** The measured effect and its interval in words. */
function effectCell(r: ClaimResult): string {
  if (r.effect === null) return "—";
  const gap = r.claim.expect.kind === "closes";
  const point = gap ? `closes ${share(r.effect)}` : `Δ ${signedPercent(100 * r.effect)}`;
  if (!r.interval) return point;
  const [lo, hi] = r.interval;
  const ends = gap ? [share(lo), share(hi)] : [signedPercent(100 * lo), signedPercent(100 * hi)];
  return `${point} [${ends.join(", ")}]`;
}

/**
 * The section's markdown blocks; none without claims.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimsSection } from "./claims_section.ts";
 * assert.deepEqual(claimsSection([]), []);
 * const [heading, tableText] = claimsSection([{
 *   claim: {
 *     name: "mx", source: "arXiv 2509.25149 §5", policy: "mxfp4", versus: "nvfp4",
 *     metric: { kind: "final" }, expect: { kind: "worse" }, alpha: 0.05,
 *   },
 *   effect: 0.012, interval: [0.004, 0.02], p: 0.003, verdict: "supported", seedsNeeded: 3,
 * }]);
 * assert.equal(heading, "## Claims");
 * assert.match(tableText, /\| \*\*mx\*\*: mxfp4's final validation loss is higher than nvfp4's \| arXiv 2509\.25149 §5 \| Δ \+1\.20 % \[\+0\.40 %, \+2\.00 %\] \| 0\.003 \| supported \|\s+3 \|/);
 * ```
 */
export function claimsSection(results: readonly ClaimResult[]): string[] {
  if (results.length === 0) return [];
  const rows = results.map((r) => [
    `**${r.claim.name}**: ${claimStatement(r.claim)}`,
    r.claim.source,
    effectCell(r),
    pValue(r.p),
    r.verdict,
    r.seedsNeeded === null ? "—" : String(r.seedsNeeded),
  ]);
  const notes = results.flatMap((r) => r.note ? [`- **${r.claim.name}**: ${r.note}.`] : []);
  const levels = [...new Set(results.map((r) => r.claim.alpha))].join(", ");
  return [
    "## Claims",
    table(
      [["claim", "source", "measured [95 % CI]", "p", "verdict", "seeds for a verdict"], ...rows],
      ["l", "l", "l", "r", "l", "r"],
    ),
    ...(notes.length > 0 ? [notes.map((n) => wrap(n, 100, "  ")).join("\n")] : []),
    wrap(
      "Each claim is tested on the runs above at its level (here " + levels + "): Δ is the " +
        "difference of the means of the claim's metric, policy minus the policy it is compared " +
        "with, relative to the latter's mean, with its 95 % Welch interval; `closes` is the share " +
        "of the gap from the third policy to that one which the policy closes, with its Fieller " +
        "interval. p is the one-sided Welch test in the claim's direction (both one-sided tests " +
        "of TOST for `within`, the larger p). Supported: that test rejects; contradicted: the " +
        "test in the opposite direction rejects; inconclusive: neither; untested: fewer than two " +
        "runs with the metric per policy. Seeds for a verdict: runs per policy a one-sided test " +
        "at the same level needs to support the claim 4 times in 5 were the observed effect " +
        "true (normal approximation); — where the observed effect is on the wrong side, so " +
        "that more seeds would not support it. Claims are not adjusted for multiplicity.",
    ),
  ];
}
