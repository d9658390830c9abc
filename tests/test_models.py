"""Models beyond one scalar penalty: unpenalized columns, kernel ridge, positive ridge."""

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


def test_unpenalized_refuses_sparse_and_dask_says_why():
    X, Y, _ = _data(20)
    with pytest.raises(TypeError, match="penalty_factor with zeros .* needs dense X"):
        sr.RidgeSolver(sp.csr_matrix(X), Y, penalty_factor=FACTORS)
    solver = sr.RidgeSolver(X, Y, penalty_factor=FACTORS)
    with pytest.raises(TypeError, match="needs dense X"):
        solver.predict(sp.csr_matrix(X), 1.0)
