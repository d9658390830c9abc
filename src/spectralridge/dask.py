"""The Dask backend: the engine's passes over row blocks and blocks of targets.

Dask is optional (``pip install 'spectralridge[dask]'``) and imported only when a Dask array
reaches spectralridge. :class:`DaskRidgeSolver` is a :class:`~spectralridge.RidgeSolver`;
:func:`dask_ridge_path` and :func:`dask_ridge_cv` mirror ``ridge_path`` and ``ridge_cv``.
``X`` is chunked by rows, ``Y`` by rows and blocks of targets (NumPy ``X`` or ``Y`` with a
Dask other is fine). What is here is only the passes and their wiring:

1. weighted means and a power of two per target (``_scores.peak_scale``);
2. per row block and fold, the factor of ``A = [sw, sw (X - xm)]`` (Householder R factors
   reduced as a tall-skinny QR tree, or the Gram; the kernel route: ``Xs Xs^T``) and the
   cross products ``A^T sw (Y - ym)``, ``||sw (Y - ym)||^2``. The weights being a column of
   ``A``, any union of folds is re-centred exactly; the engine decomposes them eagerly;
3. leave-one-out and K-fold: one row pass each (hat diagonals and residuals per row block;
   the held-out rows under each training fit).

The NumPy work of each task is the engine's (:mod:`._blocks`); selection and refit is
``_scores.select_refit`` run per block of targets through :class:`_Targets`. Everything
indexed by target is a lazy Dask array chunked by blocks of targets (compute several
together, ``dask.compute(res.scores, res.coef)``); spectral quantities are NumPy. The
projection through ``Xc^T Yc`` costs ``cond(X) eps`` relative. Data-dependent errors (NaN, negative weights, leverage 1) and the
:class:`~spectralridge.GridEdgeWarning` arise where the graph runs.
"""

import numbers
import sys
import threading

import numpy as np

from . import _blocks, _scores
from ._backends import is_dask_input
from ._cv import cross_validate, fold_labels
from ._penalty import set_spectrum
from ._solver import FilterPath, RidgePath, RidgeSolver
from ._spectrum import kernel_set_spectrum, starting_method
from ._validation import (as_array, check_alphas, check_bool, check_finite,
                          check_groups, check_method, check_nonnegative_weights, check_number_dtype,
                          check_penalty_factor, check_sample_weight,
                          check_shapes, check_X_new_shape)

__all__ = ["DaskFilterPath", "DaskRidgeSolver", "dask_ridge_cv", "dask_ridge_path",
           "is_dask_input"]

# Row blocks combined per node of the QR and sum trees.
SPLIT_EVERY = 8


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise ImportError(
            "spectralridge.dask needs Dask, an optional dependency: install it with "
            "pip install 'spectralridge[dask]' (dask[array] and distributed).") from exc
    return dask, da


# -- validation of Dask inputs --------------------------------------------------------------
def check_dask_array(a, name, ndims):
    """`a` (a Dask array named `name` with a dimension in `ndims`) as float64 or float32,
    its values checked for NaN and inf lazily (when the graph runs)."""
    _, da = _import_dask()
    if not isinstance(a, da.Array):
        raise TypeError(f"{name} must be a dask array or an array-like of numbers, got "
                        f"{type(a).__name__}.")
    check_number_dtype(a.dtype, name)
    if a.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want}, got an array of shape {a.shape} "
                         f"({a.ndim}-D).")
    if any(np.isnan(c) for cs in a.chunks for c in cs):
        raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() "
                         "first.")
    dtype = np.float32 if a.dtype == np.float32 else np.float64
    if a.dtype != dtype or not a.dtype.isnative:
        a = a.astype(dtype)
    return a.map_blocks(_finite_block, what=name, dtype=dtype)


def _finite_block(block, what):
    check_finite(block, what)
    return block


def _weights_block(w, block_info=None):
    w = np.asarray(w, dtype=np.float64)
    check_finite(w, "sample_weight")
    check_nonnegative_weights(w, block_info[0]["array-location"][0][0] if block_info else 0)
    return w


def _prepare(X, Y, sample_weight):
    """Validated Dask X (n, p; one column chunk), Y (n, k; rows chunked like X), weights (n,),
    working dtype and whether Y was 1-D."""
    _, da = _import_dask()
    x_dask, y_dask = is_dask_input(X), is_dask_input(Y)
    X = check_dask_array(X, "X", (2,)) if x_dask else as_array(X, "X", ndims=(2,))
    Y = check_dask_array(Y, "Y", (1, 2)) if y_dask else as_array(Y, "Y", ndims=(1, 2))
    n, p = X.shape
    Y, y_was_1d = check_shapes(X, Y)
    dtype = np.float32 if X.dtype == np.float32 and Y.dtype == np.float32 else np.float64
    if not x_dask:
        X = da.from_array(X, chunks=(Y.chunks[0] if y_dask else -1, -1))
    rows = X.chunks[0]
    if not y_dask:
        Y = da.from_array(np.ascontiguousarray(Y), chunks=(rows, -1))
    elif Y.chunks[0] != rows:
        Y = Y.rechunk({0: rows})
    if sample_weight is None:
        w = da.ones(n, chunks=(rows,))
    elif is_dask_input(sample_weight):
        w = check_dask_array(sample_weight, "sample_weight", (1,))
        if w.shape[0] != n:
            raise ValueError(f"sample_weight must have one entry per sample: expected "
                             f"({n},), got shape {w.shape}.")
        w = w.rechunk({0: rows}).map_blocks(_weights_block, dtype=np.float64)
    elif isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        check_sample_weight(np.full(1, float(sample_weight)), 1)
        w = da.full(n, float(sample_weight), chunks=(rows,))
    else:
        w = da.from_array(check_sample_weight(sample_weight, n), chunks=(rows,))
    return X, Y, w, dtype, y_was_1d


# -- per row block (Dask only) -------------------------------------------------------------
def _row_indices(w, block_info=None):
    start = block_info[0]["array-location"][0][0]
    return np.arange(start, start + w.shape[0])


def _qr_tree(x, axis, keepdims):
    """Combine stacked R factors (g, K, q, q) fold by fold: R of the union of the blocks."""
    out = np.stack([_blocks.union_factor("svd", x[:, f]) for f in range(x.shape[1])])
    return out[None] if keepdims else out


def _identity_chunk(x, axis, keepdims):
    return x


# -- per block of targets --------------------------------------------------------------------
class _Targets:
    """The per-target hooks of ``_scores.select_refit`` on Dask: the engine's functions run
    per block of targets (one task each, refit from that block's cross products), the
    shared choice as one delayed task; fields are Dask arrays."""

    def __init__(self, solver, ctx):
        self._solver, self._ctx = solver, ctx

    @staticmethod
    def call(func, *args):
        dask, _ = _import_dask()
        return dask.delayed(func, pure=True)(*args)

    def map(self, func, layout, *arrays, **kwargs):
        _, da = _import_dask()
        s = self._solver
        args = []
        for a in arrays:
            if a is None:
                continue
            if not is_dask_input(a):
                a = da.from_array(np.asarray(a), chunks=a.shape[:-1] + (s._Y.chunks[1],))
            args += [a, "abcd"[:a.ndim - 1] + "j"]
        rows = [1 if r is None else r for _, r, _ in layout]
        out = da.blockwise(_blocks.engine_block, "rj", *args, s._lazy_scale, "j", s._P, "Fbj",
                           s._ym0, "j", new_axes={"r": sum(rows)}, concatenate=True,
                           dtype=np.float64, work=func, layout=layout,
                           present=tuple(a is not None for a in arrays), ctx=self._ctx,
                           col_scale=s._col_scale, kwargs=kwargs)
        fields, start = {}, 0
        for (name, r, dtype), n in zip(layout, rows):
            part = out[start:start + n]
            fields[name] = (part if r is not None else part[0]).astype(dtype)
            start += n
        return fields


# -- the solver -----------------------------------------------------------------------------------
class DaskRidgeSolver(RidgeSolver):
    r"""Ridge regression for any number of alphas on Dask arrays.

    A :class:`~spectralridge.RidgeSolver` (``sr.RidgeSolver`` returns one for a Dask array):
    the same parameters and methods, written once there; everything indexed by target is a
    Dask array (:class:`DaskFilterPath`). Dask specifics:

    - `X` is chunked by rows (rechunked to one column chunk), `Y` by blocks of targets;
      `sample_weight` may be a Dask array.
    - ``method='svd'`` is a tall-skinny QR of the centred, weighted X, then the SVD of its R
      factor; ``'kernel'`` on K-fold training sets takes submatrices of the n x n kernel (one
      more pass over X per fold). ``'auto'`` starts and upgrades as in NumPy, the SVD costing
      one more pass over X; unpenalized columns (`penalty_factor` 0) are projected out of
      each set's factor (``_penalty.FreeSetSpectrum``), not with ``'kernel'`` (``'auto'``
      takes the QR route for wide X).

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from spectralridge.dask import DaskRidgeSolver
    >>> rng = np.random.default_rng(0)
    >>> X = da.from_array(rng.standard_normal((1000, 4)), chunks=(250, 4))
    >>> Y = da.from_array(X.compute() @ rng.standard_normal((4, 6)), chunks=(250, 3))
    >>> solver = DaskRidgeSolver(X, Y, method="svd")
    >>> coef = solver.coef([0.1, 10.0])          # lazy, chunked by blocks of targets
    >>> coef.shape, coef.chunks[2]
    ((2, 4, 6), (3, 3))
    >>> solver.dof([0.0]).round(6)               # spectral quantities are NumPy
    array([4.])
    """

    backend = "dask"

    def __init__(self, X, Y, *, fit_intercept=True, sample_weight=None, method="auto",
                 penalty_factor=None):
        self._setup(X, Y, fit_intercept, sample_weight, method, None, penalty_factor)

    @classmethod
    def _with_folds(cls, X, Y, folds, **kwargs):
        self = cls.__new__(cls)
        self._setup(X, Y, kwargs["fit_intercept"], kwargs["sample_weight"], kwargs["method"],
                     folds, kwargs.get("penalty_factor"))
        return self

    def _setup(self, X, Y, fit_intercept, sample_weight, method, folds, penalty_factor):
        dask, da = _import_dask()
        self._lock = threading.Lock()
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self._requested_method = check_method(method)
        X, Y, w, self._dtype, self._y_was_1d = _prepare(X, Y, sample_weight)
        n, p = X.shape
        self.n_features_in_ = p
        # penalty factors c: the solver works on the columns divided by sqrt(c), as NumPy's;
        # those of factor 0 are projected out of each set of rows (_penalty.set_spectrum)
        self.penalty_factor = check_penalty_factor(penalty_factor, p)
        self._col_scale = self._free = None
        self._map = None  # no PenaltyMap: each set's spectrum projects (set_spectrum)
        if self.penalty_factor is not None:
            c = self.penalty_factor
            self._col_scale = 1.0 / np.sqrt(np.where(c > 0, c, 1.0))
            self._free = np.flatnonzero(c == 0) if not c.all() else None
            X = X * self._col_scale
        X_cols, X = X, X.rechunk({1: -1}) if X.numblocks[1] > 1 else X
        self._X, self._Y, self._w = X, Y, w
        # global row indices, derived from the weights' blocks rather than a separate root
        # task: under distributed, separate roots let the data blocks run ahead of their use
        self._rows = w.map_blocks(_row_indices, dtype=np.int64)
        self._K, self._labels = 1, None
        if folds is not None:
            self._K, bounds, labels = folds
            self._labels = da.from_array(labels, chunks=self._rows.chunks) if bounds is None \
                else self._rows.map_blocks(_blocks.contiguous_labels, bounds=bounds, dtype=np.intp)
        # pass 1: weighted means, and a power of two per target that scales it to max |Y| ~ 1
        # (the squared errors of all criteria then stay in range whatever the scale of Y)
        ystats = da.blockwise(_blocks.ysum_block, "isj", Y, "ij", w, "i", new_axes={"s": 2},
                              adjust_chunks={"i": 1}, concatenate=True, dtype=np.float64)
        peak = ystats[:, 1].max(axis=0, split_every=SPLIT_EVERY)
        self._xm0 = np.zeros(p)
        self._ym0 = da.zeros(Y.shape[1], chunks=(Y.chunks[1],))
        if self.fit_intercept:
            parts = da.blockwise(_blocks.means_block, "ic", X, "ij", w, "i", new_axes={"c": 3 + p},
                                 adjust_chunks={"i": 1}, concatenate=True, dtype=np.float64)
            sums, ysum, peak = dask.persist(parts.sum(axis=0, split_every=SPLIT_EVERY),
                                            ystats[:, 0].sum(axis=0, split_every=SPLIT_EVERY),
                                            peak)
            sums, peak = dask.compute(sums, peak)  # one read of X and Y for all three
            if sums[0] <= 0:
                raise ValueError("sample_weight must have at least one positive entry; all "
                                 "weights are zero.")
            self._scale = _scores.peak_scale(peak, Y.dtype)
            self._xm0 = sums[3:] / sums[0]
            self._ym0 = (ysum * self._scale / sums[0]).persist()
        else:
            self._scale = _scores.peak_scale(peak.compute(), Y.dtype)
        self._lazy_scale = da.from_array(self._scale, chunks=(Y.chunks[1],))
        Y = self._Y = Y * self._lazy_scale.astype(Y.dtype)
        # pass 2: factors of X, cross products with Y
        if method == "kernel" and self._free is not None:
            raise ValueError("method='kernel' does not take unpenalized columns "
                             "(penalty_factor entries of 0) on Dask: use 'svd' or 'auto'.")
        kind = starting_method(method, n, p, unpenalized=self._free is not None)
        labels = () if self._labels is None else (self._labels, "i")
        # shift of the R^2 sums: the mean, or without intercept the first row block's mean
        shift = self._ym0 if self.fit_intercept else \
            Y[:Y.chunks[0][0]].mean(axis=0, dtype=np.float64)
        cross = da.blockwise(
            _blocks.cross_block, "iFaj", X, "ix", Y, "ij", w, "i", self._ym0, "j", shift, "j",
            *labels, new_axes={"F": self._K, "a": p + int(self.fit_intercept) + 3},
            adjust_chunks={"i": 1}, concatenate=True, dtype=np.float64, xm=self._xm0,
            K=self._K, fit_intercept=self.fit_intercept)
        cross = cross.sum(axis=0, split_every=SPLIT_EVERY)
        if kind == "kernel":
            self._set_kernel(X_cols, cross)
            return
        factors, sums = self._factor_blocks(kind)
        factors, sums, self._P = dask.persist(factors, sums, cross)
        self._set_factors(kind, *dask.compute(factors, sums))

    def _set_kernel(self, X, cross):
        """The kernel route: the n x n ``Xs Xs^T`` of ``Xs = sw (X - xm)`` over row blocks
        (and X's column blocks), with the per-fold sums and the cross products ``A^T Yc`` in
        the same pass; each training set's kernel is a submatrix of it."""
        dask, da = _import_dask()
        w, K = self._w, self._K
        sw = da.sqrt(w)
        Xs = (X.astype(np.float64) - self._xm0) * sw[:, None]
        labels = da.zeros(w.shape[0], chunks=w.chunks, dtype=np.intp) if K == 1 else \
            self._labels
        E = (labels[:, None] == np.arange(K)).astype(np.float64)  # (n, K) fold indicators
        sums = da.concatenate([E.T @ w[:, None], E.T @ (w > 0)[:, None], E.sum(axis=0)[:, None],
                               (E * sw[:, None]).T @ Xs], axis=1)
        Ks, sums, sw, labels, self._P = dask.persist(Xs @ Xs.T, sums, sw, labels, cross)
        Ks, sums, sw, labels = dask.compute(Ks, sums, sw, labels)
        self._kernel_labels = labels

        def make(folds, set_sums):
            rows = np.flatnonzero(np.isin(labels, folds))

            def basis_pass(Q):  # Xs[rows]^T Q
                Q_all = np.zeros((labels.size, Q.shape[1]))
                Q_all[rows] = Q
                return (Xs.T @ da.from_array(Q_all, chunks=(Xs.chunks[0], -1))).compute()
            return kernel_set_spectrum(Ks[np.ix_(rows, rows)], set_sums, sw[rows], self._xm0,
                                       self.fit_intercept, basis_pass)
        self._state = _blocks.set_state("kernel", sums, make)

    def _factor_blocks(self, kind):
        """Lazy per-fold factors of A (K, q, q) and sums (K, 3 + p)."""
        _, da = _import_dask()
        p = self.n_features_in_
        q = p + int(self.fit_intercept)
        labels = () if self._labels is None else (self._labels, "i")
        blocks = da.blockwise(
            _blocks.factor_block, "iFab", self._X, "ij", self._w, "i", *labels,
            new_axes={"F": self._K, "a": q, "b": q + 3 + p}, adjust_chunks={"i": 1},
            concatenate=True, dtype=np.float64, xm=self._xm0, K=self._K, kind=kind,
            fit_intercept=self.fit_intercept)
        factors = blocks[..., :q]
        sums = blocks[:, :, 0, q:].sum(axis=0, split_every=SPLIT_EVERY)
        if kind == "svd":
            factors = da.reduction(factors, _identity_chunk, _qr_tree, combine=_qr_tree,
                                   axis=0, dtype=np.float64, split_every=SPLIT_EVERY,
                                   concatenate=True, meta=np.empty((0, 0, 0)))
        else:
            factors = factors.sum(axis=0, split_every=SPLIT_EVERY)
        return factors, sums

    def _set_factors(self, kind, F, sums):
        def make(folds, set_sums):
            return set_spectrum(kind, _blocks.union_factor(kind, [F[g] for g in folds]),
                                set_sums, self._xm0, self.fit_intercept, self._free)
        self._state = _blocks.set_state(kind, sums, make, F)

    def _state_for(self, alphas):
        """The decompositions for `alphas`, upgraded to 'svd' where 'auto' needs it."""
        state = self._state
        if self._requested_method == "auto" and state.kind != "svd":
            with self._lock:
                state = self._measure_dropped(self._state)
                if state.kind != "svd" and not state.accurate_for(float(np.min(alphas))):
                    dask, _ = _import_dask()
                    self._set_factors("svd", *dask.compute(*self._factor_blocks("svd")))
                    state = self._state
        return state

    def _measure_dropped(self, state):
        """`state` with the dropped directions of every decomposition (all rows and each
        training set) measured against its targets, as NumPy's guard: from the cross
        products ``A^T Yc`` (no pass over the data; the kernel route: one pass over Y for
        ``Q_d^T Yc``)."""
        sets, todo = state.sets, state.unmeasured()
        if not todo:
            return state
        ctx = self._ctx(state, None, np.zeros(0), "alpha")
        widths = [sets[j].Q_dropped.shape[1] for j in todo]
        arrays = ()
        if state.kind == "kernel":  # the sets' Q_d stacked, zero outside their rows
            _, da = _import_dask()
            Q = np.zeros((self._Y.shape[0], sum(widths)))
            col = 0
            for j, width in zip(todo, widths):
                rows = slice(None) if j == 0 else self._kernel_labels != j - 1
                Q[rows, col:col + width] = sets[j].Q_dropped
                col += width
            Q = da.from_array(Q, chunks=(self._Y.chunks[0], -1))
            Yc = (self._Y - self._ym0) * da.sqrt(self._w)[:, None]
            arrays = ((Q.T @ Yc).astype(np.float64), "dj"),
        ratios = self._per_targets(_blocks.dropped_block, (len(todo),), *arrays, ctx=ctx,
                                   sets=todo, widths=widths).max(axis=1).compute()
        self._state = state.measured(todo, ratios)
        return self._state

    @property
    def dtype(self):
        """Working dtype of coefficients, intercepts and predictions."""
        return np.dtype(self._dtype)

    def __repr__(self):
        (n, p), k = self._X.shape, self._Y.shape[1]
        return (f"DaskRidgeSolver(n_samples={n}, n_features={p}, n_targets={k}, "
                f"method={self.method!r}, rank={self.rank})")

    def _decomposition(self, alphas=None):
        return self._state if alphas is None else self._state_for(alphas)

    def _path(self, decomposition, flt, grid, scalar, name):
        return DaskFilterPath(self, decomposition, flt, grid, scalar, name)

    @property
    def data(self):
        raise TypeError("The rows of a DaskRidgeSolver's data are not in memory; this needs a "
                        "RidgeSolver of NumPy or scipy.sparse data.")

    def spectrum_for(self, alphas):
        """The spectrum behind results for `alphas`, with the projected targets ``R`` (rank,
        n_targets) and ``||Yc||^2`` computed (NumPy)."""
        state = self._state_for(alphas)
        d = state.full
        out = self._per_targets(_blocks.projected_block, (d.rank + 1,),
                                ctx=self._ctx(state, None, np.zeros(0), "alpha"))
        dask, _ = _import_dask()
        R, yc_sq = dask.compute(self._unscale(out[:-1]), self._unscale(out[-1], 2))
        return d.spectrum(R, yc_sq)

    def _unscale(self, out, power=1):
        """Values (..., n_targets) computed on the scaled targets, in the units of Y (exact:
        powers of two; beyond the float64 range inf or 0)."""
        _, da = _import_dask()
        index = "abcd"[:out.ndim - 1] + "j"
        return da.blockwise(_scores.unscale, index, out, index, self._lazy_scale, "j",
                            power=power, dtype=out.dtype)

    def _ctx(self, state, flt, grid, name, **kw):
        dask, _ = _import_dask()
        ctx = _blocks.Ctx(self.fit_intercept, state.full, state.train, flt, grid, name, **kw)
        return dask.delayed(ctx, pure=True, traverse=False)

    def _per_rows(self, func, index, new_axes, extra, **kwargs):
        """``func(X, Y, w, extra, P, ym0)`` per row block and block of targets (`extra`: the
        row indices or the fold labels), output `index` (float64)."""
        _, da = _import_dask()
        return da.blockwise(func, index, self._X, "ix", self._Y, "ij", self._w, "i", extra, "i",
                            self._P, "Fbj", self._ym0, "j", new_axes=new_axes,
                            concatenate=True, dtype=np.float64, **kwargs)

    def _per_targets(self, func, new_axes, *arrays, **kwargs):
        """blockwise over blocks of targets: output (*new_axes, n_targets)."""
        _, da = _import_dask()
        letters = "abcd"[:len(new_axes)]
        args = []
        for arr, ind in arrays:
            args += [arr, ind]
        return da.blockwise(func, letters + "j", *args, self._P, "Fbj", self._ym0, "j",
                            new_axes=dict(zip(letters, new_axes)), concatenate=True,
                            dtype=np.float64, **kwargs)

    def _target_alphas(self, alphas):
        _, da = _import_dask()
        if is_dask_input(alphas):
            return check_dask_array(alphas, "alphas", (1,)).astype(np.float64)
        return da.from_array(check_alphas(alphas)[0], chunks=-1)

    def _refit_targets(self, alphas):
        alphas = alphas.rechunk((self._Y.chunks[1],))
        low = float(alphas.min().compute())
        if low < 0:
            raise ValueError(f"alphas must be non-negative, got a minimum of {low!r}.")
        state = self._state_for(np.atleast_1d(low))
        out = self._per_targets(_blocks.refit_block, (self.n_features_in_ + 1,), (alphas, "j"),
                                (self._lazy_scale, "j"), col_scale=self._col_scale,
                                ctx=self._ctx(state, None, np.zeros(0), "alpha"))
        return out[:-1].astype(self.dtype), out[-1].astype(self.dtype)

    # -- cross-validation -------------------------------------------------------------------
    def loo_errors(self, alphas):
        """Exact leave-one-out errors ``(y_i - yhat_i) / (1 - h_i)`` of every sample.

        A dask array of shape (n_alphas, n_samples[, n_targets]) chunked like X's rows and
        Y's blocks of targets (samples of zero weight get their plain residual).
        """
        path = self.ridge(alphas)
        out = self._per_rows(_blocks.loo_errors_block, "aij", {"a": path.grid.size}, self._rows,
                             ctx=path._ctx())
        return self._shape(self._unscale(out), path._scalar)

    def _kfold(self, alphas, scoring, alpha_per_target, rule):
        grid = self.alpha_grid(alphas)
        m = grid.size
        state = self._state_for(grid)  # upgrades every fold too if needed
        path = DaskFilterPath(self, state, state.full.ridge(grid), grid, False,
                              "alpha")
        ctx = path._ctx(scoring=scoring,
                        extra={"fold_filters": [t.ridge(grid) for t in state.train],
                               "fold_weight": state.fold_weight,
                               "loo_compression": _scores.loo_compression_enabled()})
        # one pass over the rows: held-out errors of each row block in its fold
        sse = self._per_rows(_blocks.held_out_block, "izaj", {"z": self._K, "a": m}, self._labels,
                             adjust_chunks={"i": 1}, ctx=ctx)
        sse = sse.sum(axis=0, split_every=SPLIT_EVERY)
        out = self._per_targets(_blocks.kfold_block, ((2 + self._K) * m,), (sse, "zyj"),
                                ctx=ctx)
        # the standard error of the mean score over targets, from the scores of the splits
        weights = _scores.mean_weights(self._scale, scoring)
        means = (out[2 * m:] if weights is None else out[2 * m:] * weights).mean(axis=1)
        score_se = (out[m:2 * m], means.reshape(self._K, m).map_blocks(
            _blocks.se_block, drop_axis=0, dtype=np.float64))
        return self.cv_result(path, out[:m], scoring, alpha_per_target, f"{self._K} splits",
                              rule=rule, score_se=score_se, scale=self._scale)

    def _scores_of(self, path, mse, scoring, sst, scale):
        return self._per_targets(_blocks.score_block, (path.grid.size,), (mse, "zj"),
                                 ctx=path._ctx(scoring=scoring))

    def _targets(self, path):
        return _Targets(self, path._ctx())


class DaskFilterPath(FilterPath):
    """One spectral filter family over a grid on a :class:`DaskRidgeSolver`.

    A :class:`~spectralridge.FilterPath` (its ``gcv`` and ``loo``, on this backend's errors):
    ``grid``, ``name``, ``factors`` and ``dof`` are NumPy; ``coef``, ``intercept``,
    ``predict``, ``gcv`` and ``loo`` give Dask arrays.
    """

    def __init__(self, solver, state, flt, grid, scalar, name):
        super().__init__(solver, state.full, flt, grid, scalar, name)
        self._state = state

    def _ctx(self, **kw):
        return self._solver._ctx(self._state, self.filter, self.grid, self.name, **kw)

    def coef(self):
        """Coefficients: dask array of shape (n_grid, n_features[, n_targets])."""
        s = self._solver
        out = s._unscale(s._per_targets(_blocks.coef_block, (self.grid.size, s.n_features_in_),
                                        ctx=self._ctx()))
        if s._col_scale is not None:  # the coefficients of the columns as given
            out = out * s._col_scale[:, None]
        return s._shape(out.astype(s.dtype), self._scalar)

    def intercept(self):
        """Intercepts: dask array of shape (n_grid[, n_targets])."""
        s = self._solver
        out = s._per_targets(_blocks.apply_block, (self.grid.size, 1), ctx=self._ctx(), basis=None,
                             with_mean=True)[:, 0]
        return s._shape(s._unscale(out).astype(s.dtype), self._scalar)

    def predict(self, X):
        """Predictions: dask array of shape (n_grid, n_new[, n_targets])."""
        dask, da = _import_dask()
        s = self._solver
        p = s.n_features_in_
        if is_dask_input(X):
            X = check_dask_array(X, "X", (2,))
            if X.numblocks[1] > 1:
                X = X.rechunk({1: -1})
        else:
            X = da.from_array(as_array(X, "X", ndims=(2,)), chunks=(-1, -1))
        check_X_new_shape(X.shape, p)
        if s._col_scale is not None:
            X = X * s._col_scale
        out = da.blockwise(_blocks.predict_block, "aij", X, "ix", s._P, "Fbj", s._ym0, "j",
                           new_axes={"a": self.grid.size}, concatenate=True,
                           dtype=np.float64, ctx=self._ctx())
        return s._shape(s._unscale(out).astype(s.dtype), self._scalar)

    def _gcv_mse(self):
        s, d = self._solver, self.spectrum
        # the errors that depend on X alone are raised now, as in NumPy
        _scores.gcv_mse(d.spectrum(np.zeros((d.rank, 1)), np.zeros(1)),
                        d.centering(np.zeros(1), s.fit_intercept), self.filter, self.grid,
                        self.name)
        return s._per_targets(_blocks.gcv_block, (self.grid.size,), ctx=self._ctx()), s._scale

    def _loo_mse(self):
        s = self._solver
        ctx = self._ctx(extra={"loo_compression": _scores.loo_compression_enabled()})
        parts = s._per_rows(_blocks.loo_block, "iaj", {"a": self.grid.size}, s._rows,
                            adjust_chunks={"i": 1}, ctx=ctx)
        return parts.sum(axis=0, split_every=SPLIT_EVERY) / self.spectrum.sum_w, s._scale


# -- functions -------------------------------------------------------------------------------
def dask_ridge_path(X, Y, alphas, **kwargs):
    """:func:`~spectralridge.ridge_path` on Dask arrays: ``RidgePath`` of Dask arrays."""
    solver = DaskRidgeSolver(X, Y, **kwargs)
    path = solver.ridge(alphas)
    return RidgePath(path.coef(), path.intercept())


def dask_ridge_cv(X, Y, alphas=None, *, cv="loo", alpha_per_target=True, scoring="mse",
                  rule="min", fit_intercept=True, sample_weight=None, method="auto",
                  groups=None, penalty_factor=None):
    """:func:`~spectralridge.ridge_cv` on Dask arrays: a CVResult of Dask arrays.

    ``cv``: ``'loo'`` (one more pass over the data), ``'gcv'`` (none), an int K (contiguous
    folds, or group K-fold with `groups`, as in NumPy) or a splitter / iterable of (train,
    test) whose test sets partition the samples. ``groups`` (NumPy or Dask, computed here) as
    in :func:`~spectralridge.ridge_cv`. K-fold training sets are decomposed from per-fold
    factors gathered in the decomposition's pass and the held-out errors are formed from the
    rows, so the whole K-fold search reads the data three times (means, factors, then
    held-out errors when the results are computed). ``alphas``, ``scores`` and ``dof`` as in
    NumPy; ``scores``, ``best_index``, ``best_alpha``, ``best_score``, ``coef``,
    ``intercept`` and ``at_grid_edge`` are Dask arrays chunked by blocks of targets.
    """
    return cross_validate(sys.modules[__name__], X, Y, alphas, cv=cv,
                          alpha_per_target=alpha_per_target, scoring=scoring, rule=rule,
                          groups=groups, fit_intercept=fit_intercept,
                          sample_weight=sample_weight, method=method,
                          penalty_factor=penalty_factor)


def cv_splits(X, Y, cv, groups, kwargs):
    """The solver with per-fold factors and the folds (``range(K)``) of `cv`, whose test
    sets must partition the samples (``_cv.fold_labels``: NumPy's errors for a bad cv)."""
    if not (is_dask_input(X) or hasattr(X, "shape")):
        X = np.asarray(X)
    folds = fold_labels(cv, X, Y, check_groups(groups, X.shape[0], cv), "Dask")
    return DaskRidgeSolver._with_folds(X, Y, folds, **kwargs), range(folds[0])


def kfold(solver, splits, alphas, scoring, alpha_per_target, rule, refine):
    return solver._kfold(alphas, scoring, alpha_per_target, rule)


# The backend interface (see spectralridge._backends).
Solver = DaskRidgeSolver
criteria = False
