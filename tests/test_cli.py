import json
import subprocess
import sys
from importlib.resources import files

import numpy as np
import pytest

import spectralridge as sr
from spectralridge import cli
from spectralridge._datasets import LONGLEY_CERTIFIED


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


# -- demo: selection, statistics, timing, figures ------------------------------------------------
def test_demo_selection_statistics_timing_and_figures(capsys, tmp_path):
    from spectralridge import stats

    assert cli.main(["demo", "--plot", str(tmp_path), "--targets", "20"]) == 0
    out = capsys.readouterr().out
    section = out.split("Model selection")[1].split("Chosen on")[0]
    rows = [line.split() for line in section.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 12
    X, y, _ = sr.load_longley()
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    solver = sr.RidgeSolver(Z, y)
    alphas = solver.alphas_for_dof([float(r[1]) for r in rows])
    np.testing.assert_allclose([float(r[2]) for r in rows], solver.gcv(alphas).scores, rtol=1e-4)
    np.testing.assert_allclose([float(r[3]) for r in rows], solver.loo(alphas).scores, rtol=1e-4)
    hkb = float(out.split("Hoerl-Kennard-Baldwin alpha = ")[1].split()[0])
    assert hkb == pytest.approx(stats.hkb_alpha(X, y, standardize=True), rel=1e-3)
    coef_rows = {line.split()[0]: line.split() for line in out.splitlines()
                 if line.split()[:1] in (["OLS"], ["GCV"], ["LOO"], ["HKB"], ["L-W"])}
    assert set(coef_rows) == {"OLS", "GCV", "LOO", "HKB", "L-W"}
    np.testing.assert_allclose([float(v) for v in coef_rows["OLS"][4:]], LONGLEY_CERTIFIED[1:],
                               rtol=1e-4)
    assert "1000 samples, 200 features, 20 targets, 30 alphas" in out and "speedup: " in out
    differences = out.split("largest relative difference: GCV ")[1].split()
    assert float(differences[0].rstrip(",")) < 1e-8 and float(differences[2]) < 1e-8
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(["coef_path_dof.png", "coef_path_alpha.png", "cv_curve.png",
                              "shrinkage.png", "geometry.png", "early_stopping.png",
                              "vif_path.png"])
    assert all((tmp_path / name).stat().st_size > 1000 for name in written)


def test_naive_baseline_agrees_with_solver():
    X, Y = cli.synthetic_problem(60, 8, 5)
    alphas = np.logspace(-2, 3, 7)
    scores, coef = cli.naive_gcv(X, Y, alphas)
    with pytest.warns(sr.GridEdgeWarning):  # small grid: some targets choose an edge
        result = sr.RidgeSolver(X, Y).gcv(alphas)
    np.testing.assert_allclose(scores, result.scores, rtol=1e-10)
    np.testing.assert_allclose(coef, result.coef, rtol=1e-8, atol=1e-12)


# -- fit ---------------------------------------------------------------------------------------
LONGLEY_CSV = str(files("spectralridge").joinpath("data", "longley.csv"))


def _run(*args):
    return subprocess.run([sys.executable, "-m", "spectralridge.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_fit_json_end_to_end_matches_ridge_cv():
    done = _run("fit", LONGLEY_CSV, "--target", "TOTEMP", "--target", "GNPDEFL", "--cv", "gcv",
                "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    X, y, names = sr.load_longley()
    features = names[1:]
    assert report["features"] == features and report["n_samples"] == 16
    Y = np.column_stack([y, X[:, 0]])
    result = sr.ridge_cv(X[:, 1:], Y, cv="gcv")
    for t, name in enumerate(["TOTEMP", "GNPDEFL"]):
        entry = report["targets"][name]
        assert entry["alpha"] == pytest.approx(result.best_alpha[t], rel=1e-12)
        np.testing.assert_allclose([entry["coef"][f] for f in features], result.coef[:, t],
                                   rtol=1e-9)
        assert entry["intercept"] == pytest.approx(result.intercept[t], rel=1e-9)
        np.testing.assert_allclose(entry["scores"], result.scores[:, t], rtol=1e-12)
    # per-target alphas
    assert report["targets"]["TOTEMP"]["alpha"] != report["targets"]["GNPDEFL"]["alpha"]


def test_fit_table_options_and_figures(capsys, tmp_path):
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--features", "GNP", "UNEMP",
                     "YEAR", "--dof-grid", "4", "--cv", "4", "--plot", str(tmp_path),
                     "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3 features" in out and "cv=4 splits" in out
    rows = [line.split() for line in out.split("Scores per alpha:")[1].split(
        "Chosen alpha")[0].splitlines() if line.strip()[:1].isdigit()]
    np.testing.assert_allclose([float(r[1]) for r in rows], [2.4, 1.8, 1.2, 0.6], rtol=1e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coef_path_TOTEMP.png", "cv_curve.png"]


def test_fit_standardize_reports_original_scale(capsys):
    from spectralridge import stats

    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--alphas", "0,0.01,1",
                     "--standardize", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    X, y, names = sr.load_longley()
    Z, mean, scale = stats.standardize_columns(X)
    result = sr.ridge_cv(Z, y, [0.0, 0.01, 1.0])
    entry = report["targets"]["TOTEMP"]
    np.testing.assert_allclose([entry["coef"][f] for f in names], result.coef / scale,
                               rtol=1e-9)
    assert entry["hkb_alpha"] == pytest.approx(stats.hkb_alpha(X, y, standardize=True))
    if entry["alpha"] == 0.0:  # least squares: the certified intercept
        assert entry["intercept"] == pytest.approx(LONGLEY_CERTIFIED[0], rel=1e-9)


@pytest.mark.parametrize("content, args, message", [
    (None, ["--target", "A"], "no such file"),
    ("A,B,C,D\n1,2,3,4\n2,3,4,6\n", ["--target", "E"], "unknown target column 'E'"),
    ("A,B,C,D\n1,2,3,4\n2,3,4,6\n", ["--target", "A", "--features", "B", "Q"],
     "unknown feature column 'Q'"),
    ("A,B,C,D\n1,2,3,4\n2,x,4,6\n", ["--target", "A"], "column 'B', line 3: 'x' is not a number"),
    ("A,B,C,D\n1,2,3,4\n2,NaN,4,6\n", ["--target", "A"], "column 'B', line 3: NaN"),
    ("A,B,C,D\n1,2,3,4\n2,,4,6\n", ["--target", "A"], "column 'B', line 3: missing value"),
    ("A,B,C,D\n1,2,3,4\n2,3,4\n", ["--target", "A"], "line 3 has 3 fields"),
    ("", ["--target", "A"], "the file is empty"),
    ("A,B\n", ["--target", "A"], "no data rows"),
    ("a,a,y\n1,2,3\n2,3,4\n", ["--target", "y"],
     "column name 'a' appears twice in the header (fields 1 and 2)"),
    ("A,B,C,D\n1,2,3,4\n\n\n2,x,4,6\n", ["--target", "A"], "column 'B', line 5: 'x' is not"),
    ("\nA,B,C,D\n1,2,3,4\n\n2,3,4\n", ["--target", "A"], "line 5 has 3 fields"),
    ("A,B,C,D\n1,2,3,4\n2,3,4,6,7\n", ["--target", "A", "--features", "B"],
     "line 3 has 5 fields"),
    ("A,B,C\n1,2,3\n2,inf,4\n", ["--target", "A"], "column 'B', line 3: infinite value"),
    ("A,B,C\n1,2,3\n2,3,4\n", ["--features", "A", "B", "C", "--target-rest"],
     "no target columns left"),
    ("A,B,C\n1,2,3\n2,3,4\n", ["--target-rest"], "--target-rest needs --features"),
    ("A,B,C\n1,2,3\n2,3,4\n3,4,5\n", ["--target", "A", "--cv", "5"],
     "--cv 5: the number of folds must be between 2 and the number of samples, 3"),
    ("A,B,C,D\n1,2,3,4\n2,3,4,6\n", ["--target", "A", "--features", "A", "B"],
     "both a feature and a target"),
])
def test_fit_errors_are_one_line(tmp_path, capsys, content, args, message):
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    assert cli.main(["fit", str(path), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("spectralridge: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_fit_errors_through_subprocess(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("A,B,C,D\n1,2,3,4\n2,3,nan,6\n")
    done = _run("fit", str(path), "--target", "A")
    assert done.returncode == 1
    assert done.stderr.strip() == (f"spectralridge: error: {path}: column 'C', line 3: NaN; "
                                   "remove or impute the row.")
    done = _run("fit", str(path), "--target", "A", "--alphas", "1,x")
    assert done.returncode == 2 and "expected comma-separated numbers" in done.stderr
    assert "Traceback" not in done.stderr


def test_fit_progress_on_stderr(capsys):
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--cv", "gcv", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "reading" in err and "decomposing" in err and "done" in err


def test_fit_one_standard_error_rule_and_shared_alpha(capsys):
    X, y, names = sr.load_longley()
    Y = np.column_stack([y, X[:, 0]])
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--target", "GNPDEFL",
                     "--cv", "4", "--rule", "1se", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    result = sr.ridge_cv(X[:, 1:], Y, cv=4, rule="1se")
    assert report["rule"] == "1se"
    np.testing.assert_allclose([report["targets"][t]["alpha"] for t in ("TOTEMP", "GNPDEFL")],
                               result.best_alpha, rtol=1e-12)
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--target", "GNPDEFL",
                     "--shared-alpha", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    shared = sr.ridge_cv(X[:, 1:], Y, alpha_per_target=False)
    alphas = [report["targets"][t]["alpha"] for t in ("TOTEMP", "GNPDEFL")]
    assert alphas[0] == alphas[1] == pytest.approx(shared.best_alpha[0], rel=1e-12)
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--cv", "gcv",
                     "--rule", "1se"]) == 1
    err = capsys.readouterr().err
    assert "--rule 1se needs per-split scores: use a number of folds for --cv, got --cv gcv" in err
    assert "rule=" not in err and "cv=" not in err


def _csv(tmp_path, X, Y, names, bom=False):
    path = tmp_path / "data.csv"
    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row)
                                 for row in np.column_stack([X, Y])]
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_fit_reads_a_byte_order_mark_blank_lines_quotes_and_other_columns(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes(b'\xef\xbb\xbfy,x1,id,x2\r\n1,2,a,3\r\n\r\n" 2 ",4,b,5.5\r\n'
                     b'4,5,c,1\r\n3,1,d,2\r\n')
    X, Y, features, targets = cli.read_csv(str(path), ["y"], ["x1", "x2"])
    assert features == ["x1", "x2"] and targets == ["y"]
    np.testing.assert_array_equal(X, [[2, 3], [4, 5.5], [5, 1], [1, 2]])
    np.testing.assert_array_equal(Y, [[1], [2], [4], [3]])
    assert cli.main(["fit", str(path), "--target", "y", "--features", "x1", "x2", "--cv", "gcv",
                     "--json", "--quiet"]) == 0
    assert list(json.loads(capsys.readouterr().out)["targets"]) == ["y"]


@pytest.mark.parametrize("alphas, message", [
    ("1,,2", "argument --alphas: expected comma-separated numbers, got '1,,2' (entry 2 is "
             "empty)"),
    ("1,2,", "(entry 3 is empty)"),
    ("1,-2", "argument --alphas: alphas must be finite and non-negative, got -2.0"),
])
def test_fit_alphas_with_an_empty_or_negative_entry_is_an_error(capsys, alphas, message):
    with pytest.raises(SystemExit) as exc:  # argparse's usage error
        cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--alphas", alphas])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_fit_kfold_prints_standard_errors(capsys):
    X, y, names = sr.load_longley()
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--cv", "4", "--rule", "1se",
                     "--quiet"]) == 0
    out = capsys.readouterr().out
    table = out.split("Scores per alpha:")[1].split("Chosen alpha")[0]
    assert table.split()[:5] == ["alpha", "dof", "TOTEMP", "TOTEMP", "SE"]
    rows = [line.split() for line in table.splitlines() if line.strip()[:1].isdigit()]
    result = sr.ridge_cv(X, y, cv=4, rule="1se")
    np.testing.assert_allclose([float(r[3]) for r in rows], result.score_se, rtol=1e-5)
    assert "within one standard error" in out
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--cv", "4", "--rule", "1se",
                     "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(report["targets"]["TOTEMP"]["score_se"], result.score_se,
                               rtol=1e-12)


def test_fit_target_rest_and_predictions(tmp_path, capsys):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 3))
    Y = X @ rng.standard_normal((3, 4)) + rng.standard_normal((30, 4))
    names = ["a", "t1", "b", "t2", "t,3", "c", "t4"][:7]
    data = np.column_stack([X[:, 0], Y[:, 0], X[:, 1], Y[:, 1], Y[:, 2], X[:, 2], Y[:, 3]])
    path = tmp_path / "data.csv"
    np.savetxt(path, data, delimiter=",", fmt="%.17g", comments="",
               header=",".join(n if "," not in n else f'"{n}"' for n in names))
    out_csv = tmp_path / "pred.csv"
    assert cli.main(["fit", str(path), "--features", "a", "b", "c", "--target-rest", "--cv", "5",
                     "--predictions", str(out_csv), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["features"] == ["a", "b", "c"]
    assert list(report["targets"]) == ["t1", "t2", "t,3", "t4"]
    result = sr.ridge_cv(X, Y, cv=5)
    np.testing.assert_allclose([report["targets"][t]["alpha"] for t in report["targets"]],
                               result.best_alpha, rtol=1e-12)
    import csv
    with open(out_csv, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t1_predicted", "t1_residual", "t2_predicted", "t2_residual",
                       "t,3_predicted", "t,3_residual", "t4_predicted", "t4_residual"]
    table = np.array(rows[1:], dtype=float)
    fitted = X @ result.coef + result.intercept
    np.testing.assert_allclose(table[:, 0::2], fitted, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(table[:, 1::2], Y - fitted, rtol=1e-10, atol=1e-12)


def test_fit_standardize_predictions_and_plot_on_the_original_scale(tmp_path, capsys,
                                                                     monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from spectralridge import plot, stats

    saved = {}
    monkeypatch.setattr(Figure, "savefig", lambda fig, name, **kw: saved.update({name: fig}))
    pred = tmp_path / "pred.csv"
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--standardize", "--cv", "gcv",
                     "--plot", str(tmp_path), "--predictions", str(pred), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Coefficients at the chosen alphas (original feature scale)" in out
    X, y, names = sr.load_longley()
    Z, mean, scale = stats.standardize_columns(X)
    solver = sr.RidgeSolver(Z, y)
    ax = saved[str(tmp_path / "coef_path_TOTEMP.png")].axes[0]
    assert ax.get_ylabel() == "coefficient (original feature units)"
    alphas = plot._path_alphas(solver)
    np.testing.assert_allclose(np.array([line.get_ydata() for line in ax.lines[:6]]).T,
                               solver.coef(alphas) / scale, rtol=1e-10)
    result = sr.ridge_cv(Z, y, cv="gcv")
    table = np.loadtxt(pred, delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 0], Z @ result.coef + result.intercept, rtol=1e-10)


def test_fit_criteria_noise_level_refine_and_se(capsys):
    from spectralridge.stats import coef_inference

    X, y, names = sr.load_longley()
    alphas = "1e-2,1,100,1e4,1e5,1e6,1e7,1e8,1e10"
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--criterion", "evidence",
                     "--refine", "--alphas", alphas, "--se", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    grid = np.array([float(a) for a in alphas.split(",")])
    result = sr.ridge_cv(X, y, grid, cv="evidence", refine=True)
    entry = report["targets"]["TOTEMP"]
    assert report["cv"] == "evidence" and report["scoring"] == "log_evidence"
    assert entry["alpha"] == pytest.approx(result.best_alpha, rel=1e-12)
    inf = coef_inference(sr.RidgeSolver(X, y), result.best_alpha)
    got = entry["inference"]
    np.testing.assert_allclose([got["coef"][f]["se"] for f in names], inf.se, rtol=1e-9)
    np.testing.assert_allclose([got["coef"][f]["p_value"] for f in names], inf.p_value,
                               rtol=1e-7)
    assert got["intercept_se"] == pytest.approx(float(inf.intercept_se), rel=1e-9)
    assert got["df_resid"] == pytest.approx(float(inf.df_resid), rel=1e-12)
    # standardized: the fit on the standardized columns, standard errors mapped back
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--criterion", "discrepancy",
                     "--noise-level", "300", "--se", "--standardize", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Standard errors for TOTEMP (conditional on alpha=" in out
    from spectralridge.stats import standardize_columns
    Z, _, scale = standardize_columns(X)
    chosen = sr.ridge_cv(Z, y, cv="discrepancy", noise_level=300.0)
    rows = {line.split()[0]: line.split() for line in out.split("Standard errors")[1]
            .splitlines()[2:] if line.strip()}
    std = coef_inference(sr.RidgeSolver(Z, y), chosen.best_alpha)
    for j, f in enumerate(names):
        assert float(rows[f][2]) == pytest.approx(float(std.se[j] / scale[j]), rel=1e-5)
        assert float(rows[f][3]) == pytest.approx(float(std.t[j]), rel=1e-3)


def test_fit_criteria_errors(capsys):
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--cv", "discrepancy"]) == 1
    assert "--cv discrepancy needs --noise-level" in capsys.readouterr().err
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--cv", "discrepancy",
                     "--noise-level", "1", "--refine"]) == 1
    assert "--refine supports" in capsys.readouterr().err
    assert cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--cv", "3", "--refine"]) == 0
    with pytest.raises(SystemExit):
        cli.main(["fit", LONGLEY_CSV, "--target", "TOTEMP", "--criterion", "aic"])
    assert "'evidence', 'lcurve', 'discrepancy', 'quasi'" in capsys.readouterr().err
