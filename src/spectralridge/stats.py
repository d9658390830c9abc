r"""Classical ridge statistics and other tools' regularization scales.

Ridge estimators of the penalty
-------------------------------
:func:`hkb_alpha` (Hoerl, Kennard and Baldwin 1975) and :func:`lawless_wang_alpha` (Lawless and
Wang 1976) estimate a ridge penalty from the least-squares fit, with the definitions of R's
``MASS::lm.ridge`` (its ``kHKB`` and ``kLW``):

    ``HKB = (p - 2) s^2 / ||b||^2``,   ``LW = n (p - 2) s^2 / ||Xc b||^2``,

where ``b`` are the least-squares coefficients on the centred design ``Xc``, ``s^2 = RSS /
(n - p - 1)`` the residual variance (``n - p`` without intercept), ``p`` the number of columns
and ``n`` the number of samples.

*Scale.* By default both are computed on the data as given, so the result is an alpha for
``RidgeSolver(X, Y)``. ``MASS::lm.ridge`` first centres the columns and divides each by its
standard deviation with divisor ``n`` (``sqrt(mean(Xc**2))``, i.e. ``np.std(ddof=0)``); its
``lambda``, ``kHKB`` and ``kLW`` live on that scale, where the objective is the same sum of
squares as ours (no ``1/n``). Pass ``standardize=True`` (or standardize with
:func:`standardize_columns` yourself) to reproduce MASS's printed values::

    Z, mean, scale = standardize_columns(X)        # MASS's column scaling
    hkb_alpha(Z, y) == hkb_alpha(X, y, standardize=True) == kHKB
    RidgeSolver(Z, y).coef(lam) / scale            # == coef(lm.ridge(y ~ X, lambda=lam))

On the bundled Longley data with ``GNPDEFL`` as the response (MASS's own example,
``lm.ridge(GNP.deflator ~ ., longley)``) this gives MASS's documented ``kHKB = 0.006836982``
and ``kLW = 0.05267247``; the tests check both.

Other tools' alpha scales
-------------------------
spectralridge's ``alpha`` is scikit-learn's: the objective is
``sum_i w_i (y_i - x_i^T W - b)^2 + alpha ||W||^2`` on the data as given.

- **glmnet** (``alpha = 0``, ``family = "gaussian"``) documents the objective
  ``1/(2 n) RSS + lambda/2 ||beta||^2`` on columns standardized to unit variance (divisor n).
  In addition, its code divides the centred ``y`` by its standard deviation ``s_y`` (divisor n)
  before fitting and scales ``lambda`` by ``1/s_y`` with it, then multiplies the coefficients
  back by ``s_y``. The coefficients glmnet reports at ``lambda`` are therefore the ridge
  solution for ``alpha = sum(w) lambda / s_y`` (``n lambda / s_y`` without weights) on
  glmnet's design: the standardized columns (:func:`standardize_columns`, then divide the
  coefficients by ``scale``) with ``standardize=TRUE``, the raw columns with
  ``standardize=FALSE``. See :func:`glmnet_lambda_to_alpha` (per target, since ``s_y`` is).
- **The "Huth" fMRI ridge code** (``ridge.py`` of Huth et al.) uses the filter
  ``s / (s^2 + a^2)``: its ``a`` is the square root of our alpha, on z-scored data without an
  intercept (``fit_intercept=False``). With ``normalpha=True`` it multiplies ``a`` by the
  largest singular value of the training stimulus first. See :func:`huth_alpha_to_alpha`.
- **fracridge** (Rokem and Kay 2020) parametrizes ridge by the fraction
  ``||W(alpha)|| / ||W(0)||`` of the least-squares coefficient norm, per target. See
  :func:`fraction_to_alpha` and :func:`alpha_to_fraction` (exact root finding on the spectrum;
  fracridge itself interpolates on a grid).

Variance inflation
------------------
:func:`vif` gives Marquardt's (1970) variance inflation factors along the ridge path.

Standard errors and tests
-------------------------
:func:`coef_inference` gives standard errors, t statistics, p-values and confidence
intervals of the coefficients and intercept at every alpha and target (conditional on
alpha), :func:`prediction_se` those of predictions for new samples.

References
----------
.. [1] A. E. Hoerl, R. W. Kennard and K. F. Baldwin, "Ridge regression: some simulations",
   Communications in Statistics 4(2), 105-123, 1975.
.. [2] J. F. Lawless and P. Wang, "A simulation study of ridge and other regression
   estimators", Communications in Statistics A5(4), 307-323, 1976.
.. [3] W. N. Venables and B. D. Ripley, Modern Applied Statistics with S, 4th ed., Springer,
   2002 (``MASS::lm.ridge``).
.. [4] D. W. Marquardt, "Generalized inverses, ridge regression, biased linear estimation,
   and nonlinear estimation", Technometrics 12(3), 591-612, 1970.
.. [5] J. Friedman, T. Hastie and R. Tibshirani, "Regularization paths for generalized linear
   models via coordinate descent", Journal of Statistical Software 33(1), 2010 (glmnet).
.. [6] A. Rokem and K. Kay, "Fractional ridge regression: a fast, interpretable
   reparameterization of ridge regression", GigaScience 9(12), 2020.

Examples
--------
>>> import numpy as np
>>> from spectralridge import stats
>>> from spectralridge import load_longley
>>> X, y, names = load_longley()
>>> y2, X2 = X[:, 0], np.column_stack([X[:, 1:], y])   # MASS: GNP.deflator ~ .
>>> print(f"{stats.hkb_alpha(X2, y2, standardize=True):.7g}")
0.006836982
>>> print(f"{stats.lawless_wang_alpha(X2, y2, standardize=True):.7g}")
0.05267247
"""

import dataclasses
import functools

import numpy as np
import scipy.sparse as sp

from . import _array_api
from ._config import scratch_values
from ._solver import RidgeSolver
from ._spectrum import weighted_mean
from ._validation import (check_alphas, check_alphas_per_target, check_bool,
                          check_column_scale, check_data, check_design, check_fractions,
                          check_instance, check_level, check_noise_level,
                          check_noise_variance, check_option, check_positive,
                          check_residual_dof, check_sample_weight, check_shrinkage_problem,
                          check_targets, check_X_new)

__all__ = ["RidgeInference", "alpha_to_fraction", "alpha_to_glmnet_lambda",
           "alpha_to_huth_alpha", "coef_inference", "fraction_to_alpha",
           "glmnet_lambda_to_alpha", "hkb_alpha", "huth_alpha_to_alpha",
           "lawless_wang_alpha", "prediction_se", "standardize_columns", "vif"]


# -- column scaling ---------------------------------------------------------------------------
def standardize_columns(X, *, sample_weight=None, fit_intercept=True):
    """Columns centred and divided by their standard deviation with divisor ``sum(w)``.

    The scaling of ``MASS::lm.ridge`` and of glmnet's ``standardize=TRUE`` (both with an
    intercept): ``Z = (X - mean) / scale`` with the weighted mean and
    ``scale = sqrt(sum_i w_i (x_i - mean)^2 / sum(w))`` (``np.std(X, axis=0)`` without
    weights). Without intercept nothing is subtracted and ``scale`` is the root mean square
    ``sqrt(sum_i w_i x_i^2 / sum(w))``, as in ``MASS::lm.ridge`` (glmnet divides by the
    centred standard deviation instead).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    sample_weight : array-like of shape (n_samples,), default=None
    fit_intercept : bool, default=True

    Returns
    -------
    Z : ndarray of shape (n_samples, n_features)
    mean : ndarray of shape (n_features,)
        Zeros without intercept.
    scale : ndarray of shape (n_features,)
        Divide coefficients fitted on `Z` by `scale` to express them on `X`'s scale.

    Raises
    ------
    ValueError
        If a column is constant (zero scale).

    Examples
    --------
    >>> from spectralridge.stats import standardize_columns
    >>> Z, mean, scale = standardize_columns([[1.0, 10.0], [3.0, 30.0]])
    >>> Z
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> mean, scale
    (array([ 2., 20.]), array([ 1., 10.]))
    """
    X = check_design(X)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    w = np.ones(X.shape[0]) if sample_weight is None else \
        check_sample_weight(sample_weight, X.shape[0])
    mean = weighted_mean(w, X, w.sum()) if fit_intercept else np.zeros(X.shape[1])
    Z = X - mean
    scale = check_column_scale(np.sqrt((w @ np.square(Z)) / w.sum()))
    return Z / scale, mean, scale


# -- HKB and Lawless-Wang -----------------------------------------------------------------------
def _least_squares_summary(X, Y, fit_intercept, standardize, name):
    """``(p, n, s^2, ||b||^2, ||Xc b||^2, y_was_1d)`` of the least-squares fit, per target."""
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    standardize = check_bool(standardize, "standardize")
    X, Y, _, y_was_1d = check_data(X, Y)
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    n, p = X.shape
    df = check_shrinkage_problem(n, p, fit_intercept, name)
    if standardize:
        X = standardize_columns(X, fit_intercept=fit_intercept)[0]
    solver = RidgeSolver(X, Y, fit_intercept=fit_intercept, method="svd")
    b = solver.coef(0.0)                                     # (p, k)
    Yc = Y - Y.mean(axis=0) if fit_intercept else Y
    Xc = X - X.mean(axis=0) if fit_intercept else X
    fit = Xc @ b                                             # centred fitted values
    rss = np.square(Yc - fit).sum(axis=0)
    return p, n, rss / df, np.square(b).sum(axis=0), np.square(fit).sum(axis=0), y_was_1d


def _per_target(values, y_was_1d):
    return float(values[0]) if y_was_1d else values


def hkb_alpha(X, Y, *, fit_intercept=True, standardize=False):
    r"""Hoerl-Kennard-Baldwin estimate of the ridge penalty, as in ``MASS::lm.ridge``.

    ``alpha = (p - 2) s^2 / ||b||^2`` with the least-squares coefficients ``b``, the residual
    variance ``s^2 = RSS / (n - p - [intercept])`` and ``p = n_features`` (MASS's definition,
    also when `X` is rank-deficient; ``b`` is then the minimum-norm solution).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        At least 3 features and ``n_samples > n_features + fit_intercept``.
    Y : array-like of shape (n_samples,) or (n_samples, n_targets)
    fit_intercept : bool, default=True
    standardize : bool, default=False
        False: the estimate for the data as given (an alpha for ``RidgeSolver(X, Y)``). True:
        on MASS's scale, the columns centred and divided by their standard deviation with
        divisor n (:func:`standardize_columns`): this is ``lm.ridge``'s ``kHKB``.

    Returns
    -------
    float or ndarray of shape (n_targets,)

    See Also
    --------
    lawless_wang_alpha, standardize_columns

    References
    ----------
    .. [1] A. E. Hoerl, R. W. Kennard and K. F. Baldwin, "Ridge regression: some
       simulations", Communications in Statistics 4(2), 105-123, 1975.
    .. [2] W. N. Venables and B. D. Ripley, Modern Applied Statistics with S, 4th ed.,
       Springer, 2002 (``MASS::lm.ridge``).

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge.stats import hkb_alpha
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 4))
    >>> y = X @ [1.0, 2.0, 0.0, -1.0] + rng.standard_normal(40)
    >>> round(hkb_alpha(X, y), 4)
    0.3237
    """
    p, n, s2, b_sq, _, y_was_1d = _least_squares_summary(X, Y, fit_intercept, standardize,
                                                         "hkb_alpha")
    with np.errstate(divide="ignore"):
        out = np.where(b_sq > 0, (p - 2) * s2 / np.where(b_sq > 0, b_sq, 1.0), np.inf)
    return _per_target(out, y_was_1d)


def lawless_wang_alpha(X, Y, *, fit_intercept=True, standardize=False):
    r"""Lawless-Wang estimate of the ridge penalty, as in ``MASS::lm.ridge``.

    ``alpha = n (p - 2) s^2 / ||Xc b||^2`` with the centred least-squares fitted values
    ``Xc b``, ``s^2 = RSS / (n - p - [intercept])`` and ``p = n_features``.

    Parameters
    ----------
    X, Y, fit_intercept, standardize
        As in :func:`hkb_alpha`; ``standardize=True`` gives ``lm.ridge``'s ``kLW``.

    Returns
    -------
    float or ndarray of shape (n_targets,)

    References
    ----------
    .. [1] J. F. Lawless and P. Wang, "A simulation study of ridge and other regression
       estimators", Communications in Statistics A5(4), 307-323, 1976.
    .. [2] W. N. Venables and B. D. Ripley, Modern Applied Statistics with S, 4th ed.,
       Springer, 2002 (``MASS::lm.ridge``).

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge.stats import lawless_wang_alpha
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 4))
    >>> y = X @ [1.0, 2.0, 0.0, -1.0] + rng.standard_normal(40)
    >>> round(lawless_wang_alpha(X, y), 4)
    0.4138
    """
    p, n, s2, _, fit_sq, y_was_1d = _least_squares_summary(X, Y, fit_intercept, standardize,
                                                           "lawless_wang_alpha")
    with np.errstate(divide="ignore"):
        out = np.where(fit_sq > 0, n * (p - 2) * s2 / np.where(fit_sq > 0, fit_sq, 1.0),
                       np.inf)
    return _per_target(out, y_was_1d)


# -- variance inflation factors -------------------------------------------------------------------
def _check_no_penalty_factor(solver, name, hint=""):
    if solver.penalty_factor is not None:
        raise ValueError(f"{name}: a solver with penalty_factor is not supported{hint}.")


def _centred_design(solver_or_X, fit_intercept):
    """The centred (weighted) design, its namespace and a function putting host arrays
    there: NumPy, or the device of an array-API solver."""
    if isinstance(solver_or_X, RidgeSolver):
        solver = solver_or_X
        _check_no_penalty_factor(solver, "vif", "; pass the design matrix")
        if solver.backend not in ("numpy", "array_api"):
            raise TypeError(f"solver_or_X must be a RidgeSolver of NumPy or array-API data or "
                            f"a design X; got a {type(solver).__name__} (vif needs the rows "
                            "of X in memory).")
        X, _, centering = solver.data
        if solver.backend == "array_api":  # on the device, in the compute dtype
            return (centering.center_X(X), solver.namespace,
                    lambda a: solver.from_host(a, np.float64))
        if sp.issparse(X):
            raise ValueError("vif: a solver fitted on sparse X is not supported; pass the "
                             "design matrix (X.toarray() if it fits in memory).")
        return centering.center_X(X), np, np.asarray
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    X = check_design(solver_or_X)
    return (X - X.mean(axis=0) if fit_intercept else X), np, np.asarray


def vif(solver_or_X, alphas, *, scale="correlation", fit_intercept=True):
    r"""Variance inflation factors of the ridge coefficients along the path (Marquardt 1970).

    With the correlation matrix ``R`` of the (centred) columns, the ridge estimate on the
    columns scaled to unit length has covariance ``sigma^2 (R + k I)^{-1} R (R + k I)^{-1}``;
    its diagonal is the variance inflation factor of each coefficient at ``k``. At ``k = 0``
    it is the classical VIF ``diag(R^{-1}) = 1 / (1 - R_j^2)``; it decreases as ``k`` grows.

    Parameters
    ----------
    solver_or_X : RidgeSolver or array-like of shape (n_samples, n_features)
        A solver (its centring and sample weights are used) or a design matrix. For a
        solver of array-API data (torch, CuPy, array_api_strict) the SVD of its centred
        design runs on its device and the result is in its namespace there.
    alphas : float or array-like of shape (n_alphas,)
        Non-negative penalties, on the scale chosen by `scale`.
    scale : {'correlation', 'data'}, default='correlation'
        ``'correlation'``: `alphas` are Marquardt's ``k``, the penalty for the columns scaled
        to unit length (``Xc^T Xc = R``). Ridge on columns standardized with
        :func:`standardize_columns` (``MASS::lm.ridge``'s scale, or scikit-learn's alpha after
        ``StandardScaler``) at alpha corresponds to ``k = alpha / n_samples`` (``alpha /
        sum(w)`` with weights). ``'data'``: `alphas` are the solver's alphas on the data as
        given, and the factor is ``Var(W_j(alpha)) / (sigma^2 / G_jj) = G_jj [(G + alpha I)^{-1}
        G (G + alpha I)^{-1}]_jj`` with the Gram ``G = Xc^T Xc``: the variance relative to an
        orthogonal design with the same column norms. Both agree when all columns have unit
        norm.
    fit_intercept : bool, default=True
        For an array `solver_or_X`: centre the columns first (ignored for a solver).

    Returns
    -------
    ndarray (or the solver's array type) of shape (n_alphas, n_features)
        A scalar alpha gives shape (n_features,). ``inf`` at ``alpha = 0`` for columns
        involved in an exact collinearity.

    Raises
    ------
    ValueError
        With ``scale='correlation'``, if a column is constant; for a solver of sparse X.
    TypeError
        For a solver of Dask arrays (its rows are not in memory): pass the design instead.

    Notes
    -----
    R's ``genridge::vif.ridge`` reports a different quantity at ``k > 0``: the Fox-Monette
    (1992) generalized VIF of the ridge covariance matrix (``R_ii det(R_-i) / det(R)`` of its
    correlation matrix); both agree at ``k = 0``.

    References
    ----------
    .. [1] D. W. Marquardt, "Generalized inverses, ridge regression, biased linear
       estimation, and nonlinear estimation", Technometrics 12(3), 591-612, 1970.
    .. [2] D. W. Marquardt and R. D. Snee, "Ridge regression in practice", The American
       Statistician 29(1), 3-20, 1975.

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge.stats import vif
    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal(100)
    >>> X = np.column_stack([z, z + 0.1 * rng.standard_normal(100), rng.standard_normal(100)])
    >>> vif(X, [0.0, 0.1]).round(2)
    array([[103.9 , 103.89,   1.  ],
           [  0.45,   0.45,   0.83]])
    """
    scale = check_option(scale, "scale", ("correlation", "data"))
    alphas, scalar = check_alphas(alphas)
    Xc, xp, put = _centred_design(solver_or_X, fit_intercept)
    norms = np.sqrt(_array_api.to_host(xp.sum(Xc * Xc, axis=0)).astype(np.float64))
    if scale == "correlation":
        Xc = Xc / put(check_column_scale(norms))
        column_factor = np.ones(Xc.shape[1])
    else:
        column_factor = np.square(norms)
    _, s, Vt = xp.linalg.svd(Xc, full_matrices=False)
    eps = float(xp.finfo(Xc.dtype).eps)  # float32 on a device without float64
    s = _array_api.to_host(s).astype(np.float64)
    rank = int(np.count_nonzero(s > max(Xc.shape) * eps * s[0])) if s.size and s[0] > 0 else 0
    Vt2 = xp.square(Vt[:rank, :])
    lam = np.square(s[:rank])
    # (G + a I)^+ G (G + a I)^+ = V diag(lam / (lam + a)^2) V^T on the range of G
    weights = lam / np.square(lam + alphas[:, None])                   # (m, r)
    out = (put(weights) @ Vt2) * put(column_factor)                     # (m, p)
    # at alpha = 0 a column with a component in the null space has infinite variance
    null = 1.0 - _array_api.to_host(xp.sum(Vt2, axis=0)).astype(np.float64)
    collinear = (null > max(1e-8, 1e3 * eps)) & (column_factor > 0)
    infinite = (alphas == 0)[:, None] & collinear[None, :]
    if infinite.any():
        out = xp.where(put(infinite.astype(np.float64)) > 0, put(np.full(1, np.inf)), out)
    return out[0, ...] if scalar else out


# -- glmnet ---------------------------------------------------------------------------------------
def _glmnet_y_scale(Y, sample_weight, fit_intercept):
    """``(sum(w), s_y)``: glmnet's standard deviation of each target (divisor sum(w))."""
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    Y, y_was_1d = check_targets(Y)
    w = np.ones(Y.shape[0]) if sample_weight is None else \
        check_sample_weight(sample_weight, Y.shape[0])
    sum_w = float(w.sum())
    centred = Y - (w @ Y) / sum_w if fit_intercept else Y
    s_y = np.sqrt((w @ np.square(centred)) / sum_w)
    check_column_scale(s_y, "Y")
    return sum_w, s_y, y_was_1d


def _shape_conversion(out, scalar, y_was_1d):
    if y_was_1d:
        out = out[:, 0]
    return out[0] if scalar else out


def glmnet_lambda_to_alpha(lambdas, Y, *, sample_weight=None, fit_intercept=True):
    r"""The alpha whose ridge solution glmnet reports at ``lambda`` (``alpha = 0`` in glmnet).

    glmnet's gaussian family minimizes ``1/(2 sum w) sum_i w_i (y_i/s_y - b0 -
    z_i^T beta)^2 + (lambda / s_y) / 2 ||beta||^2`` on its design ``z`` (the columns
    standardized to unit variance with divisor ``sum(w)`` when ``standardize=TRUE``, as given
    otherwise) and the response divided by ``s_y``, its standard deviation with divisor
    ``sum(w)`` (centred when ``intercept=TRUE``; the root mean square otherwise), then reports
    ``s_y beta``. Multiplying the objective by ``2 sum(w) s_y^2`` shows this is our objective
    on the same design with

        ``alpha = sum(w) lambda / s_y``  (``n_samples lambda / s_y`` without weights).

    So ``RidgeSolver(Z, Y).coef(alpha) / scale`` with ``Z, _, scale =
    standardize_columns(X)`` equals glmnet's ``coef(fit, s=lambda, exact=TRUE)`` (without
    the intercept row) for ``standardize=TRUE`` (with ``standardize=FALSE`` use ``X`` itself
    and no division).

    Parameters
    ----------
    lambdas : float or array-like of shape (n_lambdas,)
        glmnet's ``lambda`` values, non-negative.
    Y : array-like of shape (n_samples,) or (n_samples, n_targets)
        The response(s) given to glmnet (one glmnet fit per target).
    sample_weight : array-like of shape (n_samples,), default=None
        glmnet's ``weights`` (any positive scale: glmnet normalizes them).
    fit_intercept : bool, default=True
        glmnet's ``intercept``.

    Returns
    -------
    ndarray of shape (n_lambdas[, n_targets])
        A scalar lambda drops the first axis, a 1-D `Y` the second.

    References
    ----------
    .. [1] J. Friedman, T. Hastie and R. Tibshirani, "Regularization paths for generalized
       linear models via coordinate descent", Journal of Statistical Software 33(1), 2010.

    Examples
    --------
    >>> from spectralridge.stats import glmnet_lambda_to_alpha, alpha_to_glmnet_lambda
    >>> y = [1.0, 2.0, 3.0, 4.0]                 # standard deviation (divisor n) sqrt(1.25)
    >>> float(glmnet_lambda_to_alpha(0.5, y))    # 4 * 0.5 / sqrt(1.25)
    1.7888543819998317
    >>> float(alpha_to_glmnet_lambda(1.7888543819998317, y))
    0.5
    """
    lambdas, scalar = check_alphas(lambdas, "lambdas")
    sum_w, s_y, y_was_1d = _glmnet_y_scale(Y, sample_weight, fit_intercept)
    return _shape_conversion(sum_w * lambdas[:, None] / s_y, scalar, y_was_1d)


def alpha_to_glmnet_lambda(alphas, Y, *, sample_weight=None, fit_intercept=True):
    r"""glmnet's ``lambda`` for our alpha: ``lambda = alpha s_y / sum(w)``.

    The inverse of :func:`glmnet_lambda_to_alpha` (same parameters and shapes).
    """
    alphas, scalar = check_alphas(alphas)
    sum_w, s_y, y_was_1d = _glmnet_y_scale(Y, sample_weight, fit_intercept)
    return _shape_conversion(alphas[:, None] * s_y / sum_w, scalar, y_was_1d)


# -- Huth et al. ----------------------------------------------------------------------------------
def huth_alpha_to_alpha(alphas, *, s_max=None):
    r"""Our alpha for the ``alpha`` of the Huth et al. fMRI ridge code: its square.

    That code (``ridge.py``: ``ridge``, ``ridge_corr``, ``bootstrap_ridge``) filters with
    ``s / (s^2 + a^2)``, on z-scored data without intercept: our ``alpha = a^2`` with
    ``fit_intercept=False``. With ``normalpha=True`` it uses ``a s_max`` instead of ``a``,
    with ``s_max`` the largest singular value of its training stimulus: pass that as `s_max`
    to get ``alpha = (a s_max)^2``.

    Parameters
    ----------
    alphas : float or array-like of shape (n_alphas,)
        The Huth code's alphas, non-negative.
    s_max : float, default=None
        Largest singular value of the training stimulus, for ``normalpha=True``.

    Returns
    -------
    float or ndarray of shape (n_alphas,)

    Examples
    --------
    >>> from spectralridge.stats import huth_alpha_to_alpha, alpha_to_huth_alpha
    >>> huth_alpha_to_alpha([1.0, 10.0, 100.0])
    array([1.e+00, 1.e+02, 1.e+04])
    >>> alpha_to_huth_alpha([1.0, 100.0, 1e4])
    array([  1.,  10., 100.])
    """
    alphas, scalar = check_alphas(alphas)
    factor = 1.0 if s_max is None else check_positive(s_max, "s_max")
    out = np.square(alphas * factor)
    return out[0] if scalar else out


def alpha_to_huth_alpha(alphas, *, s_max=None):
    r"""The Huth et al. code's alpha for our alpha: ``sqrt(alpha)`` (``/ s_max`` with
    ``normalpha=True``). The inverse of :func:`huth_alpha_to_alpha`."""
    alphas, scalar = check_alphas(alphas)
    factor = 1.0 if s_max is None else check_positive(s_max, "s_max")
    out = np.sqrt(alphas) / factor
    return out[0] if scalar else out


# -- fracridge -------------------------------------------------------------------------------------
def _coordinates(solver, name):
    """Eigenvalues ``lam`` (r,) and squared least-squares coordinates ``c`` (r, k)."""
    check_instance(solver, RidgeSolver, "solver")
    # the coordinates of the rescaled design would give the norm of sqrt(c) W, not of W
    _check_no_penalty_factor(solver, name)
    spectrum = solver.spectrum_for(np.zeros(1))
    s = spectrum.s
    c = np.square(solver.host_array(spectrum.R).astype(np.float64) / s[:, None])
    return np.square(s), c


def alpha_to_fraction(solver, alphas):
    r"""fracridge's fraction ``||W(alpha)|| / ||W(0)||`` for every alpha and target.

    In the eigenbasis the coordinates of ``W(alpha)`` are those of the least-squares
    solution ``W(0)`` times ``lam / (lam + alpha)``, so the fraction is
    ``sqrt(sum_i c_i (lam_i / (lam_i + alpha))^2 / sum_i c_i)`` with ``c`` the squared
    least-squares coordinates (O(rank) per alpha and target). It decreases from 1 at
    ``alpha = 0`` to 0.

    Parameters
    ----------
    solver : RidgeSolver
    alphas : float or array-like of shape (n_alphas,) or (n_alphas, n_targets)
        One alpha for all targets, or one per target (as :func:`fraction_to_alpha` returns;
        ``inf`` allowed there, giving fraction 0).

    Returns
    -------
    ndarray of shape (n_alphas[, n_targets])
        NaN for a target whose least-squares coefficients are all zero.

    References
    ----------
    .. [1] A. Rokem and K. Kay, "Fractional ridge regression: a fast, interpretable
       reparameterization of ridge regression", GigaScience 9(12), 2020.

    Examples
    --------
    >>> import numpy as np
    >>> import spectralridge as sr
    >>> from spectralridge.stats import alpha_to_fraction, fraction_to_alpha
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 4))
    >>> solver = sr.RidgeSolver(X, X @ [1.0, -1.0, 2.0, 0.5] + rng.standard_normal(50))
    >>> a = fraction_to_alpha(solver, [1.0, 0.5, 0.0])
    >>> a[0], a[2]
    (np.float64(0.0), np.float64(inf))
    >>> alpha_to_fraction(solver, a[:2]).round(12)
    array([1. , 0.5])
    >>> norms = np.linalg.norm(solver.coef(a[1:2]), axis=1) / np.linalg.norm(solver.coef(0.0))
    >>> norms.round(12)
    array([0.5])
    """
    lam, c = _coordinates(solver, "alpha_to_fraction")
    alphas, scalar = check_alphas_per_target(alphas, c.shape[1])      # (m, k)
    total = c.sum(axis=0)
    out = np.empty(alphas.shape)
    step = max(1, scratch_values() // (alphas.shape[0] * max(1, lam.size)))
    for t0 in range(0, out.shape[1], step):
        block = slice(t0, t0 + step)
        a = alphas[:, block, None]                                     # (m, kb, 1)
        q = np.divide(lam, lam + a, out=np.zeros(a.shape[:2] + lam.shape),
                      where=np.isfinite(a) & (lam + a > 0))
        out[:, block] = np.einsum("mkr,rk->mk", np.square(q), c[:, block])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.sqrt(out / np.where(total > 0, total, np.nan))
    return _shape_fraction(solver, out, scalar)


def _shape_fraction(solver, out, scalar):
    """(m, k) -> drop the target axis for a 1-D Y and the first for a scalar."""
    if solver.y_was_1d:
        out = out[:, 0]
    return out[0] if scalar else out


# Fractions x targets x rank float64 values per block of fraction_to_alpha's iterations.


def _alpha_for_fraction(lam, cn, f):
    """Alphas (n_fractions, k) with ``sum_i cn_i (lam_i / (lam_i + a))^2 = f^2`` (cn sums to
    1 per target): safeguarded Newton iterations on ``u = log(a)`` within the bracket
    ``lam_min (1 - f) / f <= a <= lam_max (1 - f) / f``."""
    ones = np.ones((1, cn.shape[1]))
    lo = np.log(lam[-1] * (1 - f) / f)[:, None] * ones
    hi = np.log(lam[0] * (1 - f) / f)[:, None] * ones
    target = np.square(f)[:, None]
    u = 0.5 * (lo + hi)
    for _ in range(200):
        a = np.exp(u)[..., None]                                       # (m, k, 1)
        q2 = np.square(lam / (lam + a))                                # (m, k, r)
        h = np.einsum("fkr,rk->fk", q2, cn) - target
        dg = -2.0 * np.einsum("fkr,rk->fk", q2 * (a / (lam + a)), cn)
        lo = np.where(h > 0, u, lo)                                    # need more shrinkage
        hi = np.where(h <= 0, u, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = u - h / dg
        inside = np.isfinite(newton) & (newton > lo) & (newton < hi)
        done = (np.abs(h) <= 1e-13 * target) | (hi - lo <= 1e-15 * np.maximum(1, np.abs(u)))
        u = np.where(done, u, np.where(inside, newton, 0.5 * (lo + hi)))
        if done.all():
            break
    return np.exp(u)


def fraction_to_alpha(solver, fractions):
    r"""The alpha at which ``||W(alpha)|| = fraction ||W(0)||``, for every fraction and target.

    fracridge's parametrization, inverted exactly (safeguarded Newton iterations on
    ``log(alpha)`` within the bracket ``lam_min (1 - f) / f <= alpha <= lam_max (1 - f) / f``,
    to a relative accuracy of about 1e-12 in the fraction) instead of by interpolation on a grid
    of alphas as in fracridge.

    Parameters
    ----------
    solver : RidgeSolver
    fractions : float or array-like of shape (n_fractions,)
        Values in [0, 1]: 1 gives alpha 0, 0 gives ``inf``.

    Returns
    -------
    ndarray of shape (n_fractions[, n_targets])
        NaN for a target whose least-squares coefficients are all zero.

    References
    ----------
    .. [1] A. Rokem and K. Kay, "Fractional ridge regression: a fast, interpretable
       reparameterization of ridge regression", GigaScience 9(12), 2020.

    Examples
    --------
    See :func:`alpha_to_fraction`.
    """
    fracs, scalar = check_fractions(fractions)
    lam, c = _coordinates(solver, "fraction_to_alpha")
    k = c.shape[1]
    total = c.sum(axis=0)
    out = np.full((fracs.size, k), np.nan)
    ok = total > 0
    out[:, ok] = 0.0                                                  # fraction 1
    inner = (fracs > 0) & (fracs < 1)
    out[np.ix_(fracs == 0, ok)] = np.inf
    if lam.size and inner.any() and ok.any():
        cn = c[:, ok] / total[ok]                                      # normalized weights
        f = fracs[inner]
        cols = np.flatnonzero(ok)
        step = max(1, scratch_values() // (f.size * lam.size))           # bound the temporaries
        for t0 in range(0, cols.size, step):
            block = slice(t0, t0 + step)
            out[np.ix_(inner, cols[block])] = _alpha_for_fraction(lam, cn[:, block], f)
    return _shape_fraction(solver, out, scalar)


# -- standard errors, t statistics, confidence and prediction intervals ---------------------------
@dataclasses.dataclass(frozen=True)
class RidgeInference:
    """Standard errors and tests of ridge coefficients at every alpha (see
    :func:`coef_inference`). Shapes as ``RidgeSolver.coef``: alpha axis first, no target
    axis for a 1-D `Y`, no alpha axis for a scalar alpha. ``se``, ``t``, ``p_value``,
    ``conf_low`` and ``conf_high`` (and the intercept's t and p-value) are computed on first
    access: the standard errors cost O(n_features x rank + rank x n_targets) per alpha, the
    arrays of shape (n_alphas, n_features, n_targets) are formed when asked for.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    coef, se, t, p_value, conf_low, conf_high : ndarray of shape (n_alphas, n_features[, n_targets])
        ``p_value`` is float64, the others of the working dtype.
    intercept, intercept_se, intercept_t, intercept_p_value : ndarray of shape \
(n_alphas[, n_targets]), or None without intercept
    noise_variance : ndarray of shape (n_alphas[, n_targets])
        sigma^2 used (estimated or given).
    unscaled_variance : ndarray of shape (n_alphas, n_features)
        ``Var(W_j(alpha)) / sigma^2``, the same for every target: ``se`` is the square root
        of its product with ``noise_variance`` (formed on first access, like ``t``).
    df_resid : ndarray of shape (n_alphas,)
        Degrees of freedom of the t distribution (``inf``: a given variance, normal).
    level : float
    covariance : ndarray of shape (n_alphas, n_features, n_features) or None
        ``Cov(W(alpha)) / sigma^2`` (multiply by ``noise_variance``), if asked for.
    """

    alphas: np.ndarray
    coef: np.ndarray
    unscaled_variance: np.ndarray
    intercept: object
    intercept_se: object
    noise_variance: np.ndarray
    df_resid: np.ndarray
    level: float
    covariance: object = None

    @functools.cached_property
    def se(self):
        uv, nv = self.unscaled_variance, np.asarray(self.noise_variance)
        if self.coef.ndim > uv.ndim:  # a target axis
            var = uv[..., :, None] * np.expand_dims(nv, -2)
        else:
            var = uv * np.expand_dims(nv, -1)
        return np.sqrt(var, out=var).astype(self.coef.dtype, copy=False)

    @functools.cached_property
    def t(self):
        return _t_statistic(self.coef, self.se)

    @functools.cached_property
    def p_value(self):
        return _two_sided(self.t, self.df_resid)

    @functools.cached_property
    def conf_low(self):
        return (self.coef - _half_width(self.se, self.level, self.df_resid)).astype(
            self.coef.dtype)

    @functools.cached_property
    def conf_high(self):
        return (self.coef + _half_width(self.se, self.level, self.df_resid)).astype(
            self.coef.dtype)

    @functools.cached_property
    def intercept_t(self):
        return None if self.intercept is None else \
            _t_statistic(np.asarray(self.intercept), np.asarray(self.intercept_se))

    @functools.cached_property
    def intercept_p_value(self):
        return None if self.intercept is None else \
            _two_sided(self.intercept_t, self.df_resid)


def _t_statistic(coef, se):
    """``coef / se``; where ``se = 0``: 0 for a zero coefficient, else +-inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.divide(coef, se)
    zero = se == 0
    if np.any(zero):
        t = np.where(zero, np.where(coef == 0, 0.0, np.copysign(np.inf, coef)), t).astype(
            t.dtype)
    return t


def _two_sided(t, df):
    """``2 P(T > |t|)`` (float64) for Student's t with `df` degrees of freedom (scalar, or one
    per alpha along the first axis of `t`; inf: normal), one alpha at a time."""
    from scipy import special
    t = np.abs(np.asarray(t, dtype=np.float64))
    df = np.asarray(df, dtype=np.float64)
    out = np.empty(t.shape)
    rows = [(Ellipsis, float(df))] if df.ndim == 0 else list(enumerate(df))
    for i, d in rows:
        out[i] = 2 * (special.ndtr(-t[i]) if np.isinf(d) else special.stdtr(d, -t[i]))
    return out


def _half_width(se, level, df):
    """``q se`` with q the ``(1 + level) / 2`` quantile (per alpha along the first axis)."""
    from scipy import stats as sps
    df = np.asarray(df, dtype=np.float64)
    q = np.where(np.isinf(df), sps.norm.ppf(0.5 + level / 2),
                 sps.t.ppf(0.5 + level / 2, np.where(np.isinf(df), 1.0, df)))
    return q.reshape(q.shape + (1,) * (np.ndim(se) - q.ndim)) * se


def _check_no_unpenalized(solver, name):
    if solver.backend not in ("numpy", "array_api"):
        raise TypeError(f"{name} needs a RidgeSolver of NumPy, scipy.sparse or array-API "
                        f"data, got a solver on the {solver.backend!r} backend.")
    if solver.penalty_map is not None:
        raise ValueError(f"{name}: a solver with unpenalized columns (penalty_factor 0) is not "
                         "supported yet.")


def _noise_variance(solver, spectrum, flt, alphas, noise_variance):
    """sigma^2 (m, k) and the residual dof (m,) of the t distribution."""
    k = spectrum.R.shape[1]
    m = alphas.size
    noise_variance = check_noise_variance(noise_variance)
    if noise_variance is None or noise_variance == "ls":
        if noise_variance == "ls":
            path = solver.ridge(np.zeros(1))
            spectrum, flt, grid = path.spectrum, path.filter, np.zeros(1)
        else:
            grid = alphas
        _, problem = solver.problem_for(grid)
        rss = problem.base + np.square(flt.resid) @ problem.R2              # (m', k)
        df = problem.dim - (flt.fit * (2.0 - flt.fit)).sum(axis=1)          # n - tr(2H - H^2)
        what = "n_samples - [intercept] - tr(2H - H^2)" if noise_variance is None else \
            "of least squares, n_samples - [intercept] - rank"
        check_residual_dof(df, grid, what)
        sigma2 = rss / df[:, None]
        return np.broadcast_to(sigma2, (m, k)), np.broadcast_to(df, (m,))
    sigma2 = check_noise_level(noise_variance, k, "noise_variance")
    return np.broadcast_to(sigma2, (m, k)), np.full(m, np.inf)


def coef_inference(solver, alphas, *, noise_variance=None, level=0.95, covariance=False):
    r"""Standard errors, t statistics, p-values and confidence intervals of ridge coefficients.

    For fixed alpha the ridge estimate is linear in Y; under ``y_i = x_i^T W + b + e_i``
    with independent ``e_i ~ N(0, sigma^2 / w_i)``

    ``Cov(W(alpha)) = sigma^2 D V diag(s^2 / (s^2 + alpha)^2) V^T D``

    with the SVD ``Xc = U diag(s) V^T`` of the centred, weighted design and ``D = diag(1 /
    sqrt(c))`` for penalty factors c; ``Var(b) = sigma^2 (1 / sum(w) + xm^T Cov(W) xm /
    sigma^2)`` (``Cov(ym, W) = 0`` since ``U`` is orthogonal to ``sqrt(w)``). The variance
    ``sigma^2`` is estimated at each alpha by ``RSS(alpha) / (n - tr(2H - H^2))`` with the
    weighted residual sum of squares and the hat matrix H of the fit including the
    intercept (``tr(2H - H^2) = [intercept] + sum_i f_i (2 - f_i)``, ``f = s^2 / (s^2 +
    alpha)``), or taken from least squares or given. ``t = W / se``; two-sided p-values and
    intervals ``W +- q se`` use Student's t with the same residual degrees of freedom (the
    normal distribution for a given variance). O(n_features x rank) per alpha for the
    standard errors, whatever the number of targets.

    These are *conditional on alpha*: they ignore that alpha was chosen from the same data,
    and they describe the spread of the biased estimator ``W(alpha)`` around its own mean
    ``E W(alpha) != W``: the intervals cover ``E W(alpha)``, not W, and the t test of
    ``W_j = 0`` is the test of ``E W_j(alpha) = 0`` (zero exactly when ``W_j`` is for an
    orthogonal design), as in R's ``ridge`` (Cule et al. 2011) and ``lmridge`` packages.

    Parameters
    ----------
    solver : RidgeSolver
    alphas : float or array-like of shape (n_alphas,)
    noise_variance : None, 'ls', float or array-like of shape (n_targets,), default=None
        None: ``RSS(alpha) / (n - tr(2H - H^2))`` at each alpha. ``'ls'``: the
        least-squares estimate ``RSS(0) / (n - [intercept] - rank)`` for every alpha (t
        distribution with that dof). A number (one per target): the known sigma^2 per unit
        weight (normal distribution).
    level : float, default=0.95
        Confidence level of ``conf_low`` / ``conf_high``.
    covariance : bool, default=False
        Also return the full covariance matrices divided by sigma^2, (n_alphas, n_features,
        n_features).

    Returns
    -------
    RidgeInference

    Raises
    ------
    ValueError
        If the residual degrees of freedom are <= 0 (e.g. alpha = 0 with n_samples <=
        n_features + 1): sigma^2 cannot be estimated; pass `noise_variance`.

    Notes
    -----
    ``lmridge`` (Imdad and Aslam, 2018) estimates ``sigma^2 = RSS / (n - tr(2H - H H^T))``
    with the hat matrix H of the centred, scaled design *without* the intercept's 1, and
    its p-values use ``n - 1 - tr(H)`` degrees of freedom (intercept) instead; its
    coefficients are those of the columns scaled by its ``scaling`` option. Standardize
    with :func:`standardize_columns` to work on the same scale. With ``n`` large against
    the dof the differences vanish.

    References
    ----------
    .. [1] E. Cule, P. Vineis and M. De Iorio, "Significance testing in ridge regression for
       genetic data", BMC Bioinformatics 12, 372, 2011.
    .. [2] M. Imdad Ullah, M. Aslam and S. Altaf, "lmridge: a comprehensive R package for
       ridge regression", The R Journal 10(2), 326-346, 2018.
    .. [3] T. Hastie and R. Tibshirani, Generalized Additive Models, Chapman and Hall,
       1990, sec. 3.5 (residual degrees of freedom ``n - tr(2H - H H^T)``).

    Examples
    --------
    >>> import numpy as np
    >>> import spectralridge as sr
    >>> from spectralridge.stats import coef_inference
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 3))
    >>> y = X @ [1.0, 0.0, -0.5] + rng.standard_normal(100)
    >>> inf = coef_inference(sr.RidgeSolver(X, y), 10.0)
    >>> inf.coef.round(3), inf.se.round(3)
    (array([ 0.908, -0.122, -0.593]), array([0.078, 0.084, 0.087]))
    >>> (inf.p_value < 0.05).tolist()
    [True, False, True]
    """
    check_instance(solver, RidgeSolver, "solver")
    _check_no_unpenalized(solver, "coef_inference")
    alphas, scalar = check_alphas(alphas)
    level = check_level(level)
    covariance = check_bool(covariance, "covariance")
    path = solver.ridge(alphas)
    spectrum, flt = path.spectrum, path.filter
    sigma2, df = _noise_variance(solver, spectrum, flt, alphas, noise_variance)
    weight = np.square(flt.fit) / spectrum.lam                             # f^2 / lam
    c = solver.data.centering
    if solver.backend == "array_api":
        fields = _device_inference(solver, path, weight, sigma2, covariance)
    else:
        V = spectrum.V_coef                                                # (p, r)
        dtype = solver.dtype
        coef = path.coef().reshape(alphas.size, V.shape[0], -1)
        fields = {"coef": coef, "unscaled": weight @ np.square(V).T,      # (m, p)
                  "intercept": None, "intercept_se": None, "sigma2": np.array(sigma2),
                  "cov": np.einsum("pr,mr,qr->mpq", V, weight, V) if covariance else None}
        if solver.fit_intercept:
            xv = c.xm @ V                                                  # (r,)
            intercept_var = (1.0 / c.sum_w + weight @ np.square(xv))[:, None] * sigma2
            fields["intercept_se"] = np.sqrt(intercept_var).astype(dtype)
            # b = ym - xm^T W, from the coefficients already formed
            fields["intercept"] = (c.ym - np.einsum("p,mpk->mk", c.xm, coef)).astype(dtype)

    def shape(a):
        if a is None:
            return None
        if solver.y_was_1d:
            a = a[..., 0]
        return a[0, ...] if scalar else a

    unscaled, cov = fields["unscaled"], fields["cov"]
    kind = RidgeInference if solver.backend != "array_api" else _DeviceRidgeInference
    return kind(
        alphas=alphas, coef=shape(fields["coef"]),
        unscaled_variance=unscaled[0] if scalar else unscaled,
        intercept=shape(fields["intercept"]), intercept_se=shape(fields["intercept_se"]),
        noise_variance=shape(fields["sigma2"]),
        df_resid=np.array(df[0] if scalar else df, dtype=np.float64), level=level,
        covariance=None if cov is None else (cov[0, ...] if scalar else cov))


def _device_inference(solver, path, weight, sigma2, covariance):
    """coef_inference's arrays for an array-API solver: the coefficients, intercepts, their
    standard errors, sigma^2 and the covariance on the device, ``Var(W) / sigma^2`` (m, p)
    on the host."""
    spectrum = path.spectrum
    xp = solver.namespace
    c = solver.data.centering
    compute = spectrum.V.dtype
    V = spectrum.cast("V_coef", compute)                                   # (p, r)
    w_dev = solver.from_host(weight, np.float64)
    unscaled = solver.host_array(w_dev @ xp.matrix_transpose(V * V)).astype(np.float64)
    m = weight.shape[0]
    coef = xp.reshape(path.coef(), (m, V.shape[0], -1))
    fields = {"coef": coef, "unscaled": unscaled, "intercept": None, "intercept_se": None,
              "sigma2": solver.from_host(np.array(sigma2)), "cov": None}
    if covariance:
        fields["cov"] = (V[None, :, :] * w_dev[:, None, :]) @ xp.matrix_transpose(V)
    if solver.fit_intercept:
        xv = solver.host_array(c.xm @ V).astype(np.float64)                # (r,)
        intercept_var = (1.0 / c.sum_w + weight @ np.square(xv))[:, None] * sigma2
        fields["intercept_se"] = solver.from_host(np.sqrt(intercept_var))
        xm = xp.astype(c.xm, coef.dtype)
        fields["intercept"] = xp.astype(c.ym, coef.dtype) - (xm[None, None, :] @ coef)[:, 0, :]
    return fields


@dataclasses.dataclass(frozen=True)
class _DeviceRidgeInference(RidgeInference):
    """:class:`RidgeInference` of an array-API solver: the arrays with a target axis
    (coefficients, intercepts, their standard errors, t, p-values, intervals, sigma^2) and
    the covariance in the solver's namespace on its device; ``alphas``,
    ``unscaled_variance`` and ``df_resid`` NumPy. The p-values come from scipy's t
    distribution on the host: reading ``p_value`` copies ``t`` to the host and the p-values
    back (n_alphas x n_features x n_targets values each way)."""

    def _xp(self):
        return _array_api.namespace(self.coef, self.coef)[0]

    def _to_device(self, a, like):
        """Host `a` in the namespace, on the device and of the dtype of `like`."""
        xp, device = _array_api.namespace(like, like)
        return xp.asarray(np.array(a), dtype=like.dtype, device=device)

    @functools.cached_property
    def se(self):
        xp = self._xp()
        uv, nv = self._to_device(self.unscaled_variance, self.coef), self.noise_variance
        if self.coef.ndim > uv.ndim:  # a target axis
            var = uv[..., :, None] * xp.expand_dims(nv, axis=-2)
        else:
            var = uv * xp.expand_dims(nv, axis=-1)
        return xp.astype(xp.sqrt(var), self.coef.dtype)

    def _t(self, coef, se):
        xp = self._xp()
        with np.errstate(divide="ignore", invalid="ignore"):
            t = coef / xp.where(se == 0, xp.ones_like(se), se)
        signed_inf = xp.where(coef == 0, xp.zeros_like(coef),
                              xp.where(coef > 0, xp.full_like(coef, np.inf),
                                       xp.full_like(coef, -np.inf)))
        return xp.where(se == 0, signed_inf, t)

    def _p(self, t):
        """Two-sided p-values of device `t`, by scipy on the host (float64 where the device
        has it)."""
        xp, device = _array_api.namespace(t, t)
        p = _two_sided(_array_api.to_host(t), self.df_resid)
        if not _array_api.supports_float64(xp, device):
            return xp.asarray(p.astype(np.float32), device=device)
        return xp.asarray(p, dtype=xp.float64, device=device)

    def _half(self):
        from scipy import stats as sps
        df = np.asarray(self.df_resid, dtype=np.float64)
        q = np.where(np.isinf(df), sps.norm.ppf(0.5 + self.level / 2),
                     sps.t.ppf(0.5 + self.level / 2, np.where(np.isinf(df), 1.0, df)))
        q = q.reshape(q.shape + (1,) * (self.se.ndim - q.ndim))
        return self._to_device(q, self.se) * self.se

    t = functools.cached_property(lambda self: self._t(self.coef, self.se))
    p_value = functools.cached_property(lambda self: self._p(self.t))
    conf_low = functools.cached_property(lambda self: self.coef - self._half())
    conf_high = functools.cached_property(lambda self: self.coef + self._half())
    intercept_t = functools.cached_property(
        lambda self: None if self.intercept is None else
        self._t(self.intercept, self.intercept_se))
    intercept_p_value = functools.cached_property(
        lambda self: None if self.intercept is None else self._p(self.intercept_t))


def prediction_se(solver, X, alphas, *, noise_variance=None, observation=False):
    r"""Standard errors of ridge predictions for new samples at every alpha.

    ``Var(yhat(x)) = sigma^2 ([intercept] / sum(w) + z^T diag(s^2 / (s^2 + alpha)^2) z)``
    with ``z = V^T D (x - xm)``: the variance of the fitted mean at `x`, conditional on
    alpha (see :func:`coef_inference`, whose `noise_variance` options apply). With
    ``observation=True`` the variance of a new observation (of unit weight) is added:
    ``+ sigma^2``.

    Parameters
    ----------
    solver : RidgeSolver
    X : array-like of shape (n_new, n_features)
    alphas : float or array-like of shape (n_alphas,)
    noise_variance : None, 'ls', float or array-like of shape (n_targets,), default=None
    observation : bool, default=False

    Returns
    -------
    ndarray of shape (n_alphas, n_new[, n_targets])

    Examples
    --------
    >>> import numpy as np
    >>> import spectralridge as sr
    >>> from spectralridge.stats import prediction_se
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 3))
    >>> y = X @ [1.0, 0.0, -0.5] + rng.standard_normal(100)
    >>> prediction_se(sr.RidgeSolver(X, y), [[0.0, 0.0, 0.0], [3.0, 3.0, 3.0]], 10.0).round(3)
    array([0.093, 0.436])
    """
    from ._solver import held_out_basis
    check_instance(solver, RidgeSolver, "solver")
    _check_no_unpenalized(solver, "prediction_se")
    alphas, scalar = check_alphas(alphas)
    observation = check_bool(observation, "observation")
    path = solver.ridge(alphas)
    spectrum, flt = path.spectrum, path.filter
    device = solver.backend == "array_api"
    X = solver.held_out_basis(X, spectrum) if device else \
        check_X_new(X, solver.n_features_in_, np.float64)
    sigma2, _ = _noise_variance(solver, spectrum, flt, alphas, noise_variance)
    c = solver.data.centering
    weight = np.square(flt.fit) / spectrum.lam                             # (m, r)
    extra = (1.0 / c.sum_w if solver.fit_intercept else 0.0) + (1.0 if observation else 0.0)
    if device:  # (m, q, k) on the device
        xp = solver.namespace
        var = solver.from_host(weight, np.float64) @ xp.matrix_transpose(X * X) + extra
        out = xp.astype(xp.sqrt(var[:, :, None] * solver.from_host(sigma2, np.float64)
                                [:, None, :]), solver.dtype)
    else:
        B = held_out_basis(X, None, c.xm, spectrum, np.float64)           # (q, r)
        var = weight @ np.square(B).T + extra                              # (m, q)
        out = np.sqrt(var[:, :, None] * sigma2[:, None, :]).astype(solver.dtype)
    if solver.y_was_1d:
        out = out[..., 0]
    return out[0, ...] if scalar else out
