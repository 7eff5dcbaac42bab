#!/usr/bin/env python3
"""ctgan per-epoch training time: rareforge against the reference CTGAN, same data, same threads.

The reference is sdv-dev's `ctgan` Python package (CTGAN(epochs=..., batch_size=500) with its
defaults: generator and discriminator 256-256, pac 10, Adam 2e-4). It is not packaged for Debian
and PyPI is not reachable from the development machines, so this script runs it only where
`import ctgan` works (e.g. a virtual environment with `pip install ctgan`, which brings PyTorch
and RDT); otherwise it prints rareforge's figure and says the peer is missing (exit status 0).
Where it cannot be installed, `--ctgan-src DIR` runs the reference from a source checkout: DIR
holds the `ctgan` package (sdv-dev/CTGAN's ctgan/ directory; DIR/PROVENANCE.txt, if present, is
printed), and bench/ctgan_ref_shim supplies a stand-in for the one RDT class its data
transformer imports (the transformer is not timed; the training loop is the reference's own).

Both sides time the training loop alone, divided by the epochs, wall clock, with `threads`
PyTorch / LibTorch threads: rareforge's side (`bench_generators`, bench/bench_generators.cpp) as
fit time minus the data transformer's fit+transform time; the reference's as the fit time of a
model handed an already fitted transformer (subtracting a second transformer run is too noisy
there). Both CPU times (all threads) are printed too.

    python3 bench/generators_vs_ctgan.py --build build --data data/lending_club.csv \
        --epochs 5 --threads 2
    python3 bench/generators_vs_ctgan.py --build build --data data/lending_club.csv \
        --epochs 5 --threads 2 --ctgan-src /tmp/ctgan-ref
"""
import argparse
import os
import re
import subprocess
import sys
import time


def rareforge_s_per_epoch(build, data, epochs, threads):
    exe = os.path.join(build, "bench", "bench_generators")
    # Both sides run with the OpenMP defaults (no OMP_WAIT_POLICY): a passive wait policy slows
    # either side (rareforge ~30 %, the reference ~2x on the 2-core machine).
    out = subprocess.run([exe, "--data", data, "--epochs", str(epochs), "--threads", str(threads),
                          "--method", "ctgan"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("ctgan") and len(cells) >= 8:
            return float(cells[6]), float(cells[7]), line.strip()
    raise RuntimeError("bench_generators printed no ctgan row:\n" + out)


def reference_s_per_epoch(data, target, epochs, threads):
    import numpy as np
    import pandas as pd
    import torch
    try:
        from ctgan import CTGAN  # ctgan >= 0.5
    except ImportError:
        try:  # a source checkout whose package __init__ re-exports nothing
            from ctgan.synthesizers.ctgan import CTGAN
        except ImportError:  # older releases
            from ctgan import CTGANSynthesizer as CTGAN
    from ctgan.data_transformer import DataTransformer

    torch.set_num_threads(threads)
    df = pd.read_csv(data)
    discrete = [c for c in df.columns if df[c].dtype == object or c == target]
    t0 = time.perf_counter()
    tr = DataTransformer()
    tr.fit(df, discrete)
    encoded = tr.transform(df)
    transformer_s = time.perf_counter() - t0
    # The model is handed the transformer fitted above (its fit and transform then return at
    # once), so fit() times the training loop alone. Subtracting a second transformer run instead
    # is too noisy here: the Bayesian GMM fits take seconds and vary run to run.
    tr.fit = lambda *args, **kwargs: None
    tr.transform = lambda *args, **kwargs: encoded
    sys.modules[CTGAN.__module__].DataTransformer = lambda *args, **kwargs: tr
    model = CTGAN(epochs=epochs, batch_size=500, verbose=False)
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(df, discrete)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    losses = model.loss_values.to_numpy()[:, 1:].astype(float)
    if not np.isfinite(losses).all():
        raise RuntimeError(f"reference CTGAN: non-finite losses\n{model.loss_values}")
    last = model.loss_values.iloc[-1]
    print(f"reference CTGAN: {model._transformer.output_dimensions} encoded columns, "
          f"{model._data_sampler.dim_cond_vec()} conditional; last epoch losses "
          f"G {last.iloc[1]:.3f} D {last.iloc[2]:.3f}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    return fit_s / epochs, fit_cpu / epochs, fit_s, transformer_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--data", default="data/lending_club.csv")
    ap.add_argument("--target", default="target")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctgan-src", default=None,
                    help="directory holding the reference's `ctgan` package (source checkout)")
    a = ap.parse_args()
    if a.ctgan_src:
        shim = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ctgan_ref_shim")
        sys.path[:0] = [os.path.abspath(a.ctgan_src), shim]
    rf, rf_cpu, row = rareforge_s_per_epoch(a.build, a.data, a.epochs, a.threads)
    print(f"rareforge ctgan: {rf:.3f} s/epoch, CPU {rf_cpu:.3f} s/epoch   ({row})")
    try:
        import ctgan
    except ImportError:
        print("reference CTGAN: not importable here (pip install ctgan in a virtual environment "
              "to compare); no ratio")
        return 0
    print(f"reference CTGAN: {os.path.dirname(os.path.dirname(os.path.abspath(ctgan.__file__)))}"
          f" (version {getattr(ctgan, '__version__', 'unknown')})")
    prov = os.path.join(a.ctgan_src or "", "PROVENANCE.txt")
    if a.ctgan_src and os.path.exists(prov):
        with open(prov) as f:
            print(f.read().rstrip())
    ref, ref_cpu, fit_s, tr_s = reference_s_per_epoch(a.data, a.target, a.epochs, a.threads)
    print(f"reference CTGAN: {ref:.3f} s/epoch, CPU {ref_cpu:.3f} s/epoch   (training fit "
          f"{fit_s:.2f} s; transformer {tr_s:.2f} s, not counted; "
          f"{a.epochs} epochs, {a.threads} threads)")
    print(f"ratio reference / rareforge: {ref / rf:.2f}x wall, {ref_cpu / rf_cpu:.2f}x CPU   "
          "(goal >= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
