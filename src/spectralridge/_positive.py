"""Ridge regression with non-negative coefficients (``positive=True``).

Not spectral: the bound changes the active set with alpha, so there is no closed form over
alphas. Per distinct alpha, the centred weighted Gram ``G = Xc^T Xc`` (formed once, implicitly
centred for sparse X) plus ``alpha diag(c)`` is factorized as ``M = Q diag(lam) Q^T`` (its
numerically positive part), and each target's objective
``||Yc - Xc W||^2 + alpha sum_j c_j W_j^2 = ||diag(sqrt(lam)) Q^T W - diag(1/sqrt(lam)) Q^T
Xc^T Yc||^2 + const`` is minimized over ``W >= 0`` by the active-set NNLS of Lawson and Hanson
(:func:`scipy.optimize.nnls`) on that n_features x n_features system: an exact solution of the
bound-constrained problem, where scikit-learn's ``Ridge(positive=True)`` stops L-BFGS-B at its
``tol``. The intercept, unconstrained and unpenalized, is ``ym - xm^T W``.

References
----------
Lawson, C. L., Hanson, R. J. (1974). Solving Least Squares Problems. Prentice-Hall, ch. 23.
"""

import numpy as np
from scipy.optimize import nnls

from ._design import make_design
from ._spectrum import Centering, eigh_descending, project_design, weighted_sum

_EPS = np.finfo(np.float64).eps


def positive_ridge(X, Y, alphas, *, fit_intercept=True, sample_weight=None,
                   penalty_factor=None):
    """Ridge coefficients constrained to be non-negative, one alpha per target.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features), validated
    Y : ndarray of shape (n_samples, n_targets), validated
    alphas : ndarray of shape (n_targets,)
    fit_intercept : bool
    sample_weight : ndarray of shape (n_samples,) or None
    penalty_factor : ndarray of shape (n_features,) or None
        Non-negative factors ``c_j`` of the penalty ``alpha sum_j c_j W_j^2``.

    Returns
    -------
    coef : ndarray of shape (n_features, n_targets), in Y's dtype
    intercept : ndarray of shape (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> from spectralridge._positive import positive_ridge
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    >>> y = X @ [2.0, -1.0]
    >>> coef, intercept = positive_ridge(X, y[:, None], np.array([0.1]))
    >>> coef.ravel().round(4)
    array([1.9048, 0.    ])
    """
    centering = Centering(X, Y, sample_weight, fit_intercept)
    design = make_design(X, centering)
    G = design.gram(gram=True)
    G = np.triu(G) + np.triu(G, 1).T
    XtY, _ = project_design(design, Y, centering)
    p, k = G.shape[0], Y.shape[1]
    c = np.ones(p) if penalty_factor is None else penalty_factor
    coef = np.zeros((p, k))
    for alpha in np.unique(alphas):
        M = np.asfortranarray(G + alpha * np.diag(c))
        lam, Q = eigh_descending(M)
        keep = lam > max(X.shape) * _EPS * lam[0] if lam.size and lam[0] > 0 else \
            np.zeros(p, dtype=bool)
        root = np.sqrt(lam[keep])
        A = root[:, None] * Q[:, keep].T
        B = (Q[:, keep].T @ XtY) / root[:, None]
        for t in np.flatnonzero(alphas == alpha):
            if keep.any():
                coef[:, t] = nnls(A, B[:, t], maxiter=50 * p)[0]
    intercept = centering.ym - weighted_sum(centering.xm, coef)
    if not fit_intercept:
        intercept = np.zeros(k)
    return coef.astype(Y.dtype), intercept.astype(Y.dtype)
