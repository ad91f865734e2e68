import { assertEquals, assertOk, assertStrictEquals } from "../assert.ts";
import { loadRecipe } from "../../src/recipe/load.ts";
import { expandRuns } from "../../src/recipe/expand.ts";
import { planRuns } from "../../src/runner/run.ts";
import { BASE, edit, writeRecipe } from "../recipe/fixture.ts";

/** The ids of the runs of recipe `text` (loaded from `name` in its folder), by policy and seed. */
async function ids(
  text: string,
  options: { name?: string; steps?: number } = {},
): Promise<Map<string, string>> {
  const { dir } = await writeRecipe(text);
  try {
    const name = options.name ?? "recipe.yaml";
    if (name !== "recipe.yaml") await Deno.writeTextFile(`${dir}/${name}`, text);
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      const recipe = await loadRecipe(name);
      const specs = expandRuns(recipe, options.steps ? { steps: options.steps } : {});
      const plan = await planRuns(specs, `${dir}/runs`, "deno");
      return new Map(plan.map((p) => [`${p.spec.policyName}/${p.spec.seed}`, p.id]));
    } finally {
      Deno.chdir(cwd);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a run's id does not depend on how the recipe's path is spelled", async () => {
  assertEquals(await ids(BASE, { name: "./x.yaml" }), await ids(BASE, { name: "x.yaml" }));
});

Deno.test("adding a seed or a policy or changing the baseline leaves the other runs' ids", async () => {
  const before = await ids(BASE);
  const more = await ids(
    edit(
      BASE,
      ["seeds: [0, 1]", "seeds: [0, 1, 2]"],
      ["baseline: bf16", "baseline: nvfp4"],
      ["  nvfp4: { extends: nvfp4 }\n", "  nvfp4: { extends: nvfp4 }\n  fp32: { extends: fp32 }\n"],
    ),
  );
  for (const [run, id] of before) assertStrictEquals(more.get(run), id, run);
  assertStrictEquals(more.size, 9);
});

Deno.test("renaming a policy or the recipe keeps its runs' ids; changing what they compute does not", async () => {
  const before = await ids(BASE);
  const renamed = await ids(
    edit(BASE, ["name: tiny", "name: other"], [
      "  nvfp4: { extends: nvfp4 }",
      "  fp4: { extends: nvfp4 }",
    ]),
  );
  assertStrictEquals(renamed.get("fp4/0"), before.get("nvfp4/0"));
  assertStrictEquals(renamed.get("bf16/1"), before.get("bf16/1"));
  const longer = await ids(BASE, { steps: 30 });
  assertOk(longer.get("bf16/0") !== before.get("bf16/0"), "steps change the run");
  const wider = await ids(edit(BASE, ["d_ff: 256", "d_ff: 128"]));
  assertOk(wider.get("bf16/0") !== before.get("bf16/0"), "the model changes the run");
  assertOk(before.get("bf16/0") !== before.get("bf16/1"), "the seed changes the run");
  assertOk(before.get("bf16/0") !== before.get("nvfp4/0"), "the policy changes the run");
});
