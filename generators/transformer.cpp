#include "generators/transformer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace rareforge::generators {

namespace {

constexpr double kLn2Pi = 1.8378770664093454835606594728112;
constexpr double kSqrt2 = 1.4142135623730950488016887242097;
constexpr double kOffsetClip = 0.99;
// Mixture fit on standardised values: sklearn's BayesianGaussianMixture defaults as the
// reference CTGAN/RDT uses them (Dirichlet-process weights with concentration 1e-3, mean prior
// = data mean with precision 1, one degree of freedom, covariance prior = data variance,
// reg_covar 1e-6).
constexpr double kWeightConcentration = 1e-3;
constexpr double kRegCovar = 1e-6;
// scikit-learn's QuantileTransformer: values within this of the extreme landmarks map to the
// ends, and the normal output is clipped at Phi^-1(kBounds - eps), Phi^-1(1 - (kBounds - eps)).
constexpr double kBounds = 1e-7;

// Runs fn(i) for i in [0, n) on up to `threads` threads; rethrows the first exception.
void parallel_for(size_t n, int threads, const std::function<void(size_t)>& fn) {
  const size_t nt = std::min<size_t>(n, static_cast<size_t>(std::max(1, threads)));
  if (nt <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex mu;
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < nt; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

double digamma(double x) {
  double r = 0.0;
  while (x < 6.0) {
    r -= 1.0 / x;
    x += 1.0;
  }
  const double f = 1.0 / (x * x);
  return r + std::log(x) - 0.5 / x -
         f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))));
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / kSqrt2); }

// Phi^-1(p) to full double precision: Abramowitz & Stegun 26.2.23 as the start (error < 4.5e-4),
// then Halley steps on Phi(x) - p (cubic convergence; Phi from erfc is accurate in the lower
// tail, and the upper half is solved through the symmetry with 1 - p, exact for p >= 0.5).
double normal_ppf(double p) {
  if (std::isnan(p) || p < 0.0 || p > 1.0) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0.0) return -std::numeric_limits<double>::infinity();
  if (p == 1.0) return std::numeric_limits<double>::infinity();
  if (p > 0.5) return -normal_ppf(1.0 - p);
  if (p == 0.5) return 0.0;
  const double t = std::sqrt(-2.0 * std::log(p));
  double x = -(t - (2.515517 + t * (0.802853 + t * 0.010328)) /
                       (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))));
  for (int it = 0; it < 4; ++it) {
    const double e = normal_cdf(x) - p;
    const double u = e * std::sqrt(2.0 * M_PI) * std::exp(0.5 * x * x);
    const double step = u / (1.0 + 0.5 * x * u);
    x -= step;
    if (std::abs(step) <= 1e-17 * std::abs(x)) break;
  }
  return x;
}

// numpy.interp(x, xp, fp) for ascending xp (ties allowed), including its edge rules.
double interp(double x, const std::vector<double>& xp, const std::vector<double>& fp) {
  const size_t n = xp.size();
  if (x == xp[n - 1]) return fp[n - 1];
  if (x > xp[n - 1]) return fp[n - 1];
  if (x < xp[0]) return fp[0];
  const size_t j = static_cast<size_t>(std::upper_bound(xp.begin(), xp.end(), x) - xp.begin()) - 1;
  if (j >= n - 1) return fp[n - 1];
  if (xp[j] == x) return fp[j];
  const double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  return slope * (x - xp[j]) + fp[j];
}

std::vector<double> linspace01(size_t n) {
  std::vector<double> r(n, 0.0);
  if (n == 1) return r;
  const double step = 1.0 / static_cast<double>(n - 1);
  for (size_t i = 0; i < n; ++i) r[i] = static_cast<double>(i) * step;
  r[n - 1] = 1.0;
  return r;
}

// numpy.percentile(values, 100 * refs) with the default linear method on sorted values, then
// the running maximum scikit-learn applies.
std::vector<double> quantile_landmarks(std::vector<double> v, size_t n_quantiles) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const std::vector<double> refs = linspace01(n_quantiles);
  std::vector<double> q(n_quantiles);
  for (size_t i = 0; i < n_quantiles; ++i) {
    const double r = refs[i] * 100.0 / 100.0;
    const double vi = static_cast<double>(n) * r + (1.0 - r) - 1.0;
    double prev = std::floor(vi);
    prev = std::min(std::max(prev, 0.0), static_cast<double>(n - 1));
    const double next = std::min(prev + 1.0, static_cast<double>(n - 1));
    const double g = vi - prev;
    const double a = v[static_cast<size_t>(prev)], b = v[static_cast<size_t>(next)];
    const double diff = b - a;
    q[i] = g >= 0.5 ? b - diff * (1.0 - g) : a + diff * g;
  }
  for (size_t i = 1; i < n_quantiles; ++i) q[i] = std::max(q[i], q[i - 1]);
  return q;
}

double quantile_clip_min() { return normal_ppf(kBounds - std::numeric_limits<double>::epsilon()); }
double quantile_clip_max() {
  return normal_ppf(1.0 - (kBounds - std::numeric_limits<double>::epsilon()));
}

// QuantileTransformer(output_distribution="normal").transform of one value.
double quantile_forward(double x, const std::vector<double>& q, const std::vector<double>& refs,
                        const std::vector<double>& neg_q_rev, const std::vector<double>& neg_r_rev,
                        double clip_min, double clip_max) {
  double p = 0.5 * (interp(x, q, refs) - interp(-x, neg_q_rev, neg_r_rev));
  if (x + kBounds > q.back()) p = 1.0;
  if (x - kBounds < q.front()) p = 0.0;
  return std::min(std::max(normal_ppf(p), clip_min), clip_max);
}

// Its inverse; the clipped ends map back to the extreme landmarks exactly.
double quantile_inverse(double y, const std::vector<double>& q, const std::vector<double>& refs,
                        double clip_min, double clip_max) {
  if (y <= clip_min) return q.front();
  if (y >= clip_max) return q.back();
  const double p = normal_cdf(y);
  if (p - kBounds < 0.0) return q.front();
  if (p + kBounds > 1.0) return q.back();
  return interp(p, refs, q);
}

struct FittedMixture {
  std::vector<double> means, stds, weights;
};

// Variational Bayesian Gaussian mixture in one dimension with Dirichlet-process (stick
// breaking) weights, as sklearn's BayesianGaussianMixture(weight_concentration_prior=1e-3):
// k-means++ / Lloyd initialisation (seeded), then up to `iterations` VB rounds on sufficient
// statistics; components whose weight ends under `threshold` are dropped. Values are
// standardised first, so the fit does not depend on the column's units. Components are returned
// sorted by mean.
FittedMixture fit_mixture(const std::vector<double>& x, int max_modes, double threshold,
                          int iterations, Rng& rng) {
  const size_t n = x.size();
  double mean = 0.0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (double v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(n);
  const double sd = std::sqrt(var);
  FittedMixture out;
  if (!(sd > 0.0) || !std::isfinite(sd) || n < 2) {
    out.means = {mean};
    out.stds = {1e-6 * std::max(std::abs(mean), 1.0)};
    out.weights = {1.0};
    return out;
  }
  std::vector<double> z(n);
  for (size_t i = 0; i < n; ++i) z[i] = (x[i] - mean) / sd;

  // Number of components: at most the number of distinct values.
  size_t k_max = static_cast<size_t>(std::max(1, max_modes));
  {
    std::vector<double> s = z;
    std::sort(s.begin(), s.end());
    const size_t distinct = static_cast<size_t>(std::unique(s.begin(), s.end()) - s.begin());
    k_max = std::min(k_max, distinct);
  }
  const size_t K = k_max;

  // k-means++ seeding on a subsample, then Lloyd iterations on all values.
  std::vector<double> centers;
  {
    const size_t m = std::min<size_t>(n, 10000);
    std::vector<double> sub(m);
    for (size_t i = 0; i < m; ++i) sub[i] = m == n ? z[i] : z[rng.uniform_int(n)];
    centers.push_back(sub[rng.uniform_int(m)]);
    std::vector<double> d2(m);
    while (centers.size() < K) {
      double total = 0.0;
      for (size_t i = 0; i < m; ++i) {
        double best = std::numeric_limits<double>::infinity();
        for (double c : centers) best = std::min(best, (sub[i] - c) * (sub[i] - c));
        d2[i] = best;
        total += best;
      }
      if (!(total > 0.0)) break;
      const double u = rng.uniform() * total;
      double acc = 0.0;
      size_t pick = m - 1;
      for (size_t i = 0; i < m; ++i) {
        acc += d2[i];
        if (acc > u) {
          pick = i;
          break;
        }
      }
      centers.push_back(sub[pick]);
    }
  }
  const size_t k = centers.size();
  std::vector<double> n_k(k), s1(k), s2(k);
  auto nearest = [&](double v) {
    size_t best = 0;
    double bd = std::abs(v - centers[0]);
    for (size_t c = 1; c < k; ++c) {
      const double d = std::abs(v - centers[c]);
      if (d < bd) {
        bd = d;
        best = c;
      }
    }
    return best;
  };
  for (int it = 0; it < 20; ++it) {
    std::fill(n_k.begin(), n_k.end(), 0.0);
    std::fill(s1.begin(), s1.end(), 0.0);
    for (double v : z) {
      const size_t c = nearest(v);
      n_k[c] += 1.0;
      s1[c] += v;
    }
    bool moved = false;
    for (size_t c = 0; c < k; ++c) {
      if (n_k[c] > 0) {
        const double nc = s1[c] / n_k[c];
        moved = moved || nc != centers[c];
        centers[c] = nc;
      }
    }
    if (!moved) break;
  }
  std::fill(n_k.begin(), n_k.end(), 0.0);
  std::fill(s1.begin(), s1.end(), 0.0);
  std::fill(s2.begin(), s2.end(), 0.0);
  for (double v : z) {
    const size_t c = nearest(v);
    n_k[c] += 1.0;
    s1[c] += v;
    s2[c] += v * v;
  }

  const double eps10 = 10.0 * std::numeric_limits<double>::epsilon();
  std::vector<double> beta(k), m(k), nu(k), cov(k), b1(k), b2(k), const_k(k), prec(k);
  std::vector<double> prev_frac(k, -1.0);
  auto m_step = [&] {
    double tail = 0.0;
    for (size_t c = k; c-- > 0;) {
      const double nk = n_k[c] + eps10;
      const double xk = s1[c] / nk;
      const double sk = std::max(0.0, s2[c] / nk - xk * xk) + kRegCovar;
      beta[c] = 1.0 + nk;
      m[c] = nk * xk / beta[c];
      nu[c] = 1.0 + nk;
      cov[c] = (1.0 + nk * sk + nk / beta[c] * xk * xk) / nu[c];
      b1[c] = 1.0 + nk;
      b2[c] = kWeightConcentration + tail;
      tail += nk;
    }
    double cum = 0.0;
    for (size_t c = 0; c < k; ++c) {
      const double dsum = digamma(b1[c] + b2[c]);
      const double elog_pi = digamma(b1[c]) - dsum + cum;
      cum += digamma(b2[c]) - dsum;
      prec[c] = 1.0 / cov[c];
      const_k[c] = elog_pi - 0.5 * kLn2Pi - 0.5 * std::log(cov[c]) - 0.5 * std::log(nu[c]) +
                   0.5 * (digamma(0.5 * nu[c]) + std::log(2.0) - 1.0 / beta[c]);
    }
  };
  std::vector<double> lp(k);
  for (int it = 0; it < iterations; ++it) {
    m_step();
    std::fill(n_k.begin(), n_k.end(), 0.0);
    std::fill(s1.begin(), s1.end(), 0.0);
    std::fill(s2.begin(), s2.end(), 0.0);
    for (double v : z) {
      double mx = -std::numeric_limits<double>::infinity();
      for (size_t c = 0; c < k; ++c) {
        const double d = v - m[c];
        lp[c] = const_k[c] - 0.5 * d * d * prec[c];
        mx = std::max(mx, lp[c]);
      }
      double tot = 0.0;
      for (size_t c = 0; c < k; ++c) tot += (lp[c] = std::exp(lp[c] - mx));
      const double inv = 1.0 / tot;
      for (size_t c = 0; c < k; ++c) {
        const double r = lp[c] * inv;
        n_k[c] += r;
        s1[c] += r * v;
        s2[c] += r * v * v;
      }
    }
    double change = 0.0;
    for (size_t c = 0; c < k; ++c) {
      const double f = n_k[c] / static_cast<double>(n);
      change = std::max(change, std::abs(f - prev_frac[c]));
      prev_frac[c] = f;
    }
    if (change < 1e-7) break;
  }
  m_step();

  // Stick-breaking expected weights.
  std::vector<double> w(k);
  double carry = 1.0, wsum = 0.0;
  for (size_t c = 0; c < k; ++c) {
    const double s = b1[c] + b2[c];
    w[c] = b1[c] / s * carry;
    carry *= b2[c] / s;
    wsum += w[c];
  }
  std::vector<size_t> kept;
  for (size_t c = 0; c < k; ++c) {
    w[c] /= wsum;
    if (w[c] > threshold) kept.push_back(c);
  }
  if (kept.empty())  // cannot happen for k <= 1 / threshold; keep the heaviest anyway
    kept.push_back(static_cast<size_t>(std::max_element(w.begin(), w.end()) - w.begin()));
  std::sort(kept.begin(), kept.end(), [&](size_t a, size_t b) { return m[a] < m[b]; });
  for (size_t c : kept) {
    out.means.push_back(mean + sd * m[c]);
    out.stds.push_back(sd * std::sqrt(cov[c]));
    out.weights.push_back(w[c]);
  }
  return out;
}

// --- JSON helpers -------------------------------------------------------------------------------

nlohmann::json schema_json(const Schema& s) {
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : s.columns)
    cols.push_back({{"name", c.name}, {"kind", to_string(c.kind)}, {"categories", c.categories}});
  return {{"columns", cols}, {"target", s.target}};
}

Schema schema_from_json(const nlohmann::json& j) {
  Schema s;
  for (const auto& c : j.at("columns")) {
    ColumnSpec spec;
    spec.name = c.at("name").get<std::string>();
    const std::string kind = c.at("kind").get<std::string>();
    RF_CHECK_INPUT(kind == "numeric" || kind == "categorical",
                   "transformer state: column '{}' has unknown kind '{}'", spec.name, kind);
    spec.kind = kind == "numeric" ? ColumnKind::kNumeric : ColumnKind::kCategorical;
    spec.categories = c.at("categories").get<std::vector<std::string>>();
    s.columns.push_back(std::move(spec));
  }
  s.target = j.at("target").get<std::string>();
  return s;
}

std::string join_names(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

// --- fit
// ------------------------------------------------------------------------------------------

void DataTransformer::fit(const Table& train, const TransformerOptions& opt, const Context& ctx) {
  RF_CHECK_INPUT(train.has_target(), "generator: the training table has no target column");
  RF_CHECK_INPUT(train.n_rows() >= 1, "generator: the training table has no rows");
  RF_CHECK_INPUT(opt.max_modes >= 1, "transformer: max_modes must be >= 1 (got {})", opt.max_modes);
  RF_CHECK_INPUT(opt.n_quantiles >= 1, "transformer: n_quantiles must be >= 1 (got {})",
                 opt.n_quantiles);
  schema_ = train.schema();
  target_ = train.target_index();
  opt_ = opt;
  columns_.assign(schema_.columns.size(), ColumnState{});
  const size_t n = train.n_rows();

  // One seed per column, drawn in column order, so the result does not depend on threads.
  Rng base = Rng::derive(ctx.rng(streams::kGenerator).next(), 0x7472616e73666d72ULL);
  std::vector<uint64_t> seeds(schema_.columns.size());
  for (auto& s : seeds) s = base.next();

  parallel_for(schema_.columns.size(), ctx.n_threads(), [&](size_t j) {
    if (static_cast<int64_t>(j) == target_) return;
    const Column& col = train.column(j);
    ColumnState& st = columns_[j];
    if (col.is_categorical()) {
      for (size_t i = 0; i < n && !st.has_missing; ++i) st.has_missing = col.codes[i] < 0;
      st.n_categories = static_cast<int64_t>(col.categories().size()) + (st.has_missing ? 1 : 0);
      RF_CHECK_INPUT(st.n_categories > 0,
                     "generator: categorical column '{}' has no categories; drop it", col.name());
      return;
    }
    st.numeric = true;
    std::vector<double> present;
    present.reserve(n);
    for (double v : col.num) {
      if (std::isnan(v)) {
        st.has_missing = true;
      } else {
        RF_CHECK_INPUT(std::isfinite(v), "generator: column '{}' has an infinite value; remove it",
                       col.name());
        present.push_back(v);
      }
    }
    RF_CHECK_INPUT(!present.empty(),
                   "generator: column '{}' has no values in the training table (all missing); "
                   "drop the column",
                   col.name());
    double sum = 0.0;
    for (double v : present) sum += v;
    st.fill = sum / static_cast<double>(present.size());
    if (opt.numeric == TransformerOptions::Numeric::kModeSpecific) {
      Rng rng(seeds[j]);
      FittedMixture fm =
          fit_mixture(present, opt.max_modes, opt.weight_threshold, opt.gmm_iterations, rng);
      st.means = std::move(fm.means);
      st.stds = std::move(fm.stds);
      st.weights = std::move(fm.weights);
    } else {
      const size_t nq = std::min(static_cast<size_t>(opt.n_quantiles), present.size());
      st.quantiles = quantile_landmarks(std::move(present), nq);
    }
  });
  build_spans();
  fitted_ = true;
}

void DataTransformer::build_spans() {
  spans_.clear();
  int64_t pos = 0;
  auto add = [&](Span::Kind kind, int64_t width, int64_t column, bool flag) {
    Span s;
    s.kind = kind;
    s.start = pos;
    s.width = width;
    s.column = column;
    s.missing_flag = flag;
    spans_.push_back(s);
    pos += width;
  };
  for (size_t j = 0; j < columns_.size(); ++j) {
    if (static_cast<int64_t>(j) == target_) continue;
    ColumnState& st = columns_[j];
    const int64_t col = static_cast<int64_t>(j);
    st.first_span = static_cast<int64_t>(spans_.size());
    if (!st.numeric) {
      add(Span::Kind::kSoftmax, st.n_categories, col, false);
      continue;
    }
    if (opt_.numeric == TransformerOptions::Numeric::kModeSpecific) {
      add(Span::Kind::kTanh, 1, col, false);
      add(Span::Kind::kSoftmax, static_cast<int64_t>(st.means.size()), col, false);
    } else {
      add(Span::Kind::kGaussian, 1, col, false);
    }
    if (st.has_missing) add(Span::Kind::kSoftmax, 2, col, true);
  }
  output_dim_ = pos;
}

int DataTransformer::n_classes() const {
  RF_CHECK(fitted_, "transformer: n_classes() before fit");
  return static_cast<int>(schema_.columns[static_cast<size_t>(target_)].categories.size());
}

const Span* DataTransformer::category_span(int64_t column) const {
  if (column < 0 || column >= static_cast<int64_t>(columns_.size()) || column == target_)
    return nullptr;
  const ColumnState& st = columns_[static_cast<size_t>(column)];
  if (st.numeric || st.first_span < 0) return nullptr;
  return &spans_[static_cast<size_t>(st.first_span)];
}

DataTransformer::Mixture DataTransformer::mixture(int64_t column) const {
  Mixture m;
  if (column < 0 || column >= static_cast<int64_t>(columns_.size())) return m;
  const ColumnState& st = columns_[static_cast<size_t>(column)];
  m.means = st.means;
  m.stds = st.stds;
  m.weights = st.weights;
  return m;
}

// --- transform --------------------------------------------------------------------------------

MatrixRM DataTransformer::transform(const Table& t, Rng& rng) const {
  RF_CHECK(fitted_, "transformer: transform() before fit");
  const size_t n = t.n_rows();
  // Locate every feature column by name and check it matches the training schema.
  std::vector<const Column*> cols(columns_.size(), nullptr);
  for (size_t j = 0; j < columns_.size(); ++j) {
    if (static_cast<int64_t>(j) == target_) continue;
    const ColumnSpec& spec = schema_.columns[j];
    const int idx = t.index_of(spec.name);
    RF_CHECK_INPUT(idx >= 0,
                   "generator: the table has no column '{}' (the model was trained on: {})",
                   spec.name, [&] {
                     std::vector<std::string> names;
                     for (const auto& c : schema_.columns) names.push_back(c.name);
                     return join_names(names);
                   }());
    const Column& c = t.column(static_cast<size_t>(idx));
    RF_CHECK_INPUT(c.kind() == spec.kind, "generator: column '{}' is {} but was {} in training",
                   spec.name, to_string(c.kind()), to_string(spec.kind));
    RF_CHECK_INPUT(c.categories() == spec.categories,
                   "generator: column '{}' has categories [{}] but the training table had [{}]",
                   spec.name, join_names(c.categories()), join_names(spec.categories));
    cols[j] = &c;
  }
  MatrixRM out = MatrixRM::Zero(static_cast<Eigen::Index>(n), output_dim_);
  const bool mode_specific = opt_.numeric == TransformerOptions::Numeric::kModeSpecific;
  // One stream per mode-specific column, drawn in column order (thread-count independent).
  std::vector<uint64_t> seeds(columns_.size(), 0);
  for (size_t j = 0; j < columns_.size(); ++j)
    if (cols[j] && columns_[j].numeric && mode_specific) seeds[j] = rng.next();

  const double clip_min = quantile_clip_min(), clip_max = quantile_clip_max();
  for (size_t j = 0; j < columns_.size(); ++j) {
    if (!cols[j]) continue;
    const ColumnState& st = columns_[j];
    const Column& c = *cols[j];
    const Span& first = spans_[static_cast<size_t>(st.first_span)];
    if (!st.numeric) {
      const int64_t miss_slot = st.n_categories - 1;
      for (size_t i = 0; i < n; ++i) {
        int64_t code = c.codes[i];
        if (code < 0) {
          RF_CHECK_INPUT(st.has_missing,
                         "generator: column '{}' has a missing value in row {} but the training "
                         "table had none there; fill it first",
                         c.name(), i + 1);
          code = miss_slot;
        }
        out(static_cast<Eigen::Index>(i), first.start + code) = 1.0;
      }
      continue;
    }
    const Span* flag = st.has_missing
                           ? &spans_[static_cast<size_t>(st.first_span) + (mode_specific ? 2 : 1)]
                           : nullptr;
    std::vector<double> x(c.num);
    for (size_t i = 0; i < n; ++i) {
      const bool miss = std::isnan(x[i]);
      if (miss) {
        RF_CHECK_INPUT(st.has_missing,
                       "generator: column '{}' has a missing value in row {} but the training "
                       "table had none there; fill it first",
                       c.name(), i + 1);
        x[i] = st.fill;
      }
      if (flag) out(static_cast<Eigen::Index>(i), flag->start + (miss ? 1 : 0)) = 1.0;
    }
    if (mode_specific) {
      // Posterior over the kept modes, mode drawn by inverse CDF with one uniform per row.
      const Span& modes = spans_[static_cast<size_t>(st.first_span) + 1];
      const size_t K = st.means.size();
      std::vector<double> logw(K), inv_s(K), lp(K);
      for (size_t k = 0; k < K; ++k) {
        logw[k] = std::log(st.weights[k]) - std::log(st.stds[k]);
        inv_s[k] = 1.0 / st.stds[k];
      }
      Rng col_rng(seeds[j]);
      for (size_t i = 0; i < n; ++i) {
        const double v = x[i];
        double mx = -std::numeric_limits<double>::infinity();
        for (size_t k = 0; k < K; ++k) {
          const double d = (v - st.means[k]) * inv_s[k];
          lp[k] = logw[k] - 0.5 * d * d;
          mx = std::max(mx, lp[k]);
        }
        double tot = 0.0;
        for (size_t k = 0; k < K; ++k) tot += (lp[k] = std::exp(lp[k] - mx));
        const double u = col_rng.uniform() * tot;
        size_t pick = K - 1;
        double acc = 0.0;
        for (size_t k = 0; k < K; ++k) {
          acc += lp[k];
          if (u < acc) {
            pick = k;
            break;
          }
        }
        const double off = (v - st.means[pick]) / (4.0 * st.stds[pick]);
        const auto row = static_cast<Eigen::Index>(i);
        out(row, first.start) = std::min(std::max(off, -kOffsetClip), kOffsetClip);
        out(row, modes.start + static_cast<int64_t>(pick)) = 1.0;
      }
    } else {
      const std::vector<double>& q = st.quantiles;
      const std::vector<double> refs = linspace01(q.size());
      std::vector<double> nq(q.rbegin(), q.rend()), nr(refs.rbegin(), refs.rend());
      for (auto& v : nq) v = -v;
      for (auto& v : nr) v = -v;
      for (size_t i = 0; i < n; ++i)
        out(static_cast<Eigen::Index>(i), first.start) =
            q.size() == 1 ? 0.0 : quantile_forward(x[i], q, refs, nq, nr, clip_min, clip_max);
    }
  }
  return out;
}

// --- inverse ------------------------------------------------------------------------------------

Table DataTransformer::inverse(const MatrixRM& x, const std::vector<int32_t>& target_codes) const {
  RF_CHECK(fitted_, "transformer: inverse() before fit");
  RF_CHECK(x.cols() == output_dim_, "transformer: inverse() of {} columns, expected {}", x.cols(),
           output_dim_);
  const size_t n = static_cast<size_t>(x.rows());
  RF_CHECK(target_codes.size() == n, "transformer: {} target codes for {} rows",
           target_codes.size(), n);
  auto argmax = [&](size_t i, const Span& s) {
    const auto row = static_cast<Eigen::Index>(i);
    int64_t best = 0;
    for (int64_t k = 1; k < s.width; ++k)
      if (x(row, s.start + k) > x(row, s.start + best)) best = k;
    return best;
  };
  const bool mode_specific = opt_.numeric == TransformerOptions::Numeric::kModeSpecific;
  const double clip_min = quantile_clip_min(), clip_max = quantile_clip_max();
  Table t;
  for (size_t j = 0; j < columns_.size(); ++j) {
    const ColumnSpec& spec = schema_.columns[j];
    if (static_cast<int64_t>(j) == target_) {
      t.add_column(Column::categorical(spec.name, spec.categories, target_codes));
      continue;
    }
    const ColumnState& st = columns_[j];
    const Span& first = spans_[static_cast<size_t>(st.first_span)];
    if (!st.numeric) {
      std::vector<int32_t> codes(n);
      for (size_t i = 0; i < n; ++i) {
        const int64_t k = argmax(i, first);
        codes[i] = st.has_missing && k == st.n_categories - 1 ? -1 : static_cast<int32_t>(k);
      }
      t.add_column(Column::categorical(spec.name, spec.categories, std::move(codes)));
      continue;
    }
    std::vector<double> v(n);
    if (mode_specific) {
      const Span& modes = spans_[static_cast<size_t>(st.first_span) + 1];
      for (size_t i = 0; i < n; ++i) {
        const size_t k = static_cast<size_t>(argmax(i, modes));
        const double off =
            std::min(std::max(x(static_cast<Eigen::Index>(i), first.start), -1.0), 1.0);
        v[i] = st.means[k] + 4.0 * st.stds[k] * off;
      }
    } else {
      const std::vector<double> refs = linspace01(st.quantiles.size());
      for (size_t i = 0; i < n; ++i)
        v[i] = st.quantiles.size() == 1
                   ? st.quantiles[0]
                   : quantile_inverse(x(static_cast<Eigen::Index>(i), first.start), st.quantiles,
                                      refs, clip_min, clip_max);
    }
    if (st.has_missing) {
      const Span& flag = spans_[static_cast<size_t>(st.first_span) + (mode_specific ? 2 : 1)];
      for (size_t i = 0; i < n; ++i)
        if (argmax(i, flag) == 1) v[i] = std::numeric_limits<double>::quiet_NaN();
    }
    t.add_column(Column::numeric(spec.name, std::move(v)));
  }
  t.set_target(schema_.target);
  return t;
}

// --- JSON
// -----------------------------------------------------------------------------------------

nlohmann::json DataTransformer::to_json() const {
  RF_CHECK(fitted_, "transformer: to_json() before fit");
  nlohmann::json cols = nlohmann::json::array();
  for (size_t j = 0; j < columns_.size(); ++j) {
    const ColumnState& st = columns_[j];
    nlohmann::json c = {{"numeric", st.numeric}, {"missing", st.has_missing}};
    if (st.numeric) {
      c["fill"] = st.fill;
      c["means"] = st.means;
      c["stds"] = st.stds;
      c["weights"] = st.weights;
      c["quantiles"] = st.quantiles;
    } else {
      c["categories"] = st.n_categories;
    }
    cols.push_back(std::move(c));
  }
  const bool ms = opt_.numeric == TransformerOptions::Numeric::kModeSpecific;
  return {{"format", "rareforge.transformer"},
          {"version", 1},
          {"numeric", ms ? "mode-specific" : "quantile"},
          {"max_modes", opt_.max_modes},
          {"weight_threshold", opt_.weight_threshold},
          {"gmm_iterations", opt_.gmm_iterations},
          {"n_quantiles", opt_.n_quantiles},
          {"schema", schema_json(schema_)},
          {"columns", cols},
          {"output_dim", output_dim_}};
}

DataTransformer DataTransformer::from_json(const nlohmann::json& j) {
  DataTransformer t;
  try {
    RF_CHECK_INPUT(j.at("format").get<std::string>() == "rareforge.transformer",
                   "transformer state: not a rareforge transformer");
    RF_CHECK_INPUT(j.at("version").get<int>() <= 1,
                   "transformer state: version {} is newer than this rareforge understands",
                   j.at("version").get<int>());
    const std::string numeric = j.at("numeric").get<std::string>();
    RF_CHECK_INPUT(numeric == "mode-specific" || numeric == "quantile",
                   "transformer state: unknown numeric encoding '{}'", numeric);
    t.opt_.numeric = numeric == "quantile" ? TransformerOptions::Numeric::kQuantile
                                           : TransformerOptions::Numeric::kModeSpecific;
    t.opt_.max_modes = j.at("max_modes").get<int>();
    t.opt_.weight_threshold = j.at("weight_threshold").get<double>();
    t.opt_.gmm_iterations = j.at("gmm_iterations").get<int>();
    t.opt_.n_quantiles = j.at("n_quantiles").get<int>();
    t.schema_ = schema_from_json(j.at("schema"));
    t.target_ = t.schema_.target_index();
    RF_CHECK_INPUT(t.target_ >= 0, "transformer state: the schema has no target");
    const auto& cols = j.at("columns");
    RF_CHECK_INPUT(cols.size() == t.schema_.columns.size(),
                   "transformer state: {} column states for {} columns", cols.size(),
                   t.schema_.columns.size());
    t.columns_.resize(cols.size());
    for (size_t c = 0; c < cols.size(); ++c) {
      ColumnState& st = t.columns_[c];
      const auto& e = cols[c];
      st.numeric = e.at("numeric").get<bool>();
      st.has_missing = e.at("missing").get<bool>();
      if (static_cast<int64_t>(c) == t.target_) continue;
      const bool spec_numeric = t.schema_.columns[c].kind == ColumnKind::kNumeric;
      RF_CHECK_INPUT(st.numeric == spec_numeric,
                     "transformer state: column '{}' state does not match its kind",
                     t.schema_.columns[c].name);
      if (st.numeric) {
        st.fill = e.at("fill").get<double>();
        st.means = e.at("means").get<std::vector<double>>();
        st.stds = e.at("stds").get<std::vector<double>>();
        st.weights = e.at("weights").get<std::vector<double>>();
        st.quantiles = e.at("quantiles").get<std::vector<double>>();
        const bool ok = numeric == "quantile"
                            ? !st.quantiles.empty()
                            : !st.means.empty() && st.stds.size() == st.means.size() &&
                                  st.weights.size() == st.means.size();
        RF_CHECK_INPUT(ok, "transformer state: column '{}' has an inconsistent state",
                       t.schema_.columns[c].name);
      } else {
        st.n_categories = e.at("categories").get<int64_t>();
        RF_CHECK_INPUT(
            st.n_categories == static_cast<int64_t>(t.schema_.columns[c].categories.size()) +
                                   (st.has_missing ? 1 : 0),
            "transformer state: column '{}' has an inconsistent category count",
            t.schema_.columns[c].name);
      }
    }
    t.build_spans();
    RF_CHECK_INPUT(t.output_dim_ == j.at("output_dim").get<int64_t>(),
                   "transformer state: encoded width {} does not match the stored {}",
                   t.output_dim_, j.at("output_dim").get<int64_t>());
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("transformer state is malformed: {}", e.what());
  }
  t.fitted_ = true;
  return t;
}

}  // namespace rareforge::generators
