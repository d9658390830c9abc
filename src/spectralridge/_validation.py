"""Every check of user input, and every error message about it.

Arrays come back as new or read-only-safe NumPy arrays of the working dtype: float32 stays
float32 when all data arrays are float32, everything else becomes float64. Inputs are never
modified. Messages name the argument, the rule and the value received; where scikit-learn's
estimator checks match on a phrase ("Input X contains NaN") we use the same phrase.
"""

import numbers
import sys
import warnings

import numpy as np

METHODS = ("auto", "svd", "gram", "kernel")
_BLAS_INT_MAX = np.iinfo(np.int32).max


def describe(obj):
    return type(obj).__name__


def as_array(a, name, *, ndims, keep_float32=True):
    """Return `a` as a finite float32/float64 array with ``a.ndim in ndims``."""
    if a is None:
        raise TypeError(f"{name} must be an array-like of numbers, got None.")
    if hasattr(a, "toarray") and hasattr(a, "nnz"):
        raise TypeError(f"{name} must be a dense array; got a sparse {describe(a)}. "
                        "Convert it with .toarray().")
    if isinstance(a, (str, bytes, dict, set)):
        raise TypeError(f"{name} must be an array-like of numbers, got {describe(a)}.")
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as exc:  # ragged nested sequences
        raise ValueError(f"{name} could not be converted to an array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}.")
    if kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise TypeError(f"{name} must contain only numbers; got an object array "
                            "with non-numeric entries.") from None
    elif kind not in "biuf":
        raise TypeError(f"{name} must contain numbers, got an array of dtype {arr.dtype}.")
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want}, got an array of shape {arr.shape} "
                         f"({arr.ndim}-D).")
    if keep_float32 and arr.dtype.kind == "f" and arr.dtype.itemsize == 4:
        dtype = np.float32
    else:
        dtype = np.float64
    arr = arr.astype(dtype, copy=False)  # also makes big-endian data native
    check_finite(arr, name)
    return arr


def is_sparse(a):
    return hasattr(a, "toarray") and hasattr(a, "nnz")


def check_number_dtype(dtype, name):
    """Refuse complex (ValueError) and non-numeric (TypeError) dtypes."""
    if dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {dtype}.")
    if dtype.kind not in "biuf":
        raise TypeError(f"{name} must contain numbers, got an array of dtype {dtype}.")


def as_sparse(a, name):
    """Return scipy.sparse `a` as a canonical CSR matrix (or array) of float32 (kept) or
    float64 with finite stored values; copies only where a conversion is needed."""
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got a sparse {describe(a)} of shape "
                         f"{a.shape} ({a.ndim}-D).")
    check_number_dtype(a.dtype, name)
    arr = a.tocsr()  # no copy for CSR; other formats are converted once
    dtype = np.float32 if a.dtype == np.float32 else np.float64
    arr = arr.astype(dtype, copy=False)
    if not arr.has_canonical_format:  # never sum duplicates in the caller's matrix
        arr = arr.copy() if arr is a else arr
        arr.sum_duplicates()
    check_finite(arr.data, name)
    return arr


# Modules whose arrays are array-API arrays without necessarily defining __array_namespace__.
_ARRAY_MODULES = ("torch", "cupy", "array_api_strict", "jax", "jaxlib")


def is_dask_input(*objs):
    """Whether any of `objs` is a Dask collection; never imports Dask itself."""
    if "dask" not in sys.modules:
        return False
    from dask.base import is_dask_collection
    return any(is_dask_collection(o) for o in objs)


def is_device_array(a):
    """Whether `a` is an array of a non-NumPy array-API library (never imports one)."""
    if a is None or isinstance(a, (np.ndarray, np.generic, numbers.Number, str, bytes)):
        return False
    root = type(a).__module__.split(".")[0]
    if root == "dask":
        return False
    return root in _ARRAY_MODULES or hasattr(a, "__array_namespace__")


def is_array_api_input(*objs):
    """Whether any of `objs` is a torch, CuPy, array_api_strict (...) array."""
    return any(is_device_array(o) for o in objs)


def check_on_host(what, **arrays):
    """A TypeError naming the argument where a device (array-API) array is given to `what`,
    which needs NumPy, scipy.sparse or Dask data."""
    for name, a in arrays.items():
        if is_device_array(a):
            kind = f"{type(a).__module__.split('.')[0]} {describe(a)}"
            raise TypeError(f"{name} is of type {kind}: {what} needs NumPy, scipy.sparse or "
                            f"Dask input (convert {name} first).")


def refuse_sparse_with_dask(*arrays):
    """Sparse input does not mix with Dask input: a TypeError naming the argument."""
    for name, a in zip(("X", "Y", "sample_weight"), arrays):
        if is_sparse(a):
            raise TypeError(f"{name} is a sparse {describe(a)}, which is not supported with "
                            "Dask input; use NumPy or scipy.sparse data throughout, or "
                            f"convert {name} with .toarray().")


def check_finite(arr, name):
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(arr, dtype=np.float64)
    if np.isfinite(total):
        return
    if np.isnan(arr).any():
        raise ValueError(f"Input {name} contains NaN.")
    if np.isinf(arr).any():
        raise ValueError(f"Input {name} contains infinity or a value too large for "
                         f"dtype('{arr.dtype}').")


def _check_blas_dim(value, what):
    if value > _BLAS_INT_MAX:
        raise ValueError(f"{what} is {value}, more than the {_BLAS_INT_MAX} that 32-bit "
                         "BLAS/LAPACK integers can index; process the data in blocks.")


def check_data(X, Y, sample_weight=None):
    """Validate the training data.

    Returns
    -------
    X : ndarray (n_samples, n_features), working dtype, any layout, or a canonical CSR
        scipy.sparse matrix or array (see :func:`as_sparse`)
    Y : ndarray (n_samples, n_targets), working dtype, C-contiguous
    sample_weight : ndarray (n_samples,) float64 or None
    y_was_1d : bool
    """
    X = as_sparse(X, "X") if is_sparse(X) else as_array(X, "X", ndims=(2,))
    Y, y_was_1d = check_shapes(X, as_array(Y, "Y", ndims=(1, 2)))
    for value, what in ((X.shape[0], "n_samples"), (X.shape[1], "n_features"),
                        (Y.shape[1], "n_targets")):
        _check_blas_dim(value, what)
    dtype = np.float32 if X.dtype == np.float32 and Y.dtype == np.float32 else np.float64
    X = X.astype(dtype, copy=False)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    w = None
    if sample_weight is not None:
        w = check_sample_weight(sample_weight, X.shape[0])
    return X, Y, w, y_was_1d


def check_shapes(X, Y):
    """Shape rules of the training data (NumPy or Dask arrays of ndim 2 and 1-2).

    Returns `Y` as 2-D and whether it was 1-D.
    """
    if X.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                         "of 1 is required.")
    if X.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                         "of 1 is required.")
    y_was_1d = Y.ndim == 1
    if y_was_1d:
        Y = Y[:, None]
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X and Y must have the same number of samples; got "
                         f"X.shape={X.shape} and Y.shape={Y.shape}.")
    if Y.shape[1] == 0:
        raise ValueError(f"Y must have at least one target, got Y.shape={Y.shape}.")
    return Y, y_was_1d


def check_nonnegative_weights(w, start=0):
    """Refuse a negative entry of the sample weights `w` (those from index `start` on)."""
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"sample_weight must be non-negative, got sample_weight[{start + i}]="
                         f"{float(w[i])!r}.")


def check_sample_weight(sample_weight, n_samples):
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        sample_weight = np.full(n_samples, float(sample_weight))
    w = as_array(sample_weight, "sample_weight", ndims=(1,), keep_float32=False)
    if w.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have one entry per sample: expected "
                         f"({n_samples},), got shape {w.shape}.")
    check_nonnegative_weights(w)
    if not (w > 0).any():
        raise ValueError("sample_weight must have at least one positive entry; all "
                         "weights are zero.")
    return w


# Largest ratio of penalty factors: the rescaled design's condition number grows like the
# square root of it, and must stay well inside the SVD's rank cutoff (~1 / (n eps)).
PENALTY_FACTOR_RATIO = 1e12


def check_penalty_factor(penalty_factor, n_features):
    """Per-feature penalty factors as a float64 copy (n_features,), or None: non-negative
    with at least one positive (0: unpenalized feature)."""
    if penalty_factor is None:
        return None
    c = np.array(as_array(penalty_factor, "penalty_factor", ndims=(1,), keep_float32=False))
    if c.shape[0] != n_features:
        raise ValueError(f"penalty_factor must have one entry per feature: expected "
                         f"({n_features},), got shape {c.shape}.")
    valid = c >= 0
    if not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        raise ValueError(f"penalty_factor must be non-negative, got penalty_factor[{i}]="
                         f"{float(c[i])!r}.")
    positive = c[c > 0]
    if not positive.size:
        raise ValueError("penalty_factor must have at least one positive entry; all are 0 "
                         "(no feature penalized: use least squares).")
    if positive.max() > PENALTY_FACTOR_RATIO * positive.min():
        raise ValueError(f"penalty_factor spans a ratio of {positive.max() / positive.min():.3g}, "
                         f"more than {PENALTY_FACTOR_RATIO:g} (among its positive entries): "
                         "results would lose accuracy. Give the features to leave unpenalized "
                         "the factor 0.")
    return c


def check_alphas(alphas, name="alphas"):
    """Return (alphas as a 1-D float64 array, whether a scalar was given)."""
    scalar = np.ndim(alphas) == 0 and not isinstance(alphas, (str, bytes))
    if isinstance(alphas, bool) or (scalar and not isinstance(alphas, (numbers.Real, np.generic, np.ndarray))):
        raise TypeError(f"{name} must be a non-negative number or a 1-D array of them, "
                        f"got {describe(alphas)}.")
    arr = as_array(np.atleast_1d(alphas) if scalar else alphas, name, ndims=(1,),
                   keep_float32=False)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty.")
    if (arr < 0).any():
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{name} must be non-negative, got {name}[{i}]={float(arr[i])!r}.")
    _check_blas_dim(arr.size, f"the number of {name}")
    # a copy: grids are handed back in results, which must not share memory with the input
    return arr.copy(), scalar


def check_method(method):
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    return method


def check_scoring(scoring):
    if scoring not in ("mse", "r2"):
        raise ValueError(f"scoring must be 'mse' or 'r2', got {scoring!r}.")
    return scoring


def check_rule(rule, named_cv):
    if rule not in ("min", "1se"):
        raise ValueError(f"rule must be 'min' or '1se', got {rule!r}.")
    if rule == "1se" and named_cv is not None:
        raise ValueError(f"rule='1se' needs per-split scores: use a number of folds or a "
                         f"splitter for cv, got cv={named_cv!r}.")
    return rule


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_X_new(X_new, n_features, dtype):
    X_new = as_sparse(X_new, "X") if is_sparse(X_new) else as_array(X_new, "X", ndims=(2,))
    check_X_new_shape(X_new.shape, n_features)
    _check_blas_dim(X_new.shape[0], "n_samples of X")
    return X_new.astype(dtype, copy=False)


def check_X_new_shape(shape, n_features):
    """Refuse new data `X` of `shape` without rows or with other than `n_features`."""
    if shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={shape}) while a "
                         "minimum of 1 is required.")
    if shape[1] != n_features:
        raise ValueError(f"X has {shape[1]} features, but the solver is expecting "
                         f"{n_features} features as input.")


def check_dofs(dofs, rank):
    arr = as_array(np.atleast_1d(dofs), "dofs", ndims=(1,), keep_float32=False)
    if arr.size == 0:
        raise ValueError("dofs must not be empty.")
    bad = np.flatnonzero((arr <= 0) | (arr > rank))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"dofs must lie in (0, rank] = (0, {rank}], got dofs[{i}]="
                         f"{float(arr[i])!r}.")
    return arr, np.ndim(dofs) == 0


# -- spectralridge.theory: Hessians, eigenvalues, gradient-descent parameters ------------------

#: Relative tolerance of the symmetry and positive semi-definiteness checks on a Hessian (and
#: on given eigenvalues), by input dtype: ``||H - H^T||_F <= rtol ||H||_F`` and
#: ``lam_min >= -rtol max|lam|``.
HESSIAN_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def check_hessian(hessian):
    """Validate a Hessian.

    Returns
    -------
    H : ndarray (p, p) float64, the symmetric part ``(H + H^T) / 2`` (a new array)
    dtype : the working dtype of the input (float32 or float64)
    """
    H = as_array(hessian, "hessian", ndims=(2,))
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"hessian must be a square matrix, got an array of shape {H.shape}.")
    if H.shape[0] == 0:
        raise ValueError(f"hessian must have at least one row and column, got an array of "
                         f"shape {H.shape}.")
    dtype = H.dtype
    rtol = HESSIAN_RTOL[dtype]
    H = H.astype(np.float64)
    scale = np.abs(H).max()
    if scale > 0:  # compare the scaled matrix, so that huge entries cannot overflow the norms
        Hs = H / scale
        asym = np.linalg.norm(Hs - Hs.T) / np.linalg.norm(Hs)
        if asym > rtol:
            raise ValueError(f"hessian must be symmetric: ||H - H^T||_F / ||H||_F = {asym:.3g} "
                             f"exceeds the tolerance {rtol:g}.")
    return 0.5 * (H + H.T), dtype


def check_hessian_eigenvalues(lam, dtype):
    """Reject an indefinite Hessian from its eigenvalues; clip tiny negative ones to zero."""
    rtol = HESSIAN_RTOL[np.dtype(dtype)]
    scale = np.abs(lam).max()
    i = int(np.argmin(lam))
    if lam[i] < -rtol * scale:
        raise ValueError(f"hessian must be positive semi-definite: its smallest eigenvalue "
                         f"{float(lam[i])!r} is below the tolerance -{rtol:g} * max|eigenvalue| "
                         f"= {float(-rtol * scale)!r}.")
    return np.maximum(lam, 0.0)


def check_eigenvalues(eigenvalues, name="eigenvalues"):
    """Return the eigenvalues of a PSD Hessian as 1-D float64, tiny negatives clipped to 0."""
    lam = as_array(eigenvalues, name, ndims=(1,))
    if lam.size == 0:
        raise ValueError(f"{name} must not be empty.")
    rtol = HESSIAN_RTOL[lam.dtype]
    lam = lam.astype(np.float64)
    scale = np.abs(lam).max()
    i = int(np.argmin(lam))
    if lam[i] < -rtol * scale:
        raise ValueError(f"{name} must be non-negative (those of a positive semi-definite "
                         f"Hessian), got {name}[{i}]={float(lam[i])!r}, below the tolerance "
                         f"-{rtol:g} * max|{name}| = {float(-rtol * scale)!r}.")
    return np.maximum(lam, 0.0)


def check_w_star(w_star, n_features):
    """Return the unregularized optimum as a 1-D array of length `n_features`."""
    w = as_array(w_star, "w_star", ndims=(1,))
    if w.shape[0] != n_features:
        raise ValueError(f"w_star must have one entry per row of hessian: expected shape "
                         f"({n_features},), got shape {w.shape}.")
    return w


def check_lr(lr):
    """Return the gradient-descent step size as a positive finite float."""
    if isinstance(lr, np.ndarray) and lr.ndim == 0 and lr.dtype.kind in "iuf":
        lr = lr[()]
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (numbers.Real, np.floating,
                                                                np.integer)):
        raise TypeError(f"lr must be a positive number, got {describe(lr)}.")
    lr = float(lr)
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got lr={lr!r}.")
    return lr


def check_steps(steps):
    """Return (steps as 1-D float64 non-negative integers, whether a scalar was given)."""
    scalar = np.ndim(steps) == 0 and not isinstance(steps, (str, bytes))
    if isinstance(steps, (bool, np.bool_, str, bytes)) or (
            scalar and not isinstance(steps, (numbers.Real, np.generic, np.ndarray))):
        raise TypeError(f"steps must be a non-negative integer or a 1-D array of them, "
                        f"got {describe(steps)}.")
    arr = np.atleast_1d(steps) if scalar else steps
    if np.asarray(arr).dtype.kind == "b":
        raise TypeError("steps must be non-negative integers, got an array of dtype bool.")
    arr = as_array(arr, "steps", ndims=(1,), keep_float32=False)
    if arr.size == 0:
        raise ValueError("steps must not be empty.")
    bad = np.flatnonzero((arr < 0) | (arr != np.round(arr)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"steps must be non-negative integers, got steps[{i}]="
                         f"{float(arr[i])!r}.")
    return arr, scalar


def warn_if_divergent(lr, lam_max):
    """Warn (RuntimeWarning) when gradient descent with step `lr` does not converge."""
    if lr * lam_max >= 2.0:
        warnings.warn(f"lr={lr!r} >= 2 / lam_max = {2.0 / lam_max!r}: gradient descent does "
                      "not converge on this quadratic (|1 - lr * lam_max| >= 1, the steepest "
                      "direction oscillates or grows without bound).", RuntimeWarning,
                      stacklevel=3)


def check_n_components(n_components, rank):
    """Return (n_components as a 1-D int array within [0, rank], whether a scalar was given)."""
    scalar = np.ndim(n_components) == 0
    arr = np.atleast_1d(np.asarray(n_components))
    if arr.dtype.kind not in "iu" or arr.ndim != 1 or arr.size == 0:
        raise TypeError(f"n_components must be an integer or a non-empty 1-D array of "
                        f"integers, got {describe(n_components)} of dtype {arr.dtype}.")
    bad = np.flatnonzero((arr < 0) | (arr > rank))
    if bad.size:
        raise ValueError(f"n_components must lie in [0, rank] = [0, {rank}], got "
                         f"n_components[{bad[0]}]={int(arr[bad[0]])}.")
    return arr.astype(np.intp), scalar


def check_groups(groups, n_samples, cv):
    """Return `groups` as a 1-D array of one label per sample, or None.

    Raises where `cv` cannot honour groups: leave-one-out and GCV ('loo', 'gcv', or None
    for the estimators) hold out single samples, and given (train, test) pairs are fixed.
    Dask `groups` are computed (one label per sample).
    """
    if groups is None:
        return None
    if isinstance(cv, str) and cv in CRITERIA:
        raise ValueError(f"groups cannot be used with cv={cv!r}: it does not split the "
                         "samples.")
    if cv is None or (isinstance(cv, str) and cv in ("loo", "gcv")):
        name = "'loo'" if cv is None else repr(cv)
        raise ValueError(f"groups cannot be used with cv={name}: leave-one-out and GCV hold "
                         "out single samples, leaving the rest of their group in the training "
                         "set. Use cv=K (group K-fold) or a group splitter such as "
                         "sklearn.model_selection.LeaveOneGroupOut.")
    if hasattr(groups, "compute") and hasattr(groups, "dask"):
        groups = groups.compute()
    if isinstance(groups, (str, bytes)):
        raise TypeError(f"groups must be an array-like of one label per sample, got "
                        f"{describe(groups)}.")
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"groups must have one entry per sample: expected ({n_samples},), "
                         f"got shape {arr.shape}.")
    if arr.dtype.kind in "fc" and np.isnan(arr).any():
        raise ValueError("Input groups contains NaN.")
    if not (isinstance(cv, (str, numbers.Integral)) or hasattr(cv, "split")):
        raise ValueError("groups cannot be used with cv given as (train, test) pairs: the "
                         "splits are already fixed. Build the pairs from the groups, or pass "
                         "cv=K (group K-fold) or a group splitter with the groups.")
    return arr


def group_folds(groups, n_splits):
    """Test sets of scikit-learn's ``GroupKFold(n_splits)`` (without shuffling).

    Groups, largest first, go to the fold with the fewest samples so far; every group lies
    in exactly one test set.
    """
    labels, inverse = np.unique(groups, return_inverse=True)
    if n_splits > labels.size:
        raise ValueError(f"cv={n_splits} folds with groups needs at least {n_splits} distinct "
                         f"groups, got {labels.size}.")
    sizes = np.bincount(inverse)
    order = np.argsort(sizes, kind="stable")[::-1]  # scikit-learn's order, ties included
    fold_sizes = np.zeros(n_splits)
    fold_of_group = np.empty(labels.size, dtype=np.intp)
    for g in order:
        lightest = int(np.argmin(fold_sizes))
        fold_sizes[lightest] += sizes[g]
        fold_of_group[g] = lightest
    fold = fold_of_group[inverse.ravel()]
    return [np.flatnonzero(fold == f) for f in range(n_splits)]


def check_cv(cv, X, Y, groups=None):
    """Turn `cv` (int, splitter or iterable of pairs) into a list of (train, test) arrays.

    An int K gives K contiguous folds (scikit-learn's ``KFold(K)``), or with `groups` (as
    returned by :func:`check_groups`) the folds of ``GroupKFold(K)``.
    """
    n = X.shape[0]
    rule = ("cv must be 'loo', 'gcv', an int >= 2, a splitter with a split method, or an "
            "iterable of (train, test) index arrays")
    if isinstance(cv, str):
        raise ValueError(f"{rule}; got {cv!r}.")
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if not 2 <= cv <= n:
            raise ValueError(f"cv={cv} folds must be between 2 and n_samples={n}.")
        if groups is not None:
            everything = np.arange(n)
            return [(np.setdiff1d(everything, test), test)
                    for test in group_folds(groups, int(cv))]
        return [(np.concatenate([np.arange(0, f.start), np.arange(f.stop, n)]),
                 np.arange(f.start, f.stop))
                for f in (slice(b[0], b[-1] + 1) for b in np.array_split(np.arange(n), cv))]
    if hasattr(cv, "split"):
        pairs = cv.split(X, Y, groups) if groups is not None else cv.split(X, Y)
    elif hasattr(cv, "__iter__") and not isinstance(cv, bool):
        pairs = cv
    else:
        raise TypeError(f"{rule}; got {describe(cv)}.")
    splits = [_check_split(pair, i, n) for i, pair in enumerate(pairs)]
    if not splits:
        raise ValueError("cv produced no (train, test) splits.")
    return splits


def _check_split(pair, i, n):
    try:
        train, test = pair
    except (TypeError, ValueError):
        raise ValueError(f"cv split {i} must be a (train, test) pair of index arrays, got "
                         f"{describe(pair)}.") from None
    out = []
    for name, idx in (("train", train), ("test", test)):
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ValueError(f"cv split {i}: boolean {name} mask must have shape ({n},), "
                                 f"got {idx.shape}.")
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise ValueError(f"cv split {i}: {name} must be a 1-D array of integer indices, "
                             f"got dtype {idx.dtype} and shape {idx.shape}.")
        if idx.size == 0:
            raise ValueError(f"cv split {i}: {name} set is empty.")
        if idx.min() < 0 or idx.max() >= n:
            raise ValueError(f"cv split {i}: {name} indices must lie in [0, {n}), got "
                             f"{int(idx.min())}..{int(idx.max())}.")
        out.append(idx.astype(np.intp))
    if np.intersect1d(out[0], out[1]).size:
        raise ValueError(f"cv split {i}: train and test sets overlap.")
    return tuple(out)


# -- spectralridge.stats, spectralridge.plot and the command line --------------------------------

def check_option(value, name, options):
    """Return `value` if it is one of the strings `options`."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}.")
    return value


def check_design(X, name="X"):
    """Return a design matrix alone as a finite float64 array with at least one row and column."""
    X = as_array(X, name, ndims=(2,), keep_float32=False)
    if X.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                         "of 1 is required.")
    if X.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                         "of 1 is required.")
    return X


def check_column_scale(scale, name="X"):
    """Reject columns that cannot be standardized (zero spread)."""
    bad = np.flatnonzero(~(scale > 0))
    if bad.size:
        j = int(bad[0])
        raise ValueError(f"{name} column {j} is constant (scale {float(scale[j])!r}): it cannot "
                         "be standardized; drop it.")
    return scale


def check_shrinkage_problem(n_samples, n_features, fit_intercept, name):
    """HKB / Lawless-Wang need n_features >= 3 and residual degrees of freedom; return those."""
    if n_features < 3:
        raise ValueError(f"{name} needs at least 3 features (its numerator is (n_features - 2) "
                         f"s^2), got n_features={n_features}.")
    df = n_samples - n_features - int(fit_intercept)
    if df <= 0:
        raise ValueError(f"{name} needs n_samples - n_features - fit_intercept > 0 residual "
                         f"degrees of freedom to estimate the noise variance, got {n_samples} - "
                         f"{n_features} - {int(fit_intercept)} = {df}.")
    return df


def check_fractions(fractions):
    """Return (fractions as 1-D float64 in [0, 1], whether a scalar was given)."""
    scalar = np.ndim(fractions) == 0 and not isinstance(fractions, (str, bytes))
    if isinstance(fractions, (bool, np.bool_)):
        raise TypeError("fractions must be numbers in [0, 1], got bool.")
    arr = as_array(np.atleast_1d(fractions) if scalar else fractions, "fractions", ndims=(1,),
                   keep_float32=False)
    if arr.size == 0:
        raise ValueError("fractions must not be empty.")
    bad = np.flatnonzero((arr < 0) | (arr > 1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"fractions must lie in [0, 1], got fractions[{i}]={float(arr[i])!r}.")
    return arr, scalar


def check_positive(value, name):
    """Return a positive finite float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating,
                                                                       np.integer)):
        raise TypeError(f"{name} must be a positive number, got {describe(value)}.")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {name}={value!r}.")
    return value


def check_index(value, name, size):
    """Return an integer index into an axis of length `size` (negative counts from the end)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral,)):
        raise TypeError(f"{name} must be an integer, got {describe(value)}.")
    if not -size <= value < size:
        raise ValueError(f"{name} must lie in [{-size}, {size}), got {name}={int(value)}.")
    return int(value) % size


def check_two_features(n_features, name):
    if n_features != 2:
        raise ValueError(f"{name} draws a 2-D picture and needs exactly 2 features, got "
                         f"n_features={n_features}.")


def check_columns(requested, header, what, source):
    """Indices of the `requested` column names in `header`, rejecting unknown or repeated names."""
    out = []
    for name in requested:
        if name not in header:
            raise ValueError(f"{source}: unknown {what} column {name!r}; the columns are "
                             f"{', '.join(repr(h) for h in header)}.")
        if header.index(name) in out:
            raise ValueError(f"{source}: {what} column {name!r} is given twice.")
        out.append(header.index(name))
    return out


def parse_number(cell, column, line, source):
    """A CSV cell as a float: non-numbers, empty cells and NaN are errors naming the place."""
    text = cell.strip()
    try:
        value = float(text)
    except ValueError:
        if not text:
            raise ValueError(f"{source}: column {column!r}, line {line}: missing value; remove "
                             "or impute the row.") from None
        raise ValueError(f"{source}: column {column!r}, line {line}: {text!r} is not a "
                         "number.") from None
    if np.isnan(value):
        raise ValueError(f"{source}: column {column!r}, line {line}: NaN; remove or impute the "
                         "row.")
    if np.isinf(value):
        raise ValueError(f"{source}: column {column!r}, line {line}: infinite value {text!r}.")
    return value


def check_dof_grid(n):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"the dof grid needs a positive number of points, got {n!r}.")
    return int(n)


def check_alphas_per_target(alphas, n_targets):
    """Alphas of shape (m,) shared by all targets, or (m, n_targets) one column per target.

    Return (alphas as (m, n_targets) float64, whether a scalar was given). Per-target alphas
    may be ``+inf`` (as returned for fraction 0).
    """
    if np.ndim(alphas) < 2:
        arr, scalar = check_alphas(alphas)
        return np.repeat(arr[:, None], n_targets, axis=1), scalar
    arr = as_array(np.nan_to_num(np.asarray(alphas, dtype=np.float64), nan=np.nan,
                                 posinf=0.0, neginf=-1.0), "alphas", ndims=(2,),
                   keep_float32=False)
    if arr.shape[1] != n_targets or arr.shape[0] == 0:
        raise ValueError(f"alphas of shape (n_alphas, n_targets) must have n_targets="
                         f"{n_targets} columns and at least one row, got shape {arr.shape}.")
    if (arr < 0).any():
        i, j = (int(v[0]) for v in np.nonzero(arr < 0))
        raise ValueError(f"alphas must be non-negative, got alphas[{i}, {j}]="
                         f"{float(np.asarray(alphas, dtype=np.float64)[i, j])!r}.")
    return np.asarray(alphas, dtype=np.float64).copy(), False


def check_positive_steps(steps):
    """Numbers of gradient-descent steps, all positive (1-D float64)."""
    steps, _ = check_steps(steps)
    if (steps == 0).any():
        raise ValueError("steps must be positive here (t = 0 has no equivalent alpha), got "
                         f"steps[{int(np.flatnonzero(steps == 0)[0])}]=0.")
    return steps


def check_has_positive(eigenvalues, name):
    positive = eigenvalues[eigenvalues > 0]
    if positive.size == 0:
        raise ValueError(f"{name} needs at least one positive eigenvalue, got all zero.")
    return positive


def check_requirement(condition, message):
    """Raise ValueError(message) unless `condition` (option combinations)."""
    if not condition:
        raise ValueError(message)


def check_targets(Y):
    """Targets alone: ((n_samples, n_targets) float64, whether Y was 1-D)."""
    Y = as_array(Y, "Y", ndims=(1, 2), keep_float32=False)
    y_was_1d = Y.ndim == 1
    Y = Y[:, None] if y_was_1d else Y
    if Y.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={Y.shape}) while a minimum "
                         "of 1 is required.")
    return Y, y_was_1d


def check_instance(obj, cls, name):
    if not isinstance(obj, cls):
        raise TypeError(f"{name} must be a {cls.__name__}, got {describe(obj)}.")
    return obj


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_kernel_matrix(K, dtype):
    """A square, finite kernel matrix, symmetric up to rounding of its `dtype` (``64 n eps``
    relative to its largest entry): returned symmetrized, float64."""
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"The kernel must be square (n_samples, n_samples); got shape "
                         f"{K.shape}. With kernel='precomputed', X is the kernel matrix.")
    check_finite(K, "kernel")
    n = K.shape[0]
    peak = float(np.abs(K).max()) if K.size else 0.0
    out = np.empty((n, n))
    asym = 0.0
    step = 512  # square tiles: K and K^T read a tile at a time (cache-friendly transposes)
    for i0 in range(0, n, step):
        for j0 in range(i0, n, step):
            a = np.asarray(K[i0:i0 + step, j0:j0 + step], dtype=np.float64)
            b = np.asarray(K[j0:j0 + step, i0:i0 + step], dtype=np.float64).T
            if a.size:
                asym = max(asym, float(np.abs(a - b).max()))
            out[i0:i0 + step, j0:j0 + step] = (a + b) / 2
            out[j0:j0 + step, i0:i0 + step] = out[i0:i0 + step, j0:j0 + step].T
    if asym > 64 * n * np.finfo(dtype).eps * peak:
        i, j = np.unravel_index(np.argmax(np.abs(K - K.T)), K.shape)
        raise ValueError(f"The kernel must be symmetric; got K[{i}, {j}]={K[i, j]!r} and "
                         f"K[{j}, {i}]={K[j, i]!r} (largest asymmetry {asym:.3g}, beyond "
                         "rounding).")
    return out


def check_kernel_psd(lam, dtype):
    """Eigenvalues (descending) of a kernel: none below ``-sqrt(eps) lam_max``, the rounding
    level of a positive semi-definite kernel in `dtype` and of its eigendecomposition."""
    if not lam.size:
        return
    tol = np.sqrt(np.finfo(dtype).eps) * max(float(lam[0]), 0.0)
    if lam[-1] < -tol or (lam[0] <= 0 and lam[-1] < 0):
        raise ValueError(f"The kernel must be positive semi-definite; its (weighted, centred) "
                         f"matrix has the eigenvalue {float(lam[-1]):.6g}, beyond rounding of "
                         f"the largest {float(lam[0]):.6g}. Use a positive semi-definite "
                         "kernel (e.g. sigmoid kernels are not, for most parameters).")


def check_positive_flag(positive):
    """``positive`` of the estimators: True or False (NumPy booleans too)."""
    if positive is True or positive is np.True_:
        return True
    if positive is False or positive is np.False_:
        return False
    raise TypeError(f"positive must be True or False, got {positive!r}.")


def check_non_negative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


def check_feature_groups(feature_groups, n_features):
    """Feature groups as a list of sorted int arrays that partition ``range(n_features)``:
    from a list of column-index arrays, or from one label per column (sorted labels)."""
    if isinstance(feature_groups, (str, bytes)) or not hasattr(feature_groups, "__len__"):
        raise TypeError("feature_groups must be a list of column-index arrays or one group "
                        f"label per column, got {describe(feature_groups)}.")
    arr = None
    try:
        arr = np.asarray(feature_groups)
    except ValueError:  # ragged lists of indices
        pass
    if arr is not None and arr.ndim == 1 and arr.dtype != object and len(arr) == n_features \
            and not (len(arr) and np.ndim(feature_groups[0]) > 0):
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError("Input feature_groups contains NaN.")
        labels = np.unique(arr)
        return [np.flatnonzero(arr == label) for label in labels]
    groups = []
    for g, cols in enumerate(feature_groups):
        idx = np.asarray(cols)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(f"feature_groups[{g}] must be a 1-D array of column indices, got "
                            f"an array of shape {idx.shape} and dtype {idx.dtype}.")
        if idx.size == 0:
            raise ValueError(f"feature_groups[{g}] is empty; every group needs a column.")
        bad = idx[(idx < 0) | (idx >= n_features)]
        if bad.size:
            raise ValueError(f"feature_groups[{g}] names column {int(bad[0])}, but X has "
                             f"{n_features} columns (indices 0 to {n_features - 1}).")
        if np.unique(idx).size != idx.size:
            raise ValueError(f"feature_groups[{g}] names a column twice.")
        groups.append(np.sort(idx.astype(np.intp)))
    if not groups:
        raise ValueError("feature_groups must have at least one group.")
    counts = np.bincount(np.concatenate(groups), minlength=n_features)
    if (counts > 1).any():
        j = int(np.flatnonzero(counts > 1)[0])
        owners = [g for g, cols in enumerate(groups) if j in cols]
        raise ValueError(f"feature_groups overlap: column {j} is in groups {owners}; each "
                         "column belongs to exactly one group.")
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0)
        raise ValueError(f"feature_groups leave out columns {missing[:10].tolist()}"
                         f"{' ...' if missing.size > 10 else ''}; every column belongs to "
                         "exactly one group.")
    return groups


def check_candidates(candidates, n_groups):
    """Candidate group weights (n_candidates, n_groups), non-negative, rows normalized."""
    arr = np.array(as_array(candidates, "candidates", ndims=(2,), keep_float32=False))
    if arr.shape[1] != n_groups or arr.shape[0] == 0:
        raise ValueError(f"candidates must have shape (n_candidates, {n_groups}) with "
                         f"n_candidates >= 1, got shape {arr.shape}.")
    if (arr < 0).any():
        i, j = np.argwhere(arr < 0)[0]
        raise ValueError(f"candidates must be non-negative, got candidates[{i}, {j}]="
                         f"{float(arr[i, j])!r}.")
    total = arr.sum(axis=1)
    if not (total > 0).all():
        raise ValueError(f"candidates[{int(np.flatnonzero(~(total > 0))[0])}] is all zero.")
    return arr / total[:, None]
# -- alpha selection criteria and inference (spectralridge._criteria, stats) ----------------------

CRITERIA = ("evidence", "lcurve", "discrepancy", "quasi")


def check_noise_level(noise_level, n_targets, name="noise_level"):
    """A positive finite scalar or one per target: float64 array of shape (n_targets,)."""
    if isinstance(noise_level, (bool, np.bool_)) or isinstance(noise_level, (str, bytes)):
        raise TypeError(f"{name} must be a positive number or an array of one per target, "
                        f"got {describe(noise_level)}.")
    arr = np.asarray(noise_level, dtype=np.float64) if np.ndim(noise_level) == 0 else \
        as_array(noise_level, name, ndims=(1,), keep_float32=False)
    if arr.ndim == 1 and arr.size != n_targets:
        raise ValueError(f"{name} must be a scalar or have one entry per target: expected "
                         f"({n_targets},), got shape {arr.shape}.")
    bad = np.flatnonzero(~(np.isfinite(arr) & (arr > 0)).ravel())
    if bad.size:
        raise ValueError(f"{name} must be positive and finite, got "
                         f"{name}={float(arr.ravel()[bad[0]])!r}" +
                         (f" at index {int(bad[0])}." if arr.ndim else "."))
    return np.broadcast_to(arr, (n_targets,)).astype(np.float64)


def check_criterion_options(cv, noise_level, refine):
    """`noise_level` with cv='discrepancy' (required) or 'evidence' (optional) only, and
    `refine` a bool (for leave-one-out, GCV, a splitter and the spectral criteria other than
    the discrepancy principle, which solves for alpha)."""
    refine = check_bool(refine, "refine")
    named = isinstance(cv, str)
    if named and cv == "discrepancy" and noise_level is None:
        raise ValueError("cv='discrepancy' needs noise_level, the standard deviation of the "
                         "noise per unit weight.")
    if noise_level is not None and not (named and cv in ("discrepancy", "evidence")):
        raise ValueError(f"noise_level is used by cv='discrepancy' and cv='evidence' only, "
                         f"got cv={cv!r}.")
    if refine and named and cv not in ("loo", "gcv", "evidence", "lcurve", "quasi"):
        raise ValueError("refine=True supports cv='loo', 'gcv', 'evidence', 'lcurve', "
                         "'quasi' and splitters ('discrepancy' already solves for alpha), got "
                         f"cv={cv!r}.")
    return refine


def check_lcurve_grid(n_alphas):
    if n_alphas < 4:
        raise ValueError(f"The L-curve corner needs at least 4 alphas, got {n_alphas}.")


def check_lcurve_flat(x_range, y_range, target, tol):
    """Refuse an L-curve without a corner: ``log ||r||`` or ``log ||W||`` (nearly) constant."""
    if not (x_range > tol and y_range > tol):
        raise ValueError(
            f"The L-curve of target {target} is flat over the grid: log ||r|| varies by "
            f"{x_range:.3g} and log ||W|| by {y_range:.3g} (at most {tol:g} has no corner). "
            "Widen the grid of alphas, or use another criterion for this target.")


def check_quasi_grid(count, lam_min, lam_max):
    if count == 0:
        raise ValueError(
            f"Quasi-optimality searches alphas between the smallest and largest eigenvalue "
            f"of Xc^T Xc ([{lam_min:.4g}, {lam_max:.4g}]); no alpha of the grid lies there.")


def check_noise_variance(noise_variance):
    """None (estimate at each alpha), 'ls' (least squares) or a positive number / array."""
    if noise_variance is None or (isinstance(noise_variance, str) and noise_variance == "ls"):
        return noise_variance
    if isinstance(noise_variance, str):
        raise ValueError(f"noise_variance must be None, 'ls' or positive numbers, got "
                         f"{noise_variance!r}.")
    return noise_variance  # checked per target by check_noise_level


def check_residual_dof(df_resid, alphas, what):
    """Refuse residual degrees of freedom <= 0 (the noise variance cannot be estimated)."""
    bad = np.flatnonzero(~(df_resid > 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"The residual degrees of freedom {what} are {float(df_resid[i]):.6g} <= 0 at "
            f"alpha={float(alphas[i])!r}: the noise variance cannot be estimated. Regularize "
            "more, or pass noise_variance.")


def check_level(level):
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, numbers.Real) or \
            not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}.")
    return float(level)
