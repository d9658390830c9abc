"""Settings that change how, never what, spectralridge computes: one place for the scratch
memory budget, the switch of the compressed kernels over many alphas and the kernels'
threads."""
import contextlib
import contextvars
import numbers

_DEFAULTS = {"working_memory": 64, "loo_compression": True, "kernel_threads": "auto"}
_GLOBAL = dict(_DEFAULTS)
_LOCAL = contextvars.ContextVar("spectralridge_config", default=None)
# Scratch arrays a blocked pass keeps alive at once: each gets this share of the budget.
_ARRAYS_PER_PASS = 4


def get_config():
    """The settings in force here: a dict with the keys of :func:`set_config`."""
    return {**_GLOBAL, **(_LOCAL.get() or {})}


def _checked(working_memory, loo_compression, kernel_threads):
    out = {}
    if working_memory is not None:
        if isinstance(working_memory, bool) or not isinstance(working_memory, numbers.Real) \
                or not 1 <= working_memory < 2 ** 40:
            raise ValueError(f"working_memory must be a number of MiB >= 1, got "
                             f"{working_memory!r}.")
        out["working_memory"] = float(working_memory)
    if loo_compression is not None:
        if not isinstance(loo_compression, bool):
            raise TypeError(f"loo_compression must be True or False, got {loo_compression!r}.")
        out["loo_compression"] = loo_compression
    if kernel_threads is not None:
        if isinstance(kernel_threads, str) and kernel_threads == "auto":
            out["kernel_threads"] = "auto"
        elif isinstance(kernel_threads, bool) or \
                not isinstance(kernel_threads, numbers.Integral) or \
                not (kernel_threads == -1 or kernel_threads >= 1):
            raise ValueError(f"kernel_threads must be 'auto', -1 or an int >= 1, got "
                             f"{kernel_threads!r}.")
        else:
            out["kernel_threads"] = int(kernel_threads)
    return out


def set_config(*, working_memory=None, loo_compression=None, kernel_threads=None):
    """Change the settings of this process (None leaves a setting as it is).

    Parameters
    ----------
    working_memory : float, default=64
        MiB of scratch that one blocked pass (hat diagonals, leave-one-out row blocks,
        column blocks of the targets, the Gram route's ``U``) may hold beyond its inputs and
        outputs. Larger blocks are rarely faster; smaller ones bound the memory of very tall
        problems. The compiled kernels' tiles (residuals, leave-one-out hat diagonals) are
        cache-sized, one set per thread, and do not depend on it.
    loo_compression : bool, default=True
        Allow the compressed kernels over many alphas: exact leave-one-out and K-fold, and
        coefficient, intercept and prediction paths (see :func:`loo_compression`); False
        runs the exact kernels always.
    kernel_threads : 'auto' or int, default='auto'
        Threads of the fused leave-one-out and held-out kernels. 1: they run serially and
        BLAS threads their products; n > 1: their blocks of targets are split over at most
        n OpenMP threads, each calling BLAS with one thread (set with threadpoolctl for the
        call); -1: OpenMP's count (``OMP_NUM_THREADS``, threadpoolctl's openmp limit).
        'auto': -1 for the compressed kernel (its products are smaller, its serial work
        between them larger), 1 for the exact one (see bench/RESULTS.md). A kernel uses
        more than one thread only with at least 32 targets per thread and when the core
        was built with OpenMP; the scores agree up to rounding whatever the count.

    Notes
    -----
    :func:`config_context` changes them for one block of code only (thread- and task-local);
    Dask graphs take the settings in force when they are built.
    """
    _GLOBAL.update(_checked(working_memory, loo_compression, kernel_threads))


@contextlib.contextmanager
def config_context(*, working_memory=None, loo_compression=None, kernel_threads=None):
    """The settings of :func:`set_config`, changed inside a ``with`` block only.

    Thread- and task-local (a context variable): other threads keep their settings.

    Examples
    --------
    >>> import spectralridge as sr
    >>> with sr.config_context(working_memory=16):
    ...     sr.get_config()["working_memory"]
    16.0
    """
    token = _LOCAL.set({**(_LOCAL.get() or {}), **_checked(working_memory, loo_compression,
                                                            kernel_threads)})
    try:
        yield
    finally:
        _LOCAL.reset(token)


@contextlib.contextmanager
def loo_compression(enabled):
    """Allow (default) or forbid the compressed kernels over many alphas in this context.

    Exact leave-one-out and K-fold over many alphas factor the filter matrix (alphas x
    eigenvalues), per block of nearby eigenvalues, to its numerical rank and form the
    residuals of all alphas from that many products, with an a-posteriori error bound per
    alpha and target that keeps every sum of squared errors within a relative 1e-12
    (float64; 1e-4 for float32 data, below the float32 kernel's own rounding) of the exact
    kernel's, recomputing exactly wherever the bound does not prove it (the bound covers the
    factored filter; its products round as the exact kernel's do, with ``|A| |B|`` in place
    of ``|F|`` in their worst case). Paths over many alphas (coefficients, intercepts,
    predictions) factor the coefficient filter the same way, with a bound, their rounding
    included, that keeps the eigen-coordinates of every coefficient vector within a relative
    1e-12 (float64; 1e-4 for float32) in the 2-norm of the exact filter's bound on its own
    rounding, recomputing exactly the pairs it does not prove. Both are used only where they
    save work: with at least 16 alphas and 2^32 multiply-adds of exact work (2^41 on an
    accelerator, a CUDA or MPS torch device or CuPy, whose products run some hundreds of
    times faster while the factors are chosen on the host); ``loo_compression(False)`` runs
    the exact kernels always. The same as ``config_context(loo_compression=enabled)``.

    Examples
    --------
    >>> import numpy as np, spectralridge as sr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 5))
    >>> y = X.sum(axis=1) + rng.standard_normal(50)
    >>> with sr.loo_compression(False):
    ...     res = sr.ridge_cv(X, y)
    >>> res.cv
    'loo'
    """
    with config_context(loo_compression=bool(enabled)):
        yield


def loo_compression_enabled():
    """Whether the settings in force allow the compressed kernels over many alphas."""
    return get_config()["loo_compression"]


def kernel_thread_limit(compressed=False):
    """The most threads the settings in force let the exact (or `compressed`) fused kernel
    use (None: OpenMP's)."""
    n = get_config()["kernel_threads"]
    if n == "auto":
        return None if compressed else 1
    return None if n == -1 else n


def scratch_values():
    """float64 values that one scratch array of a blocked pass may hold (at least 2^16)."""
    budget = get_config()["working_memory"] * 2 ** 20 / 8 / _ARRAYS_PER_PASS
    return max(1 << 16, int(budget))
