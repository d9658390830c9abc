"""Spectral filters: ridge, gradient-descent early stopping and truncated SVD.

Each regularizer keeps the eigenvectors of the Hessian ``Xc^T Xc = V diag(lam) V^T`` and
multiplies the least-squares fit along eigenvector i by a factor ``f_i`` in [0, 1] (for a
convergent step size). A :class:`Filter` holds those factors for a grid of m parameter
values, together with ``1 - f`` computed without cancellation; coefficients, predictions,
degrees of freedom, GCV and leave-one-out all take any filter.
"""

from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
from scipy.optimize import brentq

from . import _core

_LOG_MAX = np.log(np.finfo(np.float64).max)
_EPS = np.finfo(np.float64).eps


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


def low_rank(F, target, dtype, max_rank=None):
    """Factor ``F (m, r) ~= A @ B`` with ``A (m, q)``, ``B (q, r)`` of `dtype`.

    Searches the rank upwards (by doubling steps, then bisection, up to `max_rank`) from
    that of the singular values of `F` above `target` and the SVD's rounding: the truncated
    SVD refined by two alternating least-squares steps (``B += A^+ (F - A B)``, then ``A``),
    which bring the entrywise error down to the rounding of the factors even where the SVD
    itself is less accurate. Returns ``A, B`` and ``eps (m,)``, a bound on ``max_j |F[a, j]
    - (A B)[a, j]|`` for the factors as cast to `dtype` (the product evaluated in extended
    precision, its rounding added), for the smallest rank found with ``max(eps) <=
    target``; None if there is none. Filter matrices of ridge over many alphas are
    Cauchy-like: their singular values decay geometrically [1]_, so ``q`` grows
    with the logarithms of the range of the spectrum and alphas and of ``1 / target`` only.

    References
    ----------
    .. [1] B. Beckermann and A. Townsend, "Bounds on the singular values of matrices with
       displacement structure", SIAM Review 61(2), 319-344, 2019.
    """
    # SciPy's BLAS and LAPACK only (`_core.gemm`, scipy.linalg): NumPy's would fight them.
    F = np.ascontiguousarray(F, dtype=np.float64)
    U, s, Vt = sla.svd(F, full_matrices=False)
    max_rank = s.size if max_rank is None else min(max_rank, s.size)
    ld = np.longdouble
    F_ld = F.astype(ld)

    def residual(A, B):
        D = F.copy()
        _core.gemm(np.ascontiguousarray(A), np.ascontiguousarray(B), D, alpha=-1.0, beta=1.0)
        return D

    def attempt(q):
        """Refined factors of rank q if their error (estimated in float64) meets target."""
        A, B = U[:, :q] * s[:q], Vt[:q]
        if q:
            for _ in range(2):
                B = B + _lstsq(A, residual(A, B))
                A = A + _lstsq(B.T, residual(A, B).T).T
        A, B = np.ascontiguousarray(A, dtype=dtype), np.ascontiguousarray(B, dtype=dtype)
        estimate = np.abs(residual(A.astype(np.float64), B.astype(np.float64)))
        return (A, B) if estimate.max(initial=0) <= target / 2 else None

    def bound(A, B):
        err = np.abs(F_ld - A.astype(ld) @ B.astype(ld)).max(axis=1, initial=0)
        size = (np.abs(A).astype(ld) @ np.abs(B).astype(ld)).max(axis=1, initial=0) + \
            np.abs(F_ld).max(axis=1, initial=0)
        q = A.shape[1]
        return (err + 2 * (q + 2) * np.finfo(ld).eps * size).astype(np.float64) * (1 + 1e-15)

    # search from the rank where the singular values reach the SVD's own rounding or
    # `target` (too small: the refinement goes below the SVD's rounding) and from where their
    # geometric decay extrapolates to `target`: down by one step, or up by doubling steps
    # until an attempt meets the estimate; then bisection (the error decreases with the rank
    # up to rounding; far above the needed rank the refinement's least-squares problems are
    # too ill-conditioned to trust), then the bound
    count = min(_rank_above_rounding(s, F.shape[0], target), max_rank)
    lo = count - 1
    hi = min(max(count, _extrapolated_rank(s, count, target) - 1), max_rank)
    best = attempt(hi) if hi > lo else None
    if best is not None and hi - 1 > lo:
        found = attempt(hi - 1)
        lo, hi, best = (hi - 1, hi, best) if found is None else (lo, hi - 1, found)
    step = 1
    while best is None and hi < max_rank:
        lo, hi = hi, min(hi + step, max_rank)
        best, step = attempt(hi), 2 * step
    while best is not None and hi - lo > 1:
        mid = (lo + hi) // 2
        found = attempt(mid)
        lo, hi, best = (lo, mid, found) if found is not None else (mid, hi, best)
    while best is not None:
        eps = bound(*best)
        if eps.max(initial=0) <= target:
            return best[0], best[1], eps
        hi += 1
        best = attempt(hi) if hi <= max_rank else None
    return None


def _rank_above_rounding(s, m, target):
    """How many singular values `s` (descending) of an m-row matrix exceed `target` and
    their SVD's rounding."""
    return int(np.count_nonzero(s > max(target, 8 * m * _EPS * s[0]))) if s.size else 0


def _lstsq(A, b):
    return sla.lstsq(A, b, lapack_driver="gelsy", check_finite=False)[0]


def _extrapolated_rank(s, count, target):
    """Where the singular values `s` (descending), decaying geometrically as over the last
    few of the `count` above the rounding, would fall to `target` (`count` if they do not
    decay)."""
    first = max(count - 4, 0)
    if count < 2 or count >= s.size or s[count - 1] <= target:
        return count
    rate = (s[count - 1] / s[first]) ** (1.0 / (count - 1 - first))
    if not 0 < rate < 1:
        return count
    return count - 1 + int(np.ceil(np.log(target / s[count - 1]) / np.log(rate)))


# Column blocks tried by `block_low_rank`, the fewest columns per block, and the columns
# that each factor of a block is charged beyond its own where there are several (narrower
# blocks' products run below the rate of a single one).
BLOCK_COUNTS = (1, 2, 3, 4, 6, 8, 12, 16)
MIN_BLOCK_COLS = 32
BLOCK_OVERHEAD = 32


def block_low_rank(F, target, dtype, budget, overhead=BLOCK_OVERHEAD):
    """Factor ``F (m, r) ~= A @ B`` with ``B`` block-diagonal over contiguous column blocks.

    Each block of columns is factored by :func:`low_rank` to `target`; ``A (m, c)`` stacks
    their left factors, ``B (c, r)`` their right ones (zero outside the blocks). Of
    `BLOCK_COUNTS` equal blocks (past 2, up to the first that costs more than the one
    before), the first of least estimated cost ``sum_g q_g w_g + m c`` (the
    multiply-adds per row and target of ``_core.sse_lowrank``: ``q_g`` the rank of a block
    of ``w_g`` columns, ``c = sum_g q_g``; with several blocks, `overhead` ``c`` more)
    is chosen among those whose factors stay within `budget` (the blocks' ranks estimated
    from their singular values, then checked once factored); None if none costs at most `budget`. The
    columns of ridge's filter matrix are the eigenvalues (descending): a block of nearby
    eigenvalues has a lower rank than all of them, since the singular values of a Cauchy-like
    block decay the faster, the narrower its range of eigenvalues [1]_ (see
    :func:`low_rank`). Returns ``A, B, eps, (cols, ranks)``: ``eps (m,)`` bounds ``max_j |F
    - A B|`` per row, block g spans columns ``cols[g] : cols[g + 1]`` and rows
    ``ranks[g] : ranks[g + 1]`` of ``B``.
    """
    F = np.ascontiguousarray(F, dtype=np.float64)
    m, r = F.shape
    plans = []
    for nb in BLOCK_COUNTS:  # past 2 blocks, up to the first count that costs more
        if (nb > 1 and r < nb * MIN_BLOCK_COLS) or \
                (len(plans) > 2 and plans[-1][0] > plans[-2][0]):
            break
        cols = np.linspace(0, r, nb + 1).round().astype(np.intp)
        ranks = []
        for j0, j1 in zip(cols[:-1], cols[1:]):
            ranks.append(_rank_above_rounding(sla.svdvals(F[:, j0:j1]), m, target))
        plans.append((block_cost(cols, ranks, m, overhead), nb, cols))
    for estimate, _, cols in sorted(plans, key=lambda plan: plan[:2]):
        if estimate > budget:
            break
        parts = [low_rank(F[:, j0:j1], target, dtype) for j0, j1 in zip(cols[:-1], cols[1:])]
        if any(part is None for part in parts):
            continue
        ranks = np.concatenate([[0], np.cumsum([A.shape[1] for A, _, _ in parts])])
        if block_cost(cols, np.diff(ranks), m, overhead) > budget:
            continue
        A = np.concatenate([A for A, _, _ in parts], axis=1)
        B = np.zeros((ranks[-1], r), dtype=dtype)
        for g, (_, B_g, _) in enumerate(parts):
            B[ranks[g]:ranks[g + 1], cols[g]:cols[g + 1]] = B_g
        eps = np.max([eps for _, _, eps in parts], axis=0)
        return np.ascontiguousarray(A, dtype=dtype), B, eps, (cols, ranks.astype(np.intp))
    return None


def block_cost(cols, ranks, m, overhead=BLOCK_OVERHEAD):
    extra = overhead if len(cols) > 2 else 0
    return float(np.dot(np.diff(cols) + extra, ranks)) + m * float(np.sum(ranks))

