// Non-tree classifiers: elastic-net logistic regression (`logreg`) and k-nearest neighbours
// (`knn`). Both follow classifiers/classifier.h; register_linear_classifiers() adds them to the
// registry. docs/CLASSIFIERS.md has the prose.
//
// logreg — the objective, identical to scikit-learn's LogisticRegression(penalty="elasticnet")
// with C = 1 / (alpha * n):
//     (1/n) * sum_i s_i * loss_i + alpha * ((1 - l1_ratio) / 2 * ||W||_F^2 + l1_ratio * ||W||_1)
//   s_i = sample weight (1 when none) * class weight (balanced: n / (K_present * n_class));
//   intercepts are not penalised. Two classes: one logit (W is 1 x d, the score of class 1 vs
//   class 0; loss = log(1 + exp(-t z)), t = +-1), as sklearn's binary model. K >= 3: the
//   multinomial (softmax) loss with W K x d. Features are used as given: standardise them
//   first (core/preprocess.h scale=standard), else alpha weighs columns unequally.
//   Solvers (both reach the optimum of the same convex objective; solver=auto picks):
//     newton  proximal Newton (newGLMNET): per iteration one pass computing the exact gradient
//             and Hessian (P x P, P = K' (d + 1), K' = 1 for two classes else K), coordinate
//             descent on the penalised quadratic model, Armijo backtracking on the objective.
//             A handful of iterations; each costs O(n K'^2 d^2). auto uses it for P <= 400.
//     fista   accelerated proximal gradient with backtracking on the Lipschitz constant and
//             gradient-based adaptive restart; O(n K' d) per iteration, many iterations.
//   The L1 part is handled exactly (soft-threshold), so coefficients are exactly 0 where the
//   penalty wins. Both stop when the largest change of any coefficient or intercept between
//   iterates is <= tol * the largest absolute value (sklearn saga's rule), or after max_iter
//   iterations (converged() is then false and a warning is printed). Multinomial intercepts are
//   reported with zero sum (the softmax is shift-invariant; sklearn's saga gives the same).
//   A class without training rows is left out of the fit (logit -inf in the loss), then gets
//   W = 0 and an intercept 30 below the smallest other (probability ~1e-13); with one class
//   present the model is that limit directly.
//   Sums over rows run on ctx.n_threads() threads over fixed blocks of rows whose partial
//   sums are added in a fixed order, so the result does not depend on the thread count.
//
// knn — scikit-learn's KNeighborsClassifier(n_neighbors=k, weights=...) on the exact engine of
// classical/knn.h (Euclidean; ties in distance go to the smaller training row index).
//   uniform:  P(class c) = (sum of vote weights of the k neighbours in c) / (sum over all k)
//   distance: each neighbour's vote is 1 / distance; when some neighbours of a query are at
//             distance exactly 0, they get all the weight (vote 1 each) and the others 0, as
//             sklearn. Sample weights, when given to fit(), multiply the votes (an extension:
//             sklearn's kNN takes no sample weights); without them the probabilities are
//             sklearn's.
//   The model is the training data: save() writes every row (JSON), so files are large for big
//   training sets. feature_importances() is all zeros (kNN has no per-feature importance; use
//   permutation importance).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "classifiers/classifier.h"

namespace rareforge::classifiers {

struct LogRegParams {
  /// Overall penalty strength; sklearn's C corresponds to alpha = 1 / (C * n). The default 1e-4
  /// is a light penalty for standardised features (sklearn's C = 1 at n = 10,000).
  double alpha = 1e-4;
  /// Mix of the penalty: 0 = pure L2 (ridge), 1 = pure L1 (lasso).
  double l1_ratio = 0.0;
  /// "none" or "balanced" (row weight n / (K_present * rows of its class), as sklearn).
  std::string class_weight = "none";
  /// Maximum FISTA iterations (each about two passes over the data).
  int64_t max_iter = 1000;
  /// Relative coefficient change at which the solver stops (see above).
  double tol = 1e-6;
  /// Learn an unpenalised intercept per logit.
  bool fit_intercept = true;
  /// "auto" (newton up to 400 parameters K' x (d + 1), else fista), "newton" or "fista".
  std::string solver = "auto";
};

class LogisticRegression : public Classifier {
 public:
  LogisticRegression(const LogRegParams& params, std::string spec);

  void fit(const MatrixRM& X, const std::vector<int32_t>& y, int n_classes,
           const std::vector<double>* weights, const Context& ctx) override;
  MatrixRM predict_proba(const MatrixRM& X) const override;
  /// JSON: {"format": "rareforge-logreg", "version": 1, "spec", "n_classes", "n_features",
  /// "coef" (rows of W), "intercept", "n_iter", "converged"}; doubles round-trip exactly.
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  /// |W| averaged over the logits (rows of coef()).
  std::vector<double> feature_importances() const override;
  std::string importance_kind() const override { return "abs_coef"; }
  bool fitted() const override { return fitted_; }
  int n_classes() const override { return n_classes_; }
  int64_t n_features() const override { return coef_.cols(); }

  /// Signed coefficients, sklearn's coef_: 1 x d for two classes (class 1 vs class 0), else
  /// K x d (one row per class). Throws Error before fit.
  const MatrixRM& coef() const;
  /// Intercepts, one per row of coef() (sklearn's intercept_).
  const Eigen::VectorXd& intercept() const;
  /// Two classes only: the coefficient vector of the positive class (class 1); positive values
  /// push towards class 1. InputError for K >= 3 (use coef()).
  Eigen::VectorXd positive_coef() const;
  /// Iterations the last fit ran, and whether it met tol.
  int64_t n_iter() const { return n_iter_; }
  bool converged() const { return converged_; }
  const LogRegParams& params() const { return params_; }

 private:
  LogRegParams params_;
  bool fitted_ = false;
  int n_classes_ = 0;
  MatrixRM coef_;
  Eigen::VectorXd intercept_;
  int64_t n_iter_ = 0;
  bool converged_ = false;
};

struct KnnParams {
  /// Neighbours voting for each query (must be <= training rows).
  int64_t k = 5;
  /// "uniform" or "distance" (see above).
  std::string weights = "uniform";
};

class KnnClassifier : public Classifier {
 public:
  KnnClassifier(const KnnParams& params, std::string spec);

  void fit(const MatrixRM& X, const std::vector<int32_t>& y, int n_classes,
           const std::vector<double>* weights, const Context& ctx) override;
  MatrixRM predict_proba(const MatrixRM& X) const override;
  /// JSON: {"format": "rareforge-knn", "version": 1, "spec", "k", "weights", "n_classes",
  /// "X" (rows), "y", "sample_weight" (absent when none)}.
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  std::vector<double> feature_importances() const override;
  std::string importance_kind() const override { return "none"; }
  bool fitted() const override { return fitted_; }
  int n_classes() const override { return n_classes_; }
  int64_t n_features() const override { return X_.cols(); }

 private:
  KnnParams params_;
  bool fitted_ = false;
  int n_classes_ = 0;
  int threads_ = 0;  ///< from the fit context; 0 (all) after load
  MatrixRM X_;
  std::vector<int32_t> y_;
  std::vector<double> sample_weight_;  ///< empty = all 1
};

/// Adds logreg and knn to the classifier registry (called from classifier.cpp).
void register_linear_classifiers(std::vector<ClassifierInfo>& out);

}  // namespace rareforge::classifiers
