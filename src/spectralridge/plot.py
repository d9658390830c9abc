r"""Figures of the ridge path, its selection and the spectral picture behind it.

matplotlib is optional (``pip install 'spectralridge[plot]'``) and imported only when a
function here is called. Every function draws on the given ``ax`` (or a new figure), returns
that :class:`matplotlib.axes.Axes`, and draws lines whose data are exactly the library's
results, so figures can be checked (and restyled) through ``ax.lines``.

- :func:`coef_path`: coefficients against alpha or against the effective degrees of freedom
  (the ridge trace of Hastie, Tibshirani and Friedman, *The Elements of Statistical
  Learning*, fig. 3.8).
- :func:`cv_curve`: cross-validation or GCV scores with the chosen alpha, and the one-standard
  -error band when the result has one (K-fold).
- :func:`shrinkage`: the shrinkage factor ``s^2 / (s^2 + alpha)`` of every eigen-direction for
  several alphas: steep directions kept, flat ones zeroed.
- :func:`geometry`: a 2-feature quadratic: loss ellipses, penalty circles and the path of the
  regularized optimum from ``w*`` (alpha = 0) to 0.
- :func:`early_stopping`: the filter factors of gradient descent after t steps against ridge
  at the equivalent alpha ``1 / (lr t)``.
- :func:`vif_path`: variance inflation factors along the path.
- :func:`banded_alphas` and :func:`split_r2`: a banded ridge fit's per-group alphas across
  targets and each target's R^2 split into per-group shares.
- :func:`lcurve`: the L-curve with its corner; :func:`picard`: the Picard plot;
  :func:`criteria`: several selection criteria on one axis; :func:`coef_bands`: the ridge
  trace with confidence bands.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np
>>> import spectralridge as sr
>>> from spectralridge import plot
>>> X, y, names = sr.load_longley()
>>> Z = (X - X.mean(axis=0)) / X.std(axis=0)
>>> solver = sr.RidgeSolver(Z, y)
>>> ax = plot.coef_path(solver, x="dof", feature_names=names)
>>> [line.get_label() for line in ax.lines[:6]]
['GNPDEFL', 'GNP', 'UNEMP', 'ARMFORCE', 'POP', 'YEAR']
>>> import io
>>> ax.figure.savefig(io.BytesIO(), format="png")
"""

import numbers

import numpy as np

from . import theory
from ._scores import CVResult
from ._solver import RidgeSolver
from ._validation import (as_array, check_alphas, check_eigenvalues, check_index,
                          check_option, check_has_positive, check_positive,
                          check_positive_steps, check_requirement, check_two_features,
                          describe, is_device_array)

__all__ = ["banded_alphas", "coef_bands", "coef_path", "criteria", "cv_curve",
           "early_stopping", "geometry", "lcurve", "picard", "shrinkage", "split_r2",
           "vif_path"]


def _numpy(a, dtype=None):
    """`a` as a NumPy array: a Dask array computed, a device (array-API) array copied to
    the host."""
    if is_device_array(a):
        from ._array_api import to_host
        a = to_host(a)
    return np.asarray(a, dtype=dtype)


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover (matplotlib is installed for the tests)
        raise ImportError("spectralridge.plot needs matplotlib; install it with "
                          "pip install 'spectralridge[plot]'.") from exc
    return plt


def _axes(ax, figsize=(6.4, 4.4)):
    plt = _pyplot()
    _check_axes(ax)
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _path_alphas(solver, n=100):
    """Log-spaced alphas whose dof run from 99.9 % to 0.1 % of the rank."""
    r = solver.rank
    if r == 0:
        return np.logspace(-3, 3, n)
    lo, hi = solver.alphas_for_dof([0.999 * r, 0.001 * r])
    return np.logspace(np.log10(lo), np.log10(hi), n)


def _check_solver(solver, name):
    if not isinstance(solver, RidgeSolver):
        raise TypeError(f"{name} must be a RidgeSolver, got {describe(solver)}.")
    return solver


def _check_count(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or \
            value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


def _feature_names(feature_names, n_features):
    if feature_names is None:
        return [f"x{j}" for j in range(n_features)]
    if isinstance(feature_names, str) or not hasattr(feature_names, "__len__"):
        raise TypeError(f"feature_names must be a sequence of n_features={n_features} "
                        f"names, got {describe(feature_names)}.")
    if len(feature_names) != n_features:
        raise ValueError(f"feature_names must have n_features={n_features} names, got "
                         f"{len(feature_names)}.")
    return [str(name) for name in feature_names]


def _check_feature_scale(scale, n_features):
    values = as_array(scale, "feature_scale", ndims=(1,), keep_float32=False)
    if values.shape != (n_features,):
        raise ValueError(f"feature_scale must have shape (n_features,) = ({n_features},), got "
                         f"shape {values.shape}.")
    bad = np.flatnonzero(~(values > 0))
    if bad.size:
        raise ValueError(f"feature_scale must be positive, got feature_scale[{bad[0]}]="
                         f"{float(values[bad[0]])!r}.")
    return values


def _check_result(result):
    if not isinstance(result, CVResult):
        raise TypeError(f"result must be a CVResult (from ridge_cv, solver.loo or solver.gcv), "
                        f"got {describe(result)}.")
    return result


def _check_axes(ax):
    if ax is not None:
        from matplotlib.axes import Axes
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes, got {describe(ax)}.")
    return ax


def _pick_target(values, target, n_targets, name="target"):
    """Column `target` of a (m, k) array; a 1-D array is returned as is."""
    if values.ndim == 1:
        return values
    return values[:, check_index(target, name, n_targets)]


def _spectrum(solver_or_eigenvalues):
    """Descending eigenvalues of the Hessian: ``s^2`` of a solver, or the given ones."""
    if isinstance(solver_or_eigenvalues, RidgeSolver):
        return np.square(np.asarray(solver_or_eigenvalues.singular_values))
    _check_solver_or_array(solver_or_eigenvalues, "solver_or_eigenvalues", "eigenvalues", 1)
    return np.sort(check_eigenvalues(solver_or_eigenvalues))[::-1]


def _check_solver_or_array(value, name, what, ndim):
    """Reject what is neither a solver nor an array of numbers, naming both choices."""
    try:
        as_array(value, name, ndims=(ndim,))
    except TypeError:
        raise TypeError(f"{name} must be a RidgeSolver or an array-like of {what}, got "
                        f"{describe(value)}.") from None


def coef_path(solver, alphas=None, *, x="alpha", target=0, feature_names=None, mark=None,
              feature_scale=None, max_legend=10, ax=None):
    """Ridge coefficients of every feature along the path.

    Parameters
    ----------
    solver : RidgeSolver
    alphas : array-like of shape (n_alphas,), default=None
        None: 100 log-spaced alphas whose effective dof span 99.9 % to 0.1 % of the rank.
    x : {'alpha', 'dof'}, default='alpha'
        Horizontal axis: alpha (log scale) or the effective degrees of freedom (the figure of
        *The Elements of Statistical Learning*, fig. 3.8: least squares on the right).
    target : int, default=0
        Target to draw for a multi-target solver.
    feature_names : sequence of str, default=None
        Line labels (``x0, x1, ...`` by default).
    mark : float, default=None
        An alpha to mark with a vertical line (e.g. the cross-validated one).
    feature_scale : array-like of shape (n_features,), default=None
        Positive scales the coefficients are divided by, and the axis says so: the column
        scales of standardized features draw the coefficients in the original units.
    max_legend : int, default=10
        The legend lists at most this many features, those with the largest absolute
        coefficient along the path; 0: no legend. Every line keeps its label.
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.lines[j]`` is feature j: x-data alphas (or dof), y-data ``solver.coef(alphas)``
        (divided by ``feature_scale[j]``).
    """
    _check_solver(solver, "solver")
    x = check_option(x, "x", ("alpha", "dof"))
    max_legend = _check_count(max_legend, "max_legend")
    alphas = _path_alphas(solver) if alphas is None else check_alphas(alphas)[0]
    coef = _numpy(solver.coef(alphas))  # a Dask solver's path, computed once
    if coef.ndim == 3:
        coef = coef[:, :, check_index(target, "target", coef.shape[2])]
    names = _feature_names(feature_names, coef.shape[1])
    if feature_scale is not None:
        coef = coef / _check_feature_scale(feature_scale, coef.shape[1])
    if mark is not None:
        mark_alpha = check_alphas(mark, "mark")[0][0]
    ax = _axes(ax)
    xs = alphas if x == "alpha" else solver.dof(alphas)
    lines = [ax.plot(xs, coef[:, j], label=names[j])[0] for j in range(coef.shape[1])]
    ax.axhline(0.0, color="0.6", lw=0.8, zorder=0)
    handles = [lines[j] for j in
               np.sort(np.argsort(-np.abs(coef).max(axis=0), kind="stable")[:max_legend])]
    if mark is not None:
        handles.append(ax.axvline(mark_alpha if x == "alpha" else
                                  float(solver.dof(mark_alpha)),
                                  color="tab:red", ls="--", lw=1.0, label="selected"))
    if x == "alpha":
        ax.set_xscale("symlog" if alphas.min() == 0 else "log",
                      **({"linthresh": float(np.min(alphas[alphas > 0]))}
                         if alphas.min() == 0 and (alphas > 0).any() else {}))
        ax.set_xlabel("alpha")
    else:
        ax.set_xlabel("effective degrees of freedom")
    ax.set_ylabel("coefficient (divided by feature_scale)" if feature_scale is not None
                  else "coefficient")
    ax.set_title("Ridge coefficient path")
    if max_legend:
        more = coef.shape[1] - min(max_legend, coef.shape[1])
        ax.legend(handles=handles, fontsize="small", ncols=2 if len(handles) > 7 else 1,
                  title=f"largest {max_legend} of {coef.shape[1]} features" if more else None,
                  title_fontsize="small")
    return ax


def cv_curve(result, *, x="alpha", target=None, logy=None, max_lines=10, ax=None):
    """Cross-validation scores along the grid with the chosen alpha marked.

    Parameters
    ----------
    result : CVResult
        From :func:`spectralridge.ridge_cv`, ``solver.loo`` or ``solver.gcv``.
    x : {'alpha', 'dof'}, default='alpha'
    target : int, default=None
        For a multi-target result: one target, or None for all of them.
    logy : bool, default=None
        Logarithmic score axis; None: for mean squared errors (they span decades).
    max_lines : int, default=10
        Above this many targets, their distribution is drawn instead of one line each: the
        median score per alpha, bands between the 25 and 75 and the 5 and 95 percentiles,
        and a tick at each target's chosen alpha.
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        One line per target drawn (x-data ``result.alphas`` or ``result.dof``, y-data
        ``result.scores``), a dashed vertical line at each chosen alpha and, when
        ``result.score_se`` is available (K-fold), a shaded band of one standard error; with
        ``rule='1se'`` a dotted line (gid ``'min-t'``) at the best score as well. Above
        `max_lines` targets: the median line (gid ``'median'``), two bands
        (``ax.collections``, gids ``'25-75'`` and ``'5-95'``) and the ticks (gid
        ``'chosen'``: x-data the chosen alphas or dof).
    """
    _check_result(result)
    x = check_option(x, "x", ("alpha", "dof"))
    max_lines = _check_count(max_lines, "max_lines")
    _check_axes(ax)
    scores = _numpy(result.scores, np.float64)
    se = getattr(result, "score_se", None)
    best = np.atleast_1d(_numpy(result.best_index))
    if scores.ndim == 1:
        scores, targets = scores[:, None], [0]
        se = None if se is None else _numpy(se, np.float64)[:, None]
    else:
        targets = range(scores.shape[1]) if target is None else \
            [check_index(target, "target", scores.shape[1])]
        se = None if se is None else _numpy(se, np.float64)
    xs = np.asarray(result.alphas) if x == "alpha" else np.asarray(result.dof)
    ax = _axes(ax)
    if len(targets) > max_lines:
        _score_bands(ax, xs, scores, best)
    for t in targets if len(targets) <= max_lines else ():
        label = "score" if scores.shape[1] == 1 else f"target {t}"
        (line,) = ax.plot(xs, scores[:, t], label=label)
        if se is not None:
            ax.fill_between(xs, scores[:, t] - se[:, t], scores[:, t] + se[:, t],
                            color=line.get_color(), alpha=0.2, lw=0)
        b = int(best[t] if best.size > 1 else best[0])
        ax.axvline(xs[b], color=line.get_color(), ls="--", lw=1.0)
        ax.plot([xs[b]], [scores[b, t]], "o", color=line.get_color())
        if getattr(result, "rule", "min") != "min":  # e.g. '1se': the best score, dotted
            m = int(np.argmax(scores[:, t]) if result.scoring == "r2" else
                    np.argmin(scores[:, t]))
            ax.axvline(xs[m], color=line.get_color(), ls=":", lw=1.0, gid=f"min-{t}")
    if x == "alpha":
        ax.set_xscale("log" if xs.min() > 0 else "symlog")
        ax.set_xlabel("alpha")
    else:
        ax.set_xlabel("effective degrees of freedom")
    if logy is None:
        logy = result.scoring == "mse" and bool(np.all(scores > 0))
    if logy:
        ax.set_yscale("log")
    what = {"mse": "mean squared error", "r2": "R^2"}.get(result.scoring, result.scoring)
    ax.set_ylabel(f"{result.cv} {what}")
    if len(targets) > max_lines:
        ax.set_title(f"Cross-validation over {len(targets)} targets (ticks: chosen alphas)")
        ax.legend(fontsize="small")
    else:
        ax.set_title("Cross-validation (dashed: chosen alpha)")
        if scores.shape[1] > 1:
            ax.legend(fontsize="small")
    return ax


def _score_bands(ax, xs, scores, best):
    """Median and percentile bands of the scores of many targets, chosen alphas as ticks."""
    q5, q25, q50, q75, q95 = np.percentile(scores, [5, 25, 50, 75, 95], axis=1)
    ax.fill_between(xs, q5, q95, color="tab:blue", alpha=0.15, lw=0, gid="5-95",
                    label="5-95 % of targets")
    ax.fill_between(xs, q25, q75, color="tab:blue", alpha=0.3, lw=0, gid="25-75",
                    label="25-75 %")
    ax.plot(xs, q50, color="tab:blue", gid="median", label="median")
    chosen = xs[np.broadcast_to(best, (scores.shape[1],))]
    ax.plot(chosen, np.full(chosen.size, 0.02), "|", color="tab:red", ms=10, alpha=0.3,
            transform=ax.get_xaxis_transform(), gid="chosen", label="chosen alpha")


def shrinkage(solver_or_eigenvalues, alphas, *, x="index", ax=None):
    """Shrinkage factors ``lam / (lam + alpha)`` of every eigen-direction, one line per alpha.

    Parameters
    ----------
    solver_or_eigenvalues : RidgeSolver or array-like of shape (n_eigenvalues,)
        A solver (eigenvalues ``s^2`` of ``Xc^T Xc``) or the eigenvalues of any Hessian.
    alphas : float or array-like of shape (n_alphas,)
    x : {'index', 'eigenvalue'}, default='index'
        Direction number (steepest first) or its eigenvalue (log scale).
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.lines[a]``: y-data the factors for ``alphas[a]`` (``solver.shrinkage``).
    """
    x = check_option(x, "x", ("index", "eigenvalue"))
    lam = _spectrum(solver_or_eigenvalues)
    alphas = check_alphas(alphas)[0]
    factors = theory.shrinkage_factors(lam, alphas)
    dof = factors.sum(axis=1)
    xs = np.arange(1, lam.size + 1) if x == "index" else lam
    ax = _axes(ax)
    for a, f, d in zip(alphas, factors, dof):
        ax.plot(xs, f, "o-", ms=4, label=f"alpha={a:.3g} (dof {d:.2f})")
    ax.set_ylim(-0.03, 1.03)
    if x == "index":
        ax.set_xlabel("eigen-direction of X^T X (steepest first)")
    else:
        ax.set_xscale("log")
        ax.set_xlabel("eigenvalue s^2")
    ax.set_ylabel("shrinkage factor s^2 / (s^2 + alpha)")
    ax.set_title("Ridge keeps steep directions and zeroes flat ones")
    ax.legend(fontsize="small")
    return ax


def geometry(hessian, w_star, alphas=None, *, ax=None):
    """The seed's 2-D picture: loss ellipses, penalty circles and the regularized path.

    For ``L(w) = 0.5 (w - w*)^T H (w - w*)``, the ridge optimum ``w(alpha)``
    (:func:`spectralridge.theory.quadratic_shrinkage`) is where a level set of the loss
    touches the circle ``||w|| = ||w(alpha)||``. It moves from ``w*`` (alpha = 0) to 0,
    shrinking fast along the flat eigenvector and slowly along the steep one.

    Parameters
    ----------
    hessian : array-like of shape (2, 2)
        Symmetric positive definite.
    w_star : array-like of shape (2,)
    alphas : array-like of shape (n_marked,), default=None
        Alphas at which to draw the touching ellipse and circle; None: the geometric mean of
        the two eigenvalues and a factor 10 either side.
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        Lines with gid ``'path'`` (the optimum for 300 alphas from 0 to ``1e4 lam_max``),
        ``'ellipse-i'`` and ``'circle-i'`` for each marked alpha, and the points
        ``'optimum-i'``.
    """
    if alphas is not None:
        alphas = check_alphas(alphas)[0]
    w0 = theory.quadratic_shrinkage(hessian, w_star, 0.0)      # validates hessian and w_star
    check_two_features(w0.size, "geometry")
    H = np.asarray(hessian, dtype=np.float64)
    lam, Q = np.linalg.eigh(0.5 * (H + H.T))                     # ascending: flat, steep
    check_positive(float(lam.min()), "the smallest eigenvalue of hessian")
    w_star = np.asarray(w_star, dtype=np.float64)
    if alphas is None:
        g = np.sqrt(lam[0] * lam[1])
        alphas = np.array([g / 10, g, g * 10])
    grid = np.concatenate([[0.0], np.logspace(np.log10(lam[0]) - 3, np.log10(lam[1]) + 4, 299)])
    path = theory.quadratic_shrinkage(hessian, w_star, grid)
    marked = theory.quadratic_shrinkage(hessian, w_star, alphas)
    ax = _axes(ax, figsize=(5.6, 5.6))
    t = np.linspace(0, 2 * np.pi, 361)
    ax.plot(path[:, 0], path[:, 1], color="k", lw=2, gid="path", label="ridge optimum w(alpha)")
    ax.plot([w_star[0]], [w_star[1]], "k*", ms=12, label="w* (alpha = 0)")
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink"]
    for i, (a, w) in enumerate(zip(alphas, marked)):
        color = colors[i % len(colors)]
        d = w - w_star
        level = 0.5 * d @ (Q * lam) @ Q.T @ d                 # loss at w(alpha)
        radii = np.sqrt(2 * level / lam)
        ellipse = w_star[:, None] + Q @ (radii[:, None] * np.vstack([np.cos(t), np.sin(t)]))
        ax.plot(ellipse[0], ellipse[1], color=color, lw=1, gid=f"ellipse-{i}")
        r = np.linalg.norm(w)
        ax.plot(r * np.cos(t), r * np.sin(t), color=color, lw=1, ls="--", gid=f"circle-{i}")
        ax.plot([w[0]], [w[1]], "o", color=color, gid=f"optimum-{i}",
                label=f"alpha={a:.3g}")
    for j, name in ((1, "steep"), (0, "flat")):
        v = Q[:, j] * np.linalg.norm(w_star) * 0.6
        ax.annotate("", xy=w_star + v, xytext=w_star,
                    arrowprops={"arrowstyle": "->", "color": "0.4"})
        ax.text(*(w_star + 1.08 * v), f"{name} (lam={lam[j]:.3g})", color="0.3",
                fontsize="small", ha="center")
    ax.plot([0], [0], "k+", ms=10)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.set_title("Loss ellipses touch penalty circles along the path")
    ax.legend(fontsize="small", loc="best")
    return ax


def early_stopping(solver_or_eigenvalues, steps, *, lr=None, ax=None):
    """Gradient-descent early-stopping factors against ridge at the equivalent alpha.

    For each number of steps ``t``: ``1 - (1 - lr lam)^t`` (solid) and the ridge factor
    ``lam / (lam + 1 / (lr t))`` (dashed), over the range of the spectrum (log scale), with
    the actual eigenvalues marked on the early-stopping curve.

    Parameters
    ----------
    solver_or_eigenvalues : RidgeSolver or array-like of shape (n_eigenvalues,)
    steps : int or array-like of int
        Positive numbers of steps.
    lr : float, default=None
        Step size; None: ``1 / lam_max``.
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        For step count i: ``ax.lines[3 i]`` early stopping on a grid of 200 eigenvalues
        (gid ``'early-i'``), ``ax.lines[3 i + 1]`` ridge on the same grid (``'ridge-i'``),
        ``ax.lines[3 i + 2]`` the markers at the spectrum (``'spectrum-i'``).
    """
    lam = _spectrum(solver_or_eigenvalues)
    positive = check_has_positive(lam, "early_stopping")
    lr = 1.0 / positive.max() if lr is None else check_positive(lr, "lr")
    steps = check_positive_steps(steps)
    grid = np.logspace(np.log10(positive.min()) - 1, np.log10(positive.max()), 200)
    es_grid = theory.early_stopping_factors(grid, lr, steps)
    es_spec = theory.early_stopping_factors(positive, lr, steps)
    ridge_grid = theory.shrinkage_factors(grid, theory.equivalent_alpha(lr, steps))
    ax = _axes(ax)
    for i, t in enumerate(steps):
        (line,) = ax.plot(grid, es_grid[i], gid=f"early-{i}", label=f"t={int(t)} steps")
        ax.plot(grid, ridge_grid[i], ls="--", color=line.get_color(), gid=f"ridge-{i}",
                label=f"ridge alpha=1/(lr t)={1 / (lr * t):.3g}")
        ax.plot(positive, es_spec[i], "o", ms=3, color=line.get_color(), gid=f"spectrum-{i}")
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("eigenvalue lam of the Hessian")
    ax.set_ylabel("filter factor")
    ax.set_title(f"Early stopping (solid) vs ridge (dashed), lr={lr:.3g}")
    ax.legend(fontsize="small")
    return ax


def vif_path(solver_or_X, alphas=None, *, scale="correlation", x="alpha",
             feature_names=None, ax=None):
    """Variance inflation factors along the path (:func:`spectralridge.stats.vif`).

    Parameters
    ----------
    solver_or_X : RidgeSolver of NumPy data or array-like of shape (n_samples, n_features)
    alphas : array-like of shape (n_alphas,), default=None
        None: for a solver, its default path (see :func:`coef_path`) on ``scale='data'``, or
        ``k`` in ``[1e-4, 1]`` log-spaced on the correlation scale.
    scale : {'correlation', 'data'}, default='correlation'
    x : {'alpha', 'dof'}, default='alpha'
        ``'dof'`` needs a solver and ``scale='data'``.
    feature_names : sequence of str, default=None
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.lines[j]``: y-data the VIF of feature j (log scale).
    """
    from .stats import vif

    x = check_option(x, "x", ("alpha", "dof"))
    scale = check_option(scale, "scale", ("correlation", "data"))
    check_requirement(x == "alpha" or (isinstance(solver_or_X, RidgeSolver) and
                                       scale == "data"),
                      "x='dof' needs a RidgeSolver and scale='data' (the dof of the solver's "
                      "alphas).")
    if alphas is None:
        alphas = _path_alphas(solver_or_X) if isinstance(solver_or_X, RidgeSolver) and \
            scale == "data" else np.logspace(-4, 0, 100)
    if not isinstance(solver_or_X, RidgeSolver):
        _check_solver_or_array(solver_or_X, "solver_or_X", "numbers (a design X)", 2)
    alphas = check_alphas(alphas)[0]
    values = vif(solver_or_X, alphas, scale=scale)
    names = _feature_names(feature_names, values.shape[1])
    xs = alphas if x == "alpha" else solver_or_X.dof(alphas)
    ax = _axes(ax)
    for j in range(values.shape[1]):
        ax.plot(xs, values[:, j], label=names[j])
    ax.axhline(1.0, color="0.6", lw=0.8, zorder=0)
    ax.set_yscale("log")
    if x == "alpha":
        ax.set_xscale("log" if alphas.min() > 0 else "symlog")
        ax.set_xlabel("k (correlation scale)" if scale == "correlation" else "alpha")
    else:
        ax.set_xlabel("effective degrees of freedom")
    ax.set_ylabel("variance inflation factor")
    ax.set_title("Variance inflation along the ridge path")
    ax.legend(fontsize="small")
    return ax


def _group_names(group_names, n_groups):
    if group_names is None:
        return [f"group {g}" for g in range(n_groups)]
    if isinstance(group_names, str) or not hasattr(group_names, "__len__") or \
            len(group_names) != n_groups:
        raise ValueError(f"group_names must be a sequence of n_groups={n_groups} names, got "
                         f"{group_names!r}.")
    return [str(name) for name in group_names]


def banded_alphas(result_or_model, *, group_names=None, ax=None):
    """Per-group alphas of every target of a banded ridge fit (log scale).

    Parameters
    ----------
    result_or_model : BandedResult or fitted BandedRidgeCV
        Its ``group_alphas`` / ``alphas_`` (n_groups[, n_targets]) are drawn, one marker
        line per group against the target index; a left-out group (alpha inf) is not drawn
        for that target.
    group_names : sequence of str, default=None
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
    """
    values = getattr(result_or_model, "group_alphas", None)
    if values is None:
        values = getattr(result_or_model, "alphas_", None)
    if values is None or np.ndim(values) not in (1, 2):
        raise TypeError("result_or_model must be a BandedResult or a fitted BandedRidgeCV, "
                        f"got {describe(result_or_model)}.")
    values = np.asarray(values, dtype=np.float64).reshape(np.shape(values)[0], -1)
    names = _group_names(group_names, values.shape[0])
    ax = _axes(ax)
    targets = np.arange(values.shape[1])
    for g in range(values.shape[0]):
        ax.plot(targets, np.where(np.isfinite(values[g]), values[g], np.nan), marker="o",
                ls="", label=names[g])
    ax.set_yscale("log")
    ax.set_xlabel("target")
    ax.set_ylabel("alpha of the group")
    ax.set_title("Banded ridge: per-group alphas")
    ax.legend(fontsize="small")
    return ax


def split_r2(shares, *, group_names=None, ax=None):
    """Per-group shares of each target's R^2 as stacked bars.

    Parameters
    ----------
    shares : array-like of shape (n_groups, n_targets)
        ``BandedRidgeCV.score_split(X, y)``; positive shares stack upwards, negative ones
        downwards, so each bar's net height is the target's R^2.
    group_names : sequence of str, default=None
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per group in ``ax.containers``.
    """
    shares = as_array(shares, "shares", ndims=(2,), keep_float32=False)
    names = _group_names(group_names, shares.shape[0])
    ax = _axes(ax)
    targets = np.arange(shares.shape[1])
    up, down = np.zeros(shares.shape[1]), np.zeros(shares.shape[1])
    for g in range(shares.shape[0]):
        bottom = np.where(shares[g] >= 0, up, down)
        ax.bar(targets, shares[g], bottom=bottom, label=names[g])
        up += np.maximum(shares[g], 0.0)
        down += np.minimum(shares[g], 0.0)
    ax.axhline(0.0, color="0.6", lw=0.8, zorder=0)
    ax.set_xlabel("target")
    ax.set_ylabel("share of R^2")
    ax.set_title("Banded ridge: split R^2")
    ax.legend(fontsize="small")
    return ax


# -- alpha selection beyond cross-validation --------------------------------------------------
def _check_ridge_solver(solver):
    if not isinstance(solver, RidgeSolver):
        raise TypeError(f"solver must be a RidgeSolver, got {describe(solver)}.")
    return solver


def lcurve(solver, alphas=None, *, target=0, ax=None):
    """The L-curve ``(||r(alpha)||, ||W(alpha)||)`` on log axes with its corner marked.

    Parameters
    ----------
    solver : RidgeSolver
    alphas : array-like of shape (n_alphas,), default=None
        At least 4; None: 100 log-spaced alphas whose dof run from 99.9 % to 0.1 % of the
        rank.
    target : int, default=0
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.lines[0]``: the curve (x-data residual norms, y-data penalty norms, over the
        grid); ``ax.lines[1]`` (gid ``'corner'``): the point of maximum curvature
        (:meth:`RidgeSolver.lcurve`, refined off the grid).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import spectralridge as sr
    >>> from spectralridge import plot
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 10)) * np.logspace(0, -3, 10)
    >>> y = X @ np.ones(10) + 1e-3 * rng.standard_normal(50)
    >>> ax = plot.lcurve(sr.RidgeSolver(X, y))
    >>> ax.lines[1].get_gid()
    'corner'
    """
    _check_ridge_solver(solver)
    grid = np.sort(_path_alphas(solver) if alphas is None else check_alphas(alphas)[0])
    points = solver.lcurve_points(grid)
    rho, eta = np.asarray(points.residual_norm), np.asarray(points.solution_norm)
    k = 1 if rho.ndim == 1 else rho.shape[1]
    t = check_index(target, "target", k)
    rho, eta = _pick_target(rho, t, k), _pick_target(eta, t, k)
    result = solver.lcurve(grid, refine=True)
    corner = float(np.atleast_1d(_numpy(result.best_alpha))[t])
    rc, ec = (np.asarray(v).reshape(-1)[t] for v in solver.lcurve_points([corner]))
    ax = _axes(ax)
    ax.plot(rho, eta, "-", label="L-curve")
    ax.plot([rc], [ec], "o", color="tab:red", gid="corner", label=f"corner, alpha={corner:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("residual norm ||y - X w||")
    ax.set_ylabel("solution norm ||w||")
    ax.set_title("L-curve (dot: maximum curvature)")
    ax.legend(fontsize="small")
    return ax


def picard(solver, *, target=0, ax=None):
    """Picard plot: ``s_i``, ``|u_i^T y|`` and ``|u_i^T y| / s_i`` against the index i.

    The discrete Picard condition holds where ``|u_i^T y|`` decays faster than ``s_i``;
    where the coefficients level off at the noise, ``|u_i^T y| / s_i`` grows and the
    directions need regularization.

    Parameters
    ----------
    solver : RidgeSolver
    target : int, default=0
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        Three lines (gids ``'s'``, ``'coef'``, ``'ratio'``), x-data the direction index.

    References
    ----------
    .. [1] P. C. Hansen, "The discrete Picard condition for discrete ill-posed problems",
       BIT 30, 658-672, 1990.
    """
    _check_ridge_solver(solver)
    spectrum = solver.ridge(np.zeros(1)).spectrum
    t = check_index(target, "target", spectrum.R.shape[1])
    s = spectrum.s
    beta = np.abs(_numpy(spectrum.R[:, t], np.float64))
    idx = np.arange(1, s.size + 1)
    ax = _axes(ax)
    ax.semilogy(idx, s, ".-", gid="s", label="s_i")
    ax.semilogy(idx, beta, "o", ms=4, gid="coef", label="|u_i^T y|")
    with np.errstate(divide="ignore"):
        ax.semilogy(idx, beta / s, "x", ms=4, gid="ratio", label="|u_i^T y| / s_i")
    ax.set_xlabel("direction i (steepest first)")
    ax.set_title("Picard plot")
    ax.legend(fontsize="small")
    return ax


def criteria(solver, alphas=None, *, criteria=("loo", "gcv", "evidence", "lcurve", "quasi"),
             target=0, ax=None):
    """Several alpha-selection criteria on one axis, each rescaled to [0, 1] (1: best).

    Parameters
    ----------
    solver : RidgeSolver
    alphas : array-like of shape (n_alphas,), default=None
        None: 100 alphas over the whole dof range.
    criteria : sequence of {'loo', 'gcv', 'evidence', 'lcurve', 'quasi'}
    target : int, default=0
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        One line per criterion (label its name, x-data the alphas) and a dashed vertical line
        at its choice.
    """
    _check_ridge_solver(solver)
    grid = _path_alphas(solver) if alphas is None else check_alphas(alphas)[0]
    k = np.atleast_1d(_numpy(solver.intercept(grid[0]))).size
    t = check_index(target, "target", k)
    methods = {"loo": (solver.loo, False), "gcv": (solver.gcv, False),
               "evidence": (solver.evidence, True), "lcurve": (solver.lcurve, True),
               "quasi": (solver.quasi_optimality, False)}
    ax = _axes(ax)
    order = np.argsort(grid)
    for name in criteria:
        check_option(name, "criteria", tuple(methods))
        method, maximize = methods[name]
        from ._scores import grid_edge_warnings
        with grid_edge_warnings(False):
            result = method(grid)
        scores = _numpy(result.scores, np.float64)
        scores = scores if scores.ndim == 1 else scores[:, t]
        score = scores[order] if maximize else -scores[order]
        finite = np.isfinite(score)
        lo, hi = score[finite].min(), score[finite].max()
        (line,) = ax.plot(grid[order], (score - lo) / (hi - lo if hi > lo else 1.0),
                          label=name)
        best = np.atleast_1d(_numpy(result.best_alpha))
        ax.axvline(best[min(t, best.size - 1)],
                   color=line.get_color(), ls="--", lw=1.0)
    ax.set_xscale("log")
    ax.set_xlabel("alpha")
    ax.set_ylabel("criterion, rescaled (1: best)")
    ax.set_title("Alpha selection criteria (dashed: choices)")
    ax.legend(fontsize="small")
    return ax


def coef_bands(solver, alphas=None, *, target=0, level=0.95, feature_names=None,
               max_legend=10, ax=None):
    """The ridge trace with pointwise confidence bands (:func:`~spectralridge.stats.
    coef_inference`, conditional on alpha).

    Parameters
    ----------
    solver : RidgeSolver
    alphas : array-like of shape (n_alphas,), default=None
    target : int, default=0
    level : float, default=0.95
    feature_names : sequence of str, default=None
    max_legend : int, default=10
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        One line per feature (x-data alphas, y-data coefficients) and one band each in
        ``ax.collections``.
    """
    from .stats import coef_inference
    _check_ridge_solver(solver)
    grid = _path_alphas(solver) if alphas is None else check_alphas(alphas)[0]
    grid = np.sort(grid)
    t = check_index(target, "target", np.atleast_1d(_numpy(solver.intercept(grid[0]))).size)
    names = _feature_names(feature_names, solver.n_features_in_)
    inf = coef_inference(solver, grid, level=level)

    def pick(a):
        a = _numpy(a, np.float64)
        return a if a.ndim == 2 else a[:, :, t]

    coef, low, high = pick(inf.coef), pick(inf.conf_low), pick(inf.conf_high)
    ax = _axes(ax)
    for j, name in enumerate(names):
        (line,) = ax.plot(grid, coef[:, j], label=name if j < max_legend else None)
        ax.fill_between(grid, low[:, j], high[:, j], color=line.get_color(), alpha=0.2, lw=0)
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_xscale("log" if grid.min() > 0 else "symlog")
    ax.set_xlabel("alpha")
    ax.set_ylabel("coefficient")
    ax.set_title(f"Ridge trace with {100 * level:g} % bands (conditional on alpha)")
    if len(names) <= max_legend:
        ax.legend(fontsize="small")
    return ax
