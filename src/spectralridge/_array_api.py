"""The array-API backend: torch, CuPy and array_api_strict arrays, computed on their device.

One more backend of the engine, through ``array-api-compat`` (an optional dependency). The
data passes (centring, the decomposition, ``U^T Yc``, coefficients, predictions, the
leave-one-out and held-out residuals) run in the input's namespace and on its device; the
spectral algebra is the engine's own, on the host: filters (:mod:`._filters`), rank rules and
scale checks (:mod:`._spectrum`), the accuracy guard of the ``auto`` rule
(``Spectrum.accurate_for``), selection and the grid-edge warning (:mod:`._scores`).

Rules (all here):

* namespace: X, Y and an array `sample_weight` share one namespace and one device; anything
  else is a ``TypeError`` / ``ValueError`` naming the argument. Small parameters (alphas,
  penalty factors, split indices, groups) are host arrays.
* dtype: real floating or integer data; float16 / bfloat16 are refused (``TypeError``),
  complex too (``ValueError``). The working dtype (coefficients, intercepts, predictions,
  scores, the batched GEMMs of leave-one-out and K-fold) is float32 when X and Y are both
  float32, else float64. Centring, weights and the decomposition run in float64 where the
  device supports it (:func:`supports_float64`), else in float32, and ``method='auto'``
  then takes the SVD (the Gram routes would square a float32 condition number).
* host transfers, all O(r m + m k + p + k), never O(n): singular values (r), the filter
  matrices (m x r, built on the host and copied to the device), per-target norms and scales
  (k), the (m, k) score matrices (selection happens on the host), the best indices (k,
  copied back to the device), and scalar checks (finiteness, weights, leverage). Split
  indices produced on the host (n integers per split) are copied to the device.
* unpenalized columns (penalty factors of 0): :class:`DevicePenaltyMap` projects the
  penalized columns and the targets on the device; its u x u triangular factor comes to the
  host for the engine's collinearity check (``_penalty.check_free_rank``) and its inverse
  goes back.
* the spectral criteria (evidence, L-curve, discrepancy, quasi-optimality), the GCV
  refinement and the variance estimates of ``stats`` run on the host on the spectral problem
  (``lam`` and ``R^2``: ``R`` (r, k) is copied to the host once per decomposition); their
  results follow the rules of the engine's CVResult (scores, best alphas and indices,
  coefficients on the device, ``alphas`` and ``dof`` NumPy). The leave-one-out and K-fold
  refinements evaluate on the device (two n x r x k GEMMs, or one n_test x r x k product per
  split, per step) and copy k scores back per step. ``stats.coef_inference`` keeps the arrays
  with a target axis on the device and its target-free ones (``unscaled_variance``,
  ``df_resid``) NumPy; its p-values are scipy's, so reading them copies ``t`` to the host and
  the p-values back.
"""

import numbers
import threading

import numpy as np

import dataclasses

from . import _cv, _scores
from ._config import loo_compression_enabled, scratch_values
from ._criteria import SpectralProblem
from ._filters import Filter, ridge_filter
from ._scores import SAFE_SQ_MIN, SPAN_TOL
from ._solver import FilterPath, RidgeSolver
from ._spectrum import Spectrum, check_scale, dropped_ratios, starting_method, svd_ranks
from ._validation import (check_alphas, check_bool, check_cv, check_groups,
                          check_method, check_penalty_factor,
                          check_shapes, is_array_api_input, is_device_array)


# -- namespace, device and dtype rules ------------------------------------------------------
def _compat():
    try:
        import array_api_compat
    except ImportError:
        raise ImportError("torch, CuPy and array_api_strict input needs array-api-compat: "
                          "pip install 'spectralridge[array-api]'.") from None
    return array_api_compat


def _kind(a):
    if isinstance(a, np.ndarray):
        return "a NumPy ndarray"
    module = type(a).__module__.split(".")[0]
    return f"a {type(a).__name__}" if module == "builtins" else f"a {module} {type(a).__name__}"


def namespace(X, Y, sample_weight=None):
    """The namespace and device shared by the data arrays; errors name the argument."""
    compat = _compat()
    data = [("X", X), ("Y", Y)]
    if sample_weight is not None and not (isinstance(sample_weight, numbers.Real)
                                          and not isinstance(sample_weight, bool)):
        data.append(("sample_weight", sample_weight))
    lead = next((name, a) for name, a in data if is_device_array(a))
    xp = compat.array_namespace(lead[1])
    device = compat.device(lead[1])
    for name, a in data:
        if not is_device_array(a):
            raise TypeError(
                f"{name} is {_kind(a)} but {lead[0]} is {_kind(lead[1])}: pass X, Y and "
                "sample_weight as arrays of one namespace on one device (no array is moved "
                f"between host and device implicitly). Convert {name} with "
                f"{type(lead[1]).__module__.split('.')[0]}.asarray({name}, device=...).")
        if compat.array_namespace(a) is not xp:
            raise TypeError(f"{name} is {_kind(a)} but {lead[0]} is {_kind(lead[1])}: pass "
                            "the data arrays in one namespace.")
        if compat.device(a) != device:
            raise ValueError(f"{name} is on device {compat.device(a)} but {lead[0]} is on "
                             f"{device}: move them to one device.")
    return xp, device


def supports_float64(xp, device):
    """Whether `device` computes in float64 (not Apple MPS, nor array_api_strict's
    ``'no_float64'`` device)."""
    if getattr(device, "type", None) == "mps":
        return False
    try:
        return "float64" in xp.__array_namespace_info__().dtypes(device=device)
    except (AttributeError, TypeError):
        return True


def is_accelerator(xp, device):
    """Whether `device` is an accelerator: CuPy's, or a torch device other than the CPU
    (array_api_strict's devices are the CPU's)."""
    compat = _compat()
    if compat.is_cupy_namespace(xp):
        return True
    return compat.is_torch_namespace(xp) and getattr(device, "type", "cpu") != "cpu"


def _check_dtype(xp, a, name):
    """Refuse complex, half-precision and non-numeric arrays (by dtype, without a pass)."""
    dtype = a.dtype
    if xp.isdtype(dtype, "complex floating"):
        raise ValueError(f"Complex data not supported: {name} has dtype {dtype}.")
    if xp.isdtype(dtype, "real floating"):
        if dtype not in (xp.float32, xp.float64):
            raise TypeError(f"{name} has dtype {dtype}, which is not supported: convert it "
                            "to float32 or float64.")
    elif not xp.isdtype(dtype, ("integral", "bool")):
        raise TypeError(f"{name} must contain numbers, got an array of dtype {dtype}.")


def _check_finite(xp, a, name):
    if xp.isdtype(a.dtype, "real floating") and not bool(xp.all(xp.isfinite(a))):
        if bool(xp.any(xp.isnan(a))):
            raise ValueError(f"Input {name} contains NaN.")
        raise ValueError(f"Input {name} contains infinity or a value too large for "
                         f"dtype('{a.dtype}').")


class Rules:
    """Namespace, device and dtypes of one problem: ``work`` (results, batched GEMMs) and
    ``compute`` (centring, weights, decomposition)."""

    def __init__(self, xp, device, X_dtype, Y_dtype):
        self.xp, self.device = xp, device
        self.float64 = supports_float64(xp, device)
        self.compute = xp.float64 if self.float64 else xp.float32
        both32 = X_dtype == xp.float32 and Y_dtype == xp.float32
        self.work = xp.float32 if both32 or not self.float64 else xp.float64
        self.eps = float(np.finfo(np.float64 if self.float64 else np.float32).eps)
        self.eps_work = float(np.finfo(np.float32 if self.work == xp.float32 else
                                       np.float64).eps)
        self.np_work = np.float32 if self.work == xp.float32 else np.float64
        self.accelerator = is_accelerator(xp, device)

    @property
    def min_work(self):
        """The fewest multiply-adds of exact work for which compressed kernels are planned
        (more on an accelerator, where the planning on the host weighs more)."""
        return _scores.DEVICE_MIN_WORK if self.accelerator else _scores.LOWRANK_MIN_WORK

    def to_device(self, a, dtype=None):
        """A small host array on the device, in `dtype` (default: the working dtype)."""
        dtype = self.work if dtype is None else dtype
        a = np.ascontiguousarray(a, dtype=np.float64 if dtype == self.xp.float64 else
                                 np.float32)
        if not a.flags.writeable:  # a broadcast view: torch refuses to wrap it silently
            a = a.copy()
        return self.xp.asarray(a, dtype=dtype, device=self.device)

    def index(self, idx):
        """Host integer indices on the device."""
        return self.xp.asarray(np.ascontiguousarray(idx, dtype=np.int64), device=self.device)


def to_host(a):
    """A small device array as a NumPy array."""
    if isinstance(a, np.ndarray):
        return a
    compat = _compat()
    if compat.is_cupy_array(a):
        return a.get()
    if compat.is_torch_array(a):
        return a.detach().cpu().numpy()
    return np.from_dlpack(a)


def check_device_data(X, Y, sample_weight):
    """Validate device data: returns the :class:`Rules`, X, Y (2-D), the weights (in the
    compute dtype on the device, or None) and whether Y was 1-D."""
    xp, device = namespace(X, Y, sample_weight)
    for name, a, ndims in (("X", X, (2,)), ("Y", Y, (1, 2))):
        _check_dtype(xp, a, name)
        if a.ndim not in ndims:
            want = " or ".join(f"{d}-D" for d in ndims)
            raise ValueError(f"{name} must be {want}, got an array of shape "
                             f"{tuple(a.shape)} ({a.ndim}-D).")
    Y, y_was_1d = check_shapes(X, Y)
    rules = Rules(xp, device, X.dtype, Y.dtype)
    for name, a in (("X", X), ("Y", Y)):
        _check_finite(xp, a, name)
    w = None
    if sample_weight is not None:
        n = X.shape[0]
        if is_device_array(sample_weight):
            _check_dtype(xp, sample_weight, "sample_weight")
            if sample_weight.ndim != 1 or sample_weight.shape[0] != n:
                raise ValueError(f"sample_weight must have one entry per sample: expected "
                                 f"({n},), got shape {tuple(sample_weight.shape)}.")
            w = xp.astype(sample_weight, rules.compute)
            _check_finite(xp, w, "sample_weight")
        else:
            w = xp.full((n,), float(sample_weight), dtype=rules.compute, device=device)
        if bool(xp.any(w < 0)):
            i = int(to_host(xp.nonzero(w < 0)[0][:1])[0])
            raise ValueError(f"sample_weight must be non-negative, got sample_weight[{i}]="
                             f"{float(w[i])!r}.")
        if not bool(xp.any(w > 0)):
            raise ValueError("sample_weight must have at least one positive entry; all "
                             "weights are zero.")
    return rules, X, Y, w, y_was_1d


# -- centring and decompositions --------------------------------------------------------------
class _Scale:
    """What :func:`~spectralridge._spectrum.check_scale` asks of a design it refuses."""

    def __init__(self, xp, Xc):
        self._xp, self._Xc = xp, Xc

    def abs_max(self):
        return float(self._xp.max(self._xp.abs(self._Xc))) if self._Xc.size else 0.0


class DeviceCentering:
    """``Xc = sw (X - xm) / sqrt(c)``, ``Yc = sw (Y - ym)`` with device means (compute
    dtype); host scalars ``sum_w`` and ``n_effective``."""

    def __init__(self, rules, X, Y, w, fit_intercept, penalty_factor=None):
        xp, n = rules.xp, X.shape[0]
        self.rules, self.fit_intercept = rules, fit_intercept
        self.n_fixed, self.leverage = int(fit_intercept), None  # see DevicePenaltyMap
        self.w = xp.ones((n,), dtype=rules.compute, device=rules.device) if w is None else w
        self.sw = xp.sqrt(self.w)
        self.sum_w = float(xp.sum(self.w))
        self.n_effective = int(xp.sum(xp.astype(self.w > 0, xp.int64)))
        self.col_scale = None if penalty_factor is None else \
            rules.to_device(1.0 / np.sqrt(penalty_factor), rules.compute)
        self.xm = self.mean(X) if fit_intercept else \
            xp.zeros((X.shape[1],), dtype=rules.compute, device=rules.device)
        self.ym = self.mean(Y) if fit_intercept else \
            xp.zeros((Y.shape[1],), dtype=rules.compute, device=rules.device)

    def mean(self, A):
        """Weighted column means, refined by a second pass over ``A - mean`` (a constant
        column centres to exactly zero)."""
        xp = self.rules.xp
        A = xp.astype(A, self.rules.compute)
        mean = (self.w @ A) / self.sum_w
        return mean + (self.w @ (A - mean)) / self.sum_w

    def center_X(self, X, rows=None):
        """``sw (X - xm) / sqrt(c)`` in the compute dtype (of `rows`, an index array)."""
        xp = self.rules.xp
        sw = self.sw
        if rows is not None:
            X, sw = xp.take(X, rows, axis=0), xp.take(sw, rows, axis=0)
        Xc = (xp.astype(X, self.rules.compute) - self.xm) * sw[:, None]
        return Xc if self.col_scale is None else Xc * self.col_scale

    def center_Y(self, Y, cols=slice(None)):
        """``sw (Y - ym)`` of the targets `cols`, compute dtype."""
        xp = self.rules.xp
        return (xp.astype(Y[:, cols], self.rules.compute) - self.ym[cols]) * self.sw[:, None]

    def max_rank(self, n_features):
        return min(self.n_effective - self.n_fixed, n_features)

    def fixed_leverage(self):
        """The unpenalized part's share of the hat diagonal (n,): the leverage of the
        unpenalized columns and the intercept, ``w / sum(w)`` for the intercept alone, or
        None."""
        if self.leverage is not None:
            return self.leverage
        return self.w / self.sum_w if self.fit_intercept else None


class DevicePenaltyMap:
    """:class:`~spectralridge._penalty.PenaltyMap` on the device: the penalized columns and
    the targets projected on the complement of the unpenalized columns and the intercept
    (weighted), and the way back to all columns.

    The data passes run on the device (compute dtype): a Householder QR of the weighted,
    centred, normalized unpenalized block ``A = Q R`` (n x u), the least-squares
    coefficients ``G = R^-1 Q^T sw T`` of the penalized columns and the targets with one
    step of iterative refinement, the projected ``X_fit`` and ``Y_fit`` and the leverage
    ``||Q_i||^2 (+ w_i / sum(w))``. On the host: ``R`` (u x u), whose pivoted QR refuses
    collinear unpenalized columns (the engine's check), and ``R^-1``. Attributes as the
    engine's map: ``X_fit``, ``Y_fit``, ``free``, ``penalized``, ``penalty_factor`` (of the
    penalized columns), ``leverage``, ``n_fixed``, ``G_x`` (u, p'), ``G_y`` (u, k), ``xm``,
    ``zm``, ``ym`` (device, compute dtype).
    """

    def __init__(self, rules, X, Y, w, fit_intercept, penalty_factor):
        import scipy.linalg as sla
        from ._penalty import check_free_norms, check_free_rank
        xp = self.xp = rules.xp
        self.rules, self.fit_intercept = rules, fit_intercept
        self.free = np.flatnonzero(penalty_factor == 0)
        self.penalized = np.flatnonzero(penalty_factor > 0)
        self.penalty_factor = penalty_factor[self.penalized]
        self.n_features = X.shape[1]
        c = DeviceCentering(rules, X, Y, w, fit_intercept)  # the weighted means
        self.w, self.sw, self.sum_w = c.w, c.sw, c.sum_w
        free, pen = rules.index(self.free), rules.index(self.penalized)
        # columns [penalized, free] back in the order of X
        self.order = rules.index(np.argsort(np.concatenate([self.penalized, self.free])))
        self.xm, self.zm, self.ym = xp.take(c.xm, pen), xp.take(c.xm, free), c.ym
        X64 = xp.astype(X, rules.compute)
        Z = xp.take(X64, free, axis=1)
        self.Zc = Z - self.zm
        sw = self.sw[:, None]
        norms = to_host(xp.sqrt(xp.sum(xp.square(sw * Z), axis=0))).astype(np.float64)
        check_free_norms(norms, self.free)
        self._Q, R = xp.linalg.qr(sw * self.Zc / rules.to_device(norms, rules.compute))
        R = to_host(R).astype(np.float64)
        _, R_piv, piv = sla.qr(R, pivoting=True)
        check_free_rank(R_piv, piv, self.free, X.shape[0], fit_intercept, rules.eps)
        # G = C Q^T sw T with C = diag(1 / norms) R^-1 (u x u, on the host)
        C = sla.solve_triangular(R, np.eye(R.shape[0])) / norms[:, None]
        self._C = rules.to_device(C, rules.compute)
        self.leverage = xp.sum(self._Q * self._Q, axis=1)
        if fit_intercept:
            self.leverage = self.leverage + self.w / self.sum_w
        self.n_fixed = self.free.size + int(fit_intercept)
        x_dtype = xp.float32 if X.dtype == xp.float32 else rules.compute
        y_dtype = xp.float32 if Y.dtype == xp.float32 else rules.compute
        self.G_x, X_fit = self._project_out(xp.take(X64, pen, axis=1) - self.xm)
        self.X_fit = xp.astype(X_fit, x_dtype)
        self.G_y, Y_fit = self._project_out(xp.astype(Y, rules.compute) - self.ym)
        self.Y_fit = xp.astype(Y_fit, y_dtype)

    def _project_out(self, T):
        """The least-squares coefficients of `T` (n x q, compute dtype) on ``Zc`` and its
        residual (one step of iterative refinement)."""
        xp, sw = self.xp, self.sw[:, None]
        QT = xp.matrix_transpose(self._Q)
        G = self._C @ (QT @ (sw * T))
        T = T - self.Zc @ G
        step = self._C @ (QT @ (sw * T))
        return G + step, T - self.Zc @ step

    def centering(self, X_fit, Y_fit):
        """The device centring of the projected problem: no intercept, the penalized
        columns' factors, ``n_fixed`` fixed degrees of freedom and the leverage."""
        c = DeviceCentering(self.rules, X_fit, Y_fit, self.w, False, self.penalty_factor)
        c.n_fixed, c.leverage = self.n_fixed, self.leverage
        return c

    def coef(self, W):
        """Coefficients (..., n_features, k) of all columns from the penalized ones
        (..., n_penalized, k), in `W`'s dtype."""
        xp = self.xp
        W64 = xp.astype(W, self.rules.compute)
        out = xp.concat([W64, self.G_y - self.G_x @ W64], axis=-2)
        return xp.astype(xp.take(out, self.order, axis=W.ndim - 2), W.dtype)

    def intercept(self, W):
        """Intercepts (..., k) from the penalized coefficients (..., n_penalized, k)."""
        xp = self.xp
        if not self.fit_intercept:
            return xp.zeros(W.shape[:-2] + (W.shape[-1],), dtype=W.dtype,
                            device=self.rules.device)
        W64 = xp.astype(W, self.rules.compute)
        g = self.G_y - self.G_x @ W64
        return xp.astype(self.ym - self.xm @ W64 - self.zm @ g, W.dtype)

    def held_out(self, X, sw, V_coef):
        """Held-out basis ``sw (X_p - xm - (Z - zm) G_x) V_coef`` (q, r) and offset ``ym +
        (Z - zm) G_y`` (q, k) of new samples `X` (all columns; `sw` None: 1), compute
        dtype."""
        xp, rules = self.xp, self.rules
        X64 = xp.astype(X, rules.compute)
        Zc = xp.take(X64, rules.index(self.free), axis=1) - self.zm
        Xp = xp.take(X64, rules.index(self.penalized), axis=1) - self.xm - Zc @ self.G_x
        if sw is not None:
            Xp = Xp * sw[:, None]
        return Xp @ V_coef, self.ym + Zc @ self.G_y


def _target_blocks(n_rows, k):
    """Column slices of targets: about ``scratch_values()`` values of n_rows per block."""
    step = max(1, min(k, scratch_values() // max(1, n_rows)))
    return [slice(t0, min(k, t0 + step)) for t0 in range(0, k, step)]


class DeviceSpectrum:
    """Thin SVD ``Xc = U diag(s) V^T`` on the device: host ``s`` (and the engine's
    :class:`~spectralridge._spectrum.Spectrum` of it, for the ``auto`` rule's guard and
    filters), device ``V`` (p, r), ``R = U^T Yc`` (r, k) and ``U`` (n, r; formed from the
    data on first use for the Gram route)."""

    def __init__(self, method, host, V, R, yc_sq, *, U=None, X=None, centering=None):
        self.method, self.host = method, host
        self.V, self.R, self.yc_sq, self._U = V, R, yc_sq, U
        self._X, self._centering = X, centering
        self._casts = {}
        self._lock = threading.Lock()

    s = property(lambda self: self.host.s)
    lam = property(lambda self: self.host.lam)
    rank = property(lambda self: self.host.rank)
    ls_rank = property(lambda self: self.host.ls_rank)

    def accurate_for(self, alpha_min):
        return self.host.accurate_for(alpha_min)

    def ridge(self, alphas):
        return self.host.ridge(alphas)

    @property
    def U(self):
        if self._U is None:
            with self._lock:
                if self._U is None:
                    c = self._centering
                    self._U = (c.center_X(self._X) @ self.V) / c.rules.to_device(
                        self.s, c.rules.compute)
        return self._U

    def problem(self):
        """The criteria's :class:`~spectralridge._criteria.SpectralProblem` (host float64):
        ``R`` (r, k) copied to the host once, the weights' log-sum on the device."""
        with self._lock:
            if "problem" not in self._casts:
                c = self._centering
                xp = c.rules.xp
                R2 = np.square(to_host(self.R).astype(np.float64))
                base = np.zeros(R2.shape[1]) if _scores.spanning(self, c) else \
                    np.maximum(self.yc_sq - R2.sum(axis=0), 0.0)
                log_w = float(xp.sum(xp.log(xp.where(c.w > 0, c.w, xp.ones_like(c.w)))))
                self._casts["problem"] = SpectralProblem(
                    self.lam.astype(np.float64), R2, base, c.n_effective,
                    _scores.fixed_dof(c), c.sum_w, log_w)
        return self._casts["problem"]

    def cast(self, name, dtype):
        """``V``, ``V_coef`` (V divided by the square roots of the penalty factors), ``R``
        or ``U`` in `dtype`, cached."""
        key = (name, dtype)
        if key not in self._casts:
            xp = self._centering.rules.xp
            if name == "V_coef":
                c = self._centering.col_scale
                value = self.V if c is None else self.V * c[:, None]
            else:
                value = getattr(self, name)
            self._casts[key] = xp.astype(value, dtype)
        return self._casts[key]


def decompose(rules, X, Y, centering, method):
    """Factorize the centred `X` on its device by 'svd', 'gram' or 'kernel'; project `Y`."""
    xp = rules.xp
    n, p = X.shape
    max_rank = centering.max_rank(p)
    Xc = centering.center_X(X)
    check_scale(np.array([float(xp.sum(Xc * Xc))]), _Scale(xp, Xc))
    eps = rules.eps
    flip = lambda a: xp.flip(a, axis=-1)  # noqa: E731  (eigh: ascending)
    if method == "svd":
        U, s_dev, Vt = xp.linalg.svd(Xc, full_matrices=False)
        s = to_host(s_dev).astype(np.float64)
        r, ls_rank = svd_ranks(s, np.sqrt(max(n, p)) * eps * (s[0] if s.size else 0.0), n,
                               p, max_rank)
        if rules.float64 is False and r:  # the least-squares cutoff at float32's eps
            ls_rank = min(ls_rank, int(np.count_nonzero(s > max(n, p) * eps * s[0])))
        U, V = U[:, :r], xp.matrix_transpose(Vt[:r, :])
        R, yc_sq = _project(rules, U, Y, centering)
        host = Spectrum("svd", s[:r], None, None, yc_sq, 0.0, ls_rank=ls_rank)
        return DeviceSpectrum("svd", host, V, R, yc_sq, U=U, centering=centering)
    G = xp.matrix_transpose(Xc) @ Xc if method == "gram" else Xc @ xp.matrix_transpose(Xc)
    lam_dev, Q = xp.linalg.eigh(G)
    lam_dev, Q = flip(lam_dev), flip(Q)
    lam = to_host(lam_dev).astype(np.float64)
    lam_floor = max(float(lam[max_rank - 1]), 0.0) if max_rank > 0 else 0.0
    r = 0 if lam[0] <= 0 else min(max_rank, int(np.count_nonzero(lam > max(n, p) * eps *
                                                                  lam[0])))
    s = np.sqrt(lam[:r])
    s_dev = rules.to_device(s, rules.compute)
    if method == "gram":
        V = Q[:, :r]
        XtY = _cross(rules, Xc, Y, centering)  # Xc^T Yc (p, k)
        yc_sq = _yc_sq(rules, Y, centering)
        R = (xp.matrix_transpose(V) @ XtY) / s_dev[:, None]
        part = xp.matrix_transpose(Q[:, r:]) @ XtY if 0 < r < p else None
        U = None
    else:
        U = Q[:, :r]
        V = (xp.matrix_transpose(Xc) @ U) / s_dev
        R, yc_sq = _project(rules, U, Y, centering)
        part = None
        if 0 < r < n:  # Xc^T Yc in the dropped directions: Xc^T Q_d Q_d^T Yc
            Q_d = Q[:, r:]
            part = xp.matrix_transpose(Xc) @ (Q_d @ _project(rules, Q_d, Y, centering)[0])
    dropped = 0.0
    if part is not None:
        part_sq = to_host(xp.sum(part * part, axis=0))
        kept = to_host(xp.sqrt(xp.sum(xp.square(R * s_dev[:, None]), axis=0)))
        # dropped_ratios takes ||diag(s) R|| per target through its first row
        ratio = dropped_ratios(part_sq, s[:1], (kept / s[0])[None, :], yc_sq)
        dropped = float(ratio.max()) if ratio.size else 0.0
    host = Spectrum(method, s, None, None, yc_sq, lam_floor, dropped=dropped)
    return DeviceSpectrum(method, host, V, R, yc_sq, U=U, X=X, centering=centering)


def _project(rules, B, Y, centering):
    """``B^T Yc`` (device, compute dtype) and ``||Yc||^2`` per target (host float64), over
    blocks of targets."""
    xp = rules.xp
    parts, sq = [], []
    for cols in _target_blocks(Y.shape[0], Y.shape[1]):
        Yc = centering.center_Y(Y, cols)
        parts.append(xp.matrix_transpose(B) @ Yc)
        sq.append(to_host(xp.sum(Yc * Yc, axis=0)))
    return xp.concat(parts, axis=1), np.concatenate(sq).astype(np.float64)


def _cross(rules, Xc, Y, centering):
    xp = rules.xp
    return xp.concat([xp.matrix_transpose(Xc) @ centering.center_Y(Y, cols)
                      for cols in _target_blocks(Y.shape[0], Y.shape[1])], axis=1)


def _yc_sq(rules, Y, centering):
    xp = rules.xp
    return np.concatenate([to_host(xp.sum(xp.square(centering.center_Y(Y, cols)), axis=0))
                           for cols in _target_blocks(Y.shape[0], Y.shape[1])]
                          ).astype(np.float64)


# -- the solver -----------------------------------------------------------------------------
class ArrayApiRidgeSolver(RidgeSolver):
    r""":class:`~spectralridge.RidgeSolver` for torch, CuPy and array_api_strict arrays.

    Made by ``RidgeSolver(X, Y, ...)`` when `X`, `Y` (and an array `sample_weight`) are
    arrays of one array-API namespace on one device; same parameters, methods and shapes,
    results in that namespace on that device. Spectral quantities (``singular_values``,
    ``shrinkage``, ``dof``, ``alphas_for_dof``, default grids) are NumPy arrays: they are of
    size rank or n_alphas x rank. See :mod:`spectralridge._array_api` for the dtype and
    device rules and the list of what is copied to the host.
    """

    backend = "array_api"

    def __init__(self, X, Y, *, fit_intercept=True, sample_weight=None, method="auto",
                 penalty_factor=None):
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self._requested_method = check_method(method)
        rules, X, Y, w, self._y_was_1d = check_device_data(X, Y, sample_weight)
        self._rules, self._given = rules, (X, Y)
        self.n_features_in_ = X.shape[1]
        self.penalty_factor = check_penalty_factor(
            to_host(penalty_factor) if is_device_array(penalty_factor) else penalty_factor,
            X.shape[1])
        self._map = None  # unpenalized columns: the solver works on the projected problem
        if self.penalty_factor is not None and not self.penalty_factor.all():
            self._map = DevicePenaltyMap(rules, X, Y, w, self.fit_intercept,
                                         self.penalty_factor)
            X, Y = self._map.X_fit, self._map.Y_fit
            self._centering = self._map.centering(X, Y)
        else:
            self._centering = DeviceCentering(rules, X, Y, w, self.fit_intercept,
                                              self.penalty_factor)
        self._X, self._Y = X, Y
        self._spectrum = decompose(rules, X, Y, self._centering,
                                   starting_method(method, *X.shape, float64=rules.float64))
        self._lock = threading.Lock()

    @property
    def namespace(self):
        """The array namespace of the data and results (array-api-compat's)."""
        return self._rules.xp

    @property
    def device(self):
        return self._rules.device

    @property
    def dtype(self):
        """Working dtype of coefficients, intercepts, predictions and scores."""
        return self._rules.work

    def _decompose(self, method):
        return decompose(self._rules, self._X, self._Y, self._centering, method)

    def _path(self, decomposition, flt, grid, scalar, name):
        return DeviceFilterPath(self, decomposition, flt, grid, scalar, name)

    def _target_alphas(self, alphas):
        return check_alphas(to_host(alphas) if is_device_array(alphas) else alphas)[0]

    def _refit_rows(self, spectrum, flt, best):
        """Coefficients (p, k) and intercepts (k,) with filter row ``best[t]`` for target t:
        only the (m, r) factors and the k indices travel to the device."""
        rules, c = self._rules, self._centering
        xp = rules.xp
        factors = rules.to_device(flt.coef_factors(spectrum.s))  # (m, r)
        chosen = xp.matrix_transpose(xp.take(factors, rules.index(best), axis=0))  # (r, k)
        coef = spectrum.cast("V_coef", rules.work) @ (chosen * spectrum.cast("R", rules.work))
        if self._map is not None:
            return self._map.coef(coef), self._map.intercept(coef)
        intercept = c.ym - xp.astype(c.xm, rules.work) @ coef if self.fit_intercept else \
            xp.zeros((coef.shape[1],), dtype=rules.work, device=rules.device)
        return coef, xp.astype(intercept, rules.work)

    # -- the hooks of the criteria (``_criteria.CriteriaMixin``) and of ``stats`` -------
    @property
    def _host_dtype(self):
        return self._rules.np_work

    @staticmethod
    def host_array(a):
        return to_host(a) if is_device_array(a) else np.asarray(a)

    def problem_for(self, alphas):
        """The spectrum for `alphas` and its spectral problem, on the host."""
        spectrum = self.spectrum_for(alphas)
        return spectrum, spectrum.problem()

    def _place(self, result):
        """The per-target arrays of a host-built CVResult on the device (as
        :meth:`cv_result` leaves them); coefficients are there already."""
        rules = self._rules
        moved = {}
        for name in ("scores", "best_alpha", "best_score", "score_se"):
            if isinstance(getattr(result, name), np.ndarray):
                moved[name] = rules.to_device(getattr(result, name))
        if isinstance(result.best_index, np.ndarray):
            moved["best_index"] = rules.index(result.best_index)
        if isinstance(result.at_grid_edge, np.ndarray):
            moved["at_grid_edge"] = rules.xp.asarray(result.at_grid_edge,
                                                     device=rules.device)
        return dataclasses.replace(result, **moved)

    def _loo_refiner(self, spectrum):
        return DeviceLooRefiner(self, spectrum)

    def held_out_basis(self, X, spectrum):
        """``(X - xm) V_coef`` (n_new, r), compute dtype, of new device samples `X`
        (validated: namespace, device, dtype, shape, finiteness); with unpenalized columns
        the pair (basis, offset) of ``DevicePenaltyMap.held_out``."""
        rules = self._rules
        xp = rules.xp
        if not is_device_array(X):
            raise TypeError(f"X is {_kind(X)} but the solver was fitted on "
                            f"{_kind(self._X)}: pass X in the same namespace.")
        xp_X, device = namespace(X, X)
        if xp_X is not xp or device != rules.device:
            raise ValueError(f"X is on device {device} in {xp_X.__name__}, but the solver "
                             f"was fitted on {rules.device} in {xp.__name__}.")
        _check_dtype(xp, X, "X")
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got an array of shape {tuple(X.shape)} "
                             f"({X.ndim}-D).")
        if X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a "
                             "minimum of 1 is required.")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but the solver is expecting "
                             f"{self.n_features_in_} features as input.")
        _check_finite(xp, X, "X")
        if self._map is not None:
            return self._map.held_out(X, None, spectrum.cast("V_coef", rules.compute))
        return (xp.astype(X, rules.compute) - self._centering.xm) @ \
            spectrum.cast("V_coef", rules.compute)

    def from_host(self, a, dtype=None):
        """A host array on the device, in `dtype` (NumPy's; default: the working dtype;
        float64 becomes float32 on a device without it)."""
        rules = self._rules
        if dtype is np.bool_:
            return rules.xp.asarray(np.asarray(a), device=rules.device)
        want = rules.work if dtype is None else \
            rules.xp.float64 if dtype == np.float64 and rules.float64 else rules.xp.float32
        return rules.to_device(a, want)

    def loo_errors(self, alphas):
        """Not on the device: it is an n_alphas x n_samples x n_targets array."""
        raise NotImplementedError("loo_errors (n_alphas x n_samples x n_targets values) is "
                                  "not available for array-API input; loo() gives the "
                                  "scores without forming it.")

    def target_scale(self, spectrum=None):
        """``_scores.power_scale`` of the device targets (host, (k,)); the targets whose
        ``||Yc||^2`` was not summed safely are passed over on the device."""
        rules, c = self._rules, self._centering
        xp = rules.xp

        def columns(redo):
            idx = rules.index(redo)
            return xp.take(self._Y, idx, axis=1), xp.take(c.ym, idx, axis=0)

        def peaks(redo):
            Y, ym = columns(redo)
            return to_host(xp.max(xp.abs(xp.astype(Y, rules.compute) - ym), axis=0))

        def sums(redo, scale):
            Y, ym = columns(redo)
            return self._sst(Y, c.w, ym, scale)
        return _scores.power_scale(self._spectrum.yc_sq, peaks, sums,
                                   SAFE_SQ_MIN if rules.float64 else 2.0 ** -100)

    def _sst(self, Y, w, mean, scale):
        """``sum_i w_i (scale (y_i - mean))^2`` per target (host float64): the device's
        ``_scores.total_sum_of_squares``."""
        xp, rules = self._rules.xp, self._rules
        D = (xp.astype(Y, rules.compute) - mean) * rules.to_device(scale, rules.compute)
        return to_host(w @ (D * D)).astype(np.float64)

    def mean_total_ss(self, scale=None):
        """The denominator of R^2 per target (host (k,)), of `Y` as given: see
        ``RidgeSolver.mean_total_ss``."""
        c, Y = self._centering, self._given[1]
        scale = np.ones(Y.shape[1]) if scale is None else scale
        return self._sst(Y, c.w, c.mean(Y), scale) / c.sum_w


class DeviceFilterPath(FilterPath):
    """A spectral filter over a grid on a device solver: ``factors`` and ``dof`` NumPy
    (host), everything else on the device; ``coef``, ``intercept`` and ``predict`` are
    :class:`~spectralridge.FilterPath`'s, on the device's application of the filter."""

    def _apply(self, B, offset=None):
        """``B diag(fit / s) R + offset`` for every grid value: (m, q, k), one batched
        GEMM per block of targets; over many alphas by the factors of the NumPy path
        (``_solver.apply_path``): ``A Z`` with ``Z_l = B_g diag(B_f[l]) R_g`` per block g of
        eigenvalues, the targets with a pair the bound does not prove by the exact
        product."""
        rules = self._solver._rules
        xp = rules.xp
        C = self.filter.coef_factors(self.spectrum.s)  # (m, r) host
        R = self.spectrum.cast("R", rules.work)
        B = xp.astype(B, rules.work)
        offset = None if offset is None else xp.astype(offset, rules.work)
        (m, r), (q, k) = C.shape, (B.shape[0], R.shape[1])
        plan = None
        if loo_compression_enabled() and _scores.compression_pays(m, r, q, k, rules.min_work):
            if "plan" not in self._memo:
                R_abs = xp.abs(self.spectrum.cast("R", rules.compute))
                R_sq = (R_abs * rules.to_device(_scores.peak_scale(
                    to_host(xp.max(R_abs, axis=0)).astype(np.float64), np.float64),
                    rules.compute)) ** 2
                self._memo["plan"] = _scores.path_factors(
                    C, lambda M: to_host(rules.to_device(M, rules.compute) @ R_sq).astype(
                        np.float64), np.dtype(rules.np_work),
                    float(np.finfo(np.float64 if rules.compute == xp.float64 else
                                   np.float32).eps))
            plan = self._memo["plan"]
        F = rules.to_device(C)
        if plan is None:
            return xp.concat([self._exact(B, F, R[:, cols], offset, cols)
                              for cols in _target_blocks(m * max(q, r), k)], axis=2)
        A, B_f, (cols, ranks), redo = plan
        A = rules.to_device(A)
        blocks = [(slice(int(j0), int(j1)), rules.to_device(np.ascontiguousarray(
            B_f[l0:l1, j0:j1]))) for j0, j1, l0, l1 in zip(cols[:-1], cols[1:], ranks[:-1],
                                                         ranks[1:])]
        again = redo.any(axis=0)
        order = np.concatenate([np.flatnonzero(~again), np.flatnonzero(again)])
        if again.any():
            R = xp.take(R, rules.index(order), axis=1)
            offset = None if offset is None else xp.take(offset, rules.index(order))
        good = k - int(again.sum())
        parts = []
        for t in _target_blocks((m + A.shape[1]) * max(q, r), good):
            R_t = R[:, t]
            Z = xp.concat([xp.reshape(B[:, j] @ (B_g[:, :, None] * R_t[None, j, :]),
                                      (B_g.shape[0], q * (t.stop - t.start)))
                           for j, B_g in blocks], axis=0)
            out = xp.reshape(A @ Z, (m, q, t.stop - t.start))
            parts.append(out if offset is None else out + offset[t])
        parts += [self._exact(B, F, R[:, good + t.start:good + t.stop], offset,
                              slice(good + t.start, good + t.stop))
                  for t in _target_blocks(m * max(q, r), k - good)]
        out = xp.concat(parts, axis=2)
        del parts  # at most two outputs at once
        return out if good == k else xp.take(out, rules.index(np.argsort(order)), axis=2)

    @staticmethod
    def _exact(B, F, R_t, offset, cols):
        out = B @ (F[:, :, None] * R_t[None, :, :])
        return out if offset is None else out + offset[cols]

    def _cast(self, a):
        return self._solver._rules.xp.astype(a, self._solver._rules.work)

    def _intercept_basis(self):
        solver = self._solver
        rules, c = solver._rules, solver._centering
        V = self.spectrum.cast("V_coef", rules.compute)
        if solver.fit_intercept:
            return -(c.xm[None, :] @ V)
        return rules.xp.zeros((1, V.shape[1]), dtype=rules.work, device=rules.device)

    def _new_basis(self, X):
        return self._solver.held_out_basis(X, self.spectrum)

    def _loo_mse(self):
        solver = self._solver
        scale, _ = solver.target_scale()
        sse = loo_sse(solver, self.spectrum, self.filter, self.grid, scale, self.name)
        return sse / solver._centering.sum_w, scale

    def _gcv_mse(self):
        solver = self._solver
        rules, c, sp = solver._rules, solver._centering, self.spectrum
        xp = rules.xp
        scale, yc_sq = solver.target_scale()
        Rs = sp.R * rules.to_device(scale, rules.compute)
        R2 = Rs * Rs
        if _scores.spanning(sp, c):
            base = np.zeros(R2.shape[1])
        else:
            base = np.maximum(yc_sq - to_host(xp.sum(R2, axis=0)), 0.0)
        rss = base + to_host(rules.to_device(np.square(self.filter.resid), rules.compute) @
                             R2)
        return _scores.gcv_of_rss(rss, c, self.filter, self.grid, self.name), scale


# -- exact leave-one-out and held-out errors: blocked GEMMs with the epilogue on the device --
def _block_sizes(n_rows, r, m, k):
    """Target and alpha block sizes: an (m_b, n_rows, k_b) residual block holds about
    ``scratch_values()`` values."""
    width = max(n_rows, r, 1)
    budget = scratch_values()
    k_b = max(1, min(k, budget // width))
    m_b = max(1, min(m, budget // (width * k_b)))
    return k_b, m_b


def sse_block(rules, U, R, F, Yc, S, scale, out, compress=None, stats=None):
    """Add ``sum_i (scale (Yc_i + U_i diag(F_a) R) S_ia)^2`` to ``out[a, t]`` (host float64
    (m, k)) over target and alpha blocks: `U` (q, d), `R` (d, k) on the device in the working
    dtype, `F` (m, d) host, `Yc` a function of a column slice giving those columns of ``Yc``
    (q, k_b), or None (residuals from U alone), `S` (q, m) or None (no row scaling), `scale`
    host (k,). Never forms more than one (m_b, q, k_b) block.

    With many alphas (as ``_scores.loo_sse_rows``, where `compress`, by default
    :func:`~spectralridge.loo_compression_enabled`, allows and it saves work) `F` is factored
    on the host as ``A B`` of rank ``c = sum_g q_g`` with ``B`` block-diagonal over blocks of
    ``w_g`` eigenvalues (as the NumPy kernel's), and the residuals come from ``Z_l = U_g
    diag(B_l) R_g`` (per block g, q_g batched GEMMs) and ``A Z``: ``sum_g q_g w_g q k + m c q
    k`` multiply-adds instead of ``m q d k``. Its certificate is the entrywise one of
    :func:`~spectralridge._scores.entrywise_bound`: with ``P = |U| |R|`` and ``eps_a >= max_j |F - A B|_aj`` the bound ``eps_a^2 sum_i S_ia^2
    P_it^2`` on the squared error proves each sum within ``LOWRANK_RTOL`` (relative) of the
    exact one, or the pair's alpha is recomputed by the exact product on that block of
    targets. `stats`, a dict if given, receives the ranks used and the recomputed pairs.
    """
    q, d = U.shape
    m, k = F.shape[0], R.shape[1]
    compress = loo_compression_enabled() if compress is None else compress
    factors = _factors(rules, F, q, k) if compress else None
    if factors is None:
        _exact_sse(rules, U, R, rules.to_device(F), Yc, S, scale, out, np.arange(m), k)
        return
    xp, work, acc = rules.xp, rules.work, rules.compute
    A, blocks, eps = factors
    k_b, _ = _block_sizes(q, d, m, k)
    k_b = max(1, min(k_b, scratch_values() // max(1, q * A.shape[1])))  # Z: (c, q, k_b)
    m_b = max(1, min(m, scratch_values() // (max(q, d, 1) * k_b)))  # E: (m_b, q, k_b)
    scale_dev = rules.to_device(scale, work)
    absU = xp.abs(U)
    S2 = None if S is None else xp.astype(S * S, acc)
    eps_acc = float(np.finfo(np.float64 if acc == xp.float64 else np.float32).eps)
    grow = (1 + 4 * (d + 2) * rules.eps_work) * (1 + 2 * (q + 4) * eps_acc)
    rtol = _scores.LOWRANK_RTOL[np.dtype(rules.np_work)]
    F_dev = rules.to_device(F)
    for t0 in range(0, k, k_b):
        cols = slice(t0, min(k, t0 + k_b))
        kb = cols.stop - cols.start
        R_t = R[:, cols] * scale_dev[cols]
        Y_t = None if Yc is None else \
            xp.astype(Yc(cols), work)[None, :, :] * scale_dev[cols]
        P = absU @ xp.abs(R_t)                                              # (q, kb)
        P2 = xp.astype(P * P, acc)
        Z = xp.concat([xp.reshape(U[:, j] @ (B_g[:, :, None] * R_t[None, j, :]),
                                  (B_g.shape[0], q * kb)) for j, B_g in blocks], axis=0)
        part = np.zeros((A.shape[0], kb))
        for b0 in range(0, A.shape[0], m_b):
            b = slice(b0, min(A.shape[0], b0 + m_b))
            E = xp.reshape(A[b, :] @ Z, (b.stop - b0, q, kb))
            if Y_t is not None:
                E = E + Y_t
            if S is not None:
                E = E * xp.matrix_transpose(S[:, b])[:, :, None]
            E = xp.astype(E, acc)
            part[b] = to_host(xp.sum(E * E, axis=1))
        bound = to_host(xp.matrix_transpose(S2) @ P2) if S2 is not None else \
            np.broadcast_to(to_host(xp.sum(P2, axis=0)), part.shape)
        redo = ~_scores.certified(part, bound * np.square(eps)[:, None] * grow, rtol)
        if stats is not None:
            stats.setdefault("ranks", []).append(A.shape[1])
            stats["recomputed"] = stats.get("recomputed", 0) + int(redo.sum())
            stats["pairs"] = stats.get("pairs", 0) + redo.size
        again = np.flatnonzero(redo.any(axis=1))
        if again.size:  # the exact product for those alphas on this block of targets
            exact = np.zeros((again.size, kb))
            _exact_sse(rules, U, R_t, xp.take(F_dev, rules.index(again), axis=0),
                       None if Y_t is None else (lambda c, Y_t=Y_t: Y_t[0, :, c]),
                       None if S is None else xp.take(S, rules.index(again), axis=1),
                       np.ones(kb), exact, np.arange(again.size), kb)
            part[again] = exact
        out[:, cols] += part


def _exact_sse(rules, U, R, F, Yc, S, scale, out, rows, k):
    """The exact kernel of :func:`sse_block`: `F` (m', d) on the device, its sums added to
    ``out[rows]``."""
    xp = rules.xp
    q, d = U.shape
    m = F.shape[0]
    k_b, m_b = _block_sizes(q, d, m, k)
    scale_dev = rules.to_device(scale, rules.work)
    acc = rules.compute
    for t0 in range(0, k, k_b):
        cols = slice(t0, min(k, t0 + k_b))
        R_t = R[None, :, cols]
        Y_t = None if Yc is None else xp.astype(Yc(cols), rules.work)[None, :, :]
        for a0 in range(0, m, m_b):
            a = slice(a0, min(m, a0 + m_b))
            E = U @ (F[a, :, None] * R_t)  # (m_b, q, k_b)
            if Y_t is not None:
                E = E + Y_t
            if S is not None:
                E = E * xp.matrix_transpose(S[:, a])[:, :, None]
            E = xp.astype(E * scale_dev[cols], acc)
            out[rows[a], cols] += to_host(xp.sum(E * E, axis=1))


def _factors(rules, F, q, k):
    """``(A, blocks, eps)``: the factors ``F ~= A B`` by blocks of eigenvalues of
    :func:`~spectralridge._scores._loo_factors` (on the host) where the compressed kernel
    saves work, else None; ``A`` (m, c) on the device, ``blocks`` the pairs of a column
    slice of ``F`` and its block of ``B`` (q_g, w_g) on the device."""
    factors = _scores._loo_factors(F, np.dtype(rules.np_work), q, k,
                                   min_work=rules.min_work)
    if factors is None:
        return None
    A, B, eps, (cols, ranks) = factors
    blocks = [(slice(int(cols[g]), int(cols[g + 1])),
               rules.to_device(np.ascontiguousarray(B[ranks[g]:ranks[g + 1],
                                                      cols[g]:cols[g + 1]])))
              for g in range(len(cols) - 1)]
    return rules.to_device(A), blocks, eps


def loo_sse(solver, spectrum, flt, grid, scale, name="alpha"):
    """Weighted sums of squared exact leave-one-out errors, (m, k) host float64.

    As ``_scores.loo_parts`` / ``loo_sse_rows``: rows inside the span of U (and the
    intercept) take residuals ``U diag(a / (lam + a)) R`` and ``1 - h`` both divided by
    ``a / (lam_min + a)`` (``Filter.resid_rel``), the others ``Yc - U diag(f) R`` and
    ``1 - h = o_i + sum_j U_ij^2 a / (lam_j + a)``; at ``alpha = 0`` only the least-squares
    directions count."""
    rules, c = solver._rules, solver._centering
    xp = rules.xp
    U = spectrum.U
    r = spectrum.rank
    out = np.zeros((grid.size, spectrum.R.shape[1]))
    zero = grid == 0
    parts = [(np.arange(grid.size), r, flt)]
    if spectrum.ls_rank < r and zero.any():
        pos = np.flatnonzero(~zero)
        parts = [(np.flatnonzero(zero), spectrum.ls_rank,
                  ridge_filter(spectrum.lam[:spectrum.ls_rank], grid[zero]))]
        if pos.size:
            parts.append((pos, r, Filter(flt.fit[pos], flt.resid[pos],
                                                 flt.resid_rel[pos])))
    spans = _scores.spanning(spectrum, c)
    fixed = c.fixed_leverage()
    for idx, d, part in parts:
        Ud = U[:, :d]
        U2 = Ud * Ud
        outside = 1.0 - xp.sum(U2, axis=1)
        if fixed is not None:
            outside = outside - fixed
        outside = xp.where(outside > 0, outside, xp.zeros_like(outside))
        inside = (c.w > 0) & (outside <= float(SPAN_TOL * (d + 1)))
        if spans and d == r:
            inside = c.w > 0
        for mask, targets in ((inside, False), (~inside, True)):
            rows = xp.nonzero(mask)[0]
            if rows.shape[0] == 0:
                continue
            U_g, U2_g = xp.take(Ud, rows, axis=0), xp.take(U2, rows, axis=0)
            hat = part.resid if targets else part.resid_rel
            F = -part.fit if targets else part.resid_rel
            one_minus_h = U2_g @ rules.to_device(np.ascontiguousarray(hat.T), rules.compute)
            if targets:
                one_minus_h = one_minus_h + xp.take(outside, rows, axis=0)[:, None]
            else:
                _check_leverage(xp, one_minus_h, rows, grid[idx], name)
            S = xp.astype(1.0 / one_minus_h, rules.work)
            Yc = None
            if targets:
                def Yc(cols, rows=rows):
                    return xp.take(c.center_Y(solver._Y, cols), rows, axis=0)
            part_out = np.zeros((idx.size, out.shape[1]))
            sse_block(rules, xp.astype(U_g, rules.work), spectrum.cast("R", rules.work)[:d, :],
                      np.ascontiguousarray(F), Yc, S, scale, part_out)
            out[idx] += part_out
    return out


def _check_leverage(xp, one_minus_h, rows, alphas, name):
    bad = ~(one_minus_h > 0)
    if bool(xp.any(bad)):
        flat = to_host(xp.astype(bad, xp.int8)).astype(bool)
        i, a = np.argwhere(flat)[0]
        sample = int(to_host(rows)[i])
        raise ValueError(
            f"Leave-one-out is undefined at {name}={float(alphas[a])!r}: sample {sample} has "
            "leverage 1 and nothing else predicts it (removing it leaves its fit "
            "undetermined). Use cv='gcv' or a splitter.")


class DeviceLooRefiner:
    """``_criteria._LooRefiner`` on the device: the weighted mean squared leave-one-out
    errors (host, (k',)) of the targets `idx` at one alpha each, for ``refine=True``.

    Residuals ``perp + U diag(g) R`` and ``1 - h = o + U^2 g`` with ``g = a / (lam + a)``
    formed on the device from the k' host alphas: two n x r x k' GEMMs per call in the
    working dtype, a block of targets at a time. ``perp = Yc - U R`` (zero on the rows inside
    the span of U and the intercept, whose residual is ``U diag(g) R`` alone) is formed once:
    n x k values of the working dtype, kept while the search runs.
    """

    def __init__(self, solver, spectrum):
        rules, c = solver._rules, solver._centering
        xp, work = rules.xp, rules.work
        self.rules, self.sum_w = rules, c.sum_w
        U = spectrum.U
        U2 = U * U
        outside = 1.0 - xp.sum(U2, axis=1)
        if c.fixed_leverage() is not None:
            outside = outside - c.fixed_leverage()
        zero = xp.zeros_like(outside)
        outside = xp.where(outside > 0, outside, zero)
        inside = (c.w > 0) & (outside <= float(SPAN_TOL * (spectrum.rank + 1)))
        if _scores.spanning(spectrum, c):
            inside = c.w > 0
        self.outside = xp.astype(xp.where(inside, zero, outside), work)
        keep = xp.astype(~inside, rules.compute)[:, None]
        n, k = solver._Y.shape
        self.perp = xp.concat(
            [xp.astype((c.center_Y(solver._Y, cols) - U @ spectrum.R[:, cols]) * keep, work)
             for cols in _target_blocks(n, k)], axis=1)
        self.U, self.U2 = xp.astype(U, work), xp.astype(U2, work)
        self.R = spectrum.cast("R", work)
        self.lam = rules.to_device(spectrum.lam)

    def __call__(self, alphas, idx=None):
        rules = self.rules
        xp = rules.xp
        a = rules.to_device(alphas)[None, :]
        g = a / (self.lam[:, None] + a)                                     # (r, k')
        R, perp = self.R, self.perp
        if idx is not None:
            cols = rules.index(idx)
            R, perp = xp.take(R, cols, axis=1), xp.take(perp, cols, axis=1)
        gR = g * R
        out = []
        for b in _target_blocks(perp.shape[0], alphas.size):
            resid = perp[:, b] + self.U @ gR[:, b]
            hat = self.outside[:, None] + self.U2 @ g[:, b]
            e = xp.astype(xp.where(resid == 0, xp.zeros_like(resid), resid / hat),
                          rules.compute)
            out.append(to_host(xp.sum(e * e, axis=0)))
        return np.concatenate(out).astype(np.float64) / self.sum_w


class DeviceFoldRefiner:
    """``_cv._FoldRefiner`` on the device: the pooled held-out mean squared error (host,
    (k',)) at one alpha per target, from each split's training spectrum and held-out basis
    (n_test x r, compute dtype): one (n_test x r) @ (r x k') product per split per call."""

    def __init__(self, solver, folds, weight, scale):
        self.rules, self.folds, self.weight, self.scale = solver._rules, folds, weight, scale

    def __call__(self, alphas, idx=None):
        rules = self.rules
        xp = rules.xp
        k = self.scale.size
        idx = np.arange(k) if idx is None else idx
        cols = rules.index(idx)
        scale = self.scale[idx]
        scale_dev = rules.to_device(scale, rules.compute)
        a = rules.to_device(alphas, rules.compute)[None, :]
        sse = np.zeros(idx.size)
        for B, spectrum, Yc_test in self.folds:
            s = rules.to_device(spectrum.s, rules.compute)[:, None]
            lam = rules.to_device(spectrum.lam, rules.compute)[:, None]
            gR = (s / (lam + a)) * xp.take(spectrum.R, cols, axis=1)
            resid = (Yc_test(cols) - B @ gR) * scale_dev
            sse += to_host(xp.sum(resid * resid, axis=0))
        return sse / np.square(scale) / self.weight


# -- K-fold and splitters -----------------------------------------------------------------------
def cv_splits(X, Y, cv, groups, kwargs):
    """The device solver of all rows and the (train, test) splits of `cv` (host)."""
    solver = ArrayApiRidgeSolver(X, Y, **kwargs)
    n = solver._X.shape[0]
    groups = check_groups(to_host(groups) if is_device_array(groups) else groups, n, cv)
    splits = check_cv(cv, _Rows(n), None, groups) if not hasattr(cv, "split") else \
        check_cv(cv, *solver._given, groups)
    return solver, splits


def kfold(solver, splits, alphas, scoring, alpha_per_target, rule, refine):
    """``_cv.kfold`` on the device: one decomposition per training set, held-out residuals
    of every alpha and target in blocked GEMMs."""
    return _cv.kfold(solver, splits, alphas, scoring, alpha_per_target, rule, refine,
                     split_sse=_split_sse, refiner=DeviceFoldRefiner)


class _Rows:
    """Stands for X where only its number of rows matters (int K folds)."""

    def __init__(self, n):
        self.shape = (n, 0)


def _split_sse(solver, splits, alphas, scoring, folds=None):
    """As ``_cv._split_sse``: pooled held-out SSE (m, k), TSS (k,) for 'r2', the held-out
    weight, the standard errors of the per-split scores and the targets' scale. `folds`, a
    list if given, receives each split's held-out basis (compute dtype), training spectrum
    and held-out centred targets (a function of the target indices) for
    :class:`DeviceFoldRefiner`."""
    rules, c = solver._rules, solver._centering
    xp = rules.xp
    X, Y = solver._given
    m, k = alphas.size, Y.shape[1]
    mean = c.mean(Y) if scoring == "r2" else None
    scale, _ = solver.target_scale()
    totals = _scores.SplitTotals(m, k, scoring, scale)
    for i, (train, test) in enumerate(splits):
        train_d, test_d = rules.index(train), rules.index(test)
        w_train = xp.take(c.w, train_d, axis=0)
        if not bool(xp.any(w_train > 0)):
            raise ValueError(f"cv split {i}: every training sample has zero sample_weight.")
        sub = ArrayApiRidgeSolver(xp.take(X, train_d, axis=0), xp.take(Y, train_d, axis=0),
                                  fit_intercept=solver.fit_intercept, sample_weight=w_train,
                                  method=solver._requested_method,
                                  penalty_factor=solver.penalty_factor)
        spectrum = sub.spectrum_for(alphas)
        sw_test = xp.take(c.sw, test_d, axis=0)
        X_test = xp.take(X, test_d, axis=0)
        if sub.penalty_map is not None:  # offset: the training fit of the unpenalized part
            B, offset = sub.penalty_map.held_out(X_test, sw_test,
                                                 spectrum.cast("V_coef", rules.compute))
        else:
            sc = sub._centering
            B = (xp.astype(X_test, rules.compute) - sc.xm) * sw_test[:, None]
            B, offset = B @ spectrum.cast("V_coef", rules.compute), sc.ym[None, :]
        Y_test = xp.take(Y, test_d, axis=0)
        def Yc_test(cols, Y_test=Y_test, offset=offset, sw_test=sw_test):
            return (xp.astype(Y_test[:, cols], rules.compute) - offset[:, cols]) * \
                sw_test[:, None]

        if folds is not None:
            def Yc_cols(cols, Y_test=Y_test, offset=offset, sw_test=sw_test):
                return (xp.astype(xp.take(Y_test, cols, axis=1), rules.compute) -
                        xp.take(offset, cols, axis=1)) * sw_test[:, None]
            folds.append((B, spectrum, Yc_cols))
        # as leave-one-out's residuals: U-like rows B / s and factors in [0, 1]
        F = -spectrum.ridge(alphas).fit
        U_test = B / rules.to_device(spectrum.s, rules.compute)
        split_sse = np.zeros((m, k))
        sse_block(rules, xp.astype(U_test, rules.work), spectrum.cast("R", rules.work), F,
                  Yc_test, None, scale, split_sse)
        w_test = xp.take(c.w, test_d, axis=0)
        split_sst = solver._sst(Y_test, w_test, mean, scale) if scoring == "r2" else None
        totals.add(split_sse, float(xp.sum(w_test)), split_sst)
    return totals.sse, totals.sst, totals.weight, totals.standard_errors(), scale



# -- the scikit-learn estimators under array_api_dispatch -------------------------------------
def dispatching(*objs):
    """Whether scikit-learn's ``array_api_dispatch`` is on and `objs` hold device arrays:
    the estimators then keep their fitted attributes in the input's namespace."""
    if not is_array_api_input(*objs):
        return False
    import sklearn
    return bool(sklearn.get_config().get("array_api_dispatch", False))


def validate_estimator_fit(estimator, X, y, sample_weight):
    """scikit-learn's ``validate_data`` in the input's namespace: X (float64 or float32,
    float32 where the device has no float64), Y as 2-D in X's dtype, weights, y.ndim."""
    from sklearn.utils.validation import validate_data
    xp, device = namespace(X, y, sample_weight)
    dtypes = [xp.float64, xp.float32] if supports_float64(xp, device) else [xp.float32]
    X, y = validate_data(estimator, X, y, dtype=dtypes, multi_output=True, y_numeric=True)
    y_ndim = y.ndim
    Y = xp.astype(xp.reshape(y, (y.shape[0], -1)), X.dtype)
    if sample_weight is not None and not is_device_array(sample_weight):
        sample_weight = xp.full((X.shape[0],), float(sample_weight), dtype=dtypes[0],
                                device=device)
    return X, Y, sample_weight, y_ndim


def validate_estimator_predict(estimator, X):
    from sklearn.utils.validation import validate_data
    xp, device = namespace(X, X)
    dtypes = [xp.float64, xp.float32] if supports_float64(xp, device) else [xp.float32]
    return validate_data(estimator, X, dtype=dtypes, reset=False)


def linear_predict(X, coef_, intercept_):
    """``X @ coef_.T + intercept_`` for scikit-learn's shapes of `coef_`."""
    xp = _compat().array_namespace(X)
    coef = xp.astype(coef_, X.dtype)
    out = X @ (coef if coef.ndim == 1 else xp.matrix_transpose(coef))
    return out + intercept_


def count_positive(sample_weight):
    """Samples of positive weight (NumPy or device weights)."""
    if not is_device_array(sample_weight):
        return int(np.count_nonzero(sample_weight))
    xp = _compat().array_namespace(sample_weight)
    return int(xp.sum(xp.astype(sample_weight > 0, xp.int64)))


def weight_total(sample_weight):
    """``sum(sample_weight)`` as a float (NumPy or device weights)."""
    if not is_device_array(sample_weight):
        return float(np.sum(sample_weight, dtype=np.float64))
    return float(_compat().array_namespace(sample_weight).sum(sample_weight))


def scores_to_host(result):
    """A CVResult whose per-target scores, best scores and alphas and edge flags are NumPy
    (coefficients and intercepts stay on the device), for the estimators' bookkeeping."""
    if not is_device_array(result.scores):
        return result
    import dataclasses
    host = {name: to_host(getattr(result, name)) for name in
            ("scores", "best_index", "best_alpha", "best_score", "at_grid_edge")
            if is_device_array(getattr(result, name))}
    return dataclasses.replace(result, **host)


def attributes_to_device(estimator, like, names):
    """Move the NumPy array attributes `names` of a fitted estimator to `like`'s device."""
    xp, device = namespace(like, like)
    for name in names:
        value = getattr(estimator, name, None)
        if isinstance(value, np.ndarray):
            setattr(estimator, name, xp.asarray(value, device=device))


# the backend registry's names (see ``_backends``)
Solver = ArrayApiRidgeSolver
criteria = True  # cross-validation takes the spectral criteria, noise_level and refine
