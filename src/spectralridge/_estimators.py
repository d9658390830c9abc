"""scikit-learn compatible :class:`Ridge` and :class:`RidgeCV` (scikit-learn is optional).

Both estimators take the parameters of :class:`sklearn.linear_model.Ridge` and
:class:`sklearn.linear_model.RidgeCV`, with the same defaults, and set the same fitted
attributes with the same shapes and dtypes, so that replacing the import is enough. The
numerics are :class:`~spectralridge.RidgeSolver` and :func:`~spectralridge.ridge_cv`: one
decomposition serves every alpha, every target and (under K-fold) every fold's training set.
This module is the only one that imports scikit-learn; ``spectralridge.Ridge`` imports it
lazily, on first use.
"""


import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, check_cv
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._cv import ridge_cv
from ._solver import RidgeSolver
from ._validation import check_alphas, check_bool

__all__ = ["Ridge", "RidgeCV"]

# scikit-learn's Ridge solvers: all accepted, none changes the (exact) result. 'svd' asks for
# the SVD decomposition, every other value for the 'auto' rule of RidgeSolver.
_SOLVERS = ("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs")
# RidgeCV(gcv_mode=...) -> RidgeSolver(method=...); 'eigen' is resolved by shape in fit.
_GCV_MODES = {None: "auto", "auto": "auto", "svd": "svd", "eigen": "eigen"}
# scikit-learn scorer names computed by the fused kernels: name -> (ours, sign).
_FAST_SCORING = {"neg_mean_squared_error": ("mse", -1.0), "r2": ("r2", 1.0)}


def _as_sklearn_coef(coef, intercept, y_ndim, fit_intercept):
    """scikit-learn's shapes from (n_features, n_targets) and (n_targets,).

    ``coef_`` is (n_targets, n_features), raveled to (n_features,) for a single target (also
    for a 2-D y with one column, as scikit-learn does); ``intercept_`` is the float 0.0
    without intercept, a NumPy scalar for a 1-D y and (n_targets,) otherwise.
    """
    coef_ = np.ascontiguousarray(coef.T)
    if coef_.shape[0] == 1:
        coef_ = coef_[0]
    if not fit_intercept:
        intercept_ = 0.0
    elif y_ndim == 1:
        intercept_ = intercept[0]
    else:
        intercept_ = intercept
    return coef_, intercept_


class _IdentityRegressor(RegressorMixin, BaseEstimator):
    """Returns its input as predictions: lets a scorer score precomputed predictions."""

    def predict(self, predictions):
        return predictions


class _RidgeBase(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Input validation and prediction shared by Ridge and RidgeCV."""

    def _validate_fit(self, X, y, sample_weight):
        """X (float32 or float64), y as 2-D in X's dtype, float64 weights, y.ndim."""
        check_bool(self.fit_intercept, "fit_intercept")
        X, y = validate_data(self, X, y, accept_sparse=False, dtype=[np.float64, np.float32],
                             multi_output=True, y_numeric=True)
        y_ndim = y.ndim
        # scikit-learn's Ridge works in X's dtype: float32 X gives float32 coefficients.
        Y = y.reshape(y.shape[0], -1).astype(X.dtype, copy=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                 ensure_non_negative=True)
        return X, Y, sample_weight, y_ndim

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=False, dtype=[np.float64, np.float32],
                          reset=False)
        return X @ self.coef_.T + self.intercept_


class Ridge(_RidgeBase):
    """Ridge regression, a drop-in replacement for :class:`sklearn.linear_model.Ridge`.

    Minimizes ``sum_i w_i ||y_i - x_i^T W - b||^2 + alpha ||W||^2`` (intercept not
    penalized) exactly, from one spectral decomposition (see
    :class:`~spectralridge.RidgeSolver`); per-target alphas share that decomposition.

    Parameters
    ----------
    alpha : float or array-like of shape (n_targets,), default=1.0
        Non-negative regularization strength, or one per target. ``alpha = 0`` gives the
        minimum-norm least-squares solution.
    fit_intercept : bool, default=True
        Fit an unpenalized intercept.
    copy_X : bool, default=True
        Ignored: the input is never modified.
    max_iter : int, default=None
        Ignored (no iterative solver is used).
    tol : float, default=1e-4
        Ignored (the solution is exact).
    solver : {'auto', 'svd', 'cholesky', 'lsqr', 'sparse_cg', 'sag', 'saga', 'lbfgs'}, \
default='auto'
        ``'svd'`` decomposes the centred design by SVD; every other value uses the
        ``'auto'`` rule of :class:`~spectralridge.RidgeSolver` (eigen-decomposition of the
        smaller Gram matrix, SVD when accuracy requires it). ``'lbfgs'`` raises a
        ``ValueError``, as in scikit-learn, since it requires ``positive=True``.
    positive : bool, default=False
        Must be False: coefficients constrained to be positive are not supported (use
        :class:`sklearn.linear_model.Ridge` for them).
    random_state : int, RandomState instance or None, default=None
        Ignored (no randomness is involved).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Float32 when `X` is float32, else float64.
    intercept_ : float or ndarray of shape (n_targets,)
        0.0 when ``fit_intercept=False``.
    n_iter_ : None
        No iterations (as scikit-learn's direct solvers).
    solver_ : str
        The decomposition used: ``'svd'``, ``'gram'`` or ``'kernel'``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when `X` has feature names that are all strings.

    Notes
    -----
    Sparse `X` is not supported (convert it with ``.toarray()``). Sample weights must be
    non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge import Ridge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 3))
    >>> Y = X @ [[1.0, 0.0], [-2.0, 1.0], [0.5, 3.0]] + 1.0
    >>> model = Ridge(alpha=[0.0, 50.0]).fit(X, Y)   # one alpha per target
    >>> model.coef_.round(3)
    array([[ 1.   , -2.   ,  0.5  ],
           [ 0.164,  0.355,  1.224]])
    >>> model.predict(X[:2]).shape
    (2, 2)
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, copy_X=True, max_iter=None,
                 tol=1e-4, solver="auto", positive=False, random_state=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state

    def _check_params(self):
        if not isinstance(self.solver, str) or self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}, got {self.solver!r}.")
        if self.positive is not False and self.positive is not np.False_:
            if self.positive is True or self.positive is np.True_:
                raise ValueError(
                    "positive=True is not supported by spectralridge.Ridge (its closed form "
                    "has no positivity constraint); use sklearn.linear_model.Ridge("
                    "positive=True).")
            raise TypeError(f"positive must be True or False, got {self.positive!r}.")
        if self.solver == "lbfgs":
            raise ValueError("'lbfgs' solver can be used only when positive=True. Please "
                             "use another solver.")

    def _check_alpha(self, n_targets):
        """Alphas per target (n_targets,), or a float."""
        if np.ndim(self.alpha) == 0:
            return float(check_alphas(self.alpha, "alpha")[0][0])
        alphas = check_alphas(np.ravel(self.alpha), "alpha")[0]
        if alphas.size != n_targets:
            raise ValueError("Number of targets and number of penalties do not correspond: "
                             f"{alphas.size} != {n_targets}")
        return alphas

    def fit(self, X, y, sample_weight=None):
        """Fit ridge regression.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative weights (a float gives every sample that weight).

        Returns
        -------
        self : Ridge
        """
        self._check_params()
        X, Y, sample_weight, y_ndim = self._validate_fit(X, y, sample_weight)
        alpha = self._check_alpha(Y.shape[1])
        solver = RidgeSolver(X, Y, fit_intercept=self.fit_intercept,
                             sample_weight=sample_weight,
                             method="svd" if self.solver == "svd" else "auto")
        alphas = np.full(Y.shape[1], alpha) if np.ndim(alpha) == 0 else alpha
        coef, intercept = solver.per_target(alphas)
        self.coef_, self.intercept_ = _as_sklearn_coef(coef, intercept, y_ndim,
                                                       self.fit_intercept)
        self.n_iter_ = None
        self.solver_ = solver.method
        return self


class RidgeCV(_RidgeBase):
    """Cross-validated ridge regression, a drop-in replacement for
    :class:`sklearn.linear_model.RidgeCV`.

    Every alpha, every target and every fold share one decomposition per training set:
    exact leave-one-out (the default, as in scikit-learn), true generalized
    cross-validation (``cv='gcv'``), or K-fold / any splitter, where unlike scikit-learn no
    model is refitted per alpha and ``alpha_per_target=True`` is allowed.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), float or None, default=(0.1, 1.0, 10.0)
        Non-negative alphas to try (0 is allowed wherever the leave-one-out error is
        defined). None: 30 log-spaced alphas whose effective degrees of freedom span the
        whole range (0, rank) of the data.
    fit_intercept : bool, default=True
    scoring : str, callable or None, default=None
        None selects by the squared leave-one-out (or GCV) error, reported as its negative
        in ``best_score_`` as scikit-learn does, and by R^2 under K-fold (the estimator's
        ``score``, as scikit-learn's ``GridSearchCV``). ``'neg_mean_squared_error'`` and
        ``'r2'`` are computed by the fast kernels for every cv. Other scorer names and
        callables are supported for leave-one-out (scored on the exact leave-one-out
        predictions, as scikit-learn) and for K-fold (through ``GridSearchCV``, one fit per
        alpha and fold, without ``alpha_per_target``), not for ``cv='gcv'``.
    cv : None, 'gcv', int, splitter or iterable, default=None
        None (or ``'loo'``): efficient exact leave-one-out. ``'gcv'``: generalized
        cross-validation (Golub, Heath and Wahba), the rotation-invariant version of
        leave-one-out, from the spectrum alone. An int K: ``KFold(K)``. A scikit-learn
        splitter, or an iterable of (train, test) index arrays.
    gcv_mode : {'auto', 'svd', 'eigen'}, default=None
        Decomposition (for every cv): None or ``'auto'``: the ``'auto'`` rule of
        :class:`~spectralridge.RidgeSolver`; ``'svd'``: SVD of the centred design;
        ``'eigen'``: eigen-decomposition of the smaller Gram matrix.
    store_cv_results : bool, default=False
        Store the per-sample leave-one-out values in ``cv_results_`` (leave-one-out only).
        This forms an n_samples x n_targets x n_alphas array.
    alpha_per_target : bool, default=False
        Choose an alpha for each target separately (with every cv, unlike scikit-learn).

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_targets,)
        The chosen alpha, or one per target when ``alpha_per_target=True`` with 2 or more
        targets.
    best_score_ : float or ndarray of shape (n_targets,)
        The score at the chosen alpha, higher is better: per target when
        ``alpha_per_target=True`` and `y` is 2-D, else averaged over targets. With
        ``scoring=None`` under leave-one-out or GCV it is ``-sum_i w_i e_i^2 / n_samples``
        (scikit-learn's convention: the negative mean squared error without weights).
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    cv_results_ : ndarray of shape (n_samples, n_alphas) or (n_samples, n_targets, n_alphas)
        Only with ``store_cv_results=True``: ``w_i e_i^2``, the (weighted) squared
        leave-one-out errors, when ``scoring=None``; the leave-one-out predictions
        otherwise (as scikit-learn).
    cv_scores_ : ndarray of shape (n_alphas,) or (n_alphas, n_targets)
        The score of every alpha (and target, for a 2-D `y`), on the scale of
        ``best_score_``. (n_alphas,) also for a scorer from the slow paths that scores all
        targets at once.
    dof_ : ndarray of shape (n_alphas,)
        Effective degrees of freedom of the full-data fit at each alpha (without the
        intercept).
    alphas_ : ndarray of shape (n_alphas,)
        The alphas tried (the data-adaptive grid when ``alphas=None``).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when `X` has feature names that are all strings.

    Warns
    -----
    GridEdgeWarning
        When a chosen alpha is on an edge of the grid that is not already saturated (the
        optimum may lie outside the grid).

    Notes
    -----
    Differences from scikit-learn, all deliberate:

    - Under K-fold with the fast scorings, held-out errors are pooled over all held-out
      samples (R^2 is ``1 - SSE / TSS`` over them) instead of averaging per-fold scores,
      and sample weights weight the held-out errors too (scikit-learn's ``GridSearchCV``
      scores without them).
    - ``alphas`` may contain 0 and be None; sparse `X` is not supported.

    References
    ----------
    Golub, G. H., Heath, M., Wahba, G. (1979). Generalized cross-validation as a method for
    choosing a good ridge parameter. Technometrics 21(2), 215-223.

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge import RidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 10))
    >>> Y = X @ rng.standard_normal((10, 2)) + rng.standard_normal((100, 2)) * [0.1, 10.0]
    >>> model = RidgeCV(alphas=np.logspace(-3, 4, 15), cv=5, alpha_per_target=True)
    >>> model.fit(X, Y).coef_.shape
    (2, 10)
    >>> bool(model.alpha_[0] < model.alpha_[1])   # noisier target, more shrinkage
    True
    >>> model.cv_scores_.shape                     # (n_alphas, n_targets)
    (15, 2)
    """

    def __init__(self, alphas=(0.1, 1.0, 10.0), *, fit_intercept=True, scoring=None, cv=None,
                 gcv_mode=None, store_cv_results=False, alpha_per_target=False):
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.cv = cv
        self.gcv_mode = gcv_mode
        self.store_cv_results = store_cv_results
        self.alpha_per_target = alpha_per_target

    def _cv_mode(self):
        cv = self.cv
        if cv is None or (isinstance(cv, str) and cv == "loo"):
            return "loo", None
        if isinstance(cv, str) and cv == "gcv":
            return "gcv", None
        if isinstance(cv, str) or isinstance(cv, bool):
            raise ValueError("cv must be None, 'loo', 'gcv', an int >= 2, a splitter or an "
                             f"iterable of (train, test) index arrays; got {cv!r}.")
        return "splits", check_cv(cv, classifier=False)

    def _method(self, X):
        if not (self.gcv_mode is None or isinstance(self.gcv_mode, str)) or \
                self.gcv_mode not in _GCV_MODES:
            raise ValueError("gcv_mode must be None, 'auto', 'svd' or 'eigen', got "
                             f"{self.gcv_mode!r}.")
        method = _GCV_MODES[self.gcv_mode]
        if method == "eigen":
            method = "gram" if X.shape[0] > X.shape[1] else "kernel"
        return method

    def fit(self, X, y, sample_weight=None, **params):
        """Fit ridge regression with the alpha(s) chosen by cross-validation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative weights; they weight the fit and the validation errors.
        **params
            Only ``groups`` (array-like of shape (n_samples,)), passed to the splitter's
            ``split`` (e.g. for ``GroupKFold``).

        Returns
        -------
        self : RidgeCV
        """
        groups = params.pop("groups", None)
        if params:
            raise TypeError(f"RidgeCV.fit got unexpected keyword arguments {sorted(params)}; "
                            "only sample_weight and groups are supported.")
        mode, splitter = self._cv_mode()
        store = check_bool(self.store_cv_results, "store_cv_results")
        per_target = check_bool(self.alpha_per_target, "alpha_per_target")
        if store and mode != "loo":
            raise ValueError("store_cv_results=True requires leave-one-out (cv=None); got "
                             f"cv={self.cv!r}.")
        fast = self.scoring is None or (isinstance(self.scoring, str)
                                        and self.scoring in _FAST_SCORING)
        scorer = None if fast else check_scoring(self, scoring=self.scoring)
        if scorer is not None and mode == "gcv":
            raise ValueError("cv='gcv' supports scoring=None, 'r2' or "
                             f"'neg_mean_squared_error'; got scoring={self.scoring!r}.")
        if scorer is not None and mode == "splits" and per_target:
            raise ValueError("alpha_per_target=True with a K-fold cv supports scoring=None, "
                             f"'r2' or 'neg_mean_squared_error'; got scoring={self.scoring!r}.")
        X, Y, sample_weight, y_ndim = self._validate_fit(X, y, sample_weight)
        alphas = None if self.alphas is None else check_alphas(self.alphas)[0]
        method = self._method(X)
        n_positive = X.shape[0] if sample_weight is None else np.count_nonzero(sample_weight)
        if mode != "splits" and self.fit_intercept and n_positive < 2:
            name = "Leave-one-out" if mode == "loo" else "Generalized"
            raise ValueError(f"{name} cross-validation with fit_intercept=True needs at least "
                             f"2 samples of positive weight, got n_samples={n_positive}.")
        kwargs = dict(fit_intercept=self.fit_intercept, sample_weight=sample_weight,
                      method=method)

        if scorer is not None:
            return self._fit_slow(X, Y, y_ndim, alphas, mode, splitter, scorer, per_target,
                                  store, groups, kwargs)

        solver = RidgeSolver(X, Y, **kwargs) if mode != "splits" else None
        if self.scoring is None:
            ours, sign = ("r2", 1.0) if mode == "splits" else ("mse", -1.0)
        else:
            ours, sign = _FAST_SCORING[self.scoring]
        if mode == "splits":
            result = ridge_cv(X, Y, alphas, cv=splitter, alpha_per_target=per_target,
                              scoring=ours, groups=groups, **kwargs)
        else:
            score = solver.loo if mode == "loo" else solver.gcv
            result = score(alphas, scoring=ours, alpha_per_target=per_target)
        table = sign * result.scores.astype(np.float64)
        if self.scoring is None and mode != "splits" and sample_weight is not None:
            # scikit-learn's scale: the mean over samples of w_i e_i^2
            table *= sample_weight.sum() / X.shape[0]
        self._set_results(result.alphas, table, np.atleast_1d(result.best_index), result.coef,
                          result.intercept, result.dof, y_ndim, per_target)
        if store:
            errors = solver.loo_errors(result.alphas)
            if self.scoring is None:  # scikit-learn's w_i e_i^2
                values = np.square(errors, out=errors)
                if sample_weight is not None:
                    values *= sample_weight[:, None]
            else:  # the predictions
                values = np.subtract(Y, errors, out=errors)
            self.cv_results_ = self._cv_results_shape(values, y_ndim, X.dtype)
        return self

    def _set_results(self, alphas, table, best_index, coef, intercept, dof, y_ndim,
                     per_target, joint=False):
        """Fitted attributes from a score table (higher is better) of shape
        (n_alphas, n_targets), or (n_alphas, 1) for a `joint` score of all targets."""
        cols = np.arange(table.shape[1])
        if per_target and not joint:
            best = table[best_index, cols]
            self.best_score_ = best if y_ndim == 2 else best[0]
        else:
            self.best_score_ = table[best_index[0]].mean()
        if per_target and table.shape[1] > 1:
            self.alpha_ = alphas[best_index]
        else:
            self.alpha_ = float(alphas[best_index[0]])
        self.coef_, self.intercept_ = _as_sklearn_coef(coef, intercept, y_ndim,
                                                       self.fit_intercept)
        self.cv_scores_ = table if y_ndim == 2 and not joint else table[:, 0]
        self.dof_ = dof
        self.alphas_ = alphas

    @staticmethod
    def _cv_results_shape(values, y_ndim, dtype):
        """(n_alphas, n_samples, n_targets) -> (n_samples[, n_targets], n_alphas)."""
        out = np.moveaxis(values, 0, -1)
        if y_ndim == 1:
            out = out[:, 0, :]
        return np.ascontiguousarray(out, dtype=dtype)

    def _fit_slow(self, X, Y, y_ndim, alphas, mode, splitter, scorer, per_target, store,
                  groups, kwargs):
        """A scorer that needs predictions: leave-one-out predictions, or GridSearchCV."""
        sample_weight = kwargs["sample_weight"]
        solver = RidgeSolver(X, Y, **kwargs)
        if alphas is None:
            alphas = solver.default_alphas()
        score_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        y_true = Y if y_ndim == 2 else Y[:, 0]
        predictions = None
        if mode == "loo":
            predictions = np.subtract(Y, solver.loo_errors(alphas))
            identity = _IdentityRegressor()
            joint = not (per_target and y_ndim == 2)
            if not joint:
                table = np.array([[scorer(identity, p[:, j], Y[:, j], **score_params)
                                   for j in range(Y.shape[1])] for p in predictions])
            else:
                table = np.array([scorer(identity, p if y_ndim == 2 else p[:, 0], y_true,
                                         **score_params) for p in predictions])[:, None]
        else:
            search = GridSearchCV(
                Ridge(fit_intercept=self.fit_intercept,
                      solver="svd" if kwargs["method"] == "svd" else "auto"),
                {"alpha": alphas}, scoring=scorer, cv=splitter, refit=False)
            fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
            if groups is not None:
                fit_params["groups"] = groups
            search.fit(X, y_true, **fit_params)
            joint = True
            table = search.cv_results_["mean_test_score"][:, None]
        table = np.asarray(table, dtype=np.float64)
        best_index = np.argmax(table, axis=0)
        coef, intercept = solver.per_target(alphas[np.broadcast_to(best_index, (Y.shape[1],))])
        self._set_results(alphas, table, best_index, coef, intercept, solver.dof(alphas),
                          y_ndim, per_target, joint=joint)
        if store:
            self.cv_results_ = self._cv_results_shape(predictions, y_ndim, X.dtype)
        return self

