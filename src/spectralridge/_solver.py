"""RidgeSolver: one decomposition, every alpha."""

import threading
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq

from . import _core, _scores
from ._spectrum import Centering, decompose, weighted_sum
from ._validation import (check_alphas, check_bool, check_data, check_dofs, check_method,
                          check_scoring, check_X_new)


class RidgeSolver:
    r"""Ridge regression for any number of regularization strengths.

    Minimizes ``sum_i w_i ||y_i - x_i^T W - b||^2 + alpha ||W||_F^2`` (scikit-learn's
    objective, intercept not penalized) for every requested ``alpha`` from one spectral
    decomposition of the centred, weighted design ``Xc = U diag(s) V^T``:
    ``W(alpha) = V diag(s / (s^2 + alpha)) U^T Yc``. In the eigenbasis of the Hessian
    ``Xc^T Xc`` ridge multiplies the least-squares solution by the shrinkage factors
    ``s^2 / (s^2 + alpha)``; their sum is the effective degrees of freedom.

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
        ``GRAM_KAPPA = 1e-9 / eps`` (about 4.5e6): results then stay within about 1e-10
        relative of the SVD's. Explicit ``'gram'`` or ``'kernel'`` are never replaced.

    Attributes
    ----------
    method : str
        The decomposition behind the most recent results ('svd', 'gram' or 'kernel').
    singular_values : ndarray of shape (rank,)
        Singular values of ``Xc`` above the rank cutoff, descending: ``max(n, p) eps s_max``
        for the SVD, ``s^2 > max(n, p) eps s_max^2`` for the Gram routes.
    rank : int
    n_features_in_ : int

    Notes
    -----
    Outputs put the alpha axis first: ``coef`` (n_alphas, n_features[, n_targets]); a 1-D `Y`
    drops the target axis, a scalar alpha drops the alpha axis. float32 `X` and `Y` give
    float32 coefficients, intercepts and predictions (factorizations run in float64);
    spectral quantities (singular values, shrinkage, dof) are float64. ``alpha = 0`` gives the
    minimum-norm least-squares solution; no formula divides by alpha. The solver keeps a
    reference to `X` and `Y` (no copy): do not modify them while it is in use. Methods may
    be called from several threads at once.

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

    def __init__(self, X, Y, *, fit_intercept=True, sample_weight=None, method="auto"):
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self._requested_method = check_method(method)
        X, Y, w, self._y_was_1d = check_data(X, Y, sample_weight)
        self._X, self._Y = X, Y
        self.n_features_in_ = X.shape[1]
        self._centering = Centering(X, Y, w, self.fit_intercept)
        if method == "auto":
            method = "gram" if X.shape[0] >= X.shape[1] else "kernel"
        self._spectrum = decompose(X, Y, self._centering, method)
        self._lock = threading.Lock()

    # -- decomposition ---------------------------------------------------------------------
    def _spectrum_for(self, alphas):
        """The spectrum to use for `alphas`, upgraded to the SVD where 'auto' needs it."""
        spectrum = self._spectrum
        if self._requested_method == "auto" and not spectrum.accurate_for(alphas.min()):
            with self._lock:
                if self._spectrum.method != "svd":
                    self._spectrum = decompose(self._X, self._Y, self._centering, "svd")
                spectrum = self._spectrum
        return spectrum

    @property
    def method(self):
        return self._spectrum.method

    @property
    def singular_values(self):
        return self._spectrum.s.copy()

    @property
    def rank(self):
        return self._spectrum.rank

    @property
    def dtype(self):
        """Working dtype of coefficients, intercepts and predictions."""
        return self._Y.dtype

    # -- helpers ---------------------------------------------------------------------------
    def _filtered(self, alphas, basis, offset):
        """``basis @ diag(s/(s^2+a)) R + offset`` for every alpha: (m, q, k)."""
        spectrum = self._spectrum_for(alphas)
        factors = _scores.ridge_filter(spectrum.s, alphas).coef_factors(spectrum.s)
        factors = factors.astype(self.dtype)
        B = basis(spectrum)
        out = np.empty((alphas.size, B.shape[0], spectrum.R.shape[1]), dtype=self.dtype)
        _core.apply_filter(B, spectrum.R, factors, offset, out)
        return out

    def _shape(self, out, scalar):
        """Drop the target axis for a 1-D Y and the alpha axis for a scalar alpha."""
        if self._y_was_1d:
            out = out[..., 0]
        return out[0] if scalar else out

    def _offset(self, with_mean):
        if with_mean and self.fit_intercept:
            return self._centering.ym.astype(self.dtype)
        return np.zeros(self._Y.shape[1], dtype=self.dtype)

    # -- public API ------------------------------------------------------------------------
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
        alphas, scalar = check_alphas(alphas)
        out = self._filtered(alphas, lambda sp: sp.cast("V", self.dtype), self._offset(False))
        return self._shape(out, scalar)

    def intercept(self, alphas):
        """Intercepts ``ym - xm^T W(alpha)``: ndarray of shape (n_alphas[, n_targets])."""
        alphas, scalar = check_alphas(alphas)
        if not self.fit_intercept:
            out = np.zeros((alphas.size, self._Y.shape[1]), dtype=self.dtype)
        else:
            xm = self._centering.xm

            def basis(sp):
                b = np.empty((1, sp.rank), dtype=self.dtype)
                _core.gemm(xm[None, :].astype(self.dtype), sp.cast("V", self.dtype), b, alpha=-1.0)
                return b

            out = self._filtered(alphas, basis, self._offset(True))[:, 0, :]
        return self._shape(out, scalar)

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
        X = check_X_new(X, self.n_features_in_, self.dtype)
        alphas, scalar = check_alphas(alphas)
        Xc = np.ascontiguousarray(np.subtract(X, self._centering.xm, dtype=np.float64),
                                  dtype=self.dtype)

        def basis(sp):
            b = np.empty((Xc.shape[0], sp.rank), dtype=self.dtype)
            _core.gemm(Xc, sp.cast("V", self.dtype), b)
            return b

        out = self._filtered(alphas, basis, self._offset(True))
        return self._shape(out, scalar)

    def shrinkage(self, alphas):
        """Shrinkage factors ``s^2 / (s^2 + alpha)``: ndarray of shape (n_alphas, rank).

        Row ``a`` multiplies the least-squares solution's coordinates in the eigenbasis of
        the Hessian ``Xc^T Xc`` (steep directions first).
        """
        alphas, scalar = check_alphas(alphas)
        out = _scores.ridge_filter(self._spectrum_for(alphas).s, alphas).fit
        return out[0] if scalar else out

    def dof(self, alphas):
        """Effective degrees of freedom ``sum s^2 / (s^2 + alpha)``: shape (n_alphas,).

        The trace of the penalized hat matrix, without the intercept (which adds 1).
        """
        alphas, scalar = check_alphas(alphas)
        out = _scores.ridge_filter(self._spectrum_for(alphas).s, alphas).dof
        return out[0] if scalar else out

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
        spectrum = self._spectrum_for(np.zeros(1))
        dofs, scalar = check_dofs(dofs, spectrum.rank)
        lam = spectrum.s ** 2
        r = lam.size
        out = np.zeros(dofs.size)
        for i, d in enumerate(dofs):
            if d >= r:
                continue
            # dof is decreasing in alpha; these bounds bracket the root (see dof's extremes).
            lo, hi = np.log(lam[-1] * (r - d) / d), np.log(lam[0] * r / d)
            out[i] = np.exp(brentq(lambda u: (lam / (lam + np.exp(u))).sum() - d,
                                   lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps))
        return out[0] if scalar else out

    # -- cross-validation ------------------------------------------------------------------
    def _grid(self, alphas):
        if alphas is None:
            return _scores.default_alphas(self)
        return check_alphas(alphas)[0]

    def _cv_result(self, alphas, flt, mse, spectrum, scoring, alpha_per_target, cv,
                   sst=None):
        """CVResult from mean squared errors; `sst` is the mean total sum of squares for
        'r2', by default that of all samples about their weighted mean."""
        if scoring == "r2" and sst is None:
            c = self._centering
            w = np.square(c.sw)
            sst = _scores.total_sum_of_squares(self._Y, w, weighted_sum(w, self._Y) / c.sum_w)
            sst /= c.sum_w
        return _scores.make_result(
            alphas, flt, mse, sst, spectrum=spectrum, centering=self._centering, scoring=scoring,
            alpha_per_target=alpha_per_target, y_was_1d=self._y_was_1d, dtype=self.dtype,
            cv=cv)

    def loo(self, alphas=None, *, scoring="mse", alpha_per_target=True):
        """Exact leave-one-out cross-validation for every alpha and target.

        The leave-one-out error of sample i is ``(y_i - yhat_i) / (1 - h_i)`` with the
        diagonal of the hat matrix ``h_i = w_i / sum(w) [intercept] + sum_j U_ij^2
        s_j^2 / (s_j^2 + alpha)``, exact with sample weights and intercept. Computed by a
        fused compiled kernel in blocks of targets (memory O(n_samples x block)).

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
        alphas = self._grid(alphas)
        scoring = check_scoring(scoring)
        alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
        spectrum = self._spectrum_for(alphas)
        flt = _scores.ridge_filter(spectrum.s, alphas)
        mse = _scores.loo_sse(spectrum, self._centering, self._Y, flt, alphas) / \
            self._centering.sum_w
        return self._cv_result(alphas, flt, mse, spectrum, scoring, alpha_per_target, "loo")

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
        alphas = self._grid(alphas)
        scoring = check_scoring(scoring)
        alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
        spectrum = self._spectrum_for(alphas)
        flt = _scores.ridge_filter(spectrum.s, alphas)
        mse = _scores.gcv_mse(spectrum, self._centering, flt, alphas)
        return self._cv_result(alphas, flt, mse, spectrum, scoring, alpha_per_target, "gcv")


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
        ``fit_intercept``, ``sample_weight``, ``method``: see :class:`RidgeSolver`.

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
