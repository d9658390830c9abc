"""The engine's work on one row block or one block of targets, for blockwise backends.

A blockwise backend (:mod:`spectralridge.dask`) holds ``X`` and ``Y`` as row blocks and ``Y``
as blocks of targets; it runs these NumPy functions as its tasks and does the reductions.

Row blocks
    Weighted sums and peaks (:func:`means_block`, :func:`ysum_block`); per fold, the factor of
    ``A = [sw, sw (X - xm)]`` (an R factor or a Gram, :func:`factor_block`) and the cross
    products ``P = A^T sw (Y - ym)`` with ``||sw (Y - ym)||^2`` (:func:`cross_block`). The
    weights being a column of ``A``, the factor of any union of blocks (:func:`union_factor`)
    is re-centred exactly (``_penalty.set_spectrum``, which also projects out unpenalized
    columns).
Row passes
    Leave-one-out (:func:`loo_block`, :func:`loo_errors_block`) and K-fold held-out errors
    (:func:`held_out_block`) of one row block under the fits of :class:`Ctx`, by the kernels
    of :mod:`._scores`.
Blocks of targets
    From a block's ``P``: projected targets, filters applied (``_solver.apply_path``), GCV,
    scores, the dropped-direction guard and the refit; :func:`engine_block` runs the work of
    ``_scores.select_refit`` on one block.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.linalg import blas

from . import _core, _scores
from ._design import householder_r
from ._solver import apply_path, held_out_basis, intercept_basis
from ._spectrum import SetSpectrum, check_scale, weighted_sum

# -- per row block: means, factors, cross products ------------------------------------------
def block_design(X, w, xm, fit_intercept, order="C"):
    """``A = [sw, sw (X - xm)]`` (or ``sw X``) in float64 of the given memory order, and
    ``sw``."""
    sw = np.sqrt(np.asarray(w, dtype=np.float64))
    n, p = X.shape
    off = int(fit_intercept)
    A = np.empty((n, p + off), order=order)
    if fit_intercept:
        A[:, 0] = sw
        np.subtract(X, xm, out=A[:, 1:])
    else:
        A[:] = X
    A[:, off:] *= sw[:, None]
    return A, sw


def fold_rows(labels, f, K):
    if K == 1:
        return slice(None)
    return np.flatnonzero(labels == f)


def means_block(X, w):
    """(1, 3 + p): sum of weights, count of positive weights, rows, ``w^T X``."""
    w = np.asarray(w, dtype=np.float64)
    out = np.empty((1, 3 + X.shape[1]))
    out[0, :3] = w.sum(), np.count_nonzero(w), w.size
    out[0, 3:] = weighted_sum(w, X)
    return out


def ysum_block(Y, w):
    """(1, 2, kb): ``w^T Y`` and ``max |Y|`` per target."""
    Y = np.asarray(Y)
    peak = np.abs(Y).max(axis=0, initial=0.0) if Y.shape[0] else np.zeros(Y.shape[1])
    return np.stack([weighted_sum(np.asarray(w, dtype=np.float64), Y), peak])[None]


# Rows per tile of the QR inside a row block: small enough for the panel to stay in cache
# (twice the rate of one geqrf over 1e5 rows here), large enough to keep the stack of tile
# factors small.
QR_TILE = 2048


def block_factor_sums(X, w, xm, fit_intercept, kind):
    """Factor (R or Gram) of A over the rows of X, and ``[sum w, count w > 0, rows, sx]``."""
    n, p = X.shape
    q = p + int(fit_intercept)
    sums = np.zeros(3 + p)
    w = np.asarray(w, dtype=np.float64)
    sums[:3] = w.sum(), np.count_nonzero(w), n
    if n == 0:
        return np.zeros((q, q)), sums
    if kind == "gram":
        A, sw = block_design(X, w, xm, fit_intercept)
        G = blas.dsyrk(1.0, A.T, trans=0, lower=0)  # A.T is Fortran-ordered: no copy
        if not np.isfinite(np.diag(G)).all():  # overflow; the sums get the full check later
            check_scale(np.diag(G), A)
        if fit_intercept:
            sums[3:] = G[0, 1:]
        return np.triu(G) + np.triu(G, 1).T, sums
    tiles = []
    for t0 in range(0, n, QR_TILE):
        A, sw = block_design(X[t0:t0 + QR_TILE], w[t0:t0 + QR_TILE], xm, fit_intercept, order="F")
        if fit_intercept:
            sums[3:] += blas.dgemv(1.0, A[:, 1:], sw, trans=1)
        tiles.append(householder_r(A))
    if len(tiles) == 1:
        R = np.zeros((q, q))
        R[:tiles[0].shape[0]] = tiles[0]
        return R, sums
    return householder_r(np.asfortranarray(np.concatenate(tiles)), square=True), sums


def factor_block(X, w, labels=None, *, xm, K, kind, fit_intercept):
    """(1, K, q, q + 3 + p): per fold, the factor of A (R or Gram), then the sums
    ``[sum w, count w > 0, rows, sum w (x - xm)]``."""
    p = X.shape[1]
    q = p + int(fit_intercept)
    out = np.zeros((1, K, q, q + 3 + p))
    for f in range(K):
        idx = fold_rows(labels, f, K)
        Xf, wf = (X, w) if K == 1 else (X[idx], np.asarray(w)[idx])
        out[0, f, :, :q], out[0, f, 0, q:] = block_factor_sums(Xf, wf, xm, fit_intercept,
                                                                kind)
    return out


def cross_block(X, Y, w, ym, t, labels=None, *, xm, K, fit_intercept):
    """(1, K, q + 3, kb): per fold ``A^T sw (Y - ym)``, ``||sw (Y - ym)||^2``, then
    ``sw^T sw (Y - t)`` and ``||sw (Y - t)||^2`` about a shift `t` near the mean, for the R^2
    about the weighted mean also without intercept (where ``ym`` is 0)."""
    A, sw = block_design(X, w, xm, fit_intercept)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    q, kb = A.shape[1], Y.shape[1]
    ym = np.ascontiguousarray(ym, dtype=np.float64)  # dask's zeros are broadcast views
    out = np.zeros((1, K, q + 3, kb))
    for f in range(K):
        idx = fold_rows(labels, f, K)
        if K == 1:
            Af, Yf, swf = A, Y, sw
        else:
            Af, Yf, swf = A[idx], Y[idx], sw[idx]
        if Af.shape[0]:
            _core.project(Af, Yf, ym, swf, out[0, f, :q], out[0, f, q])
            Yt = Yf - t
            out[0, f, q + 1] = np.square(swf) @ Yt
            out[0, f, q + 2] = np.square(swf) @ np.square(Yt)
    return out


def contiguous_labels(rows, bounds):
    return np.searchsorted(bounds, rows, side="right") - 1


# -- eager decompositions of X -----------------------------------------------------------------
def union_factor(kind, factors):
    """Factor of the union of sets from their (q, q) factors."""
    if kind == "svd":
        q = factors[0].shape[0]
        return householder_r(np.asfortranarray(np.concatenate(factors).reshape(-1, q)),
                             square=True)
    return np.sum(factors, axis=0)


def set_spectra(sums, make):
    """The decompositions of all rows and of each training set of the K folds whose sums
    (K, 3 + p) are `sums` (K = 1: no folds): `make(folds, sums)` is that of the union of
    `folds` with the total `sums`."""
    K = sums.shape[0]
    total = sums.sum(axis=0)
    if total[0] <= 0:
        raise ValueError("sample_weight must have at least one positive entry; all "
                         "weights are zero.")
    train = []
    for f in range(K if K > 1 else 0):
        others = [g for g in range(K) if g != f]
        sums_f = sums[others].sum(axis=0)
        if sums_f[0] <= 0:
            raise ValueError(f"cv split {f}: the training set has no sample of positive "
                             "weight.")
        train.append(make(others, sums_f))
    return make(list(range(K)), total), tuple(train)


class SetState(NamedTuple):
    """The decompositions of one method: all rows, and each training set of the folds."""

    kind: str
    full: SetSpectrum
    train: tuple
    fold_factors: np.ndarray  # (K, q, q) R factors or Grams of the folds (kernel: None)
    fold_weight: np.ndarray  # (K,) sum of weights of each fold

    # what RidgeSolver reads of a decomposition: the full data's
    method = property(lambda self: self.full.method)
    s = property(lambda self: self.full.s)
    lam = property(lambda self: self.full.lam)
    rank = property(lambda self: self.full.rank)

    def ridge(self, alphas):
        return self.full.ridge(alphas)

    @property
    def sets(self):
        """All rows' decomposition, then each training set's."""
        return (self.full, *self.train)

    def unmeasured(self):
        """Indices in :attr:`sets` of the decompositions whose dropped directions are not
        measured against their targets yet (none for the SVD)."""
        return [] if self.kind == "svd" else [
            j for j, d in enumerate(self.sets) if d.Q_dropped is not None and
            not np.isfinite(d.dropped)]

    def measured(self, todo, ratios):
        """This state with the dropped-direction ratios of the sets `todo`."""
        sets = list(self.sets)
        for j, ratio in zip(todo, ratios):
            sets[j] = sets[j].measured(float(ratio))
        return self._replace(full=sets[0], train=tuple(sets[1:]))

    def accurate_for(self, alpha_min):
        """Whether every set's decomposition serves `alpha_min` (the 'auto' guard)."""
        return all(d.spectrum().accurate_for(alpha_min) for d in self.sets)


def set_state(kind, sums, make, fold_factors=None):
    """The :class:`SetState` of `kind` from the folds' `sums` and `make` (see
    :func:`set_spectra`)."""
    with np.errstate(over="ignore", invalid="ignore"):  # check_scale sees overflow
        return SetState(kind, *set_spectra(sums, make), fold_factors, sums[:, 0].copy())


# -- per block of targets -------------------------------------------------------------------------
@dataclass(frozen=True)
class Ctx:
    """Everything a task over a block of targets needs, shipped once per call."""

    fit_intercept: bool
    full: SetSpectrum
    folds: tuple = ()  # decompositions of the training sets
    flt: object = None
    grid: np.ndarray = None
    name: str = "alpha"
    scoring: str = "mse"
    extra: dict = field(default_factory=dict)


def all_rows(P):
    """The cross products of all rows (q + 3, kb) from the folds' (K, q + 3, kb)."""
    return P.sum(axis=0) if P.shape[0] > 1 else P[0]


def full_cross(P, ym0, ctx):
    """``Xc^T Yc`` (p, kb), ``||Yc||^2`` and target means of all rows."""
    Pf = all_rows(P)
    XtY, yc_sq, t = ctx.full.cross(Pf[:-3], Pf[-3], ctx.fit_intercept)
    return XtY, yc_sq, (np.asarray(ym0, dtype=np.float64) + t) if ctx.fit_intercept else t


def full_targets(P, ym0, ctx):
    """Projected targets ``R`` (r, kb), ``||Yc||^2`` and target means of all rows."""
    XtY, yc_sq, ym = full_cross(P, ym0, ctx)
    return ctx.full.project(XtY), yc_sq, ym


def projected_block(P, ym0, *, ctx):
    """(r + 1, kb): ``R`` and ``||Yc||^2`` of the full data."""
    R, yc_sq, _ = full_targets(P, ym0, ctx)
    return np.vstack([R, yc_sq[None]])


def dropped_block(*args, ctx, sets, widths):
    """(len(sets), kb): per target, what the dropped directions of each decomposition in
    `sets` (0: all rows, f + 1: the training set of fold f) carry of its ``Xc^T Yc``;
    `args`: ``(P, ym0)``, or for the kernel route ``(C, P, ym0)`` with ``C`` the stacked
    ``Q_d^T Yc`` of the sets (their `widths` rows each)."""
    P, ym0 = args[-2:]
    K, q = P.shape[0], P.shape[1] - 3
    out = np.empty((len(sets), P.shape[2]))
    starts = np.cumsum([0, *widths])
    for i, j in enumerate(sets):
        if j == 0:
            d, (XtY, yc_sq, _) = ctx.full, full_cross(P, ym0, ctx)
        else:
            d = ctx.folds[j - 1]
            others = P[[g for g in range(K) if g != j - 1]].sum(axis=0)
            XtY, yc_sq, _ = d.cross(others[:q], others[q], ctx.fit_intercept)
        c = args[0][starts[i]:starts[i + 1]] if len(args) == 3 else None
        out[i] = d.dropped_ratios(XtY, d.project(XtY), yc_sq, c)
    return out


def apply_block(P, ym0, *, ctx, basis, with_mean):
    """The engine's ``apply_path`` on one block of targets: (m, q, kb); `basis` None:
    that of the intercepts."""
    R, _, ym = full_targets(P, ym0, ctx)
    spectrum = ctx.full.spectrum(R)
    if basis is None:
        basis = intercept_basis(spectrum, ctx.full.xm, ctx.fit_intercept, np.float64)
    offset = ym if with_mean and ctx.fit_intercept else np.zeros(0)  # empty: no offset
    return apply_path(basis, spectrum, ctx.flt, offset, np.float64)


def coef_block(P, ym0, *, ctx):
    """Coefficients (m, p, kb) of every grid value, unpenalized columns included."""
    out = apply_block(P, ym0, ctx=ctx, basis=ctx.full.V, with_mean=False)
    return ctx.full.add_free(out, all_rows(P)[:-3])


def predict_block(Xn, P, ym0, *, ctx):
    B = held_out_basis(Xn, None, ctx.full.xm, ctx.full.spectrum(), np.float64)
    out = apply_block(P, ym0, ctx=ctx, basis=B, with_mean=True)
    fit = ctx.full.free_fit(Xn, all_rows(P)[:-3])  # unpenalized columns: Z G_y
    return out if fit is None else out + fit


def gcv_block(P, ym0, *, ctx):
    R, yc_sq, ym = full_targets(P, ym0, ctx)
    return _scores.gcv_mse(ctx.full.spectrum(R, yc_sq), ctx.full.centering(ym, ctx.fit_intercept),
                           ctx.flt, ctx.grid, ctx.name)


def row_block_loo(X, w, rows, P, ym0, ctx):
    """:class:`~spectralridge._scores.LooRows` of one row block, its centred targets' mean,
    and the square roots of its weights."""
    d = ctx.full
    R, _, ym = full_targets(P, ym0, ctx)
    spectrum = d.spectrum(R)
    wb = np.asarray(w, dtype=np.float64)
    sw = np.sqrt(wb)
    U = held_out_basis(X, sw, d.xm, spectrum, np.float64)
    U /= d.s
    loo = _scores.loo_rows(spectrum, d.centering(ym, ctx.fit_intercept), np.asarray(rows), U,
                           wb)
    return loo._replace(leverage=d.leverage(X, wb)), ym, sw


def free_targets(X, Y, AtY, d):
    """`Y` (float64) less the unpenalized columns' fit ``Z G_y`` under the set `d`, from its
    cross products ``A^T Yc`` (q, kb)."""
    Y = np.asarray(Y, dtype=np.float64)
    fit = d.free_fit(X, AtY)
    return Y if fit is None else Y - fit


def loo_block(X, Y, w, rows, P, ym0, *, ctx):
    """(1, m, kb): weighted sums of squared leave-one-out errors over one row block."""
    loo, ym, sw = row_block_loo(X, w, rows, P, ym0, ctx)
    Y = np.ascontiguousarray(free_targets(X, Y, all_rows(P)[:-3], ctx.full))
    return _scores.loo_sse_rows(loo, ctx.flt, ctx.grid, Y, ym, sw, np.float64, ctx.name,
                                tile=_scores.LOO_TILE,
                                compress=ctx.extra.get("loo_compression", True))[None]


def held_out_block(X, Y, w, labels, P, ym0, *, ctx):
    """(1, K, m, kb): per fold, the weighted sums of squared held-out errors of the rows of
    this block in that fold, under the fit on the other folds (formed from the rows)."""
    K, q3, kb = P.shape
    q = q3 - 3
    out = np.zeros((1, K, ctx.grid.size, kb))
    labels = np.asarray(labels)
    Y = np.asarray(Y, dtype=np.float64)
    sw = np.sqrt(np.asarray(w, dtype=np.float64))
    for f in np.unique(labels):
        d = ctx.folds[f]
        rows = np.flatnonzero(labels == f)
        AtY = P[[g for g in range(K) if g != f], :q].sum(axis=0)
        XtY, _, ym = d.cross(AtY, None, ctx.fit_intercept)
        R = d.project(XtY)
        ym += ym0
        Y_f = free_targets(X[rows], Y[rows], AtY, d)
        if not d.rank:  # the fit is the training mean (and unpenalized columns)
            resid = sw[rows, None] * (Y_f - ym)
            out[0, f] = np.einsum("ij,ij->j", resid, resid)
            continue
        spectrum = d.spectrum(R)
        B = held_out_basis(X[rows], sw[rows], d.xm, spectrum, np.float64)
        out[0, f] = _scores.held_out_sse(B, spectrum, ctx.extra["fold_filters"][f],
                                         np.ascontiguousarray(Y_f), ym, sw[rows], np.float64,
                                         compress=ctx.extra["loo_compression"])
    return out


def kfold_block(sse, P, ym0, *, ctx):
    """(2 m + K m, kb): pooled held-out mean squared errors, the standard errors of the
    per-split scores and the scores of every split (``_scores.SplitTotals``), from the
    per-fold sums of squared errors `sse` (K, m, kb)."""
    K, q3, kb = P.shape
    q = q3 - 3
    totals = _scores.SplitTotals(ctx.grid.size, kb, ctx.scoring, None)
    dy = P[:, q + 1].sum(axis=0) / ctx.full.sum_w  # global weighted mean minus the shift t
    scores = []
    for f in range(K):
        weight = ctx.extra["fold_weight"][f]
        sst = _scores.total_ss_from_sums(P[f, q + 1], P[f, q + 2], weight, dy) if \
            ctx.scoring == "r2" else None  # about the global weighted mean, as in NumPy
        scores.append(totals.add(sse[f], weight, sst))
    se, _ = totals.standard_errors()  # that of the mean over targets spans all blocks
    return np.concatenate([totals.sse / totals.weight, se, *scores])


def score_block(mse, P, ym0, *, ctx):
    sst = None
    if ctx.scoring == "r2":  # about the weighted mean, with or without intercept
        ys, yt = P.sum(axis=0)[-2:]
        sst = _scores.total_ss_from_sums(ys, yt, ctx.full.sum_w, ys / ctx.full.sum_w) / \
            ctx.full.sum_w
    return _scores.to_score(mse, sst, ctx.scoring)


def se_block(split_scores):
    """Standard errors over the splits stacked along axis 0."""
    v = split_scores
    return _scores.standard_error((v.sum(axis=0), np.square(v).sum(axis=0)), v.shape[0])


def refit_targets(P, ym0, scale, ctx, flt, best, col_scale):
    """Coefficients (p, kb) and intercepts (kb,) of one block of targets with row ``best[t]``
    of `flt` for target t, in the units of Y and of the columns as given (float64)."""
    R, yc_sq, ym = full_targets(P, ym0, ctx)
    coef, intercept = _scores.refit(ctx.full.spectrum(R, yc_sq),
                                    ctx.full.centering(ym, ctx.fit_intercept), flt, best,
                                    np.float64)
    coef = ctx.full.add_free(coef, all_rows(P)[:-3])
    coef, intercept = _scores.unscale(coef, scale, 1), _scores.unscale(intercept, scale, 1)
    return (coef if col_scale is None else coef * col_scale[:, None]), intercept


def refit_block(alphas, scale, P, ym0, *, ctx, col_scale):
    """(p + 1, kb): coefficients and intercept with alpha ``alphas[t]`` for target t."""
    alphas = np.asarray(alphas, dtype=np.float64)
    coef, intercept = refit_targets(P, ym0, scale, ctx, ctx.full.ridge(alphas),
                                     np.arange(alphas.size), col_scale)
    return np.concatenate([coef, intercept[None]])


def engine_block(*blocks, work, layout, present, ctx, col_scale, kwargs):
    """One block of targets of the engine's per-target `work` (see ``dask._Targets``):
    its fields stacked as float64 rows (the given arrays, then scale, ``P`` and ``ym0``)."""
    *given, scale, P, ym0 = blocks
    given = iter(given)
    arrays = [next(given) if p else None for p in present]

    def refit(best):
        return refit_targets(P, ym0, scale, ctx, ctx.flt, best, col_scale)
    fields = work(refit, *arrays, **kwargs)
    kb = P.shape[-1]
    return np.concatenate([np.asarray(fields[name], dtype=np.float64).reshape(
        1 if rows is None else rows, kb) for name, rows, _ in layout])


def loo_errors_block(X, Y, w, rows, P, ym0, *, ctx):
    """(m, b, kb): leave-one-out errors of one row block (plain residuals at zero weight)."""
    loo, ym, sw = row_block_loo(X, w, rows, P, ym0, ctx)
    Y = free_targets(X, Y, all_rows(P)[:-3], ctx.full)
    errors = _scores.loo_errors_rows(loo, ctx.flt, ctx.grid, Y, ym, sw, ctx.name)
    zero = sw == 0
    if zero.any():  # the plain residual, with the fit from the other samples
        B = held_out_basis(X[zero], None, ctx.full.xm, ctx.full.spectrum(), np.float64)
        fitted = apply_block(P, ym0, ctx=ctx, basis=B, with_mean=True)
        errors[:, zero] = Y[zero] - fitted
    return errors
