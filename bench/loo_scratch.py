"""Scratch memory of exact leave-one-out on tall data (run by hand; small in CI).

``python bench/loo_scratch.py [--n 1000000] [--p 50] [--targets 200] [--alphas 20]`` runs
``ridge_cv(X, Y, logspace(-2, 4, m), cv="loo")`` on float64 ``X W + noise`` (generated in
blocks) with one BLAS thread and prints the peak of NumPy's allocations during the call
(tracemalloc), the part of it that is ``U`` (n x rank) and the outputs, and the rest: the
scratch, which the issue bounds by 64 MB whatever n.
"""
import argparse
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

import spectralridge as sr


def data(n, p, k, seed=0):
    rng = np.random.default_rng(seed)
    X = np.empty((n, p))
    Y = np.empty((n, k))
    W = rng.standard_normal((p, k))
    for i in range(0, n, 100_000):
        rows = slice(i, min(n, i + 100_000))
        X[rows] = rng.standard_normal((rows.stop - i, p))
        Y[rows] = X[rows] @ W + rng.standard_normal((rows.stop - i, k))
    return X, Y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--p", type=int, default=50)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--alphas", type=int, default=20)
    args = parser.parse_args()
    X, Y = data(args.n, args.p, args.targets)
    alphas = np.logspace(-2, 4, args.alphas)
    with threadpool_limits(1):
        tracemalloc.start()
        t = time.perf_counter()
        result = sr.ridge_cv(X, Y, alphas, cv="loo")
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    rank = int(np.linalg.matrix_rank(X[:10_000]))
    mib = 2.0 ** 20
    U = args.n * rank * 8
    outputs = sum(np.asarray(a).nbytes for a in (result.scores, result.coef, result.intercept,
                                                 result.best_alpha, result.best_score))
    print(f"n={args.n} p={args.p} targets={args.targets} alphas={args.alphas}: {seconds:.1f} s, "
          f"traced peak {peak / mib:.1f} MiB = U {U / mib:.1f} MiB + outputs "
          f"{outputs / mib:.1f} MiB + scratch {(peak - U - outputs) / mib:.1f} MiB "
          f"(X {X.nbytes / mib:.0f} MiB, Y {Y.nbytes / mib:.0f} MiB not counted)")


if __name__ == "__main__":
    main()
