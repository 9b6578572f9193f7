"""PyTorch reference throughputs for `npm run bench`, on the same shapes as the kit's quick models.

    python bench/torch_reference.py [--threads 1] [--models NAME,NAME] [--out FILE.json]

Needs only `torch` (not a kit dependency: install it in any Python environment). Prints one JSON line
per measurement and, with --out, writes them all to one file that `npm run bench -- --pytorch FILE`
compares against. The models mirror src/lm/configs.ts (gpt2-quick-s: d=64, 2 layers, 4 heads, MLP 256,
tied head, learned positions; llama2-quick: d=64, 2 layers, 4 heads, SwiGLU 176, RMSNorm, RoPE, untied
head; vocabulary 1024, context 256; gpt2-9m, the paper's GPT-2: d=256, 8 layers, 8 heads, MLP 1024,
vocabulary 8000, context 2048); training is AdamW steps on 16 x 256 tokens (gpt2-9m: 8 x 512);
sampling decodes 100 documents x 200 tokens through a KV cache at temperature 1, as the kit does.
One thread by default, as the kit's native backend runs (one TensorFlow thread per process).
"""
import argparse
import json
import math
import platform
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "gpt2-quick-s": dict(arch="gpt2", vocab=1024, context=256, d=64, layers=2, heads=4, hidden=256),
    "llama2-quick": dict(arch="llama", vocab=1024, context=256, d=64, layers=2, heads=4, hidden=176),
    "gpt2-9m": dict(arch="gpt2", vocab=8000, context=2048, d=256, layers=8, heads=8, hidden=1024, batch=8, seq=512, steps=3, sample=False),
}


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.gain


def rope(x, start):
    """Rotary position embedding of x [B, H, T, hd] for positions start .. start+T-1."""
    b, h, t, hd = x.shape
    inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    ang = torch.arange(start, start + t, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = ang.cos(), ang.sin()
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.heads, self.llama = c["d"], c["heads"], c["arch"] == "llama"
        self.n1 = RMSNorm(d) if self.llama else nn.LayerNorm(d)
        self.n2 = RMSNorm(d) if self.llama else nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=not self.llama)
        self.proj = nn.Linear(d, d, bias=not self.llama)
        if self.llama:
            self.gate = nn.Linear(d, c["hidden"], bias=False)
            self.up = nn.Linear(d, c["hidden"], bias=False)
            self.down = nn.Linear(c["hidden"], d, bias=False)
        else:
            self.fc = nn.Linear(d, c["hidden"])
            self.out = nn.Linear(c["hidden"], d)

    def forward(self, x, cache=None, start=0):
        b, t, d = x.shape
        q, k, v = self.qkv(self.n1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        if self.llama:
            q, k = rope(q, start), rope(k, start)
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(q, k, v, is_causal=cache is None or start == 0)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        h = self.n2(x)
        if self.llama:
            return x + self.down(F.silu(self.gate(h)) * self.up(h))
        return x + self.out(F.gelu(self.fc(h), approximate="tanh"))


class LM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c["vocab"], c["d"])
        self.wpe = nn.Embedding(c["context"], c["d"]) if c["arch"] == "gpt2" else None
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["d"]) if c["arch"] == "llama" else nn.LayerNorm(c["d"])
        self.head = nn.Linear(c["d"], c["vocab"], bias=False) if c["arch"] == "llama" else None

    def forward(self, ids, caches=None, start=0):
        x = self.wte(ids)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(start, start + ids.shape[1]))
        for i, blk in enumerate(self.blocks):
            x = blk(x, None if caches is None else caches[i], start)
        x = self.norm(x)
        return self.head(x) if self.head is not None else x @ self.wte.weight.T


def train_rate(c, batch=16, seq=256, steps=10):
    torch.manual_seed(0)
    model = LM(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    data = torch.randint(0, c["vocab"], (steps + 1, batch, seq + 1))

    def step(w):
        loss = F.cross_entropy(model(w[:, :-1]).reshape(-1, c["vocab"]), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(data[0])
    t0 = time.perf_counter()
    for i in range(steps):
        step(data[i + 1])
    return steps * batch * seq / (time.perf_counter() - t0)


@torch.no_grad()
def sample_rate(c, docs=100, tokens=200):
    torch.manual_seed(0)
    model = LM(c).eval()

    def run(n):
        caches = [dict() for _ in model.blocks]
        ids = torch.zeros(docs, 1, dtype=torch.long)
        for t in range(n):
            logits = model(ids, caches, start=t)[:, -1]
            ids = torch.multinomial(F.softmax(logits, dim=-1), 1)

    run(2)
    t0 = time.perf_counter()
    run(tokens)
    return docs * tokens / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", help="comma-separated subset of " + ", ".join(CONFIGS) + " (default: all)")
    ap.add_argument("--out")
    args = ap.parse_args()
    names = args.models.split(",") if args.models else list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        ap.error(f"--models: unknown {', '.join(unknown)} (known: {', '.join(CONFIGS)})")
    torch.set_num_threads(args.threads)
    # TensorFlow's CPU kernels flush denormal floats to zero; PyTorch's do not unless asked, and a
    # training step whose activations or gradients underflow into denormals then runs its products
    # several times slower (gpt2-9m: ~16 s a step instead of ~2.6 s here). Compare like with like.
    torch.set_flush_denormal(True)
    rows = []
    for name in names:
        c = CONFIGS[name]
        rates = [("train", train_rate(c, c.get("batch", 16), c.get("seq", 256), c.get("steps", 10)))]
        if c.get("sample", True):
            rates.append(("sample", sample_rate(c)))
        for kind, rate in rates:
            row = dict(model=name, kind=kind, tokensPerSecond=round(rate, 1), threads=args.threads, torch=torch.__version__, machine=platform.processor() or platform.machine())
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
