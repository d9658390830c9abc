import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import spectralridge as sr
from spectralridge import _core, _filters, _scores, _spectrum
from spectralridge._datasets import LONGLEY_CERTIFIED, load_longley

from helpers import RTOL, make_data, ridge_oracle

METHODS = ["auto", "svd", "gram", "kernel"]
SHAPES = {"tall": (60, 8), "wide": (15, 40)}


def alphas_for(method, shape):
    # The Gram routes square the condition number: with an explicit method, ask only for
    # alphas at which they are accurate; 'auto' and 'svd' must serve alpha = 0 too.
    if method in ("auto", "svd"):
        return np.array([0.0, 1e-3, 1.0, 30.0, 1e4])
    if method == "gram" and shape == "wide":
        return np.array([1.0, 30.0, 1e4])
    return np.array([1e-3, 1.0, 30.0, 1e4])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", METHODS)
def test_coef_intercept_predict_against_direct_solve(method, shape, k, fit_intercept,
                                                     weighted, dtype):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, k, dtype=dtype)
    w = np.random.default_rng(1).uniform(0, 2, n) if weighted else None
    if weighted:
        w[3] = 0.0
    alphas = alphas_for(method, shape)
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w, method=method)
    coef, intercept = solver.coef(alphas), solver.intercept(alphas)
    X_new = make_data(7, p, seed=5)[0].astype(dtype)
    pred = solver.predict(X_new, alphas)
    assert coef.dtype == intercept.dtype == pred.dtype == dtype
    assert coef.shape == (alphas.size, p) + (() if k is None else (k,))
    assert intercept.shape == (alphas.size,) + (() if k is None else (k,))
    assert pred.shape == (alphas.size, 7) + (() if k is None else (k,))
    for i, a in enumerate(alphas):
        W, b = ridge_oracle(X, Y, a, fit_intercept, w)
        scale = np.abs(W).max()
        assert_allclose(coef[i], W, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)
        assert_allclose(intercept[i], b, rtol=RTOL[dtype],
                        atol=RTOL[dtype] * (np.abs(b).max() + scale * np.abs(X).max()))
        expected = X_new.astype(float) @ W + b
        assert_allclose(pred[i], expected, rtol=RTOL[dtype],
                        atol=RTOL[dtype] * np.abs(expected).max())


@pytest.mark.parametrize("method", METHODS)
def test_scalar_alpha_and_1d_target_drop_axes(method):
    X, y = make_data(30, 5)
    solver = sr.RidgeSolver(X, y, method=method)
    assert solver.coef(2.0).shape == (5,)
    assert solver.intercept(2.0).shape == ()
    assert solver.predict(X[:4], 2.0).shape == (4,)
    assert solver.shrinkage(2.0).shape == (5,)
    assert np.ndim(solver.dof(2.0)) == 0
    assert_allclose(solver.coef(2.0), solver.coef([2.0])[0], rtol=1e-14)
    Y = np.column_stack([y, 2 * y])
    assert sr.RidgeSolver(X, Y, method=method).coef(2.0).shape == (5, 2)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_dof_is_trace_of_hat_matrix(shape, fit_intercept, weighted):
    n, p = SHAPES[shape]
    X, y = make_data(n, p)
    w = np.random.default_rng(2).uniform(0.1, 3, n) if weighted else np.ones(n)
    solver = sr.RidgeSolver(X, y, fit_intercept=fit_intercept,
                            sample_weight=w if weighted else None)
    alphas = np.array([1e-2, 1.0, 10.0, 1e3])
    # Hat matrix of the full problem (intercept included) by direct solve on [1, X].
    A = np.sqrt(w)[:, None] * (np.column_stack([np.ones(n), X]) if fit_intercept else X)
    penalty = np.eye(A.shape[1])
    if fit_intercept:
        penalty[0, 0] = 0.0
    for a, dof in zip(alphas, solver.dof(alphas)):
        H = A @ np.linalg.solve(A.T @ A + a * penalty, A.T)
        assert_allclose(dof + fit_intercept, np.trace(H), rtol=1e-9)


def test_shrinkage_factors_in_unit_interval_sum_to_dof_and_scale_eigencoordinates():
    X, y = make_data(80, 10, decay=4.0)
    solver = sr.RidgeSolver(X, y)
    alphas = np.logspace(-3, 4, 15)
    f = solver.shrinkage(alphas)
    assert f.shape == (15, solver.rank)
    assert ((f >= 0) & (f <= 1)).all()
    assert (np.diff(f, axis=0) <= 0).all()  # decreasing in alpha
    assert (np.diff(f, axis=1) <= 0).all()  # steep directions shrink least
    assert_allclose(f.sum(axis=1), solver.dof(alphas), rtol=1e-13)
    # In the eigenbasis of the Hessian, W(alpha) = f(alpha) * W(0) coordinate-wise.
    Xc = X - X.mean(axis=0)
    _, V = np.linalg.eigh(Xc.T @ Xc)
    V = V[:, ::-1]
    w0 = V.T @ solver.coef(0.0)
    for a, fa, wa in zip(alphas, f, solver.coef(alphas)):
        assert_allclose(V.T @ wa, fa * w0, rtol=1e-8, atol=1e-12 * np.abs(w0).max())


@pytest.mark.parametrize("shape", SHAPES)
def test_alphas_for_dof_inverts_dof(shape):
    solver = sr.RidgeSolver(*make_data(*SHAPES[shape]))
    dofs = np.array([0.01, 0.5, 1.0, 3.3, solver.rank - 0.5, solver.rank])
    alphas = solver.alphas_for_dof(dofs)
    assert alphas[-1] == 0.0
    assert (np.diff(alphas) < 0).all()
    assert_allclose(solver.dof(alphas), dofs, rtol=1e-12)
    assert np.ndim(solver.alphas_for_dof(2.0)) == 0


@pytest.mark.parametrize("method", ["auto", "svd"])
def test_rank_deficient_alpha_zero_is_minimum_norm(method):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 4))
    X = np.column_stack([X, X[:, 0] + X[:, 1], 2 * X[:, 2]])  # rank 4 of 6
    y = rng.standard_normal(40)
    solver = sr.RidgeSolver(X, y, method=method)
    W, b = ridge_oracle(X, y, 0.0)
    assert_allclose(solver.coef(0.0), W, rtol=1e-10)
    assert solver.rank == 4
    assert solver.method == "svd"
    assert_allclose(solver.intercept(0.0), b, rtol=1e-10)
    # and continuous at alpha -> 0
    assert_allclose(solver.coef(1e-12), W, rtol=1e-8)


@pytest.mark.parametrize("method", ["auto", "svd"])
def test_longley_certified_values(method):
    X, y, names = load_longley()
    assert names[-1] == "YEAR" and X.shape == (16, 6)
    solver = sr.RidgeSolver(X, y, method=method)
    estimate = np.concatenate([[solver.intercept(0.0)], solver.coef(0.0)])
    lre = -np.log10(np.abs(estimate - LONGLEY_CERTIFIED) / np.abs(LONGLEY_CERTIFIED))
    assert lre.min() >= 12, lre
    assert solver.method == "svd"  # the Gram route cannot be trusted at alpha = 0 here


def test_auto_rule_picks_gram_kernel_and_svd():
    X, y = make_data(100, 10)
    solver = sr.RidgeSolver(X, y)
    assert solver.method == "gram"
    solver.coef([1.0, 10.0])
    assert solver.method == "gram"
    assert sr.RidgeSolver(*make_data(10, 100)).method == "kernel"
    # condition number 1e4 (1e8 for the Gram): alpha 0 needs the SVD, large alphas do not
    X, y = make_data(100, 10, decay=4 * np.log(10))
    solver = sr.RidgeSolver(X, y)
    solver.coef(1e3)
    assert solver.method == "gram"
    W, b = ridge_oracle(X, y, 0.0)
    assert_allclose(solver.coef(0.0), W, rtol=1e-8)
    assert solver.method == "svd"
    explicit = sr.RidgeSolver(X, y, method="gram")
    explicit.coef(0.0)
    assert explicit.method == "gram"


@pytest.mark.parametrize("method", ["gram", "kernel"])
def test_auto_uses_the_svd_where_the_gram_cutoff_drops_real_directions(method):
    # condition 1e9: the Gram routes drop directions that carry ~2e-9 of the fit at any
    # alpha (and a nearly collinear pair, 8.9e-4 at alpha 0.09, in a case found in review)
    X, y = make_data(100, 10, decay=10 * np.log(10))
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal(83) * 11.7
    pair = np.column_stack([x0, 2 * x0 + 1e-4 * rng.standard_normal(83)]) / \
        np.sqrt([533.5, 0.1345])
    cases = [(X, y, 1e3), (X, y, 1e7), (pair, pair.sum(axis=1) + x0, 0.09)]
    if method == "kernel":
        X, y = make_data(10, 40, decay=10 * np.log(10))
        cases = [(X, y, 1e3), (X, y, 1e7)]
    for X, y, a in cases:
        solver, svd = sr.RidgeSolver(X, y), sr.RidgeSolver(X, y, method="svd")
        assert sr.RidgeSolver(X, y, method=method).rank < svd.rank  # the cutoff dropped some
        assert_allclose(solver.coef(a), svd.coef(a), rtol=1e-10,
                        atol=1e-10 * np.abs(svd.coef(a)).max())
        assert solver.method == "svd"
    # exactly collinear columns: nothing real is dropped, the Gram route stays
    X, y = make_data(100, 6)
    X = np.column_stack([X, X[:, 0] - X[:, 1]])
    solver, svd = sr.RidgeSolver(X, y), sr.RidgeSolver(X, y, method="svd")
    assert_allclose(solver.coef(1.0), svd.coef(1.0), rtol=1e-10)
    assert solver.method == "gram" and solver.rank == svd.rank == 6


def test_auto_gram_within_1e8_of_svd_at_guard_boundary():
    for decay in np.log(10) * np.array([2.0, 3.0, 3.3, 4.0, 6.0]):
        X, Y = make_data(200, 20, 4, decay=decay)
        ref = sr.RidgeSolver(X, Y, method="svd")
        auto = sr.RidgeSolver(X, Y)
        for a in [0.0, 1e-6, 1e-3, 1.0]:
            assert_allclose(auto.coef(a), ref.coef(a), rtol=1e-8,
                            atol=1e-8 * np.abs(ref.coef(a)).max())


def test_svd_retries_with_gesvd_on_non_convergence(monkeypatch):
    calls = []
    real_svd = _spectrum.sla.svd

    def flaky_svd(a, **kwargs):
        calls.append(kwargs["lapack_driver"])
        if kwargs["lapack_driver"] == "gesdd":
            raise np.linalg.LinAlgError("SVD did not converge")
        return real_svd(a, **kwargs)

    monkeypatch.setattr(_spectrum.sla, "svd", flaky_svd)
    X, y = make_data(30, 4)
    with pytest.warns(RuntimeWarning, match="gesvd"):
        solver = sr.RidgeSolver(X, y, method="svd")
    assert calls == ["gesdd", "gesvd"]
    assert_allclose(solver.coef(0.5), ridge_oracle(X, y, 0.5)[0], rtol=1e-10)


def test_constant_features_and_single_sample():
    X = np.ones((5, 3))
    y = np.arange(5.0)
    solver = sr.RidgeSolver(X, y)
    assert solver.rank == 0
    assert_allclose(solver.coef([0.0, 1.0]), 0.0)
    assert_allclose(solver.intercept(0.0), 2.0)
    assert_allclose(solver.predict(np.zeros((2, 3)), 1.0), 2.0)
    one = sr.RidgeSolver([[1.0, 2.0]], [3.0])
    assert_allclose(one.coef(0.0), 0.0)
    assert_allclose(one.intercept(0.0), 3.0)
    assert_allclose(sr.RidgeSolver([[1.0, 2.0]], [3.0], fit_intercept=False).coef(0.0),
                    [0.6, 1.2])


def test_ridge_path_matches_solver():
    X, Y = make_data(40, 6, 2)
    alphas = np.logspace(-2, 3, 7)
    path = sr.ridge_path(X, Y, alphas, fit_intercept=False, method="svd")
    solver = sr.RidgeSolver(X, Y, fit_intercept=False, method="svd")
    assert_allclose(path.coef, solver.coef(alphas), rtol=1e-14)
    assert_allclose(path.intercept, 0.0)
    coef, intercept = sr.ridge_path(X, Y[:, 0], 3.0)
    assert coef.shape == (6,) and intercept.shape == ()


def _path_plans(monkeypatch):
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)  # small problems, to be fast
    plans = []
    factors = _scores.path_factors

    def recording(*args):
        plan = factors(*args)
        if plan is not None:
            plans.append(plan)
        return plan

    monkeypatch.setattr(_scores, "path_factors", recording)
    return plans


def _eigen_errors(got, want):
    """Relative 2-norm errors per alpha and target of coefficients (m, p, k)."""
    got, want = got.astype(np.float64), want.astype(np.float64)
    return np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)


@pytest.mark.parametrize("shape, fit_intercept, weighted, penalty, dtype", [
    ((200, 150), True, False, False, np.float64), ((200, 150), False, True, True, np.float64),
    ((120, 300), True, True, False, np.float64), ((200, 150), True, True, False, np.float32),
    ((120, 300), True, False, True, np.float32)])
def test_compressed_path_matches_the_exact_filter(shape, fit_intercept, weighted, penalty,
                                                  dtype, monkeypatch):
    # eigenvalues over e^8 and 200 alphas: coefficients, intercepts and predictions from
    # factors of rank well below 200, proven within PATH_RTOL of the exact filter
    n, p = shape
    X, Y = make_data(n, p, 40, decay=4.0, dtype=dtype)
    w = np.random.default_rng(1).uniform(0.2, 2, n) if weighted else None
    c = np.random.default_rng(2).uniform(0.5, 2, p) if penalty else None
    X_new = make_data(30, p, seed=5)[0].astype(dtype)
    alphas = np.logspace(-3, 5, 200)
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w,
                            penalty_factor=c)
    with sr.loo_compression(False):
        want = solver.coef(alphas), solver.intercept(alphas), solver.predict(X_new, alphas)
    plans = _path_plans(monkeypatch)
    got = solver.coef(alphas), solver.intercept(alphas), solver.predict(X_new, alphas)
    assert len(plans) >= 2 and max(A.shape[1] for A, *_ in plans) < 120
    tol = 2 * _scores.PATH_RTOL[np.dtype(dtype)] + (0 if dtype == np.float64 else 2e-6)
    assert _eigen_errors(got[0], want[0]).max() <= tol * (1 if c is None else c.max() / c.min())
    size = np.abs(X_new).max() * np.linalg.norm(want[0].astype(float), axis=1) * np.sqrt(p)
    assert (np.abs(got[2] - want[2]) <= 4 * tol * size[:, None] + tol).all()
    scale = np.abs(want[1]).max() + np.abs(want[0]).max() * np.abs(X).max() * p
    assert_allclose(got[1], want[1], rtol=0, atol=4 * tol * scale)
    for i in (0, 77, 199):
        W, b = ridge_oracle(X, Y, alphas[i], fit_intercept, w, c)
        assert_allclose(got[0][i], W, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(W).max())



def test_compressed_path_factors_once_per_path(monkeypatch):
    # a FilterPath factors its filter once for its coefficients, intercepts and
    # predictions; each solver call plans its own; the switch still holds for a planned path
    X, Y = make_data(200, 150, 20, decay=4.0)
    X_new = make_data(30, 150, seed=5)[0]
    alphas = np.logspace(-3, 5, 200)
    solver = sr.RidgeSolver(X, Y)
    with sr.loo_compression(False):
        want = solver.coef(alphas), solver.intercept(alphas), solver.predict(X_new, alphas)
    plans = _path_plans(monkeypatch)
    path = solver.ridge(alphas)
    got = path.coef(), path.intercept(), path.predict(X_new), path.coef()
    assert len(plans) == 1
    for g, w in zip(got, want + want[:1]):
        assert_allclose(g, w, rtol=0, atol=1e-12 * np.abs(w).max())
    solver.coef(alphas), solver.predict(X_new, alphas)
    assert len(plans) == 3
    apply_filter = _core.apply_filter
    calls = []
    monkeypatch.setattr(_core, "apply_filter",
                        lambda B, R, F, *a: calls.append(F.shape[0]) or apply_filter(B, R, F, *a))
    with sr.loo_compression(False):
        assert_array_equal(path.coef(), want[0])
    assert calls == [alphas.size]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compressed_path_in_blocks_of_targets(dtype, monkeypatch):
    # outputs too wide for one GEMM per block of rows (as beyond BLAS's 32-bit integers):
    # blocks of targets, one product per row, the same values
    from spectralridge import _solver
    X, Y = make_data(200, 150, 80, decay=4.0, dtype=dtype)
    alphas = np.logspace(-3, 5, 200)
    plans = _path_plans(monkeypatch)
    solver = sr.RidgeSolver(X, Y)
    X_new = make_data(30, 150, seed=5)[0].astype(dtype)
    whole = solver.coef(alphas), solver.predict(X_new, alphas)
    widths = []
    gemm = _core.gemm
    monkeypatch.setattr(_core, "gemm",
                        lambda A, B, *a, **kw: widths.append(B.shape[1]) or gemm(A, B, *a, **kw))
    monkeypatch.setattr(_solver, "PATH_MAX_COLUMNS", 150 * 30)
    blocked = solver.coef(alphas), solver.predict(X_new, alphas)
    assert plans and 0 < min(widths) <= 30
    for got, want in zip(blocked, whole):
        assert_allclose(got, want, rtol=0, atol=(1e-13 if dtype == np.float64 else 1e-5) *
                        np.abs(want).max())


@pytest.mark.parametrize("how", ["coarse factors", "few pairs in the plan"])
def test_compressed_path_recomputes_what_it_cannot_prove(how, monkeypatch):
    # honest factors 30 times too coarse for their target, or factored for only a third of the
    # pairs: the pairs the bound does not prove come from the exact filter
    X, Y = make_data(200, 150, 40, decay=4.0)
    Y[:, :10] = X[:, -10:] + 1e-3 * Y[:, :10]  # coefficients along the flat directions
    alphas = np.logspace(-3, 5, 200)
    with sr.loo_compression(False):
        want = sr.ridge_path(X, Y, alphas).coef
    plans = _path_plans(monkeypatch)
    monkeypatch.setattr(_scores, "LOWRANK_MAX_COST", 2.0)  # whatever the recomputation costs
    if how == "coarse factors":
        low_rank = _filters.low_rank
        monkeypatch.setattr(_filters, "low_rank", lambda F, target, dtype, max_rank=None:
                            low_rank(F, 30 * target, dtype, max_rank))
    else:
        monkeypatch.setattr(_scores, "PATH_QUANTILE", 0.3)
    got = sr.ridge_path(X, Y, alphas).coef
    redo = plans[0][3]
    assert 0 < redo.sum() < redo.size
    errors = _eigen_errors(got, want)
    assert errors.max() <= 2e-12
    assert (errors[~redo] > 0).any() and (errors[redo] <= 1e-14).all()


def test_compressed_path_edge_cases(monkeypatch):
    # alpha = 0 in the grid, rows of the output written in place by blocks, one target,
    # filters with zero rows (no step) and non-finite rows (divergent steps)
    X, Y = make_data(200, 150, 20, decay=4.0)
    alphas = np.concatenate([[0.0], np.logspace(-3, 5, 199)])
    solver, single = sr.RidgeSolver(X, Y), sr.RidgeSolver(X, Y[:, 3])
    lr = 1.0 / solver.singular_values[0] ** 2
    steps = np.arange(0, 400, 2)
    with sr.loo_compression(False):
        want = solver.coef(alphas), single.coef(alphas), solver.early_stopping(lr, steps).coef()
        with pytest.warns(RuntimeWarning, match="does not converge"):
            diverging = solver.early_stopping(3 * lr, 10 * steps).coef()
    plans = _path_plans(monkeypatch)
    with sr.config_context(working_memory=1):  # all 20 targets, blocks of rows
        got = solver.coef(alphas)
    assert len(plans) == 1
    assert _eigen_errors(got, want[0]).max() <= 2e-12
    got = single.coef(alphas)
    assert len(plans) == 2
    assert np.abs(got - want[1]).max() <= 2e-12 * np.abs(want[1]).max()
    early = solver.early_stopping(lr, steps).coef()
    assert len(plans) == 3 and (early[0] == 0).all()
    assert _eigen_errors(early[1:], want[2][1:]).max() <= 2e-12
    with pytest.warns(RuntimeWarning, match="does not converge"):
        assert_array_equal(solver.early_stopping(3 * lr, 10 * steps).coef(), diverging)
    assert not np.isfinite(diverging).all()
    assert len(plans) == 3  # non-finite factors: the exact filter


def test_compressed_path_not_planned_for_rows_with_a_cutoff(monkeypatch):
    # alpha = 0 where some kept directions lie below the least-squares cutoff: that row of
    # the filter stops at ls_rank (not Cauchy-like), so no factors are sought; exact values
    rng = np.random.default_rng(35)
    n, p = 300, 120
    U = np.linalg.qr(rng.standard_normal((n, p)))[0]
    V = np.linalg.qr(rng.standard_normal((p, p)))[0]
    s = np.logspace(1, -1, p)
    s[-10:] = 1e-13 * np.linspace(1, 2, 10)  # above the rank floor, below the LS cutoff
    X = (U * s) @ V.T
    Y = U @ rng.standard_normal((p, 20))
    alphas = np.concatenate([[0.0], np.logspace(-2, 2, 199)])
    solver = sr.RidgeSolver(X, Y, method="svd")
    spectrum = solver.spectrum_for(alphas)
    assert spectrum.ls_rank < spectrum.rank
    with sr.loo_compression(False):
        want = solver.coef(alphas)
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)
    calls = []
    factors = _scores.path_factors
    monkeypatch.setattr(_scores, "path_factors",
                        lambda *a: calls.append(factors(*a)) or calls[-1])
    block_low_rank = _scores.block_low_rank
    searched = []
    monkeypatch.setattr(_scores, "block_low_rank",
                        lambda *a: searched.append(1) or block_low_rank(*a))
    assert_array_equal(solver.coef(alphas), want)
    assert calls == [None] and not searched
    assert_array_equal(want[0], solver.coef(0.0))
    assert solver.ridge(alphas[1:]).coef() is not None and calls[-1] is not None


def test_exact_path_on_request_or_where_it_is_cheaper(monkeypatch):
    X, Y = make_data(200, 150, 20, decay=4.0)
    plans = _path_plans(monkeypatch)
    with sr.loo_compression(False):
        sr.ridge_path(X, Y, np.logspace(-3, 5, 200))
    assert not plans
    sr.ridge_path(X, Y, np.logspace(-3, 5, 10))  # few alphas
    assert not plans
    sr.ridge_path(X, Y, np.logspace(-3, 5, 200))
    assert plans
    plans.clear()
    low_rank = _filters.low_rank
    with monkeypatch.context() as patch:  # factors too coarse: every pair left to recompute
        patch.setattr(_filters, "low_rank", lambda F, target, dtype, max_rank=None:
                      low_rank(F, 1e3 * target, dtype, max_rank))
        sr.ridge_path(X, Y, np.logspace(-3, 5, 200))
    assert not plans
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 1 << 40)  # too little work
    sr.ridge_path(X, Y, np.logspace(-3, 5, 200))
    assert not plans


@pytest.mark.parametrize("layout", ["fortran", "strided", "big_endian", "readonly", "list"])
def test_layouts_give_identical_results_and_inputs_untouched(layout):
    X, Y = make_data(50, 6, 3)
    w = np.random.default_rng(4).uniform(0.5, 1.5, 50)
    ref = sr.RidgeSolver(X, Y, sample_weight=w)
    alphas = np.array([0.1, 10.0])
    if layout == "fortran":
        Xl, Yl, wl = np.asfortranarray(X), np.asfortranarray(Y), w
    elif layout == "strided":
        Xl = np.repeat(np.repeat(X, 2, axis=0), 3, axis=1)[::2, ::3]
        Yl, wl = np.repeat(Y, 2, axis=1)[:, ::2], np.repeat(w, 2)[::2]
    elif layout == "big_endian":
        Xl, Yl, wl = X.astype(">f8"), Y.astype(">f8"), w.astype(">f8")
    elif layout == "readonly":
        Xl, Yl, wl = X.copy(), Y.copy(), w.copy()
        for a in (Xl, Yl, wl):
            a.flags.writeable = False
    else:
        Xl, Yl, wl = X.tolist(), Y.tolist(), w.tolist()
    copies = [np.array(a, copy=True) for a in (Xl, Yl, wl)]
    solver = sr.RidgeSolver(Xl, Yl, sample_weight=wl)
    assert_allclose(solver.coef(alphas), ref.coef(alphas), rtol=1e-12)
    assert_allclose(solver.intercept(alphas), ref.intercept(alphas), rtol=1e-12)
    assert_allclose(solver.predict(Xl, alphas), ref.predict(X, alphas), rtol=1e-12)
    for before, after in zip(copies, (Xl, Yl, wl)):
        assert np.array_equal(before, np.asarray(after))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool, np.float16])
def test_other_dtypes_become_float64(dtype):
    rng = np.random.default_rng(5)
    X = rng.integers(0, 2 if dtype is bool else 9, (30, 4)).astype(dtype)
    y = rng.integers(0, 5, 30).astype(dtype)
    solver = sr.RidgeSolver(X, y)
    assert solver.coef(1.0).dtype == np.float64
    assert_allclose(solver.coef(1.0), ridge_oracle(X.astype(float), y.astype(float), 1.0)[0],
                    rtol=1e-10)


def test_mixed_float32_float64_gives_float64():
    X, y = make_data(30, 4)
    assert sr.RidgeSolver(X.astype(np.float32), y).coef(1.0).dtype == np.float64
    solver = sr.RidgeSolver(X.astype(np.float32), y.astype(np.float32))
    assert solver.predict(X, 1.0).dtype == np.float32


def test_threads_match_serial_calls():
    X, Y = make_data(300, 40, 20)
    solver = sr.RidgeSolver(X, Y, method="auto")
    alpha_sets = [np.logspace(-3 + i % 4, 3, 9) for i in range(8)]
    serial = sr.RidgeSolver(X, Y, method="auto")
    expected = [(serial.coef(a), serial.predict(X[:10], a), serial.intercept(a))
                for a in alpha_sets]
    results = [None] * len(alpha_sets)

    def work(i):
        a = alpha_sets[i]
        results[i] = (solver.coef(a), solver.predict(X[:10], a), solver.intercept(a))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(alpha_sets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        for g, w in zip(got, want):
            assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_large_target_count_is_blocked():
    # more targets than one kernel block: the blocked paths must agree with the oracle
    X, Y = make_data(40, 5, 600)
    solver = sr.RidgeSolver(X, Y, method="svd")
    W, b = ridge_oracle(X, Y, 2.0)
    assert_allclose(solver.coef(2.0), W, rtol=1e-10, atol=1e-12)
    assert_allclose(solver.intercept(2.0), b, rtol=1e-10)


@pytest.mark.parametrize("k", [2, 7])
def test_few_targets_batched_across_alphas(k):
    # few targets share one GEMM across alphas (batches of 256 // k, with a remainder)
    X, Y = make_data(30, 5, k)
    alphas = np.logspace(-2, 4, 300)
    solver = sr.RidgeSolver(X, Y)
    X_new = make_data(4, 5, seed=5)[0]
    coef, intercept, pred = solver.coef(alphas), solver.intercept(alphas), \
        solver.predict(X_new, alphas)
    for i in (0, 255 // k, 256 // k, 299):
        W, b = ridge_oracle(X, Y, alphas[i])
        assert_allclose(coef[i], W, rtol=1e-10, atol=1e-12)
        assert_allclose(intercept[i], b, rtol=1e-10)
        assert_allclose(pred[i], X_new @ W + b, rtol=1e-10)


def test_no_warnings_on_ordinary_use():
    X, y = make_data(30, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sr.RidgeSolver(X, y).coef(np.logspace(-3, 3, 5))


def test_solver_pickles_and_keeps_working():
    import pickle
    X, Y = make_data(40, 5, 2)
    solver = sr.RidgeSolver(X, Y)
    solver.loo([1e-6, 1e6])  # forms U and the cached casts
    clone = pickle.loads(pickle.dumps(solver))
    assert_allclose(clone.coef([0.0, 1.0]), solver.coef([0.0, 1.0]), rtol=1e-14)
    assert_allclose(clone.loo([1e-6, 1e6]).scores, solver.loo([1e-6, 1e6]).scores, rtol=1e-14)


PENALTY = np.array([1.0, 4.0, 0.25, 2.0, 1e-3])


def test_penalty_factor_extremes_keep_accuracy():
    # factors 1e12 apart (the largest ratio accepted): the auto rule keeps ~1e-10
    X, y = make_data(200, 10, seed=3)
    c = np.ones(10)
    c[0], c[-1] = 1e-8, 1e4
    solver = sr.RidgeSolver(X, y, penalty_factor=c)
    for a in (1e-3, 1.0, 1e3):
        W, _ = ridge_oracle(X, y, a, penalty_factor=c)
        assert_allclose(solver.coef(a), W, rtol=1e-9, atol=1e-10 * np.abs(W).max())
    assert sr.RidgeSolver(X, y, penalty_factor=c).penalty_factor is not c


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(30, 5), (4, 5)])
@pytest.mark.parametrize("method", METHODS)
def test_penalty_factor_against_direct_solve(method, shape, weighted):
    n, p = shape
    X, Y = make_data(n, p, 2)
    w = np.random.default_rng(1).uniform(0.5, 2, n) if weighted else None
    alphas = np.array([1e-2, 1.0, 30.0])
    solver = sr.RidgeSolver(X, Y, sample_weight=w, method=method, penalty_factor=PENALTY)
    X_new = make_data(3, p, seed=5)[0]
    coef, intercept = solver.coef(alphas), solver.intercept(alphas)
    pred = solver.predict(X_new, alphas)
    for i, a in enumerate(alphas):
        W, b = ridge_oracle(X, Y, a, True, w, PENALTY)
        assert_allclose(coef[i], W, rtol=1e-9, atol=1e-12 * np.abs(W).max())
        assert_allclose(intercept[i], b, rtol=1e-9)
        assert_allclose(pred[i], X_new @ W + b, rtol=1e-9)
    # the penalty is a rescaling: same fit as plain ridge on X / sqrt(c)
    plain = sr.RidgeSolver(X / np.sqrt(PENALTY), Y, sample_weight=w, method=method)
    assert_allclose(solver.dof(alphas), plain.dof(alphas), rtol=1e-12)
    assert_allclose(solver.singular_values, plain.singular_values, rtol=1e-12)


def test_penalty_factor_in_cross_validation():
    X, Y = make_data(24, 5, 2)
    alphas = np.logspace(-2, 3, 7)
    n = X.shape[0]
    folds = np.array_split(np.arange(n), 4)
    kfold = [(np.setdiff1d(np.arange(n), f), f) for f in folds]
    loo = [(np.delete(np.arange(n), i), np.array([i])) for i in range(n)]
    for cv, splits in (("loo", loo), (kfold, kfold), ([kfold[0]], kfold[:1])):
        for method in ("auto", "svd"):
            result = sr.ridge_cv(X, Y, alphas, cv=cv, penalty_factor=PENALTY, method=method)
            sse = np.zeros((alphas.size, 2))
            for train, test in splits:
                for i, a in enumerate(alphas):
                    W, b = ridge_oracle(X[train], Y[train], a, True, None, PENALTY)
                    sse[i] += ((Y[test] - X[test] @ W - b) ** 2).sum(axis=0)
            total = sum(test.size for _, test in splits)
            assert_allclose(result.scores, sse / total, rtol=1e-9)
            best = alphas[result.best_index]
            W = np.stack([ridge_oracle(X, Y, a, True, None, PENALTY)[0][:, t]
                          for t, a in enumerate(best)], axis=1)
            assert_allclose(result.coef, W, rtol=1e-9)
    gcv = sr.ridge_cv(X, Y, alphas, cv="gcv", penalty_factor=PENALTY)
    plain = sr.ridge_cv(X / np.sqrt(PENALTY), Y, alphas, cv="gcv")
    assert_allclose(gcv.scores, plain.scores, rtol=1e-12)
    assert_allclose(gcv.coef, plain.coef / np.sqrt(PENALTY)[:, None], rtol=1e-10)


@pytest.mark.parametrize("factor, match", [
    ([1.0, 2.0], r"one entry per feature: expected \(5,\)"),
    ([0.0, 0.0, 0.0, 0.0, 0.0], r"at least one positive entry"),
    ([1.0, -1.0, 1.0, 1.0, 1.0], r"must be non-negative, got penalty_factor\[1\]=-1.0"),
    ([1.0, np.nan, 1.0, 1.0, 1.0], r"penalty_factor"),
    ([[1.0] * 5], r"penalty_factor must be 1-D"),
    ([1e-13, 1.0, 1.0, 1.0, 1.0], r"penalty_factor spans a ratio of 1e\+13, more than 1e\+12"),
])
def test_bad_penalty_factor(factor, match):
    X, Y = make_data(10, 5)
    with pytest.raises(ValueError, match=match):
        sr.RidgeSolver(X, Y, penalty_factor=factor)
    with pytest.raises(ValueError, match=match):
        sr.ridge_cv(X, Y, cv=3, penalty_factor=factor)


def test_guard_sees_directions_past_the_structural_rank():
    # zero-weight rows give exact zero eigenvalues; a real direction rounding below them sits
    # past max_rank in the kernel route's ordering (found in review: 97% error)
    rng = np.random.default_rng(2)
    H = rng.standard_normal((40, 39))
    U, _ = np.linalg.qr(H - H.mean(axis=0))
    V, _ = np.linalg.qr(rng.standard_normal((100, 39)))
    s = np.linspace(1, 0.5, 39)
    s[-1] = 1e-9
    X = np.vstack([(U * s) @ V.T, rng.standard_normal((20, 100))])
    y = np.r_[U[:, -1] + 1e-3 * U[:, 0], rng.standard_normal(20)]
    w = np.r_[np.ones(40), np.zeros(20)]
    exact = V @ (s / (s ** 2 + 2.5e-7) * (U.T @ (y[:40] - y[:40].mean())))
    assert_allclose(sr.RidgeSolver(X, y, sample_weight=w).coef(2.5e-7), exact, rtol=1e-5,
                    atol=1e-5 * np.abs(exact).max())


def test_loo_stops_on_ctrl_c_and_the_solver_stays_usable():
    # a leave-one-out of ~1e11 multiply-adds (seconds to minutes); Ctrl-C 0.2 s in must stop
    # it (wherever it then is: the kernels' own checks are tested in test_core), and the next
    # call must give the right answer
    import os
    import signal
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3000, 300)), rng.standard_normal((3000, 1000))
    solver = sr.RidgeSolver(X, Y, method="gram")  # U formed lazily, by the first loo
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            solver.loo(np.logspace(-2, 4, 100))
    finally:
        timer.cancel()
    alphas = [1.0, 100.0, 1e4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sr.GridEdgeWarning)
        got, want = solver.loo(alphas), sr.RidgeSolver(X, Y, method="gram").loo(alphas)
    assert_allclose(got.scores, want.scores, rtol=1e-12)
    assert_allclose(got.coef, want.coef, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
def test_filter_path_and_results_own_their_arrays():
    X, Y = make_data(30, 5, 2, seed=8)
    solver = sr.RidgeSolver(X, Y)
    alphas = np.array([0.1, 1.0, 10.0])
    path = solver.ridge(alphas)
    coef = path.coef()
    result = path.loo()
    result.alphas[:] = -1.0
    assert path.grid[2] == 10.0  # the result does not share the path's grid
    path.grid[0] = -5.0
    assert alphas[0] == 0.1
    alphas[1] = 99.0
    assert path.grid[1] == 1.0
    path.factors[:] = 0.0  # a copy: the path's filter is unchanged
    assert_allclose(path.coef(), coef)
    target_alphas = np.array([1.0, 3.0])
    fit = solver.per_target(target_alphas)
    target_alphas[:] = 1e6
    assert_allclose(fit.coef, solver.per_target([1.0, 3.0]).coef)
