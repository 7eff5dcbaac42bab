// SMOTEN: SMOTE for categorical-only tables, with the Value Difference Metric
// (classical/oversamplers.h).
//
// Neighbours under the VDM cannot come from the Euclidean engine (the per-feature term is a
// squared L1 distance between class-probability vectors, not a Euclidean one), so they are
// computed exactly here. Categorical rows repeat a lot, so the search runs over the distinct
// value patterns of the class: for a pattern P the patterns are ranked by distance, and the
// rows at each distance are taken in index order, which gives each row of P its k nearest rows
// sorted by (distance, row index) as the engine would. Cost: O(U^2 F + n k) for U distinct
// patterns among n rows and F features.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <unordered_map>

#include "classical/knn.h"
#include "classical/over_util.h"
#include "classical/oversamplers.h"
#include "core/error.h"
#include "core/log.h"

namespace rareforge::classical {

Vdm Vdm::fit(const Table& t, const std::string& method) {
  Vdm v;
  const auto& y = t.labels();
  const size_t nc = t.n_classes();
  for (size_t j : t.feature_indices()) {
    const Column& col = t.column(j);
    RF_CHECK_INPUT(col.is_categorical(),
                   "{}: column '{}' is numeric, but SMOTEN needs every feature categorical; use "
                   "smote-nc for mixed tables (or read the column as categorical with "
                   "--categorical {})",
                   method, col.name(), col.name());
    const size_t nv = col.categories().size();
    std::vector<double> count(nv * nc, 0.0);
    for (size_t i = 0; i < col.codes.size(); ++i) {
      RF_CHECK_INPUT(col.codes[i] >= 0,
                     "{}: categorical column '{}' has a missing value (row {}); impute first "
                     "(e.g. rareforge's preprocessing impute=mode) or drop those rows",
                     method, col.name(), i + 1);
      count[static_cast<size_t>(col.codes[i]) * nc + static_cast<size_t>(y[i])] += 1;
    }
    for (size_t a = 0; a < nv; ++a) {
      double s = 0;
      for (size_t c = 0; c < nc; ++c) s += count[a * nc + c];
      for (size_t c = 0; c < nc; ++c) count[a * nc + c] = s > 0 ? count[a * nc + c] / s : 0.0;
    }
    MatrixRM sq(static_cast<Eigen::Index>(nv), static_cast<Eigen::Index>(nv));
    for (size_t a = 0; a < nv; ++a)
      for (size_t b = 0; b < nv; ++b) {
        double l1 = 0;
        for (size_t c = 0; c < nc; ++c) l1 += std::fabs(count[a * nc + c] - count[b * nc + c]);
        sq(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(b)) = l1 * l1;
      }
    v.cols.push_back(j);
    v.sq.push_back(std::move(sq));
  }
  return v;
}

double Vdm::distance(const Table& t, size_t a, size_t b) const {
  double s = 0;
  for (size_t q = 0; q < cols.size(); ++q) {
    const auto& codes = t.column(cols[q]).codes;
    s += sq[q](codes[a], codes[b]);
  }
  return s;
}

namespace {

using over::Features;
using over::OverOutput;

/// Exact k nearest same-class rows under the VDM (local indices into `rows`), sorted by
/// (distance, index); own row excluded. Result::distances holds the VDM values.
knn::Result vdm_self_knn(const Table& t, const Vdm& vdm, const std::vector<int64_t>& rows, size_t k,
                         int threads) {
  const size_t n = rows.size(), F = vdm.cols.size();
  RF_CHECK(k >= 1 && k <= n - 1, "vdm_self_knn: k={} for {} rows", k, n);
  // Distinct patterns, in order of first appearance; rows of each pattern ascending.
  std::vector<int32_t> code(n * F);
  for (size_t q = 0; q < F; ++q) {
    const auto& cc = t.column(vdm.cols[q]).codes;
    for (size_t i = 0; i < n; ++i) code[i * F + q] = cc[rows[i]];
  }
  std::unordered_map<std::string, int32_t> id;
  std::vector<int32_t> pattern_of(n);
  std::vector<std::vector<int32_t>> members;
  std::vector<size_t> first_row;
  for (size_t i = 0; i < n; ++i) {
    std::string key(reinterpret_cast<const char*>(code.data() + i * F), F * sizeof(int32_t));
    auto [it, fresh] = id.emplace(std::move(key), static_cast<int32_t>(members.size()));
    if (fresh) {
      members.emplace_back();
      first_row.push_back(i);
    }
    pattern_of[i] = it->second;
    members[it->second].push_back(static_cast<int32_t>(i));
  }
  const size_t U = members.size();
  knn::Result res;
  res.n_queries = n;
  res.k = k;
  res.indices.resize(n * k);
  res.distances.resize(n * k);
  over::parallel_for(U, threads, [&](size_t p) {
    const int32_t* cp = code.data() + first_row[p] * F;
    std::vector<double> dist(U);
    for (size_t u = 0; u < U; ++u) {
      const int32_t* cu = code.data() + first_row[u] * F;
      double s = 0;
      for (size_t q = 0; q < F; ++q) s += vdm.sq[q](cp[q], cu[q]);
      dist[u] = s;
    }
    // The k+1 nearest patterns by (distance, id) hold at least k+1 rows; take every pattern
    // within the largest of their distances, ranked by distance.
    std::vector<int32_t> order(U);
    std::iota(order.begin(), order.end(), 0);
    const size_t head = std::min(U, k + 1);
    const auto less = [&](int32_t a, int32_t b) {
      return dist[a] < dist[b] || (dist[a] == dist[b] && a < b);
    };
    std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(head - 1),
                     order.end(), less);
    const double bound = dist[order[head - 1]];
    std::vector<int32_t> near;
    for (size_t u = 0; u < U; ++u)
      if (dist[u] <= bound) near.push_back(static_cast<int32_t>(u));
    std::sort(near.begin(), near.end(), less);
    // Candidates: per distance group, its k+1 lowest-index rows, groups in distance order,
    // until k+1 rows are collected.
    std::vector<int32_t> cand, group;
    std::vector<double> cand_d;
    for (size_t a = 0; a < near.size() && cand.size() < k + 1;) {
      size_t b = a;
      group.clear();
      while (b < near.size() && dist[near[b]] == dist[near[a]]) {
        const auto& m = members[near[b]];
        group.insert(group.end(), m.begin(), m.begin() + std::min(m.size(), k + 1));
        ++b;
      }
      std::sort(group.begin(), group.end());
      const size_t take = std::min(group.size(), k + 1);
      cand.insert(cand.end(), group.begin(), group.begin() + static_cast<std::ptrdiff_t>(take));
      cand_d.insert(cand_d.end(), take, dist[near[a]]);
      a = b;
    }
    for (int32_t i : members[p]) {
      size_t got = 0;
      for (size_t c = 0; c < cand.size() && got < k; ++c) {
        if (cand[c] == i) continue;
        res.indices[static_cast<size_t>(i) * k + got] = cand[c];
        res.distances[static_cast<size_t>(i) * k + got] = cand_d[c];
        ++got;
      }
    }
  });
  return res;
}

class Smoten : public over::OverSampler {
 public:
  Smoten(SmotenParams p, std::string method) : p_(p), method_(std::move(method)) {}

  ResampleResult run(const Table& in, Table* owned, const SamplingRequest& req,
                     const Context& ctx) const override {
    const std::string name = "smoten";
    const SamplingPlan plan = over::plan_over(in, req);
    const Features f = over::split_features(in);
    const int threads = ctx.n_threads();
    RF_CHECK_INPUT(!f.cat.empty() || !f.num.empty(),
                   "{}: the table has no feature columns besides the target", name);
    const Vdm vdm = Vdm::fit(in, name);
    const auto rows = over::rows_by_class(in);
    const size_t nc = in.n_classes();
    std::vector<knn::Result> nn(nc);
    for (size_t c = 0; c < nc; ++c) {
      if (plan.n_add[c] == 0) continue;
      over::require_two_rows(rows[c].size(), name, in.class_names()[c]);
      const size_t k =
          over::effective_k(static_cast<size_t>(p_.k), rows[c].size(), name, in.class_names()[c]);
      nn[c] = vdm_self_knn(in, vdm, rows[c], k, threads);
    }
    OverOutput out(in, owned, plan.n_add, method_, threads);
    for (size_t c = 0; c < nc; ++c) {
      if (plan.n_add[c] == 0) continue;
      const over::Range r = out.block(c);
      int64_t* par = out.parent(r);
      std::vector<int32_t> seed_row(r.n);
      const uint64_t n_c = rows[c].size();
      const uint64_t seed = over::class_seed(ctx, c);
      over::for_chunks(r.n, seed, 0, threads, [&](size_t lo, size_t hi, Rng& rng) {
        for (size_t i = lo; i < hi; ++i) {
          seed_row[i] = static_cast<int32_t>(rng.uniform_int(n_c));
          par[i] = rows[c][seed_row[i]];
        }
      });
      // The seed votes too (Chawla et al.'s example; imbalanced-learn's neighbours include it).
      out.vote(r, f.cat, rows[c], rows[c], seed_row, nn[c], true, seed, threads);
    }
    return out.finish();
  }

 private:
  SmotenParams p_;
  std::string method_;
};

}  // namespace

std::unique_ptr<Sampler> make_smoten(const SmotenParams& p, const std::string& method) {
  RF_CHECK_INPUT(p.k >= 1, "smoten: k={} must be >= 1", p.k);
  return std::make_unique<Smoten>(p, method);
}

}  // namespace rareforge::classical
