"""Bundled reference data."""

from importlib.resources import files

import numpy as np

LONGLEY_CERTIFIED = np.array([
    -3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
    -1.03322686717359, -0.511041056535807e-01, 1829.15146461355,
])
"""NIST StRD certified least-squares estimates: intercept, then the six predictors."""


def load_longley():
    """The Longley (1967) data as published by NIST StRD (public domain).

    Returns
    -------
    X : ndarray of shape (16, 6)
        GNPDEFL, GNP, UNEMP, ARMFORCE, POP, YEAR.
    y : ndarray of shape (16,)
        TOTEMP.
    feature_names : list of str
    """
    path = files("spectralridge").joinpath("data", "longley.csv")
    with path.open() as f:
        header = f.readline().strip().split(",")
        data = np.loadtxt(f, delimiter=",")
    return data[:, 1:], data[:, 0], header[1:]
