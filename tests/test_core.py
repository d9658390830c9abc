"""The compiled kernels against NumPy einsum, across their block boundaries."""
import os
import signal
import threading
import time
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose

from spectralridge import _core

TOL = {np.float32: 1e-5, np.float64: 1e-12}


def operands(q, r, k, m, dtype, seed=0):
    rng = np.random.default_rng(seed)
    B, R, F = (rng.standard_normal(shape).astype(dtype) for shape in ((q, r), (r, k), (m, r)))
    return B, R, F


# k = 1 (one GEMM), few targets batched across alphas with a remainder, one alpha per GEMM;
# q beyond ROW_BLOCK (2048) rows with a remainder; many targets on several row tiles
# (TILE_VALUES / TARGET_BLOCK = 4096 rows); empty dimensions.
SHAPES = [(7, 4, 1, 5), (5000, 3, 2, 300), (4101, 5, 3, 100), (9, 6, 300, 3),
          (9000, 3, 260, 2), (6, 0, 3, 4), (0, 3, 2, 5), (5, 3, 0, 5), (5, 3, 2, 0)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gemm_into_a_block_of_columns(dtype):
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((300, 7)).astype(dtype), rng.standard_normal((7, 40)).astype(dtype)
    C = np.full((300, 90), 2.0, dtype=dtype)
    _core.gemm(A, B, C[:, 30:70], beta=1.0)
    assert_allclose(C[:, 30:70], A.astype(float) @ B + 2.0, rtol=TOL[dtype], atol=TOL[dtype])
    assert (C[:, :30] == 2).all() and (C[:, 70:] == 2).all()
    _core.gemm(A[:1], B, C[:1, 50:90])  # one row: any row stride
    assert_allclose(C[0, 50:90], A[0].astype(float) @ B, rtol=TOL[dtype], atol=TOL[dtype])
    for bad in (C[:, ::2][:, :40], C[::-1, :40]):
        with pytest.raises(ValueError, match="unit stride"):
            _core.gemm(A, B, bad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_apply_filter(shape, dtype):
    q, r, k, m = shape
    B, R, F = operands(q, r, k, m, dtype)
    offset = np.linspace(-1, 1, k).astype(dtype)
    want = np.einsum("qr,ar,rk->aqk", B.astype(float), F.astype(float), R.astype(float))
    for off, shift in ((np.empty(0, dtype), 0.0), (offset, offset)):
        out = np.full((m, q, k), np.nan, dtype=dtype)
        _core.apply_filter(B, R, F, off, out)
        assert_allclose(out, want + shift, rtol=TOL[dtype], atol=TOL[dtype] * max(1, r))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_sse(shape, dtype):
    q, r, k, m = shape
    B, R, F = operands(q, r, k, m, dtype)
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((q, k)).astype(dtype)
    ym, sw = rng.standard_normal(k).astype(dtype), rng.uniform(0, 2, q).astype(dtype)
    S = rng.uniform(0.5, 2, (q, m)).astype(dtype)
    fit = np.einsum("qr,ar,rk->aqk", B.astype(float), F.astype(float), R.astype(float))
    Yc = sw[:, None].astype(float) * (Y - ym)
    for targets in (True, False):
        for scale in (S, np.empty((0, m), dtype)):
            E = fit + Yc if targets else fit
            if scale.size:
                E = E * scale.T[:, :, None]
            out = np.ones((m, k))
            _core.sse(B, R, F, Y, ym, sw, scale, targets, out)
            assert_allclose(out, 1.0 + (E ** 2).sum(axis=1), rtol=10 * TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(7, 4, 1), (9000, 3, 260), (30, 2, 5000), (0, 3, 4),
                                   (5, 0, 3)])
def test_project(shape, dtype):
    q, r, k = shape
    rng = np.random.default_rng(2)
    B, Y = rng.standard_normal((q, r)).astype(dtype), rng.standard_normal((q, k)).astype(dtype)
    ym, sw = rng.standard_normal(k).astype(dtype), rng.uniform(0, 2, q).astype(dtype)
    scale = 2.0 ** rng.integers(-3, 4, k)
    Yc = sw[:, None].astype(float) * (Y - ym)
    out, sq = np.full((r, k), np.nan, dtype=dtype), np.full(k, np.nan)
    _core.project(B, Y, ym, sw, out, sq, scale)
    assert_allclose(out, B.astype(float).T @ Yc, rtol=TOL[dtype], atol=TOL[dtype] * max(1, q))
    assert_allclose(sq, ((Yc * scale) ** 2).sum(axis=0), rtol=TOL[dtype])


def test_many_targets_scratch_is_a_tile():
    # centred targets and residuals exist one tile of rows at a time, never q x k
    q, r, k, m = 60_000, 3, 256, 2
    B, R, F = operands(q, r, k, m, np.float32)
    Y, ym, sw = np.ones((q, k), np.float32), np.zeros(k, np.float32), np.ones(q, np.float32)
    tracemalloc.start()
    try:
        _core.project(B, Y, ym, sw, np.empty((r, k), np.float32), np.empty(k))
        _core.sse(B, R, F, Y, ym, sw, np.empty((0, m), np.float32), True, np.zeros((m, k)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16e6 < Y.nbytes / 3


def test_few_targets_scratch_is_bounded():
    # scratch of the batched GEMMs is ROW_BLOCK x TARGET_BLOCK values, not n x k x m
    q, r, k, m = 40_000, 4, 2, 128
    B, R, F = operands(q, r, k, m, np.float64)
    out = np.empty((m, q, k))
    Y, ym, sw = np.zeros((q, k)), np.zeros(k), np.ones(q)
    tracemalloc.start()
    try:
        _core.apply_filter(B, R, F, np.empty(0), out)
        _core.sse(B, R, F, Y, ym, sw, np.empty((0, m)), True, np.zeros((m, k)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8e6 < out.nbytes / 4


def _interrupt_soon(delay=0.05):
    """Send SIGINT to this process from a timer thread after `delay` seconds."""
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def _raised_in_kernel(excinfo):
    """Whether the innermost frame of the traceback is compiled code of _core."""
    return os.path.basename(str(excinfo.traceback[-1].path)).startswith("_core")


def _long_sse():
    rng = np.random.default_rng(0)
    q, r, k, m = 2000, 400, 256, 3000  # 6e11 multiply-adds
    B, R, F = operands(q, r, k, m, np.float64)
    Y = rng.standard_normal((q, k))
    out = np.zeros((m, k))
    return (lambda: _core.sse(B, R, F, Y, np.zeros(k), np.ones(q), np.empty((0, m)), True,
                              out),
            lambda: (out == 0).any())


def _long_apply_filter(k):
    q, r, m = 4000, 2000, 2000 // k  # 1.6e10 multiply-adds per call
    B, R, F = operands(q, r, k, m, np.float64)
    out = np.full((m, q, k), np.nan)
    return (lambda: [_core.apply_filter(B, R, F, np.empty(0), out) for _ in range(8)],
            lambda: np.isnan(out).any())


def _long_project():
    rng = np.random.default_rng(0)
    q, r, k = 10_000, 1000, 512  # 5e9 multiply-adds per call
    B, Y = rng.standard_normal((q, r)), rng.standard_normal((q, k))
    out = np.full((r, k), np.nan)
    return (lambda: [_core.project(B, Y, np.zeros(k), np.ones(q), out, np.empty(k))
                     for _ in range(8)],
            lambda: np.isnan(out).any())


def _long_gemm():
    A = np.random.default_rng(0).standard_normal((10_000, 1000))
    C = np.full((10_000, 1000), np.nan)  # 1e10 multiply-adds per call
    return lambda: [_core.gemm(A, A[:1000], C) for _ in range(8)], lambda: np.isnan(C).any()


def _long_sse_lowrank():
    q, r, k, m, c = 4000, 1000, 512, 40, 20  # 4e10 multiply-adds per call
    rng = np.random.default_rng(0)
    B, R, Y = rng.standard_normal((q, r)), rng.standard_normal((r, k)), np.ones((q, k))
    FA, FB = rng.standard_normal((m, c)), rng.standard_normal((c, r))
    out, bound = np.zeros((m, k)), np.zeros((m, k))
    return (lambda: [_core.sse_lowrank(B, R, FA, FB, Y, np.zeros(k), np.ones(q),
                                       np.ones((q, m)), True, out, bound) for _ in range(8)],
            lambda: (out == 0).any())


LONG_CALLS = {"sse": _long_sse, "apply_filter-1": lambda: _long_apply_filter(1),
              "apply_filter": lambda: _long_apply_filter(256), "project": _long_project,
              "gemm": _long_gemm, "sse_lowrank": _long_sse_lowrank}


@pytest.mark.parametrize("kernel", LONG_CALLS)
def test_kernels_stop_on_ctrl_c(kernel):
    # each call runs for seconds; Ctrl-C 0.05 s in must stop the first call inside the
    # kernel (not after it returned), its output not fully written
    for attempt in range(3):  # a loaded machine may deliver the signal before the call
        run, unfinished = LONG_CALLS[kernel]()
        timer = _interrupt_soon()
        try:
            with pytest.raises(KeyboardInterrupt) as excinfo:
                run()
        finally:
            timer.cancel()
        if _raised_in_kernel(excinfo):
            break
    assert _raised_in_kernel(excinfo)
    assert unfinished()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scale_multiplies_the_targets(dtype):
    # a power of two per target: sums of squares exactly scale^2 times the unscaled ones
    q, r, k, m = 300, 4, 5, 3
    B, R, F = operands(q, r, k, m, dtype)
    rng = np.random.default_rng(2)
    Y = rng.standard_normal((q, k)).astype(dtype)
    ym, sw = rng.standard_normal(k).astype(dtype), rng.uniform(0, 2, q).astype(dtype)
    scale = np.ldexp(1.0, np.array([-20, 0, 3, 7, -1]))
    for targets in (True, False):
        plain, scaled = np.zeros((m, k)), np.zeros((m, k))
        _core.sse(B, R, F, Y, ym, sw, np.empty((0, m), dtype), targets, plain)
        _core.sse(B, R, F, Y, ym, sw, np.empty((0, m), dtype), targets, scaled, scale)
        assert_allclose(scaled, plain * scale ** 2, rtol=10 * TOL[dtype])
    out, sq, sq_scaled = np.empty((r, k), dtype), np.empty(k), np.empty(k)
    _core.project(B, Y, ym, sw, out, sq)
    _core.project(B, Y, ym, sw, out, sq_scaled, scale)
    assert_allclose(sq_scaled, sq * scale ** 2, rtol=10 * TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_sum_against_einsum_in_every_layout(dtype):
    rng = np.random.default_rng(3)
    A = (rng.standard_normal((301, 7)) * 1e3 + 5e6).astype(dtype)
    w, shift = rng.uniform(0, 2, 301), A.mean(axis=0, dtype=np.float64)
    expected = np.einsum("i,ij->j", w, A.astype(np.float64) - shift)
    results = []
    for layout in (A, np.asfortranarray(A), A[::-1][::-1], np.repeat(A, 2, axis=1)[:, ::2]):
        out = np.empty(7)
        _core.weighted_sum(layout, w, shift, out)
        results.append(out)
    assert_allclose(results[0], expected, rtol=1e-12, atol=1e-9 * np.abs(w).sum())
    for out in results[1:]:
        np.testing.assert_array_equal(out, results[0])  # summed in the same order
    out = np.empty(7)
    _core.weighted_sum(A, w, np.empty(0), out)
    assert_allclose(out, w @ A.astype(np.float64), rtol=1e-12)
    _core.weighted_sum(np.empty((0, 7), dtype), np.empty(0), np.empty(0), out)
    assert (out == 0).all()


# (rows, r, k, m, rank): row tiles of 256 and sub-tiles with remainders, blocks of targets
# (at most 2048 // rank, and 256) with a remainder, rank above r, rank 0, empty dimensions.
LOWRANK_SHAPES = [(700, 30, 300, 17, 5), (5, 3, 1, 4, 2), (300, 7, 70, 3, 40),
                  (50, 4, 3, 6, 0), (0, 3, 2, 5, 2), (5, 3, 0, 5, 2), (5, 3, 2, 0, 2)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", LOWRANK_SHAPES)
def test_sse_lowrank(shape, dtype):
    q, r, k, m, c = shape
    rng = np.random.default_rng(3)
    B, R, FA, FB, Y = (rng.standard_normal(sh).astype(dtype)
                       for sh in ((q, r), (r, k), (m, c), (c, r), (q, k)))
    ym, sw = rng.standard_normal(k).astype(dtype), rng.uniform(0, 2, q).astype(dtype)
    S = rng.uniform(0.5, 2, (q, m)).astype(dtype)
    scale = np.ldexp(1.0, rng.integers(-4, 4, k))
    F = FA.astype(float) @ FB.astype(float)
    for targets in (True, False):
        for sc in (None, scale):
            mult = np.ones(k) if sc is None else sc
            Rs = R.astype(float) * mult
            E = np.einsum("qr,ar,rk->aqk", B.astype(float), F, Rs)
            if targets:
                E += sw[:, None].astype(float) * (Y - ym) * mult
            E *= S.T[:, :, None]
            P = np.abs(B.astype(float)) @ np.abs(Rs)
            out, bound = np.ones((m, k)), np.ones((m, k))
            _core.sse_lowrank(B, R, FA, FB, Y, ym, sw, S, targets, out, bound, sc)
            assert_allclose(out, 1.0 + (E ** 2).sum(axis=1), rtol=10 * max(1, c) * TOL[dtype])
            assert_allclose(bound, 1.0 + np.square(S.T) @ np.square(P), rtol=10 * TOL[dtype])
            alone = np.ones((m, k))  # without the bound: the same sums
            _core.sse_lowrank(B, R, FA, FB, Y, ym, sw, S, targets, alone, None, sc)
            assert_allclose(alone, out, rtol=TOL[dtype])


# (rows, r, k, m, column blocks, their ranks): blocks of unequal widths and ranks, a block
# of rank 0, an empty block, one block
BLOCK_SHAPES = [(700, 30, 300, 17, [0, 7, 20, 30], [0, 3, 5, 9]),
                (90, 12, 40, 5, [0, 4, 4, 12], [0, 2, 2, 2]),
                (60, 10, 7, 6, [0, 5, 10], [0, 0, 3]), (40, 6, 9, 4, [0, 6], [0, 4])]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", BLOCK_SHAPES)
def test_sse_lowrank_blocks(shape, dtype):
    # block-diagonal FB: only the blocks are read (NaN elsewhere), the result as the dense
    # product of the blocks
    q, r, k, m, cols, ranks = shape
    c = ranks[-1]
    rng = np.random.default_rng(5)
    B, R, FA, Y = (rng.standard_normal(sh).astype(dtype)
                   for sh in ((q, r), (r, k), (m, c), (q, k)))
    FB = np.full((c, r), np.nan, dtype=dtype)
    dense = np.zeros((c, r))
    for g in range(len(cols) - 1):
        block = rng.standard_normal((ranks[g + 1] - ranks[g], cols[g + 1] - cols[g]))
        FB[ranks[g]:ranks[g + 1], cols[g]:cols[g + 1]] = block
        dense[ranks[g]:ranks[g + 1], cols[g]:cols[g + 1]] = block.astype(dtype)
    ym, sw = rng.standard_normal(k).astype(dtype), rng.uniform(0, 2, q).astype(dtype)
    S = rng.uniform(0.5, 2, (q, m)).astype(dtype)
    F = FA.astype(float) @ dense
    E = np.einsum("qr,ar,rk->aqk", B.astype(float), F, R.astype(float)) + \
        sw[:, None].astype(float) * (Y - ym)
    E *= S.T[:, :, None]
    P = np.abs(B.astype(float)) @ np.abs(R.astype(float))
    out, bound = np.zeros((m, k)), np.zeros((m, k))
    _core.sse_lowrank(B, R, FA, FB, Y, ym, sw, S, True, out, bound,
                      blocks=(np.array(cols), np.array(ranks)))
    assert_allclose(out, (E ** 2).sum(axis=1), rtol=10 * max(1, c) * TOL[dtype])
    assert_allclose(bound, np.square(S.T) @ np.square(P), rtol=10 * TOL[dtype])


def test_sse_lowrank_refuses_inconsistent_blocks():
    B, R, FA, FB = np.ones((4, 3)), np.ones((3, 2)), np.ones((5, 2)), np.ones((2, 3))
    args = (np.ones((4, 2)), np.zeros(2), np.ones(4), np.ones((4, 5)), True, np.zeros((5, 2)),
            np.zeros((5, 2)))
    for blocks in [([0, 3], [0, 1]), ([0, 2], [0, 2]), ([0, 2, 1, 3], [0, 1, 1, 2]),
                   ([0, 1, 3], [0, 2]), ([0.0, 3.0], [0, 2]), ([0, 3],), ([0, 3], [0, 2], [0])]:
        with pytest.raises(ValueError, match="inconsistent blocks"):
            _core.sse_lowrank(B, R, FA, FB, *args, blocks=blocks)


def test_sse_lowrank_refuses_inconsistent_shapes():
    B, R, FA, FB = np.ones((4, 3)), np.ones((3, 2)), np.ones((5, 2)), np.ones((2, 3))
    args = (np.ones((4, 2)), np.zeros(2), np.ones(4), np.ones((4, 5)), True)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _core.sse_lowrank(B, R, FA, np.ones((2, 4)), *args, np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _core.sse_lowrank(B, R, FA, FB, *args, np.zeros((5, 2)), np.zeros((4, 2)))


# target blocks split over threads: equal shares of 1000 targets, a remainder block, fewer
# targets than PARALLEL_TARGETS per thread (serial), more threads than blocks
THREAD_SHAPES = [(700, 6, 1000, 3), (300, 5, 301, 20), (50, 4, 40, 7), (90, 3, 2000, 1)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", THREAD_SHAPES)
def test_sse_threads_match_one_thread(shape, dtype):
    # equal to rounding: the blocks (so the GEMMs' shapes) may differ with the threads
    q, r, k, m = shape
    same = {np.float64: 1e-13, np.float32: 1e-5}[dtype]
    B, R, F = operands(q, r, k, m, dtype)
    rng = np.random.default_rng(4)
    Y = rng.standard_normal((q, k)).astype(dtype)
    ym, sw = rng.standard_normal(k).astype(dtype), rng.uniform(0, 2, q).astype(dtype)
    S = rng.uniform(0.5, 2, (q, m)).astype(dtype)
    scale = np.ldexp(1.0, rng.integers(-4, 4, k))
    E = np.einsum("qr,ar,rk->aqk", B.astype(float), F.astype(float), R.astype(float)) + \
        sw[:, None].astype(float) * (Y - ym)
    want = ((E * S.T[:, :, None]) ** 2).sum(axis=1) * scale ** 2
    one = np.zeros((m, k))
    _core.sse(B, R, F, Y, ym, sw, S, True, one, scale)
    assert_allclose(one, want, rtol=10 * TOL[dtype])
    for threads in (2, 3):
        out = np.zeros((m, k))
        _core.sse(B, R, F, Y, ym, sw, S, True, out, scale, threads)
        assert_allclose(out, one, rtol=same)
        FA, FB = rng.standard_normal((m, 3)).astype(dtype), F[:3] if m >= 3 else F
        FA = FA[:, :FB.shape[0]]
        ref, ref_bound = np.zeros((m, k)), np.zeros((m, k))
        _core.sse_lowrank(B, R, FA, FB, Y, ym, sw, S, True, ref, ref_bound, scale)
        low, bound = np.zeros((m, k)), np.zeros((m, k))
        _core.sse_lowrank(B, R, FA, FB, Y, ym, sw, S, True, low, bound, scale, threads)
        assert_allclose(low, ref, rtol=same)
        assert_allclose(bound, ref_bound, rtol=same)


def test_kernel_threads_plan():
    threads = _core.max_threads()
    assert threads >= 1
    assert _core.kernel_threads(1000, n_threads=1) == 1
    assert _core.kernel_threads(1000, n_threads=2) == 2
    assert _core.kernel_threads(1000, 34, n_threads=4) == 4
    assert _core.kernel_threads(40, n_threads=2) == 1  # too few targets per thread
    assert _core.kernel_threads(0, n_threads=2) == 1
    assert _core.kernel_threads(1000) == min(threads, 31)
    with pytest.raises(ValueError, match="n_threads"):
        _core.sse(*operands(3, 2, 2, 2, np.float64), np.zeros((3, 2)), np.zeros(2), np.ones(3),
                  np.empty((0, 2)), True, np.zeros((2, 2)), None, 0)


def test_parallel_kernels_stop_on_ctrl_c():
    q, r, k, m = 2000, 400, 512, 1500  # 6e11 multiply-adds over 2 threads
    B, R, F = operands(q, r, k, m, np.float64)
    Y, out = np.ones((q, k)), np.zeros((m, k))
    for attempt in range(3):
        timer = _interrupt_soon()
        try:
            with pytest.raises(KeyboardInterrupt) as excinfo:
                _core.sse(B, R, F, Y, np.zeros(k), np.ones(q), np.empty((0, m)), True, out,
                          None, 2)
        finally:
            timer.cancel()
        if _raised_in_kernel(excinfo):
            break
    assert _raised_in_kernel(excinfo)
    assert (out == 0).any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(700, 6, 300, 5), (5000, 3, 2, 300), (9, 4, 3, 2),
                                   (0, 3, 2, 4)])
def test_hat_formed_in_the_kernels(shape, dtype):
    # 1 / (1 - h) per tile in float64 (tiles of TILE_VALUES / n_alphas rows: several for
    # 300 alphas), the same sums as with S = 1 / (1 - h) passed in
    q, r, k, m = shape
    B, R, F = operands(q, r, k, m, dtype)
    rng = np.random.default_rng(5)
    Y = rng.standard_normal((q, k)).astype(dtype)
    ym, sw = rng.standard_normal(k).astype(dtype), rng.uniform(0, 2, q).astype(dtype)
    HU = rng.standard_normal((q, r)) / 4
    HF, outside = rng.uniform(0, 1, (m, r)), rng.uniform(0.1, 1, q)
    S = (1 / (outside[:, None] + np.square(HU) @ HF.T)).astype(dtype)
    none = np.empty((0, m), dtype)
    FA, FB = rng.standard_normal((m, 2)).astype(dtype), F[:2] if m >= 2 else F[:m]
    FA = FA[:, :FB.shape[0]]
    for targets in (True, False):
        for check in (True, False):
            want, got = np.zeros((m, k)), np.zeros((m, k))
            _core.sse(B, R, F, Y, ym, sw, S, targets, want)
            assert _core.sse(B, R, F, Y, ym, sw, none, targets, got, None, 2,
                             (HU, HF, outside, check)) is None
            assert_allclose(got, want, rtol=10 * TOL[dtype])
            want_b, got_b = np.zeros((m, k)), np.zeros((m, k))
            want, got = np.zeros((m, k)), np.zeros((m, k))
            _core.sse_lowrank(B, R, FA, FB, Y, ym, sw, S, targets, want, want_b)
            assert _core.sse_lowrank(B, R, FA, FB, Y, ym, sw, none, targets, got, got_b,
                                     None, 2, (HU, HF, outside, check)) is None
            assert_allclose(got, want, rtol=10 * TOL[dtype])
            assert_allclose(got_b, want_b, rtol=10 * TOL[dtype])


@pytest.mark.parametrize("kernel", ["sse", "sse_lowrank"])
def test_hat_check_stops_where_leverage_is_one(kernel):
    q, r, k, m = 5000, 3, 4, 300  # rows 4500 and 4700 (in the second tile) have 1 - h = 0
    B, R, F = operands(q, r, k, m, np.float64)
    HU, HF = np.ones((q, r)), np.ones((m, r))
    HU[[4500, 4700]] = 0
    HF[7:] = np.nan if kernel == "sse" else 0
    outside = np.zeros(q)
    Y, ym, sw = np.ones((q, k)), np.zeros(k), np.ones(q)
    none, out = np.empty((0, m)), np.zeros((m, k))
    args = (B, R, F, Y, ym, sw, none, False, out) if kernel == "sse" else \
        (B, R, np.ones((m, 1)), F[:1], Y, ym, sw, none, False, out, np.zeros((m, k)))
    hat = (HU, HF, outside, True)
    assert getattr(_core, kernel)(*args, None, 1, hat) == (0, 7)  # NaN or 0 at alpha 7
    HF[7:] = 1
    assert getattr(_core, kernel)(*args, None, 1, hat) == (4500, 0)
    assert getattr(_core, kernel)(*args, None, 1, (HU, HF, outside, False)) is None
    with pytest.raises(ValueError, match="hat"):
        getattr(_core, kernel)(*args, None, 1, (HU[1:], HF, outside, True))
    with pytest.raises(ValueError, match="hat"):
        getattr(_core, kernel)(*args, None, 1, (HU.astype(np.float32), HF, outside, True))
