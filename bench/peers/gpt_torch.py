"""PyTorch eager peer of lpbench's training benchmark (bench/train.ts).

The same model and step as `deno task kernels --suite train`: 12 attention + 12 MLP blocks
(pre-norm RMSNorm, RoPE rotate-half, causal attention, GELU-tanh MLP, no biases, untied
embeddings), d_model 768, 12 heads, d_ff 3072, seq 1024, vocab 50304, batch 8, AdamW
(0.9, 0.95, weight decay 0.1), global-norm clip 1. Policies:

- fp32: plain f32 (run with TF32 off and on);
- bf16: torch.autocast(bfloat16);
- nvfp4: every block linear layer fake-quantizes its GEMM operands as lpbench's nvfp4 policy
  does (NUMERICS.md §5.1): X 1x16 NVFP4, W 16x16 tiles, dY with stochastic rounding, a 16-point
  RHT on both Wgrad operands along the tokens; first and last block and the LM head in BF16
  rounding. Quantization follows TransformerEngine's scale chain in f32 (global 2688/amax,
  E4M3 block scales via float8_e4m3fn, E2M1 by rounding to the nearest grid value). It does the
  same work as lpbench's kernels but is a throughput peer, not a bit-exact one: E2M1 ties round
  up, subnormals are not flushed, and its stochastic rounding uses torch.rand.

Usage: python3 bench/peers/gpt_torch.py [--policies fp32,bf16,nvfp4] [--tf32 off|on|both]
Prints one markdown row per (policy, tf32) with tokens/s.
"""

import argparse
import math
import time

import torch
import torch.nn.functional as F

E2M1 = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
MIDS = (E2M1[1:] + E2M1[:-1]) / 2
H16 = None


def hadamard16(device):
    global H16
    if H16 is None or H16.device != device:
        h = torch.ones(1, 1)
        while h.shape[0] < 16:
            h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
        signs = torch.tensor([1, 1, 1, -1, 1, -1, -1, -1, -1, -1, -1, 1, -1, 1, -1, -1.0])
        H16 = (signs[:, None] * h / 4).to(device)
    return H16


def e2m1(y, stochastic):
    a = y.abs()
    if stochastic:
        lo_idx = torch.bucketize(a, E2M1.to(a.device), right=True).clamp(1, 7) - 1
        lo = E2M1.to(a.device)[lo_idx]
        hi = E2M1.to(a.device)[(lo_idx + 1).clamp(max=7)]
        p = torch.where(hi > lo, (a - lo) / (hi - lo), torch.zeros_like(a))
        q = torch.where(torch.rand_like(a) < p, hi, lo)
    else:
        q = E2M1.to(a.device)[torch.bucketize(a, MIDS.to(a.device))]
    return torch.copysign(q, y)


def nvfp4(x, tile2d=False, stochastic=False, rht=False):
    """Fake-quantize a 2-D f32 tensor to NVFP4 along its rows (1x16 blocks or 16x16 tiles)."""
    rows, cols = x.shape
    if rht:
        x = (x.reshape(-1, 16) @ hadamard16(x.device)).reshape(rows, cols)
    amax = x.abs().amax().clamp(min=1e-30)
    s_enc = 2688.0 / amax
    s_dec = 1.0 / s_enc
    if tile2d:
        t = x.reshape(rows // 16, 16, cols // 16, 16)
        bamax = t.abs().amax(dim=(1, 3), keepdim=True)
    else:
        t = x.reshape(rows, cols // 16, 16)
        bamax = t.abs().amax(dim=-1, keepdim=True)
    scale = (bamax * (s_enc / 6)).clamp(max=448).to(torch.float8_e4m3fn).float()
    enc = 1.0 / (scale * s_dec).clamp(min=1e-30)
    q = e2m1((t * enc).clamp(-6, 6), stochastic)
    return (q * scale * s_dec).reshape(rows, cols)


class QuantLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, mode):
        ctx.save_for_backward(x, w)
        ctx.mode = mode
        if mode == "bf16":
            return (x.bfloat16() @ w.bfloat16().t()).float()
        return nvfp4(x) @ nvfp4(w, tile2d=True).t()

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        if ctx.mode == "bf16":
            dyb = dy.bfloat16()
            return (dyb @ w.bfloat16()).float(), (dyb.t() @ x.bfloat16()).float(), None
        dx = nvfp4(dy, stochastic=True) @ nvfp4(w, tile2d=True)
        dw = nvfp4(dy.t().contiguous(), stochastic=True, rht=True) @ nvfp4(
            x.t().contiguous(), rht=True
        ).t()
        return dx, dw, None


class Linear(torch.nn.Module):
    def __init__(self, n_in, n_out, mode):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n_out, n_in) * 0.02)
        self.mode = mode

    def forward(self, x):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        if self.mode == "fp32":
            y = x2 @ self.weight.t()
        else:
            y = QuantLinearFn.apply(x2, self.weight, self.mode)
        return y.reshape(*shape[:-1], -1)


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], -1)


class Attention(torch.nn.Module):
    def __init__(self, d, heads, mode):
        super().__init__()
        self.norm = torch.nn.RMSNorm(d, eps=1e-5)
        self.qkv = Linear(d, 3 * d, mode)
        self.proj = Linear(d, d, mode)
        self.heads = heads

    def forward(self, x, cos, sin):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        y = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        return x + self.proj(y.transpose(1, 2).reshape(b, t, d))


class Mlp(torch.nn.Module):
    def __init__(self, d, ff, mode):
        super().__init__()
        self.norm = torch.nn.RMSNorm(d, eps=1e-5)
        self.fc1 = Linear(d, ff, mode)
        self.fc2 = Linear(ff, d, mode)

    def forward(self, x, cos, sin):
        return x + self.fc2(F.gelu(self.fc1(self.norm(x)), approximate="tanh"))


class Gpt(torch.nn.Module):
    def __init__(self, layers, d, heads, ff, vocab, policy):
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, d)
        blocks = []
        n = 2 * layers
        for i in range(n):
            mode = "fp32" if policy == "fp32" else "bf16"
            if policy == "nvfp4" and 0 < i < n - 1:
                mode = "nvfp4"
            blocks.append(Attention(d, heads, mode) if i % 2 == 0 else Mlp(d, ff, mode))
        self.blocks = torch.nn.ModuleList(blocks)
        self.norm = torch.nn.RMSNorm(d, eps=1e-5)
        self.head = Linear(d, vocab, "fp32" if policy == "fp32" else "bf16")

    def forward(self, tokens, cos, sin):
        x = self.wte(tokens)
        for blk in self.blocks:
            x = blk(x, cos, sin)
        return self.head(self.norm(x))


def run(policy, tf32, args):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(0)
    dev = "cuda"
    d, heads = args.d_model, args.heads
    model = Gpt(args.layers, d, heads, 4 * d, args.vocab, policy).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    hd = d // heads
    inv = 10000.0 ** (-torch.arange(0, hd // 2, device=dev) * 2.0 / hd)
    ang = torch.arange(args.seq, device=dev)[:, None] * inv[None, :]
    cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=policy == "bf16")

    def step():
        tok = torch.randint(0, args.vocab, (args.batch, args.seq), device=dev)
        tgt = torch.randint(0, args.vocab, (args.batch, args.seq), device=dev)
        with autocast:
            logits = model(tok, cos, sin)
        loss = F.cross_entropy(logits.float().view(-1, args.vocab), tgt.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) / args.steps * 1000
    tokens = args.batch * args.seq
    print(f"| {policy} | {'on' if tf32 else 'off'} | {ms:.1f} | {tokens / ms * 1000:.0f} | {loss.item():.3f} |", flush=True)
    del model, opt
    torch.cuda.empty_cache()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--policies", default="fp32,bf16,nvfp4")
    p.add_argument("--tf32", default="both", choices=["off", "on", "both"])
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--d-model", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--vocab", type=int, default=50304)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    print(f"## PyTorch {torch.__version__} eager peer on {torch.cuda.get_device_name()}\n")
    print("| policy | TF32 | ms/step | tokens/s | loss at end |")
    print("|---|---|---:|---:|---:|")
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.tf32]
    for policy in args.policies.split(","):
        for tf32 in modes:
            run(policy, tf32, args)


if __name__ == "__main__":
    main()
