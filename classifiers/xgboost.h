// XGBoost classifiers through libxgboost's C API: `xgboost` (gradient-boosted trees) and
// `random-forest` (XGBoost's random-forest mode, as xgboost.XGBRFClassifier).
//
// Both build the same booster; the parameters below map one to one onto XGBoost's
// (docs/CLASSIFIERS.md has the table). Objective: binary:logistic for 2 classes,
// multi:softprob with num_class = K otherwise. Features go to XGBoost as float32 (as Python's
// xgboost converts float64 input); NaN is "missing" (XGBoost learns a default direction).
//
// Early stopping (xgboost only, early_stopping_rounds > 0): a stratified validation split of
// val_share of the TRAINING rows (core/split.h, stream streams::kClassifier) is held out, trees
// are grown on the rest, and boosting stops after early_stopping_rounds rounds without
// improvement of eval_metric on the held-out rows (strict improvement, as xgboost.callback.
// EarlyStopping). The model keeps only the rounds up to the best one (XGBoosterSlice), so the
// saved file predicts with the best iteration in any consumer, Python included. The booster
// attributes best_iteration and best_score record where it stopped.
//
// Device: ctx.device. cuda / cuda:N use tree_method=gpu_hist with gpu_id=N when libxgboost was
// built with CUDA (XGBuildInfo USE_CUDA); otherwise they are an Error saying so. `auto` runs on
// the CPU (XGBoost 1.7 has no device auto-detection of its own).
//
// Determinism: seed = `seed` when >= 0, else a value drawn from ctx.rng(streams::kClassifier);
// nthread = ctx.n_threads(). Same data, parameters, seed and thread count give the same model.
//
// Model file: XGBoost's JSON model format (XGBoosterSaveModelToBuffer, format "json"), whatever
// the file's extension; name it *.json so that Python's `xgboost.Booster().load_model(path)`
// recognises it. rareforge adds booster attributes (kept in the JSON "attributes" object):
// rareforge_spec (canonical spec) and rareforge_n_classes (K; a binary model's num_class is 0).
// A model saved by Python's xgboost also loads (K taken from its num_class).
//
// Importances: XGBoost's "gain" (average loss reduction of the splits on the feature), over all
// trees and classes, normalised to sum 1 — exactly xgboost.XGBClassifier.feature_importances_
// (1.7 default importance_type). Columns never split on get 0.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "classifiers/classifier.h"

namespace rareforge::classifiers {

struct XGBoostParams {
  bool random_forest = false;  ///< XGBoost random-forest mode: one round of n_estimators trees
  int n_estimators = 100;      ///< boosting rounds (xgboost) / parallel trees (random-forest)
  int max_depth = 6;           ///< max_depth
  double learning_rate = 0.3;  ///< eta (random-forest: 1)
  double subsample = 1;        ///< row subsample per tree (random-forest: 0.8)
  double colsample_bytree = 1;
  double colsample_bynode = 1;  ///< random-forest: 0.8
  double min_child_weight = 1;
  double reg_lambda = 1;  ///< lambda (random-forest: 1e-5, as XGBRFClassifier)
  double reg_alpha = 0;   ///< alpha
  double gamma = 0;       ///< min split loss
  double scale_pos_weight = 1;
  int max_bin = 256;
  std::string tree_method = "hist";     ///< hist | approx | exact (cuda: gpu_hist)
  int early_stopping_rounds = 0;        ///< 0 = off (xgboost only)
  double val_share = 0.1;               ///< held-out share of training rows for early stopping
  std::string eval_metric = "default";  ///< default | logloss | error | auc | aucpr
  int64_t seed = -1;                    ///< >= 0: XGBoost seed as is; -1: from ctx
};

/// The classifier for `p` (unfitted); `canonical` is its spec.
std::unique_ptr<Classifier> make_xgboost(const XGBoostParams& p, const std::string& canonical);

/// True when the libxgboost in use was built with CUDA.
bool xgboost_has_cuda();
/// "major.minor.patch" of the libxgboost in use.
std::string xgboost_version();

}  // namespace rareforge::classifiers
