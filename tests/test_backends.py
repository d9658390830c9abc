"""One behaviour suite for every backend: NumPy, scipy.sparse (CSR) and Dask.

Each check runs the public API on the same data given as a NumPy array, a CSR matrix or a
Dask array (synchronous scheduler; a few end-to-end cases also on a two-process
``distributed.LocalCluster``) and compares with an independent oracle: a direct solve
of the weighted normal equations per alpha, brute-force leave-one-out and K-fold refits,
the GCV formula with an explicit hat matrix.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

import spectralridge as sr
from spectralridge import plot, stats

from helpers import RTOL, make_data, ridge_oracle

BACKENDS = ["numpy", "sparse", "dask"]
ALPHAS = np.array([1e-2, 0.3, 3.0, 30.0, 300.0])


def _enter(name):
    if name != "dask":
        yield name
        return
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.array")
    with dask.config.set(scheduler="synchronous"):
        yield "dask"


@pytest.fixture(params=BACKENDS)
def backend(request):
    yield from _enter(request.param)


@pytest.fixture(params=BACKENDS + ["distributed"])
def backend_e2e(request):
    """The backends, and Dask on a two-process LocalCluster for end-to-end cases."""
    if request.param == "distributed":
        request.getfixturevalue("client")
        yield "dask"
        return
    yield from _enter(request.param)


def put(backend, X, Y, w=None, rows=17):
    """(X, Y, sample_weight) in the kind of arrays of `backend`."""
    if backend == "numpy":
        return X, Y, w
    if backend == "sparse":
        return sp.csr_array(X), Y, w
    import dask.array as da
    dY = da.from_array(Y, chunks=(rows, 2) if Y.ndim == 2 else rows)
    return (da.from_array(X, chunks=(rows, X.shape[1])), dY,
            None if w is None else da.from_array(w, chunks=rows))


def solver_for(backend, X, Y, w=None, **kwargs):
    X, Y, w = put(backend, X, Y, w)
    return sr.RidgeSolver(X, Y, sample_weight=w, **kwargs)


def get(value):
    """A result as NumPy (computing a Dask array)."""
    return np.asarray(value.compute() if hasattr(value, "compute") else value)


def close(actual, expected, rtol):
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.abs(expected).max()) if expected.size else 1.0
    assert_allclose(get(actual).astype(np.float64), expected, rtol=rtol, atol=rtol * scale)


def weights(n, seed=3):
    w = np.random.default_rng(seed).uniform(0.3, 2.0, n)
    w[[2, 7]] = 0.0
    return w


def oracle_path(X, Y, alphas, **kw):
    coef, intercept = zip(*(ridge_oracle(X, Y, a, **kw) for a in alphas))
    return np.array(coef), np.array(intercept)


def hat_diagonal(X, w, alpha, fit_intercept):
    """Diagonal of the weighted hat matrix ``sqrt(w) [1 X] (.)^-1 [1 X]^T sqrt(w)``."""
    A = np.column_stack([np.ones(len(X)), X]) if fit_intercept else X
    D = np.eye(A.shape[1]) * alpha
    if fit_intercept:
        D[0, 0] = 0.0
    As = np.sqrt(w)[:, None] * A
    return np.einsum("ij,ji->i", As, np.linalg.solve(As.T @ As + D, As.T))


def brute_force_loo(X, Y, w, alpha, fit_intercept):
    errors = np.empty_like(Y)
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        coef, b = ridge_oracle(X[keep], Y[keep], alpha, fit_intercept, w[keep])
        errors[i] = Y[i] - X[i] @ coef - b
    return w @ np.square(errors) / w.sum()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(60, 6), (24, 40)])
def test_path_against_normal_equations(backend, dtype, fit_intercept, shape):
    X, Y = make_data(*shape, 3, seed=1, dtype=dtype)
    w = weights(shape[0])
    solver = solver_for(backend, X, Y, w, fit_intercept=fit_intercept)
    assert isinstance(solver, sr.RidgeSolver)
    assert solver.backend == ("dask" if backend == "dask" else "numpy")
    coef, intercept = oracle_path(X, Y, ALPHAS, fit_intercept=fit_intercept, sample_weight=w)
    rtol = RTOL[dtype] * (10 if dtype == np.float32 else 1)
    for got, want in ((solver.coef(ALPHAS), coef), (solver.intercept(ALPHAS), intercept)):
        assert get(got).dtype == dtype
        close(got, want, rtol)
    X_new = X[:9] + 0.5
    close(solver.predict(put(backend, X_new, Y)[0], ALPHAS),
          np.einsum("np,apk->ank", X_new.astype(np.float64), coef) + intercept[:, None], rtol)
    _, s, _ = np.linalg.svd(np.sqrt(w)[:, None] * (X - (w @ X / w.sum() if fit_intercept
                                                          else 0.0)), full_matrices=False)
    lam = np.square(s[:solver.rank])
    close(solver.dof(ALPHAS), (lam / (lam + ALPHAS[:, None])).sum(axis=1), 1e-9)


def test_one_dimensional_y_and_scalar_alpha(backend):
    X, Y = make_data(40, 5, seed=2)
    solver = solver_for(backend, X, Y)
    coef, intercept = ridge_oracle(X, Y, 2.0)
    assert get(solver.coef(2.0)).shape == (5,) and get(solver.intercept(2.0)).shape == ()
    close(solver.coef(2.0), coef, 1e-10)
    close(solver.intercept(2.0), intercept, 1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_loo_against_brute_force(backend_e2e, fit_intercept):
    backend = backend_e2e
    X, Y = make_data(30, 5, 3, seed=4)
    w = weights(30)
    result = solver_for(backend, X, Y, w, fit_intercept=fit_intercept).loo(ALPHAS)
    want = np.array([brute_force_loo(X, Y, w, a, fit_intercept) for a in ALPHAS])
    close(result.scores, want, 1e-9)
    best = want.argmin(axis=0)
    assert_allclose(get(result.best_alpha), ALPHAS[best])
    coef, intercept = oracle_path(X, Y, ALPHAS, fit_intercept=fit_intercept, sample_weight=w)
    close(result.coef, coef[best, :, np.arange(3)].T, 1e-9)
    close(result.intercept, intercept[best, np.arange(3)], 1e-9)


def test_gcv_against_the_hat_matrix(backend):
    X, Y = make_data(40, 6, 2, seed=5)
    w = weights(40)
    result = solver_for(backend, X, Y, w).gcv(ALPHAS)
    n = np.count_nonzero(w)
    want = []
    for a in ALPHAS:
        coef, b = ridge_oracle(X, Y, a, sample_weight=w)
        rss = w @ np.square(Y - X @ coef - b)
        trace = hat_diagonal(X, w, a, True).sum()
        want.append((rss / w.sum()) / (1 - trace / n) ** 2)
    close(result.scores, np.array(want), 1e-9)


@pytest.mark.parametrize("scoring", ["mse", "r2"])
def test_kfold_against_refits(backend_e2e, scoring):
    backend = backend_e2e
    X, Y = make_data(45, 5, 3, seed=6)
    w = weights(45)
    dX, dY, dw = put(backend, X, Y, w)
    result = sr.ridge_cv(dX, dY, ALPHAS, cv=3, sample_weight=dw, scoring=scoring)
    sse = np.zeros((ALPHAS.size, 3))
    sst = np.zeros(3)
    mean = w @ Y / w.sum()
    for test in np.array_split(np.arange(45), 3):  # KFold(3) without shuffling
        train = np.setdiff1d(np.arange(45), test)
        for i, a in enumerate(ALPHAS):
            coef, b = ridge_oracle(X[train], Y[train], a, sample_weight=w[train])
            sse[i] += w[test] @ np.square(Y[test] - X[test] @ coef - b)
        sst += w[test] @ np.square(Y[test] - mean)
    want = sse / w.sum() if scoring == "mse" else 1 - sse / sst
    close(result.scores, want, 1e-8)
    best = want.argmin(axis=0) if scoring == "mse" else want.argmax(axis=0)
    assert_allclose(get(result.best_index), best)


def test_shared_alpha_and_per_target_refit(backend):
    X, Y = make_data(50, 5, 3, seed=7)
    Y = Y + np.random.default_rng(0).standard_normal(Y.shape) * [0.1, 1.0, 10.0]
    solver = solver_for(backend, X, Y)
    alphas = np.logspace(-2, 5, 8)
    shared = solver.loo(alphas, alpha_per_target=False)
    want = np.array([brute_force_loo(X, Y, np.ones(50), a, True) for a in alphas])
    assert_allclose(get(shared.best_index), np.full(3, want.mean(axis=1).argmin()))
    alphas = np.array([0.1, 5.0, 200.0])
    path = solver.per_target(alphas)
    for t, a in enumerate(alphas):
        coef, intercept = ridge_oracle(X, Y[:, t], a)
        close(get(path.coef)[:, t], coef, 1e-10)
        close(get(path.intercept)[t], intercept, 1e-10)


def test_penalty_factor(backend):
    X, Y = make_data(50, 4, 2, seed=8)
    c = np.array([0.25, 1.0, 4.0, 9.0])
    w = weights(50)
    solver = solver_for(backend, X, Y, w, penalty_factor=c)
    coef, intercept = oracle_path(X, Y, ALPHAS, sample_weight=w, penalty_factor=c)
    close(solver.coef(ALPHAS), coef, 1e-9)
    close(solver.intercept(ALPHAS), intercept, 1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("method", ["kernel", "auto"])
@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
def test_kernel_route_matches_numpy(backend, dtype, fit_intercept, method):
    """Wide X through the n x n kernel (Dask: formed over row and column blocks) agrees with
    NumPy's kernel route: paths, predictions, exact leave-one-out, GCV, with weights."""
    X, Y = make_data(30, 70, 3, seed=12, dtype=dtype)
    w = weights(30)
    ref = sr.RidgeSolver(X, Y, sample_weight=w, fit_intercept=fit_intercept, method="kernel")
    Xb, Yb, wb = put(backend, X, Y, w)
    if backend == "dask":
        Xb = Xb.rechunk((11, 25))  # column blocks too: the kernel sums over them
    solver = sr.RidgeSolver(Xb, Yb, sample_weight=wb, fit_intercept=fit_intercept,
                            method=method)
    rtol = 1e-10 if dtype == np.float64 else RTOL[dtype] * 10
    assert solver.method == "kernel" and solver.rank == ref.rank
    close(solver.singular_values, ref.singular_values, 1e-12)
    close(solver.coef(ALPHAS), ref.coef(ALPHAS), rtol)
    close(solver.intercept(ALPHAS), ref.intercept(ALPHAS), rtol)
    X_new = X[:7] + 0.25
    close(solver.predict(put(backend, X_new, Y)[0], ALPHAS), ref.predict(X_new, ALPHAS), rtol)
    close(solver.loo(ALPHAS).scores, ref.loo(ALPHAS).scores, rtol)
    close(solver.gcv(ALPHAS).scores, ref.gcv(ALPHAS).scores, rtol)
    close(solver.per_target([0.1, 1.0, 10.0]).coef, ref.per_target([0.1, 1.0, 10.0]).coef,
          rtol)
    # an independent oracle too (float64): the normal equations
    coef, _ = oracle_path(X, Y, ALPHAS, fit_intercept=fit_intercept, sample_weight=w)
    close(solver.coef(ALPHAS), coef, rtol if dtype == np.float32 else 1e-9)


@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
def test_kernel_route_penalty_factor_one_target(backend):
    X, Y = make_data(25, 60, seed=14)
    c = np.random.default_rng(14).uniform(0.2, 5.0, 60)
    ref = sr.RidgeSolver(X, Y, penalty_factor=c, method="kernel")
    solver = solver_for(backend, X, Y, penalty_factor=c)
    assert solver.method == "kernel"
    coef, intercept = oracle_path(X, Y[:, None], ALPHAS, penalty_factor=c)
    close(solver.coef(ALPHAS), coef[..., 0], 1e-9)
    close(solver.intercept(ALPHAS), intercept[..., 0], 1e-9)
    close(solver.loo(ALPHAS).scores, ref.loo(ALPHAS).scores, 1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("scoring", ["mse", "r2"])
@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
def test_kernel_route_kfold_matches_numpy(backend, fit_intercept, scoring):
    """K-fold on the kernel route (Dask: each training kernel a submatrix of the one n x n
    kernel) agrees with NumPy's, standard errors of the 1-SE rule included."""
    X, Y = make_data(40, 90, 3, seed=15)
    w = weights(40)
    kw = dict(cv=4, method="kernel", fit_intercept=fit_intercept, scoring=scoring,
              rule="1se")
    want = sr.ridge_cv(X, Y, ALPHAS, sample_weight=w, **kw)
    Xb, Yb, wb = put(backend, X, Y, w)
    got = sr.ridge_cv(Xb, Yb, ALPHAS, sample_weight=wb, **kw)
    close(got.scores, want.scores, 1e-10)
    close(got.score_se, want.score_se, 1e-9)
    assert_allclose(get(got.best_index), want.best_index)
    close(got.coef, want.coef, 1e-10)


def test_kernel_route_guard(backend):
    """method='auto' on wide, nearly collinear X leaves the kernel route for the SVD where
    the kernel's accuracy guard says so, as NumPy does; explicit 'kernel' is kept."""
    X, Y = make_data(30, 60, 2, seed=13, decay=25.0)
    ref = sr.RidgeSolver(X, Y, method="svd")
    Xb, Yb, _ = put(backend, X, Y)
    solver = sr.RidgeSolver(Xb, Yb)
    assert solver.method == "kernel"
    close(solver.coef(1e-9), ref.coef(1e-9), 1e-9)
    assert solver.method == "svd"
    kernel = sr.RidgeSolver(Xb, Yb, method="kernel")
    get(kernel.coef(1e-9))
    assert kernel.method == "kernel"


def test_grid_edge_warning(backend):
    X, Y = make_data(40, 5, 2, seed=9)
    alphas = np.array([1e4, 1e5, 1e6])  # far too much shrinkage: best at the low edge
    with pytest.warns(sr.GridEdgeWarning, match="least-regularized edge"):
        result = solver_for(backend, X, Y).loo(alphas)  # Dask: warns when computed
        best, edge = get(result.best_index), get(result.at_grid_edge)
    assert_allclose(best, [0, 0])
    assert edge.tolist() == [True, True]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a grid spanning the dof range: no warning
        get(solver_for(backend, X, Y).loo().best_index)


def test_plot_and_stats_accept_every_solver(backend):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    X, Y = make_data(40, 4, 2, seed=10)
    solver = solver_for(backend, X, Y)
    ref = sr.RidgeSolver(X, Y, method="svd")
    ax = plot.coef_path(solver, ALPHAS)
    close(np.array([line.get_ydata() for line in ax.lines[:4]]).T,
          ref.coef(ALPHAS)[:, :, 0], 1e-10)
    ax = plot.shrinkage(solver, ALPHAS)
    close(ax.lines[0].get_ydata(), ref.shrinkage(ALPHAS)[0], 1e-10)
    close(stats.alpha_to_fraction(solver, ALPHAS), stats.alpha_to_fraction(ref, ALPHAS), 1e-9)
    close(stats.fraction_to_alpha(solver, [0.5]), stats.fraction_to_alpha(ref, [0.5]), 1e-8)
    if backend == "numpy":
        close(stats.vif(solver, ALPHAS), stats.vif(X, ALPHAS), 1e-10)
    elif backend == "sparse":
        with pytest.raises(ValueError, match="sparse X is not supported"):
            stats.vif(solver, ALPHAS)
    else:
        with pytest.raises(TypeError, match="RidgeSolver of NumPy or array-API data"):
            stats.vif(solver, ALPHAS)


def test_numpy_only_capabilities_refuse_dask_clearly():
    # the spectral criteria and inference are NumPy, scipy.sparse and array-API only
    # (test_array_api): a clear error naming what is missing, never a crash or a silent copy
    da = pytest.importorskip("dask.array")
    X, Y = make_data(60, 6, 2)
    Xb, Yb = da.from_array(X, chunks=(20, 6)), da.from_array(Y, chunks=(20, 2))
    solver = sr.RidgeSolver(Xb, Yb)
    for call in (lambda: solver.evidence(ALPHAS), lambda: solver.lcurve(ALPHAS),
                 lambda: solver.quasi_optimality(ALPHAS)):
        with pytest.raises(TypeError, match="NumPy, scipy.sparse or array-API"):
            call()
    for cv, refine in (("evidence", False), ("discrepancy", False), ("loo", True)):
        with pytest.raises(ValueError, match="NumPy, scipy.sparse or array-API"):
            sr.ridge_cv(Xb, Yb, ALPHAS, cv=cv, refine=refine, noise_level=1.0
                        if cv == "discrepancy" else None)
    for call in (lambda: stats.coef_inference(solver, 1.0),
                 lambda: stats.prediction_se(solver, X[:3], 1.0)):
        with pytest.raises(TypeError, match="backend"):
            call()



@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
def test_banded_ridge_matches_numpy(backend, cv):
    """banded_ridge_cv on every backend (one penalty-factor rescaling per candidate through
    that backend's ridge_cv) equals the NumPy path, with weights and a left-out group."""
    X, Y = make_data(60, 6, 3, seed=21)
    w = weights(60)
    groups = [[0, 1], [2, 3, 4], [5]]
    candidates = [[1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0], [0.1, 0.2, 0.7]]
    kw = dict(candidates=candidates, cv=cv, scoring="r2" if cv == 3 else "mse")
    ref = sr.banded_ridge_cv(X, Y, groups, ALPHAS, sample_weight=w, **kw)
    Xb, Yb, wb = put(backend, X, Y, w)
    got = sr.banded_ridge_cv(Xb, Yb, groups, ALPHAS, sample_weight=wb, **kw)
    close(got.scores, ref.scores, 1e-10)
    assert_allclose(get(got.best_candidate), ref.best_candidate)
    assert_allclose(get(got.best_alpha), ref.best_alpha)
    assert_allclose(get(got.group_alphas), ref.group_alphas)
    close(got.coef, ref.coef, 1e-10)
    close(got.intercept, ref.intercept, 1e-10)
    one = sr.banded_ridge_cv(Xb, put(backend, X, Y[:, 1])[1], groups, ALPHAS,
                             sample_weight=wb, **kw)
    close(one.coef, ref.coef[:, 1], 1e-10)
    assert_allclose(get(one.group_alphas), ref.group_alphas[:, 1])


@pytest.mark.parametrize("shape", [(50, 6), (14, 30)])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("method", ["auto", "svd", "gram"])
@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
def test_unpenalized_columns(backend, method, fit_intercept, shape):
    """penalty_factor zeros on every backend (Dask: projected out of each set of rows from
    its factor): the path against the normal equations with zero penalty on those columns,
    leave-one-out against refits without each sample, LOO, GCV, K-fold (both scorings) and
    the leave-one-out errors against the NumPy path."""
    n, p = shape
    X, Y = make_data(n, p, 3, seed=23)
    X[:, 4] = np.rint(X[:, 4])  # a coarse unpenalized covariate
    w = weights(n)
    c = np.ones(p)
    c[[1, 4]] = 0.0
    c[2] = 5.0
    kw = dict(fit_intercept=fit_intercept, penalty_factor=c)
    if method == "gram" and n < p and backend != "dask":
        method = "auto"
    solver = solver_for(backend, X, Y, w, method=method, **kw)
    coef, intercept = oracle_path(X, Y, ALPHAS, sample_weight=w, **kw)
    close(solver.coef(ALPHAS), coef, 1e-9)
    close(solver.intercept(ALPHAS), intercept, 1e-9)
    X_new = X[:5] + 0.5
    close(solver.predict(put(backend, X_new, Y)[0], ALPHAS),
          X_new @ coef + intercept[:, None, :], 1e-9)
    Xb, Yb, wb = put(backend, X, Y, w)
    for cv in ("loo", "gcv", 4):
        for scoring in ("mse", "r2"):
            got = sr.ridge_cv(Xb, Yb, ALPHAS, cv=cv, scoring=scoring, sample_weight=wb,
                              method=method, **kw)
            want = sr.ridge_cv(X, Y, ALPHAS, cv=cv, scoring=scoring, sample_weight=w, **kw)
            close(got.scores, want.scores, 1e-10)
            assert_allclose(get(got.best_index), want.best_index)
            close(got.coef, want.coef, 1e-10)
            close(got.intercept, want.intercept, 1e-10)
    if n > p:
        alpha = ALPHAS[1]
        loo = get(solver.loo([alpha]).scores)[0]
        sse = np.zeros(3)
        for i in range(n):
            keep = np.arange(n) != i
            W, b = ridge_oracle(X[keep], Y[keep], alpha, fit_intercept, w[keep], c)
            sse += w[i] * (Y[i] - X[i] @ W - b) ** 2
        assert_allclose(loo, sse / w.sum(), rtol=1e-10)
        close(solver.loo_errors(ALPHAS),
              sr.RidgeSolver(X, Y, sample_weight=w, **kw).loo_errors(ALPHAS), 1e-9)


def test_unpenalized_collinear_columns_are_named(backend):
    X, Y = make_data(40, 5, 2, seed=24)
    X[:, 3] = 2.0 * X[:, 0] - 1.0
    c = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"unpenalized columns \[(0|3)\] of X are collinear "
                                         r"with the other unpenalized columns \[(0|3)\] and "
                                         r"the intercept"):
        get(solver_for(backend, X, Y, penalty_factor=c).coef(1.0))
    X[:, 3] = 2.5  # constant: zero once centred, collinear with the intercept
    with pytest.raises(ValueError, match=r"unpenalized columns \[3\] of X are collinear "
                                         r"with the other unpenalized columns \[0\] and "
                                         r"the intercept"):
        get(solver_for(backend, X, Y, penalty_factor=c).coef(1.0))
    X[:, 3] = 0.0
    with pytest.raises(ValueError, match=r"unpenalized columns \[3\] of X are zero"):
        get(solver_for(backend, X, Y, penalty_factor=c).coef(1.0))
