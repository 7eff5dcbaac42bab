// The small two-class mixed table and the quiet single-thread context the ctgan and tvae tests
// train on.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "core/table.h"

namespace rareforge::generators::fixtures {

// The seed of the learning and fidelity tests. RAREFORGE_TEST_SEED overrides it: that is how their
// bounds were set (runs with seeds 1..5, numbers in the comments).
inline uint64_t test_seed(uint64_t fixed) {
  const char* e = std::getenv("RAREFORGE_TEST_SEED");
  return e ? std::strtoull(e, nullptr, 10) : fixed;
}

inline Context ctx_with(uint64_t seed) {
  Context c;
  c.seed = seed;
  c.threads = 1;
  c.quiet = true;
  return c;
}

// Two classes (a: 70 %, b: 30 %):
//   x1: class a a 50/50 mixture of N(0, 1) and N(5, 0.5); class b N(2.5, 1)
//   x2: exp(N(0, 0.5)), doubled in class b; a share `x2_missing` missing (when > 0, one extra
//       uniform draw per row decides it)
//   c1: {u, v, w} with probabilities (.6, .3, .1) in class a and (.1, .3, .6) in class b
//   c2: {p, q} 50/50, independent of everything
inline Table mixed_table(size_t n, uint64_t seed, double x2_missing = 0.0) {
  Rng rng(seed);
  std::vector<double> x1(n), x2(n);
  std::vector<int32_t> c1(n), c2(n), y(n);
  for (size_t i = 0; i < n; ++i) {
    const bool b = rng.uniform() < 0.3;
    y[i] = b ? 1 : 0;
    if (b)
      x1[i] = rng.normal(2.5, 1.0);
    else
      x1[i] = rng.uniform() < 0.5 ? rng.normal(0.0, 1.0) : rng.normal(5.0, 0.5);
    x2[i] = x2_missing > 0 && rng.uniform() < x2_missing
                ? std::nan("")
                : std::exp(rng.normal(0.0, 0.5)) * (b ? 2.0 : 1.0);
    const double u = rng.uniform();
    c1[i] = b ? (u < 0.1 ? 0 : u < 0.4 ? 1 : 2) : (u < 0.6 ? 0 : u < 0.9 ? 1 : 2);
    c2[i] = rng.uniform() < 0.5 ? 0 : 1;
  }
  Table t;
  t.add_column(Column::numeric("x1", x1));
  t.add_column(Column::categorical("c1", {"u", "v", "w"}, c1));
  t.add_column(Column::numeric("x2", x2));
  t.add_column(Column::categorical("c2", {"p", "q"}, c2));
  t.add_column(Column::categorical("y", {"a", "b"}, y));
  t.set_target("y");
  return t;
}

}  // namespace rareforge::generators::fixtures
