"""Which backend serves which input: a registry by module name.

The engine (``_solver``, ``_cv``) is written for NumPy and scipy.sparse data. A backend for
another kind of array is a module that imports the engine and exposes ``Solver`` (a
subclass of :class:`~spectralridge.RidgeSolver`) and ``ridge_cv``; it is named here and
imported only when its kind of input arrives, so the engine never imports a backend and no
two modules import each other.
"""

import importlib
import sys

from ._validation import refuse_sparse_with_dask


def is_dask_input(*objs):
    """Whether any of `objs` is a Dask collection; never imports Dask itself."""
    if "dask" not in sys.modules:
        return False
    from dask.base import is_dask_collection
    return any(is_dask_collection(o) for o in objs)


def _refuse_sparse(X, Y, sample_weight):
    refuse_sparse_with_dask(X, Y, sample_weight)


# (detector, module, check of the inputs it accepts): the first detector that matches wins.
BACKENDS = (
    (is_dask_input, "spectralridge.dask", _refuse_sparse),
)


def backend_for(X, Y, sample_weight=None):
    """The backend module for these inputs, or None for NumPy and scipy.sparse data."""
    for detect, module, check in BACKENDS:
        if detect(X, Y, sample_weight):
            check(X, Y, sample_weight)
            return importlib.import_module(module)
    return None
