"""scikit-learn compatible :class:`KernelRidgeCV` and :class:`BandedRidgeCV` (scikit-learn is
optional)."""

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _array_api
from ._banded import banded_ridge_cv
from ._estimators import _RidgeBase
from ._kernel import KernelRidgeSolver, dask_kernel, kernel_matrix
from ._scores import grid_edge_warnings
from ._validation import (check_alphas, check_bool, check_groups, check_rule,
                          check_sample_weight, is_dask_input, is_device_array)

__all__ = ["BandedRidgeCV", "KernelRidgeCV"]

_SCORING = {None: None, "neg_mean_squared_error": ("mse", -1.0), "r2": ("r2", 1.0)}


def _count_positive(X, sample_weight):
    """Samples of positive weight (NumPy, Dask or device weights; None: all of X's rows)."""
    if sample_weight is None:
        return X.shape[0]
    if is_dask_input(sample_weight):
        return int((sample_weight > 0).sum().compute())
    return _array_api.count_positive(sample_weight)


class KernelRidgeCV(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Kernel ridge regression with the alpha(s) chosen by exact cross-validation.

    :class:`sklearn.kernel_ridge.KernelRidge` with a grid of alphas: one eigendecomposition
    of the (centred, weighted) training kernel gives the exact leave-one-out and GCV scores
    of every alpha and target, and K-fold takes one eigendecomposition per training kernel
    (see :class:`~spectralridge.KernelRidgeSolver`). scikit-learn's ``KernelRidge`` has no
    intercept; here ``fit_intercept=True`` (the default) adds an unpenalized one by centring
    the kernel, and ``fit_intercept=False`` is ``KernelRidge``'s model exactly.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=(0.1, 1.0, 10.0)
        Non-negative; None: 30 log-spaced alphas spanning the effective dof range.
    kernel : str or callable, default='linear'
    gamma, degree, coef0, kernel_params
        As :class:`sklearn.kernel_ridge.KernelRidge`.
    fit_intercept : bool, default=True
    cv : None, 'loo', 'gcv', int, splitter or iterable, default=None
        None or ``'loo'``: exact leave-one-out; ``'gcv'``: generalized cross-validation; an
        int K: K contiguous folds (``KFold(K)``); a splitter or (train, test) pairs.
    scoring : {None, 'neg_mean_squared_error', 'r2'}, default=None
        None: the mean squared error for leave-one-out and GCV (``best_score_`` is its
        negative, as :class:`~sklearn.linear_model.RidgeCV`), R^2 for K-fold.
    alpha_per_target : bool, default=False
        Choose an alpha for each target, or one alpha for all by the mean score.
    rule : {'min', '1se'}, default='min'
        ``'1se'`` (K-fold only): the most regularized alpha whose score is within one
        standard error (over the splits) of the best, as :func:`~spectralridge.ridge_cv`.

    Attributes
    ----------
    dual_coef_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        As ``KernelRidge.dual_coef_``, at the chosen alpha(s).
    intercept_ : float or ndarray of shape (n_targets,)
        0.0 when ``fit_intercept=False``.
    X_fit_ : the training data (the kernel for ``kernel='precomputed'``)
    alpha_ : float or ndarray of shape (n_targets,)
    best_score_ : float or ndarray of shape (n_targets,)
    cv_scores_ : ndarray of shape (n_alphas,) or (n_alphas, n_targets)
        Higher is better (negated mean squared errors for ``'mse'``).
    alphas_ : ndarray of shape (n_alphas,)
    dof_ : ndarray of shape (n_alphas,)
        Effective degrees of freedom of the full-data fit (without the intercept).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge import KernelRidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, (80, 2))
    >>> y = np.sin(X[:, 0]) * X[:, 1] + 0.1 * rng.standard_normal(80)
    >>> model = KernelRidgeCV(np.logspace(-4, 2, 13), kernel="rbf", gamma=0.5).fit(X, y)
    >>> model.dual_coef_.shape, model.cv_scores_.shape
    ((80,), (13,))
    >>> bool(model.score(X, y) > 0.95)
    True
    """

    def __init__(self, alphas=(0.1, 1.0, 10.0), *, kernel="linear", gamma=None, degree=3,
                 coef0=1, kernel_params=None, fit_intercept=True, cv=None, scoring=None,
                 alpha_per_target=False, rule="min"):
        self.alphas = alphas
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.alpha_per_target = alpha_per_target
        self.rule = rule

    def _precomputed(self):
        return isinstance(self.kernel, str) and self.kernel == "precomputed"

    def fit(self, X, y, sample_weight=None, **params):
        """Fit kernel ridge regression with the alpha(s) chosen by cross-validation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, n_samples) for
            ``kernel='precomputed'``
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None
        **params
            Only ``groups``, for a K-fold ``cv`` (as :class:`~spectralridge.RidgeCV`).

        Returns
        -------
        self : KernelRidgeCV
        """
        groups = params.pop("groups", None)
        if params:
            raise TypeError(f"KernelRidgeCV.fit got unexpected keyword arguments "
                            f"{sorted(params)}; only sample_weight and groups are supported.")
        if not (self.scoring is None or isinstance(self.scoring, str)) or \
                self.scoring not in _SCORING:
            raise ValueError("scoring must be None, 'neg_mean_squared_error' or 'r2', got "
                             f"{self.scoring!r}.")
        per_target = check_bool(self.alpha_per_target, "alpha_per_target")
        cv = self.cv
        mode = "loo" if cv is None or (isinstance(cv, str) and cv == "loo") else \
            "gcv" if isinstance(cv, str) and cv == "gcv" else "splits"
        if mode == "splits" and (isinstance(cv, str) or isinstance(cv, bool)):
            raise ValueError("cv must be None, 'loo', 'gcv', an int >= 2, a splitter or an "
                             f"iterable of (train, test) index arrays; got {cv!r}.")
        check_rule(self.rule, None if mode == "splits" else "loo" if cv is None else cv)
        device = _array_api.dispatching(X, y, sample_weight)
        if device:  # computed on the device, fitted attributes there (as RidgeCV's)
            X, Y, sample_weight, y_ndim = _array_api.validate_estimator_fit(self, X, y,
                                                                            sample_weight)
        elif is_dask_input(X, y, sample_weight):  # X stays lazy; the kernel from its blocks
            X, Y, y_ndim, sample_weight = self._validate_dask(X, y, sample_weight)
        else:
            X, y = validate_data(self, X, y, accept_sparse=not self._precomputed() and "csr",
                                 dtype=[np.float64, np.float32], multi_output=True,
                                 y_numeric=True)
            y_ndim = y.ndim
            Y = y.reshape(y.shape[0], -1).astype(X.dtype, copy=False)
            if sample_weight is not None:
                sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                     ensure_non_negative=True)
        groups = check_groups(groups, X.shape[0], cv)
        n_positive = _count_positive(X, sample_weight)
        if mode != "splits" and n_positive < 2:
            name = "Leave-one-out" if mode == "loo" else "Generalized"
            raise ValueError(f"{name} cross-validation needs at least 2 samples of positive "
                             f"weight, got n_samples={n_positive}.")
        alphas = None if self.alphas is None else check_alphas(self.alphas)[0]
        ours, sign = (("r2", 1.0) if mode == "splits" else ("mse", -1.0)) \
            if self.scoring is None else _SCORING[self.scoring]
        solver = KernelRidgeSolver(X, Y, kernel=self.kernel, gamma=self.gamma,
                                   degree=self.degree, coef0=self.coef0,
                                   kernel_params=self.kernel_params,
                                   fit_intercept=self.fit_intercept,
                                   sample_weight=sample_weight)
        with grid_edge_warnings(False):
            if mode == "splits":
                result = solver.cross_validate(alphas, cv=cv, scoring=ours,
                                               alpha_per_target=per_target, groups=groups,
                                               rule=self.rule)
            else:
                score = solver.loo if mode == "loo" else solver.gcv
                result = score(alphas, scoring=ours, alpha_per_target=per_target)
        result = _array_api.scores_to_host(result)  # device dual coefficients stay there
        table = sign * result.scores.astype(np.float64).reshape(result.alphas.size, -1)
        best = sign * np.atleast_1d(result.best_score).astype(np.float64)
        if self.scoring is None and mode != "splits" and sample_weight is not None:
            # scikit-learn's: mean of w_i e_i^2
            scale = _array_api.weight_total(sample_weight) / X.shape[0]
            table, best = table * scale, best * scale
        self.best_score_ = (best if y_ndim == 2 else best[0]) if per_target else best.mean()
        best_alpha = np.atleast_1d(result.best_alpha)
        self.alpha_ = best_alpha if per_target and Y.shape[1] > 1 else float(best_alpha[0])
        # Y is 2-D here: coefficients (n, k), intercepts (k,)
        self.dual_coef_ = result.coef if y_ndim == 2 else result.coef[:, 0]
        if not self.fit_intercept:
            self.intercept_ = 0.0
        else:
            self.intercept_ = result.intercept if y_ndim == 2 else result.intercept[0]
        self.cv_scores_ = table if y_ndim == 2 else table[:, 0]
        self.alphas_ = result.alphas
        self.dof_ = result.dof
        self.X_fit_ = X
        if device:
            _array_api.attributes_to_device(self, X, ("alpha_", "best_score_", "cv_scores_",
                                                      "alphas_", "dof_"))
        return self

    def _validate_dask(self, X, y, sample_weight):
        """Dask input: X checked lazily and kept (the kernel is formed from its row blocks),
        y and the weights computed into memory (the dual coefficients are n x k anyway)."""
        from .dask import check_dask_array
        X = check_dask_array(X, "X", (2,)) if is_dask_input(X) else \
            validate_data(self, X, dtype=[np.float64, np.float32])
        y = np.asarray(check_dask_array(y, "y", (1, 2)).compute() if is_dask_input(y) else y)
        if sample_weight is not None and is_dask_input(sample_weight):
            sample_weight = np.asarray(sample_weight.compute())
        if y.shape[0] != X.shape[0]:
            raise ValueError("X and y must have the same number of samples; got "
                             f"X.shape={X.shape} and y.shape={y.shape}.")
        self.n_features_in_ = X.shape[1]
        Y = np.asarray(y, dtype=X.dtype).reshape(y.shape[0], -1)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        return X, Y, y.ndim, sample_weight

    def predict(self, X):
        """Predictions ``k(X, X_fit_) dual_coef_ + intercept_``.

        Parameters
        ----------
        X : array-like or Dask array of shape (n_new, n_features), or (n_new,
            n_samples_fit) for ``kernel='precomputed'``

        Returns
        -------
        ndarray of shape (n_new,) or (n_new, n_targets)
            A lazy Dask array when `X` or the training data were Dask arrays (the cross
            kernel one task per pair of row blocks).
        """
        check_is_fitted(self)
        params = dict(kernel=self.kernel, gamma=self.gamma, degree=self.degree,
                      coef0=self.coef0, kernel_params=self.kernel_params)
        if _array_api.dispatching(X):
            from ._kernel_device import device_kernel
            X = _array_api.validate_estimator_predict(self, X)
            xp = _array_api.namespace(X, X)[0]
            K = device_kernel(xp, X, None if self._precomputed() else self.X_fit_,
                              self.kernel, self.gamma, self.degree, self.coef0,
                              self.dual_coef_.dtype)
            return K @ self.dual_coef_ + self.intercept_
        if is_dask_input(X, self.X_fit_):
            from .dask import check_dask_array
            X = check_dask_array(X, "X", (2,)) if is_dask_input(X) else \
                validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but KernelRidgeCV is "
                                 f"expecting {self.n_features_in_} features as input.")
            K = dask_kernel(X, None if self._precomputed() else self.X_fit_, **params)
        else:
            X = validate_data(self, X, accept_sparse=not self._precomputed() and "csr",
                              dtype=[np.float64, np.float32], reset=False)
            K = kernel_matrix(X, None if self._precomputed() else self.X_fit_, **params)
        out = K @ self.dual_coef_ + self.intercept_
        return out.astype(self.dual_coef_.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = not self._precomputed()
        tags.input_tags.pairwise = self._precomputed()
        return tags


class BandedRidgeCV(_RidgeBase):
    """Banded ridge regression: one alpha per feature group and per target, by CV.

    The penalty is ``sum_g alpha_g ||W_g||^2`` with ``alpha_g = alpha / gamma_g``; candidate
    group weights ``gamma`` (the centre of the simplex, its corners and Dirichlet samples)
    each take one decomposition of the rescaled design (one per training set for K-fold),
    scored for every alpha and target by exact leave-one-out, GCV or K-fold, and each target
    keeps its best (weights, alpha): see :func:`~spectralridge.banded_ridge_cv`. The
    per-group alphas are read directly from ``alphas_`` (himalaya's ``GroupRidgeCV`` reports
    ``deltas_ = log(gamma / alpha)`` instead; on the same candidates its K-fold scores equal
    these).

    Parameters
    ----------
    groups : list of array-like of int, or array-like of shape (n_features,)
        Column indices of each group, or one group label per column.
    alphas : array-like of shape (n_alphas,), default=None
        Overall alphas (None: a dof-spanning grid, see ``banded_ridge_cv``).
    n_candidates : int, default=50
        Dirichlet samples besides the centre and the corners.
    concentration : float or sequence of float, default=(0.1, 1.0)
    cv : None, 'loo', 'gcv', int, splitter or iterable, default=None
        None or ``'loo'``: exact leave-one-out (as :class:`~spectralridge.RidgeCV`).
    scoring : {None, 'neg_mean_squared_error', 'r2'}, default=None
        None: mean squared error for leave-one-out and GCV, R^2 for K-fold.
    fit_intercept : bool, default=True
    random_state : int, numpy Generator or None, default=None

    Attributes
    ----------
    coef_ : ndarray or Dask array of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    alphas_ : ndarray of shape (n_groups, n_targets)
        Per-group alphas of each target (inf: the group is left out). A 1-D `y` drops the
        target axis here and below.
    alpha_ : ndarray of shape (n_targets,)
        The overall alpha chosen per target.
    weights_ : ndarray of shape (n_groups, n_targets)
        The chosen group weights ``gamma`` (columns on the simplex).
    candidates_ : ndarray of shape (n_candidates, n_groups)
    cv_scores_ : ndarray of shape (n_candidates, n_alphas, n_targets)
        Higher is better (negated mean squared errors for ``'mse'``).
    best_score_ : ndarray of shape (n_targets,)
    groups_ : list of ndarray
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge import BandedRidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 20))
    >>> y = X[:, :10] @ rng.standard_normal(10) + rng.standard_normal(300)   # group 0 only
    >>> model = BandedRidgeCV(groups=[range(10), range(10, 20)], random_state=0).fit(X, y)
    >>> model.alphas_.shape                   # (n_groups,) for a 1-D y
    (2,)
    >>> bool(model.alphas_[1] > 100 * model.alphas_[0])
    True
    >>> model.score_split(X, y).shape   # per-group share of R^2: (n_groups, n_targets)
    (2, 1)
    """

    def __init__(self, groups=None, *, alphas=None, n_candidates=50,
                 concentration=(0.1, 1.0), cv=None, scoring=None, fit_intercept=True,
                 random_state=None):
        self.groups = groups
        self.alphas = alphas
        self.n_candidates = n_candidates
        self.concentration = concentration
        self.cv = cv
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Fit banded ridge with the group weights and alpha chosen per target.

        Parameters
        ----------
        X : array-like, scipy.sparse or Dask array of shape (n_samples, n_features)
        y : array-like or Dask array of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float, array-like or Dask array of shape (n_samples,), default=None
            With Dask input the selection is computed in one pass; ``coef_``,
            ``intercept_`` and predictions stay lazy Dask arrays.

        Returns
        -------
        self : BandedRidgeCV
        """
        if not (self.scoring is None or isinstance(self.scoring, str)) or \
                self.scoring not in _SCORING:
            raise ValueError("scoring must be None, 'neg_mean_squared_error' or 'r2', got "
                             f"{self.scoring!r}.")
        device = _array_api.dispatching(X, y, sample_weight)
        lazy = is_dask_input(X, y, sample_weight)
        X, Y, sample_weight, y_ndim = self._validate_fit(X, y, sample_weight)
        groups = [np.arange(X.shape[1])] if self.groups is None else self.groups
        cv = "loo" if self.cv is None else self.cv
        mode = cv if isinstance(cv, str) else "splits"
        n_positive = _count_positive(X, sample_weight)
        if mode != "splits" and n_positive < 2:
            raise ValueError(f"cv={cv!r} needs at least 2 samples of positive weight, got "
                             f"n_samples={n_positive}.")
        ours, sign = (("r2", 1.0) if mode == "splits" else ("mse", -1.0)) \
            if self.scoring is None else _SCORING[self.scoring]
        res = banded_ridge_cv(X, Y if y_ndim == 2 else Y[:, 0], groups, self.alphas,
                              n_candidates=self.n_candidates,
                              concentration=self.concentration, cv=cv, scoring=ours,
                              fit_intercept=check_bool(self.fit_intercept, "fit_intercept"),
                              sample_weight=sample_weight, random_state=self.random_state)
        names = ("scores", "best_candidate", "best_alpha", "group_alphas", "best_score")
        if lazy:  # the per-target selection in one pass; coef_ and intercept_ stay lazy
            import dask
            host = dict(zip(names, dask.compute(*(getattr(res, name) for name in names))))
        else:
            host = {name: _array_api.to_host(v) if is_device_array(v) else np.asarray(v)
                    for name, v in ((name, getattr(res, name)) for name in names)}
        if y_ndim == 2:
            self.coef_ = res.coef.T if device or lazy else np.ascontiguousarray(res.coef.T)
        else:
            self.coef_ = res.coef
        self.intercept_ = res.intercept if self.fit_intercept else 0.0
        self.alphas_ = host["group_alphas"]
        self.alpha_ = host["best_alpha"] if y_ndim == 2 else float(host["best_alpha"])
        self.weights_ = res.candidates[host["best_candidate"]].T
        self.candidates_ = res.candidates
        self.cv_scores_ = sign * host["scores"].astype(np.float64)
        self.best_score_ = sign * np.float64(host["best_score"]) if y_ndim == 1 else \
            sign * host["best_score"].astype(np.float64)
        self.groups_ = res.groups
        if device:
            _array_api.attributes_to_device(self, X, ("alphas_", "alpha_", "weights_",
                                                      "candidates_", "cv_scores_",
                                                      "best_score_"))
        return self

    def score_split(self, X, y):
        """Per-group share of R^2 (the product measure, himalaya's ``r2_score_split``).

        With the centred targets ``y_c`` and each group's centred prediction ``p_g``
        (intercept shared out by centring), ``R^2 = sum_g (2 p_g . y_c - p_g . p) /
        ||y_c||^2`` where ``p = sum_g p_g``; the shares sum to the R^2 of the predictions.

        Returns
        -------
        ndarray of shape (n_groups, n_targets)
        """
        check_is_fitted(self)
        if _array_api.dispatching(X, y):
            return self._device_score_split(_array_api.validate_estimator_predict(self, X), y)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          reset=False)
        Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
        coef = np.atleast_2d(self.coef_).astype(np.float64)  # (k, p)
        yc = Y - Y.mean(axis=0)
        parts = []
        for cols in self.groups_:
            p_g = np.asarray(X[:, cols] @ coef[:, cols].T, dtype=np.float64)
            parts.append(p_g - p_g.mean(axis=0))
        total = sum(parts)
        ss = np.einsum("ik,ik->k", yc, yc)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.array([(2 * np.einsum("ik,ik->k", p, yc) - np.einsum("ik,ik->k", p, total))
                             / ss for p in parts])

    def _device_score_split(self, X, y):
        """:meth:`score_split` in the namespace of device arrays, in X's dtype."""
        import array_api_compat
        xp = array_api_compat.array_namespace(X, y)
        device = array_api_compat.device(X)
        coef = xp.reshape(xp.astype(self.coef_, X.dtype), (-1, X.shape[1]))  # (k, p)
        Y = xp.reshape(xp.astype(y, X.dtype), (X.shape[0], -1))
        yc = Y - xp.mean(Y, axis=0)
        parts = []
        for cols in self.groups_:
            idx = xp.asarray(cols, device=device)
            p_g = xp.take(X, idx, axis=1) @ xp.matrix_transpose(xp.take(coef, idx, axis=1))
            parts.append(p_g - xp.mean(p_g, axis=0))
        total = sum(parts)
        ss = xp.sum(yc * yc, axis=0)
        return xp.stack([(2 * xp.sum(p * yc, axis=0) - xp.sum(p * total, axis=0)) / ss
                         for p in parts])
