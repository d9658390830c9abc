r"""Spectral filters on a general quadratic: ridge, early stopping, truncation.

Take any quadratic objective with a symmetric positive semi-definite Hessian
``H = Q diag(lam) Q^T`` and unregularized optimum ``w*``,

    ``L(w) = 0.5 (w - w*)^T H (w - w*)``.

Three classical ways of regularizing it act on the same spectrum: each keeps ``Q`` and
multiplies the coordinates ``Q^T w*`` of the optimum by a *filter factor* ``f_i`` in ``[0, 1]``,
``w = Q diag(f) Q^T w*``:

- **Ridge (L2 penalty, weight decay)**: the minimizer of ``L(w) + 0.5 a ||w||^2`` has
  ``f_i = lam_i / (lam_i + a)`` [1]_ [2]_. Steep directions (``lam_i >> a``) survive, flat
  ones (``lam_i << a``) are zeroed; the factors sum to the effective degrees of freedom.
  See :func:`shrinkage_factors`, :func:`effective_dof`, :func:`quadratic_shrinkage`.
- **Early stopping**: gradient descent from ``w = 0`` with step ``lr``, stopped after ``t``
  steps, has ``f_i = 1 - (1 - lr lam_i)^t`` [3]_. See :func:`early_stopping_factors` and
  :func:`early_stopping_path`.
- **Truncated SVD (principal-component regression)**: keep the ``k`` steepest directions,
  ``f_i = 1`` for ``i <= k`` (eigenvalues in decreasing order) and ``0`` otherwise [2]_.

Early stopping matches ridge at the equivalent penalty ``a = 1 / (lr t)``
(:func:`equivalent_alpha`) [3]_. With ``u = lr t lam_i`` and ``lr lam_i << 1``, the
early-stopping factor is ``1 - (1 - lr lam_i)^t ~ 1 - exp(-u)`` and the ridge factor at
``a = 1 / (lr t)`` is exactly ``u / (1 + u)``: both are ``u + O(u^2)`` for ``u << 1`` and both
tend to 1 for ``u >> 1``. For ``lr lam_i <= 1`` the early-stopping factor is never smaller,
and it exceeds the ridge factor by at most ``0.2036`` (near ``u = 2.5``) plus
``lr lam_i / (e (1 - lr lam_i))``. So the number of steps plays the role of an inverse
penalty: training longer is regularizing less.

Conventions
-----------
- Hessians must be symmetric and positive semi-definite up to a relative tolerance
  ``rtol = HESSIAN_RTOL[dtype]`` (``1e-10`` for float64 input, ``1e-4`` for float32):
  ``||H - H^T||_F <= rtol ||H||_F`` (the symmetric part ``(H + H^T) / 2`` is then used) and
  ``lam_min >= -rtol max|lam|``; eigenvalues in ``[-rtol max|lam|, 0)`` are clipped to 0. The
  same rule applies to ``eigenvalues`` passed directly.
- Eigenvalues of a Hessian with ``lam_i <= p eps max|lam|`` (``p`` its order, ``eps`` the
  machine epsilon of the input dtype) are treated as exactly zero (numerical rank), so that
  ``alpha = 0`` gives the projection of ``w*`` on the range of ``H`` for a singular ``H``.
  Eigenvalues passed directly are used as given.
- No formula divides by ``alpha``: ``alpha = 0`` gives factor 1 for ``lam > 0`` and 0 for
  ``lam = 0``.
- Outputs put the alpha (or steps) axis first; a scalar alpha (or number of steps) drops
  that axis. Factors and dof are float64; ``quadratic_shrinkage`` and ``early_stopping_path``
  return float32 when ``hessian`` and ``w_star`` are both float32 (computed in float64),
  float64 otherwise. Inputs are never modified.

References
----------
.. [1] A. E. Hoerl and R. W. Kennard, "Ridge regression: biased estimation for nonorthogonal
   problems", Technometrics 12(1), 55-67, 1970.
.. [2] T. Hastie, R. Tibshirani and J. Friedman, The Elements of Statistical Learning, 2nd
   ed., Springer, 2009, sec. 3.4.1 (ridge shrinkage and effective degrees of freedom) and
   3.5.1 (principal components regression).
.. [3] I. Goodfellow, Y. Bengio and A. Courville, Deep Learning, MIT Press, 2016, sec. 7.1.1
   (L2 parameter regularization) and 7.8 (early stopping as L2 regularization).

Examples
--------
>>> import numpy as np
>>> from spectralridge import theory
>>> lam = np.array([100.0, 1.0, 0.01])
>>> theory.shrinkage_factors(lam, 1.0).round(3)
array([0.99, 0.5 , 0.01])
>>> lr, t = 1e-3, 1000
>>> float(theory.equivalent_alpha(lr, t))
1.0
>>> theory.early_stopping_factors(lam, lr, t).round(3)
array([1.   , 0.632, 0.01 ])
"""

import numpy as np

from ._filters import early_stopping_filter, ridge_filter
from ._validation import (HESSIAN_RTOL, check_alphas, check_eigenvalues, check_hessian,
                          check_hessian_eigenvalues, check_lr, check_steps, check_w_star,
                          warn_if_divergent)

__all__ = ["HESSIAN_RTOL", "early_stopping_factors", "early_stopping_path", "effective_dof",
           "equivalent_alpha", "quadratic_shrinkage", "shrinkage_factors"]


# -- kernels (no validation) ---------------------------------------------------------------
def _hessian_eigh(hessian):
    """Validated eigen-decomposition ``(lam, Q, dtype)``, negligible eigenvalues set to 0."""
    H, dtype = check_hessian(hessian)
    lam, Q = np.linalg.eigh(H)
    lam = check_hessian_eigenvalues(lam, dtype)
    cutoff = H.shape[0] * np.finfo(dtype).eps * lam.max()
    lam[lam <= cutoff] = 0.0
    return lam, Q, dtype


def _filter(Q, factors, w_star, dtype):
    """``Q diag(f) Q^T w*`` for every row ``f`` of `factors`: shape (m, p)."""
    coords = Q.T @ w_star.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # diverging gradient descent (warned)
        out = (factors * coords) @ Q.T
    out_dtype = np.float32 if dtype == np.float32 and w_star.dtype == np.float32 else np.float64
    return out.astype(out_dtype, copy=False)


# -- public API ------------------------------------------------------------------------------
def shrinkage_factors(eigenvalues, alphas):
    r"""Ridge shrinkage factors ``lam / (lam + alpha)`` for every alpha.

    In the eigenbasis of a Hessian with eigenvalues `eigenvalues`, the ridge-regularized
    optimum multiplies the unregularized optimum's coordinates by these factors.

    Parameters
    ----------
    eigenvalues : array-like of shape (n_eigenvalues,)
        Eigenvalues ``lam`` of a symmetric positive semi-definite Hessian, in any order
        (kept). Negative values within the tolerance ``HESSIAN_RTOL`` of the module
        docstring are clipped to 0; more negative ones raise ``ValueError``.
    alphas : float or array-like of shape (n_alphas,)
        Non-negative regularization strengths. ``alpha = 0`` gives factor 1 where
        ``lam > 0`` and 0 where ``lam == 0``.

    Returns
    -------
    ndarray of shape (n_alphas, n_eigenvalues), float64
        Factors in ``[0, 1]``; a scalar alpha gives shape (n_eigenvalues,).

    See Also
    --------
    effective_dof : their sum.
    quadratic_shrinkage : the regularized optimum itself.
    spectralridge.RidgeSolver.shrinkage : the same factors for a data matrix.

    References
    ----------
    .. [1] A. E. Hoerl and R. W. Kennard, "Ridge regression: biased estimation for
       nonorthogonal problems", Technometrics 12(1), 55-67, 1970.
    .. [2] T. Hastie, R. Tibshirani and J. Friedman, The Elements of Statistical Learning,
       2nd ed., Springer, 2009, sec. 3.4.1.

    Examples
    --------
    >>> from spectralridge.theory import shrinkage_factors
    >>> shrinkage_factors([4.0, 1.0, 0.0], [0.0, 1.0])
    array([[1. , 1. , 0. ],
           [0.8, 0.5, 0. ]])
    """
    lam = check_eigenvalues(eigenvalues)
    alphas, scalar = check_alphas(alphas)
    out = ridge_filter(lam, alphas).fit
    return out[0] if scalar else out


def effective_dof(eigenvalues, alphas):
    r"""Effective degrees of freedom ``sum_i lam_i / (lam_i + alpha)`` for every alpha.

    The trace of ``H (H + alpha I)^+``; for least squares (``H = X^T X``) the trace of the
    ridge hat matrix. It decreases from the rank of ``H`` at ``alpha = 0`` to 0.

    Parameters
    ----------
    eigenvalues : array-like of shape (n_eigenvalues,)
        Eigenvalues of a symmetric positive semi-definite Hessian (see
        :func:`shrinkage_factors`).
    alphas : float or array-like of shape (n_alphas,)
        Non-negative regularization strengths.

    Returns
    -------
    ndarray of shape (n_alphas,), float64
        A scalar alpha gives a NumPy scalar.

    References
    ----------
    .. [1] T. Hastie, R. Tibshirani and J. Friedman, The Elements of Statistical Learning,
       2nd ed., Springer, 2009, sec. 3.4.1.
    .. [2] A. E. Hoerl and R. W. Kennard, "Ridge regression: biased estimation for
       nonorthogonal problems", Technometrics 12(1), 55-67, 1970.

    Examples
    --------
    >>> from spectralridge.theory import effective_dof
    >>> effective_dof([4.0, 1.0, 0.0], [0.0, 1.0, 1e12]).round(6)
    array([2. , 1.3, 0. ])
    """
    lam = check_eigenvalues(eigenvalues)
    alphas, scalar = check_alphas(alphas)
    out = ridge_filter(lam, alphas).fit.sum(axis=1)
    return out[0] if scalar else out


def quadratic_shrinkage(hessian, w_star, alphas):
    r"""Ridge-regularized optimum of a quadratic for every alpha.

    The minimizer of ``0.5 (w - w*)^T H (w - w*) + 0.5 alpha ||w||^2``,
    ``w(alpha) = (H + alpha I)^{-1} H w* = Q diag(lam / (lam + alpha)) Q^T w*``, from one
    eigen-decomposition ``H = Q diag(lam) Q^T``. ``alpha = 0`` gives the projection of ``w*``
    on the range of ``H`` (the minimum-norm minimizer when ``H`` is singular).

    Parameters
    ----------
    hessian : array-like of shape (n_features, n_features)
        Symmetric positive semi-definite Hessian ``H``, up to the tolerances of the module
        docstring (``HESSIAN_RTOL``); eigenvalues below ``n_features * eps * lam_max`` count
        as zero.
    w_star : array-like of shape (n_features,)
        Unregularized optimum ``w*``.
    alphas : float or array-like of shape (n_alphas,)
        Non-negative regularization strengths.

    Returns
    -------
    ndarray of shape (n_alphas, n_features)
        A scalar alpha gives shape (n_features,). float32 when `hessian` and `w_star` are
        both float32, else float64.

    Raises
    ------
    ValueError
        If `hessian` is not square, not symmetric, not positive semi-definite or not finite,
        if `w_star` does not match it, or if an alpha is negative.

    See Also
    --------
    shrinkage_factors : the factors ``lam / (lam + alpha)``.
    early_stopping_path : the gradient-descent counterpart.

    References
    ----------
    .. [1] A. E. Hoerl and R. W. Kennard, "Ridge regression: biased estimation for
       nonorthogonal problems", Technometrics 12(1), 55-67, 1970.
    .. [2] T. Hastie, R. Tibshirani and J. Friedman, The Elements of Statistical Learning,
       2nd ed., Springer, 2009, sec. 3.4.1.
    .. [3] I. Goodfellow, Y. Bengio and A. Courville, Deep Learning, MIT Press, 2016,
       sec. 7.1.1.

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge.theory import quadratic_shrinkage
    >>> H = np.diag([4.0, 1.0, 0.0])
    >>> quadratic_shrinkage(H, [1.0, 1.0, 1.0], [0.0, 1.0])
    array([[1. , 1. , 0. ],
           [0.8, 0.5, 0. ]])
    """
    lam, Q, dtype = _hessian_eigh(hessian)
    w_star = check_w_star(w_star, lam.size)
    alphas, scalar = check_alphas(alphas)
    out = _filter(Q, ridge_filter(lam, alphas).fit, w_star, dtype)
    return out[0] if scalar else out


def early_stopping_factors(eigenvalues, lr, steps):
    r"""Filter factors ``1 - (1 - lr lam)^t`` of gradient descent stopped after t steps.

    Gradient descent from 0 with step `lr` on a quadratic with Hessian eigenvalues ``lam``
    reaches, after ``t`` steps, the optimum's coordinates multiplied by these factors. For
    ``lr lam < 1`` they lie in ``[0, 1]`` and increase with ``t``; they are computed as
    ``-expm1(t log1p(-lr lam))``, accurate for tiny ``lr lam``.

    Parameters
    ----------
    eigenvalues : array-like of shape (n_eigenvalues,)
        Eigenvalues of a symmetric positive semi-definite Hessian (see
        :func:`shrinkage_factors`).
    lr : float
        Step size (learning rate), positive. A ``RuntimeWarning`` is issued when
        ``lr >= 2 / max(eigenvalues)``: gradient descent then does not converge and the
        factors of the steepest directions oscillate or grow without bound.
    steps : int or array-like of shape (n_steps,)
        Non-negative numbers of steps (integer-valued).

    Returns
    -------
    ndarray of shape (n_steps, n_eigenvalues), float64
        A scalar `steps` gives shape (n_eigenvalues,).

    See Also
    --------
    equivalent_alpha : the ridge penalty with matching factors, ``1 / (lr t)``.

    References
    ----------
    .. [1] I. Goodfellow, Y. Bengio and A. Courville, Deep Learning, MIT Press, 2016,
       sec. 7.8.

    Examples
    --------
    >>> from spectralridge.theory import early_stopping_factors
    >>> early_stopping_factors([1.0, 0.5, 0.0], 0.5, [0, 1, 2])
    array([[0.    , 0.    , 0.    ],
           [0.5   , 0.25  , 0.    ],
           [0.75  , 0.4375, 0.    ]])
    """
    lam = check_eigenvalues(eigenvalues)
    lr = check_lr(lr)
    steps, scalar = check_steps(steps)
    warn_if_divergent(lr, lam.max())
    out = early_stopping_filter(lam, lr, steps).fit
    return out[0] if scalar else out


def early_stopping_path(hessian, w_star, lr, steps):
    r"""Iterates of gradient descent from 0 on a quadratic, in closed form.

    Gradient descent ``w <- w - lr H (w - w*)`` from ``w = 0`` on
    ``0.5 (w - w*)^T H (w - w*)`` is, after ``t`` steps,
    ``w_t = Q diag(1 - (1 - lr lam)^t) Q^T w*`` with ``H = Q diag(lam) Q^T``: one
    eigen-decomposition serves every ``t``. It is close to the ridge optimum
    :func:`quadratic_shrinkage` at ``alpha = 1 / (lr t)`` (see the module docstring).

    Parameters
    ----------
    hessian : array-like of shape (n_features, n_features)
        Symmetric positive semi-definite Hessian ``H`` (see :func:`quadratic_shrinkage`).
    w_star : array-like of shape (n_features,)
        Unregularized optimum ``w*``.
    lr : float
        Step size, positive; ``RuntimeWarning`` when ``lr >= 2 / lam_max`` (divergence).
    steps : int or array-like of shape (n_steps,)
        Non-negative numbers of steps (integer-valued).

    Returns
    -------
    ndarray of shape (n_steps, n_features)
        A scalar `steps` gives shape (n_features,). float32 when `hessian` and `w_star` are
        both float32, else float64.

    See Also
    --------
    early_stopping_factors, equivalent_alpha, quadratic_shrinkage

    References
    ----------
    .. [1] I. Goodfellow, Y. Bengio and A. Courville, Deep Learning, MIT Press, 2016,
       sec. 7.8.

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge.theory import early_stopping_path
    >>> H = np.diag([1.0, 0.5])
    >>> early_stopping_path(H, [2.0, 2.0], 0.5, [1, 2, 100]).round(6)
    array([[1.   , 0.5  ],
           [1.5  , 0.875],
           [2.   , 2.   ]])
    """
    lam, Q, dtype = _hessian_eigh(hessian)
    w_star = check_w_star(w_star, lam.size)
    lr = check_lr(lr)
    steps, scalar = check_steps(steps)
    warn_if_divergent(lr, lam.max())
    out = _filter(Q, early_stopping_filter(lam, lr, steps).fit, w_star, dtype)
    return out[0] if scalar else out


def equivalent_alpha(lr, steps):
    r"""Ridge penalty equivalent to early stopping: ``alpha = 1 / (lr t)``.

    Ridge with this alpha and gradient descent with step `lr` stopped after ``t`` steps
    have nearly the same filter factors when ``lr lam << 1`` (the module docstring bounds
    the difference). ``t = 0`` gives ``inf`` (no step taken: everything is shrunk to 0).

    Parameters
    ----------
    lr : float
        Step size, positive.
    steps : int or array-like of shape (n_steps,)
        Non-negative numbers of steps (integer-valued).

    Returns
    -------
    ndarray of shape (n_steps,), float64
        A scalar `steps` gives a NumPy scalar.

    References
    ----------
    .. [1] I. Goodfellow, Y. Bengio and A. Courville, Deep Learning, MIT Press, 2016,
       sec. 7.8.

    Examples
    --------
    >>> from spectralridge.theory import equivalent_alpha
    >>> equivalent_alpha(0.01, [0, 10, 1000])
    array([ inf, 10. ,  0.1])
    """
    lr = check_lr(lr)
    steps, scalar = check_steps(steps)
    denom = lr * steps
    out = np.divide(1.0, denom, out=np.full_like(denom, np.inf), where=denom > 0)
    return out[0] if scalar else out
