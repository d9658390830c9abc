"""Early stopping and truncated SVD: the same spectrum, other filters."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import spectralridge as sr
from spectralridge import _filters

from helpers import make_data

pytestmark = pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")


def centred(X, Y, w, fit_intercept):
    w = np.ones(len(X)) if w is None else w
    xm = w @ X / w.sum() if fit_intercept else np.zeros(X.shape[1])
    ym = w @ Y / w.sum() if fit_intercept else np.zeros(Y.shape[1:])
    sw = np.sqrt(w)
    return sw[:, None] * (X - xm), sw.reshape(-1, *[1] * (Y.ndim - 1)) * (Y - ym), xm, ym


def gradient_descent(Xc, Yc, lr, steps):
    """Explicit loop W <- W - lr Xc^T (Xc W - Yc) from zero; W after each requested step."""
    W = np.zeros((Xc.shape[1],) + Yc.shape[1:])
    out, t = [], 0
    for target in steps:
        while t < target:
            W = W - lr * Xc.T @ (Xc @ W - Yc)
            t += 1
        out.append(W.copy())
    return np.array(out)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("method", ["svd", "gram", "kernel", "auto"])
def test_early_stopping_matches_gradient_descent(method, k, fit_intercept, weighted):
    X, Y = make_data(40, 6, k)
    w = np.random.default_rng(0).uniform(0.5, 2, 40) if weighted else None
    Xc, Yc, xm, ym = centred(X, Y, w, fit_intercept)
    lr = 1.0 / np.linalg.norm(Xc, 2) ** 2
    steps = np.array([0, 1, 5, 40, 200])
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w, method=method)
    path = solver.early_stopping(lr, steps)
    expected = gradient_descent(Xc, Yc, lr, steps)
    assert_allclose(path.coef(), expected, rtol=1e-9, atol=1e-12)
    assert_allclose(path.intercept(), ym - np.tensordot(expected, xm, axes=([1], [0])),
                    rtol=1e-9, atol=1e-10)
    assert_allclose(path.predict(X[:5]),
                    np.stack([X[:5] @ e for e in expected]) + path.intercept()[:, None],
                    rtol=1e-9, atol=1e-10)
    assert path.factors.shape == (5, solver.rank)
    assert_allclose(path.dof[0], 0.0)


def test_early_stopping_approaches_ridge_at_equivalent_alpha():
    X, y = make_data(200, 10, decay=3.0)
    solver = sr.RidgeSolver(X, y)
    lam_max = solver.singular_values[0] ** 2
    lr = 1e-3 / lam_max
    for t in [100, 1000, 10000]:
        gd = solver.early_stopping(lr, t).factors
        ridge = solver.shrinkage(sr.theory.equivalent_alpha(lr, t))
        assert np.abs(gd - ridge).max() < 0.21
    assert_allclose(solver.early_stopping(lr, 10**9).coef(), solver.coef(0.0), rtol=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(40, 6), (10, 25)])
def test_truncated_svd_is_principal_component_regression(shape, fit_intercept):
    X, Y = make_data(*shape, 3)
    Xc, Yc, xm, ym = centred(X, Y, None, fit_intercept)
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept)
    ks = np.arange(solver.rank + 1)
    path = solver.truncated_svd(ks)
    for k, coef, b in zip(ks, path.coef(), path.intercept()):
        W = Vt[:k].T @ ((U[:, :k].T @ Yc) / s[:k, None])
        assert_allclose(coef, W, rtol=1e-9, atol=1e-11)
        assert_allclose(b, ym - xm @ W, rtol=1e-9, atol=1e-10)
    assert_allclose(path.dof, ks)
    full = solver.truncated_svd(solver.rank).coef()
    assert_allclose(full, solver.coef(0.0), rtol=1e-9, atol=1e-11)


def hat_matrix_of(fit_one, n):
    """Hat matrix of a linear smoother by fitting each unit vector."""
    return np.column_stack([fit_one(np.eye(n)[:, j]) for j in range(n)])


@pytest.mark.parametrize("family", ["early_stopping", "truncated_svd"])
def test_gcv_of_other_filters_against_explicit_hat_matrix(family):
    n, p = 30, 5
    X, Y = make_data(n, p, 2)
    Xc = X - X.mean(axis=0)
    solver = sr.RidgeSolver(X, Y)
    if family == "early_stopping":
        lr = 0.5 / np.linalg.norm(Xc, 2) ** 2
        grid = np.array([2, 10, 50])
        path = solver.early_stopping(lr, grid)

        def fitter(g):
            return lambda y: Xc @ gradient_descent(Xc, y - y.mean(), lr, [g])[0] + y.mean()
    else:
        grid = np.array([1, 3, 5])
        path = solver.truncated_svd(grid)

        def fitter(g):
            U = np.linalg.svd(Xc, full_matrices=False)[0][:, :g]
            return lambda y: U @ (U.T @ (y - y.mean())) + y.mean()
    result = path.gcv()
    for i, g in enumerate(grid):
        H = hat_matrix_of(fitter(g), n)
        resid = Y - H @ Y
        gcv = (resid ** 2).sum(axis=0) / n / (1 - np.trace(H) / n) ** 2
        assert_allclose(result.scores[i], gcv, rtol=1e-8)
        assert_allclose(path.dof[i] + 1, np.trace(H), rtol=1e-9)
    assert_allclose(result.best_alpha, grid[np.argmin(result.scores, axis=0)])


def test_loo_is_ridge_only():
    solver = sr.RidgeSolver(*make_data(30, 4))
    with pytest.raises(ValueError, match="Exact leave-one-out is available for ridge only"):
        solver.truncated_svd([1, 2]).loo()
    assert solver.ridge([1.0, 2.0]).loo().scores.shape == (2,)


def test_bad_filter_arguments_and_divergence_warning():
    solver = sr.RidgeSolver(*make_data(30, 4))
    with pytest.raises(ValueError, match=r"n_components must lie in \[0, rank\] = \[0, 4\], got n_components\[1\]=5"):
        solver.truncated_svd([1, 5])
    with pytest.raises(TypeError, match="n_components must be an integer"):
        solver.truncated_svd(1.5)
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        solver.early_stopping(-1.0, 3)
    with pytest.raises(ValueError, match="steps"):
        solver.early_stopping(1e-3, [-1])
    lam_max = solver.singular_values[0] ** 2
    with pytest.warns(RuntimeWarning, match="gradient descent does not converge"):
        solver.early_stopping(3.0 / lam_max, [1, 2])


def test_filter_grid_edge_warning_names_the_parameter():
    X, _ = make_data(60, 6)
    y = X @ np.ones(6)  # noiseless: the least regularized edge wins
    solver = sr.RidgeSolver(X, y)
    lr = 0.1 / solver.singular_values[0] ** 2
    with pytest.warns(sr.GridEdgeWarning, match="best steps of 1 target.*least-regularized"):
        solver.early_stopping(lr, [1, 2, 3]).gcv()


@pytest.mark.parametrize("dtype, target", [(np.float64, 4e-15), (np.float32, 4e-7)])
def test_low_rank_factors_cauchy_like_filters(dtype, target):
    # a ridge filter matrix over 200 alphas and 8 decades is of low numerical rank; the
    # returned eps bounds the entrywise error of the factors as cast to dtype
    lam = 2000.0 * np.exp(-6.0 * np.arange(300) / 300)
    F = _filters.ridge_filter(lam, np.logspace(-3, 5, 200)).resid
    A, B, eps = _filters.low_rank(F, target, dtype)
    assert A.dtype == B.dtype == dtype and A.shape[1] == B.shape[0] < 45
    # the error of the float64 product, up to its own rounding
    err = np.abs(F - A.astype(np.float64) @ B.astype(np.float64)).max(axis=1)
    slack = 2 * A.shape[1] * np.finfo(np.float64).eps * (np.abs(A) @ np.abs(B)).max(axis=1)
    assert np.all(err <= eps + slack) and eps.max() <= target
    assert np.all(eps < 2 * err + slack)  # and a bound, not a blanket
    assert _filters.low_rank(F, target, dtype, max_rank=10) is None
    if dtype == np.float64:  # the least rank: the search from the extrapolated one skips
        # none below it (in float32 the factors' rounding makes the error non-monotone)
        assert _filters.low_rank(F, target, dtype, max_rank=A.shape[1] - 1) is None


@pytest.mark.parametrize("dtype, target", [(np.float64, 4e-15), (np.float32, 4e-7)])
def test_block_low_rank_factors_blocks_of_nearby_eigenvalues(dtype, target):
    # eigenvalues over 10 decades: blocks of them are of lower rank than the whole, so the
    # cheapest factors have several blocks; B is block-diagonal and eps bounds the error
    lam = 1e4 * np.exp(-23.0 * np.arange(400) / 400)
    F = _filters.ridge_filter(lam, np.logspace(-6, 4, 100)).resid
    m, r = F.shape
    A, B, eps, (cols, ranks) = _filters.block_low_rank(F, target, dtype, budget=m * r)
    assert A.dtype == B.dtype == dtype and A.shape == (m, ranks[-1]) and B.shape == (ranks[-1], r)
    assert len(cols) > 2 and cols[0] == 0 and cols[-1] == r and (np.diff(cols) > 0).all()
    inside = np.zeros(B.shape, dtype=bool)
    for g in range(len(cols) - 1):
        inside[ranks[g]:ranks[g + 1], cols[g]:cols[g + 1]] = True
    assert (B[~inside] == 0).all()
    err = np.abs(F - A.astype(np.float64) @ B.astype(np.float64)).max(axis=1)
    slack = 2 * A.shape[1] * np.finfo(np.float64).eps * (np.abs(A) @ np.abs(B)).max(axis=1)
    assert np.all(err <= eps + slack) and eps.max() <= target
    # cheaper than one block, whose factors the planner also priced
    one = _filters.low_rank(F, target, dtype)
    cost = _filters.block_cost(cols, np.diff(ranks), m)
    assert cost < one[0].shape[1] * (r + m)
    # and None where no plan fits the budget
    assert _filters.block_low_rank(F, target, dtype, budget=cost / 4) is None
