"""spectralridge: ridge regression for every regularization strength from one decomposition."""

from ._solver import RidgePath, RidgeSolver, ridge_path

__all__ = ["RidgePath", "RidgeSolver", "ridge_path"]
__version__ = "0.1.0"
