"""The ``spectralridge`` command.

``spectralridge demo [--plot DIR]``
    The bundled NIST Longley data: least squares against the certified values, the ridge
    path on a grid of effective degrees of freedom, GCV and exact leave-one-out per alpha,
    the chosen alphas, the Hoerl-Kennard-Baldwin and Lawless-Wang estimates, coefficients;
    then a synthetic many-target problem timed against naive per-alpha solves.

``spectralridge fit data.csv --target COL [--target COL2 ...] [options]``
``spectralridge fit data.csv --features COL [COL ...] --target-rest [options]``
    Ridge regression of the target column(s) on the feature columns of a CSV file (header
    row, comma-separated), the alpha chosen per target by leave-one-out, GCV or K-fold.
    A readable report or ``--json``; ``--plot DIR`` writes the figures, ``--predictions
    FILE`` the fitted values and residuals.

Errors in the input (missing file, unknown or repeated column, non-numeric cell, NaN) print
one line ``spectralridge: error: ...`` on stderr and exit with status 1.

Examples
--------
>>> from spectralridge import cli
>>> from importlib.resources import files
>>> path = str(files("spectralridge").joinpath("data", "longley.csv"))
>>> cli.main(["fit", path, "--target", "TOTEMP", "--cv", "gcv", "--json", "--quiet"])
... # doctest: +ELLIPSIS
{
  "file": "...longley.csv",
  ...
}
0
"""

import argparse
import array
import csv
import json
import os
import re
import sys
import time
import warnings

import numpy as np

from ._cv import ridge_cv
from ._datasets import LONGLEY_CERTIFIED, load_longley
from ._solver import RidgeSolver
from ._validation import (check_columns, check_dof_grid, check_positive_int,
                          check_requirement, parse_number)
from .stats import hkb_alpha, lawless_wang_alpha, standardize_columns

DEMO_PROBLEM = {"n_samples": 1000, "n_features": 200, "n_targets": 500, "n_alphas": 30}


class _Progress:
    """Stage messages with elapsed time on stderr (when enabled)."""

    def __init__(self, enabled, stream=None):
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.t0 = time.perf_counter()

    def __call__(self, message):
        if self.enabled:
            print(f"[{time.perf_counter() - self.t0:7.2f} s] {message}", file=self.stream,
                  flush=True)


def _table(header, rows, formats):
    widths = [max(len(h), *(len(f.format(r[i])) for r in rows))
              for i, (h, f) in enumerate(zip(header, formats))]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(f.format(v).rjust(w) for v, f, w in zip(row, formats, widths))
              for row in rows]
    return "\n".join(lines)


def _caught(function, *args, **kwargs):
    """Call `function`, returning (result, list of warning messages) instead of warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    return result, [str(w.message) for w in caught]


# -- demo ------------------------------------------------------------------------------------------
def demo(out=None, plot_dir=None, progress=None, n_targets=None):
    """The main job on embedded data: Longley ridge path, selection, statistics, timing."""
    out = sys.stdout if out is None else out
    progress = _Progress(False) if progress is None else progress
    if n_targets is not None:
        n_targets = check_positive_int(n_targets, "--targets")
    X, y, names = load_longley()
    exact = RidgeSolver(X, y)
    estimate = np.concatenate([[exact.intercept(0.0)], exact.coef(0.0)])
    lre = -np.log10(np.abs(estimate - LONGLEY_CERTIFIED) / np.abs(LONGLEY_CERTIFIED))
    print("Longley (1967), NIST StRD: TOTEMP on 6 nearly collinear predictors, 16 years.",
          file=out)
    print(f"Least squares (alpha = 0, method={exact.method}): {lre.min():.1f} correct digits "
          "against the NIST certified values.\n", file=out)

    mean, scale = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / scale
    solver = RidgeSolver(Z, y)
    dofs = np.array([6.0, 5.5, 5.0, 4.0, 3.0, 2.0, 1.0, 0.5])
    alphas = solver.alphas_for_dof(dofs)
    coef, intercept = solver.coef(alphas), solver.intercept(alphas)
    print("Ridge path on standardized predictors (one decomposition, "
          f"method={solver.method}): alpha chosen for each effective dof.", file=out)
    header = ["alpha", "dof", "intercept", *names]
    rows = [(a, d, b, *c) for a, d, b, c in zip(alphas, solver.dof(alphas), intercept, coef)]
    print(_table(header, rows, ["{:.4g}", "{:.2f}", "{:.1f}"] + ["{:.1f}"] * len(names)),
          file=out)
    print("\nShrinkage s^2/(s^2+alpha) per eigen-direction of X^T X (steep first):", file=out)
    shrink = solver.shrinkage(alphas)
    rows = [(d, *f) for d, f in zip(dofs, shrink)]
    header = ["dof"] + [f"s{i + 1}={s:.3g}" for i, s in enumerate(solver.singular_values)]
    print(_table(header, rows, ["{:.2f}"] + ["{:.3f}"] * shrink.shape[1]), file=out)

    progress("Longley: selection")
    chosen = _demo_selection(out, solver, X, y, names, scale)
    progress("synthetic many-target problem: timing")
    _demo_timing(out, progress, n_targets)
    if plot_dir is not None:
        progress(f"writing figures to {plot_dir}")
        written = write_demo_figures(plot_dir, solver, names, chosen)
        print(f"\nFigures written to {plot_dir}: {', '.join(written)}", file=out)
    return 0


def _demo_selection(out, solver, X, y, names, scale):
    """GCV and LOO per alpha on a dof grid, chosen alphas, HKB and L-W, coefficients."""
    dofs = np.array([6.0, 5.5, 5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5])
    grid = solver.alphas_for_dof(dofs)
    gcv, loo = solver.gcv(grid), solver.loo(grid)
    print("\nModel selection (standardized predictors; mean squared errors):", file=out)
    rows = [(a, d, g, l) for a, d, g, l in zip(grid, solver.dof(grid), gcv.scores, loo.scores)]
    print(_table(["alpha", "dof", "GCV", "LOO"], rows, ["{:.4g}", "{:.2f}", "{:.5g}", "{:.5g}"]),
          file=out)
    lo, hi = solver.alphas_for_dof([5.99, 0.01])
    fine = np.logspace(np.log10(lo), np.log10(hi), 200)
    (gcv, notes), (loo, more) = _caught(solver.gcv, fine), _caught(solver.loo, fine)
    hkb, lw = hkb_alpha(X, y, standardize=True), lawless_wang_alpha(X, y, standardize=True)
    chosen = {"GCV": gcv.best_alpha, "LOO": loo.best_alpha, "HKB": hkb, "L-W": lw}
    print(f"\nChosen on 200 alphas spanning dof 5.99 to 0.01: GCV alpha = {gcv.best_alpha:.4g} "
          f"(dof {float(solver.dof(gcv.best_alpha)):.2f}), LOO alpha = {loo.best_alpha:.4g} "
          f"(dof {float(solver.dof(loo.best_alpha)):.2f}).", file=out)
    print(f"Hoerl-Kennard-Baldwin alpha = {hkb:.4g} (dof {float(solver.dof(hkb)):.2f}), "
          f"Lawless-Wang alpha = {lw:.4g} (dof {float(solver.dof(lw)):.2f}) "
          "(MASS::lm.ridge's kHKB and kLW: same column scaling).", file=out)
    for note in notes + more:
        print(f"note: {note}", file=out)
    print("\nCoefficients on the original scale at each choice (least squares: alpha = 0):",
          file=out)
    methods = {"OLS": 0.0, **chosen}
    alphas = np.array(list(methods.values()))
    coef = solver.coef(alphas) / scale
    intercept = y.mean() - coef @ X.mean(axis=0)
    rows = [(m, a, d, b, *c) for m, a, d, b, c in
            zip(methods, alphas, solver.dof(alphas), intercept, coef)]
    print(_table(["method", "alpha", "dof", "intercept", *names], rows,
                 ["{}", "{:.4g}", "{:.2f}", "{:.6g}"] + ["{:.5g}"] * len(names)), file=out)
    return chosen


def synthetic_problem(n_samples, n_features, n_targets, seed=0):
    """A many-target regression with a decaying spectrum and mixed noise levels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) @ np.diag(np.logspace(0, -2, n_features))
    Y = X @ rng.standard_normal((n_features, n_targets))
    Y += rng.standard_normal((n_samples, n_targets)) * rng.uniform(0.1, 10.0, n_targets)
    return X, Y


def naive_gcv(X, Y, alphas):
    """GCV for every alpha by a Cholesky solve per alpha with the Gram formed once (baseline):
    scores (m, k) and the coefficients at each target's best alpha."""
    import scipy.linalg as sla

    n, p = X.shape
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    G = sla.blas.dgemm(1.0, Xc, Xc, trans_a=True)
    C = sla.blas.dgemm(1.0, Xc, Yc, trans_a=True)
    yy = np.einsum("ij,ij->j", Yc, Yc)
    scores = np.empty((alphas.size, Y.shape[1]))
    best_score = np.full(Y.shape[1], np.inf)
    best_coef = np.empty((p, Y.shape[1]))
    for i, a in enumerate(alphas):
        A = G + a * np.eye(p)
        W = sla.solve(A, C, assume_a="pos")
        rss = yy - 2 * np.einsum("ij,ij->j", W, C) + \
            np.einsum("ij,ij->j", W, sla.blas.dgemm(1.0, G, W))
        dof = np.trace(sla.solve(A, G, assume_a="pos"))
        scores[i] = (rss / n) / ((n - dof - 1) / n) ** 2
        better = scores[i] < best_score
        best_score[better] = scores[i][better]
        best_coef[:, better] = W[:, better]
    return scores, best_coef


def _demo_timing(out, progress, n_targets=None):
    size = DEMO_PROBLEM
    n_targets = size["n_targets"] if n_targets is None else n_targets
    X, Y = synthetic_problem(size["n_samples"], size["n_features"], n_targets)
    alphas = np.logspace(-4, 4, size["n_alphas"])
    print(f"\nSynthetic problem: {X.shape[0]} samples, {X.shape[1]} features, {Y.shape[1]} "
          f"targets, {alphas.size} alphas: GCV for every alpha and target, coefficients at "
          "each target's best alpha.", file=out)
    t0 = time.perf_counter()
    result, notes = _caught(lambda: RidgeSolver(X, Y).gcv(alphas))
    ours = time.perf_counter() - t0
    progress(f"spectralridge: {ours:.3f} s; now the naive baseline")
    t0 = time.perf_counter()
    scores, coef = naive_gcv(X, Y, alphas)
    naive = time.perf_counter() - t0
    score_err = np.abs(scores - result.scores).max() / np.abs(scores).max()
    coef_err = np.abs(coef - result.coef).max() / np.abs(coef).max()
    print(f"spectralridge (one decomposition): {ours:.3f} s", file=out)
    print(f"naive (Gram once, Cholesky solve per alpha): {naive:.3f} s", file=out)
    print(f"speedup: {naive / ours:.1f}x; largest relative difference: GCV {score_err:.1e}, "
          f"coefficients {coef_err:.1e}", file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    return naive / ours


def write_demo_figures(plot_dir, solver, names, chosen):
    """The demo's figures as PNG files in `plot_dir`; returns the file names."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot

    os.makedirs(plot_dir, exist_ok=True)
    written = []

    def save(ax, name):
        ax.figure.savefig(os.path.join(plot_dir, name), dpi=110)
        plt.close(ax.figure)
        written.append(name)

    lo, hi = solver.alphas_for_dof([5.99, 0.01])
    fine = np.logspace(np.log10(lo), np.log10(hi), 200)
    save(plot.coef_path(solver, x="dof", feature_names=names, mark=chosen["LOO"]),
         "coef_path_dof.png")
    save(plot.coef_path(solver, feature_names=names, mark=chosen["LOO"]),
         "coef_path_alpha.png")
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    plot.cv_curve(_caught(solver.gcv, fine)[0], ax=ax)
    plot.cv_curve(_caught(solver.loo, fine)[0], ax=ax)
    ax.lines[0].set_label("GCV")
    ax.lines[3].set_label("LOO")
    ax.set_ylabel("mean squared error")
    ax.legend()
    save(ax, "cv_curve.png")
    save(plot.shrinkage(solver, [chosen["LOO"], chosen["L-W"], 1.0, 10.0]), "shrinkage.png")
    H = np.array([[3.0, 1.2], [1.2, 0.7]])
    save(plot.geometry(H, np.array([1.0, 2.0])), "geometry.png")
    save(plot.early_stopping(solver, [10, 100, 1000]), "early_stopping.png")
    save(plot.vif_path(solver, x="dof", scale="data", feature_names=names), "vif_path.png")
    return written


# -- fit -------------------------------------------------------------------------------------------
def read_csv(path, targets=None, features=None, delimiter=","):
    """Feature matrix, target matrix and names from a CSV file with a header row.

    The header is the first non-blank line; blank lines are skipped and counted, so error
    messages give the file's own line numbers. A UTF-8 byte-order mark is dropped.

    Parameters
    ----------
    path : str
    targets : list of str, default=None
        Target columns; None: every column not in `features`.
    features : list of str, default=None
        Feature columns; None: every column that is not a target.
    delimiter : str, default=','

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    feature_names : list of str
    target_names : list of str
    """
    check_requirement(targets is not None or features is not None,
                      "read_csv needs the targets, the features or both.")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        header_line = reader.line_num
    check_requirement(header is not None, f"{path}: the file is empty (a header row is needed).")
    header = [h.strip() for h in header]
    seen = {}
    for j, name in enumerate(header):
        check_requirement(name not in seen,
                          f"{path}: column name {name!r} appears twice in the header (fields "
                          f"{seen.get(name, 0) + 1} and {j + 1}); column names must be unique.")
        seen[name] = j
    if targets is None:
        feature_idx = check_columns(features, header, "feature", path)
        target_idx = [j for j in range(len(header)) if j not in feature_idx]
    else:
        target_idx = check_columns(targets, header, "target", path)
        feature_idx = [j for j in range(len(header)) if j not in target_idx] \
            if features is None else check_columns(features, header, "feature", path)
    check_requirement(not set(feature_idx) & set(target_idx),
                      f"{path}: a column cannot be both a feature and a target.")
    check_requirement(bool(feature_idx), f"{path}: no feature columns left.")
    check_requirement(bool(target_idx), f"{path}: no target columns left.")
    columns = feature_idx + target_idx
    data = _read_numbers_fast(path, header_line, len(header), columns, delimiter)
    if data is None:  # something to report (or an unusual number format): the exact scan
        data = _read_numbers_exact(path, header, header_line, columns, delimiter)
    check_requirement(data.shape[0] > 0, f"{path}: no data rows after the header.")
    p = len(feature_idx)
    return data[:, :p], data[:, p:], [header[j] for j in feature_idx], \
        [header[j] for j in target_idx]


def _read_numbers_fast(path, header_line, n_fields, columns, delimiter):
    """NumPy's C reader over the data lines: the chosen columns, or None if anything is off
    (a cell that is not a finite number, a row of the wrong length)."""
    used = set(columns)
    skip = {j: _ignore_cell for j in range(n_fields) if j not in used}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": reported below
            data = np.loadtxt(path, delimiter=delimiter, skiprows=header_line, comments=None,
                              quotechar='"', ndmin=2, encoding="utf-8-sig", converters=skip)
    except ValueError:
        return None
    if data.shape[0] and data.shape[1] != n_fields:
        return None
    if not data.shape[0]:
        return np.empty((0, len(columns)))
    if columns != list(range(n_fields)):
        data = data[:, columns]
    return data if np.isfinite(data).all() else None


def _ignore_cell(text):
    return 0.0


def _read_numbers_exact(path, header, header_line, columns, delimiter):
    """Cell by cell through the csv module: the first bad cell raises with its line number."""
    values = array.array("d")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        for row in reader:
            if reader.line_num <= header_line or not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            check_requirement(len(row) == len(header),
                              f"{path}: line {line} has {len(row)} fields, the header has "
                              f"{len(header)}.")
            values.extend(parse_number(row[j], header[j], line, path) for j in columns)
    return np.frombuffer(values, dtype=np.float64).reshape(-1, len(columns)).copy()


def _parse_cv(text):
    if text in ("loo", "gcv", "evidence", "lcurve", "discrepancy", "quasi"):
        return text
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'loo', 'gcv', 'evidence', 'lcurve', 'discrepancy', 'quasi' or a number "
            f"of folds, got {text!r}") from None
    if k < 2:
        raise argparse.ArgumentTypeError(f"the number of folds must be at least 2, got {k}")
    return k


def _parse_alphas(text):
    entries = [v.strip() for v in text.split(",")]
    if "" in entries:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r} "
                                         f"(entry {entries.index('') + 1} is empty)")
    try:
        values = [float(v) for v in entries]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got "
                                         f"{text!r}") from None
    bad = [v for v in values if not 0 <= v < np.inf]
    if bad:
        raise argparse.ArgumentTypeError(f"alphas must be finite and non-negative, got "
                                         f"{bad[0]!r} in {text!r}")
    return values


def _names(values):
    """Column names from repeated options, each possibly comma-separated."""
    if values is None:
        return None
    return [name.strip() for v in values for name in v.split(",") if name.strip()]


# Library messages name keyword arguments; the command's user knows the options.
_CLI_TERMS = [
    (r"use a number of folds or a splitter for cv", "use a number of folds for --cv"),
    (r"\bcv=(\d+) folds must be between 2 and n_samples=(\d+)",
     r"--cv \1: the number of folds must be between 2 and the number of samples, \2"),
    (r"\b(cv|rule|scoring)=('?)([\w.-]+)\2", r"--\1 \3"),
    (r"\balpha_per_target=False\b", "--shared-alpha"),
    (r"\bnoise_level\b", "--noise-level"),
    (r"\brefine=True\b", "--refine"),
    (r"\bfit_intercept=False\b", "--no-intercept"),
]


def _cli_message(message, features):
    """`message` of a library error in the command's terms: options and column names."""
    for pattern, replacement in _CLI_TERMS:
        message = re.sub(pattern, replacement, message)
    return re.sub(r"\bX column (\d+)\b",
                  lambda m: f"feature column {features[int(m.group(1))]!r}", message)


def fit(args, out=None):
    """Run ``spectralridge fit``; returns the report as a dict."""
    out = sys.stdout if out is None else out
    quiet = getattr(args, "quiet", False)
    progress = _Progress(not quiet and (args.progress or sys.stderr.isatty()))
    check_requirement(not getattr(args, "target_rest", False) or args.features is not None,
                      "--target-rest needs --features (every other column is a target).")
    progress(f"reading {args.data}")
    X, Y, features, targets = read_csv(args.data, _names(args.target),
                                       _names(args.features), args.delimiter)
    try:
        return _fit(args, out, progress, X, Y, features, targets)
    except ValueError as exc:
        raise ValueError(_cli_message(str(exc), features)) from None


def _fit(args, out, progress, X, Y, features, targets):
    n, p = X.shape
    progress(f"{n} samples, {p} features, {len(targets)} target(s); decomposing")
    fit_intercept = not args.no_intercept
    if args.standardize:  # MASS's / glmnet's column scaling; coefficients reported unscaled
        X, mean, scale = standardize_columns(X, fit_intercept=fit_intercept)
    solver = RidgeSolver(X, Y, fit_intercept=fit_intercept)
    if args.alphas is not None:
        alphas = np.array(args.alphas)
    elif args.dof_grid is not None:
        n_points = check_dof_grid(args.dof_grid)
        alphas = solver.alphas_for_dof(solver.rank * np.linspace(1, 0, n_points + 2)[1:-1])
    else:
        alphas = None
    cv = args.cv
    progress(f"cross-validation ({cv}) over "
             f"{'the default 30' if alphas is None else len(alphas)} alphas")
    result, notes = _caught(ridge_cv, X, Y, alphas, cv=cv, scoring=args.scoring,
                            rule=args.rule, alpha_per_target=not args.shared_alpha,
                            fit_intercept=fit_intercept, noise_level=args.noise_level,
                            refine=args.refine)
    for note in notes:
        print(f"spectralridge: warning: {note}", file=sys.stderr)
    report = _fit_report(args, solver, result, X, Y, features, targets)
    if args.standardize:
        for entry in report["targets"].values():
            coef = np.array([entry["coef"][f] for f in features]) / scale
            entry["coef"] = dict(zip(features, coef.tolist()))
            entry["intercept"] -= float(coef @ mean)
    if args.se:
        progress("standard errors at the chosen alphas")
        _add_inference(report, solver, result, features, targets,
                       (mean, scale) if args.standardize else None)
    if args.predictions is not None:
        progress(f"writing predictions to {args.predictions}")
        _write_predictions(args.predictions, X, Y, result, targets)
    progress("done")
    if args.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        _print_fit_report(report, out)
    if args.plot is not None:
        progress(f"writing figures to {args.plot}")
        _write_fit_figures(args.plot, solver, result, features, targets,
                           scale if args.standardize else None)
        if not args.json:
            print(f"\nFigures written to {args.plot}.", file=out)
    if args.predictions is not None and not args.json:
        print(f"\nPredictions and residuals written to {args.predictions}.", file=out)
    return report


def _add_inference(report, solver, result, features, targets, standardized):
    """Standard errors, t and p-values at each target's chosen alpha into `report`
    (:func:`~spectralridge.stats.coef_inference`; on the original feature scale)."""
    from .stats import coef_inference
    best = np.atleast_1d(np.asarray(result.best_alpha, dtype=np.float64))
    inf = coef_inference(solver, best, covariance=standardized is not None)
    one_d = np.ndim(inf.noise_variance) == 1  # (n_alphas,): no target axis

    def at(values, i):
        """Target i at its own alpha (the alpha axis first, the target axis last)."""
        values = np.asarray(values, dtype=np.float64)[i]
        return values if one_d else values[..., i]

    for i, t in enumerate(targets):
        se, sigma2 = at(inf.se, i), float(at(inf.noise_variance, i))
        intercept_se = None if inf.intercept_se is None else float(at(inf.intercept_se, i))
        intercept_t = None if inf.intercept_t is None else float(at(inf.intercept_t, i))
        if standardized is not None:
            mean, scale = standardized
            se = se / scale
            if intercept_se is not None:  # b = ym - (mean / scale)^T W_std, Cov(ym, W) = 0
                m = mean / scale
                intercept_se = float(np.sqrt(
                    sigma2 / solver.data.centering.sum_w + sigma2 * m @ inf.covariance[i] @ m))
                intercept_t = report["targets"][t]["intercept"] / intercept_se
        intercept_p = None
        if intercept_t is not None:
            intercept_p = float(_two_sided_p(intercept_t, inf.df_resid[i]))
        report["targets"][t]["inference"] = {
            "df_resid": float(inf.df_resid[i]), "noise_variance": sigma2,
            "intercept_se": intercept_se, "intercept_t": intercept_t,
            "intercept_p_value": intercept_p,
            "coef": {f: {"se": float(se[j]), "t": float(at(inf.t, i)[j]),
                         "p_value": float(at(inf.p_value, i)[j])}
                     for j, f in enumerate(features)}}


def _two_sided_p(t, df):
    """Two-sided p-value of a t statistic with `df` degrees of freedom (inf: normal)."""
    from scipy import special
    return 2 * (special.ndtr(-abs(t)) if np.isinf(df) else special.stdtr(df, -abs(t)))


def _write_predictions(path, X, Y, result, targets):
    """Fitted values and residuals at each target's chosen alpha, one row per data row."""
    coef = np.asarray(result.coef, dtype=np.float64).reshape(X.shape[1], -1)
    fitted = X @ coef + np.asarray(result.intercept, dtype=np.float64).reshape(-1)
    table = np.empty((X.shape[0], 2 * len(targets)))
    table[:, 0::2], table[:, 1::2] = fitted, Y - fitted
    header = ",".join(f"{_csv_name(t + suffix)}" for t in targets
                      for suffix in ("_predicted", "_residual"))
    np.savetxt(path, table, fmt="%.17g", delimiter=",", header=header, comments="")


def _csv_name(name):
    """A header field, quoted as the csv module would."""
    return f'"{name.replace(chr(34), 2 * chr(34))}"' if any(c in name for c in ',"\n') \
        else name


def _fit_report(args, solver, result, X, Y, features, targets):
    k = len(targets)
    scores = np.asarray(result.scores, dtype=np.float64).reshape(len(result.alphas), k)
    best_alpha = np.asarray(result.best_alpha, dtype=np.float64).reshape(k)
    best_score = np.asarray(result.best_score, dtype=np.float64).reshape(k)
    coef = np.asarray(result.coef, dtype=np.float64).reshape(len(features), k)
    intercept = np.asarray(result.intercept, dtype=np.float64).reshape(k)
    dof_best = solver.dof(best_alpha)
    se = None if result.score_se is None else \
        np.asarray(result.score_se, dtype=np.float64).reshape(len(result.alphas), k)
    estimates = {}
    for name, function in (("hkb_alpha", hkb_alpha), ("lawless_wang_alpha", lawless_wang_alpha)):
        try:
            estimates[name] = np.atleast_1d(
                function(X, Y, fit_intercept=not args.no_intercept)).tolist()
        except ValueError:  # too few features or samples: not defined
            estimates[name] = [None] * k
    return {
        "file": args.data,
        "n_samples": int(X.shape[0]),
        "features": features,
        "fit_intercept": not args.no_intercept,
        "standardize": bool(args.standardize),
        "cv": result.cv,
        "scoring": result.scoring,
        "rule": getattr(result, "rule", "min"),
        "alphas": np.asarray(result.alphas).tolist(),
        "dof": np.asarray(result.dof).tolist(),
        "targets": {
            t: {"alpha": float(best_alpha[i]), "dof": float(dof_best[i]),
                "score": float(best_score[i]), "scores": scores[:, i].tolist(),
                "score_se": None if se is None else se[:, i].tolist(),
                "intercept": float(intercept[i]),
                "coef": dict(zip(features, coef[:, i].tolist())),
                "hkb_alpha": estimates["hkb_alpha"][i],
                "lawless_wang_alpha": estimates["lawless_wang_alpha"][i]}
            for i, t in enumerate(targets)},
    }


def _print_fit_report(report, out):
    targets = report["targets"]
    names = list(targets)
    what = {"mse": "mean squared error", "r2": "R^2"}.get(report["scoring"],
                                                           report["scoring"])
    scaled = ", standardized features" if report["standardize"] else ""
    rule = "; rule: within one standard error of the best" if report["rule"] == "1se" else ""
    print(f"{report['file']}: {report['n_samples']} samples, {len(report['features'])} "
          f"features{scaled}, {len(names)} target(s); cv={report['cv']}, scoring: {what}"
          f"{rule}.", file=out)
    with_se = all(targets[t]["score_se"] is not None for t in names)
    print("\nScores per alpha:", file=out)
    columns = [(t, "scores") for t in names]
    if with_se:
        columns = [(t, key) for t in names for key in ("scores", "score_se")]
    rows = [(a, d, *(targets[t][key][i] for t, key in columns))
            for i, (a, d) in enumerate(zip(report["alphas"], report["dof"]))]
    header = [t if key == "scores" else f"{t} SE" for t, key in columns]
    print(_table(["alpha", "dof", *header], rows,
                 ["{:.4g}", "{:.3f}"] + ["{:.6g}"] * len(columns)), file=out)
    if with_se:
        print("(SE: standard error of the score over the splits.)", file=out)
    print("\nChosen alpha per target:", file=out)

    def fmt(v):
        return "-" if v is None else f"{v:.4g}"

    rows = [(t, v["alpha"], v["dof"], v["score"], v["intercept"], fmt(v["hkb_alpha"]),
             fmt(v["lawless_wang_alpha"])) for t, v in targets.items()]
    print(_table(["target", "alpha", "dof", "score", "intercept", "HKB alpha", "L-W alpha"],
                 rows, ["{}", "{:.4g}", "{:.3f}", "{:.6g}", "{:.6g}", "{}", "{}"]), file=out)
    units = " (original feature scale)" if report["standardize"] else ""
    print(f"\nCoefficients at the chosen alphas{units}:", file=out)
    rows = [(f, *(targets[t]["coef"][f] for t in names)) for f in report["features"]]
    print(_table(["feature", *names], rows, ["{}"] + ["{:.6g}"] * len(names)), file=out)
    for t in names:
        inf = targets[t].get("inference")
        if inf is None:
            continue
        print(f"\nStandard errors for {t} (conditional on alpha={targets[t]['alpha']:.4g}; "
              f"residual dof {inf['df_resid']:.3f}, sigma^2 {inf['noise_variance']:.6g}):",
              file=out)
        rows = [(f, targets[t]["coef"][f], v["se"], v["t"], v["p_value"])
                for f, v in inf["coef"].items()]
        if inf["intercept_se"] is not None:
            rows.insert(0, ("(intercept)", targets[t]["intercept"], inf["intercept_se"],
                            inf["intercept_t"], inf["intercept_p_value"]))
        print(_table(["term", "estimate", "std. error", "t", "p-value"], rows,
                     ["{}", "{:.6g}", "{:.6g}", "{:.4g}", "{:.4g}"]), file=out)


def _write_fit_figures(plot_dir, solver, result, features, targets, scale=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot

    os.makedirs(plot_dir, exist_ok=True)
    best = np.atleast_1d(result.best_alpha)
    for i, t in enumerate(targets):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in t)
        ax = plot.coef_path(solver, target=i, x="dof", feature_names=features,
                            mark=float(best[i]), feature_scale=scale)
        ax.set_ylabel("coefficient (original feature units)")  # as in the report
        ax.set_title(f"Ridge coefficient path: {t}" +
                     ("\n(penalty on standardized features)" if scale is not None else ""))
        ax.figure.savefig(os.path.join(plot_dir, f"coef_path_{safe}.png"), dpi=110)
        plt.close(ax.figure)
    ax = plot.cv_curve(result)
    ax.figure.savefig(os.path.join(plot_dir, "cv_curve.png"), dpi=110)
    plt.close(ax.figure)


# -- entry point -----------------------------------------------------------------------------------
def _parser():
    parser = argparse.ArgumentParser(
        prog="spectralridge",
        description="Ridge regression for every alpha from one spectral decomposition.")
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser("demo", help="the bundled NIST Longley data and a timing")
    d.add_argument("--plot", metavar="DIR", help="write the figures (PNG) into DIR")
    d.add_argument("--targets", type=int, metavar="N",
                   help=f"targets of the timed synthetic problem (default "
                        f"{DEMO_PROBLEM['n_targets']}; the speedup hardly depends on it)")
    f = commands.add_parser(
        "fit", help="ridge regression on a CSV file, alpha chosen per target",
        description="Ridge regression of the --target column(s) on the feature columns of a "
                    "CSV file with a header row; alpha chosen per target by cross-validation.")
    f.add_argument("data", help="CSV file with a header row")
    which = f.add_mutually_exclusive_group(required=True)
    which.add_argument("--target", action="append", metavar="COL",
                       help="target column (repeat, or comma-separate, for several targets)")
    which.add_argument("--target-rest", action="store_true",
                       help="every column not named by --features is a target")
    f.add_argument("--features", nargs="+", metavar="COL",
                   help="feature columns (default: every column that is not a target)")
    f.add_argument("--cv", "--criterion", dest="cv", type=_parse_cv, default="loo",
                   help="'loo' (exact leave-one-out, default), 'gcv', K for K-fold, "
                        "'evidence' (marginal likelihood), 'lcurve' (L-curve corner), "
                        "'discrepancy' (needs --noise-level) or 'quasi' (quasi-optimality)")
    f.add_argument("--noise-level", type=float, metavar="S",
                   help="noise standard deviation: for 'discrepancy' (required) and "
                        "'evidence' (a known noise variance S^2)")
    f.add_argument("--refine", action="store_true",
                   help="refine each chosen alpha off the grid (loo, gcv, evidence, lcurve, "
                        "quasi, K-fold)")
    f.add_argument("--se", action="store_true",
                   help="standard errors, t statistics and p-values of the coefficients at "
                        "the chosen alphas (conditional on alpha)")
    grid = f.add_mutually_exclusive_group()
    grid.add_argument("--alphas", type=_parse_alphas, metavar="A,B,C",
                      help="comma-separated alphas")
    grid.add_argument("--dof-grid", type=int, metavar="N",
                      help="N alphas evenly spaced in effective degrees of freedom")
    f.add_argument("--scoring", choices=("mse", "r2"), default="mse")
    f.add_argument("--rule", choices=("min", "1se"), default="min",
                   help="'min': best score; '1se' (K-fold): the most regularized alpha within "
                        "one standard error of the best")
    f.add_argument("--shared-alpha", action="store_true",
                   help="one alpha for all targets (best mean score) instead of one per target")
    f.add_argument("--no-intercept", action="store_true", help="do not fit an intercept")
    f.add_argument("--standardize", action="store_true",
                   help="scale the features to unit standard deviation (divisor n, as MASS "
                        "and glmnet) first; alphas refer to that scale, coefficients are "
                        "reported and plotted on the original one")
    f.add_argument("--delimiter", default=",", metavar="CHAR",
                   help="field delimiter (default ',')")
    f.add_argument("--json", action="store_true", help="print the report as JSON")
    f.add_argument("--plot", metavar="DIR", help="write the figures (PNG) into DIR")
    f.add_argument("--predictions", metavar="FILE",
                   help="write a CSV of fitted values and residuals at the chosen alphas: "
                        "columns <target>_predicted and <target>_residual, one row per data "
                        "row")
    f.add_argument("--progress", action="store_true",
                   help="print progress on stderr (default: when stderr is a terminal)")
    f.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return demo(plot_dir=args.plot, progress=_Progress(sys.stderr.isatty()),
                        n_targets=args.targets)
        fit(args)
        return 0
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except FileNotFoundError as exc:
        print(f"spectralridge: error: {exc.filename}: no such file.", file=sys.stderr)
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f"spectralridge: error: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
