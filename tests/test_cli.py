import subprocess
import sys

import numpy as np

from spectralridge import cli


def test_demo_prints_certified_accuracy_and_path(capsys):
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    digits = float(out.split("method=svd): ")[1].split(" correct digits")[0])
    assert digits >= 12
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    path = [r for r in rows if len(r) == 9]
    assert len(path) == 8
    dofs = np.array([float(r[1]) for r in path])
    np.testing.assert_allclose(dofs, [6.0, 5.5, 5.0, 4.0, 3.0, 2.0, 1.0, 0.5])


def test_console_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "spectralridge.cli", "demo"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "NIST" in done.stdout


def test_unknown_command_fails_cleanly():
    done = subprocess.run([sys.executable, "-m", "spectralridge.cli", "frobnicate"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
