"""Data generators and independent reference solutions shared by the tests."""
import numpy as np

RTOL = {np.float32: 2e-4, np.float64: 1e-9}


def make_data(n, p, k=None, *, seed=0, decay=1.0, dtype=np.float64, offset=3.0):
    """X with singular values decaying like ``exp(-decay * i / p)``, shifted by `offset`."""
    rng = np.random.default_rng(seed)
    Q1, _ = np.linalg.qr(rng.standard_normal((n, min(n, p))))
    Q2, _ = np.linalg.qr(rng.standard_normal((p, min(n, p))))
    s = np.exp(-decay * np.arange(min(n, p)) / min(n, p)) * np.sqrt(n)
    X = (Q1 * s) @ Q2.T + offset * rng.standard_normal(p)
    W = rng.standard_normal((p, 1 if k is None else k))
    Y = X @ W + rng.standard_normal((n, W.shape[1])) + 2.0
    Y = Y[:, 0] if k is None else Y
    return X.astype(dtype), Y.astype(dtype)


def ridge_oracle(X, Y, alpha, fit_intercept=True, sample_weight=None, penalty_factor=None):
    """Direct solve of the normal equations of the weighted, centred problem (float64);
    the penalty ``alpha sum_j c_j W_j^2`` with `penalty_factor` c."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    if fit_intercept:  # two-pass means: a constant column centres to exactly zero
        xm, ym = w @ X / w.sum(), w @ Y / w.sum()
        xm, ym = xm + w @ (X - xm) / w.sum(), ym + w @ (Y - ym) / w.sum()
    else:
        xm, ym = np.zeros(X.shape[1]), np.zeros(Y.shape[1:])
    Xc = np.sqrt(w)[:, None] * (X - xm)
    Yc = np.sqrt(w).reshape(-1, *[1] * (Y.ndim - 1)) * (Y - ym)
    if alpha == 0:
        # minimum-norm least squares; centring removes one dimension of the sample space
        U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
        rank = min(int(np.count_nonzero(s > max(X.shape) * np.finfo(float).eps * s[0])),
                   int(np.count_nonzero(w)) - int(fit_intercept))
        W = Vt[:rank].T @ ((U[:, :rank].T @ Yc) / s[:rank].reshape(-1, *[1] * (Yc.ndim - 1)))
    else:
        c = np.ones(X.shape[1]) if penalty_factor is None else np.asarray(penalty_factor)
        W = np.linalg.solve(Xc.T @ Xc + alpha * np.diag(c), Xc.T @ Yc)
    return W, ym - xm @ W


def traced_peak(func):
    """``(func(), peak bytes traced by tracemalloc while it ran)``."""
    import tracemalloc
    tracemalloc.start()
    try:
        result = func()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def brute_force_scores(X, Y, alphas, splits, fit_intercept, w, scoring="mse"):
    """Refit without each held-out set for every alpha; pool the weighted errors."""
    X, Y = X.astype(float), Y.astype(float)
    Y2 = Y.reshape(len(Y), -1)
    w = np.ones(len(X)) if w is None else w
    sse = np.zeros((len(alphas), Y2.shape[1]))
    sst = np.zeros(Y2.shape[1])
    mean = w @ Y2 / w.sum()
    total = 0.0
    for train, test in splits:
        for i, a in enumerate(alphas):
            W, b = ridge_oracle(X[train], Y2[train], a, fit_intercept, w[train])
            sse[i] += w[test] @ (Y2[test] - X[test] @ W - b) ** 2
        sst += w[test] @ (Y2[test] - mean) ** 2
        total += w[test].sum()
    out = sse / total if scoring == "mse" else 1 - sse / sst
    return out[:, 0] if Y.ndim == 1 else out
