"""Run the benchmark suite and write bench/RESULTS.md and the figures.

Usage::

    python bench/report.py            # full sizes: bench/RESULTS.md, bench/fig_*.png
    python bench/report.py --quick    # small sizes (CI): bench/RESULTS-quick.md, ratio table
                                      # on stdout, bench/fig_*-quick.png

Steps: (1) ``pytest bench --benchmark-json`` times every implementation of every workload
(each result checked against spectralridge's first; medians of several rounds); (2) each
implementation runs once more in a fresh subprocess for its peak memory (whole process, and
the increment over the baseline after imports and data creation); (3) sweeps over the number
of alphas, targets and samples for the figures (own timing loop, medians); (4) the report:
ratios, the machine limit, and every goal marked met or missed. Nothing is asserted.
"""
import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import workloads as wl  # noqa: E402

MIB = 2.0 ** 20


# -- 1. timings --------------------------------------------------------------------------------
def run_suite(quick, json_path, pytest_args=()):
    cmd = [sys.executable, "-m", "pytest", HERE, f"--benchmark-json={json_path}",
           "-p", "no:cacheprovider", "-q", "--benchmark-columns=median,min,max,rounds",
           "--benchmark-sort=name", *(["--quick"] if quick else []), *pytest_args]
    print("+", " ".join(cmd), flush=True)
    rc = subprocess.call(cmd, cwd=ROOT)
    if rc != 0:
        print(f"warning: pytest exited with status {rc}; reporting what was measured",
              flush=True)
    return rc


def load_timings(json_paths):
    """Rows by (workload, impl) and gemm rates; later files replace earlier rows."""
    rows, rates = {}, {}
    meta = {}
    for path in json_paths:
        with open(path) as f:
            data = json.load(f)
        _load(data, rows, rates)
        meta = {"commit_info": data.get("commit_info", {}), "datetime": data.get("datetime"),
                "reruns": data.get("reruns", [])}
    return rows, rates, meta


def _load(data, rows, rates):
    for b in data["benchmarks"]:
        x, st = b["extra_info"], b["stats"]
        if x.get("role") == "machine":  # the faster of NumPy's and SciPy's BLAS
            rate = x["multiply_adds"] / st["median"]
            own = period_rates(rates, x.get("period"))
            own.setdefault("by_lib", {})[(x.get("lib", "scipy"), x["dtype"])] = rate
            own[x["dtype"]] = max(rate, own.get(x["dtype"], 0.0))
            continue
        rows[(x["workload"], x["impl"])] = dict(
            x, median=st["median"] * x["scale"], raw_median=st["median"],
            q1=st["q1"] * x["scale"], q3=st["q3"] * x["scale"], rounds=st["rounds"])


def merge_json(path, update):
    """Replace (by test id) or add the benchmarks of `update` in the JSON file `path`.

    The rerun's rows are tagged with its period (its start time), and its gemm rates are
    kept beside those of the run it updates, so that each workload's limit takes the rates
    measured with its own timings; the file keeps the first run's commit and time, and lists
    the reruns (period, commit).
    """
    with open(path) as f:
        base = json.load(f)
    with open(update) as f:
        new = json.load(f)
    period = new.get("datetime", "")[:16]
    for b in new["benchmarks"]:
        b["extra_info"]["period"] = period
        if b["extra_info"].get("role") == "machine":
            b["fullname"] += f" @ {period}"
    fresh = {b["fullname"]: b for b in new["benchmarks"]}
    base["benchmarks"] = [fresh.pop(b["fullname"], b) for b in base["benchmarks"]]
    base["benchmarks"] += list(fresh.values())
    base.setdefault("reruns", []).append({"period": period,
                                          "commit": _commit(new.get("commit_info"))})
    with open(path, "w") as f:
        json.dump(base, f, indent=1)


def period_rates(rates, period):
    """The gemm rates of a rerun's `period` (None: of the first run) within `rates`."""
    return rates if period is None else rates.setdefault("periods", {}).setdefault(period, {})


def _commit(ci):
    ci = ci or {}
    return f"{ci['id'][:7]}{' (dirty checkout)' if ci.get('dirty') else ''}" \
        if ci.get("id") else "unknown"


def disturbed_rows(rows, rates):
    """Rows whose dgemm rate or copy bandwidth just before or after their timing was more
    than 20% below the best of their run (or rerun)."""
    out = set()
    for probe in ("gemm", "bandwidth"):
        for period in {r.get("period") for r in rows.values()}:
            seen = {key: min(r[f"{probe}_before"], r[f"{probe}_after"])
                    for key, r in rows.items()
                    if f"{probe}_before" in r and r.get("period") == period}
            if seen:
                best = max(seen.values())
                out |= {key for key, v in seen.items() if v < 0.8 * best}
    return out


# -- 2. memory ---------------------------------------------------------------------------------
def measure_memory(rows, quick, timeout):
    mem = {}
    for (w, impl), row in rows.items():
        if row["role"] == "limit":
            continue
        cmd = [sys.executable, os.path.join(HERE, "workloads.py"), "memory", w, impl,
               *(["--quick"] if quick else [])]
        try:
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                 timeout=timeout, env=dict(os.environ, PYTHONWARNINGS="ignore"))
            mem[(w, impl)] = json.loads(out.stdout.strip().splitlines()[-1])
        except Exception as exc:  # noqa: BLE001 - reported in the table
            mem[(w, impl)] = {"error": f"{type(exc).__name__}"}
        m = mem[(w, impl)]
        print(f"memory {w:16s} {impl:26s} " + (
            f"peak {m['peak'] / MIB:8.1f} MiB  increment {m['increment'] / MIB:8.1f} MiB"
            if "peak" in m else m["error"]), flush=True)
    return mem


# -- 3. sweeps for the figures -----------------------------------------------------------------
def _median_time(fn, repeats, cap):
    time.sleep(0.2)  # let the previous implementation's BLAS threads stop spinning
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    if first > cap / 3:
        return first
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _sweep_data(kind, n, p, k, m, seed=0):
    X, Y = wl.generate(n, p, k, seed)
    w = wl.Workload(f"sweep-{kind}", kind, (n, p, k, m), (n, p, k, m))
    return wl.Data(X, Y, np.logspace(-3, 5, m), w, False)


SWEEP_IMPLS = {
    "path": [("sr-auto", "spectralridge"), ("naive-solve", "naive scipy solve per alpha"),
             ("numpy-svd", "NumPy one-SVD"), ("sklearn-ridge-refit", "sklearn Ridge per alpha")],
    "loo": [("sr-auto", "spectralridge LOO"), ("numpy-svd", "NumPy one-SVD LOO"),
            ("sklearn-ridgecv-default", "sklearn RidgeCV (default)"),
            ("sklearn-ridgecv-svd", "sklearn RidgeCV (svd)")],
    # LOO against the number of alphas: flat past the filter rank when compressed
    "loo_alphas": [("sr-auto", "spectralridge LOO (compressed where it pays)"),
                   ("sr-exact", "spectralridge LOO, exact kernel"),
                   ("sklearn-ridgecv-default", "sklearn RidgeCV (default)")],
}
# The variable of each sweep axis.
SWEEP_VARIABLE = {"alphas": "m", "targets": "k", "samples": "n", "loo_alphas": "m"}


def sweeps(quick, axes=None):
    """Time vs alphas (path), vs targets (LOO), vs samples (LOO) and LOO vs alphas; only
    the sweeps named in `axes` if given."""
    import warnings
    warnings.filterwarnings("ignore")
    if quick:
        specs = [("alphas", "path", dict(n=400, p=100, k=1), [1, 3, 10, 30, 100, 300]),
                 ("targets", "loo", dict(n=400, p=100, m=20), [1, 10, 100, 300]),
                 ("samples", "loo", dict(p=50, k=20, m=20), [200, 400, 800, 1600]),
                 ("loo_alphas", "loo", dict(n=400, p=100, k=100), [10, 30, 100, 300])]
        cap, repeats = 2.0, 5
    else:
        specs = [("alphas", "path", dict(n=2000, p=500, k=1), [1, 3, 10, 30, 100, 300, 1000]),
                 ("targets", "loo", dict(n=2000, p=500, m=20), [1, 10, 100, 300, 1000, 3000]),
                 ("samples", "loo", dict(p=200, k=100, m=20), [500, 1000, 2000, 4000, 8000,
                                                                16000]),
                 ("loo_alphas", "loo", dict(n=2000, p=500, k=1000), [10, 30, 100, 300, 1000])]
        cap, repeats = 30.0, 3
    results = {}
    for axis, kind, fixed, values in specs:
        if axes is not None and axis not in axes:
            continue
        curves = {}
        for impl, label in SWEEP_IMPLS[axis if axis in SWEEP_IMPLS else kind]:
            fn = wl.IMPLS_BY_ID[impl].make(wl.Workload("x", kind, (1,) * 4, (1,) * 4))
            xs, ts = [], []
            for v in values:
                size = dict(fixed, **{SWEEP_VARIABLE[axis]: v})
                d = _sweep_data(kind, size["n"], size["p"], size["k"], size["m"])
                t = _median_time(lambda: fn(d), repeats, cap)
                xs.append(v)
                ts.append(t)
                print(f"sweep {axis:8s} {impl:26s} {v:6d}: {t:.4f} s", flush=True)
                if t > cap:      # the larger sizes would take too long
                    break
            curves[label] = (xs, ts)
        results[axis] = {"kind": kind, "fixed": fixed, "curves": curves}
    return results


def slope(xs, ts, last=4):
    """Log-log slope fitted on the largest `last` points (the asymptotic regime)."""
    if len(xs) < 2:
        return float("nan")
    x, t = np.log(xs[-last:]), np.log(ts[-last:])
    return float(np.polyfit(x, t, 1)[0])


def plot_sweeps(results, suffix):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = {}
    names = {"alphas": "number of alphas m", "targets": "number of targets k",
             "samples": "number of samples n", "loo_alphas": "number of alphas m"}
    for axis, res in results.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for label, (xs, ts) in res["curves"].items():
            ax.loglog(xs, ts, "o-", label=f"{label} (slope {slope(xs, ts):.2f})")
        fixed = ", ".join(f"{k}={v}" for k, v in res["fixed"].items())
        task = "ridge path" if res["kind"] == "path" else "exact LOO, per-target alpha"
        ax.set_title(f"{task}: time vs {names[axis].split()[-1]} ({fixed})", fontsize=10)
        ax.set_xlabel(names[axis])
        ax.set_ylabel("median wall time [s]")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, title="log-log slope on the largest 4 sizes", title_fontsize=8)
        fig.tight_layout()
        name = f"fig_time_vs_{axis}{suffix}.png"
        fig.savefig(os.path.join(HERE, name), dpi=110)
        plt.close(fig)
        files[axis] = name
    return files


# -- 4. report ---------------------------------------------------------------------------------
def fmt_t(t):
    if t is None or not math.isfinite(t):
        return "n/a"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def fmt_r(r):
    return "n/a" if r is None or not math.isfinite(r) else f"{r:.2f}x"


def fmt_mem(m, key):
    return f"{m[key] / MIB:.0f}" if m and key in m else "n/a"


def limits(rows, rates):
    """Machine limit per workload: decomposition median + multiply-adds at the gemm rate."""
    out = {}
    for name, w in wl.WORKLOADS.items():
        dec = rows.get((name, "limit-decomp"))
        rate = None if dec is None else period_rates(rates, dec.get("period")).get(w.dtype)
        if dec is None or rate is None:
            continue
        out[name] = {"decomp": dec["median"], "rate": rate,
                     "limit": dec["median"] + dec["multiply_adds"] / rate,
                     "limit_full": dec["median"] + dec["multiply_adds_complete"] / rate,
                     "ma": dec["multiply_adds"], "ma_full": dec["multiply_adds_complete"]}
    return out


def goals(rows, lim, mem):
    """[(goal, measured, met)] for every goal of the brief."""
    def t(w, impl):
        r = rows.get((w, impl))
        return r["median"] if r else None

    def ratio(w, impl):
        a, b = t(w, impl), t(w, "sr-auto")
        if a is None or b is None:
            return None
        return a / b

    def add_ratio(goal, w, impl, target):
        value = ratio(w, impl)
        add(goal, value, target, ">=", text=None if value is None else
            f"{value:.2f}x ({impl} {fmt_t(t(w, impl))}, spectralridge {fmt_t(t(w, 'sr-auto'))})")

    out = []

    def add_limit(goal, w, target):
        if w not in lim or not t(w, "sr-auto"):
            add(goal, None, target, "<=")
            return
        value = t(w, "sr-auto") / lim[w]["limit"]
        add(goal, value, target, "<=",
            text=f"{value:.2f}x (spectralridge {fmt_t(t(w, 'sr-auto'))}, limit "
                 f"{fmt_t(lim[w]['limit'])}; "
                 f"complete limit {t(w, 'sr-auto') / lim[w]['limit_full']:.2f}x)")

    def add(goal, value, target, cmp, text=None):
        if value is None:
            out.append((goal, "not measured", None))
            return
        met = value >= target if cmp == ">=" else value <= target if cmp == "<=" else \
            value < target
        out.append((goal, text or f"{value:.2f}x", met))

    add_ratio("path-single: >= 5x faster than naive per-alpha solve (Gram once)",
              "path-single", "naive-solve", 5)
    add_ratio("path-single: >= 2x faster than NumPy one-SVD", "path-single", "numpy-svd", 2)
    add_limit("path-single: <= 1.5x machine limit", "path-single", 1.5)
    add_ratio("path-multi: >= 2x faster than naive per-alpha solve (Gram once)",
              "path-multi", "naive-solve", 2)
    add_ratio("path-many-alphas: >= 2x faster than naive per-alpha solve (Gram once)",
              "path-many-alphas", "naive-solve", 2)
    add_ratio("path-many-alphas: compressed faster than the exact kernel", "path-many-alphas",
              "sr-exact", 1)
    add_ratio("loo-goal: >= 2x faster than sklearn RidgeCV(alphas, alpha_per_target=True), "
              "default gcv_mode", "loo-goal", "sklearn-ridgecv-default", 2)
    modes = [(ratio("loo-goal", f"sklearn-ridgecv-{m}"), m) for m in ("default", "svd", "eigen")]
    modes = [x for x in modes if x[0] is not None]
    fastest = min(modes) if modes else (None, None)
    add("loo-goal: >= 1.5x faster than sklearn RidgeCV's fastest gcv_mode", fastest[0], 1.5,
        ">=", text=None if fastest[0] is None else f"{fastest[0]:.2f}x (gcv_mode {fastest[1]})")
    add_limit("loo-goal: <= 1.3x machine limit", "loo-goal", 1.3)
    add_limit("loo-many-alphas: <= 0.5x the exact machine limit (compressed filters)",
              "loo-many-alphas", 0.5)
    add_ratio("loo-many-alphas: >= 5x faster than sklearn RidgeCV(alphas, "
              "alpha_per_target=True), default gcv_mode", "loo-many-alphas",
              "sklearn-ridgecv-default", 5)
    add_ratio("loo-many-alphas: compressed faster than the exact kernel", "loo-many-alphas",
              "sr-exact", 1)
    ms, mk = mem.get(("loo-goal", "sr-auto"), {}), mem.get(("loo-goal",
                                                           "sklearn-ridgecv-default"), {})
    if "peak" in ms and "peak" in mk:
        add("loo-goal: peak memory below sklearn RidgeCV's (default gcv_mode)",
            ms["peak"] / mk["peak"], 1.0, "<",
            text=f"{ms['peak'] / MIB:.0f} vs {mk['peak'] / MIB:.0f} MiB whole-process "
                 f"({ms['increment'] / MIB:.0f} vs {mk['increment'] / MIB:.0f} MiB increment)")
    else:
        add("loo-goal: peak memory below sklearn RidgeCV's", None, 1, "<")
    add_limit("gcv-multi: <= 1.3x machine limit (decomposition + forming U^T Y)", "gcv-multi",
              1.3)
    add_ratio("kfold: >= 10x faster than himalaya RidgeCV (numpy backend)", "kfold", "himalaya",
              10)
    add_ratio("kfold: >= 20x faster than GridSearchCV(Ridge) per target", "kfold",
              "gridsearch-per-target", 20)
    add_ratio("kfold: >= 20x faster than GridSearchCV(Ridge) on all targets at once (one "
              "shared alpha, the cheapest use of it)", "kfold", "gridsearch-shared", 20)
    add_limit("kfold: <= 1.5x machine limit", "kfold", 1.5)
    m = mem.get(("loo-memory", "sr-auto"), {})
    add("loo-memory: whole-process peak < 700 MiB",
        m["peak"] / MIB if "peak" in m else None, 700, "<",
        text=f"{m['peak'] / MIB:.0f} MiB (increment {m['increment'] / MIB:.0f} MiB)"
        if "peak" in m else None)
    faster = []
    for (w, impl), r in rows.items():
        sr_t = t(w, "sr-auto")
        if r["role"] in ("peer", "naive") and sr_t and r["median"] < sr_t:
            faster.append(f"{w}: {impl} {sr_t / r['median']:.2f}x faster")
    out.append(("No workload where any peer is faster than spectralridge (auto)",
                "; ".join(faster) if faster else "none faster", not faster))
    return out


def workload_table(name, rows, lim, mem, disturbed=()):
    w = wl.WORKLOADS[name]
    mine = [(impl, r) for (wn, impl), r in rows.items() if wn == name]
    if not mine:
        return [f"### {name}", "", "not measured", ""]
    r0 = mine[0][1]
    sr_t = rows.get((name, "sr-auto"), {}).get("median")
    head = (f"### {name}: {w.title}\n\nn={r0['n']}, p={r0['p']}, k={r0['k']} targets, "
            f"m={r0['m']} alphas (logspace(-3, 5)), {w.dtype}"
            + (f", {w.folds} folds (KFold, unshuffled)" if w.folds else "") + ".")
    lines = [head, "",
             "| implementation | median | IQR | rounds | time / spectralridge(auto) | "
             "peak MiB (process) | increment MiB | check |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for impl, r in sorted(mine, key=lambda x: x[1]["median"]):
        if r["role"] == "limit":
            continue
        label = r["label"]
        if r["scale"] != 1:
            label += f" (timed on a subset, x{r['scale']:g})"
        m = mem.get((name, impl), {})
        ratio = r["median"] / sr_t if sr_t else None
        flag = " (disturbed?)" if (name, impl) in disturbed else ""
        lines.append(f"| `{impl}`: {label} | {fmt_t(r['median'])}{flag} | "
                     f"{fmt_t(r['q3'] - r['q1'])} | {r['rounds']} | {fmt_r(ratio)} | "
                     f"{fmt_mem(m, 'peak')} | {fmt_mem(m, 'increment')} | {r['check']} |")
    if name in lim:
        L = lim[name]
        lines += ["", f"Machine limit: decomposition {fmt_t(L['decomp'])} + "
                  f"{L['ma']:.3g} multiply-adds at {L['rate'] / 1e9:.1f} G/s = "
                  f"**{fmt_t(L['limit'])}**; spectralridge(auto) / limit = "
                  f"**{fmt_r(sr_t / L['limit']) if sr_t else 'n/a'}**"
                  + (f". Complete limit (adding the projection of Y, the second basis and the "
                     f"refit, {L['ma_full']:.3g} multiply-adds): {fmt_t(L['limit_full'])}, "
                     f"ratio {fmt_r(sr_t / L['limit_full'])}"
                     if sr_t and L["ma_full"] != L["ma"] else "") + "."]
    return lines + [""]


def ratio_table(rows):
    """Compact text table for the CI log: every implementation's time / spectralridge(auto)."""
    out = []
    for name in wl.WORKLOADS:
        sr_t = rows.get((name, "sr-auto"), {}).get("median")
        mine = sorted([(impl, r) for (wn, impl), r in rows.items() if wn == name
                       and r["role"] != "limit"], key=lambda x: x[1]["median"])
        if not mine:
            continue
        out.append(f"{name}")
        for impl, r in mine:
            ratio = r["median"] / sr_t if sr_t else float("nan")
            out.append(f"  {impl:26s} {fmt_t(r['median']):>10s}  {ratio:7.2f}x")
    return "\n".join(out)


def perturbed(load):
    """Whether the machine's speed changed between the start and the end of the run."""
    return abs(load[3] / load[4] - 1) > 0.15


PERTURBED = ("**Warning: the dgemm rate changed by more than 15% between the start and the "
             "end of the run**: other processes may have disturbed the timings; rerun "
             "`python bench/report.py` on a quiet machine.")


def git_state():
    """Commit of the checkout and whether src/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, text=True,
                               capture_output=True, check=True).stdout.strip()
        return head + (" (src/ with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def pool_fight(quick):
    """ms per sklearn Ridge(alpha).fit on path-single's data: default BLAS threads vs one.

    Ridge.fit alternates NumPy's BLAS (X^T X) and SciPy's LAPACK (the solve): with both
    OpenBLAS pools at 2 threads they compete for the cores (DESIGN.md section 6).
    """
    try:
        from sklearn.linear_model import Ridge
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    d = wl.get_data("path-single", quick)

    def per_fit(count=10):
        time.sleep(0.2)
        t = time.perf_counter()
        for a in d.alphas[:count]:
            Ridge(alpha=a).fit(d.X, d.Y)
        return (time.perf_counter() - t) / count

    per_fit(2)
    default = per_fit()
    with threadpool_limits(1):
        single = per_fit()
    wl.clear_data()
    return default, single


def machine_section(info, rates, load):
    v = info["versions"]
    lines = ["## Machine", "",
             f"- CPU: {info['cpu']}, {info['cores']} cores; {info['platform']}",
             "- Python " + v["python"] + ", " + ", ".join(
                 f"{k} {v[k]}" for k in ("numpy", "scipy", "sklearn", "himalaya", "fracridge",
                                         "spectralridge")),
             f"- spectralridge commit {info.get('commit', 'unknown')}",
             "- BLAS (threadpoolctl): " + "; ".join(
                 f"{p.get('internal_api')} {p.get('version')} ({p.get('prefix')}, "
                 f"{os.path.basename(os.path.dirname(p.get('filepath', '')))}) "
                 f"{p.get('num_threads')} threads, {p.get('architecture')}"
                 for p in info["blas"]),
             "- Environment: " + ", ".join(f"{k}={val}" for k, val in info["env"].items()
                                           if val is not None) + (
                 " (OPENBLAS_CORETYPE pins OpenBLAS's kernels)"
                 if info["env"].get("OPENBLAS_CORETYPE") else ""),
             "- BLAS gemm 1500x1500 (median of 7; the machine rate of the limits is the faster "
             "library's): " + ", ".join(
                 f"{lib} {dt} {r / 1e9:.1f} G multiply-adds/s"
                 for (lib, dt), r in sorted(rates.get("by_lib", {}).items())),
             *(f"- Rerun written {r['period']} UTC, commit {r['commit']}: "
               f"{', '.join(r['workloads'])}; their limits take this "
               "period's gemm rates: " + ", ".join(
                   f"{lib} {dt} {v / 1e9:.1f} G/s" for (lib, dt), v in sorted(
                       period_rates(rates, r["period"]).get("by_lib", {}).items()))
               for r in info.get("reruns", [])),
             f"- Perturbation check: 1-minute load average {load[0]:.2f} before, at most "
             f"{load[2]:.2f} during the timings (this suite alone reaches 2-3: the BLAS "
             f"pools of NumPy and SciPy each run 2 threads), "
             f"{load[1]:.2f} after; dgemm {load[3] / 1e9:.1f} G/s before and "
             f"{load[4] / 1e9:.1f} G/s after the run.", ""]
    if perturbed(load):
        lines += [PERTURBED, ""]
    return lines


NOTES = """## Method

- Timings: pytest-benchmark (`bench/test_bench.py`), one group per workload, median of 3-15
  rounds after one untimed call whose result is checked against spectralridge's
  (`method='auto'`) before any timing: coefficients and intercepts per alpha to 1e-7 relative
  (1e-3 for float32), or per target the best CV score to 1e-6 (1e-2 for float32), the same
  best alpha (or a tie in spectralridge's scores) and the coefficients at it.
- "spectralridge(auto)" is the reference of every ratio; ratios > 1 mean spectralridge is
  faster. Rows timed on a subset (GridSearchCV per target: 5 targets) are scaled to the whole
  workload, as labelled.
- Machine limit (DESIGN.md section 6): the median time of the fastest accurate
  decomposition (SciPy `dsyrk` + `dsyevd` of the smaller Gram of the centred float64 design;
  for K-fold one `dsyrk` per fold, training Grams by downdating, one `dsyevd` per fold and
  one of the full Gram for the refit) plus
  the workload's multiply-adds at the SciPy BLAS gemm rate measured in the same run (sgemm
  for float32 workloads, whose factorizations still run in float64): path `m p r k`; LOO
  `m n r k + n r m`; GCV the forming of `U^T Y` (`n p k + p r k` through `V^T (X^T Y)`) plus
  `m r k`; K-fold the held-out predictions `n m r k` plus `X_test V` (`n p r`) and the
  projections of Y (`n p k`). r is the rank of the centred design. This is the formula the
  goals use. The "complete" limit adds the rest of the work no implementation can skip:
  forming `U^T Y` (path, LOO), the basis the decomposition does not give (`U = Xc V / s` for
  LOO on the Gram route, `V` on the kernel route: `n p r`) and the refit at the best alphas
  (`p r k`, cross-validation).
- Memory: every implementation runs once more in a fresh process (`python bench/workloads.py
  memory WORKLOAD IMPL`) that imports only what it needs and creates the data; "peak" is the
  whole-process `ru_maxrss`, "increment" the peak minus the resident size just before the
  call (the kernel's peak counter is reset through /proc/self/clear_refs first).
- scikit-learn 1.9's RidgeCV maps gcv_mode 'auto' to 'eigen' (a p x p eigendecomposition
  here); its 'gcv' is exact leave-one-out, so on the GCV workload it is checked against
  spectralridge's LOO and is not the same criterion.
- fracridge fits no intercept: it runs on data centred inside the timed call, on a grid of
  norm fractions (for one target, the fractions of the benchmark's alphas), and is checked
  against spectralridge at the alphas it finds.
- Nothing is asserted on time; a missed goal is a row of the goals table.
"""


def write_report(path, rows, rates, lim, mem, figs, info, load, quick, elapsed, slopes,
                 disturbed, fight=None):
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [f"# spectralridge benchmarks{' (quick sizes)' if quick else ''}", "",
             f"Generated {now} by `python bench/report.py{' --quick' if quick else ''}` "
             f"in {elapsed / 60:.1f} min.", ""]
    lines += machine_section(info, rates, load)
    if disturbed:
        lines += [_disturbed_text(disturbed) + " They are marked (disturbed?) below.", ""]
    lines += ["## Goals", ""]
    if quick:
        lines += ["Quick sizes: the goals are set for the full sizes; these are indicative only.",
                  ""]
    lines += ["Ratios are other / spectralridge(auto) time, or spectralridge(auto) / limit.", "",
              "| goal | measured | status |", "|---|---|---|"]
    for goal, measured, met in goals(rows, lim, mem):
        status = "n/a" if met is None else "**met**" if met else "**MISSED**"
        lines.append(f"| {goal} | {measured} | {status} |")
    lines += ["", "## Workloads", ""]
    for name in wl.WORKLOADS:
        lines += workload_table(name, rows, lim, mem, disturbed)
    if figs:
        lines += ["## Scaling", ""]
        for axis, name in figs.items():
            lines.append(f"![time vs {axis}]({name})")
            lines.append("")
            lines.append("slopes (largest 4 sizes): " + ", ".join(
                f"{label} {s:.2f}" for label, s in slopes[axis].items()))
            lines.append("")
    lines.append(NOTES)
    if fight:
        lines += ["- Peers run in their default configuration (both OpenBLAS pools at their "
                  "default thread count). scikit-learn's `Ridge.fit` alternates NumPy's BLAS "
                  "and SciPy's LAPACK, whose pools then compete for the cores (DESIGN.md "
                  f"section 6): measured here {fight[0] * 1e3:.1f} ms per fit on path-single's "
                  f"data by default, {fight[1] * 1e3:.1f} ms under `threadpool_limits(1)`. "
                  "The rows built on Ridge.fit (per-alpha refit, GridSearchCV) would be that "
                  "much faster single-threaded; RidgeCV's leave-one-out, dominated by large "
                  "NumPy matrix products, is fastest with the default threads.", ""]
    text = "\n".join(lines)
    if os.path.exists(path):  # sections measured by hand outside the suite stay
        with open(path) as f:
            old = f.read()
        if HAND_MEASURED in old:
            text = text.rstrip("\n") + "\n\n" + old[old.index(HAND_MEASURED):]
    with open(path, "w") as f:
        f.write(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (about 3 minutes)")
    ap.add_argument("--json", nargs="+", help="report from these pytest-benchmark JSON files "
                    "(later ones replace earlier rows) instead of running pytest")
    ap.add_argument("--rerun", metavar="PATTERN", help="time again only the cases matching "
                    "this pytest -k pattern and merge them into bench/benchmark[-quick].json")
    ap.add_argument("--no-memory", action="store_true",
                    help="reuse bench/memory[-quick].json instead of measuring memory")
    ap.add_argument("--no-figures", action="store_true",
                    help="reuse bench/sweeps[-quick].json instead of running the sweeps")
    ap.add_argument("--sweeps", nargs="+", choices=sorted(SWEEP_VARIABLE),
                    help="run only these sweeps, keeping the others from bench/sweeps[-quick].json")
    ap.add_argument("--pytest-args", default="", help="extra pytest arguments")
    args = ap.parse_args(argv)
    quick = args.quick or wl.quick_from_env()
    suffix = "-quick" if quick else ""
    start = time.time()
    load0 = os.getloadavg()[0]
    rate0 = wl.gemm_rate()
    json_path = os.path.join(HERE, f"benchmark{suffix}.json")
    if args.rerun:
        # Time again the cases matching the pattern; replace them in the existing JSON.
        tmp = os.path.join(HERE, f"benchmark-rerun{suffix}.json")
        # the gemm rates of the limits are measured again with the rows
        run_suite(quick, tmp, ["-k", f"({args.rerun}) or gemm_rate", *args.pytest_args.split()])
        merge_json(json_path, tmp)
        os.remove(tmp)
    elif not args.json:
        run_suite(quick, json_path, args.pytest_args.split())
    rows, rates, meta = load_timings(args.json or [json_path])
    disturbed = disturbed_rows(rows, rates)
    lim = limits(rows, rates)

    mem_path = os.path.join(HERE, f"memory{suffix}.json")
    if args.no_memory:
        mem = _read_keyed(mem_path)
    else:
        mem = measure_memory(rows, quick, timeout=300 if quick else 1800)
        _write_keyed(mem_path, mem)

    sweep_path = os.path.join(HERE, f"sweeps{suffix}.json")
    res = {}
    if (args.no_figures or args.sweeps) and os.path.exists(sweep_path):
        with open(sweep_path) as f:
            res = json.load(f)
    if not args.no_figures:
        res.update(sweeps(quick, args.sweeps))
        with open(sweep_path, "w") as f:
            json.dump(res, f, indent=1)
    figs = plot_sweeps(res, suffix) if res else {}
    slopes = {axis: {label: slope(*c) for label, c in r["curves"].items()}
              for axis, r in res.items()}

    info = wl.machine_info()
    ci = meta.get("commit_info") or {}
    info["commit"] = (f"{_commit(ci)}, timings written {meta.get('datetime', '?')[:16]} UTC"
                      if ci.get("id") else git_state())
    reruns = [dict(r, workloads=sorted({w for (w, _), row in rows.items()
                                        if row.get("period") == r["period"]}))
              for r in meta.get("reruns", [])]
    info["reruns"] = [r for r in reruns if r["workloads"]]  # not those superseded
    fight = pool_fight(quick)
    load = (load0, os.getloadavg()[0], max([r.get("load", 0.0) for r in rows.values()] or [0]),
            rate0, wl.gemm_rate())
    out = os.path.join(HERE, f"RESULTS{suffix}.md")
    write_report(out, rows, rates, lim, mem, figs, info, load, quick, time.time() - start,
                 slopes, disturbed, fight)
    if quick:
        print("\ntime / spectralridge(auto) (> 1: spectralridge faster)")
        print(ratio_table(rows))
        print("\ngoals")
        for goal, measured, met in goals(rows, lim, mem):
            print(f"  [{'n/a' if met is None else 'met' if met else 'MISSED'}] {goal}: "
                  f"{measured}")
    if perturbed(load):
        print("\n" + PERTURBED.replace("**", ""))
    if disturbed:
        print("\n" + _disturbed_text(disturbed))
    print(f"\nwrote {os.path.relpath(out, ROOT)} ({(time.time() - start) / 60:.1f} min)")
    return 0


def _disturbed_text(disturbed):
    if not disturbed:
        return ""
    names = ", ".join(f"{w}/{i}" for w, i in sorted(disturbed))
    groups = " or ".join(sorted({f"{w}/" for w, _ in disturbed}))
    return (f"Rows whose dgemm rate or copy bandwidth just before or after their timing was "
            f"more than 20% below the best of their run or rerun (possibly disturbed by other "
            f"processes or tenants of the host): {names}. Rerun their whole workloads, so that "
            f"the ratios compare timings of one period: `python bench/report.py --rerun "
            f"\"{groups}\" --no-memory --no-figures`.")


# Heading of the part of a results file written by hand (runs outside the suite); a new
# report keeps it.
HAND_MEASURED = "## Measured by hand"


def _write_keyed(path, mapping):
    with open(path, "w") as f:
        json.dump([[list(k), v] for k, v in mapping.items()], f, indent=1)


def _read_keyed(path):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {tuple(k): v for k, v in json.load(f)}


if __name__ == "__main__":
    sys.exit(main())
