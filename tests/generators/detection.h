// The detection score of the generator fidelity tests (ctgan, tvae, ddpm): how well a logistic
// regression tells real rows from synthetic ones.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "classifiers/classifier.h"
#include "classifiers/metrics.h"
#include "core/generator.h"
#include "core/rng.h"
#include "core/table.h"
#include "tests/generators/mixed_table.h"

namespace rareforge::generators::fixtures {

// Features for the detector: numeric columns standardised (with the real table's mean and sd of
// its present values) and squared, a missing value as 0 plus a 0/1 indicator column (only for
// columns with missing values in either table), categoricals and the class one-hot.
inline MatrixRM detector_features(const Table& t, const Table& real) {
  Table::DenseOptions o;
  o.include_target = true;
  MatrixRM d = t.to_dense(o);
  struct Num {
    size_t pos;
    std::string name;
    bool indicator;
  };
  std::vector<Num> num;
  size_t pos = 0, n_ind = 0;
  for (size_t j = 0; j < t.n_cols(); ++j) {
    const Column& c = t.column(j);
    if (c.is_numeric()) {
      bool missing = false;
      for (const Table* x : {&t, &real})
        for (double v : x->column(c.name()).num) missing |= std::isnan(v);
      num.push_back({pos, c.name(), missing});
      n_ind += missing;
    }
    pos += c.is_numeric() ? 1 : c.categories().size();
  }
  MatrixRM out(d.rows(), d.cols() + static_cast<int64_t>(num.size() + n_ind));
  out.leftCols(d.cols()) = d;
  int64_t ind = d.cols() + static_cast<int64_t>(num.size());
  for (size_t k = 0; k < num.size(); ++k) {
    double sum = 0, sq = 0, cnt = 0;
    for (double v : real.column(num[k].name).num)
      if (!std::isnan(v)) sum += v, sq += v * v, ++cnt;
    const double mean = sum / cnt, sd = std::sqrt(sq / cnt - mean * mean);
    for (int64_t i = 0; i < d.rows(); ++i) {
      const double v = d(i, num[k].pos);
      const double z = std::isnan(v) ? 0.0 : (v - mean) / sd;
      out(i, num[k].pos) = z;
      out(i, d.cols() + static_cast<int64_t>(k)) = z * z;
      if (num[k].indicator) out(i, ind) = std::isnan(v) ? 1.0 : 0.0;
    }
    if (num[k].indicator) ++ind;
  }
  return out;
}

// Detection AUC: logreg trained on half of real + synthetic (labels 0 / 1), AUC on the other
// half. 0.5 = indistinguishable.
inline double detection_auc(const Table& real, const Table& synth, uint64_t seed) {
  const MatrixRM a = detector_features(real, real), b = detector_features(synth, real);
  const int64_t n = a.rows() + b.rows();
  MatrixRM x(n, a.cols());
  x.topRows(a.rows()) = a;
  x.bottomRows(b.rows()) = b;
  std::vector<int32_t> y(static_cast<size_t>(n), 0);
  std::fill(y.begin() + a.rows(), y.end(), 1);
  Rng rng(seed);
  const std::vector<size_t> perm = rng.permutation(static_cast<size_t>(n));
  const int64_t half = n / 2;
  MatrixRM xtr(half, x.cols()), xte(n - half, x.cols());
  std::vector<int32_t> ytr, yte;
  for (int64_t i = 0; i < n; ++i) {
    const size_t r = perm[static_cast<size_t>(i)];
    if (i < half) {
      xtr.row(i) = x.row(static_cast<int64_t>(r));
      ytr.push_back(y[r]);
    } else {
      xte.row(i - half) = x.row(static_cast<int64_t>(r));
      yte.push_back(y[r]);
    }
  }
  auto clf = classifiers::make_classifier("logreg");
  clf->fit(xtr, ytr, 2, nullptr, ctx_with(seed));
  const MatrixRM p = clf->predict_proba(xte);
  std::vector<double> score(static_cast<size_t>(p.rows()));
  for (int64_t i = 0; i < p.rows(); ++i) score[static_cast<size_t>(i)] = p(i, 1);
  return metrics::roc_auc_binary(yte, score);
}

/// As many synthetic rows of each class as `train` has, from `gen`, class c sampled with the
/// context ctx_of(c), the classes concatenated in order.
template <class CtxOf>
Table sample_like(const Generator& gen, const Table& train, CtxOf ctx_of) {
  const std::vector<int64_t> counts = train.class_counts();
  Table out;
  for (size_t c = 0; c < counts.size(); ++c) {
    Table part = gen.sample(counts[c], train.class_names()[c], {}, ctx_of(c));
    out = c == 0 ? std::move(part) : Table::concat(out, part);
  }
  return out;
}

}  // namespace rareforge::generators::fixtures
