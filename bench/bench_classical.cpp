// bench_classical DATA.csv --method SPEC [--method SPEC ...] [--strategy S] [--threads T]
//                 [--seed N] [--repeat R] [--target COL]
//
// In-memory timing of classical samplers: reads DATA once, then times each method's
// Sampler::resample() call alone (best of R runs, default 1; the very last run uses
// resample_owned(), handing the input over as the CLI does) and prints one JSON object per
// method on stdout:
//   {"method": SPEC, "seconds": S, "cpu_seconds": C, "rows_in": N, "rows_out": M, "made": A,
//    "removed": B, "read_seconds": S0, "peak_mib": P}
// seconds is wall clock; cpu_seconds the process's user + system CPU time of that call (all
// threads), which shared machines disturb less.
// peak_mib is the process's peak resident set (VmHWM) after that method, which
// includes the table read from DATA and every earlier method of the same run: run one method per
// process for a per-method peak (bench/classical_vs_imblearn.py does).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "classical/sampler.h"
#include "core/error.h"
#include "core/io.h"

using rareforge::bench::cpu_seconds;
using rareforge::bench::peak_mib;
using rareforge::bench::seconds_since;

namespace {}  // namespace

int main(int argc, char** argv) {
  using namespace rareforge;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s DATA.csv --method SPEC [--method SPEC ...] [--strategy S] "
                 "[--threads T] [--seed N] [--repeat R] [--target COL]\n",
                 argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  std::vector<std::string> methods;
  classical::SamplingRequest req;
  Context ctx;
  ctx.quiet = true;
  int repeat = 1;
  CsvOptions csv;
  csv.headroom = 1.0;  // as `rareforge resample` reads its input
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "option '%s' needs a value\n", argv[i]);
      return 2;
    }
    const std::string key = argv[i], val = argv[i + 1];
    if (key == "--method") {
      methods.push_back(val);
    } else if (key == "--strategy") {
      req.strategy = val;
    } else if (key == "--threads") {
      ctx.threads = std::atoi(val.c_str());
    } else if (key == "--seed") {
      ctx.seed = std::strtoull(val.c_str(), nullptr, 10);
    } else if (key == "--repeat") {
      repeat = std::atoi(val.c_str());
    } else if (key == "--target") {
      csv.target = val;
    } else {
      std::fprintf(stderr, "unknown option '%s'\n", key.c_str());
      return 2;
    }
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    Table input = read_csv(path, csv);
    const size_t rows_in = input.n_rows();
    const double read_s = seconds_since(t0);
    for (const auto& spec : methods) {
      const auto sampler = classical::make_sampler(spec);
      double best = 1e300, best_cpu = 1e300;
      classical::ResampleResult res;
      for (int r = 0; r < std::max(1, repeat); ++r) {
        res = classical::ResampleResult{};  // free the previous result before timing again
        const auto t1 = std::chrono::steady_clock::now();
        const double c1 = cpu_seconds();
        // The last run of the last method hands the input over (resample_owned), as the CLI
        // does, so the peak is what `rareforge resample` needs; earlier runs copy.
        const bool last = &spec == &methods.back() && r + 1 == std::max(1, repeat);
        res = last ? sampler->resample_owned(std::move(input), req, ctx)
                   : sampler->resample(input, req, ctx);
        best = std::min(best, seconds_since(t1));
        best_cpu = std::min(best_cpu, cpu_seconds() - c1);
      }
      int64_t made = 0, removed = 0;
      for (auto v : res.made) made += v;
      for (auto v : res.removed) removed += v;
      std::printf(
          "{\"method\": \"%s\", \"seconds\": %.4f, \"cpu_seconds\": %.3f, \"rows_in\": %zu, "
          "\"rows_out\": %zu, "
          "\"made\": %lld, \"removed\": %lld, \"read_seconds\": %.3f, \"peak_mib\": %.1f}\n",
          spec.c_str(), best, best_cpu, rows_in, res.table.n_rows(), static_cast<long long>(made),
          static_cast<long long>(removed), read_s, peak_mib());
      std::fflush(stdout);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
