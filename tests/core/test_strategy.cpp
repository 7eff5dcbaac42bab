// Sampling strategy parser and planner: against imbalanced-learn 0.10 (fixture made by
// tests/fixtures/make_strategy_fixture.py) and hand-checked --max-ratio cases.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/strategy.h"
#include "core/table.h"

namespace rareforge {
namespace {

std::vector<std::string> names_for(size_t k) {
  std::vector<std::string> n;
  for (size_t c = 0; c < k; ++c) n.push_back(std::to_string(c));
  return n;
}

SamplingKind kind_of(const std::string& s) {
  if (s == "over") return SamplingKind::kOver;
  if (s == "under") return SamplingKind::kUnder;
  return SamplingKind::kClean;
}

std::string error_of(const std::string& text, const std::vector<int64_t>& counts,
                     const std::vector<std::string>& names, SamplingKind kind,
                     std::optional<double> max_ratio = std::nullopt) {
  try {
    plan_sampling(SamplingStrategy::parse(text), counts, names, kind, max_ratio);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Strategy, MatchesImbalancedLearnFixture) {
  std::ifstream f(std::string(RAREFORGE_SOURCE_DIR) + "/tests/fixtures/strategy.json");
  ASSERT_TRUE(f) << "missing tests/fixtures/strategy.json";
  const nlohmann::json fx = nlohmann::json::parse(f);
  ASSERT_GT(fx.at("cases").size(), 500u);
  size_t n_ok = 0, n_err = 0;
  for (const auto& c : fx.at("cases")) {
    const auto counts = c.at("counts").get<std::vector<int64_t>>();
    const std::string kind_s = c.at("kind").get<std::string>();
    const std::string text = c.at("strategy").get<std::string>();
    const SamplingKind kind = kind_of(kind_s);
    const auto names = names_for(counts.size());
    SCOPED_TRACE(c.dump());
    if (c.contains("error")) {
      EXPECT_THROW(plan_sampling(SamplingStrategy::parse(text), counts, names, kind), InputError);
      ++n_err;
      continue;
    }
    SamplingPlan p;
    ASSERT_NO_THROW(p = plan_sampling(SamplingStrategy::parse(text), counts, names, kind));
    ASSERT_EQ(p.n_classes(), counts.size());
    std::vector<uint8_t> want_targeted(counts.size(), 0);
    if (kind == SamplingKind::kClean) {
      for (int cls : c.at("result").get<std::vector<int>>()) want_targeted[cls] = 1;
      EXPECT_EQ(p.clean, want_targeted);
      EXPECT_EQ(p.target, counts);
      EXPECT_EQ(p.total_add() + p.total_remove(), 0);
    } else {
      std::vector<int64_t> want_add(counts.size(), 0), want_target = counts;
      for (const auto& [cls, v] : c.at("result").items()) {
        const size_t k = std::stoul(cls);
        want_targeted[k] = 1;
        if (kind == SamplingKind::kOver) {
          want_add[k] = v.get<int64_t>();
          want_target[k] = counts[k] + want_add[k];
        } else {
          want_target[k] = v.get<int64_t>();
        }
      }
      EXPECT_EQ(p.target, want_target);
      if (kind == SamplingKind::kOver) {
        EXPECT_EQ(p.n_add, want_add);
        EXPECT_EQ(p.total_remove(), 0);
      } else {
        for (size_t k = 0; k < counts.size(); ++k)
          EXPECT_EQ(p.n_remove[k], counts[k] - want_target[k]);
        EXPECT_EQ(p.total_add(), 0);
      }
    }
    EXPECT_EQ(p.targeted, want_targeted);
    ++n_ok;
  }
  EXPECT_GT(n_ok, 150u);
  EXPECT_GT(n_err, 150u);
}

TEST(Strategy, ParseForms) {
  using F = SamplingStrategy::Form;
  EXPECT_EQ(SamplingStrategy::parse(" auto ").form, F::kAuto);
  EXPECT_EQ(SamplingStrategy::parse("not-minority").form, F::kNotMinority);
  EXPECT_EQ(SamplingStrategy::parse("not_majority").form, F::kNotMajority);
  const auto r = SamplingStrategy::parse("0.5");
  EXPECT_EQ(r.form, F::kRatio);
  EXPECT_DOUBLE_EQ(r.ratio, 0.5);
  const auto d = SamplingStrategy::parse("fraud = 40, ok=100");
  ASSERT_EQ(d.form, F::kCounts);
  ASSERT_EQ(d.counts.size(), 2u);
  EXPECT_EQ(d.counts[0].first, "fraud");
  EXPECT_EQ(d.counts[0].second, 40);
  EXPECT_EQ(d.counts[1].first, "ok");
  const auto l = SamplingStrategy::parse("a,b");
  EXPECT_EQ(l.form, F::kClasses);
  EXPECT_EQ(l.classes, (std::vector<std::string>{"a", "b"}));
  // A class name may itself contain '=': the count follows the last one.
  EXPECT_EQ(SamplingStrategy::parse("x=y=3").counts[0].first, "x=y");
}

TEST(Strategy, ParseErrorsNameTheFlag) {
  for (const char* bad : {"", "a=", "a=1.5", "a=-2", "a=1,a=2", "a,,b", "=3", "a=1,b"}) {
    try {
      SamplingStrategy::parse(bad);
      ADD_FAILURE() << "no error for '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--strategy"), std::string::npos) << e.what();
    }
  }
  try {
    SamplingStrategy::parse("fraud=-3");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos) << e.what();
  }
}

TEST(Strategy, PlanErrorsAreSpecific) {
  const std::vector<std::string> names = {"ok", "fraud", "chargeback"};
  const std::vector<int64_t> counts = {900, 60, 40};
  std::string e = error_of("fraud=100,theft=3", counts, names, SamplingKind::kOver);
  EXPECT_NE(e.find("unknown class 'theft'"), std::string::npos) << e;
  EXPECT_NE(e.find("ok, fraud, chargeback"), std::string::npos) << e;
  e = error_of("0.5", counts, names, SamplingKind::kOver);
  EXPECT_NE(e.find("binary"), std::string::npos) << e;
  e = error_of("1.5", {90, 10}, {"a", "b"}, SamplingKind::kOver);
  EXPECT_NE(e.find("(0, 1]"), std::string::npos) << e;
  e = error_of("0.05", {90, 10}, {"a", "b"}, SamplingKind::kOver);
  EXPECT_NE(e.find("increase the ratio"), std::string::npos) << e;
  e = error_of("fraud=10", counts, names, SamplingKind::kOver);
  EXPECT_NE(e.find("at least 60"), std::string::npos) << e;
  e = error_of("fraud=100", counts, names, SamplingKind::kUnder);
  EXPECT_NE(e.find("at most 60"), std::string::npos) << e;
  e = error_of("fraud=10", counts, names, SamplingKind::kClean);
  EXPECT_NE(e.find("CLASS,CLASS"), std::string::npos) << e;
  e = error_of("fraud,ok", counts, names, SamplingKind::kOver);
  EXPECT_NE(e.find("only for cleaning"), std::string::npos) << e;
  e = error_of("auto", counts, names, SamplingKind::kOver, 0.5);
  EXPECT_NE(e.find("--max-ratio"), std::string::npos) << e;
  e = error_of("auto", {5, 0}, {"a", "b"}, SamplingKind::kOver);
  EXPECT_NE(e.find("at least 2 classes"), std::string::npos) << e;
}

TEST(Strategy, ClassesWithoutRowsAreIgnored) {
  // Class "empty" is a category no row uses (e.g. after a split); imblearn never sees it.
  const std::vector<std::string> names = {"a", "empty", "b"};
  const SamplingPlan p =
      plan_sampling(SamplingStrategy::parse("all"), {100, 0, 10}, names, SamplingKind::kOver);
  EXPECT_EQ(p.target, (std::vector<int64_t>{100, 0, 100}));
  EXPECT_EQ(p.targeted, (std::vector<uint8_t>{1, 0, 1}));
  // A binary ratio still works: two classes have rows.
  const SamplingPlan r =
      plan_sampling(SamplingStrategy::parse("0.5"), {100, 0, 10}, names, SamplingKind::kOver);
  EXPECT_EQ(r.n_add, (std::vector<int64_t>{0, 0, 40}));
  EXPECT_NE(error_of("empty=5", {100, 0, 10}, names, SamplingKind::kOver).find("no rows"),
            std::string::npos);
}

TEST(Strategy, SingleClassNameIsAListForCleaning) {
  const std::vector<std::string> names = {"0", "1"};
  const SamplingPlan p =
      plan_sampling(SamplingStrategy::parse("1"), {50, 10}, names, SamplingKind::kClean);
  EXPECT_EQ(p.clean, (std::vector<uint8_t>{0, 1}));
  // For over-sampling the same text is the ratio 1.0.
  const SamplingPlan q =
      plan_sampling(SamplingStrategy::parse("1"), {50, 10}, names, SamplingKind::kOver);
  EXPECT_EQ(q.n_add, (std::vector<int64_t>{0, 40}));
}

TEST(Strategy, MaxRatioCapsOverSampling) {
  const std::vector<std::string> names = {"maj", "mid", "rare"};
  const std::vector<int64_t> counts = {1000, 300, 7};
  // auto: mid and rare grow to 1000. Caps with R = 3: floor(3*300) = 900, floor(3*7) = 21.
  SamplingPlan p =
      plan_sampling(SamplingStrategy::parse("auto"), counts, names, SamplingKind::kOver, 3.0);
  EXPECT_EQ(p.target, (std::vector<int64_t>{1000, 900, 21}));
  EXPECT_EQ(p.n_add, (std::vector<int64_t>{0, 600, 14}));
  // R = 2.5: floor(2.5*7) = 17 (not 18); floor(2.5*300) = 750.
  p = plan_sampling(SamplingStrategy::parse("auto"), counts, names, SamplingKind::kOver, 2.5);
  EXPECT_EQ(p.target, (std::vector<int64_t>{1000, 750, 17}));
  EXPECT_EQ(p.total_add(), 450 + 10);
  // R = 1: nothing grows.
  p = plan_sampling(SamplingStrategy::parse("all"), counts, names, SamplingKind::kOver, 1.0);
  EXPECT_EQ(p.total_add(), 0);
  // The cap also bounds explicit counts; below the cap the count stands.
  p = plan_sampling(SamplingStrategy::parse("rare=100,mid=400"), counts, names, SamplingKind::kOver,
                    4.0);
  EXPECT_EQ(p.target, (std::vector<int64_t>{1000, 400, 28}));
  // A cap above every target changes nothing.
  p = plan_sampling(SamplingStrategy::parse("auto"), counts, names, SamplingKind::kOver, 1e6);
  EXPECT_EQ(p.target, (std::vector<int64_t>{1000, 1000, 1000}));
  // Under-sampling targets are below any cap >= 1: no change.
  p = plan_sampling(SamplingStrategy::parse("auto"), counts, names, SamplingKind::kUnder, 1.0);
  EXPECT_EQ(p.target, (std::vector<int64_t>{7, 7, 7}));
  EXPECT_EQ(p.n_remove, (std::vector<int64_t>{993, 293, 0}));
}

TEST(Strategy, WarnsWhenACountPassesTheMajority) {
  const SamplingPlan p =
      plan_sampling(SamplingStrategy::parse("b=150"), {100, 10}, {"a", "b"}, SamplingKind::kOver);
  EXPECT_EQ(p.n_add, (std::vector<int64_t>{0, 140}));
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_NE(p.warnings[0].find("majority"), std::string::npos);
}

TEST(Strategy, PlanFromTable) {
  Table t;
  t.add_column(Column::numeric("x", {1, 2, 3, 4, 5, 6}));
  t.add_column(Column::categorical("y", {"no", "yes"}, {0, 0, 0, 0, 1, 1}));
  t.set_target("y");
  const SamplingPlan p = plan_sampling("yes=3", t, SamplingKind::kOver);
  EXPECT_EQ(p.n_add, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(p.class_names, (std::vector<std::string>{"no", "yes"}));
  EXPECT_NE(p.describe().find("yes: 2 -> 3 (+1)"), std::string::npos) << p.describe();
}

}  // namespace
}  // namespace rareforge
