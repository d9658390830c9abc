"""spectralridge.stats against direct formulas, MASS's published values and fracridge."""

import warnings

import numpy as np
import pytest

import spectralridge as sr
from spectralridge import stats

from helpers import make_data


def _longley_mass():
    """MASS's example ``lm.ridge(GNP.deflator ~ ., longley)``: GNPDEFL on the others."""
    X, y, _ = sr.load_longley()
    return np.column_stack([X[:, 1:], y]), X[:, 0]


def _ols(X, y, fit_intercept=True):
    if fit_intercept:
        X, y = X - X.mean(axis=0), y - y.mean(axis=0)
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    return b, X @ b, y - X @ b


# -- HKB and Lawless-Wang ---------------------------------------------------------------------
def test_mass_published_values_on_longley():
    # MASS's documentation: select(lm.ridge(GNP.deflator ~ ., longley, ...)) prints
    # "modified HKB estimator is 0.006836982" and "modified L-W estimator is 0.05267247".
    X, y = _longley_mass()
    assert stats.hkb_alpha(X, y, standardize=True) == pytest.approx(0.006836982, rel=1e-7)
    lw = stats.lawless_wang_alpha(X, y, standardize=True)
    assert lw == pytest.approx(0.05267247, rel=1e-7)
    Z, _, _ = stats.standardize_columns(X)
    assert stats.hkb_alpha(Z, y) == pytest.approx(0.006836982, rel=1e-7)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_estimators_match_published_formulas_on_data_as_given(fit_intercept):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 5)) * [1.0, 10.0, 0.1, 3.0, 1.0] + 2.0
    Y = X @ rng.standard_normal((5, 3)) + rng.standard_normal((30, 3)) + 1.0
    n, p = X.shape
    hkb, lw = [], []
    for t in range(3):
        b, fit, resid = _ols(X, Y[:, t], fit_intercept)
        s2 = resid @ resid / (n - p - int(fit_intercept))
        hkb.append((p - 2) * s2 / (b @ b))
        lw.append(n * (p - 2) * s2 / (fit @ fit))
    np.testing.assert_allclose(stats.hkb_alpha(X, Y, fit_intercept=fit_intercept), hkb,
                               rtol=1e-10)
    np.testing.assert_allclose(stats.lawless_wang_alpha(X, Y, fit_intercept=fit_intercept), lw,
                               rtol=1e-10)
    one = stats.hkb_alpha(X, Y[:, 1], fit_intercept=fit_intercept)
    assert isinstance(one, float) and one == pytest.approx(hkb[1], rel=1e-10)


def test_mass_scaling_without_intercept_uses_root_mean_square():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 4)) + 1.0
    y = X @ [1.0, 2.0, 3.0, 4.0] + rng.standard_normal(20)
    Z = X / np.sqrt(np.mean(X ** 2, axis=0))
    assert stats.hkb_alpha(X, y, fit_intercept=False, standardize=True) == pytest.approx(
        stats.hkb_alpha(Z, y, fit_intercept=False), rel=1e-12)


def test_estimator_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at least 3 features.*n_features=2"):
        stats.hkb_alpha(rng.standard_normal((10, 2)), rng.standard_normal(10))
    with pytest.raises(ValueError, match=r"residual degrees of freedom.*5 - 4 - 1 = 0"):
        stats.lawless_wang_alpha(rng.standard_normal((5, 4)), rng.standard_normal(5))
    X = rng.standard_normal((10, 3))
    X[:, 1] = 2.0
    with pytest.raises(ValueError, match="X column 1 is constant"):
        stats.hkb_alpha(X, rng.standard_normal(10), standardize=True)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        stats.hkb_alpha(np.full((10, 3), np.nan), rng.standard_normal(10))


def test_standardize_columns_matches_numpy_and_weights():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 3)) * [1.0, 5.0, 0.2] + [1.0, -3.0, 7.0]
    Z, mean, scale = stats.standardize_columns(X)
    np.testing.assert_allclose(Z, (X - X.mean(axis=0)) / X.std(axis=0), rtol=1e-12)
    w = rng.uniform(0.5, 2.0, 12)
    Z, mean, scale = stats.standardize_columns(X, sample_weight=w)
    np.testing.assert_allclose(w @ Z, 0.0, atol=1e-12)
    np.testing.assert_allclose(w @ Z ** 2 / w.sum(), 1.0, rtol=1e-12)
    # integer weights are row repetitions
    Zr, _, _ = stats.standardize_columns(np.repeat(X, [1, 2] * 6, axis=0))
    Zw, _, _ = stats.standardize_columns(X, sample_weight=[1, 2] * 6)
    np.testing.assert_allclose(np.repeat(Zw, [1, 2] * 6, axis=0), Zr, rtol=1e-12)


# -- variance inflation factors ---------------------------------------------------------------
def _classical_vif(X):
    """1 / (1 - R_j^2), regressing each column on the others (with intercept)."""
    out = []
    for j in range(X.shape[1]):
        _, _, resid = _ols(np.delete(X, j, axis=1), X[:, j])
        xc = X[:, j] - X[:, j].mean()
        out.append((xc @ xc) / (resid @ resid))
    return np.array(out)


def test_vif_at_zero_is_classical_vif_on_longley():
    X, _, _ = sr.load_longley()
    np.testing.assert_allclose(stats.vif(X, 0.0), _classical_vif(X), rtol=1e-6)
    # published (car::vif of Employed ~ . in R's longley): GNP.deflator 135.5, GNP 1788.5,
    # Unemployed 33.6, Armed.Forces 3.6, Population 399.2, Year 759.0
    np.testing.assert_allclose(stats.vif(X, 0.0), [135.5, 1788.5, 33.6, 3.6, 399.2, 759.0],
                               rtol=0, atol=0.05)


def test_vif_matches_marquardt_formula_and_data_scale():
    rng = np.random.default_rng(4)
    z = rng.standard_normal(60)
    X = np.column_stack([z, z + 0.2 * rng.standard_normal(60), rng.standard_normal(60) * 5,
                         rng.standard_normal(60)]) + 3.0
    ks = np.array([0.0, 0.01, 0.3, 5.0])
    R = np.corrcoef(X, rowvar=False)
    for k, row in zip(ks, stats.vif(X, ks)):
        inv = np.linalg.inv(R + k * np.eye(4))
        np.testing.assert_allclose(row, np.diag(inv @ R @ inv), rtol=1e-9)
    Xc = X - X.mean(axis=0)
    G = Xc.T @ Xc
    alphas = np.array([0.0, 1.0, 100.0])
    for a, row in zip(alphas, stats.vif(sr.RidgeSolver(X, rng.standard_normal(60)), alphas,
                                        scale="data")):
        inv = np.linalg.inv(G + a * np.eye(4))
        np.testing.assert_allclose(row, np.diag(G) * np.diag(inv @ G @ inv), rtol=1e-9)
    # a solver and its design give the same factors; standardized data: k = alpha / n
    Z, _, _ = stats.standardize_columns(X)
    np.testing.assert_allclose(stats.vif(sr.RidgeSolver(Z, z), 60 * ks, scale="data"),
                               stats.vif(X, ks), rtol=1e-9)
    np.testing.assert_allclose(stats.vif(sr.RidgeSolver(X, z), ks), stats.vif(X, ks),
                               rtol=1e-12)


def test_vif_with_weights_and_exact_collinearity():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20, 3))
    w = rng.uniform(0.1, 3.0, 20)
    solver = sr.RidgeSolver(X, rng.standard_normal(20), sample_weight=w)
    xm = w @ X / w.sum()
    Xw = np.sqrt(w)[:, None] * (X - xm)
    G = Xw.T @ Xw
    inv = np.linalg.inv(G + 2.0 * np.eye(3))
    np.testing.assert_allclose(stats.vif(solver, 2.0, scale="data"),
                               np.diag(G) * np.diag(inv @ G @ inv), rtol=1e-10)
    Xs = np.column_stack([X[:, 0], 2 * X[:, 0], X[:, 2]])
    v = stats.vif(Xs, [0.0, 0.1])
    assert np.isinf(v[0, :2]).all() and np.isfinite(v[0, 2]) and np.isfinite(v[1]).all()


def test_vif_errors():
    with pytest.raises(ValueError, match="scale must be one of"):
        stats.vif(np.eye(3), 1.0, scale="corr")
    with pytest.raises(ValueError, match="alphas must be non-negative"):
        stats.vif(np.eye(3), -1.0)
    with pytest.raises(ValueError, match="X column 0 is constant"):
        stats.vif(np.ones((4, 2)), 1.0)


# -- glmnet -----------------------------------------------------------------------------------
def _glmnet_ridge(X, y, lam, w=None, standardize=True, intercept=True):
    """glmnet's gaussian ridge as its code computes it (weights normalized, x and y
    standardized, lambda / ys), solved from the normal equations of that objective."""
    n, p = X.shape
    w = np.ones(n) if w is None else np.asarray(w, float)
    w = w / w.sum()
    xm = w @ X if intercept else np.zeros(p)
    if standardize:
        xs = np.sqrt(w @ (X - w @ X) ** 2)
    else:
        xs = np.ones(p)
    Z = (X - xm) / xs
    ym = w @ y if intercept else 0.0
    ys = np.sqrt(w @ (y - ym) ** 2)
    t = (y - ym) / ys
    # minimize 1/2 sum w (t - b0 - Z beta)^2 + (lam / ys) / 2 ||beta||^2 over (b0, beta)
    A = np.column_stack([np.ones(n), Z]) if intercept else Z
    P = np.eye(A.shape[1]) * (lam / ys)
    if intercept:
        P[0, 0] = 0.0
    theta = np.linalg.solve(A.T @ (w[:, None] * A) + P, A.T @ (w * t))
    beta = theta[int(intercept):] * ys / xs
    return beta


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_glmnet_lambda_conversion_solves_glmnets_objective(intercept, weighted):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((40, 5)) * [1.0, 3.0, 0.5, 10.0, 1.0] + 1.0
    Y = X @ rng.standard_normal((5, 2)) + rng.standard_normal((40, 2)) * [1.0, 5.0] + 2.0
    w = rng.uniform(0.2, 4.0, 40) if weighted else None
    lambdas = np.array([0.01, 0.3, 5.0])
    alphas = stats.glmnet_lambda_to_alpha(lambdas, Y, sample_weight=w, fit_intercept=intercept)
    assert alphas.shape == (3, 2)
    for standardize in (True, False):
        if standardize and intercept:
            Z, _, scale = stats.standardize_columns(X, sample_weight=w)
        else:
            Z, scale = X, np.ones(5)
        if standardize and not intercept:
            continue  # glmnet divides by the centred sd without centring: not a column scale
        solver = sr.RidgeSolver(Z, Y, sample_weight=w, fit_intercept=intercept)
        for i, lam in enumerate(lambdas):
            for t in range(2):
                ours = solver.coef(alphas[i, t])[:, t] / scale
                ref = _glmnet_ridge(X, Y[:, t], lam, w, standardize, intercept)
                np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)
    back = stats.alpha_to_glmnet_lambda(alphas[:, 1], Y[:, 1], sample_weight=w,
                                        fit_intercept=intercept)
    np.testing.assert_allclose(back, lambdas, rtol=1e-14)


def test_glmnet_conversion_matches_the_known_closed_form():
    # without intercept or standardization glmnet gives (X^T X + n lambda / s_y I)^-1 X^T y
    # with s_y = sqrt(mean(y^2)) (Cross Validated 129179)
    rng = np.random.default_rng(7)
    X = rng.standard_normal((50, 4))
    y = X @ [1.0, -1.0, 0.5, 2.0] + rng.standard_normal(50)
    lam = 0.7
    s_y = np.sqrt(np.mean(y ** 2))
    ref = np.linalg.solve(X.T @ X + 50 * lam / s_y * np.eye(4), X.T @ y)
    alpha = stats.glmnet_lambda_to_alpha(lam, y, fit_intercept=False)
    assert isinstance(alpha, float) or np.ndim(alpha) == 0
    np.testing.assert_allclose(sr.RidgeSolver(X, y, fit_intercept=False).coef(alpha), ref,
                               rtol=1e-10)


def test_glmnet_errors():
    with pytest.raises(ValueError, match="lambdas must be non-negative"):
        stats.glmnet_lambda_to_alpha([-1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="Y column 0 is constant"):
        stats.glmnet_lambda_to_alpha(1.0, [3.0, 3.0, 3.0])


# -- Huth et al. ------------------------------------------------------------------------------
def _huth_ridge(stim, resp, a, normalpha=False):
    """The filter of Huth et al.'s ridge.py: V diag(S / (S^2 + a^2)) U^T resp."""
    U, S, Vh = np.linalg.svd(stim, full_matrices=False)
    if normalpha:
        a = a * S[0]
    return Vh.T @ np.diag(S / (S ** 2 + a ** 2)) @ U.T @ resp


def test_huth_alpha_is_squared():
    rng = np.random.default_rng(8)
    stim = rng.standard_normal((80, 6))
    stim = (stim - stim.mean(0)) / stim.std(0)
    resp = stim @ rng.standard_normal((6, 3)) + rng.standard_normal((80, 3))
    resp = (resp - resp.mean(0)) / resp.std(0)
    solver = sr.RidgeSolver(stim, resp, fit_intercept=False)
    huth = np.array([0.5, 3.0, 20.0])
    ours = stats.huth_alpha_to_alpha(huth)
    s_max = np.linalg.svd(stim, compute_uv=False)[0]
    normed = stats.huth_alpha_to_alpha(huth, s_max=s_max)
    for a, alpha, alpha_n in zip(huth, ours, normed):
        np.testing.assert_allclose(solver.coef(alpha), _huth_ridge(stim, resp, a), rtol=1e-10)
        np.testing.assert_allclose(solver.coef(alpha_n), _huth_ridge(stim, resp, a, True),
                                   rtol=1e-10)
    np.testing.assert_allclose(stats.alpha_to_huth_alpha(normed, s_max=s_max), huth,
                               rtol=1e-14)
    assert stats.huth_alpha_to_alpha(2.0) == 4.0
    with pytest.raises(ValueError, match="s_max must be a positive finite number"):
        stats.huth_alpha_to_alpha(1.0, s_max=0.0)


# -- fracridge --------------------------------------------------------------------------------
def test_fraction_round_trip_and_direct_norms():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((60, 8)) @ np.diag(np.logspace(0, -3, 8))
    Y = X @ rng.standard_normal((8, 3)) * 100 + rng.standard_normal((60, 3))
    solver = sr.RidgeSolver(X, Y)
    fracs = np.array([0.0, 0.05, 0.3, 0.5, 0.9, 0.999, 1.0])
    alphas = stats.fraction_to_alpha(solver, fracs)
    assert alphas.shape == (7, 3)
    assert (alphas[0] == np.inf).all() and (alphas[-1] == 0).all()
    assert (np.diff(alphas, axis=0) <= 0).all()
    np.testing.assert_allclose(stats.alpha_to_fraction(solver, alphas[1:]), np.repeat(
        fracs[1:, None], 3, axis=1), rtol=1e-10)
    # one alpha for every target
    shared = stats.alpha_to_fraction(solver, [0.0, alphas[3, 0]])
    assert shared.shape == (2, 3) and shared[1, 0] == pytest.approx(0.5, rel=1e-10)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    ols = np.linalg.lstsq(Xc, Yc, rcond=None)[0]
    for i in range(1, 6):
        for t in range(3):
            w = np.linalg.solve(Xc.T @ Xc + alphas[i, t] * np.eye(8), Xc.T @ Yc[:, t])
            assert np.linalg.norm(w) / np.linalg.norm(ols[:, t]) == pytest.approx(fracs[i],
                                                                                  rel=1e-8)
    one = stats.fraction_to_alpha(sr.RidgeSolver(X, Y[:, 0]), 0.5)
    assert np.ndim(one) == 0 and one == pytest.approx(alphas[3, 0], rel=1e-12)


def test_fraction_errors_and_zero_target():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((10, 3))
    solver = sr.RidgeSolver(X, np.column_stack([np.ones(10), rng.standard_normal(10)]))
    a = stats.fraction_to_alpha(solver, [0.5])
    assert np.isnan(a[0, 0]) and np.isfinite(a[0, 1])
    with pytest.raises(ValueError, match=r"fractions must lie in \[0, 1\]"):
        stats.fraction_to_alpha(solver, [1.5])
    with pytest.raises(TypeError, match="solver must be a RidgeSolver"):
        stats.fraction_to_alpha(X, [0.5])


def test_fraction_matches_fracridge():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fracridge = pytest.importorskip("fracridge")
    rng = np.random.default_rng(11)
    X = rng.standard_normal((100, 10))
    Y = X @ rng.standard_normal((10, 4)) + rng.standard_normal((100, 4)) * 3
    fracs = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coef, their_alphas = fracridge.fracridge(X, Y, fracs, jit=False)
    solver = sr.RidgeSolver(X, Y, fit_intercept=False)
    ours = stats.fraction_to_alpha(solver, fracs)
    # fracridge interpolates log(1 + alpha) on a grid of step 10^0.2: agreement to a few %
    np.testing.assert_allclose(ours, their_alphas, rtol=0.05)
    # and its coefficients are ridge at its own alphas, whose fraction we compute exactly
    for i in range(fracs.size):
        for t in range(4):
            np.testing.assert_allclose(solver.coef(their_alphas[i, t])[:, t], coef[:, i, t],
                                       rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(stats.alpha_to_fraction(solver, their_alphas),
                               np.repeat(fracs[:, None], 4, axis=1), atol=0.02)


def test_solver_with_penalty_factor_is_refused():
    X, y = make_data(30, 4)
    solver = sr.RidgeSolver(X, y, penalty_factor=[1.0, 2.0, 3.0, 4.0])
    for call, name in ((lambda: stats.vif(solver, [1.0]), "vif"),
                       (lambda: stats.alpha_to_fraction(solver, [1.0]), "alpha_to_fraction"),
                       (lambda: stats.fraction_to_alpha(solver, [0.5]), "fraction_to_alpha")):
        with pytest.raises(ValueError, match=f"{name}: a solver with penalty_factor"):
            call()
