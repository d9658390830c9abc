"""Sparse X (scipy.sparse matrices and arrays): every result equals the dense path's on the
densified data, X is never densified, and bad input gets clear errors."""
import numpy as np
import pytest

import spectralridge as sr

from helpers import traced_peak

sp = pytest.importorskip("scipy.sparse")

FORMATS = {"csr_matrix": sp.csr_matrix, "csc_matrix": sp.csc_matrix,
           "coo_matrix": sp.coo_matrix, "csr_array": sp.csr_array,
           "lil_matrix": sp.lil_matrix}
TOL = {np.float64: 1e-10, np.float32: 2e-4}
ALPHAS = np.logspace(-2, 3, 6)
SHAPES = {"tall": (80, 20), "wide": (25, 90)}


def sparse_data(n, p, k=2, *, density=0.2, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=seed,
                  data_rvs=lambda size: rng.standard_normal(size) + 2.0)
    Y = X @ rng.standard_normal((p, k)) + rng.standard_normal((n, k))
    return X.astype(dtype), Y.astype(dtype)


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


def extras(kind, n, p, seed=1):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 2.0, n)
    w[:3] = 0.0
    return {"plain": {}, "weights": {"sample_weight": w},
            "penalty": {"sample_weight": w, "penalty_factor": rng.uniform(0.5, 2.0, p)}}[kind]


def assert_same_fit(a, b, X_new, tol):
    """Sparse-fitted solver `a` against dense-fitted `b`."""
    assert rel(a.coef(ALPHAS), b.coef(ALPHAS)) < tol
    assert rel(a.dof(ALPHAS), b.dof(ALPHAS)) < tol
    assert rel(a.singular_values, b.singular_values) < tol
    if a.fit_intercept:
        assert rel(a.intercept(ALPHAS), b.intercept(ALPHAS)) < tol
    dense_new = X_new.toarray()
    for new in (X_new, dense_new):  # sparse and dense X_new on a sparse fit, and reverse
        assert rel(a.predict(new, ALPHAS), b.predict(dense_new, ALPHAS)) < tol
        assert rel(b.predict(new, ALPHAS), b.predict(dense_new, ALPHAS)) < tol
    for name in ("loo", "gcv"):
        ra, rb = getattr(a, name)(ALPHAS), getattr(b, name)(ALPHAS)
        assert rel(ra.scores, rb.scores) < tol
        assert rel(ra.coef, rb.coef) < tol


@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
@pytest.mark.parametrize("fmt", FORMATS)
def test_formats(fmt):
    X, Y = sparse_data(60, 15)
    a = sr.RidgeSolver(FORMATS[fmt](X), Y)
    b = sr.RidgeSolver(X.toarray(), Y)
    assert_same_fit(a, b, FORMATS[fmt](X[:7]), 1e-10)


@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
@pytest.mark.parametrize("kind", ["plain", "weights", "penalty"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_dense(dtype, shape, fit_intercept, kind):
    n, p = SHAPES[shape]
    X, Y = sparse_data(n, p, dtype=dtype)
    kw = dict(fit_intercept=fit_intercept, **extras(kind, n, p))
    a, b = sr.RidgeSolver(X, Y, **kw), sr.RidgeSolver(X.toarray(), Y, **kw)
    assert a.method == b.method == ("gram" if shape == "tall" else "kernel")
    assert a.coef(1.0).dtype == dtype
    assert_same_fit(a, b, X[:5], TOL[dtype])
    errors = a.loo_errors(ALPHAS)  # zero-weight samples get their plain residuals
    assert rel(errors, b.loo_errors(ALPHAS)) < TOL[dtype]


@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
@pytest.mark.parametrize("method", ["svd", "gram", "kernel"])
@pytest.mark.parametrize("shape", SHAPES)
def test_methods(shape, method):
    n, p = SHAPES[shape]
    X, Y = sparse_data(n, p, seed=3)
    kw = dict(method=method, **extras("penalty", n, p))
    a, b = sr.RidgeSolver(X, Y, **kw), sr.RidgeSolver(X.toarray(), Y, **kw)
    assert a.method == b.method == method
    assert rel(a.singular_values, b.singular_values) < 1e-10
    assert_same_fit(a, b, X[:4], 1e-10)


def test_one_dimensional_y_and_all_zero_x():
    X, Y = sparse_data(40, 8, seed=4)
    a, b = sr.RidgeSolver(X, Y[:, 0]), sr.RidgeSolver(X.toarray(), Y[:, 0])
    assert a.coef(ALPHAS).shape == (ALPHAS.size, 8)
    assert rel(a.coef(ALPHAS), b.coef(ALPHAS)) < 1e-10
    zero = sr.RidgeSolver(sp.csr_matrix((40, 8)), Y[:, 0])
    assert zero.rank == 0
    assert np.allclose(zero.intercept(1.0), Y[:, 0].mean())


@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
@pytest.mark.parametrize("cv", ["int", "splitter"])
@pytest.mark.parametrize("shape", SHAPES)
def test_kfold(shape, cv):
    n, p = SHAPES[shape]
    X, Y = sparse_data(n, p, seed=5)
    w = extras("weights", n, p)["sample_weight"]
    if cv == "int":
        folds = 4
    else:
        rng = np.random.default_rng(0)
        perm = rng.permutation(n)
        folds = [(np.setdiff1d(np.arange(n), t), t) for t in np.array_split(perm, 3)]
        folds.append((np.arange(n // 2), np.arange(n // 2, n - 3)))  # not a partition
    kw = dict(cv=folds, sample_weight=w, penalty_factor=np.linspace(0.5, 2.0, p))
    ra, rb = sr.ridge_cv(X, Y, ALPHAS, **kw), sr.ridge_cv(X.toarray(), Y, ALPHAS, **kw)
    assert rel(ra.scores, rb.scores) < 1e-10
    assert np.array_equal(ra.best_alpha, rb.best_alpha)
    assert rel(ra.coef, rb.coef) < 1e-10
    assert rel(ra.intercept, rb.intercept) < 1e-10


@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
@pytest.mark.parametrize("shape", SHAPES)
def test_ill_conditioned_takes_the_exact_route(shape):
    n, p = SHAPES[shape]
    X, Y = sparse_data(n, p, density=0.4, seed=6)
    X = X.toarray() if shape == "tall" else X.toarray().T
    rng = np.random.default_rng(6)
    # nearly collinear; for the wide case less so: there the leave-one-out scores of the
    # nearly repeated sample differ by 1e-8 between LAPACK's own SVD drivers at 1e-4
    eps = 1e-4 if shape == "tall" else 1e-3
    X[:, 1] = X[:, 0] * (1.0 + eps * rng.standard_normal(X.shape[0]))
    X = sp.csr_matrix(X if shape == "tall" else X.T)  # wide: a nearly repeated sample
    alphas = [1e-9, 1e-3, 1.0]
    a, b = sr.RidgeSolver(X, Y), sr.RidgeSolver(X.toarray(), Y)
    assert rel(a.coef(alphas), b.coef(alphas)) < 1e-10
    assert a.method == b.method == "svd"
    assert rel(a.singular_values, b.singular_values) < 1e-10
    assert rel(a.loo(alphas).scores, b.loo(alphas).scores) < 1e-10


def test_large_column_means_take_the_exact_route():
    # fully stored columns of large, nearly constant values: the implicit centring of the
    # Gram cancels, and the guard must send 'auto' to the SVD
    X, Y = sparse_data(120, 12, seed=7)
    X = X.toarray()
    rng = np.random.default_rng(7)
    X[:, :3] = 1e4 + rng.standard_normal((120, 3))
    X = sp.csr_matrix(X)
    gram = sr.RidgeSolver(X, Y, method="gram")
    assert not gram._spectrum.accurate_for(1e-2)
    a, b = sr.RidgeSolver(X, Y), sr.RidgeSolver(X.toarray(), Y)
    assert rel(a.coef(ALPHAS), b.coef(ALPHAS)) < 1e-10
    assert a.method == "svd"
    assert rel(a.loo(ALPHAS).scores, b.loo(ALPHAS).scores) < 1e-10


@pytest.mark.filterwarnings("ignore::spectralridge.GridEdgeWarning")
@pytest.mark.parametrize("n, p", [(100_000, 100), (100, 100_000)])
def test_never_densified(n, p):
    X, Y = sparse_data(n, p, k=1, density=1e-3, seed=8)
    dense_bytes = n * p * 8

    def fit():
        solver = sr.RidgeSolver(X, Y)
        solver.coef(ALPHAS)
        solver.gcv(ALPHAS)
        return solver

    solver, peak = traced_peak(fit)
    assert solver.method == ("gram" if n > p else "kernel")
    V_bytes = p * solver.rank * 8  # wide X: the factor V (p x rank) is as large as X
    assert peak < dense_bytes / 10 + (1.25 * V_bytes if p > n else 0)


def test_loo_forms_U_a_block_of_rows_at_a_time():
    # exact leave-one-out on a tall sparse design never holds U (n x rank) whole: blocks
    # of rows sized by working_memory
    X, Y = sparse_data(40_000, 150, 3, density=0.02)
    n, p = X.shape
    solver = sr.RidgeSolver(X, Y)
    dense = sr.RidgeSolver(X.toarray(), Y)
    with sr.config_context(working_memory=16):
        result, peak = traced_peak(lambda: solver.loo(ALPHAS))
    assert solver.method == "gram"
    assert peak < 0.5 * n * solver.rank * 8
    np.testing.assert_allclose(result.scores, dense.loo(ALPHAS).scores, rtol=1e-10)


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, match", [
    (np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")])
def test_non_finite_stored_values(value, match):
    X, Y = sparse_data(30, 5)
    X = X.copy()
    X.data[3] = value
    with pytest.raises(ValueError, match=match):
        sr.RidgeSolver(X, Y)
    clean, _ = sparse_data(30, 5)
    bad_new = clean[:2].copy()
    bad_new.data[0] = value
    with pytest.raises(ValueError, match=match):
        sr.RidgeSolver(clean, Y).predict(bad_new, 1.0)


@pytest.mark.parametrize("shape, match", [((0, 5), "0 sample"), ((30, 0), "0 feature")])
def test_empty(shape, match):
    Y = np.ones(shape[0])
    with pytest.raises(ValueError, match=match):
        sr.RidgeSolver(sp.csr_matrix(shape), Y)


def test_empty_x_new():
    X, Y = sparse_data(30, 5)
    with pytest.raises(ValueError, match="0 sample"):
        sr.RidgeSolver(X, Y).predict(sp.csr_matrix((0, 5)), 1.0)
    with pytest.raises(ValueError, match="X has 4 features, but the solver is expecting 5"):
        sr.RidgeSolver(X, Y).predict(X[:, :4], 1.0)


@pytest.mark.parametrize("dtype", [np.int64, np.int8, bool])
def test_int_and_bool_data_are_converted(dtype):
    X = sp.random(40, 6, density=0.4, format="csr", random_state=9)
    X.data = np.ceil(X.data * 3)
    X = X.astype(dtype)
    Y = np.random.default_rng(9).standard_normal(40)
    a, b = sr.RidgeSolver(X, Y), sr.RidgeSolver(X.toarray().astype(float), Y)
    assert a.coef(1.0).dtype == np.float64
    assert rel(a.coef(ALPHAS), b.coef(ALPHAS)) < 1e-10


def test_complex_data_refused():
    X = sp.csr_matrix(np.eye(5) * 1j)
    with pytest.raises(ValueError, match="Complex data not supported: X"):
        sr.RidgeSolver(X, np.ones(5))


@pytest.mark.parametrize("name", ["Y", "sample_weight"])
def test_sparse_y_and_weights_refused(name):
    X, Y = sparse_data(30, 5)
    kw = {"Y": Y[:, 0]}
    kw[name] = sp.csr_matrix(np.ones((30, 1)) if name == "Y" else np.ones((1, 30)))
    with pytest.raises(TypeError, match=f"{name} must be a dense array"):
        sr.RidgeSolver(X, **kw)
    with pytest.raises(TypeError, match=f"{name} must be a dense array"):
        sr.ridge_cv(X, cv=3, **kw)


def test_input_not_modified():
    X, Y = sparse_data(50, 6)
    coo = X.tocoo()
    doubled = sp.coo_matrix((np.r_[coo.data, coo.data], (np.r_[coo.row, coo.row],
                                                          np.r_[coo.col, coo.col])),
                            shape=X.shape)  # duplicates: summed into a copy
    data = doubled.data.copy()
    a = sr.RidgeSolver(doubled, Y)
    assert np.array_equal(doubled.data, data) and doubled.nnz == 2 * X.nnz
    assert rel(a.coef(ALPHAS), sr.RidgeSolver(2 * X.toarray(), Y).coef(ALPHAS)) < 1e-10
    unsorted = sp.csr_matrix((doubled.data, (doubled.row, doubled.col)), shape=X.shape)
    unsorted = sp.csr_matrix((unsorted.data, unsorted.indices, unsorted.indptr),
                             shape=X.shape)
    unsorted.has_canonical_format = False
    before = unsorted.data.copy(), unsorted.indices.copy()
    sr.RidgeSolver(unsorted, Y)
    assert np.array_equal(unsorted.data, before[0])
    assert np.array_equal(unsorted.indices, before[1])


def test_dask_with_sparse_refused():
    da = pytest.importorskip("dask.array")
    X, Y = sparse_data(40, 5)
    with pytest.raises(TypeError, match="X is a sparse csr_matrix, which is not supported "
                                        "with Dask input"):
        sr.RidgeSolver(X, da.from_array(Y))
    with pytest.raises(TypeError, match="not supported with Dask input"):
        sr.ridge_cv(X, da.from_array(Y))


# -- estimators -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_estimators(dtype):
    pytest.importorskip("sklearn")
    X, Y = sparse_data(70, 12, seed=10, dtype=dtype)
    w = extras("weights", 70, 12)["sample_weight"]
    dense = X.toarray()
    for make in (lambda: sr.Ridge(alpha=[0.5, 2.0]), lambda: sr.Ridge(solver="svd"),
                 lambda: sr.RidgeCV(ALPHAS, alpha_per_target=True),
                 lambda: sr.RidgeCV(ALPHAS, cv=4), lambda: sr.RidgeCV(ALPHAS, cv="gcv")):
        a = make().fit(sp.csc_matrix(X), Y, sample_weight=w)
        b = make().fit(dense, Y, sample_weight=w)
        assert a.coef_.dtype == dtype
        assert rel(a.coef_, b.coef_) < TOL[dtype]
        assert rel(a.intercept_, b.intercept_) < TOL[dtype]
        assert rel(a.predict(X[:5]), b.predict(dense[:5])) < TOL[dtype]
        assert rel(b.predict(X[:5]), b.predict(dense[:5])) < TOL[dtype]
        if hasattr(b, "alpha_"):
            assert np.array_equal(a.alpha_, b.alpha_)


def test_estimators_refuse_sparse_y():
    pytest.importorskip("sklearn")
    X, Y = sparse_data(30, 5)
    for model in (sr.Ridge(), sr.RidgeCV()):
        with pytest.raises(TypeError, match="Sparse data was passed for y"):
            model.fit(X, sp.csr_matrix(Y))
