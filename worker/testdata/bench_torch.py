#!/usr/bin/env python3
"""Times PyTorch on the archives, batches and thread counts of the Go BenchmarkModel.

Usage (from worker/testdata, with Debian's python3-torch and libopenblas0-pthread):
    /usr/bin/python3 bench_torch.py [--runs 7]

Prints one line per case, "name/bB/tT  items/s", the median over --runs timed repetitions
of a loop of at least 0.2 s after a warm-up, under torch.no_grad().
"""
import argparse
import os
import statistics
import time

import torch

CASES = [
    ("mlp", "torch113/mlp_frozen.pt", (16,), (1, 64)),
    ("resnet18", "gen/torch113/resnet18_frozen.pt", (3, 224, 224), (1, 8)),
    ("transformer", "torch113/transformer.pt", (5, 16), (8,)),
]


def time_case(model, x, runs):
    with torch.no_grad():
        for _ in range(3):
            model(x)
        n = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                model(x)
            if time.perf_counter() - t0 >= 0.2:
                break
            n *= 2
        rates = []
        for _ in range(runs):
            t0 = time.perf_counter()
            for _ in range(n):
                model(x)
            rates.append(n * x.shape[0] / (time.perf_counter() - t0))
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    print("torch", torch.__version__)
    for name, archive, shape, batches in CASES:
        if not os.path.exists(archive):
            print("%s: %s absent, skipped" % (name, archive))
            continue
        model = torch.jit.load(archive).eval()
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for b in batches:
                x = torch.randn((b,) + shape)
                print("%s/b%d/t%d\t%.1f items/s" % (name, b, threads, time_case(model, x, args.runs)))


if __name__ == "__main__":
    main()
