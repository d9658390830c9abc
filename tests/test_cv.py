import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import spectralridge as sr
from spectralridge import _core, _filters, _scores
from spectralridge._filters import ridge_filter

from helpers import RTOL, brute_force_scores, make_data, ridge_oracle, traced_peak

pytestmark = pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")

SHAPES = {"tall": (40, 6), "wide": (12, 30)}
ALPHAS = np.array([1e-3, 0.1, 1.0, 10.0, 1e3])


def weights(n, weighted):
    if not weighted:
        return None
    w = np.random.default_rng(7).uniform(0.2, 2.0, n)
    w[1] = 0.0
    return w


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", ["auto", "svd", "kernel"])
def test_loo_against_brute_force(method, shape, k, fit_intercept, weighted, dtype):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, k, dtype=dtype)
    w = weights(n, weighted)
    result = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w,
                            method=method).loo(ALPHAS)
    splits = [(np.delete(np.arange(n), i), np.array([i])) for i in range(n)]
    expected = brute_force_scores(X, Y, ALPHAS, splits, fit_intercept, w)
    assert result.scores.dtype == dtype
    assert_allclose(result.scores, expected, rtol=10 * RTOL[dtype])
    best = np.argmin(expected, axis=0)
    assert_allclose(result.best_index, best)
    assert_allclose(result.best_alpha, ALPHAS[best])
    coef = np.stack([ridge_oracle(X, Y, a, fit_intercept, w)[0] for a in ALPHAS])
    want = coef[best] if k is None else coef[best, :, np.arange(3)].T
    assert_allclose(result.coef, want, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(want).max())


@pytest.mark.parametrize("scoring", ["mse", "r2"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_loo_r2_and_mse(scoring, weighted, fit_intercept):
    X, Y = make_data(30, 5, 2)
    w = weights(30, weighted)
    result = sr.ridge_cv(X, Y, ALPHAS, cv="loo", scoring=scoring,
                         fit_intercept=fit_intercept, sample_weight=w)
    splits = [(np.delete(np.arange(30), i), np.array([i])) for i in range(30)]
    assert_allclose(result.scores,
                    brute_force_scores(X, Y, ALPHAS, splits, fit_intercept, w, scoring),
                    rtol=1e-9)
    pick = np.argmax if scoring == "r2" else np.argmin
    assert_allclose(result.best_index, pick(result.scores, axis=0))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_gcv_against_hat_matrix(shape, fit_intercept, weighted):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, 2)
    w = weights(n, weighted)
    wv = np.ones(n) if w is None else w
    result = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w).gcv(ALPHAS)
    keep = wv > 0
    A = np.sqrt(wv)[:, None] * (np.column_stack([np.ones(n), X]) if fit_intercept else X)
    penalty = np.eye(A.shape[1])
    if fit_intercept:
        penalty[0, 0] = 0
    for i, a in enumerate(ALPHAS):
        H = A @ np.linalg.solve(A.T @ A + a * penalty, A.T)
        resid = np.sqrt(wv)[:, None] * Y - H @ (np.sqrt(wv)[:, None] * Y)
        n_eff = keep.sum()
        gcv = (resid ** 2).sum(axis=0) / wv.sum() / (1 - np.trace(H) / n_eff) ** 2
        assert_allclose(result.scores[i], gcv, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", ["auto", "svd"])
def test_kfold_against_brute_force(method, shape, fit_intercept, weighted, dtype):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, 3, dtype=dtype)
    w = weights(n, weighted)
    result = sr.ridge_cv(X, Y, ALPHAS, cv=4, fit_intercept=fit_intercept, sample_weight=w,
                         method=method)
    folds = np.array_split(np.arange(n), 4)
    splits = [(np.setdiff1d(np.arange(n), f), f) for f in folds]
    expected = brute_force_scores(X, Y, ALPHAS, splits, fit_intercept, w)
    assert_allclose(result.scores, expected, rtol=10 * RTOL[dtype])
    assert_allclose(result.best_alpha, ALPHAS[np.argmin(expected, axis=0)])


@pytest.mark.parametrize("k, m", [(None, 300), (3, 100), (300, 3)])
def test_fused_kernel_blocks_of_targets_and_alphas(k, m):
    """Targets in blocks of 256 and few targets batched across alphas, with remainders."""
    n = 16
    X, Y = make_data(n, 4, k)
    alphas = np.logspace(-2, 3, m)
    folds = np.array_split(np.arange(n), 3)
    kfold = [(np.setdiff1d(np.arange(n), f), f) for f in folds]
    loo = [(np.delete(np.arange(n), i), np.array([i])) for i in range(n)]
    for cv, splits in (("loo", loo), (kfold, kfold)):
        assert_allclose(sr.ridge_cv(X, Y, alphas, cv=cv).scores,
                        brute_force_scores(X, Y, alphas, splits, True, None), rtol=1e-9)


def test_kfold_matches_sklearn_splitters_and_pairs():
    sk = pytest.importorskip("sklearn.model_selection")
    X, y = make_data(50, 5)
    groups = np.repeat(np.arange(10), 5)
    for cv, kwargs in [(sk.KFold(5, shuffle=True, random_state=0), {}),
                       (sk.GroupKFold(5), {"groups": groups}),
                       (sk.ShuffleSplit(4, test_size=0.3, random_state=0), {})]:
        splits = list(cv.split(X, y, kwargs.get("groups")))
        result = sr.ridge_cv(X, y, ALPHAS, cv=cv, **kwargs)
        assert_allclose(result.scores, brute_force_scores(X, y, ALPHAS, splits, True, None),
                        rtol=1e-9)
        again = sr.ridge_cv(X, y, ALPHAS, cv=splits)
        assert_allclose(again.scores, result.scores, rtol=1e-12)
    # contiguous folds like KFold(5) without shuffling; boolean masks work too
    masks = [(~m, m) for m in (np.arange(50) // 10 == f for f in range(5))]
    assert_allclose(sr.ridge_cv(X, y, ALPHAS, cv=5).scores,
                    sr.ridge_cv(X, y, ALPHAS, cv=masks).scores, rtol=1e-12)
    assert_allclose(sr.ridge_cv(X, y, ALPHAS, cv=5).scores,
                    sr.ridge_cv(X, y, ALPHAS, cv=sk.KFold(5)).scores, rtol=1e-12)


def test_kfold_gram_downdate_falls_back_on_ill_conditioned_folds():
    # condition number 1e7 (1e14 for the Gram): the fold Grams fail the guard at tiny alphas
    X, y = make_data(80, 8, decay=7 * np.log(10), offset=100.0)
    alphas = np.array([0.0, 1e-8, 1e-2, 10.0])
    folds = np.array_split(np.arange(80), 4)
    splits = [(np.setdiff1d(np.arange(80), f), f) for f in folds]
    expected = brute_force_scores(X, y, alphas, splits, True, None)
    got = sr.ridge_cv(X, y, alphas, cv=4).scores
    assert_allclose(got, expected, rtol=1e-7)


def test_alpha_per_target_false_uses_mean_score():
    X, Y = make_data(40, 5, 4)
    Y[:, 3] += 20 * np.random.default_rng(0).standard_normal(40)
    for cv in ("loo", "gcv", 5):
        per = sr.ridge_cv(X, Y, ALPHAS, cv=cv)
        one = sr.ridge_cv(X, Y, ALPHAS, cv=cv, alpha_per_target=False)
        assert_allclose(one.scores, per.scores)
        assert len(set(one.best_alpha)) == 1
        assert one.best_index[0] == np.argmin(per.scores.mean(axis=1))


def test_result_shapes_for_1d_target():
    X, y = make_data(30, 5)
    for cv in ("loo", "gcv", 3):
        r = sr.ridge_cv(X, y, ALPHAS, cv=cv)
        assert r.scores.shape == (5,) and r.coef.shape == (5,) and r.dof.shape == (5,)
        assert isinstance(r.best_alpha, float) and isinstance(r.best_index, int)
        assert np.ndim(r.intercept) == 0 and isinstance(r.best_score, float)
        assert r.scoring == "mse"
        assert_allclose(r.coef, sr.RidgeSolver(X, y).coef(r.best_alpha), rtol=1e-10)


def test_default_grid_spans_dof_and_does_not_warn():
    X, Y = make_data(60, 8, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = sr.ridge_cv(X, Y)
    assert r.alphas.size == 30
    assert r.dof[0] > 0.999 * 8 and r.dof[-1] < 0.001 * 8


@pytest.mark.parametrize("cv", ["loo", "gcv", 5])
def test_grid_edge_warning(cv):
    X, _ = make_data(60, 8)
    noise = np.random.default_rng(1).standard_normal(60)  # best alpha: infinity
    with pytest.warns(sr.GridEdgeWarning, match="1 target.*most-regularized edge of the grid"):
        sr.ridge_cv(X, noise, [1e-3, 1e-2], cv=cv)
    signal = X @ np.ones(8)  # noiseless: best alpha is the smallest
    with pytest.warns(sr.GridEdgeWarning, match="least-regularized edge of the grid"):
        sr.ridge_cv(X, signal, [10.0, 100.0], cv=cv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sr.ridge_cv(X, signal, [0.0, 100.0], cv=cv)  # alpha = 0 is a saturated edge


def test_loo_is_stable_at_tiny_and_zero_alpha():
    X, Y = make_data(40, 6, 2)
    solver = sr.RidgeSolver(X, Y)
    tiny = solver.loo([0.0, 1e-300, 1e-15, 1e-14]).scores
    assert np.isfinite(tiny).all()
    assert_allclose(tiny, tiny[[0]].repeat(4, axis=0), rtol=1e-10)
    splits = [(np.delete(np.arange(40), i), np.array([i])) for i in range(40)]
    assert_allclose(tiny[0], brute_force_scores(X, Y, [0.0], splits, True, None)[0],
                    rtol=1e-9)


def svd_ridge(X, Y, alpha, fit_intercept=True, w=None):
    """Ridge through NumPy's SVD of the centred rows (rank at most n_eff - intercept):
    accurate at tiny alphas on wide data, where the normal equations are singular."""
    w = np.ones(len(X)) if w is None else w
    xm, ym = w @ X / w.sum(), w @ Y / w.sum()
    if not fit_intercept:
        xm, ym = np.zeros_like(xm), np.zeros_like(ym)
    sw = np.sqrt(w)[:, None]
    U, s, Vt = np.linalg.svd(sw * (X - xm), full_matrices=False)
    r = min(int(np.count_nonzero(w)) - int(fit_intercept),
            int(np.count_nonzero(s > max(X.shape) * np.finfo(float).eps * s[0])))
    W = Vt[:r].T @ ((s[:r] / (s[:r] ** 2 + alpha))[:, None] * (U[:, :r].T @ (sw * (Y - ym))))
    return W, ym - xm @ W


def brute_force_loo_errors(X, Y, alphas, fit_intercept=True, w=None):
    n = len(X)
    out = np.empty((len(alphas), n, Y.shape[1]))
    for i in range(n):
        keep = np.delete(np.arange(n), i)
        for j, a in enumerate(alphas):
            W, b = svd_ridge(X[keep], Y[keep], a, fit_intercept,
                             None if w is None else w[keep])
            out[j, i] = Y[i] - X[i] @ W - b
    return out


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("method", ["auto", "svd", "kernel"])
def test_loo_limit_where_the_leverage_tends_to_one(method, weighted, fit_intercept):
    # n_samples < n_features: the fit interpolates as alpha -> 0, the residual and 1 - h
    # both vanish like alpha, and the leave-one-out error keeps a finite limit
    X, Y = make_data(10, 30, 2)
    w = weights(10, weighted)
    alphas = np.array([0.0, 1e-300, 1e-12, 1e-6, 1.0])
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w,
                            method=method)
    expected = brute_force_loo_errors(X, Y, alphas, fit_intercept, w)
    positive = np.ones(10, bool) if w is None else w > 0
    errors = solver.loo_errors(alphas)
    assert_allclose(errors[:, positive], expected[:, positive], rtol=1e-6)
    ww = np.ones(10) if w is None else w
    mse = np.einsum("i,aik->ak", ww, expected ** 2) / ww.sum()
    assert_allclose(solver.loo(alphas).scores, mse, rtol=1e-6)
    if fit_intercept:
        with pytest.raises(ValueError, match=r"GCV is undefined at alpha=0.0"):
            solver.gcv([0.0, 1.0])


def test_loo_limit_in_ridgecv_matches_scikit_learn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = make_data(50, 100, seed=3)
    alphas = [1e-12, 1e-3, 1.0, 10.0]
    ours = sr.RidgeCV(alphas=alphas, store_cv_results=True).fit(X, y)
    theirs = linear_model.RidgeCV(alphas=alphas, store_cv_results=True).fit(X, y)
    expected = brute_force_loo_errors(X, y[:, None], np.array(alphas))[..., 0]
    assert_allclose(ours.cv_results_.T, np.square(expected), rtol=1e-6)
    # scikit-learn's own limit at 1e-12 is off by about 1% here (rounding of 1 - h)
    assert_allclose(ours.cv_results_[:, 1:], theirs.cv_results_[:, 1:], rtol=1e-6)
    assert ours.alpha_ == alphas[np.argmin(np.square(expected).mean(axis=1))]


def test_loo_undefined_only_where_nothing_predicts_a_sample():
    X, y = make_data(6, 3)
    w = np.zeros(6)
    w[4] = 1.0  # one sample of positive weight: removing it leaves no fit at all
    solver = sr.RidgeSolver(X, y, sample_weight=w)
    with pytest.raises(ValueError, match=r"Leave-one-out is undefined at alpha=1.0: sample 4 "
                                         "has leverage 1"):
        solver.loo([1.0])
    without = sr.RidgeSolver(X, y, sample_weight=w, fit_intercept=False)
    # without intercept the prediction from no sample is 0: the error is y itself
    assert_allclose(without.loo([0.0, 1.0]).scores, y[4] ** 2, rtol=1e-12)


@pytest.mark.parametrize("cv, exc, match", [
    (1, ValueError, r"cv=1 folds must be between 2 and n_samples=20"),
    (21, ValueError, r"cv=21 folds must be between 2 and n_samples=20"),
    ("kfold", ValueError, "cv must be 'loo', 'gcv', an int >= 2"),
    (2.5, TypeError, "cv must be 'loo', 'gcv'.*got float"),
    (True, TypeError, "got bool"),
    ([], ValueError, "cv produced no"),
    ([(np.arange(10), np.arange(5, 15))], ValueError, "split 0: train and test sets overlap"),
    ([(np.arange(10), np.arange(10, 25))], ValueError, r"split 0: test indices must lie in \[0, 20\)"),
    ([(np.arange(10), np.array([], dtype=int))], ValueError, "split 0: test set is empty"),
    ([(np.arange(10.0), np.arange(10, 20))], ValueError, "split 0: train must be a 1-D array of integer"),
    ([(np.arange(10),)], ValueError, r"split 0 must be a \(train, test\) pair"),
    ([(np.ones(5, bool), np.arange(10, 20))], ValueError, r"boolean train mask must have shape \(20,\)"),
])
def test_bad_cv_arguments(cv, exc, match):
    X, y = make_data(20, 3)
    with pytest.raises(exc, match=match):
        sr.ridge_cv(X, y, ALPHAS, cv=cv)


def test_split_with_zero_training_weight():
    X, y = make_data(20, 3)
    w = np.r_[np.zeros(10), np.ones(10)]
    with pytest.raises(ValueError, match="cv split 0: every training sample has zero"):
        sr.ridge_cv(X, y, ALPHAS, cv=[(np.arange(10), np.arange(10, 20))], sample_weight=w)


def test_bad_scoring_and_flags():
    X, y = make_data(20, 3)
    with pytest.raises(ValueError, match="scoring must be 'mse' or 'r2', got 'mae'"):
        sr.ridge_cv(X, y, scoring="mae")
    with pytest.raises(TypeError, match="alpha_per_target must be True or False"):
        sr.ridge_cv(X, y, alpha_per_target=None)
    with pytest.raises(ValueError, match="alphas must be non-negative"):
        sr.ridge_cv(X, y, [-1.0], cv=3)


def test_one_standard_error_rule():
    X, Y = make_data(60, 8, 3)
    Y[:, 2] += 3 * np.random.default_rng(2).standard_normal(60)
    alphas = np.logspace(-2, 3, 12)
    folds = np.array_split(np.arange(60), 5)
    splits = [(np.setdiff1d(np.arange(60), f), f) for f in folds]
    best = sr.ridge_cv(X, Y, alphas, cv=5)
    one_se = sr.ridge_cv(X, Y, alphas, cv=5, rule="1se")
    assert one_se.rule == "1se" and best.rule == "min"
    # per-split scores by brute force, their standard error, and the rule by hand
    per_split = np.array([brute_force_scores(X, Y, alphas, [s], True, None) for s in splits])
    se = per_split.std(axis=0, ddof=1) / np.sqrt(5)
    assert_allclose(one_se.score_se, se, rtol=1e-8)
    assert_allclose(one_se.scores, best.scores)
    dof = sr.RidgeSolver(X, Y).dof(alphas)
    for t in range(3):
        b = best.best_index[t]
        ok = np.flatnonzero(best.scores[:, t] <= best.scores[b, t] + se[b, t])
        assert one_se.best_index[t] == ok[np.argmin(dof[ok])]
    assert (one_se.best_alpha >= best.best_alpha).all()
    assert sr.ridge_cv(X, Y, alphas, cv="loo").score_se is None
    with pytest.raises(ValueError, match="rule='1se' needs per-split scores"):
        sr.ridge_cv(X, Y, alphas, cv="gcv", rule="1se")
    with pytest.raises(ValueError, match="rule must be 'min' or '1se', got 'max'"):
        sr.ridge_cv(X, Y, alphas, cv=5, rule="max")
    with pytest.raises(ValueError, match="needs at least 2 splits"):
        sr.ridge_cv(X, Y, alphas, cv=splits[:1], rule="1se")


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_loo_errors_against_brute_force(shape, fit_intercept, weighted):
    n, p = SHAPES[shape]
    X, Y = make_data(n, p, 2)
    w = weights(n, weighted)
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w)
    errors = solver.loo_errors(ALPHAS)
    assert errors.shape == (ALPHAS.size, n, 2)
    for i in range(n):
        keep = np.delete(np.arange(n), i)
        for j, a in enumerate(ALPHAS):
            W, b = ridge_oracle(X[keep], Y[keep], a, fit_intercept,
                                None if w is None else w[keep])
            assert_allclose(errors[j, i], Y[i] - X[i] @ W - b, rtol=1e-8, atol=1e-10)
    # scores are the weighted mean of their squares
    wv = np.ones(n) if w is None else w
    assert_allclose(solver.loo(ALPHAS).scores,
                    np.einsum("i,aik->ak", wv, errors ** 2) / wv.sum(), rtol=1e-10)
    assert solver.loo_errors(1.0).shape == (n, 2)
    assert sr.RidgeSolver(X, Y[:, 0]).loo_errors(ALPHAS).shape == (ALPHAS.size, n)


def test_per_target_and_default_alphas():
    X, Y = make_data(40, 5, 3)
    solver = sr.RidgeSolver(X, Y)
    alphas = np.array([0.1, 10.0, 1000.0])
    coef, intercept = solver.per_target(alphas)
    for t, a in enumerate(alphas):
        assert_allclose(coef[:, t], solver.coef(a)[:, t], rtol=1e-12)
        assert_allclose(intercept[t], solver.intercept(a)[t], rtol=1e-12)
    with pytest.raises(ValueError, match=r"one entry per target: expected \(3,\)"):
        solver.per_target([1.0, 2.0])
    grid = solver.default_alphas(12)
    assert grid.size == 12 and (np.diff(grid) > 0).all()
    assert_allclose(solver.dof(grid[[0, -1]]), [0.9995 * 5, 0.0005 * 5], rtol=1e-9)
    assert_allclose(solver.loo().alphas, solver.default_alphas())
    with pytest.raises(ValueError, match="n_alphas must be an integer >= 2"):
        solver.default_alphas(1)


def test_grid_edge_warning_points_at_the_caller():
    X, _ = make_data(60, 8)
    noise = np.random.default_rng(1).standard_normal(60)
    with pytest.warns(sr.GridEdgeWarning) as record:
        sr.RidgeSolver(X, noise).gcv([1e-3, 1e-2])
    assert record[0].filename == __file__


def _scale_data(dtype):
    # three targets whose best alphas differ (noise 0.1, 1, 10)
    X, _ = make_data(60, 8, 3, seed=4, dtype=dtype)
    rng = np.random.default_rng(5)
    Y = X.astype(float) @ rng.standard_normal((8, 3)) + rng.standard_normal((60, 3)) * \
        [0.1, 1.0, 10.0] + 5.0
    return X, Y.astype(dtype)


SCALES = {np.float64: [2.0 ** -1000, 1e-300, 2.0 ** 530, 1e160],
          np.float32: [2.0 ** -100, 1e-30, 2.0 ** 100, 1e30]}


# (float32 R^2 was already right: its squares, summed in float64, stay in range)
@pytest.mark.parametrize("alpha_per_target", [True, False])
@pytest.mark.parametrize("dtype,scoring", [(np.float64, "mse"), (np.float64, "r2"),
                                           (np.float32, "mse")])
@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
def test_selection_does_not_depend_on_the_scale_of_Y(cv, dtype, alpha_per_target, scoring):
    X, Y = _scale_data(dtype)
    alphas = np.logspace(-3, 4, 15)
    kw = dict(cv=cv, alpha_per_target=alpha_per_target, scoring=scoring)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sr.GridEdgeWarning)
        ref = sr.ridge_cv(X, Y, alphas, **kw)
        for factor in SCALES[dtype]:
            got = sr.ridge_cv(X, (Y.astype(float) * factor).astype(dtype), alphas, **kw)
            assert_array_equal(got.best_index, ref.best_index)
            with np.errstate(over="ignore", under="ignore"):
                want = ref.scores.astype(float) * factor * factor if scoring == "mse" else \
                    ref.scores.astype(float)
            info = np.finfo(dtype)
            normal = (np.abs(want) >= info.tiny) & (np.abs(want) <= info.max)
            exact = np.frexp(factor)[0] == 0.5  # a power of two: the same roundings
            if exact:
                assert_array_equal(got.scores[normal], want[normal].astype(dtype))
            else:
                assert_allclose(got.scores[normal], want[normal], rtol=RTOL[dtype])
            assert np.all(got.scores[want > info.max] == np.inf)  # only the reported value


@pytest.mark.parametrize("cv", ["loo", "gcv", 3])
def test_r2_of_a_constant_target_follows_scikit_learn(cv):
    # r2_score's convention for a constant target: 1.0 for exact predictions, else 0.0; the
    # shared alpha is the one of the other targets
    X, Y = _scale_data(np.float64)
    Y[:, 1] = 2.5
    alphas = np.logspace(-3, 4, 15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sr.GridEdgeWarning)
        got = sr.ridge_cv(X, Y, alphas, cv=cv, scoring="r2", alpha_per_target=False)
        ref = sr.ridge_cv(X, Y[:, [0, 2]], alphas, cv=cv, scoring="r2",
                          alpha_per_target=False)
    assert_array_equal(got.scores[:, 1], 1.0)
    assert got.best_index[0] == ref.best_index[0]


def test_to_score_r2_for_zero_total_sum_of_squares():
    mse = np.array([[0.0, 0.0, 1.0, 0.5]])
    got = _scores.to_score(mse, np.array([0.0, 1.0, 0.0, 1.0]), "r2")
    assert_array_equal(got, [[1.0, 1.0, 0.0, 0.5]])


# -- groups ------------------------------------------------------------------------------------
def group_labels(n, seed=3):
    return np.random.default_rng(seed).integers(0, 7, n) * 10  # uneven group sizes


def test_int_cv_with_groups_is_group_kfold():
    X, Y = make_data(40, 6, 2, seed=4)
    groups = group_labels(40)
    result = sr.ridge_cv(X, Y, ALPHAS, cv=3, groups=groups)
    splits = sr._validation.check_cv(3, X, Y, sr._validation.check_groups(groups, 40, 3))
    tests = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(tests), np.arange(40))  # the test sets partition the samples
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])  # no group on both sides
    assert_allclose(result.scores, brute_force_scores(X, Y, ALPHAS, splits, True, None),
                    rtol=1e-9)
    model_selection = pytest.importorskip("sklearn.model_selection")
    theirs = model_selection.GroupKFold(3).split(X, Y, groups)
    for (_, mine), (_, test) in zip(splits, theirs):
        assert np.array_equal(mine, test)  # scikit-learn's GroupKFold folds, in its order
    assert_allclose(result.scores, sr.ridge_cv(X, Y, ALPHAS, cv=model_selection.GroupKFold(3),
                                               groups=groups).scores, rtol=1e-12)


@pytest.mark.parametrize("cv", [3, "splitter"])
def test_groups_of_wrong_length_raise(cv):
    X, y = make_data(30, 4, seed=5)
    if cv == "splitter":
        cv = pytest.importorskip("sklearn.model_selection").GroupKFold(3)
    with pytest.raises(ValueError, match=r"groups must have one entry per sample: expected "
                                         r"\(30,\), got shape \(29,\)"):
        sr.ridge_cv(X, y, ALPHAS, cv=cv, groups=np.arange(29) % 4)
    with pytest.raises(ValueError, match="Input groups contains NaN"):
        sr.ridge_cv(X, y, ALPHAS, cv=cv, groups=np.where(np.arange(30) == 3, np.nan, 1.0))


@pytest.mark.parametrize("cv", ["loo", "gcv"])
def test_groups_refused_where_cv_cannot_use_them(cv):
    X, y = make_data(30, 4, seed=5)
    with pytest.raises(ValueError, match=f"groups cannot be used with cv='{cv}'"):
        sr.ridge_cv(X, y, ALPHAS, cv=cv, groups=np.arange(30) % 5)
    pairs = [(np.arange(15), np.arange(15, 30)), (np.arange(15, 30), np.arange(15))]
    with pytest.raises(ValueError, match=r"groups cannot be used with cv given as \(train, "):
        sr.ridge_cv(X, y, ALPHAS, cv=pairs, groups=np.arange(30) % 5)
    with pytest.raises(ValueError, match="at least 4 distinct groups, got 3"):
        sr.ridge_cv(X, y, ALPHAS, cv=4, groups=np.arange(30) % 3)


# -- results own their arrays ------------------------------------------------------------------
@pytest.mark.parametrize("cv", ["loo", "gcv", 4])
def test_result_does_not_alias_alphas(cv):
    X, Y = make_data(40, 5, 2, seed=6)
    alphas = ALPHAS.copy()
    result = sr.ridge_cv(X, Y, alphas, cv=cv)
    result.alphas[0] = -5.0  # the result's array is its own ...
    assert_allclose(alphas, ALPHAS)
    alphas[:] = 7.0  # ... and the caller's stays the caller's
    assert_allclose(result.alphas[1:], ALPHAS[1:])
    assert_allclose(result.best_alpha, ALPHAS[result.best_index])


def test_loo_errors_are_formed_in_place():
    X, Y = make_data(2000, 20, 30)
    solver = sr.RidgeSolver(X, Y, method="svd")
    errors, peak = traced_peak(lambda: solver.loo_errors(np.logspace(-2, 3, 30)))
    assert peak < 1.4 * errors.nbytes  # not a second n x k x m array


@pytest.mark.parametrize("method", ["svd", "gram"])
def test_loo_scratch_is_bounded_whatever_n(method):
    # leave-one-out and the Gram route's U work a block of rows at a time: beyond U itself
    # (formed blockwise from X) the peak is set by working_memory, not n x rank or n x m
    n, p, k, m = 100_000, 20, 4, 40
    X, Y = make_data(n, p, k)
    solver = sr.RidgeSolver(X, Y, method=method)
    U_bytes = 8 * n * p
    with sr.config_context(working_memory=8):
        result, peak = traced_peak(lambda: solver.loo(np.logspace(-2, 3, m)))
    assert peak < (U_bytes if method == "gram" else 0) + 12e6 < U_bytes + n * m * 8


def test_loo_forms_the_hat_diagonals_per_tile():
    # 1 - h exists a kernel tile of rows at a time, not as an n_block x n_alphas array
    n, p, k, m = 50_000, 5, 2, 100
    X, Y = make_data(n, p, k)
    solver = sr.RidgeSolver(X, Y, method="svd")
    with sr.loo_compression(False):
        result, peak = traced_peak(lambda: solver.loo(np.logspace(-2, 3, m)))
    assert peak < 12e6 < n * m * 8 / 3


def _count_lowrank_calls(monkeypatch):
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)  # small problems, to be fast
    calls = []
    kernel = _core.sse_lowrank

    def counting(*args):  # the largest rank of a block of the factors
        blocks = args[14] if len(args) > 14 else None
        calls.append(args[2].shape[1] if blocks is None else int(np.diff(blocks[1]).max()))
        return kernel(*args)

    monkeypatch.setattr(_core, "sse_lowrank", counting)
    return calls


@pytest.mark.parametrize("shape, fit_intercept, weighted, dtype", [
    ((200, 150), True, False, np.float64), ((200, 150), False, True, np.float64),
    ((160, 300), True, True, np.float64), ((160, 300), False, False, np.float64),
    ((200, 150), True, True, np.float32), ((160, 300), True, False, np.float32)])
def test_compressed_loo_matches_the_exact_kernel(shape, fit_intercept, weighted, dtype,
                                                 monkeypatch):
    # eigenvalues over e^8 and 200 alphas over 8 decades: rank about 40 of 150
    n, p = shape
    X, Y = make_data(n, p, 7, decay=4.0, dtype=dtype)
    w = weights(n, weighted)
    alphas = np.logspace(-3, 5, 200)
    calls = _count_lowrank_calls(monkeypatch)
    solver = sr.RidgeSolver(X, Y, fit_intercept=fit_intercept, sample_weight=w)
    compressed = solver.loo(alphas)
    assert calls and max(calls) < 50
    with sr.loo_compression(False):
        exact = solver.loo(alphas)
    if dtype == np.float64:
        assert_allclose(compressed.scores, exact.scores, rtol=1e-11, atol=0)
        assert_array_equal(compressed.best_index, exact.best_index)
    else:
        assert_allclose(compressed.scores, exact.scores, rtol=2e-3)


@pytest.mark.parametrize("cv", ["loo", 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compressed_blocks_of_eigenvalues_match_the_exact_kernel(cv, dtype, monkeypatch):
    # a spectrum over 10 decades of eigenvalues: the factors come in blocks of nearby
    # eigenvalues (block-diagonal B), certified as one
    X, Y = make_data(600, 400, 30, decay=11.5, dtype=dtype)
    alphas = np.logspace(-6, 4, 200)
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)
    blocks = []
    kernel = _core.sse_lowrank
    monkeypatch.setattr(_core, "sse_lowrank",
                        lambda *args: blocks.append(len(args[14][0]) - 1) or kernel(*args))
    compressed = sr.ridge_cv(X, Y, alphas, cv=cv, alpha_per_target=True)
    assert blocks and min(blocks) > 1
    with sr.loo_compression(False):
        exact = sr.ridge_cv(X, Y, alphas, cv=cv, alpha_per_target=True)
    if dtype == np.float64:
        assert_allclose(compressed.scores, exact.scores, rtol=1e-11, atol=0)
        assert_array_equal(compressed.best_index, exact.best_index)
    else:
        assert_allclose(compressed.scores, exact.scores, rtol=2e-3)


def test_exact_loo_on_request(monkeypatch):
    X, Y = make_data(200, 150, 3, decay=4.0)
    calls = _count_lowrank_calls(monkeypatch)
    with sr.loo_compression(False):
        sr.ridge_cv(X, Y, np.logspace(-3, 5, 150))
    assert not calls
    sr.ridge_cv(X, Y, np.logspace(-3, 5, 150))
    assert calls
    calls.clear()
    sr.ridge_cv(X, Y, np.logspace(-3, 5, 10))  # few alphas: the exact kernel is cheaper
    assert not calls
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 1 << 30)
    sr.ridge_cv(X, Y, np.logspace(-3, 5, 150))  # too little work to pay for the factors
    assert not calls


@pytest.mark.parametrize("how", ["inflated bound", "coarse factors"])
def test_certificate_recomputes_what_it_cannot_prove(how, monkeypatch):
    # the bound covers every (alpha, target) pair that is not recomputed exactly: with a
    # larger eps, or honest but coarse factors (rank for 1e-7), the scores still agree
    X, Y = make_data(200, 150, 40, decay=4.0)
    Y[:, :20] = X[:, :20] @ np.ones((20, 20)) + 1e-3 * Y[:, :20]  # high signal to noise
    alphas = np.logspace(-3, 5, 150)
    low_rank = _filters.low_rank

    def patched(F, target, dtype, max_rank=None):
        if how == "coarse factors":
            return low_rank(F, 1e-7, dtype, max_rank)
        A, B, eps = low_rank(F, target, dtype, max_rank)
        return A, B, eps * 1e4

    with sr.loo_compression(False):
        exact = sr.ridge_cv(X, Y, alphas)
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)
    monkeypatch.setattr(_filters, "low_rank", patched)
    stats = {}
    loo_sse_rows = _scores.loo_sse_rows
    monkeypatch.setattr(_scores, "loo_sse_rows",
                        lambda *a, **kw: loo_sse_rows(*a, **kw, stats=stats))
    result = sr.ridge_cv(X, Y, alphas)
    assert 0 < stats["recomputed"] <= stats["pairs"]
    assert_allclose(result.scores, exact.scores, rtol=1e-11, atol=0)
    assert_array_equal(result.best_index, exact.best_index)


def test_compressed_loo_over_a_thousand_alphas(monkeypatch):
    # many more alphas than the filter rank needs: one factorization of every alpha
    X, Y = make_data(200, 150, 4, decay=4.0)
    alphas = np.logspace(-3, 5, 1000)
    calls = _count_lowrank_calls(monkeypatch)
    solver = sr.RidgeSolver(X, Y)
    compressed = solver.loo(alphas)
    assert len(calls) == 1 and calls[0] < 50
    with sr.loo_compression(False):
        exact = solver.loo(alphas)
    assert_allclose(compressed.scores, exact.scores, rtol=1e-11, atol=0)
    assert_array_equal(compressed.best_index, exact.best_index)


@pytest.mark.parametrize("dtype, coarse", [(np.float64, False), (np.float64, True),
                                          (np.float32, False)])
def test_compressed_kfold_matches_the_exact_kernel(dtype, coarse, monkeypatch):
    # held-out scores share the compressed kernel (no leverage scaling) and its
    # certificate: coarse factors (rank for 1e-7) are recomputed where they cannot be proven
    X, Y = make_data(300, 150, 9, decay=4.0, dtype=dtype)
    w = weights(300, True)
    alphas = np.logspace(-3, 5, 150)
    with sr.loo_compression(False):
        exact = sr.ridge_cv(X, Y, alphas, cv=5, sample_weight=w)
    calls = _count_lowrank_calls(monkeypatch)
    if coarse:
        low_rank = _filters.low_rank
        monkeypatch.setattr(_filters, "low_rank",
                            lambda F, target, dtype, max_rank=None:
                            low_rank(F, 1e-7, dtype, max_rank))
    compressed = sr.ridge_cv(X, Y, alphas, cv=5, sample_weight=w)
    assert len(calls) >= 5 and max(calls) < 50
    if dtype == np.float64:
        assert_allclose(compressed.scores, exact.scores, rtol=1e-11, atol=0)
        assert_array_equal(compressed.best_index, exact.best_index)
    else:
        assert_allclose(compressed.scores, exact.scores, rtol=2e-3)


def test_kernel_threads_pin_blas_once_and_restore():
    # BLAS runs one thread while any caller is inside, its limit restored by the last one
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    with threadpool_limits(2, user_api="blas"), threadpool_limits(2, user_api="openmp"), \
            sr.config_context(kernel_threads=-1):
        before = blas()
        if _core.kernel_threads(1000) == 1:
            pytest.skip("the core was built without OpenMP")
        with _scores.kernel_threads(1000) as threads:
            assert threads == 2 and set(blas()) == {1}
            with _scores.kernel_threads(500, 30) as inner:
                assert inner == 2 and set(blas()) == {1}
            assert set(blas()) == {1}  # the outer caller is still inside
        assert blas() == before
        with threadpool_limits(1, user_api="openmp"), _scores.kernel_threads(1000) as threads:
            assert threads == 1 and blas() == before
        with _scores.kernel_threads(40) as threads:  # too few targets for two threads
            assert threads == 1 and blas() == before


def test_bounds_cover_the_compressed_error():
    # the spectral-norm bound on the scaled residuals' error of factored filters, against
    # the error itself (coarse factors, rank for 1e-7, so that it shows above rounding)
    n, p, m = 200, 150, 150
    X, Y = make_data(n, p, 6, decay=4.0)
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    U, s, _ = np.linalg.svd(Xc, full_matrices=False)
    R = U.T @ Yc
    alphas = np.logspace(-3, 5, m)
    flt = ridge_filter(s ** 2, alphas)
    A, B, eps = _filters.low_rank(-flt.fit, 1e-7, np.float64)
    hat = _scores.Hat(U, flt.resid, 1 - np.einsum("ij,ij->i", U, U) - 1 / n, False)
    S = 1 / hat.one_minus_h()
    err_sq = np.empty((m, Y.shape[1]))
    entrywise = np.empty_like(err_sq)
    for a in range(m):
        exact = Yc - U @ (flt.fit[a][:, None] * R)
        compressed = Yc + U @ ((A[a] @ B)[:, None] * R)
        err_sq[a] = np.sum(np.square(S[:, a:a + 1] * (compressed - exact)), axis=0)
        entrywise[a] = eps[a] ** 2 * np.sum(np.square(S[:, a:a + 1] * (np.abs(U) @ np.abs(R))),
                                            axis=0)
    bound = _scores.norm_bound(U, R, hat, None, eps)
    assert np.all(err_sq <= bound)
    assert np.median(bound / entrywise) < 0.1  # sharper than the entrywise bound
    scale = np.linspace(0.5, 2.0, Y.shape[1])  # targets rescaled as the kernels take them
    assert_allclose(_scores.norm_bound(U, R, hat, scale, eps), bound * scale ** 2, rtol=1e-12)
    assert np.all(_scores.norm_bound(U, R, None, None, eps) <= bound)  # no scaling: S = 1
    # the entrywise bound of a subset of targets, in row tiles, covers the error too
    cols = np.array([0, 2, 5])
    tiled = _scores.entrywise_bound(U, R, hat, None, eps, cols, 64)
    assert np.all(err_sq[:, cols] <= tiled)
    assert_allclose(tiled, entrywise[:, cols], rtol=1e-12)
    assert_allclose(_scores.entrywise_bound(U, R, hat, scale, eps, cols, 64),
                    tiled * scale[cols] ** 2, rtol=1e-12)


def test_norm_bound_spares_closely_fitted_targets_the_exact_kernel(monkeypatch):
    # targets fitted closely fail the entrywise certificate; the spectral-norm one proves
    # most of them, so fewer pairs go back to the exact kernel, with the same scores
    X, Y = make_data(200, 150, 40, decay=4.0)
    Y[:, :20] = X[:, :20] @ np.ones((20, 20)) + 1e-3 * Y[:, :20]  # high signal to noise
    alphas = np.logspace(-3, 5, 150)
    with sr.loo_compression(False):
        exact = sr.ridge_cv(X, Y, alphas)
    monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)
    loo_sse_rows = _scores.loo_sse_rows
    counts = []
    for second in (False, True):
        if not second:
            monkeypatch.setattr(_scores, "norm_bound", lambda U, R, hat, scale, eps:
                                np.full((eps.size, R.shape[1]), np.inf))
        else:
            monkeypatch.undo()
            monkeypatch.setattr(_scores, "LOWRANK_MIN_WORK", 0)
        stats = {}
        monkeypatch.setattr(_scores, "loo_sse_rows",
                            lambda *a, **kw: loo_sse_rows(*a, **kw, stats=stats))
        result = sr.ridge_cv(X, Y, alphas)
        counts.append(stats["recomputed"])
        assert_allclose(result.scores, exact.scores, rtol=1e-11, atol=0)
        assert_array_equal(result.best_index, exact.best_index)
    assert counts[0] > 0 and counts[1] < 0.6 * counts[0]
