"""The fused kernels' workloads on 1 or more OpenMP threads (run by hand).

``python bench/bench_threads.py WORKLOAD [--threads N] [--repeat 3] [--himalaya]`` prints
the median, min and max seconds of `spectralridge.ridge_cv` (or, with ``--himalaya``, of
himalaya's NumPy-backend ``RidgeCV`` on the same folds) on one workload, per-target alpha:

- ``loo20``, ``loo100`` (``-f32``): leave-one-out, n=2000, p=500, 1000 targets, 20 or 100
  alphas ``logspace(-3, 5)``, float64 (float32);
- ``w6``: W6 at one tenth of the targets (n=3000, p=1000, 3000 targets, 20 alphas
  ``logspace(-1, 6)``, 3 contiguous folds, float32; data of ``bench/gpu.py``).

``--threads`` sets ``kernel_threads`` (1: the kernels run serially, BLAS on every core;
more: target blocks over that many OpenMP threads, BLAS one thread each; the default
'auto' is 1 for the exact kernel and OpenMP's count for the compressed one). Run each configuration in a fresh
process, alternating, to compare them on a shared machine.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu import folds, himalaya_fit, make_w6  # noqa: E402

import spectralridge as sr  # noqa: E402


def workload(name):
    """(X, Y, alphas, cv) of a workload."""
    if name == "w6":
        X, Y = make_w6(3000, 1000, 3000)
        return X, Y, np.logspace(-1, 6, 20), 3
    m = int(name[3:].split("-")[0])
    dtype = np.float32 if name.endswith("-f32") else np.float64
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 500)) * np.logspace(0, -2, 500)
    Y = X @ rng.standard_normal((500, 1000)) + rng.standard_normal((2000, 1000))
    return X.astype(dtype), Y.astype(dtype), np.logspace(-3, 5, m), "loo"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=("loo20", "loo100", "loo20-f32", "loo100-f32",
                                             "w6"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--himalaya", action="store_true")
    args = parser.parse_args()
    X, Y, alphas, cv = workload(args.workload)
    if args.himalaya:
        splits = folds(X.shape[0], cv)
        run = lambda: himalaya_fit("numpy", X, Y, alphas, splits)  # noqa: E731
    else:
        run = lambda: sr.ridge_cv(X, Y, alphas, cv=cv, alpha_per_target=True)  # noqa: E731
    with sr.config_context(kernel_threads=args.threads):
        run()  # warm-up
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
    print(f"{args.workload} {'himalaya' if args.himalaya else 'spectralridge'} threads="
          f"{args.threads}: median {np.median(times):.3f} s, min {min(times):.3f}, "
          f"max {max(times):.3f}", flush=True)


if __name__ == "__main__":
    main()
