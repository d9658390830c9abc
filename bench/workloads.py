"""Workloads, implementations and machine limits of the spectralridge benchmark suite.

This module has no pytest dependency: ``test_bench.py`` times the implementations with
pytest-benchmark, ``report.py`` reads those timings, runs each implementation once more in a
fresh subprocess to measure its peak memory (``python bench/workloads.py memory WORKLOAD
IMPL [--quick]``) and sweeps sizes for the figures.

Data: ``X = U diag(s) V^T + column means`` with ``s_i = sqrt(n) exp(-3 i / min(n, p))`` and
random orthonormal ``U``, ``V``; ``Y = X W + noise + target means`` with ``W ~ N(0, 1)`` and a
per-target noise scale ``std(X W) * 10**u``, ``u ~ U(-1, 0)``: signal-to-noise ratios over a
decade, so that the best alpha differs between targets. Seeds are fixed; the float32 variants
use the float64 data cast to float32.
"""

import dataclasses
import gc
import json
import os
import resource
import sys
import time
import warnings
import zlib

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas, lapack

QUICK_ENV = "SR_BENCH_QUICK"


def quick_from_env():
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


# -- workloads ---------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    kind: str                 # 'path', 'loo', 'gcv' or 'kfold'
    full: tuple               # (n_samples, n_features, n_targets, n_alphas)
    quick: tuple
    dtype: str = "float64"
    folds: int = 0
    title: str = ""
    density: float = 0.0      # > 0: scipy.sparse CSR X with this fraction of stored values

    def sizes(self, quick):
        return self.quick if quick else self.full


WORKLOADS = {w.name: w for w in [
    Workload("path-single", "path", (2000, 500, 1, 100), (400, 100, 1, 100),
             title="ridge path, one target"),
    Workload("path-multi", "path", (2000, 500, 1000, 30), (400, 100, 100, 30),
             title="ridge path, many targets"),
    Workload("path-multi-f32", "path", (2000, 500, 1000, 30), (400, 100, 100, 30),
             dtype="float32", title="ridge path, many targets, float32"),
    Workload("path-many-alphas", "path", (2000, 500, 1000, 100), (400, 100, 100, 100),
             title="ridge path, many targets, 100 alphas (compressed filters)"),
    Workload("loo-goal", "loo", (2000, 500, 1000, 20), (400, 100, 100, 20),
             title="exact leave-one-out, per-target alpha (issue 3 goal size)"),
    Workload("loo-many-alphas", "loo", (2000, 500, 1000, 100), (400, 100, 100, 100),
             title="exact leave-one-out, 100 alphas, per-target alpha (compressed filters)"),
    Workload("loo-multi", "loo", (3000, 1000, 2000, 20), (600, 200, 200, 20),
             title="exact leave-one-out, per-target alpha"),
    Workload("loo-multi-f32", "loo", (3000, 1000, 2000, 20), (600, 200, 200, 20),
             dtype="float32", title="exact leave-one-out, per-target alpha, float32"),
    Workload("loo-wide", "loo", (500, 5000, 100, 50), (100, 1000, 20, 50),
             title="exact leave-one-out, wide design"),
    Workload("loo-memory", "loo", (2000, 100, 3000, 40), (400, 20, 300, 40),
             title="exact leave-one-out, many targets (memory case)"),
    Workload("gcv-multi", "gcv", (3000, 1000, 2000, 100), (600, 200, 200, 100),
             title="generalized cross-validation, per-target alpha"),
    Workload("kfold", "kfold", (5000, 300, 50, 30), (1000, 60, 10, 30), folds=5,
             title="5-fold cross-validation, per-target alpha"),
    Workload("sparse-loo", "loo", (20000, 2000, 100, 30), (2000, 200, 10, 30), density=0.01,
             title="exact leave-one-out, sparse X (density 1%), per-target alpha"),
    Workload("sparse-wide", "loo", (2000, 100000, 1000, 20), (200, 5000, 20, 20),
             density=0.001, title="exact leave-one-out, sparse wide X (density 0.1%), "
             "kernel route"),
]}


@dataclasses.dataclass
class Data:
    X: np.ndarray
    Y: np.ndarray
    alphas: np.ndarray
    workload: Workload
    quick: bool

    @property
    def shape(self):
        n, p = self.X.shape
        return n, p, self.Y.shape[1], self.alphas.size

    @property
    def rank(self):
        """Rank of the centred design (every workload is of full rank)."""
        n, p = self.X.shape
        return min(n - 1, p)

    def folds(self):
        from sklearn.model_selection import KFold
        return KFold(self.workload.folds)

    def fold_indices(self):
        n = self.X.shape[0]
        edges = np.linspace(0, n, self.workload.folds + 1).round().astype(int)
        idx = np.arange(n)
        return [(np.concatenate([idx[:a], idx[b:]]), idx[a:b])
                for a, b in zip(edges[:-1], edges[1:])]


def generate(n, p, k, seed):
    """Design with singular values ``sqrt(n) exp(-3 i / min(n, p))`` and noisy targets."""
    rng = np.random.default_rng(seed)
    q = min(n, p)
    U, _ = np.linalg.qr(rng.standard_normal((n, q)))
    V, _ = np.linalg.qr(rng.standard_normal((p, q)))
    U *= np.sqrt(n) * np.exp(-3.0 * np.arange(q) / q)
    X = U @ V.T
    del U, V
    X += rng.normal(0.0, 5.0, p)
    W = rng.standard_normal((p, k))
    Y = X @ W
    del W
    scale = Y.std(axis=0) * 10.0 ** rng.uniform(-1.0, 0.0, k)
    Y += rng.standard_normal((n, k)) * scale
    Y += rng.normal(0.0, 10.0, k)
    return X, Y


def generate_sparse(n, p, k, density, seed):
    """CSR X with ``density * n * p`` stored N(1, 1) values; targets as :func:`generate`."""
    import scipy.sparse as sp
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=rng,
                  data_rvs=lambda size: rng.standard_normal(size) + 1.0)
    Y = np.asarray(X @ rng.standard_normal((p, k)))
    scale = Y.std(axis=0) * 10.0 ** rng.uniform(-1.0, 0.0, k)
    Y += rng.standard_normal((n, k)) * scale
    Y += rng.normal(0.0, 10.0, k)
    return X, Y


_DATA = {}


def get_data(name, quick):
    """Data of a workload (cached); float32 variants share the float64 data."""
    key = (name, quick)
    if key not in _DATA:
        w = WORKLOADS[name]
        n, p, k, m = w.sizes(quick)
        seed = zlib.crc32(repr((n, p, k)).encode())
        X, Y = generate_sparse(n, p, k, w.density, seed) if w.density else \
            generate(n, p, k, seed)
        X, Y = X.astype(w.dtype), Y.astype(w.dtype)
        alphas = np.logspace(-3, 5, m)
        _DATA[key] = Data(X, Y, alphas, w, quick)
    return _DATA[key]


def clear_data():
    _DATA.clear()
    _REFERENCE.clear()


# -- results -----------------------------------------------------------------------------------
# Path implementations return {'coef': (m, p, k), 'intercept': (m, k)}; cross-validation ones
# {'best_alpha': (k,), 'best_score': (k,) mean squared error, 'coef': (p, k), 'intercept': (k,)}
# and optionally 'scores' (m, k).

def _centred(X, Y):
    xm, ym = X.mean(axis=0), Y.mean(axis=0)
    return X - xm, Y - ym, xm, ym


# -- spectralridge -----------------------------------------------------------------------------
def _sr():
    import spectralridge
    return spectralridge


def has_cv_api():
    sr = _sr()
    return hasattr(sr, "ridge_cv") or hasattr(sr.RidgeSolver, "loo")


def sr_path(method):
    def run(d):
        sr = _sr()
        solver = sr.RidgeSolver(d.X, d.Y, method=method)
        return {"coef": solver.coef(d.alphas), "intercept": solver.intercept(d.alphas)}
    return run


def _cv_dict(res):
    return {"best_alpha": np.asarray(res.best_alpha), "best_score": np.asarray(res.best_score),
            "coef": np.asarray(res.coef), "intercept": np.asarray(res.intercept),
            "scores": np.asarray(res.scores)}


def sr_cv(method, cv=None, alpha_per_target=True):
    def run(d):
        sr = _sr()
        kind = d.workload.kind
        split = d.folds() if kind == "kfold" else kind
        if hasattr(sr, "ridge_cv"):
            res = sr.ridge_cv(d.X, d.Y, d.alphas, cv=split, method=method,
                              alpha_per_target=alpha_per_target)
        elif kind in ("loo", "gcv"):
            res = getattr(sr.RidgeSolver(d.X, d.Y, method=method), kind)(d.alphas)
        else:
            raise NotImplementedError("spectralridge.ridge_cv is not available yet")
        return _cv_dict(res)
    return run


def sr_exact(d):
    """spectralridge with the compressed kernels turned off."""
    with _sr().loo_compression(False):
        return (sr_path if d.workload.kind == "path" else sr_cv)("auto")(d)


# -- naive and plain-NumPy baselines -----------------------------------------------------------
def naive_solve(d):
    """Per-alpha ``scipy.linalg.solve(G + a I, Xc^T Yc, assume_a='pos')``, Gram once."""
    Xc, Yc, xm, ym = _centred(d.X, d.Y)
    syrk, gemm = blas.get_blas_funcs(("syrk", "gemm"), (Xc,))
    G = syrk(1.0, Xc.T, trans=0, lower=0)           # upper triangle, read by solve
    XtY = gemm(1.0, Xc, Yc, trans_a=1)
    p = G.shape[0]
    coef = np.empty((d.alphas.size, p, Yc.shape[1]), dtype=d.X.dtype)
    diag = np.diag_indices(p)
    g0 = G[diag].copy()
    for i, a in enumerate(d.alphas):
        G[diag] = g0 + a
        coef[i] = sla.solve(G, XtY, assume_a="pos", lower=False, check_finite=False)
    return {"coef": coef, "intercept": ym - xm @ coef}


def _svd_rank(Xc):
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    r = int(np.count_nonzero(s > max(Xc.shape) * np.finfo(s.dtype).eps * s[0]))
    return U[:, :r], s[:r], Vt[:r]


def numpy_path(d):
    """numpy.linalg.svd of the centred design, then ``V diag(s/(s^2+a)) U^T Yc`` per alpha."""
    Xc, Yc, xm, ym = _centred(d.X, d.Y)
    U, s, Vt = _svd_rank(Xc)
    R = U.T @ Yc
    coef = np.empty((d.alphas.size, Xc.shape[1], Yc.shape[1]), dtype=d.X.dtype)
    for i, a in enumerate(d.alphas):
        coef[i] = Vt.T @ ((s / (s * s + a))[:, None] * R)
    return {"coef": coef, "intercept": ym - xm @ coef}


def _refit(Vt, s, R, alphas, best, xm, ym):
    """Coefficients and intercepts at each target's best alpha."""
    Fs = s / (s * s + alphas[best][:, None])              # (k, r)
    coef = Vt.T @ (Fs.T * R)
    return coef, ym - xm @ coef


def numpy_loo(d):
    """Exact LOO from one numpy.linalg.svd, every alpha in turn (residuals n x k per alpha)."""
    Xc, Yc, xm, ym = _centred(d.X, d.Y)
    n = Xc.shape[0]
    U, s, Vt = _svd_rank(Xc)
    R = U.T @ Yc
    U2 = U * U
    scores = np.empty((d.alphas.size, Yc.shape[1]))
    for i, a in enumerate(d.alphas):
        f = s * s / (s * s + a)
        e = (Yc - U @ (f[:, None] * R)) / (1.0 - 1.0 / n - U2 @ f)[:, None]
        scores[i] = np.mean(e * e, axis=0)
    best = scores.argmin(axis=0)
    coef, intercept = _refit(Vt, s, R, d.alphas, best, xm, ym)
    k = np.arange(best.size)
    return {"best_alpha": d.alphas[best], "best_score": scores[best, k], "coef": coef,
            "intercept": intercept, "scores": scores}


def numpy_gcv(d):
    """GCV ``n RSS / (n - dof - 1)^2`` from one numpy.linalg.svd."""
    Xc, Yc, xm, ym = _centred(d.X, d.Y)
    n = Xc.shape[0]
    U, s, Vt = _svd_rank(Xc)
    R = U.T @ Yc
    base = np.sum(Yc * Yc, axis=0) - np.sum(R * R, axis=0)
    scores = np.empty((d.alphas.size, Yc.shape[1]))
    for i, a in enumerate(d.alphas):
        g = a / (s * s + a)
        rss = base + np.sum((g[:, None] * R) ** 2, axis=0)
        dof = np.sum(s * s / (s * s + a))
        scores[i] = n * rss / (n - dof - 1.0) ** 2
    best = scores.argmin(axis=0)
    coef, intercept = _refit(Vt, s, R, d.alphas, best, xm, ym)
    k = np.arange(best.size)
    return {"best_alpha": d.alphas[best], "best_score": scores[best, k], "coef": coef,
            "intercept": intercept, "scores": scores}


def numpy_kfold(d):
    """K-fold: one numpy.linalg.svd per training set, held-out errors for every alpha."""
    X, Y = d.X, d.Y
    sse = np.zeros((d.alphas.size, Y.shape[1]))
    for train, test in d.fold_indices():
        Xtr, Ytr, xm, ym = _centred(X[train], Y[train])
        U, s, Vt = _svd_rank(Xtr)
        R = U.T @ Ytr
        P = (X[test] - xm) @ Vt.T
        Yte = Y[test] - ym
        for i, a in enumerate(d.alphas):
            e = Yte - P @ ((s / (s * s + a))[:, None] * R)
            sse[i] += np.sum(e * e, axis=0)
    scores = sse / X.shape[0]
    best = scores.argmin(axis=0)
    Xc, Yc, xm, ym = _centred(X, Y)
    U, s, Vt = _svd_rank(Xc)
    coef, intercept = _refit(Vt, s, U.T @ Yc, d.alphas, best, xm, ym)
    k = np.arange(best.size)
    return {"best_alpha": d.alphas[best], "best_score": scores[best, k], "coef": coef,
            "intercept": intercept, "scores": scores}


# -- peers -------------------------------------------------------------------------------------
def sklearn_ridge_refit(d):
    """``sklearn.linear_model.Ridge(alpha).fit`` once per alpha (all targets per fit)."""
    from sklearn.linear_model import Ridge
    m, p, k = d.alphas.size, d.X.shape[1], d.Y.shape[1]
    coef = np.empty((m, p, k), dtype=d.X.dtype)
    intercept = np.empty((m, k), dtype=d.X.dtype)
    for i, a in enumerate(d.alphas):
        est = Ridge(alpha=a).fit(d.X, d.Y)
        coef[i] = np.reshape(est.coef_, (k, p)).T
        intercept[i] = est.intercept_
    return {"coef": coef, "intercept": intercept}


def sklearn_ridgecv(gcv_mode):
    def run(d):
        from sklearn.linear_model import RidgeCV
        kw = {} if gcv_mode is None else {"gcv_mode": gcv_mode}
        est = RidgeCV(alphas=d.alphas, alpha_per_target=True, **kw).fit(d.X, d.Y)
        return {"best_alpha": np.asarray(est.alpha_), "best_score": -np.asarray(est.best_score_),
                "coef": est.coef_.T, "intercept": est.intercept_}
    return run


def himalaya_ridgecv(d):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    set_backend("numpy", on_error="raise")
    est = RidgeCV(alphas=d.alphas, fit_intercept=True, cv=d.folds()).fit(d.X, d.Y)
    return {"best_alpha": np.asarray(est.best_alphas_), "best_score": -np.asarray(est.cv_scores_),
            "coef": np.asarray(est.coef_), "intercept": np.asarray(est.intercept_)}


def gridsearch_targets(d):
    """Targets timed for the per-target GridSearchCV (a subset; the time is scaled up)."""
    k = d.Y.shape[1]
    return np.array([0, k // 2]) if k > 1 else np.array([0])


def gridsearch_per_target(d):
    """``GridSearchCV(Ridge(), {'alpha': alphas})`` per target, on a subset of targets."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV
    out = {"targets": gridsearch_targets(d), "best_alpha": [], "best_score": [], "coef": [],
           "intercept": []}
    for t in out["targets"]:
        gs = GridSearchCV(Ridge(), {"alpha": d.alphas}, cv=d.folds(),
                          scoring="neg_mean_squared_error").fit(d.X, d.Y[:, t])
        out["best_alpha"].append(gs.best_params_["alpha"])
        out["best_score"].append(-gs.best_score_)
        out["coef"].append(gs.best_estimator_.coef_)
        out["intercept"].append(gs.best_estimator_.intercept_)
    return {key: np.asarray(v) if key != "coef" else np.asarray(v).T for key, v in out.items()}


def gridsearch_shared(d):
    """``GridSearchCV(Ridge)`` on all targets at once: one alpha shared by every target."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV
    gs = GridSearchCV(Ridge(), {"alpha": d.alphas}, cv=d.folds(),
                      scoring="neg_mean_squared_error").fit(d.X, d.Y)
    return {"shared_alpha": gs.best_params_["alpha"], "shared_score": -gs.best_score_,
            "coef": gs.best_estimator_.coef_.T, "intercept": gs.best_estimator_.intercept_}


def fracridge_fracs(d, ref):
    """Norm fractions ``||W(a)|| / ||W(0)||`` of the benchmark's alphas (target 0)."""
    W = ref["coef"][:, :, 0]
    Xc, Yc, _, _ = _centred(d.X.astype(np.float64), d.Y[:, :1].astype(np.float64))
    w0 = np.linalg.lstsq(Xc, Yc, rcond=None)[0][:, 0]
    return np.sort(np.linalg.norm(W, axis=1) / np.linalg.norm(w0))


def fracridge_path(d, fracs):
    """fracridge on the centred data (it fits no intercept), one grid of norm fractions."""
    from fracridge import fracridge
    Xc, Yc, xm, ym = _centred(d.X, d.Y)
    coef, alphas = fracridge(Xc, Yc, fracs)
    coef = coef.reshape(Xc.shape[1], fracs.size, -1)
    alphas = alphas.reshape(fracs.size, -1)
    return {"coef_pfk": coef, "alphas": alphas, "xm": xm, "ym": ym}


# -- machine limit -----------------------------------------------------------------------------
def limit_decomposition(d):
    """Fastest accurate decomposition: dsyrk + dsyevd of the smaller Gram (float64, centred X).

    K-fold: one dsyrk per fold, the training Grams by downdating ``G - G_fold``, one dsyevd
    per fold and one of the full Gram (for the refit at the best alphas). The centring of X
    is done beforehand (not timed).
    """
    Xc = d.__dict__.get("_Xc64")
    if Xc is None:
        Xc = d.__dict__["_Xc64"] = d.X - d.X.mean(axis=0, dtype=np.float64)
    n, p = Xc.shape
    if d.workload.kind == "kfold":
        grams = [blas.dsyrk(1.0, Xc[test].T, trans=0, lower=0) for _, test in d.fold_indices()]
        G = sum(grams)
        for Gf in grams:
            lapack.dsyevd(G - Gf, compute_v=1, lower=0, overwrite_a=1)
        lapack.dsyevd(G, compute_v=1, lower=0, overwrite_a=1)
        return None
    G = blas.dsyrk(1.0, Xc.T, trans=0 if n >= p else 1, lower=0)
    lapack.dsyevd(G, compute_v=1, lower=0, overwrite_a=1)
    return None


def limit_multiply_adds(d, complete=False):
    """Multiply-adds beyond the decomposition (the machine-limit model of DESIGN.md sec. 6).

    path: ``m p r k``; LOO: ``m n r k + n r m``; GCV: forming ``U^T Y`` (``n p k + p r k`` via
    ``V^T (Xc^T Y)``, or ``n r k`` from U for the kernel route) plus ``m r k``; K-fold: the
    held-out predictions ``n m r k`` (over all folds) plus the test bases ``X_test V`` (``n p r``)
    and the projections ``X_train^T Y`` (``n p k`` by downdating).

    ``complete=True`` adds the rest of the unavoidable work: forming ``U^T Yc`` (path, LOO),
    the second basis the route does not give (``U = Xc V / s`` for LOO on the Gram route,
    ``V = Xc^T U / s`` on the kernel route: ``n p r``) and, for cross-validation, the refit
    at the best alphas (``p r k``).
    """
    n, p, k, m = d.shape
    r = d.rank
    kind = d.workload.kind
    proj = n * r * k if n < p else n * p * k + p * r * k
    basis = n * p * r if kind == "loo" or (n < p and kind in ("path", "gcv")) else 0
    refit = p * r * k if kind != "path" else 0
    if kind == "path":
        ma, extra = m * p * r * k, proj + basis
    elif kind == "loo":
        ma, extra = m * n * r * k + n * r * m, proj + basis + refit
    elif kind == "gcv":
        ma, extra = proj + m * r * k, basis + refit
    elif kind == "kfold":
        r = min(n - n // d.workload.folds - 1, p)
        ma, extra = n * m * r * k + n * p * r + n * p * k, refit
    else:
        raise ValueError(kind)
    return ma + extra if complete else ma


def gemm_call(dtype="float64", size=1500, lib="scipy"):
    """``(function, args)`` of a size x size gemm through SciPy's BLAS or NumPy's
    (``lib="numpy"``: each wheel bundles its own OpenBLAS build)."""
    A = np.random.default_rng(0).standard_normal((size, size)).astype(dtype)
    if lib == "scipy":
        A = np.asfortranarray(A)
        return blas.get_blas_funcs("gemm", (A,)), (1.0, A, A)
    return np.matmul, (A, A)


def gemm_rate(dtype="float64", size=1500, repeats=7, lib="scipy"):
    """Multiply-adds per second of :func:`gemm_call` (median of repeats)."""
    call, args = gemm_call(dtype, size, lib)
    call(*args)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call(*args)
        times.append(time.perf_counter() - t)
    return size ** 3 / float(np.median(times))


def machine_rate(dtype="float64", size=1500, repeats=7):
    """The machine's multiply-add rate for the limits: the faster of SciPy's and NumPy's
    BLAS, measured apart (a pause between them lets the first one's threads stop spinning)."""
    scipy_rate = gemm_rate(dtype, size, repeats, "scipy")
    time.sleep(0.2)
    return max(scipy_rate, gemm_rate(dtype, size, repeats, "numpy"))


def copy_bandwidth(mib=128, repeats=5):
    """Bytes per second read + written by a large array copy (median of repeats).

    With the gemm rate, the probe of disturbances: the SVD and the leave-one-out epilogues
    are sensitive to the memory bandwidth, which other tenants of a virtual machine share.
    """
    a = np.ones(mib * 2 ** 20 // 8)
    b = np.empty_like(a)
    np.copyto(b, a)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(b, a)
        times.append(time.perf_counter() - t)
    return 2 * a.nbytes / float(np.median(times))


# -- registry ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Impl:
    id: str
    label: str
    role: str                  # 'sr', 'naive', 'peer', 'reference', 'limit'
    kinds: tuple
    make: object               # workload -> callable(data) -> result
    requires: tuple = ()       # modules: clean skip when missing
    when: object = None        # workload -> bool
    scale: object = None       # data -> factor applied to the measured time (subset timed)
    warnings: tuple = ()       # extra pytest filterwarnings entries


_SR_WARNINGS = ("ignore:The best alpha of:UserWarning",)   # GridEdgeWarning: reported, not fatal


def _wide(w):
    n, p = w.full[:2]
    return n < p


IMPLS = [
    Impl("sr-auto", "spectralridge (method='auto')", "sr", ("path", "loo", "gcv", "kfold"),
         lambda w: sr_path("auto") if w.kind == "path" else sr_cv("auto"),
         warnings=_SR_WARNINGS),
    Impl("sr-svd", "spectralridge (method='svd')", "sr", ("path", "loo", "gcv", "kfold"),
         lambda w: sr_path("svd") if w.kind == "path" else sr_cv("svd"),
         warnings=_SR_WARNINGS),
    Impl("sr-gram", "spectralridge (method='gram')", "sr", ("path", "loo", "gcv", "kfold"),
         lambda w: sr_path("gram") if w.kind == "path" else sr_cv("gram"),
         when=lambda w: not _wide(w), warnings=_SR_WARNINGS),
    Impl("sr-kernel", "spectralridge (method='kernel')", "sr", ("path", "loo", "gcv"),
         lambda w: sr_path("kernel") if w.kind == "path" else sr_cv("kernel"), when=_wide,
         warnings=_SR_WARNINGS),
    Impl("sr-exact", "spectralridge (method='auto', loo_compression(False))", "sr",
         ("loo", "path"), lambda w: sr_exact, when=lambda w: w.name.endswith("-many-alphas"),
         warnings=_SR_WARNINGS),
    Impl("naive-solve", "naive: scipy.linalg.solve(G + aI, X^T y, assume_a='pos') per alpha, "
         "Gram once", "naive", ("path",), lambda w: naive_solve),
    Impl("sklearn-ridge-refit", "naive: sklearn Ridge(alpha).fit per alpha", "naive",
         ("path",), lambda w: sklearn_ridge_refit, requires=("sklearn",),
         when=lambda w: w.name != "path-many-alphas"),
    Impl("numpy-svd", "plain NumPy: one numpy.linalg.svd, closed form per alpha", "peer",
         ("path", "loo", "gcv", "kfold"),
         lambda w: {"path": numpy_path, "loo": numpy_loo, "gcv": numpy_gcv,
                    "kfold": numpy_kfold}[w.kind]),
    Impl("sklearn-ridgecv-default", "sklearn RidgeCV(alphas, alpha_per_target=True), "
         "default gcv_mode", "peer", ("loo", "gcv"), lambda w: sklearn_ridgecv(None),
         requires=("sklearn",)),
    Impl("sklearn-ridgecv-svd", "sklearn RidgeCV(..., gcv_mode='svd')", "peer", ("loo",),
         lambda w: sklearn_ridgecv("svd"), requires=("sklearn",)),
    Impl("sklearn-ridgecv-eigen", "sklearn RidgeCV(..., gcv_mode='eigen')", "peer", ("loo",),
         lambda w: sklearn_ridgecv("eigen"), requires=("sklearn",)),
    Impl("himalaya", "himalaya RidgeCV (numpy backend)", "peer", ("kfold",),
         lambda w: himalaya_ridgecv, requires=("himalaya", "sklearn"),
         warnings=("ignore::DeprecationWarning", "ignore::FutureWarning")),
    Impl("gridsearch-per-target", "GridSearchCV(Ridge) per target", "peer", ("kfold",),
         lambda w: gridsearch_per_target, requires=("sklearn",),
         scale=lambda d: d.Y.shape[1] / gridsearch_targets(d).size),
    Impl("gridsearch-shared", "GridSearchCV(Ridge) on all targets, one shared alpha", "peer",
         ("kfold",), lambda w: gridsearch_shared, requires=("sklearn",)),
    Impl("fracridge", "fracridge (norm-fraction grid, per-target alphas)", "peer", ("path",),
         lambda w: None, requires=("fracridge",),
         warnings=("ignore::DeprecationWarning", "ignore::PendingDeprecationWarning",
                   "ignore::RuntimeWarning", "ignore::UserWarning")),
    Impl("limit-decomp", "machine limit: decomposition (dsyrk + dsyevd, float64)", "limit",
         ("path", "loo", "gcv", "kfold"), lambda w: limit_decomposition),
]
IMPLS_BY_ID = {i.id: i for i in IMPLS}
# Implementations that take scipy.sparse X as it is (the others would densify it).
SPARSE_IMPLS = ("sr-auto", "sklearn-ridgecv-default")


def cases():
    """(workload, impl) pairs of the suite, in order."""
    for w in WORKLOADS.values():
        for impl in IMPLS:
            if w.kind in impl.kinds and (impl.when is None or impl.when(w)) and \
                    (not w.density or impl.id in SPARSE_IMPLS):
                yield w, impl


# -- reference and checks ----------------------------------------------------------------------
_REFERENCE = {}


def reference(d):
    """spectralridge's result (method 'auto') for the data; the check oracle of every peer.

    Falls back to the NumPy one-SVD result (marked ``source='numpy-svd'``) while the
    cross-validation API of spectralridge is missing.
    """
    key = (d.workload.name, d.workload.kind, d.quick)
    if key not in _REFERENCE:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The best alpha of", UserWarning)
            _REFERENCE[key] = _compute_reference(d)
    return _REFERENCE[key]


def _compute_reference(d):
    w = d.workload
    if w.kind == "path":
        res, src = sr_path("auto")(d), "spectralridge"
    elif has_cv_api() and (w.kind != "kfold" or hasattr(_sr(), "ridge_cv")):
        res, src = sr_cv("auto")(d), "spectralridge"
    else:
        res, src = IMPLS_BY_ID["numpy-svd"].make(w)(d), "numpy-svd"
    res["source"] = src
    return res


def _tol(d):
    """Relative tolerance: float64 1e-7, float32 1e-3 (the factorizations' own errors are
    bounded by ``kappa eps`` with ``kappa <= e^6`` on these data; peers in float32 run
    in float32 throughout)."""
    return 1e-3 if d.X.dtype == np.float32 else 1e-7


def _relerr(a, b, axis=None):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b, axis=axis) / np.maximum(np.linalg.norm(b, axis=axis), 1e-300)


def check_path(d, res, ref):
    """Coefficients and intercepts for every alpha (relative error per alpha)."""
    tol = _tol(d)
    ce = _relerr(res["coef"], ref["coef"], axis=(1, 2)).max()
    assert ce <= tol, f"coefficients differ from spectralridge's: max rel. error {ce:.2e}"
    ie = _relerr(res["intercept"], ref["intercept"], axis=1).max()
    assert ie <= tol, f"intercepts differ from spectralridge's: max rel. error {ie:.2e}"
    return f"coef {ce:.0e}, intercept {ie:.0e} (tol {tol:g})"


def check_cv(d, res, ref, targets=None):
    """Same best score per target; where the best alpha differs it must be a tie in the
    reference's scores; coefficients agree where the alphas agree."""
    tol = 10 * _tol(d)
    t = np.arange(d.Y.shape[1]) if targets is None else np.asarray(targets)
    best_ref = ref["best_score"][t]
    se = (np.abs(res["best_score"] - best_ref) / np.abs(best_ref)).max()
    assert se <= tol, f"best CV score differs: max rel. error {se:.2e}"
    same = np.isclose(res["best_alpha"], ref["best_alpha"][t], rtol=1e-12)
    if not same.all():
        scores = ref["scores"][:, t[~same]]
        idx = np.searchsorted(d.alphas, res["best_alpha"][~same])
        idx = np.clip(idx, 0, d.alphas.size - 1)
        at = scores[idx, np.arange(idx.size)]
        tie = np.abs(at - best_ref[~same]) / best_ref[~same]
        assert tie.max() <= tol, f"best alphas differ on {np.count_nonzero(~same)} targets"
    assert same.mean() >= 0.95, f"best alphas differ on {np.count_nonzero(~same)} targets"
    ce = _relerr(np.asarray(res["coef"])[:, same], ref["coef"][:, t][:, same])
    assert ce <= tol, f"coefficients at the best alphas differ: rel. error {ce:.2e}"
    ties = "" if same.all() else " (others: ties)"
    return (f"best score {se:.0e}, same best alpha on {same.mean():.0%} of "
            f"{t.size} targets{ties}, coef {ce:.0e} (tol {tol:g})")


def check_shared(d, res, ref):
    """GridSearchCV on all targets: the alpha minimizing the mean over targets of the MSE."""
    tol = 10 * _tol(d)
    mean = ref["scores"].mean(axis=1)
    i = int(np.argmin(mean))
    se = abs(res["shared_score"] - mean[i]) / mean[i]
    assert se <= tol, f"best shared CV score differs: rel. error {se:.2e}"
    assert np.isclose(res["shared_alpha"], d.alphas[i], rtol=1e-12), "shared alpha differs"
    return f"same shared alpha, score {se:.0e} vs spectralridge's target mean (tol {tol:g})"


def check_fracridge(d, res, ref):
    """fracridge's coefficients equal ridge at the alphas it found (first 3 targets)."""
    sr = _sr()
    tol = 10 * _tol(d)
    coef = res["coef_pfk"]
    worst = 0.0
    for t in range(min(coef.shape[2], 3)):
        Xc, Yc, _, _ = _centred(d.X, d.Y[:, t])
        expect = sr.RidgeSolver(Xc, Yc, fit_intercept=False).coef(res["alphas"][:, t])
        worst = max(worst, _relerr(coef[:, :, t].T, expect, axis=1).max())
    assert worst <= tol, f"fracridge coefficients differ: max rel. error {worst:.2e}"
    return f"coef {worst:.0e} vs spectralridge at fracridge's alphas (tol {tol:g})"


def runner(impl, d):
    """The callable to time, and the check of its result against spectralridge's."""
    w = d.workload
    ref = reference(d) if impl.role != "limit" else None
    if impl.id == "fracridge":
        fracs = (fracridge_fracs(d, ref) if w.full[2] == 1
                 else np.linspace(0.05, 1.0, d.alphas.size))
        return (lambda: fracridge_path(d, fracs)), (lambda res: check_fracridge(d, res, ref))
    fn = impl.make(w)
    call = lambda: fn(d)  # noqa: E731
    if impl.role == "limit":
        return call, (lambda res: "no check (machine limit)")
    if w.kind == "path":
        return call, (lambda res: check_path(d, res, ref))
    if impl.id == "gridsearch-shared":
        return call, (lambda res: check_shared(d, res, ref))
    if impl.id == "gridsearch-per-target":
        return call, (lambda res: check_cv(d, res, ref, targets=res["targets"]))
    if w.kind == "gcv" and impl.id.startswith("sklearn"):
        # scikit-learn has no GCV: its RidgeCV computes exact leave-one-out. Checked
        # against spectralridge's LOO on the same data.
        def check(res):
            loo = reference(dataclasses.replace(d, workload=dataclasses.replace(w, kind="loo")))
            return "exact LOO (not GCV): " + check_cv(d, res, loo)
        return call, check
    return call, (lambda res: check_cv(d, res, ref))


# -- machine description -----------------------------------------------------------------------
def machine_info():
    import platform
    import threadpoolctl
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("scipy", "sklearn", "himalaya", "fracridge", "spectralridge"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional
            versions[mod] = "not installed"
    import sklearn  # noqa: F401 - loads its BLAS users too
    pools = [{k: v for k, v in info.items() if k in ("user_api", "internal_api", "prefix",
                                                     "version", "num_threads", "architecture",
                                                     "filepath")}
             for info in threadpoolctl.threadpool_info()]
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "versions": versions, "blas": pools,
            "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS",
                                                   "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}


# -- peak memory in a fresh process ------------------------------------------------------------
def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak():
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _call_for(impl, d):
    if impl.id == "fracridge":
        fracs = np.linspace(0.05, 1.0, d.alphas.size)
        return lambda: fracridge_path(d, fracs)
    fn = impl.make(d.workload)
    return lambda: fn(d)


def measure_memory(workload, impl_id, quick):
    """Whole-process peak RSS of one run, and its increment over imports + data (bytes).

    A warm-up call on tiny data of the same kind first runs lazy imports and JIT
    compilation (fracridge's numba); the kernel's peak counter is then reset, so that the
    peak is the measured call's (whole process: interpreter, imports, data and the call).
    """
    impl = IMPLS_BY_ID[impl_id]
    w = WORKLOADS[workload]
    for mod in impl.requires:
        __import__(mod)
    if impl.role == "sr" or impl_id == "fracridge":
        _sr()
    tiny_w = dataclasses.replace(w, name="tiny", full=(100, 20, 3, 5), quick=(100, 20, 3, 5))
    X, Y = generate_sparse(100, 20, 3, 0.2, 0) if w.density else generate(100, 20, 3, 0)
    tiny = Data(X.astype(w.dtype), Y.astype(w.dtype), np.logspace(-3, 5, 5), tiny_w, quick)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _call_for(impl, tiny)()
        d = get_data(workload, quick)
        call = _call_for(impl, d)
        del X, Y, tiny
        gc.collect()
        reset = _reset_peak()
        base = _rss() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        call()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"baseline": base, "peak": peak, "increment": max(peak - base, 0),
            "exact_baseline": reset}


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "memory":
        quick = "--quick" in sys.argv[4:] or quick_from_env()
        print(json.dumps(measure_memory(sys.argv[2], sys.argv[3], quick)))
    else:
        sys.exit("usage: python bench/workloads.py memory WORKLOAD IMPL [--quick]")
