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

_LOG_MAX = np.log(np.finfo(np.float64).max)


class Filter(NamedTuple):
    """Filter factors of shape (m, r) over eigenvalues ``lam`` (descending).

    ``fit`` multiplies the fitted values' components (the coefficient factor is
    ``fit / s`` with ``s = sqrt(lam)``); ``resid = 1 - fit``, computed without cancellation.
    """

    fit: np.ndarray
    resid: np.ndarray
    #: ``resid`` divided by its largest entry per row, without underflow (ridge: for
    #: leave-one-out, where the residual and ``1 - h`` share that factor)
    resid_rel: np.ndarray = None

    @property
    def dof(self):
        """Effective degrees of freedom, the trace of the (intercept-free) hat matrix."""
        return self.fit.sum(axis=1)

    def coef_factors(self, s):
        return self.fit / s


def ridge_filter(lam, alphas, ls_rank=None):
    """``lam / (lam + a)`` and ``a / (lam + a)``; no division by alpha.

    At ``a = 0`` only the first `ls_rank` directions (default all) count, the minimum-norm
    least-squares cutoff: the others get factor 0 (and residual factor 1).
    """
    a = alphas[:, None]
    denom = lam + a
    fit = np.divide(lam, denom, out=np.zeros(denom.shape), where=denom > 0)
    resid = np.divide(a, denom, out=np.zeros(denom.shape), where=denom > 0)
    # (lam_min + a) / (lam + a): resid over its largest entry, also at a = 0 (its limit)
    rel = np.divide(lam[-1:] + a, denom, out=np.ones(denom.shape), where=denom > 0) \
        if lam.size else np.zeros(denom.shape)
    if ls_rank is not None and ls_rank < lam.size:
        zero = alphas == 0
        fit[zero, ls_rank:] = 0.0
        resid[zero, ls_rank:] = 1.0
        rel[zero] = resid[zero]
    return Filter(fit, resid, rel)


def ridge_alphas_for_dof(lam, dofs):
    """Alphas at which ``sum lam / (lam + alpha)`` equals each of `dofs` in (0, rank].

    ``dof`` decreases in alpha from ``rank`` to 0: the root is bracketed by
    ``lam_min (rank - d) / d`` (where ``dof >= d``, with equality when all ``lam`` are
    equal) and ``lam_max rank / d`` (where ``dof < d``), widened by a factor of e.
    """
    r = lam.size
    out = np.zeros(dofs.size)
    for i, d in enumerate(dofs):
        if d >= r:
            continue  # alpha 0
        lo = np.log(lam[-1]) + np.log((r - d) / d) - 1.0
        hi = min(np.log(lam[0]) + np.log(r / d) + 1.0, _LOG_MAX)
        excess = lambda u: (lam / (lam + np.exp(u))).sum() - d  # noqa: E731
        if excess(hi) > 0:  # a dof so small that its alpha exceeds the float64 range
            out[i] = np.inf
            continue
        out[i] = np.exp(brentq(excess, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps))
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
