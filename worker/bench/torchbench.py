#!/usr/bin/env python3
"""The PyTorch side of worker/bench/run.sh: times one archive at one batch size and thread
count the way enginebench times our engine, and prints "items/s cpu_us/item".

Usage: torchbench.py ARCHIVE SHAPE BATCH THREADS [SECONDS]
  SHAPE is the input shape without the batch dimension, comma-separated (3,224,224).
Inputs are all ones. The timed loop of warm calls under torch.no_grad() lasts at least
SECONDS (default 1) after two warm-up calls; cpu_us/item is the process CPU time (user +
system, all threads) per batch element over that loop. Run it with OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set to THREADS (run.sh does), so that no library
starts more threads than torch.set_num_threads allows.
"""
import sys
import time

import torch


def main():
    archive, shape, batch, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
    torch.set_num_threads(threads)
    model = torch.jit.load(archive).eval()
    x = torch.ones((batch,) + tuple(int(d) for d in shape.split(",")))
    with torch.no_grad():
        for _ in range(2):
            model(x)
        runs, cpu0, t0 = 0, time.process_time(), time.perf_counter()
        while runs == 0 or time.perf_counter() - t0 < seconds:
            model(x)
            runs += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    items = runs * batch
    print("%.2f %.2f" % (items / wall, cpu * 1e6 / items))


if __name__ == "__main__":
    main()
