r"""Choosing alpha beyond cross-validation: evidence, L-curve, discrepancy, quasi-optimality.

Every criterion here is a function of the spectrum alone: the eigenvalues ``lam = s^2`` of the
Hessian ``Xc^T Xc`` (rank r), the squared projections ``R^2 = (U^T Yc)^2`` (r x k), the part
of ``||Yc||^2`` outside the span of ``U`` and the number of samples. With the residual and
fitted factors ``g = a / (lam + a)`` and ``f = lam / (lam + a)``, each costs O(r k) per alpha
(one GEMM of an m x r weight matrix with ``R^2`` for m alphas), whatever the number of
samples, so any backend that exposes a spectrum can use them. A *paired* evaluation takes one
alpha per target (shape (k,)) and costs O(r k) in all: the step of the batched off-grid
search (:func:`bracket_search`).

Notation (``base = ||Yc - U U^T Yc||^2``, ``N = n - [intercept] - [unpenalized columns]``,
n the samples of positive weight)::

    ||r(a)||^2 = base + sum_i g_i^2 R_i^2          residual of the fit
    ||W(a)||^2 = sum_i f_i^2 R_i^2 / lam_i         penalty norm sum_j c_j W_j^2
    Q(a)       = base + sum_i g_i R_i^2 = ||r||^2 + a ||W||^2

References
----------
.. [1] D. J. C. MacKay, "Bayesian interpolation", Neural Computation 4(3), 415-447, 1992.
.. [2] P. C. Hansen, "Analysis of discrete ill-posed problems by means of the L-curve",
   SIAM Review 34(4), 561-580, 1992; P. C. Hansen, Rank-Deficient and Discrete Ill-Posed
   Problems, SIAM, 1998, secs. 7.2-7.5.
.. [3] V. A. Morozov, "On the solution of functional equations by the method of
   regularization", Soviet Math. Dokl. 7, 414-417, 1966.
.. [4] A. N. Tikhonov and V. B. Glasko, "Use of the regularization method in non-linear
   problems", USSR Comput. Math. Math. Phys. 5(3), 93-107, 1965; F. Bauer and M. A. Lukas,
   "Comparing parameter choice methods for regularization of ill-posed problems",
   Mathematics and Computers in Simulation 81(9), 1795-1841, 2011.
"""

import dataclasses
import math
import warnings
from typing import NamedTuple

import numpy as np

from . import _core, _scores
from ._validation import (check_alphas, check_bool, check_lcurve_flat, check_lcurve_grid,
                          check_noise_level, check_quasi_grid, check_scoring)

# Bracket width, in log(alpha), at which the off-grid search stops: 1e-6 for the criteria
# from the spectrum (a step costs O(r k)), 1e-2 (alpha to 1 %) for leave-one-out (a step is
# two n x r x k GEMMs).
REFINE_XTOL = 1e-6
LOO_REFINE_XTOL = 1e-2
# log ||r|| or log ||W|| varying by at most this over the grid: the L-curve has no corner.
LCURVE_FLAT = 1e-6
# Rows of U per GEMM in the leave-one-out refinement.
REFINE_ROWS = 8192
_INVPHI = (math.sqrt(5.0) - 1.0) / 2.0


class SpectralProblem(NamedTuple):
    """The spectral quantities the criteria need.

    lam : (r,) positive eigenvalues of ``Xc^T Xc``; R2 : (r, k) ``(U^T Yc)^2``; base : (k,)
    ``||Yc||^2 - ||U^T Yc||^2``; n : samples of positive weight; n_fixed : unpenalized dof
    (intercept and unpenalized columns); sum_w : their total weight; log_w : ``sum log w_i``
    over them.
    """

    lam: np.ndarray
    R2: np.ndarray
    base: np.ndarray
    n: int
    n_fixed: int
    sum_w: float = None
    log_w: float = 0.0

    @property
    def dim(self):
        """N: the dimension of the space the centred targets live in (the samples of
        positive weight less the unpenalized dof: intercept and unpenalized columns)."""
        return self.n - self.n_fixed

    def columns(self, idx):
        """The problem of the targets `idx` only."""
        return self._replace(R2=np.ascontiguousarray(self.R2[:, idx]), base=self.base[idx])

    def joint(self):
        """All targets as one (Frobenius norms): the problem for a shared alpha."""
        return self._replace(R2=self.R2.sum(axis=1, keepdims=True),
                             base=self.base.sum(keepdims=True))


def spectral_problem(spectrum, centering):
    """:class:`SpectralProblem` of a spectrum and its centring (float64)."""
    R2 = np.ascontiguousarray(np.square(spectrum.R, dtype=np.float64))
    if _scores.spanning(spectrum, centering):
        base = np.zeros(R2.shape[1])
    else:
        base = np.maximum(spectrum.yc_sq - R2.sum(axis=0), 0.0)
    sw = centering.sw[centering.sw > 0]
    return SpectralProblem(spectrum.lam.astype(np.float64), R2, base, centering.n_effective,
                           _scores.fixed_dof(centering), centering.sum_w,
                           float(2.0 * np.log(sw).sum()))


# -- the quantities, for a grid (m,) or paired with the targets (k,) -------------------------
def _factors(lam, alphas, paired):
    """``f = lam / (lam + a)`` and ``g = a / (lam + a)``: (m, r), or (r, k) if paired."""
    lam, a = (lam[:, None], alphas[None, :]) if paired else (lam[None, :], alphas[:, None])
    denom = lam + a
    return lam / denom, a / denom


def _reduce(weights, R2, paired):
    """``weights @ R2`` (m, k), or the column sums of ``weights * R2`` (k,) if paired."""
    if paired:
        return np.einsum("rk,rk->k", weights, R2)
    out = np.zeros((weights.shape[0], R2.shape[1]))
    if weights.shape[1]:
        _core.gemm(np.ascontiguousarray(weights), R2, out)
    return out


def residual_sq(problem, alphas, paired=False):
    """``||r(a)||^2``: (m, k), or (k,) for one alpha per target (paired)."""
    _, g = _factors(problem.lam, alphas, paired)
    return problem.base + _reduce(g * g, problem.R2, paired)


def penalty_sq(problem, alphas, paired=False):
    """``||W(a)||^2`` in the penalty's norm ``sum_j c_j W_j^2``."""
    lam = problem.lam[:, None] if paired else problem.lam
    f, _ = _factors(problem.lam, alphas, paired)
    return _reduce(f * f / lam, problem.R2, paired)


def residual_dof(problem, alphas):
    """``n - tr(2H - H^2)`` with the hat matrix H including the intercept: (m,)."""
    f, _ = _factors(problem.lam, alphas, False)
    return problem.dim - (f * (2.0 - f)).sum(axis=1)


def log_evidence(problem, alphas, noise_variance=None, paired=False):
    r"""Log marginal likelihood of the targets under ``W ~ N(0, sigma^2 / a I)``.

    ``y ~ N(0, sigma^2 (I + Xc Xc^T / a))`` on the N-dimensional space of the centred,
    whitened targets: ``-N/2 log(2 pi sigma^2) - 1/2 sum_i log(1 + lam_i / a) - Q(a) /
    (2 sigma^2) + 1/2 sum log w``; with `noise_variance` None, sigma^2 is profiled out
    (``sigma^2 = Q(a) / N``): ``-N/2 (log(2 pi Q(a) / N) + 1) - 1/2 sum log(1 + lam / a) +
    1/2 sum log w``. ``-inf`` at ``a = 0``.
    """
    _, g = _factors(problem.lam, alphas, paired)
    q = problem.base + _reduce(g, problem.R2, paired)
    N = problem.dim
    a = alphas if paired else alphas[:, None]
    lam = problem.lam[:, None] if paired else problem.lam[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        logdet = np.log1p(lam / (alphas[None, :] if paired else alphas[:, None]))
        logdet = logdet.sum(axis=0) if paired else logdet.sum(axis=1)[:, None]
        if noise_variance is None:
            out = -0.5 * N * (np.log(2 * np.pi * q / N) + 1.0) - 0.5 * logdet
        else:
            out = -0.5 * N * np.log(2 * np.pi * noise_variance) - 0.5 * logdet \
                - 0.5 * q / noise_variance
    out = out + 0.5 * problem.log_w
    return np.where(a > 0, out, -np.inf) if problem.lam.size else out


def _log_norm_derivatives(problem, alphas, paired):
    """``(x, x', x'', y, y', y'')`` of ``x = log ||r||``, ``y = log ||W||`` in ``u = log a``.

    With ``dg/du = f g`` and ``df/du = -f g``: ``(||r||^2)' = 2 sum g^2 f R^2``,
    ``(||r||^2)'' = 2 sum g^2 f (2 f - g) R^2``, and term by term ``(||W||^2)' = -(||r||^2)'
    / a``, ``(||W||^2)'' = ((||r||^2)' - (||r||^2)'') / a``: four weighted sums of ``R^2``
    (one GEMM of the stacked weights on a grid).
    """
    lam = problem.lam[:, None] if paired else problem.lam
    f, g = _factors(problem.lam, alphas, paired)
    g2f = 2 * g * g * f
    weights = (g * g, g2f, g2f * (2 * f - g), f * f / lam)
    if paired:
        P, P1, P2, E = (_reduce(w, problem.R2, True) for w in weights)
        a = alphas
    else:
        P, P1, P2, E = np.split(_reduce(np.concatenate(weights), problem.R2, False), 4)
        a = alphas[:, None]
    P = P + problem.base
    with np.errstate(divide="ignore", invalid="ignore"):
        E1, E2 = -P1 / a, (P1 - P2) / a
        out = []
        for v, v1, v2 in ((P, P1, P2), (E, E1, E2)):
            d1 = v1 / v
            out += [0.5 * np.log(v), 0.5 * d1, 0.5 * (v2 / v - d1 * d1)]
    return out


def lcurve_curvature(problem, alphas, paired=False):
    r"""Signed curvature of the L-curve ``(log ||r(a)||, log ||W(a)||)``, positive at the
    corner: ``(x' y'' - x'' y') / (x'^2 + y'^2)^{3/2}`` (invariant to the parametrization,
    here ``u = log a``); 0 where the curve does not move (``a = 0``)."""
    _, x1, x2, _, y1, y2 = _log_norm_derivatives(problem, alphas, paired)
    speed = x1 * x1 + y1 * y1
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (x1 * y2 - x2 * y1) / (speed * np.sqrt(speed))
    return np.where(speed > 0, kappa, 0.0)


def quasi_optimality(problem, alphas, paired=False):
    r"""``||a dW/da||`` in the penalty norm: ``sqrt(sum_i (f_i g_i)^2 R_i^2 / lam_i)``."""
    lam = problem.lam[:, None] if paired else problem.lam
    f, g = _factors(problem.lam, alphas, paired)
    return np.sqrt(_reduce(np.square(f * g) / lam, problem.R2, paired))


def gcv_score(problem, alphas, paired=False):
    """``(||r||^2 / sum_w) / (1 - (dof + [intercept]) / n)^2`` (the solver's GCV)."""
    f, _ = _factors(problem.lam, alphas, paired)
    df = problem.dim - f.sum(axis=0 if paired else 1)
    if not paired:
        df = df[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (residual_sq(problem, alphas, paired) / problem.sum_w) / \
            np.square(df / problem.n)


# -- searches --------------------------------------------------------------------------------
def bracket_search(fun, u, f, xtol, max_steps=100):
    """Minimize ``fun(v, idx)`` per entry from brackets ``u = (u0, u1, u2)`` with ``u0 <= u1
    <= u2`` and values ``f = (f0, f1, f2)``, ``f1 <= f0, f2`` (at an edge of the search
    range ``u0 = u1`` or ``u1 = u2``), batched: each step evaluates ``fun(v, idx)`` once, for
    the entries ``idx`` (an index array) still searching, at the points ``v`` (same size).

    Brent's method without derivatives: a step to the vertex of the parabola through the
    three points where it lies inside the bracket and moves less than half the step before
    last, else a golden-section step into the larger side. An entry is done when its
    bracket is narrower than `xtol` or its parabolic step is shorter than ``xtol / 3`` (the
    parabola through the best three points puts the minimum within that of ``u1``).
    Returns the best point evaluated (``u1``, never worse than the initial one) and its
    value. NaN counts as +inf.
    """
    u0, u1, u2 = (np.array(a, dtype=np.float64) for a in u)
    f0, f1, f2 = (np.where(np.isnan(a), np.inf, np.array(a, dtype=np.float64)) for a in f)
    step_before = u2 - u0
    last = u2 - u0
    done = np.zeros(u1.shape, dtype=bool)
    for _ in range(max_steps):
        d0, d2 = u1 - u0, u1 - u2
        num = d0 * d0 * (f1 - f2) - d2 * d2 * (f1 - f0)
        den = 2.0 * (d0 * (f1 - f2) - d2 * (f1 - f0))
        with np.errstate(divide="ignore", invalid="ignore"):
            v = u1 - num / den
        move = v - u1
        ok = np.isfinite(v) & (v > u0) & (v < u2) & (np.abs(move) < 0.5 * np.abs(step_before))
        done |= ((u2 - u0) <= xtol) | (ok & (np.abs(move) < xtol / 3))
        idx = np.flatnonzero(~done)
        if not idx.size:
            break
        larger_right = (u2 - u1) > (u1 - u0)
        golden = np.where(larger_right, u1 + (1 - _INVPHI) * (u2 - u1),
                          u1 - (1 - _INVPHI) * (u1 - u0))
        v = np.clip(np.where(ok, v, golden), u0, u2)
        step_before[idx], last[idx] = last[idx], (v - u1)[idx]
        fv = np.array(f1)
        value = np.asarray(fun(v[idx], idx), dtype=np.float64)
        fv[idx] = np.where(np.isnan(value), np.inf, value)
        active = ~done
        better = active & (fv < f1)
        left = v < u1
        worse = active & ~better
        # the new best splits the bracket on its side; a worse point closes that side
        nu0 = np.where(better & ~left, u1, np.where(worse & left, v, u0))
        nf0 = np.where(better & ~left, f1, np.where(worse & left, fv, f0))
        nu2 = np.where(better & left, u1, np.where(worse & ~left, v, u2))
        nf2 = np.where(better & left, f1, np.where(worse & ~left, fv, f2))
        u1, f1 = np.where(better, v, u1), np.where(better, fv, f1)
        u0, f0, u2, f2 = nu0, nf0, nu2, nf2
    return u1, f1


def refine_alphas(loss, grid, best_index, xtol, grid_loss):
    """Off-grid alphas minimizing ``loss(alphas, idx)`` (the losses of the entries `idx` at
    `alphas`, both of the same size) between the grid neighbours of
    each target's best grid alpha (:func:`bracket_search` on log(alpha), started from the
    grid's values `grid_loss` (m, k)); never worse than the grid's best. A best alpha of 0
    stays 0 (no log scale below it); a lower neighbour of 0 allows no search below the best.
    Returns the alphas and their losses (k,).
    """
    cols = np.arange(best_index.size)
    order = np.argsort(grid, kind="stable")
    position = np.empty(grid.size, dtype=np.intp)
    position[order] = np.arange(grid.size)
    pos = position[best_index]
    lower, upper = order[np.maximum(pos - 1, 0)], order[np.minimum(pos + 1, grid.size - 1)]
    best = grid[best_index]
    fixed = best == 0
    lower = np.where(grid[lower] == 0, best_index, lower)
    with np.errstate(divide="ignore"):
        log_grid = np.log(np.where(grid > 0, grid, 1.0))
    u = (log_grid[lower], log_grid[best_index], log_grid[upper])
    f = tuple(grid_loss[i, cols] for i in (lower, best_index, upper))

    def search_loss(v, idx):
        return loss(np.exp(v), idx)

    u = tuple(np.where(fixed, 0.0, a) for a in u)  # no search: an empty bracket
    v, value = bracket_search(search_loss, u, f, xtol)
    return np.where(fixed, 0.0, np.exp(v)), np.where(fixed, f[1], value)


def discrepancy_alphas(problem, grid, target_sq):
    """Per target, the alpha where ``||r(a)||^2 = target_sq`` (k,), by safeguarded Newton
    steps on log(alpha) in the bracket of consecutive grid values that contains it.

    Returns (alphas, status) with status 0 (solved), -1 (below the smallest alpha: the
    residual is already too large there) or +1 (above the largest), and the residuals of
    least squares and of the intercept-only model, for the warnings.
    """
    order = np.argsort(grid, kind="stable")
    a_sorted = grid[order]
    rss = residual_sq(problem, a_sorted)                                   # (m, k)
    above = rss >= target_sq
    k = rss.shape[1]
    status = np.where(~above.any(axis=0), 1, np.where(above[0], -1, 0))
    out = np.where(status > 0, a_sorted[-1], a_sorted[0])
    inner = np.flatnonzero(status == 0)
    if inner.size:
        j = np.argmax(above[:, inner], axis=0)
        hi = np.log(a_sorted[j])
        low = a_sorted[j - 1]
        lo = np.where(low > 0, np.log(np.where(low > 0, low, 1.0)), hi - 40.0)
        sub = problem._replace(R2=np.ascontiguousarray(problem.R2[:, inner]),
                               base=problem.base[inner])
        out[inner] = _newton_root(sub, lo, hi, target_sq[inner])
    return out, status, np.broadcast_to(problem.base, (k,)), \
        problem.base + problem.R2.sum(axis=0)


def _newton_root(problem, lo, hi, target):
    """``u`` in ``[lo, hi]`` with ``||r(e^u)||^2 = target`` (increasing in u), per target."""
    u = 0.5 * (lo + hi)
    for _ in range(200):
        a = np.exp(u)
        f, g = _factors(problem.lam, a, True)
        h = problem.base + _reduce(g * g, problem.R2, True) - target
        dh = 2 * _reduce(g * g * f, problem.R2, True)
        lo, hi = np.where(h < 0, u, lo), np.where(h >= 0, u, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = u - h / dh
        inside = np.isfinite(newton) & (newton > lo) & (newton < hi)
        done = (np.abs(h) <= 1e-14 * target) | (hi - lo <= 1e-15 * np.maximum(1, np.abs(u)))
        u = np.where(done, u, np.where(inside, newton, 0.5 * (lo + hi)))
        if done.all():
            break
    return np.exp(u)


# -- results ---------------------------------------------------------------------------------
def _nearest_index(grid, alphas):
    """Index of the grid value nearest to each alpha on a log scale (0 matches only 0)."""
    with np.errstate(divide="ignore"):
        lg, la = np.log(grid), np.log(alphas)
    dist = np.abs(lg[:, None] - la[None, :])
    dist = np.where(np.isnan(dist), 0.0, dist)  # 0 against 0
    return np.argmin(dist, axis=0)


def _select(scores, maximize, shared, joint=None):
    """Best grid index per target (k,): of `scores` (m, k), or of `joint` (m,) if shared."""
    loss = -scores if maximize else scores
    if shared:
        j = -joint if maximize else joint
        return np.full(scores.shape[1], int(np.argmin(np.where(np.isnan(j), np.inf, j))))
    return np.argmin(np.where(np.isnan(loss), np.inf, loss), axis=0)


def _any_columns(score_fn):
    """`score_fn(problem, alphas, paired)` taking (and ignoring) the target indices too."""
    def score(problem, alphas, paired, idx=None):
        return score_fn(problem, alphas, paired)
    return score


class LCurve(NamedTuple):
    residual_norm: np.ndarray
    solution_norm: np.ndarray


class CriteriaMixin:
    """Alpha selection by the criteria of this module, for a solver with a spectrum.

    Needs the solver's engine interface: ``alpha_grid``, ``spectrum_for``, ``data``,
    ``y_was_1d``, ``penalty_map``, ``dtype``; the refinement of leave-one-out and GCV calls
    its ``loo`` / ``gcv``. A backend whose data live elsewhere (the array-API backend)
    overrides the hooks :meth:`problem_for`, :meth:`_refit_rows`, :meth:`_loo_refiner`,
    :meth:`host_array`, :meth:`_place` and :attr:`_host_dtype`: the criteria themselves run on
    the host, on the O(rank x n_targets) spectral problem.
    """

    @property
    def _host_dtype(self):
        """NumPy dtype of the scores and best scores (the working dtype)."""
        return self.dtype

    @staticmethod
    def host_array(a):
        """A result array (scores, best indices) as a NumPy array."""
        return np.asarray(a)

    def _place(self, result):
        """`result` with its arrays where this backend keeps results (NumPy: as is)."""
        return result

    def _loo_refiner(self, spectrum):
        """Leave-one-out mean squared errors at one alpha per target (k,) -> (k,)."""
        return _LooRefiner(spectrum, self.data.centering, self.data.Y)

    def _refit(self, spectrum, alphas):
        """Coefficients (p, k) and intercepts (k,) at one alpha per target."""
        flt = spectrum.ridge(np.ascontiguousarray(alphas, dtype=np.float64))
        return self._refit_rows(spectrum, flt, np.arange(np.size(alphas)))

    def _refit_rows(self, spectrum, flt, best):
        """Coefficients (p, k) and intercepts (k,) with row ``best[t]`` of the filter `flt`
        for target t, mapped back to the features as given where some are unpenalized."""
        coef, intercept = _scores.refit(spectrum, self.data.centering, flt, best, self.dtype)
        if self.penalty_map is not None:
            coef, intercept = self.penalty_map.coef(coef), self.penalty_map.intercept(coef)
        return coef, intercept

    def problem_for(self, alphas):
        """The spectrum behind results for `alphas` and its :class:`SpectralProblem`."""
        if self.backend != "numpy":  # a backend with a spectrum on the host overrides this
            raise TypeError(f"The spectral criteria (evidence, L-curve, discrepancy, "
                            f"quasi-optimality) need a RidgeSolver of NumPy, scipy.sparse or "
                            f"array-API data, not one on the {self.backend!r} backend; use "
                            f"loo(), gcv() or ridge_cv with a splitter.")
        spectrum = self.spectrum_for(alphas)
        return spectrum, spectral_problem(spectrum, self.data.centering)

    def _criterion_result(self, spectrum, grid, scores, best_index, best_alpha, best_score,
                          *, cv, scoring, rule="min", edges=True, at_edge=None):
        """A :class:`~spectralridge.CVResult` refit at `best_alpha` (k,), which may lie off
        the grid; `best_index` (k,) is the grid index the choice came from."""
        dof = spectrum.ridge(grid).dof
        coef, intercept = self._refit(spectrum, best_alpha)
        if edges:
            _scores.warn_grid_edges(best_index, grid, dof, spectrum.rank)
            at_edge = _scores.at_grid_edge(best_index, dof, spectrum.rank)
        with np.errstate(over="ignore", under="ignore"):
            scores = scores.astype(self._host_dtype)
            best_score = np.asarray(best_score, dtype=np.float64).astype(self._host_dtype)
        return self._place(_scores.cv_result(
            grid, dof, dict(scores=scores, best_index=best_index,
                            best_alpha=np.asarray(best_alpha, dtype=np.float64),
                            best_score=best_score, coef=coef, intercept=intercept,
                            at_grid_edge=np.asarray(at_edge)),
            cv=cv, scoring=scoring, rule=rule, y_was_1d=self.y_was_1d))

    def _spectral_choice(self, alphas, score_fn, maximize, alpha_per_target, refine, cv,
                         scoring, candidates=None):
        """Grid selection (and refinement) of a criterion ``score_fn(problem, alphas,
        paired)``; a shared alpha uses the criterion of all targets together
        (``problem.joint()``), except for the evidence, whose logs add up."""
        grid = self.alpha_grid(alphas)
        alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
        refine = check_bool(refine, "refine")
        spectrum, problem = self.problem_for(grid)
        scores = score_fn(problem, grid, False)
        additive = cv == "evidence"
        shared = not alpha_per_target
        joint = None
        if shared:
            joint = scores.sum(axis=1) if additive else score_fn(problem.joint(), grid,
                                                                 False)[:, 0]
        masked, masked_joint = scores, joint
        if candidates is not None:  # grid points outside the search range never win
            bad = -np.inf if maximize else np.inf
            masked = np.where(candidates[:, None], scores, bad)
            masked_joint = None if joint is None else np.where(candidates, joint, bad)
        best_index = _select(masked, maximize, shared, masked_joint)
        cols = np.arange(scores.shape[1])
        best_alpha, best_score = grid[best_index], scores[best_index, cols]
        if refine:
            sign = -1.0 if maximize else 1.0
            # search between candidate grid values only
            sub = np.arange(grid.size) if candidates is None else np.flatnonzero(candidates)
            where = np.full(grid.size, -1)
            where[sub] = np.arange(sub.size)
            search_grid, search_best = grid[sub], where[best_index]
            if shared:
                def loss(a, idx):
                    alphas_k = np.broadcast_to(a, (scores.shape[1],)).copy()
                    if additive:
                        return sign * score_fn(problem, alphas_k, True).sum(keepdims=True)
                    return sign * score_fn(problem.joint(), a, True)
                a, _ = refine_alphas(loss, search_grid, search_best[:1], REFINE_XTOL,
                                     sign * joint[sub, None])
                best_alpha = np.broadcast_to(a, (scores.shape[1],)).copy()
            else:
                def loss(a, idx):
                    return sign * score_fn(problem.columns(idx), a, True, idx)
                best_alpha, _ = refine_alphas(loss, search_grid, search_best, REFINE_XTOL,
                                              sign * scores[sub])
            best_score = score_fn(problem, best_alpha, True)
        return self._criterion_result(spectrum, grid, scores, best_index, best_alpha,
                                      best_score, cv=cv, scoring=scoring)

    def evidence(self, alphas=None, *, noise_variance=None, alpha_per_target=True,
                 refine=False):
        r"""Log marginal likelihood (evidence) of every alpha and target, and its maximizer.

        The Bayesian model ``W ~ N(0, (sigma^2 / alpha) I)`` (in the penalty's metric:
        ``W_j ~ N(0, sigma^2 / (alpha c_j))`` with penalty factors), ``y_i ~ N(x_i^T W + b,
        sigma^2 / w_i)``: the centred, whitened targets are ``N(0, sigma^2 (I + Xc Xc^T /
        alpha))`` and

        ``log p = -N/2 log(2 pi sigma^2) - 1/2 sum_i log(1 + s_i^2 / alpha)
        - (||r||^2 + alpha ||W||^2) / (2 sigma^2) + 1/2 sum_i log w_i``

        with the ridge residual ``r`` and coefficients ``W`` at alpha. With
        ``noise_variance=None`` sigma^2 is profiled out (replaced by its maximizer
        ``(||r||^2 + alpha ||W||^2) / N``), so the maximizer over alpha is that of the joint
        maximization over both precisions (scikit-learn's ``BayesianRidge`` with its gamma
        priors set to 0, ``lambda_ / alpha_``). Without intercept ``N = n_samples`` (samples
        of positive weight) and this is the log density of ``Y``. With an intercept (and
        unpenalized columns, penalty factor 0) these are integrated out under a flat prior
        (REML): the density is that of the ``N = n_samples - 1 - n_unpenalized`` contrasts
        orthogonal to them (``sqrt(w)`` and the weighted free columns), i.e. of the centred,
        projected design; ``BayesianRidge(fit_intercept=True)``, which centres the data but
        keeps ``n_samples``, maximizes a slightly different function. O(rank) per alpha and
        target.

        Parameters
        ----------
        alphas : array-like of shape (n_alphas,), default=None
            None: the default grid (see :meth:`default_alphas`).
        noise_variance : float or array-like of shape (n_targets,), default=None
            Known noise variance sigma^2 (per unit weight), or None to profile it out.
        alpha_per_target : bool, default=True
            Per target, or one alpha maximizing the sum of the targets' log evidences.
        refine : bool, default=False
            After the grid, maximize over log(alpha) between the grid neighbours of the best
            value (Brent's parabolic / golden-section search, to a relative 1e-6 in alpha).

        Returns
        -------
        CVResult
            ``scores``: log evidence (higher is better), ``scoring='log_evidence'``.

        References
        ----------
        .. [1] D. J. C. MacKay, "Bayesian interpolation", Neural Computation 4(3),
           415-447, 1992.
        .. [2] M. E. Tipping, "Sparse Bayesian learning and the relevance vector machine",
           JMLR 1, 211-244, 2001 (the updates of scikit-learn's ``BayesianRidge``).
        """
        nv = None
        if noise_variance is not None:
            nv = check_noise_level(noise_variance, self.data.Y.shape[1], "noise_variance")

        def score(problem, alphas, paired, idx=None):
            return log_evidence(problem, alphas, nv if nv is None or idx is None else nv[idx],
                                paired)

        return self._spectral_choice(alphas, score, True, alpha_per_target, refine,
                                     "evidence", "log_evidence")

    def lcurve(self, alphas=None, *, alpha_per_target=True, refine=False):
        r"""The L-curve ``(log ||Y - X W(a)||, log ||W(a)||)`` and its corner, per target.

        The corner is the point of maximum curvature [1]_, computed analytically from the
        spectrum: with ``x = log ||r||``, ``y = log ||W||`` as functions of ``u = log a``,
        ``kappa = (x' y'' - x'' y') / (x'^2 + y'^2)^{3/2}`` (positive where the curve turns
        from its steep to its flat part). ``||r||`` is the weighted residual norm of the
        centred fit, ``||W||`` the penalty norm ``sqrt(sum_j c_j W_j^2)`` (the Euclidean
        norm without penalty factors). A shared alpha is the corner of the L-curve of all
        targets together (Frobenius norms).

        Parameters
        ----------
        alphas : array-like of shape (n_alphas,), default=None
            At least 4 values; None: the default grid.
        alpha_per_target, refine : bool
            As in :meth:`evidence` (refine: maximize the curvature between the neighbours).

        Returns
        -------
        CVResult
            ``scores``: the curvature (higher is better), ``scoring='curvature'``.

        Raises
        ------
        ValueError
            With fewer than 4 alphas, or if the curve of a target is flat (``log ||r||`` or
            ``log ||W||`` varying by at most 1e-6 over the grid: no corner).

        References
        ----------
        .. [1] P. C. Hansen and D. P. O'Leary, "The use of the L-curve in the
           regularization of discrete ill-posed problems", SIAM J. Sci. Comput. 14(6),
           1487-1503, 1993; P. C. Hansen, "Regularization Tools version 4.0 for Matlab
           7.3", Numerical Algorithms 46, 189-194, 2007 (``l_curve``, ``l_corner``).
        """
        grid = self.alpha_grid(alphas)
        check_lcurve_grid(grid.size)
        self._check_lcurve(grid, check_bool(alpha_per_target, "alpha_per_target"))
        return self._spectral_choice(grid, _any_columns(lcurve_curvature), True,
                                     alpha_per_target, refine, "lcurve", "curvature")

    def lcurve_points(self, alphas):
        """The L-curve's coordinates: residual norms ``||r(alpha)||`` (weighted, of the
        centred fit) and penalty norms ``||W(alpha)||``, each of shape (n_alphas[,
        n_targets]), as a :class:`LCurve`."""
        grid, scalar = check_alphas(alphas)
        _, problem = self.problem_for(grid)
        rho = np.sqrt(residual_sq(problem, grid))
        eta = np.sqrt(penalty_sq(problem, grid))
        if self.y_was_1d:
            rho, eta = rho[:, 0], eta[:, 0]
        return LCurve(rho[0], eta[0]) if scalar else LCurve(rho, eta)

    def _check_lcurve(self, grid, alpha_per_target):
        _, problem = self.problem_for(grid)
        if not alpha_per_target:
            problem = problem.joint()
        positive = grid[grid > 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = 0.5 * np.log(residual_sq(problem, positive))
            y = 0.5 * np.log(penalty_sq(problem, positive))
            x_range, y_range = np.ptp(x, axis=0), np.ptp(y, axis=0)
        for t in range(problem.R2.shape[1]):
            check_lcurve_flat(float(x_range[t]), float(y_range[t]), t, LCURVE_FLAT)

    def quasi_optimality(self, alphas=None, *, alpha_per_target=True, refine=False):
        r"""Quasi-optimality: the alpha minimizing ``||alpha dW/dalpha||``, per target.

        ``||alpha dW/dalpha|| = sqrt(sum_i (f_i (1 - f_i))^2 (u_i^T y)^2 / s_i^2)`` with the
        shrinkage factors ``f_i = s_i^2 / (s_i^2 + alpha)``: the continuous form [1]_ of
        Tikhonov and Glasko's rule (the change of the solution between neighbouring
        alphas of a geometric grid, Bauer and Lukas [2]_). It tends to 0 at both ends of the
        alpha axis, so the search, as in Hansen's ``quasiopt``, is restricted to alphas
        between the smallest and largest eigenvalue ``s^2`` of ``Xc^T Xc``. Norm as in
        :meth:`lcurve`; a shared alpha uses the Frobenius norm over targets.

        Parameters
        ----------
        alphas : array-like of shape (n_alphas,), default=None
        alpha_per_target, refine : bool
            As in :meth:`evidence`.

        Returns
        -------
        CVResult
            ``scores``: ``||alpha dW/dalpha||`` (lower is better), ``scoring='quasi'``.

        Raises
        ------
        ValueError
            If no alpha of the grid lies in ``[s_min^2, s_max^2]``.

        References
        ----------
        .. [1] P. C. Hansen, Rank-Deficient and Discrete Ill-Posed Problems, SIAM, 1998,
           sec. 7.5; Regularization Tools, ``quasiopt``.
        .. [2] F. Bauer and M. A. Lukas, "Comparing parameter choice methods for
           regularization of ill-posed problems", Mathematics and Computers in Simulation
           81(9), 1795-1841, 2011.
        """
        grid = self.alpha_grid(alphas)
        spectrum, _ = self.problem_for(grid)
        lam = spectrum.lam
        lam_min, lam_max = (float(lam[-1]), float(lam[0])) if lam.size else (0.0, 0.0)
        candidates = (grid >= lam_min) & (grid <= lam_max) & (grid > 0)
        check_quasi_grid(int(candidates.sum()), lam_min, lam_max)
        return self._spectral_choice(grid, _any_columns(quasi_optimality), False,
                                     alpha_per_target, refine, "quasi", "quasi",
                                     candidates=candidates)

    def discrepancy(self, noise_level, alphas=None, *, alpha_per_target=True):
        r"""Morozov's discrepancy principle: the alpha where the residual matches the noise.

        Solves ``||r(alpha)||^2 = N sigma^2`` per target for alpha (a root of the continuous,
        increasing function of alpha, by safeguarded Newton steps on log(alpha) between the
        two grid values around it): ``sigma`` is the noise standard deviation per unit
        weight (``Var(e_i) = sigma^2 / w_i``), ``||r||^2 = sum_i w_i (y_i - yhat_i)^2`` and
        ``N = n_samples - [intercept] - [unpenalized columns]`` (samples of positive
        weight), the expected squared norm of the noise left after removing the
        unpenalized part. Multiply `noise_level` by a safety factor ``tau > 1`` for
        Morozov's ``||r|| = tau ||e||``. A shared alpha matches the residual of all targets
        together to ``N sum_t sigma_t^2``.

        Parameters
        ----------
        noise_level : float or array-like of shape (n_targets,)
            sigma, positive.
        alphas : array-like of shape (n_alphas,), default=None
            The search range (its smallest and largest values) and the grid of ``scores``.
        alpha_per_target : bool, default=True

        Returns
        -------
        CVResult
            ``scores``: ``||r(alpha)||^2 / (N sigma^2)`` on the grid, ``best_alpha`` the
            root, ``best_index`` the grid alpha nearest to it (on a log scale),
            ``scoring='discrepancy'``.

        Warns
        -----
        GridEdgeWarning
            Where no alpha of the range reaches the noise level: the residual of the
            smallest alpha already exceeds it (``status`` below: least squares, or the
            residual outside the span of X, leaves more), or that of the largest stays
            below it (more noise than the centred targets hold); the nearest edge of the
            grid is returned and ``at_grid_edge`` is set.

        References
        ----------
        .. [1] V. A. Morozov, "On the solution of functional equations by the method of
           regularization", Soviet Math. Dokl. 7, 414-417, 1966.
        """
        grid = self.alpha_grid(alphas)
        alpha_per_target = check_bool(alpha_per_target, "alpha_per_target")
        k = self.data.Y.shape[1]
        sigma = check_noise_level(noise_level, k)
        spectrum, problem = self.problem_for(grid)
        target = problem.dim * np.square(sigma)
        scores = residual_sq(problem, grid) / target
        solve = problem.joint() if not alpha_per_target else problem
        t = np.array([target.sum()]) if not alpha_per_target else target
        roots, status, rss_low, rss_high = discrepancy_alphas(solve, grid, t)
        self._warn_discrepancy(status, grid, t, rss_low, rss_high)
        if not alpha_per_target:
            roots, status = np.full(k, roots[0]), np.full(k, status[0])
        best_index = _nearest_index(grid, roots)
        best_score = residual_sq(problem, roots, True) / target
        return self._criterion_result(spectrum, grid, scores, best_index, roots, best_score,
                                      cv="discrepancy", scoring="discrepancy", edges=False,
                                      at_edge=status != 0)

    @staticmethod
    def _warn_discrepancy(status, grid, target, rss_low, rss_high):
        if not _scores.grid_edge_warnings_enabled():  # off inside the estimators' fit
            return
        for side, flag in (("smallest", -1), ("largest", 1)):
            hit = np.flatnonzero(status == flag)
            if not hit.size:
                continue
            if flag < 0:
                never = target[hit] < rss_low[hit]
                why = ("least squares already leaves a larger residual (noise_level below "
                       "what any alpha reaches)")
            else:
                never = target[hit] >= rss_high[hit]
                why = ("even the intercept-only model leaves a smaller residual (noise_level "
                       "above what any alpha reaches)")
            unreachable = int(never.sum())
            edge = float(grid.min() if flag < 0 else grid.max())
            msg = (f"The discrepancy principle has no solution in the grid for "
                   f"{hit.size} target(s): their residual norm does not reach the noise "
                   f"level between alpha={float(grid.min()):.4g} and {float(grid.max()):.4g}; "
                   f"returning the {side} alpha {edge:.4g}.")
            if unreachable:
                msg += f" For {unreachable} of them {why}."
            else:
                msg += " Extend the grid."
            warnings.warn(msg, _scores.GridEdgeWarning, stacklevel=_scores.user_stacklevel())

    # -- refinement of leave-one-out and GCV ------------------------------------------------
    def _refined_cv(self, result, cv, scoring, alpha_per_target):
        """`result` of :meth:`loo` / :meth:`gcv` with each best alpha refined off the grid."""
        spectrum, problem = self.problem_for(result.alphas)
        sst = (problem.base + problem.R2.sum(axis=0)) / problem.sum_w if \
            self.penalty_map is None else self.mean_total_ss()
        if cv == "gcv":
            def mse(a, idx=None):
                return gcv_score(problem if idx is None else problem.columns(idx), a, True)
            xtol = REFINE_XTOL
        else:
            mse = self._loo_refiner(spectrum)
            xtol = LOO_REFINE_XTOL
        return self.refine_result(result, mse, scoring, alpha_per_target, sst, xtol)

    def refine_result(self, result, mse, scoring, alpha_per_target, sst,
                      xtol=LOO_REFINE_XTOL):
        """`result` (a grid's :class:`CVResult`) with each best alpha refined off the grid on
        ``mse(alphas, idx)``, the mean squared errors (len(idx),) of the targets `idx` at one
        alpha each; `sst` (k,) the mean total sums of squares of 'r2' in the same units."""
        grid = result.alphas
        spectrum = self.spectrum_for(grid)
        k = self.data.Y.shape[1]
        best_index = np.broadcast_to(np.atleast_1d(self.host_array(result.best_index)), (k,))

        def per_target_loss(a, idx=None):
            value = mse(a, idx)
            return value / (sst if idx is None else sst[idx]) if scoring == "r2" else value

        # the grid's scores in the same units (the refinement starts from them)
        grid_scores = self.host_array(result.scores).astype(np.float64).reshape(grid.size, k)
        grid_loss = 1.0 - grid_scores if scoring == "r2" else grid_scores
        if alpha_per_target:
            alphas, value = refine_alphas(per_target_loss, grid, best_index, xtol, grid_loss)
        else:
            def loss(a, idx):
                return per_target_loss(np.broadcast_to(a, (k,)).copy()).mean(keepdims=True)
            a, _ = refine_alphas(loss, grid, best_index[:1], xtol,
                                 grid_loss.mean(axis=1, keepdims=True))
            alphas = np.full(k, a[0])
            value = per_target_loss(alphas)
        best_score = 1.0 - value if scoring == "r2" else value
        coef, intercept = self._refit(spectrum, alphas)
        best_score = best_score.astype(self._host_dtype)
        if self.y_was_1d:
            return dataclasses.replace(result, best_alpha=float(alphas[0]),
                                       best_score=float(best_score[0]), coef=coef[:, 0],
                                       intercept=intercept[0])
        return self._place(dataclasses.replace(result, best_alpha=alphas,
                                               best_score=best_score, coef=coef,
                                               intercept=intercept))

    def select_alpha(self, cv, alphas, *, scoring="mse", alpha_per_target=True,
                      noise_level=None, refine=False):
        """The choice of :func:`~spectralridge.ridge_cv` for a named criterion."""
        if cv in ("loo", "gcv"):
            scoring = check_scoring(scoring)
            score = self.loo if cv == "loo" else self.gcv
            result = score(alphas, scoring=scoring, alpha_per_target=alpha_per_target)
            return self._refined_cv(result, cv, scoring, alpha_per_target) if refine \
                else result
        if scoring != "mse":
            raise ValueError(f"scoring applies to cross-validation; cv={cv!r} has its own "
                             f"score, got scoring={scoring!r} (leave the default).")
        if cv == "evidence":
            return self.evidence(alphas, noise_variance=None if noise_level is None else
                                 np.square(check_noise_level(noise_level, self.data.Y.shape[1])),
                                 alpha_per_target=alpha_per_target, refine=refine)
        if cv == "lcurve":
            return self.lcurve(alphas, alpha_per_target=alpha_per_target, refine=refine)
        if cv == "quasi":
            return self.quasi_optimality(alphas, alpha_per_target=alpha_per_target,
                                         refine=refine)
        return self.discrepancy(noise_level, alphas, alpha_per_target=alpha_per_target)


class _LooRefiner:
    """Weighted mean squared leave-one-out error for one alpha per target (k,) -> (k,).

    ``e_i = r_i / (1 - h_i)`` with ``r = (Yc - U R) + U diag(g) R`` and ``1 - h_i = o_i +
    sum_j U_ij^2 g_j``, ``g = a / (lam + a)`` per target: two n x r x k GEMMs per call (the
    part of Yc outside the span, ``o_i`` and ``U^2`` are formed once). As in the grid's
    kernel, rows inside the span of U and the intercept take the residual ``U diag(g) R``
    alone, and ``o_i = 0``.
    """

    def __init__(self, spectrum, centering, Y):
        self.lam, self.R = spectrum.lam, spectrum.R
        self.sum_w = centering.sum_w
        U = np.ascontiguousarray(spectrum.U, dtype=np.float64)
        w = np.square(centering.sw)
        self.U, self.U2 = U, np.square(U)
        outside = 1.0 - self.U2.sum(axis=1)
        leverage = getattr(centering, "leverage", None)  # of the unpenalized part
        if leverage is not None:
            outside -= leverage
        elif centering.fit_intercept:
            outside -= w / centering.sum_w
        outside = np.maximum(outside, 0.0)
        inside = (w > 0) & (outside <= _scores.SPAN_TOL * (U.shape[1] + 1))
        if _scores.spanning(spectrum, centering):
            inside = w > 0
        self.outside = np.where(inside, 0.0, outside)
        Yc = centering.sw[:, None] * np.subtract(Y, centering.ym, dtype=np.float64)
        if U.shape[1]:
            _core.gemm(U, np.ascontiguousarray(self.R), Yc, alpha=-1.0, beta=1.0)
        Yc[inside] = 0.0
        self.perp = Yc

    def __call__(self, alphas, idx=None):
        """Scores (k',) of the targets `idx` (default all) at `alphas` (k',)."""
        _, g = _factors(self.lam, alphas, True)                             # (r, k')
        R = self.R if idx is None else self.R[:, idx]
        gR = np.ascontiguousarray(g * R)
        g = np.ascontiguousarray(g)
        out = np.zeros(alphas.size)
        n = self.U.shape[0]
        for i0 in range(0, n, REFINE_ROWS):
            rows = slice(i0, min(n, i0 + REFINE_ROWS))
            resid = self.perp[rows] if idx is None else self.perp[rows][:, idx]
            resid = np.array(resid, order="C")
            hat = np.empty_like(resid)
            hat[:] = self.outside[rows, None]
            if g.shape[0]:
                _core.gemm(self.U[rows], gR, resid, beta=1.0)
                _core.gemm(self.U2[rows], g, hat, beta=1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                e = np.where(resid == 0, 0.0, resid / hat)
            out += np.einsum("ik,ik->k", e, e)
        return out / self.sum_w
