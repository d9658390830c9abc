"""Benchmarks: one pytest-benchmark group per workload, implementations side by side.

Every implementation's result is first checked against spectralridge's (coefficients, or best
alpha and CV score per target, to a stated tolerance); only then is it timed. No wall time is
ever asserted: ``bench/report.py`` turns the timings into ratios and goals met or missed.
"""
import math
import os
import time

import pytest

import workloads as wl


def _params():
    for w, impl in wl.cases():
        marks = [pytest.mark.filterwarnings(f) for f in impl.warnings]
        yield pytest.param(w.name, impl.id, id=f"{w.name}/{impl.id}", marks=marks)


_CURRENT = {}


def _rounds(first_call, quick):
    budget, most = (1.0, 10) if quick else (5.0, 15)
    return int(min(most, max(3, math.ceil(budget / max(first_call, 1e-6)))))


@pytest.mark.parametrize("workload, impl", list(_params()))
def test_workload(benchmark, quick, workload, impl):
    workload, impl = wl.WORKLOADS[workload], wl.IMPLS_BY_ID[impl]
    for mod in impl.requires:
        pytest.importorskip(mod)
    if impl.role == "sr" and workload.kind != "path":
        if not wl.has_cv_api() or (workload.kind == "kfold" and not hasattr(wl._sr(), "ridge_cv")):
            pytest.skip("spectralridge cross-validation API not available yet")
    if _CURRENT.get("name") != workload.name:      # keep one workload's data in memory
        wl.clear_data()
        _CURRENT["name"] = workload.name
    d = wl.get_data(workload.name, quick)
    n, p, k, m = d.shape
    benchmark.group = (f"{workload.name}: {workload.title} (n={n}, p={p}, k={k}, m={m}"
                       + (f", {workload.folds} folds" if workload.folds else "")
                       + f", {workload.dtype})")
    call, check = wl.runner(impl, d)
    t = time.perf_counter()
    # --benchmark-disable: pedantic() runs the call once, untimed (the smoke test).
    result = call() if benchmark.enabled else benchmark.pedantic(call)
    first = time.perf_counter() - t
    note = check(result)
    scale = impl.scale(d) if impl.scale else 1.0
    benchmark.extra_info.update(
        workload=workload.name, impl=impl.id, label=impl.label, role=impl.role,
        kind=workload.kind, dtype=workload.dtype, n=n, p=p, k=k, m=m, folds=workload.folds,
        rank=d.rank, scale=scale, check=note, first_call=first, load=os.getloadavg()[0],
        reference=wl.reference(d)["source"] if impl.role != "limit" else None,
        multiply_adds=wl.limit_multiply_adds(d),
        multiply_adds_complete=wl.limit_multiply_adds(d, complete=True))
    if benchmark.enabled:
        # dgemm rate and copy bandwidth just before and after: a drop flags timings disturbed
        # by other processes (or other tenants of the host).
        # The pauses let the BLAS threads of the previous calls (NumPy's or SciPy's OpenBLAS
        # pool) stop spinning; otherwise the two pools fight for the cores (DESIGN.md sec. 6).
        time.sleep(0.2)
        before = wl.gemm_rate(size=1000, repeats=3), wl.copy_bandwidth()
        benchmark.pedantic(call, rounds=_rounds(first, quick), iterations=1)
        time.sleep(0.2)
        benchmark.extra_info.update(gemm_before=before[0], bandwidth_before=before[1],
                                    gemm_after=wl.gemm_rate(size=1000, repeats=3),
                                    bandwidth_after=wl.copy_bandwidth())


@pytest.mark.parametrize("lib", ["scipy", "numpy"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gemm_rate(benchmark, dtype, lib):
    """gemm on 1500 x 1500 through SciPy's and NumPy's BLAS (each bundles its own OpenBLAS):
    the faster is the machine's multiply-add rate."""
    size = 1500
    call, args = wl.gemm_call(dtype, size, lib)
    call(*args)
    time.sleep(0.2)  # the other library's BLAS threads stop spinning
    benchmark.group = "machine: BLAS gemm 1500 x 1500"
    benchmark.extra_info.update(impl=f"{lib}-{dtype[0]}gemm", role="machine", dtype=dtype,
                                lib=lib, multiply_adds=size ** 3)
    benchmark.pedantic(call, args=args, rounds=7, iterations=1, warmup_rounds=1)
