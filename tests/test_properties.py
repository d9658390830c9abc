"""Property tests: invariants that hold for any data."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import spectralridge as sr

from helpers import ridge_oracle

shapes = st.tuples(st.integers(2, 25), st.integers(1, 12))
KINDS = ("gaussian", "one feature", "equal singular values", "graded columns",
         "constant column")


@st.composite
def problems(draw, kinds=KINDS):
    """(X, y, rng) of one of `kinds`, with a target scale from 1e-100 to 1e100."""
    kind = draw(st.sampled_from(kinds))
    n, p = draw(shapes)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = 10.0 ** draw(st.integers(-3, 3))
    if kind == "one feature":
        p = 1
    X = rng.standard_normal((n, p)) * scale
    if kind == "equal singular values" and n > p:
        Q, _ = np.linalg.qr(rng.standard_normal((n, p)))
        X = Q * scale  # no intercept makes these the singular values exactly
    elif kind == "graded columns":
        X *= 10.0 ** rng.uniform(-6, 6, p)
    elif kind == "constant column":
        X[:, rng.integers(p)] = draw(st.sampled_from([0.1, 1 / 3, -7.7e5, 2.5]))
    y = rng.standard_normal(n) * 10.0 ** draw(st.integers(-100, 100))
    return X, y, rng


def equilibrated_ridge(X, y, alpha):
    """Ridge on centred data through the column-equilibrated normal equations."""
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    d = np.linalg.norm(Xc, axis=0)
    keep = d > 1e-14 * np.abs(X).max(axis=0)  # constant columns carry nothing
    out = np.zeros(X.shape[1])
    Xn = Xc[:, keep] / d[keep]
    z = np.linalg.solve(Xn.T @ Xn + alpha * np.diag(1.0 / d[keep] ** 2), Xn.T @ yc)
    out[keep] = z / d[keep]
    return out


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
@given(problems(kinds=[k for k in KINDS if k != "graded columns"]))
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


@settings(max_examples=80, deadline=None)
@given(problems(), st.floats(1e-12, 1.0 - 1e-12))
def test_alphas_for_dof_inverts_dof_on_every_spectrum(problem, fraction):
    X, y, _ = problem
    solver = sr.RidgeSolver(X, y)
    if solver.rank == 0:
        return
    dofs = solver.rank * np.array([fraction, 5e-4, 1 - 5e-4])
    assert_allclose(solver.dof(solver.alphas_for_dof(dofs)), dofs, rtol=1e-10)
    assert solver.default_alphas().size == 30


@settings(max_examples=80, deadline=None)
@given(problems(), alpha_lists)
def test_coefficients_against_equilibrated_normal_equations(problem, alphas):
    X, y, _ = problem
    alphas = np.asarray(alphas) * np.abs(X).max() ** 2
    solver = sr.RidgeSolver(X, y)
    for a, coef in zip(alphas, solver.coef(alphas)):
        expected = equilibrated_ridge(X, y, a)
        assert_allclose(coef, expected, rtol=1e-6, atol=1e-8 * np.abs(expected).max())


@settings(max_examples=60, deadline=None)
@given(problems(), st.integers(-120, 120))
def test_coefficients_scale_with_the_targets(problem, exponent):
    X, y, _ = problem
    c = 2.0 ** exponent
    a, b = sr.RidgeSolver(X, y), sr.RidgeSolver(X, y * c)
    assert_allclose(b.coef([0.1, 10.0]), c * a.coef([0.1, 10.0]), rtol=1e-12,
                    atol=1e-300)
