"""PyTorch eager peer of lpbench's training benchmark (bench/train.ts).

The same model and step as `deno task kernels --suite train`: 12 attention + 12 MLP blocks
(pre-norm RMSNorm, RoPE rotate-half, causal attention, GELU-tanh MLP, no biases, untied
embeddings), d_model 768, 12 heads, d_ff 3072, seq 1024, vocab 50304, batch 8, AdamW
(0.9, 0.95, weight decay 0.1), global-norm clip 1.

`--pattern` trains another Nemotron-H style layer pattern instead, as bench/train.ts does: `*`
attention, `-` MLP (`--mlp relu2|gelu|swiglu`, `--d-ff`), `M` a Mamba-2 block (Dao & Gu 2024,
"Transformers are SSMs", §7; src/model/mamba_block.ts), e.g. the hybrid "M-M-M*-M-M-M*-M-". A
Mamba-2 block (pre-norm, residual) computes

    [z | x B C | dt] = in_proj(h)                    policy-controlled linear layer
    x B C = silu(causal depthwise conv1d(x B C))     window 4, with bias
    y     = SSD(x, dt, B, C; A) + D·x                dt = softplus(dt + dt_bias), A = −exp(A_log)
    out   = out_proj(rmsnorm_group(y·silu(z))·w)     G groups, eps 1e-5

with `--d-state` N, `--ssm-head-dim` P, `--expand` (d_inner = expand·d_model, H = d_inner/P
heads) and `--n-groups` G (B and C shared by H/G heads). The SSD recurrence
S_t = exp(dt_t·A)·S_{t−1} + dt_t·x_t ⊗ B_t, y_t = S_t·C_t runs in the paper's chunked "state
space duality" form (§6, Listing 1) in batched einsums: chunks of 64 tokens, inside each a
masked attention-like product C·Bᵀ weighted by the segment-sum decay matrix, between them a
recurrence of the chunk-end states, itself one decay-matrix product over the chunks; autograd
does the backward. `--self-test` checks it against a sequential scan on the CPU. As in lpbench,
only in_proj and out_proj follow the policy; the convolution, the scan and the gated norm run
in f32 (autocast off), also under the bf16 policy.

Policies:

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
  [--layers 12] [--d-model 768] [--heads 12] [--seq 1024] [--vocab 50304] [--batch 8]
  [--pattern P] [--mlp gelu] [--d-ff 4·d_model] [--d-state 64] [--ssm-head-dim 32] [--expand 2]
  [--n-groups 1] [--steps 10] [--warmup 3] [--self-test]
Runs on CUDA when there is a GPU, else on the CPU. Prints one markdown row per (policy, tf32)
with the pattern and tokens/s.
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
    """Pre-norm MLP block: fc1, the activation (`relu2`, `gelu` tanh, `swiglu` on [a | b]), fc2."""

    def __init__(self, d, ff, act, mode):
        super().__init__()
        self.norm = torch.nn.RMSNorm(d, eps=1e-5)
        self.fc1 = Linear(d, 2 * ff if act == "swiglu" else ff, mode)
        self.fc2 = Linear(ff, d, mode)
        self.act = act

    def activation(self, u):
        """The MLP activation of fc1's output."""
        if self.act == "relu2":
            return F.relu(u).square()
        if self.act == "swiglu":
            a, b = u.chunk(2, dim=-1)
            return F.silu(a) * b
        return F.gelu(u, approximate="tanh")

    def forward(self, x, cos, sin):
        return x + self.fc2(self.activation(self.fc1(self.norm(x))))


CHUNK = 64
CONV_WINDOW = 4


def segsum(a):
    """Segment sums of `a [..., T]`: `out[..., i, j] = a_{j+1} + … + a_i` for i ≥ j, else −inf.

    Built from a masked cumulative sum, not as a difference of prefix sums, so that the small
    sums near the diagonal keep their precision (Dao & Gu 2024, §6 / Listing 1, `segsum`).
    """
    t = a.shape[-1]
    ones = torch.ones(t, t, dtype=torch.bool, device=a.device)
    sums = a[..., :, None].expand(*a.shape, t).masked_fill(~ones.tril(-1), 0).cumsum(dim=-2)
    return sums.masked_fill(~ones.tril(0), -math.inf)


def ssd_chunked(x, dt, a, b, c, chunk=CHUNK):
    """Mamba-2's scan without its D·x skip, in the chunked state-space-duality form.

    Shapes: x [batch, T, H, P], dt [batch, T, H] (after softplus), a [H] (A < 0),
    b, c [batch, T, G, N]; head h reads group h // (H/G). Returns y [batch, T, H, P] with
    y_t = S_t·C_t, S_t = exp(dt_t·A)·S_{t−1} + dt_t·x_t ⊗ B_t, S_{−1} = 0 (Dao & Gu 2024,
    "Transformers are SSMs", §6 and Listing 1): per chunk of `chunk` tokens (clamped to T; the
    sequence is zero-padded to a whole number of chunks, which changes no earlier output),

    1. the chunk's own inputs, an attention-like product:
       y_l += Σ_{s ≤ l} (C_l·B_s)·exp(segsum(dt·A)[l, s])·dt_s·x_s;
    2. each chunk's end state from its own inputs:
       E = Σ_s exp(segsum(dt·A)[L−1, s])·dt_s·x_s ⊗ B_s;
    3. the state entering each chunk, a decay-weighted sum of the earlier chunks' end states
       (S_in(k+1) = exp(Σ_{t in chunk k} dt_t·A)·S_in(k) + E_k, as one segsum product);
    4. its contribution inside the chunk: y_l += exp(Σ_{r ≤ l} dt_r·A)·S_in·C_l.
    """
    bsz, t, heads, p = x.shape
    groups, n = b.shape[2], b.shape[3]
    k = heads // groups
    chunk = min(chunk, t)
    pad = -t % chunk
    if pad:
        x, dt, b, c = (F.pad(v, (0, 0) * (v.dim() - 2) + (0, pad)) for v in (x, dt, b, c))
    nc = (t + pad) // chunk
    xs = (x * dt[..., None]).reshape(bsz, nc, chunk, groups, k, p)
    bs = b.reshape(bsz, nc, chunk, groups, n)
    cs = c.reshape(bsz, nc, chunk, groups, n)
    da = (dt * a).reshape(bsz, nc, chunk, groups, k).permute(0, 3, 4, 1, 2)  # [b, g, k, c, l]

    decay = torch.exp(segsum(da))  # [b, g, k, c, l, s]
    scores = torch.einsum("bclgn,bcsgn->bgcls", cs, bs)[:, :, None] * decay
    y_diag = torch.einsum("bgkcls,bcsgkp->bclgkp", scores, xs)

    to_end = decay[..., -1, :].permute(0, 3, 4, 1, 2)[..., None]  # [b, c, s, g, k, 1]
    ends = torch.einsum("bcsgn,bcsgkp->bcgkpn", bs, xs * to_end)

    totals = F.pad(da.sum(-1), (1, 0))  # [b, g, k, c + 1]
    ends = torch.cat([torch.zeros_like(ends[:, :1]), ends], dim=1)
    entering = torch.einsum("bgkzc,bcgkpn->bzgkpn", torch.exp(segsum(totals)), ends)[:, :-1]

    from_start = torch.exp(da.cumsum(-1)).permute(0, 3, 4, 1, 2)[..., None]  # [b,c,l,g,k,1]
    y_off = torch.einsum("bclgn,bcgkpn->bclgkp", cs, entering) * from_start
    return (y_diag + y_off).reshape(bsz, nc * chunk, heads, p)[:, :t]


def ssd_sequential(x, dt, a, b, c):
    """The same scan as `ssd_chunked`, step by step (the oracle for `--self-test`)."""
    bsz, t, heads, p = x.shape
    k = heads // b.shape[2]
    bh, ch = b.repeat_interleave(k, dim=2), c.repeat_interleave(k, dim=2)  # [b, T, H, N]
    state = x.new_zeros(bsz, heads, p, b.shape[3])
    ys = []
    for i in range(t):
        decay = torch.exp(dt[:, i] * a)[..., None, None]
        state = decay * state + (dt[:, i, :, None] * x[:, i])[..., None] * bh[:, i, :, None, :]
        ys.append(torch.einsum("bhpn,bhn->bhp", state, ch[:, i]))
    return torch.stack(ys, dim=1)


def gated_rms_norm(y, z, w, groups, eps=1e-5):
    """Mamba-2's gated grouped RMSNorm: u = y·silu(z), RMS-normalized per group, times w."""
    u = y * F.silu(z)
    g = u.unflatten(-1, (groups, -1))
    g = g * torch.rsqrt(g.square().mean(-1, keepdim=True) + eps)
    return g.flatten(-2) * w


def dt_bias_init(heads, dt_min=1e-3, dt_max=0.1, floor=1e-4):
    """The inverse softplus of dt drawn log-uniformly in [dt_min, dt_max), floored (config.ts)."""
    log_dt = torch.rand(heads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
    dt = log_dt.exp().clamp(min=floor)
    return dt + torch.log(-torch.expm1(-dt))


class Mamba(torch.nn.Module):
    """Pre-norm Mamba-2 block (src/model/mamba_block.ts); parameters as config.ts's `mambaSpecs`."""

    def __init__(self, d, d_state, head_dim, expand, groups, mode):
        super().__init__()
        self.d_inner = expand * d
        self.heads = self.d_inner // head_dim
        self.head_dim, self.d_state, self.groups = head_dim, d_state, groups
        self.conv_channels = self.d_inner + 2 * groups * d_state
        in_proj = self.d_inner + self.conv_channels + self.heads
        if self.heads * head_dim != self.d_inner or self.heads % groups:
            raise ValueError(
                f"--ssm-head-dim {head_dim} must divide d_inner {self.d_inner} into heads that "
                f"--n-groups {groups} divides"
            )
        if mode == "nvfp4" and in_proj % 16:
            raise ValueError(
                f"in_proj width 2·d_inner + 2·n_groups·d_state + heads = {in_proj} must be a "
                "multiple of 16 for nvfp4; change --ssm-head-dim, --d-state or --n-groups"
            )
        bound = 1 / math.sqrt(CONV_WINDOW)
        self.norm = torch.nn.RMSNorm(d, eps=1e-5)
        self.in_proj = Linear(d, in_proj, mode)
        uniform = lambda *shape: torch.empty(*shape).uniform_(-bound, bound)
        self.conv_w = torch.nn.Parameter(uniform(self.conv_channels, CONV_WINDOW))
        self.conv_b = torch.nn.Parameter(uniform(self.conv_channels))
        self.dt_bias = torch.nn.Parameter(dt_bias_init(self.heads))
        self.A_log = torch.nn.Parameter(torch.empty(self.heads).uniform_(1, 16).log())
        self.D = torch.nn.Parameter(torch.ones(self.heads))
        self.mixer_norm = torch.nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = Linear(self.d_inner, d, mode)

    def mixer(self, zxbcdt):
        """From the in_proj output [batch, T, in_proj] to the gated norm's output, in f32."""
        bsz, t, _ = zxbcdt.shape
        z, xbc, dt = zxbcdt.float().split([self.d_inner, self.conv_channels, self.heads], dim=-1)
        xbc = F.conv1d(
            xbc.transpose(1, 2), self.conv_w[:, None], self.conv_b,
            padding=CONV_WINDOW - 1, groups=self.conv_channels,
        )[..., :t]
        xbc = F.silu(xbc).transpose(1, 2)
        gn = self.groups * self.d_state
        x, b, c = xbc.split([self.d_inner, gn, gn], dim=-1)
        x = x.unflatten(-1, (self.heads, self.head_dim))
        b, c = (v.unflatten(-1, (self.groups, self.d_state)) for v in (b, c))
        dt = F.softplus(dt + self.dt_bias)
        y = ssd_chunked(x, dt, -torch.exp(self.A_log), b, c) + x * self.D[:, None]
        return gated_rms_norm(y.flatten(-2), z, self.mixer_norm, self.groups)

    def forward(self, x, cos, sin):
        zxbcdt = self.in_proj(self.norm(x))
        with torch.autocast(x.device.type, enabled=False):
            o = self.mixer(zxbcdt)
        return x + self.out_proj(o)


class Gpt(torch.nn.Module):
    """The decoder: embedding, the pattern's blocks, final RMSNorm, LM head."""

    def __init__(self, args, policy):
        super().__init__()
        d, n = args.d_model, len(args.pattern)
        self.wte = torch.nn.Embedding(args.vocab, d)
        blocks = []
        for i, kind in enumerate(args.pattern):
            mode = "fp32" if policy == "fp32" else "bf16"
            if policy == "nvfp4" and 0 < i < n - 1:
                mode = "nvfp4"
            if kind == "*":
                blocks.append(Attention(d, args.heads, mode))
            elif kind == "-":
                blocks.append(Mlp(d, args.d_ff, args.mlp, mode))
            else:
                blocks.append(
                    Mamba(d, args.d_state, args.ssm_head_dim, args.expand, args.n_groups, mode)
                )
        self.blocks = torch.nn.ModuleList(blocks)
        self.norm = torch.nn.RMSNorm(d, eps=1e-5)
        self.head = Linear(d, args.vocab, "fp32" if policy == "fp32" else "bf16")

    def forward(self, tokens, cos, sin):
        x = self.wte(tokens)
        for blk in self.blocks:
            x = blk(x, cos, sin)
        return self.head(self.norm(x))


def rope_tables(args, dev):
    """RoPE's cos and sin, [1, seq, 1, head_dim / 2]."""
    hd = args.d_model // args.heads
    inv = 10000.0 ** (-torch.arange(0, hd // 2, device=dev) * 2.0 / hd)
    ang = torch.arange(args.seq, device=dev)[:, None] * inv[None, :]
    return ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]


def synchronize(dev):
    """Waits for the GPU (a no-op on the CPU)."""
    if dev == "cuda":
        torch.cuda.synchronize()


def run(policy, tf32, args, dev):
    """Times `args.steps` training steps of one policy after `args.warmup` and prints the row."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(0)
    model = Gpt(args, policy).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    cos, sin = rope_tables(args, dev)
    autocast = torch.autocast(dev, dtype=torch.bfloat16, enabled=policy == "bf16")

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
    synchronize(dev)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    synchronize(dev)
    ms = (time.perf_counter() - t0) / args.steps * 1000
    tokens = args.batch * args.seq
    print(
        f"| `{args.pattern}` | {policy} | {'on' if tf32 else 'off'} | {ms:.1f} | "
        f"{tokens / ms * 1000:.0f} | {loss.item():.3f} |",
        flush=True,
    )
    del model, opt
    if dev == "cuda":
        torch.cuda.empty_cache()


def self_test():
    """Chunked vs sequential SSD (outputs and input gradients, f64 and f32), and the loss at init
    of a small hybrid, on the CPU."""
    torch.manual_seed(0)
    for seq, dtype in [(256, torch.float64), (100, torch.float64), (256, torch.float32)]:
        bsz, heads, p, groups, n = 2, 8, 16, 2, 16
        x = torch.randn(bsz, seq, heads, p, dtype=dtype, requires_grad=True)
        dt = F.softplus(torch.randn(bsz, seq, heads, dtype=dtype) + dt_bias_init(heads).to(dtype))
        dt.requires_grad_()
        a = (-torch.empty(heads, dtype=dtype).uniform_(1, 16)).requires_grad_()
        b = torch.randn(bsz, seq, groups, n, dtype=dtype, requires_grad=True)
        c = torch.randn(bsz, seq, groups, n, dtype=dtype, requires_grad=True)
        inputs = (x, dt, a, b, c)
        dy = torch.randn(bsz, seq, heads, p, dtype=dtype)
        ys = [ssd_chunked(*inputs), ssd_sequential(*inputs)]
        grads = [torch.autograd.grad(y, inputs, dy) for y in ys]
        rel = lambda u, v: ((u - v).abs().max() / v.abs().max()).item()
        y_err = rel(ys[0], ys[1])
        g_err = max(rel(g0, g1) for g0, g1 in zip(*grads))
        print(
            f"SSD chunked vs sequential, seq {seq} (chunk {min(CHUNK, seq)}), {dtype}: "
            f"max |Δy|/max|y| {y_err:.2e}, worst input gradient {g_err:.2e}"
        )
        assert y_err < (1e-12 if dtype == torch.float64 else 1e-5)
        assert g_err < (1e-12 if dtype == torch.float64 else 1e-4)
    args = argparse.Namespace(
        pattern="M-*-M-", d_model=64, heads=2, d_ff=256, mlp="relu2", seq=96, vocab=256, batch=2,
        d_state=16, ssm_head_dim=16, expand=2, n_groups=1,
    )
    model = Gpt(args, "fp32")
    cos, sin = rope_tables(args, "cpu")
    tok = torch.randint(0, args.vocab, (args.batch, args.seq))
    tgt = torch.randint(0, args.vocab, (args.batch, args.seq))
    with torch.no_grad():
        loss = F.cross_entropy(model(tok, cos, sin).view(-1, args.vocab), tgt.view(-1)).item()
    print(
        f'Loss at init, pattern "{args.pattern}", vocab {args.vocab}: {loss:.4f} '
        f"(ln vocab {math.log(args.vocab):.4f})"
    )
    assert abs(loss - math.log(args.vocab)) < 0.1


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
    p.add_argument("--pattern", help='M Mamba-2, * attention, - MLP (default "*-" × layers)')
    p.add_argument("--mlp", default="gelu", choices=["relu2", "gelu", "swiglu"])
    p.add_argument("--d-ff", type=int, help="MLP width (default 4·d_model)")
    p.add_argument("--d-state", type=int, default=64)
    p.add_argument("--ssm-head-dim", type=int, default=32)
    p.add_argument("--expand", type=int, default=2)
    p.add_argument("--n-groups", type=int, default=1)
    p.add_argument("--self-test", action="store_true", help="check the SSD on the CPU, exit")
    args = p.parse_args()
    args.pattern = args.pattern or "*-" * args.layers
    args.d_ff = args.d_ff or 4 * args.d_model
    if not args.pattern or set(args.pattern) - set("M*-"):
        p.error(f'--pattern must be a non-empty string of "M", "*" and "-", got {args.pattern!r}')
    if args.self_test:
        self_test()
        return
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if dev == "cuda" else "CPU"
    print(f"## PyTorch {torch.__version__} eager peer on {name}\n")
    mamba = (
        f"; Mamba-2 d_state {args.d_state}, head_dim {args.ssm_head_dim}, expand {args.expand}, "
        f"{args.n_groups} group(s), conv window {CONV_WINDOW}, SSD chunk {min(CHUNK, args.seq)}"
        if "M" in args.pattern else ""
    )
    print(
        f"Model: pattern `{args.pattern}`, d_model {args.d_model}, {args.heads} heads, d_ff "
        f"{args.d_ff}, {args.mlp}, seq {args.seq}, vocab {args.vocab}{mamba}; batch {args.batch}; "
        f"{args.warmup} untimed steps, then {args.steps} timed steps.\n"
    )
    print("| pattern | policy | TF32 | ms/step | tokens/s | loss at end |")
    print("|---|---|---|---:|---:|---:|")
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.tf32]
    for policy in args.policies.split(","):
        for tf32 in modes:
            run(policy, tf32, args, dev)


if __name__ == "__main__":
    main()
