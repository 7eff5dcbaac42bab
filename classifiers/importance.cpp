#include "classifiers/importance.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace rareforge::classifiers {

std::vector<std::string> metric_names() {
  std::vector<std::string> names;
  for (const auto& [name, value] : metrics::Scores{}.items()) names.push_back(name);
  return names;
}

bool metric_higher_is_better(const std::string& name, const std::string& what) {
  const auto names = metric_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    RF_THROW_INPUT("{}: unknown metric '{}'; valid metrics: {}", what, name, list);
  }
  return name != "log_loss" && name != "brier";
}

double score_metric(const std::string& name, const std::vector<int32_t>& y, const MatrixRM& proba,
                    const metrics::EvaluateOptions& opt) {
  metric_higher_is_better(name);  // checks the name
  for (const auto& [n, v] : metrics::evaluate(y, proba, opt).items())
    if (n == name) return v;
  RF_CHECK(false, "metric {} missing from Scores::items()", name);
  return 0;
}

std::string describe_metric(const std::string& name, int n_classes, const std::string& pos_class) {
  const bool binary = n_classes == 2;
  const std::string of = binary ? fmt::format(" of class '{}'", pos_class) : "";
  if (name == "pr_auc")
    return binary ? "PR-AUC (average precision)" + of
                  : "macro PR-AUC (one-vs-rest average precision, mean over classes)";
  if (name == "roc_auc") return binary ? "ROC-AUC" + of : "macro one-vs-rest ROC-AUC";
  if (name == "brier")
    return binary ? "Brier score" + of + " (lower is better)"
                  : "multi-class Brier score (lower is better)";
  if (name == "log_loss") return "log loss (lower is better)";
  if (name == "accuracy") return "accuracy (argmax prediction)";
  if (name == "balanced_accuracy") return "balanced accuracy (argmax prediction)";
  if (name == "macro_precision") return "macro precision (argmax prediction)";
  if (name == "macro_recall") return "macro recall (argmax prediction)";
  if (name == "macro_f1") return "macro F1 (argmax prediction)";
  if (name == "g_mean") return "G-mean of the class recalls (argmax prediction)";
  if (name == "mcc") return "Matthews correlation coefficient (argmax prediction)";
  return name;
}

PermutationImportance permutation_importance(const Classifier& clf, const MatrixRM& X,
                                             const std::vector<int32_t>& y,
                                             const PermutationOptions& opt, const Context& ctx) {
  const bool higher = metric_higher_is_better(opt.metric, "permutation importance");
  RF_CHECK_INPUT(opt.n_repeats >= 1, "permutation importance: n_repeats = {} must be >= 1",
                 opt.n_repeats);
  RF_CHECK_INPUT(X.rows() > 0, "permutation importance: no rows to score");
  RF_CHECK_INPUT(static_cast<size_t>(X.rows()) == y.size(),
                 "permutation importance: {} feature rows but {} labels", X.rows(), y.size());
  std::vector<std::vector<size_t>> groups = opt.groups;
  if (groups.empty())
    for (Eigen::Index j = 0; j < X.cols(); ++j) groups.push_back({static_cast<size_t>(j)});
  std::vector<uint8_t> used(static_cast<size_t>(X.cols()), 0);
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t j : groups[g]) {
      RF_CHECK_INPUT(j < used.size(),
                     "permutation importance: group {} names column {} but X has {} columns", g, j,
                     X.cols());
      RF_CHECK_INPUT(!used[j], "permutation importance: column {} is in two groups", j);
      used[j] = 1;
    }

  const size_t n = y.size();
  Rng rng = ctx.rng(kPermutationStream);
  std::vector<std::vector<size_t>> perms;
  for (int r = 0; r < opt.n_repeats; ++r) perms.push_back(rng.permutation(n));

  PermutationImportance out;
  out.baseline = score_metric(opt.metric, y, clf.predict_proba(X), opt.eval);
  MatrixRM Xp = X;
  for (const auto& group : groups) {
    std::vector<double> imp;
    for (const auto& perm : perms) {
      for (size_t j : group)
        for (size_t i = 0; i < n; ++i)
          Xp(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) =
              X(static_cast<Eigen::Index>(perm[i]), static_cast<Eigen::Index>(j));
      const double s = score_metric(opt.metric, y, clf.predict_proba(Xp), opt.eval);
      imp.push_back(higher ? out.baseline - s : s - out.baseline);
    }
    for (size_t j : group)
      Xp.col(static_cast<Eigen::Index>(j)) = X.col(static_cast<Eigen::Index>(j));
    const double mean =
        std::accumulate(imp.begin(), imp.end(), 0.0) / static_cast<double>(imp.size());
    double ss = 0;
    for (double v : imp) ss += (v - mean) * (v - mean);
    out.mean.push_back(mean);
    out.std.push_back(std::sqrt(ss / static_cast<double>(imp.size())));
    out.repeats.push_back(std::move(imp));
  }
  return out;
}

std::vector<double> top_k_frequency(const std::vector<std::vector<double>>& runs, int k) {
  RF_CHECK_INPUT(!runs.empty(), "top-k stability: no runs");
  RF_CHECK_INPUT(k >= 1, "top-k stability: k = {} must be >= 1", k);
  const size_t d = runs[0].size();
  std::vector<double> freq(d, 0.0);
  const size_t kk = std::min(static_cast<size_t>(k), d);
  for (size_t r = 0; r < runs.size(); ++r) {
    RF_CHECK_INPUT(runs[r].size() == d, "top-k stability: run {} has {} features, run 0 has {}", r,
                   runs[r].size(), d);
    for (double v : runs[r])
      RF_CHECK_INPUT(!std::isnan(v), "top-k stability: run {} has a NaN importance", r);
    std::vector<size_t> order(d);
    std::iota(order.begin(), order.end(), size_t{0});
    const auto& v = runs[r];
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
    for (size_t i = 0; i < kk; ++i) freq[order[i]] += 1.0;
  }
  for (double& f : freq) f /= static_cast<double>(runs.size());
  return freq;
}

}  // namespace rareforge::classifiers
