"""Which backend serves which input: a registry by module name.

The engine (``_solver``, ``_cv``) is written for NumPy and scipy.sparse data. A backend for
another kind of array is a module that imports the engine and exposes ``Solver`` (a
subclass of :class:`~spectralridge.RidgeSolver`) and ``ridge_cv``; it is named here and
imported only when its kind of input arrives, so the engine never imports a backend and no
two modules import each other.
"""

import importlib
import numbers
import sys

import numpy as np

from ._validation import refuse_sparse_with_dask

# Modules whose arrays are array-API arrays without necessarily defining __array_namespace__.
_ARRAY_MODULES = ("torch", "cupy", "array_api_strict", "jax", "jaxlib")


def is_dask_input(*objs):
    """Whether any of `objs` is a Dask collection; never imports Dask itself."""
    if "dask" not in sys.modules:
        return False
    from dask.base import is_dask_collection
    return any(is_dask_collection(o) for o in objs)


def is_device_array(a):
    """Whether `a` is an array of a non-NumPy array-API library (never imports one)."""
    if a is None or isinstance(a, (np.ndarray, np.generic, numbers.Number, str, bytes)):
        return False
    root = type(a).__module__.split(".")[0]
    if root == "dask":
        return False
    return root in _ARRAY_MODULES or hasattr(a, "__array_namespace__")


def is_array_api_input(*objs):
    """Whether any of `objs` is a torch, CuPy, array_api_strict (...) array."""
    return any(is_device_array(o) for o in objs)


def _refuse_sparse(X, Y, sample_weight):
    refuse_sparse_with_dask(X, Y, sample_weight)


def _accept(X, Y, sample_weight):
    """The backend checks its inputs itself."""


# (detector, module, check of the inputs it accepts): the first detector that matches wins.
BACKENDS = (
    (is_dask_input, "spectralridge.dask", _refuse_sparse),
    (is_array_api_input, "spectralridge._array_api", _accept),
)


def backend_for(X, Y, sample_weight=None):
    """The backend module for these inputs, or None for NumPy and scipy.sparse data."""
    for detect, module, check in BACKENDS:
        if detect(X, Y, sample_weight):
            check(X, Y, sample_weight)
            return importlib.import_module(module)
    return None
