"""RidgeSolver: one decomposition, every alpha."""

import numbers
import threading
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from . import _core, _scores
from ._backends import backend_for
from ._config import loo_compression_enabled, scratch_values
from ._design import as_float64
from ._criteria import CriteriaMixin
from ._filters import early_stopping_filter, ridge_alphas_for_dof, truncation_filter
from ._penalty import PenaltyMap
from ._spectrum import Centering, decompose, starting_method, weighted_sum
from ._validation import (check_alphas, check_bool, check_data, check_dofs, check_lr,
                          check_method, check_n_components, check_penalty_factor,
                          check_scoring, check_steps, check_X_new,
                          warn_if_divergent)


class SolverData(NamedTuple):
    """The validated data of a NumPy solver: `X` (dense or scipy.sparse), `Y` (2-D) and
    their :class:`~spectralridge._spectrum.Centering`."""

    X: object
    Y: np.ndarray
    centering: Centering


class RidgeSolver(CriteriaMixin):
    r"""Ridge regression for any number of regularization strengths.

    Minimizes ``sum_i w_i ||y_i - x_i^T W - b||^2 + alpha sum_j c_j ||W_j||^2``
    (scikit-learn's objective with penalty factors ``c = 1``, intercept not penalized) for
    every requested ``alpha`` from one spectral decomposition of the centred, weighted design
    ``Xc = U diag(s) V^T`` (its columns divided by ``sqrt(c)``):
    ``W(alpha) = diag(1 / sqrt(c)) V diag(s / (s^2 + alpha)) U^T Yc``. In the eigenbasis of
    the Hessian ``Xc^T Xc`` ridge multiplies the least-squares solution by the shrinkage
    factors ``s^2 / (s^2 + alpha)``; their sum is the effective degrees of freedom.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    Y : array-like of shape (n_samples,) or (n_samples, n_targets)
    fit_intercept : bool, default=True
        Fit an unpenalized intercept (the data are centred with the sample weights).
    sample_weight : float or array-like of shape (n_samples,), default=None
        Non-negative weights, at least one positive.
    method : {'auto', 'svd', 'gram', 'kernel'}, default='auto'
        Decomposition. ``'svd'``: thin SVD of ``Xc`` (LAPACK gesdd, gesvd on
        non-convergence). ``'gram'``: eigh of the p x p Gram ``Xc^T Xc``. ``'kernel'``: eigh of
        the n x n Gram ``Xc Xc^T``. ``'auto'``: ``'gram'`` when n_samples >= n_features, else
        ``'kernel'``, and the SVD instead as soon as a call asks for an alpha so small that
        the Gram route could lose accuracy, i.e. when ``(lam_max + alpha_min) >
        GRAM_KAPPA (lam_min + alpha_min)`` with ``lam`` the eigenvalues of the Gram and
        ``GRAM_KAPPA = 1e-9 / eps`` (about 4.5e6), or when directions dropped by the Gram's
        rank cutoff could change the coefficients by more than 1e-10 (a nearly collinear
        design): results then stay within about 1e-10 relative of the SVD's. Explicit
        ``'gram'`` or ``'kernel'`` are never replaced.
    penalty_factor : array-like of shape (n_features,), default=None
        Non-negative per-feature factors ``c_j`` of the penalty, as glmnet's
        ``penalty.factor`` but used as given (glmnet rescales them to sum to n_features): a
        feature with factor 4 is shrunk as if it were scaled by 1/2. Exact: the solver works
        on the columns divided by ``sqrt(c)`` and maps coefficients back, so singular values,
        shrinkage factors and filters refer to that rescaled design (early stopping is then
        gradient descent preconditioned by ``diag(1 / c)``). The largest positive factor may
        be at most 1e12 times the smallest. A factor of 0 leaves a feature unpenalized (on
        every backend; scipy.sparse X is kept sparse), as the intercept: the other columns and the targets
        are projected on the complement of the unpenalized columns and the intercept
        (weighted), the projection is decomposed once, and the unpenalized coefficients
        follow by least squares on the residual; the hat matrix adds their leverage, so
        leave-one-out, GCV (whose degrees of freedom count them) and K-fold (one projection
        per training set) stay exact.
        Singular values, shrinkage and ``dof`` then refer to the projected penalized columns.
        Unpenalized columns collinear with each other or the intercept raise a
        ``ValueError`` naming them. None: all 1.

    Attributes
    ----------
    method : str
        The decomposition behind the most recent results ('svd', 'gram' or 'kernel').
    singular_values : ndarray of shape (rank,)
        Singular values of ``Xc`` kept for ``alpha > 0``, descending: those above the SVD's
        rounding level ``sqrt(max(n, p)) eps s_max`` (LAPACK gejsv for graded columns:
        relative to the smallest nonzero column norm), ``s^2 > max(n, p) eps s_max^2`` for
        the Gram routes. At ``alpha = 0`` those below ``max(n, p) eps s_max`` are dropped
        too (minimum-norm least squares).
    rank : int
        The number of singular values kept for ``alpha > 0``.
    n_features_in_ : int
    penalty_factor : ndarray of shape (n_features,) or None
    backend : str
        ``'numpy'`` (NumPy or scipy.sparse data) or the backend serving the input:
        ``RidgeSolver`` of Dask arrays is a :class:`~spectralridge.dask.DaskRidgeSolver`
        (``backend='dask'``), a subclass.

    Notes
    -----
    Outputs put the alpha axis first: ``coef`` (n_alphas, n_features[, n_targets]); a 1-D `Y`
    drops the target axis, a scalar alpha drops the alpha axis. float32 `X` and `Y` give
    float32 coefficients, intercepts and predictions (factorizations run in float64);
    spectral quantities (singular values, shrinkage, dof) are float64. ``alpha = 0`` gives the
    minimum-norm least-squares solution; no formula divides by alpha. The solver keeps a
    reference to `X` and `Y` (no copy): do not modify them while it is in use. Methods may
    be called from several threads at once. torch, CuPy and array_api_strict `X` and `Y` are
    computed on their device, results in their namespace (README, "GPU and the array API").

    Examples
    --------
    >>> import numpy as np
    >>> import spectralridge as sr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 3.0
    >>> solver = sr.RidgeSolver(X, y)
    >>> solver.coef([0.0, 50.0]).round(3)
    array([[ 1.   , -2.   ,  0.5  ],
           [ 0.516, -0.794,  0.287]])
    >>> float(solver.intercept(0.0).round(6))
    3.0
    >>> solver.dof([0.0, 50.0]).round(3)
    array([3.   , 1.365])
    """

    backend = "numpy"
    _map = None  # the PenaltyMap of unpenalized columns (NumPy data only)

    def __new__(cls, X=None, Y=None, **kwargs):
        if cls is RidgeSolver:  # the backend's subclass for its kind of input
            backend = backend_for(X, Y, kwargs.get("sample_weight"))
            if backend is not None:
                cls = backend.Solver
        return super().__new__(cls)

    def __init__(self, X, Y, *, fit_intercept=True, sample_weight=None, method="auto",
                 penalty_factor=None):
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self._requested_method = check_method(method)
        X, Y, w, self._y_was_1d = check_data(X, Y, sample_weight)
        self.n_features_in_ = X.shape[1]
        self.penalty_factor = check_penalty_factor(penalty_factor, X.shape[1])
        self._map = None  # unpenalized columns: the solver works on the projected problem
        if self.penalty_factor is not None and not self.penalty_factor.all():
            self._map = PenaltyMap(X, Y, w, self.fit_intercept, self.penalty_factor)
            X, Y = self._map.X_fit, self._map.Y_fit
            self._centering = self._map.centering(X, Y, w)
        else:
            self._centering = Centering(X, Y, w, self.fit_intercept, self.penalty_factor)
        self._X, self._Y = X, Y
        self._spectrum = decompose(X, Y, self._centering, starting_method(method, *X.shape))
        self._lock = threading.Lock()

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def default_alphas(self, n_alphas=30):
        """Log-spaced alphas whose effective dof span ``(0.0005, 0.9995) x rank``.

        The default grid of :meth:`loo`, :meth:`gcv` and :func:`ridge_cv`: it adapts to the
        spectrum of the data, so that its edges are (nearly) the least-squares fit and the
        intercept-only model.
        """
        if not isinstance(n_alphas, numbers.Integral) or n_alphas < 2:
            raise ValueError(f"n_alphas must be an integer >= 2, got {n_alphas!r}.")
        return _scores.default_alphas(self, int(n_alphas))

    def alpha_grid(self, alphas):
        """`alphas` validated (1-D float64), or the :meth:`default_alphas` for None."""
        if alphas is None:
            return self.default_alphas()
        return check_alphas(alphas)[0]

    # -- engine interface ----------------------------------------------------------------
    # What spectralridge's other modules (cross-validation, stats, backends) use of a
    # solver; not part of the public API.
    @property
    def data(self):
        """:class:`SolverData` ``(X, Y, centering)``: the validated data (Y 2-D)."""
        return SolverData(self._X, self._Y, self._centering)

    @property
    def given_data(self):
        """:class:`SolverData` of `X` and `Y` as given: :attr:`data` holds the problem
        projected off the unpenalized columns where there are any."""
        if self._map is None:
            return self.data
        return SolverData(self._map.X, self._map.Y, self._centering)

    @property
    def penalty_map(self):
        """The :class:`~spectralridge._penalty.PenaltyMap` of the unpenalized columns, or
        None."""
        return self._map

    @property
    def requested_method(self):
        """The `method` argument ('auto', 'svd', 'gram' or 'kernel')."""
        return self._requested_method

    @property
    def y_was_1d(self):
        """Whether `Y` was 1-D (results then drop the target axis)."""
        return self._y_was_1d

    def spectrum_for(self, alphas):
        """The :class:`~spectralridge._spectrum.Spectrum` (with the projected targets ``R``)
        behind results for `alphas` (1-D): with method 'auto', upgraded to the SVD where the
        Gram route would not be accurate enough."""
        spectrum = self._spectrum
        if self._requested_method == "auto" and not spectrum.accurate_for(alphas.min()):
            with self._lock:
                if self._spectrum.method != "svd":
                    self._spectrum = self._decompose("svd")
                spectrum = self._spectrum
        return spectrum

    def _decompose(self, method):
        """The spectrum of this solver's data by `method` (a backend's override: on its
        arrays)."""
        return decompose(self._X, self._Y, self._centering, method)

    # -- backend hooks: a backend's subclass overrides these two --------------------------
    def _decomposition(self, alphas=None):
        """What results for `alphas` are computed from (``lam``, ``s``, ``rank``,
        ``method``, ``ridge(alphas)``): :meth:`spectrum_for`, or the current one for None."""
        return self._spectrum if alphas is None else self.spectrum_for(alphas)

    def _path(self, decomposition, flt, grid, scalar, name):
        """The filter path of this backend."""
        return FilterPath(self, decomposition, flt, grid, scalar, name)

    @property
    def method(self):
        return self._decomposition().method

    @property
    def singular_values(self):
        return self._decomposition().s.copy()

    @property
    def rank(self):
        return self._decomposition().rank

    @property
    def dtype(self):
        """Working dtype of coefficients, intercepts and predictions."""
        return self._Y.dtype

    # -- filters -----------------------------------------------------------------------------
    def ridge(self, alphas):
        """Ridge regression at every alpha, as a :class:`FilterPath`.

        Factors ``s^2 / (s^2 + alpha)``; ``solver.ridge(alphas).coef()`` equals
        ``solver.coef(alphas)``.
        """
        alphas, scalar = check_alphas(alphas)
        spectrum = self._decomposition(alphas)
        return self._path(spectrum, spectrum.ridge(alphas), alphas, scalar, "alpha")

    def early_stopping(self, lr, steps):
        """Gradient descent from zero on the least-squares loss, stopped after `steps`.

        Gradient descent ``W <- W - lr Xc^T (Xc W - Yc)`` reaches, after t steps, the filter
        ``1 - (1 - lr s^2)^t`` on the same spectrum: early stopping is a spectral filter,
        close to ridge at ``alpha = 1 / (lr t)`` (see :mod:`spectralridge.theory`).

        Parameters
        ----------
        lr : float
            Step size; gradient descent converges for ``lr < 2 / s_max^2`` (a
            ``RuntimeWarning`` otherwise).
        steps : int or array-like of int, shape (n_steps,)

        Returns
        -------
        FilterPath
        """
        lr = check_lr(lr)
        steps, scalar = check_steps(steps)
        # accuracy of the Gram routes as for ridge at the equivalent alpha 1 / (lr t)
        with np.errstate(divide="ignore"):
            spectrum = self._decomposition(np.atleast_1d(1.0 / (lr * steps.max())))
        if spectrum.rank:
            warn_if_divergent(lr, spectrum.lam[0])
        return self._path(spectrum, early_stopping_filter(spectrum.lam, lr, steps), steps,
                          scalar, "steps")

    def truncated_svd(self, n_components):
        """Principal-component regression: keep the `n_components` steepest directions.

        Parameters
        ----------
        n_components : int or array-like of int, shape (n_grid,)
            Between 0 and ``rank``.

        Returns
        -------
        FilterPath
        """
        spectrum = self._decomposition()
        ks, scalar = check_n_components(n_components, spectrum.rank)
        k_max = int(ks.max())
        if k_max:  # the smallest kept eigenvalue must be accurate
            spectrum = self._decomposition(np.atleast_1d(spectrum.lam[k_max - 1]))
            ks, scalar = check_n_components(n_components, spectrum.rank)
        return self._path(spectrum, truncation_filter(spectrum.rank, ks), ks, scalar,
                          "n_components")

    def _shape(self, out, scalar):
        """Drop the target axis for a 1-D Y and the alpha axis for a scalar alpha."""
        if self._y_was_1d:
            out = out[..., 0]
        return out[0, ...] if scalar else out  # explicit ellipsis: any array-API array

    # -- ridge -----------------------------------------------------------------------------
    def coef(self, alphas):
        """Coefficients for every alpha.

        Parameters
        ----------
        alphas : float or array-like of shape (n_alphas,)
            Non-negative regularization strengths.

        Returns
        -------
        ndarray of shape (n_alphas, n_features[, n_targets])
        """
        return self.ridge(alphas).coef()

    def intercept(self, alphas):
        """Intercepts ``ym - xm^T W(alpha)``: ndarray of shape (n_alphas[, n_targets])."""
        return self.ridge(alphas).intercept()

    def predict(self, X, alphas):
        """Predictions for new samples at every alpha.

        Parameters
        ----------
        X : array-like of shape (n_new, n_features)
        alphas : float or array-like of shape (n_alphas,)

        Returns
        -------
        ndarray of shape (n_alphas, n_new[, n_targets])
        """
        return self.ridge(alphas).predict(X)

    def shrinkage(self, alphas):
        """Shrinkage factors ``s^2 / (s^2 + alpha)``: ndarray of shape (n_alphas, rank).

        Row ``a`` multiplies the least-squares solution's coordinates in the eigenbasis of
        the Hessian ``Xc^T Xc`` (steep directions first).
        """
        return self.ridge(alphas).factors

    def dof(self, alphas):
        """Effective degrees of freedom ``sum s^2 / (s^2 + alpha)``: shape (n_alphas,).

        The trace of the penalized hat matrix, without the intercept and the unpenalized
        columns (which add 1 each).
        """
        return self.ridge(alphas).dof

    def alphas_for_dof(self, dofs):
        """Alphas at which the effective degrees of freedom equal `dofs`.

        Parameters
        ----------
        dofs : float or array-like of shape (n_dofs,)
            Values in ``(0, rank]``; ``rank`` gives alpha 0.

        Returns
        -------
        ndarray of shape (n_dofs,)
        """
        spectrum = self._decomposition(np.zeros(1))
        dofs, scalar = check_dofs(dofs, spectrum.rank)
        out = ridge_alphas_for_dof(spectrum.lam, dofs)
        return out[0] if scalar else out

    def per_target(self, alphas):
        """Coefficients and intercepts with a different alpha for each target.

        Parameters
        ----------
        alphas : array-like of shape (n_targets,)

        Returns
        -------
        RidgePath
            ``coef`` of shape (n_features[, n_targets]), ``intercept`` (n_targets,) or
            scalar, as the ``coef`` and ``intercept`` of a :class:`CVResult`.
        """
        alphas = self._target_alphas(alphas)
        k = self._Y.shape[1]
        if alphas.shape[0] != k:
            raise ValueError(f"alphas must have one entry per target: expected ({k},), got "
                             f"shape {alphas.shape}.")
        coef, intercept = self._refit_targets(alphas)
        if self._y_was_1d:
            return RidgePath(coef[:, 0], intercept[0])
        return RidgePath(coef, intercept)

    def _target_alphas(self, alphas):
        """`alphas` validated, 1-D (a backend's override: from its arrays)."""
        return check_alphas(alphas)[0]

    def _refit_targets(self, alphas):
        """Coefficients (p, k) and intercepts (k,) with alpha ``alphas[t]`` for target t."""
        return self._refit(self.spectrum_for(alphas), alphas)

    # -- cross-validation ------------------------------------------------------------------
    def loo_errors(self, alphas):
        """Exact leave-one-out errors ``(y_i - yhat_i) / (1 - h_i)`` of every sample.

        Returns an array of n_alphas x n_samples x n_targets float64 values: use
        :meth:`loo` for scores, which never forms it. Samples of zero weight get their plain
        residual (they do not influence the fit).

        Parameters
        ----------
        alphas : float or array-like of shape (n_alphas,)

        Returns
        -------
        ndarray of shape (n_alphas, n_samples[, n_targets])
        """
        path = self.ridge(alphas)
        errors = _scores.loo_errors(path.spectrum, self._centering, self._Y, path.filter,
                                    path.grid)
        zero = self._centering.sw == 0
        if zero.any():
            X, Y, _ = self.given_data
            fitted = path.predict(X[np.flatnonzero(zero)])
            fitted = fitted if not path._scalar else fitted[None]
            errors[:, zero] = Y[zero] - fitted.reshape(errors[:, zero].shape)
        return self._shape(errors, path._scalar)

    def loo(self, alphas=None, *, scoring="mse", alpha_per_target=True):
        """Exact leave-one-out cross-validation for every alpha and target.

        The leave-one-out error of sample i is ``(y_i - yhat_i) / (1 - h_i)`` with the
        diagonal of the hat matrix ``h_i = w_i / sum(w) [intercept] + sum_j U_ij^2
        s_j^2 / (s_j^2 + alpha)``, exact with sample weights and intercept. Computed by a
        fused compiled kernel in blocks of targets (memory O(n_samples x block)), with
        ``1 - h`` and the residuals formed from ``alpha / (s^2 + alpha)`` (no cancellation
        at small alphas, no division by alpha).

        Parameters
        ----------
        alphas : array-like of shape (n_alphas,), default=None
            None: 30 log-spaced alphas whose effective dof span the whole range (0, rank).
        scoring : {'mse', 'r2'}, default='mse'
            Weighted mean of the squared leave-one-out errors (lower is better), or the R^2 of
            the leave-one-out predictions (higher is better).
        alpha_per_target : bool, default=True
            Choose the best alpha for each target, or one alpha by the mean score.

        Returns
        -------
        CVResult

        Raises
        ------
        ValueError
            If some sample has leverage 1 at a requested alpha (e.g. alpha = 0 with
            n_samples <= n_features): its leave-one-out error is undefined.

        Warns
        -----
        GridEdgeWarning
            If a target's best alpha is on an edge of the grid that does not already reach
            (nearly) the full rank or zero degrees of freedom.

        References
        ----------
        Allen, D. M. (1974). The relationship between variable selection and data
        augmentation and a method for prediction. Technometrics 16(1), 125-127.
        """
        return self.ridge(self.alpha_grid(alphas)).loo(scoring=scoring,
                                                  alpha_per_target=alpha_per_target)

    def gcv(self, alphas=None, *, scoring="mse", alpha_per_target=True):
        """Generalized cross-validation for every alpha and target, from the spectrum alone.

        ``GCV(alpha) = (RSS / sum(w)) / (1 - (dof + [intercept]) / n)^2`` with the weighted
        residual sum of squares ``RSS`` and n the number of samples of positive weight; O(rank
        x n_targets) per alpha, independent of n. Unlike R's ``MASS::lm.ridge``, whose GCV
        leaves the intercept out of the degrees of freedom, the intercept counts here (it is
        fitted, so it is part of the hat matrix's trace). With ``scoring='r2'`` the score is
        ``1 - GCV / (TSS / sum(w))``.

        Parameters and returns as in :meth:`loo`.

        References
        ----------
        Golub, G. H., Heath, M., Wahba, G. (1979). Generalized cross-validation as a method for
        choosing a good ridge parameter. Technometrics 21(2), 215-223.
        """
        return self.ridge(self.alpha_grid(alphas)).gcv(scoring=scoring,
                                                  alpha_per_target=alpha_per_target)

    def cv_result(self, path, mse, scoring, alpha_per_target, cv, sst=None, rule="min",
                  score_se=None, scale=None):
        """CVResult from mean squared errors, for every backend; `sst` is the mean total sum
        of squares for 'r2', by default that of all samples about their weighted mean. With
        `scale` (see ``_scores.target_scale``), `mse`, `sst` and `score_se` are of the scaled
        targets."""
        return self._place(_scores.select_refit(
            path.grid, path.filter, self._scores_of(path, mse, scoring, sst, scale),
            rank=path.spectrum.rank, scoring=scoring, alpha_per_target=alpha_per_target,
            y_was_1d=self._y_was_1d, dtype=self._host_dtype, cv=cv,
            n_features=self.n_features_in_, name=path.name, rule=rule, score_se=score_se,
            scale=scale, targets=self._targets(path)))

    def _scores_of(self, path, mse, scoring, sst, scale):
        """The scores (m, k) of the mean squared errors `mse` (a backend's hook)."""
        if scoring == "r2" and sst is None:
            sst = self.mean_total_ss(scale)
        return _scores.to_score(mse, sst, scoring)

    def _targets(self, path):
        """The per-target hooks of ``_scores.select_refit`` (a lazy backend's own)."""
        return _scores.InMemory(lambda best: self._refit_rows(path.spectrum, path.filter, best))

    def mean_total_ss(self, scale=None):
        """Per target, the weighted mean squared deviation of `Y` as given (not projected
        off unpenalized columns) from its weighted mean (k,), of the targets times `scale`
        where given: the denominator of R^2."""
        _, Y, c = self.given_data
        w = np.square(c.sw)
        return _scores.total_sum_of_squares(Y, w, weighted_sum(w, Y) / c.sum_w,
                                            scale) / c.sum_w

    def target_scale(self, spectrum):
        """Powers of two per target and ``||scale Yc||^2``: see ``_scores.target_scale``."""
        _, Y, c = self.data
        return _scores.target_scale(Y, c, spectrum.yc_sq)


class FilterGrid:
    """A filter over a grid of parameter values: the part that needs no data."""

    def __init__(self, solver, flt, grid, scalar, name):
        self._solver, self.filter = solver, flt
        self.grid, self._scalar, self.name = grid, scalar, name

    def _squeeze(self, out):
        return out[0] if self._scalar else out

    def _loo_options(self, scoring, alpha_per_target):
        """Checked `scoring` and `alpha_per_target` of exact leave-one-out (ridge only)."""
        if self.name != "alpha":
            raise ValueError(f"Exact leave-one-out is available for ridge only; for the "
                             f"{self.name} filter use gcv() (or ridge_cv with a splitter).")
        return check_scoring(scoring), check_bool(alpha_per_target, "alpha_per_target")

    @property
    def factors(self):
        return self._squeeze(self.filter.fit.copy())  # the filter stays this path's own

    @property
    def dof(self):
        return self._squeeze(self.filter.dof)


class FilterPath(FilterGrid):
    """One spectral filter family over a grid, on a solver's decomposition.

    Made by :meth:`RidgeSolver.ridge`, :meth:`RidgeSolver.early_stopping` and
    :meth:`RidgeSolver.truncated_svd`. Every quantity comes from the same decomposition and
    the same compiled kernels; shapes put the grid axis first (dropped for a scalar).

    Attributes
    ----------
    grid : ndarray of shape (n_grid,)
        The parameter: alphas, steps or n_components.
    name : str
        ``'alpha'``, ``'steps'`` or ``'n_components'``.
    factors : ndarray of shape (n_grid, rank)
        Filter factors on the fitted values in the eigenbasis (steep directions first).
    dof : ndarray of shape (n_grid,)
        Effective degrees of freedom, the sum of the factors.
    """

    def __init__(self, solver, spectrum, flt, grid, scalar, name):
        super().__init__(solver, flt, grid, scalar, name)
        self.spectrum = spectrum
        self._memo = {}  # the factors of compressed paths, for coef, intercept and predict

    # The filter's application (a backend's path overrides these four): see apply_path.
    def _apply(self, B, offset=None):
        """``B @ diag(fit / s) R + offset`` for every grid value: (m, q, k); None: no
        offset."""
        dtype = self._solver.dtype
        offset = np.empty(0, dtype=dtype) if offset is None else offset.astype(dtype)
        return apply_path(B, self.spectrum, self.filter, offset, dtype, self._memo)

    def _cast(self, a):
        return a.astype(self._solver.dtype)

    def _intercept_basis(self):
        solver = self._solver
        return intercept_basis(self.spectrum, solver._centering.xm, solver.fit_intercept,
                               solver.dtype)

    def _new_basis(self, X):
        """The basis of the predictions for new samples `X` (validated here); with
        unpenalized columns the pair (basis, their fit)."""
        solver = self._solver
        X = check_X_new(X, solver.n_features_in_, solver.dtype)
        if solver.penalty_map is not None:
            return solver.penalty_map.held_out(X, None, self.spectrum, solver.dtype)
        return held_out_basis(X, None, solver._centering.xm, self.spectrum, solver.dtype)

    def _mean(self):
        """The offset of intercepts and predictions: the targets' means (None: none)."""
        solver = self._solver
        return solver._centering.ym if solver.fit_intercept else None

    def _coef(self):
        """Coefficients of the decomposed columns: (n_grid, n_columns, n_targets)."""
        return self._apply(self.spectrum.cast("V_coef", self._solver.dtype))

    def coef(self):
        """Coefficients: array of shape (n_grid, n_features[, n_targets])."""
        out = self._coef()
        if self._solver.penalty_map is not None:
            out = self._solver.penalty_map.coef(out)
        return self._solver._shape(out, self._scalar)

    def intercept(self):
        """Intercepts ``ym - xm^T W``: array of shape (n_grid[, n_targets])."""
        solver = self._solver
        if solver.penalty_map is not None:
            return solver._shape(solver.penalty_map.intercept(self._coef()), self._scalar)
        return solver._shape(self._apply(self._intercept_basis(), self._mean())[:, 0, ...],
                             self._scalar)

    def predict(self, X):
        """Predictions: array of shape (n_grid, n_new[, n_targets])."""
        solver = self._solver
        B = self._new_basis(X)
        if solver.penalty_map is not None:
            B, offset = B
            return solver._shape(self._apply(B) + self._cast(offset), self._scalar)
        return solver._shape(self._apply(B, self._mean()), self._scalar)

    def loo(self, *, scoring="mse", alpha_per_target=True):
        """Exact leave-one-out scores for every alpha and target: :class:`CVResult`.

        Ridge only (see :meth:`RidgeSolver.loo`): the shortcut ``e_i = r_i / (1 - h_i)`` is
        exact for penalized least squares, but early stopping and truncated SVD refit on
        n - 1 samples change the spectrum itself, so for them it would only be an
        approximation. Use :meth:`gcv` for those.
        """
        scoring, alpha_per_target = self._loo_options(scoring, alpha_per_target)
        mse, scale = self._loo_mse()
        return self._solver.cv_result(self, mse, scoring, alpha_per_target, "loo",
                                      scale=scale)

    def gcv(self, *, scoring="mse", alpha_per_target=True):
        """Generalized cross-validation for every grid value and target: :class:`CVResult`.

        See :meth:`RidgeSolver.gcv`; the degrees of freedom are this filter's.
        """
        scoring = check_scoring(scoring)
        alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
        mse, scale = self._gcv_mse()
        return self._solver.cv_result(self, mse, scoring, alpha_per_target, "gcv",
                                      scale=scale)

    # The criteria's errors (a backend's path overrides these two): the mean squared
    # errors (m, k) of the targets times their power-of-two scale, and the scale.
    def _loo_mse(self):
        solver = self._solver
        scale, _ = solver.target_scale(self.spectrum)
        return _scores.loo_sse(self.spectrum, solver._centering, solver._Y, self.filter,
                               self.grid, self.name, scale) / solver._centering.sum_w, scale

    def _gcv_mse(self):
        solver = self._solver
        scale, yc_sq = solver.target_scale(self.spectrum)
        return _scores.gcv_mse(self.spectrum, solver._centering, self.filter, self.grid,
                               self.name, scale, yc_sq), scale


# Fewest rows of the basis per block of a compressed path's products (for their GEMMs'
# rate), even where that takes more scratch than `scratch_values`; and the most columns of
# the output one of its GEMMs may span (BLAS's 32-bit integers): beyond, blocks of targets.
PATH_ROWS = 64
PATH_MAX_COLUMNS = 2 ** 31 - 1


def apply_path(B, spectrum, flt, offset, dtype, memo=None):
    """``B @ diag(fit / s) R + offset`` for every row of the filter `flt` (an empty `offset`:
    none): (m, q, k) in the working `dtype`, for a basis `B` (q, r) such as ``V_coef``,
    :func:`intercept_basis` or :func:`held_out_basis`. `memo`, a dict of this filter's, keeps
    its factors for the next call.

    Over many alphas (where :func:`~spectralridge.loo_compression` allows it and it saves
    work) the filter is factored, ``C ~= A B_f`` by blocks of eigenvalues (see
    :func:`~spectralridge._scores.path_factors` for the error bound), and applied as
    ``out[a] = sum_l A[a, l] Z_l`` with ``Z_l = B diag(B_f[l]) R``, a block of rows of `B` at
    a time; the pairs (alpha, target) whose error the bound does not prove are recomputed
    with the exact filter.
    """
    factors = flt.coef_factors(spectrum.s)
    R = spectrum.cast("R", dtype)
    out = np.empty((factors.shape[0], B.shape[0], R.shape[1]), dtype=dtype)
    plan = None
    if loo_compression_enabled() and _scores.compression_pays(*factors.shape, *out.shape[1:]):
        memo = {} if memo is None else memo
        if "plan" not in memo:
            memo["plan"] = _scores.path_factors(factors, _scores.path_weights(R), dtype)
        plan = memo["plan"]
    if plan is None:
        _core.apply_filter(B, R, factors.astype(dtype), offset, out)
        return out
    _apply_compressed(B, R, factors, offset, out, *plan)
    return out


def _apply_compressed(B, R, factors, offset, out, A, B_f, blocks, redo):
    """:func:`apply_path` with the factors of :func:`~spectralridge._scores.path_factors`,
    by blocks of rows of `B` (``scratch_values`` values of ``Z``, or PATH_ROWS rows if that
    is more) written straight into `out` (by blocks of targets, one product per row, where
    a block of rows would span more than PATH_MAX_COLUMNS of its columns); then the exact
    filter on the pairs in `redo`, a block of their targets at a time. The ``Z_l`` of a
    block g of eigenvalues come from one product, ``[B_g diag(B_f[l]) for l of g] R_g``."""
    m, q, k = out.shape
    c = A.shape[1]
    none = np.empty(0, dtype=out.dtype)
    cols, ranks = blocks
    budget = scratch_values()
    kb = k if q * k <= PATH_MAX_COLUMNS else max(1, PATH_MAX_COLUMNS // q)
    rows = min(q, max(PATH_ROWS, budget // (c * max(kb, int(np.diff(cols).max())))))
    Z_buf = np.empty(c * rows * kb, dtype=out.dtype)
    flat = out.reshape(m, q * k)
    beta = 1.0 if offset.size else 0.0  # the offset is written first
    for t0 in range(0, k, kb):
        t = slice(t0, min(k, t0 + kb))
        nt = t.stop - t0
        parts = [(j0, j1, np.ascontiguousarray(R[j0:j1, t]), B_f[l0:l1, None, j0:j1],
                  slice(l0, l1))
                 for j0, j1, l0, l1 in zip(cols[:-1], cols[1:], ranks[:-1], ranks[1:])]
        for i0 in range(0, q, rows):
            i1 = min(q, i0 + rows)
            Z = Z_buf[:c * (i1 - i0) * nt].reshape(c, i1 - i0, nt)
            for j0, j1, R_g, F_g, l in parts:
                scaled = (F_g * B[i0:i1, j0:j1]).reshape(-1, j1 - j0)
                _core.gemm(scaled, R_g, Z[l].reshape(-1, nt))
            if offset.size:
                out[:, i0:i1, t] = offset[t]
            if kb == k:  # rows i0:i1 of `out` are one block of its columns
                _core.gemm(A, Z.reshape(c, -1), flat[:, i0 * k:i1 * k], beta=beta)
            else:
                for i in range(i0, i1):
                    _core.gemm(A, Z[:, i - i0], out[:, i, t], beta=beta)
    alphas, targets = np.flatnonzero(redo.any(axis=1)), np.flatnonzero(redo.any(axis=0))
    F = np.ascontiguousarray(factors[alphas], dtype=out.dtype)
    step = max(1, budget // max(alphas.size * q, 1))
    for t in (targets[t0:t0 + step] for t0 in range(0, targets.size, step)):
        exact = np.empty((alphas.size, q, t.size), dtype=out.dtype)
        _core.apply_filter(B, np.ascontiguousarray(R[:, t]), F,
                           np.ascontiguousarray(offset[t]) if offset.size else none, exact)
        out[np.ix_(alphas, np.arange(q), t)] = exact


def intercept_basis(spectrum, xm, fit_intercept, dtype):
    """The basis (1, r) of the intercepts ``ym - xm^T W`` for :func:`apply_path`."""
    B = np.zeros((1, spectrum.rank), dtype=dtype)
    if fit_intercept:
        _core.gemm(xm[None, :].astype(dtype), spectrum.cast("V_coef", dtype), B, alpha=-1.0)
    return B


def held_out_basis(X, sw, xm, spectrum, dtype):
    """``sw (X - xm) V_coef`` (no `sw`: 1) for NumPy or scipy.sparse `X`: (q, r) in the
    working `dtype`; sparse `X` through one sparse product and a rank-one term."""
    B = np.empty((X.shape[0], spectrum.rank), dtype=dtype)
    if sp.issparse(X):
        V = spectrum.V_coef
        B[...] = (np.asarray(as_float64(X) @ V) - xm @ V) * (1.0 if sw is None else
                                                              sw[:, None])
        return B
    Xc = np.subtract(X, xm, dtype=np.float64)
    if sw is not None:
        Xc *= sw[:, None]
    _core.gemm(np.ascontiguousarray(Xc, dtype=dtype), spectrum.cast("V_coef", dtype), B)
    return B


class RidgePath(NamedTuple):
    coef: np.ndarray
    intercept: np.ndarray


def ridge_path(X, Y, alphas, **kwargs):
    """Coefficients and intercepts of ridge regression for every alpha.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    Y : array-like of shape (n_samples,) or (n_samples, n_targets)
    alphas : float or array-like of shape (n_alphas,)
    **kwargs
        ``fit_intercept``, ``sample_weight``, ``method``, ``penalty_factor``: see
        :class:`RidgeSolver`.

    Returns
    -------
    RidgePath
        Named tuple ``(coef, intercept)`` of shapes (n_alphas, n_features[, n_targets]) and
        (n_alphas[, n_targets]).

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge import ridge_path
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    >>> coef, intercept = ridge_path(X, [1.0, 2.0, 4.0, 5.0], [0.0, 10.0])
    >>> coef.shape, intercept.shape
    ((2, 2), (2,))
    """
    solver = RidgeSolver(X, Y, **kwargs)
    return RidgePath(solver.coef(alphas), solver.intercept(alphas))
