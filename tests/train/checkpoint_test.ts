import { assertEquals, assertOk, assertRejects } from "../assert.ts";
import { list, withTempDir } from "../temp_dir.ts";
import {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  loadCheckpoint,
  saveCheckpoint,
} from "../../src/train/checkpoint.ts";
import { readSafetensors, type Tensor, writeSafetensors } from "../../src/train/safetensors.ts";

function ramp(n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.fround((i - n / 2) * scale));
}

/** A small checkpoint: a 2-d weight, a bias, a scalar gain. */
function sample(): Checkpoint {
  const shapes: [string, number[]][] = [["blocks.0.w", [3, 4]], ["blocks.0.b", [4]], ["gain", []]];
  const params = new Map(shapes.map(([name, shape], k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return [name, { shape, data: ramp(n, 0.1 + k) }];
  }));
  const moments = (scale: number) =>
    new Map([...params].map(([name, p]) => [name, ramp(p.data.length, scale)]));
  return {
    params,
    m: moments(1e-3),
    v: moments(1e-6),
    scaling: new Map([["blocks.0.fc1.x.history", Float32Array.from([2, 0, 112, 224])]]),
    step: 2 ** 40 + 3,
    rng: "pcg:0123456789abcdef/ü",
    config: { model: { d_model: 8, pattern: "*-" }, lr: 3e-3, betas: [0.9, 0.95], x: null },
  };
}

Deno.test("a checkpoint round-trips exactly", async () => {
  await withTempDir(async (dir) => {
    const c = sample();
    await saveCheckpoint(`${dir}/c.safetensors`, c);
    assertEquals(await loadCheckpoint(`${dir}/c.safetensors`), c);
  });
});

Deno.test("a config of null-prototype objects (as some parsers make) and shared arrays is saved", async () => {
  await withTempDir(async (dir) => {
    const c = sample();
    const shared = [1, 2];
    c.config = Object.assign(Object.create(null), { lr: 1, a: shared, b: shared });
    await saveCheckpoint(`${dir}/c.safetensors`, c);
    assertEquals((await loadCheckpoint(`${dir}/c.safetensors`)).config, {
      lr: 1,
      a: [1, 2],
      b: [1, 2],
    });
  });
});

Deno.test("the file holds the documented tensor names and metadata", async () => {
  await withTempDir(async (dir) => {
    const c = sample();
    await saveCheckpoint(`${dir}/c.safetensors`, c);
    const { tensors, metadata } = await readSafetensors(`${dir}/c.safetensors`);
    assertEquals(metadata, {
      format: "lpbench.checkpoint/v1",
      step: "1099511627779",
      rng: c.rng,
      config: JSON.stringify(c.config),
    });
    assertEquals(CHECKPOINT_FORMAT, "lpbench.checkpoint/v1");
    assertEquals(Object.keys(tensors).sort(), [
      "model.blocks.0.b",
      "model.blocks.0.w",
      "model.gain",
      "optim.m.blocks.0.b",
      "optim.m.blocks.0.w",
      "optim.m.gain",
      "optim.v.blocks.0.b",
      "optim.v.blocks.0.w",
      "optim.v.gain",
      "scaling.blocks.0.fc1.x.history",
    ]);
    assertEquals(tensors["scaling.blocks.0.fc1.x.history"], {
      dtype: "F32",
      shape: [4],
      data: c.scaling!.get("blocks.0.fc1.x.history")!,
    });
    assertEquals(tensors["model.blocks.0.w"], {
      dtype: "F32",
      shape: [3, 4],
      data: c.params.get("blocks.0.w")!.data,
    });
    assertEquals(tensors["optim.v.gain"], { dtype: "F32", shape: [], data: c.v.get("gain")! });
  });
});

Deno.test("saving replaces an existing checkpoint atomically, leaving no temporary file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/c.safetensors`;
    const c = sample();
    await saveCheckpoint(path, c);
    c.step += 1;
    c.params.get("gain")!.data[0] = 42;
    await saveCheckpoint(path, c);
    assertEquals(await list(dir), ["c.safetensors"]);
    const back = await loadCheckpoint(path);
    assertEquals(back.step, c.step);
    assertEquals(back.params.get("gain")!.data, new Float32Array([42]));
  });
});

Deno.test("saveCheckpoint rejects bad input and leaves the existing file untouched", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/c.safetensors`;
    await saveCheckpoint(path, sample());
    const before = await Deno.readFile(path);
    const cases: [(c: Checkpoint) => void, string, RegExp][] = [
      [(c) => c.m.delete("gain"), "RangeError", /^m has no entry for parameter "gain"$/],
      [(c) => c.v.set("extra", new Float32Array(1)), "RangeError", /^v has an entry "extra"/],
      [
        (c) => c.scaling!.set("l.x.history", [1, 0] as unknown as Float32Array),
        "TypeError",
        /^scaling\["l.x.history"\] must be a Float32Array$/,
      ],
      [
        (c) => c.m.set("gain", new Float32Array(2)),
        "RangeError",
        /^m\["gain"\] has 2 elements; parameter "gain" has 1$/,
      ],
      [
        (c) => c.v.set("gain", new Float64Array(1) as unknown as Float32Array),
        "TypeError",
        /^v\["gain"\] must be a Float32Array$/,
      ],
      [(c) => c.m = {} as Map<string, Float32Array>, "TypeError", /^m must be a Map$/],
      [
        (c) => c.params.set("gain", { shape: [1], data: [1] as unknown as Float32Array }),
        "TypeError",
        /^params\["gain"\] must be \{ shape, data: Float32Array \}$/,
      ],
      [
        (c) => c.params.get("blocks.0.w")!.shape = [4, 4],
        "RangeError",
        /tensor "model.blocks.0.w": shape \[4,4\] has 16 elements but data has 12/,
      ],
      [(c) => c.step = -1, "RangeError", /^step must be an integer ≥ 0, got -1$/],
      [(c) => c.step = 1.5, "RangeError", /got 1.5/],
      [(c) => c.rng = 7 as unknown as string, "TypeError", /^rng must be a string, got number$/],
      [
        (c) => c.config = { a: [1, NaN] },
        "TypeError",
        /^config.a\[1\] is NaN, which JSON cannot hold$/,
      ],
      [
        (c) => c.config = { when: new Date(0) } as never,
        "TypeError",
        /^config.when is a Date, which JSON cannot hold$/,
      ],
      [
        (c) => c.config = [new Map()] as never,
        "TypeError",
        /^config\[0\] is a Map, which JSON cannot hold$/,
      ],
      [(c) => c.config = { g: () => 1 } as never, "TypeError", /^config.g is a function/],
      [
        (c) => {
          const loop: Record<string, unknown> = { a: [1] };
          (loop.a as unknown[]).push({ back: loop });
          c.config = loop as never;
        },
        "TypeError",
        /^config.a\[1\].back refers back to itself, which JSON cannot hold$/,
      ],
      [
        (c) => c.config = { f: undefined } as never,
        "TypeError",
        /^config.f is undefined, which JSON cannot hold$/,
      ],
    ];
    for (const [spoil, name, message] of cases) {
      const c = sample();
      spoil(c);
      await assertRejects(() => saveCheckpoint(path, c), (e: Error) => {
        assertEquals(e.name, name, e.message);
        assertOk(message.test(e.message), `${message} ≠ ${e.message}`);
        return true;
      });
    }
    assertEquals(await Deno.readFile(path), before);
    assertEquals(await list(dir), ["c.safetensors"]);
  });
});

/** The tensors and metadata saveCheckpoint writes for {@link sample}. */
function sampleFile(): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const c = sample();
  const tensors: Record<string, Tensor> = {};
  for (const [name, p] of c.params) {
    tensors[`model.${name}`] = { dtype: "F32", shape: p.shape, data: p.data };
    tensors[`optim.m.${name}`] = { dtype: "F32", shape: p.shape, data: c.m.get(name)! };
    tensors[`optim.v.${name}`] = { dtype: "F32", shape: p.shape, data: c.v.get(name)! };
  }
  for (const [label, words] of c.scaling!) {
    tensors[`scaling.${label}`] = { dtype: "F32", shape: [words.length], data: words };
  }
  const metadata = {
    format: CHECKPOINT_FORMAT,
    step: "5",
    rng: "r",
    config: "{}",
  } as Record<string, string>;
  return { tensors, metadata };
}

Deno.test("loadCheckpoint accepts a file written to the documented layout by other means", async () => {
  await withTempDir(async (dir) => {
    const { tensors, metadata } = sampleFile();
    await writeSafetensors(`${dir}/c.safetensors`, tensors, metadata);
    const c = await loadCheckpoint(`${dir}/c.safetensors`);
    assertEquals([c.step, c.rng, c.config], [5, "r", {}]);
    assertEquals(c.m.get("blocks.0.b"), sample().m.get("blocks.0.b"));
    assertEquals(c.scaling, sample().scaling);
  });
});

Deno.test("loadCheckpoint rejects files that break the format, naming the path", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/c.safetensors`;
    type File = ReturnType<typeof sampleFile>;
    const cases: [(f: File) => void, string, RegExp][] = [
      [
        (f) => delete f.tensors["optim.v.gain"],
        "RangeError",
        /: parameter "gain" has no tensor "optim.v.gain"$/,
      ],
      [
        (f) => delete f.tensors["model.gain"],
        "RangeError",
        /: tensor "optim.m.gain" has no parameter "model.gain"$/,
      ],
      [
        (f) =>
          f.tensors["optim.m.blocks.0.w"] = { ...f.tensors["optim.m.blocks.0.w"], shape: [4, 3] },
        "RangeError",
        /: tensor "optim.m.blocks.0.w" has shape \[4,3\], but parameter "blocks.0.w" has \[3,4\]$/,
      ],
      [
        (f) => f.tensors["model.gain"] = { dtype: "F64", shape: [], data: new Float64Array(1) },
        "TypeError",
        /: tensor "model.gain" is F64, not F32$/,
      ],
      [
        (f) => f.tensors["ema.gain"] = { dtype: "F32", shape: [], data: new Float32Array(1) },
        "TypeError",
        /: tensor "ema.gain" is neither model.<param>, optim.m.<param>, optim.v.<param> nor scaling.<state>$/,
      ],
      [
        (f) => f.metadata.format = "pt",
        "TypeError",
        /: not an lpbench checkpoint: __metadata__.format is "pt", expected "lpbench.checkpoint\/v1"$/,
      ],
      [(f) => delete f.metadata.format, "TypeError", /__metadata__.format is null, expected/],
      [(f) => delete f.metadata.rng, "TypeError", /: __metadata__ has no "rng"$/],
      [(f) => f.metadata.seed = "1", "TypeError", /: unexpected __metadata__ key "seed"$/],
      [(f) => f.metadata.step = "01", "SyntaxError", /: __metadata__.step "01" is not an integer/],
      [(f) => f.metadata.step = "-1", "SyntaxError", /step "-1" is not an integer ≥ 0$/],
      [(f) => f.metadata.step = "1e3", "SyntaxError", /step "1e3"/],
      [(f) => f.metadata.step = "9007199254740993", "SyntaxError", /step "9007199254740993"/],
      [(f) => f.metadata.config = "{lr: 1}", "SyntaxError", /: __metadata__.config is not JSON: /],
    ];
    for (const [spoil, name, message] of cases) {
      const f = sampleFile();
      spoil(f);
      await writeSafetensors(path, f.tensors, f.metadata);
      await assertRejects(() => loadCheckpoint(path), (e: Error) => {
        assertEquals(e.name, name, e.message);
        assertOk(e.message.startsWith(`${path}: `), e.message);
        assertOk(message.test(e.message), `${message} ≠ ${e.message}`);
        return true;
      });
    }
  });
});
