#include "validation/validate.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "classical/knn.h"
#include "classifiers/classifier.h"
#include "classifiers/metrics.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/split.h"
#include "validation/accel.h"
#include "validation/dcr.h"
#include "validation/mmd.h"
#include "validation/univariate.h"

namespace rareforge::validation {

using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kBins = 10;  // equal-width bins of a numeric column in contingency similarity

/// Number or null (JSON has no NaN).
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return kNaN;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

/// f(0..n-1) on up to `threads` threads (dynamic assignment; f must be thread-safe).
template <class F>
void parallel_for(size_t n, int threads, F f) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) f(i);
  };
  const int nt = std::max(1, std::min<int>(threads, int(n)));
  std::vector<std::thread> pool;
  for (int t = 1; t < nt; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

/// numpy.percentile (linear) of a copy.
double percentile(std::vector<double> v, double q) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

std::vector<double> present(const Column& c, const std::vector<size_t>& rows) {
  std::vector<double> v;
  v.reserve(rows.size());
  for (size_t i : rows)
    if (!std::isnan(c.num[i])) v.push_back(c.num[i]);
  return v;
}

MatrixRM select_rows(const MatrixRM& m, const std::vector<size_t>& rows) {
  MatrixRM out(static_cast<Eigen::Index>(rows.size()), m.cols());
  for (size_t k = 0; k < rows.size(); ++k) out.row(Eigen::Index(k)) = m.row(Eigen::Index(rows[k]));
  return out;
}

std::vector<size_t> subsample(const std::vector<size_t>& rows, size_t k, Rng& rng) {
  if (k == 0 || rows.size() <= k) return rows;
  std::vector<size_t> perm = rng.permutation(rows.size());
  std::vector<size_t> out;
  for (size_t i = 0; i < k; ++i) out.push_back(rows[perm[i]]);
  std::sort(out.begin(), out.end());
  return out;
}

/// The data every section reads: one table holding real, synthetic and holdout rows (so the
/// category codes agree), their row lists, and the encodings.
struct Data {
  Table all;
  std::vector<size_t> real, synth, hold;  ///< rows of `all`
  std::vector<size_t> synth_input_row;    ///< per row of `all` in `synth`: row in the input
  MatrixRM enc;                           ///< standardised one-hot, all rows
  std::vector<double> enc_sd;             ///< per column of enc: the scale it was divided by
  MatrixRM dcr;                           ///< DCR encoding, all rows
  DcrScale scale;
  std::vector<size_t> feat;  ///< feature column indices
};

// --- univariate and pairs --------------------------------------------------------------------

json numeric_column(const Column& c, const std::vector<size_t>& R, const std::vector<size_t>& S) {
  json j;
  j["column"] = c.name();
  const std::vector<double> r = present(c, R), s = present(c, S);
  j["n_real"] = r.size();
  j["n_synthetic"] = s.size();
  j["missing_real"] = R.size() - r.size();
  j["missing_synthetic"] = S.size() - s.size();
  auto moments = [](const std::vector<double>& v, double* mean, double* sd, double* lo,
                    double* hi) {
    *mean = mean_of(v);
    double ss = 0;
    for (double x : v) ss += (x - *mean) * (x - *mean);
    *sd = v.size() >= 2 ? std::sqrt(ss / double(v.size() - 1)) : kNaN;
    *lo = v.empty() ? kNaN : *std::min_element(v.begin(), v.end());
    *hi = v.empty() ? kNaN : *std::max_element(v.begin(), v.end());
  };
  double mr, sr, lr, hr, ms, ssd, ls, hs;
  moments(r, &mr, &sr, &lr, &hr);
  moments(s, &ms, &ssd, &ls, &hs);
  j["mean_real"] = num(mr);
  j["mean_synthetic"] = num(ms);
  j["std_real"] = num(sr);
  j["std_synthetic"] = num(ssd);
  j["min_real"] = num(lr);
  j["min_synthetic"] = num(ls);
  j["max_real"] = num(hr);
  j["max_synthetic"] = num(hs);
  if (r.empty() || s.empty()) {
    j["ks_statistic"] = nullptr;
    j["ks_p_value"] = nullptr;
    j["ks_method"] = nullptr;
    j["ks_complement"] = nullptr;
    j["wasserstein"] = nullptr;
    j["boundary_adherence"] = nullptr;
    return j;
  }
  const KsResult ks = ks_2samp(r, s);
  j["ks_statistic"] = ks.statistic;
  j["ks_p_value"] = ks.p_value;
  j["ks_method"] = ks.exact ? "exact" : "asymp";
  j["ks_complement"] = 1.0 - ks.statistic;
  j["wasserstein"] = wasserstein_1d(r, s);
  size_t inside = 0;
  for (double x : s) inside += (x >= lr && x <= hr);
  j["boundary_adherence"] = double(inside) / double(s.size());
  return j;
}

/// Category counts (missing as an extra last category) over rows.
std::vector<double> category_counts(const Column& c, const std::vector<size_t>& rows) {
  std::vector<double> n(c.categories().size() + 1, 0.0);
  for (size_t i : rows) n[c.codes[i] < 0 ? n.size() - 1 : size_t(c.codes[i])] += 1;
  return n;
}

json categorical_column(const Column& c, const std::vector<size_t>& R,
                        const std::vector<size_t>& S) {
  json j;
  j["column"] = c.name();
  const std::vector<double> r = category_counts(c, R), s = category_counts(c, S);
  const size_t K = r.size();
  std::vector<double> table(2 * K);
  for (size_t k = 0; k < K; ++k) {
    table[k] = r[k];
    table[K + k] = s[k];
  }
  const Chi2Result chi = chi2_contingency(table, 2, int(K));
  j["chi2_statistic"] = chi.statistic;
  j["chi2_p_value"] = chi.p_value;
  j["chi2_dof"] = chi.dof;
  double tvd = 0, nr = double(R.size()), ns = double(S.size());
  size_t real_cats = 0, covered = 0;
  double unseen_rows = 0;
  json unseen = json::array();
  for (size_t k = 0; k < K; ++k) {
    tvd += std::fabs(r[k] / nr - s[k] / ns);
    if (r[k] > 0) {
      ++real_cats;
      covered += s[k] > 0;
    } else if (s[k] > 0) {
      unseen.push_back(k + 1 == K ? std::string("(missing)") : c.categories()[k]);
      unseen_rows += s[k];
    }
  }
  tvd *= 0.5;
  j["tvd"] = tvd;
  j["tv_complement"] = 1.0 - tvd;
  j["category_coverage"] = real_cats ? double(covered) / double(real_cats) : 1.0;
  j["unseen_categories"] = unseen;
  j["unseen_rows"] = unseen_rows;
  return j;
}

/// Pearson correlation of two numeric columns over rows where both are present.
double pearson(const Column& a, const Column& b, const std::vector<size_t>& rows) {
  double sa = 0, sb = 0, n = 0;
  for (size_t i : rows)
    if (!std::isnan(a.num[i]) && !std::isnan(b.num[i])) {
      sa += a.num[i];
      sb += b.num[i];
      n += 1;
    }
  if (n < 2) return kNaN;
  const double ma = sa / n, mb = sb / n;
  double cab = 0, caa = 0, cbb = 0;
  for (size_t i : rows)
    if (!std::isnan(a.num[i]) && !std::isnan(b.num[i])) {
      const double x = a.num[i] - ma, y = b.num[i] - mb;
      cab += x * y;
      caa += x * x;
      cbb += y * y;
    }
  if (caa <= 0 || cbb <= 0) return kNaN;
  return cab / std::sqrt(caa * cbb);
}

/// Cell of a column for contingency tables: category code (missing = last), or the numeric
/// value's equal-width bin over the real range [lo, hi] (clipped; missing = kBins).
struct Binner {
  const Column* c;
  double lo = 0, hi = 0;
  int levels() const { return c->is_categorical() ? int(c->categories().size()) + 1 : kBins + 1; }
  int cell(size_t i) const {
    if (c->is_categorical()) return c->codes[i] < 0 ? levels() - 1 : c->codes[i];
    const double v = c->num[i];
    if (std::isnan(v)) return kBins;
    if (!(hi > lo)) return 0;
    const int b = int(std::floor((v - lo) / (hi - lo) * kBins));
    return std::min(kBins - 1, std::max(0, b));
  }
};

double cramers_v(const std::vector<double>& t, int ra, int cb, double n) {
  // chi2 without correction over non-empty rows/columns.
  std::vector<double> rs(size_t(ra), 0), cs(size_t(cb), 0);
  for (int a = 0; a < ra; ++a)
    for (int b = 0; b < cb; ++b) {
      rs[size_t(a)] += t[size_t(a) * cb + b];
      cs[size_t(b)] += t[size_t(a) * cb + b];
    }
  int nr = 0, nc = 0;
  for (double v : rs) nr += v > 0;
  for (double v : cs) nc += v > 0;
  if (n <= 0 || std::min(nr, nc) < 2) return kNaN;
  double chi = 0;
  for (int a = 0; a < ra; ++a)
    for (int b = 0; b < cb; ++b) {
      if (rs[size_t(a)] <= 0 || cs[size_t(b)] <= 0) continue;
      const double e = rs[size_t(a)] * cs[size_t(b)] / n;
      chi += (t[size_t(a) * cb + b] - e) * (t[size_t(a) * cb + b] - e) / e;
    }
  return std::sqrt(chi / (n * (std::min(nr, nc) - 1)));
}

json pairs_section(const Data& D, const std::vector<size_t>& R, const std::vector<size_t>& S,
                   std::vector<double>* similarities) {
  json j;
  std::vector<size_t> numc;
  for (size_t c : D.feat)
    if (D.all.column(c).is_numeric()) numc.push_back(c);
  // Correlation matrices (numeric columns).
  json names = json::array(), mr = json::array(), ms = json::array();
  double max_diff = 0, sum_diff = 0, n_diff = 0;
  for (size_t a : numc) names.push_back(D.all.column(a).name());
  for (size_t x = 0; x < numc.size(); ++x) {
    json rr = json::array(), rs = json::array();
    for (size_t y = 0; y < numc.size(); ++y) {
      if (x == y) {
        rr.push_back(1.0);
        rs.push_back(1.0);
        continue;
      }
      const double cr = pearson(D.all.column(numc[x]), D.all.column(numc[y]), R);
      const double cs = pearson(D.all.column(numc[x]), D.all.column(numc[y]), S);
      rr.push_back(num(cr));
      rs.push_back(num(cs));
      if (y > x && std::isfinite(cr) && std::isfinite(cs)) {
        const double diff = std::fabs(cr - cs);
        max_diff = std::max(max_diff, diff);
        sum_diff += diff;
        n_diff += 1;
        similarities->push_back(1.0 - diff / 2.0);
      }
    }
    mr.push_back(rr);
    ms.push_back(rs);
  }
  j["correlation"] = {{"columns", names},
                      {"real", mr},
                      {"synthetic", ms},
                      {"max_abs_difference", n_diff > 0 ? num(max_diff) : json(nullptr)},
                      {"mean_abs_difference", n_diff > 0 ? num(sum_diff / n_diff) : json(nullptr)}};
  // Contingency similarity for every pair with a categorical column (numeric binned).
  json cont = json::array();
  std::map<size_t, Binner> bins;
  for (size_t c : D.feat) {
    Binner b{&D.all.column(c)};
    if (b.c->is_numeric()) {
      const std::vector<double> v = present(*b.c, R);
      if (!v.empty()) {
        b.lo = *std::min_element(v.begin(), v.end());
        b.hi = *std::max_element(v.begin(), v.end());
      }
    }
    bins.emplace(c, b);
  }
  for (size_t x = 0; x < D.feat.size(); ++x)
    for (size_t y = x + 1; y < D.feat.size(); ++y) {
      const Binner& A = bins.at(D.feat[x]);
      const Binner& B = bins.at(D.feat[y]);
      if (A.c->is_numeric() && B.c->is_numeric()) continue;
      const int la = A.levels(), lb = B.levels();
      std::vector<double> tr(size_t(la) * lb, 0.0), ts(size_t(la) * lb, 0.0);
      for (size_t i : R) tr[size_t(A.cell(i)) * lb + B.cell(i)] += 1;
      for (size_t i : S) ts[size_t(A.cell(i)) * lb + B.cell(i)] += 1;
      double tv = 0;
      for (size_t k = 0; k < tr.size(); ++k)
        tv += std::fabs(tr[k] / double(R.size()) - ts[k] / double(S.size()));
      const double sim = 1.0 - 0.5 * tv;
      similarities->push_back(sim);
      json e = {{"a", A.c->name()}, {"b", B.c->name()}, {"contingency_similarity", sim}};
      if (A.c->is_categorical() && B.c->is_categorical()) {
        e["cramers_v_real"] = num(cramers_v(tr, la, lb, double(R.size())));
        e["cramers_v_synthetic"] = num(cramers_v(ts, la, lb, double(S.size())));
      }
      cont.push_back(e);
    }
  j["contingency"] = cont;
  return j;
}

// --- whole-row metrics -----------------------------------------------------------------------

json detection_section(const MatrixRM& Rm, const MatrixRM& Sm, const ValidateOptions& opt,
                       const Context& ctx, Rng& rng) {
  json out = json::object();
  std::vector<size_t> ri(size_t(Rm.rows())), si(size_t(Sm.rows()));
  for (size_t i = 0; i < ri.size(); ++i) ri[i] = i;
  for (size_t i = 0; i < si.size(); ++i) si[i] = i;
  ri = subsample(ri, opt.detection_rows, rng);
  si = subsample(si, opt.detection_rows, rng);
  if (ri.size() < size_t(opt.folds) || si.size() < size_t(opt.folds)) {
    out["skipped"] = fmt::format("needs at least {} rows on each side", opt.folds);
    return out;
  }
  const size_t n = ri.size() + si.size(), d = size_t(Rm.cols());
  MatrixRM X(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  std::vector<int32_t> y(n);
  for (size_t k = 0; k < ri.size(); ++k) {
    X.row(Eigen::Index(k)) = Rm.row(Eigen::Index(ri[k]));
    y[k] = 0;
  }
  for (size_t k = 0; k < si.size(); ++k) {
    X.row(Eigen::Index(ri.size() + k)) = Sm.row(Eigen::Index(si[k]));
    y[ri.size() + k] = 1;
  }
  const std::vector<Fold> folds = stratified_kfold(y, {"real", "synthetic"}, opt.folds, rng);
  out["rows_real"] = ri.size();
  out["rows_synthetic"] = si.size();
  out["folds"] = opt.folds;
  for (const std::string& spec : opt.detectors) {
    std::vector<double> aucs, accs;
    std::string canonical;
    for (const Fold& f : folds) {
      auto clf = classifiers::make_classifier(spec, "--detectors");
      canonical = clf->spec();
      const MatrixRM Xtr = select_rows(X, f.train), Xte = select_rows(X, f.test);
      std::vector<int32_t> ytr, yte;
      for (size_t i : f.train) ytr.push_back(y[i]);
      for (size_t i : f.test) yte.push_back(y[i]);
      clf->fit(Xtr, ytr, 2, nullptr, ctx);
      const std::vector<double> p = metrics::column(clf->predict_proba(Xte), 1);
      aucs.push_back(metrics::roc_auc_binary(yte, p));
      accs.push_back(metrics::accuracy(yte, metrics::predict_threshold(p, 0.5), 2));
    }
    double score = 0;
    for (double a : aucs) score += 2 * std::max(a, 0.5) - 1;
    score = 1.0 - score / double(aucs.size());
    const std::string name = spec.substr(0, spec.find(':'));
    out[name] = {{"spec", canonical},
                 {"auc", mean_of(aucs)},
                 {"auc_folds", aucs},
                 {"accuracy", mean_of(accs)},
                 {"score", score}};
  }
  return out;
}

json prdc_section(const MatrixRM& Rm, const MatrixRM& Sm, int k, int threads) {
  json j;
  j["k"] = k;
  if (size_t(Rm.rows()) < size_t(k) + 1 || size_t(Sm.rows()) < size_t(k) + 1) {
    j["skipped"] = fmt::format("needs at least k + 1 = {} rows on each side", k + 1);
    return j;
  }
  const Prdc p = prdc(Rm, Sm, k, threads);
  j["precision"] = p.precision;
  j["recall"] = p.recall;
  j["density"] = p.density;
  j["coverage"] = p.coverage;
  return j;
}

double mean_pairwise(const MatrixRM& m, size_t cap, int threads, Rng& rng) {
  std::vector<size_t> rows(size_t(m.rows()));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  rows = subsample(rows, cap, rng);
  if (rows.size() < 2) return kNaN;
  const size_t d = size_t(m.cols());
  std::vector<double> row_sum(rows.size(), 0.0);
  parallel_for(rows.size(), threads, [&](size_t a) {
    const double* x = m.data() + rows[a] * d;
    double s = 0;
    for (size_t b = a + 1; b < rows.size(); ++b) {
      const double* z = m.data() + rows[b] * d;
      double q = 0;
      for (size_t j = 0; j < d; ++j) q += (x[j] - z[j]) * (x[j] - z[j]);
      s += std::sqrt(q);
    }
    row_sum[a] = s;
  });
  double s = 0;
  for (double v : row_sum) s += v;  // in row order: independent of the thread count
  return s / (double(rows.size()) * double(rows.size() - 1) / 2.0);
}

json privacy_section(const Data& D, const std::vector<size_t>& R, const std::vector<size_t>& S,
                     const std::vector<size_t>* H, const MatrixRM& Rm, const MatrixRM& Sm,
                     const ValidateOptions& opt, int threads, Rng& rng) {
  json j;
  const MatrixRM Rd = select_rows(D.dcr, R), Sd = select_rows(D.dcr, S);
  const DcrNearest syn = dcr_nearest_on(opt.device, Rd, Sd, threads);
  // Baseline: uniformly random rows in the real columns' ranges and categories.
  const size_t n_rand = std::min(opt.random_rows, S.size());
  MatrixRM rnd(static_cast<Eigen::Index>(n_rand), Rd.cols());
  for (size_t k = 0; k < D.scale.columns.size(); ++k) {
    const Column& c = D.all.column(D.scale.columns[k]);
    std::vector<int32_t> cats;
    if (c.is_categorical()) {
      std::vector<char> seen(c.categories().size(), 0);
      for (size_t i : D.real)
        if (c.codes[i] >= 0) seen[size_t(c.codes[i])] = 1;
      for (size_t q = 0; q < seen.size(); ++q)
        if (seen[q]) cats.push_back(int32_t(q));
    }
    for (size_t i = 0; i < n_rand; ++i) {
      double v;
      if (c.is_categorical()) {
        v = cats.empty() ? -1.0 : double(cats[rng.uniform_int(cats.size())]);
      } else if (D.scale.range[k] == 0) {
        v = 0.0;
      } else {
        v = rng.uniform(D.scale.lo[k], D.scale.lo[k] + D.scale.range[k]) / D.scale.range[k];
      }
      rnd(Eigen::Index(i), Eigen::Index(k)) = v;
    }
  }
  const DcrNearest base = dcr_nearest_on(opt.device, Rd, rnd, threads);
  const double med_syn = percentile(syn.distance, 50), med_rand = percentile(base.distance, 50);
  json dcr = {{"definition", "sdmetrics-range-normalised"},
              {"median", num(med_syn)},
              {"mean", num(mean_of(syn.distance))},
              {"p05", num(percentile(syn.distance, 5))},
              {"random_rows", n_rand},
              {"random_median", num(med_rand)},
              {"baseline_protection",
               med_rand > 0 ? num(std::min(1.0, med_syn / med_rand)) : json(nullptr)}};
  if (H) {
    const DcrNearest hold = dcr_nearest_on(opt.device, select_rows(D.dcr, *H), Sd, threads);
    double closer = 0;
    for (size_t i = 0; i < S.size(); ++i) closer += syn.distance[i] < hold.distance[i];
    closer /= double(S.size());
    dcr["holdout_rows"] = H->size();
    dcr["closer_to_training"] = closer;
    dcr["closer_to_holdout"] = 1.0 - closer;
    dcr["overfitting_protection"] = std::min(1.0, 2.0 * (1.0 - closer));
  }
  j["dcr"] = dcr;
  // Nearest-neighbour distance ratio (standardised one-hot, Euclidean).
  if (R.size() >= 2) {
    knn::Options ko;
    ko.threads = threads;
    const knn::Result q = knn::query(Rm, Sm, 2, ko);
    std::vector<double> ratio(S.size());
    for (size_t i = 0; i < S.size(); ++i) {
      const double d2 = q.distance(i, 1);
      ratio[i] = d2 > 0 ? q.distance(i, 0) / d2 : 0.0;
    }
    j["nndr"] = {{"mean", num(mean_of(ratio))},
                 {"median", num(percentile(ratio, 50))},
                 {"p05", num(percentile(ratio, 5))}};
  } else {
    j["nndr"] = {{"skipped", "needs at least 2 real rows"}};
  }
  // Duplicates.
  json exact = json::array(), near = json::array();
  size_t n_exact = 0, n_near = 0;
  for (size_t i = 0; i < S.size(); ++i) {
    const double v = syn.distance[i];
    const bool is_exact = v == 0, is_near = v > 0 && v <= opt.near_threshold;
    if (!is_exact && !is_near) continue;
    json e = {{"synthetic_row", D.synth_input_row[S[i]]},
              {"real_row", R[size_t(syn.index[i])]},
              {"dcr", v}};
    if (is_exact) {
      ++n_exact;
      if (exact.size() < opt.list_limit) exact.push_back(e);
    } else {
      ++n_near;
      if (near.size() < opt.list_limit) near.push_back(e);
    }
  }
  j["duplicates"] = {{"exact", n_exact},
                     {"exact_share", double(n_exact) / double(S.size())},
                     {"near", n_near},
                     {"near_share", double(n_near) / double(S.size())},
                     {"near_threshold", opt.near_threshold},
                     {"exact_list", exact},
                     {"near_list", near}};
  return j;
}

/// Rows `rows` of D.enc by kind: the standardised numeric columns, and per categorical feature
/// its codes; `weights` (if given) gets 1 / sd^2 of each category's one-hot column.
MixedRows mixed_rows(const Data& D, const std::vector<size_t>& rows, CategoryWeights* weights) {
  std::vector<Eigen::Index> num_cols;
  std::vector<size_t> cat_feats;
  std::vector<Eigen::Index> cat_offsets;
  Eigen::Index off = 0;
  for (size_t f : D.feat) {
    const Column& c = D.all.column(f);
    if (c.is_numeric()) {
      num_cols.push_back(off++);
    } else {
      cat_feats.push_back(f);
      cat_offsets.push_back(off);
      off += Eigen::Index(c.categories().size());
    }
  }
  RF_CHECK(off == D.enc.cols(), "mixed_rows: {} encoded columns, expected {}", D.enc.cols(), off);
  MixedRows m;
  const Eigen::Index n = Eigen::Index(rows.size());
  m.numeric.resize(n, Eigen::Index(num_cols.size()));
  m.codes.resize(n, Eigen::Index(cat_feats.size()));
  for (Eigen::Index i = 0; i < n; ++i) {
    const size_t r = rows[size_t(i)];
    for (size_t k = 0; k < num_cols.size(); ++k)
      m.numeric(i, Eigen::Index(k)) = D.enc(Eigen::Index(r), num_cols[k]);
    for (size_t k = 0; k < cat_feats.size(); ++k)
      m.codes(i, Eigen::Index(k)) = double(D.all.column(cat_feats[k]).codes[r]);
  }
  if (weights) {
    weights->clear();
    for (size_t k = 0; k < cat_feats.size(); ++k) {
      const size_t n_cat = D.all.column(cat_feats[k]).categories().size();
      std::vector<double> w(n_cat);
      for (size_t c = 0; c < n_cat; ++c) {
        const double sd = D.enc_sd[size_t(cat_offsets[k]) + c];
        w[c] = 1.0 / (sd * sd);
      }
      weights->push_back(std::move(w));
    }
  }
  return m;
}

json section(const Data& D, const std::vector<size_t>& R, const std::vector<size_t>& S,
             const std::vector<size_t>* H, const ValidateOptions& opt, const Context& ctx,
             int threads, Rng& rng) {
  json j;
  j["n_real"] = R.size();
  j["n_synthetic"] = S.size();
  if (H) j["n_holdout"] = H->size();
  json numeric = json::array(), categorical = json::array();
  std::vector<double> shapes;
  // Columns are independent: compute them on the worker threads, collect in column order.
  std::vector<json> per_col(D.feat.size());
  parallel_for(D.feat.size(), threads, [&](size_t k) {
    const Column& col = D.all.column(D.feat[k]);
    per_col[k] = col.is_numeric() ? numeric_column(col, R, S) : categorical_column(col, R, S);
  });
  for (size_t k = 0; k < D.feat.size(); ++k) {
    json& e = per_col[k];
    if (D.all.column(D.feat[k]).is_numeric()) {
      if (!e["ks_complement"].is_null()) shapes.push_back(e["ks_complement"].get<double>());
      numeric.push_back(std::move(e));
    } else {
      shapes.push_back(e["tv_complement"].get<double>());
      categorical.push_back(std::move(e));
    }
  }
  j["numeric"] = numeric;
  j["categorical"] = categorical;
  std::vector<double> sims;
  j["pairs"] = pairs_section(D, R, S, &sims);
  const double cs = mean_of(shapes), pt = mean_of(sims);
  j["quality"] = {{"column_shapes", num(cs)},
                  {"column_pair_trends", num(pt)},
                  {"overall", num(std::isfinite(pt) ? (cs + pt) / 2 : cs)}};
  double adh = 0, n_adh = 0;
  for (const json& e : numeric)
    if (!e["boundary_adherence"].is_null()) {
      adh += e["boundary_adherence"].get<double>();
      n_adh += 1;
    }
  j["boundary_adherence_mean"] = n_adh > 0 ? num(adh / n_adh) : json(nullptr);

  const MatrixRM Rm = select_rows(D.enc, R), Sm = select_rows(D.enc, S);
  if (R.size() >= 2 && S.size() >= 2) {
    // The same rows by kind for the MMD sums (mmd.h, MixedRows): far fewer operations per pair
    // when categorical columns have many categories.
    CategoryWeights weights;
    const MixedRows mr = mixed_rows(D, R, &weights), ms = mixed_rows(D, S, nullptr);
    MmdOptions mo;
    mo.mixed_x = &mr;
    mo.mixed_y = &ms;
    mo.weights = &weights;
    mo.permutations = opt.permutations;
    mo.device = opt.device;
    mo.perm_rows = opt.perm_rows;
    mo.median_rows = opt.median_rows;
    mo.threads = threads;
    const MmdResult m = mmd(Rm, Sm, mo, rng);
    j["mmd"] = {{"kernel", "rbf"},
                {"bandwidth", m.bandwidth},
                {"bandwidth_rule", "median"},
                {"mmd2", m.mmd2},
                {"mmd2_multi", m.mmd2_multi},
                {"multi_bandwidth_factors", {0.5, std::sqrt(0.5), 1.0, std::sqrt(2.0), 2.0}},
                {"permutations", m.permutations},
                {"p_value", m.permutations > 0 ? num(m.p_value) : json(nullptr)},
                {"permutation_rows_real", m.perm_rows_x},
                {"permutation_rows_synthetic", m.perm_rows_y}};
  } else {
    j["mmd"] = {{"skipped", "needs at least 2 rows on each side"}};
  }
  j["detection"] = detection_section(Rm, Sm, opt, ctx, rng);
  j["prdc"] = prdc_section(Rm, Sm, opt.prdc_k, threads);
  const double dr = mean_pairwise(Rm, opt.pairwise_rows, threads, rng);
  const double ds = mean_pairwise(Sm, opt.pairwise_rows, threads, rng);
  j["diversity"] = {{"mean_pairwise_distance_real", num(dr)},
                    {"mean_pairwise_distance_synthetic", num(ds)},
                    {"ratio", num(ds / dr)},
                    {"rows_cap", opt.pairwise_rows}};
  j["privacy"] = privacy_section(D, R, S, H, Rm, Sm, opt, threads, rng);
  return j;
}

// --- checks ----------------------------------------------------------------------------------

void add_check(json& checks, const std::string& name, const json& value, double threshold,
               const std::string& op, const char* on) {
  std::string verdict = "skipped";
  if (value.is_number()) {
    const double v = value.get<double>();
    const bool ok = op == ">=" ? v >= threshold : v <= threshold;
    verdict = ok ? "pass" : "warn";
  }
  checks.push_back({{"name", name},
                    {"value", value},
                    {"threshold", threshold},
                    {"op", op},
                    {"on", on},
                    {"verdict", verdict}});
}

json get_path(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return nullptr;
    p = &(*p)[k];
  }
  return *p;
}

bool same_columns(const Table& a, const Table& b, std::string* why) {
  if (a.n_cols() != b.n_cols()) {
    *why = fmt::format("{} columns vs {}", a.n_cols(), b.n_cols());
    return false;
  }
  for (size_t j = 0; j < a.n_cols(); ++j)
    if (a.column(j).name() != b.column(j).name() || a.column(j).kind() != b.column(j).kind()) {
      *why = fmt::format("column {} is '{}' ({}) vs '{}' ({})", j + 1, a.column(j).name(),
                         to_string(a.column(j).kind()), b.column(j).name(),
                         to_string(b.column(j).kind()));
      return false;
    }
  if (a.target() != b.target()) {
    *why = fmt::format("target '{}' vs '{}'", a.target(), b.target());
    return false;
  }
  return true;
}

}  // namespace

Prdc prdc(const MatrixRM& Rm, const MatrixRM& Sm, int k, int threads) {
  const size_t N = size_t(Rm.rows()), M = size_t(Sm.rows());
  RF_CHECK_INPUT(k >= 1 && N >= size_t(k) + 1 && M >= size_t(k) + 1,
                 "prdc: k = {} needs at least k + 1 rows in each sample (got {} and {})", k, N, M);
  knn::Options ko;
  ko.threads = threads;
  const knn::Result rr = knn::self_query(Rm, size_t(k), ko);
  const knn::Result ss = knn::self_query(Sm, size_t(k), ko);
  std::vector<double> rad_r(N), rad_s(M);
  for (size_t i = 0; i < N; ++i) rad_r[i] = rr.distance(i, size_t(k) - 1);
  for (size_t i = 0; i < M; ++i) rad_s[i] = ss.distance(i, size_t(k) - 1);
  const std::vector<int64_t> in_real = knn::count_within_balls(Rm, Sm, rad_r, ko);
  const std::vector<int64_t> in_syn = knn::count_within_balls(Sm, Rm, rad_s, ko);
  const std::vector<double> nearest = knn::nearest_distances(Sm, Rm, ko);
  double prec = 0, dens = 0, rec = 0, cov = 0;
  for (int64_t c : in_real) {
    prec += c > 0;
    dens += double(c);
  }
  for (int64_t c : in_syn) rec += c > 0;
  for (size_t i = 0; i < N; ++i) cov += nearest[i] <= rad_r[i];
  Prdc p;
  p.precision = prec / double(M);
  p.recall = rec / double(N);
  p.density = dens / (double(k) * double(M));
  p.coverage = cov / double(N);
  return p;
}

std::vector<size_t> synthetic_exact_duplicates(const Table& table) {
  const Provenance& prov = table.provenance();
  std::vector<size_t> out;
  if (prov.empty()) return out;
  const std::vector<size_t> feat = table.feature_indices();
  auto cell_bits = [&](size_t c, size_t i) -> uint64_t {
    const Column& col = table.column(c);
    if (col.is_categorical()) return uint64_t(uint32_t(col.codes[i]));
    double v = col.num[i];
    if (std::isnan(v)) return 0x7ff8000000000000ULL;  // every NaN is one missing value
    if (v == 0) v = 0.0;                              // -0 == 0
    uint64_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
  };
  auto row_hash = [&](size_t i) {
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    for (size_t c : feat) {
      uint64_t x = cell_bits(c, i) + h;
      h = splitmix64(x);
    }
    return h;
  };
  auto same = [&](size_t a, size_t b) {
    for (size_t c : feat)
      if (cell_bits(c, a) != cell_bits(c, b)) return false;
    return true;
  };
  std::unordered_multimap<uint64_t, size_t> originals;
  for (size_t i = 0; i < table.n_rows(); ++i)
    if (!prov.synthetic[i]) originals.emplace(row_hash(i), i);
  for (size_t i = 0; i < table.n_rows(); ++i) {
    if (!prov.synthetic[i]) continue;
    auto range = originals.equal_range(row_hash(i));
    for (auto it = range.first; it != range.second; ++it)
      if (same(i, it->second)) {
        out.push_back(i);
        break;
      }
  }
  return out;
}

void ValidateOptions::validate() const {
  RF_CHECK_INPUT(permutations >= 0, "--permutations: {} must be >= 0", permutations);
  RF_CHECK_INPUT(perm_rows >= 2, "--perm-rows: {} must be >= 2", perm_rows);
  RF_CHECK_INPUT(median_rows >= 2, "median_rows: {} must be >= 2", median_rows);
  RF_CHECK_INPUT(folds >= 2, "--folds: {} must be >= 2", folds);
  RF_CHECK_INPUT(prdc_k >= 1, "--prdc-k: {} must be >= 1", prdc_k);
  RF_CHECK_INPUT(pairwise_rows >= 2, "--pairwise-rows: {} must be >= 2", pairwise_rows);
  RF_CHECK_INPUT(random_rows >= 1, "--random-rows: {} must be >= 1", random_rows);
  RF_CHECK_INPUT(near_threshold >= 0 && near_threshold <= 1,
                 "--near-threshold: {} must be in [0, 1]", near_threshold);
  for (const std::string& s : detectors) classifiers::make_classifier(s, "--detectors");
  check_device(device);
}

json validate(const Table& real, const Table& synthetic, const Table* holdout,
              const ValidateOptions& opt, const Context& ctx, const std::string& real_name,
              const std::string& synthetic_name, const std::string& holdout_name) {
  opt.validate();
  RF_CHECK_INPUT(real.has_target(), "{}: validate needs a target column (--target)",
                 real_name.empty() ? "real" : real_name);
  RF_CHECK_INPUT(real.n_rows() >= 1, "{}: the real table has no rows", real_name);
  std::string why;
  RF_CHECK_INPUT(same_columns(real, synthetic, &why),
                 "{} and {} have different schemas: {}; read both with the same --target, "
                 "--categorical and --numeric",
                 real_name, synthetic_name, why);
  if (holdout)
    RF_CHECK_INPUT(same_columns(real, *holdout, &why),
                   "{} and {} have different schemas: {}; read both with the same --target, "
                   "--categorical and --numeric",
                   real_name, holdout_name, why);
  // Which synthetic rows: provenance, unless told to take all.
  std::vector<size_t> srows;
  bool by_prov = false;
  const Provenance& prov = synthetic.provenance();
  if (!opt.all_rows && !prov.empty()) {
    for (size_t i = 0; i < synthetic.n_rows(); ++i)
      if (prov.synthetic[i]) srows.push_back(i);
    by_prov = !srows.empty();
  }
  if (!by_prov) {
    srows.resize(synthetic.n_rows());
    for (size_t i = 0; i < srows.size(); ++i) srows[i] = i;
  }
  RF_CHECK_INPUT(!srows.empty(), "{}: no synthetic rows to compare", synthetic_name);

  Data D;
  {
    Table s = synthetic.select(srows);
    D.all = Table::concat(real, s);
    if (holdout) D.all = Table::concat(D.all, *holdout);
  }
  const size_t nr = real.n_rows(), ns = srows.size(), nh = holdout ? holdout->n_rows() : 0;
  for (size_t i = 0; i < nr; ++i) D.real.push_back(i);
  D.synth_input_row.assign(nr + ns + nh, 0);
  for (size_t i = 0; i < ns; ++i) {
    D.synth.push_back(nr + i);
    D.synth_input_row[nr + i] = srows[i];
  }
  for (size_t i = 0; i < nh; ++i) D.hold.push_back(nr + ns + i);
  const size_t n_classes = real.n_classes();
  const std::vector<int32_t>& labels = D.all.labels();
  for (size_t i = nr; i < D.all.n_rows(); ++i)
    RF_CHECK_INPUT(size_t(labels[i]) < n_classes,
                   "{}: class '{}' does not occur in the real table {} (classes: {})",
                   i < nr + ns ? synthetic_name : holdout_name, D.all.class_names()[labels[i]],
                   real_name, fmt::join(real.class_names(), ", "));
  int sens = -1;
  if (!opt.sensitive.empty()) {
    sens = D.all.index_of(opt.sensitive);
    RF_CHECK_INPUT(sens >= 0, "--sensitive: no column '{}' in {}", opt.sensitive, real_name);
    RF_CHECK_INPUT(D.all.column(size_t(sens)).is_categorical(),
                   "--sensitive: column '{}' is numeric; name it in --categorical as well",
                   opt.sensitive);
  }
  D.feat = D.all.feature_indices();
  RF_CHECK_INPUT(!D.feat.empty(), "{}: no feature columns besides the target", real_name);

  // Encodings: standardised one-hot (statistics of the real rows), DCR.
  {
    Table::DenseOptions dopt;
    D.enc = D.all.to_dense(dopt);
    for (Eigen::Index c = 0; c < D.enc.cols(); ++c) {
      double s = 0, n = 0;
      for (size_t i : D.real) {
        const double v = D.enc(Eigen::Index(i), c);
        if (!std::isnan(v)) {
          s += v;
          n += 1;
        }
      }
      const double mean = n > 0 ? s / n : 0.0;
      double ss = 0;
      for (size_t i : D.real) {
        const double v = D.enc(Eigen::Index(i), c);
        if (!std::isnan(v)) ss += (v - mean) * (v - mean);
      }
      double sd = n > 0 ? std::sqrt(ss / n) : 0.0;
      if (!(sd > 0)) sd = 1.0;
      D.enc_sd.push_back(sd);
      for (Eigen::Index i = 0; i < D.enc.rows(); ++i) {
        const double v = D.enc(i, c);
        D.enc(i, c) = std::isnan(v) ? 0.0 : (v - mean) / sd;
      }
    }
    D.scale = dcr_scale(D.all.select(D.real));
    D.dcr = dcr_encode(D.all, D.scale);
  }

  const int threads = ctx.n_threads();
  Rng rng = ctx.rng(streams::kValidation);
  json report;
  report["schema"] = "rareforge.validation";
  report["version"] = 1;
  report["inputs"] = {{"real", real_name},
                      {"synthetic", synthetic_name},
                      {"holdout", holdout ? json(holdout_name) : json(nullptr)},
                      {"rows_real", nr},
                      {"rows_synthetic_input", synthetic.n_rows()},
                      {"rows_synthetic", ns},
                      {"rows_holdout", nh},
                      {"synthetic_selection", by_prov ? "provenance" : "all"},
                      {"seed", ctx.seed}};
  report["parameters"] = {{"device", opt.device},
                          {"permutations", opt.permutations},
                          {"perm_rows", opt.perm_rows},
                          {"median_rows", opt.median_rows},
                          {"detectors", opt.detectors},
                          {"folds", opt.folds},
                          {"detection_rows", opt.detection_rows},
                          {"prdc_k", opt.prdc_k},
                          {"pairwise_rows", opt.pairwise_rows},
                          {"random_rows", opt.random_rows},
                          {"near_threshold", opt.near_threshold},
                          {"contingency_bins", kBins}};
  // Class balance and sensitive groups: before (real) and after (the synthetic input as a whole
  // when it is a resampled table, else real + compared synthetic rows).
  {
    std::vector<double> before(n_classes, 0), syn(n_classes, 0), after(n_classes, 0);
    for (size_t i : D.real) before[size_t(labels[i])] += 1;
    for (size_t i : D.synth) syn[size_t(labels[i])] += 1;
    if (by_prov) {
      const Table full = Table::concat(real, synthetic);
      const std::vector<int32_t>& fl = full.labels();
      for (size_t i = nr; i < full.n_rows(); ++i)
        if (size_t(fl[i]) < n_classes) after[size_t(fl[i])] += 1;
    } else {
      for (size_t c = 0; c < n_classes; ++c) after[c] = before[c] + syn[c];
    }
    report["class_balance"] = {{"classes", real.class_names()},
                               {"real", before},
                               {"synthetic", syn},
                               {"after", after},
                               {"after_definition", by_prov ? "synthetic input (resampled table)"
                                                            : "real + synthetic rows"}};
    if (sens >= 0) {
      const Column& c = D.all.column(size_t(sens));
      const size_t K = c.categories().size() + 1;
      std::vector<double> b(K, 0), a(K, 0);
      auto code = [&](size_t i) { return c.codes[i] < 0 ? K - 1 : size_t(c.codes[i]); };
      for (size_t i : D.real) b[code(i)] += 1;
      for (size_t c2 = 0; c2 < K; ++c2) a[c2] = by_prov ? 0 : b[c2];
      if (by_prov) {
        const Table full = Table::concat(D.all.select(D.real), synthetic);
        const Column& fc = full.column(size_t(sens));
        for (size_t i = nr; i < full.n_rows(); ++i) {
          // A category the compared rows never use has no slot here (K - 1 is "missing").
          if (fc.codes[i] >= int32_t(K - 1)) continue;
          a[fc.codes[i] < 0 ? K - 1 : size_t(fc.codes[i])] += 1;
        }
      } else {
        for (size_t i : D.synth) a[code(i)] += 1;
      }
      double tb = 0, ta = 0;
      for (size_t k = 0; k < K; ++k) {
        tb += b[k];
        ta += a[k];
      }
      json groups = json::array(), sb = json::array(), sa = json::array();
      for (size_t k = 0; k < K; ++k) {
        if (b[k] == 0 && a[k] == 0) continue;
        groups.push_back(k + 1 == K ? std::string("(missing)") : c.categories()[k]);
        sb.push_back(tb > 0 ? b[k] / tb : 0.0);
        sa.push_back(ta > 0 ? a[k] / ta : 0.0);
      }
      report["sensitive"] = {
          {"column", opt.sensitive}, {"groups", groups}, {"share_before", sb}, {"share_after", sa}};
    }
  }
  // The real rows the synthetic ones imitate: those of the classes the compared synthetic rows
  // have. Where that is fewer classes than the real rows have (a SMOTE-balanced file, `sample
  // --class`), the overall comparison sets minority-only rows against every real row, so the
  // fidelity verdicts are taken on "matched" instead: those classes' real (and holdout) rows
  // against every compared synthetic row. One class: its per-class section (computed last, so
  // the sections before it draw the same random numbers either way).
  std::vector<char> in_synth(n_classes, 0), in_real(n_classes, 0);
  for (size_t i : D.synth) in_synth[size_t(labels[i])] = 1;
  for (size_t i : D.real) in_real[size_t(labels[i])] = 1;
  json matched_classes = json::array();
  size_t n_matched = 0;
  for (size_t c = 0; c < n_classes; ++c) {
    if (in_synth[c]) matched_classes.push_back(real.class_names()[c]);
    n_matched += in_synth[c];
  }
  const bool partial =
      n_matched < size_t(std::count(in_real.begin(), in_real.end(), char{1})) && n_matched > 0;

  // Large inputs take minutes: a progress line (sections done, with an ETA).
  const bool own_matched = partial && !(n_matched == 1 && opt.per_class);  // computed apart
  const std::string after_per_class = own_matched ? "matched" : "";
  std::optional<Progress> progress;
  if (nr + ns >= opt.progress_rows) {
    const size_t sections = 1 + (opt.per_class ? n_classes : 0) + (own_matched ? 1 : 0);
    progress.emplace("validate", sections, "sections", ctx.quiet);
    progress->note("overall");
  }
  auto done = [&](const std::string& next) {
    if (!progress) return;
    progress->note(next);
    progress->advance();
  };
  report["overall"] =
      section(D, D.real, D.synth, holdout ? &D.hold : nullptr, opt, ctx, threads, rng);
  done(opt.per_class ? "class " + real.class_names()[0] : after_per_class);
  json per = json::array();
  if (opt.per_class) {
    for (size_t c = 0; c < n_classes; ++c) {
      std::vector<size_t> R, S, H;
      for (size_t i : D.real)
        if (size_t(labels[i]) == c) R.push_back(i);
      for (size_t i : D.synth)
        if (size_t(labels[i]) == c) S.push_back(i);
      for (size_t i : D.hold)
        if (size_t(labels[i]) == c) H.push_back(i);
      json e;
      if (R.empty() || S.empty()) {
        e = {{"n_real", R.size()}, {"n_synthetic", S.size()}, {"skipped", "no rows to compare"}};
      } else {
        e = section(D, R, S, (holdout && !H.empty()) ? &H : nullptr, opt, ctx, threads, rng);
      }
      e["class"] = real.class_names()[c];
      per.push_back(std::move(e));
      done(c + 1 < n_classes ? "class " + real.class_names()[c + 1] : after_per_class);
    }
  }
  report["per_class"] = per;

  if (partial) {
    json m;
    if (!own_matched) {  // one class, per-class sections computed: reuse its own
      for (const json& e : per)
        if (e["class"] == matched_classes[0]) m = e;
      m.erase("class");
    }
    if (m.is_null() || m.contains("skipped")) {
      std::vector<size_t> R, H;
      for (size_t i : D.real)
        if (in_synth[size_t(labels[i])]) R.push_back(i);
      for (size_t i : D.hold)
        if (in_synth[size_t(labels[i])]) H.push_back(i);
      m = R.empty() ? json{{"skipped", "no real rows of the synthetic rows' classes"}}
                    : section(D, R, D.synth, (holdout && !H.empty()) ? &H : nullptr, opt, ctx,
                              threads, rng);
    }
    m["classes"] = matched_classes;
    report["matched"] = std::move(m);
    if (own_matched) done("");
  } else {
    report["matched"] = nullptr;
  }

  // Verdicts: fidelity on "matched" where there is one, else on "overall"; privacy on "overall"
  // (the distance to the closest of every real row).
  const json& o = report["overall"];
  const bool on_matched = partial && !report["matched"].contains("skipped");
  const json& f = on_matched ? report["matched"] : o;
  const char* fon = on_matched ? "matched" : "overall";
  json checks = json::array();
  add_check(checks, "quality.overall", get_path(f, {"quality", "overall"}), opt.min_quality,
            ">=", fon);
  add_check(checks, "boundary_adherence_mean", f["boundary_adherence_mean"], opt.min_boundary,
            ">=", fon);
  for (const std::string& spec : opt.detectors) {
    const std::string name = spec.substr(0, spec.find(':'));
    add_check(checks, "detection." + name + ".score",
              get_path(f, {"detection", name.c_str(), "score"}), opt.min_detection_score,
              ">=", fon);
  }
  add_check(checks, "mmd.mmd2", get_path(f, {"mmd", "mmd2"}), opt.max_mmd2, "<=", fon);
  add_check(checks, "prdc.precision", get_path(f, {"prdc", "precision"}), opt.min_precision,
            ">=", fon);
  add_check(checks, "prdc.coverage", get_path(f, {"prdc", "coverage"}), opt.min_coverage,
            ">=", fon);
  add_check(checks, "privacy.dcr.baseline_protection",
            get_path(o, {"privacy", "dcr", "baseline_protection"}), opt.min_dcr_baseline,
            ">=", "overall");
  if (holdout)
    add_check(checks, "privacy.dcr.overfitting_protection",
              get_path(o, {"privacy", "dcr", "overfitting_protection"}), opt.min_dcr_overfitting,
              ">=", "overall");
  add_check(checks, "privacy.duplicates.exact_share",
            get_path(o, {"privacy", "duplicates", "exact_share"}), opt.max_exact_duplicates,
            "<=", "overall");
  size_t unseen = 0;
  for (const json& e : o["categorical"]) unseen += size_t(e["unseen_rows"].get<double>());
  add_check(checks, "categorical.unseen_rows", json(double(unseen)), 0.0, "<=", "overall");
  report["checks"] = checks;
  return report;
}

}  // namespace rareforge::validation
