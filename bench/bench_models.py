"""Timings of the models of issue 13 against their baselines, as ratios in one run.

    python bench/bench_models.py [--threads 1] [--repeats 3] [--small]
                                 [--only unpenalized kernel banded]

Each comparison first checks that both sides give the same answer, then reports the median
of `repeats` calls (one call for anything above 20 s). BLAS threads are limited with
threadpoolctl. Prints a Markdown table.
"""
import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import spectralridge as sr


def timed(func, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t)
        if times[-1] > 20:
            break
    return float(np.median(times)), out


def unpenalized(repeats, small):
    n, p, k, u = (2000, 200, 50, 5) if small else (5000, 500, 200, 10)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p)) + rng.uniform(-2, 2, p)
    Y = X @ rng.standard_normal((p, k)) + 10 * rng.standard_normal((n, k))
    alphas = np.logspace(-1, 5, 30)
    factor = np.ones(p)
    factor[:u] = 0.0
    rows = []
    for cv in ["loo", 5]:
        t0, plain = timed(lambda: sr.ridge_cv(X, Y, alphas, cv=cv), repeats)
        t1, free = timed(lambda: sr.ridge_cv(X, Y, alphas, cv=cv, penalty_factor=factor),
                         repeats)
        assert free.scores.shape == plain.scores.shape
        rows.append((f"unpenalized, ridge_cv cv={cv!r} (n={n}, p={p}, u={u}, k={k}, m=30)",
                     "no unpenalized columns", t0, "u unpenalized", t1, t1 / t0))
    return rows


def kernel(repeats, small):
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import GridSearchCV, KFold
    n, k, m = (1000, 200, 30) if small else (3000, 1000, 30)
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, (n, 5))
    Y = np.sin(X @ rng.standard_normal((5, k))) + 0.3 * rng.standard_normal((n, k))
    alphas = np.logspace(-4, 2, m)
    folds = KFold(5)
    t_ours, ours = timed(lambda: sr.KernelRidgeCV(alphas, kernel="rbf", gamma=0.2, cv=folds,
                                                  fit_intercept=False,
                                                  scoring="neg_mean_squared_error").fit(X, Y),
                         repeats)
    search = GridSearchCV(KernelRidge(kernel="rbf", gamma=0.2), {"alpha": alphas}, cv=folds,
                          scoring="neg_mean_squared_error")
    t_ref, ref = timed(lambda: search.fit(X, Y), 1)
    assert np.isclose(ours.alpha_, ref.best_params_["alpha"])
    t_loo, _ = timed(lambda: sr.KernelRidgeCV(alphas, kernel="rbf", gamma=0.2).fit(X, Y),
                     repeats)
    # the bound of exact LOO: the kernel, one eigh and the LOO multiply-adds at the DGEMM rate
    from sklearn.metrics.pairwise import rbf_kernel
    from scipy.linalg import eigh
    t_k, K = timed(lambda: rbf_kernel(X, gamma=0.2), repeats)
    t_e, _ = timed(lambda: eigh(K), repeats)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, k))
    t_g, _ = timed(lambda: A @ B, repeats)
    rate = 2.0 * n * n * k / t_g
    bound = t_k + t_e + 2.0 * m * n * n * k / rate
    return [(f"kernel ridge, RBF, 5-fold (n={n}, k={k}, m={m})",
             "GridSearchCV(KernelRidge)", t_ref, "KernelRidgeCV(cv=5)", t_ours, t_ref / t_ours),
            (f"kernel ridge, RBF, exact LOO (n={n}, k={k}, m={m})", "bound (kernel + eigh + "
             "m n^2 k at the DGEMM rate)", bound, "KernelRidgeCV()", t_loo, t_loo / bound)]


def banded(repeats, small):
    from himalaya.backend import set_backend
    from himalaya.ridge import GroupRidgeCV
    set_backend("numpy", on_error="raise")
    n, g, k, m, c = (600, 60, 200, 20, 10) if small else (1000, 100, 1000, 20, 10)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, 3 * g))
    Y = X @ (rng.standard_normal((3 * g, k)) * rng.uniform(0, 1, (3, 1, k)).repeat(g, 0)
             .reshape(3 * g, k)) + 3 * rng.standard_normal((n, k))
    groups = np.repeat([0, 1, 2], g)
    alphas = np.logspace(-1, 4, m)
    cand = np.delete(sr.dirichlet_candidates(3, c, random_state=0), [1, 2, 3], axis=0)
    t_ours, ours = timed(lambda: sr.banded_ridge_cv(X, Y, groups, alphas, candidates=cand,
                                                    cv=5), repeats)
    model = GroupRidgeCV(groups=groups, cv=5, fit_intercept=True, solver_params=dict(
        n_iter=cand, alphas=alphas, progress_bar=False))

    def himalaya_fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return model.fit(X, Y)
    t_ref, ref = timed(himalaya_fit, 1)
    assert np.allclose(-ours.scores.min(axis=1), ref.cv_scores_, rtol=1e-6, atol=1e-9)
    t_loo, _ = timed(lambda: sr.banded_ridge_cv(X, Y, groups, alphas, candidates=cand),
                     repeats)
    shape = f"n={n}, 3 groups of {g}, k={k}, m={m}, {len(cand)} candidates"
    return [(f"banded ridge, 5-fold ({shape})", "himalaya GroupRidgeCV (numpy)", t_ref,
             "banded_ridge_cv(cv=5)", t_ours, t_ref / t_ours),
            (f"banded ridge, exact LOO ({shape})", "banded_ridge_cv(cv=5)", t_ours,
             "banded_ridge_cv(cv='loo')", t_loo, t_ours / t_loo)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--only", nargs="+", choices=["unpenalized", "kernel", "banded"],
                        default=["unpenalized", "kernel", "banded"])
    args = parser.parse_args()
    print("| workload | baseline | time | ours | time | ratio |\n|---|---|---:|---|---:|---:|")
    warnings.simplefilter("ignore", sr.GridEdgeWarning)
    with threadpool_limits(args.threads), sr.loo_compression(True):
        for bench in (globals()[name] for name in args.only):
            for name, base, t0, impl, t1, ratio in bench(args.repeats, args.small):
                print(f"| {name} | {base} | {t0:.3g} s | {impl} | {t1:.3g} s | {ratio:.2f}x |",
                      flush=True)


if __name__ == "__main__":
    main()
