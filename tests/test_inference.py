"""Standard errors, t statistics, p-values and prediction standard errors against explicit
hat-matrix and covariance formulas (spectralridge.stats.coef_inference, prediction_se)."""
import numpy as np
import pytest
from scipy import stats as sps

import spectralridge as sr
from spectralridge.stats import coef_inference, prediction_se

from helpers import RTOL, make_data


def _explicit(X, Y, alpha, fit_intercept, w, c, noise_variance=None):
    """The linear maps y -> W, y -> b and y -> yhat as dense matrices, their covariances
    under Var(e_i) = sigma^2 / w_i, and sigma^2 = RSS / (n - tr(2H - H H^T)) with the hat
    matrix H of the whitened problem (the intercept included)."""
    X, Y = np.asarray(X, float), np.asarray(Y, float).reshape(X.shape[0], -1)
    n, p = X.shape
    w = np.ones(n) if w is None else np.asarray(w, float)
    c = np.ones(p) if c is None else np.asarray(c, float)
    Wd = np.diag(w)
    P = np.eye(n) - (np.outer(np.ones(n), w) / w.sum() if fit_intercept else 0.0)  # y -> y - ym
    Xc = P @ X
    A = np.linalg.solve(Xc.T @ Wd @ Xc + alpha * np.diag(c), Xc.T @ Wd @ P)    # y -> W
    mean = np.outer(np.ones(n), w) / w.sum() if fit_intercept else np.zeros((n, n))
    fit = mean + Xc @ A                                                        # y -> yhat
    sw = np.sqrt(w)
    H = sw[:, None] * fit / sw[None, :]                                        # whitened hat
    df = n - np.trace(2 * H - H @ H.T)
    rss = np.einsum("i,ik->k", w, np.square(Y - fit @ Y))
    sigma2 = rss / df if noise_variance is None else np.broadcast_to(noise_variance,
                                                                     rss.shape)
    cov = A @ np.diag(1 / w) @ A.T                                             # / sigma^2
    b_map = np.zeros(n)
    if fit_intercept:
        xm = w @ X / w.sum()
        b_map = w / w.sum() - xm @ A
    b_var = b_map @ np.diag(1 / w) @ b_map
    return A @ Y, cov, sigma2, df, b_map @ Y, b_var, A, b_map


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("penalized", [False, True])
def test_matches_explicit_hat_matrix_and_covariance(dtype, fit_intercept, weighted, penalized):
    rng = np.random.default_rng(3)
    n, p, k = 30, 5, 2
    X, Y = make_data(n, p, k, seed=4)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    c = rng.uniform(0.5, 4.0, p) if penalized else None
    alphas = np.array([0.0, 0.3, 7.0, 200.0])
    solver = sr.RidgeSolver(X.astype(dtype), Y.astype(dtype), fit_intercept=fit_intercept,
                            sample_weight=w, penalty_factor=c)
    inf = coef_inference(solver, alphas, level=0.9, covariance=True)
    rtol = 1e-8 if dtype == np.float64 else 2e-3
    X_new = rng.standard_normal((4, p)) + 1.0
    pse = prediction_se(solver, X_new, alphas)
    pse_obs = prediction_se(solver, X_new, alphas, observation=True)
    for i, a in enumerate(alphas):
        W, cov, sigma2, df, b, b_var, A, b_map = _explicit(X.astype(dtype), Y.astype(dtype), a,
                                                           fit_intercept, w, c)
        se = np.sqrt(np.diag(cov)[:, None] * sigma2)
        np.testing.assert_allclose(inf.df_resid[i], df, rtol=1e-9)
        np.testing.assert_allclose(inf.noise_variance[i], sigma2, rtol=rtol)
        np.testing.assert_allclose(inf.coef[i], W, rtol=rtol, atol=rtol * np.abs(W).max())
        np.testing.assert_allclose(inf.se[i], se, rtol=rtol)
        np.testing.assert_allclose(inf.covariance[i], cov, rtol=1e-8,
                                   atol=1e-10 * np.abs(cov).max())
        np.testing.assert_allclose(inf.unscaled_variance[i], np.diag(cov), rtol=1e-8)
        t = W / se
        np.testing.assert_allclose(inf.t[i], t, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(inf.p_value[i], 2 * sps.t.sf(np.abs(t), df),
                                   rtol=max(rtol, 1e-7) * 50, atol=1e-6 if dtype == np.float32
                                   else 1e-12)
        q = sps.t.ppf(0.95, df)
        np.testing.assert_allclose(inf.conf_low[i], W - q * se, rtol=rtol,
                                   atol=rtol * np.abs(W).max())
        np.testing.assert_allclose(inf.conf_high[i], W + q * se, rtol=rtol,
                                   atol=rtol * np.abs(W).max())
        assert inf.coef.dtype == dtype and inf.se.dtype == dtype
        # predictions: x^T W + b is linear in y, with the map x^T A + b_map
        pred_map = X_new @ A + (b_map if fit_intercept else 0.0)
        pred_var = np.einsum("qi,i,qi->q", pred_map, 1 / (w if weighted else np.ones(n)),
                             pred_map)
        np.testing.assert_allclose(pse[i], np.sqrt(pred_var[:, None] * sigma2), rtol=rtol)
        np.testing.assert_allclose(pse_obs[i], np.sqrt((pred_var[:, None] + 1) * sigma2),
                                   rtol=rtol)
        if fit_intercept:
            np.testing.assert_allclose(inf.intercept[i], b, rtol=rtol)
            np.testing.assert_allclose(inf.intercept_se[i], np.sqrt(b_var * sigma2), rtol=rtol)
        else:
            assert inf.intercept is None and inf.intercept_se is None


def test_given_and_least_squares_noise_variance_and_1d_shapes():
    X, y = make_data(40, 4, seed=1)
    solver = sr.RidgeSolver(X, y)
    inf = coef_inference(solver, 2.0, noise_variance=0.7)
    _, cov, _, _, _, _, _, _ = _explicit(X, y, 2.0, True, None, None)
    np.testing.assert_allclose(inf.se, np.sqrt(np.diag(cov) * 0.7), rtol=1e-10)
    np.testing.assert_allclose(inf.p_value, 2 * sps.norm.sf(np.abs(inf.coef / inf.se)),
                               rtol=1e-10)
    assert np.isinf(inf.df_resid) and inf.coef.shape == (4,) and np.ndim(inf.intercept) == 0
    ls = coef_inference(solver, [0.0, 5.0], noise_variance="ls")
    ols = sr.RidgeSolver(X, y).coef(0.0)
    resid = y - X @ ols - sr.RidgeSolver(X, y).intercept(0.0)
    s2 = resid @ resid / (40 - 4 - 1)
    np.testing.assert_allclose(ls.noise_variance, [s2, s2], rtol=1e-10)
    np.testing.assert_array_equal(ls.df_resid, [35.0, 35.0])
    # at alpha = 0 the ridge estimate is least squares: statsmodels' classical OLS table
    Xd = np.column_stack([np.ones(40), X])
    cov_ols = s2 * np.linalg.inv(Xd.T @ Xd)
    np.testing.assert_allclose(ls.se[0], np.sqrt(np.diag(cov_ols))[1:], rtol=1e-9)
    np.testing.assert_allclose(ls.intercept_se[0], np.sqrt(cov_ols[0, 0]), rtol=1e-9)
    est = coef_inference(solver, 0.0)                   # tr(2H - H^2) = p + 1 at alpha 0
    np.testing.assert_allclose(est.noise_variance, s2, rtol=1e-10)
    np.testing.assert_allclose(est.p_value, 2 * sps.t.sf(np.abs(ols / est.se), 35),
                               rtol=1e-8)


def test_per_target_noise_variance_and_longley_least_squares():
    X, y, _ = sr.load_longley()
    Y = np.column_stack([y, 2 * y])
    inf = coef_inference(sr.RidgeSolver(X, Y), [0.0, 1e-3], noise_variance="ls")
    np.testing.assert_allclose(inf.se[..., 1], 2 * inf.se[..., 0], rtol=1e-12)
    np.testing.assert_allclose(inf.t[..., 1], inf.t[..., 0], rtol=1e-12)
    # NIST StRD certified standard deviations of the Longley least-squares estimates
    certified = [0.849149257747669e2, 0.334910077722432e-1, 0.488399681651699e0,
                 0.214274163161675e0, 0.226073200069370e0, 0.455478499142212e3]
    np.testing.assert_allclose(inf.se[0, :, 0], certified, rtol=1e-7)


def test_errors():
    X, y = make_data(5, 8, seed=0)
    solver = sr.RidgeSolver(X, y)
    with pytest.raises(ValueError, match="residual degrees of freedom .* <= 0 at alpha=0.0"):
        coef_inference(solver, [0.0, 1.0])
    with pytest.raises(ValueError, match="residual degrees of freedom of least squares"):
        coef_inference(solver, 1.0, noise_variance="ls")
    with pytest.raises(ValueError, match="noise_variance must be positive"):
        coef_inference(solver, 1.0, noise_variance=-1.0)
    with pytest.raises(ValueError, match="noise_variance must be None, 'ls'"):
        coef_inference(solver, 1.0, noise_variance="mle")
    with pytest.raises(ValueError, match=r"level must be a number in \(0, 1\)"):
        coef_inference(solver, 1.0, level=95)
    with pytest.raises(TypeError, match="solver must be a RidgeSolver"):
        coef_inference(X, 1.0)
    with pytest.raises(ValueError, match="features"):
        prediction_se(solver, np.ones((2, 3)), 1.0)


def test_intercept_tests_and_lazy_fields():
    X, Y = make_data(30, 4, 2, seed=6)
    inf = coef_inference(sr.RidgeSolver(X, Y), [0.5, 5.0], level=0.8)
    t = inf.intercept / inf.intercept_se
    np.testing.assert_allclose(inf.intercept_t, t, rtol=1e-12)
    np.testing.assert_allclose(inf.intercept_p_value,
                               2 * sps.t.sf(np.abs(t), inf.df_resid[:, None]), rtol=1e-9)
    assert inf.p_value is inf.p_value and inf.p_value.dtype == np.float64
    q = sps.t.ppf(0.9, inf.df_resid)[:, None, None]
    np.testing.assert_allclose(inf.conf_high - inf.conf_low, 2 * q * inf.se, rtol=1e-12)
    none = coef_inference(sr.RidgeSolver(X, Y, fit_intercept=False), 1.0)
    assert none.intercept_t is None and none.intercept_p_value is None
