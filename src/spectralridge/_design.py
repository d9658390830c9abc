"""The centred, weighted design ``Xc = sw (X - xm) / sqrt(c)``: the one place data is read.

:class:`DenseDesign` holds ``Xc`` formed once (NumPy X). :class:`SparseDesign` never forms it
for scipy.sparse X: with ``S = diag(sw)``, ``D = diag(1 / sqrt(c))`` and ``q = X^T w``,

* ``Xc B = S (X (D B) - 1 (xm^T D B))`` and ``Xc^T C = D (X^T (S C) - xm (1^T S C))``;
* the Gram ``Xc^T Xc = D (X^T W X - xm q^T - q xm^T + sum(w) xm xm^T) D``;
* the kernel ``Xc Xc^T = S (X D^2 X^T - a 1^T - 1 a^T + (xm^T D^2 xm) 1 1^T) S``,
  ``a = X D^2 xm``;
* squared column norms and the weighted means from the stored values exactly (each stored
  value minus its column mean, plus the implicit zeros' share);
* the triangular factor ``R`` with ``R^T R = Xc^T Xc`` (or ``Xc Xc^T`` for wide X) by a
  tall-skinny QR of dense blocks of ``Xc`` (``SPARSE_BLOCK`` rows or columns at a time, centred
  exactly as the dense path does), for the exact SVD route.

With unpenalized columns projected out (:mod:`._penalty`), the centring carries a low-rank
part too, ``Xc = sw (X - xm - Z G) / sqrt(c)`` with dense ``Z`` (n x u) and ``G`` (u x p):
each product above gains the same kind of correction, rank u instead of one (``Z^T W X`` by
one sparse product), and rows or columns of ``Xc`` densified a block at a time subtract it
exactly.

The corrections cancel when column means (or the unpenalized columns' fit) are large against
what remains: the Gram's rounding error is then of order ``eps (lam_max + scale)`` with
``scale = sum(w) ||D xm||^2 + sum_j c_j^-1 ||sw Z G_j||^2``, which
:meth:`SparseDesign.centring_scale` reports to the accuracy guard of the ``auto`` rule.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from . import _core

# Rows (tall X) or columns (wide X) of Xc densified at a time by the sparse SVD route.
SPARSE_BLOCK = 2048


def make_design(X, centering):
    """The centred design of `X` (NumPy or scipy.sparse) under `centering`."""
    if sp.issparse(X):
        return SparseDesign(X, centering)
    return DenseDesign(centering.center_X(X))


class DenseDesign:
    """``Xc`` as a C-contiguous float64 array."""

    sparse = False

    def __init__(self, Xc):
        self.Xc = Xc
        self.shape = Xc.shape

    def gram(self, gram=True):
        """Upper triangle of ``Xc^T Xc`` (gram) or ``Xc Xc^T`` (float64, Fortran order)."""
        # Xc.T is Fortran-ordered: no copy on the way to BLAS.
        return blas.dsyrk(1.0, self.Xc.T, trans=0 if gram else 1, lower=0)

    def matmul(self, B):
        out = np.empty((self.shape[0], B.shape[1]))
        _core.gemm(self.Xc, np.ascontiguousarray(B, dtype=np.float64), out)
        return out

    def rmatmul(self, C, cols=None):
        """``Xc[:, cols]^T C`` (all columns by default)."""
        A = self.Xc if cols is None else np.ascontiguousarray(self.Xc[:, cols])
        out = np.empty((A.shape[1], C.shape[1]))
        _core.gemm(A, np.ascontiguousarray(C, dtype=np.float64), out, trans_a=True)
        return out

    def column_sq(self):
        return np.einsum("ij,ij->j", self.Xc, self.Xc)

    def abs_max(self):
        return float(np.abs(self.Xc).max()) if self.Xc.size else 0.0

    def rows(self, idx):
        return self.Xc[idx]

    def centring_scale(self):
        return 0.0


def sparse_weighted_mean(w, X, sum_w):
    """Weighted column means of sparse `X`, refined by the exact sum of ``w (X - mean)``
    (a fully stored constant column gets its value exactly)."""
    X = as_float64(X)
    mean = (X.T @ w) / sum_w
    rows = _row_of_each_value(X)
    dev = _column_sums(X, w[rows] * (X.data - mean[X.indices]))
    stored_w = _column_sums(X, w[rows])
    dev -= (sum_w - stored_w) * mean
    return mean + dev / sum_w


def as_float64(X):
    """CSR float64 (no copy when it already is)."""
    return X.tocsr().astype(np.float64, copy=False)


def _column_sums(X, values):
    """Sums of `values` (one per stored value of CSR `X`) per column, float64."""
    return np.bincount(X.indices, weights=values, minlength=X.shape[1]).astype(np.float64)


def _row_of_each_value(X):
    return np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))


# Columns of the dense operand per sparse product: a p x 256 float64 block stays in cache
# while the stored values stream past it (the whole operand would not).
_SPARSE_COLUMNS = 256


def sparse_times(X, B):
    """``X @ B`` (float64, C order) for sparse `X` and dense `B`, `B`'s columns in blocks."""
    k = B.shape[1]
    if k <= _SPARSE_COLUMNS:
        return np.ascontiguousarray(X @ B)
    out = np.empty((X.shape[0], k))
    for j in range(0, k, _SPARSE_COLUMNS):
        cols = slice(j, min(k, j + _SPARSE_COLUMNS))
        out[:, cols] = X @ np.ascontiguousarray(B[:, cols])
    return out


class SparseDesign:
    """``Xc`` of a canonical CSR `X`, never densified beyond one block."""

    sparse = True

    def __init__(self, X, centering):
        self.X = as_float64(X)
        self.shape = X.shape
        self.sw = centering.sw
        self.w = np.square(self.sw)
        self.sum_w = centering.sum_w
        self.xm = centering.xm
        self.d = centering.col_scale
        self.dxm = self.xm if self.d is None else self.xm * self.d
        self.n_effective = centering.n_effective
        # the low-rank part: Z (n, u) and G (u, p), or none
        self.Z, self.G = (None, None) if centering.low_rank is None else centering.low_rank
        self._Xt = None

    def _scaled(self, B):
        return B if self.d is None else B * self.d[:, None]

    def matmul(self, B):
        B = self._scaled(np.asarray(B, dtype=np.float64))
        out = sparse_times(self.X, B)
        out -= self.xm @ B
        if self.Z is not None:
            out -= self.Z @ (self.G @ B)
        out *= self.sw[:, None]
        return out

    def rmatmul(self, C, cols=None):
        """``Xc[:, cols]^T C`` (all columns by default)."""
        SC = np.asarray(C, dtype=np.float64) * self.sw[:, None]
        if cols is None:
            out = sparse_times(self.X.T, SC)
            xm, d, G = self.xm, self.d, self.G
        else:
            out = sparse_times(self._transposed()[cols], SC)
            xm, d = self.xm[cols], None if self.d is None else self.d[cols]
            G = None if self.G is None else self.G[:, cols]
        # out -= xm (1^T S C), in place: out is as large as V (p x r) for wide X
        _core.gemm(np.ascontiguousarray(xm[:, None]), SC.sum(axis=0)[None, :], out,
                   alpha=-1.0, beta=1.0)
        if self.Z is not None:  # out -= G^T (Z^T S C)
            _core.gemm(np.ascontiguousarray(G), self.Z.T @ SC, out,
                       alpha=-1.0, beta=1.0, trans_a=True)
        if d is not None:
            out *= d[:, None]
        return out

    def _transposed(self):
        """X^T as CSR (column blocks of X as row slices), formed once."""
        if self._Xt is None:
            self._Xt = self.X.T.tocsr()
        return self._Xt

    def gram(self, gram=True):
        """``Xc^T Xc`` (gram) or ``Xc Xc^T``, both triangles (float64, Fortran order)."""
        X, xm = self.X, self.xm
        if gram:
            G = (X.T @ (sp.diags(self.w) @ X)).toarray()
            q = X.T @ self.w
            G -= np.outer(xm, q)
            G -= np.outer(q, xm)
            G += self.sum_w * np.outer(xm, xm)
            if self.Z is not None:
                G += self._low_rank_gram()
            if self.d is not None:
                G *= np.outer(self.d, self.d)
            return np.asfortranarray(G)
        Xd = X if self.d is None else X @ sp.diags(self.d)
        K = (Xd @ Xd.T).toarray()
        a = np.asarray(Xd @ self.dxm)
        K -= a[:, None]
        K -= a[None, :]
        K += float(self.dxm @ self.dxm)
        if self.Z is not None:
            # E = X D - 1 (D xm)^T: K += -F Z^T - Z F^T + Z (G D^2 G^T) Z^T, F = E D G^T
            GD = self._scaled(self.G.T).T
            F = np.asarray(Xd @ GD.T) - self.dxm @ GD.T
            ZF = self.Z @ F.T
            K -= ZF
            K -= ZF.T
            K += self.Z @ (GD @ GD.T) @ self.Z.T
        K *= np.outer(self.sw, self.sw)
        return np.asfortranarray(K)

    def _cross(self):
        """``H = (X - 1 xm^T)^T W Z`` (p, u): the centred columns against the low-rank part."""
        WZ = self.w[:, None] * self.Z
        return np.asarray(self.X.T @ WZ) - np.outer(self.xm, WZ.sum(axis=0))

    def _low_rank_gram(self):
        """``-H G - G^T H^T + G^T (Z^T W Z) G``: the low-rank part's share of the Gram
        (before the column scales)."""
        HG = self._cross() @ self.G
        ZWZ = self.Z.T @ (self.w[:, None] * self.Z)
        return self.G.T @ ZWZ @ self.G - HG - HG.T

    def column_sq(self):
        """Squared column norms of ``Xc``, exactly: stored values minus their column mean,
        and the implicit zeros' share ``xm^2``."""
        X, xm = self.X, self.xm
        rows = _row_of_each_value(X)
        dev = X.data - xm[X.indices]
        out = _column_sums(X, self.w[rows] * dev * dev)
        stored_w = _column_sums(X, self.w[rows])
        out += np.maximum(self.sum_w - stored_w, 0.0) * xm * xm
        if self.Z is not None:  # less the unpenalized fit: ||S Z g_j||^2 - 2 H_j g_j
            ZWZ = self.Z.T @ (self.w[:, None] * self.Z)
            out += np.einsum("uj,uj->j", self.G, ZWZ @ self.G)
            out -= 2.0 * np.einsum("ju,uj->j", self._cross(), self.G)
            out = np.maximum(out, 0.0)
        return out if self.d is None else out * np.square(self.d)

    def abs_max(self):
        if self.Z is not None:  # a block of rows at a time
            n = self.shape[0]
            return max((float(np.abs(self.rows(np.arange(i, min(n, i + SPARSE_BLOCK)))).max())
                        for i in range(0, n, SPARSE_BLOCK)), default=0.0)
        X, xm = self.X, self.xm
        d = np.ones(X.shape[1]) if self.d is None else self.d
        rows = _row_of_each_value(X)
        stored = np.abs(X.data - xm[X.indices]) * self.sw[rows] * d[X.indices]
        peak = float(stored.max()) if stored.size else 0.0
        # columns with an implicit zero in a row of positive weight
        stored_pos = _column_sums(X, (self.w[rows] > 0).astype(float))
        implicit = stored_pos < self.n_effective
        if implicit.any():
            peak = max(peak, float(np.max(np.abs(xm * d)[implicit])) * float(self.sw.max()))
        return peak

    def rows(self, idx):
        """Dense rows `idx` of ``Xc`` (float64, C order)."""
        block = self.X[idx].toarray()
        block -= self.xm
        if self.Z is not None:
            block -= self.Z[idx] @ self.G
        block *= self.sw[idx, None]
        if self.d is not None:
            block *= self.d
        return block

    def centring_scale(self):
        """``sum(w) ||D xm||^2``: ``X^T W X = Xc^T Xc`` plus this much at most, the scale of
        the rounding error of the implicitly centred Gram and kernel; with a low-rank part,
        plus ``sum_j d_j^2 ||sw Z G_j||^2``."""
        scale = self.sum_w * float(self.dxm @ self.dxm)
        if self.Z is not None:
            SZG = self.sw[:, None] * self.Z
            fit = np.einsum("uj,uj->j", self.G, (SZG.T @ SZG) @ self.G)
            scale += float(np.sum(fit if self.d is None else fit * np.square(self.d)))
        return scale

    def r_factor(self):
        """Upper triangular ``R`` with ``R^T R = Xc^T Xc`` (n >= p: p x p, from row blocks
        of ``Xc``) or ``R^T R = Xc Xc^T`` (n < p: n x n, from column blocks), by a
        tall-skinny QR of dense blocks."""
        n, p = self.shape
        tall = n >= p
        R = np.zeros((0, p if tall else n))
        step = SPARSE_BLOCK
        for t0 in range(0, n if tall else p, step):
            idx = np.arange(t0, min(n if tall else p, t0 + step))
            block = self.rows(idx) if tall else self._column_block(idx)
            R = householder_r(np.concatenate([R, block]))
        q = R.shape[1]
        if R.shape[0] < q:
            R = np.concatenate([R, np.zeros((q - R.shape[0], q))])
        return R

    def _column_block(self, cols):
        """Dense ``Xc[:, cols]^T`` (float64)."""
        block = self._transposed()[cols].toarray()
        block -= self.xm[cols, None]
        if self.Z is not None:
            block -= (self.Z @ self.G[:, cols]).T
        block *= self.sw[None, :]
        if self.d is not None:
            block *= self.d[cols, None]
        return block


def householder_r(A, square=False):
    """The upper triangular factor ``R`` of a Householder QR of `A` (n, q) (LAPACK geqrf,
    optimal workspace; `A` is overwritten where it is already Fortran-ordered float64):
    (min(n, q), q), or with `square` (q, q) padded with zero rows."""
    n, q = A.shape
    k = min(n, q)
    R = np.zeros((q if square else k, q))
    if n == 0:
        return R
    work, info = lapack.dgeqrf_lwork(n, q)
    qr, _, _, info = lapack.dgeqrf(np.asfortranarray(A, dtype=np.float64),
                                   lwork=int(work.real), overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"QR failed (LAPACK geqrf info={info}).")
    R[:k] = np.triu(qr[:k])
    return R
