#!/usr/bin/env python
"""Accuracy of K-fold held-out errors on NumPy, Dask and the array-API backend
(bench/RESULTS.md).

The oracle: per fold and alpha, lstsq (QR with column pivoting) of the augmented system
``[Xc; sqrt(alpha) I]``, residuals formed from the held-out rows. The array-API columns use
torch (CPU) where it is installed, else array_api_strict, else are left out: that backend
decomposes every training set from its rows (NumPy downdates the full Gram).
"""
import warnings

import dask
import dask.array as da
import numpy as np
import scipy.linalg as sla

import spectralridge as sr

warnings.simplefilter("ignore", sr.GridEdgeWarning)

try:
    import torch as device_xp
except ImportError:
    try:
        import array_api_strict as device_xp
    except ImportError:
        device_xp = None

def data(n, p, k, cond, noise, seed=0):
    rng = np.random.default_rng(seed)
    Q1, _ = np.linalg.qr(rng.standard_normal((n, p)))
    Q2, _ = np.linalg.qr(rng.standard_normal((p, p)))
    s = np.logspace(0, -np.log10(cond), p) * np.sqrt(n)
    X = (Q1 * s) @ Q2.T + 3.0 * rng.standard_normal(p)
    W = rng.standard_normal((p, k))
    Y = X @ W + noise * rng.standard_normal((n, k)) + 2.0
    return X, Y

def oracle(X, Y, alphas, K):
    n, p = X.shape
    sse = np.zeros((alphas.size, Y.shape[1]))
    for test in np.array_split(np.arange(n), K):
        train = np.setdiff1d(np.arange(n), test)
        xm, ym = X[train].mean(0), Y[train].mean(0)
        Xc, Yc = X[train] - xm, Y[train] - ym
        for i, a in enumerate(alphas):
            A = np.vstack([Xc, np.sqrt(a) * np.eye(p)])
            B = np.vstack([Yc, np.zeros((p, Y.shape[1]))])
            W = sla.lstsq(A, B, lapack_driver="gelsy")[0]
            sse[i] += np.square(Y[test] - ym - (X[test] - xm) @ W).sum(0)
    return sse / n

n, p, k, K = 3000, 40, 4, 5
alphas = np.logspace(-6, 2, 9)
print(f"n={n} p={p} k={k} K={K}, alphas 1e-6..1e2; max relative error of the pooled MSE over alphas, targets")
kinds = [("np", "auto"), ("np", "svd"), ("da", "gram"), ("da", "svd")]
header = "cond   noise   numpy-auto  numpy-svd  dask-gram  dask-svd"
if device_xp is not None:
    kinds += [("xp", "auto"), ("xp", "gram"), ("xp", "svd")]
    name = device_xp.__name__.split("_")[-1]
    header += f"  {name}-auto  {name}-gram  {name}-svd"
print(header)
with dask.config.set(scheduler="synchronous"):
    for cond in (1e2, 1e5, 1e7):
        for noise in (1.0, 1e-4, 1e-7):
            X, Y = data(n, p, k, cond, noise)
            ref = oracle(X, Y, alphas, K)
            row = []
            for kind, method in kinds:
                if kind == "np":
                    got = sr.ridge_cv(X, Y, alphas, cv=K, method=method).scores
                elif kind == "xp":
                    got = np.from_dlpack(sr.ridge_cv(
                        device_xp.asarray(X), device_xp.asarray(Y), alphas, cv=K,
                        method=method).scores)
                else:
                    got = sr.ridge_cv(da.from_array(X, chunks=(500, p)), da.from_array(Y, chunks=(500, 2)), alphas, cv=K, method=method).scores.compute()
                row.append(np.max(np.abs(got - ref) / ref))
            print(f"{cond:.0e}  {noise:.0e}  " + "  ".join(f"{e:9.1e}" for e in row))
