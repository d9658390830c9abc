"""spectralridge.dask: the same results as the NumPy solver, on Dask arrays.

The oracle is the NumPy path (SVD route, itself checked against direct solves elsewhere);
results must agree to 1e-10 relative on the synchronous scheduler and on a two-process
``distributed`` cluster.
"""
import importlib.util
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import spectralridge as sr

from helpers import RTOL, make_data

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
from spectralridge.dask import DaskRidgeSolver, dask_ridge_cv, dask_ridge_path  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")

ALPHAS = np.array([1e-3, 0.1, 1.0, 10.0, 1e3])
TOL = 1e-10


def close(actual, expected, tol=TOL):
    """Equal to `tol` relative to the largest magnitude of `expected`."""
    actual = actual.compute() if hasattr(actual, "compute") else actual
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.abs(expected).max()), np.finfo(float).tiny) if expected.size else 1.0
    assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=tol, atol=tol * scale)


def weights(n):
    w = np.random.default_rng(7).uniform(0.2, 2.0, n)
    w[[1, 5]] = 0.0
    return w


def to_dask(X, Y, w=None, rows=37, cols=2):
    dX = da.from_array(X, chunks=(rows, X.shape[1]))
    dY = da.from_array(Y, chunks=(rows, cols) if Y.ndim == 2 else rows)
    dw = None if w is None else da.from_array(w, chunks=rows)
    return dX, dY, dw


@pytest.fixture(autouse=True)
def synchronous(request):
    if "client" in request.fixturenames:
        yield
        return
    with dask.config.set(scheduler="synchronous"):
        yield


CASES = {  # name: (n, p, k, fit_intercept, weighted)
    "tall": (150, 6, 5, True, False),
    "tall-weighted": (150, 6, 5, True, True),
    "tall-no-intercept": (150, 6, 3, False, True),
    "wide": (40, 60, 3, True, False),
    "wide-weighted-no-intercept": (40, 60, 3, False, True),
}


@pytest.mark.parametrize("case", CASES)
def test_solver_matches_numpy(case):
    n, p, k, fit_intercept, weighted = CASES[case]
    X, Y = make_data(n, p, k, seed=1)
    w = weights(n) if weighted else None
    dX, dY, dw = to_dask(X, Y, w, rows=17 if n < p else 37)
    kw = dict(fit_intercept=fit_intercept, sample_weight=w)
    ref = sr.RidgeSolver(X, Y, method="svd", **kw)
    solver = DaskRidgeSolver(dX, dY, fit_intercept=fit_intercept, sample_weight=dw)
    alphas = ALPHAS if n > p else ALPHAS[1:]
    assert solver.rank == ref.rank
    close(solver.singular_values, ref.singular_values)
    close(solver.dof(alphas), ref.dof(alphas))
    close(solver.shrinkage(alphas), ref.shrinkage(alphas))
    coef, intercept = solver.coef(alphas), solver.intercept(alphas)
    assert isinstance(coef, da.Array) and coef.chunks[2] == dY.chunks[1]
    close(coef, ref.coef(alphas))
    close(intercept, ref.intercept(alphas))
    close(solver.predict(dX[:20], alphas), ref.predict(X[:20], alphas))
    for name in ("gcv", "loo"):
        got, want = getattr(solver, name)(alphas), getattr(ref, name)(alphas)
        assert isinstance(got.scores, da.Array)
        close(got.scores, want.scores)
        assert_array_equal(got.best_index.compute(), want.best_index)
        close(got.best_alpha, want.best_alpha)
        close(got.coef, want.coef)
        close(got.intercept, want.intercept)
        close(got.dof, want.dof)
    got, want = dask_ridge_cv(dX, dY, alphas, cv=4, **dict(kw, sample_weight=dw)), \
        sr.ridge_cv(X, Y, alphas, cv=4, method="svd", **kw)
    close(got.scores, want.scores)
    close(got.coef, want.coef)
    assert got.cv == want.cv


@pytest.mark.parametrize("method", ["svd", "gram", "auto"])
def test_methods_and_fold_statistics(method):
    X, Y = make_data(200, 7, 4, seed=2)
    dX, dY, _ = to_dask(X, Y, rows=45, cols=3)
    solver = DaskRidgeSolver(dX, dY, method=method)
    assert solver.method == ("svd" if method == "svd" else "gram")
    close(solver.coef(ALPHAS), sr.RidgeSolver(X, Y, method="svd").coef(ALPHAS))
    for scoring in ("mse", "r2"):
        got = dask_ridge_cv(dX, dY, ALPHAS, cv=5, scoring=scoring, method=method)
        want = sr.ridge_cv(X, Y, ALPHAS, cv=5, scoring=scoring, method="svd")
        close(got.scores, want.scores)
        close(got.best_score, want.best_score)
        assert_array_equal(got.best_index.compute(), want.best_index)


@pytest.mark.parametrize("shape", [(40, 70), (120, 6)])
def test_kfold_auto_route_and_training_set_guard_as_in_numpy(shape):
    # method='auto' with K-fold: the kernel route on wide X, the Gram on tall, as NumPy's
    # training solvers; an exactly collinear column leaves a dropped direction in every
    # training set that carries nothing, so the guard (measured per training set, as NumPy
    # measures it) keeps the route; an ill-conditioned X upgrades to the QR route
    X, Y = make_data(*shape, 3, seed=3)
    X = np.column_stack([X, X[:, 0] - X[:, 1]])
    w = weights(shape[0])
    folds = sr._cv.fold_labels(4, X, Y, None, "Dask")
    route = "kernel" if shape[0] < shape[1] else "gram"
    for data, alphas, want_route in ((X, ALPHAS, route),
                                     (make_data(*shape, 3, seed=13, decay=25.0)[0],
                                      np.array([1e-9, 1e-3, 1.0]), "svd")):
        dX, dY, dw = to_dask(data, Y, w, rows=13)
        solver = DaskRidgeSolver._with_folds(dX, dY, folds, fit_intercept=True,
                                             sample_weight=dw, method="auto")
        assert solver.method == route
        got = solver._kfold(alphas, "mse", True, "min")
        want = sr.ridge_cv(data, Y, alphas, cv=4, sample_weight=w)
        close(got.scores, want.scores, 1e-9)
        close(got.coef, want.coef, 1e-9)
        assert solver.method == want_route
        if want_route != "svd":
            assert all(np.isfinite(t.dropped) for t in solver._state.train)


def test_auto_upgrades_to_the_qr_route_when_the_gram_is_not_accurate():
    X, Y = make_data(300, 8, 2, seed=3, decay=12.0)  # cond(X) ~ 1.6e5: Gram guard fails
    solver = DaskRidgeSolver(*to_dask(X, Y)[:2])
    assert solver.method == "gram"
    close(solver.coef(1.0), sr.RidgeSolver(X, Y, method="svd").coef(1.0))
    assert solver.method == "gram"
    before = solver.ridge([1.0, 10.0])  # keeps the decomposition it was made with
    coef = solver.coef(1e-9)
    assert solver.method == "svd"
    close(before.coef(), sr.RidgeSolver(X, Y, method="svd").coef([1.0, 10.0]), tol=1e-9)
    # the projection Xc^T Yc / s costs cond(X) x eps, not its square
    close(coef, sr.RidgeSolver(X, Y, method="svd").coef(1e-9), tol=1e-8)
    explicit = DaskRidgeSolver(*to_dask(X, Y)[:2], method="gram")
    explicit.coef(1e-9)
    assert explicit.method == "gram"


def test_qr_tree_equals_dask_tsqr():
    X, Y = make_data(300, 5, 1, seed=4)
    dX, dY, _ = to_dask(X, Y, rows=40)
    solver = DaskRidgeSolver(dX, dY, method="svd", fit_intercept=False)
    R = solver._state.fold_factors[0]
    _, R_tsqr = da.linalg.tsqr(dX)
    assert_allclose(np.abs(np.triu(R)), np.abs(R_tsqr.compute()), rtol=1e-12,
                    atol=1e-12 * np.abs(R).max())


def test_splitters_rule_and_standard_errors():
    model_selection = pytest.importorskip("sklearn.model_selection")
    X, Y = make_data(120, 5, 3, seed=5)
    w = weights(120)
    dX, dY, dw = to_dask(X, Y, w)
    groups = np.arange(120) % 7
    for cv, kw in ((model_selection.KFold(4, shuffle=True, random_state=0), {}),
                   (model_selection.GroupKFold(3), {"groups": groups})):
        for rule, per_target in (("min", False), ("1se", True), ("1se", False)):
            got = dask_ridge_cv(dX, dY, ALPHAS, cv=cv, rule=rule, sample_weight=dw,
                                alpha_per_target=per_target, **kw)
            want = sr.ridge_cv(X, Y, ALPHAS, cv=cv, rule=rule, sample_weight=w,
                               alpha_per_target=per_target, method="svd", **kw)
            close(got.scores, want.scores)
            close(got.score_se, want.score_se, tol=1e-8)  # a difference of close scores
            assert_array_equal(got.best_index.compute(), want.best_index)
            close(got.coef, want.coef)
            assert got.rule == rule
    with pytest.raises(ValueError, match="partition the samples"):
        dask_ridge_cv(dX, dY, ALPHAS, cv=model_selection.ShuffleSplit(3, random_state=0))
    with pytest.raises(ValueError, match="rule='1se' needs per-split scores"):
        dask_ridge_cv(dX, dY, ALPHAS, cv="loo", rule="1se")


def test_many_targets_stay_in_blocks():
    X, Y = make_data(80, 10, 600, seed=6)
    dY = da.from_array(Y, chunks=(80, 150))
    result = dask_ridge_cv(X, dY, ALPHAS)  # NumPy X, Dask Y
    want = sr.ridge_cv(X, Y, ALPHAS, method="svd")
    for name in ("scores", "best_index", "best_alpha", "coef", "intercept"):
        value = getattr(result, name)
        assert isinstance(value, da.Array), name
        assert value.chunks[-1] == (150,) * 4, name
    close(result.scores, want.scores)
    close(result.coef, want.coef)
    assert_array_equal(result.best_index.compute(), want.best_index)
    path = dask_ridge_path(X, dY, ALPHAS)
    close(path.coef, sr.ridge_path(X, Y, ALPHAS, method="svd").coef)


def test_shapes_dtypes_and_filters():
    X, y = make_data(150, 6, None, seed=7, dtype=np.float32)
    dX, dy, _ = to_dask(X, y)
    solver, ref = DaskRidgeSolver(dX, dy), sr.RidgeSolver(X, y)
    coef = solver.coef(1.0)
    assert coef.shape == (6,) and coef.dtype == np.float32
    assert solver.intercept(ALPHAS).shape == (5,)
    assert_allclose(coef.compute(), ref.coef(1.0), rtol=RTOL[np.float32])
    result = solver.loo(ALPHAS)
    assert result.scores.shape == (5,) and result.best_index.shape == ()
    assert result.scores.dtype == np.float32 and result.coef.dtype == np.float32
    assert int(result.best_index) == ref.loo(ALPHAS).best_index
    X, Y = make_data(150, 6, 3, seed=7)
    dX, dY, _ = to_dask(X, Y)
    solver, ref = DaskRidgeSolver(dX, dY), sr.RidgeSolver(X, Y, method="svd")
    close(solver.early_stopping(1e-3, [1, 10, 100]).gcv().scores,
          ref.early_stopping(1e-3, [1, 10, 100]).gcv().scores)
    close(solver.truncated_svd([1, 3, 6]).coef(), ref.truncated_svd([1, 3, 6]).coef())
    close(solver.per_target([0.1, 1.0, 10.0]).coef, ref.per_target([0.1, 1.0, 10.0]).coef)
    close(solver.loo_errors(ALPHAS), ref.loo_errors(ALPHAS))
    close(solver.default_alphas(), ref.default_alphas())
    close(solver.gcv().best_alpha, ref.gcv().best_alpha)  # default grid


def test_errors():
    X, Y = make_data(60, 4, 2, seed=8)
    dX, dY, _ = to_dask(X, Y, rows=20)
    bad = X.copy()
    bad[45, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        DaskRidgeSolver(da.from_array(bad, chunks=(20, 4)), dY)
    w = np.ones(60)
    w[33] = -1.0
    with pytest.raises(ValueError, match=r"sample_weight\[33\]=-1.0"):
        DaskRidgeSolver(dX, dY, sample_weight=da.from_array(w, chunks=20))
    with pytest.raises(ValueError, match="same number of samples"):
        DaskRidgeSolver(dX, dY[:50])
    with pytest.raises(ValueError, match="Complex data not supported"):
        DaskRidgeSolver(dX.astype(complex), dY)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        DaskRidgeSolver(dX[dX[:, 0] > 0], dY)
    solver = DaskRidgeSolver(dX, dY)
    with pytest.raises(ValueError, match="expecting 4 features"):
        solver.predict(X[:, :3], 1.0)
    wide_X, wide_Y = make_data(20, 30, 2, seed=9)
    wide = DaskRidgeSolver(*to_dask(wide_X, wide_Y, rows=10)[:2])
    close(wide.loo([0.0, 1.0]).scores.compute(),  # the limit where the leverage tends to 1
          sr.RidgeSolver(wide_X, wide_Y).loo([0.0, 1.0]).scores)
    w = np.zeros(20)
    w[13] = 1.0  # one sample of positive weight: nothing predicts it once removed
    dX, dY, dw = to_dask(wide_X, wide_Y, w, rows=10)
    lone = DaskRidgeSolver(dX, dY, sample_weight=dw)
    result = lone.loo([1.0])  # lazy: raised when it runs, as in NumPy
    with pytest.raises(ValueError, match="sample 13 has leverage 1"):
        result.scores.compute()
    with pytest.raises(ValueError, match="GCV is undefined"):
        wide.gcv([0.0, 1.0])


def test_solver_pickles():
    X, Y = make_data(100, 5, 3, seed=10)
    solver = DaskRidgeSolver(*to_dask(X, Y)[:2])
    clone = pickle.loads(pickle.dumps(solver))
    close(clone.coef(ALPHAS), solver.coef(ALPHAS).compute())
    close(clone.loo(ALPHAS).scores, solver.loo(ALPHAS).scores.compute())


def test_dask_is_imported_lazily_and_optional():
    code = ("import sys, spectralridge, numpy as np; spectralridge.RidgeSolver("
            "np.eye(3), np.ones(3)); assert 'dask' not in sys.modules, 'dask imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    code = ("import sys; sys.modules['dask'] = None; sys.modules['dask.array'] = None\n"
            "import numpy as np\nfrom spectralridge.dask import DaskRidgeSolver\n"
            "try:\n    DaskRidgeSolver(np.eye(3), np.ones(3))\n"
            "except ImportError as e:\n    assert \"spectralridge[dask]\" in str(e), e\n"
            "else:\n    raise AssertionError('no ImportError')")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api_dispatches_on_dask_arrays():
    X, Y = make_data(100, 5, 3, seed=11)
    dX, dY, _ = to_dask(X, Y)
    solver = sr.RidgeSolver(dX, dY)
    assert isinstance(solver, DaskRidgeSolver) and isinstance(solver, sr.RidgeSolver)
    assert solver.backend == "dask" and sr.RidgeSolver(X, Y).backend == "numpy"
    close(sr.ridge_path(dX, dY, ALPHAS).coef, sr.ridge_path(X, Y, ALPHAS, method="svd").coef)
    result = sr.ridge_cv(dX, dY, ALPHAS, cv=3)
    assert isinstance(result.scores, da.Array)
    close(result.scores, sr.ridge_cv(X, Y, ALPHAS, cv=3, method="svd").scores)
    assert isinstance(sr.RidgeSolver(X, Y), sr.RidgeSolver)  # NumPy in, NumPy out


# -- on a two-process distributed cluster (the `client` fixture: conftest.py) ----------------
def test_distributed_matches_numpy(client):
    X, Y = make_data(400, 8, 6, seed=12)
    w = weights(400)
    dX, dY, dw = to_dask(X, Y, w, rows=90, cols=3)
    solver = DaskRidgeSolver(dX, dY, sample_weight=dw, method="svd")
    ref = sr.RidgeSolver(X, Y, sample_weight=w, method="svd")
    coef, loo = dask.compute(solver.coef(ALPHAS), solver.loo(ALPHAS).scores)
    close(coef, ref.coef(ALPHAS))
    close(loo, ref.loo(ALPHAS).scores)
    got = dask_ridge_cv(dX, dY, ALPHAS, cv=5, sample_weight=dw)
    want = sr.ridge_cv(X, Y, ALPHAS, cv=5, sample_weight=w, method="svd")
    scores, best, refit = dask.compute(got.scores, got.best_index, got.coef)
    close(scores, want.scores)
    assert_array_equal(best, want.best_index)
    close(refit, want.coef)
    close(dask_ridge_cv(dX, dY, ALPHAS, cv="gcv", method="gram").scores,
          sr.ridge_cv(X, Y, ALPHAS, cv="gcv", method="svd").scores)


# -- scikit-learn estimators on Dask input ------------------------------------------------------
ESTIMATORS = {  # name: a new spectralridge estimator
    "Ridge": lambda: sr.Ridge(alpha=3.0),
    "Ridge-svd-no-intercept": lambda: sr.Ridge(alpha=0.5, solver="svd", fit_intercept=False),
    "RidgeCV-loo-store": lambda: sr.RidgeCV(ALPHAS, store_cv_results=True),
    "RidgeCV-loo-r2-per-target": lambda: sr.RidgeCV(ALPHAS, scoring="r2", alpha_per_target=True,
                                                    store_cv_results=True),
    "RidgeCV-gcv": lambda: sr.RidgeCV(None, cv="gcv", alpha_per_target=True),
    "RidgeCV-kfold": lambda: sr.RidgeCV(ALPHAS, cv=4),
    "RidgeCV-kfold-mse-per-target": lambda: sr.RidgeCV(
        ALPHAS, cv=4, scoring="neg_mean_squared_error", alpha_per_target=True),
}


def fitted(estimator):
    return {k: v for k, v in vars(estimator).items() if k.endswith("_")}


def assert_same_fitted(got, want, tol=TOL):
    """Same fitted attributes as the NumPy-fitted estimator, with the same shapes and dtypes;
    those indexed by target lazy, the spectral ones (alphas_, dof_) NumPy."""
    assert fitted(got).keys() == fitted(want).keys()
    for name, value in fitted(want).items():
        mine = getattr(got, name)
        if name in ("coef_", "cv_scores_", "cv_results_", "best_score_", "alpha_",
                    "alpha_at_edge_") or (
                name == "intercept_" and got.fit_intercept):
            assert isinstance(mine, da.Array), name
        elif not isinstance(value, (int, str)) and value is not None:
            assert not is_lazy(mine), name
        assert np.shape(mine) == np.shape(value), name
        if isinstance(value, str) or value is None:
            assert mine == value, name
            continue
        assert np.asarray(mine).dtype == np.asarray(value).dtype, name
        close(mine, value, tol=tol)


def is_lazy(value):
    return dask.is_dask_collection(value)


@pytest.mark.parametrize("inputs", ["dask", "dask-X", "dask-y", "dask-weights"])
@pytest.mark.parametrize("targets", ["1d", "2d"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimators_on_dask_match_numpy(name, targets, inputs):
    pytest.importorskip("sklearn")
    X, Y = make_data(120, 6, None if targets == "1d" else 3, seed=13)
    w = weights(120)
    dX, dY, dw = to_dask(X, Y, w, rows=31)
    dX, dY, dw = {"dask": (dX, dY, dw), "dask-X": (dX, Y, w), "dask-y": (X, dY, w),
                  "dask-weights": (X, Y, dw)}[inputs]
    want = ESTIMATORS[name]().fit(X, Y, sample_weight=w)
    got = ESTIMATORS[name]().fit(dX, dY, sample_weight=dw)
    assert got.n_features_in_ == 6 and not hasattr(got, "feature_names_in_")
    assert_same_fitted(got, want)
    for new in (dX[:25], X[:25]):  # lazy predictions from a Dask fit, whatever X is
        pred = got.predict(new)
        assert isinstance(pred, da.Array) and pred.shape == want.predict(X[:25]).shape
        close(pred, want.predict(X[:25]))
    pred = want.predict(to_dask(X, Y)[0])  # a NumPy fit predicts lazily on Dask X too
    assert isinstance(pred, da.Array)
    close(pred, want.predict(X))


def test_estimators_keep_float32_and_per_target_alphas():
    pytest.importorskip("sklearn")
    X, Y = make_data(150, 6, 2, seed=14, dtype=np.float32)
    dX, dY, _ = to_dask(X, Y)
    for make in (lambda: sr.Ridge(alpha=[0.1, 10.0]), lambda: sr.RidgeCV(ALPHAS, cv=3)):
        want, got = make().fit(X, Y), make().fit(dX, dY)
        assert got.coef_.dtype == np.float32 and got.predict(dX).dtype == np.float32
        assert_same_fitted(got, want, tol=RTOL[np.float32])
    # float32 X with a float64 y works in X's dtype, as scikit-learn's Ridge
    got = sr.Ridge().fit(dX, dY.astype(np.float64))
    assert got.coef_.dtype == np.float32 and got.intercept_.dtype == np.float32
    close(got.coef_, sr.Ridge().fit(X, Y.astype(np.float64)).coef_, tol=RTOL[np.float32])


def count_tasks(func):
    """(scheduler runs, tasks run) while calling func, on the synchronous scheduler."""
    from dask.callbacks import Callback
    runs, tasks = [], []
    with Callback(start=lambda dsk: runs.append(1), pretask=lambda *args: tasks.append(1)):
        func()
    return len(runs), len(tasks)


def test_estimators_fit_computes_only_what_the_dask_api_computes():
    pytest.importorskip("sklearn")
    X, Y = make_data(120, 6, 3, seed=15)
    dX, dY, _ = to_dask(X, Y, rows=30)
    pairs = [
        (lambda: sr.Ridge(alpha=2.0).fit(dX, dY),
         lambda: DaskRidgeSolver(dX, dY).per_target(np.full(3, 2.0))),
        (lambda: sr.RidgeCV(ALPHAS).fit(dX, dY),
         lambda: DaskRidgeSolver(dX, dY).loo(ALPHAS, alpha_per_target=False)),
        (lambda: sr.RidgeCV(ALPHAS, cv=4, alpha_per_target=True).fit(dX, dY),
         lambda: dask_ridge_cv(dX, dY, ALPHAS, cv=4, scoring="r2")),
    ]
    for fit, api in pairs:
        assert count_tasks(fit) == count_tasks(api)
    model = sr.RidgeCV(ALPHAS).fit(dX, dY)
    assert count_tasks(lambda: model.predict(dX)) == (0, 0)  # lazy
    assert count_tasks(lambda: model.coef_.compute())[0] == 1


@pytest.mark.parametrize("fit, error, match", [
    (lambda dX, dY: sr.Ridge().fit(dX[None], dY), ValueError, r"X must be 2-D"),
    (lambda dX, dY: sr.Ridge().fit(dX, dY[None]), ValueError, r"y must be 1-D or 2-D"),
    (lambda dX, dY: sr.Ridge().fit(dX, dY[:30]), ValueError,
     r"X and y must have the same number of samples"),
    (lambda dX, dY: sr.RidgeCV().fit(dX.compute(), dY[:30]), ValueError,
     r"X and y must have the same number of samples"),
    (lambda dX, dY: sr.Ridge().fit(dX.astype(complex), dY), ValueError,
     "Complex data not supported: X"),
    (lambda dX, dY: sr.Ridge().fit(dX, dY.astype(str)), TypeError, "y must contain numbers"),
    (lambda dX, dY: sr.Ridge().fit(dX[dX[:, 0] > 0], dY), ValueError, "X has unknown chunk"),
    (lambda dX, dY: sr.Ridge().fit(dX, dY, sample_weight=da.ones(30)), ValueError,
     r"sample_weight must have one entry per sample"),
    (lambda dX, dY: sr.Ridge().fit(dX, dY).predict(dX[:, :3]), ValueError,
     "X has 3 features, but Ridge is expecting 4"),
    (lambda dX, dY: sr.Ridge().fit(dX, dY).predict(dX[0]), ValueError, "X must be 2-D"),
    (lambda dX, dY: sr.RidgeCV(scoring="explained_variance").fit(dX, dY), ValueError,
     "With Dask input, RidgeCV supports scoring=None"),
    (lambda dX, dY: sr.RidgeCV(cv=[(np.arange(30), np.arange(30, 40))]).fit(dX, dY),
     ValueError, "cv splits must partition the samples"),
    (lambda dX, dY: sr.RidgeCV(gcv_mode="eigen").fit(dX.T.rechunk((2, 40)), dY[:4]),
     ValueError, "gcv_mode='eigen' with n_samples <= n_features"),
    (lambda dX, dY: sr.Ridge().fit(dX * np.nan, dY).coef_.compute(), ValueError,
     "Input X contains NaN"),  # data errors surface when the graph runs
])
def test_estimator_errors_on_dask_input(fit, error, match):
    pytest.importorskip("sklearn")
    X, Y = make_data(40, 4, 2, seed=16)
    dX, dY, _ = to_dask(X, Y, rows=10)
    with pytest.raises(error, match=match):
        fit(dX, dY)


def test_estimators_in_a_pipeline_on_dask_input():
    pytest.importorskip("sklearn")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    X, Y = make_data(120, 6, 3, seed=17)
    dX, dY, _ = to_dask(X, Y)
    # a step that keeps Dask arrays lazy (scikit-learn's own transformers convert to NumPy)
    pipe = make_pipeline(FunctionTransformer(np.negative), sr.RidgeCV(ALPHAS, cv=3))
    want = make_pipeline(FunctionTransformer(np.negative), sr.RidgeCV(ALPHAS, cv=3)).fit(X, Y)
    pred = pipe.fit(dX, dY).predict(dX)
    assert isinstance(pipe[-1].coef_, da.Array) and isinstance(pred, da.Array)
    close(pred, want.predict(X))
    assert_allclose(pipe.score(dX, dY), want.score(X, Y), rtol=TOL)


def test_estimators_on_distributed(client):
    pytest.importorskip("sklearn")
    X, Y = make_data(400, 8, 6, seed=18)
    w = weights(400)
    dX, dY, dw = to_dask(X, Y, w, rows=90, cols=3)
    for make in (lambda: sr.RidgeCV(ALPHAS, alpha_per_target=True),
                 lambda: sr.RidgeCV(ALPHAS, cv=5)):
        got, want = make().fit(dX, dY, sample_weight=dw), make().fit(X, Y, sample_weight=w)
        coef, alpha, pred = dask.compute(got.coef_, got.alpha_, got.predict(dX))
        close(coef, want.coef_)
        close(alpha, want.alpha_)
        close(pred, want.predict(X))


@pytest.mark.parametrize("method", ["auto", "svd", "gram"])
def test_penalty_factor_as_in_numpy(method):
    X, Y = make_data(90, 4, 2, seed=19)
    w = weights(90)
    dX, dY, dw = to_dask(X, Y, w, rows=30)
    factor = np.array([0.01, 2.0, 3.0, 400.0])
    kw = dict(sample_weight=w, penalty_factor=factor)
    got = sr.RidgeSolver(dX, dY, method=method, sample_weight=dw, penalty_factor=factor)
    want = sr.RidgeSolver(X, Y, method="svd", **kw)
    close(got.coef(ALPHAS), want.coef(ALPHAS))
    close(got.intercept(ALPHAS), want.intercept(ALPHAS))
    close(got.predict(X[:7], ALPHAS), want.predict(X[:7], ALPHAS))
    close(got.dof(ALPHAS), want.dof(ALPHAS))
    close(got.per_target([0.1, 10.0]).coef, want.per_target([0.1, 10.0]).coef)
    for cv in ("loo", "gcv", 3):
        g = sr.ridge_cv(dX, dY, ALPHAS, cv=cv, sample_weight=dw, penalty_factor=factor,
                        method=method)
        r = sr.ridge_cv(X, Y, ALPHAS, cv=cv, method="svd", **kw)
        close(g.scores, r.scores)
        close(g.coef, r.coef)
    if importlib.util.find_spec("sklearn") is not None:
        model = sr.RidgeCV(ALPHAS, penalty_factor=factor).fit(dX, dY)
        ref = sr.RidgeCV(ALPHAS, penalty_factor=factor).fit(X, Y)
        close(model.coef_, ref.coef_)
    with pytest.raises(ValueError, match="method='kernel' does not take unpenalized"):
        sr.RidgeSolver(dX, dY, penalty_factor=[1.0, 0.0, 1.0, 1.0], method="kernel")


def test_empty_target_chunk():
    X, Y = make_data(40, 4, 3, seed=20)
    dX = da.from_array(X, chunks=(20, 4))
    dY = da.from_array(Y, chunks=((20, 20), (2, 0, 1)))
    solver = sr.RidgeSolver(dX, dY)
    want = sr.RidgeSolver(X, Y)
    close(solver.coef([1.0, 2.0]), want.coef([1.0, 2.0]))
    close(solver.predict(dX, [1.0, 2.0]), want.predict(X, [1.0, 2.0]))
    close(sr.RidgeCV(ALPHAS, cv=4).fit(dX, dY).coef_, sr.RidgeCV(ALPHAS, cv=4).fit(X, Y).coef_)


@pytest.mark.parametrize("cv", ["loo", "gcv", 4])
def test_r2_without_intercept_is_about_the_weighted_mean(cv):
    X, Y = make_data(60, 5, 3, seed=21)
    Y = Y + [0.0, 5.0, -1e6]  # means far from 0: R^2 about 0 would differ, and about the
    # mean by one pass of sums (sum w y^2 - (sum w y)^2 / sum w) would cancel
    w = weights(60)
    dX, dY, dw = to_dask(X, Y, w)
    want = sr.ridge_cv(X, Y, ALPHAS, cv=cv, scoring="r2", fit_intercept=False,
                       sample_weight=w)
    got = sr.ridge_cv(dX, dY, ALPHAS, cv=cv, scoring="r2", fit_intercept=False,
                      sample_weight=dw)
    close(got.scores, want.scores)
    close(got.best_alpha, want.best_alpha)


def test_auto_takes_the_qr_route_where_the_gram_cutoff_drops_directions():
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal(83) * 11.7
    X = np.column_stack([x0, 2 * x0 + 1e-4 * rng.standard_normal(83)]) / np.sqrt([533.5, 0.1345])
    y = X.sum(axis=1) + x0
    dX, dy, _ = to_dask(X, y)
    solver = sr.RidgeSolver(dX, dy)
    close(solver.coef(0.09), sr.RidgeSolver(X, y, method="svd").coef(0.09), tol=1e-10)
    assert solver.method == "svd"
    # exactly collinear columns carry nothing in the dropped direction: the Gram route stays,
    # as in NumPy (the guard measures the cross products, no further pass over the data)
    X, Y = make_data(100, 6, 3, seed=21)
    X = np.column_stack([X, X[:, 0] - X[:, 1]])
    dX, dY, _ = to_dask(X, Y)
    solver = sr.RidgeSolver(dX, dY)
    close(solver.coef([1.0, 10.0]), sr.RidgeSolver(X, Y, method="svd").coef([1.0, 10.0]),
          tol=1e-10)
    assert solver.method == "gram" == sr.RidgeSolver(X, Y).method and solver.rank == 6


@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
def test_r2_of_a_constant_target_follows_scikit_learn(cv):
    # as in NumPy: 1.0 where the predictions are exact; the shared alpha is unaffected
    X, Y = make_data(60, 5, 3, seed=3)
    Y[:, 1] = 2.5
    kw = dict(cv=cv, scoring="r2", alpha_per_target=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sr.GridEdgeWarning)
        want = sr.ridge_cv(X, Y, ALPHAS, **kw)
    got = dask_ridge_cv(da.from_array(X, chunks=(20, 5)), da.from_array(Y, chunks=(20, 2)),
                        ALPHAS, **kw)
    scores, best = dask.compute(got.scores, got.best_index)
    assert_array_equal(scores[:, 1], 1.0)
    assert_array_equal(best, want.best_index)


# -- groups and ownership, as in NumPy ---------------------------------------------------------
def test_groups_as_in_numpy():
    X, Y = make_data(90, 5, 4, seed=20)
    groups = np.random.default_rng(2).integers(0, 8, 90)
    dX, dY, _ = to_dask(X, Y)
    want = sr.ridge_cv(X, Y, ALPHAS, cv=3, groups=groups, method="svd")
    for g in (groups, da.from_array(groups, chunks=37)):
        close(sr.ridge_cv(dX, dY, ALPHAS, cv=3, groups=g).scores, want.scores)
    with pytest.raises(ValueError, match="groups must have one entry per sample"):
        dask_ridge_cv(dX, dY, ALPHAS, cv=3, groups=groups[:-1])
    for cv in ("loo", "gcv"):
        with pytest.raises(ValueError, match=f"groups cannot be used with cv='{cv}'"):
            dask_ridge_cv(dX, dY, ALPHAS, cv=cv, groups=groups)


def test_lazy_results_do_not_read_the_callers_arrays():
    X, Y = make_data(60, 4, 3, seed=21)
    dX, _, _ = to_dask(X, Y)
    alphas, Y_mine, w = ALPHAS.copy(), Y.copy(), weights(60)
    want = sr.ridge_cv(X, Y, ALPHAS, cv=3, sample_weight=w, method="svd")
    got = sr.ridge_cv(dX, Y_mine, alphas, cv=3, sample_weight=w)  # NumPy Y and weights
    solver = DaskRidgeSolver(dX, Y_mine)
    target_alphas = np.array([1.0, 2.0, 3.0])
    per_target = solver.per_target(target_alphas)
    X_new = X[:5].copy()
    pred = solver.predict(X_new, 1.0)
    alphas[:], Y_mine[:], w[:], target_alphas[:], X_new[:] = 1e6, 0.0, 1.0, 1e6, 0.0
    got.alphas[:] = -1.0
    assert_allclose(alphas, 1e6)
    close(got.scores, want.scores)
    close(got.best_alpha, want.best_alpha)
    close(per_target.coef, sr.RidgeSolver(X, Y).per_target([1.0, 2.0, 3.0]).coef)
    close(pred, sr.RidgeSolver(X, Y).predict(X[:5], 1.0))
    if importlib.util.find_spec("sklearn") is not None:
        model = sr.RidgeCV(ALPHAS).fit(dX, Y)
        X_new = X[:5].copy()
        lazy = model.predict(X_new)
        X_new[:] = 0.0
        close(lazy, sr.RidgeCV(ALPHAS).fit(X, Y).predict(X[:5]))


@pytest.mark.parametrize("alpha_per_target", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
def test_selection_does_not_depend_on_the_scale_of_Y(cv, fit_intercept, alpha_per_target):
    X, Y = make_data(90, 5, 3, seed=11)
    Y = Y * [1.0, 1e3, 1e-2]
    alphas = np.logspace(-3, 4, 12)
    kw = dict(cv=cv, alpha_per_target=alpha_per_target, fit_intercept=fit_intercept)
    ref = sr.ridge_cv(X, Y, alphas, **kw)
    for factor in [1e-300, 2.0 ** -1000, 1e160, 2.0 ** 530]:
        dX, dY, _ = to_dask(X, Y * factor, rows=30)
        got = dask_ridge_cv(dX, dY, alphas, **kw)
        best, scores, coef = dask.compute(got.best_index, got.scores, got.coef)
        assert_array_equal(best, ref.best_index)
        with np.errstate(over="ignore", under="ignore"):
            want = ref.scores * factor * factor
        normal = (np.abs(want) >= np.finfo(float).tiny) & (np.abs(want) <= np.finfo(float).max)
        assert_allclose(scores[normal], want[normal], rtol=1e-9)
        assert np.all(scores[want > np.finfo(float).max] == np.inf)
        assert_allclose(coef, ref.coef * factor, rtol=1e-9)


def test_tiny_row_block_without_intercept():
    # the scale check sees the whole design, not one row block of tiny values
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3))
    X[:50] *= 1e-160
    Y = rng.standard_normal(100)
    for method in ("gram", "svd"):
        got = sr.RidgeSolver(da.from_array(X, chunks=50), da.from_array(Y, chunks=50),
                             fit_intercept=False, method=method).coef(1.0)
        close(got, sr.RidgeSolver(X, Y, fit_intercept=False).coef(1.0))
