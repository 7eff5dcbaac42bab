// Micro-benchmark of the exact k-NN engine (classical/knn.h) on the shapes the classical
// samplers need. Prints one line per (scenario, algorithm): wall time in seconds.
//
//   bench_knn [--rows N] [--dims D] [--data gauss|mc|low3|tails|cubes] [--threads T] [--algo
//   auto|kdtree|brute|both|all]
//             [--scenario smote|borderline|enn|all] [--minority F] [--enn-rows M]
//             [--join auto|always|never] [--simd generic|avx2|avx512|avx512-vnni]
//
// Scenarios (minority = the first F * N rows, as a sampler would pass them):
//   smote       self k=6 among the minority rows only
//   borderline  k=11 neighbours of every minority row among all N rows (query_rows)
//   enn         self k=4 over the first M rows (default all N): every row's neighbours
// Data: gauss = i.i.d. N(0,1); mc = make_classification-like (2 informative dimensions with
// class clusters at hypercube vertices, 2 redundant linear combinations, the rest N(0,1) noise);
// low3 = 3 latent N(0,1) dimensions embedded linearly in D, plus 1% noise (low intrinsic
// dimension, where the kd-tree wins in any D); tails = gauss with the first quarter of the
// columns exp(N(0,1)) (log-normal: skewed, outlying values, as amounts and counts are); cubes =
// gauss with the first quarter of the columns cubed (heavy tails on both sides).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "classical/knn.h"
#include "classical/knn_internal.h"
#include "core/rng.h"

using rareforge::bench::cpu_seconds;
using rareforge::bench::seconds_since;

namespace {

using rareforge::MatrixRM;
using rareforge::Rng;
namespace knn = rareforge::knn;

MatrixRM make_data(const std::string& kind, size_t n, size_t d, size_t n_min, Rng& rng) {
  MatrixRM x(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) x(Eigen::Index(i), Eigen::Index(j)) = rng.normal();
  }
  if (kind == "low3") {  // 3 latent dimensions, linearly embedded, plus 1% noise
    std::vector<double> w(3 * d);
    for (double& v : w) v = rng.normal();
    for (size_t i = 0; i < n; ++i) {
      const double z[3] = {rng.normal(), rng.normal(), rng.normal()};
      for (size_t j = 0; j < d; ++j) {
        x(Eigen::Index(i), Eigen::Index(j)) = w[3 * j] * z[0] + w[3 * j + 1] * z[1] +
                                              w[3 * j + 2] * z[2] +
                                              0.01 * x(Eigen::Index(i), Eigen::Index(j));
      }
    }
  }
  if (kind == "tails") {
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < (d + 3) / 4; ++j)
        x(Eigen::Index(i), Eigen::Index(j)) = std::exp(x(Eigen::Index(i), Eigen::Index(j)));
  }
  if (kind == "cubes") {
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < (d + 3) / 4; ++j) {
        const double v = x(Eigen::Index(i), Eigen::Index(j));
        x(Eigen::Index(i), Eigen::Index(j)) = v * v * v;
      }
  }
  if (kind == "mc" && d >= 4) {
    // Two clusters per class at vertices of the informative square, class_sep = 1.
    double w[2][2] = {{rng.normal(), rng.normal()}, {rng.normal(), rng.normal()}};
    for (size_t i = 0; i < n; ++i) {
      const int cls = i < n_min ? 1 : 0;
      const int cluster = static_cast<int>(rng.uniform_int(2));
      const double c0 = (cls ^ cluster) ? 1.0 : -1.0;
      const double c1 = cluster ? 1.0 : -1.0;
      double& a = x(Eigen::Index(i), 0);
      double& b = x(Eigen::Index(i), 1);
      a += c0;
      b += c1;
      x(Eigen::Index(i), 2) = w[0][0] * a + w[0][1] * b;
      x(Eigen::Index(i), 3) = w[1][0] * a + w[1][1] * b;
    }
  }
  return x;
}

/// Wall and process CPU time since (t0, c0), and what the brute-force screen did.
std::string timing(std::chrono::steady_clock::time_point t0, double c0, knn::Algo asked,
                   knn::Algo algo) {
  char buf[256];
  const std::string name = asked == knn::Algo::kAuto ? std::string("auto->") + knn::to_string(algo)
                                                     : std::string(knn::to_string(algo));
  std::snprintf(buf, sizeof buf, "%-12s wall %8.3f s  cpu %8.3f s", name.c_str(), seconds_since(t0),
                cpu_seconds() - c0);
  std::string s = buf;
  if (algo == knn::Algo::kBrute) {
    const auto st = knn::detail::last_brute_stats();
    std::snprintf(buf, sizeof buf, "  [screen %s%s%s, re-ranked %.4f%% of pairs]",
                  st.int8 ? "int8" : "float", st.int8_abandoned ? "->float" : "",
                  st.self_join ? " self-join" : "",
                  100.0 * static_cast<double>(st.checks) / static_cast<double>(st.pairs));
    s += buf;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 1000000, d = 20, enn_rows = 0;
  double minority = 0.01;
  int threads = 0;
  std::string data = "gauss", algo = "both", scenario = "all";
  for (int a = 1; a + 1 < argc; a += 2) {
    const std::string k = argv[a], v = argv[a + 1];
    if (k == "--rows")
      n = std::stoul(v);
    else if (k == "--dims")
      d = std::stoul(v);
    else if (k == "--data")
      data = v;
    else if (k == "--threads")
      threads = std::stoi(v);
    else if (k == "--algo")
      algo = v;
    else if (k == "--scenario")
      scenario = v;
    else if (k == "--minority")
      minority = std::stod(v);
    else if (k == "--enn-rows")
      enn_rows = std::stoul(v);
    else if (k == "--simd")
      knn::detail::override_simd(v == "generic"  ? knn::detail::Simd::kGeneric
                                 : v == "avx2"   ? knn::detail::Simd::kAvx2
                                 : v == "avx512" ? knn::detail::Simd::kAvx512
                                                 : knn::detail::Simd::kAvx512Vnni);
    else if (k == "--join")
      knn::detail::set_join_policy(v == "never"    ? knn::detail::JoinPolicy::kNever
                                   : v == "always" ? knn::detail::JoinPolicy::kAlways
                                                   : knn::detail::JoinPolicy::kAuto);
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (enn_rows == 0 || enn_rows > n) enn_rows = n;
  const size_t n_min = static_cast<size_t>(minority * static_cast<double>(n));
  Rng rng(42);
  auto t0 = std::chrono::steady_clock::now();
  const MatrixRM x = make_data(data, n, d, n_min, rng);
  std::printf("data %s %zu x %zu (minority %zu), made in %.2f s; simd %s\n", data.c_str(), n, d,
              n_min, seconds_since(t0), knn::detail::to_string(knn::detail::active_simd()));

  std::vector<knn::Algo> algos;
  if (algo == "all" || algo == "auto") algos.push_back(knn::Algo::kAuto);
  if (algo == "both" || algo == "all" || algo == "kdtree") algos.push_back(knn::Algo::kKdTree);
  if (algo == "both" || algo == "all" || algo == "brute") algos.push_back(knn::Algo::kBrute);

  const MatrixRM minority_rows = x.topRows(static_cast<Eigen::Index>(n_min));
  std::vector<int64_t> rows(n_min);
  for (size_t i = 0; i < n_min; ++i) rows[i] = static_cast<int64_t>(i);
  const knn::View enn_view(x.data(), enn_rows, d);

  for (knn::Algo al : algos) {
    knn::Options o;
    o.algo = al;
    o.threads = threads;
    int64_t check = 0;  // keeps the results alive
    if (scenario == "all" || scenario == "smote") {
      t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      const knn::Result r = knn::self_query(minority_rows, 6, o);
      check += r.indices.back();
      std::printf("smote       self k=6  %8zu rows             %s\n", n_min,
                  timing(t0, c0, al, r.algo).c_str());
    }
    if (scenario == "all" || scenario == "borderline") {
      t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      const knn::Result r = knn::query_rows(x, rows, 11, o);
      check += r.indices.back();
      std::printf("borderline  k=11      %8zu of %8zu rows %s\n", n_min, n,
                  timing(t0, c0, al, r.algo).c_str());
    }
    if (scenario == "all" || scenario == "enn") {
      t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      const knn::Result r = knn::self_query(enn_view, 4, o);
      check += r.indices.back();
      std::printf("enn         self k=4  %8zu rows             %s\n", enn_rows,
                  timing(t0, c0, al, r.algo).c_str());
    }
    if (check == -42) std::printf("!\n");
    std::fflush(stdout);
  }
  return 0;
}
