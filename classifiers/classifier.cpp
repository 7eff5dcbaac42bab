#include "classifiers/classifier.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace rareforge::classifiers {

// Defined by the classifier families (xgboost.cpp, linear/knn/mlp); explicit registration.
void register_xgboost_classifiers(std::vector<ClassifierInfo>& out);
void register_linear_classifiers(std::vector<ClassifierInfo>& out);

namespace {
std::vector<ClassifierInfo>& mutable_registry() {
  static std::vector<ClassifierInfo> registry = [] {
    std::vector<ClassifierInfo> r;
    register_xgboost_classifiers(r);
    register_linear_classifiers(r);
    return r;
  }();
  return registry;
}
}  // namespace

const std::vector<ClassifierInfo>& classifier_registry() { return mutable_registry(); }

void register_classifier(ClassifierInfo info) {
  auto& r = mutable_registry();
  for (auto& existing : r)
    if (existing.name == info.name) {
      existing = std::move(info);
      return;
    }
  r.push_back(std::move(info));
}

const ClassifierInfo* find_classifier(const std::string& name) {
  for (const auto& info : classifier_registry())
    if (info.name == name) return &info;
  return nullptr;
}

std::unique_ptr<Classifier> make_classifier(const std::string& spec_text, const std::string& what) {
  const MethodSpec spec = parse_method_spec(spec_text, what);
  const ClassifierInfo* info = find_classifier(spec.name);
  if (!info) {
    std::string names;
    for (const auto& i : classifier_registry()) names += (names.empty() ? "" : ", ") + i.name;
    RF_THROW_INPUT("{}: unknown classifier '{}'; valid classifiers: {}", what, spec.name, names);
  }
  const ParamValues values = check_params(spec, info->params);
  return info->create(values, values.canonical(info->name));
}

std::unique_ptr<Classifier> load_classifier(const std::string& spec, const std::string& path) {
  auto clf = make_classifier(spec);
  clf->load(path);
  return clf;
}

std::vector<double> balanced_class_factors(const std::vector<int32_t>& y, int n_classes) {
  std::vector<int64_t> count(static_cast<size_t>(n_classes), 0);
  for (int32_t c : y) ++count[static_cast<size_t>(c)];
  const auto present = std::count_if(count.begin(), count.end(), [](int64_t c) { return c > 0; });
  const double n = static_cast<double>(y.size());
  std::vector<double> f(count.size(), 0.0);
  for (size_t c = 0; c < count.size(); ++c)
    if (count[c] > 0) f[c] = n / (static_cast<double>(present) * static_cast<double>(count[c]));
  return f;
}

ParamDef class_weight_param() {
  return string_param("class_weight", "none", "balanced: weight rows by n / (K * class count)",
                      {"none", "balanced"});
}

void check_fit_input(const std::string& who, const MatrixRM& X, const std::vector<int32_t>& y,
                     int n_classes, const std::vector<double>* weights) {
  RF_CHECK_INPUT(X.rows() > 0, "{}: cannot fit on an empty training set", who);
  RF_CHECK_INPUT(X.cols() > 0, "{}: the training data has no feature columns", who);
  RF_CHECK_INPUT(static_cast<size_t>(X.rows()) == y.size(), "{}: {} feature rows but {} labels",
                 who, X.rows(), y.size());
  RF_CHECK_INPUT(n_classes >= 2, "{}: needs at least 2 classes, got {}", who, n_classes);
  for (size_t i = 0; i < y.size(); ++i)
    RF_CHECK_INPUT(y[i] >= 0 && y[i] < n_classes, "{}: label {} of row {} is outside 0..{}", who,
                   y[i], i + 1, n_classes - 1);
  if (weights) {
    RF_CHECK_INPUT(weights->size() == y.size(), "{}: {} sample weights for {} rows", who,
                   weights->size(), y.size());
    double sum = 0;
    for (size_t i = 0; i < weights->size(); ++i) {
      const double w = (*weights)[i];
      RF_CHECK_INPUT(std::isfinite(w) && w >= 0,
                     "{}: sample weight of row {} is {}; weights must be finite and >= 0", who,
                     i + 1, w);
      sum += w;
    }
    RF_CHECK_INPUT(sum > 0, "{}: the sample weights sum to 0", who);
  }
}

void check_predict_input(const std::string& who, bool fitted, const MatrixRM& X,
                         int64_t n_features) {
  if (!fitted) throw Error(fmt::format("{}: predict before fit (call fit or load first)", who));
  RF_CHECK_INPUT(X.cols() == n_features,
                 "{}: the model was fitted on {} feature columns but the data has {}", who,
                 n_features, X.cols());
}

}  // namespace rareforge::classifiers
