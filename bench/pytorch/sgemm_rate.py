"""SGEMM rate of PyTorch's CPU BLAS at the T5 training-step shapes.

The FLOP limit of a training step is its GEMM FLOP count over the best
rate the machine's tuned BLAS reaches at those shapes; this measures that
rate the way the official code's step calls it (torch.matmul on float32,
torch.bmm for attention's per-head products, torch.set_num_threads),
alternating shapes, --rounds rounds of --reps calls; it prints the median
and the best round (on a shared machine the median is the one to compare
with other medians).

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=SKYLAKEX \
        /usr/bin/python3 bench/pytorch/sgemm_rate.py --threads 2
"""
import argparse
import json
import statistics
import time

import torch

# (M, K, N, transposed B): the linear layers of t5-small and t5-base at
# 1,024 rows (forward x·Wᵀ, backward dy·W), and the LM head.
SHAPES = [
    (1024, 512, 512, True), (1024, 512, 2048, True), (1024, 2048, 512, True), (1024, 512, 512, False),
    (1024, 512, 32128, True), (1024, 32128, 512, False),
    (1024, 768, 768, True), (1024, 768, 3072, True), (1024, 3072, 768, True), (1024, 768, 768, False),
    (128, 512, 512, True), (128, 768, 3072, True),
]

# (batch, M, K, N, transposed B): attention's per-head products of t5-small
# at batch 8 × 8 heads, 128 tokens: scores q·kᵀ, context p·v, and the
# backward's d(scores)·k and d(context)·vᵀ.
BMM_SHAPES = [(64, 128, 64, 128, True), (64, 128, 128, 64, False)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ops = []
    for m, k, n, tb in SHAPES:
        x = torch.randn(m, k)
        w = torch.randn(n, k) if tb else torch.randn(k, n)
        ops.append(((m, k, n, tb), x, w))
    for bt, m, k, n, tb in BMM_SHAPES:
        x = torch.randn(bt, m, k)
        w = torch.randn(bt, n, k) if tb else torch.randn(bt, k, n)
        ops.append(((m, k, n, tb, bt), x, w))
    rates = {}
    for _ in range(a.rounds):
        for key, x, w in ops:
            f = (lambda: x @ w.transpose(-1, -2)) if key[3] else (lambda: x @ w)
            f()
            t0 = time.perf_counter()
            for _ in range(a.reps):
                f()
            dt = (time.perf_counter() - t0) / a.reps
            batch = key[4] if len(key) > 4 else 1
            rates.setdefault(key, []).append(2 * batch * key[0] * key[1] * key[2] / dt / 1e9)
    rows = []
    for key, g in rates.items():
        m, k, n, tb = key[:4]
        batch = key[4] if len(key) > 4 else 1
        med, best = statistics.median(g), max(g)
        rows.append({"m": m, "k": k, "n": n, "transB": tb, "batch": batch, "gflops": best, "median_gflops": med})
        name = f"{batch}×" if batch > 1 else ""
        print(f"{name}{m}x{k}x{n} {'NT' if tb else 'NN'}: median {med:.1f}, best {best:.1f} GFLOP/s")
    print(f"torch {torch.__version__}, {a.threads} threads, {a.rounds} rounds × {a.reps}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"torch": torch.__version__, "threads": a.threads, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
