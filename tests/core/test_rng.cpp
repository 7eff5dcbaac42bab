#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "core/rng.h"

namespace rareforge {
namespace {

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
  }
  Rng a2(42);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += a2.next() == c.next();
  EXPECT_EQ(same, 0);
}

TEST(Rng, DerivedStreamsAreIndependentOfEachOther) {
  Rng s1 = Rng::derive(7, 1), s2 = Rng::derive(7, 2), s1b = Rng::derive(7, 1);
  EXPECT_NE(s1.next(), s2.next());
  Rng s1c = Rng::derive(7, 1);
  EXPECT_EQ(s1b.next(), s1c.next());
}

TEST(Rng, UniformIntIsInRangeAndRoughlyUniform) {
  Rng r(1);
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) {
    const uint64_t v = r.uniform_int(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  // Each cell ~ Binomial(70000, 1/7): sd ~ 92; 6 sd bound.
  for (int c : counts) EXPECT_NEAR(c, n / 7, 560);
}

TEST(Rng, NormalHasUnitMoments) {
  Rng r(3);
  const int n = 200000;
  double s = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = r.normal();
    s += x;
    s2 += x * x;
  }
  EXPECT_NEAR(s / n, 0.0, 0.015);  // sd of mean 0.0022
  EXPECT_NEAR(s2 / n, 1.0, 0.02);  // sd of mean square 0.0032
}

TEST(Rng, PermutationIsAPermutation) {
  Rng r(5);
  auto p = r.permutation(1000);
  std::set<size_t> s(p.begin(), p.end());
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(*s.rbegin(), 999u);
}

}  // namespace
}  // namespace rareforge
