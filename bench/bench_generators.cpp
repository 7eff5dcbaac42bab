// Deep generators: seconds per epoch and sampling rows/s (issue "Deep generators I",
// Performance). One Markdown table row per method:
//
//   bench_generators --data data/lending_club.csv [--bootstrap 100000] [--epochs 5]
//                    [--method ctgan] [--method tvae ...] [--threads 2] [--device cpu]
//                    [--sample 10000] [--seed 0]
//
// | method | data | rows | epochs | fit s | transformer s | s/epoch | CPU s/epoch | sample rows/s |
//
// s/epoch = (fit seconds - transformer fit+encode seconds) / epochs (wall clock); CPU s/epoch the
// same with the process's user + system CPU time (all threads), the figure to quote on a shared,
// busy machine. The transformer is timed
// separately on the same table with the method's default options (mode-specific
// normalisation), so the figure is the training loop itself. `--bootstrap N` draws N rows with
// replacement (seeded) first, for the 100,000-row figure. Methods are registry specs
// (generators::register_all), e.g. "ctgan:batch=500"; --epochs is appended to each.
//
// ddpm trains by optimiser steps, not epochs: `--steps N` (default 200) is appended to a ddpm
// spec as train_steps=N and ddpm gets its own table (transformer: the quantile transform):
//
// | method | data | rows | steps | batch | fit s | transformer s | steps/s | sample_steps | sample
// rows/s |
//
//   bench_generators --data data/lending_club.csv --method ddpm --steps 200 --sample 10000
//
// `--sample-steps 10,25,100,1000` (ddpm) then reloads the trained model with each sample_steps
// and samples --sample rows of the last class: rows/s and the per-numeric-column KS statistic
// against that class's real rows (mean and max), the quality/speed trade-off of the strided
// sampler:
//
// | sample_steps | rows/s | mean KS | max KS |
//
// `--count-ops 1` also counts the LibTorch operators dispatched during each fit (every call
// through the dispatcher, nested ones and the backward's included) and prints them per epoch or
// step on stderr: the host-side cost that bounds a small network's speed on a GPU, measurable on
// any CPU.
#include <algorithm>
#include <atomic>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/context.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/io.h"
#include "core/rng.h"
#include "generators/register.h"
#include "generators/transformer.h"

#include <ATen/record_function.h>

using rareforge::bench::cpu_seconds;
using rareforge::bench::seconds_since;

using namespace rareforge;

namespace {

std::atomic<int64_t> g_ops{0};

std::unique_ptr<at::ObserverContext> count_op(const at::RecordFunction&) {
  g_ops.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

// Two-sample Kolmogorov-Smirnov statistic over the present (non-NaN) values.
double ks_statistic(std::vector<double> a, std::vector<double> b) {
  a.erase(std::remove_if(a.begin(), a.end(), [](double v) { return std::isnan(v); }), a.end());
  b.erase(std::remove_if(b.begin(), b.end(), [](double v) { return std::isnan(v); }), b.end());
  if (a.empty() || b.empty()) return 0.0;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    const double v = std::min(a[i], b[j]);
    while (i < a.size() && a[i] == v) ++i;
    while (j < b.size() && b[j] == v) ++j;
    d = std::max(d, std::abs(static_cast<double>(i) / static_cast<double>(a.size()) -
                             static_cast<double>(j) / static_cast<double>(b.size())));
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "data/lending_club.csv", device = "cpu";
  std::vector<std::string> methods;
  int64_t epochs = 5, bootstrap = 0, n_sample = 10000, steps = 200;
  std::vector<int64_t> sweep;
  int threads = 2;
  bool count_ops = false;
  uint64_t seed = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--data")
      data = v;
    else if (a == "--method")
      methods.push_back(v);
    else if (a == "--epochs")
      epochs = std::stoll(v);
    else if (a == "--steps")
      steps = std::stoll(v);
    else if (a == "--sample-steps") {
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) sweep.push_back(std::stoll(item));
    } else if (a == "--bootstrap")
      bootstrap = std::stoll(v);
    else if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--device")
      device = v;
    else if (a == "--sample")
      n_sample = std::stoll(v);
    else if (a == "--seed")
      seed = std::stoull(v);
    else if (a == "--count-ops")
      count_ops = v != "0";
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (methods.empty()) methods.push_back("ctgan");
  try {
    generators::register_all();
    if (count_ops)
      at::addGlobalCallback(
          at::RecordFunctionCallback(count_op).scopes({at::RecordScope::FUNCTION}));
    Table t = read_table(data);
    std::string label = data.substr(data.find_last_of('/') + 1);
    if (bootstrap > 0) {
      Rng rng(seed ^ 0xB007);
      std::vector<size_t> rows(static_cast<size_t>(bootstrap));
      for (auto& r : rows) r = static_cast<size_t>(rng.uniform_int(t.n_rows()));
      t = t.select(rows);
      label += " (bootstrap)";
    }
    Context ctx;
    ctx.seed = seed;
    ctx.threads = threads;
    // Training progress (epochs or steps, losses, ETA) goes to stderr: on a terminal redrawn in
    // place, in a log a line every ten seconds, so a run cut off by a time limit still shows its
    // rate. The Markdown table goes to stdout.
    ctx.quiet = false;
    ctx.device = Device::parse(device);

    // Transformer cost, timed on its own (fit + one encode, as fit() does).
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    generators::DataTransformer tr;
    tr.fit(t, generators::TransformerOptions{}, ctx);
    Rng enc_rng(1);
    const MatrixRM enc = tr.transform(t, enc_rng);
    const double tr_s = seconds_since(t0), tr_cpu = cpu_seconds() - c0;

    bool epoch_methods = false;
    for (const std::string& m : methods) epoch_methods |= m.substr(0, m.find(':')) != "ddpm";
    if (epoch_methods) {
      std::printf(
          "| method | data | rows | epochs | fit s | transformer s | s/epoch | CPU s/epoch | "
          "sample rows/s |\n");
      std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    }
    bool ddpm_header = false;
    for (const std::string& m : methods) {
      if (m.substr(0, m.find(':')) == "ddpm") {
        // Steps, not epochs; the quantile transform is timed instead of mode-specific.
        const std::string spec = m + (m.find(':') == std::string::npos ? ":" : ",") +
                                 "train_steps=" + std::to_string(steps);
        auto gen = make_generator(spec);
        const ParamValues pv =
            check_params(parse_method_spec(gen->spec()), find_generator("ddpm")->params);
        const auto q0 = std::chrono::steady_clock::now();
        generators::TransformerOptions qopt;
        qopt.numeric = generators::TransformerOptions::Numeric::kQuantile;
        generators::DataTransformer qtr;
        qtr.fit(t, qopt, ctx);
        Rng q_rng(1);
        const MatrixRM qenc = qtr.transform(t, q_rng);
        const double q_s = seconds_since(q0);
        const auto f0 = std::chrono::steady_clock::now();
        const int64_t ops0 = g_ops.load();
        gen->fit(t, ctx);
        const double fit_s = seconds_since(f0);
        if (count_ops)
          std::fprintf(stderr, "ddpm: %.0f LibTorch ops per training step\n",
                       static_cast<double>(g_ops.load() - ops0) / static_cast<double>(steps));
        const auto s0 = std::chrono::steady_clock::now();
        const Table s = gen->sample(n_sample, t.class_names().back(), {}, ctx);
        const double sample_s = seconds_since(s0);
        if (!ddpm_header)
          std::printf(
              "\n| method | data | rows | steps | batch | fit s | transformer s | steps/s | "
              "sample_steps | sample rows/s "
              "|\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        ddpm_header = true;
        std::printf("| ddpm | %s | %zu | %lld | %lld | %.2f | %.2f | %.2f | %lld | %.0f |\n",
                    label.c_str(), t.n_rows(), static_cast<long long>(steps),
                    static_cast<long long>(
                        std::min<int64_t>(pv.get_int("batch"), static_cast<int64_t>(t.n_rows()))),
                    fit_s, q_s, static_cast<double>(steps) / (fit_s - q_s),
                    static_cast<long long>(pv.get_int("sample_steps")),
                    static_cast<double>(s.n_rows()) / sample_s);
        std::fflush(stdout);
        if (!sweep.empty()) {
          const std::string path = "bench_ddpm_sweep.rfm";
          gen->save(path);
          const std::string cls = t.class_names().back();
          std::vector<size_t> real_rows;
          const int32_t code = static_cast<int32_t>(t.n_classes() - 1);
          for (size_t i = 0; i < t.n_rows(); ++i)
            if (t.labels()[i] == code) real_rows.push_back(i);
          const Table real = t.select(real_rows);
          std::printf("\n| sample_steps | rows/s | mean KS | max KS |\n|---:|---:|---:|---:|\n");
          for (int64_t ss : sweep) {
            auto g2 = make_generator(spec + ",sample_steps=" + std::to_string(ss));
            g2->load(path, ctx);
            const auto w0 = std::chrono::steady_clock::now();
            const Table syn = g2->sample(n_sample, cls, {}, ctx);
            const double w_s = seconds_since(w0);
            double sum = 0, mx = 0;
            int cols = 0;
            for (size_t j = 0; j < t.n_cols(); ++j) {
              if (!t.column(j).is_numeric()) continue;
              const double d = ks_statistic(real.column(j).num, syn.column(j).num);
              std::fprintf(stderr, "sample_steps %lld  KS %-28s %.3f\n", static_cast<long long>(ss),
                           t.column(j).name().c_str(), d);
              sum += d;
              mx = std::max(mx, d);
              ++cols;
            }
            std::printf("| %lld | %.0f | %.3f | %.3f |\n", static_cast<long long>(ss),
                        static_cast<double>(n_sample) / w_s, cols ? sum / cols : 0.0, mx);
            std::fflush(stdout);
          }
          std::remove(path.c_str());
        }
        continue;
      }
      RF_CHECK_INPUT(m.find("epochs=") == std::string::npos,
                     "--method {}: give the epochs with --epochs, not in the spec", m);
      const std::string spec =
          m + (m.find(':') == std::string::npos ? ":" : ",") + "epochs=" + std::to_string(epochs);
      auto gen = make_generator(spec);
      const auto f0 = std::chrono::steady_clock::now();
      const double fc0 = cpu_seconds();
      const int64_t ops0 = g_ops.load();
      gen->fit(t, ctx);
      if (count_ops)
        std::fprintf(stderr, "%s: %.0f LibTorch ops per epoch\n", m.c_str(),
                     static_cast<double>(g_ops.load() - ops0) / static_cast<double>(epochs));
      const double fit_s = seconds_since(f0), fit_cpu = cpu_seconds() - fc0;
      const std::string cls = t.class_names().back();
      const auto s0 = std::chrono::steady_clock::now();
      const Table s = gen->sample(n_sample, cls, {}, ctx);
      const double sample_s = seconds_since(s0);
      const std::string name = m.substr(0, m.find(':'));
      std::printf("| %s | %s | %zu | %lld | %.2f | %.2f | %.3f | %.3f | %.0f |\n", name.c_str(),
                  label.c_str(), t.n_rows(), static_cast<long long>(epochs), fit_s, tr_s,
                  (fit_s - tr_s) / static_cast<double>(epochs),
                  (fit_cpu - tr_cpu) / static_cast<double>(epochs),
                  static_cast<double>(s.n_rows()) / sample_s);
      std::fflush(stdout);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_generators: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}
