"""Cross-validation scores from a spectrum: GCV, exact leave-one-out, selection, refit.

Every function here works for all alphas and all targets at once; none allocates an
n_samples x n_targets x n_alphas array.
"""

import contextlib
import contextvars
import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from . import _core
from ._spectrum import column_blocks, weighted_sum

# Hat-matrix rows up to this many (n_samples x n_alphas) float64 values at once.
HAT_BLOCK = 1 << 22
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
        out-of-sample predictions (``'r2'``, higher is better).
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


def spanning(spectrum, centering):
    """Whether U spans every direction Yc can take, so that ``Yc - U U^T Yc = 0`` exactly."""
    return spectrum.rank == centering.n_effective - int(centering.fit_intercept)


def gcv_mse(spectrum, centering, flt, grid, name="alpha"):
    """Generalized cross-validation ``(RSS / sum_w) / (1 - trace(H) / n)^2``: (m, k).

    ``RSS(a) = ||Yc - U U^T Yc||^2 + sum_i (1 - f_i(a))^2 R_i^2`` costs O(r k) per alpha;
    `grid` and `name` (the parameter: alpha, steps, ...) appear in errors.
    """
    R2 = np.square(spectrum.R, dtype=np.float64)
    if spanning(spectrum, centering):
        base = np.zeros(R2.shape[1])
    else:  # ||Yc - U R||^2, up to rounding of order eps ||Yc||^2
        base = np.maximum(spectrum.yc_sq - R2.sum(axis=0), 0.0)
    rss = np.empty((grid.size, R2.shape[1]))
    rss[:] = base
    _core.gemm(np.square(flt.resid), R2, rss, beta=1.0)
    df_resid = centering.n_effective - int(centering.fit_intercept) - flt.dof
    bad = np.flatnonzero(df_resid <= 1e-9 * centering.n_effective)
    if bad.size:
        raise ValueError(
            f"GCV is undefined at {name}={float(grid[bad[0]])!r}: the fit interpolates "
            f"(effective dof + intercept = n_samples = {centering.n_effective}). Regularize "
            "more.")
    n = centering.n_effective
    return (rss / centering.sum_w) / np.square(df_resid / n)[:, None]


def hat_complement(spectrum, centering, flt, grid, name="alpha"):
    """Yield (block of grid indices, ``1 - h`` of shape (n, block)) over blocks of the grid.

    ``h_i = w_i / sum(w) [intercept] + sum_j U_ij^2 f_j``, formed as ``(1 - h at f = 0) +
    sum_j U_ij^2 (1 - f_j)``: no cancellation at small alphas. Raises where a sample of
    positive weight has leverage 1 (its leave-one-out error is undefined).
    """
    U2 = np.square(spectrum.U)
    n, m = U2.shape[0], grid.size
    w = np.square(centering.sw)
    outside = 1.0 - U2.sum(axis=1)
    if centering.fit_intercept:
        outside -= w / centering.sum_w
    np.maximum(outside, 0.0, out=outside)
    step = max(1, HAT_BLOCK // n)
    for a0 in range(0, m, step):
        block = slice(a0, min(m, a0 + step))
        one_minus_h = np.empty((n, block.stop - a0))
        one_minus_h[:] = outside[:, None]
        _core.gemm(U2, np.ascontiguousarray(flt.resid[block]), one_minus_h, trans_b=True,
                   beta=1.0)
        worst = np.unravel_index(np.argmin(one_minus_h), one_minus_h.shape)
        if one_minus_h[worst] <= 1e-12 and w[worst[0]] > 0:
            value = float(grid[a0 + worst[1]])
            raise ValueError(
                f"Leave-one-out is undefined at {name}={value!r}: sample {worst[0]} has "
                f"leverage 1 (1 - h = {one_minus_h[worst]:.3g}; its own fit is exact). "
                "Regularize more, or use cv='gcv'.")
        yield block, one_minus_h


def loo_sse(spectrum, centering, Y, flt, grid, name="alpha"):
    """Weighted sum of squared exact leave-one-out errors: (m, k) float64.

    ``e_i = (y_i - yhat_i) / (1 - h_i)`` with the residuals ``sw (y - yhat)`` from the fused
    kernel: ``Yc - U diag(f) R``, or ``U diag(1 - f) R`` when U spans every direction of Yc.
    """
    dtype = Y.dtype
    targets = not spanning(spectrum, centering)
    U = spectrum.cast("U", dtype)
    F = (-flt.fit if targets else flt.resid).astype(dtype)
    sw, ym = centering.sw.astype(dtype), centering.ym.astype(dtype)
    out = np.zeros((grid.size, Y.shape[1]))
    for block, one_minus_h in hat_complement(spectrum, centering, flt, grid, name):
        S = np.reciprocal(one_minus_h, out=one_minus_h).astype(dtype)
        _core.sse(U, spectrum.R, np.ascontiguousarray(F[block]), Y, ym, sw, S, targets,
                  out[block])
    return out


def loo_errors(spectrum, centering, Y, flt, grid, name="alpha"):
    """Leave-one-out errors ``(y_i - yhat_i) / (1 - h_i)``: (m, n, k) float64.

    Rows of zero weight are left as NaN for the caller (their error is the plain residual).
    """
    U = spectrum.U
    R = spectrum.R.astype(np.float64)
    sw = centering.sw
    errors = np.empty((grid.size,) + Y.shape)
    targets = not spanning(spectrum, centering)  # as in loo_sse
    _core.apply_filter(U, R, np.ascontiguousarray(-flt.fit if targets else flt.resid),
                       np.empty(0), errors)
    if targets:
        errors += sw[:, None] * np.subtract(Y, centering.ym, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for block, one_minus_h in hat_complement(spectrum, centering, flt, grid, name):
            errors[block] /= (sw[:, None] * one_minus_h).T[:, :, None]
    errors[:, sw == 0] = np.nan
    return errors


def total_sum_of_squares(Y, w, mean):
    """``sum_i w_i (y_i - mean)^2`` per target, float64, in blocks of targets."""
    out = np.empty((1, Y.shape[1]))
    w = np.ascontiguousarray(w, dtype=np.float64)[None, :]
    for cols, block in column_blocks(Y):
        block -= mean[cols]
        np.square(block, out=block)
        _core.gemm(w, block, out[:, cols])
    return out[0]


def to_score(mse, sst_over_sum_w, scoring):
    """Convert weighted mean squared errors to the requested scoring."""
    if scoring == "mse":
        return mse
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - mse / sst_over_sum_w


def select(scores, scoring, alpha_per_target, dof, rule="min", score_se=None):
    """Index of the best grid value per target (or one shared index).

    ``rule='1se'`` takes the most regularized value (fewest dof) whose score is within one
    standard error (`score_se`: per target and of the target mean) of the best.
    """
    loss = -scores if scoring == "r2" else scores
    se = None if score_se is None else score_se[0]
    if not alpha_per_target:
        loss = loss.mean(axis=1, keepdims=True)
        se = None if score_se is None else score_se[1][:, None]
    best = np.argmin(loss, axis=0)
    if rule == "1se":
        cols = np.arange(loss.shape[1])
        within = loss <= (loss[best, cols] + se[best, cols])
        best = np.where(within, dof[:, None], np.inf).argmin(axis=0)
    return np.broadcast_to(best, (scores.shape[1],)).copy()


def refit(spectrum, centering, flt, best, dtype):
    """Coefficients (p, k) and intercepts (k,) with filter row ``best[t]`` for target t."""
    factors = flt.coef_factors(spectrum.s)[best].T.astype(dtype)  # (r, k)
    coef = np.empty((spectrum.V.shape[0], spectrum.R.shape[1]), dtype=dtype)
    _core.gemm(spectrum.cast("V_coef", dtype), np.ascontiguousarray(factors * spectrum.R),
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


def warn_grid_edges(best_index, grid, dof, rank, name="alpha"):
    """Warn (:class:`GridEdgeWarning`, unless turned off by :func:`grid_edge_warnings`) when
    a best value sits on an open edge of the grid (see :func:`at_grid_edge`)."""
    if not _WARN_GRID_EDGES.get():
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


def make_result(alphas, flt, mse, sst_over_sum_w, *, spectrum, centering, scoring,
                alpha_per_target, y_was_1d, dtype, cv, name="alpha", rule="min",
                score_se=None):
    """Scores, selection, refit and the edge warning, shaped as documented."""
    scores = to_score(mse, sst_over_sum_w, scoring)
    best = select(scores, scoring, alpha_per_target, flt.dof, rule, score_se)
    best_alpha = alphas[best]
    scores = scores.astype(dtype)
    best_score = scores[best, np.arange(scores.shape[1])]
    coef, intercept = refit(spectrum, centering, flt, best, dtype)
    dof = flt.dof
    warn_grid_edges(best, alphas, dof, spectrum.rank, name)
    edge = at_grid_edge(best, dof, spectrum.rank)
    se = None if score_se is None else score_se[0]
    if y_was_1d:
        scores, coef = scores[:, 0], coef[:, 0]
        se = None if se is None else se[:, 0]
        best, best_alpha, best_score, intercept = (int(best[0]), float(best_alpha[0]),
                                                   float(best_score[0]), intercept[0])
        edge = bool(edge[0])
    return CVResult(alphas=alphas.copy(), scores=scores, best_index=best,
                    best_alpha=best_alpha, best_score=best_score, coef=coef,
                    intercept=intercept, dof=dof, cv=cv, scoring=scoring, score_se=se,
                    rule=rule, at_grid_edge=edge)
