"""W6 on an array-API device: spectralridge (torch or CuPy) against NumPy and himalaya.

W6 is himalaya's own benchmark configuration: n=3000, p=1000, 30000 targets, 20 alphas,
3-fold cross-validation (contiguous folds), float32, per-target alpha. The script

1. builds the data on the host (float32) and copies it to the device once;
2. runs ``spectralridge.ridge_cv`` on the device (compressed where that saves work, and
   once with the exact kernel) and on NumPy (the compiled CPU path) and checks the device
   results against NumPy: coefficients within 1e-5 relative (per target,
   against its largest coefficient, where both chose the same alpha), scores within 1e-4
   relative, the same chosen alpha for at least 99% of targets;
3. times it against himalaya's ``RidgeCV`` on the matching backend (``torch``,
   ``torch_cuda`` or ``cupy``) with the same data and folds, and optionally against
   himalaya's NumPy backend and spectralridge's NumPy path (``--numpy``);
4. prints a table with the GEMM-bound limit: the ``m n r k`` held-out multiply-adds at the
   device's measured float32 matmul rate, and the CPU machine limit of the NumPy path (one
   decomposition per training set and of all rows, plus those multiply-adds at the CPU's
   float32 gemm rate).

Usage::

    python bench/gpu.py --quick                  # torch CPU, one tenth of the targets
    python bench/gpu.py --device cuda            # the whole W6 on a GPU
    python bench/gpu.py --device cuda --backend cupy

Exit status 1 if a check fails. Needs himalaya (pure Python) and torch or CuPy.
"""
import os

# torch's OpenMP threads otherwise spin while they wait, which stalls its LAPACK calls (eigh)
# on a CPU shared with other jobs; must be set before torch is imported
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402


def make_w6(n, p, k, seed=0):
    """float32 X with a decaying spectrum and targets of signal-to-noise ratios spread over
    three decades (so that the best alpha differs between targets)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p), dtype=np.float32)
    X *= np.exp(-np.arange(p) / (p / 4)).astype(np.float32) + 0.05
    W = rng.standard_normal((p, k), dtype=np.float32) / np.float32(np.sqrt(p))
    Y = X @ W
    Y /= Y.std(axis=0)
    noise = np.logspace(-1, 1.5, k, dtype=np.float32)
    Y += rng.standard_normal((n, k), dtype=np.float32) * noise
    assert X.dtype == Y.dtype == np.float32
    return X, Y


def folds(n, K):
    bounds = np.array_split(np.arange(n), K)
    return [(np.setdiff1d(np.arange(n), f), f) for f in bounds]


class Device:
    """torch (CPU or CUDA) or CuPy: moving data, synchronizing, the himalaya backend."""

    def __init__(self, backend, device):
        self.backend, self.device = backend, device
        if backend == "torch":
            import torch
            self.lib = torch
            self.dev = torch.device(device)
            self.himalaya = "torch_cuda" if device == "cuda" else "torch"
        else:
            import cupy
            self.lib = cupy
            self.himalaya = "cupy"

    def put(self, a):
        if self.backend == "torch":
            return self.lib.asarray(a, device=self.dev)
        return self.lib.asarray(a)

    def get(self, a):
        if isinstance(a, np.ndarray) or np.isscalar(a):
            return np.asarray(a)
        if self.backend == "torch":
            return a.detach().cpu().numpy()
        return a.get()

    def sync(self):
        if self.backend == "torch" and self.device == "cuda":
            self.lib.cuda.synchronize()
        elif self.backend == "cupy":
            self.lib.cuda.Device().synchronize()

    def gemm_rate(self, size=(1000, 1000, 4096), repeat=5):
        """Multiply-adds per second of a float32 (r x r) @ (r x k)-shaped matmul."""
        m, r, k = size
        A = self.put(np.ones((m, r), dtype=np.float32))
        B = self.put(np.ones((r, k), dtype=np.float32))
        A @ B
        self.sync()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            A @ B
            self.sync()
            times.append(time.perf_counter() - t0)
        return m * r * k / float(np.median(times))


def timed(func, sync, repeat):
    """(result of the last call, median seconds) over `repeat` calls."""
    times = []
    out = None
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        out = func()
        sync()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def himalaya_fit(backend, X, Y, alphas, splits):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    set_backend(backend, on_error="raise")
    return RidgeCV(alphas=alphas, fit_intercept=True, cv=splits).fit(X, Y)


def cpu_limit(X, splits, threads, repeat=3):
    """The CPU's float32 machine rate and the median time of one training set's
    decomposition (float64 Gram and ``dsyevd``), for the machine limit of the NumPy path."""
    from scipy.linalg import blas, lapack
    from threadpoolctl import threadpool_limits
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from workloads import machine_rate
    Xt = X[splits[0][0]].astype(np.float64)
    Xt -= Xt.mean(axis=0)
    with threadpool_limits(threads):
        rate = machine_rate("float32")
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            lapack.dsyevd(blas.dsyrk(1.0, Xt.T, trans=0, lower=0), compute_v=1, lower=0,
                          overwrite_a=1)
            times.append(time.perf_counter() - t)
    return rate, float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one tenth of the targets (3000): a smoke test on a CPU")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--backend", default="torch", choices=("torch", "cupy"))
    parser.add_argument("--targets", type=int, default=None, help="override n_targets")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per tool")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of BLAS and torch (default: all)")
    parser.add_argument("--numpy", action="store_true",
                        help="also time himalaya's NumPy backend on the CPU")
    parser.add_argument("--no-himalaya", action="store_true")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    import spectralridge as sr
    warnings.simplefilter("ignore", sr.GridEdgeWarning)  # noisy targets want alpha -> inf
    from threadpoolctl import threadpool_limits

    n, p, m, K = 3000, 1000, 20, 3
    k = args.targets or (3000 if args.quick else 30000)
    alphas = np.logspace(-1, 6, m)
    dev = Device(args.backend, args.device)
    if args.threads and args.backend == "torch":
        dev.lib.set_num_threads(args.threads)
    if args.threads:
        threadpool_limits(args.threads)
    X, Y = make_w6(n, p, k)
    splits = folds(n, K)
    Xd, Yd = dev.put(X), dev.put(Y)
    print(f"W6: n={n} p={p} k={k} m={m} {K}-fold float32; {args.backend} on {args.device}"
          f"{'' if not args.threads else f', {args.threads} threads'}")

    rows = []
    ref, t_np = timed(lambda: sr.ridge_cv(X, Y, alphas, cv=K), lambda: None, 1)
    rows.append(("spectralridge NumPy (compiled, CPU)", t_np))
    res, t_dev = timed(lambda: sr.ridge_cv(Xd, Yd, alphas, cv=K), dev.sync, args.repeat)
    rows.append((f"spectralridge {args.backend} {args.device}", t_dev))
    with sr.loo_compression(False):  # whether the compressed kernel pays on this device
        _, t_exact = timed(lambda: sr.ridge_cv(Xd, Yd, alphas, cv=K), dev.sync, 1)
    rows.append((f"spectralridge {args.backend} {args.device}, exact kernel "
                 "(loo_compression(False))", t_exact))

    # checks against NumPy
    best, best_ref = dev.get(res.best_index), ref.best_index
    same = best == best_ref
    coef, coef_ref = dev.get(res.coef), ref.coef
    scale = np.abs(coef_ref).max(axis=0)
    coef_err = float((np.abs(coef - coef_ref).max(axis=0)[same] / scale[same]).max())
    scores, scores_ref = dev.get(res.scores), ref.scores
    score_err = float((np.abs(scores - scores_ref) / np.abs(scores_ref)).max())
    checks = [("same alpha as NumPy", float(same.mean()), ">= 0.99", same.mean() >= 0.99),
              ("coef rel. error", coef_err, "<= 1e-5", coef_err <= 1e-5),
              ("scores rel. error", score_err, "<= 1e-4", score_err <= 1e-4)]

    agree = None
    if not args.no_himalaya:
        est, t_him = timed(lambda: himalaya_fit(dev.himalaya, Xd, Yd, alphas, splits),
                           dev.sync, args.repeat)
        rows.append((f"himalaya {dev.himalaya}", t_him))
        agree = float(np.mean(np.isclose(dev.get(est.best_alphas_), alphas[best], rtol=1e-5)))
        if args.numpy:
            _, t_hnp = timed(lambda: himalaya_fit("numpy", X, Y, alphas, splits),
                             lambda: None, 1)
            rows.append(("himalaya numpy (CPU)", t_hnp))

    rate = dev.gemm_rate()
    macs = m * n * p * k  # held-out multiply-adds over the folds (rank r = p here)
    limit = macs / rate

    print(f"\nfloat32 matmul rate on {args.device}: {rate / 1e9:.1f} G multiply-adds/s; "
          f"GEMM-bound limit m n r k / rate = {limit:.2f} s")
    print(f"\n| tool | median s | vs spectralridge {args.backend} |")
    print("|---|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t:.2f} | {t / t_dev:.2f}x |")
    print(f"\nspectralridge {args.backend} / GEMM-bound limit: {t_dev / limit:.2f}x")
    cpu_rate, decomposition = cpu_limit(X, splits, args.threads)
    cpu = (K + 1) * decomposition + macs / cpu_rate
    print(f"CPU machine limit: {K + 1} decompositions of {decomposition:.2f} s (float64 Gram "
          f"and eigh) + m n r k at {cpu_rate / 1e9:.1f} G/s (float32 gemm, the faster of "
          f"NumPy's and SciPy's BLAS) = {cpu:.2f} s; spectralridge NumPy / CPU limit: "
          f"{t_np / cpu:.2f}x")
    if agree is not None:
        print(f"himalaya chose the same alpha for {100 * agree:.2f}% of targets")
    print("\n| check | value | rule | ok |\n|---|---:|---|---|")
    for name, value, rule, ok in checks:
        print(f"| {name} | {value:.3g} | {rule} | {'yes' if ok else 'NO'} |")
    print(f"\nwhole script: {time.perf_counter() - start:.0f} s")
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
