// SMOTE / SMOTE-NC, Borderline-SMOTE 1 and 2, ADASYN (classical/oversamplers.h).
#include <algorithm>
#include <cmath>

#include "classical/knn.h"
#include "classical/over_util.h"
#include "classical/oversamplers.h"
#include "core/error.h"
#include "core/log.h"

namespace rareforge::classical {

namespace {

using over::Features;
using over::OverOutput;

knn::Options knn_options(int threads) {
  knn::Options o;
  o.threads = threads;
  return o;
}

/// What every SMOTE-family method starts with.
struct Setup {
  SamplingPlan plan;
  Features f;
  std::vector<std::vector<int64_t>> rows;  ///< input rows of each class
  int threads = 1;
};

Setup setup(const Table& in, const SamplingRequest& req, const Context& ctx,
            const std::string& name, bool nc_by_name) {
  Setup s;
  s.plan = over::plan_over(in, req);
  s.f = over::split_features(in);
  s.threads = ctx.n_threads();
  RF_CHECK_INPUT(!s.f.num.empty() || !s.f.cat.empty(),
                 "{}: the table has no feature columns besides the target", name);
  RF_CHECK_INPUT(!s.f.num.empty(),
                 "{}: every feature column is categorical, so there is nothing to interpolate; "
                 "use smoten for categorical-only tables",
                 name);
  std::vector<size_t> cols = s.f.num;
  cols.insert(cols.end(), s.f.cat.begin(), s.f.cat.end());
  over::check_complete(in, cols, name, s.threads);
  if (!s.f.cat.empty() && !nc_by_name)
    note_once(fmt::format(
        "{}: categorical feature columns ({}) follow the SMOTE-NC rule: Med^2 per mismatch in "
        "distances, new values by majority vote of the neighbours",
        name, s.f.cat_names(in)));
  if (s.f.cat.empty() && nc_by_name)
    note_once(
        fmt::format("{}: the table has no categorical feature columns; this is plain SMOTE", name));
  s.rows = over::rows_by_class(in);
  return s;
}

/// The distance space over all rows of the table: computed once for numeric tables, per class
/// (Med of that class) when there are categorical features.
class WholeSpace {
 public:
  WholeSpace(const Table& t, const Features& f, int threads) : t_(t), f_(f), threads_(threads) {}
  const MatrixRM& get(const std::vector<int64_t>& class_rows) {
    if (f_.cat.empty() && ready_) return x_;
    x_ = over::embed(t_, f_, {}, true, over::nc_cat_value(t_, f_, class_rows), threads_);
    ready_ = true;
    return x_;
  }
  void release() {
    x_ = MatrixRM();
    ready_ = false;
  }

 private:
  const Table& t_;
  const Features& f_;
  int threads_;
  MatrixRM x_;
  bool ready_ = false;
};

/// Neighbours among the whole table need n_rows - 1 >= m.
size_t whole_table_k(size_t k, size_t n_rows, const std::string& method, const char* param) {
  if (k + 1 <= n_rows) return k;
  warn_once(fmt::format("{}: the table has {} rows, fewer than {}+1 = {}; using {}={}", method,
                        n_rows, param, k + 1, param, n_rows - 1));
  return n_rows - 1;
}

/// A class's rows in the distance space and their k nearest same-class rows.
struct ClassSpace {
  MatrixRM x;
  knn::Result nn;
};

ClassSpace class_space(const Table& in, const Features& f, const std::vector<int64_t>& class_rows,
                       size_t k, int threads) {
  ClassSpace cs;
  cs.x = over::embed(in, f, class_rows, false, over::nc_cat_value(in, f, class_rows), threads);
  cs.nn = knn::self_query(cs.x, k, knn_options(threads));
  return cs;
}

// --- SMOTE ---------------------------------------------------------------------------------------

class Smote : public over::OverSampler {
 public:
  Smote(SmoteParams p, std::string method, bool nc) : p_(p), method_(std::move(method)), nc_(nc) {}

  ResampleResult run(const Table& in, Table* owned, const SamplingRequest& req,
                     const Context& ctx) const override {
    const std::string name = nc_ ? "smote-nc" : "smote";
    Setup s = setup(in, req, ctx, name, nc_);
    const size_t nc = in.n_classes();
    std::vector<ClassSpace> cs(nc);
    for (size_t c = 0; c < nc; ++c) {
      if (s.plan.n_add[c] == 0) continue;
      const size_t n_c = s.rows[c].size();
      over::require_two_rows(n_c, name, in.class_names()[c]);
      const size_t k = over::effective_k(static_cast<size_t>(p_.k), n_c, name, in.class_names()[c]);
      cs[c] = class_space(in, s.f, s.rows[c], k, s.threads);
    }
    OverOutput out(in, owned, s.plan.n_add, method_, s.threads);
    for (size_t c = 0; c < nc; ++c) {
      if (s.plan.n_add[c] == 0) continue;
      const uint64_t n_c = s.rows[c].size();
      over::smote_rows(
          out, out.block(c), s.f, s.rows[c], s.rows[c], cs[c].nn,
          [n_c](Rng& rng, size_t) { return static_cast<int32_t>(rng.uniform_int(n_c)); },
          over::class_seed(ctx, c), s.threads, &cs[c].x);
    }
    return out.finish();
  }

 private:
  SmoteParams p_;
  std::string method_;
  bool nc_;
};

// --- Borderline-SMOTE ----------------------------------------------------------------------------

/// Danger rows of class c (local indices into class_rows, ascending) from the m nearest rows of
/// the whole table; `nn_all` keeps the neighbours (input indices) of every class row.
std::vector<int32_t> danger_local(const std::vector<int32_t>& labels, int32_t c,
                                  const knn::Result& nn_all) {
  std::vector<int32_t> out;
  const size_t m = nn_all.k;
  for (size_t i = 0; i < nn_all.n_queries; ++i) {
    size_t other = 0;
    for (size_t j = 0; j < m; ++j) other += labels[nn_all.index(i, j)] != c;
    if (2 * other >= m && other < m) out.push_back(static_cast<int32_t>(i));
  }
  return out;
}

class Borderline : public over::OverSampler {
 public:
  Borderline(BorderlineParams p, std::string method) : p_(p), method_(std::move(method)) {}

  ResampleResult run(const Table& in, Table* owned, const SamplingRequest& req,
                     const Context& ctx) const override {
    const std::string name = "borderline-smote";
    Setup s = setup(in, req, ctx, name, false);
    const size_t nc = in.n_classes();
    const size_t n = in.n_rows();
    const auto& labels = in.labels();
    const size_t m = whole_table_k(static_cast<size_t>(p_.m), n, name, "m");
    struct PerClass {
      std::vector<int64_t> seeds;   // input rows of the danger set
      std::vector<int32_t> danger;  // the same, as local indices into the class's rows
      MatrixRM x;                   // the class's rows in the distance space
      knn::Result nn;               // k same-class neighbours of each danger row (local indices)
      std::vector<int64_t> other;   // kind 2: k_o other-class neighbours per danger row (input)
      size_t k_o = 0;
    };
    std::vector<PerClass> pc(nc);
    std::vector<int64_t> made = s.plan.n_add;
    WholeSpace whole(in, s.f, s.threads);
    for (size_t c = 0; c < nc; ++c) {
      if (s.plan.n_add[c] == 0) continue;
      const auto& rows = s.rows[c];
      over::require_two_rows(rows.size(), name, in.class_names()[c]);
      const MatrixRM& x = whole.get(rows);
      const knn::Result all = knn::query_rows(x, rows, m, knn_options(s.threads));
      const std::vector<int32_t> danger = danger_local(labels, static_cast<int32_t>(c), all);
      if (danger.empty()) {
        warn_once(fmt::format(
            "{}: no row of class '{}' is in danger (m/2 <= other-class rows among its {} "
            "nearest < m), so no rows are made for it (as imbalanced-learn); use smote to grow "
            "it anyway",
            name, in.class_names()[c], m));
        made[c] = 0;
        continue;
      }
      PerClass& P = pc[c];
      for (int32_t d : danger) P.seeds.push_back(rows[d]);
      const size_t k =
          over::effective_k(static_cast<size_t>(p_.k), rows.size(), name, in.class_names()[c]);
      P.danger = danger;
      P.x = over::embed(in, s.f, rows, false, over::nc_cat_value(in, s.f, rows), s.threads);
      P.nn = knn::query_rows(P.x, std::vector<int64_t>(danger.begin(), danger.end()), k,
                             knn_options(s.threads));
      if (p_.kind == 2) {
        const size_t n_other = n - rows.size();
        P.k_o = std::min(static_cast<size_t>(p_.k), n_other);
        if (P.k_o == 0) continue;
        // The k_o nearest other-class rows: the first k_o other-class entries of the m nearest
        // rows when there are that many (same order), else a search among the other rows.
        bool enough = true;
        P.other.resize(danger.size() * P.k_o);
        for (size_t i = 0; i < danger.size() && enough; ++i) {
          size_t got = 0;
          for (size_t j = 0; j < m && got < P.k_o; ++j) {
            const int64_t r = all.index(static_cast<size_t>(danger[i]), j);
            if (labels[r] != static_cast<int32_t>(c)) P.other[i * P.k_o + got++] = r;
          }
          enough = got == P.k_o;
        }
        if (!enough) {
          std::vector<int64_t> others;
          for (size_t i = 0; i < n; ++i)
            if (labels[i] != static_cast<int32_t>(c)) others.push_back(static_cast<int64_t>(i));
          const double cv = over::nc_cat_value(in, s.f, rows);
          const MatrixRM xo = over::embed(in, s.f, others, false, cv, s.threads);
          const MatrixRM xd = over::embed(in, s.f, P.seeds, false, cv, s.threads);
          const knn::Result r = knn::query(xo, xd, P.k_o, knn_options(s.threads));
          for (size_t t = 0; t < r.indices.size(); ++t) P.other[t] = others[r.indices[t]];
        }
      }
    }
    whole.release();

    OverOutput out(in, owned, made, method_, s.threads);
    for (size_t c = 0; c < nc; ++c) {
      if (made[c] == 0) continue;
      const PerClass& P = pc[c];
      const uint64_t n_d = P.seeds.size();
      const auto pick = [n_d](Rng& rng, size_t) {
        return static_cast<int32_t>(rng.uniform_int(n_d));
      };
      const uint64_t seed = over::class_seed(ctx, c);
      if (p_.kind == 1 || P.k_o == 0) {
        over::smote_rows(out, out.block(c), s.f, s.rows[c], P.seeds, P.nn, pick, seed, s.threads,
                         &P.x, &P.danger);
        continue;
      }
      // Kind 2: the partner is one of the k same-class neighbours (gap in [0, 1)) or one of the
      // k_o nearest other-class rows (gap in [0, 0.5)), uniformly among the k + k_o.
      const over::Range r = out.block(c);
      int64_t* par = out.parent(r);
      int64_t* nb = out.neighbor(r);
      double* g = out.gap(r);
      std::vector<int32_t> seed_row(r.n);
      const size_t k = P.nn.k;
      const auto& rows = s.rows[c];
      over::for_chunks(r.n, seed, 0, s.threads, [&](size_t lo, size_t hi, Rng& rng) {
        for (size_t i = lo; i < hi; ++i) {
          const int32_t sd = pick(rng, i);
          const size_t j = static_cast<size_t>(rng.uniform_int(k + P.k_o));
          seed_row[i] = sd;
          par[i] = P.seeds[sd];
          if (j < k) {
            nb[i] = rows[P.nn.index(static_cast<size_t>(sd), j)];
            g[i] = rng.uniform();
          } else {
            nb[i] = P.other[static_cast<size_t>(sd) * P.k_o + (j - k)];
            g[i] = 0.5 * rng.uniform();
          }
        }
      });
      out.interpolate(r, s.f.num, s.threads);
      out.vote(r, s.f.cat, rows, P.seeds, seed_row, P.nn, false, seed, s.threads);
    }
    return out.finish();
  }

 private:
  BorderlineParams p_;
  std::string method_;
};

// --- ADASYN --------------------------------------------------------------------------------------

/// Rows to make from each row of class c (see adasyn_counts in the header).
std::vector<int64_t> adasyn_plan(const Table& in, const MatrixRM& x,
                                 const std::vector<int64_t>& rows, int32_t c, size_t k_all,
                                 int64_t n_add, int threads) {
  const knn::Result all = knn::query_rows(x, rows, k_all, knn_options(threads));
  const auto& labels = in.labels();
  std::vector<double> ratio(rows.size());
  double sum = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    size_t other = 0;
    for (size_t j = 0; j < k_all; ++j) other += labels[all.index(i, j)] != c;
    ratio[i] = static_cast<double>(other) / static_cast<double>(k_all);
    sum += ratio[i];
  }
  RF_CHECK_INPUT(sum > 0,
                 "adasyn: no neighbour of any row of class '{}' belongs to another class (k={}), "
                 "so ADASYN's weights are all 0 (imbalanced-learn: \"Not any neigbours belong to "
                 "the majority class\"); use smote for this table",
                 in.class_names()[c], k_all);
  return over::apportion(ratio, n_add);
}

class Adasyn : public over::OverSampler {
 public:
  Adasyn(AdasynParams p, std::string method) : p_(p), method_(std::move(method)) {}

  ResampleResult run(const Table& in, Table* owned, const SamplingRequest& req,
                     const Context& ctx) const override {
    const std::string name = "adasyn";
    Setup s = setup(in, req, ctx, name, false);
    const size_t nc = in.n_classes();
    const size_t k_all = whole_table_k(static_cast<size_t>(p_.k), in.n_rows(), name, "k");
    std::vector<std::vector<int32_t>> seeds(nc);
    std::vector<ClassSpace> cs(nc);
    WholeSpace whole(in, s.f, s.threads);
    for (size_t c = 0; c < nc; ++c) {
      if (s.plan.n_add[c] == 0) continue;
      const auto& rows = s.rows[c];
      over::require_two_rows(rows.size(), name, in.class_names()[c]);
      const std::vector<int64_t> g = adasyn_plan(in, whole.get(rows), rows, static_cast<int32_t>(c),
                                                 k_all, s.plan.n_add[c], s.threads);
      seeds[c].reserve(static_cast<size_t>(s.plan.n_add[c]));
      for (size_t i = 0; i < g.size(); ++i)
        seeds[c].insert(seeds[c].end(), static_cast<size_t>(g[i]), static_cast<int32_t>(i));
      const size_t k =
          over::effective_k(static_cast<size_t>(p_.k), rows.size(), name, in.class_names()[c]);
      cs[c] = class_space(in, s.f, rows, k, s.threads);
    }
    whole.release();
    OverOutput out(in, owned, s.plan.n_add, method_, s.threads);
    for (size_t c = 0; c < nc; ++c) {
      if (s.plan.n_add[c] == 0) continue;
      const auto& sd = seeds[c];
      over::smote_rows(
          out, out.block(c), s.f, s.rows[c], s.rows[c], cs[c].nn,
          [&sd](Rng&, size_t i) { return sd[i]; }, over::class_seed(ctx, c), s.threads, &cs[c].x);
    }
    return out.finish();
  }

 private:
  AdasynParams p_;
  std::string method_;
};

}  // namespace

std::unique_ptr<Sampler> make_smote(const SmoteParams& p, const std::string& method, bool nc) {
  RF_CHECK_INPUT(p.k >= 1, "{}: k={} must be >= 1", nc ? "smote-nc" : "smote", p.k);
  return std::make_unique<Smote>(p, method, nc);
}

std::unique_ptr<Sampler> make_borderline_smote(const BorderlineParams& p,
                                               const std::string& method) {
  RF_CHECK_INPUT(p.kind == 1 || p.kind == 2, "borderline-smote: kind={} must be 1 or 2", p.kind);
  RF_CHECK_INPUT(p.k >= 1, "borderline-smote: k={} must be >= 1", p.k);
  RF_CHECK_INPUT(p.m >= 1, "borderline-smote: m={} must be >= 1", p.m);
  return std::make_unique<Borderline>(p, method);
}

std::unique_ptr<Sampler> make_adasyn(const AdasynParams& p, const std::string& method) {
  RF_CHECK_INPUT(p.k >= 1, "adasyn: k={} must be >= 1", p.k);
  return std::make_unique<Adasyn>(p, method);
}

std::vector<int64_t> borderline_danger(const Table& t, int32_t c, int64_t m, int threads) {
  const Features f = over::split_features(t);
  Context ctx;
  ctx.threads = threads;
  const int nt = ctx.n_threads();
  const auto rows = over::rows_by_class(t).at(static_cast<size_t>(c));
  if (rows.empty()) return {};
  const size_t mm = whole_table_k(static_cast<size_t>(m), t.n_rows(), "borderline-smote", "m");
  const MatrixRM x = over::embed(t, f, {}, true, over::nc_cat_value(t, f, rows), nt);
  const knn::Result all = knn::query_rows(x, rows, mm, knn_options(nt));
  std::vector<int64_t> out;
  for (int32_t d : danger_local(t.labels(), c, all)) out.push_back(rows[d]);
  return out;
}

std::vector<int64_t> adasyn_counts(const Table& t, int32_t c, int64_t k, int64_t n_add,
                                   int threads) {
  const Features f = over::split_features(t);
  Context ctx;
  ctx.threads = threads;
  const int nt = ctx.n_threads();
  const auto rows = over::rows_by_class(t).at(static_cast<size_t>(c));
  const size_t kk = whole_table_k(static_cast<size_t>(k), t.n_rows(), "adasyn", "k");
  const MatrixRM x = over::embed(t, f, {}, true, over::nc_cat_value(t, f, rows), nt);
  return adasyn_plan(t, x, rows, c, kk, n_add, nt);
}

}  // namespace rareforge::classical
