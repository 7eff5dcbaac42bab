// Context: what every fit / resample / sample / evaluate call runs with.
//
// Device is a string as the user typed it (`cpu`, `cuda`, `cuda:N`, `auto`); the parsed form is
// Device. Resolving `auto` needs to know whether a GPU is present, which is the generators'
// (LibTorch) business, so core only parses; generators/device.h resolves.
#pragma once

#include <cstdint>
#include <string>

#include "core/rng.h"

namespace rareforge {

struct Device {
  enum class Kind { kCpu, kCuda, kAuto };
  Kind kind = Kind::kCpu;
  int index = 0;  ///< GPU ordinal for kCuda

  /// Parse `cpu|cuda|cuda:N|auto`; throws InputError naming `--device` otherwise.
  static Device parse(const std::string& text);
  std::string str() const;
  bool is_cuda() const { return kind == Kind::kCuda; }
};

struct Context {
  Device device;       ///< where deep generators / GPU paths run
  int threads = 0;     ///< worker threads for CPU work; 0 = all hardware threads
  uint64_t seed = 0;   ///< root seed: every random stream derives from it
  bool quiet = false;  ///< no progress output

  /// Threads to use: `threads` or, when 0, std::thread::hardware_concurrency() (at least 1).
  int n_threads() const;

  /// An independent random stream for one purpose (see Rng::derive).
  Rng rng(uint64_t stream) const { return Rng::derive(seed, stream); }
};

/// Named random streams, so the stages of a pipeline never share draws.
namespace streams {
inline constexpr uint64_t kSplit = 1;
inline constexpr uint64_t kSampler = 2;
inline constexpr uint64_t kGenerator = 3;
inline constexpr uint64_t kClassifier = 4;
inline constexpr uint64_t kValidation = 5;
inline constexpr uint64_t kMakeData = 6;
}  // namespace streams

}  // namespace rareforge
