import numpy as np
import pytest

import spectralridge as sr

from helpers import make_data

X, y = make_data(20, 4)


@pytest.mark.parametrize("X_bad, exc, match", [
    (np.full((20, 4), np.nan), ValueError, "Input X contains NaN"),
    (np.where(np.eye(20, 4) > 0, np.inf, X), ValueError, "Input X contains infinity"),
    (X[:, 0], ValueError, "X must be 2-D, got an array of shape"),
    (X[None], ValueError, "X must be 2-D"),
    (np.empty((0, 4)), ValueError, r"Found array with 0 sample\(s\)"),
    (np.empty((20, 0)), ValueError, r"Found array with 0 feature\(s\)"),
    (X + 1j, ValueError, "Complex data not supported"),
    (np.full((20, 4), "a"), TypeError, "X must contain numbers"),
    (np.array([[object()] * 4] * 20), TypeError, "X must contain only numbers"),
    (None, TypeError, "X must be an array-like of numbers, got None"),
    ("abc", TypeError, "X must be an array-like of numbers, got str"),
    ([[1.0, 2.0], [3.0]], ValueError, "X could not be converted"),
])
def test_bad_X(X_bad, exc, match):
    with pytest.raises(exc, match=match):
        sr.RidgeSolver(X_bad, y)


@pytest.mark.parametrize("Y_bad, match", [
    (np.full(20, np.nan), "Input Y contains NaN"),
    (np.full(20, -np.inf), "Input Y contains infinity"),
    (np.ones((20, 2, 2)), "Y must be 1-D or 2-D"),
    (np.ones(19), "X and Y must have the same number of samples"),
    (np.ones((20, 0)), "Y must have at least one target"),
    (np.ones(20) * 1j, "Complex data not supported: Y"),
])
def test_bad_Y(Y_bad, match):
    with pytest.raises(ValueError, match=match):
        sr.RidgeSolver(X, Y_bad)


def test_sparse_y_is_a_type_error():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="Y must be a dense array"):
        sr.RidgeSolver(sparse.csr_matrix(X), sparse.csr_matrix(y[:, None]))


@pytest.mark.parametrize("w, match", [
    (-np.ones(20), r"sample_weight must be non-negative, got sample_weight\[0\]=-1.0"),
    (np.zeros(20), "all weights are zero"),
    (np.ones(19), r"one entry per sample: expected \(20,\), got shape \(19,\)"),
    (np.ones((20, 1)), "sample_weight must be 1-D"),
    (np.r_[np.nan, np.ones(19)], "Input sample_weight contains NaN"),
])
def test_bad_sample_weight(w, match):
    with pytest.raises(ValueError, match=match):
        sr.RidgeSolver(X, y, sample_weight=w)


def test_scalar_sample_weight_is_uniform():
    np.testing.assert_allclose(sr.RidgeSolver(X, y, sample_weight=3.0).coef(3.0),
                               sr.RidgeSolver(X, y).coef(1.0), rtol=1e-12)


@pytest.mark.parametrize("alphas, exc, match", [
    (-1.0, ValueError, r"alphas must be non-negative, got alphas\[0\]=-1.0"),
    ([1.0, 2.0, -3.0], ValueError, r"alphas\[2\]=-3.0"),
    ([], ValueError, "alphas must not be empty"),
    ([[1.0, 2.0]], ValueError, "alphas must be 1-D"),
    ([1.0, np.nan], ValueError, "Input alphas contains NaN"),
    (np.inf, ValueError, "Input alphas contains infinity"),
    ("1.0", TypeError, "alphas must be"),
    (None, TypeError, "alphas must be"),
    (True, TypeError, "alphas must be"),
    (1j, TypeError, "alphas must be a non-negative number or a 1-D array of them, got complex"),
    ([1j], ValueError, "Complex data not supported"),
])
def test_bad_alphas(alphas, exc, match):
    solver = sr.RidgeSolver(X, y)
    for call in (solver.coef, solver.intercept, solver.dof, solver.shrinkage,
                 lambda a: solver.predict(X, a)):
        with pytest.raises(exc, match=match):
            call(alphas)


def test_bad_method_and_flags():
    with pytest.raises(ValueError, match=r"method must be one of .* got 'qr'"):
        sr.RidgeSolver(X, y, method="qr")
    with pytest.raises(TypeError, match="fit_intercept must be True or False, got 'yes'"):
        sr.RidgeSolver(X, y, fit_intercept="yes")


def test_predict_checks_features():
    solver = sr.RidgeSolver(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but the solver is expecting 4"):
        solver.predict(X[:, :3], 1.0)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        solver.predict(np.full((2, 4), np.nan), 1.0)
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        solver.predict(np.empty((0, 4)), 1.0)


def test_bad_dofs():
    solver = sr.RidgeSolver(X, y)
    with pytest.raises(ValueError, match=r"dofs must lie in \(0, rank\] = \(0, 4\], got dofs\[1\]=5.0"):
        solver.alphas_for_dof([1.0, 5.0])
    with pytest.raises(ValueError, match=r"dofs\[0\]=0.0"):
        solver.alphas_for_dof(0.0)


def test_blas_integer_overflow_is_a_clear_error():
    # a broadcast view: 2**31 samples of one feature without allocating them
    huge = np.broadcast_to(np.float32(1.0), (2**31, 1))
    with pytest.raises(ValueError, match="n_samples is 2147483648, more than the 2147483647"):
        sr.RidgeSolver(huge, huge[:, 0])
