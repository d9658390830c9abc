"""spectralridge.Ridge / RidgeCV against scikit-learn's own estimators and brute force."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import spectralridge as sr

from helpers import make_data, ridge_oracle

sklearn = pytest.importorskip("sklearn")
from sklearn import linear_model  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.metrics import make_scorer, mean_absolute_error  # noqa: E402
from sklearn.model_selection import (GridSearchCV, GroupKFold, KFold,  # noqa: E402
                                     check_cv, cross_val_score)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks  # noqa: E402

# Agreement with scikit-learn's closed forms (both exact): measured 1e-13 or better.
RTOL = 1e-7
ALPHAS = np.logspace(-3, 3, 13)
ignore_edge = pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")


def weights(n, zeros=True, seed=3):
    w = np.random.default_rng(seed).uniform(0.2, 3.0, n)
    if zeros:
        w[[1, 4]] = 0.0
    return w


def assert_same_fit(ours, theirs, rtol=RTOL):
    """Same coef_ and intercept_, with the same shapes, dtypes and types."""
    assert ours.coef_.shape == theirs.coef_.shape
    assert ours.coef_.dtype == theirs.coef_.dtype
    assert type(ours.intercept_) is type(theirs.intercept_)
    assert np.shape(ours.intercept_) == np.shape(theirs.intercept_)
    assert np.asarray(ours.intercept_).dtype == np.asarray(theirs.intercept_).dtype
    scale = np.abs(theirs.coef_).max()
    assert_allclose(ours.coef_, theirs.coef_, rtol=rtol, atol=rtol * scale)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=rtol,
                    atol=rtol * (scale + np.abs(theirs.intercept_).max()))


# -- import ---------------------------------------------------------------------------------

def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


def test_import_does_not_need_sklearn():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import spectralridge as sr\n"
            "from spectralridge import *\n"
            "assert 'Ridge' in dir(sr) and 'RidgeSolver' in dir(sr)\n"
            "try:\n"
            "    sr.RidgeCV\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert "spectralridge[sklearn]" in out.stdout
    out = run_python("import sys, spectralridge; print('sklearn' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_lazy_attributes():
    from spectralridge import Ridge, RidgeCV
    from spectralridge._estimators import Ridge as R, RidgeCV as RCV
    assert Ridge is R and RidgeCV is RCV
    with pytest.raises(AttributeError, match="no attribute 'Lasso'"):
        sr.Lasso


# -- scikit-learn's estimator checks ----------------------------------------------------------

# Checks that scikit-learn's own estimators fail too (test_expected_failures_fail_for_sklearn
# verifies it): only these may fail on ours.
EXPECTED_FAILED = {
    "Ridge": {
        # Ridge has a max_iter parameter but, like scikit-learn's direct solvers, no
        # iterations: n_iter_ is None, and the check wants n_iter_ >= 1 (scikit-learn lists
        # this check as an expected failure of its own Ridge).
        "check_non_transformer_estimators_n_iter":
            "n_iter_ is None (no iterations), as in scikit-learn's Ridge",
    },
    "RidgeCV": {},
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED[type(estimator).__name__]


# The checks fit on small random data with the default alphas (0.1, 1, 10), where the best
# alpha often sits on a grid edge: the estimators must not warn there (filterwarnings=error).
@parametrize_with_checks([sr.Ridge(), sr.RidgeCV()],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore")  # scikit-learn's own warnings (skips, deprecations)
@pytest.mark.parametrize("name", ["Ridge", "RidgeCV"])
def test_expected_failures_fail_for_sklearn(name):
    results = check_estimator(getattr(linear_model, name)(), on_fail=None, on_skip=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert set(EXPECTED_FAILED[name]) <= failed


# -- Ridge ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("targets", ["1d", "2d-one", "2d"])
@pytest.mark.parametrize("shape", [(40, 6), (12, 30)])
def test_ridge_matches_sklearn(shape, targets, fit_intercept, weighted, dtype):
    k = {"1d": None, "2d-one": 1, "2d": 3}[targets]
    X, Y = make_data(*shape, k, dtype=dtype)
    w = weights(shape[0]) if weighted else None
    for alpha in (0.3, 25.0):
        ours = sr.Ridge(alpha, fit_intercept=fit_intercept).fit(X, Y, sample_weight=w)
        theirs = linear_model.Ridge(alpha, fit_intercept=fit_intercept, solver="svd").fit(
            X, Y, sample_weight=w)
        assert_same_fit(ours, theirs, RTOL if dtype == np.float64 else 2e-4)
        assert ours.n_iter_ is None and ours.solver_ in ("gram", "kernel", "svd")
        pred = ours.predict(X[:5])
        assert pred.shape == theirs.predict(X[:5]).shape
        assert_allclose(pred, theirs.predict(X[:5]), rtol=1e-6 if dtype == np.float64 else 1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_per_target_alpha_matches_sklearn(fit_intercept, weighted, dtype):
    X, Y = make_data(30, 8, 4, dtype=dtype)
    w = weights(30) if weighted else None
    alpha = np.array([0.01, 5.0, 0.01, 300.0])
    ours = sr.Ridge(alpha, fit_intercept=fit_intercept).fit(X, Y, sample_weight=w)
    theirs = linear_model.Ridge(alpha, fit_intercept=fit_intercept).fit(X, Y, sample_weight=w)
    assert_same_fit(ours, theirs, RTOL if dtype == np.float64 else 2e-4)
    for t in range(4):
        want, b = ridge_oracle(X, Y[:, t], alpha[t], fit_intercept, w)
        assert_allclose(ours.coef_[t], want, rtol=1e-9 if dtype == np.float64 else 2e-4)


def test_ridge_per_target_alphas_match_separate_fits():
    X, Y = make_data(25, 5, 7)
    alpha = np.logspace(-2, 2, 7)
    together = sr.Ridge(alpha).fit(X, Y)
    for t, a in enumerate(alpha):
        alone = sr.Ridge(a).fit(X, Y[:, t])
        assert_allclose(together.coef_[t], alone.coef_, rtol=1e-12)
        assert_allclose(together.intercept_[t], alone.intercept_, rtol=1e-12)


def test_ridge_alpha_zero_is_least_squares():
    X, y = make_data(30, 4)
    ours = sr.Ridge(0.0).fit(X, y)
    ols = linear_model.LinearRegression().fit(X, y)
    assert_allclose(ours.coef_, ols.coef_, rtol=1e-10)
    assert_allclose(ours.intercept_, ols.intercept_, rtol=1e-10)


def test_ridge_float32_mixed_y_and_weights():
    X, Y = make_data(30, 5, 2)
    ours = sr.Ridge(2.0).fit(X.astype(np.float32), Y, sample_weight=weights(30))
    theirs = linear_model.Ridge(2.0).fit(X.astype(np.float32), Y, sample_weight=weights(30))
    assert ours.coef_.dtype == np.float32 and ours.intercept_.dtype == np.float32
    assert_same_fit(ours, theirs, 2e-4)


def test_ridge_scalar_sample_weight_and_solver_option():
    X, y = make_data(30, 5)
    base = sr.Ridge(3.0).fit(X, y)
    # a constant weight c scales the loss: same as alpha / c
    scaled = sr.Ridge(6.0).fit(X, y, sample_weight=2.0)
    assert_allclose(scaled.coef_, base.coef_, rtol=1e-10)
    svd = sr.Ridge(3.0, solver="svd").fit(X, y)
    assert svd.solver_ == "svd"
    assert_allclose(svd.coef_, base.coef_, rtol=1e-10)
    ignored = sr.Ridge(3.0, solver="sag", max_iter=3, tol=10.0, random_state=0,
                       copy_X=False).fit(X, y)
    assert_allclose(ignored.coef_, base.coef_, rtol=1e-12)


# -- RidgeCV, leave-one-out ---------------------------------------------------------------------

@ignore_edge
@pytest.mark.parametrize("alpha_per_target", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(40, 6), (15, 30)])
def test_ridgecv_loo_matches_sklearn(shape, fit_intercept, weighted, alpha_per_target):
    X, Y = make_data(*shape, 4, seed=1)
    Y[:, 1] += 5 * np.random.default_rng(2).standard_normal(shape[0])  # a noisier target
    w = weights(shape[0]) if weighted else None
    kw = dict(fit_intercept=fit_intercept, alpha_per_target=alpha_per_target,
              store_cv_results=True)
    ours = sr.RidgeCV(ALPHAS, **kw).fit(X, Y, sample_weight=w)
    theirs = linear_model.RidgeCV(ALPHAS, **kw).fit(X, Y, sample_weight=w)
    assert_same_fit(ours, theirs)
    assert_array_equal(ours.alpha_, theirs.alpha_)
    assert type(ours.alpha_) is type(theirs.alpha_)
    assert np.shape(ours.best_score_) == np.shape(theirs.best_score_)
    assert_allclose(ours.best_score_, theirs.best_score_, rtol=RTOL)
    assert ours.cv_results_.shape == theirs.cv_results_.shape == (shape[0], 4, ALPHAS.size)
    assert_allclose(ours.cv_results_, theirs.cv_results_, rtol=RTOL,
                    atol=RTOL * theirs.cv_results_.max())
    # extras: every alpha's score on best_score_'s scale, and the dof
    assert ours.cv_scores_.shape == (ALPHAS.size, 4)
    assert_allclose(ours.cv_scores_, -theirs.cv_results_.mean(axis=0).T, rtol=RTOL)
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w)
    assert_allclose(ours.dof_, solver.dof(ALPHAS), rtol=1e-12)
    assert_array_equal(ours.alphas_, ALPHAS)


@ignore_edge
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scoring", [None, "r2"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(30, 5), (15, 30)])
def test_cv_results_against_brute_force(shape, fit_intercept, scoring, dtype):
    """Per-sample leave-one-out values, zero weights included (scikit-learn gives NaN for
    their predictions); alphas down to 1e-3 on wide data, near interpolation."""
    n = shape[0]
    X, Y = make_data(*shape, 2, seed=9, dtype=dtype)
    w = weights(n)
    ours = sr.RidgeCV(ALPHAS, fit_intercept=fit_intercept, scoring=scoring,
                      store_cv_results=True).fit(X, Y, sample_weight=w)
    want = np.empty((n, 2, ALPHAS.size))
    for i in range(n):
        train = np.delete(np.arange(n), i)
        for j, a in enumerate(ALPHAS):
            W, b = ridge_oracle(X[train], Y[train], a, fit_intercept, w[train])
            pred = X[i].astype(float) @ W + b
            want[i, :, j] = pred if scoring else w[i] * (Y[i] - pred) ** 2
    assert ours.cv_results_.dtype == dtype
    rtol = 1e-9 if dtype == np.float64 else 1e-3
    assert_allclose(ours.cv_results_, want, rtol=rtol, atol=rtol * np.abs(want).max())


@ignore_edge
@pytest.mark.parametrize("alpha_per_target", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [None, 1, 2])
def test_ridgecv_attribute_types_match_sklearn(k, fit_intercept, alpha_per_target):
    X, Y = make_data(25, 4, k, seed=8)
    kw = dict(fit_intercept=fit_intercept, alpha_per_target=alpha_per_target,
              store_cv_results=True)
    ours = sr.RidgeCV(ALPHAS, **kw).fit(X, Y)
    theirs = linear_model.RidgeCV(ALPHAS, **kw).fit(X, Y)
    assert_same_fit(ours, theirs)
    for name in ("alpha_", "best_score_", "cv_results_"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert np.shape(a) == np.shape(b) and isinstance(a, np.ndarray) == isinstance(
            b, np.ndarray), name
        assert_allclose(a, b, rtol=RTOL, atol=RTOL * np.abs(b).max())
    assert ours.cv_scores_.shape == (ALPHAS.size,) + (() if k is None else (k,))
    assert ours.predict(X).shape == theirs.predict(X).shape


@ignore_edge
@pytest.mark.parametrize("scoring", [None, "r2", "neg_mean_squared_error",
                                     "neg_mean_absolute_error", "callable"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridgecv_diabetes_matches_sklearn(fit_intercept, weighted, scoring):
    X, y = load_diabetes(return_X_y=True)
    if scoring == "callable":
        scoring = make_scorer(mean_absolute_error, greater_is_better=False)
    # scikit-learn's scorers divide by sqrt(w) = 0: no zero weights for them.
    w = weights(len(y), zeros=scoring is None) if weighted else None
    alphas = np.logspace(-4, 2, 25)
    kw = dict(fit_intercept=fit_intercept, scoring=scoring, store_cv_results=True)
    ours = sr.RidgeCV(alphas, **kw).fit(X, y, sample_weight=w)
    theirs = linear_model.RidgeCV(alphas, **kw).fit(X, y, sample_weight=w)
    assert_same_fit(ours, theirs)
    assert ours.alpha_ == theirs.alpha_
    assert_allclose(ours.best_score_, theirs.best_score_, rtol=RTOL)
    assert ours.cv_results_.shape == theirs.cv_results_.shape == (len(y), alphas.size)
    assert_allclose(ours.cv_results_, theirs.cv_results_, rtol=RTOL)


@ignore_edge
@pytest.mark.parametrize("alpha_per_target", [True, False])
@pytest.mark.parametrize("scoring", ["r2", "neg_mean_squared_error", "explained_variance"])
def test_ridgecv_loo_scorers_multi_target(scoring, alpha_per_target):
    X, Y = make_data(30, 6, 3, seed=4)
    Y[:, 2] += 4 * np.random.default_rng(0).standard_normal(30)
    w = weights(30, zeros=False)
    kw = dict(scoring=scoring, alpha_per_target=alpha_per_target, store_cv_results=True)
    ours = sr.RidgeCV(ALPHAS, **kw).fit(X, Y, sample_weight=w)
    theirs = linear_model.RidgeCV(ALPHAS, **kw).fit(X, Y, sample_weight=w)
    assert_same_fit(ours, theirs)
    assert_array_equal(ours.alpha_, theirs.alpha_)
    assert_allclose(ours.best_score_, theirs.best_score_, rtol=RTOL)
    assert_allclose(ours.cv_results_, theirs.cv_results_, rtol=RTOL)


@ignore_edge
def test_ridgecv_float32():
    X, y = load_diabetes(return_X_y=True)
    X, y = X.astype(np.float32), y.astype(np.float32)
    alphas = np.logspace(-4, 2, 25)
    ours = sr.RidgeCV(alphas, store_cv_results=True).fit(X, y)
    theirs = linear_model.RidgeCV(alphas, store_cv_results=True).fit(X, y)
    assert ours.coef_.dtype == ours.cv_results_.dtype == np.float32
    assert ours.alpha_ == theirs.alpha_
    assert_same_fit(ours, theirs, rtol=1e-4)
    assert_allclose(ours.best_score_, theirs.best_score_, rtol=1e-5)
    assert_allclose(ours.cv_results_, theirs.cv_results_, rtol=1e-3,
                    atol=1e-5 * theirs.cv_results_.max())


def test_ridgecv_alpha_zero_and_default_grid():
    X, y = make_data(40, 5)
    ours = sr.RidgeCV([0.0, 1.0, 1e6]).fit(X, y)  # scikit-learn refuses alpha = 0 here
    assert ours.alpha_ in (0.0, 1.0)
    grid = sr.RidgeCV(alphas=None).fit(X, y)
    assert grid.alphas_.shape == grid.cv_scores_.shape == grid.dof_.shape == (30,)
    assert grid.dof_[0] > 4.99 and grid.dof_[-1] < 0.01
    result = sr.ridge_cv(X, y)
    assert grid.alpha_ == result.best_alpha
    assert_allclose(grid.coef_, result.coef, rtol=1e-12)


# -- RidgeCV, GCV and K-fold --------------------------------------------------------------------

@ignore_edge
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridgecv_gcv_against_formula(fit_intercept, weighted):
    X, Y = make_data(30, 6, 2, seed=5)
    n = len(X)
    w = weights(n, zeros=False) if weighted else np.ones(n)
    ours = sr.RidgeCV(ALPHAS, cv="gcv", fit_intercept=fit_intercept,
                      alpha_per_target=True).fit(X, Y, sample_weight=w if weighted else None)
    gcv = np.empty((ALPHAS.size, 2))
    for i, a in enumerate(ALPHAS):
        W, b = ridge_oracle(X, Y, a, fit_intercept, w)
        xm = w @ X / w.sum() if fit_intercept else 0.0
        Xc = np.sqrt(w)[:, None] * (X - xm)
        dof = np.trace(Xc @ np.linalg.solve(Xc.T @ Xc + a * np.eye(6), Xc.T))
        rss = w @ (Y - X @ W - b) ** 2
        gcv[i] = (rss / w.sum()) / (1 - (dof + fit_intercept) / n) ** 2
    best = gcv.argmin(axis=0)
    assert_array_equal(ours.alpha_, ALPHAS[best])
    # scoring=None: -sum_i w_i e_i^2 / n_samples, scikit-learn's scale
    assert_allclose(ours.cv_scores_, -gcv * w.sum() / n, rtol=1e-9)
    assert_allclose(ours.best_score_, -gcv[best, [0, 1]] * w.sum() / n, rtol=1e-9)
    for t in range(2):
        W, b = ridge_oracle(X, Y[:, t], ALPHAS[best[t]], fit_intercept, w)
        assert_allclose(ours.coef_[t], W, rtol=1e-9)


@ignore_edge
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cv", [5, "splitter", "iterable"])
def test_ridgecv_kfold_matches_grid_search(cv, weighted):
    X, y = load_diabetes(return_X_y=True)
    alphas = np.logspace(-4, 2, 13)
    if cv == "splitter":
        cv = KFold(4, shuffle=True, random_state=0)
    elif cv == "iterable":
        cv = list(KFold(3).split(X))
    w = weights(len(y), zeros=False) if weighted else None
    ours = sr.RidgeCV(alphas, cv=cv, scoring="neg_mean_squared_error").fit(X, y,
                                                                         sample_weight=w)
    search = GridSearchCV(linear_model.Ridge(), {"alpha": alphas}, cv=cv,
                          scoring="neg_mean_squared_error").fit(X, y, sample_weight=w)
    assert ours.alpha_ == search.best_params_["alpha"]
    assert_same_fit(ours, search.best_estimator_)
    if not weighted:  # pooled MSE: the folds' MSEs weighted by their sizes
        sizes = [len(test) for _, test in check_cv(cv).split(X)]
        fold_scores = [search.cv_results_[f"split{i}_test_score"][search.best_index_]
                       for i in range(len(sizes))]
        assert_allclose(ours.best_score_, np.dot(sizes, fold_scores) / len(y), rtol=1e-9)
    # scoring=None: R^2 (pooled), the same alpha on this problem as scikit-learn's RidgeCV
    default = sr.RidgeCV(alphas, cv=cv).fit(X, y)
    theirs = linear_model.RidgeCV(alphas, cv=cv).fit(X, y)
    assert default.alpha_ == theirs.alpha_
    assert_same_fit(default, theirs)
    assert 0.4 < default.best_score_ < 0.6


@ignore_edge
@pytest.mark.parametrize("scoring", ["neg_mean_absolute_error", "callable"])
def test_ridgecv_kfold_other_scorers_follow_grid_search(scoring):
    X, y = load_diabetes(return_X_y=True)
    if scoring == "callable":
        scoring = make_scorer(mean_absolute_error, greater_is_better=False)
    alphas = np.logspace(-4, 2, 7)
    w = weights(len(y), zeros=False)
    ours = sr.RidgeCV(alphas, cv=4, scoring=scoring).fit(X, y, sample_weight=w)
    theirs = linear_model.RidgeCV(alphas, cv=4, scoring=scoring).fit(X, y, sample_weight=w)
    assert ours.alpha_ == theirs.alpha_
    assert_allclose(ours.best_score_, theirs.best_score_, rtol=1e-9)
    assert_same_fit(ours, theirs)
    assert ours.cv_scores_.shape == (7,)


@ignore_edge
@pytest.mark.parametrize("cv, scoring", [(None, None), (4, None), (4, "neg_mean_absolute_error")])
def test_penalty_factor(cv, scoring):
    X, Y = make_data(40, 5, 2, seed=2)
    factor = np.array([1.0, 9.0, 0.5, 2.0, 1.0])
    model = sr.Ridge(alpha=3.0, penalty_factor=factor).fit(X, Y)
    W, b = ridge_oracle(X, Y, 3.0, penalty_factor=factor)
    assert_allclose(model.coef_, W.T, rtol=1e-10)
    assert_allclose(model.intercept_, b, rtol=1e-10)
    # equivalently, plain ridge on the columns divided by sqrt(factor)
    ours = sr.RidgeCV(ALPHAS, cv=cv, scoring=scoring, penalty_factor=factor).fit(X, Y)
    plain = sr.RidgeCV(ALPHAS, cv=cv, scoring=scoring).fit(X / np.sqrt(factor), Y)
    assert ours.alpha_ == plain.alpha_
    assert_allclose(ours.cv_scores_, plain.cv_scores_, rtol=1e-9)
    assert_allclose(ours.coef_, plain.coef_ / np.sqrt(factor), rtol=1e-9)
    assert_allclose(ours.predict(X), plain.predict(X / np.sqrt(factor)), rtol=1e-9)


def brute_force_kfold(X, Y, alphas, splits, w):
    """Pooled held-out weighted SSE (n_alphas, n_targets) from direct solves."""
    sse = np.zeros((len(alphas), Y.shape[1]))
    for train, test in splits:
        for i, a in enumerate(alphas):
            W, b = ridge_oracle(X[train], Y[train], a, True, w[train])
            sse[i] += w[test] @ (Y[test] - X[test] @ W - b) ** 2
    return sse


@ignore_edge
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scoring", [None, "neg_mean_squared_error"])
def test_ridgecv_kfold_per_target_against_brute_force(scoring, weighted):
    X, Y = make_data(36, 5, 3, seed=6)
    Y[:, 0] += 6 * np.random.default_rng(1).standard_normal(36)
    w = weights(36) if weighted else np.ones(36)
    cv = KFold(4, shuffle=True, random_state=1)
    ours = sr.RidgeCV(ALPHAS, cv=cv, scoring=scoring, alpha_per_target=True).fit(
        X, Y, sample_weight=w if weighted else None)
    sse = brute_force_kfold(X, Y, ALPHAS, list(cv.split(X)), w)
    if scoring is None:  # pooled R^2 about the weighted mean of all samples
        sst = w @ (Y - w @ Y / w.sum()) ** 2
        want = 1 - sse / sst
    else:
        want = -sse / w.sum()
    assert_allclose(ours.cv_scores_, want, rtol=1e-9)
    best = want.argmax(axis=0)
    assert_array_equal(ours.alpha_, ALPHAS[best])
    assert len(set(best)) > 1  # genuinely different alphas per target
    assert_allclose(ours.best_score_, want[best, [0, 1, 2]], rtol=1e-9)
    for t in range(3):
        W, b = ridge_oracle(X, Y[:, t], ALPHAS[best[t]], True, w)
        assert_allclose(ours.coef_[t], W, rtol=1e-9)
        assert_allclose(ours.intercept_[t], b, rtol=1e-9)
    shared = sr.RidgeCV(ALPHAS, cv=cv, scoring=scoring).fit(
        X, Y, sample_weight=w if weighted else None)
    assert shared.alpha_ == ALPHAS[want.mean(axis=1).argmax()]
    assert_allclose(shared.best_score_, want.mean(axis=1).max(), rtol=1e-9)


@ignore_edge
def test_ridgecv_groups():
    X, y = make_data(30, 4)
    groups = np.repeat(np.arange(6), 5)
    ours = sr.RidgeCV(ALPHAS, cv=GroupKFold(3), scoring="neg_mean_squared_error").fit(
        X, y, groups=groups)
    splits = list(GroupKFold(3).split(X, y, groups))
    want = -brute_force_kfold(X, y[:, None], ALPHAS, splits, np.ones(30))[:, 0] / 30
    assert_allclose(ours.cv_scores_, want, rtol=1e-9)


# -- scikit-learn tools -----------------------------------------------------------------------

@ignore_edge
def test_pipeline_and_cross_val_score():
    X, y = load_diabetes(return_X_y=True)
    alphas = np.logspace(-3, 3, 13)
    ours = make_pipeline(StandardScaler(), sr.RidgeCV(alphas))
    theirs = make_pipeline(StandardScaler(), linear_model.RidgeCV(alphas))
    assert_allclose(cross_val_score(ours, X, y, cv=5), cross_val_score(theirs, X, y, cv=5),
                    rtol=RTOL)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=RTOL)
    assert_allclose(cross_val_score(sr.Ridge(2.0), X, y, cv=3),
                    cross_val_score(linear_model.Ridge(2.0), X, y, cv=3), rtol=RTOL)


@ignore_edge
def test_grid_search_over_our_ridge():
    X, y = load_diabetes(return_X_y=True)
    grid = {"alpha": np.logspace(-3, 1, 5)}
    ours = GridSearchCV(sr.Ridge(), grid, cv=3).fit(X, y)
    theirs = GridSearchCV(linear_model.Ridge(), grid, cv=3).fit(X, y)
    assert ours.best_params_ == theirs.best_params_
    assert_allclose(ours.cv_results_["mean_test_score"],
                    theirs.cv_results_["mean_test_score"], rtol=RTOL)


@ignore_edge
@pytest.mark.parametrize("estimator", [sr.Ridge(alpha=[1.0, 10.0]),
                                       sr.RidgeCV(ALPHAS, store_cv_results=True,
                                                  alpha_per_target=True)])
def test_pickle(estimator):
    X, Y = make_data(20, 4, 2)
    estimator.fit(X, Y)
    clone = pickle.loads(pickle.dumps(estimator))
    assert_array_equal(clone.predict(X), estimator.predict(X))
    for name in vars(estimator):
        assert_array_equal(getattr(clone, name), getattr(estimator, name))


def test_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = make_data(20, 3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = sr.Ridge().fit(frame, y)
    assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
    with pytest.raises(ValueError, match="feature names"):
        model.predict(frame.rename(columns={"a": "z"}))


# -- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("params, error, match", [
    (dict(positive=True, solver="svd"), ValueError, "solver=.svd. does not support positive"),
    (dict(positive="yes"), TypeError, "positive must be True or False"),
    (dict(solver="lbfgs"), ValueError, "'lbfgs' solver can be used only when positive"),
    (dict(solver="magic"), ValueError, "solver must be one of"),
    (dict(alpha=-1.0), ValueError, r"alpha must be non-negative, got alpha\[0\]=-1.0"),
    (dict(alpha=[1.0, -2.0]), ValueError, r"alpha\[1\]=-2.0"),
    (dict(alpha=[1.0, 2.0, 3.0]), ValueError, "Number of targets and number of penalties"),
    (dict(alpha="big"), TypeError, "alpha must be"),
    (dict(fit_intercept="yes"), TypeError, "fit_intercept must be True or False"),
])
def test_ridge_errors(params, error, match):
    X, Y = make_data(20, 4, 2)
    with pytest.raises(error, match=match):
        sr.Ridge(**params).fit(X, Y)


@pytest.mark.parametrize("params, error, match", [
    (dict(cv=5, store_cv_results=True), ValueError, "store_cv_results=True requires"),
    (dict(cv="gcv", store_cv_results=True), ValueError, "store_cv_results=True requires"),
    (dict(cv="bad"), ValueError, "cv must be None, 'loo', 'gcv'"),
    (dict(cv=1), ValueError, "n_splits=2 or more"),
    (dict(scoring="bad"), ValueError, "bad"),
    (dict(cv="gcv", scoring="neg_mean_absolute_error"), ValueError,
     "cv='gcv' supports scoring=None"),
    (dict(cv=3, scoring="explained_variance", alpha_per_target=True), ValueError,
     "alpha_per_target=True with a K-fold cv supports"),
    (dict(gcv_mode="qr"), ValueError, "gcv_mode must be"),
    (dict(alphas=[1.0, -1.0]), ValueError, r"alphas\[1\]=-1.0"),
    (dict(alphas=[]), ValueError, "alphas must not be empty"),
    (dict(alpha_per_target=1), TypeError, "alpha_per_target must be True or False"),
])
def test_ridgecv_errors(params, error, match):
    X, Y = make_data(20, 4, 2)
    with pytest.raises(error, match=match):
        sr.RidgeCV(**params).fit(X, Y)


def test_fit_and_predict_errors():
    X, y = make_data(20, 4)
    with pytest.raises(NotFittedError):
        sr.Ridge().predict(X)
    model = sr.Ridge().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but Ridge is expecting 4"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        sr.Ridge().fit(X, y, sample_weight=-np.ones(20))
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        sr.RidgeCV().fit(X, y, foo=1)
    with pytest.raises(ValueError, match="at least 2 samples of positive weight"):
        sr.RidgeCV(cv="gcv").fit(X, y, sample_weight=np.eye(20)[0])
    scipy_sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="Sparse data was passed for y"):
        sr.Ridge().fit(scipy_sparse.csr_matrix(X), scipy_sparse.csr_matrix(y[:, None]))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        sr.RidgeCV().fit(np.where(X > 1, np.nan, X), y)


def test_grid_edge_is_recorded_not_warned():
    X, y = make_data(40, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sr.RidgeCV([1e4, 1e5]).fit(X, y).alpha_at_edge_ is True
        assert sr.RidgeCV(alphas=None).fit(X, y).alpha_at_edge_ is False
        slow = sr.RidgeCV([1e4, 1e5], cv=3, scoring="neg_mean_absolute_error").fit(X, y)
        assert slow.alpha_at_edge_ is True
        Y = np.column_stack([y, np.random.default_rng(2).standard_normal(40)])
        model = sr.RidgeCV([1e-3, 1.0, 1e4], alpha_per_target=True).fit(X, Y)
        assert_array_equal(model.alpha_at_edge_, [False, True])  # noise: most regularized
    with pytest.warns(sr.GridEdgeWarning):  # the functional API still warns
        sr.ridge_cv(X, y, [1e4, 1e5])


def test_cross_val_score_with_warnings_as_errors():
    # pure noise: the best of scikit-learn's default alphas (0.1, 1, 10) is 10, an open edge
    X, _ = make_data(60, 5, seed=3)
    y = np.random.default_rng(4).standard_normal(60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = cross_val_score(sr.RidgeCV(), X, y, error_score="raise")
    theirs = cross_val_score(linear_model.RidgeCV(), X, y)
    assert_allclose(ours, theirs, rtol=RTOL)
    assert sr.RidgeCV().fit(X, y).alpha_at_edge_ is True


@pytest.mark.parametrize("scoring", [None, "neg_mean_absolute_error"])
def test_ridgecv_int_cv_with_groups_is_group_kfold(scoring):
    X, Y = make_data(40, 5, 2, seed=9)
    groups = np.random.default_rng(1).integers(0, 6, 40)
    ours = sr.RidgeCV(ALPHAS, cv=3, scoring=scoring).fit(X, Y, groups=groups)
    theirs = sr.RidgeCV(ALPHAS, cv=GroupKFold(3), scoring=scoring).fit(X, Y, groups=groups)
    assert_allclose(ours.cv_scores_, theirs.cv_scores_, rtol=1e-12)
    for cv in (None, "gcv"):
        with pytest.raises(ValueError, match="groups cannot be used with cv="):
            sr.RidgeCV(ALPHAS, cv=cv).fit(X, Y, groups=groups)
    with pytest.raises(ValueError, match="groups must have one entry per sample"):
        sr.RidgeCV(ALPHAS, cv=3).fit(X, Y, groups=groups[:-1])


@pytest.mark.parametrize("scoring", [None, "neg_mean_absolute_error"])
def test_ridgecv_alphas_are_its_own(scoring):
    X, y = make_data(40, 5, seed=10)
    alphas = ALPHAS.copy()
    model = sr.RidgeCV(alphas, cv=3, scoring=scoring).fit(X, y)
    model.alphas_[0] = -5.0
    assert_allclose(alphas, ALPHAS)
    alphas[:] = 1.0
    assert_allclose(model.alphas_[1:], ALPHAS[1:])
    loo = sr.RidgeCV(alphas).fit(X, y)
    loo.alphas_[:] = 3.0
    assert_allclose(alphas, 1.0)
