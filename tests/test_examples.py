"""The worked example examples/seed_claims.py runs and its claims hold."""

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed_claims.py"


@pytest.fixture(scope="module")
def seed_claims():
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("seed_claims", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    results, failures = module.main(out)
    return results, failures, out.getvalue()


def test_report_says_all_claims_hold(seed_claims):
    results, failures, report = seed_claims
    assert failures == []
    assert report.rstrip().endswith("All claims hold.")


def test_steep_kept_flat_zeroed(seed_claims):
    steep = seed_claims[0]["steep"]
    np.testing.assert_allclose(steep["ratio"], steep["factors"], rtol=1e-8)
    lam, alpha = steep["eigenvalues"], steep["alpha"]
    np.testing.assert_allclose(steep["factors"], lam / (lam + alpha), rtol=1e-8)
    assert steep["factors"][0] > 0.98 and steep["factors"][-1] < 0.01


def test_dof_is_trace_and_count(seed_claims):
    for row in seed_claims[0]["dof"]:
        assert row["trace"] == pytest.approx(row["dof"], abs=1e-8)
        assert row["used"] == round(row["dof"])


def test_early_stopping_and_pcr(seed_claims):
    for row in seed_claims[0]["early_stopping"]:
        assert row["gd_vs_closed_form"] < 1e-10
        assert -1e-12 <= row["min_factor_gap"] and row["max_factor_gap"] <= row["bound"]
    for row in seed_claims[0]["pcr"]:
        assert row["pcr_vs_sklearn"] < 1e-10
        assert row["ridge_dof"] == pytest.approx(row["k"])
