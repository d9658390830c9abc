"""The K-fold search of banded ridge from one Gram per fold (NumPy, dense, tall X).

Candidate group weights rescale the columns of the design, ``X D`` with ``D = diag(sqrt(
gamma_g))``, so each training set's Gram and cross products of every candidate are those of
the unscaled design, ``D G_f D`` and ``D X_f^T Y_f``: formed once per fold (the full data's
Gram less the held-out rows', re-centred on the training means, as ``ridge_cv`` does for one
penalty), and per candidate and fold only the decomposition, the projected targets and the
held-out scores remain. Scores are pooled over the folds; each target takes the best
(candidate, alpha), and one decomposition of the full Gram per chosen candidate refits its
targets. A fold (or the refit) whose Gram fails the accuracy guard of the ``auto`` rule for
a candidate is decomposed again from its rows (by SVD where needed), as ``ridge_cv`` does.
"""

from types import SimpleNamespace

import numpy as np

from . import _core, _scores
from ._cv import _partitions
from ._design import DenseDesign
from ._solver import RidgeSolver, held_out_basis
from ._spectrum import Centering, gram_spectrum, project, recentre, weighted_sum


def applies(X, splits, method):
    """Whether the search can take every training Gram from one pass over the data."""
    n, p = X.shape
    return isinstance(X, np.ndarray) and method in ("auto", "gram") and n >= p and \
        not isinstance(splits, str) and all(_partitions(tr, te, n) for tr, te in splits)


def fold_search(X, Y, w, fit_intercept, method, splits, candidates, column_group, alphas,
                scoring, gamma_min):
    """Pooled held-out scores (n_candidates, n_alphas, n_targets) in the working dtype, the
    best candidate and alpha index per target, their scores, and the refit (coefficients
    (p, k), intercepts (k,)). `w`: the sample weights or None."""
    n, p = X.shape
    dtype = Y.dtype
    c = Centering(X, Y, w, fit_intercept)
    Xs = c.center_X(X)  # sw (X - xm): the global means keep the downdate well conditioned
    G = DenseDesign(Xs).gram(gram=True)  # upper triangle
    P, yc_sq = project(Xs, Y, c.ym, c.sw)
    s1, t1 = weighted_sum(c.sw, Xs), weighted_sum(np.square(c.sw), Y, c.ym)
    scale, _ = _scores.target_scale(Y, c, yc_sq)
    w2 = np.square(c.sw)
    mean = weighted_sum(w2, Y) / c.sum_w if scoring == "r2" else None
    kept = [np.flatnonzero((g > gamma_min * g.max())[column_group]) for g in candidates]
    factors = [np.sqrt(g[column_group[cols]]) for g, cols in zip(candidates, kept)]
    sse = np.zeros((len(candidates), alphas.size, Y.shape[1]))
    sst, weight = np.zeros(Y.shape[1]), 0.0
    for i, (train, test) in enumerate(splits):
        if not (w2[train] > 0).any():
            raise ValueError(f"cv split {i}: every training sample has zero sample_weight.")
        fold = _fold(Xs, Y, c, G, P, s1, t1, test)
        Y_te = np.ascontiguousarray(Y[test])
        for j, (cols, d) in enumerate(zip(kept, factors)):
            part = None if fold is None else _candidate(fold, cols, d, yc_sq, alphas, dtype)
            if part is None:  # the Gram is not accurate enough: decompose the rows
                part = _direct(X, Y, w, fit_intercept, method, train, test, cols, d, alphas,
                               c.sw[test], dtype)
            B, spectrum, ym = part
            sse[j] += _scores.held_out_sse(B, spectrum, spectrum.ridge(alphas), Y_te, ym,
                                           c.sw[test], dtype, scale)
        weight += float(w2[test].sum())
        if scoring == "r2":
            sst += _scores.total_sum_of_squares(Y_te, w2[test], mean, scale)
    scores = _scores.to_score(sse / weight, sst / weight, scoring)
    m, k = alphas.size, Y.shape[1]
    flat = np.argmin(_scores.to_loss(scores, scoring).reshape(-1, k), axis=0)
    best_candidate, best_index = np.divmod(flat, m)
    if scoring == "mse":
        scores = _scores.unscale(scores, scale)
    with np.errstate(over="ignore", under="ignore"):
        scores = scores.astype(dtype)
    best_score = scores[best_candidate, best_index, np.arange(k)]
    coef, intercept = np.zeros((p, k), dtype=dtype), np.zeros(k, dtype=dtype)
    whole = _Fold(G, P, c.ym, None, n, c.max_rank(p))
    for j in np.unique(best_candidate):
        targets = np.flatnonzero(best_candidate == j)
        cols, d = kept[j], factors[j]
        chosen = alphas[best_index[targets]]
        spectrum = _spectrum(whole, cols, d, yc_sq, chosen, targets)
        if spectrum is None:  # not accurate enough: the solver's SVD
            fit = RidgeSolver(X if cols.size == p else X[:, cols], Y[:, targets],
                              fit_intercept=fit_intercept, sample_weight=w, method=method,
                              penalty_factor=1.0 / np.square(d)).per_target(chosen)
            W, b = fit.coef, fit.intercept
        else:
            W, b = _scores.refit(spectrum, SimpleNamespace(xm=c.xm[cols], ym=c.ym[targets]),
                                 spectrum.ridge(chosen), np.arange(targets.size), dtype)
        coef[np.ix_(cols, targets)] = W
        intercept[targets] = b
    return scores, best_candidate, best_index, best_score, coef, intercept


class _Fold:
    """One training set's Gram (upper triangle) and cross products of the unscaled design,
    centred on its own weighted means, and its held-out rows ``sw (x - xm_train)``."""

    def __init__(self, G, P, ym, X_te, n_train, max_rank):
        self.G, self.P, self.ym, self.X_te = G, P, ym, X_te
        self.n_train, self.max_rank = n_train, max_rank


def _fold(Xs, Y, c, G, P, s1, t1, test):
    """The :class:`_Fold` of the training set that leaves out `test`, or None where it has
    no weight left."""
    sw_te = c.sw[test]
    Xs_te = Xs[test]
    sum_w = c.sum_w - float(np.square(sw_te).sum())
    max_rank = c.n_effective - int(np.count_nonzero(sw_te)) - int(c.fit_intercept)
    if sum_w <= 0 or max_rank < 0:
        return None
    Y_te = np.ascontiguousarray(Y[test])
    G_f = G - DenseDesign(Xs_te).gram(gram=True)
    P_f = P - project(Xs_te, Y_te, c.ym, sw_te)[0]
    shift, ym = np.zeros(Xs.shape[1]), c.ym.copy()
    if c.fit_intercept:
        s1_f = s1 - weighted_sum(sw_te, Xs_te)
        G_f, P_f, _, t = recentre(s1_f, t1 - weighted_sum(np.square(sw_te), Y_te, c.ym),
                                  sum_w, G=G_f, XtY=P_f)
        shift = s1_f / sum_w
        ym += t
    X_te = Xs_te - sw_te[:, None] * shift
    return _Fold(G_f, P_f, ym, X_te, Xs.shape[0] - test.size, max_rank)


def _spectrum(fold, cols, d, yc_sq, alphas, targets=None):
    """The spectrum of the set's columns `cols` scaled by `d` (with the projected targets
    `targets`, default all), or None where the Gram route would not be accurate enough
    for `alphas`."""
    whole = cols.size == fold.G.shape[0]
    G = np.asfortranarray((fold.G if whole else fold.G[np.ix_(cols, cols)]) * np.outer(d, d))
    P = fold.P if whole else fold.P[cols]
    P = np.ascontiguousarray((P if targets is None else P[:, targets]) * d[:, None])
    spectrum = gram_spectrum(G, P, fold.n_train, min(fold.max_rank, cols.size),
                             yc_sq_bound=yc_sq if targets is None else yc_sq[targets])
    spectrum.col_scale = d
    return spectrum if spectrum.accurate_for(alphas.min()) else None


def _candidate(fold, cols, d, yc_sq, alphas, dtype):
    """(held-out basis, training spectrum, training target means) of the columns `cols`
    scaled by `d`, or None where the Gram route would not be accurate enough."""
    spectrum = _spectrum(fold, cols, d, yc_sq, alphas)
    if spectrum is None:
        return None
    X_te = fold.X_te if cols.size == fold.G.shape[0] else fold.X_te[:, cols]
    B = np.empty((X_te.shape[0], spectrum.rank), dtype=dtype)
    _core.gemm(np.ascontiguousarray(X_te, dtype=dtype), spectrum.cast("V_coef", dtype), B)
    return B, spectrum, fold.ym


def _direct(X, Y, w, fit_intercept, method, train, test, cols, d, alphas, sw_te, dtype):
    """The same from a solver on the training rows (SVD where the Gram is not accurate)."""
    sub = RidgeSolver(X[np.ix_(train, cols)], Y[train], fit_intercept=fit_intercept,
                      sample_weight=None if w is None else w[train], method=method,
                      penalty_factor=1.0 / np.square(d))
    spectrum = sub.spectrum_for(alphas)
    sub_c = sub.data.centering
    return held_out_basis(X[np.ix_(test, cols)], sw_te, sub_c.xm, spectrum, dtype), \
        spectrum, sub_c.ym
