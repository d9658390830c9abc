"""Kernel ridge on a device: torch, CuPy and array_api_strict arrays.

The kernel, its weighted centring, ``eigh`` and every filter run in the input's namespace
and on its device, through the array-API backend of the engine: kernel ridge is linear ridge
with the kernel's rows as the design on the kernel route (:mod:`._kernel`), so the device
solver of :mod:`._array_api` on the kernel's spectrum gives leave-one-out, GCV, the
selection, the dual coefficients (its coefficients), intercepts and predictions (the cross
kernel's rows as new samples). What comes to the host is what that backend copies (spectral
quantities of size rank, score matrices of size n_alphas x n_targets) and the eigenvalues
for the positive semi-definiteness check. Kernels by name as scikit-learn's
``pairwise_kernels`` computes them: ``'linear'``, ``'rbf'``, ``'laplacian'``, ``'poly'`` /
``'polynomial'``, ``'sigmoid'``, ``'cosine'``, or ``'precomputed'``; others (and callables)
need host data or a precomputed kernel.
"""

import dataclasses
import threading

import numpy as np

from . import _scores
from ._array_api import (ArrayApiRidgeSolver, DeviceCentering, DeviceSpectrum, _project,
                         _Rows, check_device_data, namespace, sse_block, to_host)
from ._kernel import KernelRidgeSolver
from ._spectrum import Spectrum
from ._validation import (check_alphas, check_bool, check_cv, check_groups, check_kernel_psd,
                          check_rule, check_scoring, is_device_array)

DEVICE_KERNELS = ("linear", "rbf", "laplacian", "poly", "polynomial", "sigmoid", "cosine",
                  "precomputed")


def device_kernel(xp, A, B, kernel, gamma, degree, coef0, dtype):
    """The kernel between the rows of device arrays `A` and `B` (default `A`) in `dtype`,
    with scikit-learn's formulas and defaults (``gamma=None``: 1 / n_features)."""
    if not (isinstance(kernel, str) and kernel in DEVICE_KERNELS):
        raise ValueError(f"On a device, kernel must be one of {DEVICE_KERNELS}, got "
                         f"{kernel!r}: compute the kernel and pass kernel='precomputed', or "
                         "pass NumPy data.")
    A = xp.astype(A, dtype)
    if kernel == "precomputed":
        return A
    B = A if B is None else xp.astype(B, dtype)
    g = 1.0 / A.shape[1] if gamma is None else float(gamma)
    if kernel == "laplacian":  # exp(-gamma ||a - b||_1), a row of A at a time
        return xp.stack([xp.exp(-g * xp.sum(xp.abs(B - A[i, :]), axis=1))
                         for i in range(A.shape[0])])
    if kernel == "cosine":
        A = A / _row_norms(xp, A)
        B = B / _row_norms(xp, B)
    inner = A @ xp.matrix_transpose(B)
    if kernel in ("linear", "cosine"):
        return inner
    if kernel == "rbf":
        sq = xp.sum(A * A, axis=1)[:, None] + xp.sum(B * B, axis=1)[None, :] - 2.0 * inner
        return xp.exp(-g * xp.clip(sq, 0.0, None))
    if kernel == "sigmoid":
        return xp.tanh(g * inner + coef0)
    return (g * inner + coef0) ** degree


def _row_norms(xp, A):
    norms = xp.sqrt(xp.sum(A * A, axis=1))[:, None]
    return xp.where(norms > 0, norms, xp.ones_like(norms))


class DeviceKernelEngine(ArrayApiRidgeSolver):
    """The device solver on the spectrum of a kernel `K` (n, n): its coefficients are the
    dual coefficients (``V = D S Q / s``), ``xm = K w / sum w`` makes ``ym - xm^T c`` the
    intercept, and a cross kernel's rows are new samples."""

    def __new__(cls, *args, **kwargs):  # not RidgeSolver's choice of a backend
        return object.__new__(cls)

    def __init__(self, rules, K, Y, w, fit_intercept, y_was_1d, dtype):
        self.fit_intercept = fit_intercept
        self._requested_method = "kernel"
        self._rules, self._given, self._y_was_1d = rules, (K, Y), y_was_1d
        self.n_features_in_ = K.shape[1]
        self.penalty_factor, self._map = None, None
        self._centering = DeviceCentering(rules, K, Y, w, fit_intercept)
        self._X, self._Y = K, Y
        self._psd_dtype = dtype
        self._spectrum = _kernel_spectrum(rules, K, Y, self._centering, dtype)
        self._lock = threading.Lock()

    def outside(self):
        """``D S (Yc - Q R)`` (n, k) on the device: the dual coefficients' part outside the
        kernel's range, times alpha; None where ``Q`` spans every direction of ``Yc``."""
        c, sp = self._centering, self._spectrum
        if _scores.spanning(sp, c):
            return None
        xp = self._rules.xp
        E = (c.center_Y(self._Y) - sp.U @ sp.R) * c.sw[:, None]
        if self.fit_intercept:
            E = E - (c.w / c.sum_w)[:, None] * xp.sum(E, axis=0)[None, :]
        return E

    def with_outside(self, result):
        """`result` with the part outside the kernel's range added to its dual
        coefficients at the best alphas (as :class:`~spectralridge.KernelRidgeSolver`)."""
        best = np.atleast_1d(self.host_array(result.best_alpha)).astype(np.float64)
        E = self.outside() if (best > 0).any() else None
        if E is None:
            return result
        rules = self._rules
        inverse = rules.to_device(np.where(best > 0, 1.0 / np.where(best > 0, best, 1.0), 0.0),
                                  rules.compute)
        extra = rules.xp.astype(E * inverse[None, :], rules.work)
        return dataclasses.replace(result, coef=result.coef + (extra[:, 0] if self._y_was_1d
                                                               else extra))

    def fold_sse(self, splits, alphas, scoring):
        """Pooled held-out sums of squares over `splits` as ``_array_api._split_sse``, with
        one device solver of each training kernel and the held-out rows of the cross
        kernel."""
        rules, c = self._rules, self._centering
        xp = rules.xp
        K, Y = self._given
        m, k = alphas.size, Y.shape[1]
        mean = c.mean(Y) if scoring == "r2" else None
        scale, _ = self.target_scale()
        totals = _scores.SplitTotals(m, k, scoring, scale)
        for i, (train, test) in enumerate(splits):
            train_d, test_d = rules.index(train), rules.index(test)
            w_train = xp.take(c.w, train_d, axis=0)
            if not bool(xp.any(w_train > 0)):
                raise ValueError(f"cv split {i}: every training sample has zero "
                                 "sample_weight.")
            rows = xp.take(K, train_d, axis=0)
            sub = DeviceKernelEngine(rules, xp.take(rows, train_d, axis=1),
                                     xp.take(Y, train_d, axis=0), w_train,
                                     self.fit_intercept, False, self._psd_dtype)
            sp, sc = sub._spectrum, sub._centering
            sw_test = xp.take(c.sw, test_d, axis=0)
            K_test = xp.take(xp.take(K, test_d, axis=0), train_d, axis=1)
            B = ((K_test - sc.xm) * sw_test[:, None]) @ sp.cast("V_coef", rules.compute)
            Y_test = xp.take(Y, test_d, axis=0)

            def Yc_test(cols, Y_test=Y_test, ym=sc.ym, sw_test=sw_test):
                return (xp.astype(Y_test[:, cols], rules.compute) - ym[cols]) * \
                    sw_test[:, None]

            split_sse = np.zeros((m, k))
            U_test = B / rules.to_device(sp.s, rules.compute)
            sse_block(rules, xp.astype(U_test, rules.work), sp.cast("R", rules.work),
                      -sp.ridge(alphas).fit, Yc_test, None, scale, split_sse)
            w_test = xp.take(c.w, test_d, axis=0)
            split_sst = self._sst(Y_test, w_test, mean, scale) if scoring == "r2" else None
            totals.add(split_sse, float(xp.sum(w_test)), split_sst)
        return totals, scale


def _kernel_spectrum(rules, K, Y, centering, dtype):
    """The device spectrum of the weighted, centred kernel (as ``_kernel._kernel_spectrum``:
    ``U = Q``, ``R = Q^T Yc``, ``V = D S Q / s``); the eigenvalues checked on the host."""
    xp, c = rules.xp, centering
    n = K.shape[0]
    Kc = K
    if c.fit_intercept:
        Kc = Kc - c.xm[:, None] - c.xm[None, :] + float(to_host(c.xm @ c.w)) / c.sum_w
    Kc = Kc * c.sw[:, None] * c.sw[None, :]
    lam_dev, Q = xp.linalg.eigh(Kc)
    lam_dev, Q = xp.flip(lam_dev, axis=-1), xp.flip(Q, axis=-1)
    lam = to_host(lam_dev).astype(np.float64)
    check_kernel_psd(lam, dtype)
    max_rank = c.max_rank(n)
    lam_floor = max(float(lam[max_rank - 1]), 0.0) if max_rank > 0 else 0.0
    r = 0 if lam[0] <= 0 else min(max_rank, int(np.count_nonzero(
        lam > n * rules.eps * lam[0])))
    s = np.sqrt(lam[:r])
    Q = Q[:, :r]
    R, yc_sq = _project(rules, Q, Y, c)
    V = c.sw[:, None] * Q / rules.to_device(s, rules.compute)
    if c.fit_intercept:  # D = I - w 1^T / sum w
        V = V - (c.w / c.sum_w)[:, None] * xp.sum(V, axis=0)[None, :]
    host = Spectrum("kernel", s, None, None, yc_sq, lam_floor)
    return DeviceSpectrum("kernel", host, V, R, yc_sq, U=Q, centering=c)


def device_engine(solver, X, Y, sample_weight):
    """The :class:`DeviceKernelEngine` of a ``KernelRidgeSolver``'s device data, and the
    validated X (as given) and Y (2-D)."""
    rules, X, Y, w, y_was_1d = check_device_data(X, Y, sample_weight)
    precomputed = isinstance(solver.kernel, str) and solver.kernel == "precomputed"
    K = device_kernel(rules.xp, X, None, solver.kernel, solver.gamma, solver.degree,
                      solver.coef0, rules.compute)
    K = check_device_kernel(rules, K, np.float32 if precomputed and X.dtype == rules.xp.float32
                            else np.float64)
    return DeviceKernelEngine(rules, K, Y, w, solver.fit_intercept, y_was_1d,
                              np.float32 if rules.compute == rules.xp.float32 else
                              np.float64), X


def check_device_kernel(rules, K, dtype):
    """A square kernel, symmetric up to rounding of its `dtype` (as
    ``_validation.check_kernel_matrix``): returned symmetrized."""
    xp = rules.xp
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"The kernel must be square (n_samples, n_samples); got shape "
                         f"{tuple(K.shape)}. With kernel='precomputed', X is the kernel "
                         "matrix.")
    n = K.shape[0]
    KT = xp.matrix_transpose(K)
    asym = float(xp.max(xp.abs(K - KT))) if n else 0.0
    peak = float(xp.max(xp.abs(K))) if n else 0.0
    if not np.isfinite(peak):
        raise ValueError("Input kernel contains NaN or infinity.")
    if asym > 64 * n * np.finfo(dtype).eps * peak:
        raise ValueError(f"The kernel must be symmetric; its largest asymmetry {asym:.3g} "
                         "is beyond rounding.")
    return (K + KT) / 2


class DeviceKernelRidgeSolver(KernelRidgeSolver):
    """:class:`~spectralridge.KernelRidgeSolver` of device arrays (made by it): the same
    methods, results in the input's namespace on its device (``eigenvalues``, ``dof`` and
    the grids NumPy, as the device ``RidgeSolver``'s spectral quantities)."""

    def __init__(self, X, Y, *, kernel="linear", gamma=None, degree=3, coef0=1,
                 kernel_params=None, fit_intercept=True, sample_weight=None):
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self.kernel, self.gamma, self.degree, self.coef0 = kernel, gamma, degree, coef0
        self.kernel_params = kernel_params
        if kernel_params:
            raise ValueError("kernel_params (for a callable kernel) is not supported on a "
                             "device; pass kernel='precomputed'.")
        self._engine, self.X_fit_ = device_engine(self, X, Y, sample_weight)
        self._y_was_1d = self._engine._y_was_1d
        self._spectrum = self._engine._spectrum  # host eigenvalues for dof and the grids

    @property
    def dtype(self):
        return self._engine.dtype

    def dual_coef(self, alphas):
        alphas, scalar = check_alphas(alphas)
        engine = self._engine
        out = engine.ridge(alphas)._apply(self._spectrum.cast("V_coef", engine.dtype))
        E = engine.outside() if (alphas > 0).any() else None
        if E is not None:
            xp = engine._rules.xp
            inverse = engine.from_host(np.where(alphas > 0, 1.0 / np.where(
                alphas > 0, alphas, 1.0), 0.0))
            out = out + inverse[:, None, None] * xp.astype(E, engine.dtype)[None, :, :]
        return engine._shape(out, scalar)

    def intercept(self, alphas):
        return self._engine.intercept(alphas)

    def predict(self, X, alphas):
        engine = self._engine
        rules = engine._rules
        precomputed = isinstance(self.kernel, str) and self.kernel == "precomputed"
        xp_X, device = namespace(X, X)
        if xp_X is not rules.xp or device != rules.device:
            raise ValueError(f"X is on device {device} in {xp_X.__name__}, but the solver "
                             f"was fitted on {rules.device} in {rules.xp.__name__}.")
        n = engine._X.shape[0]
        want = n if precomputed else self.X_fit_.shape[1]
        if X.ndim != 2 or X.shape[1] != want:
            what = "its kernel against the training samples" if precomputed else \
                "the training features"
            raise ValueError(f"X must be of shape (n_new, {want}) ({what}), got shape "
                             f"{tuple(X.shape)}.")
        K_new = device_kernel(rules.xp, X, None if precomputed else self.X_fit_, self.kernel,
                              self.gamma, self.degree, self.coef0, rules.compute)
        return engine.predict(K_new, alphas)

    def loo(self, alphas=None, *, scoring="mse", alpha_per_target=True):
        return self._engine.with_outside(self._engine.loo(
            self._grid(alphas), scoring=scoring, alpha_per_target=alpha_per_target))

    def gcv(self, alphas=None, *, scoring="mse", alpha_per_target=True):
        return self._engine.with_outside(self._engine.gcv(
            self._grid(alphas), scoring=scoring, alpha_per_target=alpha_per_target))

    def cross_validate(self, alphas=None, *, cv=5, scoring="mse", alpha_per_target=True,
                       groups=None, rule="min"):
        scoring = check_scoring(scoring)
        alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
        rule = check_rule(rule, None)
        alphas = self._grid(alphas)
        engine = self._engine
        n = engine._X.shape[0]
        groups = check_groups(to_host(groups) if is_device_array(groups) else groups, n, cv)
        splits = check_cv(cv, _Rows(n), None, groups)
        if rule == "1se" and len(splits) < 2:
            raise ValueError(f"rule='1se' needs at least 2 splits, got {len(splits)}.")
        totals, scale = engine.fold_sse(splits, alphas, scoring)
        result = engine.cv_result(
            engine.ridge(alphas), totals.sse / totals.weight, scoring, alpha_per_target,
            f"{len(splits)} splits", sst=None if totals.sst is None else
            totals.sst / totals.weight, rule=rule, score_se=totals.standard_errors(),
            scale=scale)
        return engine.with_outside(result)
