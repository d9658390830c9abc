"""The decompositions on hard inputs: the rank rule, graded columns, extreme scales,
constant columns, float32 accuracy and the dof root finder."""

from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose

import spectralridge as sr
from spectralridge import _spectrum, stats

from helpers import make_data, ridge_oracle

METHODS = ["auto", "svd", "gram", "kernel"]


def equilibrated_ridge(X, y, alpha):
    """Ridge on centred data through the column-equilibrated normal equations: accurate
    whatever the spread of the column scales (an oracle independent of any SVD)."""
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    d = np.linalg.norm(Xc, axis=0)
    Xn = Xc / d
    z = np.linalg.solve(Xn.T @ Xn + alpha * np.diag(1.0 / d ** 2), Xn.T @ yc)
    return z / d


def exact_wide_ridge(X, y, alpha):
    """Ridge on centred wide data in exact rational arithmetic (the kernel form
    ``Xc^T (Xc Xc^T + alpha I)^-1 yc``), rounded to float64 at the end."""
    n, p = X.shape
    F = [[Fraction(float(v)) for v in row] for row in X]
    mean = [sum(F[i][j] for i in range(n)) / n for j in range(p)]
    Xc = [[F[i][j] - mean[j] for j in range(p)] for i in range(n)]
    ym = sum(Fraction(float(v)) for v in y) / n
    yc = [Fraction(float(v)) - ym for v in y]
    A = [[sum(Xc[i][j] * Xc[k][j] for j in range(p)) + (Fraction(alpha) if i == k else 0)
          for k in range(n)] + [yc[i]] for i in range(n)]
    for c in range(n):  # Gauss-Jordan, exact
        pivot = next(r for r in range(c, n) if A[r][c] != 0)
        A[c], A[pivot] = A[pivot], A[c]
        A[c] = [v / A[c][c] for v in A[c]]
        for r in range(n):
            if r != c and A[r][c] != 0:
                A[r] = [a - A[r][c] * b for a, b in zip(A[r], A[c])]
    z = [A[i][n] for i in range(n)]
    return np.array([float(sum(Xc[i][j] * z[i] for i in range(n))) for j in range(p)])


def test_graded_columns_of_wide_data():
    # columns scaled from 1e-6 to 1e6, n < p: the Jacobi SVD of X^T pivots rows and columns
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 14)) * np.logspace(-6, 6, 14)
    y = rng.standard_normal(8)
    for alpha in [1e-10, 1e-4, 1.0]:
        expected = exact_wide_ridge(X, y, alpha)
        coef = sr.RidgeSolver(X, y, method="svd").coef(alpha)
        np.testing.assert_array_less(np.abs(coef - expected), 1e-12 * np.abs(expected))


@pytest.mark.parametrize("seed", range(12))
def test_alphas_for_dof_on_a_single_feature(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((50, 1))
    y = 2 * X[:, 0] + rng.standard_normal(50)
    solver = sr.RidgeSolver(X, y)
    dofs = np.array([1.0, 0.9995, 0.5, 5e-4, 1e-9])
    assert_allclose(solver.dof(solver.alphas_for_dof(dofs)), dofs, rtol=1e-12)
    for cv in ("loo", "gcv", 5):
        result = sr.ridge_cv(X, y, cv=cv)  # the default grid comes from alphas_for_dof
        assert result.alphas.size == 30 and np.isfinite(result.scores).all()
    assert np.isfinite(sr.RidgeCV(alphas=None).fit(X, y).alpha_)


@pytest.mark.parametrize("rank", [1, 2, 5])
def test_alphas_for_dof_with_equal_singular_values(rank):
    Q, _ = np.linalg.qr(np.random.default_rng(rank).standard_normal((40, rank)))
    solver = sr.RidgeSolver(3.0 * Q, np.arange(40.0), fit_intercept=False)
    assert_allclose(solver.singular_values, 3.0, rtol=1e-13)
    dofs = rank * np.array([1 - 5e-4, 0.9, 0.5, 0.1, 5e-4, 1e-12])
    alphas = solver.alphas_for_dof(dofs)
    assert_allclose(alphas, 9.0 * (rank - dofs) / dofs, rtol=1e-12)
    assert_allclose(solver.dof(alphas), dofs, rtol=1e-12)
    assert solver.alphas_for_dof(float(rank)) == 0.0
    assert solver.loo().alphas.size == 30


def test_real_directions_are_kept_at_positive_alpha():
    # columns of scales 10^5.5 and 10^-5.5: the second singular value is 1e-11 of the first,
    # below the least-squares cutoff max(n, p) eps s_max, but real
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 2)) * [10 ** 5.5, 10 ** -5.5]
    y = X @ [1.0, 2.1e5] + rng.standard_normal(200_000)
    for alpha in [1e-6, 1.0, 100.0]:
        expected = equilibrated_ridge(X, y, alpha)
        for method in ("auto", "svd"):
            assert_allclose(sr.RidgeSolver(X, y, method=method).coef(alpha), expected,
                            rtol=1e-8)
    # one column 1e150 times the others: every other coefficient is still about 1
    X = rng.standard_normal((100, 4))
    X[:, 0] *= 1e150
    y = X[:, 1:].sum(axis=1) + 1e-150 * X[:, 0] + 0.1 * rng.standard_normal(100)
    expected = equilibrated_ridge(X, y, 1.0)
    assert 0.9 < expected[1:].min()
    for method in ("auto", "svd"):
        solver = sr.RidgeSolver(X, y, method=method)
        assert_allclose(solver.coef(1.0), expected, rtol=1e-9)
        assert solver.method == "svd" and solver.rank == 4


@pytest.mark.parametrize("wide", [False, True])
def test_graded_columns_take_the_jacobi_svd(wide):
    rng = np.random.default_rng(1)
    n, p = (12, 30) if wide else (60, 8)
    X = rng.standard_normal((n, p)) * np.logspace(-6, 6, p)
    y = rng.standard_normal(n)
    solver = sr.RidgeSolver(X, y, method="svd")
    U, s = solver._spectrum.U, solver.singular_values
    assert_allclose(U.T @ U, np.eye(s.size), atol=1e-13)
    Xc = X - X.mean(axis=0)
    assert_allclose((Xc @ solver._spectrum.V) / s, U, atol=1e-10)
    if not wide:
        for alpha in [1e-8, 1e-3, 1.0]:
            assert_allclose(solver.coef(alpha), equilibrated_ridge(X, y, alpha), rtol=1e-8)


def test_rank_rule_alpha_zero_is_least_squares_and_noise_is_dropped():
    # an exactly collinear column: its singular value is rounding noise, dropped at every alpha
    X, y = make_data(80, 5)
    X = np.column_stack([X, X[:, 0] - 2 * X[:, 3]])
    solver = sr.RidgeSolver(X, y, method="svd")
    assert solver.rank == 5
    W0, _ = ridge_oracle(X, y, 0.0)
    assert_allclose(solver.coef(0.0), W0, rtol=1e-10)
    assert_allclose(solver.coef(1e-14), W0, rtol=1e-8)
    # between the two cutoffs: kept for alpha > 0, dropped at alpha = 0
    rng = np.random.default_rng(2)
    X = rng.standard_normal((400, 3)) * [1.0, 1.0, 1e-14]
    y = rng.standard_normal(400)
    solver = sr.RidgeSolver(X, y, method="svd")
    assert solver.rank == 3 and solver._spectrum.ls_rank == 2
    assert_allclose(solver.dof(0.0), 2.0)
    assert_allclose(solver.coef(0.0), ridge_oracle(X, y, 0.0)[0], rtol=1e-10)
    tiny = 1e-30
    assert_allclose(solver.coef(tiny), equilibrated_ridge(X, y, tiny), rtol=1e-7)


@pytest.mark.parametrize("method", METHODS)
def test_extreme_scales_raise_a_clear_error_or_are_solved(method):
    X, y = make_data(30, 4) if method != "kernel" else make_data(4, 30)
    for scale, word in [(1e155, "large"), (1e-160, "small")]:
        with pytest.raises(ValueError, match=f"X is too {word}"):
            sr.RidgeSolver(X * scale, y, method=method).coef(1.0)
    # scaling X by c scales alpha by c^2 and the coefficients by 1 / c
    ref = sr.RidgeSolver(X, y, method=method)
    for c in [2.0 ** 480, 2.0 ** -480]:
        solver = sr.RidgeSolver(X * c, y, method=method)
        assert_allclose(solver.coef(c * c) * c, ref.coef(1.0), rtol=1e-10)
        assert np.isfinite(solver.coef(0.0)).all()


def test_extreme_scales_on_dask():
    da = pytest.importorskip("dask.array")
    from spectralridge.dask import DaskRidgeSolver
    X, y = make_data(40, 3)
    for method in ("svd", "gram"):
        with pytest.raises(ValueError, match="X is too large"):
            DaskRidgeSolver(da.from_array(X * 1e155, chunks=(20, 3)), y, method=method)


@pytest.mark.parametrize("value", [0.1, 1 / 3, 7.3e5, -2.2e-7])
@pytest.mark.parametrize("method", METHODS)
def test_constant_columns_centre_to_exactly_zero(value, method):
    rng = np.random.default_rng(4)
    n = 9 if method == "kernel" else 50
    X = np.column_stack([rng.standard_normal(n), np.full(n, value), rng.standard_normal(n)])
    y = rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    for weights in (None, w):
        solver = sr.RidgeSolver(X, y, sample_weight=weights, method=method)
        assert solver.rank == 2
        assert solver.coef(0.0)[1] == 0.0
        alone = sr.RidgeSolver(X[:, [1]], y, sample_weight=weights, method=method)
        assert alone.rank == 0 and alone.coef(0.0)[0] == 0.0
    with pytest.raises(ValueError, match="column 1 is constant"):
        stats.standardize_columns(X)


@pytest.mark.parametrize("method", ["auto", "svd", "gram"])
def test_float32_as_accurate_as_its_data_allow(method):
    # condition number 1e3 at alpha 0: the float32 result within 1e-5 of the float64
    # solution on the same (float32) data; scikit-learn's float32 svd solver reaches 2e-6
    rng = np.random.default_rng(0)
    n, p = 2000, 20
    U, _ = np.linalg.qr(rng.standard_normal((n, p)))
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    X = ((U * np.logspace(0, -3, p)) @ V.T * 100).astype(np.float32)
    y = (X @ rng.standard_normal(p) + 0.01 * rng.standard_normal(n)).astype(np.float32)
    ref = ridge_oracle(X, y, 0.0)[0]
    for alpha in [0.0, 1e-3]:
        ref = ridge_oracle(X, y, alpha)[0]
        coef = sr.RidgeSolver(X, y, method=method).coef(alpha)
        assert coef.dtype == np.float32
        assert np.linalg.norm(coef - ref) <= 1e-6 * np.linalg.norm(ref)


def test_float32_ridgecv_at_least_as_accurate_as_scikit_learn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = make_data(3000, 40, decay=3.0)
    X, y = X.astype(np.float32), y.astype(np.float32)
    alphas = np.logspace(-3, 2, 6)
    ours = sr.RidgeCV(alphas=alphas).fit(X, y)
    theirs = linear_model.RidgeCV(alphas=alphas).fit(X, y)
    assert ours.alpha_ == theirs.alpha_
    ref = ridge_oracle(X, y, ours.alpha_)[0]
    error = np.linalg.norm(ours.coef_ - ref) / np.linalg.norm(ref)
    assert error <= max(np.linalg.norm(theirs.coef_ - ref) / np.linalg.norm(ref), 1e-6)
