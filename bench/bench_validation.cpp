// Validation-stage benchmark: MMD^2 and DCR at scale, and the full report on a table pair.
// Prints one line per measurement: "<what> <seconds>".
//
//   bench_validation mmd    [--rows N] [--dims D] [--threads T] [--tile S] [--device D]
//   bench_validation dcr    [--rows N] [--dims D] [--threads T] [--device D]
// --device cuda[:N] runs the kernel sums / scans through LibTorch (validation/torch_accel.h).
//   bench_validation report --real FILE --synthetic FILE [--target COL] [--threads T]
// Data for mmd / dcr: i.i.d. N(0, 1) real rows and N(0.1, 1.1) synthetic rows, N each, seed 1.
// bench/validation_vs_python.py runs this and the Python peers and prints the ratios.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "core/context.h"
#include "core/io.h"
#include "core/rng.h"
#include "validation/accel.h"
#include "validation/dcr.h"
#include "validation/mmd.h"
#include "validation/torch_accel.h"
#include "validation/validate.h"

using rareforge::bench::seconds_since;

namespace {

using rareforge::MatrixRM;
using rareforge::Rng;
namespace val = rareforge::validation;

MatrixRM gauss(size_t n, size_t d, double shift, double scale, Rng& rng) {
  MatrixRM m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = shift + scale * rng.normal();
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_validation mmd|dcr|report [options]\n");
    return 2;
  }
  const std::string mode = argv[1];
  val::set_accelerator(val::torch_accelerator());
  size_t rows = 100000, dims = 20, tile = 256;
  int threads = 2;
  std::string real, synthetic, target, device = "cpu";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--rows")
      rows = std::stoul(v);
    else if (k == "--dims")
      dims = std::stoul(v);
    else if (k == "--threads")
      threads = std::stoi(v);
    else if (k == "--tile")
      tile = std::stoul(v);
    else if (k == "--real")
      real = v;
    else if (k == "--synthetic")
      synthetic = v;
    else if (k == "--target")
      target = v;
    else if (k == "--device")
      device = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  Rng rng(1);
  if (mode == "mmd") {
    const MatrixRM X = gauss(rows, dims, 0, 1, rng), Y = gauss(rows, dims, 0.1, 1.1, rng);
    auto t0 = std::chrono::steady_clock::now();
    const double s = val::median_heuristic(X, Y, 2000, rng);
    double sums[6];
    val::mmd_sums_on(device, X, Y, s, tile, threads, sums);
    const double t = seconds_since(t0);
    std::printf(
        "mmd rows=%zu dims=%zu threads=%d device=%s bandwidth=%.6g mmd2=%.10g mmd2_multi=%.10g "
        "seconds %.3f\n",
        rows, dims, threads, device.c_str(), s, val::mmd2_from_sums(sums, rows, rows, 0),
        val::mmd2_from_sums(sums, rows, rows, 3), t);
  } else if (mode == "dcr") {
    // Range-normalised columns as dcr_encode makes them (range ~ 10 for N(0, 1) data).
    MatrixRM X = gauss(rows, dims, 0, 0.1, rng), Y = gauss(rows, dims, 0.01, 0.11, rng);
    auto t0 = std::chrono::steady_clock::now();
    const val::DcrNearest r = val::dcr_nearest_on(device, X, Y, threads);
    const double t = seconds_since(t0);
    double mean = 0;
    for (double v : r.distance) mean += v;
    std::printf("dcr rows=%zu dims=%zu threads=%d device=%s mean_dcr=%.10g seconds %.3f\n", rows,
                dims, threads, device.c_str(), mean / double(rows), t);
  } else if (mode == "report") {
    rareforge::CsvOptions csv;
    csv.target = target;
    const rareforge::Table r = rareforge::read_table(real, csv);
    const rareforge::Table s = rareforge::read_table(synthetic, csv);
    rareforge::Context ctx;
    ctx.threads = threads;
    ctx.quiet = true;
    auto t0 = std::chrono::steady_clock::now();
    const nlohmann::json rep = val::validate(r, s, nullptr, val::ValidateOptions{}, ctx);
    const double t = seconds_since(t0);
    std::printf("report real=%zu synthetic=%zu threads=%d checks=%zu seconds %.3f\n", r.n_rows(),
                size_t(rep["inputs"]["rows_synthetic"]), threads, rep["checks"].size(), t);
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  return 0;
}
