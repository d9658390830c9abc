"""Run the docstring examples of the installed package."""

import doctest
import importlib

import pytest

MODULES = ["spectralridge._solver", "spectralridge.cli", "spectralridge.theory", "spectralridge._cv",
           "spectralridge.stats", "spectralridge.plot",
           "spectralridge._estimators", "spectralridge.dask", "spectralridge._kernel",
           "spectralridge._model_estimators", "spectralridge._positive",
           "spectralridge._banded"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
