#!/usr/bin/python3
"""PyTorch baseline for the Go t5 package: the same T5 (v1.0) math in plain
torch.nn, random weights, one batch of B x S encoder and B x T decoder tokens.

Times forward-only (no_grad, logits + loss) or a full training step (zero_grad,
forward, backward, clip_grad_norm_(1.0), AdamW step) after warm-up and prints
the median of N steps, tokens/s (B*S encoder tokens per step, as the Go
benchmarks count) and the process's peak RSS (ru_maxrss).

Run one (model, pass) per process so that the peak RSS belongs to that pass:
    /usr/bin/python3 bench/pytorch/t5_step.py --model t5-small --pass train
"""
import argparse
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    # d_model, d_ff, layers per stack, heads
    "t5-small": (512, 2048, 6, 8),
    "t5-base": (768, 3072, 12, 12),
}
VOCAB, D_KV, BUCKETS, MAX_DIST, EPS = 32128, 64, 32, 128, 1e-6
SELF_MASK, CROSS_MASK = -10000.0, -1e9  # additive mask values of the Go code


def bucket(rel, bidirectional):
    """transformers' T5Attention._relative_position_bucket."""
    nb, out = BUCKETS, torch.zeros_like(rel)
    if bidirectional:
        nb //= 2
        out += (rel > 0).long() * nb
        rel = rel.abs()
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    exact = nb // 2
    large = exact + (torch.log(rel.float() / exact) / math.log(MAX_DIST / exact) * (nb - exact)).long()
    large = torch.min(large, torch.full_like(large, nb - 1))
    return out + torch.where(rel < exact, rel, large)


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        var = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + EPS))


class Attention(nn.Module):
    def __init__(self, d, h, rel_bias, bidirectional):
        super().__init__()
        self.h = h
        inner = h * D_KV
        self.q, self.k, self.v = (nn.Linear(d, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, d, bias=False)
        self.bidirectional = bidirectional
        self.rel = nn.Embedding(BUCKETS, h) if rel_bias else None

    def position_bias(self, tq, tk):
        rel = torch.arange(tk)[None, :] - torch.arange(tq)[:, None]
        return self.rel(bucket(rel, self.bidirectional)).permute(2, 0, 1)[None]  # [1, H, tq, tk]

    def forward(self, x, kv, bias):
        B, tq, _ = x.shape
        tk = kv.shape[1]
        q = self.q(x).view(B, tq, self.h, D_KV).transpose(1, 2)
        k = self.k(kv).view(B, tk, self.h, D_KV).transpose(1, 2)
        v = self.v(kv).view(B, tk, self.h, D_KV).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(2, 3)) + bias  # no 1/sqrt(d) scaling
        p = F.softmax(scores.float(), dim=-1)
        ctx = torch.matmul(p, v).transpose(1, 2).reshape(B, tq, self.h * D_KV)
        return self.o(ctx)


class FFN(nn.Module):
    def __init__(self, d, dff):
        super().__init__()
        self.wi = nn.Linear(d, dff, bias=False)
        self.wo = nn.Linear(dff, d, bias=False)

    def forward(self, x):
        return self.wo(F.relu(self.wi(x)))


class Block(nn.Module):
    def __init__(self, d, dff, h, first, decoder):
        super().__init__()
        self.ln_self, self.self_attn = RMSNorm(d), Attention(d, h, first, not decoder)
        if decoder:
            self.ln_cross, self.cross_attn = RMSNorm(d), Attention(d, h, False, False)
        self.ln_ff, self.ff = RMSNorm(d), FFN(d, dff)

    def forward(self, x, self_bias, enc=None, cross_bias=None):
        y = self.ln_self(x)
        x = x + self.self_attn(y, y, self_bias)
        if enc is not None:
            x = x + self.cross_attn(self.ln_cross(x), enc, cross_bias)
        return x + self.ff(self.ln_ff(x))


class Stack(nn.Module):
    def __init__(self, d, dff, L, h, decoder):
        super().__init__()
        self.blocks = nn.ModuleList(Block(d, dff, h, i == 0, decoder) for i in range(L))
        self.ln = RMSNorm(d)

    def forward(self, x, mask, enc=None, cross_bias=None):
        # The position bias is computed in the first layer and reused.
        bias = self.blocks[0].self_attn.position_bias(x.shape[1], x.shape[1]) + mask
        for blk in self.blocks:
            x = blk(x, bias, enc, cross_bias)
        return self.ln(x)


class T5(nn.Module):
    def __init__(self, name):
        super().__init__()
        d, dff, L, h = SHAPES[name]
        self.d = d
        self.shared = nn.Embedding(VOCAB, d)
        self.encoder = Stack(d, dff, L, h, False)
        self.decoder = Stack(d, dff, L, h, True)

    def forward(self, ids, attn_mask, dec_ids, labels):
        B, S = ids.shape
        T = dec_ids.shape[1]
        pad = (1 - attn_mask[:, None, None, :].float())
        enc = self.encoder(self.shared(ids), pad * SELF_MASK)
        causal = torch.triu(torch.full((T, T), SELF_MASK), diagonal=1)[None, None]
        dec = self.decoder(self.shared(dec_ids), causal, enc, pad * CROSS_MASK)
        logits = torch.matmul(dec * self.d ** -0.5, self.shared.weight.t())  # tied, rescaled
        loss = F.cross_entropy(logits.view(-1, VOCAB), labels.view(-1), ignore_index=-100)
        return logits, loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="t5-small", choices=sorted(SHAPES))
    ap.add_argument("--pass", dest="mode", default="train", choices=["forward", "train"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--config", action="store_true", help="print torch.__config__.show()")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.config:
        print(torch.__version__)
        print(torch.__config__.show())
        print(torch.__config__.parallel_info())

    m = T5(a.model)
    with torch.no_grad():  # HF-like init scale so the softmax is not saturated
        for p in m.parameters():
            if p.dim() == 2:
                p.normal_(0, p.shape[1] ** -0.5)
    B, S = a.batch, a.seq
    ids = torch.randint(2, VOCAB, (B, S))
    mask = torch.ones(B, S, dtype=torch.long)
    mask[:, S * 9 // 10:] = 0  # last 10 % of each encoder row padded, as the Go benchmark
    labels = torch.randint(2, VOCAB, (B, S))
    dec_ids = torch.cat([torch.zeros(B, 1, dtype=torch.long), labels[:, :-1]], 1)  # shift right
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.0)
    rss_model = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def step():
        if a.mode == "forward":
            with torch.no_grad():
                m(ids, mask, dec_ids, labels)
            return
        opt.zero_grad()
        _, loss = m(ids, mask, dec_ids, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()

    m.train(a.mode == "train")
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    nparam = sum(p.numel() for p in m.parameters())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"{a.model} {a.mode} B={B} S=T={S} threads={torch.get_num_threads()} params={nparam/1e6:.1f}M "
          f"median {med:.3f} s/step (min {min(times):.3f}, max {max(times):.3f}, n={a.n}) "
          f"{B*S/med:.0f} tok/s peak-RSS {peak/1024:.0f} MiB (after model+optimizer build {rss_model/1024:.0f} MiB)")


if __name__ == "__main__":
    main()
