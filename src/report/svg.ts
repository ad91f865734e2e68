/**
 * Vega-Lite specs rendered to SVG text without a DOM or canvas (Vega's headless SVG renderer;
 * text widths are estimated, so output does not depend on installed fonts). The same spec gives
 * the same SVG: Vega numbers clip paths and gradients with global counters, so renders run one at
 * a time and reset those counters first.
 *
 * @module
 */

import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

let queue: Promise<unknown> = Promise.resolve();

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    await view.runAsync();
    vega.resetSVGDefIds();
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders a Vega-Lite spec to an SVG document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderSvg } from "./svg.ts";
 * const svg = await renderSvg({
 *   data: { values: [{ x: 0, y: 1 }, { x: 1, y: 3 }] },
 *   mark: "line",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
 * });
 * assert.match(svg, /^<svg /);
 * ```
 */
export function renderSvg(spec: TopLevelSpec): Promise<string> {
  const result = queue.then(() => render(spec));
  queue = result.catch(() => {});
  return result;
}
