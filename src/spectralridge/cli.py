"""The ``spectralridge`` command."""

import argparse
import sys

import numpy as np

from ._datasets import LONGLEY_CERTIFIED, load_longley
from ._solver import RidgeSolver


def _table(header, rows, formats):
    widths = [max(len(h), *(len(f.format(r[i])) for r in rows))
              for i, (h, f) in enumerate(zip(header, formats))]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(f.format(v).rjust(w) for v, f, w in zip(row, formats, widths))
              for row in rows]
    return "\n".join(lines)


def demo(out=None):
    """Ridge path of the NIST Longley data, on a grid of effective degrees of freedom."""
    out = sys.stdout if out is None else out
    X, y, names = load_longley()
    exact = RidgeSolver(X, y)
    estimate = np.concatenate([[exact.intercept(0.0)], exact.coef(0.0)])
    lre = -np.log10(np.abs(estimate - LONGLEY_CERTIFIED) / np.abs(LONGLEY_CERTIFIED))
    print("Longley (1967), NIST StRD: TOTEMP on 6 nearly collinear predictors, 16 years.",
          file=out)
    print(f"Least squares (alpha = 0, method={exact.method}): {lre.min():.1f} correct digits "
          "against the NIST certified values.\n", file=out)

    Z = (X - X.mean(axis=0)) / X.std(axis=0)
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
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="spectralridge",
        description="Ridge regression for every alpha from one spectral decomposition.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="ridge path of the bundled NIST Longley data")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2  # pragma: no cover (argparse rejects unknown commands)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
