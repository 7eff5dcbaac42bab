// The k-NN engine against a brute-force double reference written here (full sort by
// (squared distance, index)), over shapes, data with ties and duplicates, every algorithm and
// SIMD kernel, thread counts and self-exclusion.
#include "classical/knn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "classical/knn_internal.h"
#include "core/error.h"
#include "core/rng.h"

namespace rareforge::knn {
namespace {

using detail::Simd;

/// The documented formula (knn.h): four partial sums over features j % 4, in increasing j,
/// combined as (s0 + s1) + (s2 + s3).
double ref_sq(const MatrixRM& a, size_t i, const MatrixRM& b, size_t j) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  for (Eigen::Index c = 0; c < a.cols(); ++c) {
    const double t = a(static_cast<Eigen::Index>(i), c) - b(static_cast<Eigen::Index>(j), c);
    s[c % 4] += t * t;
  }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

/// Reference: for query i (row qrow(i) of queries), all reference rows but self(i), sorted.
struct Expected {
  std::vector<int64_t> idx;
  std::vector<double> sq;
};

template <class QRow, class Self>
Expected reference_knn(const MatrixRM& ref, const MatrixRM& qry, size_t nq, size_t k, QRow qrow,
                       Self self) {
  Expected e;
  std::vector<std::pair<double, int64_t>> all;
  for (size_t i = 0; i < nq; ++i) {
    all.clear();
    for (size_t j = 0; j < static_cast<size_t>(ref.rows()); ++j) {
      if (static_cast<int64_t>(j) == self(i)) continue;
      all.emplace_back(ref_sq(qry, qrow(i), ref, j), static_cast<int64_t>(j));
    }
    // pair order is (squared distance, index): the tie rule.
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end());
    for (size_t r = 0; r < k; ++r) {
      e.sq.push_back(all[r].first);
      e.idx.push_back(all[r].second);
    }
  }
  return e;
}

std::string describe(size_t n_ref, size_t nq, size_t d, size_t k, const Options& o,
                     const std::string& data) {
  return "data=" + data + " n_ref=" + std::to_string(n_ref) + " n_q=" + std::to_string(nq) +
         " d=" + std::to_string(d) + " k=" + std::to_string(k) + " algo=" + to_string(o.algo) +
         " threads=" + std::to_string(o.threads) +
         " exclude_self=" + std::to_string(o.exclude_self) +
         " simd=" + detail::to_string(detail::active_simd());
}

void expect_same(const Result& got, const Expected& want, size_t nq, size_t k,
                 const std::string& what) {
  ASSERT_EQ(got.n_queries, nq) << what;
  ASSERT_EQ(got.k, k) << what;
  ASSERT_EQ(got.indices.size(), nq * k) << what;
  for (size_t t = 0; t < nq * k; ++t) {
    ASSERT_EQ(got.indices[t], want.idx[t])
        << what << " query " << t / k << " rank " << t % k << " (want distance "
        << std::sqrt(want.sq[t]) << ", got " << got.distances[t] << ")";
    const double w = std::sqrt(want.sq[t]);
    ASSERT_LE(std::fabs(got.distances[t] - w), 1e-12 * std::max(1.0, w))
        << what << " query " << t / k << " rank " << t % k;
  }
}

enum class Kind { kGauss, kGrid, kDuplicates, kOffset, kMixedScale, kTails };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kGauss:
      return "gauss";
    case Kind::kGrid:
      return "grid";
    case Kind::kDuplicates:
      return "duplicates";
    case Kind::kOffset:
      return "offset";
    case Kind::kMixedScale:
      return "mixed-scale";
    case Kind::kTails:
      return "tails";
  }
  return "?";
}

MatrixRM make_data(Kind kind, size_t n, size_t d, Rng& rng) {
  MatrixRM m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) {
      double v = 0;
      switch (kind) {
        case Kind::kGauss:
        case Kind::kDuplicates:
          v = rng.normal();
          break;
        case Kind::kGrid:  // few values: exact ties and duplicate rows everywhere
          v = static_cast<double>(rng.uniform_int(3));
          break;
        case Kind::kOffset:  // large common offset, small spread: cancellation
          v = 1e6 + 1e-3 * rng.normal();
          break;
        case Kind::kMixedScale:
          v = (j % 2 == 0 ? 1e4 : 1e-4) * rng.normal();
          break;
        case Kind::kTails:  // log-normal columns beside normal ones: skewed, far-out values
          v = j % 2 == 0 ? std::exp(1.5 * rng.normal()) : rng.normal();
          break;
      }
      m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = v;
    }
  }
  if (kind == Kind::kTails && n > 1) {
    // Every 60th row copies an earlier one but for one value set far out (both beyond the int8
    // screen's clip: the clipped rows coincide there), every 97th gets a large negative value.
    for (size_t i = 1; i < n; i += 60) {
      m.row(static_cast<Eigen::Index>(i)) = m.row(static_cast<Eigen::Index>(rng.uniform_int(i)));
      m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(rng.uniform_int(d))) =
          rng.uniform(200.0, 400.0);
    }
    for (size_t i = 0; i < n; i += 97)
      m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(rng.uniform_int(d))) = -300.0;
  }
  if (kind == Kind::kDuplicates && n > 1) {  // every third row copies an earlier one
    for (size_t i = 1; i < n; i += 3) {
      m.row(static_cast<Eigen::Index>(i)) = m.row(static_cast<Eigen::Index>(rng.uniform_int(i)));
    }
  }
  return m;
}

/// Every kernel this CPU can run.
std::vector<Simd> simd_levels() {
  std::vector<Simd> v;
  for (int s = 0; s <= static_cast<int>(detail::detected_simd()); ++s) {
    v.push_back(static_cast<Simd>(s));
  }
  return v;
}

/// Restores the detected kernel when a test ends.
struct SimdGuard {
  ~SimdGuard() { detail::override_simd(detail::detected_simd()); }
};

/// Every algorithm (and every SIMD kernel for brute force) and thread count on one problem.
void check_all_paths(const MatrixRM& ref, const MatrixRM& qry, size_t k, bool self,
                     const std::string& data) {
  SimdGuard guard;
  const size_t nq = static_cast<size_t>(qry.rows());
  const Expected want = reference_knn(
      ref, qry, nq, k, [](size_t i) { return i; },
      [&](size_t i) { return self ? static_cast<int64_t>(i) : int64_t{-1}; });
  for (Algo algo : {Algo::kAuto, Algo::kKdTree, Algo::kBrute}) {
    if (algo == Algo::kKdTree && ref.cols() == 0) continue;
    const std::vector<Simd> levels =
        algo == Algo::kBrute ? simd_levels() : std::vector<Simd>{detail::detected_simd()};
    for (Simd s : levels) {
      detail::override_simd(s);
      for (int threads : {1, 3}) {
        Options o;
        o.algo = algo;
        o.threads = threads;
        o.exclude_self = self;
        const std::string what = describe(static_cast<size_t>(ref.rows()), nq,
                                          static_cast<size_t>(ref.cols()), k, o, data);
        const Result r = self ? self_query(ref, k, o) : query(ref, qry, k, o);
        expect_same(r, want, nq, k, what);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(Knn, MatchesBruteForceReferenceOnManyShapes) {
  Rng rng(20240611);
  const std::vector<size_t> dims{1, 2, 5, 13, 40, 100};
  const std::vector<size_t> sizes{1, 2, 7, 60, 333};
  for (Kind kind : {Kind::kGauss, Kind::kGrid, Kind::kDuplicates}) {
    for (size_t d : dims) {
      for (size_t n : sizes) {
        const MatrixRM ref = make_data(kind, n, d, rng);
        const MatrixRM qry = make_data(kind, 1 + n / 2, d, rng);
        // queries != reference
        // (k = n only on small sizes; FullOrderKEqualsNMinusOne covers a large one.)
        for (size_t k : {size_t{1}, std::min<size_t>(4, n), n <= 60 ? n : size_t{17}}) {
          check_all_paths(ref, qry, k, false, kind_name(kind));
          if (::testing::Test::HasFatalFailure()) return;
        }
        // self query, k up to n - 1
        if (n >= 2) {
          for (size_t k : {size_t{1}, std::min<size_t>(6, n - 1), n <= 60 ? n - 1 : size_t{25}}) {
            check_all_paths(ref, ref, k, true, kind_name(kind));
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST(Knn, LargerProblemsAllPaths) {
  Rng rng(7);
  for (size_t d : {2, 13, 40}) {
    const MatrixRM ref = make_data(Kind::kDuplicates, 2000, d, rng);
    check_all_paths(ref, ref, 5, true, "duplicates");
    if (HasFatalFailure()) return;
    const MatrixRM grid = make_data(Kind::kGrid, 2000, d, rng);
    check_all_paths(grid, grid, 11, true, "grid");
    if (HasFatalFailure()) return;
  }
}

TEST(Knn, ManyQueriesReorderedInsideReportedInOrder) {
  // From 1,024 queries brute force searches them in a spatial order (knn_brute.cpp); results
  // must come back in the caller's order, for query(), query_rows() and duplicates.
  SimdGuard guard;
  Rng rng(41);
  const MatrixRM ref = make_data(Kind::kDuplicates, 4000, 9, rng);
  const MatrixRM qry = make_data(Kind::kGrid, 1500, 9, rng);
  std::vector<int64_t> rows;
  for (int64_t i = 3999; i >= 0; i -= 3) rows.push_back(i);  // 1,334 rows, descending
  const Expected want_q = reference_knn(
      ref, qry, 1500, 7, [](size_t i) { return i; }, [](size_t) { return int64_t{-1}; });
  const Expected want_r = reference_knn(
      ref, ref, rows.size(), 7, [&](size_t i) { return size_t(rows[i]); },
      [&](size_t i) { return rows[i]; });
  for (Simd s : simd_levels()) {
    detail::override_simd(s);
    for (int threads : {1, 2}) {
      Options o;
      o.algo = Algo::kBrute;
      o.threads = threads;
      expect_same(query(ref, qry, 7, o), want_q, 1500, 7, "query");
      expect_same(query_rows(ref, rows, 7, o), want_r, rows.size(), 7, "query_rows");
      if (HasFatalFailure()) return;
    }
  }
}

TEST(Knn, AutoChoosesByCostAndStaysExact) {
  // Large enough for kAuto to probe the kd-tree's cost (single thread).
  Rng rng(21);
  struct Case {
    size_t n, d;
    Kind kind;
  };
  for (const Case& c :
       {Case{6000, 2, Kind::kGauss}, Case{6000, 8, Kind::kGauss}, Case{3000, 40, Kind::kGrid}}) {
    const MatrixRM ref = make_data(c.kind, c.n, c.d, rng);
    const Expected want = reference_knn(
        ref, ref, c.n, 5, [](size_t i) { return i; }, [](size_t i) { return int64_t(i); });
    Options o;
    o.threads = 1;
    const Result r = self_query(ref, 5, o);
    expect_same(r, want, c.n, 5, describe(c.n, c.n, c.d, 5, o, kind_name(c.kind)));
    if (c.d == 2) {
      EXPECT_EQ(r.algo, Algo::kKdTree);
    } else if (c.d == 40) {
      EXPECT_EQ(r.algo, Algo::kBrute);
    }
  }
}

TEST(Knn, SelfJoinScreensEachPairOnce) {
  // self_query on the int8 screen visits each unordered pair once (knn_brute.cpp); odd and even
  // block counts, partial last panels, duplicates and grids.
  if (detail::detected_simd() != Simd::kAvx512Vnni) GTEST_SKIP() << "needs AVX-512 VNNI";
  struct PolicyGuard {
    PolicyGuard() { detail::set_join_policy(detail::JoinPolicy::kAlways); }
    ~PolicyGuard() { detail::set_join_policy(detail::JoinPolicy::kAuto); }
  } guard;
  Rng rng(31);
  struct Case {
    size_t n, d;
    Kind kind;
    size_t k;
  };
  for (const Case& c : {Case{3001, 20, Kind::kGauss, 6}, Case{1100, 7, Kind::kDuplicates, 1},
                        Case{2500, 13, Kind::kGrid, 4}, Case{1500, 64, Kind::kGauss, 11}}) {
    const MatrixRM ref = make_data(c.kind, c.n, c.d, rng);
    const Expected want = reference_knn(
        ref, ref, c.n, c.k, [](size_t i) { return i; }, [](size_t i) { return int64_t(i); });
    for (int threads : {1, 3}) {
      Options o;
      o.algo = Algo::kBrute;
      o.threads = threads;
      const Result r = self_query(ref, c.k, o);
      expect_same(r, want, c.n, c.k, describe(c.n, c.n, c.d, c.k, o, kind_name(c.kind)));
      EXPECT_TRUE(detail::last_brute_stats().self_join);
    }
  }
  // Near-ties both ways: a row with 1500 rows around it at distances 1 + t * 1e-9 (shuffled),
  // in the middle of the data so its pairs are screened from both sides.
  for (size_t d : {6, 24}) {
    const size_t n = 1501, centre = 700;
    MatrixRM ref(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
    for (size_t j = 0; j < d; ++j) ref(Eigen::Index(centre), Eigen::Index(j)) = rng.normal();
    std::vector<size_t> order = rng.permutation(n - 1);
    for (size_t t = 0; t + 1 < n; ++t) {
      Eigen::VectorXd u(static_cast<Eigen::Index>(d));
      for (size_t j = 0; j < d; ++j) u(Eigen::Index(j)) = rng.normal();
      u /= u.norm();
      const size_t row = order[t] < centre ? order[t] : order[t] + 1;
      ref.row(Eigen::Index(row)) =
          ref.row(Eigen::Index(centre)) + (1.0 + 1e-9 * static_cast<double>(t)) * u.transpose();
    }
    const Expected want = reference_knn(
        ref, ref, n, 40, [](size_t i) { return i; }, [](size_t i) { return int64_t(i); });
    Options o;
    o.algo = Algo::kBrute;
    o.threads = 2;
    expect_same(self_query(ref, 40, o), want, n, 40, describe(n, n, d, 40, o, "shell"));
    EXPECT_TRUE(detail::last_brute_stats().self_join);
  }
}

TEST(Knn, OutlyingValuesClippedOnTheInt8Screen) {
  // The int8 screen clips far-out values (knn_brute.cpp, choose_clip); every mode stays exact.
  Rng rng(77);
  for (size_t d : {3, 20}) {
    const MatrixRM ref = make_data(Kind::kTails, 3000, d, rng);
    const MatrixRM qry = make_data(Kind::kTails, 1100, d, rng);
    check_all_paths(ref, qry, 7, false, "tails");
    if (HasFatalFailure()) return;
    check_all_paths(ref, ref, 5, true, "tails");
    if (HasFatalFailure()) return;
  }
  if (detail::detected_simd() != Simd::kAvx512Vnni) GTEST_SKIP() << "needs AVX-512 VNNI";
  struct PolicyGuard {
    PolicyGuard() { detail::set_join_policy(detail::JoinPolicy::kAlways); }
    ~PolicyGuard() { detail::set_join_policy(detail::JoinPolicy::kAuto); }
  } guard;
  const size_t n = 2500, d = 12, nq = 300;
  const MatrixRM ref = make_data(Kind::kTails, n, d, rng);
  const MatrixRM qry = make_data(Kind::kTails, nq, d, rng);
  Options o;
  o.algo = Algo::kBrute;
  o.threads = 2;
  // Plain search: the stats show the clip was taken.
  const Expected want_q = reference_knn(
      ref, qry, nq, 9, [](size_t i) { return i; }, [](size_t) { return int64_t{-1}; });
  expect_same(query(ref, qry, 9, o), want_q, nq, 9, "tails query");
  detail::BruteStats st = detail::last_brute_stats();
  EXPECT_TRUE(st.int8);
  EXPECT_GT(st.clip_ratio, 2.0);
  // The self-join.
  const Expected want_s = reference_knn(
      ref, ref, n, 6, [](size_t i) { return i; }, [](size_t i) { return int64_t(i); });
  expect_same(self_query(ref, 6, o), want_s, n, 6, "tails self-join");
  st = detail::last_brute_stats();
  EXPECT_TRUE(st.self_join);
  EXPECT_GT(st.clip_ratio, 2.0);
  // Counting within one radius and within each reference row's own radius.
  const double radius = 4.0;
  std::vector<double> radii(n);
  for (size_t j = 0; j < n; ++j) radii[j] = rng.uniform(0.0, 8.0);
  radii[17] = 1000.0;  // a ball around an outlying row
  std::vector<int64_t> want_r(nq, 0), want_b(nq, 0);
  for (size_t i = 0; i < nq; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const double sq = ref_sq(qry, i, ref, j);
      want_r[i] += sq <= radius * radius;
      want_b[i] += sq <= radii[j] * radii[j];
    }
  }
  EXPECT_EQ(count_within(ref, qry, radius, o), want_r);
  EXPECT_GT(detail::last_brute_stats().clip_ratio, 2.0);
  EXPECT_EQ(count_within_balls(ref, qry, radii, o), want_b);
  EXPECT_TRUE(detail::last_brute_stats().int8);
}

TEST(Knn, ProgressScopeReportsLongSearches) {
  Rng rng(3);
  const MatrixRM x = make_data(Kind::kGauss, 3000, 8, rng);
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 3000; i += 6) rows.push_back(i);  // 500 rows
  Options o;
  o.algo = Algo::kBrute;
  o.threads = 2;
  const Result want_self = self_query(x, 5, o), want_rows = query_rows(x, rows, 5, o);
  {
    // Work above the scope's threshold: one final line per search (the self-join's rounds or
    // the plain search's blocks add up to every row), the same results.
    const ProgressScope scope("test", /*quiet=*/false, /*min_work=*/0);
    EXPECT_EQ(ProgressScope::current(), &scope);
    testing::internal::CaptureStderr();
    const Result a = self_query(x, 5, o);
    const Result b = query_rows(x, rows, 5, o);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("test neighbours  3000/3000 rows  100%"), std::string::npos) << err;
    EXPECT_NE(err.find("test neighbours  500/500 rows  100%"), std::string::npos) << err;
    EXPECT_EQ(a.indices, want_self.indices);
    EXPECT_EQ(b.indices, want_rows.indices);
    {
      const ProgressScope quiet("inner", /*quiet=*/true, 0);  // nested: the innermost counts
      testing::internal::CaptureStderr();
      (void)self_query(x, 5, o);
      EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    }
    EXPECT_EQ(ProgressScope::current(), &scope);
  }
  EXPECT_EQ(ProgressScope::current(), nullptr);
  // No scope, or work below its threshold (the default, seconds of work): nothing.
  testing::internal::CaptureStderr();
  (void)self_query(x, 5, o);
  {
    const ProgressScope scope("small", false);
    (void)query_rows(x, rows, 5, o);
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(Knn, FullOrderKEqualsNMinusOne) {
  Rng rng(8);
  const MatrixRM ref = make_data(Kind::kGrid, 600, 5, rng);
  check_all_paths(ref, ref, 599, true, "grid");
}

TEST(Knn, HardNumerics) {
  Rng rng(99);
  for (Kind kind : {Kind::kOffset, Kind::kMixedScale}) {
    for (size_t d : {2, 20}) {
      const MatrixRM ref = make_data(kind, 500, d, rng);
      const MatrixRM qry = make_data(kind, 77, d, rng);
      check_all_paths(ref, qry, 7, false, kind_name(kind));
      if (HasFatalFailure()) return;
      check_all_paths(ref, ref, 7, true, kind_name(kind));
      if (HasFatalFailure()) return;
    }
  }
  // Tiny values (squares underflow-prone) and huge ones.
  for (double scale : {1e-160, 1e-30, 1e30, 1e140}) {
    MatrixRM ref = make_data(Kind::kGauss, 200, 17, rng) * scale;
    check_all_paths(ref, ref, 3, true, "scaled " + std::to_string(scale));
    if (HasFatalFailure()) return;
  }
  // Points far from the reference (queries outside the data's box).
  MatrixRM ref = make_data(Kind::kGauss, 300, 20, rng);
  MatrixRM qry = make_data(Kind::kGauss, 40, 20, rng).array() + 50.0;
  check_all_paths(ref, qry, 9, false, "far queries");
}

TEST(Knn, NearTiesBelowFloatResolution) {
  // Reference rows on thin shells around each query, radii 1 + t * 1e-9 in shuffled order:
  // single precision cannot tell them apart, so only a correct error bound plus exact
  // re-ranking returns the right order.
  Rng rng(17);
  for (size_t d : {3, 20, 64}) {
    const size_t n_q = 4, per = 300;
    MatrixRM qry(static_cast<Eigen::Index>(n_q), static_cast<Eigen::Index>(d));
    MatrixRM ref(static_cast<Eigen::Index>(n_q * per), static_cast<Eigen::Index>(d));
    std::vector<size_t> order = rng.permutation(n_q * per);
    for (size_t i = 0; i < n_q; ++i) {
      for (size_t j = 0; j < d; ++j) qry(Eigen::Index(i), Eigen::Index(j)) = 3.0 * rng.normal();
      for (size_t t = 0; t < per; ++t) {
        Eigen::VectorXd u(static_cast<Eigen::Index>(d));
        for (size_t j = 0; j < d; ++j) u(Eigen::Index(j)) = rng.normal();
        u /= u.norm();
        const double radius = 1.0 + 1e-9 * static_cast<double>(t);
        ref.row(Eigen::Index(order[i * per + t])) =
            qry.row(Eigen::Index(i)) + radius * u.transpose();
      }
    }
    check_all_paths(ref, qry, 60, false, "shells");
    if (HasFatalFailure()) return;
  }
}

TEST(Knn, AllRowsIdenticalTiesGoByIndex) {
  // 1,300 rows: brute force takes the self-join, which runs on a spatially reordered copy and
  // must still order ties by the original row index.
  MatrixRM ref = MatrixRM::Constant(1300, 16, 3.25);
  for (Algo algo : {Algo::kKdTree, Algo::kBrute}) {
    Options o;
    o.algo = algo;
    o.threads = 2;
    const Result r = self_query(ref, 4, o);
    for (size_t i = 0; i < 1300; ++i) {
      std::vector<int64_t> want;
      for (int64_t j = 0; want.size() < 4; ++j) {
        if (j != static_cast<int64_t>(i)) want.push_back(j);
      }
      for (size_t t = 0; t < 4; ++t) {
        EXPECT_EQ(r.index(i, t), want[t]) << to_string(algo) << " row " << i;
        EXPECT_EQ(r.distance(i, t), 0.0);
      }
    }
  }
}

TEST(Knn, ZeroFeatures) {
  MatrixRM ref(5, 0);
  const Result r = self_query(ref, 2, Options{});
  EXPECT_EQ(r.index(0, 0), 1);
  EXPECT_EQ(r.index(0, 1), 2);
  EXPECT_EQ(r.index(3, 0), 0);
  EXPECT_EQ(r.index(3, 1), 1);
}

TEST(Knn, QueryRowsExcludeTheirOwnRow) {
  Rng rng(3);
  for (size_t d : {3, 30}) {
    const MatrixRM data = make_data(Kind::kDuplicates, 800, d, rng);
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < 800; i += 7) rows.push_back(i);
    rows.push_back(5);  // repeated and unordered rows are fine
    rows.push_back(5);
    const Expected want = reference_knn(
        data, data, rows.size(), 11, [&](size_t i) { return static_cast<size_t>(rows[i]); },
        [&](size_t i) { return rows[i]; });
    for (Algo algo : {Algo::kAuto, Algo::kKdTree, Algo::kBrute}) {
      for (int threads : {1, 2}) {
        Options o;
        o.algo = algo;
        o.threads = threads;
        expect_same(query_rows(data, rows, 11, o), want, rows.size(), 11,
                    "query_rows d=" + std::to_string(d) + " " + to_string(algo));
      }
    }
  }
}

TEST(Knn, EmptyQueries) {
  MatrixRM ref = MatrixRM::Random(10, 3);
  MatrixRM qry(0, 3);
  const Result r = query(ref, qry, 3);
  EXPECT_EQ(r.n_queries, 0u);
  EXPECT_TRUE(r.indices.empty());
  EXPECT_TRUE(query_rows(ref, {}, 2).indices.empty());
}

TEST(Knn, NearestDistances) {
  Rng rng(11);
  const MatrixRM ref = make_data(Kind::kGauss, 700, 20, rng);
  const MatrixRM qry = make_data(Kind::kGauss, 90, 20, rng);
  const std::vector<double> got = nearest_distances(ref, qry);
  ASSERT_EQ(got.size(), 90u);
  for (size_t i = 0; i < 90; ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < 700; ++j) best = std::min(best, ref_sq(qry, i, ref, j));
    EXPECT_DOUBLE_EQ(got[i], std::sqrt(best)) << "query " << i;
  }
}

TEST(Knn, CountWithinRadiusAndBalls) {
  SimdGuard guard;
  Rng rng(5);
  for (Kind kind : {Kind::kGauss, Kind::kGrid}) {
    for (size_t d : {2, 5, 24}) {
      const MatrixRM ref = make_data(kind, 400, d, rng);
      const MatrixRM qry = make_data(kind, 60, d, rng);
      // Radii that hit exact distances of the grid (sqrt of integers) and arbitrary ones.
      const double radius = kind == Kind::kGrid ? std::sqrt(3.0) : std::sqrt(double(d));
      std::vector<double> radii(400);
      for (size_t j = 0; j < 400; ++j) {
        radii[j] = kind == Kind::kGrid ? std::sqrt(double(rng.uniform_int(4)))
                                       : rng.uniform(0.0, std::sqrt(2.0 * double(d)));
      }
      std::vector<int64_t> want_r(60, 0), want_b(60, 0), want_self(400, 0);
      for (size_t i = 0; i < 60; ++i) {
        for (size_t j = 0; j < 400; ++j) {
          const double s = ref_sq(qry, i, ref, j);
          want_r[i] += s <= radius * radius;
          want_b[i] += s <= radii[j] * radii[j];
        }
      }
      for (size_t i = 0; i < 400; ++i) {
        for (size_t j = 0; j < 400; ++j) {
          want_self[i] += i != j && ref_sq(ref, i, ref, j) <= radius * radius;
        }
      }
      for (Algo algo : {Algo::kKdTree, Algo::kBrute}) {
        for (Simd s : simd_levels()) {
          detail::override_simd(s);
          Options o;
          o.algo = algo;
          o.threads = 2;
          const std::string what = std::string(kind_name(kind)) + " d=" + std::to_string(d) + " " +
                                   to_string(algo) + " " + detail::to_string(s);
          EXPECT_EQ(count_within(ref, qry, radius, o), want_r) << what;
          EXPECT_EQ(count_within_balls(ref, qry, radii, o), want_b) << what;
          o.exclude_self = true;
          EXPECT_EQ(count_within(ref, ref, radius, o), want_self) << what;
        }
      }
    }
  }
}

/// The message of the InputError fn throws (fails the test if it throws nothing or another
/// type).
template <class Fn>
std::string input_error(Fn fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InputError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected InputError, nothing thrown";
  return "";
}

TEST(Knn, InputErrors) {
  MatrixRM a = MatrixRM::Random(10, 4);
  MatrixRM b = MatrixRM::Random(3, 5);
  EXPECT_NE(input_error([&] { query(a, b, 1); }).find("5 features"), std::string::npos);
  EXPECT_NE(input_error([&] { query(a, a, 0); }).find("k must be at least 1"), std::string::npos);
  EXPECT_NE(input_error([&] { query(a, a, 11); }).find("k = 11"), std::string::npos);
  EXPECT_NO_THROW(query(a, a, 10));
  EXPECT_NE(input_error([&] { self_query(a, 10); }).find("only 9"), std::string::npos);
  EXPECT_NO_THROW(self_query(a, 9));
  Options self;
  self.exclude_self = true;
  const MatrixRM three = MatrixRM::Random(3, 4);
  EXPECT_NE(input_error([&] { query(a, three, 1, self); }).find("exclude_self"), std::string::npos);
  EXPECT_NE(input_error([&] { query_rows(a, {0, 10}, 1); }).find("row 10"), std::string::npos);
  const MatrixRM one = MatrixRM::Random(1, 3);
  EXPECT_NE(input_error([&] { self_query(one, 1); }).find("only 0"), std::string::npos);

  MatrixRM nan = a;
  nan(7, 3) = std::numeric_limits<double>::quiet_NaN();
  nan(8, 1) = std::numeric_limits<double>::quiet_NaN();
  const std::string msg = input_error([&] { self_query(nan, 2); });
  EXPECT_NE(msg.find("feature 3 of row 7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("NaN"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--impute median"), std::string::npos) << msg;
  MatrixRM inf = a;
  inf(2, 0) = -std::numeric_limits<double>::infinity();
  EXPECT_NE(input_error([&] { query(a, inf, 1); }).find("feature 0 of row 2 of the query rows"),
            std::string::npos);
  MatrixRM huge = a;
  huge(4, 2) = 1e200;
  EXPECT_NE(input_error([&] { self_query(huge, 1); }).find("feature 2 of row 4"),
            std::string::npos);
  EXPECT_NE(input_error([&] { count_within(a, a, -1.0); }).find("radius"), std::string::npos);
  EXPECT_NE(input_error([&] { count_within_balls(a, a, {1.0}); }).find("1 radii"),
            std::string::npos);
}

}  // namespace
}  // namespace rareforge::knn
