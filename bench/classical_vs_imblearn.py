#!/usr/bin/python3
"""Classical samplers: rareforge against imbalanced-learn on the same data, in one run.

Makes two seeded data sets with 20 numeric features (sklearn's make_classification: 5
informative, 2 redundant, 13 noise features, 2 clusters per class):
    big:   1,000,000 rows, 1% minority  -> SMOTE, BorderlineSMOTE, ADASYN (and rareforge-only
                                           SMOTE-ENN)
    small:   100,000 rows, 2% minority  -> SMOTEENN, SMOTETomek
    svm:      20,000 rows, 2% minority  -> SVMSMOTE (its SVM fit is superlinear in the rows)
writes them as CSV into --dir (kept and reused between runs), then for every method times
  * imbalanced-learn 0.10 fit_resample() in a fresh /usr/bin/python3 process (data already
    loaded; peak = that process's ru_maxrss, which includes the loaded data),
  * rareforge's resample() alone in a fresh bench_classical process (same accounting: peak RSS
    of the process, including the loaded table),
  * the whole CLI: `rareforge resample DATA --method M --out X.csv` (read + resample + write),
and prints seconds, peak MiB and the ratio imbalanced-learn / rareforge (in-memory). With
--repeat N each side runs N times per method (fresh processes) and the fastest run counts, wall
and CPU separately.

Both sides report wall seconds and CPU seconds (user + system, all threads) of the call alone;
on a machine shared with other work the CPU seconds are the steadier figure.

BLAS: numpy's BLAS decides imbalanced-learn's speed on the neighbour searches (scikit-learn's
brute force is a matrix product). Debian's numpy uses whatever libblas.so.3 the alternatives
system points to, the slow reference BLAS unless OpenBLAS is installed. --openblas DIR runs the
imbalanced-learn processes with LD_LIBRARY_PATH=DIR (a folder holding OpenBLAS's libblas.so.3,
e.g. /usr/lib/x86_64-linux-gnu/openblas-pthread from `apt-get install libopenblas0-pthread`, or
that folder unpacked from the .deb by `apt-get download libopenblas0-pthread && dpkg -x ...`);
by default that system folder is used when it exists. The BLAS actually loaded is printed.

imbalanced-learn is slow on some of these (minutes to hours). --imblearn-rows N runs it on the
first N rows of a data set instead (same class balance) and extrapolates its time to the full
size with the method's cost exponent (stated in the output, marked "extrapolated");
--skip-imblearn leaves it out. Run from the repository root:

    /usr/bin/python3 bench/classical_vs_imblearn.py --build build
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

# name, imblearn class, rareforge spec, data set, cost exponent in rows (for extrapolation),
# run imblearn (False: rareforge only; imbalanced-learn would take hours).
METHODS = [
    ("SMOTE", "imblearn.over_sampling.SMOTE", "smote", "big", 1, True),
    ("BorderlineSMOTE", "imblearn.over_sampling.BorderlineSMOTE", "borderline-smote", "big", 2, True),
    ("ADASYN", "imblearn.over_sampling.ADASYN", "adasyn", "big", 2, True),
    ("SMOTEENN", "imblearn.combine.SMOTEENN", "smote-enn", "small", 2, True),
    ("SMOTETomek", "imblearn.combine.SMOTETomek", "smote-tomek", "small", 2, True),
    ("SMOTEENN", "imblearn.combine.SMOTEENN", "smote-enn", "big", 2, False),
    # The SVM (libsvm on both sides) dominates and grows faster than n^2: a smaller data set.
    ("SVMSMOTE", "imblearn.over_sampling.SVMSMOTE", "svm-smote", "svm", 2, True),
]

DATASETS = {"big": (1_000_000, 0.01), "small": (100_000, 0.02), "svm": (20_000, 0.02)}

IMBLEARN_RUNNER = r"""
import importlib, json, sys, time


def vm_hwm_mib():
    # Peak RSS of this process image (ru_maxrss would include the parent's RSS at fork).
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

import numpy as np
import pandas as pd
path, cls_path, nrows = sys.argv[1], sys.argv[2], int(sys.argv[3])
df = pd.read_csv(path, nrows=nrows if nrows > 0 else None)
X = df.iloc[:, :-1].to_numpy(dtype=np.float64)
y = df.iloc[:, -1].to_numpy()
del df
mod, name = cls_path.rsplit(".", 1)
cls = getattr(importlib.import_module(mod), name)
before = vm_hwm_mib()
t0, c0 = time.perf_counter(), time.process_time()
Xr, yr = cls(random_state=0).fit_resample(X, y)
s, c = time.perf_counter() - t0, time.process_time() - c0
try:
    from threadpoolctl import threadpool_info
    blas = ", ".join(f"{i['internal_api']} ({i.get('num_threads')} threads)"
                     for i in threadpool_info() if i.get("user_api") == "blas")
except Exception:
    blas = "?"
print(json.dumps({"seconds": s, "cpu_seconds": c, "blas": blas,
                  "rows_in": len(y), "rows_out": len(yr),
                  "peak_mib": vm_hwm_mib(),
                  "loaded_mib": before}))
"""


def make_data(path, rows, minority, seed):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=20, n_informative=5, n_redundant=2,
                               n_repeated=0, n_clusters_per_class=2, weights=[1 - minority],
                               flip_y=0.0, class_sep=1.0, random_state=seed)
    tmp = path + ".part"
    with open(tmp, "w") as f:
        f.write(",".join(f"x{j}" for j in range(20)) + ",y\n")
        block = 100_000
        for s in range(0, rows, block):
            xb, yb = X[s:s + block], y[s:s + block]
            f.write("\n".join(",".join(map(repr, r)) + f",{c}" for r, c in zip(xb.tolist(), yb)))
            f.write("\n")
    os.replace(tmp, path)


def run_json(cmd, timeout, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="CMake build dir (bench/bench_classical, "
                    "tools/rareforge)")
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "rareforge-bench"),
                    help="where the CSV data sets are written (reused)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0, help="rareforge threads (0 = all cores)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per method and side, each in a fresh process; the fastest counts "
                         "(wall and CPU separately), for machines whose timings vary")
    ap.add_argument("--imblearn-rows", type=int, default=0,
                    help="run imbalanced-learn's slow methods (exponent 2) on this many rows and "
                    "extrapolate (0 = full size)")
    ap.add_argument("--skip-imblearn", action="store_true", help="rareforge only")
    ap.add_argument("--skip-cli", action="store_true", help="do not time the rareforge CLI")
    ap.add_argument("--openblas", default="/usr/lib/x86_64-linux-gnu/openblas-pthread",
                    help="folder with OpenBLAS's libblas.so.3 for the imbalanced-learn runs "
                    "('' = numpy's default BLAS)")
    ap.add_argument("--only", default="", help="comma list of rareforge specs to run")
    ap.add_argument("--small-only", action="store_true",
                    help="only the smaller data sets (not the 1,000,000-row one)")
    args = ap.parse_args()

    bench = os.path.join(args.build, "bench", "bench_classical")
    cli = os.path.join(args.build, "tools", "rareforge")
    for p in (bench,) + (() if args.skip_cli else (cli,)):
        if not os.path.exists(p):
            sys.exit(f"{p} not found: build it first (ninja -C {args.build} bench_classical "
                     "rareforge)")
    os.makedirs(args.dir, exist_ok=True)
    paths = {}
    for name, (rows, minority) in DATASETS.items():
        if args.small_only and name == "big":
            continue
        p = os.path.join(args.dir, f"classical_{rows}_{minority}_seed{args.seed}.csv")
        if not os.path.exists(p):
            t0 = time.perf_counter()
            make_data(p, rows, minority, args.seed)
            print(f"# wrote {p} in {time.perf_counter() - t0:.1f} s", flush=True)
        paths[name] = p

    print(f"# machine: {os.cpu_count()} logical CPUs; rareforge threads: "
          f"{args.threads or 'all'}; imbalanced-learn "
          f"{__import__('imblearn').__version__}, numpy {np.__version__}")
    imb_env = dict(os.environ)
    if args.openblas and os.path.exists(os.path.join(args.openblas, "libblas.so.3")):
        imb_env["LD_LIBRARY_PATH"] = args.openblas + (
            ":" + imb_env["LD_LIBRARY_PATH"] if imb_env.get("LD_LIBRARY_PATH") else "")
        print(f"# imbalanced-learn runs with LD_LIBRARY_PATH={args.openblas}")
    only = set(filter(None, args.only.split(",")))
    results = []
    for name, cls, spec, ds, expo, with_imb in METHODS:
        if ds not in paths or (only and spec not in only):
            continue
        rows, minority = DATASETS[ds]
        path = paths[ds]
        r = {"method": name, "spec": spec, "rows": rows, "minority": minority}
        # rareforge, in memory (fresh process per method so the peak is this method's).
        runs = [run_json([bench, path, "--method", spec, "--threads", str(args.threads)], 7200)[0]
                for _ in range(max(1, args.repeat))]
        rf = runs[0]
        r.update(rf_s=min(x["seconds"] for x in runs), rf_cpu=min(x["cpu_seconds"] for x in runs),
                 rf_mib=max(x["peak_mib"] for x in runs), rf_rows_out=rf["rows_out"])
        if not args.skip_cli and with_imb:  # (the rareforge-only runs are long: no CLI run)
            out = os.path.join(args.dir, f"out_{spec}_{ds}.csv")
            t0 = time.perf_counter()
            subprocess.run([cli, "resample", path, "--method", spec, "--out", out, "--quiet",
                            "--threads", str(args.threads)], check=True)
            r["cli_s"] = time.perf_counter() - t0
            os.remove(out)
        if with_imb and not args.skip_imblearn:
            n = rows
            if args.imblearn_rows and expo >= 2 and args.imblearn_rows < rows:
                n = args.imblearn_rows
            ims = [run_json([sys.executable, "-c", IMBLEARN_RUNNER, path, cls, str(n)], 4 * 3600,
                            imb_env)[0] for _ in range(max(1, args.repeat))]
            im = dict(ims[0], seconds=min(x["seconds"] for x in ims),
                      cpu_seconds=min(x["cpu_seconds"] for x in ims),
                      peak_mib=max(x["peak_mib"] for x in ims))
            scale = (rows / n) ** expo
            r.update(imb_s=im["seconds"] * scale, imb_cpu=im["cpu_seconds"] * scale,
                     imb_mib=im["peak_mib"], imb_rows_out=im["rows_out"], imb_rows=n,
                     imb_blas=im["blas"])
            if n != rows:
                r["imb_note"] = (f"extrapolated from {n} rows: {im['seconds']:.2f} s x "
                                 f"({rows}/{n})^{expo}; peak at {n} rows")
            r["ratio"] = r["imb_s"] / r["rf_s"]
            r["cpu_ratio"] = r["imb_cpu"] / max(r["rf_cpu"], 1e-9)
        results.append(r)
        print(json.dumps(r), flush=True)

    print()
    print(f"{'method':<16}{'rows':>10}  {'imblearn s':>11}{'cpu s':>9}{'MiB':>7}  "
          f"{'rareforge s':>12}{'cpu s':>8}{'MiB':>7}{'CLI s':>8}  {'ratio':>7}{'cpu ratio':>10}"
          f"  rows out (imblearn / rareforge)")

    def fmt(r, key, spec, star=False):
        if key not in r:
            return "-"
        return format(r[key], spec) + ("*" if star and "imb_note" in r else "")

    for r in results:
        print(f"{r['method']:<16}{r['rows']:>10}  {fmt(r, 'imb_s', '.2f', True):>11}"
              f"{fmt(r, 'imb_cpu', '.1f', True):>9}{fmt(r, 'imb_mib', '.0f'):>7}  "
              f"{r['rf_s']:>12.3f}{r['rf_cpu']:>8.2f}{r['rf_mib']:>7.0f}{fmt(r, 'cli_s', '.2f'):>8}"
              f"  {fmt(r, 'ratio', '.1f'):>6}x{fmt(r, 'cpu_ratio', '.1f'):>9}x  "
              f"{r.get('imb_rows_out', '-')} / {r['rf_rows_out']}")
    for r in results:
        if "imb_note" in r:
            print(f"* {r['method']} at {r['rows']} rows: {r['imb_note']}")
    blas = sorted({r["imb_blas"] for r in results if "imb_blas" in r})
    if blas:
        print(f"imbalanced-learn BLAS: {'; '.join(blas)}")
    print("seconds: fit_resample() / resample() alone, data already in memory (wall; cpu = user + "
          "system of all threads); MiB: peak RSS (VmHWM) of the process (includes the loaded data); CLI s: "
          "`rareforge resample` wall time including CSV read and write; ratio = imblearn / "
          f"rareforge; fastest of {max(1, args.repeat)} run(s) per side.")


if __name__ == "__main__":
    main()
