"""Models beyond one scalar penalty: unpenalized columns, kernel ridge, positive ridge."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

import spectralridge as sr
from helpers import RTOL

# -- unpenalized columns (penalty factors of 0) -----------------------------------------------

pytestmark = pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")

FACTORS = np.array([0.0, 1.0, 2.0, 0.0, 0.5, 1.0])


def _data(n, p=6, k=3, seed=0, dtype=np.float64, weights=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + rng.uniform(-3, 3, p)
    Y = X @ rng.standard_normal((p, k)) + rng.standard_normal((n, k)) + 2.0
    w = rng.uniform(0.2, 3.0, n) if weights else None
    if weights:
        w[1] = 0.0
    return X.astype(dtype), Y.astype(dtype), w


def _augmented(X, fit_intercept):
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([np.ones((X.shape[0], 1)), X]) if fit_intercept else X


def _normal_equations(X, Y, alpha, factors, fit_intercept=True, w=None):
    """Coefficients and intercept of ``sum w (y - b - X W)^2 + alpha sum c_j W_j^2`` by a
    direct solve of the normal equations of the augmented design (zero penalty on b)."""
    A = _augmented(X, fit_intercept)
    w = np.ones(A.shape[0]) if w is None else w
    P = np.diag(np.r_[[0.0] * fit_intercept, factors]) * alpha
    Y = np.asarray(Y, dtype=np.float64)
    B = np.linalg.solve(A.T @ (w[:, None] * A) + P, A.T @ (w[:, None] * Y.reshape(len(Y), -1)))
    B = B.reshape((A.shape[1],) + Y.shape[1:])
    return (B[1:], B[0]) if fit_intercept else (B, np.zeros(B.shape[1:]))


def _hat(X, alpha, factors, fit_intercept=True, w=None):
    """The hat matrix of the weighted problem in the original units: yhat = H y."""
    A = _augmented(X, fit_intercept)
    w = np.ones(A.shape[0]) if w is None else w
    P = np.diag(np.r_[[0.0] * fit_intercept, factors]) * alpha
    return A @ np.linalg.solve(A.T @ (w[:, None] * A) + P, A.T * w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [40, 5])  # tall and wide (p = 6)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("method", ["auto", "svd", "gram", "kernel"])
def test_unpenalized_columns_match_normal_equations(dtype, n, fit_intercept, weights, method):
    X, Y, w = _data(n, dtype=dtype, weights=weights)
    alphas = np.array([0.1, 3.0, 100.0])
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w,
                            method=method, penalty_factor=FACTORS)
    coef, intercept = solver.coef(alphas), solver.intercept(alphas)
    assert coef.dtype == dtype and coef.shape == (3, 6, 3) and intercept.shape == (3, 3)
    pred = solver.predict(X[:4], alphas)
    for i, a in enumerate(alphas):
        W, b = _normal_equations(X, Y, a, FACTORS, fit_intercept, w)
        scale = np.abs(W).max()
        assert_allclose(coef[i], W, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)
        assert_allclose(intercept[i], b, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)
        assert_allclose(pred[i], X[:4].astype(float) @ W + b, rtol=RTOL[dtype],
                        atol=RTOL[dtype] * np.abs(Y).max())
    one = sr.RidgeSolver(X, Y[:, 0], fit_intercept=fit_intercept, sample_weight=w,
                         method=method, penalty_factor=FACTORS)
    assert one.coef(3.0).shape == (6,) and np.ndim(one.intercept(3.0)) == 0
    assert_allclose(one.coef(3.0), coef[1][:, 0], rtol=RTOL[dtype], atol=RTOL[dtype])
    # per-target alphas
    path = solver.per_target(alphas)
    for t, a in enumerate(alphas):
        W, b = _normal_equations(X, Y[:, t], a, FACTORS, fit_intercept, w)
        assert_allclose(path.coef[:, t], W, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(W).max())
        assert_allclose(path.intercept[t], b, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(W).max())


def test_unpenalized_with_ridge_path_and_lone_penalized_column():
    X, Y, _ = _data(30)
    factors = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 4.0])
    coef, intercept = sr.ridge_path(X, Y, [0.0, 1.0, 1e8], penalty_factor=factors)
    for i, a in enumerate([0.0, 1.0, 1e8]):
        W, b = _normal_equations(X, Y, a, factors)
        assert_allclose(coef[i], W, rtol=1e-9, atol=1e-10)
        assert_allclose(intercept[i], b, rtol=1e-9)
    # alpha -> inf: least squares on the unpenalized columns only
    W, b = _normal_equations(X[:, :5], Y, 0.0, np.zeros(5))
    assert_allclose(coef[2, :5], W, rtol=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("n", [30, 9])
def test_unpenalized_leave_one_out_and_gcv(fit_intercept, weights, n):
    X, Y, w = _data(n, weights=weights, seed=1)
    alphas = np.array([0.3, 3.0, 30.0])
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w,
                            penalty_factor=FACTORS)
    ww = np.ones(n) if w is None else w
    loo = solver.loo(alphas, alpha_per_target=True)
    gcv = solver.gcv(alphas)
    errors = solver.loo_errors(alphas)
    n_eff = np.count_nonzero(ww)
    for i, a in enumerate(alphas):
        # brute force: refit without each sample
        sse = np.zeros(Y.shape[1])
        for j in range(n):
            keep = np.arange(n) != j
            W, b = _normal_equations(X[keep], Y[keep], a, FACTORS, fit_intercept, ww[keep])
            e = Y[j] - X[j] @ W - b
            sse += ww[j] * e ** 2
            if ww[j] > 0:
                assert_allclose(errors[i, j], e, rtol=1e-9, atol=1e-12)
        assert_allclose(loo.scores[i], sse / ww.sum(), rtol=1e-10)
        # GCV from the explicit hat matrix: its trace counts the unpenalized columns
        H = _hat(X, a, FACTORS, fit_intercept, ww)
        W, b = _normal_equations(X, Y, a, FACTORS, fit_intercept, ww)
        rss = ww @ np.square(Y - X @ W - b)
        expected = (rss / ww.sum()) / (1 - np.trace(H) / n_eff) ** 2
        assert_allclose(gcv.scores[i], expected, rtol=1e-10)
    # R^2 is relative to the targets as given (not projected off the unpenalized columns)
    mean = ww @ Y / ww.sum()  # R^2 about the weighted mean, with or without intercept
    tss = ww @ np.square(Y - mean) / ww.sum()
    assert_allclose(solver.loo(alphas, scoring="r2").scores, 1 - loo.scores / tss,
                    rtol=1e-10)
    assert_allclose(solver.gcv(alphas, scoring="r2").scores, 1 - gcv.scores / tss,
                    rtol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sr.GridEdgeWarning)
        refined = sr.ridge_cv(X, Y, alphas, cv="gcv", scoring="r2", refine=True,
                              fit_intercept=fit_intercept, sample_weight=w,
                              penalty_factor=FACTORS)
        at_best = solver.gcv(refined.best_alpha).scores.diagonal()
    assert_allclose(refined.best_score, 1 - at_best / tss, rtol=1e-8)
    best = loo.best_alpha
    for t in range(Y.shape[1]):
        W, b = _normal_equations(X, Y[:, t], best[t], FACTORS, fit_intercept, ww)
        assert_allclose(loo.coef[:, t], W, rtol=1e-9, atol=1e-12)
        assert_allclose(loo.intercept[t], b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
def test_unpenalized_kfold_matches_brute_force(fit_intercept, weights):
    X, Y, w = _data(37, weights=weights, seed=2)
    ww = np.ones(37) if w is None else w
    alphas = np.array([0.1, 1.0, 10.0, 100.0])
    result = sr.ridge_cv(X, Y, alphas, cv=5, fit_intercept=fit_intercept, sample_weight=w,
                         penalty_factor=FACTORS, scoring="r2")
    folds = np.array_split(np.arange(37), 5)
    sse = np.zeros((alphas.size, Y.shape[1]))
    for test in folds:
        train = np.setdiff1d(np.arange(37), test)
        for i, a in enumerate(alphas):
            W, b = _normal_equations(X[train], Y[train], a, FACTORS, fit_intercept, ww[train])
            sse[i] += ww[test] @ np.square(Y[test] - X[test] @ W - b)
    sst = ww @ np.square(Y - ww @ Y / ww.sum())
    assert_allclose(result.scores, 1 - sse / sst, rtol=1e-10)


def test_unpenalized_matches_glmnet_definition():
    # glmnet (alpha = 0, gaussian, standardize = FALSE) minimizes
    #   1/(2n) sum (y/s_y - b0 - x beta)^2 + (lambda/s_y)/2 sum_j c'_j beta_j^2,
    # reporting s_y beta, with penalty.factor rescaled internally to c' = c p / sum(c)
    # (glmnet's documentation of penalty.factor). Solved here from that objective.
    X, Y, _ = _data(50, k=1, seed=3)
    y = Y[:, 0]
    n, p = X.shape
    c = np.array([0.0, 1.0, 3.0, 0.0, 1.0, 2.0])
    c_glmnet = c * p / c.sum()
    s_y = np.sqrt(np.mean(np.square(y - y.mean())))
    for lam in [0.01, 0.3, 2.0]:
        A = _augmented(X, True)
        P = np.diag(np.r_[0.0, c_glmnet]) * (lam / s_y)
        beta = np.linalg.solve(A.T @ A / n + P, A.T @ (y / s_y) / n)
        alpha = sr.stats.glmnet_lambda_to_alpha(lam, y)
        coef = sr.RidgeSolver(X, y, penalty_factor=c_glmnet).coef(alpha)
        assert_allclose(coef, s_y * beta[1:], rtol=1e-10)


def test_unpenalized_in_estimators():
    pytest.importorskip("sklearn")
    X, Y, w = _data(40, weights=True, seed=4)
    model = sr.Ridge(alpha=[0.5, 5.0, 50.0], penalty_factor=FACTORS).fit(X, Y, sample_weight=w)
    for t, a in enumerate([0.5, 5.0, 50.0]):
        W, b = _normal_equations(X, Y[:, t], a, FACTORS, True, w)
        assert_allclose(model.coef_[t], W, rtol=1e-9)
        assert_allclose(model.intercept_[t], b, rtol=1e-9)
    alphas = np.logspace(-2, 3, 8)
    for cv in [None, "gcv", 4]:
        est = sr.RidgeCV(alphas, cv=cv, alpha_per_target=True,
                         penalty_factor=FACTORS).fit(X, Y)
        ref = sr.ridge_cv(X, Y, alphas, cv="loo" if cv is None else cv,
                          penalty_factor=FACTORS, scoring="mse" if cv != 4 else "r2")
        assert_allclose(est.alpha_, ref.best_alpha)
        assert_allclose(est.coef_, ref.coef.T, rtol=1e-12)
    # a scorer that needs predictions goes through GridSearchCV(Ridge(penalty_factor))
    est = sr.RidgeCV(alphas, cv=4, scoring="neg_mean_absolute_error",
                     penalty_factor=FACTORS).fit(X, Y[:, 0])
    W, b = _normal_equations(X, Y[:, 0], est.alpha_, FACTORS)
    assert_allclose(est.coef_, W, rtol=1e-9)


def test_unpenalized_collinear_columns_are_named():
    X, Y, _ = _data(20)
    X[:, 3] = 2.5  # constant: collinear with the intercept
    with pytest.raises(ValueError, match=r"unpenalized columns \[3\] of X are collinear with "
                                         r"the other unpenalized columns \[0\] and the "
                                         r"intercept"):
        sr.RidgeSolver(X, Y, penalty_factor=FACTORS)
    # without intercept a constant column is a legitimate unpenalized column
    W, b = _normal_equations(X, Y, 1.0, FACTORS, False)
    assert_allclose(sr.RidgeSolver(X, Y, fit_intercept=False, penalty_factor=FACTORS).coef(1.0),
                    W, rtol=1e-9)
    X, Y, _ = _data(20)
    X[:, 3] = 2.0 * X[:, 0] - 1.0
    with pytest.raises(ValueError, match=r"unpenalized columns \[(0|3)\] of X are collinear"):
        sr.RidgeSolver(X, Y, penalty_factor=FACTORS)
    X[:, 3] = 0.0
    with pytest.raises(ValueError, match=r"unpenalized columns \[3\] of X are zero"):
        sr.RidgeSolver(X, Y, fit_intercept=False, penalty_factor=FACTORS)
    # more unpenalized columns than samples can determine
    X, Y, _ = _data(3)
    with pytest.raises(ValueError, match="collinear"):
        sr.RidgeSolver(X, Y, penalty_factor=[0.0, 0.0, 0.0, 1.0, 1.0, 1.0])


def _sparse_data(n, p, k=3, seed=0, dtype=np.float64, weights=False):
    """Sparse penalized columns (values around 2) and dense unpenalized ones (0, 3, 7)."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=0.3, random_state=seed, format="lil",
                  data_rvs=lambda size: rng.standard_normal(size) + 2.0)
    X[:, 0] = rng.standard_normal((n, 1)) + 3.0
    X[:, 3] = rng.uniform(0.0, 1.0, (n, 1))
    X[:, 7] = rng.standard_normal((n, 1)) * 2.0
    X = X.tocsr()
    Y = X @ rng.standard_normal((p, k)) + rng.standard_normal((n, k)) + 2.0
    w = rng.uniform(0.3, 2.0, n) if weights else None
    if weights:
        w[:2] = 0.0
    factors = rng.uniform(0.5, 2.0, p)
    factors[[0, 3, 7]] = 0.0
    return X.astype(dtype), Y.astype(dtype), w, factors


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b).max() / np.abs(b).max()


SPARSE_TOL = {np.float64: 1e-10, np.float32: 2e-4}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, p", [(80, 20), (25, 90)])  # tall and wide
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("method", ["auto", "svd", "gram", "kernel"])
def test_unpenalized_sparse_matches_dense(dtype, n, p, fit_intercept, weights, method):
    X, Y, w, factors = _sparse_data(n, p, dtype=dtype, weights=weights)
    kw = dict(fit_intercept=fit_intercept, sample_weight=w, penalty_factor=factors,
              method=method)
    a, b = sr.RidgeSolver(X, Y, **kw), sr.RidgeSolver(X.toarray(), Y, **kw)
    assert a.method == b.method and a.coef(1.0).dtype == dtype
    tol, alphas = SPARSE_TOL[dtype], np.logspace(-2, 3, 6)
    assert _rel(a.singular_values, b.singular_values) < tol
    assert _rel(a.coef(alphas), b.coef(alphas)) < tol
    assert _rel(a.dof(alphas), b.dof(alphas)) < tol
    if fit_intercept:
        assert _rel(a.intercept(alphas), b.intercept(alphas)) < tol
    expected = b.predict(X[:5].toarray(), alphas)
    for solver in (a, b):  # sparse and dense new samples on either fit
        for new in (X[:5], X[:5].toarray()):
            assert _rel(solver.predict(new, alphas), expected) < tol
    for name in ("loo", "gcv"):
        ra, rb = getattr(a, name)(alphas), getattr(b, name)(alphas)
        assert _rel(ra.scores, rb.scores) < tol
        assert _rel(ra.coef, rb.coef) < tol
    assert _rel(a.loo_errors(alphas), b.loo_errors(alphas)) < tol
    if method in ("auto", "svd"):
        ra = sr.ridge_cv(X, Y, alphas, cv=4, **kw)
        rb = sr.ridge_cv(X.toarray(), Y, alphas, cv=4, **kw)
        assert _rel(ra.scores, rb.scores) < tol
        assert _rel(ra.coef, rb.coef) < tol
        assert np.array_equal(ra.best_alpha, rb.best_alpha) or dtype == np.float32
        path = sr.ridge_path(X, Y, alphas, **kw)
        assert _rel(path.coef, b.coef(alphas)) < tol


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n, p", [(30, 12), (12, 30)])
def test_unpenalized_sparse_leave_one_out_brute_force(fit_intercept, n, p):
    X, Y, w, factors = _sparse_data(n, p, seed=3, weights=True)
    alphas = np.array([0.3, 3.0, 30.0])
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w,
                            penalty_factor=factors)
    loo, errors = solver.loo(alphas), solver.loo_errors(alphas)
    Xd = X.toarray()
    for i, a in enumerate(alphas):
        sse = np.zeros(Y.shape[1])
        for j in range(n):
            keep = np.arange(n) != j
            W, b = _normal_equations(Xd[keep], Y[keep], a, factors, fit_intercept, w[keep])
            e = Y[j] - Xd[j] @ W - b
            sse += w[j] * e ** 2
            if w[j] > 0:
                assert_allclose(errors[i, j], e, rtol=1e-9, atol=1e-12)
        assert_allclose(loo.scores[i], sse / w.sum(), rtol=1e-10)
        W, b = _normal_equations(Xd, Y, a, factors, fit_intercept, w)
        assert_allclose(solver.coef(a), W, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", ["tall", "wide"])
@pytest.mark.parametrize("case", ["near span", "large means"])
def test_unpenalized_sparse_ill_conditioned(shape, case):
    # a penalized column within 1e-4 of an unpenalized one, or penalized columns of large
    # means (fully stored): the implicit corrections cancel, the guard takes the exact route
    n, p = (120, 15) if shape == "tall" else (30, 80)
    X, Y, w, factors = _sparse_data(n, p, seed=4, weights=True)
    X = X.toarray()
    rng = np.random.default_rng(4)
    if case == "near span":
        X[:, 1] = 2.0 * X[:, 0] + 1e-4 * rng.standard_normal(n)
    else:
        X[:, [1, 2]] = 1e4 + rng.standard_normal((n, 2))
    Xs = sp.csr_matrix(X)
    alphas = np.logspace(-6, 2, 5)
    kw = dict(sample_weight=w, penalty_factor=factors)
    a, b = sr.RidgeSolver(Xs, Y, **kw), sr.RidgeSolver(X, Y, **kw)
    assert _rel(a.coef(alphas), b.coef(alphas)) < 1e-10
    assert _rel(a.intercept(alphas), b.intercept(alphas)) < 1e-10
    assert _rel(a.loo(alphas).scores, b.loo(alphas).scores) < 1e-10
    assert _rel(a.gcv(alphas).scores, b.gcv(alphas).scores) < 1e-10
    assert _rel(sr.ridge_cv(Xs, Y, alphas, cv=3, **kw).scores,
                sr.ridge_cv(X, Y, alphas, cv=3, **kw).scores) < 1e-10
    direct = sr.RidgeSolver(X, Y, method="svd", **kw)
    assert _rel(a.coef(alphas), direct.coef(alphas)) < 1e-9


def test_unpenalized_sparse_in_estimators():
    pytest.importorskip("sklearn")
    X, Y, w, factors = _sparse_data(50, 12, seed=5, weights=True)
    alphas = [0.5, 5.0, 50.0]
    model = sr.Ridge(alpha=alphas, penalty_factor=factors).fit(X, Y, sample_weight=w)
    for t, a in enumerate(alphas):
        W, b = _normal_equations(X.toarray(), Y[:, t], a, factors, True, w)
        assert_allclose(model.coef_[t], W, rtol=1e-9)
        assert_allclose(model.intercept_[t], b, rtol=1e-9)
    assert_allclose(model.predict(X[:4]), model.predict(X[:4].toarray()), rtol=1e-12)
    for cv in [None, "gcv", 4]:
        est = sr.RidgeCV(np.logspace(-2, 3, 8), cv=cv, alpha_per_target=True,
                         penalty_factor=factors).fit(X, Y, sample_weight=w)
        ref = sr.RidgeCV(np.logspace(-2, 3, 8), cv=cv, alpha_per_target=True,
                         penalty_factor=factors).fit(X.toarray(), Y, sample_weight=w)
        assert_allclose(est.alpha_, ref.alpha_)
        assert_allclose(est.coef_, ref.coef_, rtol=1e-10, atol=1e-12)


def test_unpenalized_sparse_collinear_columns_are_named():
    X, Y, _, factors = _sparse_data(20, 10)
    X = X.tolil()
    X[:, 3] = 2.5  # constant: collinear with the intercept
    with pytest.raises(ValueError, match=r"unpenalized columns \[3\] of X are collinear with "
                                         r"the other unpenalized columns \[0, 7\] and the "
                                         r"intercept"):
        sr.RidgeSolver(X.tocsr(), Y, penalty_factor=factors)
    X[:, 3] = 0.0
    with pytest.raises(ValueError, match=r"unpenalized columns \[3\] of X are zero"):
        sr.RidgeSolver(X.tocsr(), Y, fit_intercept=False, penalty_factor=factors)


def test_unpenalized_sparse_never_densified():
    from helpers import traced_peak
    n, p = 100_000, 1000
    rng = np.random.default_rng(6)
    X = sp.random(n, p, density=1e-3, random_state=6, format="lil")
    X[:, 0] = rng.standard_normal((n, 1))
    X = X.tocsr()
    Y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    factors = np.ones(p)
    factors[0] = 0.0

    def fit():
        solver = sr.RidgeSolver(X, Y, penalty_factor=factors)
        solver.coef([1.0, 10.0])
        solver.gcv([1.0, 10.0])
        return solver

    solver, peak = traced_peak(fit)
    assert solver.method == "gram"
    assert peak < n * p * 8 / 10


# -- kernel ridge ---------------------------------------------------------------------------

def _kernel_data(n=40, k=2, seed=5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 3))
    Y = np.sin(X @ [1.0, 2.0, 0.5])[:, None] + 0.1 * rng.standard_normal((n, k)) + 3.0
    return X.astype(dtype), Y.astype(dtype), rng.uniform(0.3, 2.0, n)


@pytest.mark.parametrize("kernel, params", [("rbf", dict(gamma=0.3)), ("linear", {}),
                                            ("poly", dict(degree=2, gamma=0.5, coef0=1.0)),
                                            ("laplacian", dict(gamma=0.2))])
@pytest.mark.parametrize("weights", [False, True])
def test_kernel_ridge_matches_sklearn_without_intercept(kernel, params, weights):
    from sklearn.kernel_ridge import KernelRidge
    X, Y, w = _kernel_data()
    w = w if weights else None
    solver = sr.KernelRidgeSolver(X, Y, kernel=kernel, fit_intercept=False, sample_weight=w,
                                  **params)
    alphas = np.array([1e-3, 0.1, 10.0])
    dual, pred = solver.dual_coef(alphas), solver.predict(X[:7] + 0.1, alphas)
    assert_allclose(solver.intercept(alphas), 0.0)
    for i, a in enumerate(alphas):
        ref = KernelRidge(alpha=a, kernel=kernel, **params).fit(X, Y, sample_weight=w)
        assert_allclose(dual[i], ref.dual_coef_, rtol=1e-9,
                        atol=1e-9 * np.abs(ref.dual_coef_).max())
        assert_allclose(pred[i], ref.predict(X[:7] + 0.1), rtol=1e-9, atol=1e-10 * np.abs(Y).max())
    est = sr.KernelRidgeCV(alphas, kernel=kernel, fit_intercept=False, **params).fit(X, Y[:, 0])
    ref = KernelRidge(alpha=est.alpha_, kernel=kernel, **params).fit(X, Y[:, 0])
    assert_allclose(est.dual_coef_, ref.dual_coef_, rtol=1e-9,
                    atol=1e-9 * np.abs(ref.dual_coef_).max())
    assert_allclose(est.predict(X + 0.1), ref.predict(X + 0.1), rtol=1e-9,
                    atol=1e-10 * np.abs(Y).max())
    assert est.intercept_ == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_ridge_paths_over_many_alphas_are_compressed(dtype, monkeypatch):
    # dual coefficients, intercepts and predictions over 200 alphas through the engine's
    # compressed paths: the exact filter's values, and scikit-learn's
    from sklearn.kernel_ridge import KernelRidge
    from spectralridge import _scores
    X, Y, w = _kernel_data(n=150, k=3, dtype=dtype)
    X_new = (X[:20] + 0.1).astype(dtype)
    alphas = np.logspace(-3, 5, 200)
    solver = sr.KernelRidgeSolver(X, Y, kernel="laplacian", gamma=0.2, sample_weight=w)
    with sr.loo_compression(False):
        want = (solver.dual_coef(alphas), solver.intercept(alphas),
                solver.predict(X_new, alphas))
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)
    plans = []
    factors = _scores.path_factors
    monkeypatch.setattr(_scores, "path_factors",
                        lambda *a: plans.append(factors(*a)) or plans[-1])
    got = solver.dual_coef(alphas), solver.intercept(alphas), solver.predict(X_new, alphas)
    assert len(plans) == 3 and all(plan is not None and plan[0].shape[1] < 100
                                   for plan in plans)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for g, want_g in zip(got, want):
        size = np.abs(want_g).reshape(alphas.size, -1).max(axis=1)
        assert (np.abs(g - want_g).reshape(alphas.size, -1).max(axis=1) <= tol * size).all()
    X64, Y64 = X.astype(float), Y.astype(float)
    plain = sr.KernelRidgeSolver(X, Y, kernel="laplacian", gamma=0.2, fit_intercept=False)
    dual = plain.dual_coef(alphas)
    for i in (0, 120, 199):
        ref = KernelRidge(alpha=alphas[i], kernel="laplacian", gamma=0.2).fit(X64, Y64)
        assert_allclose(dual[i], ref.dual_coef_, rtol=RTOL[dtype],
                        atol=RTOL[dtype] * np.abs(ref.dual_coef_).max())


def _feature_map(K):
    """Rows of a feature map of the PSD kernel K (n x n) and the map of new cross kernels."""
    lam, Q = np.linalg.eigh(K)
    keep = lam > 1e-12 * lam.max()
    Phi = Q[:, keep] * np.sqrt(lam[keep])
    return Phi, lambda K_new: K_new @ Q[:, keep] / np.sqrt(lam[keep])


@pytest.mark.parametrize("weights", [False, True])
def test_kernel_ridge_intercept_matches_augmented_solve(weights):
    from sklearn.metrics.pairwise import rbf_kernel
    X, Y, w = _kernel_data()
    ww = w if weights else np.ones(len(X))
    K = rbf_kernel(X, gamma=0.3)
    Phi, phi = _feature_map(K)
    X_new = X[:5] + 0.05
    K_new = rbf_kernel(X_new, X, gamma=0.3)
    for kernel, data, new in [("rbf", X, X_new), ("precomputed", K, K_new)]:
        solver = sr.KernelRidgeSolver(data, Y, kernel=kernel, gamma=0.3,
                                      sample_weight=w if weights else None)
        for a in [1e-2, 1.0]:
            W, b = _normal_equations(Phi, Y, a, np.ones(Phi.shape[1]), True, ww)
            assert_allclose(solver.predict(new, a), phi(K_new) @ W + b,
                            rtol=1e-9)
            dual = solver.dual_coef(a)
            assert_allclose(K @ dual + solver.intercept(a), Phi @ W + b, rtol=1e-9)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
def test_kernel_ridge_cv_matches_brute_force(fit_intercept, weights):
    X, Y, w = _kernel_data(n=30)
    w = w if weights else None
    ww = np.ones(30) if w is None else w
    alphas = np.array([1e-3, 0.03, 1.0, 30.0])
    kw = dict(kernel="rbf", gamma=0.4, fit_intercept=fit_intercept)
    solver = sr.KernelRidgeSolver(X, Y, sample_weight=w, **kw)
    loo, gcv = solver.loo(alphas), solver.gcv(alphas, scoring="r2")
    sse = np.zeros((alphas.size, 2))
    for i in range(30):
        keep = np.arange(30) != i
        sub = sr.KernelRidgeSolver(X[keep], Y[keep], sample_weight=ww[keep], **kw)
        sse += ww[i] * np.square(Y[i] - sub.predict(X[i:i + 1], alphas)[:, 0])
    assert_allclose(loo.scores, sse / ww.sum(), rtol=1e-9)
    # GCV from the explicit hat matrix of the weighted problem
    from sklearn.metrics.pairwise import rbf_kernel
    Phi, _ = _feature_map(rbf_kernel(X, gamma=0.4))
    for i, a in enumerate(alphas):
        H = _hat(Phi, a, np.ones(Phi.shape[1]), fit_intercept, ww)
        resid = Y - H @ Y
        mse = (ww @ np.square(resid)) / ww.sum() / (1 - np.trace(H) / 30) ** 2
        sst = ww @ np.square(Y - ww @ Y / ww.sum()) / ww.sum()
        assert_allclose(gcv.scores[i], 1 - mse / sst, rtol=1e-9)
    folds = sr.KernelRidgeSolver(X, Y, sample_weight=w, **kw).cross_validate(alphas, cv=4)
    sse, tw = np.zeros((alphas.size, 2)), 0.0
    for test in np.array_split(np.arange(30), 4):
        train = np.setdiff1d(np.arange(30), test)
        sub = sr.KernelRidgeSolver(X[train], Y[train], sample_weight=ww[train], **kw)
        sse += np.einsum("i,mik->mk", ww[test], np.square(Y[test] - sub.predict(X[test], alphas)))
        tw += ww[test].sum()
    assert_allclose(folds.scores, sse / tw, rtol=1e-10)
    # the refit at the best alpha per target
    for t in range(2):
        a = folds.best_alpha[t]
        assert_allclose(folds.coef[:, t], solver.dual_coef(a)[:, t], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("scoring", ["mse", "r2"])
@pytest.mark.parametrize("alpha_per_target", [True, False])
def test_kernel_ridge_cv_one_standard_error_rule(scoring, alpha_per_target):
    # brute force: per-fold scores of sklearn's KernelRidge (no intercept), their standard
    # error over folds at the best alpha, then the largest alpha within it
    from sklearn.kernel_ridge import KernelRidge
    rng = np.random.default_rng(8)
    X = rng.uniform(-2, 2, (60, 3))
    Y = np.sin(X @ rng.standard_normal((3, 3))) + 0.5 * rng.standard_normal((60, 3))
    alphas = np.logspace(-4, 2, 31)
    folds = [(np.setdiff1d(np.arange(60), t), t) for t in np.array_split(rng.permutation(60), 5)]
    solver = sr.KernelRidgeSolver(X, Y, kernel="rbf", gamma=0.5, fit_intercept=False)
    result = solver.cross_validate(alphas, cv=folds, scoring=scoring,
                                   alpha_per_target=alpha_per_target, rule="1se")
    per_fold = np.empty((5, alphas.size, 3))
    sse, sst = np.zeros((alphas.size, 3)), np.zeros(3)
    mean = Y.mean(axis=0)
    for f, (train, test) in enumerate(folds):
        tss = np.square(Y[test] - mean).sum(axis=0)
        sst += tss
        for i, a in enumerate(alphas):
            model = KernelRidge(alpha=a, kernel="rbf", gamma=0.5).fit(X[train], Y[train])
            split_sse = np.square(Y[test] - model.predict(X[test])).sum(axis=0)
            sse[i] += split_sse
            per_fold[f, i] = split_sse / test.size if scoring == "mse" else 1 - split_sse / tss
    pooled = sse / 60 if scoring == "mse" else 1 - sse / sst
    assert_allclose(result.scores, pooled, rtol=1e-9)
    loss = per_fold if scoring == "mse" else -per_fold
    pooled_loss = pooled if scoring == "mse" else -pooled
    if not alpha_per_target:
        loss, pooled_loss = loss.mean(axis=2, keepdims=True), pooled_loss.mean(axis=1,
                                                                               keepdims=True)
    se = loss.std(axis=0, ddof=1) / np.sqrt(5)
    expected = []
    for t in range(pooled_loss.shape[1]):
        i = np.argmin(pooled_loss[:, t])
        within = np.flatnonzero(pooled_loss[:, t] <= pooled_loss[i, t] + se[i, t])
        expected.append(alphas[within.max()])  # the largest alpha: fewest dof
    expected = np.broadcast_to(expected, (3,))
    assert_allclose(result.best_alpha, expected)
    assert result.rule == "1se"
    minimum = solver.cross_validate(alphas, cv=folds, scoring=scoring,
                                    alpha_per_target=alpha_per_target)
    assert (result.best_alpha >= minimum.best_alpha).all()
    assert (result.best_alpha > minimum.best_alpha).any()
    # the estimator passes the rule on; leave-one-out and GCV have no per-split scores
    est = sr.KernelRidgeCV(alphas, kernel="rbf", gamma=0.5, fit_intercept=False, cv=folds,
                           rule="1se", alpha_per_target=alpha_per_target,
                           scoring="neg_mean_squared_error" if scoring == "mse" else "r2")
    assert_allclose(est.fit(X, Y).alpha_, expected if alpha_per_target else expected[0])
    for cv in [None, "gcv"]:
        with pytest.raises(ValueError, match="rule='1se' needs per-split scores"):
            sr.KernelRidgeCV(alphas, cv=cv, rule="1se").fit(X, Y)
    with pytest.raises(ValueError, match="rule must be 'min' or '1se'"):
        solver.cross_validate(alphas, rule="max")
    with pytest.raises(ValueError, match="needs at least 2 splits"):
        solver.cross_validate(alphas, cv=folds[:1], rule="1se")


def test_kernel_ridge_cv_estimator():
    X, Y, w = _kernel_data(n=50)
    alphas = np.logspace(-3, 1, 9)
    for cv, scoring in [(None, None), ("gcv", "r2"), (5, None), (5, "neg_mean_squared_error")]:
        est = sr.KernelRidgeCV(alphas, kernel="rbf", gamma=0.3, cv=cv, scoring=scoring,
                               alpha_per_target=True).fit(X, Y, sample_weight=w)
        solver = sr.KernelRidgeSolver(X, Y, kernel="rbf", gamma=0.3, sample_weight=w)
        ours = "r2" if scoring == "r2" or (cv == 5 and scoring is None) else "mse"
        res = solver.loo(alphas, scoring=ours) if cv is None else \
            solver.gcv(alphas, scoring=ours) if cv == "gcv" else \
            solver.cross_validate(alphas, cv=5, scoring=ours)
        assert_allclose(est.alpha_, res.best_alpha)
        assert_allclose(est.dual_coef_, res.coef, rtol=1e-12)
        assert_allclose(est.predict(X[:3]), np.stack([solver.predict(X[:3], a)[:, t]
                                                     for t, a in enumerate(est.alpha_)], 1),
                        rtol=1e-10)
        assert est.cv_scores_.shape == (9, 2)
    est = sr.KernelRidgeCV(alphas).fit(X, Y[:, 0].astype(np.float32))
    assert np.isscalar(est.alpha_) and est.dual_coef_.shape == (50,)
    with pytest.raises(ValueError, match="scoring must be None"):
        sr.KernelRidgeCV(scoring="neg_mean_absolute_error").fit(X, Y)
    with pytest.raises(ValueError, match="groups cannot be used with cv='gcv'"):
        sr.KernelRidgeCV(cv="gcv").fit(X, Y, groups=np.arange(50) % 5)


def test_kernel_ridge_float32_and_default_grid():
    X, Y, _ = _kernel_data(dtype=np.float32)
    solver = sr.KernelRidgeSolver(X, Y, kernel="rbf", gamma=0.3)
    ref = sr.KernelRidgeSolver(X.astype(float), Y.astype(float), kernel="rbf", gamma=0.3)
    res = solver.loo()
    assert res.coef.dtype == np.float32 and res.alphas.size == 30
    assert_allclose(res.scores, ref.loo(res.alphas).scores, rtol=1e-4)
    assert_allclose(solver.dof(res.alphas[[0, -1]]), [0.9995 * solver.rank, 5e-4 * solver.rank],
                    rtol=1e-6)


@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
@pytest.mark.parametrize("one_target", [False, True])
@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
def test_banded_ridge_cv_estimator_on_dask_matches_numpy(cv, one_target):
    """Dask X, y and weights: the selection computed in one pass, coef_ and predictions
    lazy, every attribute equal to the NumPy fit's."""
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(5)
    X = rng.standard_normal((90, 9)) * np.repeat([1.0, 0.3, 3.0], 3)
    Y = X @ rng.standard_normal((9, 4)) + rng.standard_normal((90, 4))
    Y = Y[:, 0] if one_target else Y
    w = rng.uniform(0.5, 2.0, 90)
    kw = dict(alphas=np.logspace(-2, 3, 7), n_candidates=4, cv=cv, random_state=0)
    groups = [np.arange(3), np.arange(3, 6), np.arange(6, 9)]
    ref = sr.BandedRidgeCV(groups, **kw).fit(X, Y, sample_weight=w)
    dX = da.from_array(X, chunks=(30, 9))
    dY = da.from_array(Y, chunks=(30,) if one_target else (30, 2))
    got = sr.BandedRidgeCV(groups, **kw).fit(dX, dY, sample_weight=da.from_array(w, chunks=30))
    assert isinstance(got.coef_, da.Array)
    assert_allclose(got.coef_.compute(), ref.coef_, rtol=1e-10, atol=1e-13)
    assert_allclose(np.asarray(got.intercept_), ref.intercept_, rtol=1e-10, atol=1e-13)
    for name in ("alphas_", "alpha_", "weights_", "cv_scores_", "best_score_"):
        assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-10, err_msg=name)
    pred = got.predict(dX)
    assert isinstance(pred, da.Array)
    assert_allclose(pred.compute(), ref.predict(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cv", ["loo", "gcv", 4])
@pytest.mark.parametrize("kernel", ["rbf", "poly", "precomputed"])
@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
def test_kernel_ridge_on_dask_matches_numpy(kernel, cv):
    """Dask X (the kernel from its row blocks, or a Dask precomputed kernel), y and weights:
    the solver's scores and dual coefficients equal NumPy's, predictions of Dask rows are
    lazy; the estimator equals its NumPy fit and, without intercept, scikit-learn's
    KernelRidge."""
    da = pytest.importorskip("dask.array")
    from sklearn.kernel_ridge import KernelRidge
    rng = np.random.default_rng(12)
    X = rng.uniform(-3, 3, (70, 3))
    Y = np.c_[np.sin(X[:, 0]), X[:, 1] * X[:, 2]] + 0.1 * rng.standard_normal((70, 2))
    w = rng.uniform(0.5, 2.0, 70)
    alphas = np.logspace(-3, 1, 9)
    params = dict(kernel=kernel, gamma=0.3)
    if kernel == "precomputed":
        params = dict(kernel="precomputed")
        X = np.exp(-0.3 * np.square(X[:, None] - X[None]).sum(axis=2))
    dX = da.from_array(X, chunks=(25, X.shape[1]))
    dY, dw = da.from_array(Y, chunks=(25, 2)), da.from_array(w, chunks=25)
    ref = sr.KernelRidgeSolver(X, Y, sample_weight=w, **params)
    got = sr.KernelRidgeSolver(dX, dY, sample_weight=dw, **params)
    assert isinstance(got.X_fit_, da.Array)
    run = {"loo": lambda s: s.loo(alphas), "gcv": lambda s: s.gcv(alphas),
           4: lambda s: s.cross_validate(alphas, cv=4)}[cv]
    want, have = run(ref), run(got)
    assert_allclose(have.scores, want.scores, rtol=1e-10)
    assert_allclose(have.coef, want.coef, rtol=1e-9, atol=1e-12)
    lazy = got.predict(dX[:30], alphas)
    assert isinstance(lazy, da.Array)
    assert_allclose(lazy.compute(), ref.predict(X[:30], alphas), rtol=1e-9, atol=1e-12)
    est_kw = dict(cv=None if cv == "loo" else cv, **params)
    est = sr.KernelRidgeCV(alphas, **est_kw).fit(dX, dY, sample_weight=dw)
    est_ref = sr.KernelRidgeCV(alphas, **est_kw).fit(X, Y, sample_weight=w)
    assert_allclose(est.dual_coef_, est_ref.dual_coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(est.alpha_, est_ref.alpha_)
    pred = est.predict(dX)
    assert isinstance(pred, da.Array)
    assert_allclose(pred.compute(), est_ref.predict(X), rtol=1e-9, atol=1e-12)
    one = sr.KernelRidgeCV([0.1], fit_intercept=False, **est_kw).fit(dX, dY)
    sk = KernelRidge(alpha=0.1, **params).fit(X, Y)
    assert_allclose(one.dual_coef_, sk.dual_coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(one.predict(dX[:10]).compute(), sk.predict(X[:10]), rtol=1e-9,
                    atol=1e-12)
    with pytest.raises(ValueError, match="X has 2 columns"):
        got.predict(dX[:, :2], alphas)


def test_kernel_ridge_bad_kernels():
    X, Y, _ = _kernel_data(n=20)
    with pytest.raises(ValueError, match="must be square"):
        sr.KernelRidgeSolver(X, Y, kernel="precomputed")
    K = X @ X.T
    K[0, 1] += 1.0
    with pytest.raises(ValueError, match=r"must be symmetric; got K\[(0, 1|1, 0)\]"):
        sr.KernelRidgeSolver(K, Y, kernel="precomputed")
    K = X @ X.T - 5.0 * np.eye(20)
    with pytest.raises(ValueError, match="must be positive semi-definite"):
        sr.KernelRidgeSolver(K, Y, kernel="precomputed", fit_intercept=False)
    with pytest.raises(ValueError, match="kernel must be one of"):
        sr.KernelRidgeSolver(X, Y, kernel="nope")
    # rounding-level negative eigenvalues are clipped: a rank-3 Gram has many
    K = X @ X.T
    solver = sr.KernelRidgeSolver(K, Y, kernel="precomputed", fit_intercept=False)
    assert solver.rank == 3
    with pytest.raises(ValueError, match=r"shape \(n_new, 20\)"):
        solver.predict(K[:, :5], 1.0)


# -- positive ---------------------------------------------------------------------------------

def _positive_reference(X, Y, alpha, fit_intercept, w, factors=None):
    """BVLS (scipy.optimize.lsq_linear) on the augmented weighted, centred system."""
    from scipy.optimize import lsq_linear
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    w = np.ones(len(X)) if w is None else w
    xm = w @ X / w.sum() if fit_intercept else np.zeros(X.shape[1])
    ym = w @ Y / w.sum() if fit_intercept else np.zeros(Y.shape[1])
    c = np.ones(X.shape[1]) if factors is None else factors
    A = np.vstack([np.sqrt(w)[:, None] * (X - xm), np.diag(np.sqrt(alpha * c))])
    W = np.stack([lsq_linear(A, np.r_[np.sqrt(w) * (Y[:, t] - ym[t]), np.zeros(X.shape[1])],
                             bounds=(0, np.inf), method="bvls", tol=1e-14).x
                  for t in range(Y.shape[1])], axis=1)
    return W, ym - xm @ W


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n", [60, 6])
def test_positive_ridge_matches_bvls_and_sklearn(sparse, fit_intercept, n):
    from sklearn.linear_model import Ridge
    rng = np.random.default_rng(6)
    X = rng.standard_normal((n, 8)) + 1.0
    Y = X @ rng.standard_normal((8, 3)) + rng.standard_normal((n, 3))
    w = rng.uniform(0.5, 2.0, n)
    alphas = [0.5, 5.0, 50.0]
    Xi = sp.csr_matrix(X) if sparse else X
    model = sr.Ridge(alpha=alphas, positive=True, fit_intercept=fit_intercept).fit(
        Xi, Y, sample_weight=w)
    assert (model.coef_ >= 0).all() and (model.coef_ == 0).any() and model.solver_ == "nnls"
    for t, a in enumerate(alphas):
        W, b = _positive_reference(X, Y[:, [t]], a, fit_intercept, w)
        assert_allclose(model.coef_[t], W[:, 0], rtol=1e-9, atol=1e-10)
        assert_allclose(model.intercept_[t] if fit_intercept else 0.0, b[0] if fit_intercept
                        else 0.0, rtol=1e-9, atol=1e-10)
    tight = Ridge(alpha=alphas, positive=True, fit_intercept=fit_intercept, tol=1e-12,
                  max_iter=100000).fit(Xi, Y, sample_weight=w)
    assert_allclose(model.coef_, tight.coef_, rtol=1e-6, atol=1e-7)

    def objective(est):
        resid = Y - est.predict(Xi)
        return w @ np.square(resid) + np.array(alphas) * np.square(est.coef_).sum(axis=1)

    # scikit-learn's default L-BFGS-B stops at tol=1e-4: never below the exact minimum
    ref = Ridge(alpha=alphas, positive=True, fit_intercept=fit_intercept).fit(
        Xi, Y, sample_weight=w)
    assert (objective(model) <= objective(ref) * (1 + 1e-12)).all()
    assert_allclose(objective(ref), objective(model), rtol=1e-3)


def test_positive_ridge_one_target_penalty_factor_and_errors():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 5))
    y = X @ [1.0, -1.0, 2.0, 0.5, -0.5] + 0.1 * rng.standard_normal(40)
    factors = np.array([0.0, 1.0, 2.0, 1.0, 1.0])
    model = sr.Ridge(alpha=3.0, positive=True, penalty_factor=factors).fit(X, y)
    W, b = _positive_reference(X, y[:, None], 3.0, True, None, factors)
    assert model.coef_.shape == (5,) and np.ndim(model.intercept_) == 0
    assert_allclose(model.coef_, W[:, 0], rtol=1e-9, atol=1e-10)
    assert_allclose(model.intercept_, b[0], rtol=1e-9)
    assert model.coef_[1] == 0.0 and model.coef_[4] == 0.0
    model32 = sr.Ridge(alpha=3.0, positive=True).fit(X.astype(np.float32), y.astype(np.float32))
    assert model32.coef_.dtype == np.float32
    for solver in ["svd", "cholesky", "sag"]:
        with pytest.raises(ValueError, match=f"solver='{solver}' does not support positive"):
            sr.Ridge(positive=True, solver=solver).fit(X, y)
    assert_allclose(sr.Ridge(positive=True, solver="lbfgs").fit(X, y).coef_,
                    sr.Ridge(positive=True).fit(X, y).coef_)


# -- banded ridge -----------------------------------------------------------------------------

def _banded_data(n=100, seed=8):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 9)) + rng.uniform(-1, 1, 9)
    signal = [X[:, :3] @ [1.0, -1.0, 0.5], X[:, 3:6] @ [1.0, 2.0, 0.5], X[:, 6:] @ [1.0, 1.0, 1.0]]
    Y = np.stack(signal, axis=1) + rng.standard_normal((n, 3))
    return X, Y, np.repeat([0, 1, 2], 3)


def test_banded_kfold_scores_equal_himalaya():
    himalaya = pytest.importorskip("himalaya")
    import warnings
    from himalaya.backend import set_backend
    from himalaya.ridge import GroupRidgeCV
    set_backend("numpy", on_error="raise")
    X, Y, groups = _banded_data()
    alphas = np.logspace(-2, 3, 11)
    # himalaya scales each group by sqrt(gamma) in place: it cannot take a zero weight, so
    # compare on the centre and the Dirichlet samples (n = 100: equal folds, where its mean
    # of per-fold scores equals the pooled score)
    candidates = np.delete(sr.dirichlet_candidates(3, 10, random_state=0), [1, 2, 3], axis=0)
    for fit_intercept in [True, False]:
        res = sr.banded_ridge_cv(X, Y, groups, alphas, candidates=candidates, cv=5,
                                 fit_intercept=fit_intercept)
        ref = GroupRidgeCV(groups=groups, fit_intercept=fit_intercept, cv=5, solver_params=dict(
            n_iter=candidates, alphas=alphas, progress_bar=False))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ref.fit(X, Y)
        assert_allclose(-res.scores.min(axis=1), ref.cv_scores_, rtol=1e-6, atol=1e-9)
        assert_allclose(res.coef, ref.coef_, rtol=1e-6, atol=1e-9)
        finite = np.isfinite(res.group_alphas)
        assert_allclose(res.group_alphas[finite], np.exp(-ref.deltas_)[finite], rtol=1e-6)


@pytest.mark.parametrize("cv", ["loo", "gcv", 4])
def test_banded_each_candidate_is_a_direct_solve(cv):
    X, Y, groups = _banded_data(n=40, seed=9)
    w = np.random.default_rng(1).uniform(0.5, 2.0, 40)
    alphas = np.array([0.1, 1.0, 10.0])
    res = sr.banded_ridge_cv(X, Y, groups, alphas, n_candidates=3, cv=cv, sample_weight=w,
                             random_state=2)
    assert res.candidates.shape == (7, 3) and res.scores.shape == (7, 3, 3)
    assert_allclose(res.candidates.sum(axis=1), 1.0)
    for c, gamma in enumerate(res.candidates):
        keep = gamma[groups] > 1e-10 * gamma.max()
        ref = sr.ridge_cv(X[:, keep], Y, alphas, cv=cv, sample_weight=w,
                          penalty_factor=1 / gamma[groups][keep])
        assert_allclose(res.scores[c], ref.scores, rtol=1e-12)
    for t in range(3):
        gamma = res.candidates[res.best_candidate[t]]
        assert_allclose(res.group_alphas[:, t],
                        np.where(gamma > 0, res.best_alpha[t] / np.where(gamma > 0, gamma, 1),
                                 np.inf))
        keep = gamma[groups] > 1e-10 * gamma.max()
        W, b = _normal_equations(X[:, keep], Y[:, t], res.best_alpha[t],
                                 1 / gamma[groups][keep], True, w)
        assert_allclose(res.coef[keep, t], W, rtol=1e-9)
        assert_allclose(res.coef[~keep, t], 0.0)
        assert_allclose(res.intercept[t], b, rtol=1e-9)
        assert res.best_score[t] == res.scores[res.best_candidate[t]].min(axis=0)[t]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["plain", "r2-no-intercept", "collinear"])
def test_banded_kfold_from_fold_grams_equals_per_candidate_ridge_cv(case, dtype):
    """The K-fold search (one Gram per fold for every candidate, dense tall X) scores each
    candidate as ridge_cv does, and its refit is the direct solve at the chosen alpha; a
    nearly collinear design with tiny alphas takes the rows' SVD where the Gram is not
    accurate enough."""
    sklearn = pytest.importorskip("sklearn.model_selection")
    X, Y, groups = _banded_data(n=90, seed=11)
    alphas = np.logspace(-2, 3, 7)
    w = np.random.default_rng(3).uniform(0.0, 2.0, 90)
    kw = dict(sample_weight=w, cv=sklearn.KFold(4, shuffle=True, random_state=0))
    if case == "r2-no-intercept":
        kw.update(scoring="r2", fit_intercept=False)
    if case == "collinear":
        X[:, 1] = X[:, 0] + 1e-7 * np.random.default_rng(4).standard_normal(90)
        alphas = np.logspace(-12, 2, 8)
    X, Y = X.astype(dtype), Y.astype(dtype)
    candidates = np.vstack([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0],
                            np.random.default_rng(5).dirichlet([1.0] * 3, 3)])
    res = sr.banded_ridge_cv(X, Y, groups, alphas, candidates=candidates, **kw)
    assert res.scores.dtype == dtype and res.coef.dtype == dtype
    tol = 1e-9 if dtype == np.float64 else 1e-4
    for c, gamma in enumerate(res.candidates):
        keep = gamma[groups] > 0
        ref = sr.ridge_cv(X[:, keep], Y, alphas, penalty_factor=1 / gamma[groups][keep], **kw)
        assert_allclose(res.scores[c], ref.scores, rtol=tol)
    for t in range(Y.shape[1]):
        gamma = res.candidates[res.best_candidate[t]]
        keep = gamma[groups] > 0
        W, b = _normal_equations(X[:, keep].astype(np.float64), Y[:, t], res.best_alpha[t],
                                 1 / gamma[groups][keep], kw.get("fit_intercept", True), w)
        assert_allclose(res.coef[keep, t], W, rtol=10 * tol, atol=10 * tol * np.abs(W).max())
        assert_allclose(res.coef[~keep, t], 0.0)
        assert_allclose(res.intercept[t], b, rtol=10 * tol, atol=10 * tol * np.abs(W).max())


def test_banded_recovers_planted_groups():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(10)
    X = rng.standard_normal((400, 30))
    W = np.zeros((30, 3))
    W[:10, 0] = rng.standard_normal(10)          # target 0: group 0 only
    W[10:20, 1] = rng.standard_normal(10)        # target 1: group 1 only
    W[:20, 2] = rng.standard_normal(20) * 0.3    # target 2: groups 0 and 1
    Y = X @ W + rng.standard_normal((400, 3))
    groups = [np.arange(10), np.arange(10, 20), np.arange(20, 30)]
    model = sr.BandedRidgeCV(groups, n_candidates=40, random_state=0).fit(X, Y)
    a = model.alphas_
    assert a.shape == (3, 3) and model.weights_.shape == (3, 3)
    assert a[1, 0] > 100 * a[0, 0] and a[2, 0] > 100 * a[0, 0]
    assert a[0, 1] > 100 * a[1, 1] and a[2, 1] > 100 * a[1, 1]
    assert a[2, 2] > 10 * max(a[0, 2], a[1, 2])
    split = model.score_split(X, Y)
    assert_allclose(split.sum(axis=0), [1 - np.sum((Y[:, t] - model.predict(X)[:, t]) ** 2)
                                        / np.sum((Y[:, t] - Y[:, t].mean()) ** 2)
                                        for t in range(3)], rtol=1e-10)
    assert split[0, 0] > 0.9 * split[:, 0].sum() and split[1, 1] > 0.9 * split[:, 1].sum()
    one = sr.BandedRidgeCV(groups, n_candidates=5, random_state=0, cv=5).fit(X, Y[:, 0])
    assert one.coef_.shape == (30,) and one.alphas_.shape == (3,) and np.ndim(one.intercept_) == 0
    assert_allclose(one.predict(X[:3]), X[:3] @ one.coef_ + one.intercept_)
    again = sr.BandedRidgeCV(groups, n_candidates=5, random_state=0, cv=5).fit(X, Y[:, 0])
    assert_allclose(again.candidates_, one.candidates_)


@pytest.mark.parametrize("groups, error, match", [
    ([[0, 1, 2], [2, 3, 4, 5, 6, 7, 8]], ValueError, r"overlap: column 2 is in groups \[0, 1\]"),
    ([[0, 1, 2], [3, 4, 5]], ValueError, r"leave out columns \[6, 7, 8\]"),
    ([[0, 1, 2], [], list(range(3, 9))], ValueError, r"feature_groups\[1\] is empty"),
    ([[0, 1, 2], list(range(3, 10))], ValueError, r"feature_groups\[1\] names column 9, but X "
                                                  "has 9 columns"),
    ([[0.5, 1], list(range(2, 9))], TypeError, r"feature_groups\[0\] must be a 1-D array of "
                                               "column indices"),
    ("abc", TypeError, "feature_groups must be a list"),
])
def test_banded_bad_groups(groups, error, match):
    X, Y, _ = _banded_data(n=20)
    with pytest.raises(error, match=match):
        sr.banded_ridge_cv(X, Y, groups, [1.0])


def test_banded_bad_candidates():
    X, Y, groups = _banded_data(n=20)
    with pytest.raises(ValueError, match=r"shape \(n_candidates, 3\)"):
        sr.banded_ridge_cv(X, Y, groups, [1.0], candidates=[[0.5, 0.5]])
    with pytest.raises(ValueError, match=r"candidates\[0, 1\]=-0.5"):
        sr.banded_ridge_cv(X, Y, groups, [1.0], candidates=[[1.0, -0.5, 0.5]])
    with pytest.raises(ValueError, match="concentration must be positive"):
        sr.banded_ridge_cv(X, Y, groups, [1.0], concentration=0.0)
    res = sr.banded_ridge_cv(X, Y[:, 0], groups, [1.0], candidates=[[2.0, 1.0, 1.0]])
    assert_allclose(res.candidates, [[0.5, 0.25, 0.25]])
    assert res.scores.shape == (1, 1) and np.ndim(res.best_alpha) == 0


# -- scikit-learn's estimator checks ------------------------------------------------------

try:
    from sklearn.utils.estimator_checks import parametrize_with_checks
except ImportError:  # pragma: no cover
    parametrize_with_checks = None

if parametrize_with_checks is not None:
    @parametrize_with_checks(
        [sr.KernelRidgeCV(), sr.KernelRidgeCV(kernel="rbf", cv=3),
         sr.BandedRidgeCV(n_candidates=3), sr.Ridge(positive=True)],
        expected_failed_checks=lambda est: {"check_non_transformer_estimators_n_iter": (
            "n_iter_ is None (no iterations), as in scikit-learn's Ridge")}
        if type(est).__name__ == "Ridge" else {})
    def test_sklearn_estimator_checks(estimator, check):
        check(estimator)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("near", [False, True])
def test_unpenalized_kfold_downdate_matches_direct_folds(dtype, fit_intercept, near):
    # tall data: the training spectra come from one Gram pass and a Schur complement; with
    # `near`, a penalized column is an unpenalized one plus 1e-7 noise (the guard must send
    # such folds to a direct decomposition, or the complement must still be accurate)
    rng = np.random.default_rng(11)
    X = rng.standard_normal((300, 20)) * rng.uniform(0.5, 3, 20) + rng.uniform(-3, 3, 20)
    if near:
        X[:, 1] = X[:, 0] + 1e-7 * rng.standard_normal(300)
    Y = X @ rng.standard_normal((20, 4)) + rng.standard_normal((300, 4))
    w = rng.uniform(0.2, 2.0, 300)
    w[5] = 0.0
    factors = np.ones(20)
    factors[[0, 4, 7]] = 0.0
    factors[10] = 3.0
    alphas = np.logspace(-2, 4, 9)
    kw = dict(cv=5, penalty_factor=factors, sample_weight=w, fit_intercept=fit_intercept)
    fast = sr.ridge_cv(X.astype(dtype), Y.astype(dtype), alphas, **kw)
    direct = sr.ridge_cv(X.astype(dtype), Y.astype(dtype), alphas, method="svd", **kw)
    assert_allclose(fast.scores, direct.scores, rtol=10 * RTOL[dtype])
    assert_allclose(fast.coef, direct.coef, rtol=10 * RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_kernel_ridge_is_linear_ridge(fit_intercept):
    rng = np.random.default_rng(12)
    X = rng.standard_normal((25, 60)) + 1.0  # wide: the linear solver's kernel route
    Y = X @ rng.standard_normal((60, 2)) + rng.standard_normal((25, 2))
    w = rng.uniform(0.5, 2.0, 25)
    alphas = np.logspace(-2, 3, 7)
    kernel = sr.KernelRidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w)
    linear = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w, method="svd")
    assert kernel.rank == linear.rank
    assert_allclose(kernel.predict(X[:4] - 0.5, alphas), linear.predict(X[:4] - 0.5, alphas),
                    rtol=1e-9)
    assert_allclose(kernel.intercept(alphas), linear.intercept(alphas), rtol=1e-9, atol=1e-12)
    assert_allclose(np.einsum("np,mnk->mpk", X, kernel.dual_coef(alphas)), linear.coef(alphas),
                    rtol=1e-8, atol=1e-12)
    assert_allclose(kernel.loo(alphas).scores, linear.loo(alphas).scores, rtol=1e-9)
    assert_allclose(kernel.gcv(alphas).scores, linear.gcv(alphas).scores, rtol=1e-9)
    assert_allclose(kernel.dof(alphas), linear.dof(alphas), rtol=1e-10)


def test_kernel_ridge_cv_precomputed_equals_named_kernel():
    from sklearn.metrics.pairwise import rbf_kernel
    X, Y, w = _kernel_data(n=40)
    K = rbf_kernel(X, gamma=0.3)
    alphas = np.logspace(-3, 1, 9)
    for cv in [None, "gcv", 4]:
        named = sr.KernelRidgeCV(alphas, kernel="rbf", gamma=0.3, cv=cv,
                                 alpha_per_target=True).fit(X, Y, sample_weight=w)
        pre = sr.KernelRidgeCV(alphas, kernel="precomputed", cv=cv,
                               alpha_per_target=True).fit(K, Y, sample_weight=w)
        assert_allclose(pre.cv_scores_, named.cv_scores_, rtol=1e-10)
        assert_allclose(pre.dual_coef_, named.dual_coef_, rtol=1e-9, atol=1e-12)
        assert_allclose(pre.predict(rbf_kernel(X[:3] + 0.1, X, gamma=0.3)),
                        named.predict(X[:3] + 0.1), rtol=1e-10)


def test_banded_figures():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from spectralridge import plot
    X, Y, groups = _banded_data(n=60)
    model = sr.BandedRidgeCV(groups, n_candidates=5, random_state=0).fit(X, Y)
    try:
        ax = plot.banded_alphas(model, group_names=["a", "b", "c"])
        assert [line.get_label() for line in ax.lines] == ["a", "b", "c"]
        for g, line in enumerate(ax.lines):
            finite = np.isfinite(model.alphas_[g])
            assert_allclose(line.get_ydata()[finite], model.alphas_[g][finite])
            assert np.isnan(line.get_ydata()[~finite]).all()
        res = sr.banded_ridge_cv(X, Y, groups, [1.0, 10.0], n_candidates=2, random_state=0)
        assert_allclose(plot.banded_alphas(res).lines[1].get_ydata(),
                        np.where(np.isfinite(res.group_alphas[1]), res.group_alphas[1], np.nan))
        shares = model.score_split(X, Y)
        ax = plot.split_r2(shares)
        assert len(ax.containers) == 3
        for g, bars in enumerate(ax.containers):
            assert_allclose([b.get_height() for b in bars], shares[g])
        with pytest.raises(ValueError, match="group_names must be a sequence of n_groups=3"):
            plot.split_r2(shares, group_names=["a"])
        with pytest.raises(TypeError, match="BandedResult or a fitted BandedRidgeCV"):
            plot.banded_alphas(np.ones(3))
    finally:
        plt.close("all")


def test_positive_refuses_dask():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(13)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    with pytest.raises(ValueError, match="positive=True needs NumPy or scipy.sparse input"):
        sr.Ridge(positive=True).fit(da.from_array(X, chunks=10), y)
