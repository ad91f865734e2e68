/**
 * Every command README.md shows (its ```sh blocks and its inline `deno …` commands) and every
 * command of the committed reports' Reproduce blocks runs as written on a fresh clone: each
 * `deno task NAME` is a task of deno.json, each file or folder a command names exists, each
 * recipe given to bench, report given to verify and suite given to report exists, and the set-up
 * puts `deno` on the PATH before the first `deno` command (issue 12, defect 11).
 */

import { assertEquals, assertOk, assertStrictEquals } from "./assert.ts";

const ROOT = new URL("..", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

/** A command found in a document: its words and where it was. */
interface Command {
  readonly words: string[];
  readonly where: string;
}

/** The contents of each fenced block of `lang` in `md`, with the line each starts on. */
function fencedBlocks(md: string, lang: string): { text: string; line: number }[] {
  const blocks: { text: string; line: number }[] = [];
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```" + lang) continue;
    const start = i + 1;
    while (++i < lines.length && lines[i].trim() !== "```");
    blocks.push({ text: lines.slice(start, i).join("\n"), line: start + 1 });
  }
  return blocks;
}

/** A shell line's words: quotes kept together (and removed), a comment dropped. */
function words(line: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= "";
    } else if (c === "#" && word === undefined) {
      break;
    } else if (/\s/.test(c)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) out.push(word);
  return out;
}

/** The simple commands of a shell script: continuation lines joined, split at && || ; |. */
function shellCommands(script: string, where: (line: number) => string): Command[] {
  const out: Command[] = [];
  const lines = script.replace(/\\\n/g, " ").split("\n");
  lines.forEach((line, i) => {
    let current: string[] = [];
    for (const w of words(line)) {
      if (["&&", "||", ";", "|"].includes(w)) {
        if (current.length > 0) out.push({ words: current, where: where(i) });
        current = [];
      } else current.push(w);
    }
    if (current.length > 0) out.push({ words: current, where: where(i) });
  });
  return out;
}

/** Every command of `md`'s ```sh blocks. */
function markdownShellCommands(md: string, file: string): Command[] {
  return fencedBlocks(md, "sh").flatMap((b) =>
    shellCommands(b.text, (i) => `${file}:${b.line + i}`)
  );
}

/**
 * The inline code spans of `md` that are whole `deno task|run|test` commands (usage synopses with
 * `[`, `<`, `|` or `…` left out).
 */
function inlineDenoCommands(md: string, file: string): Command[] {
  const out: Command[] = [];
  md.split("\n").forEach((line, i) => {
    for (const [, span] of line.matchAll(/`([^`]+)`/g)) {
      if (/[[<|…]/.test(span)) continue;
      if (!/^(deno|\.\/deno|npx -y deno@\S+) (task \S|run |test )/.test(span)) continue;
      out.push({ words: words(span), where: `${file}:${i + 1}` });
    }
  });
  return out;
}

/** The deno arguments of a command run through `deno`, `./deno` or `npx -y deno@V`, else undefined. */
function denoArgs(words: readonly string[]): string[] | undefined {
  let i = 0;
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[i] ?? "")) i++; // VAR=value prefixes
  const w = words[i];
  if (w === "deno" || w === "./deno") return words.slice(i + 1);
  if (w === "npx") {
    let j = i + 1;
    while (words[j]?.startsWith("-")) j++;
    if (/^deno@/.test(words[j] ?? "")) return words.slice(j + 1);
  }
  return undefined;
}

/** Whether `path`, relative to the repository root, exists (`dir`: as a folder). */
async function exists(path: string, kind?: "file" | "dir"): Promise<boolean> {
  try {
    const s = await Deno.stat(new URL(path, ROOT));
    return kind === "file" ? s.isFile : kind === "dir" ? s.isDirectory : true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Options of the lpbench tasks: those that take a value, and boolean ones. */
const TASK_OPTIONS: Record<string, { value: string[]; flag: string[] }> = {
  bench: {
    value: [
      "--policy",
      "--seeds",
      "--steps",
      "--out",
      "--gpu",
      "--adapter",
      "--shard",
      "--checkpoint-every",
    ],
    flag: ["--dry-run"],
  },
  sweep: {
    value: [
      "--shards",
      "--gpus",
      "--adapters",
      "--out",
      "--checkpoint-every",
      "--bundle",
      "--image",
      "--file",
      "--policy",
      "--seeds",
      "--steps",
      "--gpu",
    ],
    flag: [],
  },
  report: { value: ["--out"], flag: [] },
  verify: { value: ["--gpu"], flag: [] },
  kernels: { value: ["--suite", "--out", "--gpu"], flag: [] },
};

/** Splits task arguments into options (with values) and positionals; unknown options are problems. */
function taskArgs(
  task: string,
  args: readonly string[],
  problem: (m: string) => void,
): { options: Map<string, string>; positionals: string[] } {
  const options = new Map<string, string>();
  const positionals: string[] = [];
  const known = TASK_OPTIONS[task];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--help" || a === "-h") options.set("--help", "");
    else if (a.startsWith("-")) {
      const [name, inline] = a.split("=", 2);
      if (known.value.includes(name)) options.set(name, inline ?? args[++i] ?? "");
      else if (known.flag.includes(name)) options.set(name, "");
      else if (task !== "kernels") problem(`\`deno task ${task}\` has no option ${name}`);
      else if (inline === undefined && args[i + 1] && !args[i + 1].startsWith("-")) i++; // suite option
    } else positionals.push(a);
  }
  return { options, positionals };
}

/** deno's own options that take a value (the ones lpbench's commands use). */
const DENO_VALUE_OPTIONS = ["--config", "-c", "--preload", "--import-map", "--env-file"];

/** Problems of one command: a task, file, folder, recipe, report or suite that is not there. */
async function commandProblems(
  command: Command,
  tasks: Readonly<Record<string, string>>,
): Promise<string[]> {
  const problems: string[] = [];
  const problem = (m: string) => problems.push(`${command.where}: ${m}`);
  const args = denoArgs(command.words);
  if (args === undefined) {
    // Another program: a script of the repository it runs must exist.
    const [w, next] = command.words;
    const script = w === "bash" || w === "sh" ? next : w;
    if (script?.includes("/") && !script.startsWith("~") && !script.startsWith("$")) {
      if (!await exists(script, "file")) problem(`${script} does not exist`);
    }
    return problems;
  }
  const [sub, ...rest] = args;
  // deno's own options before the subcommand's operands.
  const operands: string[] = [];
  let passThrough: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--") {
      passThrough = rest.slice(i + 1);
      break;
    }
    if (a.startsWith("-")) {
      if (DENO_VALUE_OPTIONS.includes(a)) {
        const value = rest[++i];
        if (a === "--preload" && !await exists(value, "file")) problem(`${value} does not exist`);
      }
      continue;
    }
    if (sub === "run") {
      operands.push(a); // the script; the rest are its arguments
      passThrough = rest.slice(i + 1);
      break;
    }
    if (sub === "task") {
      operands.push(a); // the task; the rest are its arguments
      passThrough = rest.slice(i + 1);
      break;
    }
    operands.push(a);
  }
  switch (sub) {
    case "task": {
      const [name] = operands;
      if (name === undefined) return problems; // `deno task` lists the tasks
      if (!Object.hasOwn(tasks, name)) {
        problem(`deno.json has no task "${name}" (${Object.keys(tasks).join(", ")})`);
        return problems;
      }
      if (!Object.hasOwn(TASK_OPTIONS, name)) return problems;
      const { options, positionals } = taskArgs(name, passThrough, problem);
      if (options.has("--help")) return problems;
      if (name === "bench") {
        for (const recipe of positionals) {
          if (!await exists(recipe, "file")) problem(`recipe ${recipe} does not exist`);
        }
      } else if (name === "verify") {
        for (const report of positionals) {
          if (!await exists(report, "file")) problem(`report ${report} does not exist`);
        }
      } else if (name === "report") {
        const out = options.get("--out") ?? "reports";
        for (const suite of positionals) {
          if (
            !await exists(`${out}/${suite}.md`, "file") &&
            !await exists(`${out}/${suite}.runs.json`, "file")
          ) problem(`suite ${suite} has no report in ${out}/`);
        }
      } else if (name === "kernels") {
        for (const suite of options.get("--suite")?.split(",") ?? []) {
          if (!["quantize", "gemm", "train"].includes(suite)) problem(`no kernels suite ${suite}`);
        }
      }
      return problems;
    }
    case "run": {
      const [script] = operands;
      if (script === undefined) problem("deno run without a script");
      else if (!await exists(script, "file")) problem(`${script} does not exist`);
      return problems;
    }
    case "test":
    case "fmt":
    case "lint":
    case "check":
      for (const path of operands) {
        if (!await exists(path)) problem(`${path} does not exist`);
      }
      return problems;
    default:
      problem(`unknown deno subcommand ${JSON.stringify(sub)}`);
      return problems;
  }
}

async function tasks(): Promise<Record<string, string>> {
  return JSON.parse(await read("deno.json")).tasks;
}

async function allProblems(commands: readonly Command[]): Promise<string[]> {
  const t = await tasks();
  return (await Promise.all(commands.map((c) => commandProblems(c, t)))).flat();
}

/** The committed reports that are suite reports or show commands: reports/*.md, reports/h100/*.md. */
async function reportFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const dir of ["reports", "reports/h100"]) {
    for await (const e of Deno.readDir(new URL(dir, ROOT))) {
      if (e.isFile && e.name.endsWith(".md")) files.push(`${dir}/${e.name}`);
    }
  }
  return files.sort();
}

Deno.test("every command of README.md's sh blocks names an existing task, file, recipe, report or suite", async () => {
  const readme = await read("README.md");
  const commands = markdownShellCommands(readme, "README.md");
  const deno = commands.filter((c) => denoArgs(c.words) !== undefined);
  assertOk(deno.length >= 10, `only ${deno.length} deno commands found in README.md's sh blocks`);
  for (const name of ["bench", "report", "verify", "test", "check"]) {
    assertOk(
      deno.some((c) => denoArgs(c.words)!.join(" ").startsWith(`task ${name}`)),
      `no \`deno task ${name}\` in README.md's sh blocks`,
    );
  }
  assertEquals(await allProblems(commands), []);
});

Deno.test("README.md's inline deno commands name existing tasks and files", async () => {
  const commands = inlineDenoCommands(await read("README.md"), "README.md");
  assertOk(
    commands.some((c) => c.words.includes("bench/train.ts")),
    "`deno run -A bench/train.ts` is among them",
  );
  assertEquals(await allProblems(commands), []);
});

Deno.test("every command of the committed reports' sh blocks (Reproduce) names existing tasks, recipes and reports", async () => {
  const files = await reportFiles();
  const commands: Command[] = [];
  for (const f of files) commands.push(...markdownShellCommands(await read(f), f));
  for (const suite of ["reports/quick.md", "reports/h100/quick.md"]) {
    const own = commands.filter((c) => c.where.startsWith(`${suite}:`));
    assertStrictEquals(own.length, 2, `${suite}: a bench and a verify command`);
  }
  assertEquals(await allProblems(commands), []);
});

Deno.test("every deno.json task's own commands name existing tasks and files", async () => {
  const t = await tasks();
  const commands = Object.entries(t).flatMap(([name, script]) =>
    shellCommands(script, () => `deno.json task ${name}`)
  );
  assertEquals(await allProblems(commands), []);
});

Deno.test("README.md's set-up installs deno and puts it on the PATH before its first deno command", async () => {
  const readme = await read("README.md");
  const setup = readme.slice(readme.indexOf("## Set-up"));
  const [block] = fencedBlocks(setup, "sh");
  assertOk(block, "a sh block under ## Set-up");
  const commands = shellCommands(block.text, (i) => String(i));
  const home = (p: string) => p.replace(/^~(?=\/|$)/, "$HOME").replace(/^\$\{HOME\}/, "$HOME");
  // Where the install puts the binary: `npm install -g --prefix P deno@V` → P/bin.
  const install = commands.findIndex((c) =>
    c.words[0] === "npm" && c.words.includes("install") && c.words.some((w) => /^deno@/.test(w))
  );
  assertOk(install >= 0, "the set-up installs deno with npm");
  const words = commands[install].words;
  const prefix = words[words.indexOf("--prefix") + 1];
  assertOk(words.includes("--prefix") && prefix, "npm install names its --prefix");
  const bin = `${home(prefix)}/bin`;
  const path = commands.findIndex((c) =>
    c.words[0] === "export" && c.words[1]?.startsWith("PATH=") &&
    c.words[1].slice(5).split(":").map(home).includes(bin) &&
    c.words[1].split(":").includes("$PATH")
  );
  assertOk(path > install, `an \`export PATH=${bin}:$PATH\` after the install`);
  const firstDeno = commands.findIndex((c) => c.words[0] === "deno");
  assertOk(firstDeno > path, "the first deno command comes after the PATH is set");
  // The npx form the README offers instead runs the same Deno.
  const version = words.find((w) => /^deno@/.test(w))!;
  for (const [, v] of readme.matchAll(/npx -y (deno@\S+?)[`\s]/g)) assertStrictEquals(v, version);
});

Deno.test("the command checker finds a renamed task, a missing file, recipe, report or suite", async () => {
  const t = await tasks();
  const check = (line: string) => commandProblems({ words: words(line), where: "x" }, t);
  assertEquals(await check("deno task bench recipes/quick.yaml --steps 120"), []);
  assertEquals(await check("deno task benchmark recipes/quick.yaml"), [
    `x: deno.json has no task "benchmark" (${Object.keys(t).join(", ")})`,
  ]);
  assertEquals(await check("deno task bench recipes/nope.yaml"), [
    "x: recipe recipes/nope.yaml does not exist",
  ]);
  assertEquals(await check("deno task bench recipes/quick.yaml --dryrun"), [
    "x: `deno task bench` has no option --dryrun",
  ]);
  assertEquals(await check("deno task verify reports/nope.md"), [
    "x: report reports/nope.md does not exist",
  ]);
  assertEquals(await check("npx -y deno@2.9.6 task report nope"), [
    "x: suite nope has no report in reports/",
  ]);
  assertEquals(await check("./deno run -A bench/nope.ts --gpu dawn"), [
    "x: bench/nope.ts does not exist",
  ]);
  assertEquals(await check("deno test -A tests/nope"), ["x: tests/nope does not exist"]);
  assertEquals(await check("bash .ci/nope"), ["x: .ci/nope does not exist"]);
});
