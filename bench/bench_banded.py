"""Banded ridge at the issue's size (or a smaller one): spectralridge against himalaya.

    python bench/bench_banded.py [--n 3000] [--group 300] [--targets 10000] [--alphas 20]
                                 [--candidates 50] [--threads 1]

Each tool runs in a fresh process (one call: wall and CPU time of the call, whole-process
peak memory, getrusage ``ru_maxrss``; on a loaded machine the CPU time is the steadier):
spectralridge 5-fold, himalaya ``GroupRidgeCV`` (numpy backend) 5-fold on the same candidate
weights and alphas, spectralridge exact LOO. The 5-fold scores of both are checked equal
first. Prints a Markdown table with the machine limit of the 5-fold search: per candidate and
fold one decomposition of the training design (``syrk`` + ``syevd``, timed) and the held-out
multiply-adds ``m n_test r k`` at the measured gemm rate, on the same BLAS threads; each
part is timed with NumPy's and SciPy's BLAS/LAPACK (different OpenBLAS builds) and the
faster one counts.
"""
import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def problem(n, g, k, m, c):
    import spectralridge as sr
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, 3 * g))
    scale = rng.uniform(0, 1, (3, 1, k)).repeat(g, 0).reshape(3 * g, k)
    Y = X @ (rng.standard_normal((3 * g, k)) * scale) + 3 * rng.standard_normal((n, k))
    groups = np.repeat([0, 1, 2], g)
    alphas = np.logspace(-1, 4, m)
    # c candidates: the centre and Dirichlet samples (not the corners: himalaya takes the
    # logarithms of the weights)
    cand = np.delete(sr.dirichlet_candidates(3, c - 1, random_state=0), [1, 2, 3], axis=0)
    return X, Y, groups, alphas, cand


def run_one(tool, n, g, k, m, c, threads):
    X, Y, groups, alphas, cand = problem(n, g, k, m, c)
    with threadpool_limits(threads):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = usage.ru_utime + usage.ru_stime
        t = time.perf_counter()
        if tool == "himalaya":
            from himalaya.backend import set_backend
            from himalaya.ridge import GroupRidgeCV
            set_backend("numpy", on_error="raise")
            model = GroupRidgeCV(groups=groups, cv=5, fit_intercept=True, solver_params=dict(
                n_iter=cand, alphas=alphas, progress_bar=False))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                scores = model.fit(X, Y).cv_scores_
        else:
            import spectralridge as sr
            warnings.simplefilter("ignore", sr.GridEdgeWarning)
            with sr.loo_compression(True):
                res = sr.banded_ridge_cv(X, Y, groups, alphas, candidates=cand,
                                         cv=5 if tool == "kfold" else "loo")
            scores = -res.scores.min(axis=1)
        elapsed = time.perf_counter() - t
        blas = sorted({f"{i['filepath'].rsplit('/', 1)[-1]} {i.get('version')}: "
                       f"{i['num_threads']} thread(s)" for i in threadpool_info()})
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss / 1024  # KiB -> MiB
    np.save(f"/tmp/bench_banded_{tool}.npy", np.asarray(scores, dtype=np.float64))
    print(json.dumps({"time": elapsed, "cpu": usage.ru_utime + usage.ru_stime - cpu0,
                      "peak_mib": peak, "blas": blas}))


def _median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def machine_limit(n, g, k, m, c, threads, folds=5, repeats=5):
    """Seconds of the limit model of the 5-fold search (see the module docstring), each
    part timed with NumPy's and with SciPy's BLAS/LAPACK (two OpenBLAS builds) and the
    faster taken: the gemm rate (multiply-adds per second on 1500 x 1500), the training
    Gram (``syrk``; NumPy's ``X.T @ X``) and its ``syevd`` (NumPy's ``eigh``)."""
    from scipy.linalg import blas, lapack
    p, n_test = 3 * g, n // folds
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n - n_test, p))
    A = np.asfortranarray(rng.standard_normal((1500, 1500)))
    with threadpool_limits(threads):
        rates = {"scipy": 1500 ** 3 / _median_time(lambda: blas.dgemm(1.0, A, A), repeats),
                 "numpy": 1500 ** 3 / _median_time(lambda: A @ A, repeats)}
        G = blas.dsyrk(1.0, X.T, trans=0, lower=0)
        gram = min(_median_time(lambda: blas.dsyrk(1.0, X.T, trans=0, lower=0), repeats),
                   _median_time(lambda: X.T @ X, repeats))
        eigh = min(_median_time(lambda: lapack.dsyevd(G, compute_v=1, lower=0), repeats),
                   _median_time(lambda: np.linalg.eigh(G, UPLO="U"), repeats))
    rate = max(rates.values())
    held_out = float(m) * n_test * min(n - n_test - 1, p) * k / rate
    return c * folds * (gram + eigh + held_out), gram + eigh, rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--group", type=int, default=300)
    parser.add_argument("--targets", type=int, default=10000)
    parser.add_argument("--alphas", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--tools", default="kfold,himalaya,loo")
    a = parser.parse_args()
    size = (a.n, a.group, a.targets, a.alphas, a.candidates)
    if a.one:
        return run_one(a.one, *size, a.threads)
    out = {}
    for tool in a.tools.split(","):
        cmd = [sys.executable, __file__, "--one", tool, "--n", str(a.n), "--group",
               str(a.group), "--targets", str(a.targets), "--alphas", str(a.alphas),
               "--candidates", str(a.candidates), "--threads", str(a.threads)]
        out[tool] = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                              text=True).stdout.strip().splitlines()[-1])
        print(tool, out[tool], flush=True)
    if "kfold" in out and "himalaya" in out:
        ours, ref = (np.load(f"/tmp/bench_banded_{t}.npy") for t in ("kfold", "himalaya"))
        assert np.allclose(ours, ref, rtol=1e-6, atol=1e-9), np.abs(ours - ref).max()
    shape = f"n={a.n}, 3 groups of {a.group}, k={a.targets}, m={a.alphas}, " \
            f"{a.candidates} candidates, {a.threads} BLAS thread(s)"
    print(f"\n{shape}\n\n| tool | wall time | CPU time | peak MiB (process) |\n"
          "|---|---:|---:|---:|")
    for tool, r in out.items():
        print(f"| {tool} | {r['time']:.3g} s | {r['cpu']:.3g} s | {r['peak_mib']:.0f} |")
    blas = sorted({b for r in out.values() for b in r["blas"]})
    limit, decomposition, rates = machine_limit(*size, a.threads)
    print(f"| machine limit of the 5-fold search | {limit:.3g} s | | |\n\n(one decomposition "
          f"{decomposition * 1e3:.3g} ms; gemm G multiply-adds/s: SciPy "
          f"{rates['scipy'] / 1e9:.3g}, NumPy {rates['numpy'] / 1e9:.3g}, the faster taken)\n\nBLAS during the calls "
          f"(threadpoolctl): {'; '.join(blas)}")
    if "kfold" in out:
        print(f"\n5-fold / limit: {out['kfold']['time'] / limit:.2f} by wall time, "
              f"{out['kfold']['cpu'] / limit:.2f} by CPU time")


if __name__ == "__main__":
    main()
