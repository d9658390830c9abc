"""Evidence, L-curve, discrepancy principle, quasi-optimality and off-grid refinement, against
dense formulas, brute force and scikit-learn's BayesianRidge."""
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import multivariate_normal

import spectralridge as sr
from spectralridge import _criteria

from helpers import make_data, ridge_oracle


def _contrasts(n, w=None, seed=0):
    """Orthonormal basis (n, n - 1) of the complement of sqrt(w)."""
    sw = np.ones(n) if w is None else np.sqrt(w)
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(np.column_stack([sw, rng.standard_normal((n, n - 1))]))
    return Q[:, 1:]


def _dense_log_evidence(X, y, a, fit_intercept, w=None, c=None, sigma2=None):
    """log density of Q^T sqrt(w) y under N(0, sigma^2 (I + Z Z^T / a)), Z = Q^T sqrt(w) X
    D, plus 1/2 sum log w; sigma^2 profiled out by a 1-D maximization if None."""
    n, p = X.shape
    w = np.ones(n) if w is None else w
    D = np.ones(p) if c is None else 1 / np.sqrt(c)
    Q = _contrasts(n, w) if fit_intercept else np.eye(n)
    z = Q.T @ (np.sqrt(w) * y)
    Z = Q.T @ (np.sqrt(w)[:, None] * X * D)
    C = np.eye(z.size) + Z @ Z.T / a
    if sigma2 is None:
        res = minimize_scalar(lambda t: -multivariate_normal(np.zeros(z.size),
                                                             np.exp(t) * C).logpdf(z),
                              bounds=(-20, 20), method="bounded",
                              options={"xatol": 1e-12})
        value = -res.fun
    else:
        value = multivariate_normal(np.zeros(z.size), sigma2 * C).logpdf(z)
    return value + 0.5 * np.log(w).sum()


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_evidence_matches_dense_gaussian_density(fit_intercept, weighted, dtype):
    rng = np.random.default_rng(5)
    X, Y = make_data(25, 4, 2, seed=2)
    X, Y = X.astype(dtype).astype(float), Y.astype(dtype).astype(float)
    w = rng.uniform(0.5, 2.0, 25) if weighted else None
    c = np.array([1.0, 2.0, 0.5, 3.0]) if weighted else None
    alphas = np.array([0.05, 1.0, 30.0])
    solver = sr.RidgeSolver(X.astype(dtype), Y.astype(dtype), fit_intercept=fit_intercept,
                            sample_weight=w, penalty_factor=c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sr.GridEdgeWarning)
        prof = solver.evidence(alphas)
        given = solver.evidence(alphas, noise_variance=[0.8, 1.7])
    assert prof.scoring == "log_evidence" and prof.scores.shape == (3, 2)
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    for i, a in enumerate(alphas):
        for t, s2 in enumerate([0.8, 1.7]):
            np.testing.assert_allclose(prof.scores[i, t], _dense_log_evidence(
                X, Y[:, t], a, fit_intercept, w, c), rtol=rtol)
            np.testing.assert_allclose(given.scores[i, t], _dense_log_evidence(
                X, Y[:, t], a, fit_intercept, w, c, s2), rtol=rtol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sr.GridEdgeWarning)
        assert np.isneginf(solver.evidence([0.0, 1.0]).scores[0]).all()


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_evidence_maximizer_matches_bayesian_ridge(fit_intercept):
    BayesianRidge = pytest.importorskip("sklearn.linear_model").BayesianRidge
    rng = np.random.default_rng(1)
    n, p = 40, 6
    X = rng.standard_normal((n, p)) + 2.0
    y = X @ rng.standard_normal(p) + 0.7 * rng.standard_normal(n) + 1.0
    # BayesianRidge has no REML: with an intercept, fit it to the n - 1 contrasts
    Q = _contrasts(n) if fit_intercept else np.eye(n)
    br = BayesianRidge(fit_intercept=False, alpha_1=0.0, alpha_2=0.0, lambda_1=0.0,
                       lambda_2=0.0, tol=1e-14, max_iter=100000).fit(Q.T @ X, Q.T @ y)
    ratio = br.lambda_ / br.alpha_
    solver = sr.RidgeSolver(X, y, fit_intercept=fit_intercept)
    res = minimize_scalar(lambda u: -float(solver.evidence([np.exp(u)]).scores[0]),
                          bounds=(np.log(ratio) - 3, np.log(ratio) + 3), method="bounded",
                          options={"xatol": 1e-10})
    np.testing.assert_allclose(np.exp(res.x), ratio, rtol=1e-6)
    refined = solver.evidence(np.logspace(-3, 3, 25), refine=True)
    np.testing.assert_allclose(refined.best_alpha, ratio, rtol=1e-5)
    assert np.isscalar(refined.best_alpha) and refined.coef.shape == (p,)
    np.testing.assert_allclose(refined.coef, ridge_oracle(X, y, refined.best_alpha,
                                                          fit_intercept)[0], rtol=1e-9)
    # BayesianRidge's fitted coefficients are the ridge solution at that ratio
    if not fit_intercept:
        np.testing.assert_allclose(refined.coef, br.coef_, rtol=1e-4)


def test_evidence_per_target_and_shared():
    X, Y = make_data(60, 8, 3, seed=7)
    Y = Y * [0.1, 1.0, 10.0] + np.random.default_rng(0).standard_normal((60, 3)) * [0.1, 1, 30]
    alphas = np.logspace(-3, 4, 40)
    res = sr.ridge_cv(X, Y, alphas, cv="evidence")
    np.testing.assert_array_equal(res.best_index, res.scores.argmax(axis=0))
    for t in range(3):  # one target alone gives the same answer
        single = sr.ridge_cv(X, Y[:, t], alphas, cv="evidence")
        assert single.best_alpha == res.best_alpha[t]
    shared = sr.ridge_cv(X, Y, alphas, cv="evidence", alpha_per_target=False)
    assert (shared.best_alpha == alphas[res.scores.sum(axis=1).argmax()]).all()
    refined = sr.ridge_cv(X, Y, alphas, cv="evidence", alpha_per_target=False, refine=True)
    total = lambda a: float(sr.RidgeSolver(X, Y).evidence([a]).scores.sum())  # noqa: E731
    assert total(refined.best_alpha[0]) >= total(shared.best_alpha[0])
    assert len(set(refined.best_alpha)) == 1


def _ill_posed(n=60, p=30, k=3, seed=0):
    """A discrete ill-posed problem: singular values decaying over 8 decades, smooth
    solution (Picard condition), noise."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, p)))
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    s = np.logspace(0, -4, p)
    X = (U * s) @ V.T
    coef = V @ (s[:, None] ** 0.5 * rng.standard_normal((p, k)))
    Y = X @ coef + 1e-3 * rng.standard_normal((n, k)) * np.geomspace(1, 10, k)
    return X, Y


def _brute_lcurve(X, Y, alphas, fit_intercept):
    """(log ||r||, log ||W||) from direct solves."""
    pts = []
    for a in alphas:
        W, b = ridge_oracle(X, Y, a, fit_intercept)
        pts.append((0.5 * np.log(np.square(Y - X @ W - b).sum(axis=0)),
                    0.5 * np.log(np.square(W).sum(axis=0))))
    return np.array(pts)                                               # (m, 2, k)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_lcurve_curvature_matches_brute_force(fit_intercept):
    X, Y = _ill_posed()
    u = np.linspace(np.log(1e-9), np.log(1e-1), 801)
    alphas = np.exp(u)
    pts = _brute_lcurve(X, Y, alphas, fit_intercept)
    x, y = pts[:, 0], pts[:, 1]
    dx, dy = np.gradient(x, u, axis=0), np.gradient(y, u, axis=0)
    ddx, ddy = np.gradient(dx, u, axis=0), np.gradient(dy, u, axis=0)
    kappa = (dx * ddy - ddx * dy) / (dx ** 2 + dy ** 2) ** 1.5
    res = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, method="svd").lcurve(alphas)
    inner = slice(5, -5)
    scale = np.abs(kappa[inner]).max(axis=0)
    np.testing.assert_allclose(res.scores[inner], kappa[inner], atol=2e-3 * scale.max())
    np.testing.assert_array_equal(res.best_index, kappa.argmax(axis=0))
    assert (res.scores[res.best_index, np.arange(3)] > 0).all()
    # the corner moves with the noise: more noise, more regularization
    assert res.best_alpha[0] < res.best_alpha[1] < res.best_alpha[2]
    refined = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, method="svd").lcurve(
        alphas[::40], refine=True)
    np.testing.assert_allclose(np.log(refined.best_alpha), np.log(res.best_alpha), atol=0.02)


def test_lcurve_pure_function_per_target_and_paired():
    X, Y = _ill_posed(k=4)
    solver = sr.RidgeSolver(X, Y, method="svd")
    grid = np.logspace(-8, -1, 15)
    problem = _criteria.spectral_problem(solver.ridge(grid).spectrum, solver._centering)
    full = _criteria.lcurve_curvature(problem, grid)
    for i in range(4):
        paired = _criteria.lcurve_curvature(problem, np.full(4, grid[i]), paired=True)
        np.testing.assert_allclose(paired, full[i], rtol=1e-12)


def test_lcurve_errors():
    X, Y = _ill_posed(k=1)
    solver = sr.RidgeSolver(X, Y[:, 0])
    with pytest.raises(ValueError, match="at least 4 alphas, got 3"):
        solver.lcurve([1e-3, 1e-2, 1e-1])
    with pytest.raises(ValueError, match="L-curve of target 1 is flat"):
        sr.RidgeSolver(X, np.column_stack([Y[:, 0], np.zeros(60)])).lcurve(
            np.logspace(-6, -1, 10))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_discrepancy_recovers_planted_noise_level(fit_intercept, weighted):
    rng = np.random.default_rng(2)
    X, Y = make_data(50, 10, 3, seed=3)
    w = rng.uniform(0.5, 2.0, 50) if weighted else None
    planted = np.array([0.37, 4.1, 55.0])
    N = 50 - int(fit_intercept)
    sigma = []
    for t, a in enumerate(planted):  # the sigma for which the residual at alpha = a matches
        W, b = ridge_oracle(X, Y[:, t], a, fit_intercept, w)
        rss = ((np.ones(50) if w is None else w) * np.square(Y[:, t] - X @ W - b)).sum()
        sigma.append(np.sqrt(rss / N))
    grid = np.logspace(-2, 3, 11)
    res = sr.ridge_cv(X, Y, grid, cv="discrepancy", noise_level=sigma,
                      fit_intercept=fit_intercept, sample_weight=w)
    np.testing.assert_allclose(res.best_alpha, planted, rtol=1e-8)
    np.testing.assert_allclose(res.best_score, 1.0, rtol=1e-10)
    assert res.scoring == "discrepancy" and not res.at_grid_edge.any()
    np.testing.assert_array_equal(res.best_index, [np.abs(np.log(grid / a)).argmin()
                                                   for a in planted])
    np.testing.assert_allclose(res.coef, np.column_stack([
        ridge_oracle(X, Y[:, t], planted[t], fit_intercept, w)[0] for t in range(3)]),
        rtol=1e-7)
    # the grid's scores are the residual over its target
    np.testing.assert_allclose(res.scores[3], [
        ((np.ones(50) if w is None else w) * np.square(Y[:, t] - X @ W - b)).sum() /
        (N * sigma[t] ** 2) for t, (W, b) in enumerate(
            ridge_oracle(X, Y[:, t], grid[3], fit_intercept, w) for t in range(3))],
        rtol=1e-8)


def test_discrepancy_unreachable_noise_level_warns_and_returns_edge():
    X, Y = make_data(50, 10, 2, seed=3)
    grid = np.logspace(-2, 3, 11)
    with pytest.warns(sr.GridEdgeWarning, match="least squares already leaves a larger"):
        res = sr.ridge_cv(X, Y, grid, cv="discrepancy", noise_level=[1e-6, 1.0])
    assert res.best_alpha[0] == grid[0] and res.at_grid_edge[0] and not res.at_grid_edge[1]
    with pytest.warns(sr.GridEdgeWarning, match="intercept-only model leaves a smaller"):
        res = sr.ridge_cv(X, Y[:, 0], grid, cv="discrepancy", noise_level=1e6)
    assert res.best_alpha == grid[-1] and res.at_grid_edge
    with pytest.warns(sr.GridEdgeWarning, match="Extend the grid"):  # reachable, off grid
        sr.ridge_cv(X, Y[:, 0], [1e3, 1e4, 1e5], cv="discrepancy", noise_level=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shared = sr.ridge_cv(X, Y, grid, cv="discrepancy", noise_level=1.0,
                             alpha_per_target=False)
    solver = sr.RidgeSolver(X, Y)
    rss = lambda a: sum(  # noqa: E731
        np.square(Y[:, t] - X @ W - b).sum()
        for t, (W, b) in enumerate(ridge_oracle(X, Y[:, t], a) for t in range(2)))
    np.testing.assert_allclose(rss(shared.best_alpha[0]), 2 * 49 * 1.0, rtol=1e-8)
    assert solver.rank == 10


def test_quasi_optimality_matches_finite_differences_and_range():
    X, Y = _ill_posed()
    u = np.linspace(np.log(1e-8), np.log(0.5), 60)
    res = sr.RidgeSolver(X, Y, method="svd").quasi_optimality(np.exp(u))
    h = 1e-4
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)

    def coef(a, Y=Yc):
        return Vt.T @ ((s / (s * s + a))[:, None] * (U.T @ Y))

    for i in (5, 30, 50):
        Wp, Wm = coef(np.exp(u[i] + h)), coef(np.exp(u[i] - h))
        np.testing.assert_allclose(res.scores[i], np.linalg.norm((Wp - Wm) / (2 * h), axis=0),
                                   rtol=1e-6)
    lam = sr.RidgeSolver(X, Y, method="svd").singular_values ** 2
    inside = (np.exp(u) >= lam.min()) & (np.exp(u) <= lam.max())
    masked = np.where(inside[:, None], res.scores, np.inf)
    np.testing.assert_array_equal(res.best_index, masked.argmin(axis=0))
    refined = sr.RidgeSolver(X, Y, method="svd").quasi_optimality(np.exp(u), refine=True)
    q = lambda a, t: np.linalg.norm(  # noqa: E731
        (coef(a * np.exp(h), Yc[:, [t]]) - coef(a * np.exp(-h), Yc[:, [t]])) / (2 * h))
    for t in range(3):
        assert q(refined.best_alpha[t], t) <= q(res.best_alpha[t], t) * (1 + 1e-6)
    with pytest.raises(ValueError, match="no alpha of the grid lies there"):
        sr.RidgeSolver(X, Y).quasi_optimality([1e3, 1e4])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cv", ["loo", "gcv"])
@pytest.mark.parametrize("weighted", [False, True])
def test_refine_matches_bounded_minimization(dtype, cv, weighted):
    rng = np.random.default_rng(0)
    X, Y = make_data(80, 12, 3, seed=5)
    Y = Y + rng.standard_normal((80, 3)) * [0.3, 2.0, 8.0]
    w = rng.uniform(0.3, 2.0, 80) if weighted else None
    if weighted:
        w[::9] = 0.0
    X, Y = X.astype(dtype), Y.astype(dtype)
    grid = np.logspace(-2, 4, 13)
    solver = sr.RidgeSolver(X, Y, sample_weight=w)
    base = sr.ridge_cv(X, Y, grid, cv=cv, sample_weight=w)
    refined = sr.ridge_cv(X, Y, grid, cv=cv, sample_weight=w, refine=True)
    np.testing.assert_array_equal(refined.best_index, base.best_index)
    np.testing.assert_array_equal(refined.scores, base.scores)
    exact = sr.RidgeSolver(X.astype(np.float64), Y.astype(np.float64), sample_weight=w)
    score = exact.loo if cv == "loo" else exact.gcv
    xtol = 1e-2 if cv == "loo" else 1e-5
    for t in range(3):
        lo, hi = grid[max(base.best_index[t] - 1, 0)], grid[min(base.best_index[t] + 1, 12)]
        f = lambda u: float(score([np.exp(u)]).scores[0, t])  # noqa: E731
        opt = minimize_scalar(f, bounds=(np.log(lo), np.log(hi)), method="bounded",
                              options={"xatol": 1e-9})
        assert abs(np.log(refined.best_alpha[t]) - opt.x) < 2 * xtol
        assert refined.best_score[t] <= base.best_score[t] * (1 + 1e-6)
        np.testing.assert_allclose(refined.best_score[t], f(np.log(refined.best_alpha[t])),
                                   rtol=1e-9 if dtype == np.float64 else 1e-4)
    assert refined.coef.dtype == dtype
    np.testing.assert_allclose(refined.coef, solver.per_target(refined.best_alpha).coef,
                               rtol=1e-6 if dtype == np.float64 else 1e-4)


def test_refine_r2_shared_and_1d():
    X, Y = make_data(70, 9, 2, seed=8)
    Y = Y + np.random.default_rng(1).standard_normal((70, 2)) * [1.0, 5.0]
    grid = np.logspace(-2, 4, 9)
    r2 = sr.ridge_cv(X, Y, grid, scoring="r2", refine=True)
    mse = sr.ridge_cv(X, Y, grid, refine=True)
    np.testing.assert_allclose(r2.best_alpha, mse.best_alpha, rtol=1e-12)
    assert (r2.best_score >= sr.ridge_cv(X, Y, grid, scoring="r2").best_score - 1e-12).all()
    shared = sr.ridge_cv(X, Y, grid, alpha_per_target=False, refine=True)
    assert shared.best_alpha[0] == shared.best_alpha[1]
    one = sr.ridge_cv(X, Y[:, 0], grid, cv="gcv", refine=True)
    assert isinstance(one.best_alpha, float) and one.coef.shape == (9,)


def test_option_errors():
    X, y = make_data(30, 4, seed=0)
    with pytest.raises(ValueError, match="cv='discrepancy' needs noise_level"):
        sr.ridge_cv(X, y, cv="discrepancy")
    with pytest.raises(ValueError, match="noise_level is used by cv='discrepancy' and"):
        sr.ridge_cv(X, y, cv="loo", noise_level=1.0)
    with pytest.raises(ValueError, match="refine=True supports"):
        sr.ridge_cv(X, y, cv="discrepancy", noise_level=1.0, refine=True)
    with pytest.raises(ValueError, match="does not combine with rule='1se'"):
        sr.ridge_cv(X, y, cv=5, refine=True, rule="1se")
    with pytest.raises(TypeError, match="refine must be True or False"):
        sr.ridge_cv(X, y, refine="yes")
    with pytest.raises(ValueError, match="groups cannot be used with cv='evidence'"):
        sr.ridge_cv(X, y, cv="evidence", groups=np.arange(30) % 3)
    with pytest.raises(ValueError, match="has its own score"):
        sr.ridge_cv(X, y, cv="evidence", scoring="r2")
    with pytest.raises(ValueError, match="rule='1se' needs per-split"):
        sr.ridge_cv(X, y, cv="lcurve", rule="1se")
    with pytest.raises(ValueError, match="noise_level must be positive"):
        sr.ridge_cv(X, y, cv="discrepancy", noise_level=0.0)
    with pytest.raises(ValueError, match="one entry per target"):
        sr.ridge_cv(X, y, cv="discrepancy", noise_level=[1.0, 2.0])


def test_bracket_search_batched():
    centres = np.array([0.3, -1.2, 2.0, -3.0])
    calls = []

    def fun(v, idx):
        calls.append(idx.copy())
        return np.square(v - centres[idx]) + 0.1 * np.abs(v - centres[idx]) ** 3

    everything = np.arange(4)
    lo, hi = np.full(4, -3.0), np.full(4, 3.0)
    mid = np.array([0.0, 0.0, 0.0, -3.0])           # the last: minimum on the lower edge
    u, v = _criteria.bracket_search(
        fun, (lo, mid, hi), tuple(fun(x, everything) for x in (lo, mid, hi)), 1e-8)
    np.testing.assert_allclose(u, centres, atol=1e-8)
    np.testing.assert_allclose(v, 0.0, atol=1e-15)
    assert len(calls) < 60 and calls[-1].size < 4   # entries leave the batch when done
    assert all(np.isin(c, everything).all() for c in calls)


# -- RidgeCV -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cv", ["evidence", "lcurve", "quasi", "discrepancy"])
def test_ridgecv_criteria_match_ridge_cv(cv):
    pytest.importorskip("sklearn")
    X, Y = _ill_posed(k=2)
    alphas = np.logspace(-9, -1, 30)
    kw = {"noise_level": [1e-3, 1e-2]} if cv == "discrepancy" else {}
    model = sr.RidgeCV(alphas=alphas, cv=cv, alpha_per_target=True, **kw).fit(X, Y)
    res = sr.ridge_cv(X, Y, alphas, cv=cv, **kw)
    np.testing.assert_array_equal(model.alpha_, res.best_alpha)
    np.testing.assert_allclose(model.coef_, res.coef.T, rtol=1e-12)
    sign = -1.0 if cv == "quasi" else 1.0
    np.testing.assert_allclose(model.cv_scores_, sign * res.scores, rtol=1e-12)
    np.testing.assert_allclose(model.predict(X[:3]), X[:3] @ res.coef + res.intercept,
                               rtol=1e-10)


def test_ridgecv_refine_and_errors():
    pytest.importorskip("sklearn")
    X, Y = make_data(60, 6, 2, seed=2)
    Y = Y + np.random.default_rng(0).standard_normal((60, 2)) * [1.0, 4.0]
    alphas = np.logspace(-2, 3, 8)
    for cv in (None, "gcv", "evidence"):
        model = sr.RidgeCV(alphas=alphas, cv=cv, alpha_per_target=True, refine=True).fit(X, Y)
        res = sr.ridge_cv(X, Y, alphas, cv="loo" if cv is None else cv, refine=True)
        np.testing.assert_array_equal(model.alpha_, res.best_alpha)
        assert not np.isin(model.alpha_, alphas).all()
    shared = sr.RidgeCV(alphas=alphas, refine=True, scoring="r2").fit(X, Y)
    assert isinstance(shared.alpha_, float)
    with pytest.raises(ValueError, match="supports scoring=None only"):
        sr.RidgeCV(cv="evidence", scoring="r2").fit(X, Y)
    kfold = sr.RidgeCV(alphas=alphas, cv=3, alpha_per_target=True, refine=True).fit(X, Y)
    np.testing.assert_allclose(
        kfold.alpha_, sr.ridge_cv(X, Y, alphas, cv=3, refine=True).best_alpha, rtol=1e-10)
    assert not np.isin(kfold.alpha_, alphas).all()
    with pytest.raises(ValueError, match="needs noise_level"):
        sr.RidgeCV(cv="discrepancy").fit(X, Y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_ridgecv_evidence_passes_estimator_checks():
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    estimator_checks.check_estimator(sr.RidgeCV(cv="evidence", alphas=np.logspace(-3, 3, 10)))


def test_lcurve_points_match_direct_norms_with_penalty_factor():
    X, Y = make_data(40, 5, 2, seed=9)
    c = np.array([1.0, 2.0, 0.5, 4.0, 1.0])
    w = np.random.default_rng(0).uniform(0.5, 2.0, 40)
    solver = sr.RidgeSolver(X, Y, penalty_factor=c, sample_weight=w)
    pts = solver.lcurve_points([0.1, 10.0])
    for i, a in enumerate([0.1, 10.0]):
        W, b = ridge_oracle(X, Y, a, sample_weight=w, penalty_factor=c)
        np.testing.assert_allclose(pts.residual_norm[i], np.sqrt(
            (w[:, None] * np.square(Y - X @ W - b)).sum(axis=0)), rtol=1e-9)
        np.testing.assert_allclose(pts.solution_norm[i],
                                   np.sqrt((c[:, None] * np.square(W)).sum(axis=0)), rtol=1e-9)
    one = sr.RidgeSolver(X, Y[:, 0]).lcurve_points(1.0)
    assert np.ndim(one.residual_norm) == 0


def test_sparse_X_gives_the_dense_answers():
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(4)
    X = sparse.random(120, 15, density=0.3, random_state=5, format="csr")
    Y = X @ rng.standard_normal((15, 2)) + 0.3 * rng.standard_normal((120, 2))
    grid = np.logspace(-3, 3, 15)
    for cv, kw in (("evidence", {}), ("quasi", {}), ("discrepancy", {"noise_level": 0.3}),
                   ("loo", {"refine": True}), ("gcv", {"refine": True})):
        a = sr.ridge_cv(X, Y, grid, cv=cv, **kw)
        b = sr.ridge_cv(X.toarray(), Y, grid, cv=cv, **kw)
        np.testing.assert_allclose(a.best_alpha, b.best_alpha, rtol=1e-6)
        np.testing.assert_allclose(a.coef, b.coef, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cv", ["evidence", "lcurve", "quasi"])
def test_choices_do_not_depend_on_the_scale_of_Y(cv):
    X, Y = _ill_posed(k=2)
    grid = np.logspace(-9, -1, 25)
    a = sr.ridge_cv(X, Y, grid, cv=cv, refine=True)
    b = sr.ridge_cv(X, Y * [1e6, 1e-6], grid, cv=cv, refine=True)
    np.testing.assert_array_equal(a.best_index, b.best_index)
    np.testing.assert_allclose(a.best_alpha, b.best_alpha, rtol=1e-4)


def test_discrepancy_alpha_increases_with_the_noise_level():
    X, Y = _ill_posed(k=1)
    grid = np.logspace(-10, 0, 30)
    solver = sr.RidgeSolver(X, Y[:, 0])
    levels = np.geomspace(1.2e-3, 1e-2, 6)
    alphas = [solver.discrepancy(s, grid).best_alpha for s in levels]
    assert np.all(np.diff(alphas) > 0)


def test_evidence_and_refits_with_unpenalized_columns():
    rng = np.random.default_rng(3)
    n = 30
    X = rng.standard_normal((n, 4)) + 1.0
    y = X @ [2.0, 1.0, -1.0, 0.5] + 0.5 * rng.standard_normal(n)
    c = np.array([0.0, 1.0, 1.0, 1.0])
    solver = sr.RidgeSolver(X, y, penalty_factor=c)
    # REML: the density of the contrasts orthogonal to the intercept and the free column
    Q, _ = np.linalg.qr(np.column_stack([np.ones(n), X[:, 0], rng.standard_normal((n, n - 2))]))
    Q = Q[:, 2:]
    z, Z = Q.T @ y, Q.T @ X[:, 1:]
    for a in (0.3, 3.0):
        C = np.eye(n - 2) + Z @ Z.T / a
        q = z @ np.linalg.solve(C, z)
        dense = -0.5 * (n - 2) * (np.log(2 * np.pi * q / (n - 2)) + 1) \
            - 0.5 * np.linalg.slogdet(C)[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sr.GridEdgeWarning)
            np.testing.assert_allclose(solver.evidence([a]).scores[0], dense, rtol=1e-10)
    res = sr.ridge_cv(X, y, np.logspace(-3, 3, 13), cv="evidence", penalty_factor=c,
                      refine=True)
    W, b = ridge_oracle(X, y, res.best_alpha, penalty_factor=c)
    np.testing.assert_allclose(res.coef, W, rtol=1e-8)
    np.testing.assert_allclose(res.intercept, b, rtol=1e-8)
    loo = sr.ridge_cv(X, y, np.logspace(-3, 3, 13), penalty_factor=c, refine=True)
    W, b = ridge_oracle(X, y, loo.best_alpha, penalty_factor=c)
    np.testing.assert_allclose(loo.coef, W, rtol=1e-8)
    # the refinement's leave-one-out (with the free column's leverage) is the solver's
    np.testing.assert_allclose(loo.best_score, solver.loo([loo.best_alpha]).scores[0],
                               rtol=1e-9)
    with pytest.raises(ValueError, match="unpenalized columns"):
        sr.stats.coef_inference(solver, 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scoring", ["mse", "r2"])
def test_refine_kfold_against_brute_force(scoring, dtype):
    # held-out error of each target's refined alpha equals the bounded minimum of the
    # pooled K-fold error of direct per-fold solves between the grid's neighbours
    from scipy.optimize import minimize_scalar
    from sklearn.model_selection import KFold
    rng = np.random.default_rng(3)
    X = rng.standard_normal((90, 6))
    Y = X @ rng.standard_normal((6, 3)) + 2.0 * rng.standard_normal((90, 3))
    w = rng.uniform(0.5, 2.0, 90)
    alphas = np.logspace(-1, 4, 6)
    folds = list(KFold(4).split(X))
    grid = sr.ridge_cv(X.astype(dtype), Y.astype(dtype), alphas, cv=folds, sample_weight=w,
                       scoring=scoring)
    refined = sr.ridge_cv(X.astype(dtype), Y.astype(dtype), alphas, cv=folds,
                          sample_weight=w, scoring=scoring, refine=True)

    def loss(a, t):
        sse = sst = 0.0
        mean = np.average(Y[:, t], weights=w)
        for train, test in folds:
            xm = np.average(X[train], axis=0, weights=w[train])
            ym = np.average(Y[train, t], weights=w[train])
            Xc = (X[train] - xm) * np.sqrt(w[train])[:, None]
            coef = np.linalg.solve(Xc.T @ Xc + a * np.eye(6),
                                   Xc.T @ ((Y[train, t] - ym) * np.sqrt(w[train])))
            sse += w[test] @ (Y[test, t] - ym - (X[test] - xm) @ coef) ** 2
            sst += w[test] @ (Y[test, t] - mean) ** 2
        return sse / sst if scoring == "r2" else sse / w.sum()

    for t in range(3):
        i = int(np.asarray(grid.best_index)[t])
        lo, hi = np.log(alphas[max(i - 1, 0)]), np.log(alphas[min(i + 1, alphas.size - 1)])
        best = minimize_scalar(lambda u: loss(np.exp(u), t), bounds=(lo, hi),
                               method="bounded", options={"xatol": 1e-9}).fun
        got = loss(float(refined.best_alpha[t]), t)
        assert got <= loss(alphas[i], t) * (1 + 1e-12)
        assert got == pytest.approx(best, rel=1e-5 if dtype == np.float64 else 1e-3)
        want = 1.0 - got if scoring == "r2" else got
        assert float(refined.best_score[t]) == pytest.approx(want, rel=1e-6 if dtype ==
                                                             np.float64 else 1e-3)
    direct = sr.RidgeSolver(X, Y, sample_weight=w).per_target(refined.best_alpha)
    np.testing.assert_allclose(refined.coef, direct.coef, rtol=1e-4 if dtype == np.float32
                               else 1e-10, atol=1e-5 if dtype == np.float32 else 1e-12)
