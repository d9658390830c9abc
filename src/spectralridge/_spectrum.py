"""Centring, weighting and the decompositions behind every result.

A :class:`Spectrum` holds, for the centred and weighted design ``Xc = sqrt(w) (X - xm)``
(its columns divided by the square roots of the penalty factors, if any), its thin SVD
``Xc = U diag(s) V^T`` restricted to the numerical rank ``r``, whichever factorization
produced it:

``svd``
    LAPACK ``gesdd`` on ``Xc`` (``gesvd`` on non-convergence); ``gejsv`` (QR with column
    pivoting, then one-sided Jacobi: high relative accuracy for graded columns) when the
    column norms of ``Xc`` span more than ``GRADED_RATIO``. For ``alpha > 0`` every direction
    above the decomposition's rounding level ``sqrt(max(n, p)) eps`` times ``s_max`` (for
    ``gejsv``: times the smallest nonzero column norm) counts; at ``alpha = 0`` only those above
    the minimum-norm least-squares cutoff ``max(n, p) eps s_max`` (``Spectrum.ls_rank``).
``gram``
    ``eigh`` of the p x p Gram ``Xc^T Xc`` (``syrk`` + ``syevd``); ``U = Xc V / s`` when needed.
``kernel``
    ``eigh`` of the n x n Gram ``Xc Xc^T``; ``V = Xc^T U / s``.

The Gram routes square the condition number: their eigenvalues carry an absolute error of
about ``eps lam_max``, so eigenvalues below ``max(n, p) eps lam_max`` count as zero at every
alpha, and
results for the smallest requested alpha ``a`` are trusted only while
``(lam_max + a) / (lam_min + a) <= GRAM_KAPPA`` and, where that cutoff dropped directions
the SVD would keep (a nearly collinear design), while what those directions could add to the
coefficients, at most ``||dropped part of Xc^T Yc|| / a``, stays below ``DROPPED_TOL`` of them
(see :meth:`Spectrum.accurate_for`).

All factorizations and projections of the targets run in float64 through SciPy's
BLAS/LAPACK (one library on the hot path); factors and the projected targets ``R`` are kept in
float64 and cast to the working dtype once, on first use by a float32 kernel.

The squared singular values must be representable: a centred design whose squared Frobenius
norm lies outside ``[SCALE_MIN^2, SCALE_MAX^2]`` is refused with a ``ValueError`` naming X.
"""

import copy
import threading
import warnings
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg import lapack

from . import _core
from ._config import scratch_values
from ._design import make_design, sparse_weighted_mean
from ._filters import ridge_filter

# Guard of the Gram routes: relative error of the coefficients measured at 0.1-0.3 x
# kappa x eps; 1e-9 / eps keeps them within about 1e-10 of the SVD answer (target 1e-8).
GRAM_KAPPA = 1e-9 / np.finfo(np.float64).eps
# Largest relative change of the coefficients that directions dropped by the Gram routes'
# rank cutoff may cause (float64 data; 10 eps for float32).
DROPPED_TOL = 1e-10
# Rounding level of Xc^T Yc in the directions of exactly collinear columns, in units of
# eps s_max ||Yc|| (measured at 0.1-4).
DROPPED_NOISE = 16
# Column norms of Xc spanning more than this ratio take gejsv instead of gesdd for the SVD.
GRADED_RATIO = 1e4
# Range of the centred design's Frobenius norm whose squares stay normal float64 numbers.
SCALE_MIN, SCALE_MAX = 1e-153, 1e153


def column_blocks(A):
    """Yield (column slice, float64 C-contiguous copy of those columns) of a 2-D array."""
    step = max(1, scratch_values() // max(1, A.shape[0]))
    for t0 in range(0, A.shape[1], step):
        cols = slice(t0, min(A.shape[1], t0 + step))
        yield cols, np.array(A[:, cols], dtype=np.float64, order="C")


def weighted_sum(w, A, shift=None):
    """``w @ (A - shift)`` accumulated in float64 in one pass over `A` (any layout)."""
    if A.dtype not in (np.float32, np.float64):
        A = A.astype(np.float64)
    out = np.empty(A.shape[1])
    _core.weighted_sum(A, np.ascontiguousarray(w, dtype=np.float64),
                       np.empty(0) if shift is None else
                       np.ascontiguousarray(shift, dtype=np.float64), out)
    return out


def weighted_mean(w, A, sum_w):
    """Weighted column means of `A`, refined by a second pass over ``A - mean``: the
    correction is exact for a constant column, which then centres to exactly zero."""
    mean = weighted_sum(w, A) / sum_w
    mean += weighted_sum(w, A, mean) / sum_w
    return mean


class Centering:
    """Weighted means, row scales and column scales: ``Xc = sw (X - xm) / sqrt(c)``,
    ``Yc = sw (Y - ym)``, with the per-feature penalty factors ``c`` (default 1).

    ``n_fixed`` unpenalized directions (the intercept's, and those of unpenalized columns
    projected out beforehand: see :mod:`._penalty`) with ``leverage`` their share of the hat
    diagonal (None: ``w / sum(w)`` for the intercept). ``low_rank``: for sparse X whose
    unpenalized columns were projected out implicitly, ``(Z, G)`` with
    ``Xc = sw (X - xm - Z G) / sqrt(c)`` (see :mod:`._design`), else None."""

    leverage = None
    low_rank = None

    def __init__(self, X, Y, sample_weight, fit_intercept, penalty_factor=None):
        n = X.shape[0]
        self.col_scale = None if penalty_factor is None else 1.0 / np.sqrt(penalty_factor)
        w = np.ones(n) if sample_weight is None else sample_weight
        self.sum_w = float(w.sum())
        self.n_effective = int(np.count_nonzero(w))
        self.sw = np.sqrt(w)
        self.fit_intercept = fit_intercept
        self.n_fixed = int(fit_intercept)
        if fit_intercept:
            self.xm = sparse_weighted_mean(w, X, self.sum_w) if sp.issparse(X) else \
                weighted_mean(w, X, self.sum_w)
            self.ym = weighted_mean(w, Y, self.sum_w)
        else:
            self.xm = np.zeros(X.shape[1])
            self.ym = np.zeros(Y.shape[1])

    def center_X(self, X, dtype=np.float64):
        """``sw (X - xm) / sqrt(c)`` as a new C-contiguous array of `dtype`."""
        Xc = np.subtract(X, self.xm, dtype=np.float64)
        Xc *= self.sw[:, None]
        if self.col_scale is not None:
            Xc *= self.col_scale
        return np.ascontiguousarray(Xc, dtype=dtype)

    def max_rank(self, n_features):
        return min(self.n_effective - self.n_fixed, n_features)

    def rows(self, rows):
        """The same centring restricted to the samples `rows` (a slice)."""
        out = copy.copy(self)
        out.sw = self.sw[rows]
        if self.low_rank is not None:
            out.low_rank = (self.low_rank[0][rows], self.low_rank[1])
        return out


class Spectrum:
    """Thin SVD of the centred design and the targets projected on it.

    Attributes
    ----------
    method : {'svd', 'gram', 'kernel'}
    s : ndarray (r,) float64, descending, all positive
    V : ndarray (p, r) float64
    V_coef : ndarray (p, r) float64, ``V / sqrt(c)`` (V without penalty factors): maps
        filtered ``R`` to coefficients of the original features
    R : ndarray (r, k) float64, ``U^T Yc``
    yc_sq : ndarray (k,) float64, ``||Yc||^2`` per target
    ls_rank : int, directions kept at alpha = 0 (the first ``ls_rank``; ``rank`` for alpha > 0)
    lam_max, lam_floor : float, extreme eigenvalues of the Gram, for the accuracy guard
    dropped : float, for the guard: over targets, the largest ratio of ``Xc^T Yc``'s norm in
        the directions the rank cutoff dropped (beyond rounding) to its norm in the kept ones
    """

    col_scale = None  # 1 / sqrt(penalty factors), set by `decompose`

    def __init__(self, method, s, V, R, yc_sq, lam_floor, *, U=None, dropped=0.0,
                 ls_rank=None, lam_offset=0.0):
        self.method = method
        self.s = s
        self.ls_rank = s.size if ls_rank is None else ls_rank
        self.V = V
        self.R = R
        self.yc_sq = yc_sq
        self.lam_max = float(s[0] ** 2) if s.size else 0.0
        self.lam_floor = lam_floor
        # rounding of the Gram is of order eps (lam_max + lam_offset): see _design
        self.lam_scale = self.lam_max + lam_offset
        self.dropped = dropped
        self._U = U
        self._X = self._centering = None
        self._lock = threading.Lock()
        self._casts = {}

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_casts")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._casts = {}

    def cast(self, name, dtype):
        """Factor `name` ('U', 'V', 'V_coef' or 'R') as a C-contiguous array of `dtype`,
        cached."""
        key = (name, np.dtype(dtype))
        if key not in self._casts:
            self._casts[key] = np.ascontiguousarray(getattr(self, name), dtype=dtype)
        return self._casts[key]

    @property
    def V_coef(self):
        return self.V if self.col_scale is None else self.V * self.col_scale[:, None]

    def attach(self, X, centering):
        """Keep the data so that ``U`` can be formed on demand."""
        self._X, self._centering = X, centering

    @property
    def rank(self):
        return self.s.size

    @property
    def lam(self):
        """Eigenvalues ``s^2`` of the Hessian ``Xc^T Xc``, descending."""
        return self.s * self.s

    def ridge(self, alphas):
        """The ridge :class:`~spectralridge._filters.Filter` at `alphas` on this spectrum."""
        return ridge_filter(self.lam, alphas, self.ls_rank)

    def accurate_for(self, alpha_min):
        """Whether results for alphas >= `alpha_min` are within ~1e-10 of the SVD's."""
        if self.method == "svd" or self.lam_max == 0:
            return True
        if (self.lam_scale + alpha_min) > GRAM_KAPPA * (self.lam_floor + alpha_min):
            return False
        if self.dropped == 0:
            return True
        return self.dropped * (self.lam_max + alpha_min) <= DROPPED_TOL * alpha_min

    def U_blocks(self, size):
        """Yield ``(rows, U[rows])`` over the samples, `size` rows at a time: views of ``U``
        where it is kept (the SVD and kernel routes, and the Gram route on dense data), else,
        for sparse data, ``Xc V / s`` formed a block at a time (never n x r at once)."""
        keep = self._U is not None or not sp.issparse(self._X)
        U = self.U if keep else None
        n = U.shape[0] if keep else self._X.shape[0]
        for i0 in range(0, n, size):
            rows = slice(i0, min(n, i0 + size))
            yield rows, U[rows] if keep else self._U_rows(rows)

    def _U_rows(self, rows):
        U = make_design(self._X[rows], self._centering.rows(rows)).matmul(self.V)
        U /= self.s
        return U

    @property
    def U(self):
        """Left singular vectors (n, r) float64, formed on first use for the ``gram`` method
        (``Xc V / s``, dense ``Xc`` a block of rows at a time)."""
        if self._U is None:
            with self._lock:
                if self._U is None:
                    n, p = self._X.shape
                    U = np.empty((n, self.rank))
                    # sparse products never densify: one pass
                    step = n if sp.issparse(self._X) else max(1, scratch_values() // max(p, 1))
                    for i0 in range(0, n, step):
                        rows = slice(i0, min(n, i0 + step))
                        U[rows] = self._U_rows(rows)
                    self._U = U
        return self._U


def starting_method(method, n, p, *, unpenalized=False, float64=True):
    """The decomposition a solver starts with for `method`: as given, or for 'auto' the
    Gram for n >= p, else the kernel (the SVD where the kernel route cannot take
    `unpenalized` columns, or without float64 on the device); the accuracy guard
    (:meth:`Spectrum.accurate_for`) may later replace a Gram route by the SVD."""
    if method != "auto":
        return method
    if not float64:
        return "svd"
    return "gram" if n >= p else "svd" if unpenalized else "kernel"


def decompose(X, Y, centering, method):
    """Factorize the centred `X` by `method` ('svd', 'gram' or 'kernel'), project `Y`."""
    spectrum = _factorize(X, Y, centering, method)
    spectrum.col_scale = centering.col_scale
    return spectrum


def _factorize(X, Y, centering, method):
    n, p = X.shape
    design = make_design(X, centering)
    max_rank = centering.max_rank(p)
    if method == "svd":
        if design.sparse:
            return _sparse_svd_spectrum(design, Y, centering, max_rank)
        Xc = design.Xc
        U, s, Vt, floor = thin_svd(Xc, _column_sq(Xc))
        r, ls_rank = svd_ranks(s, floor, n, p, max_rank)
        U = np.ascontiguousarray(U[:, :r])
        V = np.ascontiguousarray(Vt[:r].T)
        R, yc_sq = project(U, Y, centering.ym, centering.sw)
        return Spectrum("svd", s[:r], V, R, yc_sq, 0.0, U=U, ls_rank=ls_rank)

    offset = design.centring_scale()
    if method == "gram":
        G = design.gram(gram=True)
        check_scale(design.column_sq() if design.sparse else np.diag(G), design)
        XtY, yc_sq = project_design(design, Y, centering)
        spectrum = gram_spectrum(G, XtY, n, max_rank, yc_sq, lam_offset=offset)
        spectrum.attach(X, centering)
        return spectrum
    check_scale(design.column_sq(), design)
    s, Q_kept, Q_d, lam_floor = kernel_eigen(design.gram(gram=False), p, max_rank, offset)
    V = design.rmatmul(Q_kept)  # V = Xc^T U diag(1/s)
    V /= s
    R, yc_sq = project(Q_kept, Y, centering.ym, centering.sw)
    dropped = 0.0
    if Q_d is not None:  # Xc^T Yc in the other directions: ||Xc^T Q_d c||^2 with c = Q_d^T Yc
        c = project(Q_d, Y, centering.ym, centering.sw)[0]
        d = Q_d.shape[1]
        M = np.zeros((d, d))  # Q_d^T Xc Xc^T Q_d, in column blocks of Xc if p x d is large
        step = p if p * d <= scratch_values() else max(1, scratch_values() // d)
        for j in range(0, p, step):
            XtQ = design.rmatmul(Q_d, None if step == p else slice(j, j + step))
            _core.gemm(XtQ, XtQ, M, trans_a=True, beta=1.0)
        dropped = _dropped_ratio(np.einsum("dk,dk->k", c, M @ c), s, R, yc_sq)
    return Spectrum("kernel", s, V, R, yc_sq, lam_floor, U=Q_kept, dropped=dropped,
                    lam_offset=offset)


def project_design(design, Y, centering):
    """``Xc^T Yc`` and ``||Yc||^2`` per target (float64)."""
    if not design.sparse:
        return project(design.Xc, Y, centering.ym, centering.sw)
    XtY = np.empty((design.shape[1], Y.shape[1]))
    yc_sq = np.empty(Y.shape[1])
    for cols, block in column_blocks(Y):
        block -= centering.ym[cols]
        block *= centering.sw[:, None]
        yc_sq[cols] = np.einsum("ij,ij->j", block, block)
        XtY[:, cols] = design.rmatmul(block)
    return XtY, yc_sq


def _sparse_svd_spectrum(design, Y, centering, max_rank):
    """The exact SVD route for sparse X: SVD of the TSQR factor ``R`` of ``Xc`` (tall) or
    ``Xc^T`` (wide), the other singular vectors by sparse products."""
    n, p = design.shape
    col_sq = design.column_sq()
    check_scale(col_sq, design)
    R = design.r_factor()
    _, s, Vt, floor = thin_svd(R, col_sq, shape=(n, p))
    r, ls_rank = svd_ranks(s, floor, n, p, max_rank)
    s = s[:r]
    if n >= p:  # Xc = Q R = (Q U_R) diag(s) Vt
        V = np.ascontiguousarray(Vt[:r].T)
        U = design.matmul(V)
        U /= s
    else:  # Xc^T = Q R = (Q U_R) diag(s) Vt: U = Vt^T
        U = np.ascontiguousarray(Vt[:r].T)
        V = design.rmatmul(U)
        V /= s
    R_y, yc_sq = project(U, Y, centering.ym, centering.sw)
    return Spectrum("svd", s, V, R_y, yc_sq, 0.0, U=U, ls_rank=ls_rank)


def _column_sq(A):
    """Squared column norms of a 2-D float64 array."""
    return np.einsum("ij,ij->j", A, A)


def check_scale(col_sq, Xc):
    """Refuse a centred design whose squared singular values would over- or underflow.

    `Xc`: the centred design as an array, or a design object of :mod:`._design`."""
    with np.errstate(over="ignore"):
        total = float(np.sum(col_sq))
    if not total <= SCALE_MAX ** 2:
        raise ValueError(
            f"X is too large: the squared norm of the centred design is {total:.3g}, beyond "
            f"{SCALE_MAX ** 2:.0e}, so its squared singular values overflow. Rescale X: "
            "X / c gives coefficients c W at alpha / c^2.")
    if total < SCALE_MIN ** 2 and (Xc.abs_max() if hasattr(Xc, "abs_max") else
                                   np.abs(Xc).max()) > 0:
        raise ValueError(
            f"X is too small: the squared norm of the centred design is {total:.3g}, below "
            f"{SCALE_MIN ** 2:.0e}, so its squared singular values underflow. Rescale X: "
            "X * c gives coefficients W / c at alpha * c^2.")


def thin_svd(A, col_sq, shape=None):
    """Thin SVD ``U, s, Vt`` of `A` and the rounding level of its singular values.

    `col_sq` holds the squared column norms of `A`; where they span more than
    ``GRADED_RATIO``, LAPACK ``gejsv`` keeps the small singular values of the graded
    columns accurate, and the rounding level is relative to the smallest nonzero column.
    `shape` (default ``A.shape``): that of the design `A` stands for (a triangular factor).
    """
    check_scale(col_sq, A)
    n, p = A.shape if shape is None else shape
    positive = col_sq[col_sq > 0]
    if positive.size and positive.max() > GRADED_RATIO ** 2 * positive.min():
        out = _jacobi_svd(A)
        if out is not None:
            U, s, Vt = out
            return U, s, Vt, np.sqrt(max(n, p)) * _EPS * np.sqrt(positive.min())
    U, s, Vt = _svd(A)
    return U, s, Vt, np.sqrt(max(n, p)) * _EPS * (s[0] if s.size else 0.0)


def _jacobi_svd(A):
    """SVD by LAPACK gejsv (pivoted QR + Jacobi), or None if it fails.

    Tall `A`: JOBA='C' (column pivoting: relative accuracy for graded columns). Wide `A` is
    factorized transposed, its graded columns becoming rows: JOBA='F' (row and column
    pivoting, for ``D1 C D2``).
    """
    wide = A.shape[0] < A.shape[1]
    sva, u, v, work, _, info = lapack.dgejsv(A.T if wide else A, joba=2 if wide else 0,
                                             jobu=0, jobv=0, jobr=0, jobt=0, jobp=0)
    if info != 0:
        return None
    s = sva * (work[1] / work[0])
    return (v, s, u.T) if wide else (u, s, v.T)


def svd_ranks(s, floor, n, p, max_rank):
    """Directions kept for alpha > 0 (``s > floor``) and at alpha = 0 (``s > max(n, p) eps
    s_max``, the minimum-norm least-squares cutoff), both at most `max_rank`."""
    if not s.size or s[0] <= 0:
        return 0, 0
    r = min(max_rank, int(np.count_nonzero(s > floor)))
    return r, min(r, int(np.count_nonzero(s > max(n, p) * _EPS * s[0])))


def gram_spectrum(G, XtY, n, max_rank, yc_sq=None, yc_sq_bound=None, lam_offset=0.0):
    """Spectrum from the p x p Gram ``Xc^T Xc`` and ``Xc^T Yc`` (float64).

    `G` is overwritten. ``U`` is unavailable until :meth:`Spectrum.attach` gives the data.
    `yc_sq_bound` (default `yc_sq`) bounds ``||Yc||^2`` for the rounding level of `XtY`.
    `lam_offset`: added to ``lam_max`` for the rounding level of `G` (implicit centring).
    """
    p = G.shape[0]
    lam, Q, r, lam_floor = gram_eigen(G, n, max_rank, lam_offset)
    s = np.sqrt(lam[:r])
    V = np.ascontiguousarray(Q[:, :r])
    R = np.empty((r, XtY.shape[1]))
    _core.gemm(V, XtY, R, trans_a=True)  # diag(1/s) V^T Xc^T Yc
    R /= s[:, None]
    dropped = 0.0
    if 0 < r < p:
        part = Q[:, r:].T @ XtY
        dropped = _dropped_ratio(np.einsum("dk,dk->k", part, part), s, R,
                                 yc_sq if yc_sq_bound is None else yc_sq_bound)
    return Spectrum("gram", s, V, R, yc_sq, lam_floor, dropped=dropped,
                    lam_offset=lam_offset)


def recentre(s1, t1, sum_w, G=None, XtY=None, yy=None):
    """Statistics of a set of rows about a shift, re-centred on the set's weighted means.

    With ``Xs = sw (X - shift)``, ``s1 = sum sw Xs`` (p,) and ``t1 = sum w (Y - y_shift)`` (k,)
    over the set of total weight `sum_w`: the Gram ``G = Xs^T Xs`` becomes ``G - s1 s1^T /
    sum_w``, the cross products ``XtY = Xs^T sw (Y - y_shift)`` become ``XtY - s1 t1^T /
    sum_w`` and ``yy = ||sw (Y - y_shift)||^2`` becomes ``yy - t1^2 / sum_w`` (clipped at 0).
    Returns ``(G, XtY, yy, t1 / sum_w)`` (None for those not given), the last being the
    set's target means minus ``y_shift``.
    """
    t = t1 / sum_w
    if G is not None:
        G = G - np.outer(s1, s1 / sum_w)
    if XtY is not None:
        XtY = XtY - np.outer(s1, t)
    if yy is not None:
        yy = np.maximum(yy - t1 * t, 0.0)
    return G, XtY, yy, t


def gram_eigen(G, n, max_rank, lam_offset=0.0):
    """Descending eigenvalues and eigenvectors of a p x p Gram's upper triangle `G`
    (overwritten) of a design with `n` rows, its numerical rank and the smallest eigenvalue
    that counts (see :func:`_gram_rank`): ``(lam, Q, rank, lam_floor)``."""
    lam, Q = eigh_descending(G)
    r, lam_floor = _gram_rank(lam, n, G.shape[0], max_rank, lam_offset)
    return lam, Q, r, lam_floor


def kernel_eigen(K, p, max_rank, lam_offset=0.0):
    """The kernel route's eigen-decomposition of the n x n ``Xc Xc^T`` (upper triangle `K`,
    overwritten) of a design with `p` columns: singular values, the kept eigenvectors
    ``U`` (n, r), those past the rank cutoff (None if none: the dropped-direction guard
    measures them) and the smallest eigenvalue that counts."""
    n = K.shape[0]
    lam, Q = eigh_descending(K)
    r, lam_floor = _gram_rank(lam, n, p, max_rank, lam_offset)
    Q_d = np.ascontiguousarray(Q[:, r:]) if 0 < r < n else None
    return np.sqrt(lam[:r]), np.ascontiguousarray(Q[:, :r]), Q_d, lam_floor


def dropped_ratios(part_sq, s, R, yc_sq):
    """Per target, the norm of ``Xc^T Yc`` in the dropped directions (``part_sq``: its
    square) beyond its rounding level, over that in the kept ones."""
    noise = 0.0 if yc_sq is None else DROPPED_NOISE * _EPS * s[0] * np.sqrt(yc_sq)
    excess = np.maximum(np.sqrt(part_sq) - noise, 0.0)
    kept = np.linalg.norm(s[:, None] * R, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(excess > 0, excess / kept, 0.0)


def _dropped_ratio(part_sq, s, R, yc_sq):
    """The largest of :func:`dropped_ratios` over targets."""
    ratio = dropped_ratios(part_sq, s, R, yc_sq)
    return float(ratio.max()) if ratio.size else 0.0


def _gram_rank(lam, n, p, max_rank, lam_offset=0.0):
    """Numerical rank of a Gram's descending eigenvalues, and the smallest one that counts
    (`lam_offset`: added to ``lam_max`` for the rounding level)."""
    lam_floor = max(float(lam[max_rank - 1]), 0.0) if max_rank > 0 else 0.0
    if lam[0] <= 0:
        return 0, lam_floor
    r = min(max_rank, int(np.count_nonzero(lam > max(n, p) * _EPS * (lam[0] + lam_offset))))
    return r, lam_floor


_EPS = np.finfo(np.float64).eps


def _svd(Xc):
    try:
        return sla.svd(Xc, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    except np.linalg.LinAlgError:
        warnings.warn("SVD did not converge with LAPACK gesdd; retrying with the slower, "
                      "more robust gesvd.", RuntimeWarning, stacklevel=4)
        return sla.svd(Xc, full_matrices=False, check_finite=False, lapack_driver="gesvd")


def eigh_descending(G):
    """Eigen-decomposition of a Gram's upper triangle, eigenvalues descending."""
    lam, Q, info = lapack.dsyevd(G, compute_v=1, lower=0, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"eigh of the Gram matrix failed (LAPACK syevd info={info}).")
    return lam[::-1], Q[:, ::-1]


def project(B, Y, ym, sw):
    """``B^T Yc`` and ``||Yc||^2`` per target in float64 with ``Yc = sw (Y - ym)`` (`Y`
    C-contiguous; float32 targets are converted a block at a time)."""
    B = np.ascontiguousarray(B, dtype=np.float64)
    out = np.empty((B.shape[1], Y.shape[1]))
    sq = np.empty(Y.shape[1])
    if Y.dtype == np.float64:
        _core.project(B, Y, ym, sw, out, sq)
        return out, sq
    for cols, block in column_blocks(Y):
        part = np.empty((B.shape[1], block.shape[1]))
        _core.project(B, block, ym[cols], sw, part, sq[cols])
        out[:, cols] = part
    return out, sq


# -- decompositions from the statistics of a set of rows (the blockwise backends) ----------------
class SetCentering(NamedTuple):
    """What the scores of :mod:`._scores` read of a centring, for a set of rows
    (``n_fixed``: the unpenalized degrees of freedom, see ``_penalty.FreeSetSpectrum``)."""

    xm: np.ndarray
    ym: np.ndarray
    sum_w: float
    n_effective: int
    fit_intercept: bool
    n_fixed: int


class SetSpectrum(Spectrum):
    """The thin SVD of a centred, weighted set of rows (all of them, or a training set)
    made from statistics gathered over row blocks, before any target is projected.

    The statistics are about a shift (the weighted means of a first pass): ``sums = [sum
    w, count w > 0, rows, sx]`` with ``sx = sum w (x - shift)``; the set's own means ``xm``
    follow. ``dropped`` is inf where the rank cutoff of a Gram or kernel dropped directions
    whose share of the fit is not yet measured (:meth:`dropped_ratios`, with ``Q_dropped``
    and, for the kernel, ``M_dropped = Q_d^T Xc Xc^T Q_d``)."""

    def __init__(self, method, s, V, lam_floor, *, sum_w, n_eff, n_rows, sx, xm,
                 dropped=0.0, ls_rank=None, Q_dropped=None, M_dropped=None, lam_offset=0.0):
        super().__init__(method, s, V, None, None, lam_floor, dropped=dropped,
                         ls_rank=ls_rank, lam_offset=lam_offset)
        self.sum_w, self.n_eff, self.n_rows, self.sx, self.xm = sum_w, n_eff, n_rows, sx, xm
        self.Q_dropped, self.M_dropped = Q_dropped, M_dropped

    def spectrum(self, R=None, yc_sq=None):
        """The :class:`Spectrum` with projected targets `R` and ``||Yc||^2`` `yc_sq`."""
        return Spectrum(self.method, self.s, self.V, R, yc_sq, self.lam_floor,
                        dropped=self.dropped, ls_rank=self.ls_rank,
                        lam_offset=self.lam_scale - self.lam_max)

    def measured(self, dropped):
        """A copy with the dropped directions' share measured as `dropped`."""
        out = copy.copy(self)
        out.dropped = dropped
        return out

    def centering(self, ym, fit_intercept):
        return SetCentering(self.xm, ym, self.sum_w, self.n_eff, fit_intercept,
                            int(fit_intercept))

    # the unpenalized columns' target-dependent parts (none here: see
    # ``_penalty.FreeSetSpectrum``)
    def add_free(self, coef, AtY):
        return coef

    def free_fit(self, X, AtY):
        return None

    def leverage(self, X, w):
        return None

    def cross(self, AtY, yy, fit_intercept):
        """``Xc^T Yc`` (p, k), ``||Yc||^2`` and the set's target means less the shift, from
        ``A^T sw (Y - y_shift)`` (q, k) of ``A = [sw, sw (X - shift)]`` (without intercept:
        ``sw X``) and ``||sw (Y - y_shift)||^2`` (None: not needed)."""
        if fit_intercept:
            _, XtY, yc_sq, t = recentre(self.sx, AtY[0], self.sum_w, XtY=AtY[1:], yy=yy)
            return XtY, yc_sq, t
        return AtY, yy, np.zeros(AtY.shape[1])

    def project(self, XtY):
        """The projected targets ``R = diag(1/s) V^T Xc^T Yc`` (r, k)."""
        R = np.empty((self.rank, XtY.shape[1]))
        _core.gemm(self.V, np.ascontiguousarray(XtY), R, trans_a=True)
        R /= self.s[:, None]
        return R

    def dropped_ratios(self, XtY, R, yc_sq, c=None):
        """Per target, what the dropped directions carry of ``Xc^T Yc`` (as NumPy's guard
        measures it); the kernel route needs ``c = Q_d^T Yc``."""
        if self.method == "kernel":
            part_sq = np.einsum("dk,dk->k", c, self.M_dropped @ c)
        else:
            part = self.Q_dropped.T @ XtY
            part_sq = np.einsum("dk,dk->k", part, part)
        return dropped_ratios(part_sq, self.s, R, yc_sq)


def set_sums(sums, shift, fit_intercept):
    sum_w, n_eff, n_rows = float(sums[0]), int(round(sums[1])), int(round(sums[2]))
    sx = np.array(sums[3:])
    xm = shift + sx / sum_w if fit_intercept and sum_w > 0 else shift.copy()
    max_rank = max(min(n_eff - int(fit_intercept), shift.size), 0)
    return dict(sum_w=sum_w, n_eff=n_eff, n_rows=n_rows, sx=sx, xm=xm), max_rank


def factor_spectrum(kind, F, sums, shift, fit_intercept):
    """:class:`SetSpectrum` from the (q, q) factor of ``A = [sw, sw (X - shift)]`` (without
    intercept ``sw X``) over a set of rows: its R factor (``kind='svd'``) or Gram."""
    stats, max_rank = set_sums(sums, shift, fit_intercept)
    off = int(fit_intercept)
    p = shift.size
    if kind == "svd":
        R = np.array(F[off:, off:])
        _, s, Vt, floor = thin_svd(R, np.einsum("ij,ij->j", R, R))
        r, ls_rank = svd_ranks(s, floor, stats["n_rows"], p, max_rank)
        return SetSpectrum("svd", s[:r].copy(), np.ascontiguousarray(Vt[:r].T), 0.0,
                           ls_rank=ls_rank, **stats)
    G = np.array(F[off:, off:])
    if fit_intercept and stats["sum_w"] > 0:
        G = recentre(stats["sx"], np.zeros(0), stats["sum_w"], G=G)[0]
    check_scale(np.diag(G), G)
    lam, Q, r, lam_floor = gram_eigen(np.asfortranarray(G), stats["n_rows"], max_rank)
    dropped = 0 < r < p
    return SetSpectrum("gram", np.sqrt(lam[:r]), np.ascontiguousarray(Q[:, :r]), lam_floor,
                       dropped=np.inf if dropped else 0.0,
                       Q_dropped=np.ascontiguousarray(Q[:, r:]) if dropped else None, **stats)


def kernel_set_spectrum(Ks, sums, sw, shift, fit_intercept, basis_pass):
    """:class:`SetSpectrum` of the kernel route from ``Ks = Xs Xs^T`` (n, n) with ``Xs = sw
    (X - shift)``, centred exactly as ``Xc = (I - u u^T) Xs`` with ``u = sw / ||sw||``;
    `basis_pass(Q)` returns ``Xs^T Q`` (a pass over the data) for ``V = Xc^T U / s``."""
    stats, max_rank = set_sums(sums, shift, fit_intercept)
    K = np.array(Ks, dtype=np.float64, order="F")
    u = sw / np.sqrt(stats["sum_w"]) if fit_intercept else None
    if u is not None:
        Ku = K @ u
        K -= np.outer(u, Ku)
        K -= np.outer(Ku, u)
        K += (u @ Ku) * np.outer(u, u)
    check_scale(np.diag(K), K)
    s, Q, Q_d, lam_floor = kernel_eigen(K, shift.size, max_rank)
    r = s.size
    Q = Q if Q_d is None else np.hstack([Q, Q_d])
    if u is not None:
        Q = Q - np.outer(u, u @ Q)
    XtQ = basis_pass(np.ascontiguousarray(Q))
    if Q_d is None:
        return SetSpectrum("kernel", s, np.ascontiguousarray(XtQ / s), lam_floor, **stats)
    return SetSpectrum("kernel", s, np.ascontiguousarray(XtQ[:, :r] / s), lam_floor,
                       dropped=np.inf, Q_dropped=np.ascontiguousarray(Q[:, r:]),
                       M_dropped=XtQ[:, r:].T @ XtQ[:, r:], **stats)
