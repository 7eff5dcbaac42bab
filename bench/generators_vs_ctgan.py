#!/usr/bin/env python3
"""ctgan per-epoch training time: rareforge against the reference CTGAN, same data, same threads.

The reference is sdv-dev's `ctgan` Python package (CTGAN(epochs=..., batch_size=500) with its
defaults: generator and discriminator 256-256, pac 10, Adam 2e-4). It is not packaged for Debian
and PyPI is not reachable from the development machines, so this script runs it only where
`import ctgan` works (e.g. a virtual environment with `pip install ctgan`, which brings PyTorch
and RDT); otherwise it prints rareforge's figure and says the peer is missing (exit status 0).

Both sides are timed the same way: fit time minus the data transformer's fit+transform time,
divided by the epochs (the training loop alone), wall clock, with `threads` PyTorch / LibTorch
threads. rareforge's side is `bench_generators` (bench/bench_generators.cpp).

    python3 bench/generators_vs_ctgan.py --build build --data data/lending_club.csv \
        --epochs 5 --threads 2
"""
import argparse
import os
import re
import subprocess
import sys
import time


def rareforge_s_per_epoch(build, data, epochs, threads):
    exe = os.path.join(build, "bench", "bench_generators")
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    out = subprocess.run([exe, "--data", data, "--epochs", str(epochs), "--threads", str(threads),
                          "--method", "ctgan"], check=True, capture_output=True, text=True,
                         env=env).stdout
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("ctgan") and len(cells) >= 8:
            return float(cells[6]), line.strip()
    raise RuntimeError("bench_generators printed no ctgan row:\n" + out)


def reference_s_per_epoch(data, target, epochs, threads):
    import pandas as pd
    import torch
    try:
        from ctgan import CTGAN  # ctgan >= 0.5
    except ImportError:  # older releases
        from ctgan import CTGANSynthesizer as CTGAN
    from ctgan.data_transformer import DataTransformer

    torch.set_num_threads(threads)
    df = pd.read_csv(data)
    discrete = [c for c in df.columns if df[c].dtype == object or c == target]
    t0 = time.perf_counter()
    tr = DataTransformer()
    tr.fit(df, discrete)
    tr.transform(df)
    transformer_s = time.perf_counter() - t0
    model = CTGAN(epochs=epochs, batch_size=500, verbose=False)
    t0 = time.perf_counter()
    model.fit(df, discrete)
    fit_s = time.perf_counter() - t0
    return (fit_s - transformer_s) / epochs, fit_s, transformer_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--data", default="data/lending_club.csv")
    ap.add_argument("--target", default="target")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    rf, row = rareforge_s_per_epoch(a.build, a.data, a.epochs, a.threads)
    print(f"rareforge ctgan: {rf:.3f} s/epoch   ({row})")
    try:
        import ctgan  # noqa: F401
    except ImportError:
        print("reference CTGAN: not importable here (pip install ctgan in a virtual environment "
              "to compare); no ratio")
        return 0
    ref, fit_s, tr_s = reference_s_per_epoch(a.data, a.target, a.epochs, a.threads)
    print(f"reference CTGAN: {ref:.3f} s/epoch   (fit {fit_s:.2f} s, transformer {tr_s:.2f} s, "
          f"{a.epochs} epochs, {a.threads} threads)")
    print(f"ratio reference / rareforge: {ref / rf:.2f}x   (goal >= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
