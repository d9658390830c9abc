"""scikit-learn compatible :class:`Ridge` and :class:`RidgeCV` (scikit-learn is optional).

Both estimators take the parameters of :class:`sklearn.linear_model.Ridge` and
:class:`sklearn.linear_model.RidgeCV`, with the same defaults, and set the same fitted
attributes with the same shapes and dtypes, so that replacing the import is enough. The
numerics are :class:`~spectralridge.RidgeSolver` and :func:`~spectralridge.ridge_cv`: one
decomposition serves every alpha, every target and (under K-fold) every fold's training set.
This module is the only one that imports scikit-learn; ``spectralridge.Ridge`` imports it
lazily, on first use.

Dask arrays (for `X`, `y` or `sample_weight`, alone or mixed with NumPy) go to
:class:`~spectralridge.dask.DaskRidgeSolver` and :func:`~spectralridge.dask.dask_ridge_cv`
without being converted: the fitted attributes indexed by target are then Dask arrays, and
fit computes only what those functions compute (the decomposition of `X`).
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, check_cv
from sklearn.utils.validation import (_check_feature_names, _check_n_features,
                                      _check_sample_weight, check_is_fitted, validate_data)

from . import _array_api
from ._cv import ridge_cv
from ._positive import positive_ridge
from ._scores import at_grid_edge, grid_edge_warnings
from ._solver import RidgeSolver
from ._validation import as_array, check_alphas, check_bool
from ._validation import check_cv as check_splits  # not scikit-learn's check_cv
from ._validation import (CRITERIA, check_criterion_options, check_groups,
                          check_penalty_factor, check_positive_flag,
                          check_sample_weight, check_shapes, is_sparse,
                          refuse_sparse_with_dask)
from ._backends import is_dask_input

__all__ = ["Ridge", "RidgeCV"]

# scikit-learn's Ridge solvers: all accepted, none changes the (exact) result. 'svd' asks for
# the SVD decomposition, every other value for the 'auto' rule of RidgeSolver.
_SOLVERS = ("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs")
# Sparse formats used as given (scikit-learn's Ridge list); others are converted to CSR.
_ACCEPT_SPARSE = ["csr", "csc", "coo"]
# RidgeCV(gcv_mode=...) -> RidgeSolver(method=...); 'eigen' is resolved by shape in fit.
_GCV_MODES = {None: "auto", "auto": "auto", "svd": "svd", "eigen": "eigen"}
# scikit-learn scorer names computed by the fused kernels: name -> (ours, sign).
_FAST_SCORING = {"neg_mean_squared_error": ("mse", -1.0), "r2": ("r2", 1.0)}


def _as_sklearn_coef(coef, intercept, y_ndim, fit_intercept):
    """scikit-learn's shapes from (n_features, n_targets) and (n_targets,).

    ``coef_`` is (n_targets, n_features), raveled to (n_features,) for a single target (also
    for a 2-D y with one column, as scikit-learn does); ``intercept_`` is the float 0.0
    without intercept, a NumPy scalar for a 1-D y and (n_targets,) otherwise. Dask arrays
    stay Dask arrays (a 0-d one for the intercept of a 1-D y).
    """
    coef_ = coef.T if is_dask_input(coef) or _array_api.is_array_api_input(coef) else \
        np.ascontiguousarray(coef.T)
    if coef_.shape[0] == 1:
        coef_ = coef_[0, ...]
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
        if is_sparse(y):  # scikit-learn's validate_data accepts it with multi_output=True
            raise TypeError("Sparse data was passed for y, but dense data is required. Use "
                            "'.toarray()' to convert to a dense numpy array.")
        if is_dask_input(X, y, sample_weight):
            return self._validate_dask_fit(X, y, sample_weight)
        if _array_api.dispatching(X, y, sample_weight):  # fitted attributes in X's namespace
            return _array_api.validate_estimator_fit(self, X, y, sample_weight)
        X, y = validate_data(self, X, y, accept_sparse=_ACCEPT_SPARSE,
                             dtype=[np.float64, np.float32], multi_output=True,
                             y_numeric=True)
        y_ndim = y.ndim
        # scikit-learn's Ridge works in X's dtype: float32 X gives float32 coefficients.
        Y = y.reshape(y.shape[0], -1).astype(X.dtype, copy=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                 ensure_non_negative=True)
        return X, Y, sample_weight, y_ndim

    def _validate_dask_fit(self, X, y, sample_weight):
        """The same for Dask input, left to spectralridge.dask, which validates lazily.

        Dask arrays are checked here (dtype, ndim, shapes, known chunks) only to name the
        estimator's arguments in errors, and passed on as given: the solver adds its own lazy
        checks (NaN, negative weights). NumPy parts of mixed input are validated now. Returns
        X, Y (2-D; X's working dtype, as the NumPy path), the weights and y.ndim.
        """
        from .dask import check_dask_array
        refuse_sparse_with_dask(X, y, sample_weight)
        x_dask, y_dask = is_dask_input(X), is_dask_input(y)
        X_checked = check_dask_array(X, "X", (2,)) if x_dask else as_array(X, "X", ndims=(2,))
        y_checked = check_dask_array(y, "y", (1, 2)) if y_dask else \
            as_array(y, "y", ndims=(1, 2))
        if X_checked.shape[0] != y_checked.shape[0]:
            raise ValueError("X and y must have the same number of samples; got "
                             f"X.shape={X_checked.shape} and y.shape={y_checked.shape}.")
        check_shapes(X_checked, y_checked)
        _check_feature_names(self, X_checked, reset=True)  # none: drops those of a past fit
        _check_n_features(self, X_checked, reset=True)
        if not x_dask:
            X = X_checked
        dtype = X_checked.dtype  # float32 or float64, as validate_data gives
        y_ndim = y_checked.ndim
        Y = y if y_dask else y_checked
        if y_ndim == 1:
            Y = Y[:, None]
        if Y.dtype != dtype:  # scikit-learn's Ridge works in X's dtype
            Y = Y.astype(dtype)
        if sample_weight is not None and not is_dask_input(sample_weight):
            sample_weight = check_sample_weight(sample_weight, X_checked.shape[0])
        return X, Y, sample_weight, y_ndim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : array-like, scipy.sparse matrix or dask array of shape (n_samples, n_features)

        Returns
        -------
        ndarray or dask array of shape (n_samples,) or (n_samples, n_targets)
            A lazy Dask array when `X` is a Dask array or the model was fitted on Dask input
            (``coef_`` is then a Dask array); an ndarray otherwise.
        """
        check_is_fitted(self)
        if is_dask_input(X):
            from .dask import check_dask_array
            X = check_dask_array(X, "X", (2,))
            _check_feature_names(self, X, reset=False)
            _check_n_features(self, X, reset=False)
            if X.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a "
                                 "minimum of 1 is required.")
        elif _array_api.dispatching(X):
            X = _array_api.validate_estimator_predict(self, X)
            return _array_api.linear_predict(X, self.coef_, self.intercept_)
        else:
            X = validate_data(self, X, accept_sparse=_ACCEPT_SPARSE,
                              dtype=[np.float64, np.float32], reset=False)
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
        ``ValueError`` without ``positive=True``, as in scikit-learn; with it, only
        ``'auto'`` and ``'lbfgs'`` are accepted (scikit-learn's rule), both meaning the
        NNLS solve below.
    positive : bool, default=False
        Constrain the coefficients to be non-negative (the intercept is not). Not spectral:
        one bound-constrained solve per distinct alpha, an exact active-set NNLS (Lawson and
        Hanson) on the factorized normal equations ``Xc^T Xc + alpha diag(c)``, where
        scikit-learn stops L-BFGS-B at ``tol`` (see :mod:`spectralridge._positive`).
        NumPy or scipy.sparse input (not Dask).
    random_state : int, RandomState instance or None, default=None
        Ignored (no randomness is involved).
    penalty_factor : array-like of shape (n_features,), default=None
        Non-negative per-feature factors ``c_j`` of the penalty ``alpha sum_j c_j W_j^2`` (as
        glmnet's ``penalty.factor``, used as given; 0: an unpenalized feature);
        see :class:`~spectralridge.RidgeSolver`. Not with Dask input.

    Attributes
    ----------
    coef_ : ndarray or dask array of shape (n_features,) or (n_targets, n_features)
        Float32 when `X` is float32, else float64. A lazy Dask array after a fit on Dask
        input (see Notes).
    intercept_ : float, ndarray or dask array of shape (n_targets,)
        0.0 when ``fit_intercept=False``; a Dask array (0-d for a 1-D `y`) after a fit on
        Dask input.
    n_iter_ : None
        No iterations (as scikit-learn's direct solvers).
    solver_ : str
        The decomposition used: ``'svd'``, ``'gram'`` or ``'kernel'``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when `X` has feature names that are all strings.

    Notes
    -----
    Sparse `X` (scipy.sparse matrices and arrays, never densified; see the README's "Sparse
    X") is supported with every ``solver``, including ``'svd'`` (an exact SVD route,
    where scikit-learn refuses sparse input). Sample weights must be non-negative.

    Dask input: when `X`, `y` or `sample_weight` is a Dask array, the fit is
    :meth:`DaskRidgeSolver.per_target <spectralridge.dask.DaskRidgeSolver.per_target>`
    (:class:`~spectralridge.dask.DaskRidgeSolver`), which computes the small factors of `X`
    in its passes over the data; ``coef_`` and ``intercept_`` stay lazy Dask arrays, chunked by
    blocks of targets (compute them together: ``dask.compute(model.coef_,
    model.intercept_)``), and errors that need the data (NaN, negative weights) are raised
    when they are computed. ``predict`` then returns a lazy Dask array, for Dask or NumPy `X`.
    ``feature_names_in_`` is not set.

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
                 tol=1e-4, solver="auto", positive=False, random_state=None,
                 penalty_factor=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state
        self.penalty_factor = penalty_factor

    def _check_params(self):
        if not isinstance(self.solver, str) or self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}, got {self.solver!r}.")
        positive = check_positive_flag(self.positive)
        if positive:
            if self.solver not in ("auto", "lbfgs"):
                raise ValueError(f"solver='{self.solver}' does not support positive fitting. "
                                 "Please set the solver to 'auto' or 'lbfgs', or set "
                                 "`positive=False`")
            return
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
        X : array-like or dask array of shape (n_samples, n_features)
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float, array-like or dask array of shape (n_samples,), default=None
            Non-negative weights (a float gives every sample that weight).

        Returns
        -------
        self : Ridge
        """
        self._check_params()
        X, Y, sample_weight, y_ndim = self._validate_fit(X, y, sample_weight)
        alpha = self._check_alpha(Y.shape[1])
        if check_positive_flag(self.positive):
            return self._fit_positive(X, Y, sample_weight, y_ndim, alpha)
        solver = RidgeSolver(X, Y, fit_intercept=self.fit_intercept,
                             sample_weight=sample_weight,
                             method="svd" if self.solver == "svd" else "auto",
                             penalty_factor=self.penalty_factor)
        alphas = np.full(Y.shape[1], alpha) if np.ndim(alpha) == 0 else alpha
        coef, intercept = solver.per_target(alphas)
        self.coef_, self.intercept_ = _as_sklearn_coef(coef, intercept, y_ndim,
                                                       self.fit_intercept)
        self.n_iter_ = None
        self.solver_ = solver.method
        return self

    def _fit_positive(self, X, Y, sample_weight, y_ndim, alpha):
        if is_dask_input(X, Y, sample_weight):
            raise ValueError("positive=True needs NumPy or scipy.sparse input; got Dask "
                             "arrays (the bound-constrained solve is not distributed).")
        factor = check_penalty_factor(self.penalty_factor, X.shape[1])
        alphas = np.full(Y.shape[1], alpha) if np.ndim(alpha) == 0 else alpha
        coef, intercept = positive_ridge(X, np.ascontiguousarray(Y), alphas, fit_intercept=self.fit_intercept,
                                         sample_weight=sample_weight, penalty_factor=factor)
        self.coef_, self.intercept_ = _as_sklearn_coef(coef, intercept, y_ndim,
                                                       self.fit_intercept)
        self.n_iter_ = None
        self.solver_ = "nnls"
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
        ``'evidence'``, ``'lcurve'``, ``'discrepancy'`` or ``'quasi'``: the maximum of the
        marginal likelihood, the L-curve corner, the discrepancy principle (needs
        `noise_level`) or quasi-optimality (see :func:`~spectralridge.ridge_cv`), with
        ``scoring=None`` only; ``cv_scores_`` and ``best_score_`` are then the criterion's
        own values (log evidence and curvature: higher is better; quasi-optimality: its
        negative; discrepancy: ``||r||^2 / (N sigma^2)``, 1 at the choice). Not with Dask
        input.
    gcv_mode : {'auto', 'svd', 'eigen'}, default=None
        Decomposition (for every cv): None or ``'auto'``: the ``'auto'`` rule of
        :class:`~spectralridge.RidgeSolver`; ``'svd'``: SVD of the centred design;
        ``'eigen'``: eigen-decomposition of the smaller Gram matrix.
    store_cv_results : bool, default=False
        Store the per-sample leave-one-out values in ``cv_results_`` (leave-one-out only).
        This forms an n_samples x n_targets x n_alphas array.
    alpha_per_target : bool, default=False
        Choose an alpha for each target separately (with every cv, unlike scikit-learn).
    penalty_factor : array-like of shape (n_features,), default=None
        Non-negative per-feature factors ``c_j`` of the penalty ``alpha sum_j c_j W_j^2`` (as
        glmnet's ``penalty.factor``, used as given; 0: an unpenalized feature);
        see :class:`~spectralridge.RidgeSolver`. Not with Dask input.
    noise_level : float or array-like of shape (n_targets,), default=None
        The noise standard deviation for ``cv='discrepancy'`` (required) or
        ``cv='evidence'`` (optional: a known noise variance ``noise_level ** 2``).
    refine : bool, default=False
        Refine each chosen alpha off the grid (``cv`` None / ``'loo'``, ``'gcv'``,
        ``'evidence'``, ``'lcurve'``, ``'quasi'``, K-fold; see :func:`~spectralridge.ridge_cv`);
        ``alpha_`` may then lie between the grid values. Fast scorings only, not with Dask
        input.

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_targets,)
        The chosen alpha, or one per target when ``alpha_per_target=True`` with 2 or more
        targets. After a fit on Dask input, this and the other attributes indexed by target
        (``best_score_``, ``coef_``, ``intercept_``, ``cv_scores_``, ``cv_results_``,
        ``alpha_at_edge_``) are lazy Dask arrays of the same shapes (0-d for a float);
        ``dof_`` and ``alphas_`` are ndarrays. See Notes.
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
    alpha_at_edge_ : bool or ndarray of shape (n_targets,)
        Whether the chosen alpha (per target, shaped as ``alpha_``) is on an edge of the grid
        that is not already saturated (nearly full rank or zero dof there): the optimum may
        lie outside the grid. A lazy Dask array after a fit on Dask input.

    Notes
    -----
    Differences from scikit-learn, all deliberate:

    - ``fit`` emits no :class:`~spectralridge.GridEdgeWarning`, unlike
      :func:`~spectralridge.ridge_cv` and ``RidgeSolver.loo`` / ``.gcv``: scikit-learn's
      ``RidgeCV`` does not warn, and inside ``cross_val_score`` or a grid search the warning
      would fire once per fold and break code run with warnings as errors. The same
      information is in ``alpha_at_edge_``.
    - float32 `X` gives float32 ``coef_``, ``intercept_`` and predictions whatever the
      ``cv`` (as scikit-learn 1.9 does; some earlier releases returned float64).
    - With ``groups``, an int ``cv`` is group K-fold (see ``fit``).
    - Under K-fold with the fast scorings, held-out errors are pooled over all held-out
      samples (R^2 is ``1 - SSE / TSS`` over them) instead of averaging per-fold scores,
      and sample weights weight the held-out errors too (scikit-learn's ``GridSearchCV``
      scores without them).
    - ``alphas`` may contain 0 and be None; sparse `X` works with every ``gcv_mode``
      (``'svd'`` is an exact SVD route, where scikit-learn falls back to ``'eigen'``).

    Dask input: when `X`, `y` or `sample_weight` is a Dask array, the search is
    :func:`~spectralridge.dask.dask_ridge_cv` (``DaskRidgeSolver.loo`` / ``.gcv``), which
    computes the small factors of `X` (and of the K-fold training sets) in its passes over the
    data; the scores, the chosen alphas and the refit stay lazy until computed (exact
    leave-one-out reads the data once more then). Compute what you need together, e.g.
    ``dask.compute(model.alpha_, model.coef_)``, or persist it, so that the shared work runs
    once. Supported: ``cv`` None / ``'loo'``, ``'gcv'``, an int, or a splitter whose test sets
    partition the samples (KFold, GroupKFold, StratifiedKFold); ``scoring`` None, ``'r2'`` or
    ``'neg_mean_squared_error'``; ``gcv_mode='eigen'`` only when n_samples > n_features.
    Other values raise a ``ValueError``. The grid-edge warning is not emitted, errors that
    need the data (NaN, negative weights, leverage 1) are raised when computing,
    ``predict`` returns a lazy Dask array (for Dask or NumPy `X`) and ``feature_names_in_``
    is not set.

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
                 gcv_mode=None, store_cv_results=False, alpha_per_target=False,
                 penalty_factor=None, noise_level=None, refine=False):
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.cv = cv
        self.gcv_mode = gcv_mode
        self.store_cv_results = store_cv_results
        self.alpha_per_target = alpha_per_target
        self.penalty_factor = penalty_factor
        self.noise_level = noise_level
        self.refine = refine

    def _cv_mode(self):
        cv = self.cv
        if cv is None or (isinstance(cv, str) and cv == "loo"):
            return "loo", None
        if isinstance(cv, str) and cv in ("gcv",) + CRITERIA:
            return cv, None
        if isinstance(cv, str) or isinstance(cv, bool):
            raise ValueError("cv must be None, 'loo', 'gcv', 'evidence', 'lcurve', "
                             "'discrepancy', 'quasi', an int >= 2, a splitter or an "
                             f"iterable of (train, test) index arrays; got {cv!r}.")
        return "splits", check_cv(cv, classifier=False)

    def _method(self, X, dask_input=False):
        if not (self.gcv_mode is None or isinstance(self.gcv_mode, str)) or \
                self.gcv_mode not in _GCV_MODES:
            raise ValueError("gcv_mode must be None, 'auto', 'svd' or 'eigen', got "
                             f"{self.gcv_mode!r}.")
        method = _GCV_MODES[self.gcv_mode]
        if method == "eigen":
            method = "gram" if X.shape[0] > X.shape[1] else "kernel"
            if method == "kernel" and dask_input:
                raise ValueError(
                    "gcv_mode='eigen' with n_samples <= n_features needs the kernel "
                    "decomposition, which is not available for Dask input; use "
                    f"gcv_mode=None or 'svd' (X has shape {X.shape}).")
        return method

    def fit(self, X, y, sample_weight=None, **params):
        """Fit ridge regression with the alpha(s) chosen by cross-validation.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float, array-like or dask array of shape (n_samples,), default=None
            Non-negative weights; they weight the fit and the validation errors.
        **params
            Only ``groups`` (array-like of shape (n_samples,)): with an int ``cv``, group
            K-fold (scikit-learn's ``GroupKFold(cv)`` folds; its ``KFold`` would ignore
            them); with a splitter, passed to its ``split``. A ``ValueError`` with leave-one-out
            or GCV (``cv`` None, ``'loo'``, ``'gcv'``) and with (train, test) pairs, which
            cannot honour groups. See :func:`~spectralridge.ridge_cv`.

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
        dask_input = is_dask_input(X, y, sample_weight)
        if dask_input and not fast:
            raise ValueError("With Dask input, RidgeCV supports scoring=None, 'r2' or "
                             f"'neg_mean_squared_error'; got scoring={self.scoring!r}.")
        scorer = None if fast else check_scoring(self, scoring=self.scoring)
        refine = check_criterion_options("loo" if self.cv is None else self.cv,
                                         self.noise_level, self.refine)
        if (mode in CRITERIA and self.scoring is not None) or (refine and not fast):
            raise ValueError(f"cv={self.cv!r} supports scoring=None only, and refine=True the "
                             f"fast scorings; got scoring={self.scoring!r}.")
        if scorer is not None and mode == "gcv":
            raise ValueError("cv='gcv' supports scoring=None, 'r2' or "
                             f"'neg_mean_squared_error'; got scoring={self.scoring!r}.")
        if scorer is not None and mode == "splits" and per_target:
            raise ValueError("alpha_per_target=True with a K-fold cv supports scoring=None, "
                             f"'r2' or 'neg_mean_squared_error'; got scoring={self.scoring!r}.")
        X, Y, sample_weight, y_ndim = self._validate_fit(X, y, sample_weight)
        groups = check_groups(groups, X.shape[0], self.cv)
        alphas = None if self.alphas is None else check_alphas(self.alphas)[0]
        method = self._method(X, dask_input)
        if is_dask_input(sample_weight):  # lazy: spectralridge.dask raises when it runs
            n_positive = X.shape[0]
        else:
            n_positive = X.shape[0] if sample_weight is None else \
                _array_api.count_positive(sample_weight)
        if mode != "splits" and self.fit_intercept and n_positive < 2:
            name = "Leave-one-out" if mode == "loo" else "Generalized"
            raise ValueError(f"{name} cross-validation with fit_intercept=True needs at least "
                             f"2 samples of positive weight, got n_samples={n_positive}.")
        kwargs = dict(fit_intercept=self.fit_intercept, sample_weight=sample_weight,
                      method=method, penalty_factor=self.penalty_factor)

        if _array_api.is_array_api_input(X) and (scorer is not None or store):
            raise ValueError("With array-API input (array_api_dispatch=True), RidgeCV supports "
                             "scoring=None, 'r2' or 'neg_mean_squared_error' and "
                             "store_cv_results=False.")
        with grid_edge_warnings(False):  # recorded in alpha_at_edge_ instead
            if scorer is not None:
                return self._fit_slow(X, Y, y_ndim, alphas, mode, splitter, scorer,
                                      per_target, store, groups, kwargs)
            return self._fit_fast(X, Y, y_ndim, alphas, mode, splitter, per_target, store,
                                  groups, kwargs)

    def _set_edge(self, edge, per_target):
        """``alpha_at_edge_`` from the per-target flags (n_targets,), shaped as ``alpha_``."""
        if per_target and edge.shape[0] > 1:
            self.alpha_at_edge_ = edge
        else:
            self.alpha_at_edge_ = edge[0] if is_dask_input(edge) else bool(edge[0])

    def _fit_fast(self, X, Y, y_ndim, alphas, mode, splitter, per_target, store, groups,
                  kwargs):
        """The scorings of the fast kernels, NumPy or Dask (whose results stay lazy)."""
        sample_weight = kwargs["sample_weight"]
        if self.scoring is None:
            ours, sign = ("r2", 1.0) if mode == "splits" else ("mse", -1.0)
        else:
            ours, sign = _FAST_SCORING[self.scoring]
        solver = None
        if mode == "splits":
            cv = self.cv  # an int K is KFold(K): ridge_cv's own folds (lazy for Dask)
            if not isinstance(cv, numbers.Integral) or isinstance(cv, bool):
                cv = splitter
            result = ridge_cv(X, Y, alphas, cv=cv, alpha_per_target=per_target,
                              scoring=ours, groups=groups, refine=self.refine, **kwargs)
        elif mode in CRITERIA or self.refine:
            result = ridge_cv(X, Y, alphas, cv=mode, alpha_per_target=per_target,
                              scoring="mse" if mode in CRITERIA else ours,
                              noise_level=self.noise_level, refine=self.refine, **kwargs)
            if mode in CRITERIA:
                sign = -1.0 if mode == "quasi" else 1.0
        else:
            solver = RidgeSolver(X, Y, **kwargs)
            score = solver.loo if mode == "loo" else solver.gcv
            result = score(alphas, scoring=ours, alpha_per_target=per_target)
        result = _array_api.scores_to_host(result)  # device coefficients stay there
        table = sign * result.scores.astype(np.float64)
        best = sign * result.best_score.astype(np.float64)  # per target, (n_targets,)
        if self.scoring is None and mode in ("loo", "gcv") and sample_weight is not None:
            # scikit-learn's scale: the mean over samples of w_i e_i^2
            scale = _array_api.weight_total(sample_weight) / X.shape[0]
            table, best = table * scale, best * scale
        if per_target:
            self.best_score_ = best if y_ndim == 2 else best[0]
        else:  # the same alpha for every target: the mean of its scores
            self.best_score_ = best.mean()
        if per_target and Y.shape[1] > 1:
            self.alpha_ = result.best_alpha
        else:
            alpha = result.best_alpha[0]
            self.alpha_ = alpha if is_dask_input(alpha) else float(alpha)
        self.coef_, self.intercept_ = _as_sklearn_coef(result.coef, result.intercept, y_ndim,
                                                       self.fit_intercept)
        self.cv_scores_ = table if y_ndim == 2 else table[:, 0]
        self.dof_ = result.dof
        self.alphas_ = result.alphas
        self._set_edge(result.at_grid_edge, per_target)
        if store:
            errors = solver.loo_errors(result.alphas)
            lazy = is_dask_input(errors)  # NumPy: in place, the array is n x k x m
            if self.scoring is None:  # scikit-learn's w_i e_i^2
                values = errors * errors if lazy else np.square(errors, out=errors)
                if sample_weight is not None:
                    values = values * sample_weight.astype(np.float64)[:, None]
            else:  # the predictions
                values = Y - errors if lazy else np.subtract(Y, errors, out=errors)
            self.cv_results_ = self._cv_results_shape(values, y_ndim, result.coef.dtype)
        if _array_api.is_array_api_input(X):
            _array_api.attributes_to_device(self, X, ("alpha_", "best_score_", "cv_scores_",
                                                      "alpha_at_edge_", "dof_", "alphas_"))
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
        if is_dask_input(out):
            return out.astype(dtype)
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
            fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
            if groups is not None and isinstance(self.cv, numbers.Integral):
                splitter = check_splits(self.cv, X, Y, groups)  # group K-fold, as ridge_cv
            elif groups is not None:
                fit_params["groups"] = groups
            search = GridSearchCV(
                Ridge(fit_intercept=self.fit_intercept,
                      solver="svd" if kwargs["method"] == "svd" else "auto",
                      penalty_factor=self.penalty_factor),
                {"alpha": alphas}, scoring=scorer, cv=splitter, refit=False)
            search.fit(X, y_true, **fit_params)
            joint = True
            table = search.cv_results_["mean_test_score"][:, None]
        table = np.asarray(table, dtype=np.float64)
        best_index = np.argmax(table, axis=0)
        coef, intercept = solver.per_target(alphas[np.broadcast_to(best_index, (Y.shape[1],))])
        dof = solver.dof(alphas)
        self._set_results(alphas, table, best_index, coef, intercept, dof, y_ndim, per_target,
                          joint=joint)
        self._set_edge(at_grid_edge(np.broadcast_to(best_index, (Y.shape[1],)), dof,
                                    solver.rank), per_target)
        if store:
            self.cv_results_ = self._cv_results_shape(predictions, y_ndim, X.dtype)
        return self

