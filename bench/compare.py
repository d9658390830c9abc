"""Before/after: spectralridge's implementations of every workload under two environments.

Each environment is a Python interpreter with its own spectralridge installed (say, a venv
with the code of an earlier commit and one with the current code). Every case runs in a
fresh process per environment, alternating between them ``--rounds`` times so that a
disturbance of the machine falls on both; the report gives each side's median and their
ratio, and checks that both sides chose the same alphas and agree on the coefficients.

    python bench/compare.py --before /venv-old/bin/python --after /venv-new/bin/python
    python bench/compare.py ... --quick --workloads loo-goal kfold --rounds 3
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

import workloads as wl


def child(workload, impl_id, repeat, quick, out):
    """Time one case ``repeat`` times after a warm-up call; save its result to ``out``."""
    d = wl.get_data(workload, quick)
    fn = wl.IMPLS_BY_ID[impl_id].make(d.workload)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fn(d)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn(d)
            times.append(time.perf_counter() - t0)
    np.savez(out, **{k: np.asarray(v) for k, v in res.items()})
    import spectralridge
    return {"times": times, "version_file": spectralridge.__file__}


def run_side(python, workload, impl_id, repeat, quick, out):
    cmd = [python, os.path.abspath(__file__), "--child", workload, impl_id, str(repeat), out]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=tempfile.gettempdir())
    if proc.returncode:
        raise RuntimeError(f"{python} {workload} {impl_id} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agreement(a, b):
    """Largest relative difference of the coefficients and the share of equal alphas."""
    coef = np.max(np.abs(a["coef"] - b["coef"])) / max(np.max(np.abs(a["coef"])), 1e-300)
    same = (float(np.mean(a["best_alpha"] == b["best_alpha"]))
            if "best_alpha" in a.files else float("nan"))
    return float(coef), same


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True, help="Python interpreter of the earlier code")
    ap.add_argument("--after", default=sys.executable, help="Python of the current code")
    ap.add_argument("--quick", action="store_true", help="the workloads' quick sizes")
    ap.add_argument("--workloads", nargs="+", default=list(wl.WORKLOADS))
    ap.add_argument("--impls", nargs="+", default=["sr-auto", "sr-svd", "sr-gram",
                                                     "sr-kernel", "sr-exact"])
    ap.add_argument("--rounds", type=int, default=3, help="alternations per case")
    ap.add_argument("--repeat", type=int, default=1, help="timed calls per process")
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args()

    rows = []
    print(f"{'workload':<16} {'impl':<10} {'before s':>9} {'after s':>9} {'after/before':>12}"
          f" {'coef rel':>9} {'same alpha':>10}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for w, impl in wl.cases():
            if w.name not in args.workloads or impl.id not in args.impls:
                continue
            times = {"before": [], "after": []}
            for _ in range(args.rounds):
                for side in ("before", "after"):
                    r = run_side(getattr(args, side), w.name, impl.id, args.repeat, args.quick,
                                 os.path.join(tmp, side + ".npz"))
                    times[side] += r["times"]
            with np.load(os.path.join(tmp, "before.npz")) as a, \
                    np.load(os.path.join(tmp, "after.npz")) as b:
                coef, same = agreement(a, b)
            tb, ta = np.median(times["before"]), np.median(times["after"])
            rows.append({"workload": w.name, "impl": impl.id, "before": times["before"],
                         "after": times["after"], "ratio": ta / tb, "coef_rel": coef,
                         "same_alpha": same})
            print(f"{w.name:<16} {impl.id:<10} {tb:9.3f} {ta:9.3f} {ta / tb:12.2f}"
                  f" {coef:9.1e} {same:10.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"quick": args.quick, "rounds": args.rounds, "repeat": args.repeat,
                       "machine": wl.machine_info(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, workload, impl_id, repeat, out, *rest = sys.argv
        print(json.dumps(child(workload, impl_id, int(repeat), "--quick" in rest, out)))
    else:
        main()
