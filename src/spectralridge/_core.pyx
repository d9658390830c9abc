"""Compiled kernels over a spectrum.

Every kernel works on C-contiguous arrays of one floating dtype that the Python layer
validated, allocated and passed in; they release the GIL around all loops and BLAS calls
(``scipy.linalg.cython_blas``, so that each hot path stays on SciPy's BLAS). Scratch
memory is bounded by a block of targets, never n_samples x n_targets x n_alphas.

Notation: a spectrum gives a basis ``B`` (q x r), projected targets ``R`` (r x k) and, per
alpha, filter factors ``F[a]`` (r,). The filtered product ``B @ (F[a][:, None] * R)`` is a
coefficient matrix (``B = V``), predictions (``B = X_new V``) or fitted values (``B = U``).
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm

import numpy as np

include "_blas_int.pxi"

# Targets per block in the fused kernels: large enough for GEMM to run near peak, small
# enough that a block of residuals stays in cache for the epilogue.
cdef enum:
    TARGET_BLOCK = 256
    # Rows per GEMM where few targets share it across alphas: bounds that scratch (rows x
    # TARGET_BLOCK values) whatever n_samples.
    ROW_BLOCK = 2048
    # `project` has no epilogue: wider blocks (up to this many centred values) keep its
    # GEMM near peak.
    PROJECT_VALUES = 1 << 22


cdef void _gemm(bint trans_a, bint trans_b, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                floating alpha, const floating *A, Py_ssize_t lda,
                const floating *B, Py_ssize_t ldb, floating beta,
                floating *C, Py_ssize_t ldc) noexcept nogil:
    """Row-major ``C (M x N) = alpha op(A) op(B) + beta C``.

    Row-major C is column-major C^T = op(B)^T op(A)^T, hence the swapped operands.
    """
    cdef Py_ssize_t i, j
    if M == 0 or N == 0:
        return
    if K == 0:
        for i in range(M):
            for j in range(N):
                C[i * ldc + j] = beta * C[i * ldc + j] if beta != 0 else 0
        return
    cdef char ta = b't' if trans_b else b'n'
    cdef char tb = b't' if trans_a else b'n'
    cdef blas_int m = <blas_int>N, n = <blas_int>M, k = <blas_int>K
    cdef blas_int la = <blas_int>ldb, lb = <blas_int>lda, lc = <blas_int>ldc
    if floating is float:
        sgemm(&ta, &tb, &m, &n, &k, &alpha, <float *>B, &la, <float *>A, &lb, &beta, C, &lc)
    else:
        dgemm(&ta, &tb, &m, &n, &k, &alpha, <double *>B, &la, <double *>A, &lb, &beta, C, &lc)


def gemm(const floating[:, ::1] A, const floating[:, ::1] B, floating[:, ::1] C,
         bint trans_a=False, bint trans_b=False, double alpha=1.0, double beta=0.0):
    """``C = alpha op(A) op(B) + beta C`` for row-major arrays, in place."""
    cdef Py_ssize_t M = C.shape[0], N = C.shape[1]
    cdef Py_ssize_t K = A.shape[0] if trans_a else A.shape[1]
    if (A.shape[1] if trans_a else A.shape[0]) != M or \
            (B.shape[1] if trans_b else B.shape[0]) != K or \
            (B.shape[0] if trans_b else B.shape[1]) != N:
        raise ValueError("gemm: inconsistent shapes")
    with nogil:
        _gemm(trans_a, trans_b, M, N, K, <floating>alpha, &A[0, 0], A.shape[1],
              &B[0, 0], B.shape[1], <floating>beta, &C[0, 0], N)


def apply_filter(const floating[:, ::1] B, const floating[:, ::1] R,
                 const floating[:, ::1] F, const floating[::1] offset,
                 floating[:, :, ::1] out):
    """``out[a] = B @ (F[a][:, None] * R) + offset`` for every alpha ``a``.

    B (q, r), R (r, k), F (m, r), offset (k,) or empty for none, out (m, q, k).
    """
    cdef Py_ssize_t q = B.shape[0], r = B.shape[1], k = R.shape[1], m = F.shape[0]
    cdef Py_ssize_t a, i, j, t
    cdef bint shifted = offset.shape[0] > 0
    cdef floating beta = 1 if shifted else 0
    if R.shape[0] != r or F.shape[1] != r or (shifted and offset.shape[0] != k) or \
            out.shape[0] != m or out.shape[1] != q or out.shape[2] != k:
        raise ValueError("apply_filter: inconsistent shapes")
    if m == 0 or q == 0 or k == 0:
        return
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] work
    if k == 1:
        # One GEMM for all alphas: out (m x q) = (F * R^T) (m x r) @ B^T.
        work = np.empty((m, max(r, 1)), dtype=dtype)
        with nogil:
            for a in range(m):
                for i in range(r):
                    work[a, i] = F[a, i] * R[i, 0]
                if shifted:
                    for j in range(q):
                        out[a, j, 0] = offset[0]
            _gemm(False, True, m, q, r, <floating>1, &work[0, 0], max(r, 1),
                  &B[0, 0], max(r, 1), beta, &out[0, 0, 0], q)
        return
    # Few targets share a GEMM across alphas (as in `sse`), then are copied out per alpha.
    cdef Py_ssize_t batch = min(m, max(1, TARGET_BLOCK // k)), a0, na, i0, qb
    cdef Py_ssize_t rows = min(q, ROW_BLOCK) if batch > 1 else 0
    work = np.empty((max(r, 1), batch * k), dtype=dtype)
    cdef floating[:, ::1] fit = np.empty((rows, batch * k), dtype=dtype)
    with nogil:
        a0 = 0
        while a0 < m:
            na = min(batch, m - a0)
            for i in range(r):
                for j in range(na):
                    for t in range(k):
                        work[i, j * k + t] = F[a0 + j, i] * R[i, t]
            if batch == 1:
                if shifted:
                    for j in range(q):
                        for t in range(k):
                            out[a0, j, t] = offset[t]
                _gemm(False, False, q, k, r, <floating>1, &B[0, 0], max(r, 1),
                      &work[0, 0], k, beta, &out[a0, 0, 0], k)
            else:
                i0 = 0
                while i0 < q:
                    qb = min(rows, q - i0)
                    _gemm(False, False, qb, na * k, r, <floating>1, &B[i0, 0], max(r, 1),
                          &work[0, 0], batch * k, <floating>0, &fit[0, 0], batch * k)
                    for a in range(na):
                        for j in range(qb):
                            for t in range(k):
                                out[a0 + a, i0 + j, t] = fit[j, a * k + t] + \
                                    (offset[t] if shifted else 0)
                    i0 += qb
            a0 += na


cdef void _centre_block(const floating[:, ::1] Y, const floating[::1] ym,
                        const floating[::1] sw, Py_ssize_t t0, Py_ssize_t kb,
                        floating *dst) noexcept nogil:
    """dst (q x kb) = sw[:, None] * (Y[:, t0:t0+kb] - ym[t0:t0+kb])."""
    cdef Py_ssize_t i, t, q = Y.shape[0]
    for i in range(q):
        for t in range(kb):
            dst[i * kb + t] = sw[i] * (Y[i, t0 + t] - ym[t0 + t])


def project(const floating[:, ::1] B, const floating[:, ::1] Y,
            const floating[::1] ym, const floating[::1] sw,
            floating[:, ::1] out, double[::1] sq):
    """``out = B^T Yc`` and ``sq[t] = ||Yc[:, t]||^2`` with ``Yc = sw * (Y - ym)``.

    B (q, r), Y (q, k), out (r, k); the centred targets exist one block at a time.
    """
    cdef Py_ssize_t q = B.shape[0], r = B.shape[1], k = Y.shape[1]
    cdef Py_ssize_t t0, kb, i, t
    if Y.shape[0] != q or out.shape[0] != r or out.shape[1] != k or \
            ym.shape[0] != k or sw.shape[0] != q or sq.shape[0] != k:
        raise ValueError("project: inconsistent shapes")
    dtype = np.float32 if floating is float else np.float64
    cdef Py_ssize_t block = min(k, max(<Py_ssize_t>TARGET_BLOCK, PROJECT_VALUES // max(q, 1)))
    cdef floating[::1] work = np.empty(q * block, dtype=dtype)
    with nogil:
        t0 = 0
        while t0 < k:
            kb = min(block, k - t0)
            _centre_block(Y, ym, sw, t0, kb, &work[0])
            for t in range(kb):
                sq[t0 + t] = 0
            for i in range(q):
                for t in range(kb):
                    sq[t0 + t] += <double>work[i * kb + t] * work[i * kb + t]
            _gemm(True, False, r, kb, q, <floating>1, &B[0, 0], max(r, 1),
                  &work[0], kb, <floating>0, &out[0, t0], k)
            t0 += kb


def sse(const floating[:, ::1] B, const floating[:, ::1] R, const floating[:, ::1] F,
        const floating[:, ::1] Y, const floating[::1] ym, const floating[::1] sw,
        const floating[:, ::1] S, bint targets, double[:, ::1] out):
    """Accumulate ``out[a, t] += sum_i (S[i, a] * E_a[i, t])^2`` for residuals
    ``E_a = Yc + B @ (F[a][:, None] * R)``, or ``B @ (F[a][:, None] * R)`` without `targets`.

    The fused residual kernel of cross-validation, with ``Yc = sw * (Y - ym)`` as in
    ``project``. Held-out folds and leave-one-out pass minus the fit factors; leave-one-out
    passes the residual factors ``a / (s^2 + a)`` and no targets when B spans every
    direction of Yc, so that the residual has no cancellation at small alphas. ``S`` (q, m)
    scales each residual (``1 / (1 - h_i)`` for leave-one-out), or is empty (shape (0, m)).
    B (q, r), R (r, k), F (m, r), Y (q, k),
    out (m, k) in float64 whatever the dtype of the data. Few targets share a GEMM across
    alphas (``TARGET_BLOCK`` columns of alpha-target pairs), so that one target is not a
    matrix-vector product per alpha. Scratch: (r + 2 q) x TARGET_BLOCK values, or with few
    targets (r + ROW_BLOCK) x TARGET_BLOCK + q x k.
    """
    cdef Py_ssize_t q = B.shape[0], r = B.shape[1], k = R.shape[1], m = F.shape[0]
    cdef Py_ssize_t t0, kb, a0, na, w, a, i, j, t, i0, qb
    cdef bint scaled = S.shape[0] > 0
    cdef floating d
    cdef double v
    if R.shape[0] != r or F.shape[1] != r or Y.shape[0] != q or Y.shape[1] != k or \
            ym.shape[0] != k or sw.shape[0] != q or out.shape[0] != m or \
            out.shape[1] != k or (scaled and (S.shape[0] != q or S.shape[1] != m)):
        raise ValueError("sse: inconsistent shapes")
    if k == 0 or m == 0:
        return
    dtype = np.float32 if floating is float else np.float64
    cdef Py_ssize_t block = min(k, TARGET_BLOCK)
    cdef Py_ssize_t alphas_per_gemm = min(m, max(1, TARGET_BLOCK // block))
    cdef floating[::1] resid = np.empty(q * block, dtype=dtype)
    cdef Py_ssize_t rows = q if alphas_per_gemm == 1 else min(q, ROW_BLOCK)
    cdef floating[::1] fit = np.empty(max(rows, 1) * block * alphas_per_gemm, dtype=dtype)
    cdef floating[::1] fr = np.empty(max(r, 1) * block * alphas_per_gemm, dtype=dtype)
    with nogil:
        t0 = 0
        while t0 < k:
            kb = min(block, k - t0)
            if targets:
                _centre_block(Y, ym, sw, t0, kb, &resid[0])
            else:
                for i in range(q * kb):
                    resid[i] = 0
            a0 = 0
            while a0 < m:
                # fit (q, na * kb) = B @ [F[a0] R, ..., F[a0 + na - 1] R] for this block
                na = min(alphas_per_gemm, m - a0)
                w = na * kb
                for i in range(r):
                    for j in range(na):
                        for t in range(kb):
                            fr[i * w + j * kb + t] = F[a0 + j, i] * R[i, t0 + t]
                i0 = 0
                while i0 < q:
                    qb = min(rows, q - i0)
                    _gemm(False, False, qb, w, r, <floating>1, &B[i0, 0], max(r, 1),
                          &fr[0], w, <floating>0, &fit[0], w)
                    for i in range(qb):
                        for j in range(na):
                            a = a0 + j
                            d = S[i0 + i, a] if scaled else 1
                            for t in range(kb):
                                v = <double>d * (<double>resid[(i0 + i) * kb + t] +
                                                 fit[i * w + j * kb + t])
                                out[a, t0 + t] += v * v
                    i0 += qb
                a0 += na
            t0 += kb
