"""Which backend serves which input: a registry by module name.

The engine (``_solver``, ``_cv``) is written for NumPy and scipy.sparse data. A backend for
another kind of array is a module that imports the engine and exposes ``Solver`` (a
subclass of :class:`~spectralridge.RidgeSolver`), the K-fold hooks ``cv_splits`` and
``kfold`` of ``_cv.cross_validate`` and ``criteria`` (whether cross-validation takes the
spectral criteria, ``noise_level`` and ``refine``); it is
named here and imported only when its kind of input arrives, so the engine never imports a
backend and no two modules import each other.
"""

import importlib

from ._validation import is_array_api_input, is_dask_input, refuse_sparse_with_dask


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
