"""spectralridge: ridge regression for every regularization strength from one decomposition."""

from . import stats, theory
from ._banded import BandedResult, banded_ridge_cv, dirichlet_candidates
from ._config import config_context, get_config, loo_compression, set_config
from ._cv import ridge_cv
from ._datasets import load_longley
from ._kernel import KernelRidgeSolver
from ._scores import CVResult, GridEdgeWarning
from ._solver import FilterPath, RidgePath, RidgeSolver, ridge_path

__all__ = ["BandedResult", "CVResult", "FilterPath", "GridEdgeWarning", "KernelRidgeSolver",
           "RidgePath", "RidgeSolver", "banded_ridge_cv", "config_context",
           "dirichlet_candidates", "get_config", "load_longley", "loo_compression",
           "ridge_cv", "ridge_path", "set_config", "stats", "theory"]
__version__ = "0.1.0"

# Ridge and RidgeCV need scikit-learn: imported on first use, so that `import spectralridge`
# works (and stays fast) without it. Not in __all__, so that `import *` never needs it.
_ESTIMATORS = {"Ridge": "_estimators", "RidgeCV": "_estimators",
               "KernelRidgeCV": "_model_estimators", "BandedRidgeCV": "_model_estimators"}


def __getattr__(name):
    if name in _ESTIMATORS:
        import importlib
        try:
            module = importlib.import_module(f".{_ESTIMATORS[name]}", __name__)
        except ImportError as exc:
            if not (exc.name or "").startswith("sklearn"):
                raise
            raise ImportError(f"spectralridge.{name} requires scikit-learn >= 1.6; install it "
                              "with pip install 'spectralridge[sklearn]'.") from exc
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_ESTIMATORS])
