"""Leave-one-out and K-fold with the fused kernels on 1 and 2 OpenMP threads (run by hand).

``python bench/bench_threads.py [--repeat 3]``: LOO n=2000, p=500, 1000 targets, 20 and
100 alphas, per-target alpha, float64 and float32; each on 1 OpenMP thread (the kernels
serial, BLAS on every core) and on all (target blocks in parallel, BLAS one thread each).
Prints medians and the ratio of each pair, measured in one run, alternating.
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import spectralridge as sr


def data(n, p, k, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) @ np.diag(np.logspace(0, -2, p))
    Y = X @ rng.standard_normal((p, k)) + rng.standard_normal((n, k))
    return X.astype(dtype), Y.astype(dtype)


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), min(times), max(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for dtype in (np.float64, np.float32):
        X, Y = data(2000, 500, 1000, dtype)
        for m in (20, 100):
            alphas = np.logspace(-3, 5, m)
            run = lambda: sr.ridge_cv(X, Y, alphas, cv="loo", alpha_per_target=True)
            res = {}
            for threads in (1, None):
                with threadpool_limits(threads, user_api="openmp"):
                    run()  # warm up
                    res[threads] = timed(run, args.repeat)
            one, many = res[1], res[None]
            print(f"{np.dtype(dtype).name} m={m}: 1 thread {one[0]:.3f} s "
                  f"[{one[1]:.3f}-{one[2]:.3f}], all threads {many[0]:.3f} s "
                  f"[{many[1]:.3f}-{many[2]:.3f}], ratio {one[0] / many[0]:.2f}x", flush=True)


if __name__ == "__main__":
    main()
