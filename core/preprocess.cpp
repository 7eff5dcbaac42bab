#include "core/preprocess.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cfloat>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text.h"

namespace rareforge {

namespace {

using Spec = PreprocessSpec;

constexpr const char* kGrammar =
    "valid: impute=median|mean|constant[:V]|drop|none, impute-cat=mode|missing[:NAME]|none, "
    "cap=none|iqr[:K]|percentile[:LO:HI]|zscore[:Z], scale=none|standard|minmax|robust, "
    "encode=onehot|ordinal (comma-separated)";

double parse_number(const std::string& s, const std::string& flag, const std::string& what) {
  errno = 0;
  char* end = nullptr;
  const double v = s.empty() ? 0.0 : std::strtod(s.c_str(), &end);
  RF_CHECK_INPUT(!s.empty() && end == s.c_str() + s.size() && errno != ERANGE && std::isfinite(v),
                 "{}: {} '{}' is not a finite number", flag, what, s);
  return v;
}

/// Runs f(i) for i in [0, n) on up to `threads` threads; rethrows the first exception.
template <typename F>
void parallel_for(size_t n, int threads, F&& f) {
  const size_t t = std::min<size_t>(n, static_cast<size_t>(std::max(threads, 1)));
  if (t <= 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr err;
  std::mutex mu;
  std::vector<std::thread> pool;
  for (size_t w = 0; w < t; ++w)
    pool.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) {
        try {
          f(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!err) err = std::current_exception();
        }
      }
    });
  for (auto& th : pool) th.join();
  if (err) std::rethrow_exception(err);
}

/// numpy.percentile(v, p) with the default 'linear' method: position p/100 * (n - 1) between
/// order statistics. `v` is non-empty; it is reordered (selection, O(n)), not sorted.
double percentile(std::vector<double>& v, double p) {
  const size_t n = v.size();
  const double idx = static_cast<double>(n - 1) * (p / 100.0);
  if (idx >= static_cast<double>(n - 1)) return *std::max_element(v.begin(), v.end());
  if (idx <= 0.0) return *std::min_element(v.begin(), v.end());
  const double prev = std::floor(idx);
  const auto i = static_cast<size_t>(prev);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  const double a = v[i];
  const double b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(i) + 1, v.end());
  const double t = idx - prev;
  const double d = b - a;
  return t >= 0.5 ? b - d * (1.0 - t) : a + d * t;  // numpy's _lerp
}

double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double sd_of(const std::vector<double>& v, double mean) {
  double s = 0.0;
  for (double x : v) s += (x - mean) * (x - mean);
  return std::sqrt(s / static_cast<double>(v.size()));
}

double nonzero_scale(double s) { return (std::isfinite(s) && s >= 10 * DBL_EPSILON) ? s : 1.0; }

FittedColumn fit_numeric(const Column& c, const std::vector<size_t>* rows, const Spec& spec) {
  FittedColumn f;
  f.name = c.name();
  f.kind = ColumnKind::kNumeric;
  std::vector<double> v;
  size_t n_missing = 0;
  const size_t n = rows ? rows->size() : c.num.size();
  v.reserve(n);
  for (size_t r = 0; r < n; ++r) {
    const double x = c.num[rows ? (*rows)[r] : r];
    if (std::isnan(x))
      ++n_missing;
    else
      v.push_back(x);
  }

  switch (spec.impute) {
    case Spec::Impute::kMedian:
      f.fill = percentile(v, 50.0);
      break;
    case Spec::Impute::kMean:
      f.fill = mean_of(v);
      break;
    case Spec::Impute::kConstant:
      f.fill = spec.impute_value;
      break;
    case Spec::Impute::kNone:
    case Spec::Impute::kDrop:
      break;
  }
  if (!std::isnan(f.fill)) v.insert(v.end(), n_missing, f.fill);

  switch (spec.cap) {
    case Spec::Cap::kNone:
      break;
    case Spec::Cap::kIqr: {
      const double q1 = percentile(v, 25.0), q3 = percentile(v, 75.0);
      f.lo = q1 - spec.cap_k * (q3 - q1);
      f.hi = q3 + spec.cap_k * (q3 - q1);
      break;
    }
    case Spec::Cap::kPercentile:
      f.lo = percentile(v, spec.cap_lo);
      f.hi = percentile(v, spec.cap_hi);
      break;
    case Spec::Cap::kZscore: {
      const double m = mean_of(v), s = sd_of(v, m);
      f.lo = m - spec.cap_z * s;
      f.hi = m + spec.cap_z * s;
      break;
    }
  }
  if (spec.cap != Spec::Cap::kNone)
    for (double& x : v) x = std::min(std::max(x, f.lo), f.hi);

  switch (spec.scale) {
    case Spec::Scale::kNone:
      break;
    case Spec::Scale::kStandard:
      f.center = mean_of(v);
      f.scale = nonzero_scale(sd_of(v, f.center));
      break;
    case Spec::Scale::kMinMax: {
      const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      f.center = *lo;
      f.scale = nonzero_scale(*hi - *lo);
      break;
    }
    case Spec::Scale::kRobust:
      f.center = percentile(v, 50.0);
      const double q3 = percentile(v, 75.0), q1 = percentile(v, 25.0);
      f.scale = nonzero_scale(q3 - q1);
      break;
  }
  return f;
}

FittedColumn fit_categorical(const Column& c, const std::vector<size_t>* rows, const Spec& spec) {
  FittedColumn f;
  f.name = c.name();
  f.kind = ColumnKind::kCategorical;
  std::vector<int64_t> count(c.categories().size(), 0);
  const size_t n = rows ? rows->size() : c.codes.size();
  for (size_t r = 0; r < n; ++r) {
    const int32_t code = c.codes[rows ? (*rows)[r] : r];
    if (code >= 0) ++count[code];
  }
  size_t mode = 0;
  for (size_t k = 0; k < count.size(); ++k) {
    if (count[k] > 0) f.categories.push_back(c.categories()[k]);
    if (count[k] > count[mode]) mode = k;
  }
  if (spec.impute == Spec::Impute::kDrop) return f;
  if (spec.impute_cat == Spec::ImputeCat::kMode) {
    f.fill_category = c.categories()[mode];
  } else if (spec.impute_cat == Spec::ImputeCat::kMissing) {
    f.fill_category = spec.missing_category;
    if (std::find(f.categories.begin(), f.categories.end(), f.fill_category) == f.categories.end())
      f.categories.push_back(f.fill_category);
  }
  return f;
}

void check_finite(const Column& c, const char* where) {
  if (!c.is_numeric()) return;
  for (size_t i = 0; i < c.num.size(); ++i)
    RF_CHECK_INPUT(!std::isinf(c.num[i]),
                   "{}: column '{}' has an infinite value in row {}; replace it or drop the row",
                   where, c.name(), i + 1);
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

nlohmann::json num_json(double v) {
  if (std::isfinite(v)) return v;
  return format_double(v);
}

double num_from_json(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  const std::string s = j.get<std::string>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  RF_THROW_INPUT("preprocessor state: '{}' is not a number", s);
}

std::vector<std::string> encoded_names(const std::vector<FittedColumn>& cols, const Spec& spec) {
  std::vector<std::string> names;
  for (const auto& f : cols) {
    if (f.kind == ColumnKind::kCategorical && spec.encode == Spec::Encode::kOneHot) {
      for (const auto& cat : f.categories) names.push_back(f.name + "=" + cat);
    } else {
      names.push_back(f.name);
    }
  }
  return names;
}

}  // namespace

// --- PreprocessSpec ----------------------------------------------------------------------------

PreprocessSpec PreprocessSpec::parse(const std::string& text, const std::string& flag) {
  PreprocessSpec s;
  const std::string t = trim(text);
  if (t.empty()) return s;
  static const std::vector<std::string> keys = {"impute", "impute-cat", "cap", "scale", "encode"};

  std::vector<std::pair<std::string, std::string>> entries;
  for (const std::string& tok : split(t, ',')) {
    const size_t eq = tok.find('=');
    RF_CHECK_INPUT(eq != std::string::npos, "{}: '{}' is not KEY=VALUE; {}", flag, tok, kGrammar);
    std::string key = trim(tok.substr(0, eq));
    if (key == "impute_cat") key = "impute-cat";
    const std::string value = trim(tok.substr(eq + 1));
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
      for (const auto& e : entries)
        RF_CHECK_INPUT(e.first != key, "{}: '{}' is given twice", flag, key);
      entries.emplace_back(key, value);
    } else {
      // A named capping parameter after cap=...: "cap=percentile:lo=5,hi=95".
      RF_CHECK_INPUT(!entries.empty() && entries.back().first == "cap",
                     "{}: unknown key '{}'; the keys are {}; {}", flag, key, join(keys), kGrammar);
      entries.back().second += ":" + tok;
    }
  }

  for (const auto& [key, value] : entries) {
    const std::vector<std::string> parts = split(value, ':');
    const std::string& name = parts[0];
    auto no_params = [&, &key = key, &value = value] {
      RF_CHECK_INPUT(parts.size() == 1, "{}: {}={} takes no parameter; {}", flag, key, value,
                     kGrammar);
    };
    if (key == "impute") {
      if (name == "median") {
        s.impute = Impute::kMedian;
      } else if (name == "mean") {
        s.impute = Impute::kMean;
      } else if (name == "drop") {
        s.impute = Impute::kDrop;
      } else if (name == "none") {
        s.impute = Impute::kNone;
      } else if (name == "constant") {
        s.impute = Impute::kConstant;
        RF_CHECK_INPUT(parts.size() <= 2,
                       "{}: impute=constant takes one value, e.g. "
                       "impute=constant:0; got '{}'",
                       flag, value);
        if (parts.size() == 2) s.impute_value = parse_number(parts[1], flag, "impute constant");
        continue;
      } else {
        RF_THROW_INPUT("{}: unknown impute '{}'; {}", flag, name, kGrammar);
      }
      no_params();
    } else if (key == "impute-cat") {
      if (name == "mode") {
        s.impute_cat = ImputeCat::kMode;
      } else if (name == "none") {
        s.impute_cat = ImputeCat::kNone;
      } else if (name == "missing" || name == "constant") {
        s.impute_cat = ImputeCat::kMissing;
        RF_CHECK_INPUT(parts.size() <= 2, "{}: impute-cat={} takes one category name; got '{}'",
                       flag, name, value);
        if (parts.size() == 2) {
          RF_CHECK_INPUT(!parts[1].empty(), "{}: impute-cat={}: the category name is empty", flag,
                         name);
          s.missing_category = parts[1];
        }
        continue;
      } else {
        RF_THROW_INPUT("{}: unknown impute-cat '{}'; {}", flag, name, kGrammar);
      }
      no_params();
    } else if (key == "cap") {
      std::vector<std::pair<std::string, double*>> params;
      if (name == "none") {
        s.cap = Cap::kNone;
      } else if (name == "iqr") {
        s.cap = Cap::kIqr;
        params = {{"k", &s.cap_k}};
      } else if (name == "percentile") {
        s.cap = Cap::kPercentile;
        params = {{"lo", &s.cap_lo}, {"hi", &s.cap_hi}};
      } else if (name == "zscore") {
        s.cap = Cap::kZscore;
        params = {{"z", &s.cap_z}};
      } else {
        RF_THROW_INPUT("{}: unknown cap '{}'; {}", flag, name, kGrammar);
      }
      std::vector<std::string> names;
      for (const auto& p : params) names.push_back(p.first);
      size_t positional = 0;
      for (size_t i = 1; i < parts.size(); ++i) {
        const size_t eq = parts[i].find('=');
        double* dst = nullptr;
        std::string pname;
        if (eq == std::string::npos) {
          RF_CHECK_INPUT(positional < params.size(),
                         "{}: cap={} takes {} parameter{} ({}); got '{}'", flag, name,
                         params.size(), params.size() == 1 ? "" : "s", join(names), value);
          pname = params[positional].first;
          dst = params[positional++].second;
        } else {
          pname = trim(parts[i].substr(0, eq));
          for (const auto& p : params)
            if (p.first == pname) dst = p.second;
          RF_CHECK_INPUT(dst, "{}: cap={} has no parameter '{}'; its parameters: {}", flag, name,
                         pname, names.empty() ? std::string("none") : join(names));
        }
        *dst = parse_number(trim(eq == std::string::npos ? parts[i] : parts[i].substr(eq + 1)),
                            flag, "cap " + pname);
      }
    } else if (key == "scale") {
      if (name == "none") {
        s.scale = Scale::kNone;
      } else if (name == "standard") {
        s.scale = Scale::kStandard;
      } else if (name == "minmax" || name == "min-max") {
        s.scale = Scale::kMinMax;
      } else if (name == "robust") {
        s.scale = Scale::kRobust;
      } else {
        RF_THROW_INPUT("{}: unknown scale '{}'; {}", flag, name, kGrammar);
      }
      no_params();
    } else {  // encode
      if (name == "onehot" || name == "one-hot") {
        s.encode = Encode::kOneHot;
      } else if (name == "ordinal") {
        s.encode = Encode::kOrdinal;
      } else {
        RF_THROW_INPUT("{}: unknown encode '{}'; {}", flag, name, kGrammar);
      }
      no_params();
    }
  }
  s.validate(flag);
  return s;
}

void PreprocessSpec::validate(const std::string& flag) const {
  if (impute == Impute::kConstant)
    RF_CHECK_INPUT(std::isfinite(impute_value), "{}: impute=constant needs a finite value; got {}",
                   flag, impute_value);
  if (impute_cat == ImputeCat::kMissing)
    RF_CHECK_INPUT(
        !missing_category.empty() && missing_category.find_first_of(",:") == std::string::npos,
        "{}: impute-cat=missing: category name '{}' must be non-empty, without ',' "
        "or ':'",
        flag, missing_category);
  if (cap == Cap::kIqr)
    RF_CHECK_INPUT(std::isfinite(cap_k) && cap_k >= 0,
                   "{}: cap=iqr: k must be >= 0 (whisker length in IQRs, usually 1.5); got {}",
                   flag, cap_k);
  if (cap == Cap::kPercentile)
    RF_CHECK_INPUT(cap_lo >= 0 && cap_lo < cap_hi && cap_hi <= 100,
                   "{}: cap=percentile: need 0 <= lo < hi <= 100 (e.g. lo=1,hi=99); got lo={} "
                   "hi={}",
                   flag, cap_lo, cap_hi);
  if (cap == Cap::kZscore)
    RF_CHECK_INPUT(std::isfinite(cap_z) && cap_z > 0,
                   "{}: cap=zscore: z must be > 0 (bound in standard deviations, usually 3); got "
                   "{}",
                   flag, cap_z);
}

std::string PreprocessSpec::str() const {
  std::string out = "impute=";
  switch (impute) {
    case Impute::kNone:
      out += "none";
      break;
    case Impute::kMedian:
      out += "median";
      break;
    case Impute::kMean:
      out += "mean";
      break;
    case Impute::kConstant:
      out += "constant:" + format_double(impute_value);
      break;
    case Impute::kDrop:
      out += "drop";
      break;
  }
  out += ",impute-cat=";
  switch (impute_cat) {
    case ImputeCat::kNone:
      out += "none";
      break;
    case ImputeCat::kMode:
      out += "mode";
      break;
    case ImputeCat::kMissing:
      out += "missing:" + missing_category;
      break;
  }
  out += ",cap=";
  switch (cap) {
    case Cap::kNone:
      out += "none";
      break;
    case Cap::kIqr:
      out += "iqr:k=" + format_double(cap_k);
      break;
    case Cap::kPercentile:
      out += "percentile:lo=" + format_double(cap_lo) + ":hi=" + format_double(cap_hi);
      break;
    case Cap::kZscore:
      out += "zscore:z=" + format_double(cap_z);
      break;
  }
  out += ",scale=";
  switch (scale) {
    case Scale::kNone:
      out += "none";
      break;
    case Scale::kStandard:
      out += "standard";
      break;
    case Scale::kMinMax:
      out += "minmax";
      break;
    case Scale::kRobust:
      out += "robust";
      break;
  }
  out += encode == Encode::kOneHot ? ",encode=onehot" : ",encode=ordinal";
  return out;
}

// --- Preprocessor ------------------------------------------------------------------------------

Preprocessor::Preprocessor(PreprocessSpec spec, int n_threads)
    : spec_(std::move(spec)), n_threads_(std::max(1, n_threads)) {
  spec_.validate();
}

void Preprocessor::require_fitted(const char* what) const {
  RF_CHECK(fitted_, "Preprocessor::{} called before fit", what);
}

void Preprocessor::fit(const Table& train) {
  fitted_ = false;
  RF_CHECK_INPUT(train.n_rows() > 0, "preprocessing: the training table has no rows");
  const std::vector<size_t> feats = train.feature_indices();

  for (size_t j : feats) {
    const Column& c = train.column(j);
    check_finite(c, "preprocessing");
    size_t present = 0;
    for (size_t i = 0; i < c.size(); ++i) present += !c.is_missing(i);
    RF_CHECK_INPUT(present > 0,
                   "preprocessing: column '{}' has no value in the training table (all {} rows "
                   "missing); drop the column",
                   c.name(), c.size());
  }

  std::vector<size_t> rows;
  const bool drop = spec_.impute == PreprocessSpec::Impute::kDrop;
  if (drop) {
    for (size_t i = 0; i < train.n_rows(); ++i) {
      bool complete = true;
      for (size_t j : feats) complete = complete && !train.column(j).is_missing(i);
      if (complete) rows.push_back(i);
    }
    RF_CHECK_INPUT(!rows.empty(),
                   "preprocessing: impute=drop leaves no training row (every row has a missing "
                   "feature); use impute=median instead");
  }

  std::vector<FittedColumn> cols(feats.size());
  parallel_for(feats.size(), n_threads_, [&](size_t k) {
    const Column& c = train.column(feats[k]);
    cols[k] = c.is_numeric() ? fit_numeric(c, drop ? &rows : nullptr, spec_)
                             : fit_categorical(c, drop ? &rows : nullptr, spec_);
  });

  cols_ = std::move(cols);
  order_.clear();
  for (const auto& c : train.columns()) order_.push_back(c.name());
  target_ = train.target();
  names_ = encoded_names(cols_, spec_);
  fitted_ = true;
}

namespace {

/// Index in `t` of every fitted feature column, checked by name and kind; extra columns (other
/// than the targets) are errors.
std::vector<size_t> match_columns(const Table& t, const std::vector<FittedColumn>& cols,
                                  const std::vector<std::string>& order, const std::string& target,
                                  const char* what) {
  std::vector<size_t> idx;
  idx.reserve(cols.size());
  for (const auto& f : cols) {
    const int j = t.index_of(f.name);
    RF_CHECK_INPUT(j >= 0,
                   "preprocessing ({}): column '{}' of the training table is missing from this "
                   "table",
                   what, f.name);
    const Column& c = t.column(static_cast<size_t>(j));
    RF_CHECK_INPUT(c.kind() == f.kind,
                   "preprocessing ({}): column '{}' is {} in the training table but {} here", what,
                   f.name, to_string(f.kind), to_string(c.kind()));
    idx.push_back(static_cast<size_t>(j));
  }
  for (const auto& c : t.columns()) {
    if (c.name() == target || c.name() == t.target()) continue;
    RF_CHECK_INPUT(std::find(order.begin(), order.end(), c.name()) != order.end(),
                   "preprocessing ({}): column '{}' was not in the training table; it was fitted "
                   "on: {}",
                   what, c.name(), join(order));
  }
  return idx;
}

}  // namespace

Table Preprocessor::transform(const Table& table, std::vector<size_t>* kept) const {
  require_fitted("transform");
  std::vector<size_t> idx = match_columns(table, cols_, order_, target_, "transform");
  for (size_t j : idx) check_finite(table.column(j), "preprocessing (transform)");

  const Table* src = &table;
  Table selected;
  std::vector<size_t> rows;
  if (spec_.impute == PreprocessSpec::Impute::kDrop) {
    for (size_t i = 0; i < table.n_rows(); ++i) {
      bool complete = true;
      for (size_t j : idx) complete = complete && !table.column(j).is_missing(i);
      if (complete) rows.push_back(i);
    }
    if (rows.size() != table.n_rows()) {
      selected = table.select(rows);
      src = &selected;
    }
  } else {
    rows.resize(table.n_rows());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  }
  if (kept) *kept = rows;

  std::vector<Column> out(cols_.size());
  parallel_for(cols_.size(), n_threads_, [&](size_t k) {
    const FittedColumn& f = cols_[k];
    Column c = src->column(idx[k]);
    if (c.is_numeric()) {
      for (double& x : c.num) {
        double v = std::isnan(x) ? f.fill : x;
        if (v < f.lo) v = f.lo;
        if (v > f.hi) v = f.hi;
        x = (v - f.center) / f.scale;
      }
    } else if (!f.fill_category.empty() &&
               std::find(c.codes.begin(), c.codes.end(), -1) != c.codes.end()) {
      auto& cats = c.spec.categories;
      const auto code =
          static_cast<int32_t>(std::find(cats.begin(), cats.end(), f.fill_category) - cats.begin());
      if (static_cast<size_t>(code) == cats.size()) cats.push_back(f.fill_category);
      for (int32_t& x : c.codes)
        if (x < 0) x = code;
    }
    out[k] = std::move(c);
  });

  Table result;
  size_t k = 0;
  bool has_target = false;
  for (const std::string& name : order_) {
    if (name == target_) {
      const int j = src->index_of(name);
      if (j >= 0) {
        result.add_column(src->column(static_cast<size_t>(j)));
        has_target = true;
      }
    } else {
      result.add_column(std::move(out[k++]));
    }
  }
  if (!src->provenance().empty()) result.provenance() = src->provenance();
  if (has_target) result.set_target(target_);
  return result;
}

MatrixRM Preprocessor::encode(const Table& transformed) const {
  require_fitted("encode");
  const std::vector<size_t> idx = match_columns(transformed, cols_, order_, target_, "encode");
  const bool onehot = spec_.encode == PreprocessSpec::Encode::kOneHot;
  const size_t n = transformed.n_rows();

  // Per column: offset in the matrix and, for categoricals, table code -> fitted index (-1 =
  // unseen in train).
  std::vector<Eigen::Index> offset(cols_.size());
  std::vector<std::vector<int32_t>> remap(cols_.size());
  Eigen::Index width = 0;
  for (size_t k = 0; k < cols_.size(); ++k) {
    const FittedColumn& f = cols_[k];
    offset[k] = width;
    if (f.kind == ColumnKind::kNumeric) {
      ++width;
      continue;
    }
    std::unordered_map<std::string, int32_t> pos;
    for (size_t q = 0; q < f.categories.size(); ++q)
      pos.emplace(f.categories[q], static_cast<int32_t>(q));
    const auto& cats = transformed.column(idx[k]).categories();
    remap[k].resize(cats.size());
    for (size_t q = 0; q < cats.size(); ++q) {
      auto it = pos.find(cats[q]);
      remap[k][q] = it == pos.end() ? -1 : it->second;
    }
    width += onehot ? static_cast<Eigen::Index>(f.categories.size()) : 1;
  }
  RF_CHECK(static_cast<size_t>(width) == names_.size(), "encode width {} vs {} names", width,
           names_.size());

  MatrixRM m = MatrixRM::Zero(static_cast<Eigen::Index>(n), width);
  const size_t block = 4096;
  const size_t n_blocks = (n + block - 1) / block;
  parallel_for(n_blocks, n_threads_, [&](size_t b) {
    const size_t r0 = b * block, r1 = std::min(n, r0 + block);
    for (size_t k = 0; k < cols_.size(); ++k) {
      const Column& c = transformed.column(idx[k]);
      const Eigen::Index off = offset[k];
      if (c.is_numeric()) {
        for (size_t i = r0; i < r1; ++i) m(static_cast<Eigen::Index>(i), off) = c.num[i];
      } else {
        for (size_t i = r0; i < r1; ++i) {
          const int32_t code = c.codes[i];
          const int32_t q = code < 0 ? -2 : remap[k][code];
          const auto row = static_cast<Eigen::Index>(i);
          if (onehot) {
            if (q >= 0) m(row, off + q) = 1.0;
          } else {
            m(row, off) = q == -2 ? std::numeric_limits<double>::quiet_NaN() : q;
          }
        }
      }
    }
  });
  return m;
}

MatrixRM Preprocessor::transform_encode(const Table& table, std::vector<size_t>* kept) const {
  return encode(transform(table, kept));
}

const std::vector<std::string>& Preprocessor::feature_names() const {
  require_fitted("feature_names");
  return names_;
}

const std::vector<FittedColumn>& Preprocessor::columns() const {
  require_fitted("columns");
  return cols_;
}

const FittedColumn& Preprocessor::column(const std::string& name) const {
  require_fitted("column");
  for (const auto& f : cols_)
    if (f.name == name) return f;
  RF_THROW_INPUT("preprocessing: no fitted feature column '{}'", name);
}

// --- JSON --------------------------------------------------------------------------------------

void to_json(nlohmann::json& j, const Preprocessor& p) {
  p.require_fitted("to_json");
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& f : p.cols_) {
    nlohmann::json c = {{"name", f.name}, {"kind", to_string(f.kind)}};
    if (f.kind == ColumnKind::kNumeric) {
      c["fill"] = num_json(f.fill);
      c["lo"] = num_json(f.lo);
      c["hi"] = num_json(f.hi);
      c["center"] = num_json(f.center);
      c["scale"] = num_json(f.scale);
    } else {
      c["categories"] = f.categories;
      c["fill_category"] = f.fill_category;
    }
    cols.push_back(std::move(c));
  }
  j = nlohmann::json{{"format", "rareforge.preprocessor"},
                     {"version", 1},
                     {"spec", p.spec_.str()},
                     {"target", p.target_},
                     {"column_order", p.order_},
                     {"features", std::move(cols)}};
}

void from_json(const nlohmann::json& j, Preprocessor& p) {
  try {
    RF_CHECK_INPUT(j.is_object() && j.value("format", "") == "rareforge.preprocessor",
                   "preprocessor state: not a rareforge preprocessor (format key missing or "
                   "wrong)");
    RF_CHECK_INPUT(j.at("version").get<int>() == 1,
                   "preprocessor state: version {} is not supported (this build reads 1)",
                   j.at("version").get<int>());
    Preprocessor q(PreprocessSpec::parse(j.at("spec").get<std::string>(), "preprocessor state"),
                   p.n_threads_);
    q.target_ = j.at("target").get<std::string>();
    q.order_ = j.at("column_order").get<std::vector<std::string>>();
    for (const auto& c : j.at("features")) {
      FittedColumn f;
      f.name = c.at("name").get<std::string>();
      const std::string kind = c.at("kind").get<std::string>();
      if (kind == "numeric") {
        f.kind = ColumnKind::kNumeric;
        f.fill = num_from_json(c.at("fill"));
        f.lo = num_from_json(c.at("lo"));
        f.hi = num_from_json(c.at("hi"));
        f.center = num_from_json(c.at("center"));
        f.scale = num_from_json(c.at("scale"));
      } else if (kind == "categorical") {
        f.kind = ColumnKind::kCategorical;
        f.categories = c.at("categories").get<std::vector<std::string>>();
        f.fill_category = c.at("fill_category").get<std::string>();
      } else {
        RF_THROW_INPUT("preprocessor state: column '{}' has unknown kind '{}'", f.name, kind);
      }
      q.cols_.push_back(std::move(f));
    }
    RF_CHECK_INPUT(q.order_.size() == q.cols_.size() + (q.target_.empty() ? 0 : 1),
                   "preprocessor state: {} columns in column_order but {} features",
                   q.order_.size(), q.cols_.size());
    q.names_ = encoded_names(q.cols_, q.spec_);
    q.fitted_ = true;
    p = std::move(q);
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("preprocessor state: malformed JSON ({})", e.what());
  }
}

}  // namespace rareforge
