#include "classifiers/xgboost.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/split.h"

namespace rareforge::classifiers {
namespace {

// Every C API call goes through this: a non-zero return becomes an Error with XGBoost's message.
void xgb_check(int rc, const char* call) {
  if (rc != 0) throw Error(fmt::format("XGBoost {} failed: {}", call, XGBGetLastError()));
}
#define RF_XGB(call) xgb_check((call), #call)

struct DMatrixDeleter {
  void operator()(void* h) const { XGDMatrixFree(h); }
};
struct BoosterDeleter {
  void operator()(void* h) const { XGBoosterFree(h); }
};
using DMatrixPtr = std::unique_ptr<void, DMatrixDeleter>;
using BoosterPtr = std::unique_ptr<void, BoosterDeleter>;

// Rows `rows` of X (all when null) as float32, NaN = missing. A finite double that overflows
// float, or an infinity, is an InputError (XGBoost would reject it with a less clear message).
DMatrixPtr make_dmatrix(const std::string& who, const MatrixRM& X, const std::vector<size_t>* rows,
                        int nthread) {
  const size_t n = rows ? rows->size() : static_cast<size_t>(X.rows());
  const size_t d = static_cast<size_t>(X.cols());
  std::vector<float> buf(n * d);
  for (size_t i = 0; i < n; ++i) {
    const Eigen::Index r = static_cast<Eigen::Index>(rows ? (*rows)[i] : i);
    const double* src = X.data() + r * X.cols();
    float* dst = buf.data() + i * d;
    for (size_t j = 0; j < d; ++j) {
      const float v = static_cast<float>(src[j]);
      RF_CHECK_INPUT(!std::isinf(v),
                     "{}: feature column {} of row {} is {}, which XGBoost cannot take "
                     "(infinite or beyond float32 range); clip or rescale that column",
                     who, j + 1, r + 1, src[j]);
      dst[j] = v;
    }
  }
  DMatrixHandle h = nullptr;
  RF_XGB(XGDMatrixCreateFromMat_omp(buf.data(), n, d, std::numeric_limits<float>::quiet_NaN(), &h,
                                    nthread));
  return DMatrixPtr(h);
}

void set_float_info(DMatrixHandle h, const char* field, const std::vector<float>& v) {
  RF_XGB(XGDMatrixSetFloatInfo(h, field, v.data(), v.size()));
}

bool is_maximised(const std::string& metric) { return metric == "auc" || metric == "aucpr"; }

std::string xgb_metric(const std::string& metric, int n_classes) {
  const bool multi = n_classes > 2;
  if (metric == "default" || metric == "logloss") return multi ? "mlogloss" : "logloss";
  if (metric == "error") return multi ? "merror" : "error";
  return metric;  // auc, aucpr: XGBoost does one-vs-rest for multi-class itself
}

// The value after the last ':' of "[3]\tval-logloss:0.123456".
double parse_eval(const char* text) {
  const std::string s(text);
  const size_t colon = s.rfind(':');
  RF_CHECK(colon != std::string::npos, "unexpected XGBoost evaluation text '{}'", s);
  return std::stod(s.substr(colon + 1));
}

std::string fmt_double(double v) { return fmt::format("{}", v); }

class XGBoostClassifier final : public Classifier {
 public:
  XGBoostClassifier(const XGBoostParams& p, std::string canonical)
      : Classifier(std::move(canonical)), p_(p) {}

  void fit(const MatrixRM& X, const std::vector<int32_t>& y, int n_classes,
           const std::vector<double>* weights, const Context& ctx) override;
  MatrixRM predict_proba(const MatrixRM& X) const override;
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  std::vector<double> feature_importances() const override;
  std::string importance_kind() const override { return "gain"; }
  bool fitted() const override { return booster_ != nullptr; }
  int n_classes() const override { return n_classes_; }
  int64_t n_features() const override { return n_features_; }

 private:
  std::string who() const { return p_.random_forest ? "random-forest" : "xgboost"; }
  void set_param(const char* key, const std::string& value) {
    RF_XGB(XGBoosterSetParam(booster_.get(), key, value.c_str()));
  }
  void require_fitted(const char* what) const {
    if (!booster_)
      throw Error(fmt::format("{}: {} before fit (call fit or load first)", who(), what));
  }

  XGBoostParams p_;
  BoosterPtr booster_;
  int n_classes_ = 0;
  int64_t n_features_ = 0;
  int nthread_ = 0;        // threads for prediction: ctx.n_threads() of fit; 0 (all) after load
  mutable std::mutex mu_;  // XGBoost's DMatrix prediction cache is not safe for concurrent use
};

void XGBoostClassifier::fit(const MatrixRM& X, const std::vector<int32_t>& y, int n_classes,
                            const std::vector<double>* weights, const Context& ctx) {
  const std::string name = who();
  check_fit_input(name, X, y, n_classes, weights);
  const bool early = !p_.random_forest && p_.early_stopping_rounds > 0;

  // Device first, so a CUDA request on a CPU-only build fails before any work.
  Device dev = ctx.device;
  if (dev.kind == Device::Kind::kAuto) dev = Device{};
  if (dev.is_cuda() && !xgboost_has_cuda())
    throw Error(fmt::format(
        "{}: --device {} asked for, but the libxgboost in use ({}) was built without CUDA "
        "support; use --device cpu, or build rareforge against a CUDA-enabled XGBoost",
        name, dev.str(), xgboost_version()));

  Rng rng = ctx.rng(streams::kClassifier);
  const int nthread = ctx.n_threads();

  // Training rows / early-stopping rows.
  SplitIndices split;
  if (early) {
    std::vector<std::string> class_names;
    for (int c = 0; c < n_classes; ++c) class_names.push_back(std::to_string(c));
    SplitOptions so;
    so.test_share = p_.val_share;  // the "test" part of this split is the validation set
    so.val_share = 0;
    try {
      split = stratified_split(y, class_names, so, rng);
    } catch (const InputError& e) {
      RF_THROW_INPUT(
          "{}: early stopping holds out val_share={} of the training rows, stratified, and "
          "cannot: {} (or set early_stopping_rounds=0)",
          name, p_.val_share, e.what());
    }
  }
  const uint64_t seed =
      p_.seed >= 0 ? static_cast<uint64_t>(p_.seed) : (rng.next() & 0x7fffffffULL);

  auto make_part = [&](const std::vector<size_t>* rows) {
    DMatrixPtr dm = make_dmatrix(name, X, rows, nthread);
    const size_t n = rows ? rows->size() : y.size();
    std::vector<float> lab(n), w;
    for (size_t i = 0; i < n; ++i) lab[i] = static_cast<float>(y[rows ? (*rows)[i] : i]);
    set_float_info(dm.get(), "label", lab);
    if (weights) {
      w.resize(n);
      for (size_t i = 0; i < n; ++i) w[i] = static_cast<float>((*weights)[rows ? (*rows)[i] : i]);
      set_float_info(dm.get(), "weight", w);
    }
    return dm;
  };
  DMatrixPtr dtrain = make_part(early ? &split.train : nullptr);
  DMatrixPtr dval;
  if (early) dval = make_part(&split.test);

  DMatrixHandle cache[2] = {dtrain.get(), dval.get()};
  BoosterHandle bh = nullptr;
  RF_XGB(XGBoosterCreate(cache, early ? 2 : 1, &bh));
  booster_.reset(bh);
  n_classes_ = 0;
  n_features_ = 0;
  try {
    set_param("verbosity", ctx.quiet ? "0" : "1");
    set_param("nthread", std::to_string(nthread));
    set_param("seed", std::to_string(seed));
    set_param("booster", "gbtree");
    if (n_classes == 2) {
      set_param("objective", "binary:logistic");
    } else {
      set_param("objective", "multi:softprob");
      set_param("num_class", std::to_string(n_classes));
    }
    if (dev.is_cuda()) {
      RF_CHECK_INPUT(p_.tree_method == "hist",
                     "{}: tree_method={} cannot run on --device {}; use tree_method=hist", name,
                     p_.tree_method, dev.str());
      set_param("tree_method", "gpu_hist");
      set_param("gpu_id", std::to_string(dev.index));
    } else {
      set_param("tree_method", p_.tree_method);
    }
    set_param("max_depth", std::to_string(p_.max_depth));
    set_param("eta", fmt_double(p_.learning_rate));
    set_param("subsample", fmt_double(p_.subsample));
    set_param("colsample_bytree", fmt_double(p_.colsample_bytree));
    set_param("colsample_bynode", fmt_double(p_.colsample_bynode));
    set_param("min_child_weight", fmt_double(p_.min_child_weight));
    set_param("lambda", fmt_double(p_.reg_lambda));
    set_param("alpha", fmt_double(p_.reg_alpha));
    set_param("gamma", fmt_double(p_.gamma));
    set_param("max_bin", std::to_string(p_.max_bin));
    if (n_classes == 2) set_param("scale_pos_weight", fmt_double(p_.scale_pos_weight));
    if (p_.random_forest) set_param("num_parallel_tree", std::to_string(p_.n_estimators));
    const std::string metric = xgb_metric(p_.eval_metric, n_classes);
    if (early) set_param("eval_metric", metric);

    const int rounds = p_.random_forest ? 1 : p_.n_estimators;
    int best_iter = -1;
    double best_score = 0;
    const bool maximise = is_maximised(metric);
    for (int it = 0; it < rounds; ++it) {
      RF_XGB(XGBoosterUpdateOneIter(booster_.get(), it, dtrain.get()));
      if (!early) continue;
      DMatrixHandle evals[1] = {dval.get()};
      const char* names[1] = {"val"};
      const char* out = nullptr;
      RF_XGB(XGBoosterEvalOneIter(booster_.get(), it, evals, names, 1, &out));
      const double score = parse_eval(out);
      if (best_iter < 0 || (maximise ? score > best_score : score < best_score)) {
        best_iter = it;
        best_score = score;
      } else if (it - best_iter >= p_.early_stopping_rounds) {
        break;
      }
    }
    if (early) {
      BoosterHandle sliced = nullptr;
      RF_XGB(XGBoosterSlice(booster_.get(), 0, best_iter + 1, 1, &sliced));
      booster_.reset(sliced);
      // The slice shares the model but not every learner parameter; set prediction ones again.
      set_param("nthread", std::to_string(nthread));
      RF_XGB(XGBoosterSetAttr(booster_.get(), "best_iteration", std::to_string(best_iter).c_str()));
      RF_XGB(XGBoosterSetAttr(booster_.get(), "best_score", fmt_double(best_score).c_str()));
    }
    RF_XGB(XGBoosterSetAttr(booster_.get(), "rareforge_spec", spec().c_str()));
    RF_XGB(
        XGBoosterSetAttr(booster_.get(), "rareforge_n_classes", std::to_string(n_classes).c_str()));
  } catch (...) {
    booster_.reset();
    throw;
  }
  n_classes_ = n_classes;
  n_features_ = X.cols();
  nthread_ = nthread;
}

MatrixRM XGBoostClassifier::predict_proba(const MatrixRM& X) const {
  check_predict_input(who(), fitted(), X, n_features_);
  const size_t n = static_cast<size_t>(X.rows());
  MatrixRM out(X.rows(), n_classes_);
  if (n == 0) return out;
  DMatrixPtr dm = make_dmatrix(who(), X, nullptr, nthread_);
  std::lock_guard<std::mutex> lock(mu_);
  const char* config =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
      R"("strict_shape": false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* res = nullptr;
  RF_XGB(XGBoosterPredictFromDMatrix(booster_.get(), dm.get(), config, &shape, &dim, &res));
  bst_ulong total = 1;
  for (bst_ulong i = 0; i < dim; ++i) total *= shape[i];
  if (n_classes_ == 2) {
    RF_CHECK(total == n, "XGBoost returned {} predictions for {} rows", total, n);
    for (size_t i = 0; i < n; ++i) {
      const double p1 = res[i];
      out(static_cast<Eigen::Index>(i), 0) = 1.0 - p1;
      out(static_cast<Eigen::Index>(i), 1) = p1;
    }
  } else {
    const size_t k = static_cast<size_t>(n_classes_);
    RF_CHECK(total == n * k, "XGBoost returned {} values for {} rows x {} classes", total, n, k);
    for (size_t i = 0; i < n * k; ++i) out.data()[i] = res[i];
  }
  return out;
}

void XGBoostClassifier::save(const std::string& path) const {
  require_fitted("save");
  std::lock_guard<std::mutex> lock(mu_);
  bst_ulong len = 0;
  const char* buf = nullptr;
  RF_XGB(XGBoosterSaveModelToBuffer(booster_.get(), R"({"format": "json"})", &len, &buf));
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(fmt::format("{}: cannot write model file '{}'", who(), path));
  f.write(buf, static_cast<std::streamsize>(len));
  f.close();
  if (!f) throw Error(fmt::format("{}: failed writing model file '{}'", who(), path));
}

void XGBoostClassifier::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  RF_CHECK_INPUT(f.good(), "{}: cannot open model file '{}'", who(), path);
  std::ostringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  RF_CHECK_INPUT(!text.empty() && text.front() == '{',
                 "{}: model file '{}' is not an XGBoost JSON model", who(), path);
  BoosterHandle bh = nullptr;
  RF_XGB(XGBoosterCreate(nullptr, 0, &bh));
  BoosterPtr b(bh);
  const int rc = XGBoosterLoadModelFromBuffer(b.get(), text.data(), text.size());
  RF_CHECK_INPUT(rc == 0, "{}: cannot load model file '{}': {}", who(), path, XGBGetLastError());

  bst_ulong nf = 0;
  RF_XGB(XGBoosterGetNumFeature(b.get(), &nf));
  int k = 0;
  const char* attr = nullptr;
  int found = 0;
  RF_XGB(XGBoosterGetAttr(b.get(), "rareforge_n_classes", &attr, &found));
  if (found) {
    k = std::stoi(attr);
  } else {
    // A model from elsewhere (e.g. Python): num_class from the learner's parameters.
    const auto j = nlohmann::json::parse(text);
    const std::string nc = j.at("learner").at("learner_model_param").at("num_class");
    k = std::max(2, std::stoi(nc));
  }
  RF_CHECK_INPUT(k >= 2 && nf >= 1, "{}: model file '{}' has {} classes and {} features", who(),
                 path, k, nf);
  booster_ = std::move(b);
  n_classes_ = k;
  n_features_ = static_cast<int64_t>(nf);
  nthread_ = 0;
}

std::vector<double> XGBoostClassifier::feature_importances() const {
  require_fitted("feature_importances");
  std::lock_guard<std::mutex> lock(mu_);
  bst_ulong n_named = 0, dim = 0;
  const char** names = nullptr;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  RF_XGB(XGBoosterFeatureScore(booster_.get(), R"({"importance_type": "gain"})", &n_named, &names,
                               &dim, &shape, &scores));
  std::vector<double> imp(static_cast<size_t>(n_features_), 0.0);
  double total = 0;
  for (bst_ulong i = 0; i < n_named; ++i) {
    // Without feature names XGBoost calls column j "fj".
    const std::string nm = names[i];
    RF_CHECK(nm.size() >= 2 && nm[0] == 'f', "unexpected XGBoost feature name '{}'", nm);
    const size_t j = std::stoul(nm.substr(1));
    RF_CHECK(j < imp.size(), "XGBoost feature '{}' beyond {} columns", nm, imp.size());
    imp[j] = scores[i];
    total += scores[i];
  }
  if (total > 0)
    for (double& v : imp) v /= total;
  return imp;
}

constexpr double kInf = 1e300;

// Parameters shared by both entries, with the entry's defaults.
std::vector<ParamDef> tree_params(const XGBoostParams& def, bool rf) {
  std::vector<ParamDef> v;
  v.push_back(int_param("n_estimators", std::to_string(def.n_estimators), 1, 1000000,
                        rf ? "trees in the forest (XGBoost num_parallel_tree; one round)"
                           : "boosting rounds (XGBoost num_boost_round)"));
  v.push_back(int_param("max_depth", std::to_string(def.max_depth), 1, 64, "maximum tree depth"));
  v.push_back(double_param("learning_rate", fmt_double(def.learning_rate), 1e-9, 1,
                           "shrinkage (XGBoost eta)"));
  v.push_back(double_param("subsample", fmt_double(def.subsample), 1e-6, 1,
                           "share of rows sampled for each tree"));
  v.push_back(double_param("colsample_bytree", fmt_double(def.colsample_bytree), 1e-6, 1,
                           "share of columns sampled for each tree"));
  v.push_back(double_param("colsample_bynode", fmt_double(def.colsample_bynode), 1e-6, 1,
                           "share of columns sampled for each split"));
  v.push_back(double_param("min_child_weight", fmt_double(def.min_child_weight), 0, kInf,
                           "minimum hessian sum in a leaf"));
  v.push_back(double_param("reg_lambda", fmt_double(def.reg_lambda), 0, kInf,
                           "L2 penalty on leaf weights (XGBoost lambda)"));
  v.push_back(double_param("reg_alpha", fmt_double(def.reg_alpha), 0, kInf,
                           "L1 penalty on leaf weights (XGBoost alpha)"));
  v.push_back(double_param("gamma", fmt_double(def.gamma), 0, kInf,
                           "minimum loss reduction to split (XGBoost gamma)"));
  v.push_back(double_param("scale_pos_weight", fmt_double(def.scale_pos_weight), 0, kInf,
                           "weight of class 1 rows (binary only)"));
  v.push_back(int_param("max_bin", std::to_string(def.max_bin), 2, 65536,
                        "histogram bins per feature (hist/approx)"));
  v.push_back(string_param("tree_method", def.tree_method, "split finding (cuda devices need hist)",
                           {"hist", "approx", "exact"}));
  if (!rf) {
    v.push_back(int_param("early_stopping_rounds", std::to_string(def.early_stopping_rounds), 0,
                          1000000,
                          "stop after this many rounds without improvement on a validation "
                          "split of the training rows; 0 = off"));
    v.push_back(double_param("val_share", fmt_double(def.val_share), 0.001, 0.9,
                             "share of training rows held out for early stopping"));
    v.push_back(string_param("eval_metric", def.eval_metric,
                             "early-stopping metric (default = logloss)",
                             {"default", "logloss", "error", "auc", "aucpr"}));
  }
  v.push_back(int_param("seed", std::to_string(def.seed), -1, 2147483647,
                        "XGBoost seed; -1 = derived from --seed"));
  return v;
}

XGBoostParams read_params(const ParamValues& v, bool rf) {
  XGBoostParams p;
  p.random_forest = rf;
  p.n_estimators = static_cast<int>(v.get_int("n_estimators"));
  p.max_depth = static_cast<int>(v.get_int("max_depth"));
  p.learning_rate = v.get_double("learning_rate");
  p.subsample = v.get_double("subsample");
  p.colsample_bytree = v.get_double("colsample_bytree");
  p.colsample_bynode = v.get_double("colsample_bynode");
  p.min_child_weight = v.get_double("min_child_weight");
  p.reg_lambda = v.get_double("reg_lambda");
  p.reg_alpha = v.get_double("reg_alpha");
  p.gamma = v.get_double("gamma");
  p.scale_pos_weight = v.get_double("scale_pos_weight");
  p.max_bin = static_cast<int>(v.get_int("max_bin"));
  p.tree_method = v.get_string("tree_method");
  if (!rf) {
    p.early_stopping_rounds = static_cast<int>(v.get_int("early_stopping_rounds"));
    p.val_share = v.get_double("val_share");
    p.eval_metric = v.get_string("eval_metric");
  }
  p.seed = v.get_int("seed");
  return p;
}

}  // namespace

std::unique_ptr<Classifier> make_xgboost(const XGBoostParams& p, const std::string& canonical) {
  return std::make_unique<XGBoostClassifier>(p, canonical);
}

bool xgboost_has_cuda() {
  static const bool has = [] {
    const char* info = nullptr;
    if (XGBuildInfo(&info) != 0 || !info) return false;
    const auto j = nlohmann::json::parse(info, nullptr, false);
    return !j.is_discarded() && j.contains("USE_CUDA") && j["USE_CUDA"].is_boolean() &&
           j["USE_CUDA"].get<bool>();
  }();
  return has;
}

std::string xgboost_version() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

void register_xgboost_classifiers(std::vector<ClassifierInfo>& out) {
  {
    ClassifierInfo c;
    c.name = "xgboost";
    c.description = "gradient-boosted trees (libxgboost), optional early stopping";
    c.params = tree_params(XGBoostParams{}, false);
    c.supports_cuda = true;
    c.create = [](const ParamValues& v, const std::string& canonical) {
      return make_xgboost(read_params(v, false), canonical);
    };
    out.push_back(std::move(c));
  }
  {
    // xgboost.XGBRFClassifier's defaults: eta 1, subsample 0.8, colsample_bynode 0.8,
    // reg_lambda 1e-5; max_depth as XGBoost's default (6).
    XGBoostParams rf;
    rf.random_forest = true;
    rf.learning_rate = 1;
    rf.subsample = 0.8;
    rf.colsample_bynode = 0.8;
    rf.reg_lambda = 1e-5;
    ClassifierInfo c;
    c.name = "random-forest";
    c.description = "random forest in XGBoost's random-forest mode (as XGBRFClassifier)";
    c.params = tree_params(rf, true);
    c.supports_cuda = true;
    c.create = [](const ParamValues& v, const std::string& canonical) {
      return make_xgboost(read_params(v, true), canonical);
    };
    out.push_back(std::move(c));
  }
}

}  // namespace rareforge::classifiers
