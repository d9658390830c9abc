"""Compiled kernels over a spectrum.

Every kernel works on C-contiguous arrays of one floating dtype that the Python layer
validated, allocated and passed in; they release the GIL around all loops and BLAS calls
(``scipy.linalg.cython_blas``, so that each hot path stays on SciPy's BLAS). Scratch
memory is bounded by a block of targets, never n_samples x n_targets x n_alphas.

Notation: a spectrum gives a basis ``B`` (q x r), projected targets ``R`` (r x k) and, per
alpha, filter factors ``F[a]`` (r,). The filtered product ``B @ (F[a][:, None] * R)`` is a
coefficient matrix (``B = V``), predictions (``B = X_new V``) or fitted values (``B = U``).

Every loop takes the GIL back briefly between blocks, about every ``CHECK_WORK``
multiply-adds, to run ``PyErr_CheckSignals``: Ctrl-C stops a call within one block (a GEMM
of at most about ``GEMM_WORK`` multiply-adds, or ``ROW_BLOCK`` rows), with the
``KeyboardInterrupt`` (or whatever a signal handler raised) propagated once the GIL is held.
Outputs are then partly written; no other state is changed.

The fused kernels (`sse`, `sse_lowrank`) split their target blocks over up to `n_threads`
OpenMP threads (a `prange`; serial when the core is built without OpenMP), each with its own
scratch and calling BLAS itself, so the caller limits BLAS to one thread around them. Only
the calling thread (member 0 of the team) runs the signal checks; a shared flag stops the
others at their next check, so Ctrl-C stops them within one block per thread.
"""
from cython cimport floating
from cython.parallel cimport prange
from scipy.linalg.cython_blas cimport dgemm, sgemm

import numpy as np

include "_blas_int.pxi"

cdef extern from "Python.h":
    # Declared without Cython's error check: called under a brief `with gil` inside nogil
    # code, the error it sets is propagated by `_raise_pending` after the nogil section.
    int _check_signals "PyErr_CheckSignals"() noexcept

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define SR_MAX_THREADS() omp_get_max_threads()
    #define SR_THREAD_NUM() omp_get_thread_num()
    #else
    #define SR_MAX_THREADS() 1
    #define SR_THREAD_NUM() 0
    #endif
    """
    # OpenMP's thread count for the next parallel region (1 without OpenMP) and the
    # calling thread's number in its team (0 outside one, and for the caller).
    int _max_threads "SR_MAX_THREADS"() noexcept nogil
    int _thread_num "SR_THREAD_NUM"() noexcept nogil

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
    # Values per scratch tile of rows x targets in `project` and `sse`, whatever n_samples.
    TILE_VALUES = 1 << 20
    # Multiply-adds between two signal checks, and at most this many in one GEMM call that
    # can be split (beyond the row floors): bounds the latency of Ctrl-C.
    CHECK_WORK = 1 << 26
    GEMM_WORK = 1 << 28
    # Fewest rows of C per call when a GEMM is split for the signal checks.
    GEMM_ROWS = 256
    # `sse_lowrank`: alpha-rank-target columns per GEMM of a row tile (ROW_TILE rows), and
    # rows (row-target pairs) of its fit per GEMM, whose epilogue then runs from cache.
    LOWRANK_COLS = 2048
    ROW_TILE = 512
    LOWRANK_FIT = 8192
    # Rows whose squares the epilogues sum in the working dtype before adding them to the
    # float64 totals: float32 sums stay vectorizable, their rounding below 2^-16 relative.
    ACC_ROWS = 256
    # Fewest targets per thread for the fused kernels to split target blocks over threads.
    PARALLEL_TARGETS = 32


cdef bint _interrupted(double *work, double amount) noexcept nogil:
    """Count `amount` multiply-adds; past CHECK_WORK of them, check for signals with the GIL.

    True when a signal handler raised: its exception is then set, for `_raise_pending`.
    """
    work[0] += amount
    if work[0] < CHECK_WORK:
        return False
    work[0] = 0
    with gil:
        return _check_signals() != 0


cdef bint _halted(double *work, double amount, int *flag) noexcept nogil:
    """`_interrupted` for a parallel loop: only the calling thread (team member 0) can run
    signal handlers; the shared `flag` set then stops every thread at its next check."""
    if flag[0]:
        return True
    work[0] += amount
    if work[0] < CHECK_WORK:
        return False
    work[0] = 0
    if _thread_num() == 0:
        with gil:
            if _check_signals() != 0:
                flag[0] = 1
    return flag[0] != 0


cdef Py_ssize_t _plan(Py_ssize_t k, Py_ssize_t widest, Py_ssize_t n_threads,
                      Py_ssize_t *block) noexcept nogil:
    """Threads for a fused kernel over `k` targets in blocks of at most `widest`, and the
    (equal) block size in `block`: with more than one thread (when each gets at least
    PARALLEL_TARGETS targets) the number of blocks is a multiple of the threads."""
    cdef Py_ssize_t threads = max(1, min(n_threads, k // PARALLEL_TARGETS))
    cdef Py_ssize_t blocks = (k + widest - 1) // widest if k > 0 else 1
    if threads > 1:
        blocks = (blocks + threads - 1) // threads * threads
    block[0] = max(1, (k + blocks - 1) // blocks)
    return min(threads, (k + block[0] - 1) // block[0]) if k > 0 else 1


cdef Py_ssize_t _lowrank_widest(Py_ssize_t rank) noexcept nogil:
    return max(1, min(<Py_ssize_t>TARGET_BLOCK, LOWRANK_COLS // max(rank, 1)))


def max_threads():
    """Threads that the next parallel region of the kernels may use (OpenMP's
    ``omp_get_max_threads``: ``OMP_NUM_THREADS`` or threadpoolctl's openmp limit), 1 when
    the core was built without OpenMP."""
    return _max_threads()


def kernel_threads(Py_ssize_t k, rank=None, n_threads=None):
    """Threads that `sse` (`rank` None) or `sse_lowrank` (factors of rank `rank`) run on
    `k` targets with ``n_threads`` (default :func:`max_threads`); with more than one, they
    call BLAS from every thread, which should then run one thread itself."""
    cdef Py_ssize_t block
    cdef Py_ssize_t widest = TARGET_BLOCK if rank is None else _lowrank_widest(rank)
    return _plan(k, widest, _max_threads() if n_threads is None else n_threads, &block)


cdef int _raise_pending() except -1:
    """Propagate the exception that a signal handler set during `_interrupted`."""
    return -1


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


cdef bint _gemm_split(bint trans_a, bint trans_b, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                      floating alpha, const floating *A, Py_ssize_t lda,
                      const floating *B, Py_ssize_t ldb, floating beta,
                      floating *C, Py_ssize_t ldc, double *work) noexcept nogil:
    """`_gemm` in calls of about GEMM_WORK multiply-adds (over the longer of the rows and
    columns of C), checking for signals between them. True if interrupted."""
    cdef Py_ssize_t size = max(M, N), per = max(1, N * K if M >= N else M * K)
    cdef Py_ssize_t step = min(size, max(<Py_ssize_t>GEMM_ROWS, GEMM_WORK // per))
    cdef Py_ssize_t i0 = 0, nb
    while i0 < size:
        nb = min(step, size - i0)
        if M >= N:  # rows i0 : i0 + nb of C and of op(A)
            _gemm(trans_a, trans_b, nb, N, K, alpha, A + (i0 if trans_a else i0 * lda), lda,
                  B, ldb, beta, C + i0 * ldc, ldc)
        else:  # columns i0 : i0 + nb of C and of op(B)
            _gemm(trans_a, trans_b, M, nb, K, alpha, A, lda,
                  B + (i0 * ldb if trans_b else i0), ldb, beta, C + i0, ldc)
        i0 += nb
        if _interrupted(work, <double>nb * per):
            return True
    return False


cdef Py_ssize_t _row_stride(const floating[:, :] M, str name) except -1:
    """The leading dimension of a row-major matrix `M` whose rows have unit stride (its
    row length where it has one row), checked against BLAS's integers."""
    cdef Py_ssize_t size = sizeof(floating), ld = M.strides[0] // size
    if M.shape[0] <= 1:
        ld = max(1, M.shape[1])
    elif M.strides[0] % size or ld < M.shape[1]:
        ld = -1
    if ld < 0 or (M.shape[1] > 1 and M.strides[1] != size):
        raise ValueError(f"gemm: {name} must have rows of unit stride")
    if <Py_ssize_t><blas_int>ld != ld:
        raise ValueError(f"gemm: the row stride of {name} exceeds BLAS's integers")
    return ld


def gemm(const floating[:, ::1] A, const floating[:, :] B, floating[:, :] C,
         bint trans_a=False, bint trans_b=False, double alpha=1.0, double beta=0.0):
    """``C = alpha op(A) op(B) + beta C`` for row-major arrays, in place; `B` and `C` may
    also be blocks of columns of one (their rows of unit stride)."""
    cdef Py_ssize_t M = C.shape[0], N = C.shape[1]
    cdef Py_ssize_t K = A.shape[0] if trans_a else A.shape[1]
    if (A.shape[1] if trans_a else A.shape[0]) != M or \
            (B.shape[1] if trans_b else B.shape[0]) != K or \
            (B.shape[0] if trans_b else B.shape[1]) != N:
        raise ValueError("gemm: inconsistent shapes")
    cdef double work = 0
    cdef bint stopped
    if M == 0 or N == 0:
        return
    cdef Py_ssize_t ldb = _row_stride(B, "B"), ldc = _row_stride(C, "C")
    if K == 0:  # B's data is not read
        ldb = max(1, B.shape[1])
    with nogil:
        stopped = _gemm_split(trans_a, trans_b, M, N, K, <floating>alpha, &A[0, 0],
                              A.shape[1], &B[0, 0] if K > 0 else NULL, ldb, <floating>beta,
                              &C[0, 0], ldc, &work)
    if stopped:
        _raise_pending()


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
    cdef double work_done = 0
    cdef bint stopped = False
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
            stopped = _gemm_split(False, True, m, q, r, <floating>1, &work[0, 0], max(r, 1),
                                  &B[0, 0], max(r, 1), beta, &out[0, 0, 0], q, &work_done)
        if stopped:
            _raise_pending()
        return
    # Few targets share a GEMM across alphas (as in `sse`), then are copied out per alpha.
    cdef Py_ssize_t batch = min(m, max(1, TARGET_BLOCK // k)), a0, na, i0, qb
    cdef Py_ssize_t rows = min(q, ROW_BLOCK) if batch > 1 else 0
    work = np.empty((max(r, 1), batch * k), dtype=dtype)
    cdef floating[:, ::1] fit = np.empty((rows, batch * k), dtype=dtype)
    with nogil:
        a0 = 0
        while a0 < m and not stopped:
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
                stopped = _gemm_split(False, False, q, k, r, <floating>1, &B[0, 0], max(r, 1),
                                      &work[0, 0], k, beta, &out[a0, 0, 0], k, &work_done)
            else:
                i0 = 0
                while i0 < q and not stopped:
                    qb = min(rows, q - i0)
                    _gemm(False, False, qb, na * k, r, <floating>1, &B[i0, 0], max(r, 1),
                          &work[0, 0], batch * k, <floating>0, &fit[0, 0], batch * k)
                    for a in range(na):
                        for j in range(qb):
                            for t in range(k):
                                out[a0 + a, i0 + j, t] = fit[j, a * k + t] + \
                                    (offset[t] if shifted else 0)
                    i0 += qb
                    stopped = _interrupted(&work_done, <double>qb * na * k * (r + 1))
            a0 += na
    if stopped:
        _raise_pending()


cdef void _centre_block(const floating *Y, Py_ssize_t ldy, const floating *ym,
                        const floating *sw, const double *scale, Py_ssize_t i0,
                        Py_ssize_t qb, Py_ssize_t t0, Py_ssize_t kb,
                        floating *dst) noexcept nogil:
    """dst (qb x kb) = sw[rows, None] * (Y[rows, t0:t0+kb] - ym[t0:t0+kb]) [* scale[t0:t0+kb]]
    for the rows ``i0:i0+qb`` of Y (leading dimension `ldy`).

    `scale` (NULL for none) multiplies Y and ym before the subtraction, in float64.
    """
    cdef Py_ssize_t i, t
    cdef const floating *row
    if scale == NULL:
        for i in range(qb):
            row = Y + (i0 + i) * ldy + t0
            for t in range(kb):
                dst[i * kb + t] = sw[i0 + i] * (row[t] - ym[t0 + t])
        return
    for i in range(qb):
        row = Y + (i0 + i) * ldy + t0
        for t in range(kb):
            dst[i * kb + t] = <floating>(<double>sw[i0 + i] * (
                <double>row[t] * scale[t0 + t] - <double>ym[t0 + t] * scale[t0 + t]))


def project(const floating[:, ::1] B, const floating[:, ::1] Y,
            const floating[::1] ym, const floating[::1] sw,
            floating[:, ::1] out, double[::1] sq, const double[::1] scale=None):
    """``out = B^T Yc`` and ``sq[t] = ||scale[t] Yc[:, t]||^2`` with ``Yc = sw * (Y - ym)``.

    B (q, r), Y (q, k), out (r, k); the centred targets exist one tile of rows and targets
    at a time (at most about ``TILE_VALUES`` values, or ``PROJECT_VALUES`` for short Y). `scale`
    (k,), default all ones, should hold powers of two (exact), chosen so that the squares
    neither overflow nor underflow.
    """
    cdef Py_ssize_t q = B.shape[0], r = B.shape[1], k = Y.shape[1]
    cdef Py_ssize_t t0, kb, i, t
    cdef bint scaled = scale is not None
    cdef double c
    cdef double work_done = 0
    cdef bint stopped = False
    if Y.shape[0] != q or out.shape[0] != r or out.shape[1] != k or \
            ym.shape[0] != k or sw.shape[0] != q or sq.shape[0] != k or \
            (scaled and scale.shape[0] != k):
        raise ValueError("project: inconsistent shapes")
    dtype = np.float32 if floating is float else np.float64
    cdef Py_ssize_t block = min(k, max(<Py_ssize_t>TARGET_BLOCK, PROJECT_VALUES // max(q, 1)))
    cdef Py_ssize_t rows = min(q, max(<Py_ssize_t>ROW_BLOCK, TILE_VALUES // max(block, 1)))
    cdef Py_ssize_t i0, qb
    cdef floating[::1] work = np.empty(max(rows, 1) * block, dtype=dtype)
    with nogil:
        t0 = 0
        while t0 < k and not stopped:
            kb = min(block, k - t0)
            for t in range(kb):
                sq[t0 + t] = 0
            if q == 0:
                for i in range(r):
                    for t in range(kb):
                        out[i, t0 + t] = 0
            i0 = 0
            while i0 < q and not stopped:
                qb = min(rows, q - i0)
                _centre_block(&Y[0, 0], k, &ym[0], &sw[0], NULL, i0, qb, t0, kb, &work[0])
                for i in range(qb):
                    for t in range(kb):
                        c = <double>work[i * kb + t] * (scale[t0 + t] if scaled else 1)
                        sq[t0 + t] += c * c
                stopped = _interrupted(&work_done, <double>qb * kb) or \
                    _gemm_split(True, False, r, kb, qb, <floating>1, &B[i0, 0], max(r, 1),
                                &work[0], kb, <floating>(1 if i0 > 0 else 0), &out[0, t0], k,
                                &work_done)
                i0 += qb
            t0 += kb
    if stopped:
        _raise_pending()


cdef Py_ssize_t _hat_tile(const double *HU, Py_ssize_t d, const double *HF, Py_ssize_t m,
                          const double *Ho, Py_ssize_t nt, bint check, double *U2, double *T,
                          floating *S) noexcept nogil:
    """S (nt, m) = 1 / (1 - h) with ``1 - h = Ho[:, None] + HU^2 @ HF^T`` in float64 for the
    nt rows of HU (nt, d) and Ho. With `check`, stops at the first ``1 - h`` that is not
    positive and returns its flat index ``i m + a``; else -1."""
    cdef Py_ssize_t i, a
    for i in range(nt * d):
        U2[i] = HU[i] * HU[i]
    for i in range(nt):
        for a in range(m):
            T[i * m + a] = Ho[i]
    _gemm[double](False, True, nt, m, d, 1, U2, max(d, 1), HF, max(d, 1), 1, T, m)
    for i in range(nt * m):
        if check and not T[i] > 0:
            return i
        S[i] = <floating>(1 / T[i])
    return -1


def _hat_arrays(object hat, Py_ssize_t q, Py_ssize_t m):
    """Validated ``(U, F, outside, check)`` of a `hat` argument (see `sse`), or Nones."""
    if hat is None:
        return None, None, None, False
    U, F, outside, check = hat
    U, F, outside = (np.asarray(a) for a in (U, F, outside))
    if U.dtype != np.float64 or F.dtype != np.float64 or outside.dtype != np.float64 or \
            U.ndim != 2 or F.ndim != 2 or outside.ndim != 1 or U.shape[0] != q or \
            F.shape[0] != m or F.shape[1] != U.shape[1] or outside.shape[0] != q or \
            not (U.flags.c_contiguous and F.flags.c_contiguous and outside.flags.c_contiguous):
        raise ValueError("hat: inconsistent shapes or types")
    return U, F, outside, bool(check)


cdef void _sse_block(const floating *B, const floating *R, const floating *F,
                     const floating *Y, const floating *ym, const floating *sw,
                     const floating *S, const double *scale, bint targets, double *out,
                     Py_ssize_t q, Py_ssize_t r, Py_ssize_t k, Py_ssize_t m,
                     Py_ssize_t t0, Py_ssize_t kb, Py_ssize_t rows, Py_ssize_t batch,
                     floating *resid, floating *fit, floating *fr, floating *acc,
                     double *work, int *flag) noexcept nogil:
    """`sse` of the targets ``t0 : t0 + kb`` with one thread's scratch (`S`, `scale` NULL
    for none): row tiles of `rows`, `batch` alphas per GEMM. Stops once `flag` is set."""
    cdef Py_ssize_t i0 = 0, qb, a0, na, w, i, j, t, c0, cn
    cdef floating d, v
    cdef const floating *Frow
    while i0 < q and not flag[0]:
        qb = min(rows, q - i0)
        if targets:
            _centre_block(Y, k, ym, sw, scale, i0, qb, t0, kb, resid)
        else:
            for i in range(qb * kb):
                resid[i] = 0
        a0 = 0
        while a0 < m:
            # fit (qb, na * kb) = B_tile @ [F[a0] R, ..., F[a0 + na - 1] R]
            na = min(batch, m - a0)
            w = na * kb
            for i in range(r):
                for j in range(na):
                    d = F[(a0 + j) * r + i]
                    if scale != NULL:
                        for t in range(kb):
                            fr[i * w + j * kb + t] = <floating>(
                                d * (<double>R[i * k + t0 + t] * scale[t0 + t]))
                    else:
                        for t in range(kb):
                            fr[i * w + j * kb + t] = d * R[i * k + t0 + t]
            _gemm(False, False, qb, w, r, <floating>1, B + i0 * r, max(r, 1), fr, w,
                  <floating>0, fit, w)
            # squares summed in the working dtype over ACC_ROWS rows, then in float64
            c0 = 0
            while c0 < qb:
                cn = min(<Py_ssize_t>ACC_ROWS, qb - c0)
                for i in range(w):
                    acc[i] = 0
                for i in range(c0, c0 + cn):
                    for j in range(na):
                        d = S[(i0 + i) * m + a0 + j] if S != NULL else 1
                        for t in range(kb):
                            v = d * (resid[i * kb + t] + fit[i * w + j * kb + t])
                            acc[j * kb + t] += v * v
                for j in range(na):
                    for t in range(kb):
                        out[(a0 + j) * k + t0 + t] += acc[j * kb + t]
                c0 += cn
            a0 += na
            if _halted(work, <double>qb * w * (r + 1), flag):
                return
        i0 += qb


def sse(const floating[:, ::1] B, const floating[:, ::1] R, const floating[:, ::1] F,
        const floating[:, ::1] Y, const floating[::1] ym, const floating[::1] sw,
        const floating[:, ::1] S, bint targets, double[:, ::1] out,
        const double[::1] scale=None, int n_threads=1, hat=None):
    """Accumulate ``out[a, t] += sum_i (S[i, a] * E_a[i, t])^2`` for residuals
    ``E_a = Yc + B @ (F[a][:, None] * R)``, or ``B @ (F[a][:, None] * R)`` without `targets`.

    The fused residual kernel of cross-validation, with ``Yc = sw * (Y - ym)`` as in
    ``project``. Held-out folds and leave-one-out pass minus the fit factors; leave-one-out
    passes the residual factors ``a / (s^2 + a)`` and no targets when B spans every
    direction of Yc, so that the residual has no cancellation at small alphas. ``S`` (q, m)
    scales each residual (``1 / (1 - h_i)`` for leave-one-out), or is empty (shape (0, m)).
    `scale` (k,), default all ones, multiplies target t (``Y``, ``ym`` and ``R``) before the
    residual is formed: powers of two keep the sums exact multiples of the unscaled ones
    while their squares can neither overflow nor underflow.
    B (q, r), R (r, k), F (m, r), Y (q, k),
    out (m, k) in float64 whatever the dtype of the data; the squares are summed in the
    working dtype over ACC_ROWS rows, then in float64. Few targets share a GEMM across
    alphas (``TARGET_BLOCK`` columns of alpha-target pairs), so that one target is not a
    matrix-vector product per alpha. Loops: target block, row tile, alpha batch; scratch
    (r + 2 rows) x TARGET_BLOCK values with rows at most ``max(ROW_BLOCK, TILE_VALUES /
    TARGET_BLOCK)``, whatever q, per thread. Target blocks run on up to `n_threads` threads
    (:func:`kernel_threads`; OpenMP), each calling BLAS: limit BLAS to one thread then.
    The result does not depend on the number of threads, up to rounding.

    `hat` ``(U, F, outside, check)`` (float64, C-contiguous: U (q, d), F (m, d), outside
    (q,)) gives S as ``1 / (1 - h)``, ``1 - h = outside[:, None] + U^2 @ F^T``, formed in
    float64 per tile of rows (``TILE_VALUES`` values) instead of passed (S must then be
    empty). Returns None, or with `check` the ``(row, alpha index)`` of the first row tile's
    first ``1 - h`` that is not positive, where it stopped (out then partly written).
    """
    cdef Py_ssize_t q = B.shape[0], r = B.shape[1], k = R.shape[1], m = F.shape[0]
    cdef Py_ssize_t b, t0, tid, block, n_blocks, threads, h0, nh, hrows, d = 0
    cdef Py_ssize_t bad = -1
    cdef bint scaled = S.shape[0] > 0
    cdef bint rescaled = scale is not None
    if R.shape[0] != r or F.shape[1] != r or Y.shape[0] != q or Y.shape[1] != k or \
            ym.shape[0] != k or sw.shape[0] != q or out.shape[0] != m or \
            out.shape[1] != k or (scaled and (S.shape[0] != q or S.shape[1] != m)) or \
            (rescaled and scale.shape[0] != k) or (scaled and hat is not None):
        raise ValueError("sse: inconsistent shapes")
    if n_threads < 1:
        raise ValueError(f"sse: n_threads must be >= 1, got {n_threads}")
    HU_a, HF_a, Ho_a, check_a = _hat_arrays(hat, q, m)
    cdef bint has_hat = HU_a is not None, check = check_a
    if k == 0 or m == 0:
        return
    dtype = np.float32 if floating is float else np.float64
    cdef const double[:, ::1] HU, HF
    cdef const double[::1] Ho
    cdef double[::1] U2, T
    cdef floating[::1] S_tile
    if has_hat:
        HU, HF, Ho, d = HU_a, HF_a, Ho_a, HU_a.shape[1]
    hrows = q if not has_hat else min(q, max(1, TILE_VALUES // max(m, d, 1)))
    if has_hat:
        U2, T = np.empty(max(hrows * d, 1)), np.empty(max(hrows * m, 1))
        S_tile = np.empty(max(hrows * m, 1), dtype=dtype)
    threads = _plan(k, TARGET_BLOCK, n_threads, &block)
    n_blocks = (k + block - 1) // block
    cdef Py_ssize_t batch = min(m, max(1, TARGET_BLOCK // block))
    # rows per tile: ROW_BLOCK when alphas share a GEMM, else up to about GEMM_WORK
    # multiply-adds, and never more than TILE_VALUES values of scratch per array
    cdef Py_ssize_t rows = min(hrows, ROW_BLOCK) if batch > 1 else \
        min(hrows, max(<Py_ssize_t>ROW_BLOCK,
                       min(GEMM_WORK // max(r * block, 1), TILE_VALUES // block)))
    cdef floating[:, ::1] resid = np.empty((threads, max(rows, 1) * block), dtype=dtype)
    cdef floating[:, ::1] fit = np.empty((threads, max(rows, 1) * block * batch), dtype=dtype)
    cdef floating[:, ::1] fr = np.empty((threads, max(r, 1) * block * batch), dtype=dtype)
    cdef floating[:, ::1] acc = np.empty((threads, block * batch), dtype=dtype)
    cdef double[:, ::1] work = np.zeros((threads, 8))  # a cache line per thread
    cdef int[::1] flag = np.zeros(1, dtype=np.intc)
    cdef const floating *S_p = NULL
    cdef const double *scale_p = &scale[0] if rescaled else NULL
    with nogil:
        h0 = 0
        while h0 < q and not flag[0]:  # tiles of 1 - h (one tile without `hat`)
            nh = min(hrows, q - h0)
            if has_hat:
                bad = _hat_tile(&HU[h0, 0], d, &HF[0, 0], m, &Ho[h0], nh, check, &U2[0],
                                &T[0], &S_tile[0])
                if bad >= 0:
                    bad += h0 * m
                    break
                S_p = &S_tile[0]
            elif scaled:
                S_p = &S[0, 0]
            for b in prange(n_blocks, num_threads=threads, schedule='dynamic'):
                tid = _thread_num()
                t0 = b * block
                if not flag[0]:
                    _sse_block(&B[h0, 0], &R[0, 0], &F[0, 0], &Y[h0, 0], &ym[0], &sw[h0],
                               S_p, scale_p, targets, &out[0, 0], nh, r, k, m, t0,
                               min(block, k - t0), rows, batch, &resid[tid, 0],
                               &fit[tid, 0], &fr[tid, 0], &acc[tid, 0], &work[tid, 0],
                               &flag[0])
            h0 += nh
    if flag[0]:
        _raise_pending()
    if bad >= 0:
        return bad // m, bad % m


def weighted_sum(const floating[:, :] A, const double[::1] w, const double[::1] shift,
                 double[::1] out):
    """``out[j] = sum_i w[i] (A[i, j] - shift[j])`` in float64, one pass, no temporary.

    A (n, p) of any strides, summed over i in order whatever the layout (the same result
    for C and Fortran order); `shift` (p,) or empty for none.
    """
    cdef Py_ssize_t n = A.shape[0], p = A.shape[1], i, j
    cdef bint shifted = shift.shape[0] > 0
    cdef bint rows_first = A.strides[1] <= A.strides[0]
    cdef double wi, acc, m, work_done = 0
    cdef bint stopped = False
    if w.shape[0] != n or out.shape[0] != p or (shifted and shift.shape[0] != p):
        raise ValueError("weighted_sum: inconsistent shapes")
    with nogil:
        for j in range(p):
            out[j] = 0
        if rows_first:
            for i in range(n):
                wi = w[i]
                for j in range(p):
                    out[j] += wi * (<double>A[i, j] - (shift[j] if shifted else 0))
                if _interrupted(&work_done, <double>p):
                    stopped = True
                    break
        else:
            for j in range(p):
                acc = 0
                m = shift[j] if shifted else 0
                for i in range(n):
                    acc += w[i] * (<double>A[i, j] - m)
                out[j] = acc
                if _interrupted(&work_done, <double>n):
                    stopped = True
                    break
    if stopped:
        _raise_pending()


cdef void _lowrank_block(const floating *B, const floating *R, const floating *FA,
                         const floating *FB, const floating *Y, const floating *ym,
                         const floating *sw, const floating *S, const double *scale,
                         bint targets, double *out, double *bound, Py_ssize_t q,
                         Py_ssize_t r, Py_ssize_t k, Py_ssize_t m, Py_ssize_t c,
                         const Py_ssize_t *cols, const Py_ssize_t *ranks, Py_ssize_t nb,
                         Py_ssize_t t0, Py_ssize_t kb, Py_ssize_t tile, Py_ssize_t sub,
                         floating *W, floating *Z, floating *fit, floating *pairs,
                         floating *absB,
                         floating *absR, floating *P, floating *S2, floating *btile,
                         floating *acc_w, double *acc, double *bacc, double *work,
                         int *flag) noexcept nogil:
    """`sse_lowrank` of the targets ``t0 : t0 + kb`` with one thread's scratch (`scale`
    NULL for none). Stops once `flag` is set."""
    cdef Py_ssize_t i0, nt, s0, ns, a, i, j, l, t, base, g, j0, nj, l0, nl, w0
    cdef double f, stage_one = 0
    cdef floating y, v
    cdef const floating *srow
    cdef const floating *src
    # per block g (columns j0 : j0 + nj, factors l0 : l0 + nl): W_g (nj, kb * nl) at W + w0,
    # W_g[j - j0, t nl + l - l0] = FB[l, j] R[j, t]; |R| (the blocks cover every column)
    w0 = 0
    for g in range(nb):
        j0, nj, l0, nl = cols[g], cols[g + 1] - cols[g], ranks[g], ranks[g + 1] - ranks[g]
        stage_one += <double>nj * nl
        for j in range(j0, j0 + nj):
            for t in range(kb):
                f = <double>R[j * k + t0 + t] * (scale[t0 + t] if scale != NULL else 1)
                if bound != NULL:
                    absR[j * kb + t] = <floating>(f if f >= 0 else -f)
                for l in range(nl):
                    W[w0 + (j - j0) * kb * nl + t * nl + l] = <floating>(FB[(l0 + l) * r + j] * f)
        w0 += nj * kb * nl
    for i in range(kb * m):
        acc[i] = 0
        acc_w[i] = 0
        if bound != NULL:
            bacc[i] = 0
    i0 = 0
    while i0 < q and not flag[0]:
        nt = min(tile, q - i0)
        # Z_g (nt, kb * nl) = B_tile[:, j0 : j0 + nj] @ W_g at Z + tile kb l0, read as
        # (nt * kb, nl); P (nt, kb) = |B_tile| |R|
        w0 = 0
        for g in range(nb):
            j0, nj, l0, nl = cols[g], cols[g + 1] - cols[g], ranks[g], ranks[g + 1] - ranks[g]
            if nl > 0:
                _gemm(False, False, nt, kb * nl, nj, <floating>1, B + i0 * r + j0, max(r, 1),
                      W + w0, kb * nl, <floating>0, Z + tile * kb * l0, kb * nl)
            w0 += nj * kb * nl
        if bound != NULL:
            for i in range(nt * r):
                v = B[i0 * r + i]
                absB[i] = v if v >= 0 else -v
            _gemm(False, False, nt, kb, r, <floating>1, absB, max(r, 1), absR, kb,
                  <floating>0, P, kb)
            # bound block (kb, m) += (P^2)^T (S^2) over the tile
            for i in range(nt * kb):
                P[i] = P[i] * P[i]
            for i in range(nt * m):
                S2[i] = S[i0 * m + i] * S[i0 * m + i] if S != NULL else 1
            _gemm(True, False, kb, m, nt, <floating>1, P, kb, S2, m, <floating>0, btile, m)
            for i in range(kb * m):
                bacc[i] += btile[i]
        s0 = 0
        while s0 < nt:
            ns = min(sub, nt - s0)
            # fit (ns * kb, m) = Z[pairs of rows s0 : s0 + ns] @ FA^T, Z (nt * kb, c) the
            # blocks' Z_g side by side (gathered into `pairs` where there are several)
            src = Z + s0 * kb * c
            if nb > 1:
                for g in range(nb):
                    l0, nl = ranks[g], ranks[g + 1] - ranks[g]
                    srow = Z + tile * kb * l0 + s0 * kb * nl
                    for i in range(ns * kb):
                        for l in range(nl):
                            pairs[i * c + l0 + l] = srow[i * nl + l]
                src = pairs
            _gemm(False, True, ns * kb, m, c, <floating>1, src, max(c, 1), FA, max(c, 1),
                  <floating>0, fit, m)
            for i in range(ns):
                srow = S + (i0 + s0 + i) * m if S != NULL else NULL
                for t in range(kb):
                    if not targets:
                        y = 0
                    elif scale != NULL:
                        y = <floating>(<double>sw[i0 + s0 + i] * (
                            <double>Y[(i0 + s0 + i) * k + t0 + t] * scale[t0 + t] -
                            <double>ym[t0 + t] * scale[t0 + t]))
                    else:
                        y = sw[i0 + s0 + i] * (Y[(i0 + s0 + i) * k + t0 + t] - ym[t0 + t])
                    base = (i * kb + t) * m
                    if S == NULL:
                        for a in range(m):
                            v = y + fit[base + a]
                            acc_w[t * m + a] += v * v
                    else:
                        for a in range(m):
                            v = srow[a] * (y + fit[base + a])
                            acc_w[t * m + a] += v * v
            # the sub-tile's squares (at most ACC_ROWS rows) summed in the working dtype
            for i in range(kb * m):
                acc[i] += acc_w[i]
                acc_w[i] = 0
            s0 += ns
            if _halted(work, <double>ns * kb * (stage_one + c * m + (r if bound != NULL else 0)
                                                + m), flag):
                return
        i0 += nt
    for t in range(kb):
        for a in range(m):
            out[a * k + t0 + t] += acc[t * m + a]
            if bound != NULL:
                bound[a * k + t0 + t] += bacc[t * m + a]


def sse_lowrank(const floating[:, ::1] B, const floating[:, ::1] R,
                const floating[:, ::1] FA, const floating[:, ::1] FB,
                const floating[:, ::1] Y, const floating[::1] ym, const floating[::1] sw,
                const floating[:, ::1] S, bint targets, double[:, ::1] out,
                double[:, ::1] bound, const double[::1] scale=None, int n_threads=1,
                hat=None, blocks=None):
    """`sse` with the filter factors given in factored form ``F ~= FA @ FB``.

    Accumulates ``out[a, t] += sum_i (S[i, a] * E_a[i, t])^2`` for
    ``E_a = Yc + sum_l FA[a, l] Z_l`` (or without ``Yc``), ``Z_l = B @ (FB[l][:, None] * R)``,
    and, unless `bound` is None, ``bound[a, t] += sum_i S[i, a]^2 P[i, t]^2`` with ``P =
    |B| |R|`` (entrywise absolute values, `R` scaled as in `sse`; in the working dtype,
    summed over row tiles of ROW_TILE in float64): with ``eps_a >= max_j |F[a, j] - (FA
    FB)[a, j]|``, ``|E_a - E_a^exact| <= eps_a P`` entrywise, so ``eps_a^2 bound`` bounds
    the squared error of the scaled residuals (``_scores.entrywise_bound`` computes the
    same outside the kernel). The squares of `out` are summed in the working dtype over at
    most ACC_ROWS rows, then in float64.
    B (q, r), R (r, k), FA (m, c), FB (c, r), Y (q, k), S (q, m), out and bound (m, k)
    float64. Cost ``c q r k + m c q k`` multiply-adds (plus ``q r k`` for ``P`` with
    `bound`) instead of ``m q r k``. `blocks` ``(cols, ranks)`` (intp, nb + 1 boundaries each, from 0
    to r and to rank) says that rows ``ranks[g] : ranks[g + 1]`` of FB vanish outside the
    columns ``cols[g] : cols[g + 1]`` (FB block-diagonal; its other entries are not read):
    the first term is then ``sum_g (ranks[g + 1] - ranks[g]) (cols[g + 1] - cols[g]) q k``.
    Default: one block. Scratch per thread: about ``LOWRANK_COLS`` x (r + ROW_TILE)
    values, plus ``LOWRANK_FIT`` x (m + c); never q x k x m. Target blocks run on up to
    `n_threads` threads as in `sse`, with the same result whatever their number. S may be
    empty (shape (0, m): no scaling) or, with `hat`, formed per tile of rows as in `sse`
    (the return value as there).
    """
    cdef Py_ssize_t q = B.shape[0], r = B.shape[1], k = R.shape[1], m = FA.shape[0]
    cdef Py_ssize_t c = FA.shape[1]
    cdef Py_ssize_t b, t0, tid, block, n_blocks, threads, h0, nh, hrows, d = 0
    cdef Py_ssize_t bad = -1
    cdef bint rescaled = scale is not None
    cdef bint scaled = S.shape[0] > 0
    cdef bint bounded = bound is not None
    if R.shape[0] != r or FB.shape[0] != c or FB.shape[1] != r or Y.shape[0] != q or \
            Y.shape[1] != k or ym.shape[0] != k or sw.shape[0] != q or out.shape[0] != m or \
            out.shape[1] != k or (bounded and (bound.shape[0] != m or bound.shape[1] != k)) or \
            (scaled and (S.shape[0] != q or hat is not None)) or S.shape[1] != m or \
            (rescaled and scale.shape[0] != k):
        raise ValueError("sse_lowrank: inconsistent shapes")
    if n_threads < 1:
        raise ValueError(f"sse_lowrank: n_threads must be >= 1, got {n_threads}")
    if blocks is None:
        blocks = (np.array([0, r], dtype=np.intp), np.array([0, c], dtype=np.intp))
    if len(blocks) != 2 or not all(np.issubdtype(np.asarray(a).dtype, np.integer)
                                   for a in blocks):
        raise ValueError("sse_lowrank: inconsistent blocks")
    cols_a, ranks_a = (np.ascontiguousarray(a, dtype=np.intp) for a in blocks)
    if cols_a.ndim != 1 or cols_a.shape != ranks_a.shape or cols_a.size < 2 or \
            cols_a[0] != 0 or cols_a[-1] != r or ranks_a[0] != 0 or ranks_a[-1] != c or \
            (np.diff(cols_a) < 0).any() or (np.diff(ranks_a) < 0).any():
        raise ValueError("sse_lowrank: inconsistent blocks")
    cdef const Py_ssize_t[::1] cols = cols_a, ranks = ranks_a
    cdef Py_ssize_t nb = cols.shape[0] - 1
    HU_a, HF_a, Ho_a, check_a = _hat_arrays(hat, q, m)
    cdef bint has_hat = HU_a is not None, check = check_a
    if k == 0 or m == 0 or q == 0:
        return
    dtype = np.float32 if floating is float else np.float64
    cdef const double[:, ::1] HU, HF
    cdef const double[::1] Ho
    cdef double[::1] U2, T
    cdef floating[::1] S_tile
    if has_hat:
        HU, HF, Ho, d = HU_a, HF_a, Ho_a, HU_a.shape[1]
    hrows = q if not has_hat else min(q, max(1, TILE_VALUES // max(m, d, 1)))
    if has_hat:
        U2, T = np.empty(max(hrows * d, 1)), np.empty(max(hrows * m, 1))
        S_tile = np.empty(max(hrows * m, 1), dtype=dtype)
    threads = _plan(k, _lowrank_widest(c), n_threads, &block)
    n_blocks = (k + block - 1) // block
    cdef Py_ssize_t tile = min(hrows, ROW_TILE)
    cdef Py_ssize_t sub = max(1, min(tile, <Py_ssize_t>ACC_ROWS, LOWRANK_FIT // block))
    cdef Py_ssize_t stage_one = int(np.dot(np.diff(cols_a), np.diff(ranks_a)))
    cdef Py_ssize_t nbound = 1 if bound is None else 0  # one-value scratch without the bound
    cdef floating[:, ::1] W = np.empty((threads, max(1, block * stage_one)), dtype=dtype)
    cdef floating[:, ::1] Z = np.empty((threads, tile * block * max(c, 1)), dtype=dtype)
    cdef floating[:, ::1] fit = np.empty((threads, sub * block * m), dtype=dtype)
    cdef floating[:, ::1] pairs = np.empty((threads, sub * block * c if nb > 1 else 1),
                                           dtype=dtype)
    cdef floating[:, ::1] absB = np.empty((threads, nbound or tile * max(r, 1)), dtype=dtype)
    cdef floating[:, ::1] absR = np.empty((threads, nbound or max(r, 1) * block), dtype=dtype)
    cdef floating[:, ::1] P = np.empty((threads, nbound or tile * block), dtype=dtype)
    cdef floating[:, ::1] S2 = np.empty((threads, nbound or tile * m), dtype=dtype)
    cdef floating[:, ::1] btile = np.empty((threads, nbound or block * m), dtype=dtype)
    cdef floating[:, ::1] acc_w = np.empty((threads, block * m), dtype=dtype)
    cdef double[:, ::1] acc = np.empty((threads, block * m))
    cdef double[:, ::1] bacc = np.empty((threads, nbound or block * m))
    cdef double[:, ::1] work = np.zeros((threads, 8))  # a cache line per thread
    cdef int[::1] flag = np.zeros(1, dtype=np.intc)
    cdef const double *scale_p = &scale[0] if rescaled else NULL
    cdef const floating *S_p = NULL
    cdef double *bound_p = &bound[0, 0] if bounded else NULL
    with nogil:
        h0 = 0
        while h0 < q and not flag[0]:  # tiles of 1 - h (one tile without `hat`)
            nh = min(hrows, q - h0)
            if has_hat:
                bad = _hat_tile(&HU[h0, 0], d, &HF[0, 0], m, &Ho[h0], nh, check, &U2[0],
                                &T[0], &S_tile[0])
                if bad >= 0:
                    bad += h0 * m
                    break
                S_p = &S_tile[0]
            elif scaled:
                S_p = &S[0, 0]
            for b in prange(n_blocks, num_threads=threads, schedule='dynamic'):
                tid = _thread_num()
                t0 = b * block
                if not flag[0]:
                    _lowrank_block(&B[h0, 0], &R[0, 0], &FA[0, 0], &FB[0, 0], &Y[h0, 0],
                                   &ym[0], &sw[h0], S_p, scale_p, targets, &out[0, 0],
                                   bound_p, nh, r, k, m, c, &cols[0], &ranks[0], nb,
                                   t0, min(block, k - t0), tile, sub, &W[tid, 0], &Z[tid, 0],
                                   &fit[tid, 0], &pairs[tid, 0], &absB[tid, 0],
                                   &absR[tid, 0], &P[tid, 0],
                                   &S2[tid, 0], &btile[tid, 0],
                                   &acc_w[tid, 0], &acc[tid, 0], &bacc[tid, 0],
                                   &work[tid, 0], &flag[0])
            h0 += nh
    if flag[0]:
        _raise_pending()
    if bad >= 0:
        return bad // m, bad % m
