#!/usr/bin/env python3
"""Times PyTorch on the shapes of the cpu package's Go benchmarks, for BENCHMARKS.md.

    /usr/bin/python3 worker/internal/cpu/bench/torch_bench.py [--runs 5]

Prints one line per shape and thread count: the median over --runs runs of the mean time per
call, the GFLOP/s and the CPU time of all threads per call, in the same units as
`go test -bench 'Sgemm|Conv2d'` (on a shared machine, CPU time is the steadier measure). Install
libopenblas0-pthread first; Debian's torch otherwise multiplies with the reference BLAS.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

GEMM = [  # name, m, n, k: C[m,n] = A[m,k] @ B[k,n]
    ("square256", 256, 256, 256),
    ("square512", 512, 512, 512),
    ("square1024", 1024, 1024, 1024),
    ("mlp64x512x512", 64, 512, 512),
    ("mlp1x512x512", 1, 512, 512),
    ("conv3136x576x64", 3136, 64, 576),
    ("conv64x576x3136", 64, 3136, 576),
]
CONV = [  # name, in channels, height=width, out channels, kernel, stride (ResNet-18 layers)
    ("conv1_3x224_7x7s2", 3, 224, 64, 7, 2),
    ("layer1_64x56_3x3", 64, 56, 64, 3, 1),
    ("layer2_128x28_3x3", 128, 28, 128, 3, 1),
    ("layer4_512x7_3x3", 512, 7, 512, 3, 1),
]


def timeit(fn, min_time=0.3):
    """Returns (wall seconds, process CPU seconds of all threads) per call."""
    fn()
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < min_time:
        fn()
        n += 1
    return (time.perf_counter() - start) / n, (time.process_time() - cpu) / n


def median_time(fn, runs):
    samples = [timeit(fn) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def run(threads, runs):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, m, n, k in GEMM:
            a, b = torch.randn(m, k), torch.randn(k, n)
            c = torch.empty(m, n)
            t, cpu = median_time(lambda: torch.matmul(a, b, out=c), runs)
            print(f"Sgemm/{name}/threads={threads}\t{t * 1e9:.0f} ns/op\t{2 * m * n * k / t / 1e9:.2f} GFLOP/s"
                  f"\t{cpu * 1e3:.3f} cpu-ms/op", flush=True)
        for name, c_in, hw, c_out, k, s in CONV:
            x = torch.randn(1, c_in, hw, hw)
            w, bias = torch.randn(c_out, c_in, k, k), torch.randn(c_out)
            oh = (hw + 2 * (k // 2) - k) // s + 1
            t, cpu = median_time(lambda: F.relu(F.conv2d(x, w, bias, s, k // 2)), runs)
            flops = 2 * c_out * oh * oh * c_in * k * k
            print(f"Conv2dResNet18/{name}/threads={threads}\t{t * 1e9:.0f} ns/op\t{flops / t / 1e9:.2f} GFLOP/s"
                  f"\t{cpu * 1e3:.3f} cpu-ms/op", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="run one thread count in this process")
    args = ap.parse_args()
    if args.threads:
        run(args.threads, args.runs)
        return
    print(f"# torch {torch.__version__}")
    for threads in (1, 2):
        # OpenBLAS (matmul) and OpenMP (oneDNN convolutions) read their thread counts at load
        # time, so each count runs in a fresh process with both set.
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        subprocess.run([sys.executable, __file__, "--runs", str(args.runs), "--threads", str(threads)],
                       env=env, check=True)


if __name__ == "__main__":
    main()
