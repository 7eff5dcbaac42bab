#!/usr/bin/python3
"""rareforge logreg / knn vs scikit-learn, and our XGBoost wrapper vs Python's xgboost, on the
same data (issue 7's classifier benchmark).

    /usr/bin/python3 bench/classifiers_vs_sklearn.py --build build [--n 1000000] [--d 20]
        [--n-test 20000] [--threads 2] [--only logreg,knn,xgboost] [--xgb-n 200000]
        [--xgb-rounds 100]

Data: sklearn make_classification(n + n_test, d, n_informative=d // 2, weights=[0.9],
flip_y=0.01, random_state=0), standardised with the training rows' mean and sd. Both sides fit
on the same n training rows and score predict_proba on the same n_test rows (ROC-AUC and
average precision of class 1, sklearn's metrics for both).

  logreg  rareforge logreg:alpha=A,l1_ratio=0.5 (default tol 1e-6)
          vs LogisticRegression(penalty="elasticnet", solver="saga", l1_ratio=0.5,
                                C=1/(A*n), tol=1e-4 (sklearn's default))
  knn     rareforge knn:k=5 vs KNeighborsClassifier(n_neighbors=5, n_jobs=threads)
          (sklearn picks brute force for d > 15)
  xgboost rareforge xgboost:n_estimators=R,seed=0 (the C API of the same libxgboost) vs
          xgboost.train(params, DMatrix(X, y), R) with exactly the parameters the wrapper sets
          (tests/fixtures/make_xgboost_fixture.py), nthread = threads, on the first --xgb-n
          training rows. Both sides time DMatrix construction (float64 -> float32) + training +
          predict; the probabilities must agree (max |difference| printed): the ratio is the
          wrapper's overhead.

BLAS: Debian's numpy loads the reference BLAS (libblas3) unless OpenBLAS is installed, which makes
sklearn's brute-force kNN ~10x slower. --openblas DIR (a folder holding OpenBLAS's libblas.so.3,
e.g. /usr/lib/x86_64-linux-gnu/openblas-pthread from libopenblas0-pthread) re-runs this script
with LD_LIBRARY_PATH=DIR for scikit-learn (the rareforge driver runs without it).

Times are wall-clock seconds of fit + predict_proba (rareforge: measured inside the driver,
excluding reading the raw files; sklearn: around the calls). The ratio is sklearn / rareforge.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier


def run_ours(build, tmp, spec, threads, n_test, extra=()):
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    out = subprocess.run([os.path.join(build, "bench", "bench_classifiers"), "--dir", tmp,
                          "--spec", spec, "--threads", str(threads), "--n-test", str(n_test)]
                         + list(extra),
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=20)
    ap.add_argument("--n-test", type=int, default=20_000)
    ap.add_argument("--knn-test", type=int, default=5_000, help="test rows scored by knn")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--alpha", type=float, default=1e-4)
    ap.add_argument("--only", default="logreg,knn")
    ap.add_argument("--xgb-n", type=int, default=200_000, help="training rows for xgboost")
    ap.add_argument("--xgb-rounds", type=int, default=100)
    ap.add_argument("--openblas", default="", help="folder with OpenBLAS's libblas.so.3")
    args = ap.parse_args()
    if args.openblas and os.environ.get("LD_LIBRARY_PATH") != args.openblas:
        if not os.path.exists(os.path.join(args.openblas, "libblas.so.3")):
            sys.exit(f"--openblas {args.openblas}: no libblas.so.3 there")
        env = dict(os.environ, LD_LIBRARY_PATH=args.openblas)
        os.execve(sys.executable, [sys.executable] + sys.argv, env)

    X, y = make_classification(n_samples=args.n + args.n_test, n_features=args.d,
                               n_informative=args.d // 2, weights=[0.9], flip_y=0.01,
                               random_state=0)
    X_tr, y_tr, X_te, y_te = X[:args.n], y[:args.n], X[args.n:], y[args.n:]
    mu, sd = X_tr.mean(axis=0), X_tr.std(axis=0)
    X_tr = np.ascontiguousarray((X_tr - mu) / sd)
    X_te = np.ascontiguousarray((X_te - mu) / sd)

    rows = []
    xgb_row, xgb_version = None, ""
    with tempfile.TemporaryDirectory() as tmp:
        X_tr.astype(np.float64).tofile(os.path.join(tmp, "X_train.f64"))
        X_te.astype(np.float64).tofile(os.path.join(tmp, "X_test.f64"))
        y_tr.astype(np.int32).tofile(os.path.join(tmp, "y_train.i32"))
        y_te.astype(np.int32).tofile(os.path.join(tmp, "y_test.i32"))
        with open(os.path.join(tmp, "shape.txt"), "w") as f:
            f.write(f"{args.n} {args.n_test} {args.d} 2\n")

        todo = args.only.split(",")
        if "logreg" in todo:
            ours = run_ours(args.build, tmp, f"logreg:alpha={args.alpha},l1_ratio=0.5",
                            args.threads, args.n_test)
            clf = LogisticRegression(penalty="elasticnet", solver="saga", l1_ratio=0.5,
                                     C=1.0 / (args.alpha * args.n))
            t0 = time.perf_counter()
            clf.fit(X_tr, y_tr)
            p = clf.predict_proba(X_te)[:, 1]
            t_sk = time.perf_counter() - t0
            rows.append(("logreg", ours, t_sk, roc_auc_score(y_te, p),
                         average_precision_score(y_te, p), int(clf.n_iter_[0])))
        if "knn" in todo:
            m = args.knn_test
            ours = run_ours(args.build, tmp, "knn:k=5", args.threads, m)
            clf = KNeighborsClassifier(n_neighbors=5, n_jobs=args.threads)
            t0 = time.perf_counter()
            clf.fit(X_tr, y_tr)
            p = clf.predict_proba(X_te[:m])[:, 1]
            t_sk = time.perf_counter() - t0
            rows.append(("knn", ours, t_sk, roc_auc_score(y_te[:m], p),
                         average_precision_score(y_te[:m], p), None))
        if "xgboost" in todo:
            import xgboost as xgb
            xgb_version = xgb.__version__
            n = min(args.xgb_n, args.n)
            pred = os.path.join(tmp, "xgb_pred.f64")
            ours = run_ours(args.build, tmp, f"xgboost:n_estimators={args.xgb_rounds},seed=0",
                            args.threads, args.n_test, ["--n-train", str(n), "--pred-out", pred])
            p_ours = np.fromfile(pred, dtype=np.float64).reshape(args.n_test, 2)[:, 1]
            params = {"verbosity": 1, "nthread": args.threads, "seed": 0, "booster": "gbtree",
                      "tree_method": "hist", "max_depth": 6, "eta": 0.3, "subsample": 1.0,
                      "colsample_bytree": 1.0, "colsample_bynode": 1.0, "min_child_weight": 1.0,
                      "lambda": 1.0, "alpha": 0.0, "gamma": 0.0, "max_bin": 256,
                      "objective": "binary:logistic", "scale_pos_weight": 1.0}
            t0 = time.perf_counter()
            dtrain = xgb.DMatrix(X_tr[:n], label=y_tr[:n], missing=np.nan, nthread=args.threads)
            bst = xgb.train(params, dtrain, num_boost_round=args.xgb_rounds)
            p = bst.predict(xgb.DMatrix(X_te, missing=np.nan, nthread=args.threads))
            t_py = time.perf_counter() - t0
            xgb_row = (ours, t_py, roc_auc_score(y_te, p), average_precision_score(y_te, p),
                       float(np.max(np.abs(p_ours - p))))

    if xgb_row is not None:
        ours, t_py, auc, pr, diff = xgb_row
        t_ours = ours["fit_s"] + ours["predict_s"]
        print(f"xgboost {xgb_version}: n_train={min(args.xgb_n, args.n)} d={args.d} "
              f"n_test={args.n_test} rounds={args.xgb_rounds} threads={args.threads}")
        print("| | rareforge wrapper s (fit + predict) | Python xgboost s | ratio Python / ours "
              "| ROC-AUC ours / Python | PR-AUC ours / Python | max abs prob. difference |")
        print("|---|---|---|---|---|---|---|")
        print(f"| xgboost | {t_ours:.2f} (fit {ours['fit_s']:.2f}) | {t_py:.2f} | "
              f"{t_py / t_ours:.2f}x | {ours['roc_auc']:.5f} / {auc:.5f} | "
              f"{ours['pr_auc']:.5f} / {pr:.5f} | {diff:.2e} |")
    if not rows:
        return
    print(f"n_train={args.n} d={args.d} n_test={args.n_test} (knn scores {args.knn_test}) "
          f"threads={args.threads} sklearn BLAS: "
          f"{os.environ.get('LD_LIBRARY_PATH') or 'system default'}")
    print("| classifier | rareforge s (fit + predict) | sklearn s | ratio | ROC-AUC ours / sklearn "
          "| PR-AUC ours / sklearn | iterations ours / sklearn epochs |")
    print("|---|---|---|---|---|---|---|")
    for name, ours, t_sk, auc, pr, it in rows:
        t_ours = ours["fit_s"] + ours["predict_s"]
        iters = f"{ours['n_iter']} / {it}" if it is not None else "-"
        print(f"| {name} | {t_ours:.2f} (fit {ours['fit_s']:.2f}) | {t_sk:.2f} | "
              f"{t_sk / t_ours:.1f}x | {ours['roc_auc']:.5f} / {auc:.5f} | "
              f"{ours['pr_auc']:.5f} / {pr:.5f} | {iters} |")


if __name__ == "__main__":
    main()
