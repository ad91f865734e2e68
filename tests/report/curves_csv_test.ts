import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { aggregate } from "../../src/report/aggregate.ts";
import { curvesCsv } from "../../src/report/curves_csv.ts";
import { suiteA } from "../runner/fixtures.ts";

/** The CSV's rows as objects keyed by its header. */
function rows(csv: string): Record<string, string>[] {
  const [header, ...lines] = csv.trimEnd().split("\n").map((l) => l.split(","));
  return lines.map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
}

Deno.test("curves.csv gives train points' gradient norm and learning rate, empty where a record has none", () => {
  // bf16's records carry norms and learning rates; the others are like records written before.
  const records = suiteA().map((r) =>
    r.spec.policyName !== "bf16" ? r : {
      ...r,
      result: {
        ...r.result,
        train: r.result.train.map((p) => ({ ...p, gradNorm: p.step / 100, lr: 3e-3 })),
      },
    }
  );
  const csv = curvesCsv(aggregate(records)[0]);
  assertStrictEquals(csv.split("\n")[0], "policy,seed,run,split,step,loss,accuracy,grad_norm,lr");
  const all = rows(csv);
  const bf16Train = all.filter((r) => r.policy === "bf16" && r.split === "train");
  assertEquals(bf16Train[0].grad_norm, "0.1");
  assertEquals(new Set(bf16Train.map((r) => r.lr)), new Set(["0.003"]));
  const rest = all.filter((r) => r.policy !== "bf16" || r.split === "val");
  assertEquals(new Set(rest.flatMap((r) => [r.grad_norm, r.lr])), new Set([""]));
  assertOk(all.every((r) => r.lr !== undefined), "every row has all nine cells");
});
