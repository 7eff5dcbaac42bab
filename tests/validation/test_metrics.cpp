// MMD, DCR and PRDC against brute-force double-precision references on random data, and the
// tiled MMD against the untiled one for several tile sizes and thread counts.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/rng.h"
#include "validation/dcr.h"
#include "validation/mmd.h"
#include "validation/validate.h"

namespace rareforge::validation {
namespace {

constexpr double kRel = 1e-9;  // tiled vs untiled, engine vs brute force

MatrixRM random_matrix(size_t n, size_t d, double shift, Rng& rng) {
  MatrixRM m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d; ++j)
      m(Eigen::Index(i), Eigen::Index(j)) = rng.normal() * (1.0 + 0.1 * double(j)) + shift;
  return m;
}

/// Runs the MMD kernels compiled for baseline x86-64 while alive (detail::mmd_force_portable).
struct PortableMmd {
  explicit PortableMmd(bool on) : old(detail::mmd_force_portable(on)) {}
  ~PortableMmd() { detail::mmd_force_portable(old); }
  bool old;
};

TEST(Mmd, TiledEqualsBruteForceReference) {
  for (bool portable : {false, true}) {
    SCOPED_TRACE(portable ? "portable kernel" : "the CPU's kernel");
    PortableMmd guard(portable);
    Rng rng(7);
    for (const auto& [m, n, d] : {std::tuple<size_t, size_t, size_t>{37, 53, 3},
                                  {120, 90, 11},
                                  {257, 255, 20},
                                  {2, 2, 1}}) {
      const MatrixRM X = random_matrix(m, d, 0.0, rng), Y = random_matrix(n, d, 0.4, rng);
      const double s = median_heuristic(X, Y, 2000, rng);
      double ref[6];
      mmd_sums_reference(X, Y, s, ref);
      for (size_t tile : {8u, 24u, 64u, 256u, 4096u})
        for (int threads : {1, 3}) {
          double got[6];
          mmd_sums(X, Y, s, tile, threads, got);
          for (int k = 0; k < 6; ++k)
            EXPECT_NEAR(got[k], ref[k], kRel * std::fabs(ref[k]))
                << "m=" << m << " n=" << n << " d=" << d << " tile=" << tile << " sum " << k;
          for (int off : {0, 3}) {
            const double want = mmd2_from_sums(ref, m, n, off);
            const double have = mmd2_from_sums(got, m, n, off);
            // MMD^2 is a difference of sums: bound its error by the sums' size.
            EXPECT_NEAR(have, want,
                        1e-11 * (std::fabs(ref[off]) + std::fabs(ref[off + 2])) / double(m * m))
                << "m=" << m << " n=" << n << " tile=" << tile;
          }
        }
    }
  }
}

TEST(Mmd, FarApartAndOffCentreRowsStayExact) {
  // Rows far from the origin (the kernels skip their range clamp only when the norms prove it
  // unneeded) and pairs whose kernel underflows: X near 0 and Y near 200 with s = 1 give
  // exponents far below the -1000 (base 2) the kernels clamp at, where exp(.) is 0.
  Rng rng(23);
  const MatrixRM X = random_matrix(41, 3, 0.0, rng), Y = random_matrix(30, 3, 200.0, rng);
  const MatrixRM U = random_matrix(37, 4, 100.0, rng), V = random_matrix(29, 4, 100.5, rng);
  for (bool portable : {false, true}) {
    PortableMmd guard(portable);
    for (const auto& [A, B, s] : {std::tuple<const MatrixRM*, const MatrixRM*, double>{&X, &Y, 1.0},
                                  {&U, &V, median_heuristic(U, V, 2000, rng)}}) {
      double ref[6], got[6];
      mmd_sums_reference(*A, *B, s, ref);
      mmd_sums(*A, *B, s, 16, 2, got);
      for (int k = 0; k < 6; ++k)
        EXPECT_NEAR(got[k], ref[k], kRel * std::fabs(ref[k]) + 1e-290)
            << "portable=" << portable << " s=" << s << " sum " << k;
    }
  }
}

/// A table by kind and its dense standardised one-hot equivalent: 2 numeric columns, and
/// categorical columns of 3 and 6 categories with missing codes and a category no row has;
/// one-hot column k of a categorical column is (1{code = k} - mean_k) / sd_k.
struct MixedCase {
  MixedRows rows;
  MatrixRM dense;
};

MixedCase mixed_case(size_t n, double shift, const std::vector<std::vector<double>>& mean,
                     const std::vector<std::vector<double>>& sd, Rng& rng) {
  MixedCase c;
  c.rows.numeric.resize(Eigen::Index(n), 2);
  c.rows.codes.resize(Eigen::Index(n), 2);
  c.dense.resize(Eigen::Index(n), 2 + 3 + 6);
  for (Eigen::Index i = 0; i < Eigen::Index(n); ++i) {
    c.rows.numeric(i, 0) = c.dense(i, 0) = rng.normal() + shift;
    c.rows.numeric(i, 1) = c.dense(i, 1) = rng.normal() * 0.5;
    Eigen::Index off = 2;
    for (size_t k = 0; k < 2; ++k) {
      const size_t n_cat = mean[k].size();
      // Category n_cat - 1 never occurs; about 10% missing (-1).
      const double code = rng.uniform() < 0.1 ? -1.0 : double(rng.uniform_int(n_cat - 1));
      c.rows.codes(i, Eigen::Index(k)) = code;
      for (size_t j = 0; j < n_cat; ++j)
        c.dense(i, off + Eigen::Index(j)) =
            ((code == double(j) ? 1.0 : 0.0) - mean[k][j]) / sd[k][j];
      off += Eigen::Index(n_cat);
    }
  }
  return c;
}

TEST(Mmd, MixedRowsEqualTheDenseOneHotSums) {
  Rng rng(13);
  const std::vector<std::vector<double>> mean = {{0.2, 0.5, 0.0}, {0.1, 0.3, 0.2, 0.1, 0.3, 0.0}};
  const std::vector<std::vector<double>> sd = {{0.4, 0.5, 1.0}, {0.3, 0.46, 0.4, 0.3, 0.46, 1.0}};
  CategoryWeights w;
  for (const auto& v : sd) {
    std::vector<double> wk;
    for (double x : v) wk.push_back(1.0 / (x * x));
    w.push_back(wk);
  }
  for (const auto& [m, n] : {std::pair<size_t, size_t>{37, 53}, {130, 9}, {2, 2}}) {
    const MixedCase X = mixed_case(m, 0.0, mean, sd, rng), Y = mixed_case(n, 0.3, mean, sd, rng);
    const double s = median_heuristic(X.dense, Y.dense, 2000, rng);
    double ref[6];
    mmd_sums_reference(X.dense, Y.dense, s, ref);
    for (bool portable : {false, true})
      for (size_t tile : {8u, 64u, 4096u})
        for (int threads : {1, 3}) {
          PortableMmd guard(portable);
          double got[6];
          mmd_sums_mixed(X.rows, Y.rows, w, s, tile, threads, got);
          for (int k = 0; k < 6; ++k)
            EXPECT_NEAR(got[k], ref[k], kRel * std::fabs(ref[k]))
                << "m=" << m << " n=" << n << " tile=" << tile << " sum " << k;
        }
    // Through mmd(): the mixed rows give the dense rows' answer.
    MmdOptions dense_opt, mixed_opt;
    dense_opt.permutations = mixed_opt.permutations = 30;
    mixed_opt.mixed_x = &X.rows;
    mixed_opt.mixed_y = &Y.rows;
    mixed_opt.weights = &w;
    Rng r1(5), r2(5);
    const MmdResult a = mmd(X.dense, Y.dense, dense_opt, r1);
    const MmdResult b = mmd(X.dense, Y.dense, mixed_opt, r2);
    EXPECT_NEAR(b.mmd2, a.mmd2, 1e-9 * (std::fabs(a.mmd2) + 1e-12));
    EXPECT_EQ(b.p_value, a.p_value);
  }
}

TEST(Mmd, HandComputedTwoPoints) {
  // X = {0, 1}, Y = {0, 3} in one dimension, s = 1:
  // MMD^2_u = 2 k(0,1) / 2 + 2 k(0,3) / 2 - 2 (k(0,0) + k(0,3) + k(1,0) + k(1,3)) / 4.
  MatrixRM X(2, 1), Y(2, 1);
  X << 0, 1;
  Y << 0, 3;
  auto k = [](double d) { return std::exp(-d * d / 2); };
  const double want = k(1) + k(3) - 0.5 * (k(0) + k(3) + k(1) + k(2));
  double sums[6];
  mmd_sums(X, Y, 1.0, 256, 1, sums);
  EXPECT_NEAR(mmd2_from_sums(sums, 2, 2, 0), want, 1e-15);
}

TEST(Mmd, PermutationPValueSeparatesShiftFromSame) {
  Rng rng(11);
  const MatrixRM X = random_matrix(150, 4, 0.0, rng);
  const MatrixRM same = random_matrix(150, 4, 0.0, rng);
  const MatrixRM far = random_matrix(150, 4, 1.0, rng);
  MmdOptions opt;
  opt.permutations = 200;
  Rng r1(1), r2(1);
  const MmdResult a = mmd(X, same, opt, r1);
  const MmdResult b = mmd(X, far, opt, r2);
  EXPECT_GT(a.p_value, 0.01);
  EXPECT_NEAR(b.p_value, 1.0 / 201.0, 1e-15);  // no permutation reaches a real shift
  EXPECT_GT(b.mmd2, a.mmd2);
  EXPECT_EQ(a.perm_rows_x, 150u);
  // Same seed, same answer.
  Rng r3(1);
  EXPECT_EQ(mmd(X, same, opt, r3).p_value, a.p_value);
}

TEST(Mmd, RejectsBadInput) {
  Rng rng(1);
  const MatrixRM X = random_matrix(5, 3, 0, rng), Y = random_matrix(5, 2, 0, rng);
  EXPECT_THROW(mmd(X, Y, {}, rng), InputError);
  const MatrixRM one = random_matrix(1, 3, 0, rng);
  EXPECT_THROW(mmd(X, one, {}, rng), InputError);
  MatrixRM bad = X;
  bad(2, 1) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(mmd(bad, X, {}, rng), InputError);
}

Table mixed_table(size_t n, double shift, Rng& rng, bool with_missing) {
  Table t;
  std::vector<double> a(n), b(n);
  std::vector<int32_t> c(n), y(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = std::round((rng.normal() + shift) * 10) / 10;  // ties on purpose
    b[i] = rng.uniform(0, 100);
    c[i] = int32_t(rng.uniform_int(4));
    y[i] = int32_t(rng.uniform_int(2));
    if (with_missing && rng.uniform() < 0.1) b[i] = std::numeric_limits<double>::quiet_NaN();
    if (with_missing && rng.uniform() < 0.1) c[i] = -1;
  }
  t.add_column(Column::numeric("a", a));
  t.add_column(Column::numeric("b", b));
  t.add_column(Column::categorical("c", {"p", "q", "r", "s"}, c));
  t.add_column(Column::categorical("y", {"no", "yes"}, y));
  t.set_target("y");
  return t;
}

TEST(Dcr, EqualsSdmetricsFormulaBruteForce) {
  Rng rng(3);
  for (bool missing : {false, true})
    for (const auto& [nr, ns] : {std::pair<size_t, size_t>{50, 31}, {203, 97}, {9, 1}}) {
      const Table real = mixed_table(nr, 0, rng, missing);
      const Table syn = mixed_table(ns, 0.5, rng, missing);
      const DcrScale scale = dcr_scale(real);
      const DcrNearest ref = dcr_nearest_reference(real, syn, scale);
      for (int threads : {1, 2}) {
        const DcrNearest got =
            dcr_nearest(dcr_encode(real, scale), dcr_encode(syn, scale), threads);
        ASSERT_EQ(got.distance.size(), ns);
        for (size_t i = 0; i < ns; ++i) {
          EXPECT_NEAR(got.distance[i], ref.distance[i], kRel * ref.distance[i] + 1e-15)
              << "nr=" << nr << " ns=" << ns << " row " << i << " missing=" << missing;
          // The index may differ only between rows at the same distance.
          const std::vector<size_t> one = {size_t(got.index[i])};
          const DcrNearest back = dcr_nearest_reference(real.select(one), syn.select({i}), scale);
          EXPECT_NEAR(back.distance[0], ref.distance[i], kRel * ref.distance[i] + 1e-15);
        }
      }
    }
}

/// dcr_nearest's definition on encoded matrices: the double sum of min(|q_j - r_j|, 1) in
/// column order, the first smallest reference row.
DcrNearest dcr_scan(const MatrixRM& R, const MatrixRM& Q) {
  DcrNearest out;
  const size_t d = size_t(R.cols());
  for (Eigen::Index i = 0; i < Q.rows(); ++i) {
    double best = std::numeric_limits<double>::infinity();
    int64_t bi = -1;
    for (Eigen::Index k = 0; k < R.rows(); ++k) {
      double s = 0;
      for (size_t j = 0; j < d; ++j)
        s += std::min(std::fabs(Q(i, Eigen::Index(j)) - R(k, Eigen::Index(j))), 1.0);
      if (s < best) {
        best = s;
        bi = k;
      }
    }
    out.distance.push_back(best / double(d));
    out.index.push_back(bi);
  }
  return out;
}

TEST(Dcr, FloatScreenGivesTheExactDoubleResult) {
  // Columns the float screen finds hard: two clusters 1e5 apart whose values differ by 1e-3
  // (float spacing there is 0.004, so float sums mis-rank rows unless the bound is right),
  // exact ties, category codes, missing values, a capped column; 37 rows pad the last panel.
  Rng rng(11);
  for (bool portable : {false, true}) {
    const bool before = detail::dcr_force_portable(portable);
    for (size_t n : {37, 300}) {
      const size_t d = 7;
      MatrixRM R(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
      MatrixRM Q(static_cast<Eigen::Index>(n / 2 + 3), static_cast<Eigen::Index>(d));
      for (MatrixRM* m : {&R, &Q})
        for (Eigen::Index i = 0; i < m->rows(); ++i) {
          (*m)(i, 0) = (rng.uniform() < 0.5 ? 0.0 : 1e5) + 1e-3 * double(rng.uniform_int(7));
          (*m)(i, 1) = std::round(rng.uniform(0, 1) * 8) / 8;             // ties
          (*m)(i, 2) = double(rng.uniform_int(3));                        // category codes
          (*m)(i, 3) = rng.uniform() < 0.2 ? 1e300 : rng.normal() * 0.1;  // missing
          (*m)(i, 4) = rng.normal() * 5;                                  // mostly capped at 1
          (*m)(i, 5) = -3e4 + rng.uniform(0, 1);
          (*m)(i, 6) = rng.uniform() < 0.5 ? 0.0 : 1e-12;
        }
      for (Eigen::Index i = 0; i < 3; ++i) Q.row(i) = R.row(i * 5);  // exact copies
      const DcrNearest want = dcr_scan(R, Q);
      for (int threads : {1, 2}) {
        const DcrNearest got = dcr_nearest(R, Q, threads);
        for (size_t i = 0; i < want.distance.size(); ++i) {
          EXPECT_EQ(got.distance[i], want.distance[i]) << "row " << i << " n " << n;
          EXPECT_EQ(got.index[i], want.index[i]) << "row " << i << " n " << n;
        }
      }
    }
    // Rows that differ only in column 0, by 1e-3, next to a row at 0 that puts the column's
    // centre at 5e4: float sums there are off by up to 0.002, more than the gaps between rows.
    MatrixRM R(41, 2), Q(40, 2);
    std::vector<size_t> order = rng.permutation(40);
    for (size_t i = 0; i < 40; ++i) {
      R(Eigen::Index(i), 0) = 1e5 + 1e-3 * double(order[i]);
      R(Eigen::Index(i), 1) = 0.25;
    }
    R(40, 0) = 0;
    R(40, 1) = 0.25;
    for (Eigen::Index i = 0; i < Q.rows(); ++i) {
      Q(i, 0) = 1e5 + 1e-3 * (0.97 * double(i) + 0.3);
      Q(i, 1) = 0.25;
    }
    const DcrNearest want = dcr_scan(R, Q);
    const DcrNearest got = dcr_nearest(R, Q, 1);
    for (Eigen::Index i = 0; i < Q.rows(); ++i) {
      EXPECT_EQ(got.distance[size_t(i)], want.distance[size_t(i)]) << "query " << i;
      EXPECT_EQ(got.index[size_t(i)], want.index[size_t(i)]) << "query " << i;
    }
    detail::dcr_force_portable(before);
  }
}

TEST(Dcr, ExactCopyHasDistanceZero) {
  Rng rng(5);
  const Table real = mixed_table(40, 0, rng, true);
  const DcrScale scale = dcr_scale(real);
  const DcrNearest got =
      dcr_nearest(dcr_encode(real, scale), dcr_encode(real.select({7, 7, 39}), scale), 1);
  EXPECT_EQ(got.distance[0], 0.0);
  EXPECT_EQ(got.distance[2], 0.0);
}

/// PRDC by definition, O(n^2) with direct distances.
Prdc prdc_brute(const MatrixRM& R, const MatrixRM& S, int k) {
  const size_t N = size_t(R.rows()), M = size_t(S.rows()), d = size_t(R.cols());
  auto dist = [&](const MatrixRM& A, size_t i, const MatrixRM& B, size_t j) {
    double s = 0;
    for (size_t c = 0; c < d; ++c) {
      const double v = A(Eigen::Index(i), Eigen::Index(c)) - B(Eigen::Index(j), Eigen::Index(c));
      s += v * v;
    }
    return std::sqrt(s);
  };
  auto radii = [&](const MatrixRM& A) {
    std::vector<double> r(size_t(A.rows()));
    for (size_t i = 0; i < r.size(); ++i) {
      std::vector<double> ds;
      for (size_t j = 0; j < r.size(); ++j)
        if (j != i) ds.push_back(dist(A, i, A, j));
      std::nth_element(ds.begin(), ds.begin() + (k - 1), ds.end());
      r[i] = ds[size_t(k - 1)];
    }
    return r;
  };
  const std::vector<double> rr = radii(R), rs = radii(S);
  Prdc p;
  for (size_t j = 0; j < M; ++j) {
    size_t in = 0;
    for (size_t i = 0; i < N; ++i) in += dist(S, j, R, i) <= rr[i];
    p.precision += in > 0;
    p.density += double(in);
  }
  for (size_t i = 0; i < N; ++i) {
    bool any = false;
    double best = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < M; ++j) {
      any = any || dist(R, i, S, j) <= rs[j];
      best = std::min(best, dist(R, i, S, j));
    }
    p.recall += any;
    p.coverage += best <= rr[i];
  }
  p.precision /= double(M);
  p.density /= double(k) * double(M);
  p.recall /= double(N);
  p.coverage /= double(N);
  return p;
}

TEST(Prdc, EqualsBruteForce) {
  Rng rng(9);
  for (const auto& [n, m, d] :
       {std::tuple<size_t, size_t, size_t>{60, 45, 3}, {150, 220, 8}, {300, 100, 21}}) {
    const MatrixRM R = random_matrix(n, d, 0, rng), S = random_matrix(m, d, 0.3, rng);
    for (int k : {1, 5}) {
      const Prdc got = prdc(R, S, k, 2), want = prdc_brute(R, S, k);
      EXPECT_DOUBLE_EQ(got.precision, want.precision) << "n=" << n << " m=" << m << " k=" << k;
      EXPECT_DOUBLE_EQ(got.recall, want.recall) << "n=" << n << " m=" << m << " k=" << k;
      EXPECT_DOUBLE_EQ(got.density, want.density) << "n=" << n << " m=" << m << " k=" << k;
      EXPECT_DOUBLE_EQ(got.coverage, want.coverage) << "n=" << n << " m=" << m << " k=" << k;
    }
  }
  // Identical samples: every row is in its own ball.
  const MatrixRM R = random_matrix(30, 2, 0, rng);
  const Prdc same = prdc(R, R, 5, 1);
  EXPECT_EQ(same.precision, 1.0);
  EXPECT_EQ(same.recall, 1.0);
  EXPECT_EQ(same.coverage, 1.0);
}

}  // namespace
}  // namespace rareforge::validation
