#!/usr/bin/python3
"""rareforge's validation stage vs Python peers computed the way SDMetrics / synthcity do.

    /usr/bin/python3 bench/validation_vs_python.py --build build [--rows 100000] [--dims 20]
        [--threads 2] [--peer-rows 10000] [--real data/lending_club.csv --synthetic FILE]

Measurements (wall-clock seconds; ratio = peer / rareforge):
  mmd  rareforge: tiled exact MMD^2_u (median-heuristic RBF + multi-bandwidth) on `rows` real and
       `rows` synthetic rows x `dims` (bench_validation mmd).
       peer: synthcity's MaximumMeanDiscrepancy(kernel="rbf") approach — full kernel matrices
       with sklearn.metrics.pairwise.rbf_kernel, then XX.mean() + YY.mean() - 2 XY.mean().
       Three n x n float64 matrices do not fit at n = 100,000 (240 GB), so the peer runs on
       `peer-rows` rows per side and its time is scaled by (rows / peer-rows)^2 (the work is
       quadratic); both the measured and the scaled time are printed.
  dcr  rareforge: exact SDMetrics DCR (range-normalised mean per-column distance, capped at 1)
       of every synthetic row to the closest of `rows` real rows (bench_validation dcr).
       peer: sklearn NearestNeighbors(n_neighbors=1, metric="manhattan") on the range-normalised
       columns (the usual way to make SDMetrics' DCR fit in memory; SDMetrics itself builds the
       full distance matrix in chunks and runs out of RAM near 30,000 rows), on `peer-rows`
       query rows against all `rows` reference rows, scaled by rows / peer-rows.
  report (with --real/--synthetic) rareforge's full report (bench_validation report); no Python
       peer computes the same set of metrics, so only our time is printed.
Data for mmd and dcr: N(0, 1) real and N(0.1, 1.1) synthetic rows (numpy seed 1; the rareforge
side draws its own rows of the same distributions).
"""
import argparse
import os
import subprocess
import time

import numpy as np


def ours(build, args):
    out = subprocess.run([os.path.join(build, "bench", "bench_validation")] + args, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return float(out.split()[-1]), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--dims", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peer-rows", type=int, default=10000)
    ap.add_argument("--real")
    ap.add_argument("--synthetic")
    ap.add_argument("--target", default="")
    ap.add_argument("--only", default="mmd,dcr,report")
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    only = a.only.split(",")
    rng = np.random.default_rng(1)
    n, d, p = a.rows, a.dims, min(a.peer_rows, a.rows)
    print(f"# rows={n} dims={d} threads={a.threads} peer_rows={p} (load: {os.getloadavg()})")

    if "mmd" in only:
        t_ours, line = ours(a.build, ["mmd", "--rows", str(n), "--dims", str(d),
                                      "--threads", str(a.threads)])
        print("rareforge", line)
        from sklearn.metrics.pairwise import rbf_kernel, euclidean_distances
        X = rng.normal(0, 1, (p, d))
        Y = rng.normal(0.1, 1.1, (p, d))
        t0 = time.perf_counter()
        Z = np.vstack([X[:1000], Y[:1000]])
        dist = euclidean_distances(Z, Z)[np.triu_indices(len(Z), 1)]
        s = np.median(dist)
        gamma = 1.0 / (2 * s * s)
        xx = rbf_kernel(X, X, gamma=gamma)
        yy = rbf_kernel(Y, Y, gamma=gamma)
        xy = rbf_kernel(X, Y, gamma=gamma)
        mmd2 = xx.mean() + yy.mean() - 2 * xy.mean()
        t_peer = time.perf_counter() - t0
        scaled = t_peer * (n / p) ** 2
        print(f"mmd  peer(rbf_kernel full matrices) rows={p}: {t_peer:.3f} s (mmd2_biased={mmd2:.6g})"
              f"; scaled to {n}: {scaled:.1f} s; rareforge {t_ours:.3f} s; ratio {scaled / t_ours:.1f}")

    if "dcr" in only:
        t_ours, line = ours(a.build, ["dcr", "--rows", str(n), "--dims", str(d),
                                      "--threads", str(a.threads)])
        print("rareforge", line)
        from sklearn.neighbors import NearestNeighbors
        R = rng.normal(0, 0.1, (n, d))
        S = rng.normal(0.01, 0.11, (p, d))
        t0 = time.perf_counter()
        nn = NearestNeighbors(n_neighbors=1, metric="manhattan", n_jobs=a.threads).fit(R)
        dist, _ = nn.kneighbors(S)
        t_peer = time.perf_counter() - t0
        scaled = t_peer * n / p
        print(f"dcr  peer(NearestNeighbors manhattan) queries={p} x {n}: {t_peer:.3f} s; "
              f"scaled to {n} queries: {scaled:.1f} s; rareforge {t_ours:.3f} s; "
              f"ratio {scaled / t_ours:.1f}")

    if "report" in only and a.real and a.synthetic:
        args = ["report", "--real", a.real, "--synthetic", a.synthetic, "--threads",
                str(a.threads)]
        if a.target:
            args += ["--target", a.target]
        t_ours, line = ours(a.build, args)
        print("rareforge", line)


if __name__ == "__main__":
    main()
