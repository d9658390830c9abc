"""Unpenalized columns: the map to standard form and back.

Columns with penalty factor 0 (``Z``, u of them) and the intercept are the unpenalized part
of the model ``Y = X_p W + Z g + b``. With the weighted projection ``P`` on the span of
``sqrt(w) [1, Z]`` (the intercept column only when it is fitted), the penalized coefficients
minimize ``||(I - P) sqrt(w) (Y - X_p W)||^2 + alpha sum_j c_j W_j^2`` (Frisch-Waugh-Lovell):
ridge without intercept on the projected columns and targets, one decomposition for every
alpha. The unpenalized coefficients follow by least squares on the residual,
``g = G_y - G_x W`` and ``b = ym - xm^T W - zm^T g``, with ``G`` the weighted least-squares
coefficients of the centred targets and penalized columns on the centred ``Z``. The hat
matrix is ``P + H_ridge``: leave-one-out adds the leverage ``P_ii`` of each sample to the
ridge hat diagonal, GCV counts ``u + 1`` fixed degrees of freedom, and K-fold projects each
training set on its own unpenalized columns.

The projection is computed in float64 by a Householder QR of the weighted, centred ``Z``
(columns scaled to the norms of the uncentred ones, pivoted), with one step of iterative
refinement of the projected columns and targets. Sparse X is never densified: ``Z`` (dense,
n x u) is taken out, ``G_x`` comes from ``Q^T sqrt(w) (X_p - xm)`` by one sparse product (no
refinement step: its residual would be dense), and the projected columns stay implicit,
``X_p - xm - Zc G_x``, a rank-u correction of the sparse ``X_p`` like the intercept's rank-one
centring (:mod:`._design`). An unpenalized column within
``max(n, u) eps`` (relative to its norm) of the span of the intercept and the other
unpenalized columns is refused: its coefficient would not be unique.
"""

import numpy as np
import scipy.linalg as sla

import scipy.sparse as sp

from ._design import DenseDesign, SparseDesign, as_float64, sparse_weighted_mean
from ._spectrum import (Centering, SetCentering, SetSpectrum, check_scale, factor_spectrum,
                        gram_eigen, set_sums, svd_ranks, thin_svd, weighted_mean)

_EPS = np.finfo(np.float64).eps


def check_free_norms(norms, free):
    """Refuse unpenalized columns (indices `free`) whose weighted norms are zero."""
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"penalty_factor: the unpenalized columns {free[zero].tolist()} of X are "
            "zero on every sample of positive weight; their coefficients are undetermined. "
            "Drop them or give them a positive penalty factor.")


def check_free_rank(R, piv, free, n, fit_intercept, eps=_EPS, tol=None):
    """Refuse unpenalized columns in the span of the others and the intercept, from the
    pivoted QR ``A[:, piv] = Q R`` of their weighted, centred, normalized block `A`: a
    diagonal of `R` at most `tol` (default ``max(n, u) eps``)."""
    diag = np.abs(np.diag(R)) if R.size else np.zeros(0)
    u = free.size
    tol = max(n, u) * eps if tol is None else tol
    rank = int(np.count_nonzero(diag > tol))
    if rank < u:
        dependent = np.sort(free[piv[rank:]]).tolist()
        others = np.sort(free[piv[:rank]]).tolist()
        what = f"the other unpenalized columns {others}" if others else "no other column"
        if fit_intercept:
            what += " and the intercept" if others else " but the intercept"
        raise ValueError(
            f"penalty_factor: the unpenalized columns {dependent} of X are collinear with "
            f"{what} (on the samples of positive weight), so their coefficients are not "
            "unique. Drop them or give them a positive penalty factor.")


class PenaltyMap:
    """The projection on the complement of the unpenalized columns and the way back.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix (canonical CSR) of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,) or None
    fit_intercept : bool
    penalty_factor : ndarray of shape (n_features,), non-negative, some zero

    Attributes
    ----------
    X, Y : the data as given (references)
    X_fit, Y_fit : ndarray, the projected penalized columns and targets in the working
        dtype, ``X_p - xm - Zc G_x`` and ``Y - ym - Zc G_y`` (rows of zero weight included);
        for sparse X, ``X_fit`` is ``X_p`` (CSR float64), projected by :meth:`centering`
    free, penalized : ndarray of int, the column indices with factor 0 and > 0
    leverage : ndarray of shape (n_samples,), the diagonal of ``P``
    n_fixed : int, ``u + [intercept]``, the rank of ``P``
    """

    def __init__(self, X, Y, sample_weight, fit_intercept, penalty_factor):
        n = X.shape[0]
        self.X, self.Y = X, Y
        self.fit_intercept = fit_intercept
        self.free = np.flatnonzero(penalty_factor == 0)
        self.penalized = np.flatnonzero(penalty_factor > 0)
        self.penalty_factor = penalty_factor[self.penalized]
        w = np.ones(n) if sample_weight is None else sample_weight
        self.w = w
        self.sum_w = float(w.sum())
        self.sw = np.sqrt(w)
        self.sparse = sp.issparse(X)
        X64 = as_float64(X) if self.sparse else np.asarray(X, dtype=np.float64)
        if fit_intercept:
            xm = sparse_weighted_mean(w, X64, self.sum_w) if self.sparse else \
                weighted_mean(w, X64, self.sum_w)
            self.ym = weighted_mean(w, Y, self.sum_w)
        else:
            xm, self.ym = np.zeros(X.shape[1]), np.zeros(Y.shape[1])
        self.xm, self.zm = xm[self.penalized], xm[self.free]
        Z = X64[:, self.free]
        Z = Z.toarray() if self.sparse else Z
        self.Zc = Z - self.zm
        self._factor_free(Z, n)
        self.leverage = np.einsum("ij,ij->i", self._Q, self._Q)
        if fit_intercept:
            self.leverage += w / self.sum_w
        self.n_fixed = self.free.size + int(fit_intercept)
        if self.sparse:
            self.X_fit = X64[:, self.penalized].tocsr()
            SQ = self.sw[:, None] * self._Q  # Q^T sw (X_p - xm)
            QtX = np.asarray(self.X_fit.T @ SQ).T - np.outer(SQ.sum(axis=0), self.xm)
            self.G_x = self._solve(QtX)
        else:
            Xp = X64[:, self.penalized] - self.xm
            self.G_x = self._project_out(Xp)
            self.X_fit = np.ascontiguousarray(Xp, dtype=X.dtype)
        Yc = np.subtract(Y, self.ym, dtype=np.float64)
        self.G_y = self._project_out(Yc)
        self.Y_fit = np.ascontiguousarray(Yc, dtype=Y.dtype)

    def _factor_free(self, Z, n):
        """Pivoted QR of ``sqrt(w) Zc`` (columns over the norms of ``sqrt(w) Z``); refuse
        columns in the span of the others and the intercept."""
        A = self.sw[:, None] * self.Zc
        norms = np.linalg.norm(self.sw[:, None] * Z, axis=0)
        check_free_norms(norms, self.free)
        A /= norms
        Q, R, piv = sla.qr(A, mode="economic", pivoting=True, check_finite=False)
        check_free_rank(R, piv, self.free, n, self.fit_intercept)
        # C order: NumPy's Q^T T with the Fortran-ordered Q ran 10x slower
        self._Q, self._R, self._piv, self._norms = np.ascontiguousarray(Q), R, piv, norms

    def _coefficients(self, T):
        """Weighted least-squares coefficients (u, k) of the columns of `T` on ``Zc``."""
        return self._solve(self._Q.T @ (self.sw[:, None] * T))

    def _solve(self, QtT):
        """The coefficients from ``Q^T sqrt(w) T``."""
        c = sla.solve_triangular(self._R, QtT, check_finite=False)
        out = np.empty_like(c)
        out[self._piv] = c
        return out / self._norms[:, None]

    def _project_out(self, T):
        """Replace `T` (float64, n x q) by its residual on ``Zc``; return the coefficients.
        One step of iterative refinement."""
        G = self._coefficients(T)
        T -= self.Zc @ G
        step = self._coefficients(T)
        T -= self.Zc @ step
        return G + step

    def centering(self, X_fit, Y_fit, sample_weight):
        """The :class:`~spectralridge._spectrum.Centering` of the projected problem: no
        intercept (already projected out), the penalized columns' factors, ``n_fixed``
        fixed degrees of freedom and the leverage of ``P``."""
        c = Centering(X_fit, Y_fit, sample_weight, False, self.penalty_factor)
        c.n_fixed = self.n_fixed
        c.leverage = self.leverage
        if self.sparse:
            c.xm, c.low_rank = self.xm, (self.Zc, self.G_x)
        return c

    # -- back to the original columns --------------------------------------------------
    def coef(self, W):
        """Coefficients of all columns from those of the penalized ones.

        `W`: (..., n_penalized, n_targets); returns (..., n_features, n_targets) in its dtype.
        """
        W64 = np.asarray(W, dtype=np.float64)
        out = np.empty(W.shape[:-2] + (self.X.shape[1], W.shape[-1]), dtype=W.dtype)
        out[..., self.penalized, :] = W
        out[..., self.free, :] = self.G_y - np.matmul(self.G_x, W64)
        return out

    def intercept(self, W):
        """Intercepts (..., n_targets) from the penalized coefficients (..., n_pen, k)."""
        W64 = np.asarray(W, dtype=np.float64)
        if not self.fit_intercept:
            return np.zeros(W.shape[:-2] + (W.shape[-1],), dtype=W.dtype)
        g = self.G_y - np.matmul(self.G_x, W64)
        out = self.ym - np.matmul(self.xm, W64) - np.matmul(self.zm, g)
        return out.astype(W.dtype)

    def held_out(self, X, sw, spectrum, dtype):
        """Held-out basis and offset of new samples `X` (NumPy or scipy.sparse, all
        columns): ``sw (X_p - xm - (Z - zm) G_x) V_coef`` (q, r) in `dtype` (no `sw`: 1) and
        ``ym + (Z - zm) G_y`` (q, k) float64."""
        from ._solver import held_out_basis
        if sp.issparse(X):
            X64 = as_float64(X)
            Zc = X64[:, self.free].toarray() - self.zm
            B = held_out_basis(X64[:, self.penalized], sw, self.xm, spectrum, dtype)
            fit = Zc @ (self.G_x @ spectrum.V_coef)
            if sw is not None:
                fit *= sw[:, None]
            B -= fit.astype(dtype)
        else:
            X64 = np.asarray(X, dtype=np.float64)
            Zc = X64[:, self.free] - self.zm
            Xp = X64[:, self.penalized] - self.xm - Zc @ self.G_x
            B = held_out_basis(np.ascontiguousarray(Xp, dtype=dtype), sw,
                               np.zeros(Xp.shape[1]), spectrum, dtype)
        return B, self.ym + Zc @ self.G_y


class FoldDowndate:
    """Training-set spectra of the projected problem from one pass over the data.

    With ``M = [Zc, X_p - xm]`` (centred by the full data's weighted means), the training
    rows' weighted Gram of ``M`` and ``M^T W Yc`` are the full data's minus the held-out rows'
    (then centred on the training means by the fold sums, as for the plain Gram downdate of
    :mod:`._cv`); the projection on the training set's unpenalized columns is the Schur
    complement of their block, ``G_pp - G_pz G_zz^-1 G_zp``. Its cancellation is of order
    ``eps`` times the penalized block before the complement, which the accuracy guard of the
    ``auto`` rule is given (``lam_offset``), so a fold where the projection removes most of
    the penalized columns' scale is decomposed again from its rows. For sparse X the
    penalized block of ``M`` stays implicit (:class:`~._design.SparseDesign`); only the
    held-out rows are densified.
    """

    def __init__(self, penalty_map, dtype):
        pm = self.map = penalty_map
        self.dtype = dtype
        self.Yc = np.subtract(pm.Y, pm.ym, dtype=np.float64)
        Ys = pm.sw[:, None] * self.Yc
        if pm.sparse:
            Zs = pm.sw[:, None] * pm.Zc
            c = Centering(pm.X_fit, Ys[:, :0], pm.w, False)
            c.xm = pm.xm
            design = SparseDesign(pm.X_fit, c)  # sw (X_p - xm)
            u = pm.free.size
            self.G = np.empty((u + pm.penalized.size,) * 2, order="F")
            self.G[:u, :u] = Zs.T @ Zs
            self.G[:u, u:] = design.rmatmul(Zs).T
            self.G[u:, u:] = design.gram(gram=True)
            self.P = np.concatenate([Zs.T @ Ys, design.rmatmul(Ys)])
            self.s1 = np.concatenate([Zs.T @ pm.sw, design.rmatmul(pm.sw[:, None])[:, 0]])
        else:
            X64 = np.asarray(pm.X, dtype=np.float64)
            self.M = np.concatenate([pm.Zc, X64[:, pm.penalized] - pm.xm], axis=1)
            Ms = pm.sw[:, None] * self.M
            self.G = DenseDesign(Ms).gram(gram=True)  # upper triangle
            self.P = Ms.T @ Ys
            self.s1 = Ms.T @ pm.sw
        self.t1 = pm.sw @ Ys
        self.yc_sq = np.einsum("ij,ij->j", Ys, Ys)
        self.d = 1.0 / np.sqrt(pm.penalty_factor)
        # the implicitly centred sparse Gram rounds at the scale of its rank-one term too
        self.centring = pm.sum_w * float(np.sum(np.square(pm.xm * self.d))) if pm.sparse \
            else 0.0

    def _rows(self, idx):
        """Rows `idx` of ``M`` (dense float64)."""
        pm = self.map
        if not pm.sparse:
            return self.M[idx]
        Xp = pm.X_fit[idx].toarray()
        Xp -= pm.xm
        return np.concatenate([pm.Zc[idx], Xp], axis=1)

    def fold(self, test, alphas):
        """(held-out basis, training spectrum, zero target means, held-out targets less their
        unpenalized fit), or None where the Gram route would not be accurate enough."""
        from ._spectrum import gram_spectrum
        pm, u = self.map, self.map.free.size
        sw_te = pm.sw[test]
        w_te = np.square(sw_te)
        M_te = self._rows(test)
        Ms_te = sw_te[:, None] * M_te
        Yc_te = self.Yc[test]
        sum_w = pm.sum_w - float(w_te.sum())
        n_eff = int(np.count_nonzero(pm.w)) - int(np.count_nonzero(w_te))
        if sum_w <= 0 or n_eff <= pm.n_fixed:
            return None
        G = np.triu(self.G - DenseDesign(Ms_te).gram(gram=True))
        G += np.triu(G, 1).T
        P = self.P - Ms_te.T @ (sw_te[:, None] * Yc_te)
        shift, y_shift = np.zeros(G.shape[0]), np.zeros(P.shape[1])
        if pm.fit_intercept:
            s1 = self.s1 - Ms_te.T @ sw_te
            t1 = self.t1 - w_te @ Yc_te
            shift, y_shift = s1 / sum_w, t1 / sum_w
            G -= np.outer(s1, shift)
            P -= np.outer(s1, y_shift)
        try:
            chol = sla.cho_factor(G[:u, :u], check_finite=False)
        except np.linalg.LinAlgError:
            return None
        G_x = sla.cho_solve(chol, G[:u, u:], check_finite=False)
        G_y = sla.cho_solve(chol, P[:u], check_finite=False)
        d = self.d
        offset = float(np.trace(G[u:, u:] * np.outer(d, d))) + self.centring
        G_pp = (G[u:, u:] - G[u:, :u] @ G_x) * np.outer(d, d)
        P_p = (P[u:] - G[u:, :u] @ G_y) * d[:, None]
        max_rank = min(n_eff - pm.n_fixed, G_pp.shape[0])
        spectrum = gram_spectrum(np.asfortranarray(G_pp), P_p, pm.X.shape[0] - test.size,
                                 max_rank, yc_sq_bound=self.yc_sq, lam_offset=offset)
        spectrum.col_scale = d
        if not spectrum.accurate_for(alphas.min()):
            return None
        M_c = M_te - shift
        X_r = M_c[:, u:] - M_c[:, :u] @ G_x
        B = sw_te[:, None] * (X_r @ spectrum.V_coef)
        Y_scored = Yc_te - y_shift - M_c[:, :u] @ G_y
        return (np.ascontiguousarray(B, dtype=self.dtype), spectrum,
                np.zeros(P.shape[1]), np.ascontiguousarray(Y_scored, dtype=self.dtype))


# -- the same map from the statistics of a set of rows (the blockwise backends) --------------
def set_spectrum(kind, F, sums, shift, fit_intercept, free=None):
    """:class:`~spectralridge._spectrum.SetSpectrum` of a set of rows from the (q, q)
    factor (R factor for ``kind='svd'``, else Gram) of ``A = [sw, sw (X - shift)]`` (without
    intercept ``sw X``); with unpenalized columns `free` (indices, or None) a
    :class:`FreeSetSpectrum` of the other columns projected off them and the intercept."""
    if free is None or not free.size:
        return factor_spectrum(kind, F, sums, shift, fit_intercept)
    return FreeSetSpectrum(kind, F, sums, shift, fit_intercept, free)


class FreeSetSpectrum(SetSpectrum):
    """The spectrum of a set of rows with unpenalized columns, by block elimination on the
    factor of ``A = [A_1, A_2]``: ``A_1 = [sw, sw (Z - shift)]`` (the intercept, when fitted,
    and the unpenalized columns), ``A_2 = sw (X_p - shift)`` the penalized ones. With the
    triangular ``R_11`` (``A_1^T A_1 = R_11^T R_11``) and ``R_12 = R_11^-T A_1^T A_2``, the
    projection of ``A_2`` on the complement of ``A_1`` has the Gram ``A_2^T A_2 - R_12^T
    R_12`` (for an R factor of A with ``A_1``'s columns first: its trailing block, no
    cancellation); the targets' cross products follow the same way. The set's own
    projection: exact for any union of row blocks (K-fold training sets).

    Results are expressed on all columns so that the blockwise passes need no change of
    form: ``V`` (p, r) holds ``V_p`` on the penalized rows and ``-G_z V_p`` on the
    unpenalized ones (``G = R_11^-1 R_12``), ``xm`` is the shift plus the intercept's row
    ``G_0`` on the penalized columns, so that ``sw (x - xm) V`` is the projected row's
    basis; :meth:`cross` gives ``Xc^T Yc`` zero on the unpenalized rows and target means
    that make ``ym - xm^T W`` the intercept. What depends on the targets and the unpenalized
    values of each row (the coefficients ``G_y`` of the targets on ``A_1``) is added by
    :meth:`free_coef`, :meth:`add_free` and :meth:`free_fit`; :meth:`leverage` gives the
    rows' leverage of ``A_1``. Unpenalized columns collinear with each other or the
    intercept are refused as :class:`PenaltyMap` refuses them; from a Gram (``kind='gram'``)
    within ``sqrt(max(n, u) eps)`` of collinear already, the accuracy of its factor.
    """

    def __init__(self, kind, F, sums, shift, fit_intercept, free):
        stats, _ = set_sums(sums, shift, fit_intercept)
        off, p = int(fit_intercept), shift.size
        pen = np.setdiff1d(np.arange(p), free)
        fixed = np.concatenate([[0] if off else [], off + free]).astype(np.intp)
        order = np.concatenate([fixed, off + pen])
        f, u = fixed.size, free.size
        lam_offset = 0.0
        if kind == "svd":  # the R factor with A_1's columns first
            R = sla.qr(np.asfortranarray(np.asarray(F)[:, order]), mode="r",
                       check_finite=False)[0]
            R11, R12, R22 = R[:f, :f], R[:f, f:], R[f:, f:]
        else:
            G = np.asarray(F)[np.ix_(order, order)]
            check_scale(np.diag(G)[f:], G[f:, f:])
            R11 = _gram_factor(G[:f, :f])
        # the engine's collinearity check, on the centred Z over its uncentred norms
        col_sq = np.einsum("ij,ij->j", R11, R11)[off:]
        zs = shift[free]
        sx = stats["sx"][free]
        norms = np.sqrt(np.maximum(col_sq + 2 * zs * sx + zs * zs * stats["sum_w"], 0.0))
        # a constant column (zero once centred) is left to the rank check: the intercept's
        check_free_norms(norms, free)
        _, Rz, piv = sla.qr(R11[off:, off:] / norms, pivoting=True, check_finite=False)
        # from a Gram, R_11 is accurate to sqrt(eps) relative only
        tol = None if kind == "svd" else np.sqrt(max(stats["n_rows"], u) * _EPS)
        check_free_rank(Rz, piv, free, stats["n_rows"], fit_intercept, tol=tol)
        if kind != "svd":
            R12 = sla.solve_triangular(R11, G[:f, f:], trans="T", check_finite=False)
            G22 = G[f:, f:] - R12.T @ R12
            lam_offset = float(np.trace(G[f:, f:]))
        n_pen = pen.size
        max_rank = max(min(stats["n_eff"] - f, n_pen), 0)
        if kind == "svd":
            _, s, Vt, floor = thin_svd(R22, np.einsum("ij,ij->j", R22, R22))
            r, ls_rank = svd_ranks(s, floor, stats["n_rows"], n_pen, max_rank)
            s, V_p, lam_floor, Q_d = s[:r].copy(), Vt[:r].T, 0.0, None
        else:
            lam, Q, r, lam_floor = gram_eigen(np.asfortranarray(G22), stats["n_rows"],
                                              max_rank, lam_offset)
            s, V_p, ls_rank = np.sqrt(lam[:r]), Q[:, :r], None
            Q_d = Q[:, r:] if 0 < r < n_pen else None
        Gx = sla.solve_triangular(R11, R12, check_finite=False)  # (f, n_pen)
        V = np.empty((p, s.size))
        V[pen], V[free] = V_p, -Gx[off:] @ V_p
        xm = np.array(shift, dtype=np.float64)
        if off:
            xm[pen] += Gx[0]
        dropped = None
        if Q_d is not None:
            dropped = np.zeros((p, Q_d.shape[1]))
            dropped[pen] = Q_d
        super().__init__("svd" if kind == "svd" else "gram", s, np.ascontiguousarray(V),
                         lam_floor, ls_rank=ls_rank,
                         dropped=np.inf if dropped is not None else 0.0, Q_dropped=dropped,
                         lam_offset=lam_offset, **dict(stats, xm=xm))
        self.free, self.penalized, self.n_fixed = free, pen, f
        self._fixed, self._off, self._R11, self._R12 = fixed, off, R11, R12
        self._shift = np.array(shift, dtype=np.float64)

    def centering(self, ym, fit_intercept):
        return SetCentering(self.xm, ym, self.sum_w, self.n_eff, fit_intercept, self.n_fixed)

    def _target_coef(self, AtY):
        """``G_y = R_11^-1 c`` (f, k) and ``c = R_11^-T A_1^T sw (Y - y_shift)``."""
        c = sla.solve_triangular(self._R11, AtY[self._fixed], trans="T", check_finite=False)
        return sla.solve_triangular(self._R11, c, check_finite=False), c

    def cross(self, AtY, yy, fit_intercept):
        """As :meth:`SetSpectrum.cross`, projected off ``A_1``: ``Xc^T Yc`` (p, k) (zero on
        the unpenalized rows), ``||Yc||^2`` and the target means less the shift that make
        ``ym - xm^T W`` the intercept."""
        AtY = np.asarray(AtY, dtype=np.float64)
        Gy, c = self._target_coef(AtY)
        off = self._off
        XtY = np.zeros((self.xm.size, AtY.shape[1]))
        XtY[self.penalized] = AtY[off + self.penalized] - self._R12.T @ c  # A_2^T (I - P) Yc
        yc_sq = None if yy is None else np.maximum(yy - np.einsum("ij,ij->j", c, c), 0.0)
        t = -self._shift[self.free] @ Gy[off:]
        if off:
            t = t + Gy[0]
        return XtY, yc_sq, t

    def free_coef(self, AtY):
        """Coefficients (u, k) of the targets on the unpenalized columns, ``G_y``'s rows."""
        return self._target_coef(np.asarray(AtY, dtype=np.float64))[0][self._off:]

    def add_free(self, coef, AtY):
        """`coef` (..., p, k) of all columns from :attr:`V`'s (``-G_z W`` on the unpenalized
        rows): adds ``G_y`` there."""
        coef[..., self.free, :] += self.free_coef(AtY)
        return coef

    def free_fit(self, X, AtY):
        """``Z G_y`` (rows, k) of rows `X` (all columns): the part of the unpenalized fit
        that :attr:`V` and :attr:`xm` leave out of ``ym + (x - xm)^T W``."""
        return np.asarray(X, dtype=np.float64)[:, self.free] @ self.free_coef(AtY)

    def leverage(self, X, w):
        """The rows' leverage of ``A_1`` (the intercept and the unpenalized columns)."""
        M = np.asarray(X, dtype=np.float64)[:, self.free] - self._shift[self.free]
        if self._off:
            M = np.column_stack([np.ones(M.shape[0]), M])
        B = sla.solve_triangular(self._R11, M.T, trans="T", check_finite=False)
        return np.asarray(w, dtype=np.float64) * np.einsum("ij,ij->j", B, B)


def _gram_factor(G11):
    """Upper-triangular ``R`` with ``R^T R = G11``; a singular ``G11`` (collinear columns)
    gets a factor from its eigen-decomposition, which the rank check then refuses."""
    try:
        return sla.cholesky(G11, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        lam, Q = np.linalg.eigh(G11)
        return sla.qr(np.sqrt(np.maximum(lam, 0.0))[:, None] * Q.T, mode="r")[0]
