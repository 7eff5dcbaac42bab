// bench_csv_read FILE [--repeat R] [--threads T] [--target COL|-]
//
// Times rareforge::read_csv on FILE, R times (default 3), and prints one line per run and a
// final "best_seconds S" line that bench/csv_read.py parses. --target defaults to "-" (no
// target), so a table of floats only is timed as pandas.read_csv reads it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "core/error.h"
#include "core/io.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [--repeat R] [--threads T] [--target COL|-]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  int repeat = 3;
  rareforge::CsvOptions opt;
  opt.target = "-";
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--repeat") == 0) {
      repeat = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--threads") == 0) {
      opt.threads = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--target") == 0) {
      opt.target = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  try {
    double best = 1e300;
    for (int r = 0; r < repeat; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      const rareforge::Table t = rareforge::read_csv(path, opt);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = s < best ? s : best;
      std::printf("run %d: %.3f s (%zu rows x %zu columns)\n", r + 1, s, t.n_rows(), t.n_cols());
    }
    std::printf("best_seconds %.4f\n", best);
  } catch (const rareforge::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
