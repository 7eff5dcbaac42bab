#include "core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace rareforge {

Progress::Progress(std::string label, uint64_t total, std::string unit, bool quiet)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      quiet_(quiet),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (!finished_) finish();
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::format_duration(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  if (s < 60) return fmt::format("{:.1f} s", s);
  const auto total = static_cast<int64_t>(s + 0.5);
  if (total < 3600) return fmt::format("{} min {:02d} s", total / 60, total % 60);
  return fmt::format("{} h {:02d} min", total / 3600, (total % 3600) / 60);
}

void Progress::advance(uint64_t n) {
  done_.fetch_add(n, std::memory_order_relaxed);
  maybe_draw(false);
}

void Progress::set(uint64_t done) {
  done_.store(done, std::memory_order_relaxed);
  maybe_draw(false);
}

void Progress::note(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  note_ = text;
}

void Progress::maybe_draw(bool force) {
  if (quiet_) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - start_)
                          .count();
  int64_t last = last_draw_ns_.load(std::memory_order_relaxed);
  // A terminal line is redrawn in place up to five times a second; a log (stderr not a terminal)
  // gets a new line every ten seconds, so long work in a batch job still shows its ETA.
  if (!force && now - last < (tty_ ? 200'000'000 : 10'000'000'000)) return;
  if (!force && !last_draw_ns_.compare_exchange_strong(last, now)) return;
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t done = done_.load(std::memory_order_relaxed);
  const double el = elapsed_seconds();
  std::string line;
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    line = fmt::format("{}  {}/{} {}  {:3.0f}%  {} elapsed", label_, done, total_, unit_,
                       100.0 * frac, format_duration(el));
    if (!force && done > 0 && done < total_)
      line += ", ETA " + format_duration(el * (1.0 - frac) / frac);
  } else {
    line = fmt::format("{}  {} {}  {} elapsed", label_, done, unit_, format_duration(el));
  }
  if (!note_.empty()) line += "  " + note_;
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), force ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  maybe_draw(true);
}

}  // namespace rareforge
