"""ridge_cv: leave-one-out, GCV and K-fold (any splitter) for every alpha and target.

K-fold decomposes each training set once and scores every alpha and target on the held-out
rows with the fused residual kernel. When the splits partition the samples and the design is
tall, all training Grams come from one pass over the data: ``G_train = G - G_test``, with the
data shifted by the global weighted mean first so that re-centring on the training means is
well conditioned; a fold whose Gram fails the accuracy guard of the ``auto`` rule is
decomposed again from its rows by SVD.
"""

import numbers
from types import SimpleNamespace

import numpy as np

from . import _core, _scores
from ._backends import backend_for
from ._design import DenseDesign, make_design
from ._penalty import FoldDowndate
from ._solver import RidgeSolver, held_out_basis
from ._spectrum import gram_spectrum, project, recentre, weighted_sum
from ._validation import (CRITERIA, check_bool, check_criterion_options, check_cv,
                          check_groups, check_rule, check_scoring)


def ridge_cv(X, Y, alphas=None, *, cv="loo", alpha_per_target=True, scoring="mse",
             rule="min", fit_intercept=True, sample_weight=None, method="auto", groups=None,
             penalty_factor=None, noise_level=None, refine=False):
    """Cross-validated ridge regression over a grid of alphas, per target.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    Y : array-like of shape (n_samples,) or (n_samples, n_targets)
    alphas : array-like of shape (n_alphas,), default=None
        None: 30 log-spaced alphas whose effective dof span the whole range (0, rank).
    cv : {'loo', 'gcv', 'evidence', 'lcurve', 'discrepancy', 'quasi'}, int, splitter or \
iterable, default='loo'
        ``'loo'``: exact leave-one-out. ``'gcv'``: generalized cross-validation.
        ``'evidence'``: the maximum of the log marginal likelihood
        (:meth:`RidgeSolver.evidence`). ``'lcurve'``: the corner of the L-curve
        (:meth:`RidgeSolver.lcurve`). ``'discrepancy'``: the discrepancy principle for the
        noise level `noise_level` (:meth:`RidgeSolver.discrepancy`). ``'quasi'``:
        quasi-optimality (:meth:`RidgeSolver.quasi_optimality`). These four have their
        own scores (``CVResult.scoring`` names them) and take ``scoring='mse'`` only. An int K:
        K contiguous folds (scikit-learn's ``KFold(K)`` without shuffling), or with `groups`
        the folds of scikit-learn's ``GroupKFold(K)``. An object with a
        ``split(X, Y, groups)`` method (any scikit-learn splitter), or an iterable of
        ``(train, test)`` index arrays.
    alpha_per_target : bool, default=True
        Best alpha per target, or one alpha chosen by the mean score over targets.
    scoring : {'mse', 'r2'}, default='mse'
        Held-out errors are pooled over all held-out samples: the weighted mean squared error
        (lower is better) or ``1 - SSE / TSS`` (higher is better).
    rule : {'min', '1se'}, default='min'
        ``'min'``: the best score. ``'1se'`` (splitters only): the most regularized alpha
        whose score is within one standard error of the best, the standard error being that
        of the per-split scores (``CVResult.score_se``) at the best alpha [1]_.
    fit_intercept, sample_weight, method, penalty_factor
        As in :class:`RidgeSolver`.
    groups : array-like of shape (n_samples,), default=None
        Group labels: no group is split between a training and a test set. With an int K,
        group K-fold (each group in one fold: the largest groups first, each to the fold
        with the fewest samples so far, as scikit-learn's ``GroupKFold``; computed without
        scikit-learn); with a splitter, passed to ``cv.split`` (a splitter that ignores
        groups, such as ``KFold``, ignores them). A ``ValueError`` for ``'loo'`` and
        ``'gcv'`` (they hold out single samples), for (train, test) pairs (already fixed)
        and for a length other than n_samples.
    noise_level : float or array-like of shape (n_targets,), default=None
        The noise standard deviation sigma per unit weight: required by
        ``cv='discrepancy'``; with ``cv='evidence'`` the known noise variance is sigma^2
        (None: profiled out). An error with other cv.
    refine : bool, default=False
        After the grid, refine each best alpha off the grid: a bounded search on log(alpha)
        between the grid neighbours of the best value (Brent's method: parabolic steps
        through the grid's three scores, golden-section steps where they fail), for all
        targets at once (one pass over the spectrum, or for ``'loo'`` two n x rank x
        n_targets GEMMs, and for a splitter one n_test x rank x n_targets product per split,
        per step), to a relative 1e-6 in alpha (1e-2 for ``'loo'`` and splitters), never
        worse than the grid's best. ``best_index`` stays the grid's. For ``'loo'``,
        ``'gcv'``, ``'evidence'``, ``'lcurve'``, ``'quasi'`` and splitters (which then keep
        each split's training spectrum and held-out basis, n x rank values in all; not with
        ``rule='1se'``).

    Returns
    -------
    CVResult
        Scores for every alpha (and target), the best alpha(s) and the refit on all data.

    References
    ----------
    .. [1] Hastie, T., Tibshirani, R., Friedman, J. (2009). The Elements of Statistical
       Learning, 2nd ed., Springer, sec. 7.10.

    Examples
    --------
    >>> import numpy as np
    >>> import spectralridge as sr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 10))
    >>> Y = X @ rng.standard_normal((10, 2)) + rng.standard_normal((100, 2)) * [0.1, 10.0]
    >>> result = sr.ridge_cv(X, Y, np.logspace(-2, 4, 13), cv=5)
    >>> result.scores.shape, result.coef.shape
    ((13, 2), (10, 2))
    >>> bool(result.best_alpha[0] < result.best_alpha[1])  # noisier target, more shrinkage
    True
    """
    return cross_validate(backend_for(X, Y, sample_weight), X, Y, alphas, cv=cv,
                          alpha_per_target=alpha_per_target, scoring=scoring, rule=rule,
                          groups=groups, noise_level=noise_level, refine=refine,
                          fit_intercept=fit_intercept, sample_weight=sample_weight,
                          method=method, penalty_factor=penalty_factor)


def cross_validate(backend, X, Y, alphas, *, cv, alpha_per_target, scoring, rule, groups,
                   noise_level=None, refine=False, **kwargs):
    """:func:`ridge_cv` on `backend` (a module of ``_backends``; None: NumPy and
    scipy.sparse data): the checks of the arguments and the choice of the criterion, for
    every backend. K-fold runs through the backend's ``cv_splits(X, Y, cv, groups,
    kwargs)`` (its solver and splits) and ``kfold(solver, splits, alphas, scoring,
    alpha_per_target, rule, refine)``; `kwargs` are the solver's."""
    refine = check_criterion_options(cv, noise_level, refine)
    criterion = isinstance(cv, str) and cv in CRITERIA
    is_named = isinstance(cv, str) and cv in ("loo", "gcv")
    ops = NUMPY if backend is None else backend
    if (criterion or refine) and not ops.criteria:
        what = f"cv={cv!r}" if criterion else "refine=True"
        raise ValueError(f"{what} needs NumPy, scipy.sparse or array-API data (not "
                         f"available for {backend.__name__.rsplit('.', 1)[-1]} "
                         "input yet); use cv='loo', 'gcv' or a splitter without refine.")
    scoring = check_scoring(scoring)
    alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
    rule = check_rule(rule, cv if is_named or criterion else None)
    if is_named or criterion:
        check_groups(groups, None, cv)  # raises: these criteria do not split the samples
        solver = ops.Solver(X, Y, **kwargs)
        if criterion or refine:
            return solver.select_alpha(cv, alphas, scoring=scoring,
                                       alpha_per_target=alpha_per_target,
                                       noise_level=noise_level, refine=refine)
        score = solver.loo if cv == "loo" else solver.gcv
        return score(alphas, scoring=scoring, alpha_per_target=alpha_per_target)
    solver, splits = ops.cv_splits(X, Y, cv, groups, kwargs)
    if rule == "1se" and len(splits) < 2:
        raise ValueError(f"rule='1se' needs at least 2 splits, got {len(splits)}.")
    if rule == "1se" and refine:
        raise ValueError("refine=True refines the minimum of the held-out error; it does "
                         "not combine with rule='1se'.")
    return ops.kfold(solver, splits, alphas, scoring, alpha_per_target, rule, refine)


def cv_splits(X, Y, cv, groups, kwargs):
    """The solver of all rows and the (train, test) splits of `cv`."""
    solver = RidgeSolver(X, Y, **kwargs)
    X, Y = solver.given_data[:2]
    return solver, check_cv(cv, X, Y, check_groups(groups, X.shape[0], cv))


def kfold(solver, splits, alphas, scoring, alpha_per_target, rule, refine, *,
          split_sse=None, refiner=None):
    """K-fold (any splitter) scored split by split: the pooled held-out errors of
    `split_sse(solver, splits, grid, scoring, folds)` (default :func:`_split_sse`), the
    selection and refit on all rows, and with `refine` the search off the grid with
    `refiner(solver, folds, weight, scale)` (default :class:`_FoldRefiner`)."""
    split_sse, refiner = split_sse or _split_sse, refiner or _FoldRefiner
    path = solver.ridge(solver.alpha_grid(alphas))  # the full-data fit, refit at the best alphas
    folds = [] if refine else None
    sse, sst, weight, score_se, scale = split_sse(solver, splits, path.grid, scoring, folds)
    result = solver.cv_result(path, sse / weight, scoring, alpha_per_target,
                              f"{len(splits)} splits", sst=None if sst is None else sst / weight,
                              rule=rule, score_se=score_se, scale=scale)
    if not refine:
        return result
    sst_unscaled = None if sst is None else sst / np.square(scale) / weight
    return solver.refine_result(result, refiner(solver, folds, weight, scale), scoring,
                                alpha_per_target, sst_unscaled)


def _split_sse(solver, splits, alphas, scoring, folds=None):
    """Pooled held-out SSE (m, k), TSS (k,) for 'r2', the total held-out weight, the
    standard errors over splits of the per-split scores: (m, k) and of their target mean
    (m,), and the per-target scale (k,) of the targets all of these are of (see
    ``_scores.target_scale``). `folds`, a list if given, receives each split's training
    spectrum and held-out rows for :class:`_FoldRefiner`."""
    X, Y, c = solver.given_data
    n, p = X.shape
    w = np.square(c.sw)
    mean = weighted_sum(w, Y) / c.sum_w if scoring == "r2" else None
    downdate = None
    if solver.requested_method in ("auto", "gram") and n >= p and \
            all(_partitions(train, test, n) for train, test in splits):
        downdate = _GramDowndate(X, Y, c, solver.spectrum_for(alphas)) if \
            solver.penalty_map is None else FoldDowndate(solver.penalty_map, Y.dtype)
    scale, _ = solver.target_scale(solver.spectrum_for(alphas))
    totals = _scores.SplitTotals(alphas.size, Y.shape[1], scoring, scale)
    for i, (train, test) in enumerate(splits):
        if not (w[train] > 0).any():
            raise ValueError(f"cv split {i}: every training sample has zero sample_weight.")
        Y_test = np.ascontiguousarray(Y[test])
        fold = None if downdate is None else downdate.fold(test, alphas) if \
            solver.penalty_map is not None else downdate.fold(test, Y_test, alphas)
        if fold is None:
            fold = _direct_fold(solver, train, test, alphas)
        B, spectrum, ym = fold[:3]
        Y_scored = fold[3] if len(fold) > 3 else Y_test  # targets less the unpenalized fit
        split_sse = _scores.held_out_sse(B, spectrum, spectrum.ridge(alphas), Y_scored, ym,
                                         c.sw[test], Y.dtype, scale)
        if folds is not None:
            folds.append((np.asarray(B, dtype=np.float64), spectrum, ym, c.sw[test], test,
                          None if Y_scored is Y_test else Y_scored))
        split_sst = _scores.total_sum_of_squares(Y_test, w[test], mean, scale) if \
            scoring == "r2" else None
        totals.add(split_sse, w[test].sum(), split_sst)
    return totals.sse, totals.sst, totals.weight, totals.standard_errors(), scale


class _FoldRefiner:
    """Pooled held-out mean squared error (k,) for one alpha per target, from the splits'
    training spectra: per split one (n_test x r) @ (r x k) product, in float64 (the targets
    multiplied by their power-of-two `scale` while the squares are summed)."""

    def __init__(self, solver, folds, weight, scale):
        self.folds, self.Y = folds, solver.given_data.Y
        self.weight, self.scale = weight, scale

    def __call__(self, alphas, idx=None):
        idx = np.arange(self.Y.shape[1]) if idx is None else idx
        scale = self.scale[idx]
        sse = np.zeros(idx.size)
        for B, spectrum, ym, sw, test, Y_scored in self.folds:
            g = spectrum.s[:, None] / (spectrum.lam[:, None] + alphas[None, :])
            Y_t = (self.Y[test] if Y_scored is None else Y_scored)[:, idx]
            resid = sw[:, None] * np.subtract(Y_t, ym[idx], dtype=np.float64)
            resid -= B @ (g * spectrum.R[:, idx])
            resid *= scale
            sse += np.einsum("ij,ij->j", resid, resid)
        return sse / np.square(scale) / self.weight


def _partitions(train, test, n):
    return train.size + test.size == n and \
        np.bincount(np.concatenate([train, test]), minlength=n).max() == 1


def _direct_fold(solver, train, test, alphas):
    """Decompose the training rows; return the held-out basis, spectrum and target means
    (and, with unpenalized columns, the held-out targets less their unpenalized fit)."""
    X, Y, c = solver.given_data
    w = np.square(c.sw)
    sub = RidgeSolver(X[train], Y[train], fit_intercept=solver.fit_intercept,
                      sample_weight=w[train], method=solver.requested_method,
                      penalty_factor=solver.penalty_factor)
    spectrum = sub.spectrum_for(alphas)
    sub_c = sub.data.centering
    if sub.penalty_map is None:
        return held_out_basis(X[test], c.sw[test], sub_c.xm, spectrum, solver.dtype), \
            spectrum, sub_c.ym
    B, offset = sub.penalty_map.held_out(X[test], c.sw[test], spectrum, solver.dtype)
    Y_scored = np.ascontiguousarray(Y[test] - offset, dtype=solver.dtype)
    return B, spectrum, sub_c.ym, Y_scored


class _GramDowndate:
    """Training-set Grams as the full Gram minus the held-out rows' Gram.

    The full-data ``G = Xc^T Xc = V diag(s^2) V^T`` and ``P = Xc^T Yc = V diag(s) R`` come
    from the full-data `spectrum` (exact up to rounding of order eps s_max^2): no pass over
    the data beyond the held-out rows.
    """

    def __init__(self, X, Y, centering, spectrum):
        self.X, self.Y, self.c = X, Y, centering
        self.design = make_design(X, centering)  # sw (X - global mean) / sqrt(penalty factors)
        V = spectrum.V
        self.G = np.empty((V.shape[0], V.shape[0]))
        _core.gemm(np.ascontiguousarray(V * spectrum.lam), V, self.G, trans_b=True)
        self.P = np.empty((V.shape[0], Y.shape[1]))
        _core.gemm(np.ascontiguousarray(V * spectrum.s), spectrum.R, self.P)
        # sum w (x - mean): 0 up to rounding
        self.s1 = self.design.rmatmul(centering.sw[:, None])[:, 0] if self.design.sparse \
            else weighted_sum(centering.sw, self.design.Xc)
        self.t1 = weighted_sum(np.square(centering.sw), Y, centering.ym)
        self.yc_sq = spectrum.yc_sq


    def fold(self, test, Y_test, alphas):
        """(held-out basis, training spectrum, training target means), or None if the
        training Gram is not accurate enough for the smallest alpha."""
        c = self.c
        n, p = self.X.shape
        sw_test = c.sw[test]
        Xs_test = self.design.rows(test)
        sum_w = c.sum_w - float(np.square(sw_test).sum())
        n_eff = c.n_effective - int(np.count_nonzero(sw_test))
        max_rank = min(n_eff - int(c.fit_intercept), p)
        if sum_w <= 0 or max_rank < 0:
            return None
        G = self.G - DenseDesign(Xs_test).gram(gram=True)
        P = self.P - project(Xs_test, Y_test, self.c.ym, sw_test)[0]
        shift = np.zeros(p)
        ym = c.ym.copy()
        if c.fit_intercept:
            s1 = self.s1 - weighted_sum(sw_test, Xs_test)
            G, P, _, t = recentre(s1, self.t1 - weighted_sum(np.square(sw_test), Y_test, c.ym),
                                  sum_w, G=G, XtY=P)
            shift = s1 / sum_w
            ym += t
        # the training ||Yc||^2 (about its own mean) is at most the full data's
        spectrum = gram_spectrum(np.asfortranarray(G), P, n - test.size, max_rank,
                                 yc_sq_bound=self.yc_sq)
        if not spectrum.accurate_for(alphas.min()):
            return None
        B = np.empty((test.size, spectrum.rank), dtype=self.Y.dtype)
        Xc = np.ascontiguousarray(Xs_test - sw_test[:, None] * shift, dtype=self.Y.dtype)
        _core.gemm(Xc, spectrum.cast("V", self.Y.dtype), B)
        return B, spectrum, ym


def fold_labels(cv, X, Y, groups, backend):
    """The test sets of `cv` as ``(K, bounds, labels)`` for a backend (named `backend` in
    errors) that scores every fold in one pass over the rows: the test sets must partition
    the samples. An int K without
    groups gives contiguous folds (scikit-learn's ``KFold(K)``) by their first rows
    ``bounds`` (K,) and ``labels=None``; otherwise ``labels`` (n,) holds each sample's fold
    and ``bounds=None``."""
    n = X.shape[0]
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool) and groups is None:
        if not 2 <= cv <= n:
            raise ValueError(f"cv={cv} folds must be between 2 and n_samples={n}.")
        sizes = np.full(cv, n // cv)
        sizes[:n % cv] += 1
        return int(cv), np.concatenate([[0], np.cumsum(sizes)[:-1]]), None
    splits = check_cv(cv, X, Y, groups)
    labels = np.full(n, -1, dtype=np.intp)
    for f, (train, test) in enumerate(splits):
        if (labels[test] >= 0).any() or train.size + test.size != n:
            raise ValueError(
                f"With {backend} arrays, cv splits must partition the samples: every sample in "
                "exactly one test set, each training set the rest (as KFold, GroupKFold or "
                f"StratifiedKFold); split {f} does not.")
        labels[test] = f
    if (labels < 0).any():
        raise ValueError(f"With {backend} arrays, cv splits must partition the samples: sample "
                         f"{int(np.flatnonzero(labels < 0)[0])} is in no test set.")
    return len(splits), None, labels


# The NumPy and scipy.sparse "backend" of cross_validate.
NUMPY = SimpleNamespace(Solver=RidgeSolver, cv_splits=cv_splits, kfold=kfold, criteria=True)
