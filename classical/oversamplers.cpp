// random-over and noise, and the registry entries of every over-sampler
// (classical/oversamplers.h).
#include "classical/oversamplers.h"

#include <cmath>
#include <limits>

#include "classical/over_util.h"
#include "core/error.h"
#include "core/log.h"

namespace rareforge::classical {

namespace {

using over::Features;
using over::OverOutput;

/// Duplicates drawn uniformly per class, then (optionally) Gaussian noise of standard deviation
/// sd[c][q] on numeric feature f.num[q] of class c's new rows (no noise when sd[c] is empty).
/// NaN cells stay NaN.
ResampleResult duplicate_with_noise(const Table& in, Table* owned, const SamplingPlan& plan,
                                    const Features& f, const std::string& method,
                                    const Context& ctx,
                                    const std::vector<std::vector<double>>& sd) {
  const int threads = ctx.n_threads();
  const auto rows = over::rows_by_class(in);
  const size_t nc = rows.size();
  OverOutput out(in, owned, plan.n_add, method, threads);
  std::vector<size_t> features = f.num;
  features.insert(features.end(), f.cat.begin(), f.cat.end());
  for (size_t c = 0; c < nc; ++c) {
    if (plan.n_add[c] == 0) continue;
    const over::Range r = out.block(c);
    int64_t* par = out.parent(r);
    const uint64_t n_c = rows[c].size();
    RF_CHECK(n_c > 0, "class {} has no rows but {} to add", c, plan.n_add[c]);
    const uint64_t seed = over::class_seed(ctx, c);
    over::for_chunks(r.n, seed, 0, threads, [&](size_t lo, size_t hi, Rng& rng) {
      for (size_t i = lo; i < hi; ++i) par[i] = rows[c][rng.uniform_int(n_c)];
    });
    out.copy_from_parent(r, features, threads);
    if (sd.empty() || sd[c].empty()) continue;
    const std::vector<double>& s = sd[c];
    std::vector<double*> col(f.num.size());
    for (size_t q = 0; q < f.num.size(); ++q) col[q] = out.table().column(f.num[q]).num.data();
    // Row-major draws (row i, then feature q), as numpy's randn(n_samples, n_features).
    over::for_chunks(r.n, seed, over::kNoiseStream, threads, [&](size_t lo, size_t hi, Rng& rng) {
      for (size_t i = lo; i < hi; ++i)
        for (size_t q = 0; q < f.num.size(); ++q) {
          const double z = rng.normal();
          if (s[q] > 0) col[q][r.begin + i] += s[q] * z;
        }
    });
  }
  return out.finish();
}

class RandomOver : public over::OverSampler {
 public:
  RandomOver(RandomOverParams p, std::string method) : p_(p), method_(std::move(method)) {}

  ResampleResult run(const Table& in, Table* owned, const SamplingRequest& req,
                     const Context& ctx) const override {
    const SamplingPlan plan = over::plan_over(in, req);
    const Features f = over::split_features(in);
    if (p_.shrinkage <= 0) return duplicate_with_noise(in, owned, plan, f, method_, ctx, {});
    // Smoothed bootstrap: imbalanced-learn's bandwidth, numeric features only.
    over::check_complete(in, f.num, "random-over (shrinkage > 0)", ctx.n_threads());
    if (!f.cat.empty())
      note_once(fmt::format(
          "random-over: shrinkage perturbs the numeric features only; categorical columns ({}) "
          "are copied",
          f.cat_names(in)));
    const double d = static_cast<double>(f.num.size());
    const double n = static_cast<double>(in.n_rows());
    const double smoothing = std::pow(4.0 / ((d + 2.0) * n), 1.0 / (d + 4.0));
    const auto rows = over::rows_by_class(in);
    std::vector<std::vector<double>> sd(rows.size());
    for (size_t c = 0; c < rows.size(); ++c) {
      if (plan.n_add[c] == 0) continue;
      for (size_t j : f.num)
        sd[c].push_back(p_.shrinkage * smoothing * over::column_std(in, j, rows[c]));
    }
    return duplicate_with_noise(in, owned, plan, f, method_, ctx, sd);
  }

 private:
  RandomOverParams p_;
  std::string method_;
};

class Noise : public over::OverSampler {
 public:
  Noise(NoiseParams p, std::string method) : p_(p), method_(std::move(method)) {}

  ResampleResult run(const Table& in, Table* owned, const SamplingRequest& req,
                     const Context& ctx) const override {
    const SamplingPlan plan = over::plan_over(in, req);
    const Features f = over::split_features(in);
    // Column std over all rows, ignoring missing values.
    std::vector<double> sd;
    for (size_t j : f.num) {
      const auto& x = in.column(j).num;
      double mean = 0, ss = 0;
      size_t cnt = 0;
      for (double v : x)
        if (std::isfinite(v)) {
          mean += v;
          ++cnt;
        }
      if (cnt > 0) mean /= static_cast<double>(cnt);
      for (double v : x)
        if (std::isfinite(v)) ss += (v - mean) * (v - mean);
      sd.push_back(cnt > 0 ? p_.scale * std::sqrt(ss / static_cast<double>(cnt)) : 0.0);
    }
    return duplicate_with_noise(in, owned, plan, f, method_, ctx,
                                std::vector<std::vector<double>>(in.n_classes(), sd));
  }

 private:
  NoiseParams p_;
  std::string method_;
};

/// "auto" -> -1, else a number within [lo, hi] (InputError naming the parameter otherwise).
double auto_or_number(const ParamValues& v, const std::string& method, const std::string& key,
                      double lo, double hi) {
  const std::string& s = v.get_string(key);
  if (s == "auto") return -1.0;
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  RF_CHECK_INPUT(end && *end == 0 && !s.empty() && std::isfinite(x) && x >= lo && x <= hi,
                 "method '{}': {}={} is neither auto nor a number in [{}, {}]", method, key, s, lo,
                 hi);
  return x;
}

constexpr double kMaxK = 1e6;

}  // namespace

std::unique_ptr<Sampler> make_random_over(const RandomOverParams& p, const std::string& method) {
  RF_CHECK_INPUT(p.shrinkage >= 0 && std::isfinite(p.shrinkage),
                 "random-over: shrinkage={} must be >= 0", p.shrinkage);
  return std::make_unique<RandomOver>(p, method);
}

std::unique_ptr<Sampler> make_noise(const NoiseParams& p, const std::string& method) {
  RF_CHECK_INPUT(p.scale >= 0 && std::isfinite(p.scale), "noise: scale={} must be >= 0", p.scale);
  return std::make_unique<Noise>(p, method);
}

void register_oversamplers(std::vector<SamplerInfo>& out) {
  const ParamDef k5 = int_param("k", "5", 1, kMaxK, "nearest same-class neighbours");
  {
    SamplerInfo s;
    s.name = "random-over";
    s.description = "duplicate random rows of each class (smoothed bootstrap with shrinkage > 0)";
    s.params = {double_param("shrinkage", "0", 0, 1e6,
                             "smoothed bootstrap: Gaussian noise of shrinkage x imbalanced-learn's "
                             "bandwidth on numeric features; 0 = plain duplicates")};
    s.create = [](const ParamValues& v, const std::string& canonical) {
      RandomOverParams p;
      p.shrinkage = v.get_double("shrinkage");
      return make_random_over(p, canonical);
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "noise";
    s.description = "duplicate random rows with Gaussian jitter on numeric features";
    s.params = {double_param("scale", "0.1", 0, 10,
                             "jitter std as a fraction of each numeric column's std")};
    s.create = [](const ParamValues& v, const std::string& canonical) {
      NoiseParams p;
      p.scale = v.get_double("scale");
      return make_noise(p, canonical);
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "smote";
    s.description =
        "SMOTE: interpolate between a row and one of its k nearest same-class rows "
        "(categorical columns by the SMOTE-NC rule)";
    s.params = {k5};
    s.create = [](const ParamValues& v, const std::string& canonical) {
      SmoteParams p;
      p.k = v.get_int("k");
      return make_smote(p, canonical, false);
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "smote-nc";
    s.description =
        "SMOTE-NC for mixed tables: Med^2 per categorical mismatch, categorical values by "
        "majority vote of the neighbours";
    s.params = {k5};
    s.create = [](const ParamValues& v, const std::string& canonical) {
      SmoteParams p;
      p.k = v.get_int("k");
      return make_smote(p, canonical, true);
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "smoten";
    s.description =
        "SMOTEN for categorical-only tables: each value by majority vote of a row and its k "
        "nearest same-class rows (Value Difference Metric)";
    s.params = {k5};
    s.create = [](const ParamValues& v, const std::string& canonical) {
      SmotenParams p;
      p.k = v.get_int("k");
      return make_smoten(p, canonical);
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "borderline-smote";
    s.description =
        "Borderline-SMOTE: SMOTE from the rows in danger (m/2 <= other-class among the m "
        "nearest < m); kind 2 also interpolates towards other classes";
    s.params = {int_param("kind", "1", 1, 2, "1 or 2 (Han et al. 2005)"),
                int_param("k", "5", 1, kMaxK, "nearest neighbours to interpolate towards"),
                int_param("m", "10", 1, kMaxK, "nearest rows (whole table) for the danger set")};
    s.create = [](const ParamValues& v, const std::string& canonical) {
      BorderlineParams p;
      p.kind = v.get_int("kind");
      p.k = v.get_int("k");
      p.m = v.get_int("m");
      return make_borderline_smote(p, canonical);
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "adasyn";
    s.description =
        "ADASYN: SMOTE with more rows from the rows whose k nearest are more often of other "
        "classes";
    s.params = {int_param("k", "5", 1, kMaxK,
                          "neighbours for the weights (whole table) and the partners (class)")};
    s.create = [](const ParamValues& v, const std::string& canonical) {
      AdasynParams p;
      p.k = v.get_int("k");
      return make_adasyn(p, canonical);
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "kmeans-smote";
    s.description =
        "k-means SMOTE: cluster the table, SMOTE inside the clusters where the class is "
        "frequent, more rows in sparser clusters";
    s.params = {int_param("k", "2", 1, kMaxK, "nearest same-class neighbours in a cluster"),
                int_param("n_clusters", "8", 1, 1e6, "k-means clusters"),
                int_param("max_iter", "300", 1, 1e6, "k-means iterations at most"),
                string_param("cluster_balance_threshold", "auto",
                             "minimum class share of a cluster; auto = (rows to make for the "
                             "class / rows to make) / 2"),
                string_param("density_exponent", "auto",
                             "exponent of the mean distance in the sparsity; auto = number of "
                             "features")};
    s.create = [](const ParamValues& v, const std::string& canonical) {
      KMeansSmoteParams p;
      p.k = v.get_int("k");
      p.n_clusters = v.get_int("n_clusters");
      p.max_iter = v.get_int("max_iter");
      p.balance_threshold =
          auto_or_number(v, "kmeans-smote", "cluster_balance_threshold", 0.0, 1.0);
      p.density_exponent = auto_or_number(v, "kmeans-smote", "density_exponent", 0.0, 1e3);
      return make_kmeans_smote(p, canonical);
    };
    out.push_back(std::move(s));
  }
  {
    SamplerInfo s;
    s.name = "svm-smote";
    s.description =
        "SVM-SMOTE: SMOTE from the class's support vectors of an RBF SVM (libsvm); those near "
        "other classes interpolate, the safe ones extrapolate";
    s.params = {int_param("k", "5", 1, kMaxK, "nearest same-class neighbours for the partners"),
                int_param("m", "10", 1, kMaxK,
                          "nearest rows (whole table) that decide noise / danger / safe"),
                double_param("out_step", "0.5", 0, 1,
                             "safe support vectors extrapolate by up to out_step x the distance"),
                double_param("C", "1", 1e-12, 1e12, "the SVM's penalty C"),
                string_param("gamma", "scale",
                             "RBF gamma: scale = 1 / (features x variance of all values), auto = "
                             "1 / features, or a number > 0")};
    s.create = [](const ParamValues& v, const std::string& canonical) {
      SvmSmoteParams p;
      p.k = v.get_int("k");
      p.m = v.get_int("m");
      p.out_step = v.get_double("out_step");
      p.c = v.get_double("C");
      const std::string& g = v.get_string("gamma");
      if (g == "scale")
        p.gamma = SvmSmoteParams::kGammaScale;
      else if (g == "auto")
        p.gamma = SvmSmoteParams::kGammaAuto;
      else {
        char* end = nullptr;
        p.gamma = std::strtod(g.c_str(), &end);
        RF_CHECK_INPUT(!g.empty() && end && *end == 0 && std::isfinite(p.gamma) && p.gamma > 0,
                       "method 'svm-smote': gamma={} is neither scale, auto nor a number > 0", g);
      }
      return make_svm_smote(p, canonical);
    };
    out.push_back(std::move(s));
  }
}

}  // namespace rareforge::classical
