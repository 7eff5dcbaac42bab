// One seeded random source for everything that is random in rareforge.
//
// Why our own distributions: the standard library's std::uniform_int_distribution,
// std::normal_distribution etc. are implementation-defined, so libstdc++ and libc++ give
// different streams for the same seed. rareforge promises "same seed, same input => same output
// bytes", so every draw goes through the functions below, which are defined bit for bit here.
//
// Streams: Rng::derive(seed, stream) gives an independent generator for a named purpose
// (split, sampler, classifier, fold ...), so adding a draw in one stage never shifts another.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace rareforge {

/// SplitMix64 step: used to expand a seed into generator state and to derive stream seeds.
inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : engine_(seed) {}

  /// An independent generator for `stream` under `seed` (deterministic).
  static Rng derive(uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (0xD6E8FEB86659FD93ULL * (stream + 1));
    splitmix64(x);
    return Rng(splitmix64(x));
  }

  /// Raw 64 random bits.
  uint64_t next() { return engine_(); }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Uniform double in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method).
  uint64_t uniform_int(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  /// Standard normal draw (Marsaglia polar method; the spare value is cached).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = uniform() * 2.0 - 1.0;
      v = uniform() * 2.0 - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }

  double normal(double mean, double sd) { return mean + sd * normal(); }

  /// Fisher–Yates shuffle.
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(uniform_int(i));
      std::swap(v[i - 1], v[j]);
    }
  }

  /// Indices 0..n-1 in random order.
  std::vector<size_t> permutation(size_t n) {
    std::vector<size_t> p(n);
    for (size_t i = 0; i < n; ++i) p[i] = i;
    shuffle(p);
    return p;
  }

 private:
  std::mt19937_64 engine_;  // the engine itself is fully specified by the standard
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace rareforge
