"""Cross-validation scores from a spectrum: GCV, exact leave-one-out, selection, refit.

Every function here works for all alphas and all targets at once; none allocates an
n_samples x n_targets x n_alphas array.
"""

import contextlib
import contextvars
import functools
import hashlib
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import _core
from ._config import kernel_thread_limit, loo_compression_enabled, scratch_values
from ._filters import Filter, block_cost, block_low_rank, ridge_filter
from ._spectrum import column_blocks, weighted_sum

# Rows per call of the fused residual kernel (cache-sized: U's tile stays in cache; the
# kernel forms 1 - h per tile). Row blocks of leave-one-out are sized by
# `_config.scratch_values`.
LOO_TILE = 2048
# A row whose part outside the span of U and the intercept is below this times (rank + 1)
# lies in it, up to the rounding of 1 - sum_j U_ij^2.
SPAN_TOL = 64 * np.finfo(np.float64).eps
# ||Yc||^2 in [SAFE_SQ_MIN, inf) was summed without losing a significant square to
# underflow: it sets the scale of its target without another pass over Y.
SAFE_SQ_MIN = 2.0 ** -600
# Compressed leave-one-out (see `loo_sse_rows`): the relative error it may add to a sum of
# squared errors per working dtype, the entrywise error of the factored filter matrix
# (the tolerance / LOWRANK_MARGIN: the bound then holds for residuals up to about
# LOWRANK_MARGIN / 2 times smaller than |U| |R|), the fewest alphas for which it is tried, and the
# largest fraction of the exact kernel's multiply-adds for which it is used, and the fewest
# multiply-adds of the exact kernel for which it is (choosing and certifying the factors
# takes some tens of small LAPACK calls).
LOWRANK_RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-4}
LOWRANK_MARGIN = 256
LOWRANK_MIN_ALPHAS = 16
LOWRANK_MAX_COST = 0.6
LOWRANK_MIN_WORK = 1 << 32
# The same on an accelerator (a CUDA or MPS torch device, CuPy): its products run some
# hundreds of times faster than this CPU's, where LOWRANK_MIN_WORK was measured, while the
# factors are still chosen on the host.
DEVICE_MIN_WORK = 1 << 41
# Compressed paths (see `path_factors`): the relative error they may add to the
# eigen-coordinates of a coefficient vector beyond the exact filter's rounding bound, per
# working dtype (their own rounding included); the factor by which the factored filter's
# error stays below it, and the fraction of the (alpha, target) pairs whose size sets the
# factors' accuracy (the rest, if not proven, are recomputed exactly).
PATH_RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-4}
PATH_MARGIN = 2
PATH_QUANTILE = 0.99
# The columns each factor of a block is charged beyond its own where there are several
# (`_filters.block_low_rank`): the paths' narrow blocks run further below the GEMM rate than
# the leave-one-out kernel's.
PATH_BLOCK_OVERHEAD = 48
# A default grid spans dof from DOF_EDGE to (1 - DOF_EDGE) times the rank; a best alpha on a
# grid edge warns unless the grid already reaches within 2 x DOF_EDGE of saturation there.
DOF_EDGE = 5e-4


class GridEdgeWarning(UserWarning):
    """The best alpha lies on the edge of the grid: the optimum may lie outside it."""


# Off inside the scikit-learn estimators' fit (per thread and task, unlike a warnings filter).
_WARN_GRID_EDGES = contextvars.ContextVar("spectralridge_warn_grid_edges", default=True)


@contextlib.contextmanager
def grid_edge_warnings(enabled):
    """Turn :class:`GridEdgeWarning` on or off in this context (thread or task) only."""
    token = _WARN_GRID_EDGES.set(bool(enabled))
    try:
        yield
    finally:
        _WARN_GRID_EDGES.reset(token)


@dataclass(frozen=True)
class CVResult:
    """Cross-validation scores for every alpha and target, and the refit at the best alpha.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    scores : ndarray of shape (n_alphas[, n_targets])
        Weighted mean squared error (``scoring='mse'``, lower is better) or R^2 of the
        out-of-sample predictions (``'r2'``, higher is better; for a constant target, as
        scikit-learn's ``r2_score``: 1.0 where the predictions are exact, else 0.0). Scores
        are computed and compared on each target divided by a power of two near its scale,
        so the selection does not depend on the scale of Y; a mean squared error beyond the
        range of the working dtype is reported as inf (or 0).
    best_index : int or ndarray of shape (n_targets,)
    best_alpha : float or ndarray of shape (n_targets,)
    best_score : float or ndarray of shape (n_targets,)
    coef : ndarray of shape (n_features[, n_targets])
        Refit on all data at the best alpha(s).
    intercept : float or ndarray of shape (n_targets,)
    dof : ndarray of shape (n_alphas,)
        Effective degrees of freedom of the full-data fit at each alpha.
    cv : str
        ``'loo'``, ``'gcv'`` or a description of the splits.
    scoring : str
    score_se : ndarray of shape (n_alphas[, n_targets]) or None
        For splitters: the standard error of the per-split scores, used by ``rule='1se'``.
    rule : str
        ``'min'`` or ``'1se'``.
    at_grid_edge : bool or ndarray of shape (n_targets,)
        Whether the best value is on an edge of the grid that is not already saturated
        (nearly full rank or zero dof there): the case that emits :class:`GridEdgeWarning`.
    """

    alphas: np.ndarray
    scores: np.ndarray
    best_index: object
    best_alpha: object
    best_score: object
    coef: np.ndarray
    intercept: object
    dof: np.ndarray
    cv: str
    scoring: str
    score_se: object = None
    rule: str = "min"
    at_grid_edge: object = None


def fixed_dof(centering):
    """Unpenalized degrees of freedom: the intercept and any unpenalized columns."""
    return getattr(centering, "n_fixed", int(centering.fit_intercept))


def spanning(spectrum, centering):
    """Whether U spans every direction Yc can take, so that ``Yc - U U^T Yc = 0`` exactly."""
    return spectrum.rank == centering.n_effective - fixed_dof(centering)


def gcv_mse(spectrum, centering, flt, grid, name="alpha", scale=None, yc_sq=None):
    """Generalized cross-validation ``(RSS / sum_w) / (1 - trace(H) / n)^2``: (m, k).

    ``RSS(a) = ||Yc - U U^T Yc||^2 + sum_i (1 - f_i(a))^2 R_i^2`` costs O(r k) per alpha;
    `grid` and `name` (the parameter: alpha, steps, ...) appear in errors. With `scale` and
    `yc_sq` (``||scale Yc||^2``) from :func:`target_scale`, in units of the scaled targets.
    """
    R = spectrum.R.astype(np.float64)
    if scale is not None:
        R *= scale
    else:
        yc_sq = spectrum.yc_sq
    R2 = np.square(R)
    if spanning(spectrum, centering):
        base = np.zeros(R2.shape[1])
    else:  # ||Yc - U R||^2, up to rounding of order eps ||Yc||^2
        base = np.maximum(yc_sq - R2.sum(axis=0), 0.0)
    rss = np.empty((grid.size, R2.shape[1]))
    rss[:] = base
    _core.gemm(np.square(flt.resid), R2, rss, beta=1.0)
    return gcv_of_rss(rss, centering, flt, grid, name)


def gcv_of_rss(rss, centering, flt, grid, name="alpha"):
    """GCV ``(RSS / sum_w) / (1 - (dof + unpenalized dof) / n)^2`` (m, k) from the residual
    sums of squares `rss` (m, k); a ValueError where the fit interpolates."""
    df_resid = centering.n_effective - fixed_dof(centering) - flt.dof
    bad = np.flatnonzero(df_resid <= 1e-9 * centering.n_effective)
    if bad.size:
        raise ValueError(
            f"GCV is undefined at {name}={float(grid[bad[0]])!r}: the fit interpolates "
            f"(effective dof + unpenalized dof = n_samples = {centering.n_effective}). Regularize "
            "more.")
    n = centering.n_effective
    return (rss / centering.sum_w) / np.square(df_resid / n)[:, None]


class LooRows(NamedTuple):
    """What exact leave-one-out needs of a set of rows: ``U`` of those rows (float64) and
    their sample weights, with the spectrum's eigenvalues, projected targets and the data's
    weight total. `names` are the rows' sample indices, for errors."""

    U: np.ndarray
    w: np.ndarray
    lam: np.ndarray
    ls_rank: int
    R: np.ndarray
    sum_w: float
    fit_intercept: bool
    spanning: bool
    names: np.ndarray = None
    #: the rows' leverage of the unpenalized part (None: ``w / sum_w`` for the intercept)
    leverage: np.ndarray = None


def loo_rows(spectrum, centering, rows=None, U=None, w=None):
    """:class:`LooRows` of all samples of a NumPy solver, or of the samples `rows` (a slice
    or indices, their names) with their ``U`` and weights `w`."""
    leverage = getattr(centering, "leverage", None)
    if rows is None:
        U, w = spectrum.U, np.square(centering.sw)
    else:
        leverage = None if leverage is None else leverage[rows]
        rows = np.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows
    return LooRows(U, w, spectrum.lam, spectrum.ls_rank, spectrum.R, centering.sum_w,
                   centering.fit_intercept, spanning(spectrum, centering), rows, leverage)


class Hat(NamedTuple):
    """The leave-one-out scaling of a group of rows: ``1 / (1 - h)`` with ``1 - h =
    outside[:, None] + U^2 @ F^T`` in float64 (U (rows, d), hat factors F (m, d), outside
    (rows,)), formed a tile of rows at a time by the kernels (their `hat` argument).
    `check`: rows inside the span, where ``1 - h`` may reach 0 (leave-one-out undefined)."""

    U: np.ndarray
    F: np.ndarray
    outside: np.ndarray
    check: bool

    def one_minus_h(self):
        """``1 - h`` (rows, m)."""
        out = np.empty((self.U.shape[0], self.F.shape[0]))
        out[:] = self.outside[:, None]
        _core.gemm(np.square(self.U), self.F, out, trans_b=True, beta=1.0)
        return out

    def alphas(self, index):
        """The same rows for the alphas `index` only."""
        return self._replace(F=np.ascontiguousarray(self.F[index]))

    def rows(self, index):
        """The rows `index` (a slice) only."""
        return self._replace(U=self.U[index], outside=self.outside[index])


def loo_parts(rows, flt, grid, name="alpha"):
    """Yield the pieces of exact leave-one-out: ``(alpha indices, row indices, U of those
    rows, R, residual factors F, targets, Hat)`` over two groups of rows (and the
    least-squares part at ``a = 0``).

    The leave-one-out error of row i is ``r_i / (1 - h_i)`` with ``1 - h_i = o_i + sum_j
    U_ij^2 a / (lam_j + a)``, where ``o_i = 1 - sum_j U_ij^2 - w_i / sum(w) [intercept]`` is
    the row's part outside the span of U and the intercept (with unpenalized columns,
    ``rows.leverage`` replaces ``w_i / sum(w)``: the row's leverage in them and the
    intercept). Rows with ``o_i`` above rounding
    take the residuals ``Yc - U diag(f) R`` (``targets``). For rows inside the span (all rows
    when U spans every direction of Yc) the residual is ``U diag(a / (lam + a)) R``: both it
    and ``1 - h`` carry the factor ``a / (lam_min + a)``, which is divided out
    (``Filter.resid_rel``), so the error keeps its finite limit as ``a -> 0``. At ``a = 0`` the
    directions beyond the least-squares rank are dropped first. :class:`Hat` gives ``1 - h``
    of the group; where it is not positive for a row of positive weight inside the span
    (no leverage left to remove) the error is undefined (:func:`leverage_error`).
    """
    U, w = rows.U, rows.w
    zero = grid == 0
    parts = [(np.arange(grid.size), U.shape[1], flt)]
    if rows.ls_rank < U.shape[1] and zero.any():  # a = 0: the least-squares directions only
        pos = np.flatnonzero(~zero)
        parts = [(np.flatnonzero(zero), rows.ls_rank,
                  ridge_filter(rows.lam[:rows.ls_rank], grid[zero]))]
        if pos.size:
            parts.append((pos, U.shape[1], Filter(flt.fit[pos], flt.resid[pos],
                                                  flt.resid_rel[pos])))
    for idx, d, part in parts:
        Ud = U if d == U.shape[1] else np.ascontiguousarray(U[:, :d])
        outside = 1.0 - np.einsum("ij,ij->i", Ud, Ud)
        if rows.leverage is not None:
            outside -= rows.leverage
        elif rows.fit_intercept:
            outside -= w / rows.sum_w
        np.maximum(outside, 0.0, out=outside)
        inside = (w > 0) & (outside <= SPAN_TOL * (d + 1))
        if rows.spanning and d == U.shape[1]:
            inside = w > 0
        for group, targets in ((np.flatnonzero(inside), False),
                               (np.flatnonzero(~inside), True)):
            if not group.size:
                continue
            whole = group.size == U.shape[0]
            U_g = Ud if whole else np.ascontiguousarray(Ud[group])
            hat = Hat(U_g, np.ascontiguousarray(part.resid if targets else part.resid_rel),
                      outside[group] if targets else np.zeros(group.size), not targets)
            F = -part.fit if targets else part.resid_rel
            yield (idx, slice(None) if whole else group, U_g, rows.R[:d],
                   np.ascontiguousarray(F), targets, hat)


def leverage_error(rows, group, i, alpha, name):
    """The ValueError of leave-one-out undefined at `alpha` for row `i` of `group` (a slice
    or indices into `rows`)."""
    i = i if isinstance(group, slice) else group[i]
    sample = i if rows.names is None else rows.names[i]
    return ValueError(
        f"Leave-one-out is undefined at {name}={float(alpha)!r}: sample "
        f"{int(sample)} has leverage 1 and nothing else predicts it (removing it leaves "
        "its fit undetermined). Use cv='gcv' or a splitter.")


class _NoLeverage(Exception):
    """A kernel found ``1 - h <= 0`` at (row, alpha index) of its call."""

    def __init__(self, row, alpha):
        super().__init__(row, alpha)
        self.row, self.alpha = row, alpha


def _run(kernel, first_row, *args):
    """Call a fused kernel on rows from `first_row`; raise _NoLeverage where it stopped."""
    bad = kernel(*args)
    if bad is not None:
        raise _NoLeverage(first_row + bad[0], bad[1])


def loo_sse_rows(rows, flt, grid, Y, ym, sw, dtype, name="alpha", tile=None, scale=None,
                 compress=None, stats=None, memo=None):
    """Weighted sums of squared exact leave-one-out errors over `rows`: (m, k) float64.

    `Y` (rows, k) and `sw` (square roots of the weights) belong to the same rows; the fused
    kernel runs in `dtype`, on row tiles of `tile` rows if given (U's tile stays in cache),
    on the targets multiplied by `scale` (k,) if given (see :func:`target_scale`).

    With many alphas the residual factors ``F`` (m, r) of each piece are factored as
    ``A B`` with B block-diagonal over blocks of nearby eigenvalues, block g of ``w_g``
    columns and rank ``q_g`` (:func:`~spectralridge._filters.block_low_rank`, ``eps_a >=
    max_j |F - A B|_aj``), and ``_core.sse_lowrank`` forms the residuals from ``c = sum_g
    q_g`` products (``sum_g q_g w_g n k + m c n k`` multiply-adds instead of ``m n r k``),
    where that costs at most LOWRANK_MAX_COST of the exact kernel, the exact kernel would
    take at least LOWRANK_MIN_WORK multiply-adds, and `compress` (default:
    :func:`loo_compression_enabled`) allows it.
    Bound: with ``D_at`` a bound on the squared l2 error of the scaled residuals of target
    t at alpha a, the triangle inequality gives ``|SSE'_at - SSE_at| <= 2 sqrt(SSE'_at
    D_at) + D_at`` and ``SSE_at >= (sqrt(SSE'_at) - sqrt(D_at))_+^2``. :func:`norm_bound`
    gives one ``D_at`` from the spectral norm of U (about 1 for leave-one-out's U),
    :func:`entrywise_bound` a second from ``S_ia eps_a (|U| |R|)_it`` (sharper where a few
    rows of high leverage dominate); the cheaper is computed first, the other for the
    targets it leaves unproven.
    Every (alpha, target) whose bound is not below ``LOWRANK_RTOL[dtype]`` times that lower
    bound with either ``D_at`` is recomputed by the exact kernel, so each sum is within
    that relative tolerance of the exact kernel's up to the rounding both kernels share
    (order ``(r + c) u |U| |R|`` per residual). The bound on
    the filter matrix is that of Beckermann and Townsend (SIAM Review 61, 2019). `stats`,
    a dict if given, receives the ranks used and the number of recomputed pairs; `memo`, a
    dict if given, keeps the factors for the next row blocks of the same pass.
    """
    out = np.zeros((grid.size, Y.shape[1]))
    dtype = np.dtype(dtype)
    ym, sw = ym.astype(dtype), sw.astype(dtype)
    compress = loo_compression_enabled() if compress is None else compress
    for idx, group, U, R, F, targets, hat in loo_parts(rows, flt, grid, name):
        Y_g, sw_g = (Y, sw) if isinstance(group, slice) else (Y[group], sw[group])
        U, R = U.astype(dtype, copy=False), R.astype(dtype)
        step = U.shape[0] if tile is None else tile
        try:
            out[idx] += _piece_sse(U, R, F, Y_g, ym, sw_g, hat, targets, step, scale, dtype,
                                   compress, stats, memo)
        except _NoLeverage as bad:
            raise leverage_error(rows, group, bad.row, grid[idx][bad.alpha], name) from None
    return out


def _piece_sse(U, R, F, Y, ym, sw, hat, targets, step, scale, dtype, compress, stats,
               memo=None):
    """Sums of squared leave-one-out errors (m_b, k) of one piece of :func:`loo_parts`: the
    compressed kernel with its certificate where it pays, else the exact one. `hat` (a
    :class:`Hat`) None: no scaling of the residuals (held-out rows)."""
    none = np.empty((0, F.shape[0]), dtype=dtype)
    factors = _loo_factors(F, dtype, U.shape[0], Y.shape[1], memo) if compress else None
    part = np.zeros((F.shape[0], Y.shape[1]))
    if factors is None:
        F = F.astype(dtype)
        with kernel_threads(Y.shape[1]) as threads:
            for t0 in range(0, U.shape[0], step):
                t = slice(t0, t0 + step)
                _run(_core.sse, t0, U[t], R, F, Y[t], ym, sw[t], none, targets, part, scale,
                     threads, None if hat is None else hat.rows(t))
        return part
    A, B, eps, blocks = factors
    with kernel_threads(Y.shape[1], A.shape[1]) as threads:
        for t0 in range(0, U.shape[0], step):
            t = slice(t0, t0 + step)
            _run(_core.sse_lowrank, t0, U[t], R, A, B, Y[t], ym, sw[t], none, targets, part,
                 None, scale, threads, None if hat is None else hat.rows(t), blocks)
    bounds = [lambda cols: norm_bound(U, R, hat, scale, eps)[:, cols],
              lambda cols: entrywise_bound(U, R, hat, scale, eps, cols, step)]
    if Y.shape[1] < R.shape[0]:  # the cheaper first: U^T U costs n r^2, the other n r k
        bounds.reverse()
    redo = np.ones(part.shape, dtype=bool)
    for bound in bounds:
        cols = np.flatnonzero(redo.any(axis=0))
        if cols.size:
            redo[:, cols] &= ~certified(part[:, cols], bound(cols), LOWRANK_RTOL[dtype])
    if stats is not None:
        stats.setdefault("ranks", []).append(A.shape[1])
        stats["recomputed"] = stats.get("recomputed", 0) + int(redo.sum())
        stats["pairs"] = stats.get("pairs", 0) + redo.size
    if redo.any():
        _recompute(part, redo, U, R, F.astype(dtype), Y, ym, sw, hat, targets, step, scale)
    return part


def _loo_factors(F, dtype, rows, targets, memo=None, min_work=None):
    """``(A, B, eps, blocks)`` of :func:`~spectralridge._filters.block_low_rank` for
    residual factors `F` (m, r) of `rows` rows and `targets` targets where the compressed
    kernel saves enough work (the exact kernel's at least `min_work`, default
    LOWRANK_MIN_WORK), else None; kept in the dict `memo` if given (the row blocks of one
    leave-one-out pass share their factors)."""
    m, r = F.shape
    if not compression_pays(m, r, rows, targets, min_work):
        return None
    # multiply-adds per row and target beyond the factors' terms: r (the first certificate,
    # at most n r min(r, k)) + 2 m (the epilogue)
    budget = LOWRANK_MAX_COST * m * r - r - 2 * m
    if budget < r + m:
        return None
    target = LOWRANK_RTOL[dtype] / LOWRANK_MARGIN
    if memo is None:
        return block_low_rank(F, target, dtype, budget)
    F = np.ascontiguousarray(F, dtype=np.float64)
    key = (np.dtype(dtype).str, F.shape, hashlib.blake2b(F.data).digest())
    if key not in memo:
        memo[key] = block_low_rank(F, target, dtype, budget)
    return memo[key]


def compression_pays(m, r, rows, k, min_work=None):
    """Whether factoring a filter of `m` alphas and rank `r` for `rows` basis rows and `k`
    targets may pay: at least LOWRANK_MIN_ALPHAS alphas and `min_work` (default
    LOWRANK_MIN_WORK) multiply-adds of the exact product; the planners decide."""
    min_work = LOWRANK_MIN_WORK if min_work is None else min_work
    return m >= LOWRANK_MIN_ALPHAS and r > 0 and float(rows) * m * r * k >= min_work


def path_weights(R):
    """For :func:`path_factors` on the NumPy path: ``M -> M @ Rn^2`` (float64) with ``Rn``
    the projected targets `R` (r, k), each column scaled by a power of two to a largest entry
    in [1/2, 1)."""
    R_sq = np.abs(R, dtype=np.float64)
    R_sq *= peak_scale(R_sq.max(axis=0, initial=0), np.float64)
    np.square(R_sq, out=R_sq)

    def weighted(M):
        out = np.empty((M.shape[0], R_sq.shape[1]))
        _core.gemm(np.ascontiguousarray(M, dtype=np.float64), R_sq, out)
        return out
    return weighted


def path_factors(C, weighted, dtype, weight_eps=np.finfo(np.float64).eps):
    """Factors of the coefficient filter `C` (m, r) where they save work, and the pairs
    they leave to the exact filter: ``(A, B, blocks, redo)`` of
    :func:`~spectralridge._filters.block_low_rank`, ``A`` scaled back to `C`, ``redo (m,
    k)``; else None. `weighted` maps a host float64 ``M`` (m', r) to ``M @ Rn^2`` (m', k),
    ``Rn`` the projected targets with each column scaled by a power of two
    (:func:`path_weights`), its values rounded by at most about ``r`` times `weight_eps`.

    With ``C ~= A B`` the eigen-coordinates of the coefficients of alpha a and target t,
    ``C_a o R_t``, are off by ``(C_a - (A B)_a) o R_t``, of norm at most ``eps_a ||R_t||``,
    and the products ``Z_l = B_g diag(B[l]) R_g`` and ``A Z`` in the working dtype (unit
    roundoff u) round by at most ``g(w + c) ||(|A| |B|)_a o R_t||`` more in those
    coordinates, ``g(n) = (n + 4) u / (1 - (n + 4) u)``, for blocks of at most w eigenvalues
    and c factors; the exact filter's own rounding is at most ``g(r) ||C_a o R_t||``. A pair
    is proven where the compressed one's bound is at most ``(PATH_RTOL + g(r)) ||C_a o
    R_t||``: the compressed coefficients are then within ``PATH_RTOL`` (relative, in the
    eigen-coordinates' 2-norm) of the exact filter's bound on its own rounding, and a
    basis row ``b`` gets ``b (C_a o R_t)`` within ``(PATH_RTOL + g(r)) ||b|| ||C_a o R_t||``
    (relative in the 2-norm for the coefficients, ``b`` a row of an orthonormal ``V``).
    The rows of ``C`` are scaled by powers of two to a largest entry in [1/2, 1), and
    factored to ``PATH_RTOL / PATH_MARGIN`` over the ``PATH_QUANTILE`` quantile of
    ``max_j |C_aj| ||R_t|| / ||C_a o R_t||`` (the pairs beyond it are those the bound may
    not prove), or over its largest value where the unproven pairs would cost too much: a
    plan is kept where its multiply-adds and those of recomputing the unproven pairs (all
    the alphas of a target with one) are at most ``LOWRANK_MAX_COST`` of the exact filter's.
    None for a filter with a non-finite or no nonzero entry, or with a row cut off (zeros
    beside nonzero entries: not Cauchy-like).
    """
    m, r = C.shape
    peak = np.abs(C).max(axis=1)
    cut_off = ((C == 0) & (peak[:, None] > 0)).any()  # alpha = 0 below the rank, truncation
    if not np.isfinite(peak).all() or not peak.any() or cut_off:
        return None
    scale = peak_scale(peak, np.float64)
    info = np.finfo(dtype)
    if scale.max() > 2.0 ** -64 / info.tiny or scale.min() < 4 / info.max:
        return None  # A / scale would be near the ends of the working dtype's range
    Cn = C * scale[:, None]
    sizes = weighted(np.concatenate([np.ones((1, r)), np.square(Cn)]))
    norm_sq, size_sq = sizes[0], sizes[1:]
    k = size_sq.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt(norm_sq / size_sq)
    ratio = ratio[np.isfinite(ratio)]
    rtol = PATH_RTOL[np.dtype(dtype)]
    budget = LOWRANK_MAX_COST * m * r
    u = info.eps / 2

    def g(n):
        return (n + 4) * u / (1 - (n + 4) * u)

    grow = 4 * (r + 2) * max(weight_eps, np.finfo(np.float64).eps)
    for quantile in (PATH_QUANTILE, 1.0):  # the second where the first leaves too many
        target = rtol / PATH_MARGIN / max(np.quantile(ratio, quantile) if ratio.size else 1,
                                          1.0)
        found = block_low_rank(Cn, target, dtype, budget, PATH_BLOCK_OVERHEAD)
        if found is None or found[0].shape[1] == 0:
            return None
        A, B, eps, blocks = found
        A[peak == 0], eps[peak == 0] = 0, 0  # those rows exactly
        absAB = np.abs(A).astype(np.float64) @ np.abs(B).astype(np.float64)
        err = (np.sqrt(np.square(eps)[:, None] * norm_sq) +
               g(int(np.diff(blocks[0]).max()) + A.shape[1]) *
               np.sqrt(weighted(np.square(absAB)))) * (1 + grow)
        with np.errstate(invalid="ignore"):
            redo = ~((err <= (rtol + g(r)) * np.sqrt(size_sq) * (1 - grow)) | (norm_sq == 0))
        if block_cost(blocks[0], np.diff(blocks[1]), m, PATH_BLOCK_OVERHEAD) + \
                np.count_nonzero(redo.any(axis=0)) / k * m * r <= budget:
            return A / scale[:, None].astype(dtype), B, blocks, redo
    return None


def entrywise_bound(U, R, hat, scale, eps, cols, step):
    """A bound (m, cols.size) on the squared error of the compressed kernel's scaled
    residuals of the targets `cols`, entrywise: ``eps_a^2 sum_i S_ia^2 P_it^2`` with ``P =
    |U| |R|`` (see :func:`loo_sse_rows`), in float64 over row tiles of `step`, with its
    rounding and that of the kernel's S in the working dtype. `hat` None: S = 1."""
    absR = np.abs(np.ascontiguousarray(R[:, cols], dtype=np.float64))
    if scale is not None:
        absR *= scale[cols]
    out = np.zeros((eps.size, cols.size))
    for t0 in range(0, U.shape[0], step):
        t = slice(t0, t0 + step)
        P_sq = np.empty((U[t].shape[0], cols.size))
        _core.gemm(np.abs(np.ascontiguousarray(U[t], dtype=np.float64)), absR, P_sq)
        np.square(P_sq, out=P_sq)
        if hat is None:
            out += P_sq.sum(axis=0)
        else:
            _core.gemm(np.square(1 / hat.rows(t).one_minus_h()), P_sq, out, trans_a=True,
                       beta=1.0)
    u, u_s = np.finfo(np.float64).eps, np.finfo(U.dtype).eps
    grow = (1 + 4 * (R.shape[0] + 2) * u) * (1 + 2 * (U.shape[0] + 4) * u) * (1 + 8 * u_s)
    return out * np.square(eps)[:, None] * grow


def norm_bound(U, R, hat, scale, eps):
    """A bound (m, k) on the squared error of the compressed kernel's scaled residuals in
    the spectral norm: the error of target t at alpha a is ``S_a (U diag(d_a) R_t)`` with
    ``|d_aj| <= eps_a``, so its squared norm is at most ``max_i S_ia^2 ||U||_2^2 eps_a^2
    ||R_t||^2``. ``||U||_2^2`` is bounded by Gershgorin's theorem on ``U^T U`` (with its
    rounding): about 1 for leave-one-out's U, where this beats :func:`entrywise_bound` by
    up to a factor of the rank. `hat` None: no scaling (S = 1)."""
    q, r = U.shape
    rows = max(1, scratch_values() // max(r, hat.F.shape[0] if hat is not None else 1))
    G, spread = np.zeros((r, r)), np.zeros((r, 1))
    min_1mh = None
    for i0 in range(0, q, rows):
        U_b = np.array(U[i0:i0 + rows], dtype=np.float64, order="C")
        _core.gemm(U_b, U_b, G, trans_a=True, beta=1.0)
        np.abs(U_b, out=U_b)
        _core.gemm(U_b, U_b.sum(axis=1, keepdims=True), spread, trans_a=True, beta=1.0)
        if hat is not None:
            low = hat.rows(slice(i0, i0 + rows)).one_minus_h().min(axis=0)
            min_1mh = low if min_1mh is None else np.minimum(min_1mh, low)
    u = np.finfo(np.float64).eps
    # |fl(U^T U) - U^T U| <= q u / (1 - q u) |U|^T |U| entrywise, whose row sums are `spread`
    norm_sq = float((np.abs(G).sum(axis=1) + 2 * (q + 2) * u * spread[:, 0]).max(initial=0))
    R64 = R.astype(np.float64)
    R_sq = np.einsum("jt,jt->t", R64, R64) * (1.0 if scale is None else np.square(scale))
    s_max_sq = 1.0 if hat is None else np.where(min_1mh > 0, 1 / np.square(min_1mh), np.inf)
    grow = (1 + 8 * (q + r + (hat.F.shape[1] if hat is not None else 0) + 8) * u) * \
        (1 + 8 * np.finfo(U.dtype).eps)  # and the kernel's S in the working dtype
    return (np.square(eps) * s_max_sq * norm_sq * grow)[:, None] * R_sq[None, :]


def certified(sse, err_sq, rtol):
    """Where ``2 sqrt(sse err_sq) + err_sq <= rtol (sqrt(sse) - sqrt(err_sq))_+^2``: the
    relative error of `sse` is proven below `rtol` (see :func:`loo_sse_rows`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        gap = 2 * np.sqrt(sse * err_sq) + err_sq
        low = np.square(np.maximum(np.sqrt(sse) - np.sqrt(err_sq), 0.0))
        return gap <= rtol * low


def _recompute(part, redo, U, R, F, Y, ym, sw, hat, targets, step, scale):
    """``part[redo]`` by the exact kernel: the targets and alphas with a pair in `redo`."""
    cols = np.flatnonzero(redo.any(axis=0))
    alphas = np.flatnonzero(redo[:, cols].any(axis=1))
    F_r = np.ascontiguousarray(F[alphas])
    hat_r = None if hat is None else hat.alphas(alphas)
    R_r, Y_r, ym_r = np.ascontiguousarray(R[:, cols]), np.ascontiguousarray(Y[:, cols]), \
        np.ascontiguousarray(ym[cols])
    scale_r = None if scale is None else np.ascontiguousarray(scale[cols])
    exact = np.zeros((alphas.size, cols.size))
    none = np.empty((0, alphas.size), dtype=F.dtype)
    with kernel_threads(cols.size) as threads:
        for t0 in range(0, U.shape[0], step):
            t = slice(t0, t0 + step)
            _run(_core.sse, t0, U[t], R_r, F_r, Y_r[t], ym_r, sw[t], none, targets, exact,
                 scale_r, threads, None if hat_r is None else hat_r.rows(t))
    part[np.ix_(alphas, cols)] = exact


@contextlib.contextmanager
def kernel_threads(n_targets, rank=None):
    """Yield the threads for the fused kernel `_core.sse` (`rank` None) or
    `_core.sse_lowrank` (factors of `rank`) on `n_targets` targets, as the setting
    ``kernel_threads`` and OpenMP's count allow: with more than one, every thread calls
    BLAS, which runs one thread itself inside this context."""
    limit, available = kernel_thread_limit(rank is not None), _core.max_threads()
    threads = _core.kernel_threads(n_targets, rank,
                                   available if limit is None else min(limit, available))
    if threads == 1:
        yield 1
        return
    with _PINNING:  # the first of concurrent callers pins BLAS, the last restores it
        if not _PINNED:
            _PINNED.append(_threadpools().limit(limits=1, user_api="blas"))
        _PINNED.append(None)
    try:
        yield threads
    finally:
        with _PINNING:
            _PINNED.pop()
            if len(_PINNED) == 1:
                _PINNED.pop().restore_original_limits()


_PINNING = threading.Lock()
_PINNED = []  # the BLAS limiter, then one entry per caller inside `kernel_threads`


@functools.cache
def _threadpools():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def loo_sse(spectrum, centering, Y, flt, grid, name="alpha", scale=None):
    """Weighted sum of squared exact leave-one-out errors of a NumPy solver: (m, k), of the
    targets multiplied by `scale` if given; ``U`` a block of rows at a time where it is not
    kept (sparse data), the fused kernel on row tiles of ``LOO_TILE`` (it forms the hat
    diagonals per tile); row blocks of U hold at most ``scratch_values()`` values."""
    out = np.zeros((grid.size, Y.shape[1]))
    w, sw = np.square(centering.sw), centering.sw
    size = max(LOO_TILE, scratch_values() // max(1, spectrum.rank))
    memo = {}
    for rows, U in spectrum.U_blocks(size):
        part = loo_rows(spectrum, centering, rows, U, w[rows])
        out += loo_sse_rows(part, flt, grid, Y[rows], centering.ym, sw[rows], Y.dtype, name,
                            tile=LOO_TILE, scale=scale, memo=memo)
    return out


def loo_errors_rows(rows, flt, grid, Y, ym, sw, name="alpha"):
    """Leave-one-out errors ``(y_i - yhat_i) / (1 - h_i)`` of `rows`: (m, rows, k) float64.

    Rows of zero weight are left as NaN for the caller (their error is the plain residual).
    """
    errors = np.full((grid.size,) + Y.shape, np.nan)
    for idx, group, U, R, F, targets, hat in loo_parts(rows, flt, grid, name):
        one_minus_h = hat.one_minus_h()
        if hat.check:
            bad = np.argwhere(~(one_minus_h > 0))
            if bad.size:
                raise leverage_error(rows, group, bad[0][0], grid[idx[bad[0][1]]], name)
        rows_g = np.arange(Y.shape[0])[group]
        # all rows and a run of alphas: computed in place (no second m x n x k array)
        inplace = isinstance(group, slice) and (np.diff(idx) == 1).all()
        part = errors[idx[0]:idx[-1] + 1] if inplace else \
            np.empty((idx.size, rows_g.size, Y.shape[1]))
        _core.apply_filter(U, np.ascontiguousarray(R), F, np.empty(0), part)
        if targets:
            part += sw[rows_g, None] * np.subtract(Y[rows_g], ym, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            part /= (sw[rows_g, None] * one_minus_h).T[:, :, None]
        if not inplace:
            errors[np.ix_(idx, rows_g)] = part
    errors[:, sw == 0] = np.nan
    return errors


def loo_errors(spectrum, centering, Y, flt, grid, name="alpha"):
    """Leave-one-out errors of every sample of a NumPy solver: (m, n, k) float64."""
    return loo_errors_rows(loo_rows(spectrum, centering), flt, grid, Y, centering.ym,
                           centering.sw, name)


def held_out_sse(B, spectrum, flt, Y, ym, sw, dtype, scale=None, compress=None):
    """Weighted sums of squared errors (m, k) float64 of held-out rows under a fit on other
    rows: residuals ``sw (Y - ym) - B diag(f / s) R`` per grid value, with the held-out
    basis ``B = sw (X - xm) V_coef`` (rows, r), the training fit's `spectrum` (``s``,
    ``R``), filter `flt` and target means `ym`. Formed from the rows (no cancellation,
    whatever the fit's R^2), by the kernels of :func:`loo_sse_rows` (compressed over many
    alphas where `compress` allows, within the same certified tolerance), on the targets
    multiplied by `scale` (k,) if given."""
    dtype = np.dtype(dtype)
    if not Y.shape[0]:
        return np.zeros((flt.fit.shape[0], Y.shape[1]))
    # as leave-one-out's residuals: U-like rows B / s and the factors in [0, 1]
    U = np.divide(B, spectrum.s, dtype=np.float64).astype(dtype)
    F = np.ascontiguousarray(-flt.fit)
    compress = loo_compression_enabled() if compress is None else compress
    return _piece_sse(U, spectrum.cast("R", dtype), F,
                      np.ascontiguousarray(Y, dtype=dtype), ym.astype(dtype),
                      sw.astype(dtype), None, True, LOO_TILE, scale, dtype, compress, None)


def total_sum_of_squares(Y, w, mean, scale=None):
    """``sum_i w_i (scale (y_i - mean))^2`` per target, float64, in blocks of targets."""
    out = np.empty((1, Y.shape[1]))
    w = np.ascontiguousarray(w, dtype=np.float64)[None, :]
    for cols, block in column_blocks(Y):
        if scale is None:
            block -= mean[cols]
        else:
            block *= scale[cols]
            block -= mean[cols] * scale[cols]
        np.square(block, out=block)
        _core.gemm(w, block, out[:, cols])
    return out[0]


def total_ss_from_sums(ys, yt, weight, d):
    """``sum_i w_i (y_i - t - d)^2`` per target from the sums about a shift ``t``: ``ys =
    sum w (y - t)``, ``yt = sum w (y - t)^2`` and ``weight = sum w`` (for a backend that
    gathers the sums in its passes; :func:`total_sum_of_squares` from the rows)."""
    return np.maximum(yt - 2.0 * d * ys + weight * d * d, 0.0)


def target_scale(Y, centering, yc_sq):
    """:func:`power_scale` of NumPy or scipy.sparse-backed targets `Y` (n, k)."""
    def peaks(redo):
        peak = np.empty(redo.size)
        for cols, block in column_blocks(Y[:, redo]):
            block -= centering.ym[redo][cols]
            peak[cols] = np.abs(block).max(axis=0, initial=0.0)
        return peak

    def sums(redo, scale):
        return total_sum_of_squares(Y[:, redo], np.square(centering.sw), centering.ym[redo],
                                    scale)
    return power_scale(yc_sq, peaks, sums)


def power_scale(yc_sq, peaks, sums, low=SAFE_SQ_MIN):
    """Per-target powers of two ``scale`` and ``||scale Yc||^2``: (k,), (k,), for every
    backend.

    ``scale`` brings ``||Yc||`` (from `yc_sq`, ``||Yc||^2``, where it lies in ``[low,
    inf)``) or else ``max |Y - ym|`` (``peaks(redo)`` of the other targets, a pass over
    them) into ``[0.5, 1)``; 1 for a constant target; ``sums(redo, scale[redo])`` gives their
    ``||scale Yc||^2``. Multiplying by it is exact, and squares of the scaled targets can
    neither overflow nor underflow to a loss of accuracy.
    """
    yc_sq = np.asarray(yc_sq, dtype=np.float64)
    safe = np.isfinite(yc_sq) & (yc_sq >= low)
    peak = np.sqrt(np.where(safe, yc_sq, 0.0))
    redo = np.flatnonzero(~safe)
    if redo.size:
        peak[redo] = peaks(redo)
    exponent = np.clip(np.frexp(peak)[1], -1000, 1000)
    scale = np.ldexp(1.0, -exponent)
    scaled_sq = np.ldexp(np.where(safe, yc_sq, 0.0), -2 * exponent)
    if redo.size:
        scaled_sq[redo] = sums(redo, scale[redo])
    return scale, scaled_sq


def unscale(values, scale, power=2):
    """`values` (..., k), of degree `power` in the targets multiplied by `scale` (k,), in the
    units of Y: exact, or inf / 0 beyond the float64 range."""
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(values, power * (1 - np.frexp(scale)[1]))


def peak_scale(peak, dtype):
    """Per-target powers of two that bring ``max |Y|`` (`peak`, k) into [0.5, 1) (1 for a
    zero target), within those `dtype` represents: scaling by them is exact, and the squares
    of the scaled targets stay in range (for a backend that scales before centring)."""
    info = np.finfo(dtype)
    exponent = np.clip(np.where(peak > 0, np.frexp(peak)[1], 0), info.minexp + 2,
                       info.maxexp - 2)
    return np.ldexp(1.0, -exponent)


def to_score(mse, sst_over_sum_w, scoring):
    """Convert weighted mean squared errors to the requested scoring.

    ``'r2'`` with a zero total sum of squares (a constant target) follows scikit-learn's
    ``r2_score``: 1.0 where the errors are exactly 0, else 0.0.
    """
    if scoring == "mse":
        return mse
    sst = np.broadcast_to(sst_over_sum_w, np.shape(mse))
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - mse / sst
    return np.where(sst != 0, r2, np.where(mse == 0, 1.0, 0.0))


def mean_weights(scale, scoring):
    """Weights (k,) of the mean over targets of scores of scaled targets (see
    :func:`target_scale`): powers of two, in units of the largest target; None for 'r2'."""
    if scale is None or scoring == "r2" or scale.size == 0:
        return None
    return np.square(scale.min() / scale)


def to_loss(scores, scoring):
    """Scores as losses (lower is better)."""
    return -scores if scoring == "r2" else scores


def best_indices(loss, se, dof, rule):
    """Best row per column of `loss` (m, k): the minimum, or for ``rule='1se'`` the row of
    fewest `dof` (m,) whose loss is within `se` (m, k) of the minimum's."""
    best = np.argmin(loss, axis=0)
    if rule == "1se":
        cols = np.arange(loss.shape[1])
        within = loss <= (loss[best, cols] + se[best, cols])
        best = np.where(within, dof[:, None], np.inf).argmin(axis=0)
    return best


class SplitTotals:
    """Held-out totals pooled over the splits of K-fold cross-validation: sums of squared
    errors (m, k), total sums of squares (k,) for 'r2' and the held-out weight, and the
    moments of the per-split scores behind the standard errors of the 1-SE rule (of each
    target's score and of their mean, weighted by :func:`mean_weights` of `scale`)."""

    def __init__(self, m, k, scoring, scale):
        self.scoring, self.weights = scoring, mean_weights(scale, scoring)
        self.sse, self.sst = np.zeros((m, k)), np.zeros(k) if scoring == "r2" else None
        self.weight, self.count = 0.0, 0
        self.moments, self.mean_moments = np.zeros((2, m, k)), np.zeros((2, m))

    def add(self, sse, weight, sst=None):
        """One split's SSE (m, k), held-out weight and, for 'r2', TSS (k,): its scores."""
        self.sse += sse
        self.weight += weight
        self.count += 1
        if sst is not None:
            self.sst += sst
        score = to_score(sse / weight, None if sst is None else sst / weight, self.scoring)
        self.moments += score, np.square(score)
        weighted = score if self.weights is None else score * self.weights
        mean = weighted.sum(axis=1) / max(score.shape[1], 1)  # an empty block of targets: 0
        self.mean_moments += mean, np.square(mean)
        return score

    def standard_errors(self):
        """Standard errors over the splits: of each score (m, k), of their mean (m,)."""
        return (standard_error(self.moments, self.count),
                standard_error(self.mean_moments, self.count))


def standard_error(moments, count):
    """Standard error of a mean of `count` values from ``moments = (sum of the values, sum
    of their squares)``; NaN for fewer than 2 values."""
    if count < 2:
        return np.full(np.shape(moments[0]), np.nan)
    mean = moments[0] / count
    variance = np.maximum(moments[1] / count - mean * mean, 0.0) * count / (count - 1)
    return np.sqrt(variance / count)


def refit(spectrum, centering, flt, best, dtype):
    """Coefficients (p, k) and intercepts (k,) with filter row ``best[t]`` for target t."""
    factors = flt.coef_factors(spectrum.s)[best].T.astype(dtype)  # (r, k)
    coef = np.empty((spectrum.V.shape[0], spectrum.R.shape[1]), dtype=dtype)
    _core.gemm(spectrum.cast("V_coef", dtype), np.ascontiguousarray(factors * spectrum.cast("R", dtype)),
               coef)
    intercept = (centering.ym - weighted_sum(centering.xm, coef)).astype(dtype)
    return coef, intercept


def user_stacklevel():
    """The stacklevel of the first caller outside this package, for warnings."""
    package = os.path.dirname(__file__)
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == package:
        frame, level = frame.f_back, level + 1
    return level


def _open_edges(dof, rank):
    """The grid edges not already saturated, as (index, side) pairs: the least regularized
    edge below (1 - 2 DOF_EDGE) rank dof, the most regularized above 2 DOF_EDGE rank."""
    if dof.size < 2 or rank == 0:
        return []
    least, most = int(np.argmax(dof)), int(np.argmin(dof))
    return [(edge, side) for edge, saturated, side in (
        (least, dof[least] >= (1 - 2 * DOF_EDGE) * rank, "least"),
        (most, dof[most] <= 2 * DOF_EDGE * rank, "most")) if not saturated]


def at_grid_edge(best_index, dof, rank):
    """Per target, whether its best index is on an open edge (NumPy or Dask `best_index`)."""
    flags = best_index < 0  # all False
    for edge, _ in _open_edges(dof, rank):
        flags = flags | (best_index == edge)
    return flags


def grid_edge_warnings_enabled():
    """Whether :func:`grid_edge_warnings` leaves the warning on in this context."""
    return _WARN_GRID_EDGES.get()


def warn_grid_edges(best_index, grid, dof, rank, name="alpha", enabled=None):
    """Warn (:class:`GridEdgeWarning`, unless turned off by :func:`grid_edge_warnings` or
    `enabled`) when a best value sits on an open edge of the grid (see
    :func:`at_grid_edge`)."""
    if not (_WARN_GRID_EDGES.get() if enabled is None else enabled):
        return
    for edge, side in _open_edges(dof, rank):
        count = int(np.count_nonzero(best_index == edge))
        if count:
            warnings.warn(
                f"The best {name} of {count} target(s) is at the {side}-regularized edge of "
                f"the grid ({name}={grid[edge]:.4g}, dof {dof[edge]:.4g} of rank {rank}): the "
                "optimum may lie outside the grid. Extend the grid (for ridge, alphas=None "
                "gives a grid spanning the whole dof range).", GridEdgeWarning,
                stacklevel=user_stacklevel())


def default_alphas(solver, n_alphas=30):
    """Log-spaced alphas whose dof span (DOF_EDGE, 1 - DOF_EDGE) x rank."""
    rank = solver.rank
    if rank == 0:
        return np.logspace(-3, 3, n_alphas)
    lo, hi = solver.alphas_for_dof([(1 - DOF_EDGE) * rank, DOF_EDGE * rank])
    return np.logspace(np.log10(lo), np.log10(hi), n_alphas)


class InMemory:
    """The per-target hooks of :func:`select_refit` for results held in memory (NumPy or a
    device): run now, on all targets at once. `refit(best)` gives the coefficients (p, k)
    and intercepts (k,) with filter row ``best[t]`` for target t, in the working dtype."""

    def __init__(self, refit):
        self.refit = refit

    @staticmethod
    def call(func, *args):
        """``func(*args)``, once (a lazy backend defers it)."""
        return func(*args)

    def map(self, func, layout, *arrays, **kwargs):
        """``func(refit, *arrays, **kwargs)`` on blocks of targets (here: one block): a dict
        of the fields named in `layout` (name, rows, dtype), each (rows, k) or (k,)."""
        return func(self.refit, *arrays, **kwargs)


def shared_best(mean_loss, mean_se, dof, rule, n_targets, edges):
    """The one best index of all targets from their mean loss (m,), with its grid-edge
    warning (`edges`: ``(grid, rank, name, enabled)``)."""
    se = None if mean_se is None else mean_se[:, None]
    best = int(best_indices(mean_loss[:, None], se, dof, rule)[0])
    grid, rank, name, enabled = edges
    warn_grid_edges(np.full(n_targets, best), grid, dof, rank, name, enabled)
    return best


def report(refit, scores, se, scale, *, scoring, dtype):
    """Scores (m, k) and their standard errors of the scaled targets in the units of Y:
    scores in `dtype` (inf / 0 beyond its range), standard errors float64 (per-target work
    of :func:`select_refit`: `refit` is not needed here)."""
    if scale is not None and scoring == "mse":
        scores = unscale(scores, scale)
        se = None if se is None else unscale(se, scale)
    with np.errstate(over="ignore", under="ignore"):
        scores = scores.astype(dtype)
    return dict(scores=scores, score_se=se)


def choose(refit, scores, se, scale, *, scoring, rule, dof, grid, rank, name, dtype,
           enabled, best=None):
    """Per target: the best index (the given shared `best`, or the minimum / 1-SE choice,
    with its grid-edge warning), its alpha and score, the refit and the edge flag."""
    k = scores.shape[1]
    if best is None:
        best = best_indices(to_loss(scores, scoring), se, dof, rule)
        warn_grid_edges(best, grid, dof, rank, name, enabled)
    else:
        best = np.full(k, int(best))
    reported = report(refit, scores, None, scale, scoring=scoring, dtype=dtype)["scores"]
    coef, intercept = refit(best)
    return dict(best_index=best, best_alpha=grid[best],
                best_score=reported[best, np.arange(k)], at_grid_edge=at_grid_edge(best, dof, rank),
                coef=coef, intercept=intercept)


def select_refit(grid, flt, scores, *, rank, scoring, alpha_per_target, y_was_1d, dtype, cv,
                 n_features, name="alpha", rule="min", score_se=None, scale=None,
                 targets=None, refit=None):
    """A :class:`CVResult` from `scores` (m, k) of the scaled targets (:func:`target_scale`;
    `scale` None: unscaled): selection (per target, or one index by the mean over targets
    weighted by :func:`mean_weights`; rule 'min' or '1se' with ``score_se = (per target (m,
    k), of the target mean (m,))``), grid-edge warning, refit, and the shapes of a 1-D Y.

    `targets` runs the per-target work (:class:`InMemory` of `refit` by default); a lazy
    backend's hooks give lazy arrays, the warning emitted where the selection runs.
    """
    targets = InMemory(refit) if targets is None else targets
    dof, m = flt.dof, grid.size
    enabled = grid_edge_warnings_enabled()
    se = None if score_se is None else score_se[0]
    best = None
    if not alpha_per_target:
        loss, weights = to_loss(scores, scoring), mean_weights(scale, scoring)
        mean_loss = (loss if weights is None else loss * weights).mean(axis=1)
        best = targets.call(shared_best, mean_loss, None if se is None else score_se[1], dof,
                            rule, scores.shape[1], (grid, rank, name, enabled))
    fields = targets.map(report, [("scores", m, dtype)] + (
        [] if se is None else [("score_se", m, np.float64)]), scores, se, scale,
        scoring=scoring, dtype=dtype)
    fields.update(targets.map(
        choose, [("best_index", None, np.intp), ("best_alpha", None, np.float64),
                 ("best_score", None, dtype), ("at_grid_edge", None, np.bool_),
                 ("coef", n_features, dtype), ("intercept", None, dtype)],
        scores, se, scale, scoring=scoring, rule=rule, dof=dof, grid=grid, rank=rank,
        name=name, dtype=dtype, enabled=enabled, best=best))
    return cv_result(grid, dof, fields, cv=cv, scoring=scoring, rule=rule, y_was_1d=y_was_1d)


def cv_result(grid, dof, fields, *, cv, scoring, rule, y_was_1d):
    """The :class:`CVResult` of per-target `fields` (the attributes indexed by target), with
    the target axis dropped for a 1-D Y."""
    if y_was_1d:
        fields = {key: _first_target(key, value) for key, value in fields.items()}
    return CVResult(alphas=grid.copy(), dof=dof, cv=cv, scoring=scoring, rule=rule, **fields)


_SCALARS = dict(best_index=int, best_alpha=float, best_score=float, at_grid_edge=bool)


def _first_target(key, value):
    """Field `key` of target 0 for a 1-D Y (the selection of an in-memory result as Python
    scalars)."""
    if value is None:
        return None
    value = value[(slice(None),) * (value.ndim - 1) + (0,)]
    return _SCALARS[key](value) if key in _SCALARS and isinstance(value, np.generic) else value


def make_result(alphas, flt, mse, sst_over_sum_w, *, spectrum, centering, scoring,
                alpha_per_target, y_was_1d, dtype, cv, name="alpha", rule="min",
                score_se=None, scale=None):
    """:func:`select_refit` of the mean squared errors `mse` (and total sums of squares
    `sst_over_sum_w` for 'r2') of a NumPy solver's spectrum."""
    return select_refit(
        alphas, flt, to_score(mse, sst_over_sum_w, scoring), rank=spectrum.rank,
        scoring=scoring, alpha_per_target=alpha_per_target, y_was_1d=y_was_1d, dtype=dtype,
        cv=cv, n_features=spectrum.V.shape[0], name=name, rule=rule, score_se=score_se,
        scale=scale, refit=lambda best: refit(spectrum, centering, flt, best, dtype))
