"""The array-API backend against independent NumPy oracles, on every installed backend.

array_api_strict always (its CPU device, a second device and its device without float64);
torch where it is installed (CPU, and CUDA where available).
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import spectralridge as sr
from spectralridge import _array_api, _filters

from helpers import RTOL, brute_force_scores, make_data, ridge_oracle

xps = pytest.importorskip("array_api_strict")
compat = pytest.importorskip("array_api_compat")

pytestmark = pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")

SHAPES = {"tall": (40, 6), "wide": (12, 30)}
ALPHAS = np.array([1e-3, 0.1, 1.0, 10.0, 1e3])


class Backend:
    """How to put NumPy data on one device of one namespace, and read it back."""

    def __init__(self, name, module, device, float64=True):
        self.name, self.module, self.device, self.float64 = name, module, device, float64
        self.xp = compat.array_namespace(module.asarray([1.0]))

    def __call__(self, a):
        a = np.asarray(a)
        if a.dtype == np.float64 and not self.float64:
            a = a.astype(np.float32)
        return self.module.asarray(a, device=self.device)

    def numpy(self, a):
        return _array_api.to_host(a)

    def check(self, a, dtype=None):
        """`a` is an array of this namespace on this device (of `dtype`)."""
        assert compat.array_namespace(a) is self.xp, type(a)
        assert compat.device(a) == self.device
        if dtype is not None:
            want = self.xp.float32 if dtype == np.float32 or not self.float64 else \
                self.xp.float64
            assert a.dtype == want
        return self.numpy(a)


def _backends():
    out = [pytest.param(("strict", None), id="strict"),
           pytest.param(("strict", "device1"), id="strict-device1")]
    try:
        import torch
    except ImportError:
        out.append(pytest.param(("torch", "cpu"), id="torch",
                                marks=pytest.mark.skip(reason="torch is not installed")))
    else:
        out.append(pytest.param(("torch", "cpu"), id="torch"))
        if torch.cuda.is_available():
            out.append(pytest.param(("torch", "cuda"), id="torch-cuda"))
    return out


@pytest.fixture(params=_backends())
def backend(request):
    kind, device = request.param
    if kind == "strict":
        return Backend(f"strict-{device}", xps, xps.Device(device or "CPU_DEVICE"))
    import torch
    return Backend(f"torch-{device}", torch, torch.device(device))


def weights(n, weighted):
    if not weighted:
        return None
    w = np.random.default_rng(7).uniform(0.2, 2.0, n)
    w[1] = 0.0
    return w


def loo_splits(n, w=None):
    keep = range(n) if w is None else np.flatnonzero(w > 0)
    return [(np.delete(np.arange(n), i), np.array([i])) for i in keep]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", ["auto", "svd", "gram", "kernel"])
def test_path_against_normal_equations(backend, method, shape, k, fit_intercept, weighted,
                                       dtype):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, k, dtype=dtype)
    w = weights(n, weighted)
    solver = sr.RidgeSolver(backend(X), backend(Y), fit_intercept=fit_intercept,
                            sample_weight=None if w is None else backend(w), method=method)
    assert solver.method == ("gram" if n >= p else "kernel") if method == "auto" else method
    tol = RTOL[dtype] if method != "gram" or n >= p else 1e-6
    coef = backend.check(solver.coef(ALPHAS), dtype)
    intercept = backend.check(solver.intercept(ALPHAS), dtype)
    pred = backend.check(solver.predict(backend(X[:7]), ALPHAS), dtype)
    for i, a in enumerate(ALPHAS):
        W, b = ridge_oracle(X, Y, a, fit_intercept, w)
        assert_allclose(coef[i], W, rtol=tol, atol=tol * np.abs(W).max())
        assert_allclose(intercept[i], b, rtol=tol, atol=tol * np.abs(Y).max())
        want = X[:7].astype(float) @ W + b
        assert_allclose(pred[i], want, rtol=tol, atol=tol * np.abs(want).max())
    ref = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w)
    assert_allclose(solver.singular_values, ref.singular_values, rtol=1e-5)
    assert isinstance(solver.dof(ALPHAS), np.ndarray)  # spectral quantities: NumPy
    assert_allclose(solver.dof(ALPHAS), ref.dof(ALPHAS), rtol=1e-5)
    # a scalar alpha drops the alpha axis
    one = backend.check(solver.coef(1.0))
    assert one.shape == coef.shape[1:]
    assert_allclose(one, coef[2], rtol=1e-6, atol=1e-6 * np.abs(coef).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("shape", SHAPES)
def test_loo_against_brute_force(backend, shape, k, fit_intercept, weighted, dtype):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, k, dtype=dtype)
    w = weights(n, weighted)
    result = sr.ridge_cv(backend(X), backend(Y), ALPHAS, cv="loo",
                         fit_intercept=fit_intercept,
                         sample_weight=None if w is None else backend(w))
    expected = brute_force_scores(X, Y, ALPHAS, loo_splits(n), fit_intercept, w)
    assert_allclose(backend.check(result.scores, dtype), expected, rtol=10 * RTOL[dtype])
    best = np.argmin(expected, axis=0)
    if k is None:
        assert result.best_index == best and result.best_alpha == ALPHAS[best]
    else:
        assert_array_equal(backend.check(result.best_index), best)
        assert_allclose(backend.check(result.best_alpha), ALPHAS[best])
    coef = np.stack([ridge_oracle(X, Y, a, fit_intercept, w)[0] for a in ALPHAS])
    want = coef[best] if k is None else coef[best, :, np.arange(3)].T
    assert_allclose(backend.check(result.coef, dtype), want, rtol=RTOL[dtype],
                    atol=RTOL[dtype] * np.abs(want).max())


@pytest.mark.parametrize("scoring", ["mse", "r2"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_gcv_against_hat_matrix(backend, shape, weighted, scoring):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, 2)
    w = weights(n, weighted)
    wv = np.ones(n) if w is None else w
    result = sr.RidgeSolver(backend(X), backend(Y), sample_weight=None if w is None else
                            backend(w)).gcv(ALPHAS, scoring=scoring)
    scores = backend.check(result.scores, np.float64)
    A = np.sqrt(wv)[:, None] * np.column_stack([np.ones(n), X])
    penalty = np.eye(A.shape[1])
    penalty[0, 0] = 0
    mean = wv @ Y / wv.sum()
    for i, a in enumerate(ALPHAS):
        H = A @ np.linalg.solve(A.T @ A + a * penalty, A.T)
        resid = np.sqrt(wv)[:, None] * Y - H @ (np.sqrt(wv)[:, None] * Y)
        gcv = (resid ** 2).sum(axis=0) / wv.sum() / (1 - np.trace(H) / (wv > 0).sum()) ** 2
        if scoring == "r2":
            gcv = 1 - gcv / (wv @ (Y - mean) ** 2 / wv.sum())
        assert_allclose(scores[i], gcv, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_kfold_against_brute_force(backend, shape, fit_intercept, weighted, dtype):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, 3, dtype=dtype)
    w = weights(n, weighted)
    result = sr.ridge_cv(backend(X), backend(Y), ALPHAS, cv=4, fit_intercept=fit_intercept,
                         sample_weight=None if w is None else backend(w))
    folds = np.array_split(np.arange(n), 4)
    splits = [(np.setdiff1d(np.arange(n), f), f) for f in folds]
    expected = brute_force_scores(X, Y, ALPHAS, splits, fit_intercept, w)
    assert_allclose(backend.check(result.scores, dtype), expected, rtol=10 * RTOL[dtype])
    assert_allclose(backend.check(result.best_alpha), ALPHAS[np.argmin(expected, axis=0)])
    assert result.cv == "4 splits"


@pytest.mark.parametrize("scoring", ["mse", "r2"])
def test_splitters_and_pairs_against_brute_force(backend, scoring):
    from sklearn.model_selection import KFold
    X, Y = make_data(30, 5, 2)
    splitter = KFold(3, shuffle=True, random_state=0)
    splits = list(splitter.split(X))
    expected = brute_force_scores(X, Y, ALPHAS, splits, True, None, scoring)
    for cv in (splitter, splits):
        result = sr.ridge_cv(backend(X), backend(Y), ALPHAS, cv=cv, scoring=scoring)
        assert_allclose(backend.check(result.scores), expected, rtol=1e-9)
        assert backend.check(result.score_se).shape == (ALPHAS.size, 2)
    # the one-standard-error rule picks the most regularized alpha within one SE
    result = sr.ridge_cv(backend(X), backend(Y), ALPHAS, cv=splits, scoring=scoring,
                         rule="1se")
    ref = sr.ridge_cv(X, Y, ALPHAS, cv=splits, scoring=scoring, rule="1se")
    assert_array_equal(backend.check(result.best_index), ref.best_index)


@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
def test_per_target_and_shared_alpha(backend, cv):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 8))
    Y = X @ rng.standard_normal((8, 4)) + rng.standard_normal((60, 4)) * [0.1, 1, 10, 30]
    alphas = np.logspace(-2, 4, 13)
    ref = sr.ridge_cv(X, Y, alphas, cv=cv)
    result = sr.ridge_cv(backend(X), backend(Y), alphas, cv=cv)
    best = backend.check(result.best_index)
    assert_array_equal(best, ref.best_index)
    assert len(set(best.tolist())) > 1  # different alphas for different targets
    for t in range(4):
        W, b = ridge_oracle(X, Y[:, t], alphas[best[t]])
        assert_allclose(backend.check(result.coef)[:, t], W, rtol=1e-9)
        assert_allclose(backend.check(result.intercept)[t], b, rtol=1e-9)
    shared = sr.ridge_cv(backend(X), backend(Y), alphas, cv=cv, alpha_per_target=False)
    ref = sr.ridge_cv(X, Y, alphas, cv=cv, alpha_per_target=False)
    assert_array_equal(backend.check(shared.best_index), ref.best_index)
    assert np.unique(backend.check(shared.best_index)).size == 1


def test_result_kinds_and_1d_target(backend):
    X, y = make_data(30, 4, dtype=np.float32)
    result = sr.ridge_cv(backend(X), backend(y), ALPHAS)
    assert isinstance(result.alphas, np.ndarray) and isinstance(result.dof, np.ndarray)
    assert isinstance(result.best_index, int) and isinstance(result.best_alpha, float)
    assert backend.check(result.scores, np.float32).shape == (ALPHAS.size,)
    assert backend.check(result.coef, np.float32).shape == (4,)
    assert backend.check(result.intercept, np.float32).shape == ()
    path = sr.ridge_path(backend(X), backend(y), ALPHAS)
    assert backend.check(path.coef, np.float32).shape == (ALPHAS.size, 4)
    assert backend.check(path.intercept, np.float32).shape == (ALPHAS.size,)
    Y2 = y[:, None] * np.float32([1, 2])
    per = sr.RidgeSolver(backend(X), backend(Y2)).per_target([0.1, 10.0])
    W0 = ridge_oracle(X, y, 0.1)[0]
    W1 = ridge_oracle(X, 2 * y.astype(float), 10.0)[0]
    assert_allclose(backend.check(per.coef, np.float32), np.column_stack([W0, W1]),
                    rtol=RTOL[np.float32], atol=1e-5)


def test_default_grid_early_stopping_and_truncation(backend):
    X, Y = make_data(40, 6, 2)
    solver, ref = sr.RidgeSolver(backend(X), backend(Y)), sr.RidgeSolver(X, Y)
    assert_allclose(solver.default_alphas(), ref.default_alphas(), rtol=1e-9)
    assert_allclose(solver.alphas_for_dof([1.0, 3.0]), ref.alphas_for_dof([1.0, 3.0]),
                    rtol=1e-9)
    for dev, host in ((solver.early_stopping(1e-3, [1, 10, 100]),
                       ref.early_stopping(1e-3, [1, 10, 100])),
                      (solver.truncated_svd([1, 3, 6]), ref.truncated_svd([1, 3, 6]))):
        assert_allclose(backend.check(dev.coef()), host.coef(), rtol=1e-9, atol=1e-12)
        assert_allclose(backend.check(dev.gcv().scores), host.gcv().scores, rtol=1e-9)
    with pytest.raises(ValueError, match="ridge only"):
        solver.truncated_svd([1, 3]).loo()
    with pytest.raises(NotImplementedError, match="loo_errors"):
        solver.loo_errors(ALPHAS)


def test_loo_at_zero_and_tiny_alpha_matches_numpy(backend):
    # wide data: every sample inside the span, the leverage-limit branch of the LOO
    X, Y = make_data(12, 30, 2)
    alphas = np.array([0.0, 1e-14, 1e-8, 1.0])
    ref = sr.RidgeSolver(X, Y, method="svd").loo(alphas)
    result = sr.RidgeSolver(backend(X), backend(Y), method="svd").loo(alphas)
    assert np.isfinite(ref.scores).all()
    assert_allclose(backend.check(result.scores), ref.scores, rtol=1e-7)
    X, y = make_data(6, 3)
    w = np.zeros(6)
    w[4] = 1.0  # one sample of positive weight: removing it leaves no fit at all
    solver = sr.RidgeSolver(backend(X), backend(y), sample_weight=backend(w))
    with pytest.raises(ValueError, match=r"Leave-one-out is undefined at alpha=1.0: sample 4 "
                                         "has leverage 1"):
        solver.loo([1.0])


def test_blocks_of_targets_and_alphas(backend):
    # 300 targets x 300 rows exceed the smallest block (2^16 values): several blocks
    X, Y = make_data(300, 10, 300, dtype=np.float32)
    alphas = np.logspace(-2, 3, 4)
    with sr.config_context(working_memory=1):
        for cv in ("loo", 3):
            result = sr.ridge_cv(backend(X), backend(Y), alphas, cv=cv)
            expected = sr.ridge_cv(X, Y, alphas, cv=cv)
            assert_allclose(backend.check(result.scores), expected.scores, rtol=1e-4)
            assert np.mean(backend.check(result.best_index) == expected.best_index) >= 0.99
        assert _array_api._block_sizes(300, 10, 4, 300) == (218, 1)


def test_float32_fallback_without_float64():
    device = xps.Device("no_float64")
    X, Y = make_data(40, 6, 3, dtype=np.float32)
    Xd, Yd = xps.asarray(X, device=device), xps.asarray(Y, device=device)
    solver = sr.RidgeSolver(Xd, Yd)
    assert solver.method == "svd"  # the Gram routes would square a float32 condition number
    assert solver.dtype == xps.float32
    coef = _array_api.to_host(solver.coef(ALPHAS))
    for i, a in enumerate(ALPHAS):
        W = ridge_oracle(X, Y, a)[0]
        assert_allclose(coef[i], W, rtol=RTOL[np.float32], atol=RTOL[np.float32])
    result = sr.ridge_cv(Xd, Yd, ALPHAS, cv="loo")
    expected = brute_force_scores(X, Y, ALPHAS, loo_splits(40), True, None)
    assert_allclose(_array_api.to_host(result.scores), expected, rtol=1e-4)
    assert result.coef.device == device and result.coef.dtype == xps.float32
    # integer data on such a device: float32
    Xi = xps.asarray(np.arange(40 * 2).reshape(40, 2) % 7, device=device)
    assert sr.RidgeSolver(Xi, Yd).dtype == xps.float32


def test_float32_fallback_simulated(backend, monkeypatch):
    """Any backend with float64 switched off: float32 decomposition, the SVD for 'auto'."""
    monkeypatch.setattr(_array_api, "supports_float64", lambda xp, device: False)
    X, Y = make_data(40, 6, 2, dtype=np.float32)
    result = sr.ridge_cv(backend(X), backend(Y), ALPHAS, cv=4)
    folds = np.array_split(np.arange(40), 4)
    splits = [(np.setdiff1d(np.arange(40), f), f) for f in folds]
    expected = brute_force_scores(X, Y, ALPHAS, splits, True, None)
    assert_allclose(backend.check(result.scores, np.float32), expected, rtol=1e-4)
    assert sr.RidgeSolver(backend(X), backend(Y)).method == "svd"


def test_float64_support_rule(monkeypatch):
    assert _array_api.supports_float64(xps, xps.Device("CPU_DEVICE"))
    assert not _array_api.supports_float64(xps, xps.Device("no_float64"))

    class Mps:
        type = "mps"

    assert not _array_api.supports_float64(xps, Mps())


def test_integer_data_and_python_weights(backend):
    X, Y = make_data(30, 4, 2)
    Xi = np.rint(X * 10).astype(np.int64)
    solver = sr.RidgeSolver(backend(Xi), backend(Y), sample_weight=2.0)
    W = ridge_oracle(Xi, Y, 1.0, sample_weight=np.full(30, 2.0))[0]
    assert_allclose(backend.check(solver.coef(1.0), np.float64), W, rtol=1e-9)


def test_bad_input(backend):
    X, Y = make_data(20, 3, 2)
    Xd, Yd = backend(X), backend(Y)
    with pytest.raises(TypeError, match="Y is a NumPy ndarray"):
        sr.RidgeSolver(Xd, Y)
    with pytest.raises(TypeError, match="X is a NumPy ndarray"):
        sr.ridge_cv(X, Yd)
    with pytest.raises(TypeError, match="sample_weight is a NumPy ndarray"):
        sr.RidgeSolver(Xd, Yd, sample_weight=np.ones(20))
    with pytest.raises(TypeError, match="X is a list"):
        sr.RidgeSolver(X.tolist(), Yd)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        sr.RidgeSolver(backend(np.where(X > 1, np.nan, X)), Yd)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        sr.RidgeSolver(Xd, Yd, sample_weight=backend(-np.ones(20)))
    with pytest.raises(ValueError, match="X must be 2-D"):
        sr.RidgeSolver(backend(X[:, 0]), Yd)
    solver = sr.RidgeSolver(Xd, Yd)
    with pytest.raises(TypeError, match="X is a NumPy ndarray"):
        solver.predict(X, 1.0)
    with pytest.raises(ValueError, match="X has 2 features"):
        solver.predict(backend(X[:, :2]), 1.0)
    if backend.module is xps:
        other = xps.asarray(Y, device=xps.Device("device2"))
        with pytest.raises(ValueError, match="Y is on device .*device2"):
            sr.RidgeSolver(Xd, other)
        with pytest.raises(ValueError, match="Complex data not supported: X"):
            sr.RidgeSolver(xps.asarray(X.astype(np.complex128), device=backend.device), Yd)
    else:
        import torch
        with pytest.raises(TypeError, match="X has dtype torch.float16"):
            sr.RidgeSolver(Xd.to(torch.float16), Yd)
        with pytest.raises(ValueError, match="Complex data not supported: Y"):
            sr.RidgeSolver(Xd, Yd.to(torch.complex64))


@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
def test_host_transfers_are_small(backend, monkeypatch, cv):
    """Nothing of size n_samples travels between host and device, except the split indices
    produced on the host."""
    n, p, k, m = 1500, 4, 3, 5
    X, Y = make_data(n, p, k)
    sizes = {"to_host": [], "to_device": []}
    to_host, to_device = _array_api.to_host, _array_api.Rules.to_device

    def counting_to_host(a):
        out = to_host(a)
        sizes["to_host"].append(out.size)
        return out

    def counting_to_device(self, a, dtype=None):
        sizes["to_device"].append(np.size(a))
        return to_device(self, a, dtype)

    monkeypatch.setattr(_array_api, "to_host", counting_to_host)
    monkeypatch.setattr(_array_api.Rules, "to_device", counting_to_device)
    result = sr.ridge_cv(backend(X), backend(Y), np.logspace(-2, 2, m), cv=cv,
                         sample_weight=backend(weights(n, True)))
    assert backend.check(result.coef).shape == (p, k)
    bound = max(m * k, m * p, p * k, m)
    assert max(sizes["to_host"]) <= bound and max(sizes["to_device"]) <= bound


def test_numpy_input_stays_on_the_compiled_path():
    X, Y = make_data(20, 3, 2)
    assert type(sr.RidgeSolver(X, Y)) is sr.RidgeSolver
    assert not _array_api.is_array_api_input(X, Y.tolist(), None, 2.0)
    assert _array_api.is_array_api_input(X, xps.asarray(Y))


ESTIMATOR_SCRIPT = textwrap.dedent("""
    import numpy as np, array_api_strict as xp, sklearn
    import spectralridge as sr
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    Y = X @ rng.standard_normal((5, 2)) + rng.standard_normal((40, 2))
    alphas = np.logspace(-2, 3, 6)
    with sklearn.config_context(array_api_dispatch=True):
        for est, ref in [(sr.RidgeCV(alphas=alphas), sr.RidgeCV(alphas=alphas)),
                         (sr.RidgeCV(alphas=alphas, cv=3, alpha_per_target=True),
                          sr.RidgeCV(alphas=alphas, cv=3, alpha_per_target=True)),
                         (sr.Ridge(alpha=[1.0, 10.0]), sr.Ridge(alpha=[1.0, 10.0]))]:
            est.fit(xp.asarray(X), xp.asarray(Y))
            with sklearn.config_context(array_api_dispatch=False):
                ref.fit(X, Y)
            assert type(est.coef_) is type(xp.asarray(1.0)), type(est.coef_)
            assert type(est.intercept_) is type(xp.asarray(1.0))
            np.testing.assert_allclose(np.asarray(est.coef_), ref.coef_, rtol=1e-9)
            np.testing.assert_allclose(np.asarray(est.intercept_), ref.intercept_, rtol=1e-9)
            pred = est.predict(xp.asarray(X))
            assert type(pred) is type(xp.asarray(1.0))
            np.testing.assert_allclose(np.asarray(pred), ref.predict(X), rtol=1e-9)
            if hasattr(ref, "alpha_"):
                np.testing.assert_allclose(np.asarray(est.alpha_), ref.alpha_)
            if isinstance(est, sr.RidgeCV):
                est.fit(xp.asarray(X), xp.asarray(Y[:, 0]))
                assert np.asarray(est.coef_).shape == (5,)
        # another device, weights, float32: attributes there, in X's dtype
        dev = xp.Device("device1")
        w = rng.uniform(0.5, 2.0, 40)
        Xd, Yd = xp.asarray(X, dtype=xp.float32, device=dev), xp.asarray(Y, dtype=xp.float32,
                                                                          device=dev)
        est = sr.RidgeCV(alphas=alphas, cv=4, alpha_per_target=True)
        est.fit(Xd, Yd, sample_weight=xp.asarray(w, device=dev))
        ref = sr.RidgeCV(alphas=alphas, cv=4, alpha_per_target=True)
        with sklearn.config_context(array_api_dispatch=False):
            ref.fit(X.astype(np.float32), Y.astype(np.float32), sample_weight=w)
        assert est.coef_.device == dev and est.coef_.dtype == xp.float32
        assert est.alpha_.device == dev and est.cv_scores_.device == dev
        np.testing.assert_allclose(np.from_dlpack(est.coef_), ref.coef_, rtol=2e-4, atol=1e-5)
        np.testing.assert_allclose(np.from_dlpack(est.alpha_), ref.alpha_)
        assert est.predict(Xd).device == dev
        try:
            sr.RidgeCV(alphas=alphas, store_cv_results=True).fit(xp.asarray(X), xp.asarray(Y))
        except ValueError as exc:
            assert "store_cv_results=False" in str(exc)
        else:
            raise AssertionError("store_cv_results=True did not raise")
    # scikit-learn's own check of array-API estimators
    from sklearn.utils.estimator_checks import check_array_api_input
    for est in (sr.Ridge(), sr.RidgeCV(), sr.RidgeCV(cv=3, alpha_per_target=True),
                sr.RidgeCV(cv="gcv")):
        for device in (None, "device1"):
            for dtype in ("float64", "float32"):
                check_array_api_input(type(est).__name__, est, "array_api_strict",
                                      device_name=device, dtype_name=dtype, check_values=True,
                                      check_sample_weight=True)
    # without dispatch, scikit-learn's conversion: NumPy attributes
    est = sr.RidgeCV(alphas=alphas).fit(xp.asarray(X), xp.asarray(Y))
    assert isinstance(est.coef_, np.ndarray)
    print("ok")
""")


def test_estimators_follow_array_api_dispatch():
    pytest.importorskip("sklearn")
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    out = subprocess.run([sys.executable, "-c", ESTIMATOR_SCRIPT], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


# -- the spectral criteria, refine and the statistics, against the NumPy path ---------------
CRITERIA_ALPHAS = np.logspace(-3, 4, 15)
CRITERIA_RTOL = {np.float64: 1e-10, np.float32: RTOL[np.float32]}


def _host_result(backend, result, dtype, k):
    """A device CVResult's fields as NumPy, checking where each lives."""
    out = {"scores": backend.check(result.scores, dtype), "coef": backend.check(result.coef,
                                                                                dtype)}
    for name in ("best_index", "best_alpha", "best_score"):
        value = getattr(result, name)
        out[name] = np.asarray(value) if k is None else backend.check(value)
    assert isinstance(result.dof, np.ndarray)  # spectral: NumPy
    return out


def _criterion(solver, name, refine, alpha_per_target):
    if name == "discrepancy":
        return solver.discrepancy(1.0, CRITERIA_ALPHAS, alpha_per_target=alpha_per_target)
    method = {"evidence": solver.evidence, "lcurve": solver.lcurve,
              "quasi": solver.quasi_optimality}[name]
    return method(CRITERIA_ALPHAS, refine=refine, alpha_per_target=alpha_per_target)


def _score_at(ref, name, alphas):
    """Criterion `name` of each target at its alpha (k,), from the NumPy solver."""
    from spectralridge import _criteria
    problem = ref.problem_for(CRITERIA_ALPHAS)[1]
    if name == "discrepancy":
        return _criteria.residual_sq(problem, alphas, True) / problem.dim
    score = {"evidence": _criteria.log_evidence, "lcurve": _criteria.lcurve_curvature,
             "quasi": _criteria.quasi_optimality}[name]
    return score(problem, alphas, paired=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("shape", SHAPES)
def test_spectral_criteria_match_numpy(backend, shape, k, fit_intercept, weighted, dtype):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, k, dtype=dtype, decay=6.0)  # ill-conditioned: s spans e^-6
    w = weights(n, weighted)
    kw = {"fit_intercept": fit_intercept}
    solver = sr.RidgeSolver(backend(X), backend(Y), sample_weight=None if w is None else
                            backend(w), **kw)
    ref = sr.RidgeSolver(X, Y, sample_weight=w, **kw)
    rtol = CRITERIA_RTOL[dtype]
    for name in ("evidence", "lcurve", "quasi", "discrepancy"):
        for refine, shared in ((False, False), (True, False), (True, True)):
            if name == "discrepancy" and refine and not shared:
                continue
            got = _host_result(backend, _criterion(solver, name, refine, not shared), dtype, k)
            want = _criterion(ref, name, refine, not shared)
            assert_allclose(got["scores"], want.scores, rtol=rtol,
                            atol=rtol * np.abs(want.scores).max())
            assert_array_equal(got["best_index"], want.best_index)
            # the refined alpha is defined to the search's tolerance (1e-6 in log alpha);
            # device alphas are of the working dtype
            assert_allclose(got["best_alpha"], want.best_alpha,
                            rtol=1e-5 if refine or name == "discrepancy" else
                            1e-7 if dtype == np.float32 else 0)
            # the score at the device's own choice, by the NumPy solver's spectrum
            alphas = np.broadcast_to(got["best_alpha"], (1 if k is None else k,))
            expect = _score_at(ref, name, np.array(alphas, dtype=np.float64))
            assert_allclose(np.atleast_1d(got["best_score"]), expect, rtol=max(rtol, 1e-9))
            refit = ref.per_target(np.array(alphas)).coef
            assert_allclose(got["coef"], refit, rtol=rtol, atol=rtol * np.abs(refit).max())
    points = solver.lcurve_points(CRITERIA_ALPHAS)
    assert isinstance(points.residual_norm, np.ndarray)  # spectral: NumPy
    assert_allclose(points.solution_norm, ref.lcurve_points(CRITERIA_ALPHAS).solution_norm,
                    rtol=rtol)


def _oracle_score(X, Y, alpha, cv, t, fit_intercept, w):
    """The score of target t at one alpha by the NumPy path's grid (independent of the
    refinement)."""
    result = sr.ridge_cv(X, Y, [alpha], cv=cv, fit_intercept=fit_intercept, sample_weight=w)
    return np.atleast_1d(result.scores[0])[t]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
def test_refine_cv_matches_numpy(backend, cv, shape, fit_intercept, weighted):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, 3, decay=6.0)
    w = weights(n, weighted)
    kw = {"fit_intercept": fit_intercept, "cv": cv, "refine": True}
    result = sr.ridge_cv(backend(X), backend(Y), CRITERIA_ALPHAS,
                         sample_weight=None if w is None else backend(w), **kw)
    want = sr.ridge_cv(X, Y, CRITERIA_ALPHAS, sample_weight=w, **kw)
    got = _host_result(backend, result, np.float64, 3)
    # the two paths' kernel-route spectra agree to about 1e-10 at s_min / s_max = e^-6
    assert_allclose(got["scores"], want.scores, rtol=RTOL[np.float64])
    assert_allclose(got["best_alpha"], want.best_alpha, rtol=1e-3)  # search tolerance
    assert_allclose(got["best_score"], want.best_score, rtol=RTOL[np.float64])
    for t in range(3):  # the refined score is the score at the refined alpha
        assert_allclose(got["best_score"][t], _oracle_score(X, Y, got["best_alpha"][t], cv,
                                                            t, fit_intercept, w), rtol=1e-9)
    refit = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w).per_target(
        got["best_alpha"]).coef
    assert_allclose(got["coef"], refit, rtol=1e-10, atol=1e-10 * np.abs(refit).max())
    # float32 data and one shared alpha
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    shared = sr.ridge_cv(backend(X32), backend(Y32), CRITERIA_ALPHAS, alpha_per_target=False,
                         **kw)
    want = sr.ridge_cv(X32, Y32, CRITERIA_ALPHAS, alpha_per_target=False, **kw)
    got = backend.check(shared.best_alpha, np.float32)
    assert np.ptp(got) == 0
    assert_allclose(got, want.best_alpha, rtol=1e-2)
    assert_allclose(backend.check(shared.best_score), want.best_score, rtol=1e-4)


def _inference_fields(inf):
    return ("coef", "se", "t", "p_value", "conf_low", "conf_high", "noise_variance") + \
        (("intercept", "intercept_se", "intercept_t", "intercept_p_value")
         if inf.intercept is not None else ())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("shape", SHAPES)
def test_inference_matches_numpy(backend, shape, k, fit_intercept, weighted, dtype):
    from spectralridge import stats
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, k, dtype=dtype, decay=6.0)
    w = weights(n, weighted)
    kw = {"fit_intercept": fit_intercept}
    solver = sr.RidgeSolver(backend(X), backend(Y), sample_weight=None if w is None else
                            backend(w), **kw)
    ref = sr.RidgeSolver(X, Y, sample_weight=w, **kw)
    rtol = RTOL[dtype]  # the spectra agree to about 1e-10 at s_min / s_max = e^-6
    X_new = np.random.default_rng(5).standard_normal((4, p)).astype(dtype)
    noise = "ls" if shape == "tall" else 2.0  # least squares interpolates wide data
    for alphas in (ALPHAS, 10.0):
        for nv in (None, noise):
            got = stats.coef_inference(solver, alphas, noise_variance=nv, covariance=True)
            want = stats.coef_inference(ref, alphas, noise_variance=nv, covariance=True)
            for name in _inference_fields(want):
                value = getattr(got, name)
                expect = np.asarray(getattr(want, name))
                host = backend.check(value, np.float64 if "p_value" in name else dtype)
                assert host.shape == expect.shape, name
                assert_allclose(host, expect, rtol=rtol, atol=rtol * np.abs(expect).max(),
                                err_msg=name)
            for name in ("unscaled_variance", "df_resid"):  # spectral: NumPy
                assert isinstance(getattr(got, name), np.ndarray)
                assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-9)
            assert_allclose(backend.check(got.covariance), want.covariance, rtol=1e-9,
                            atol=1e-9 * np.abs(want.covariance).max())
            for observation in (False, True):
                se = stats.prediction_se(solver, backend(X_new), alphas, noise_variance=nv,
                                         observation=observation)
                expect = stats.prediction_se(ref, X_new, alphas, noise_variance=nv,
                                             observation=observation)
                assert_allclose(backend.check(se, dtype), expect, rtol=rtol)
    with pytest.raises(TypeError, match="X is a NumPy ndarray"):
        stats.prediction_se(solver, X_new, 1.0)
    with pytest.raises(ValueError, match="X has 2 features"):
        stats.prediction_se(solver, backend(X_new[:, :2]), 1.0)
    assert_allclose(stats.fraction_to_alpha(solver, [0.3, 0.7]),
                    stats.fraction_to_alpha(ref, [0.3, 0.7]), rtol=1e-8)
    assert_allclose(stats.alpha_to_fraction(solver, ALPHAS),
                    stats.alpha_to_fraction(ref, ALPHAS), rtol=1e-9)


def test_plots_of_a_device_solver(backend):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from spectralridge import plot
    X, Y = make_data(40, 5, 2)
    solver, ref = sr.RidgeSolver(backend(X), backend(Y)), sr.RidgeSolver(X, Y)
    for draw in (lambda s: plot.criteria(s, CRITERIA_ALPHAS, target=1),
                 lambda s: plot.coef_bands(s, CRITERIA_ALPHAS, target=1),
                 lambda s: plot.lcurve(s, CRITERIA_ALPHAS, target=1),
                 lambda s: plot.picard(s, target=1),
                 lambda s: plot.coef_path(s, CRITERIA_ALPHAS, target=1),
                 lambda s: plot.cv_curve(s.loo(CRITERIA_ALPHAS))):
        got, want = draw(solver), draw(ref)
        assert len(got.lines) == len(want.lines)
        for a, b in zip(got.lines, want.lines):
            assert_allclose(np.asarray(a.get_ydata(), float), np.asarray(b.get_ydata(), float),
                            rtol=1e-7, atol=1e-12)
        matplotlib.pyplot.close("all")


# -- compressed leave-one-out and held-out scoring over many alphas on the device ------------
def _count_factor_calls(monkeypatch):
    """The ranks of the device kernel's filter factors, recorded per call."""
    from spectralridge import _scores
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)  # small problems, to be fast
    calls = []
    factors = _array_api._factors

    def counting(*args):
        out = factors(*args)
        if out is not None:
            calls.append(out[0].shape[1])
        return out

    monkeypatch.setattr(_array_api, "_factors", counting)
    return calls


@pytest.mark.parametrize("shape, fit_intercept, weighted, dtype", [
    ((200, 150), True, False, np.float64), ((160, 300), False, True, np.float64),
    ((200, 150), True, True, np.float32)])
def test_compressed_loo_matches_exact_and_numpy(backend, shape, fit_intercept, weighted, dtype,
                                                monkeypatch):
    # eigenvalues over e^8 and 200 alphas over 8 decades: filter rank about 40 of 150
    n, p = shape
    X, Y = make_data(n, p, 4, decay=4.0, dtype=dtype)
    w = weights(n, weighted)
    alphas = np.logspace(-3, 5, 200)
    calls = _count_factor_calls(monkeypatch)
    kw = {"fit_intercept": fit_intercept, "sample_weight": w}
    solver = sr.RidgeSolver(backend(X), backend(Y), fit_intercept=fit_intercept,
                            sample_weight=None if w is None else backend(w))
    compressed = solver.loo(alphas)
    assert calls and max(calls) < 50
    with sr.loo_compression(False):
        exact = solver.loo(alphas)
    ref = sr.RidgeSolver(X, Y, **kw).loo(alphas)
    got, want = backend.check(compressed.scores, dtype), backend.check(exact.scores)
    best = backend.check(compressed.best_index)
    if dtype == np.float64:
        assert_allclose(got, want, rtol=1e-11, atol=0)
        assert_allclose(got, ref.scores, rtol=1e-10, atol=0)
        assert_array_equal(best, backend.check(exact.best_index))
        assert_array_equal(best, ref.best_index)
    else:
        assert_allclose(got, want, rtol=2e-3)
        assert_allclose(got, ref.scores, rtol=2e-3)


def test_compressed_kfold_matches_exact_and_numpy(backend, monkeypatch):
    # 256 alphas (one chunk): the held-out filter matrices of the folds compress too
    dtype = np.float64  # float32: test_compressed_loo_matches_exact_and_numpy
    X, Y = make_data(200, 150, 3, decay=4.0)
    w = weights(200, True)
    alphas = np.logspace(-3, 5, 256)
    calls = _count_factor_calls(monkeypatch)
    args = (backend(X), backend(Y), alphas)
    compressed = sr.ridge_cv(*args, cv=3, sample_weight=backend(w))
    assert len(calls) == 3 and max(calls) < 50
    with sr.loo_compression(False):
        exact = sr.ridge_cv(*args, cv=3, sample_weight=backend(w))
    ref = sr.ridge_cv(X, Y, alphas, cv=3, sample_weight=w)
    got = backend.check(compressed.scores, dtype)
    assert_allclose(got, backend.check(exact.scores), rtol=1e-11, atol=0)
    assert_allclose(got, ref.scores, rtol=1e-10, atol=0)
    assert_array_equal(backend.check(compressed.best_index), ref.best_index)


def test_device_exact_loo_on_request(backend, monkeypatch):
    from spectralridge import _scores
    X, Y = make_data(200, 150, 3, decay=4.0)
    Xd, Yd = backend(X), backend(Y)
    calls = _count_factor_calls(monkeypatch)
    with sr.loo_compression(False):
        sr.ridge_cv(Xd, Yd, np.logspace(-3, 5, 150))
    assert not calls
    sr.ridge_cv(Xd, Yd, np.logspace(-3, 5, 150))
    assert calls
    calls.clear()
    sr.ridge_cv(Xd, Yd, np.logspace(-3, 5, 10))  # few alphas: the exact kernel is cheaper
    assert not calls
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 1 << 30)
    sr.ridge_cv(Xd, Yd, np.logspace(-3, 5, 150))  # too little work to pay for the factors
    assert not calls


@pytest.mark.parametrize("how", ["inflated bound", "coarse factors"])
def test_device_certificate_recomputes_what_it_cannot_prove(backend, how, monkeypatch):
    # the bound covers every (alpha, target) pair that is not recomputed exactly: with a
    # larger eps, or honest but coarse factors (rank for 1e-7), the scores still agree
    from spectralridge import _scores
    X, Y = make_data(200, 150, 12, decay=4.0)
    Y[:, :6] = X[:, :6] @ np.ones((6, 6)) + 1e-3 * Y[:, :6]  # high signal to noise
    alphas = np.logspace(-3, 5, 150)
    low_rank = _filters.low_rank

    def patched(F, target, dtype, max_rank=None):
        if how == "coarse factors":
            return low_rank(F, 1e-7, dtype, max_rank)
        factors = low_rank(F, target, dtype, max_rank)
        return None if factors is None else (factors[0], factors[1], factors[2] * 1e4)

    Xd, Yd = backend(X), backend(Y)
    many = np.logspace(-3, 5, 256)  # the folds' filter matrices compress from about 200
    cases = [("loo", alphas)] + ([(3, many)] if how == "inflated bound" else [])
    with sr.loo_compression(False):
        exact = [sr.ridge_cv(Xd, Yd, grid, cv=cv) for cv, grid in cases]
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)
    monkeypatch.setattr(_filters, "low_rank", patched)
    stats = {}
    sse_block = _array_api.sse_block
    monkeypatch.setattr(_array_api, "sse_block",
                        lambda *a, **kw: sse_block(*a, **kw, stats=stats))
    for (cv, grid), want in zip(cases, exact):
        stats.clear()
        result = sr.ridge_cv(Xd, Yd, grid, cv=cv)
        assert 0 < stats["recomputed"] <= stats["pairs"]
        assert_allclose(backend.check(result.scores), backend.check(want.scores), rtol=1e-11,
                        atol=0)
        assert_array_equal(backend.check(result.best_index), backend.check(want.best_index))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_device_compression_by_blocks_of_eigenvalues(backend, dtype, monkeypatch):
    # four blocks of eigenvalues forced: each block's Z_g and the one A Z give the scores
    # of the exact device kernel and of NumPy's (which factors the same way)
    from spectralridge import _scores
    X, Y = make_data(200, 150, 4, decay=4.0)
    X, Y = X.astype(dtype), Y.astype(dtype)
    alphas = np.logspace(-3, 5, 150)
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)
    monkeypatch.setattr(_scores, "LOWRANK_MAX_COST", 2.0)  # whatever the plan costs
    monkeypatch.setattr(_filters, "BLOCK_COUNTS", (4,))
    blocks = []
    factors = _array_api._factors

    def recording(*args):
        blocks.append(factors(*args))
        return blocks[-1]

    monkeypatch.setattr(_array_api, "_factors", recording)
    for cv in ("loo", 3):
        blocks.clear()
        compressed = sr.ridge_cv(backend(X), backend(Y), alphas, cv=cv)
        assert blocks and all(f is not None and len(f[1]) == 4 for f in blocks)
        with sr.loo_compression(False):
            exact = sr.ridge_cv(backend(X), backend(Y), alphas, cv=cv)
        ref = sr.ridge_cv(X, Y, alphas, cv=cv)
        got = backend.check(compressed.scores, dtype)
        rtol = 1e-11 if dtype == np.float64 else 2e-3
        assert_allclose(got, backend.check(exact.scores), rtol=rtol, atol=0)
        assert_allclose(got, ref.scores, rtol=10 * rtol, atol=0)
        if dtype == np.float64:
            assert_array_equal(backend.check(compressed.best_index), ref.best_index)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("unproven", [False, True])
def test_device_compressed_path_matches_numpy(backend, dtype, unproven, monkeypatch):
    # coefficients, intercepts and predictions over 200 alphas from the NumPy path's
    # factors; the targets of the pairs a plan leaves unproven (here: coarse factors, two
    # targets marked) come from the exact product
    from spectralridge import _scores
    X, Y = make_data(200, 150, 12, decay=4.0)
    X, Y = X.astype(dtype), Y.astype(dtype)
    X_new = make_data(9, 150, seed=5)[0].astype(dtype)
    alphas = np.logspace(-3, 5, 200)
    with sr.loo_compression(False):
        exact = sr.RidgeSolver(X, Y)
        want = exact.coef(alphas), exact.intercept(alphas), exact.predict(X_new, alphas)
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)
    marked = np.isin(np.arange(12), [2, 7])
    factors = _scores.path_factors
    if unproven:
        monkeypatch.setattr(_scores, "LOWRANK_MAX_COST", 2.0)  # whatever the plan costs
        low_rank = _filters.low_rank
        monkeypatch.setattr(_filters, "low_rank", lambda F, target, dtype, max_rank=None:
                            low_rank(F, 1e3 * target, dtype, max_rank))
        monkeypatch.setattr(_scores, "path_factors",
                            lambda *args: factors(*args)[:3] + (np.broadcast_to(
                                marked, (alphas.size, 12)),))
    plans = []
    path_factors = _scores.path_factors
    monkeypatch.setattr(_scores, "path_factors",
                        lambda *args: plans.append(path_factors(*args)) or plans[-1])
    solver = sr.RidgeSolver(backend(X), backend(Y))
    got = solver.coef(alphas), solver.intercept(alphas), solver.predict(backend(X_new), alphas)
    assert len(plans) == 3 and all(plan is not None for plan in plans)
    coef = backend.check(got[0], dtype).astype(np.float64)
    error = np.linalg.norm(coef - want[0], axis=1) / np.linalg.norm(want[0], axis=1)
    tol = 2 * _scores.PATH_RTOL[np.dtype(dtype)] + (0 if dtype == np.float64 else 2e-6)
    if unproven:  # the device's exact product where marked, coarse elsewhere
        with sr.loo_compression(False):
            own = backend.check(solver.coef(alphas), dtype).astype(np.float64)
        own_error = np.linalg.norm(coef - own, axis=1) / np.linalg.norm(own, axis=1)
        assert own_error[:, marked].max() <= (1e-15 if dtype == np.float64 else 1e-6)
        assert own_error[:, ~marked].max(axis=0).min() > 10 * own_error[:, marked].max()
        return
    assert error.max() <= tol
    for value, ref in zip(got[1:], want[1:]):
        assert_allclose(backend.check(value, dtype), ref, rtol=0,
                        atol=8 * tol * np.abs(ref).max())
    path = solver.ridge(alphas)  # one plan for all that a path gives
    again = path.coef(), path.intercept(), path.predict(backend(X_new))
    assert len(plans) == 4
    for value, ref in zip(again, got):
        assert_array_equal(backend.check(value, dtype), backend.check(ref, dtype))


def test_device_compressed_loo_over_a_thousand_alphas(backend, monkeypatch):
    # many more alphas than the filter rank needs: one factorization of every alpha
    X, Y = make_data(200, 150, 4, decay=4.0)
    alphas = np.logspace(-3, 5, 1000)
    calls = _count_factor_calls(monkeypatch)
    solver = sr.RidgeSolver(backend(X), backend(Y))
    compressed = solver.loo(alphas)
    assert calls and max(calls) < 50
    with sr.loo_compression(False):
        exact = solver.loo(alphas)
    assert_allclose(backend.check(compressed.scores), backend.check(exact.scores), rtol=1e-11,
                    atol=0)
    assert_array_equal(backend.check(compressed.best_index), backend.check(exact.best_index))



def test_accelerators_are_not_the_cpu():
    assert not _array_api.is_accelerator(xps, xps.asarray([1.0]).device)
    torch = pytest.importorskip("torch")
    xp = compat.array_namespace(torch.zeros(1))
    assert _array_api.is_accelerator(xp, torch.device("cuda", 0))
    assert _array_api.is_accelerator(xp, torch.device("mps"))
    assert not _array_api.is_accelerator(xp, torch.device("cpu"))


def test_accelerators_plan_compression_only_for_more_work(backend, monkeypatch):
    # CuPy and torch devices other than the CPU: the compressed kernels need DEVICE_MIN_WORK
    # multiply-adds of exact work (their planning stays on the host); the CPU's devices
    # keep LOWRANK_MIN_WORK
    from spectralridge import _scores
    X, Y = make_data(200, 150, 4, decay=4.0)
    X_new = make_data(9, 150, seed=5)[0]
    alphas = np.logspace(-3, 5, 200)
    calls = _count_factor_calls(monkeypatch)  # LOWRANK_MIN_WORK = 0
    plans = []
    path_factors = _scores.path_factors
    monkeypatch.setattr(_scores, "path_factors",
                        lambda *args: plans.append(1) or path_factors(*args))

    def run():
        solver = sr.RidgeSolver(backend(X), backend(Y))
        return solver.loo(alphas), solver.coef(alphas), solver.predict(backend(X_new), alphas)

    on_cpu = run()
    assert calls and plans
    calls.clear(), plans.clear()
    monkeypatch.setattr(_array_api, "is_accelerator", lambda xp, device: True)
    exact = run()
    assert not calls and not plans
    monkeypatch.setattr(_scores, "DEVICE_MIN_WORK", 0)
    run()
    assert calls and plans
    assert_allclose(backend.check(exact[0].scores), backend.check(on_cpu[0].scores),
                    rtol=1e-11, atol=0)
    for got, want in zip(exact[1:], on_cpu[1:]):
        want = backend.check(want).astype(np.float64)
        assert_allclose(backend.check(got), want, rtol=0, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
def test_refine_r2_and_1d_target_match_numpy(backend, cv):
    X, Y = make_data(40, 6, 3, decay=6.0)
    for Yk, apt in ((Y, True), (Y, False), (Y[:, 0], True)):
        kw = {"cv": cv, "refine": True, "scoring": "r2", "alpha_per_target": apt}
        result = sr.ridge_cv(backend(X), backend(Yk), CRITERIA_ALPHAS, **kw)
        want = sr.ridge_cv(X, Yk, CRITERIA_ALPHAS, **kw)
        if Yk.ndim == 1:
            assert isinstance(result.best_alpha, float)
            assert backend.check(result.coef).shape == (6,)
            got_alpha, got_score = result.best_alpha, result.best_score
        else:
            got_alpha, got_score = (backend.check(result.best_alpha),
                                    backend.check(result.best_score))
        assert_allclose(got_alpha, want.best_alpha, rtol=1e-3)  # search tolerance
        assert_allclose(got_score, want.best_score, rtol=1e-6)


# -- models beyond one scalar penalty ---------------------------------------------------------
def _unpenalized_factors(p):
    c = np.ones(p)
    c[[0, 3]] = 0.0
    c[1] = 4.0
    return c


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_unpenalized_columns_match_numpy_and_normal_equations(backend, shape, fit_intercept,
                                                              weighted, dtype):
    """penalty_factor zeros on the device: the path against a direct solve with zero
    penalty on those columns, the path, LOO, GCV and K-fold (both scorings) against the
    NumPy path."""
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, 3, dtype=dtype)
    w = weights(n, weighted)
    kw = dict(fit_intercept=fit_intercept, penalty_factor=_unpenalized_factors(p))
    dw = None if w is None else backend(w)
    solver = sr.RidgeSolver(backend(X), backend(Y), sample_weight=dw, **kw)
    ref = sr.RidgeSolver(X, Y, sample_weight=w, **kw)
    tol = CRITERIA_RTOL[dtype]
    coef = backend.check(solver.coef(ALPHAS), dtype)
    intercept = backend.check(solver.intercept(ALPHAS), dtype)
    pred = backend.check(solver.predict(backend(X[:7] + 0.5), ALPHAS), dtype)

    def close(got, want, rtol=tol):
        assert_allclose(got, want, rtol=rtol, atol=rtol * max(np.abs(want).max(), 1.0))

    close(coef, ref.coef(ALPHAS))
    close(intercept, ref.intercept(ALPHAS))
    close(pred, ref.predict(X[:7] + 0.5, ALPHAS))
    close(backend.check(solver.per_target([0.1, 1.0, 10.0]).coef),
          ref.per_target([0.1, 1.0, 10.0]).coef)
    assert solver.rank == ref.rank
    assert_allclose(solver.dof(ALPHAS), ref.dof(ALPHAS), rtol=1e-5)
    for i, a in enumerate(ALPHAS[1:], 1):  # the unpenalized columns' normal equations
        W, b = ridge_oracle(X, Y, a, fit_intercept, w, kw["penalty_factor"])
        close(coef[i], W, max(tol, RTOL[dtype]))
        close(intercept[i], b, max(tol, RTOL[dtype]))
    for cv in ("loo", "gcv", 4):
        for scoring in ("mse", "r2"):
            got = sr.ridge_cv(backend(X), backend(Y), ALPHAS, cv=cv, scoring=scoring,
                              sample_weight=dw, **kw)
            want = sr.ridge_cv(X, Y, ALPHAS, cv=cv, scoring=scoring, sample_weight=w, **kw)
            close(backend.check(got.scores, dtype), want.scores, 10 * tol)
            assert_array_equal(backend.check(got.best_index), want.best_index)
            close(backend.check(got.coef, dtype), want.coef)
            close(backend.check(got.intercept, dtype), want.intercept)


def test_unpenalized_loo_and_kfold_against_brute_force(backend):
    """Exact leave-one-out and K-fold with unpenalized columns on the device equal refits
    of the normal equations without the held-out rows (weighted, with intercept)."""
    n, p = 30, 5
    X, Y = make_data(n, p, 2, seed=4)
    w = weights(n, True)
    c = _unpenalized_factors(p)
    alphas = np.array([0.05, 2.0, 50.0])
    folds = np.array_split(np.arange(n), 3)
    for cv, splits in (("loo", loo_splits(n)),
                       (3, [(np.setdiff1d(np.arange(n), f), f) for f in folds])):
        got = sr.ridge_cv(backend(X), backend(Y), alphas, cv=cv, sample_weight=backend(w),
                          penalty_factor=c)
        sse, total = np.zeros((alphas.size, 2)), 0.0
        for train, test in splits:
            for i, a in enumerate(alphas):
                W, b = ridge_oracle(X[train], Y[train], a, True, w[train], c)
                sse[i] += w[test] @ (Y[test] - X[test] @ W - b) ** 2
            total += w[test].sum()
        assert_allclose(backend.check(got.scores, np.float64), sse / total, rtol=1e-10)


def test_unpenalized_collinear_columns_are_named_on_the_device(backend):
    X, Y = make_data(30, 5, 2)
    X[:, 3] = 2.0 * X[:, 0] + 1.0
    c = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    # which of the two is named depends on the pivoting
    with pytest.raises(ValueError, match=r"unpenalized columns \[(0|3)\] of X are collinear "
                                         r"with the other unpenalized columns \[(0|3)\] and "
                                         r"the intercept"):
        sr.RidgeSolver(backend(X), backend(Y), penalty_factor=c)
    X[:, 3] = 0.0
    with pytest.raises(ValueError, match=r"unpenalized columns \[3\] of X are zero"):
        sr.RidgeSolver(backend(X), backend(Y), penalty_factor=c)


@pytest.mark.parametrize("scale", ["correlation", "data"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_vif_on_the_device_matches_numpy(backend, shape, weighted, scale):
    from spectralridge import stats
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, 2)
    X[:, 2] = X[:, 0] - X[:, 1]  # an exact collinearity: inf at alpha = 0
    w = weights(n, weighted)
    alphas = np.array([0.0, 1e-3, 0.1, 10.0])
    ref = sr.RidgeSolver(X, Y, sample_weight=w)
    solver = sr.RidgeSolver(backend(X), backend(Y),
                            sample_weight=None if w is None else backend(w))
    got = backend.check(stats.vif(solver, alphas, scale=scale), np.float64)
    want = stats.vif(ref, alphas, scale=scale)
    assert_array_equal(np.isinf(got), np.isinf(want))
    assert np.isinf(want[0]).any()
    finite = np.isfinite(want)
    assert_allclose(got[finite], want[finite], rtol=1e-9)
    one = backend.check(stats.vif(solver, 0.1, scale=scale))
    assert_allclose(one, want[2], rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
def test_banded_ridge_on_the_device_matches_numpy(backend, cv, dtype):
    n, p = SHAPES["tall"]
    X, Y = make_data(n, p, 3, seed=5, dtype=dtype)
    w = weights(n, True)
    groups = [[0, 1, 2], [3, 4], [5]]
    kw = dict(n_candidates=4, random_state=0, cv=cv, scoring="r2" if cv == 3 else "mse")
    ref = sr.banded_ridge_cv(X, Y, groups, ALPHAS, sample_weight=w, **kw)
    got = sr.banded_ridge_cv(backend(X), backend(Y), groups, ALPHAS, sample_weight=backend(w),
                             **kw)
    tol = CRITERIA_RTOL[dtype]
    scores = backend.check(got.scores, dtype)
    assert scores.shape == ref.scores.shape
    assert_allclose(scores, ref.scores, rtol=10 * tol, atol=10 * tol * np.abs(ref.scores).max())
    assert_array_equal(backend.check(got.best_candidate), ref.best_candidate)
    assert_allclose(backend.check(got.group_alphas), ref.group_alphas, rtol=1e-6)
    coef = backend.check(got.coef, dtype)
    assert_allclose(coef, ref.coef, rtol=tol, atol=tol * np.abs(ref.coef).max())
    assert_allclose(backend.check(got.intercept, dtype), ref.intercept, rtol=tol,
                    atol=tol * np.abs(ref.intercept).max())


def test_unpenalized_criteria_and_refine_match_numpy(backend):
    """The spectral criteria and refine=True on a device solver with unpenalized columns
    (the fixed degrees of freedom count them; R^2 is of the targets as given)."""
    n, p = SHAPES["tall"]
    X, Y = make_data(n, p, 3, seed=6)
    w = weights(n, True)
    kw = dict(penalty_factor=_unpenalized_factors(p))
    ref = sr.RidgeSolver(X, Y, sample_weight=w, **kw)
    solver = sr.RidgeSolver(backend(X), backend(Y), sample_weight=backend(w), **kw)
    for name in ("evidence", "lcurve"):
        want, got = getattr(ref, name)(CRITERIA_ALPHAS), getattr(solver, name)(CRITERIA_ALPHAS)
        assert_allclose(backend.check(got.scores), want.scores, rtol=1e-10, atol=1e-10)
        assert_allclose(backend.check(got.coef), want.coef, rtol=1e-10, atol=1e-10)
    for cv in ("loo", "gcv", 3):
        want = sr.ridge_cv(X, Y, CRITERIA_ALPHAS, cv=cv, refine=True, scoring="r2",
                           sample_weight=w, **kw)
        got = sr.ridge_cv(backend(X), backend(Y), CRITERIA_ALPHAS, cv=cv, refine=True,
                          scoring="r2", sample_weight=backend(w), **kw)
        assert_allclose(backend.check(got.best_alpha), want.best_alpha, rtol=1e-6)
        assert_allclose(backend.check(got.best_score), want.best_score, rtol=1e-10)
        assert_allclose(backend.check(got.coef), want.coef, rtol=1e-7, atol=1e-9)


MODEL_ESTIMATOR_SCRIPT = textwrap.dedent("""
    import numpy as np, array_api_strict as xp, sklearn
    import spectralridge as sr
    from spectralridge._array_api import to_host
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    Y = X @ rng.standard_normal((6, 2)) + rng.standard_normal((40, 2))
    groups, w = [[0, 1, 2], [3, 4], [5]], rng.uniform(0.5, 2.0, 40)
    spaces = [(xp, None), (xp, xp.Device("device1"))]
    try:
        import torch
        spaces.append((torch, torch.device("cpu")))
    except ImportError:
        pass
    names = ("coef_", "intercept_", "alphas_", "alpha_", "weights_", "candidates_",
             "cv_scores_", "best_score_")
    for mod, dev in spaces:
        for dtype in (np.float64, np.float32):
            put = lambda a: mod.asarray(np.asarray(a, dtype=dtype), device=dev)
            tol = 1e-9 if dtype == np.float64 else 2e-4
            for cv in (None, "gcv", 3):
                kw = dict(alphas=np.logspace(-2, 3, 6), n_candidates=3, random_state=0, cv=cv)
                with sklearn.config_context(array_api_dispatch=True):
                    est = sr.BandedRidgeCV(groups, **kw).fit(put(X), put(Y),
                                                             sample_weight=put(w))
                    pred, split = est.predict(put(X)), est.score_split(put(X), put(Y))
                    one = sr.BandedRidgeCV(groups, **kw).fit(put(X), put(Y[:, 0]))
                ref = sr.BandedRidgeCV(groups, **kw).fit(X.astype(dtype), Y.astype(dtype),
                                                         sample_weight=w)
                ref1 = sr.BandedRidgeCV(groups, **kw).fit(X.astype(dtype),
                                                          Y[:, 0].astype(dtype))
                for name in names:
                    got = getattr(est, name)
                    assert type(got) is type(put(1.0)) and got.device == put(1.0).device, name
                    np.testing.assert_allclose(to_host(got), getattr(ref, name), rtol=tol,
                                               atol=tol, err_msg=name)
                assert est.coef_.dtype == put(1.0).dtype
                for got, want in ((pred, ref.predict(X.astype(dtype))),
                                  (split, ref.score_split(X, Y)), (one.coef_, ref1.coef_)):
                    assert type(got) is type(put(1.0))
                    np.testing.assert_allclose(to_host(got), want, rtol=10 * tol, atol=10 * tol)
                assert one.coef_.shape == (6,) and isinstance(one.alpha_, float)
                kw = dict(alphas=np.logspace(-3, 1, 6), kernel="rbf", gamma=0.3, cv=cv,
                          alpha_per_target=True)
                with sklearn.config_context(array_api_dispatch=True):
                    est = sr.KernelRidgeCV(**kw).fit(put(X), put(Y), sample_weight=put(w))
                    pred = est.predict(put(X[:5]))
                    one = sr.KernelRidgeCV(**kw).fit(put(X), put(Y[:, 0]))
                ref = sr.KernelRidgeCV(**kw).fit(X.astype(dtype), Y.astype(dtype),
                                                 sample_weight=w)
                ref1 = sr.KernelRidgeCV(**kw).fit(X.astype(dtype), Y[:, 0].astype(dtype))
                for name in ("dual_coef_", "intercept_", "alpha_", "best_score_",
                             "cv_scores_", "alphas_", "dof_"):
                    got = getattr(est, name)
                    assert type(got) is type(put(1.0)) and got.device == put(1.0).device, name
                    np.testing.assert_allclose(to_host(got), getattr(ref, name),
                                               rtol=10 * tol, atol=10 * tol, err_msg=name)
                for got, want in ((pred, ref.predict(X[:5].astype(dtype))),
                                  (one.dual_coef_, ref1.dual_coef_)):
                    assert type(got) is type(put(1.0))
                    np.testing.assert_allclose(to_host(got), want, rtol=10 * tol, atol=10 * tol)
                assert one.dual_coef_.shape == (40,) and isinstance(one.alpha_, float)
    from sklearn.kernel_ridge import KernelRidge
    with sklearn.config_context(array_api_dispatch=True):
        est = sr.KernelRidgeCV([0.1], kernel="rbf", gamma=0.3, fit_intercept=False).fit(
            xp.asarray(X), xp.asarray(Y))
    kr = KernelRidge(alpha=0.1, kernel="rbf", gamma=0.3).fit(X, Y)
    np.testing.assert_allclose(to_host(est.dual_coef_), kr.dual_coef_, rtol=1e-9)
    from sklearn.utils.estimator_checks import check_array_api_input
    for device in (None, "device1"):
        for dtype in ("float64", "float32"):
            for est in (sr.BandedRidgeCV(n_candidates=2), sr.KernelRidgeCV(kernel="rbf"),
                        sr.KernelRidgeCV(kernel="rbf", cv=3)):
                check_array_api_input(type(est).__name__, est, "array_api_strict",
                                      device_name=device, dtype_name=dtype,
                                      check_values=True, check_sample_weight=True)
    est = sr.BandedRidgeCV(groups, n_candidates=2).fit(xp.asarray(X), xp.asarray(Y))
    assert isinstance(est.coef_, np.ndarray)  # without dispatch: scikit-learn's conversion
    print("ok")
""")


def test_model_estimators_follow_array_api_dispatch():
    """BandedRidgeCV and KernelRidgeCV under ``array_api_dispatch=True``: fitted attributes,
    predictions (and the split R^2) in the input's namespace and on its device
    (array_api_strict, torch CPU where installed), equal to the NumPy fit; kernel ridge
    without intercept equals scikit-learn's KernelRidge."""
    pytest.importorskip("sklearn")
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    out = subprocess.run([sys.executable, "-c", MODEL_ESTIMATOR_SCRIPT], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel", ["rbf", "linear", "laplacian", "precomputed"])
def test_kernel_ridge_on_the_device_matches_numpy(backend, kernel, dtype):
    """KernelRidgeSolver of device arrays: the kernel, eigh and filters on the device,
    results there, equal to the NumPy solver's (LOO, GCV, K-fold, dual coefficients,
    intercepts, predictions), with and without intercept and weights."""
    rng = np.random.default_rng(13)
    X = rng.uniform(-3, 3, (36, 3))
    Y = np.c_[np.sin(X[:, 0]), X[:, 1] * X[:, 2]] + 0.1 * rng.standard_normal((36, 2))
    if kernel == "precomputed":
        X = np.exp(-0.3 * np.square(X[:, None] - X[None]).sum(axis=2))
    X, Y = X.astype(dtype), Y.astype(dtype)
    w = weights(36, True)
    alphas = np.logspace(-3, 1, 7)
    tol = 1e-9 if dtype == np.float64 else 2e-3
    for fit_intercept in (True, False):
        kw = dict(kernel=kernel, gamma=0.3, fit_intercept=fit_intercept, sample_weight=w)
        ref = sr.KernelRidgeSolver(X, Y, **kw)
        got = sr.KernelRidgeSolver(backend(X), backend(Y), **dict(kw, sample_weight=backend(w)))
        for run in (lambda s: s.loo(alphas), lambda s: s.gcv(alphas, scoring="r2"),
                    lambda s: s.cross_validate(alphas, cv=4, scoring="r2")):
            want, have = run(ref), run(got)
            assert_allclose(backend.check(have.scores, dtype), want.scores, rtol=tol,
                            atol=tol * np.abs(want.scores).max())
            assert_array_equal(backend.check(have.best_index), want.best_index)
            for name in ("coef", "intercept"):
                a = getattr(want, name)
                assert_allclose(backend.check(getattr(have, name), dtype), a, rtol=tol,
                                atol=tol * np.abs(a).max())
        for name, args in (("predict", (backend(X[:7]), alphas)), ("dual_coef", (alphas,)),
                           ("intercept", (alphas,))):
            a = getattr(ref, name)(*((X[:7],) + args[1:] if name == "predict" else args))
            assert_allclose(backend.check(getattr(got, name)(*args), dtype), a, rtol=tol,
                            atol=tol * np.abs(a).max())
        assert isinstance(got.eigenvalues, np.ndarray) and isinstance(got.dof(alphas),
                                                                        np.ndarray)
    if kernel == "precomputed":  # bad kernels: clear errors, as on the host
        with pytest.raises(ValueError, match="must be symmetric"):
            sr.KernelRidgeSolver(backend(X + np.triu(X, 1)), backend(Y), kernel="precomputed")
        with pytest.raises(ValueError, match="positive semi-definite"):
            sr.KernelRidgeSolver(backend(-X), backend(Y), kernel="precomputed")
    with pytest.raises(ValueError, match="On a device, kernel must be one of"):
        sr.KernelRidgeSolver(backend(X), backend(Y), kernel="chi2")
    with pytest.raises((TypeError, ValueError), match="Y"):
        sr.KernelRidgeSolver(backend(X), Y, kernel=kernel)
    with pytest.raises(TypeError, match="sample_weight is of type"):
        sr.KernelRidgeSolver(X, Y, kernel=kernel, sample_weight=backend(w))
