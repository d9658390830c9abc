"""Settings: one place, validated, context-local; they change memory, never results."""
import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose

import spectralridge as sr
from helpers import make_data


def test_defaults_and_context_restore():
    assert sr.get_config() == {"working_memory": 64, "loo_compression": True, "kernel_threads": "auto"}
    with sr.config_context(working_memory=8):
        with sr.config_context(loo_compression=False):
            assert sr.get_config() == {"working_memory": 8.0, "loo_compression": False,
                                      "kernel_threads": "auto"}
        assert sr.get_config()["loo_compression"] is True
    assert sr.get_config()["working_memory"] == 64


def test_set_config_is_global_and_context_is_thread_local():
    seen = {}
    try:
        sr.set_config(working_memory=32)
        with sr.config_context(working_memory=4):
            thread = threading.Thread(target=lambda: seen.update(sr.get_config()))
            thread.start()
            thread.join()
            assert sr.get_config()["working_memory"] == 4
        assert seen["working_memory"] == 32  # the global value, not this thread's context
    finally:
        sr.set_config(working_memory=64)
    assert sr.get_config()["working_memory"] == 64


@pytest.mark.parametrize("kwargs, error", [
    ({"working_memory": 0.5}, ValueError), ({"working_memory": "64"}, ValueError),
    ({"working_memory": True}, ValueError), ({"working_memory": np.inf}, ValueError),
    ({"loo_compression": 1}, TypeError), ({"kernel_threads": 0}, ValueError),
    ({"kernel_threads": -2}, ValueError), ({"kernel_threads": 2.0}, ValueError),
    ({"kernel_threads": True}, ValueError), ({"kernel_threads": "all"}, ValueError)])
def test_bad_settings_are_refused(kwargs, error):
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        sr.set_config(**kwargs)
    with pytest.raises(error, match=name):
        with sr.config_context(**kwargs):
            pass
    assert sr.get_config() == {"working_memory": 64, "loo_compression": True, "kernel_threads": "auto"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("method", ["svd", "gram"])
def test_working_memory_changes_results_by_rounding_only(method, dtype):
    # the smallest budget forces many row blocks, hat blocks and column blocks
    X, Y = make_data(3000, 12, 40, dtype=dtype)
    alphas = np.logspace(-3, 3, 25)
    want = sr.RidgeSolver(X, Y, method=method).loo(alphas)
    with sr.config_context(working_memory=1):
        got = sr.RidgeSolver(X, Y, method=method).loo(alphas)
    assert_allclose(got.scores, want.scores, rtol=1e-12 if dtype == np.float64 else 1e-6)
    assert_allclose(got.best_alpha, want.best_alpha)
    assert_allclose(got.coef, want.coef, rtol=1e-6, atol=1e-7)


def test_kernel_threads_setting_limits_the_kernels():
    from threadpoolctl import threadpool_limits
    from spectralridge import _core, _scores
    with threadpool_limits(2, user_api="openmp"):
        openmp = _core.max_threads()  # 1 without OpenMP
        with _scores.kernel_threads(1000) as threads:
            assert threads == 1  # the default: the exact kernel serial,
        with _scores.kernel_threads(1000, 30) as threads:
            assert threads == openmp  # the compressed one on OpenMP's threads
        with sr.config_context(kernel_threads=1), _scores.kernel_threads(1000, 30) as threads:
            assert threads == 1
        with sr.config_context(kernel_threads=2), _scores.kernel_threads(1000) as threads:
            assert threads == min(2, openmp)
        with sr.config_context(kernel_threads=8), _scores.kernel_threads(1000) as threads:
            assert threads == min(2, openmp)  # never more than OpenMP allows
        with sr.config_context(kernel_threads=-1), _scores.kernel_threads(1000) as threads:
            assert threads == openmp


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_threads_change_results_by_rounding_only(dtype):
    X, Y = make_data(600, 30, 200, dtype=dtype)
    alphas = np.logspace(-3, 3, 40)
    want = sr.ridge_cv(X, Y, alphas)
    folds = sr.ridge_cv(X, Y, alphas, cv=4)
    with sr.config_context(kernel_threads=2):
        got = sr.ridge_cv(X, Y, alphas)
        got_folds = sr.ridge_cv(X, Y, alphas, cv=4)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(got.scores, want.scores, rtol=rtol)
    assert_allclose(got_folds.scores, folds.scores, rtol=rtol)
