"""spectralridge: ridge regression for every regularization strength from one decomposition."""

from . import theory
from ._cv import ridge_cv
from ._scores import CVResult, GridEdgeWarning
from ._solver import FilterPath, RidgePath, RidgeSolver, ridge_path

__all__ = ["CVResult", "FilterPath", "GridEdgeWarning", "RidgePath", "RidgeSolver",
           "ridge_cv", "ridge_path", "theory"]
__version__ = "0.1.0"
