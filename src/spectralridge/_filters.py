"""Spectral filters: ridge, gradient-descent early stopping and truncated SVD.

Each regularizer keeps the eigenvectors of the Hessian ``Xc^T Xc = V diag(lam) V^T`` and
multiplies the least-squares fit along eigenvector i by a factor ``f_i`` in [0, 1] (for a
convergent step size). A :class:`Filter` holds those factors for a grid of m parameter
values, together with ``1 - f`` computed without cancellation; coefficients, predictions,
degrees of freedom, GCV and leave-one-out all take any filter.
"""

from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq


class Filter(NamedTuple):
    """Filter factors of shape (m, r) over eigenvalues ``lam`` (descending).

    ``fit`` multiplies the fitted values' components (the coefficient factor is
    ``fit / s`` with ``s = sqrt(lam)``); ``resid = 1 - fit``, computed without cancellation.
    """

    fit: np.ndarray
    resid: np.ndarray

    @property
    def dof(self):
        """Effective degrees of freedom, the trace of the (intercept-free) hat matrix."""
        return self.fit.sum(axis=1)

    def coef_factors(self, s):
        return self.fit / s


def ridge_filter(lam, alphas):
    """``lam / (lam + a)`` and ``a / (lam + a)``; no division by alpha (0 where both are 0)."""
    a = alphas[:, None]
    denom = lam + a
    fit = np.divide(lam, denom, out=np.zeros(denom.shape), where=denom > 0)
    resid = np.divide(a, denom, out=np.zeros(denom.shape), where=denom > 0)
    return Filter(fit, resid)


def ridge_alphas_for_dof(lam, dofs):
    """Alphas at which ``sum lam / (lam + alpha)`` equals each of `dofs` in (0, rank]."""
    r = lam.size
    out = np.zeros(dofs.size)
    for i, d in enumerate(dofs):
        if d >= r:
            continue  # alpha 0
        # dof is decreasing in alpha; these bounds bracket the root (see dof's extremes).
        lo, hi = np.log(lam[-1] * (r - d) / d), np.log(lam[0] * r / d)
        out[i] = np.exp(brentq(lambda u: (lam / (lam + np.exp(u))).sum() - d,
                               lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps))
    return out


def early_stopping_filter(lam, lr, steps):
    """``1 - (1 - lr lam)^t`` and ``(1 - lr lam)^t`` for gradient descent from zero."""
    x = lr * lam
    t = steps[:, None]
    small = x < 1
    with np.errstate(over="ignore", invalid="ignore"):
        # exp(t log(1 - x)) keeps both factors accurate for small x (the usual regime) ...
        log_resid = t * np.log1p(-np.where(small, x, 0.0))
        # ... and the direct power where 1 - x <= 0 (t is integer-valued, so a negative base
        # is defined; it overflows to +-inf when gradient descent diverges).
        direct = np.power(1.0 - x, t)
        fit = np.where(small, -np.expm1(log_resid), 1.0 - direct)
    return Filter(fit, np.where(small, np.exp(log_resid), direct))


def truncation_filter(rank, n_components):
    """Keep the ``k`` steepest directions: factor 1 for ``i < k``, 0 beyond."""
    fit = (np.arange(rank) < np.asarray(n_components)[:, None]).astype(np.float64)
    return Filter(fit, 1.0 - fit)
