#!/usr/bin/env python3
"""PyTorch eager baseline on the GPU for one T5 training step, full
fine-tuning or Compacter, to set against the Go cuda backend.

The model is t5_step.py's plain-torch T5 v1.0 (relative position bias, RMS
norm, ReLU FFN, tied embeddings; random weights, no transformers needed).
--method compacter adds Compacter adapters as in the paper (Karimi Mahabadi
et al. 2021): after the attention and after the feed-forward sublayer of
every block (self-attention only; not cross-attention, as the official
code), h + up(relu(down(h))) with down d -> d/reduction and up back,
both LPHM layers W = sum_i kron(A_i, s_i t_i) with rank 1, n = 4 and the
rule A shared by every adapter of the model; only the adapters and the layer
norms are trained (the official code's "materialise W, then matmul").

One step = zero_grad, forward, backward, clip_grad_norm_(1.0), AdamW. Prints
one JSON line: median seconds per step, tokens per second and the peak of
torch.cuda.max_memory_allocated (or ru_maxrss on the CPU).

    python3 bench/pytorch/t5_step_gpu.py --model t5-base --method compacter
    python3 bench/pytorch/t5_step_gpu.py --model t5-base --method full
    /usr/bin/python3 bench/pytorch/t5_step_gpu.py --device cpu --model tiny --batch 2 --seq 8 -n 1
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import t5_step  # noqa: E402  (the model code)

t5_step.SHAPES.setdefault("tiny", (128, 256, 2, 4))  # for a quick check on a CPU


class LPHM(nn.Module):
    """y = x H + b, H = sum_i kron(A[i], S[i] T[i]); A is the shared rule."""

    def __init__(self, rule, d_in, d_out, rank=1):
        super().__init__()
        n = rule.shape[0]
        assert d_in % n == 0 and d_out % n == 0
        self.rule = rule  # shared nn.Parameter, registered by the model
        self.s = nn.Parameter(torch.randn(n, d_in // n, rank) * 0.01)
        self.t = nn.Parameter(torch.randn(n, rank, d_out // n) * 0.01)
        self.b = nn.Parameter(torch.zeros(d_out))

    def forward(self, x):
        w = torch.bmm(self.s, self.t)  # [n, in/n, out/n]
        h = (self.rule[:, :, None, :, None] * w[:, None, :, None, :]).sum(0)  # [n, in/n, n, out/n]
        n, p, _, q = h.shape
        return x @ h.reshape(n * p, n * q) + self.b


class Adapter(nn.Module):
    def __init__(self, rule, d, reduction):
        super().__init__()
        self.down = LPHM(rule, d, d // reduction)
        self.up = LPHM(rule, d // reduction, d)

    def forward(self, h):
        return h + self.up(F.relu(self.down(h)))


def add_compacter(model, n=4, reduction=32):
    """Puts an adapter after the attention and after the FFN of every block
    and freezes everything but the adapters and the layer norms."""
    for p in model.parameters():
        p.requires_grad_(False)
    model.phm_rule = nn.Parameter(torch.randn(n, n, n) * 0.1)
    d = model.d
    for stack in (model.encoder, model.decoder):
        for blk in stack.blocks:
            blk.ad_attn, blk.ad_ff = Adapter(model.phm_rule, d, reduction), Adapter(model.phm_rule, d, reduction)
            blk.forward = adapted_forward.__get__(blk)
    for name, p in model.named_parameters():
        if name.startswith("phm_rule") or ".ad_" in name or ".ln" in name or name.endswith("ln.weight"):
            p.requires_grad_(True)


def adapted_forward(self, x, self_bias, enc=None, cross_bias=None):
    """t5_step.Block.forward with adapters on the sublayer outputs."""
    y = self.ln_self(x)
    x = x + self.ad_attn(self.self_attn(y, y, self_bias))
    if enc is not None:
        x = x + self.cross_attn(self.ln_cross(x), enc, cross_bias)
    return x + self.ad_ff(self.ff(self.ln_ff(x)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="t5-base", choices=sorted(t5_step.SHAPES))
    ap.add_argument("--method", default="compacter", choices=["full", "compacter"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--tf32", action="store_true", help="allow TF32 matmuls (default: strict FP32, as the Go backend)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    if hasattr(torch, "set_default_device"):
        torch.set_default_device(dev)  # t5_step builds masks and positions without a device

    m = t5_step.T5(a.model)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 2:
                p.normal_(0, p.shape[1] ** -0.5)
    if a.method == "compacter":
        add_compacter(m)
    m.to(dev).train()
    params = [p for p in m.parameters() if p.requires_grad]
    B, S = a.batch, a.seq
    ids = torch.randint(2, t5_step.VOCAB, (B, S), device=dev)
    mask = torch.ones(B, S, dtype=torch.long, device=dev)
    mask[:, S * 9 // 10:] = 0
    labels = torch.randint(2, t5_step.VOCAB, (B, S), device=dev)
    dec_ids = torch.cat([torch.zeros(B, 1, dtype=torch.long, device=dev), labels[:, :-1]], 1)
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    cuda = dev.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def step():
        opt.zero_grad(set_to_none=True)
        _, loss = m(ids, mask, dec_ids, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    for _ in range(a.warmup):
        step()
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(a.n):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**20
        card = torch.cuda.get_device_name()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        card = "cpu"
    print(json.dumps({
        "model": a.model, "method": a.method, "device": card, "torch": torch.__version__, "tf32": a.tf32,
        "batch": B, "seq": S, "trainable_params": sum(p.numel() for p in params),
        "params": sum(p.numel() for p in m.parameters()), "s_per_step": round(med, 5),
        "min_s": round(min(times), 5), "max_s": round(max(times), 5), "steps": a.n,
        "tokens_per_s": round(B * S / med, 1), "peak_mib": round(peak, 1),
        "peak_kind": "cuda.max_memory_allocated" if cuda else "ru_maxrss",
    }))


if __name__ == "__main__":
    main()
