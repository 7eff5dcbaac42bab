// Driver for bench/classifiers_vs_sklearn.py: fit one classifier on a train split and score a
// test split, both read from raw files the script writes (float64 row-major X, int32 y).
//   bench_classifiers --dir DIR --spec "logreg:alpha=1e-4" --threads T [--n-test N]
//                     [--n-train N] [--pred-out FILE]
// DIR holds raw files: X_train.f64, y_train.i32, X_test.f64, y_test.i32 and
// shape.txt ("n_train n_test d n_classes"). Prints one JSON line: fit_s, predict_s, roc_auc,
// pr_auc (of class 1 / macro), and for logreg the iterations. --n-train uses only the first N
// training rows; --pred-out writes the test probabilities (float64, n_test x K row-major) for
// the script to compare with its peer's (the XGBoost parity check).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "classifiers/classifier.h"
#include "classifiers/linear.h"
#include "classifiers/metrics.h"
#include "core/context.h"

using rareforge::MatrixRM;

template <class T>
std::vector<T> read_raw(const std::string& path, size_t count) {
  std::vector<T> v(count);
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(v.data()),
               static_cast<std::streamsize>(count * sizeof(T)))) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(1);
  }
  return v;
}

int main(int argc, char** argv) {
  std::string dir, spec = "logreg";
  int threads = 0;
  int64_t n_test_limit = -1, n_train_limit = -1;
  std::string pred_out;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dir")
      dir = argv[i + 1];
    else if (a == "--spec")
      spec = argv[i + 1];
    else if (a == "--threads")
      threads = std::stoi(argv[i + 1]);
    else if (a == "--n-test")
      n_test_limit = std::stoll(argv[i + 1]);
    else if (a == "--n-train")
      n_train_limit = std::stoll(argv[i + 1]);
    else if (a == "--pred-out")
      pred_out = argv[i + 1];
  }
  std::ifstream shape(dir + "/shape.txt");
  int64_t n_train = 0, n_test = 0, d = 0;
  int k = 0;
  shape >> n_train >> n_test >> d >> k;
  MatrixRM X(n_train, d), Xt(n_test, d);
  {
    auto v = read_raw<double>(dir + "/X_train.f64", static_cast<size_t>(n_train * d));
    std::copy(v.begin(), v.end(), X.data());
    auto w = read_raw<double>(dir + "/X_test.f64", static_cast<size_t>(n_test * d));
    std::copy(w.begin(), w.end(), Xt.data());
  }
  auto y = read_raw<int32_t>(dir + "/y_train.i32", static_cast<size_t>(n_train));
  auto yt = read_raw<int32_t>(dir + "/y_test.i32", static_cast<size_t>(n_test));
  if (n_train_limit > 0 && n_train_limit < n_train) {
    X.conservativeResize(n_train_limit, d);
    y.resize(static_cast<size_t>(n_train_limit));
  }
  if (n_test_limit > 0 && n_test_limit < n_test) {
    Xt.conservativeResize(n_test_limit, d);
    yt.resize(static_cast<size_t>(n_test_limit));
  }
  rareforge::Context ctx;
  ctx.threads = threads;
  ctx.quiet = true;
  auto clf = rareforge::classifiers::make_classifier(spec);
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  clf->fit(X, y, k, nullptr, ctx);
  const auto t1 = clock::now();
  const MatrixRM p = clf->predict_proba(Xt);
  const auto t2 = clock::now();
  if (!pred_out.empty()) {
    std::ofstream out(pred_out, std::ios::binary);
    out.write(reinterpret_cast<const char*>(p.data()),
              static_cast<std::streamsize>(p.size() * sizeof(double)));
  }
  const double auc = rareforge::metrics::roc_auc(yt, p);
  const double ap = rareforge::metrics::average_precision(yt, p);
  int64_t iters = -1;
  if (auto* lr = dynamic_cast<rareforge::classifiers::LogisticRegression*>(clf.get()))
    iters = lr->n_iter();
  std::printf(
      "{\"fit_s\": %.4f, \"predict_s\": %.4f, \"roc_auc\": %.6f, \"pr_auc\": %.6f, "
      "\"n_iter\": %lld}\n",
      std::chrono::duration<double>(t1 - t0).count(),
      std::chrono::duration<double>(t2 - t1).count(), auc, ap, static_cast<long long>(iters));
  return 0;
}
