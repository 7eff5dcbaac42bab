// Progress reporting on stderr with an ETA.
//
// On a terminal: a line redrawn in place at most every 0.2 s ("resample smote  4512/10000  45%
// 1.2 s elapsed, ETA 1.5 s"). Not on a terminal (logs, CI): only the final line. With quiet:
// nothing. Thread-safe: update() may be called from worker threads (it only touches atomics on the
// fast path).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace rareforge {

class Progress {
 public:
  /// `label` names the work, `total` its units (0 = unknown), `unit` e.g. "rows", "epochs".
  Progress(std::string label, uint64_t total, std::string unit, bool quiet);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Add `n` finished units.
  void advance(uint64_t n = 1);
  /// Set the finished units (monotone).
  void set(uint64_t done);
  /// Extra text shown after the counts (e.g. "loss 0.412").
  void note(const std::string& text);
  /// Print the final line (also done by the destructor if not called).
  void finish();

  double elapsed_seconds() const;
  /// "1.2 s", "3 min 04 s", "1 h 02 min".
  static std::string format_duration(double seconds);

 private:
  void maybe_draw(bool force);

  std::string label_;
  uint64_t total_;
  std::string unit_;
  bool quiet_;
  bool tty_;
  bool finished_ = false;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::atomic<int64_t> last_draw_ns_{0};
  std::mutex mu_;
  std::string note_;
};

}  // namespace rareforge
