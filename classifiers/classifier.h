// Classifiers: the interface every model implements, and the registry.
//
// A classifier learns from a dense row-major feature matrix (already preprocessed:
// core/preprocess.h imputes, scales and one-hot encodes) and class codes 0..K-1, and predicts
// one probability per class. The same verbs for every member of the family:
//
//   auto clf = make_classifier("xgboost:max_depth=4");   // configure only
//   clf->fit(X, y, n_classes, &weights, ctx);             // the work; deterministic for ctx.seed
//   MatrixRM p = clf->predict_proba(X_test);              // n x K, rows sum to 1
//   clf->save("model.json");                              // format: the classifier's own
//   auto back = load_classifier("xgboost", "model.json"); // same predictions as clf
//
// Contract shared by all classifiers
//   * fit: X is n x d (n >= 1, d >= 1); y has n codes in 0..n_classes-1; n_classes >= 2 (a class
//     may have no rows: its probability is then learnt as ~0). weights, when given, are n
//     finite values >= 0 with a positive sum (sample weights, as scikit-learn's
//     sample_weight). check_fit_input() below checks all of this (InputError naming the
//     classifier). NaN in X: XGBoost-based classifiers treat it as missing; others reject it
//     with an InputError suggesting imputation.
//   * Randomness only from ctx.rng(streams::kClassifier) (or a seed derived from it), so the
//     same seed, data and thread count give the same probabilities.
//   * predict_proba / save / feature_importances before fit (or load) throw Error.
//     predict_proba checks that X has the fitted number of columns (InputError).
//   * feature_importances: one value per input column (size d), >= 0, larger = more important,
//     0 for a column the model does not use; importance_kind() says what the values are (e.g.
//     "gain" for XGBoost). Signed coefficients and permutation importance are separate APIs.
//   * save writes one file; load replaces the object's state by the file's (the object must be
//     of the classifier that wrote it). A model that was saved and loaded predicts the same
//     probabilities bit for bit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/params.h"
#include "core/table.h"

namespace rareforge::classifiers {

class Classifier {
 public:
  virtual ~Classifier() = default;

  /// Train on X (n x d), labels y (n codes in 0..n_classes-1), optional sample weights (n).
  virtual void fit(const MatrixRM& X, const std::vector<int32_t>& y, int n_classes,
                   const std::vector<double>* weights, const Context& ctx) = 0;
  /// Class probabilities, n x n_classes, each row summing to 1 (up to rounding).
  virtual MatrixRM predict_proba(const MatrixRM& X) const = 0;
  /// Write the fitted model to `path` (format documented by each classifier, docs/CLASSIFIERS.md).
  virtual void save(const std::string& path) const = 0;
  /// Replace this object's state by the model in `path` (written by save() of this classifier).
  virtual void load(const std::string& path) = 0;
  /// One importance per input column (see the contract above).
  virtual std::vector<double> feature_importances() const = 0;
  /// What feature_importances() measures, e.g. "gain".
  virtual std::string importance_kind() const = 0;

  /// True once fit() or load() succeeded.
  virtual bool fitted() const = 0;
  /// Fitted number of classes / input columns (0 before fit).
  virtual int n_classes() const = 0;
  virtual int64_t n_features() const = 0;
  /// Canonical spec it was built from, e.g. "xgboost:n_estimators=100,...".
  const std::string& spec() const { return spec_; }

 protected:
  explicit Classifier(std::string spec) : spec_(std::move(spec)) {}

 private:
  std::string spec_;
};

struct ClassifierInfo {
  std::string name;         ///< registry name, e.g. "xgboost"
  std::string description;  ///< one line
  std::vector<ParamDef> params;
  bool supports_cuda = false;  ///< true if ctx.device = cuda can be used (when the build allows)
  /// Build the (unfitted) classifier from checked parameters; `canonical` is the full spec.
  std::function<std::unique_ptr<Classifier>(const ParamValues& params,
                                            const std::string& canonical)>
      create;
};

/// Every classifier, in the order `rareforge classifiers` lists them: the built-in ones
/// (xgboost, random-forest, logreg, knn), then those added by register_classifier() (mlp, from
/// the LibTorch part: classifiers/mlp.h).
const std::vector<ClassifierInfo>& classifier_registry();
/// Add a classifier to the registry; an entry of the same name is replaced. Not thread-safe:
/// register before any thread looks classifiers up.
void register_classifier(ClassifierInfo info);
/// The entry for `name`, or nullptr.
const ClassifierInfo* find_classifier(const std::string& name);
/// Parse and check a spec (`xgboost:max_depth=4`) and build the unfitted classifier. Unknown
/// names/keys are InputErrors listing the valid ones; `what` names the flag in messages.
std::unique_ptr<Classifier> make_classifier(const std::string& spec,
                                            const std::string& what = "--classifiers");
/// make_classifier(spec) followed by load(path).
std::unique_ptr<Classifier> load_classifier(const std::string& spec, const std::string& path);

// --- helpers shared by the classifiers -------------------------------------------------------

/// Check fit() arguments against the contract above; InputError naming `who`.
/// scikit-learn's class_weight="balanced": for each class c, n / (K_present * rows of class c),
/// where K_present counts the classes that have rows (0 for a class without rows). Multiply a
/// row's weight by the factor of its class.
std::vector<double> balanced_class_factors(const std::vector<int32_t>& y, int n_classes);
/// The `class_weight` parameter (none | balanced) of the classifiers that take one; "balanced"
/// applies balanced_class_factors().
ParamDef class_weight_param();

void check_fit_input(const std::string& who, const MatrixRM& X, const std::vector<int32_t>& y,
                     int n_classes, const std::vector<double>* weights);
/// Check predict_proba() input: fitted, and X has `n_features` columns (InputError naming `who`).
void check_predict_input(const std::string& who, bool fitted, const MatrixRM& X,
                         int64_t n_features);

}  // namespace rareforge::classifiers
