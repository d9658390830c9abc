"""The seed's claims about L2 regularization, checked numerically on real data.

In the eigenbasis of the loss Hessian ``X^T X``, ridge multiplies the least-squares solution by
``lam_i / (lam_i + alpha)``:

1. steep directions (``lam_i >> alpha``) are kept, flat ones (``lam_i << alpha``) zeroed;
2. the factors sum to the effective degrees of freedom, the number of parameters used;
3. gradient descent from 0 stopped after t steps applies ``1 - (1 - lr lam_i)^t``, close to
   ridge at ``alpha = 1 / (lr t)``;
4. ridge is a soft principal-component regression (truncated SVD keeps k directions whole).

Data: the NIST Longley data bundled with spectralridge, and scikit-learn's diabetes data
(bundled with scikit-learn), both with standardized columns. Every claim is checked against an
independent computation (NumPy's SVD and solves, an explicit gradient-descent loop,
scikit-learn's PCA + LinearRegression). Run ``python examples/seed_claims.py``; it prints a
short report and exits with status 1 if a claim fails.
"""

import sys

import numpy as np

import spectralridge as sr


def standardized(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def claim_steep_kept_flat_zeroed(Z, y, alpha):
    """Eigen-coordinates of ridge = least-squares ones times lam / (lam + alpha)."""
    Zc, yc = Z - Z.mean(axis=0), y - y.mean()
    _, s, Vt = np.linalg.svd(Zc, full_matrices=False)              # independent of the solver
    lam = s ** 2
    ols = np.linalg.lstsq(Zc, yc, rcond=None)[0]
    ridge = np.linalg.solve(Zc.T @ Zc + alpha * np.eye(Z.shape[1]), Zc.T @ yc)
    ratio = (Vt @ ridge) / (Vt @ ols)
    factors = sr.RidgeSolver(Z, y).shrinkage(alpha)
    return {"alpha": alpha, "eigenvalues": lam, "ratio": ratio, "factors": factors,
            "max_error": float(np.abs(ratio - factors).max())}


def claim_dof_counts_parameters(Z, y, dofs):
    """dof = trace of the hat matrix = sum of the factors; about dof directions are used."""
    solver = sr.RidgeSolver(Z, y)
    Zc = Z - Z.mean(axis=0)
    rows = []
    for d, alpha in zip(dofs, solver.alphas_for_dof(dofs)):
        hat = Zc @ np.linalg.solve(Zc.T @ Zc + alpha * np.eye(Z.shape[1]), Zc.T)
        factors = solver.shrinkage(alpha)
        rows.append({"dof": d, "alpha": float(alpha), "trace": float(np.trace(hat)),
                     "sum_factors": float(factors.sum()),
                     "used": int(np.count_nonzero(factors > 0.5))})
    return rows


def claim_early_stopping_is_ridge(Z, y, steps):
    """Explicit gradient descent = the closed-form filter; close to ridge at 1 / (lr t)."""
    solver = sr.RidgeSolver(Z, y)
    lam = solver.singular_values ** 2
    lr = 0.1 / lam[0]                     # lr lam <= 0.1: the regime where the filters match
    Zc, yc = Z - Z.mean(axis=0), y - y.mean()
    w = np.zeros(Z.shape[1])
    rows = []
    done = 0
    for t in steps:
        for _ in range(t - done):                                   # plain gradient descent
            w = w - lr * (Zc.T @ (Zc @ w - yc))
        done = t
        closed = solver.early_stopping(lr, t).coef()
        alpha = float(sr.theory.equivalent_alpha(lr, t))
        ridge = solver.coef(alpha)
        es_factors = solver.early_stopping(lr, t).factors
        ridge_factors = solver.shrinkage(alpha)
        fit_es, fit_ridge = Zc @ w, Zc @ ridge
        dof_es = float(es_factors.sum())
        same_dof = float(solver.alphas_for_dof(dof_es)) if dof_es < solver.rank else 0.0
        rows.append({
            "steps": t, "alpha": alpha,
            "gd_vs_closed_form": float(np.linalg.norm(w - closed) / np.linalg.norm(closed)),
            "coef_distance": float(np.linalg.norm(closed - ridge) / np.linalg.norm(closed)),
            "fit_distance": float(np.linalg.norm(fit_es - fit_ridge) / np.linalg.norm(fit_es)),
            "dof_es": dof_es, "dof_ridge": float(ridge_factors.sum()),
            "same_dof_ratio": same_dof / alpha, "saturated": dof_es > 0.95 * solver.rank,
            "max_factor_gap": float(np.max(es_factors - ridge_factors)),
            "min_factor_gap": float(np.min(es_factors - ridge_factors)),
            "bound": float(0.2036 + np.max(lr * lam / (np.e * (1 - lr * lam)))),
        })
    return rows


def claim_ridge_is_soft_pcr(Z, y):
    """Truncated SVD = principal-component regression; ridge at the same dof is its soft
    version."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    solver = sr.RidgeSolver(Z, y)
    ks = np.arange(1, solver.rank + 1)
    tsvd = solver.truncated_svd(ks)
    tsvd_coef, tsvd_gcv = tsvd.coef(), tsvd.gcv().scores
    alphas = solver.alphas_for_dof(ks.astype(float))
    ridge_gcv = solver.gcv(alphas).scores
    rows = []
    for i, k in enumerate(ks):
        pcr = make_pipeline(PCA(n_components=int(k)), LinearRegression()).fit(Z, y)
        rows.append({
            "k": int(k), "alpha": float(alphas[i]),
            "pcr_vs_sklearn": float(np.abs(tsvd.predict(Z)[i] - pcr.predict(Z)).max()
                                    / np.abs(pcr.predict(Z)).max()),
            "tsvd_gcv": float(tsvd_gcv[i]), "ridge_gcv": float(ridge_gcv[i]),
            "tsvd_dof": float(tsvd.dof[i]), "ridge_dof": float(solver.dof(alphas[i])),
        })
    ridge_factors = solver.shrinkage(alphas)
    return rows, tsvd.factors, ridge_factors, tsvd_coef


def main(out=sys.stdout):
    """Run every check, print the report; return the measurements and the failures."""
    from sklearn.datasets import load_diabetes

    X, y, names = sr.load_longley()
    Z = standardized(X)
    diabetes = load_diabetes()
    D, t = standardized(diabetes.data), diabetes.target
    failures = []

    def check(condition, claim):
        if not condition:
            failures.append(claim)

    print("1. Steep directions kept, flat ones zeroed (Longley, standardized, alpha = 1)",
          file=out)
    c1 = claim_steep_kept_flat_zeroed(Z, y, 1.0)
    print("   eigenvalue  ridge/OLS coordinate  lam/(lam+alpha)", file=out)
    for lam, r, f in zip(c1["eigenvalues"], c1["ratio"], c1["factors"]):
        print(f"   {lam:10.4g}  {r:20.6f}  {f:15.6f}", file=out)
    check(c1["max_error"] < 1e-8, "coordinates = factors")
    check(c1["factors"][0] > 0.98 and c1["factors"][-1] < 0.01, "steep kept, flat zeroed")

    print("\n2. Effective degrees of freedom count the parameters used (Longley)", file=out)
    c2 = claim_dof_counts_parameters(Z, y, [5.0, 4.0, 3.0, 2.0, 1.0])
    print("   dof    alpha      trace(H)  sum of factors  directions with factor > 1/2",
          file=out)
    for r in c2:
        print(f"   {r['dof']:.1f}  {r['alpha']:9.4g}  {r['trace']:8.6f}  {r['sum_factors']:14.6f}"
              f"  {r['used']:d}", file=out)
        check(abs(r["trace"] - r["dof"]) < 1e-8 and abs(r["sum_factors"] - r["dof"]) < 1e-8,
              f"dof {r['dof']} = trace = sum")
        check(abs(r["used"] - r["dof"]) <= 1, f"about {r['dof']} directions used")

    print("\n3. Early stopping ~ ridge at alpha = 1/(lr t) (diabetes, lr = 0.1/lam_max)",
          file=out)
    c3 = claim_early_stopping_is_ridge(D, t, [3, 30, 300, 3000])
    print("   steps  1/(lr t)  GD = closed form  dof(ES)  dof(ridge)  max factor gap (bound)"
          "  alpha of same dof / (1/(lr t))", file=out)
    for r in c3:
        print(f"   {r['steps']:5d}  {r['alpha']:8.4g}  {r['gd_vs_closed_form']:16.1e}"
              f"  {r['dof_es']:7.3f}  {r['dof_ridge']:10.3f}  {r['max_factor_gap']:7.3f} "
              f"({r['bound']:.3f})  {r['same_dof_ratio']:30.2f}", file=out)
        check(r["gd_vs_closed_form"] < 1e-10, "gradient descent = closed form")
        check(r["min_factor_gap"] >= -1e-12, "early stopping factors >= ridge factors")
        check(r["max_factor_gap"] <= r["bound"], "factor gap within the theory's bound")
        check(r["saturated"] or 0.25 <= r["same_dof_ratio"] <= 1.0,
              "the ridge alpha of equal dof is within a factor 4 of 1/(lr t)")

    print("\n4. Ridge is a soft principal-component regression (diabetes)", file=out)
    c4, tsvd_factors, ridge_factors, _ = claim_ridge_is_soft_pcr(D, t)
    print("   k   PCR = sklearn PCA+OLS  GCV(truncated SVD)  ridge alpha (dof k)  GCV(ridge)",
          file=out)
    for r in c4:
        print(f"   {r['k']:2d}  {r['pcr_vs_sklearn']:21.1e}  {r['tsvd_gcv']:18.2f}"
              f"  {r['alpha']:19.4g}  {r['ridge_gcv']:10.2f}", file=out)
        check(r["pcr_vs_sklearn"] < 1e-10, "truncated SVD = PCR")
        check(abs(r["tsvd_dof"] - r["k"]) < 1e-12 and abs(r["ridge_dof"] - r["k"]) < 1e-8,
              "same dof")
    inner = ridge_factors[:-1]
    check(np.isin(tsvd_factors, [0.0, 1.0]).all(), "truncated SVD factors are 0 or 1")
    check(((inner > 0) & (inner < 1)).all(), "ridge factors strictly between 0 and 1")
    best_tsvd = min(r["tsvd_gcv"] for r in c4)
    best_ridge = min(r["ridge_gcv"] for r in c4)
    print(f"   best GCV: truncated SVD {best_tsvd:.2f}, ridge {best_ridge:.2f} (on dof 1..10)",
          file=out)

    print("\nAll claims hold." if not failures else f"\nFAILED: {failures}", file=out)
    return {"steep": c1, "dof": c2, "early_stopping": c3, "pcr": c4}, failures


if __name__ == "__main__":
    sys.exit(1 if main()[1] else 0)
