"""Property tests: invariants that hold for any data."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import spectralridge as sr

from helpers import ridge_oracle

shapes = st.tuples(st.integers(2, 25), st.integers(1, 12))


@st.composite
def problems(draw):
    n, p = draw(shapes)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = 10.0 ** draw(st.integers(-3, 3))
    X = rng.standard_normal((n, p)) * scale
    y = rng.standard_normal(n)
    return X, y, rng


alpha_lists = st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(problems(), alpha_lists)
def test_shrinkage_in_unit_interval_and_monotone(problem, alphas):
    X, y, _ = problem
    alphas = np.sort(alphas)
    solver = sr.RidgeSolver(X, y)
    f = solver.shrinkage(alphas)
    assert ((f >= 0) & (f <= 1)).all()
    assert (np.diff(f, axis=0) <= 1e-15).all()
    dof = solver.dof(alphas)
    assert (np.diff(dof) <= 1e-12).all()
    assert (dof <= solver.rank + 1e-12).all()


@settings(max_examples=60, deadline=None)
@given(problems())
def test_alpha_to_zero_limit_is_least_squares(problem):
    X, y, _ = problem
    solver = sr.RidgeSolver(X, y, method="svd")
    W0, _ = ridge_oracle(X, y, 0.0)
    tiny = 1e-10 * (solver.singular_values[-1] ** 2 if solver.rank else 1.0)
    assert_allclose(solver.coef(tiny), W0, rtol=1e-6, atol=1e-9 * (np.abs(W0).max() + 1e-300))
    assert_allclose(solver.coef(0.0), W0, rtol=1e-7, atol=1e-9 * (np.abs(W0).max() + 1e-300))


@settings(max_examples=60, deadline=None)
@given(problems(), alpha_lists)
def test_invariant_to_row_order(problem, alphas):
    X, y, rng = problem
    perm = rng.permutation(X.shape[0])
    a = sr.RidgeSolver(X, y)
    b = sr.RidgeSolver(X[perm], y[perm])
    scale = np.abs(a.coef(alphas)).max() + 1e-300
    assert_allclose(b.coef(alphas), a.coef(alphas), rtol=1e-7, atol=1e-9 * scale)
    assert_allclose(b.dof(alphas), a.dof(alphas), rtol=1e-9, atol=1e-12)
