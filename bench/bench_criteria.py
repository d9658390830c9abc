"""Timings of the alpha-selection criteria, standard errors and ``refine=True`` (run by hand).

    python bench/bench_criteria.py [--quick]

1. All criteria from the spectrum (GCV, evidence, L-curve, discrepancy, quasi-optimality) for
   n=3000, p=1000, k=2000, m=100, against the decomposition plus ``U^T Y`` (``RidgeSolver``).
2. Standard errors (``stats.coef_inference``) against the coefficients (``solver.coef``) at
   the same alphas: both form n_alphas x p x k outputs.
3. ``refine=True`` with leave-one-out (and GCV, evidence) on the W3 size (n=2000, p=500,
   k=1000, m=20) against the grid alone, and the held-out error of both on 2000 new rows of
   the same model.

Medians of ``--repeat`` calls; prints a Markdown summary.
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from workloads import generate  # noqa: E402

import spectralridge as sr  # noqa: E402
from spectralridge import _criteria, stats  # noqa: E402


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", sr.GridEdgeWarning)
    try:
        from threadpoolctl import threadpool_info
        threads = sorted({(i["internal_api"], i["num_threads"]) for i in threadpool_info()})
    except ImportError:
        threads = "threadpoolctl not installed"
    print(f"BLAS thread pools: {threads}")

    # 1. criteria
    n, p, k, m = (600, 200, 200, 100) if args.quick else (3000, 1000, 2000, 100)
    X, Y = generate(n, p, k, seed=0)
    t_fit, solver = timed(lambda: sr.RidgeSolver(X, Y), args.repeat)
    alphas = solver.default_alphas(m)
    problem = _criteria.spectral_problem(solver.ridge(alphas).spectrum, solver._centering)
    sigma = np.sqrt(problem.base / (n - p - 1)) * 1.5
    crit = {
        "gcv": lambda: solver.gcv(alphas),
        "evidence": lambda: solver.evidence(alphas),
        "lcurve": lambda: solver.lcurve(alphas),
        "discrepancy": lambda: solver.discrepancy(sigma, alphas),
        "quasi": lambda: solver.quasi_optimality(alphas),
    }
    rows = []
    total = 0.0
    for name, fn in crit.items():
        t, _ = timed(fn, args.repeat)
        total += t
        rows.append((name, t))
    for name in ("evidence", "lcurve", "quasi"):
        method = {"evidence": solver.evidence, "lcurve": solver.lcurve,
                  "quasi": solver.quasi_optimality}[name]
        t, _ = timed(lambda: method(alphas, refine=True), args.repeat)
        rows.append((f"{name} refine=True", t))
    print(f"\n### Criteria: n={n}, p={p}, k={k}, m={m} (method {solver.method})\n")
    print(f"decomposition + U^T Y (RidgeSolver): {t_fit:.3f} s")
    for name, t in rows:
        print(f"- {name}: {t:.3f} s ({t / t_fit:.3f} of the decomposition)")
    print(f"all five grid criteria (CVResult with selection and refit each): {total:.3f} s; "
          f"(fit + all) / fit = {(t_fit + total) / t_fit:.3f}")

    def scores_only():
        spectrum = solver.ridge(alphas).spectrum
        prob = _criteria.spectral_problem(spectrum, solver._centering)
        return [_criteria.gcv_score(prob, alphas), _criteria.log_evidence(prob, alphas),
                _criteria.lcurve_curvature(prob, alphas), _criteria.quasi_optimality(prob, alphas),
                _criteria.residual_sq(prob, alphas), _criteria.residual_dof(prob, alphas)]

    t_scores, _ = timed(scores_only, args.repeat)
    print(f"the five criteria's scores alone (m x k each, pure functions of the spectrum): "
          f"{t_scores:.3f} s; (fit + scores) / fit = {(t_fit + t_scores) / t_fit:.3f}")

    # 2. standard errors
    few = alphas[:: m // 10][:10]
    t_coef, _ = timed(lambda: solver.coef(few), args.repeat)
    t_inf, _ = timed(lambda: stats.coef_inference(solver, few), args.repeat)
    t_se, _ = timed(lambda: stats.coef_inference(solver, few).se, args.repeat)
    t_p, _ = timed(lambda: stats.coef_inference(solver, few).p_value, args.repeat)
    print(f"\nat {few.size} alphas for all {k} targets: coefficients alone {t_coef:.3f} s; "
          f"coef_inference (coefficients, variance factors, sigma^2) {t_inf:.3f} s; with the "
          f"se array formed {t_se:.3f} s; with the p-values {t_p:.3f} s; "
          f"(inference - coefficients) / fit = {(t_inf - t_coef) / t_fit:.3f}")
    del solver, X, Y

    # 3. refine on W3, held-out error
    n, p, k, m = (400, 100, 100, 20) if args.quick else (2000, 500, 1000, 20)
    X, Y = generate(2 * n, p, k, seed=1)
    Xtr, Ytr, Xte, Yte = X[:n], Y[:n], X[n:], Y[n:]
    grid = np.logspace(-3, 5, m)
    print(f"\n### refine=True: n={n}, p={p}, k={k}, m={m}, alphas logspace(-3, 5, {m})\n")
    print("| cv | grid | refine=True | ratio | held-out MSE refine / grid (median) | "
          "targets improved |")
    print("|---|---:|---:|---:|---:|---:|")
    for cv in ("loo", "gcv", "evidence"):
        t_grid, base = timed(lambda: sr.ridge_cv(Xtr, Ytr, grid, cv=cv), args.repeat)
        t_ref, ref = timed(lambda: sr.ridge_cv(Xtr, Ytr, grid, cv=cv, refine=True),
                           args.repeat)

        def held_out(res):
            return np.mean(np.square(Yte - Xte @ res.coef - res.intercept), axis=0)

        e_base, e_ref = held_out(base), held_out(ref)
        ratio = e_ref / e_base
        improved = np.mean(e_ref < e_base)
        print(f"| {cv} | {t_grid:.3f} s | {t_ref:.3f} s | {t_ref / t_grid:.2f}x | "
              f"{np.median(ratio):.5f} (min {ratio.min():.4f}, max {ratio.max():.4f}) | "
              f"{100 * improved:.0f} % |")


if __name__ == "__main__":
    main()
