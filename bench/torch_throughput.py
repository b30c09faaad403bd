#!/usr/bin/python3
"""PyTorch anchor for bench/train-throughput.ts: training steps of the same BERT, batch and optimizer.

The model is Ballast's PyTorch reference (trainer/reference/torch_bert.py: Hugging Face's
BertForSequenceClassification semantics, dropout 0.1 on), trained with torch.optim.AdamW after
clip_grad_norm_, on one fixed batch of random token ids (full attention, no padding) -- the same
work the TypeScript side times. Run with Debian's torch and OpenBLAS:

    /usr/bin/python3 bench/torch_throughput.py --hidden 128 --layers 2 --heads 2 --batch 16 --seq 128 --steps 10

Prints one JSON line: seconds per timed step, examples/s, torch version, threads, BLAS.
"""
import statistics
import argparse
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "trainer", "reference"))
from torch_bert import BertForSequenceClassification  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hidden", type=int, required=True)
    p.add_argument("--layers", type=int, required=True)
    p.add_argument("--heads", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    config = {
        "vocab_size": 30522,
        "hidden_size": a.hidden,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "intermediate_size": 4 * a.hidden,
        "max_position_embeddings": 512,
        "num_labels": 2,
    }
    model = BertForSequenceClassification(config)
    model.train()
    no_decay = [p for n, p in model.named_parameters() if n.endswith(".bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith(".bias") or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=2e-5)

    g = torch.Generator().manual_seed(1)
    input_ids = torch.randint(1000, 30000, (a.batch, a.seq), generator=g)
    token_type_ids = torch.zeros(a.batch, a.seq, dtype=torch.long)
    token_type_ids[:, a.seq // 2 :] = 1
    attention_mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    labels = torch.arange(a.batch) % 2

    def step():
        loss = model(input_ids, attention_mask, token_type_ids, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    # The BLAS actually loaded (Debian's torch links libblas.so.3, whichever alternative that is).
    with open("/proc/self/maps") as f:
        blas = sorted({line.split()[-1] for line in f if "blas" in line.split()[-1]})
    print(
        json.dumps(
            {
                "torch_version": torch.__version__,
                "threads": torch.get_num_threads(),
                "blas": blas,
                "seconds_per_step": times,
                # the median step, as the tfjs side: a step stalled by another process must not set the ratio
                "examples_per_second": a.batch / statistics.median(times),
                "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
