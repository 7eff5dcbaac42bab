#!/usr/bin/env python3
"""A larger table shaped like data/lending_club.csv: rows drawn with replacement, every numeric
feature multiplied by (1 + 0.01 N(0, 1)) so rows do not repeat exactly (skewed amounts and
incomes stay skewed). Used in docs/BENCHMARKS.md for k-NN work on skewed columns.

    /usr/bin/python3 bench/lc_bootstrap.py --rows 200000 --seed 3 --out /tmp/lc200k.csv
"""
import argparse

import numpy as np
import pandas as pd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/lending_club.csv")
    ap.add_argument("--target", default="target")
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    df = pd.read_csv(a.data)
    rng = np.random.default_rng(a.seed)
    b = df.iloc[rng.integers(0, len(df), a.rows)].reset_index(drop=True)
    for c in b.columns:
        if c != a.target and pd.api.types.is_numeric_dtype(b[c]):
            b[c] = (b[c] * (1 + 0.01 * rng.standard_normal(len(b)))).round(4)
    b.to_csv(a.out, index=False)
    print(f"wrote {a.out}: {len(b)} rows; classes {b[a.target].value_counts().to_dict()}")


if __name__ == "__main__":
    main()
