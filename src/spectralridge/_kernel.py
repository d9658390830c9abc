"""Kernel ridge regression for every alpha from one eigendecomposition of the kernel.

For a positive semi-definite kernel ``K`` (n x n) and sample weights ``w`` (``S = diag(sqrt
w)``), kernel ridge minimizes ``sum_i w_i (y_i - f(x_i) - b)^2 + alpha ||f||_H^2`` over
``f`` in the kernel's Hilbert space. With an intercept the kernel is centred with the
weights, ``Kc = (I - 1 w^T / sum w) K (I - w 1^T / sum w)`` (the Gram matrix of the centred
feature map), and ``b`` is not penalized; without one, ``Kc = K``. With the eigendecomposition
``S Kc S = Q diag(lam) Q^T`` (``lam`` descending, rank r) every alpha costs O(n r k):

* dual coefficients ``c(alpha) = D (S Q diag(1 / (lam + alpha)) Q^T S (Y - ym))`` with ``D =
  I - w 1^T / sum w`` (identity without intercept), so that ``f(x) = k(x, X) c + b`` and
  ``b = ym - (K w / sum w)^T c``;
* hat matrix ``H = w / sum w [intercept] + Q diag(lam / (lam + alpha)) Q^T`` (in the weighted
  scale): exact leave-one-out and GCV for all alphas and targets from the one ``eigh``;
* K-fold: one ``eigh`` of each training kernel, the held-out rows through the centred cross
  kernel.

This is linear ridge regression with the feature map's Gram matrix in place of ``Xc Xc^T``
(``method='kernel'`` of :class:`~spectralridge.RidgeSolver`, whose ``U``, ``s`` and ``R``
these are), so the leave-one-out, GCV and selection code is the one of the linear solver.
Eigenvalues down to ``-sqrt(eps) lam_max`` (``eps`` of the kernel's dtype: rounding of the
kernel and of ``eigh``) are treated as zero; more negative ones raise a ``ValueError``, as do
non-square and non-symmetric kernels.
"""

import dataclasses
import numbers

import numpy as np

from . import _core, _scores
from ._filters import ridge_alphas_for_dof
from ._solver import apply_path
from ._spectrum import Centering, Spectrum, gram_eigen, project, weighted_sum
from ._validation import (as_array, as_sparse, check_alphas, check_bool, check_cv, check_dofs,
                          check_groups, check_kernel_matrix, check_kernel_psd, check_on_host,
                          check_rule, check_sample_weight, check_scoring, check_shapes,
                          is_array_api_input, is_dask_input, is_sparse)

KERNELS = ("linear", "poly", "polynomial", "rbf", "laplacian", "sigmoid", "cosine",
           "additive_chi2", "chi2", "precomputed")


def kernel_matrix(X, Y=None, *, kernel="linear", gamma=None, degree=3, coef0=1,
                  kernel_params=None):
    """The kernel between the rows of `X` and `Y` (default `X`), as scikit-learn's
    :class:`~sklearn.kernel_ridge.KernelRidge` computes it: float64 (n_X, n_Y).

    ``'precomputed'``: `X` is already the kernel. Other names and callables go to
    :func:`sklearn.metrics.pairwise.pairwise_kernels` (``gamma``, ``degree`` and ``coef0``
    for a name, ``kernel_params`` for a callable), which needs scikit-learn; ``'linear'``
    without scikit-learn is ``X Y^T``.
    """
    if isinstance(kernel, str) and kernel == "precomputed":
        return np.asarray(X.toarray() if is_sparse(X) else X, dtype=np.float64)
    if not callable(kernel) and not (isinstance(kernel, str) and kernel in KERNELS):
        raise ValueError(f"kernel must be one of {KERNELS} or a callable, got {kernel!r}.")
    X64 = X.astype(np.float64)
    Y64 = X64 if Y is None else Y.astype(np.float64)
    try:
        from sklearn.metrics.pairwise import pairwise_kernels
    except ImportError:
        if kernel == "linear":
            out = X64 @ Y64.T
            return np.asarray(out.toarray() if is_sparse(out) else out)
        raise ImportError(f"kernel={kernel!r} needs scikit-learn (its pairwise_kernels); "
                          "install it or pass kernel='precomputed'.") from None
    params = (kernel_params or {}) if callable(kernel) else \
        {"gamma": gamma, "degree": degree, "coef0": coef0}
    return np.asarray(pairwise_kernels(X64, Y64, metric=kernel, filter_params=True, **params),
                      dtype=np.float64)


def dask_kernel(X, Y=None, **params):
    """The kernel between the rows of Dask (or NumPy) `X` and `Y` (default `X`) as a lazy
    Dask array (n_X, n_Y) float64: one task per pair of row blocks, each computed by
    :func:`kernel_matrix` (``'precomputed'``: `X` itself, as float64)."""
    import dask.array as da
    if params.get("kernel") == "precomputed":
        return da.asarray(X).astype(np.float64)
    A = da.asarray(X).rechunk({1: -1})
    B = A if Y is None else da.asarray(Y).rechunk({1: -1})
    return da.blockwise(lambda a, b: kernel_matrix(a, b, **params), "ij", A, "ik", B, "jk",
                        dtype=np.float64, concatenate=True)


def _in_memory(a, name, ndims):
    """A Dask array computed into memory (validated lazily first); other input as given."""
    if not is_dask_input(a):
        return a
    from .dask import check_dask_array
    return check_dask_array(a, name, ndims).compute()


class KernelRidgeSolver:
    r"""Kernel ridge regression for any number of alphas from one eigendecomposition.

    Minimizes ``sum_i w_i (y_i - f(x_i) - b)^2 + alpha ||f||_H^2`` (scikit-learn's
    :class:`~sklearn.kernel_ridge.KernelRidge` objective, plus an unpenalized intercept by
    centring the kernel when ``fit_intercept``) for every alpha from one ``eigh`` of the
    weighted, centred kernel. Leave-one-out and GCV are exact for every alpha and target
    (the hat matrix is known in closed form); see :mod:`spectralridge._kernel`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or (n_samples, n_samples) when
        ``kernel='precomputed'``
    Y : array-like of shape (n_samples,) or (n_samples, n_targets)
    kernel : str or callable, default='linear'
        As :class:`sklearn.kernel_ridge.KernelRidge`: ``'precomputed'``, a name of
        :func:`sklearn.metrics.pairwise.pairwise_kernels` or a callable.
    gamma, degree, coef0, kernel_params
        As :class:`sklearn.kernel_ridge.KernelRidge`.
    fit_intercept : bool, default=True
        Fit an unpenalized intercept (the kernel is centred with the sample weights).
        ``False`` is scikit-learn's ``KernelRidge`` model.
    sample_weight : float or array-like of shape (n_samples,), default=None

    Attributes
    ----------
    eigenvalues : ndarray of shape (rank,)
        Eigenvalues of the weighted, centred kernel kept (descending, positive).
    rank : int
    X_fit_ : the training `X` (or kernel), as given

    Notes
    -----
    Dask `X` (or a Dask precomputed kernel): the kernel is computed from its row blocks, one
    task per pair of blocks, into memory (n x n float64); Dask `Y` and weights are computed
    too (the dual coefficients are n x n_targets), `X_fit_` stays lazy, and predictions of
    Dask rows are lazy. torch, CuPy or array_api_strict arrays: a
    ``DeviceKernelRidgeSolver`` (a subclass) forms the kernel, its ``eigh`` and every filter
    on their device, results there (``eigenvalues``, ``dof`` and the grids NumPy); see
    :mod:`spectralridge._kernel_device` for its kernels.

    Examples
    --------
    >>> import numpy as np
    >>> import spectralridge as sr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, (60, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(60)
    >>> solver = sr.KernelRidgeSolver(X, y, kernel="rbf", gamma=0.5)
    >>> result = solver.loo(np.logspace(-4, 1, 11))
    >>> result.coef.shape       # dual coefficients at the best alpha
    (60,)
    >>> solver.predict([[0.0], [1.5]], result.best_alpha).round(1)
    array([0.1, 1. ])
    """

    def __new__(cls, X=None, Y=None, **kwargs):
        if cls is KernelRidgeSolver and is_array_api_input(X, Y):  # computed on the device
            from ._kernel_device import DeviceKernelRidgeSolver
            cls = DeviceKernelRidgeSolver
        return super().__new__(cls)

    def __init__(self, X, Y, *, kernel="linear", gamma=None, degree=3, coef0=1,
                 kernel_params=None, fit_intercept=True, sample_weight=None):
        check_on_host("KernelRidgeSolver", X=X, Y=Y, sample_weight=sample_weight)
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self.kernel, self.gamma, self.degree, self.coef0 = kernel, gamma, degree, coef0
        self.kernel_params = kernel_params
        precomputed = isinstance(kernel, str) and kernel == "precomputed"
        if is_dask_input(X):
            from .dask import check_dask_array
            if is_sparse(X._meta):
                raise TypeError("X is a Dask array of sparse blocks: KernelRidgeSolver "
                                "needs dense Dask blocks.")
            X = check_dask_array(X, "X", (2,))
        else:
            X = as_sparse(X, "X") if is_sparse(X) and not precomputed else \
                as_array(X, "X", ndims=(2,))
        Y = as_array(_in_memory(Y, "Y", (1, 2)), "Y", ndims=(1, 2))
        Y, self._y_was_1d = check_shapes(X, Y)
        dtype = np.float32 if X.dtype == np.float32 and Y.dtype == np.float32 else np.float64
        self._Y = np.ascontiguousarray(Y, dtype=dtype)
        self.X_fit_ = X
        K = self._kernel_of(X)
        K = check_kernel_matrix(K, X.dtype if precomputed else np.float64)
        n = K.shape[0]
        sample_weight = _in_memory(sample_weight, "sample_weight", (1,))
        w = None if sample_weight is None else check_sample_weight(sample_weight, n)
        self._centering = Centering(K, self._Y, w, self.fit_intercept)  # xm = K w / sum w
        self._spectrum = _kernel_spectrum(K, self._Y, self._centering,
                                          X.dtype if precomputed else np.float64)

    @property
    def dtype(self):
        return self._Y.dtype

    @property
    def eigenvalues(self):
        return self._spectrum.lam.copy()

    @property
    def rank(self):
        return self._spectrum.rank

    def _shape(self, out, scalar):
        if self._y_was_1d:
            out = out[..., 0]
        return out[0] if scalar else out

    def _grid(self, alphas):
        return self.default_alphas() if alphas is None else check_alphas(alphas)[0]

    def default_alphas(self, n_alphas=30):
        """Log-spaced alphas whose effective dof span ``(0.0005, 0.9995) x rank``."""
        if not isinstance(n_alphas, numbers.Integral) or n_alphas < 2:
            raise ValueError(f"n_alphas must be an integer >= 2, got {n_alphas!r}.")
        return _scores.default_alphas(self, int(n_alphas))

    def alphas_for_dof(self, dofs):
        """Alphas at which ``sum lam / (lam + alpha)`` equals `dofs` (in ``(0, rank]``)."""
        dofs, scalar = check_dofs(dofs, self.rank)
        out = ridge_alphas_for_dof(self._spectrum.lam, dofs)
        return out[0] if scalar else out

    def dof(self, alphas):
        """Effective degrees of freedom ``sum lam / (lam + alpha)`` (without the
        intercept): shape (n_alphas,)."""
        alphas, scalar = check_alphas(alphas)
        dof = self._spectrum.ridge(alphas).dof
        return dof[0] if scalar else dof

    def dual_coef(self, alphas):
        """Dual coefficients ``c``: ndarray of shape (n_alphas, n_samples[, n_targets]).

        Those of scikit-learn's ``KernelRidge``, ``S (S Kc S + alpha I)^-1 S (Y - ym)``
        (then ``D``): for ``alpha > 0`` they include the part ``S E / alpha`` of the targets
        ``E`` outside the kernel's numerical range, which does not change predictions.
        """
        alphas, scalar = check_alphas(alphas)
        sp = self._spectrum
        out = _apply(sp.cast("V", self.dtype), sp, alphas, self.dtype, np.empty(0, self.dtype))
        E = self._outside() if (alphas > 0).any() else None
        if E is not None:
            for i in np.flatnonzero(alphas > 0):
                out[i] += (E / alphas[i]).astype(self.dtype)
        return self._shape(out, scalar)

    def _outside(self):
        """``D S (Yc - Q R)`` (n, k) float64: the dual coefficients' part outside the range
        of the kernel, times alpha; None where ``Q`` spans every direction of ``Yc`` (then
        it is zero up to rounding)."""
        c, sp = self._centering, self._spectrum
        if _scores.spanning(sp, c):
            return None
        E = c.sw[:, None] * np.subtract(self._Y, c.ym, dtype=np.float64)
        E -= sp.U @ sp.R
        E *= c.sw[:, None]
        if self.fit_intercept:
            E -= np.outer(np.square(c.sw) / c.sum_w, E.sum(axis=0))
        return E

    def intercept(self, alphas):
        """Intercepts ``ym - (K w / sum w)^T c``: ndarray of shape (n_alphas[, n_targets])."""
        alphas, scalar = check_alphas(alphas)
        c, sp, dtype = self._centering, self._spectrum, self.dtype
        B = np.zeros((1, sp.rank), dtype=dtype)
        if self.fit_intercept:
            _core.gemm(c.xm[None, :].astype(dtype), sp.cast("V", dtype), B, alpha=-1.0)
        out = _apply(B, sp, alphas, dtype, c.ym.astype(dtype) if self.fit_intercept else
                     np.empty(0, dtype))[:, 0]
        return self._shape(out, scalar)

    def predict(self, X, alphas):
        """Predictions ``k(X, X_fit) c + b``: ndarray of shape (n_alphas, n_new[, n_targets]).

        `X`: new samples, or for ``kernel='precomputed'`` their kernel against the training
        samples, of shape (n_new, n_samples).
        """
        alphas, scalar = check_alphas(alphas)
        K_new = self._cross_kernel(X)
        if is_dask_input(K_new):  # lazy, a block of new rows per task
            k = self._Y.shape[1]
            out = K_new.rechunk({1: -1}).map_blocks(
                self._predict_kernel, alphas, new_axis=0, dtype=self.dtype,
                chunks=((alphas.size,), K_new.chunks[0], (k,)))
        else:
            out = self._predict_kernel(K_new, alphas)
        return self._shape(out, scalar)

    def _predict_kernel(self, K_new, alphas):
        """Predictions (m, q, k) from the cross kernel `K_new` (q, n)."""
        B = self._held_out_basis(K_new, None)
        offset = self._centering.ym.astype(self.dtype) if self.fit_intercept else \
            np.empty(0, self.dtype)
        return _apply(B, self._spectrum, alphas, self.dtype, offset)

    def _params(self):
        return dict(kernel=self.kernel, gamma=self.gamma, degree=self.degree,
                    coef0=self.coef0, kernel_params=self.kernel_params)

    def _kernel_of(self, X, Z=None):
        """The kernel between the rows of `X` and `Z` (default `X`) in memory (float64):
        from Dask data one task per pair of row blocks, then computed."""
        if is_dask_input(X, Z):
            return np.asarray(dask_kernel(X, Z, **self._params()).compute())
        return kernel_matrix(X, Z, **self._params())

    def _cross_kernel(self, X):
        precomputed = isinstance(self.kernel, str) and self.kernel == "precomputed"
        n = self._Y.shape[0]
        if is_dask_input(X):
            from .dask import check_dask_array
            X = check_dask_array(X, "X", (2,))
            want = n if precomputed else self.X_fit_.shape[1]
            if X.shape[1] != want:
                raise ValueError(f"X has {X.shape[1]} columns, but the solver was fitted "
                                 f"with {want} {'samples' if precomputed else 'features'}.")
            return dask_kernel(X, None if precomputed else self.X_fit_, **self._params())
        if precomputed:
            K = as_array(X, "X", ndims=(2,))
            if K.shape[1] != n:
                raise ValueError(f"X must be the kernel between the new and the {n} training "
                                 f"samples, of shape (n_new, {n}); got shape {K.shape}.")
            return np.asarray(K, dtype=np.float64)
        X = as_sparse(X, "X") if is_sparse(X) else as_array(X, "X", ndims=(2,))
        if X.shape[1] != self.X_fit_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features, but the solver was fitted with "
                             f"{self.X_fit_.shape[1]} features.")
        return self._kernel_of(X, self.X_fit_)

    def _held_out_basis(self, K_new, sw):
        """``sw (Kc_new S Q) / s`` for the cross kernel `K_new` (q, n): centred as the
        training kernel, in the working dtype (no `sw`: 1)."""
        c, sp = self._centering, self._spectrum
        Kc = np.array(K_new, dtype=np.float64)
        if self.fit_intercept:
            Kc -= (Kc @ np.square(c.sw))[:, None] / c.sum_w
            Kc -= c.xm
            Kc += float(c.xm @ np.square(c.sw)) / c.sum_w
        Kc *= c.sw
        if sw is not None:
            Kc *= sw[:, None]
        B = np.empty((Kc.shape[0], sp.rank))
        _core.gemm(np.ascontiguousarray(Kc), sp.U, B)
        B /= sp.s
        return np.ascontiguousarray(B, dtype=self.dtype)

    # -- cross-validation ------------------------------------------------------------------
    def _result(self, alphas, mse, scoring, alpha_per_target, cv, sst=None, scale=None,
                rule="min", score_se=None):
        if scoring == "r2" and sst is None:
            c = self._centering
            w = np.square(c.sw)
            sst = _scores.total_sum_of_squares(self._Y, w, weighted_sum(w, self._Y) / c.sum_w,
                                               scale) / c.sum_w
        result = _scores.make_result(
            alphas, self._spectrum.ridge(alphas), mse, sst, spectrum=self._spectrum,
            centering=self._centering, scoring=scoring, alpha_per_target=alpha_per_target,
            y_was_1d=self._y_was_1d, dtype=self.dtype, cv=cv, scale=scale, rule=rule,
            score_se=score_se)
        best = np.atleast_1d(result.best_alpha)
        E = self._outside() if (best > 0).any() else None
        if E is None:
            return result
        with np.errstate(divide="ignore", invalid="ignore"):
            extra = np.where(best > 0, E / best, 0.0)
        coef = result.coef + (extra[:, 0] if self._y_was_1d else extra).astype(self.dtype)
        return dataclasses.replace(result, coef=coef)

    def loo(self, alphas=None, *, scoring="mse", alpha_per_target=True):
        """Exact leave-one-out for every alpha and target: :class:`~spectralridge.CVResult`.

        ``CVResult.coef`` holds the dual coefficients (n_samples[, n_targets]) at the best
        alpha(s). The error of sample i is ``(y_i - f_i) / (1 - h_i)`` with the hat diagonal
        ``h_i = w_i / sum w [intercept] + sum_j Q_ij^2 lam_j / (lam_j + alpha)``.

        References
        ----------
        Cawley, G. C., Talbot, N. L. C. (2004). Fast exact leave-one-out cross-validation of
        sparse least-squares support vector machines. Neural Networks 17(10), 1467-1475.
        """
        scoring = check_scoring(scoring)
        alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
        alphas = self._grid(alphas)
        scale, _ = _scores.target_scale(self._Y, self._centering, self._spectrum.yc_sq)
        mse = _scores.loo_sse(self._spectrum, self._centering, self._Y,
                              self._spectrum.ridge(alphas), alphas, scale=scale)
        return self._result(alphas, mse / self._centering.sum_w, scoring, alpha_per_target,
                            "loo", scale=scale)

    def gcv(self, alphas=None, *, scoring="mse", alpha_per_target=True):
        """Generalized cross-validation ``(RSS / sum w) / (1 - (dof + [intercept]) / n)^2``
        for every alpha and target: :class:`~spectralridge.CVResult` (dual coefficients)."""
        scoring = check_scoring(scoring)
        alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
        alphas = self._grid(alphas)
        scale, yc_sq = _scores.target_scale(self._Y, self._centering, self._spectrum.yc_sq)
        mse = _scores.gcv_mse(self._spectrum, self._centering, self._spectrum.ridge(alphas),
                              alphas, scale=scale, yc_sq=yc_sq)
        return self._result(alphas, mse, scoring, alpha_per_target, "gcv", scale=scale)

    def cross_validate(self, alphas=None, *, cv=5, scoring="mse", alpha_per_target=True,
                       groups=None, rule="min"):
        """K-fold (any splitter) for every alpha and target: one ``eigh`` of each training
        kernel, held-out errors pooled over folds (as :func:`~spectralridge.ridge_cv`).

        Parameters
        ----------
        cv : int, splitter or iterable of (train, test) index arrays, default=5
        groups : array-like of shape (n_samples,), default=None
            Passed to the splitter (with an int, group K-fold).
        rule : {'min', '1se'}, default='min'
            As :func:`~spectralridge.ridge_cv`: ``'1se'`` takes the most regularized alpha
            whose score is within one standard error (over the splits) of the best.

        Returns
        -------
        CVResult
            Refit on all data at the best alpha(s); ``coef`` holds dual coefficients.
        """
        scoring = check_scoring(scoring)
        alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
        rule = check_rule(rule, None)
        alphas = self._grid(alphas)
        n = self._Y.shape[0]
        groups = check_groups(groups, n, cv)
        X = self.X_fit_
        splits = check_cv(cv, X, self._Y, groups)
        if rule == "1se" and len(splits) < 2:
            raise ValueError(f"rule='1se' needs at least 2 splits, got {len(splits)}.")
        K = self._kernel()
        c, Y = self._centering, self._Y
        w = np.square(c.sw)
        scale, _ = _scores.target_scale(Y, c, self._spectrum.yc_sq)
        totals = _scores.SplitTotals(alphas.size, Y.shape[1], scoring, scale)
        mean = weighted_sum(w, Y) / c.sum_w
        for i, (train, test) in enumerate(splits):
            if not (w[train] > 0).any():
                raise ValueError(f"cv split {i}: every training sample has zero sample_weight.")
            sub = KernelRidgeSolver(K[np.ix_(train, train)], Y[train], kernel="precomputed",
                                    fit_intercept=self.fit_intercept, sample_weight=w[train])
            sp = sub._spectrum
            B = sub._held_out_basis(K[np.ix_(test, train)], c.sw[test])
            Y_test = np.ascontiguousarray(Y[test])
            sse = _scores.held_out_sse(B, sp, sp.ridge(alphas), Y_test, sub._centering.ym,
                                       c.sw[test], self.dtype, scale)
            sst = _scores.total_sum_of_squares(Y_test, w[test], mean, scale) if \
                scoring == "r2" else None
            totals.add(sse, w[test].sum(), sst)
        return self._result(alphas, totals.sse / totals.weight, scoring, alpha_per_target,
                            f"{len(splits)} splits",
                            sst=None if totals.sst is None else totals.sst / totals.weight,
                            scale=scale, rule=rule, score_se=totals.standard_errors())

    def _kernel(self):
        """The training kernel (formed again: the solver keeps only its eigenvectors)."""
        K = self._kernel_of(self.X_fit_)
        return (K + K.T) / 2


def _kernel_spectrum(K, Y, centering, dtype):
    """:class:`~spectralridge._spectrum.Spectrum` of the weighted, centred kernel: ``U = Q``,
    ``s = sqrt(lam)``, ``R = Q^T Yc``, and in place of ``V`` the map (n, r) from filtered
    ``R`` to dual coefficients, ``D S Q / s``. `K` (symmetric float64, C order: that of
    ``check_kernel_matrix``) is overwritten."""
    n = K.shape[0]
    c = centering
    w = np.square(c.sw)
    Kc = K.T  # Fortran order for LAPACK, without a copy: K is symmetric
    if c.fit_intercept:
        Kc -= c.xm[:, None]
        Kc -= c.xm[None, :]
        Kc += float(c.xm @ w) / c.sum_w
    Kc *= c.sw[:, None]
    Kc *= c.sw[None, :]
    lam, Q, r, lam_floor = gram_eigen(Kc, n, c.max_rank(n))
    check_kernel_psd(lam, dtype)
    s = np.sqrt(lam[:r])
    Q = np.ascontiguousarray(Q[:, :r])
    R, yc_sq = project(Q, Y, c.ym, c.sw)
    V = c.sw[:, None] * Q / s
    if c.fit_intercept:  # D = I - w 1^T / sum w (zero up to rounding: Q is orthogonal to sw)
        V -= np.outer(w / c.sum_w, V.sum(axis=0))
    return Spectrum("kernel", s, np.ascontiguousarray(V), R, yc_sq, lam_floor, U=Q)


def _apply(B, spectrum, alphas, dtype, offset):
    """``B diag(s / (lam + alpha)) R + offset`` for every alpha: (m, q, k) in `dtype`
    (``_solver.apply_path``: compressed over many alphas)."""
    return apply_path(np.ascontiguousarray(B, dtype=dtype), spectrum, spectrum.ridge(alphas),
                      offset, dtype)

