"""spectralridge.theory against independent oracles: direct solves, explicit gradient descent."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import spectralridge as sr
from spectralridge import theory

from helpers import make_data

ALPHAS = np.r_[0.0, np.logspace(-3, 3, 13)]


def make_hessian(p, rank=None, *, seed=0, lam_min=0.1, lam_max=10.0):
    """Random PSD Hessian with `rank` eigenvalues log-spaced in [lam_min, lam_max], the rest 0."""
    rng = np.random.default_rng(seed)
    rank = p if rank is None else rank
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    lam = np.zeros(p)
    lam[:rank] = np.geomspace(lam_max, lam_min, rank) if rank > 1 else lam_max
    H = (Q * lam) @ Q.T
    return 0.5 * (H + H.T), rng.standard_normal(p)


def gradient_descent(H, w_star, lr, n_steps):
    """Explicit iterates ``w <- w - lr H (w - w*)`` from 0: array (n_steps + 1, p)."""
    w = np.zeros_like(w_star)
    path = [w]
    for _ in range(n_steps):
        w = w - lr * H @ (w - w_star)
        path.append(w)
    return np.array(path)


# -- ridge on a quadratic ----------------------------------------------------------------------
@pytest.mark.parametrize("p", [1, 2, 7, 40])
def test_quadratic_shrinkage_matches_direct_solve(p):
    H, w_star = make_hessian(p, seed=p)
    out = theory.quadratic_shrinkage(H, w_star, ALPHAS)
    assert out.shape == (ALPHAS.size, p) and out.dtype == np.float64
    for a, w in zip(ALPHAS, out):
        expected = np.linalg.solve(H + a * np.eye(p), H @ w_star)
        assert_allclose(w, expected, rtol=1e-10, atol=1e-12 * np.linalg.norm(w_star))
    # alpha = 0 recovers w*, alpha -> inf shrinks to 0
    assert_allclose(out[0], w_star, rtol=1e-10, atol=1e-12)
    assert np.linalg.norm(theory.quadratic_shrinkage(H, w_star, 1e14)) < 1e-12


@pytest.mark.parametrize("p, rank", [(5, 2), (12, 7), (3, 1)])
def test_quadratic_shrinkage_singular_hessian(p, rank):
    H, w_star = make_hessian(p, rank, seed=rank)
    out = theory.quadratic_shrinkage(H, w_star, ALPHAS)
    for a, w in zip(ALPHAS[1:], out[1:]):
        expected = np.linalg.solve(H + a * np.eye(p), H @ w_star)
        assert_allclose(w, expected, rtol=1e-9, atol=1e-12)
    # alpha = 0: projection of w* on range(H), the minimum-norm minimizer
    B = np.linalg.svd(H)[0][:, :rank]
    assert_allclose(out[0], B @ (B.T @ w_star), atol=1e-12)
    assert_allclose(out[0], np.linalg.lstsq(H, H @ w_star, rcond=None)[0], atol=1e-10)
    assert np.linalg.norm(out[0]) < np.linalg.norm(w_star)


def test_zero_hessian_shrinks_everything():
    out = theory.quadratic_shrinkage(np.zeros((3, 3)), [1.0, 2.0, 3.0], [0.0, 1.0])
    assert_array_equal(out, np.zeros((2, 3)))
    assert_array_equal(theory.shrinkage_factors(np.zeros(3), [0.0, 1.0]), np.zeros((2, 3)))


def test_quadratic_shrinkage_equals_ridge_solver():
    """H = X^T X, w* = least squares: the regularized optimum is ridge regression."""
    X, y = make_data(60, 6, seed=3, offset=0.0)
    H = X.T @ X
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    solver = sr.RidgeSolver(X, y, fit_intercept=False, method="svd")
    assert_allclose(theory.quadratic_shrinkage(H, w_star, ALPHAS), solver.coef(ALPHAS),
                    rtol=1e-9, atol=1e-12)
    lam = solver.singular_values ** 2
    assert_allclose(theory.shrinkage_factors(lam, ALPHAS), solver.shrinkage(ALPHAS), rtol=1e-14)
    assert_allclose(theory.effective_dof(lam, ALPHAS), solver.dof(ALPHAS), rtol=1e-14)


def test_shrinkage_factors_and_dof():
    lam = np.array([5.0, 2.0, 0.5, 0.0, 1e-300])
    f = theory.shrinkage_factors(lam, ALPHAS)
    assert f.shape == (ALPHAS.size, lam.size) and f.dtype == np.float64
    assert ((f >= 0) & (f <= 1)).all()
    assert (np.diff(f, axis=0) <= 0).all()  # decreasing in alpha
    # alpha = 0: 1 where lam > 0 (however small), 0 where lam == 0; never 0/0
    assert_array_equal(f[0], [1.0, 1.0, 1.0, 0.0, 1.0])
    assert_allclose(f[1:], lam / (lam + ALPHAS[1:, None]), rtol=1e-15)
    dof = theory.effective_dof(lam, ALPHAS)
    assert dof.shape == ALPHAS.shape
    assert_allclose(dof, f.sum(axis=1), rtol=1e-15)
    assert dof[0] == 4.0


@pytest.mark.parametrize("rank", [6, 3])
def test_dof_is_trace_of_hat(rank):
    H, _ = make_hessian(6, rank, seed=11)
    lam = np.linalg.eigvalsh(H)  # may hold tiny negative values: clipped
    dof = theory.effective_dof(lam, ALPHAS[1:])
    traces = [np.trace(H @ np.linalg.inv(H + a * np.eye(6))) for a in ALPHAS[1:]]
    assert_allclose(dof, traces, rtol=1e-9, atol=1e-12)


def test_scalar_alpha_drops_the_axis():
    H, w_star = make_hessian(4)
    lam = np.linalg.eigvalsh(H)
    assert theory.shrinkage_factors(lam, 2.0).shape == (4,)
    assert np.ndim(theory.effective_dof(lam, 2.0)) == 0
    assert_allclose(theory.quadratic_shrinkage(H, w_star, 2.0),
                    theory.quadratic_shrinkage(H, w_star, [2.0])[0], rtol=1e-15)
    assert theory.quadratic_shrinkage(H, w_star, np.float32(2.0)).shape == (4,)


def test_dtypes_and_inputs_untouched():
    H, w_star = make_hessian(5, seed=2)
    ref = theory.quadratic_shrinkage(H, w_star, ALPHAS)
    H32, w32 = H.astype(np.float32), w_star.astype(np.float32)
    out32 = theory.quadratic_shrinkage(H32, w32, ALPHAS)
    assert out32.dtype == np.float32
    assert_allclose(out32, ref, rtol=1e-4, atol=1e-5)
    assert theory.quadratic_shrinkage(H32, w_star, ALPHAS).dtype == np.float64
    assert theory.early_stopping_path(H32, w32, 0.01, [1, 5]).dtype == np.float32
    assert theory.quadratic_shrinkage(H.astype(int), [1, 2, 3, 4, 5], 1.0).dtype == np.float64
    assert theory.shrinkage_factors(np.float32([1.0, 2.0]), 1.0).dtype == np.float64
    # read-only, Fortran-ordered, strided, big-endian inputs; never modified
    Hf = np.asfortranarray(H)
    Hf.setflags(write=False)
    big = np.zeros((5, 10))
    big[:, ::2] = H
    w_ro = w_star.astype(">f8")
    w_ro.setflags(write=False)
    for Hx in (Hf, big[:, ::2]):
        assert_allclose(theory.quadratic_shrinkage(Hx, w_ro, ALPHAS), ref, rtol=1e-12, atol=1e-14)
    assert_array_equal(Hf, H)
    assert_array_equal(w_ro, w_star)


def test_tolerances_symmetry_and_tiny_negative_eigenvalues():
    H, w_star = make_hessian(4, 3, seed=5)
    rng = np.random.default_rng(0)
    E = rng.standard_normal((4, 4))
    # asymmetry within HESSIAN_RTOL: the symmetric part is used
    Hn = H + 1e-12 * np.linalg.norm(H) * E / np.linalg.norm(E)
    assert_allclose(theory.quadratic_shrinkage(Hn, w_star, 0.5),
                    theory.quadratic_shrinkage(0.5 * (Hn + Hn.T), w_star, 0.5), rtol=1e-14)
    with pytest.raises(ValueError, match="hessian must be symmetric"):
        theory.quadratic_shrinkage(H + 1e-8 * np.linalg.norm(H) * E, w_star, 0.5)
    # tiny negative eigenvalue (1e-14 relative) clipped to 0; a larger one rejected
    Q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    lam = np.array([2.0, 1.0, 0.5, -1e-14])
    out = theory.quadratic_shrinkage((Q * lam) @ Q.T, w_star, 0.0)
    assert_allclose(out, Q[:, :3] @ (Q[:, :3].T @ w_star), atol=1e-12)
    assert_array_equal(theory.shrinkage_factors(lam, 0.0), [1.0, 1.0, 1.0, 0.0])
    lam[-1] = -1e-8
    with pytest.raises(ValueError, match="hessian must be positive semi-definite"):
        theory.quadratic_shrinkage((Q * lam) @ Q.T, w_star, 0.0)
    with pytest.raises(ValueError, match=r"eigenvalues must be non-negative .*eigenvalues\[3\]"):
        theory.shrinkage_factors(lam, 1.0)
    # float32 data get the float32 tolerance
    H32 = (Q * [2.0, 1.0, 0.5, -1e-6]) @ Q.T
    theory.quadratic_shrinkage(H32.astype(np.float32), w_star, 1.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        theory.quadratic_shrinkage(H32, w_star, 1.0)


# -- early stopping ------------------------------------------------------------------------------
@pytest.mark.parametrize("p, rank", [(1, 1), (6, 6), (8, 3)])
@pytest.mark.parametrize("lr_times_lam_max", [0.05, 0.5, 1.0, 1.5, 1.99])
def test_early_stopping_path_matches_gradient_descent(p, rank, lr_times_lam_max):
    H, w_star = make_hessian(p, rank, seed=p + rank)
    lr = lr_times_lam_max / np.linalg.eigvalsh(H).max()
    steps = np.array([0, 1, 2, 3, 10, 57, 200])
    expected = gradient_descent(H, w_star, lr, steps.max())[steps]
    out = theory.early_stopping_path(H, w_star, lr, steps)
    assert out.shape == (steps.size, p)
    assert_allclose(out, expected, rtol=1e-9, atol=1e-11 * np.linalg.norm(w_star))
    assert_allclose(theory.early_stopping_path(H, w_star, lr, 3), expected[3], rtol=1e-9,
                    atol=1e-12)


def test_early_stopping_converges_to_the_projection():
    H, w_star = make_hessian(6, 4, seed=9, lam_min=1.0)
    lr = 1.0 / np.linalg.eigvalsh(H).max()
    out = theory.early_stopping_path(H, w_star, lr, 10**6)
    assert_allclose(out, theory.quadratic_shrinkage(H, w_star, 0.0), atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 1e3), min_size=1, max_size=6),
       st.floats(1e-8, 1.0), st.integers(0, 10**6))
def test_early_stopping_factors_in_unit_interval_and_monotone(lam, lr_scale, t):
    lam = np.array(lam)
    lr = lr_scale / max(lam.max(), 1e-300)  # lr <= 1 / lam_max
    steps = np.array([t, t + 1, 2 * t + 5])
    f = theory.early_stopping_factors(lam, lr, steps)
    assert ((f >= 0) & (f <= 1)).all()
    assert (np.diff(f, axis=0) >= 0).all()
    assert_array_equal(f[:, lam == 0], 0.0)


def test_early_stopping_factors_values_and_stability():
    lam = np.array([4.0, 1.0, 0.25, 0.0])
    lr = 0.1
    steps = np.arange(0, 30)
    expected = 1 - (1 - lr * lam) ** steps[:, None]  # fine here: lr * lam is not tiny
    f = theory.early_stopping_factors(lam, lr, steps)
    assert_allclose(f, expected, rtol=1e-13, atol=1e-15)
    assert_array_equal(f[0], 0.0)
    # tiny lr * lam: 1 - (1 - x)^3 = 3x - 3x^2 + x^3 to full precision (naive form loses it)
    x = np.array([1e-8, 1e-12, 1e-16, 1e-200])
    f3 = theory.early_stopping_factors(x, 1.0, 3)
    assert_allclose(f3, 3 * x - 3 * x**2 + x**3, rtol=1e-14)
    # huge t: saturates at 1 without overflow warnings
    assert_allclose(theory.early_stopping_factors([1.0, 1e-6], 0.5, 1e300), [1.0, 1.0])
    # lr * lam == 1 reaches the optimum in one step; (1, 2): oscillating convergence
    assert_array_equal(theory.early_stopping_factors([2.0], 0.5, [0, 1, 7]), [[0.0], [1.0], [1.0]])
    g = theory.early_stopping_factors([1.5], 1.0, np.arange(6))[:, 0]
    assert_allclose(g, 1 - (-0.5) ** np.arange(6), rtol=1e-15)
    assert (g[1::2] > 1).all()


def test_ridge_and_early_stopping_agree_at_the_equivalent_alpha():
    """For lr lam <= 0.01: 0 <= f_es - f_ridge <= 0.2036 + lr lam / (e (1 - lr lam)) < 0.21,
    and both are u + O(u^2) (u = lr t lam) for small u, 1 - O(1/u) for large u."""
    lam = np.geomspace(1e-4, 1.0, 60)
    lr = 0.01 / lam.max()
    steps = np.unique(np.geomspace(1, 1e7, 50).astype(int))
    alphas = theory.equivalent_alpha(lr, steps)
    es = theory.early_stopping_factors(lam, lr, steps)
    ridge = theory.shrinkage_factors(lam, alphas)
    diff = es - ridge
    assert (diff >= -1e-15).all()
    assert diff.max() < 0.21
    assert diff.max() > 0.19  # the bound is attained near u = 2.5: it is not loose
    u = lr * steps[:, None] * lam
    small, large = u < 1e-2, u > 1e2
    assert (np.abs(diff[small]) <= u[small] ** 2).all()
    assert (np.abs(diff[large]) <= 1 / u[large]).all()
    # the same on the optimum itself (Q is orthogonal: the error is at most 0.21 ||w*||)
    H, w_star = make_hessian(10, seed=4, lam_min=1e-3, lam_max=1.0)
    lr = 0.01
    steps = np.array([1, 10, 100, 1000, 10**4, 10**5])
    es_path = theory.early_stopping_path(H, w_star, lr, steps)
    ridge_path = theory.quadratic_shrinkage(H, w_star, theory.equivalent_alpha(lr, steps))
    err = np.linalg.norm(es_path - ridge_path, axis=1) / np.linalg.norm(w_star)
    assert (err < 0.21).all()


def test_equivalent_alpha():
    assert_array_equal(theory.equivalent_alpha(0.01, [0, 1, 10, 1000]),
                       [np.inf, 100.0, 10.0, 0.1])
    assert theory.equivalent_alpha(0.5, 4) == 0.5
    assert np.ndim(theory.equivalent_alpha(0.5, 4)) == 0
    assert theory.equivalent_alpha(np.array(0.5), np.int64(0)) == np.inf
    assert_array_equal(theory.equivalent_alpha(2, [1.0, 2.0]), [0.5, 0.25])


# -- warnings and errors -------------------------------------------------------------------------
@pytest.mark.parametrize("lr_times_lam_max", [2.0 + 1e-9, 2.5, 100.0])
def test_divergence_warning(lr_times_lam_max):
    H, w_star = make_hessian(4, seed=1)
    lam = np.linalg.eigvalsh(H)
    lr = lr_times_lam_max / lam.max()
    with pytest.warns(RuntimeWarning, match="gradient descent does not converge") as record:
        out = theory.early_stopping_path(H, w_star, lr, [0, 1, 5])
    assert record[0].filename == __file__  # points at the caller
    expected = gradient_descent(H, w_star, lr, 5)[[0, 1, 5]]
    assert_allclose(out, expected, rtol=1e-9, atol=1e-12)
    with pytest.warns(RuntimeWarning, match=r"lr=.* >= 2 / lam_max") as record:
        theory.early_stopping_factors(lam, lr, 10**6)  # overflows to inf without more warnings
    assert record[0].filename == __file__
    assert len(record) == 1


def test_divergence_warning_at_the_boundary():
    """lr = 2 / lam_max exactly: the steepest direction oscillates forever, factor 0, 2, 0..."""
    with pytest.warns(RuntimeWarning, match="does not converge"):
        f = theory.early_stopping_factors([1.0, 0.5], 2.0, [0, 1, 2, 3])
    assert_array_equal(f[:, 0], [0.0, 2.0, 0.0, 2.0])
    with pytest.warns(RuntimeWarning, match="does not converge"):
        theory.early_stopping_path(np.diag([1.0, 0.5]), [1.0, 1.0], 2.0, 3)


def test_no_warning_below_the_divergence_threshold():
    lam = np.array([1.0, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        theory.early_stopping_factors(lam, 1.999, 100)
        theory.early_stopping_path(np.diag(lam), [1.0, 1.0], 1.999, 100)
        theory.early_stopping_factors(np.zeros(2), 1e6, 100)  # lam_max = 0: nothing moves


H_OK, W_OK = make_hessian(3, seed=0)


@pytest.mark.parametrize("hessian, exc, match", [
    ([[1.0, 1.0], [0.0, 1.0]], ValueError, r"hessian must be symmetric: \|\|H - H\^T\|\|_F"),
    (np.diag([1.0, 2.0, -0.5]), ValueError,
     r"hessian must be positive semi-definite: its smallest eigenvalue -0.5 is below"),
    (-np.eye(3), ValueError, "hessian must be positive semi-definite"),
    (np.where(np.eye(3) > 0, np.nan, H_OK), ValueError, "Input hessian contains NaN"),
    (np.where(np.eye(3) > 0, np.inf, H_OK), ValueError, "Input hessian contains infinity"),
    (np.ones((3, 2)), ValueError, r"hessian must be a square matrix, got .* shape \(3, 2\)"),
    (np.ones(3), ValueError, "hessian must be 2-D"),
    (np.ones((3, 3, 1)), ValueError, "hessian must be 2-D"),
    (np.empty((0, 0)), ValueError, "hessian must have at least one row and column"),
    (H_OK + 1j, ValueError, "Complex data not supported: hessian"),
    (None, TypeError, "hessian must be an array-like of numbers, got None"),
    ("abc", TypeError, "hessian must be an array-like of numbers, got str"),
])
def test_bad_hessian(hessian, exc, match):
    with pytest.raises(exc, match=match):
        theory.quadratic_shrinkage(hessian, W_OK, 1.0)
    with pytest.raises(exc, match=match):
        theory.early_stopping_path(hessian, W_OK, 0.1, 3)


@pytest.mark.parametrize("w_star, match", [
    (np.ones(4), r"w_star must have one entry per row of hessian: expected shape \(3,\), got "
                 r"shape \(4,\)"),
    (np.ones((3, 1)), "w_star must be 1-D"),
    (2.0, "w_star must be 1-D"),
    ([1.0, np.nan, 0.0], "Input w_star contains NaN"),
    ([1.0, -np.inf, 0.0], "Input w_star contains infinity"),
])
def test_bad_w_star(w_star, match):
    with pytest.raises(ValueError, match=match):
        theory.quadratic_shrinkage(H_OK, w_star, 1.0)
    with pytest.raises(ValueError, match=match):
        theory.early_stopping_path(H_OK, w_star, 0.1, 3)


@pytest.mark.parametrize("alphas, exc, match", [
    ([1.0, -1.0], ValueError, r"alphas must be non-negative, got alphas\[1\]=-1.0"),
    (-0.5, ValueError, r"alphas must be non-negative, got alphas\[0\]=-0.5"),
    ([], ValueError, "alphas must not be empty"),
    ([np.nan], ValueError, "Input alphas contains NaN"),
    ("a", TypeError, "alphas must be"),
])
def test_bad_alphas(alphas, exc, match):
    with pytest.raises(exc, match=match):
        theory.quadratic_shrinkage(H_OK, W_OK, alphas)
    with pytest.raises(exc, match=match):
        theory.shrinkage_factors([1.0, 2.0], alphas)
    with pytest.raises(exc, match=match):
        theory.effective_dof([1.0, 2.0], alphas)


@pytest.mark.parametrize("eigenvalues, exc, match", [
    ([1.0, -0.1], ValueError, r"eigenvalues must be non-negative .*got eigenvalues\[1\]=-0.1"),
    ([], ValueError, "eigenvalues must not be empty"),
    ([[1.0, 2.0]], ValueError, "eigenvalues must be 1-D"),
    (1.0, ValueError, "eigenvalues must be 1-D"),
    ([1.0, np.nan], ValueError, "Input eigenvalues contains NaN"),
    ([1.0, np.inf], ValueError, "Input eigenvalues contains infinity"),
    (None, TypeError, "eigenvalues must be an array-like of numbers"),
])
def test_bad_eigenvalues(eigenvalues, exc, match):
    for call in (lambda: theory.shrinkage_factors(eigenvalues, 1.0),
                 lambda: theory.effective_dof(eigenvalues, 1.0),
                 lambda: theory.early_stopping_factors(eigenvalues, 0.1, 1)):
        with pytest.raises(exc, match=match):
            call()


@pytest.mark.parametrize("lr, exc, match", [
    (0.0, ValueError, "lr must be a positive finite number, got lr=0.0"),
    (-0.1, ValueError, "lr must be a positive finite number, got lr=-0.1"),
    (np.nan, ValueError, "lr must be a positive finite number, got lr=nan"),
    (np.inf, ValueError, "lr must be a positive finite number, got lr=inf"),
    (True, TypeError, "lr must be a positive number, got bool"),
    ("0.1", TypeError, "lr must be a positive number, got str"),
    ([0.1], TypeError, "lr must be a positive number, got list"),
    (None, TypeError, "lr must be a positive number, got NoneType"),
])
def test_bad_lr(lr, exc, match):
    for call in (lambda: theory.early_stopping_factors([1.0], lr, 1),
                 lambda: theory.early_stopping_path(H_OK, W_OK, lr, 1),
                 lambda: theory.equivalent_alpha(lr, 1)):
        with pytest.raises(exc, match=match):
            call()


@pytest.mark.parametrize("steps, exc, match", [
    (-1, ValueError, r"steps must be non-negative integers, got steps\[0\]=-1.0"),
    ([0, 2.5], ValueError, r"steps must be non-negative integers, got steps\[1\]=2.5"),
    ([3, -2], ValueError, r"steps must be non-negative integers, got steps\[1\]=-2.0"),
    ([], ValueError, "steps must not be empty"),
    ([[1, 2]], ValueError, "steps must be 1-D"),
    ([1, np.nan], ValueError, "Input steps contains NaN"),
    (np.inf, ValueError, "Input steps contains infinity"),
    (True, TypeError, "steps must be a non-negative integer or a 1-D array of them, got bool"),
    ([True, False], TypeError, "steps must be non-negative integers, got an array of dtype bool"),
    ("3", TypeError, "steps must be a non-negative integer or a 1-D array of them, got str"),
    (None, TypeError, "steps must be a non-negative integer or a 1-D array of them, got NoneType"),
])
def test_bad_steps(steps, exc, match):
    for call in (lambda: theory.early_stopping_factors([1.0], 0.1, steps),
                 lambda: theory.early_stopping_path(H_OK, W_OK, 0.1, steps),
                 lambda: theory.equivalent_alpha(0.1, steps)):
        with pytest.raises(exc, match=match):
            call()


def test_public_names():
    assert sr.theory is theory
    assert "theory" in sr.__all__
    for name in theory.__all__:
        assert hasattr(theory, name)
    assert theory.HESSIAN_RTOL[np.dtype(np.float64)] == 1e-10
