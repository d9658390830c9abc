"""spectralridge.plot, headless: the artists' data are the library's results."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import spectralridge as sr  # noqa: E402
from spectralridge import plot, stats, theory  # noqa: E402
from helpers import ridge_oracle  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def longley():
    X, y, names = sr.load_longley()
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    return sr.RidgeSolver(Z, y), Z, y, names


def _by_gid(ax, gid):
    (line,) = [line for line in ax.lines if line.get_gid() == gid]
    return line


def test_import_does_not_load_matplotlib():
    code = ("import sys, spectralridge, spectralridge.plot; "
            "print('matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("x", ["alpha", "dof"])
def test_coef_path_lines_are_solver_coefficients(longley, x):
    solver, _, _, names = longley
    alphas = np.logspace(-3, 3, 20)
    ax = plot.coef_path(solver, alphas, x=x, feature_names=names, mark=1.0)
    coef = solver.coef(alphas)
    xs = alphas if x == "alpha" else solver.dof(alphas)
    for j, name in enumerate(names):
        line = ax.lines[j]
        assert line.get_label() == name
        np.testing.assert_array_equal(line.get_xdata(), xs)
        np.testing.assert_array_equal(line.get_ydata(), coef[:, j])
    marker = [line for line in ax.lines if line.get_label() == "selected"][0]
    expected = 1.0 if x == "alpha" else float(solver.dof(1.0))
    assert marker.get_xdata()[0] == pytest.approx(expected)


def test_coef_path_default_grid_and_target(longley):
    _, Z, y, _ = longley
    solver = sr.RidgeSolver(Z, np.column_stack([y, -2 * y]))
    ax = plot.coef_path(solver, target=1)
    assert len(ax.lines[0].get_xdata()) == 100
    dof = solver.dof(ax.lines[0].get_xdata())
    assert dof[0] == pytest.approx(0.999 * 6) and dof[-1] == pytest.approx(0.001 * 6)
    np.testing.assert_allclose(ax.lines[2].get_ydata(),
                               solver.coef(ax.lines[0].get_xdata())[:, 2, 1])
    with pytest.raises(ValueError, match=r"target must lie in \[-2, 2\), got target=2"):
        plot.coef_path(solver, target=2)
    with pytest.raises(ValueError, match="x must be one of"):
        plot.coef_path(solver, x="log")


def test_cv_curve_marks_the_chosen_alpha(longley):
    solver, _, _, _ = longley
    result = solver.loo(np.logspace(-3, 2, 25))
    ax = plot.cv_curve(result)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), result.alphas)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), result.scores)
    vline = ax.lines[1]
    assert vline.get_xdata()[0] == result.best_alpha
    assert ax.lines[2].get_ydata()[0] == pytest.approx(result.best_score)
    ax = plot.cv_curve(solver.gcv(np.logspace(-3, 2, 25)), x="dof")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), solver.dof(np.logspace(-3, 2, 25)))


def test_cv_curve_multi_target_and_kfold_band():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    Y = X @ rng.standard_normal((5, 2)) + rng.standard_normal((60, 2)) * [0.5, 5.0]
    result = sr.ridge_cv(X, Y, np.logspace(-2, 4, 15), cv=5)
    ax = plot.cv_curve(result)
    curves = ax.lines[0::3]
    for t in range(2):
        np.testing.assert_allclose(curves[t].get_ydata(), result.scores[:, t])
        assert ax.lines[3 * t + 1].get_xdata()[0] == result.best_alpha[t]
    if getattr(result, "score_se", None) is not None:
        assert len(ax.collections) == 2  # one-SE bands
    ax = plot.cv_curve(result, target=1)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), result.scores[:, 1])


def test_shrinkage_lines_are_solver_factors(longley):
    solver, _, _, _ = longley
    alphas = [0.01, 1.0, 100.0]
    ax = plot.shrinkage(solver, alphas)
    shrink = solver.shrinkage(alphas)
    for a in range(3):
        np.testing.assert_allclose(ax.lines[a].get_ydata(), shrink[a], rtol=1e-12)
        np.testing.assert_array_equal(ax.lines[a].get_xdata(), np.arange(1, 7))
    ax = plot.shrinkage([4.0, 1.0, 0.25], 1.0, x="eigenvalue")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.8, 0.5, 0.2])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [4.0, 1.0, 0.25])


def test_geometry_path_ellipses_and_circles():
    H = np.array([[3.0, 1.0], [1.0, 0.6]])
    w_star = np.array([1.0, 2.0])
    alphas = np.array([0.05, 0.5])
    ax = plot.geometry(H, w_star, alphas)
    path = _by_gid(ax, "path")
    xy = np.column_stack([path.get_xdata(), path.get_ydata()])
    np.testing.assert_allclose(xy[0], w_star, rtol=1e-12)        # alpha = 0
    assert np.linalg.norm(xy[-1]) < 1e-3 * np.linalg.norm(w_star)  # towards 0
    lam = np.linalg.eigvalsh(H)
    grid = np.concatenate([[0.0], np.logspace(np.log10(lam[0]) - 3, np.log10(lam[1]) + 4, 299)])
    np.testing.assert_allclose(xy, theory.quadratic_shrinkage(H, w_star, grid), rtol=1e-12)
    marked = theory.quadratic_shrinkage(H, w_star, alphas)
    for i, w in enumerate(marked):
        point = _by_gid(ax, f"optimum-{i}")
        np.testing.assert_allclose([point.get_xdata()[0], point.get_ydata()[0]], w)
        ellipse = _by_gid(ax, f"ellipse-{i}")
        e = np.column_stack([ellipse.get_xdata(), ellipse.get_ydata()]) - w_star
        loss = 0.5 * np.einsum("ij,jk,ik->i", e, H, e)
        level = 0.5 * (w - w_star) @ H @ (w - w_star)
        np.testing.assert_allclose(loss, level, rtol=1e-10)        # a level set of the loss
        circle = _by_gid(ax, f"circle-{i}")
        radius = np.hypot(circle.get_xdata(), circle.get_ydata())
        np.testing.assert_allclose(radius, np.linalg.norm(w), rtol=1e-12)
        # tangency: on the circle, the loss is smallest at w(alpha)
        c = np.column_stack([circle.get_xdata(), circle.get_ydata()]) - w_star
        on_circle = 0.5 * np.einsum("ij,jk,ik->i", c, H, c)
        assert on_circle.min() >= level * (1 - 1e-12)
        assert on_circle.min() == pytest.approx(level, rel=0.05)  # 1-degree sampling


def test_geometry_errors():
    with pytest.raises(ValueError, match="exactly 2 features"):
        plot.geometry(np.eye(3), np.ones(3))
    with pytest.raises(ValueError, match="smallest eigenvalue of hessian must be a positive"):
        plot.geometry(np.diag([1.0, 0.0]), np.ones(2))
    with pytest.raises(ValueError, match="hessian must be symmetric"):
        plot.geometry(np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2))


def test_early_stopping_against_ridge(longley):
    solver, _, _, _ = longley
    lam = solver.singular_values ** 2
    lr = 1.0 / lam[0]
    ax = plot.early_stopping(solver, [1, 10, 100])
    grid = _by_gid(ax, "early-0").get_xdata()
    for i, t in enumerate([1, 10, 100]):
        np.testing.assert_allclose(_by_gid(ax, f"early-{i}").get_ydata(),
                                   theory.early_stopping_factors(grid, lr, t), rtol=1e-12)
        np.testing.assert_allclose(_by_gid(ax, f"ridge-{i}").get_ydata(),
                                   grid / (grid + 1.0 / (lr * t)), rtol=1e-12)
        spec = _by_gid(ax, f"spectrum-{i}")
        np.testing.assert_allclose(spec.get_ydata(),
                                   solver.early_stopping(lr, t).factors, rtol=1e-10)
    with pytest.raises(ValueError, match="steps must be positive"):
        plot.early_stopping(lam, [0, 5])


def test_vif_path(longley):
    solver, Z, _, names = longley
    ks = np.logspace(-4, 0, 10)
    ax = plot.vif_path(Z, ks, feature_names=names)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), stats.vif(Z, ks)[:, 1])
    ax = plot.vif_path(solver, x="dof", scale="data")
    xs = ax.lines[0].get_xdata()
    assert xs.max() == pytest.approx(0.999 * 6)
    with pytest.raises(ValueError, match="x='dof' needs a RidgeSolver"):
        plot.vif_path(Z, x="dof")


def test_draws_on_given_axes(longley):
    solver, _, _, _ = longley
    fig, axes = plt.subplots(1, 2)
    assert plot.shrinkage(solver, 1.0, ax=axes[1]) is axes[1]
    assert plot.coef_path(solver, ax=axes[0]) is axes[0]
    assert len(axes[0].lines) == 7 and len(axes[1].lines) == 1


def test_cv_curve_one_standard_error_rule():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 8))
    y = X @ rng.standard_normal(8) + rng.standard_normal(60) * 3
    result = sr.ridge_cv(X, y, np.logspace(-2, 4, 20), cv=5, rule="1se")
    ax = plot.cv_curve(result)
    assert len(ax.collections) == 1  # the one-SE band
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose([band.min(), band.max()],
                               [np.min(result.scores - result.score_se),
                                np.max(result.scores + result.score_se)])
    assert ax.lines[1].get_xdata()[0] == result.best_alpha
    assert _by_gid(ax, "min-0").get_xdata()[0] == result.alphas[np.argmin(result.scores)]


@pytest.mark.parametrize("draw, name", [
    (lambda s, r: plot.cv_curve(np.ones(3)), "result must be a CVResult"),
    (lambda s, r: plot.cv_curve(s), "result must be a CVResult"),
    (lambda s, r: plot.cv_curve(r, ax="left"), "ax must be a matplotlib Axes, got str"),
    (lambda s, r: plot.coef_path(np.ones((3, 3))), "solver must be a RidgeSolver, got ndarray"),
    (lambda s, r: plot.coef_path(s, feature_names="abcdef"), "feature_names must be a sequence"),
    (lambda s, r: plot.shrinkage(r, 1.0), "solver_or_eigenvalues must be a RidgeSolver or"),
    (lambda s, r: plot.early_stopping(r, 10), "solver_or_eigenvalues must be a RidgeSolver or"),
    (lambda s, r: plot.vif_path(r), "solver_or_X must be a RidgeSolver or"),
    (lambda s, r: plot.vif_path(s, feature_names=3), "feature_names must be a sequence"),
])
def test_wrong_argument_types_raise_type_error(longley, draw, name):
    solver = longley[0]
    result = solver.gcv(np.logspace(-3, 3, 10))
    with pytest.raises(TypeError, match=name):
        draw(solver, result)


def test_coef_path_wrong_names_length_and_scale(longley):
    solver = longley[0]
    with pytest.raises(ValueError, match="feature_names must have n_features=6 names, got 2"):
        plot.coef_path(solver, feature_names=["a", "b"])
    with pytest.raises(ValueError, match=r"feature_scale must be positive, got feature_scale\[1\]"):
        plot.coef_path(solver, feature_scale=[1.0, 0.0, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="max_legend must be a non-negative integer, got -1"):
        plot.coef_path(solver, max_legend=-1)


def test_coef_path_many_features_legend_lists_the_largest():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 40))
    w = np.zeros(40)
    w[[3, 17, 29]] = [50.0, -80.0, 65.0]
    solver = sr.RidgeSolver(X, X @ w + rng.standard_normal(30))
    ax = plot.coef_path(solver, mark=1.0)
    assert [line.get_label() for line in ax.lines[:40]] == [f"x{j}" for j in range(40)]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert len(legend) == 11 and legend[-1] == "selected"
    top = np.argsort(-np.abs(solver.coef(ax.lines[0].get_xdata())).max(axis=0))[:10]
    assert legend[:-1] == [f"x{j}" for j in sorted(top)]
    assert {"x3", "x17", "x29"} <= set(legend)
    assert plot.coef_path(solver, max_legend=0).get_legend() is None
    few = plot.coef_path(solver, max_legend=50)
    assert len(few.get_legend().get_texts()) == 40


def test_coef_path_feature_scale(longley):
    solver = longley[0]
    scale = np.arange(1.0, 7.0)
    alphas = np.logspace(-2, 2, 9)
    ax = plot.coef_path(solver, alphas, feature_scale=scale)
    np.testing.assert_allclose(np.array([line.get_ydata() for line in ax.lines[:6]]).T,
                               solver.coef(alphas) / scale, rtol=1e-14)
    assert "feature_scale" in ax.get_ylabel()


def test_cv_curve_many_targets_drawn_as_quantile_bands():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 6))
    Y = X @ rng.standard_normal((6, 30)) + rng.standard_normal((40, 30)) * rng.uniform(1, 5, 30)
    alphas = np.logspace(-2, 4, 12)
    result = sr.RidgeSolver(X, Y).loo(alphas)
    ax = plot.cv_curve(result)
    assert [line.get_gid() for line in ax.lines] == ["median", "chosen"]
    np.testing.assert_allclose(_by_gid(ax, "median").get_ydata(),
                               np.median(result.scores, axis=1))
    np.testing.assert_array_equal(_by_gid(ax, "chosen").get_xdata(), result.best_alpha)
    assert sorted(c.get_gid() for c in ax.collections) == ["25-75", "5-95"]
    band = ax.collections[[c.get_gid() for c in ax.collections].index("5-95")]
    ys = band.get_paths()[0].vertices[:, 1]
    np.testing.assert_allclose([ys.min(), ys.max()],
                               [np.percentile(result.scores, 5, axis=1).min(),
                                np.percentile(result.scores, 95, axis=1).max()])
    assert len(ax.get_legend().get_texts()) == 4
    lines = plot.cv_curve(result, max_lines=30)  # one line per target up to max_lines
    assert len(lines.lines) == 3 * 30 and lines.get_legend() is not None


def test_plots_of_a_dask_solver():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 4))
    Y = X @ rng.standard_normal((4, 2))
    solver = sr.RidgeSolver(da.from_array(X, chunks=50), da.from_array(Y, chunks=50))
    ax = plot.coef_path(solver)  # the lazy path is computed once, no warning
    np.testing.assert_allclose(np.array([line.get_ydata() for line in ax.lines[:4]]).T,
                               sr.RidgeSolver(X, Y).coef(plot._path_alphas(solver))[:, :, 0],
                               rtol=1e-10)
    with pytest.raises(TypeError,
                       match="solver_or_X must be a RidgeSolver of NumPy or array-API data"):
        plot.vif_path(solver)


# -- criteria plots ------------------------------------------------------------------------------

def _ill_posed_solver(k=2):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 10)) * np.logspace(0, -3, 10)
    Y = X @ rng.standard_normal((10, k)) + 1e-3 * rng.standard_normal((50, k))
    return sr.RidgeSolver(X, Y), X, Y


def test_lcurve_plot_draws_the_curve_and_corner():
    solver, X, Y = _ill_posed_solver()
    alphas = np.logspace(-9, 1, 60)
    ax = plot.lcurve(solver, alphas, target=1)
    rho, eta = ax.lines[0].get_data()
    for i in (0, 30, 59):
        W, b = ridge_oracle(X, Y[:, 1], alphas[i])
        np.testing.assert_allclose(rho[i], np.linalg.norm(Y[:, 1] - X @ W - b), rtol=1e-8)
        np.testing.assert_allclose(eta[i], np.linalg.norm(W), rtol=1e-8)
    corner = solver.lcurve(alphas, refine=True).best_alpha[1]
    W, b = ridge_oracle(X, Y[:, 1], corner)
    np.testing.assert_allclose(ax.lines[1].get_xdata(), [np.linalg.norm(Y[:, 1] - X @ W - b)],
                               rtol=1e-8)
    with pytest.raises(ValueError, match="target must lie in"):
        plot.lcurve(solver, alphas, target=2)
    with pytest.raises(TypeError, match="solver must be a RidgeSolver"):
        plot.lcurve(X)


def test_picard_criteria_and_bands_plots():
    solver, X, Y = _ill_posed_solver()
    ax = plot.picard(solver, target=1)
    s, coef, ratio = (line.get_ydata() for line in ax.lines)
    np.testing.assert_allclose(s, solver.singular_values)
    Xc, yc = X - X.mean(0), Y[:, 1] - Y[:, 1].mean()
    U, sv, _ = np.linalg.svd(Xc, full_matrices=False)
    np.testing.assert_allclose(coef, np.abs(U.T @ yc), rtol=1e-6)
    np.testing.assert_allclose(ratio, np.abs(U.T @ yc) / sv, rtol=1e-6)
    ax = plot.criteria(solver, np.logspace(-9, 1, 40))
    assert [line.get_label() for line in ax.lines if not line.get_label().startswith("_")] \
        == ["loo", "gcv", "evidence", "lcurve", "quasi"]
    for line in ax.lines[::2]:
        assert np.nanmax(line.get_ydata()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="criteria must be one of"):
        plot.criteria(solver, criteria=("aic",))
    alphas = np.logspace(-6, 1, 20)
    ax = plot.coef_bands(solver, alphas, target=0)
    from spectralridge.stats import coef_inference
    inf = coef_inference(solver, alphas)
    np.testing.assert_allclose(ax.lines[3].get_ydata(), inf.coef[:, 3, 0])
    assert len(ax.collections) == 10
