// k-means SMOTE (classical/oversamplers.h; Last, Douzas and Bacao 2017).
#include <algorithm>
#include <cmath>
#include <limits>

#include "classical/kmeans.h"
#include "classical/knn.h"
#include "classical/over_util.h"
#include "classical/oversamplers.h"
#include "core/error.h"
#include "core/log.h"

namespace rareforge::classical {

namespace {

using over::Features;
using over::OverOutput;

/// Mean Euclidean distance over the ordered pairs of distinct rows of x (n >= 2).
double mean_pairwise_distance(const MatrixRM& x, int threads) {
  const size_t n = static_cast<size_t>(x.rows()), d = static_cast<size_t>(x.cols());
  std::vector<double> row_sum(n, 0.0);
  over::parallel_for(n, threads, [&](size_t i) {
    double s = 0;
    for (size_t j = i + 1; j < n; ++j)
      s += std::sqrt(knn::squared_distance(x.data() + i * d, x.data() + j * d, d));
    row_sum[i] = s;
  });
  double total = 0;
  for (double v : row_sum) total += v;
  return 2.0 * total / (static_cast<double>(n) * static_cast<double>(n - 1));
}

class KMeansSmote : public over::OverSampler {
 public:
  KMeansSmote(KMeansSmoteParams p, std::string method) : p_(p), method_(std::move(method)) {}

  ResampleResult run(const Table& in, Table* owned, const SamplingRequest& req,
                     const Context& ctx) const override {
    const std::string name = "kmeans-smote";
    const SamplingPlan plan = over::plan_over(in, req);
    const Features f = over::split_features(in);
    const int threads = ctx.n_threads();
    RF_CHECK_INPUT(!f.num.empty(),
                   "{}: the table has no numeric feature columns to interpolate; use smoten for "
                   "categorical-only tables",
                   name);
    std::vector<size_t> cols = f.num;
    cols.insert(cols.end(), f.cat.begin(), f.cat.end());
    over::check_complete(in, cols, name, threads);
    if (!f.cat.empty())
      note_once(fmt::format(
          "{}: categorical feature columns ({}) follow the SMOTE-NC rule: Med^2 per mismatch in "
          "distances (clustering included), new values by majority vote of the neighbours",
          name, f.cat_names(in)));
    const auto rows = over::rows_by_class(in);
    const size_t nc = in.n_classes();
    const int64_t total_add = plan.total_add();
    const double exponent =
        p_.density_exponent < 0 ? static_cast<double>(cols.size()) : p_.density_exponent;

    struct Cluster {
      std::vector<int64_t> rows;  // input rows of the class in this cluster
      int64_t make = 0;
      MatrixRM x;  // those rows in the distance space
      knn::Result nn;
    };
    std::vector<std::vector<Cluster>> plan_c(nc);
    std::vector<int32_t> labels;  // cluster of each input row
    Rng base = ctx.rng(streams::kSampler);
    const uint64_t kmeans_seed = base.next();
    for (size_t c = 0; c < nc; ++c) {
      const int64_t n_add = plan.n_add[c];
      if (n_add == 0) continue;
      const std::string& cname = in.class_names()[c];
      over::require_two_rows(rows[c].size(), name, cname);
      // Clusters over the whole table: once for numeric tables, per class (its Med) otherwise.
      if (labels.empty() || !f.cat.empty()) {
        const MatrixRM x =
            over::embed(in, f, {}, true, over::nc_cat_value(in, f, rows[c]), threads);
        KMeansOptions ko;
        ko.n_clusters = static_cast<size_t>(p_.n_clusters);
        ko.max_iter = static_cast<size_t>(p_.max_iter);
        ko.threads = threads;
        Rng rng = Rng::derive(kmeans_seed, f.cat.empty() ? 0 : c);
        labels = kmeans(x, ko, rng).labels;
      }
      const int32_t n_clusters = *std::max_element(labels.begin(), labels.end()) + 1;
      std::vector<int64_t> size(n_clusters, 0);
      for (int32_t l : labels) ++size[l];
      std::vector<std::vector<int64_t>> members(n_clusters);
      for (int64_t r : rows[c]) members[labels[r]].push_back(r);
      const double threshold = p_.balance_threshold < 0
                                   ? static_cast<double>(n_add) / static_cast<double>(total_add) / 2
                                   : p_.balance_threshold;
      const double cv = over::nc_cat_value(in, f, rows[c]);
      std::vector<double> log_sparsity;
      for (int32_t q = 0; q < n_clusters; ++q) {
        const auto& mem = members[q];
        if (mem.size() < 2) continue;
        const double share = static_cast<double>(mem.size()) / static_cast<double>(size[q]);
        if (share < threshold) continue;
        Cluster cl;
        cl.rows = mem;
        cl.x = over::embed(in, f, mem, false, cv, threads);
        const MatrixRM& xc = cl.x;
        const double md = mean_pairwise_distance(xc, threads);
        log_sparsity.push_back(md > 0 ? exponent * std::log(md) -
                                            std::log(static_cast<double>(mem.size()))
                                      : -std::numeric_limits<double>::infinity());
        knn::Options o;
        o.threads = threads;
        cl.nn = knn::self_query(xc, std::min<size_t>(static_cast<size_t>(p_.k), mem.size() - 1), o);
        plan_c[c].push_back(std::move(cl));
      }
      RF_CHECK_INPUT(!plan_c[c].empty(),
                     "{}: no cluster has enough rows of class '{}' (at least 2, and a share of "
                     "the cluster >= cluster_balance_threshold = {:.4g}); lower "
                     "cluster_balance_threshold or change n_clusters",
                     name, cname, threshold);
      // Sampling weights by sparsity, computed in log space (mean distance ^ exponent overflows).
      const double top = *std::max_element(log_sparsity.begin(), log_sparsity.end());
      std::vector<double> w(log_sparsity.size(), 1.0);
      if (std::isfinite(top))
        for (size_t q = 0; q < w.size(); ++q) w[q] = std::exp(log_sparsity[q] - top);
      const std::vector<int64_t> make = over::apportion(w, n_add);
      for (size_t q = 0; q < w.size(); ++q) plan_c[c][q].make = make[q];
    }

    OverOutput out(in, owned, plan.n_add, method_, threads);
    for (size_t c = 0; c < nc; ++c) {
      if (plan.n_add[c] == 0) continue;
      const uint64_t cseed = over::class_seed(ctx, c);
      size_t offset = 0;
      for (size_t q = 0; q < plan_c[c].size(); ++q) {
        const Cluster& cl = plan_c[c][q];
        const over::Range r = out.block(c).sub(offset, static_cast<size_t>(cl.make));
        offset += r.n;
        const uint64_t n_c = cl.rows.size();
        over::smote_rows(
            out, r, f, cl.rows, cl.rows, cl.nn,
            [n_c](Rng& rng, size_t) { return static_cast<int32_t>(rng.uniform_int(n_c)); },
            Rng::derive(cseed, q).next(), threads, &cl.x);
      }
    }
    return out.finish();
  }

 private:
  KMeansSmoteParams p_;
  std::string method_;
};

}  // namespace

std::unique_ptr<Sampler> make_kmeans_smote(const KMeansSmoteParams& p, const std::string& method) {
  RF_CHECK_INPUT(p.k >= 1, "kmeans-smote: k={} must be >= 1", p.k);
  RF_CHECK_INPUT(p.n_clusters >= 1, "kmeans-smote: n_clusters={} must be >= 1", p.n_clusters);
  RF_CHECK_INPUT(p.max_iter >= 1, "kmeans-smote: max_iter={} must be >= 1", p.max_iter);
  RF_CHECK_INPUT(p.balance_threshold <= 1,
                 "kmeans-smote: cluster_balance_threshold={} must be auto or in [0, 1]",
                 p.balance_threshold);
  return std::make_unique<KMeansSmote>(p, method);
}

}  // namespace rareforge::classical
