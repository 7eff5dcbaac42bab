#!/usr/bin/python3
"""CSV read benchmark: rareforge::read_csv (bench_csv_read) against pandas.read_csv, one run.

Generates a ROWS x COLS CSV of seeded Gaussian floats (printed with repr, i.e. shortest exact,
up to 17 significant digits) in a temporary directory unless it is already there, then times
pandas.read_csv (best of REPEAT) and the C++ binary (best of REPEAT) and prints both times and
the ratio. Run with Debian's python (python3-pandas, python3-numpy):

    /usr/bin/python3 bench/csv_read.py --binary build/bench/bench_csv_read
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd


def generate(path, rows, cols, seed):
    rng = np.random.default_rng(seed)
    tmp = path + ".part"
    with open(tmp, "w") as f:
        f.write(",".join(f"x{j}" for j in range(cols)) + "\n")
        block = 100_000
        for start in range(0, rows, block):
            values = rng.standard_normal((min(block, rows - start), cols)).tolist()
            f.write("\n".join(",".join(map(repr, row)) for row in values))
            f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True, help="path to bench_csv_read")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="read_csv threads (0 = all cores)")
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "rareforge-bench"))
    args = ap.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    path = os.path.join(args.dir, f"csv_read_{args.rows}x{args.cols}_seed{args.seed}.csv")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        generate(path, args.rows, args.cols, args.seed)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    size_mb = os.path.getsize(path) / 1e6

    best_pd = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        df = pd.read_csv(path)
        best_pd = min(best_pd, time.perf_counter() - t0)
    assert df.shape == (args.rows, args.cols), df.shape
    del df

    out = subprocess.run(
        [args.binary, path, "--repeat", str(args.repeat), "--threads", str(args.threads)],
        check=True, capture_output=True, text=True).stdout
    best_rf = float(re.search(r"best_seconds ([0-9.]+)", out).group(1))
    if f"{args.rows} rows x {args.cols} columns" not in out:
        sys.exit(f"bench_csv_read read a different shape:\n{out}")

    print(f"file: {path} ({args.rows} x {args.cols}, {size_mb:.0f} MB), cores: {os.cpu_count()}")
    print(f"pandas {pd.__version__} read_csv  best of {args.repeat}: {best_pd:.3f} s")
    print(f"rareforge read_csv       best of {args.repeat}: {best_rf:.3f} s")
    print(f"ratio (pandas / rareforge): {best_pd / best_rf:.1f}x")


if __name__ == "__main__":
    main()
