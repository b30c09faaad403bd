"""The products of bench/matmul.ts on PyTorch (the anchor for wasm's GEMM ceiling).

Reads a JSON list of cases ({"a": shape, "b": shape, "ta": bool, "tb": bool}) on stdin and prints
a JSON list of GFLOP/s, each the best of a few timed loops of about --seconds. Run with Debian's
/usr/bin/python3 and LD_LIBRARY_PATH pointing at OpenBLAS (bench/matmul.ts does both).
"""
import argparse
import json
import sys
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--seconds", type=float, default=0.5)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

out = []
for case in json.load(sys.stdin):
    a = torch.randn(case["a"])
    b = torch.randn(case["b"])
    if case.get("ta"):
        a = a.transpose(-1, -2)
    if case.get("tb"):
        b = b.transpose(-1, -2)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = 1
    for d in torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]):
        batch *= d
    torch.matmul(a, b)
    best = 0.0
    for _ in range(3):
        reps = 0
        t0 = time.perf_counter()
        while reps == 0 or time.perf_counter() - t0 < args.seconds / 3:
            torch.matmul(a, b)
            reps += 1
        best = max(best, 2 * batch * m * k * n * reps / (time.perf_counter() - t0) / 1e9)
    out.append(best)
print(json.dumps(out))
