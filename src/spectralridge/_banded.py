"""Banded (group) ridge: one alpha per feature group and per target.

The penalty ``sum_g (alpha / gamma_g) ||W_g||^2`` with group weights ``gamma`` on the simplex
is ridge with the penalty factors ``1 / gamma_g`` (himalaya's ``GroupRidgeCV`` scales group g
by ``sqrt(gamma_g)`` instead, the same model). For each candidate ``gamma`` (the centre of the
simplex, its corners and Dirichlet samples, as himalaya draws them), one decomposition of the
rescaled design (one per training set under K-fold) gives exact leave-one-out, GCV or K-fold
scores for every alpha and target; each target takes the best (candidate, alpha). A group of
weight 0 (below ``GAMMA_MIN`` times the largest) is left out, the limit of an infinite
penalty. Memory: the scores (n_candidates, n_alphas, n_targets) and one decomposition at a
time.

References
----------
Nunez-Elizalde, A. O., Huth, A. G., Gallant, J. L. (2019). Voxelwise encoding models with
non-spherical multivariate normal priors. NeuroImage 197, 482-492.
Dupre la Tour, T., Eickenberg, M., Nunez-Elizalde, A. O., Gallant, J. L. (2022). Feature-space
selection with banded ridge regression. NeuroImage 264, 119728.
"""

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from . import _banded_gram
from ._cv import ridge_cv
from ._scores import grid_edge_warnings
from ._solver import RidgeSolver
from ._validation import (check_alphas, check_bool, check_candidates, check_cv,
                          check_data, check_feature_groups, check_non_negative_int,
                          check_scoring, check_shapes, is_array_api_input, is_dask_input,
                          is_device_array)

# Group weights below this fraction of the largest are 0 (the group is left out): penalty
# factors may span at most 1e12 (see _validation.PENALTY_FACTOR_RATIO).
GAMMA_MIN = 1e-10


@dataclass(frozen=True)
class BandedResult:
    """Scores of every candidate group weighting and alpha, and the refit per target.

    Attributes
    ----------
    candidates : ndarray of shape (n_candidates, n_groups)
        Group weights ``gamma`` (each row on the simplex).
    alphas : ndarray of shape (n_alphas,)
    scores : ndarray of shape (n_candidates, n_alphas, n_targets)
        A 1-D `Y` drops the target axis here and below.
    best_candidate : ndarray of shape (n_targets,)
    best_alpha : ndarray of shape (n_targets,)
        The overall alpha; group g's is ``best_alpha / gamma_g``.
    group_alphas : ndarray of shape (n_groups, n_targets)
        ``alpha / gamma_g`` of the chosen candidate (inf for a left-out group).
    best_score : ndarray of shape (n_targets,)
    coef : ndarray of shape (n_features, n_targets)
    intercept : ndarray of shape (n_targets,)
    groups : list of ndarray, the column indices of each group
    cv : str
    scoring : str
    """

    candidates: np.ndarray
    alphas: np.ndarray
    scores: np.ndarray
    best_candidate: np.ndarray
    best_alpha: np.ndarray
    group_alphas: np.ndarray
    best_score: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    groups: list
    cv: str
    scoring: str


def _namespace(a):
    """NumPy for NumPy results, else the results' array namespace (array-api-compat's:
    torch, CuPy, array_api_strict, Dask)."""
    if isinstance(a, np.ndarray):
        return np
    import array_api_compat
    return array_api_compat.array_namespace(a)


def _like(xp, a, like):
    """Host array `a` in `like`'s namespace and on its device."""
    if xp is np:
        return np.asarray(a)
    import array_api_compat
    return xp.asarray(a, device=array_api_compat.device(like))


def _astype(xp, a, dtype):
    """`a` as `dtype` (NumPy before 2.0 has no ``np.astype``)."""
    return a.astype(dtype) if xp is np else xp.astype(a, dtype)


def _columns(X, cols, p):
    """The columns `cols` of X (NumPy, scipy.sparse, Dask or a device array)."""
    if cols.size == p:
        return X
    if is_device_array(X):
        import array_api_compat
        xp = array_api_compat.array_namespace(X)
        return xp.take(X, _like(xp, cols, X), axis=1)
    return X[:, cols]


def _expand(xp, coef, cols, p):
    """Coefficients (p, k) of all columns from those of the columns `cols` (zero
    elsewhere)."""
    if cols.size == p:
        return coef
    rows = np.full(p, cols.size)
    rows[cols] = np.arange(cols.size)
    padded = (np.concatenate if xp is np else xp.concat)([coef, xp.zeros_like(coef[:1, :])],
                                                         axis=0)
    return xp.take(padded, _like(xp, rows, coef), axis=0)


def dirichlet_candidates(n_groups, n_candidates, concentration=(0.1, 1.0), random_state=None):
    """Candidate group weights: the centre of the simplex, its corners, then `n_candidates`
    Dirichlet samples cycling through the `concentration` values (as himalaya's
    ``generate_dirichlet_samples``; reproducible with an int `random_state`).

    Returns
    -------
    ndarray of shape (1 + n_groups + n_candidates, n_groups)
    """
    rng = np.random.default_rng(random_state)
    concentration = np.atleast_1d(np.asarray(concentration, dtype=np.float64))
    if not (concentration > 0).all():
        raise ValueError(f"concentration must be positive, got {concentration.tolist()}.")
    fixed = [np.full((1, n_groups), 1.0 / n_groups), np.eye(n_groups)]
    if n_groups == 1:
        fixed = [np.ones((1, 1))]
    draws = [rng.dirichlet([concentration[i % concentration.size]] * n_groups)
             for i in range(n_candidates)] if n_groups > 1 else []
    return np.concatenate(fixed + ([np.array(draws)] if draws else []))


def banded_ridge_cv(X, Y, feature_groups, alphas=None, *, n_candidates=50,
                    concentration=(0.1, 1.0), candidates=None, cv="loo", scoring="mse",
                    fit_intercept=True, sample_weight=None, method="auto", random_state=None):
    """Banded ridge regression: the best group weights and alpha per target.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        NumPy, scipy.sparse, Dask or array-API (torch, CuPy, array_api_strict) data: each
        candidate goes through that backend's :func:`~spectralridge.ridge_cv`, and the
        result's per-target arrays are in the input's namespace (Dask: lazy).
    Y : array-like of shape (n_samples,) or (n_samples, n_targets)
    feature_groups : list of array-like of int, or array-like of shape (n_features,)
        The column indices of each group (together every column exactly once), or one group
        label per column (groups in sorted label order).
    alphas : array-like of shape (n_alphas,), default=None
        Overall alphas; group g is penalized by ``alpha / gamma_g``. None: the dof-spanning
        grid of the equal weighting, widened by one decade on each side.
    n_candidates : int, default=50
        Dirichlet samples besides the centre and the corners (ignored with `candidates`).
    concentration : float or sequence of float, default=(0.1, 1.0)
    candidates : array-like of shape (n_candidates, n_groups), default=None
        Group weights to try instead (non-negative, each row normalized to sum to 1).
    cv, scoring, fit_intercept, sample_weight, method
        As in :func:`~spectralridge.ridge_cv`; the splits are drawn once and shared by
        every candidate.
    random_state : int, numpy Generator or None, default=None

    Returns
    -------
    BandedResult

    Examples
    --------
    >>> import numpy as np
    >>> import spectralridge as sr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 6))
    >>> Y = np.c_[X[:, :3] @ [1.0, -1.0, 0.5], X[:, 3:] @ [1.0, 2.0, 0.5]]
    >>> Y += 0.5 * rng.standard_normal(Y.shape)
    >>> res = sr.banded_ridge_cv(X, Y, [[0, 1, 2], [3, 4, 5]], np.logspace(-2, 4, 13),
    ...                          n_candidates=20, random_state=0)
    >>> res.scores.shape                    # (candidates, alphas, targets)
    (23, 13, 2)
    >>> bool(res.group_alphas[1, 0] > 10 * res.group_alphas[0, 0])   # target 0: group 0
    True
    """
    scoring = check_scoring(scoring)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    in_memory = not (is_dask_input(X, Y, sample_weight) or is_array_api_input(X, Y))
    if in_memory:
        X, Y2, w, y_was_1d = check_data(X, Y, sample_weight)
    else:  # the backend validates the data in each ridge_cv; shapes here
        for name, a, ndims in (("X", X, (2,)), ("Y", Y, (1, 2))):
            if getattr(a, "ndim", None) not in ndims:
                raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in ndims)}, "
                                 f"got {type(a).__name__} of shape {getattr(a, 'shape', None)}.")
        Y2, y_was_1d = check_shapes(X, Y)
        w = sample_weight
    n, p = X.shape
    groups = check_feature_groups(feature_groups, p)
    if candidates is None:
        check_non_negative_int(n_candidates, "n_candidates")
        candidates = dirichlet_candidates(len(groups), int(n_candidates), concentration,
                                          random_state)
    else:
        candidates = check_candidates(candidates, len(groups))
    column_group = np.empty(p, dtype=np.intp)
    for g, cols in enumerate(groups):
        column_group[cols] = g
    if alphas is None:
        grid = RidgeSolver(X, Y2, fit_intercept=fit_intercept, sample_weight=w,
                           method=method).default_alphas()
        alphas = np.logspace(np.log10(grid[0]) - 1, np.log10(grid[-1]) + 1, grid.size)
    else:
        alphas = check_alphas(alphas)[0]
    named = isinstance(cv, str) and cv in ("loo", "gcv")
    splits = cv if named else check_cv(
        cv, X if in_memory or hasattr(cv, "split") else SimpleNamespace(shape=(n, p)),
        Y2 if in_memory or hasattr(cv, "split") else None, None)
    if in_memory and _banded_gram.applies(X, splits, method):
        scores, best_candidate, best_index, best_score, coef, intercept = \
            _banded_gram.fold_search(X, Y2, w, fit_intercept, method, splits, candidates,
                                     column_group, alphas, scoring, GAMMA_MIN)
        xp, best_alpha = np, alphas[best_index]
    else:
        scores, best_candidate, best_alpha, best_score, coef, intercept, xp = _search(
            X, Y2, w, fit_intercept, method, splits, candidates, column_group, alphas,
            scoring)
    chosen = xp.take(_like(xp, candidates, coef), best_candidate, axis=0).T
    keep = chosen > GAMMA_MIN * xp.max(chosen, axis=0)
    safe = xp.where(keep, chosen, xp.ones_like(chosen))
    group_alphas = xp.where(keep, _astype(xp, best_alpha, chosen.dtype) / safe,
                            xp.full_like(chosen, np.inf))
    if y_was_1d:
        scores, coef, group_alphas = scores[..., 0], coef[:, 0], group_alphas[:, 0]
        best_candidate, best_alpha = best_candidate[0], best_alpha[0]
        best_score, intercept = best_score[0], intercept[0]
        if in_memory:
            best_candidate, best_alpha = int(best_candidate), float(best_alpha)
    return BandedResult(candidates=candidates, alphas=alphas, scores=scores,
                          best_candidate=best_candidate, best_alpha=best_alpha,
                          group_alphas=group_alphas, best_score=best_score, coef=coef,
                          intercept=intercept, groups=groups,
                          cv=cv if named else f"{len(splits)} splits", scoring=scoring)


def _search(X, Y, w, fit_intercept, method, splits, candidates, column_group, alphas,
            scoring):
    """The search through :func:`~spectralridge.ridge_cv` of each candidate (any backend):
    scores, best candidate, alpha and score per target, the refit and the namespace."""
    p = X.shape[1]
    sign = -1.0 if scoring == "r2" else 1.0
    best = None  # per target: loss, candidate, alpha, score, coef, intercept
    scores = []
    for c, gamma in enumerate(candidates):
        kept = gamma > GAMMA_MIN * gamma.max()
        cols = np.flatnonzero(kept[column_group])
        with grid_edge_warnings(False):
            res = ridge_cv(_columns(X, cols, p), Y, alphas, cv=splits, scoring=scoring,
                           fit_intercept=fit_intercept, sample_weight=w, method=method,
                           penalty_factor=1.0 / gamma[column_group[cols]])
        xp = _namespace(res.coef)
        scores.append(res.scores)
        loss = sign * _astype(xp, res.best_score, xp.float64)
        entry = (loss, xp.full_like(res.best_index, c), res.best_alpha, res.best_score,
                 _expand(xp, res.coef, cols, p), res.intercept)
        if best is None:
            best = entry
            continue
        better = loss < best[0]
        best = tuple(xp.where(better, new, old) for new, old in zip(entry, best))
    _, best_candidate, best_alpha, best_score, coef, intercept = best
    return xp.stack(scores), best_candidate, best_alpha, best_score, coef, intercept, xp
