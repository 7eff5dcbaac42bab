// SVM-SMOTE (classical/oversamplers.h; Nguyen, Cooper and Kamei 2009, as imbalanced-learn 0.10's
// SVMSMOTE). The SVM is libsvm's C-SVC with an RBF kernel: the library inside scikit-learn's SVC.
//
// For each class c to grow:
//   1. fit the SVM on all rows (all classes; their labels) in the distance space of the SMOTE
//      family; c's support vectors are the candidate seeds;
//   2. each candidate's m nearest rows of the whole table (own row excluded) decide: all m of
//      other classes = noise (dropped); m/2 <= other < m = danger; other < m/2 = safe;
//   3. a fraction f ~ Beta(10, 10) of the rows (floor(f * (n_add + 1))) comes from the danger set
//      by interpolation (gap in [0, 1) towards one of the seed's k nearest same-class rows), the
//      rest from the safe set by extrapolation (gap in (-out_step, 0]: away from the partner).
//      When one of the two sets is empty the other makes every row (imbalanced-learn 0.10 then
//      makes fewer rows than planned; docs/METHODS.md).
// Output per class: the danger block, then the safe block.
#include <svm.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "classical/knn.h"
#include "classical/over_util.h"
#include "classical/oversamplers.h"
#include "core/error.h"
#include "core/log.h"

namespace rareforge::classical {

namespace {

using over::Features;
using over::OverOutput;

constexpr const char* kName = "svm-smote";

/// Stream (under the class seed) of the Beta draw, and of the seed of the safe rows' draws.
constexpr uint64_t kSplitStream = over::kPrepStream + 1;
constexpr uint64_t kSafeStream = over::kPrepStream + 2;

knn::Options knn_options(int threads) {
  knn::Options o;
  o.threads = threads;
  return o;
}

void libsvm_quiet(const char*) {}

/// Tables above this many rows get a note that the SVM fit may take a while.
constexpr size_t kLargeSvm = 50000;

/// scikit-learn's gamma: "scale" = 1 / (features x population variance of every value of x),
/// 1 when that variance is 0; "auto" = 1 / features; else the value.
double resolve_gamma(const MatrixRM& x, double gamma) {
  const double d = static_cast<double>(x.cols());
  if (gamma == SvmSmoteParams::kGammaAuto) return 1.0 / d;
  if (gamma != SvmSmoteParams::kGammaScale) return gamma;
  const double n = static_cast<double>(x.size());
  const double mean = x.sum() / n;
  const double var = (x.array() - mean).square().sum() / n;
  return var > 0 ? 1.0 / (d * var) : 1.0;
}

/// The support vectors (rows of x, ascending) of libsvm's C-SVC with an RBF kernel fitted on
/// the rows of x with labels `labels` (one-vs-one for more than two classes). The rows are given
/// to libsvm grouped by class in class order, as scikit-learn's libsvm orders them internally,
/// so the optimisation runs on the same problem in the same order.
std::vector<int64_t> support_vectors(const MatrixRM& x, const std::vector<int32_t>& labels,
                                     const std::vector<std::vector<int64_t>>& rows, double c,
                                     double gamma) {
  const size_t n = static_cast<size_t>(x.rows()), d = static_cast<size_t>(x.cols());
  size_t present = 0;
  for (const auto& r : rows) present += !r.empty();
  RF_CHECK_INPUT(present >= 2, "{}: the SVM needs rows of at least two classes; the table has {}",
                 kName, present);
  RF_CHECK_INPUT(n <= static_cast<size_t>(std::numeric_limits<int>::max() / 2),
                 "{}: {} rows is more than libsvm can index; sample the table first", kName, n);
  std::vector<int64_t> order;
  order.reserve(n);
  for (const auto& r : rows) order.insert(order.end(), r.begin(), r.end());
  // Sparse nodes (index, value), zeros left out as libsvm's format allows: the kernel values
  // are the same (a zero adds nothing to a dot product).
  std::vector<svm_node> nodes;
  std::vector<svm_node*> xs(n);
  std::vector<double> y(n);
  std::vector<size_t> start(n);
  for (size_t i = 0; i < n; ++i) {
    start[i] = nodes.size();
    const double* row = x.data() + static_cast<size_t>(order[i]) * d;
    for (size_t j = 0; j < d; ++j)
      if (row[j] != 0) nodes.push_back(svm_node{static_cast<int>(j + 1), row[j]});
    nodes.push_back(svm_node{-1, 0.0});
    y[i] = labels[static_cast<size_t>(order[i])];
  }
  for (size_t i = 0; i < n; ++i) xs[i] = nodes.data() + start[i];
  svm_problem prob{};
  prob.l = static_cast<int>(n);
  prob.y = y.data();
  prob.x = xs.data();
  // scikit-learn's SVC defaults besides C and gamma.
  svm_parameter param{};
  param.svm_type = C_SVC;
  param.kernel_type = RBF;
  param.degree = 3;
  param.gamma = resolve_gamma(x, gamma);
  param.coef0 = 0;
  param.cache_size = 200;
  param.eps = 1e-3;
  param.C = c;
  param.nr_weight = 0;
  param.weight_label = nullptr;
  param.weight = nullptr;
  param.nu = 0.5;
  param.p = 0.1;
  param.shrinking = 1;
  param.probability = 0;
  if (const char* err = svm_check_parameter(&prob, &param))
    RF_THROW_INPUT("{}: libsvm rejects the SVM parameters (C={}, gamma={}): {}", kName, c,
                   param.gamma, err);
  if (n > kLargeSvm)
    note_once(fmt::format(
        "{}: fitting the SVM on {} rows (libsvm, one core; its time grows faster than rows^2, "
        "about 15 s at 100,000 rows x 20 features); sample the majority first if this is too slow",
        kName, n));
  svm_set_print_string_function(&libsvm_quiet);
  svm_model* model = svm_train(&prob, &param);
  RF_CHECK(model != nullptr, "libsvm's svm_train returned no model");
  std::vector<int> sv(static_cast<size_t>(svm_get_nr_sv(model)));
  if (!sv.empty()) svm_get_sv_indices(model, sv.data());
  svm_free_and_destroy_model(&model);
  std::vector<int64_t> out;
  out.reserve(sv.size());
  for (int s : sv) out.push_back(order[static_cast<size_t>(s - 1)]);  // 1-based
  std::sort(out.begin(), out.end());
  return out;
}

/// Neighbours among the whole table need n_rows - 1 >= m.
size_t whole_table_m(size_t m, size_t n_rows) {
  if (m + 1 <= n_rows) return m;
  warn_once(fmt::format("{}: the table has {} rows, fewer than m+1 = {}; using m={}", kName, n_rows,
                        m + 1, n_rows - 1));
  return n_rows - 1;
}

/// Class c's support vectors split into noise, danger and safe by their m nearest rows of the
/// whole table (distance space x).
SvmSmoteSets split_support(const MatrixRM& x, const std::vector<int32_t>& labels, int32_t c,
                           const std::vector<int64_t>& all_support, size_t m, int threads) {
  SvmSmoteSets s;
  for (int64_t r : all_support)
    if (labels[static_cast<size_t>(r)] == c) s.support.push_back(r);
  if (s.support.empty()) return s;
  const knn::Result nn = knn::query_rows(x, s.support, m, knn_options(threads));
  for (size_t i = 0; i < s.support.size(); ++i) {
    size_t other = 0;
    for (size_t j = 0; j < m; ++j) other += labels[static_cast<size_t>(nn.index(i, j))] != c;
    if (other == m)
      s.noise.push_back(s.support[i]);
    else if (2 * other >= m)
      s.danger.push_back(s.support[i]);
    else
      s.safe.push_back(s.support[i]);
  }
  return s;
}

/// Beta(10, 10) as G1 / (G1 + G2), G ~ Gamma(10, 1) the sum of 10 standard exponentials.
double beta_10_10(Rng& rng) {
  double g[2] = {0, 0};
  for (double& v : g)
    for (int i = 0; i < 10; ++i) v -= std::log1p(-rng.uniform());
  return g[0] / (g[0] + g[1]);
}

/// Support vectors of the whole table, refitted only when the distance space changes (tables
/// with categorical features: the one-hot scale is the class's Med).
class WholeSvm {
 public:
  WholeSvm(const Table& t, const Features& f, const std::vector<std::vector<int64_t>>& rows,
           const SvmSmoteParams& p, int threads)
      : t_(t), f_(f), rows_(rows), p_(p), threads_(threads) {}
  /// The distance space for class c and the support vectors of every class in it.
  void fit(size_t c) {
    if (f_.cat.empty() && ready_) return;
    x_ = over::embed(t_, f_, {}, true, over::nc_cat_value(t_, f_, rows_[c]), threads_);
    support_ = support_vectors(x_, t_.labels(), rows_, p_.c, p_.gamma);
    ready_ = true;
  }
  const MatrixRM& x() const { return x_; }
  const std::vector<int64_t>& support() const { return support_; }
  void release() {
    x_ = MatrixRM();
    ready_ = false;
  }

 private:
  const Table& t_;
  const Features& f_;
  const std::vector<std::vector<int64_t>>& rows_;
  const SvmSmoteParams& p_;
  int threads_;
  MatrixRM x_;
  std::vector<int64_t> support_;
  bool ready_ = false;
};

class SvmSmote : public over::OverSampler {
 public:
  SvmSmote(SvmSmoteParams p, std::string method) : p_(p), method_(std::move(method)) {}

  ResampleResult run(const Table& in, Table* owned, const SamplingRequest& req,
                     const Context& ctx) const override {
    const SamplingPlan plan = over::plan_over(in, req);
    const Features f = over::split_features(in);
    const int threads = ctx.n_threads();
    RF_CHECK_INPUT(!f.num.empty() || !f.cat.empty(),
                   "{}: the table has no feature columns besides the target", kName);
    RF_CHECK_INPUT(!f.num.empty(),
                   "{}: every feature column is categorical, so there is nothing to interpolate; "
                   "use smoten for categorical-only tables",
                   kName);
    std::vector<size_t> cols = f.num;
    cols.insert(cols.end(), f.cat.begin(), f.cat.end());
    over::check_complete(in, cols, kName, threads);
    if (!f.cat.empty())
      note_once(fmt::format(
          "{}: categorical feature columns ({}) follow the SMOTE-NC rule: one-hot columns of "
          "Med/sqrt(2) for the SVM and the distances, new values by majority vote of the "
          "neighbours",
          kName, f.cat_names(in)));
    const auto rows = over::rows_by_class(in);
    const size_t nc = in.n_classes();
    const auto& labels = in.labels();

    struct PerClass {
      std::vector<int64_t> seeds[2];  // input rows: danger, safe support vectors
      std::vector<int32_t> local[2];  // the same, as local indices into the class's rows
      knn::Result nn[2];              // k same-class neighbours of each seed (local indices)
      int64_t make[2] = {0, 0};       // rows made from each set
      MatrixRM x;                     // the class's rows in the distance space
    };
    std::vector<PerClass> pc(nc);
    std::vector<int64_t> made = plan.n_add;
    bool any = false;
    for (size_t c = 0; c < nc; ++c) any = any || plan.n_add[c] > 0;
    if (any) {
      const size_t m = whole_table_m(static_cast<size_t>(p_.m), in.n_rows());
      WholeSvm svm(in, f, rows, p_, threads);
      for (size_t c = 0; c < nc; ++c) {
        if (plan.n_add[c] == 0) continue;
        const std::string& cname = in.class_names()[c];
        over::require_two_rows(rows[c].size(), kName, cname);
        svm.fit(c);
        const SvmSmoteSets sets =
            split_support(svm.x(), labels, static_cast<int32_t>(c), svm.support(), m, threads);
        if (sets.danger.empty() && sets.safe.empty()) {
          warn_once(fmt::format(
              "{}: class '{}' has {} support vectors and all are noise (their {} nearest rows "
              "are all of other classes), so no rows are made for it (imbalanced-learn 0.10 "
              "fails here); use smote to grow it anyway",
              kName, cname, sets.support.size(), m));
          made[c] = 0;
          continue;
        }
        PerClass& P = pc[c];
        P.seeds[0] = sets.danger;
        P.seeds[1] = sets.safe;
        // The split: floor(f * (n_add + 1)) rows from the danger set, f ~ Beta(10, 10).
        Rng rng = Rng::derive(over::class_seed(ctx, c), kSplitStream);
        const double frac = beta_10_10(rng);
        P.make[0] = std::min<int64_t>(
            plan.n_add[c], static_cast<int64_t>(frac * static_cast<double>(plan.n_add[c] + 1)));
        if (sets.safe.empty()) P.make[0] = plan.n_add[c];
        if (sets.danger.empty()) P.make[0] = 0;
        P.make[1] = plan.n_add[c] - P.make[0];
        const size_t k = over::effective_k(static_cast<size_t>(p_.k), rows[c].size(), kName, cname);
        P.x = over::embed(in, f, rows[c], false, over::nc_cat_value(in, f, rows[c]), threads);
        for (int s = 0; s < 2; ++s) {
          if (P.seeds[s].empty()) continue;
          std::vector<int64_t> q;
          for (int64_t r : P.seeds[s]) {
            const auto it = std::lower_bound(rows[c].begin(), rows[c].end(), r);
            P.local[s].push_back(static_cast<int32_t>(it - rows[c].begin()));
            q.push_back(P.local[s].back());
          }
          P.nn[s] = knn::query_rows(P.x, q, k, knn_options(threads));
        }
      }
      svm.release();
    }

    OverOutput out(in, owned, made, method_, threads);
    for (size_t c = 0; c < nc; ++c) {
      if (made[c] == 0) continue;
      const PerClass& P = pc[c];
      const uint64_t cseed = over::class_seed(ctx, c);
      const over::Range block = out.block(c);
      // Danger: SMOTE interpolation.
      const over::Range rd = block.sub(0, static_cast<size_t>(P.make[0]));
      const uint64_t n_d = P.seeds[0].size();
      over::smote_rows(
          out, rd, f, rows[c], P.seeds[0], P.nn[0],
          [n_d](Rng& rng, size_t) { return static_cast<int32_t>(rng.uniform_int(n_d)); }, cseed,
          threads, &P.x, &P.local[0]);
      // Safe: extrapolation away from the partner, gap = -out_step * u, u uniform in [0, 1).
      const over::Range rs = block.sub(rd.n, static_cast<size_t>(P.make[1]));
      if (rs.n == 0) continue;
      const uint64_t safe_seed = Rng::derive(cseed, kSafeStream).next();
      int64_t* par = out.parent(rs);
      int64_t* nb = out.neighbor(rs);
      double* g = out.gap(rs);
      std::vector<int32_t> seed_row(rs.n), a_local(rs.n), b_local(rs.n);
      const knn::Result& nn = P.nn[1];
      const uint64_t n_s = P.seeds[1].size();
      over::for_chunks(rs.n, safe_seed, 0, threads, [&](size_t lo, size_t hi, Rng& rng) {
        for (size_t i = lo; i < hi; ++i) {
          const int32_t s = static_cast<int32_t>(rng.uniform_int(n_s));
          const size_t j = static_cast<size_t>(rng.uniform_int(nn.k));
          const int64_t partner = nn.index(static_cast<size_t>(s), j);
          seed_row[i] = s;
          par[i] = P.seeds[1][static_cast<size_t>(s)];
          nb[i] = rows[c][static_cast<size_t>(partner)];
          const double u = rng.uniform();
          g[i] = u > 0 ? -p_.out_step * u : 0.0;  // no -0 in the provenance
          a_local[i] = P.local[1][static_cast<size_t>(s)];
          b_local[i] = static_cast<int32_t>(partner);
        }
      });
      out.interpolate_local(rs, f.num, P.x, a_local.data(), b_local.data(), threads);
      out.vote(rs, f.cat, rows[c], P.seeds[1], seed_row, nn, false, safe_seed, threads);
    }
    return out.finish();
  }

 private:
  SvmSmoteParams p_;
  std::string method_;
};

void check_params(const SvmSmoteParams& p) {
  RF_CHECK_INPUT(p.k >= 1, "{}: k={} must be >= 1", kName, p.k);
  RF_CHECK_INPUT(p.m >= 1, "{}: m={} must be >= 1", kName, p.m);
  RF_CHECK_INPUT(p.out_step >= 0 && p.out_step <= 1, "{}: out_step={} must be in [0, 1]", kName,
                 p.out_step);
  RF_CHECK_INPUT(p.c > 0 && std::isfinite(p.c), "{}: C={} must be > 0", kName, p.c);
  RF_CHECK_INPUT((p.gamma > 0 && std::isfinite(p.gamma)) ||
                     p.gamma == SvmSmoteParams::kGammaScale ||
                     p.gamma == SvmSmoteParams::kGammaAuto,
                 "{}: gamma={} must be scale, auto or a number > 0", kName, p.gamma);
}

}  // namespace

std::unique_ptr<Sampler> make_svm_smote(const SvmSmoteParams& p, const std::string& method) {
  check_params(p);
  return std::make_unique<SvmSmote>(p, method);
}

SvmSmoteSets svm_smote_sets(const Table& t, int32_t c, const SvmSmoteParams& p, int threads) {
  check_params(p);
  const Features f = over::split_features(t);
  Context ctx;
  ctx.threads = threads;
  const int nt = ctx.n_threads();
  std::vector<size_t> cols = f.num;
  cols.insert(cols.end(), f.cat.begin(), f.cat.end());
  over::check_complete(t, cols, kName, nt);
  const auto rows = over::rows_by_class(t);
  RF_CHECK_INPUT(c >= 0 && static_cast<size_t>(c) < rows.size(), "{}: no class {}", kName, c);
  const MatrixRM x =
      over::embed(t, f, {}, true, over::nc_cat_value(t, f, rows[static_cast<size_t>(c)]), nt);
  const std::vector<int64_t> sv = support_vectors(x, t.labels(), rows, p.c, p.gamma);
  const size_t m = whole_table_m(static_cast<size_t>(p.m), t.n_rows());
  return split_support(x, t.labels(), c, sv, m, nt);
}

}  // namespace rareforge::classical
