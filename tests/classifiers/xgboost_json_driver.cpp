// Driver for tests/fixtures/check_xgboost_json.py (ctest xgboost_json_python): trains rareforge's
// XGBoost classifiers on seeded data and writes, into OUTDIR, for each case
//   <case>.json         the model as our wrapper saves it,
//   <case>_X.csv        the rows it then predicted (no header; "nan" = missing),
//   <case>_proba.csv    our predict_proba (n x K, %.17g),
// plus manifest.json: [{name, spec, n_classes, n_features, importances}] (importances as
// feature_importances() returns them). The Python script loads each model with Debian's
// python3-xgboost and checks that it predicts the same probabilities and importances.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "classifiers/classifier.h"
#include "core/error.h"
#include "core/rng.h"

namespace {

using rareforge::MatrixRM;

void write_matrix(const std::string& path, const MatrixRM& m) {
  std::ofstream f(path);
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      f << (j ? "," : "")
        << (std::isnan(m(i, j)) ? std::string("nan") : fmt::format("{:.17g}", m(i, j)));
    f << "\n";
  }
  if (!f) throw rareforge::Error("cannot write " + path);
}

int run(const std::string& outdir) {
  struct Case {
    std::string name, spec;
    int k;
  };
  const std::vector<Case> cases = {
      {"binary_xgboost", "xgboost", 2},
      {"multi_xgboost_early", "xgboost:n_estimators=200,early_stopping_rounds=5,max_depth=4", 3},
      {"binary_forest", "random-forest:n_estimators=30", 2},
      {"multi_forest", "random-forest:n_estimators=20,max_depth=5", 4},
  };
  nlohmann::json manifest = nlohmann::json::array();
  rareforge::Rng rng(2024);
  for (const Case& c : cases) {
    const int d = 5;
    const size_t n = 500, n_test = 150;
    auto make = [&](size_t rows, std::vector<int32_t>& y) {
      MatrixRM X(static_cast<Eigen::Index>(rows), d);
      y.resize(rows);
      for (size_t i = 0; i < rows; ++i) {
        y[i] = static_cast<int32_t>(rng.uniform_int(static_cast<uint64_t>(c.k)));
        for (int j = 0; j < d; ++j) {
          double v = rng.normal() + (j < 3 ? 0.8 * y[i] * (j + 1) : 0.0);
          if (j == 1 && rng.uniform() < 0.05) v = std::nan("");
          X(static_cast<Eigen::Index>(i), j) = v;
        }
      }
      return X;
    };
    std::vector<int32_t> y, y_test;
    const MatrixRM X = make(n, y);
    const MatrixRM X_test = make(n_test, y_test);
    rareforge::Context ctx;
    ctx.seed = 17;
    ctx.threads = 1;
    ctx.quiet = true;
    auto clf = rareforge::classifiers::make_classifier(c.spec);
    clf->fit(X, y, c.k, nullptr, ctx);
    clf->save(outdir + "/" + c.name + ".json");
    write_matrix(outdir + "/" + c.name + "_X.csv", X_test);
    write_matrix(outdir + "/" + c.name + "_proba.csv", clf->predict_proba(X_test));
    manifest.push_back({{"name", c.name},
                        {"spec", clf->spec()},
                        {"n_classes", c.k},
                        {"n_features", d},
                        {"importances", clf->feature_importances()}});
  }
  std::ofstream f(outdir + "/manifest.json");
  f << manifest.dump(1) << "\n";
  return f ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: xgboost_json_driver OUTDIR\n";
    return 2;
  }
  try {
    return run(argv[1]);
  } catch (const std::exception& e) {
    std::cerr << "xgboost_json_driver: " << e.what() << "\n";
    return 1;
  }
}
