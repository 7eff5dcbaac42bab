#include "classical/sampler.h"

#include <cmath>

#include "core/error.h"

namespace rareforge::classical {

// Defined by the method families (oversamplers.cpp, cleaners.cpp); explicit registration.
void register_oversamplers(std::vector<SamplerInfo>& out);
void register_cleaners(std::vector<SamplerInfo>& out);

const char* to_string(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::kOver:
      return "over-sampler";
    case SamplerKind::kUnder:
      return "under-sampler";
    case SamplerKind::kClean:
      return "cleaner";
    case SamplerKind::kCombined:
      return "over-sampler + cleaner";
  }
  return "?";
}

const std::vector<SamplerInfo>& sampler_registry() {
  static const std::vector<SamplerInfo> registry = [] {
    std::vector<SamplerInfo> r;
    register_oversamplers(r);
    register_cleaners(r);
    return r;
  }();
  return registry;
}

const SamplerInfo* find_sampler(const std::string& name) {
  for (const auto& info : sampler_registry())
    if (info.name == name) return &info;
  return nullptr;
}

std::unique_ptr<Sampler> make_sampler(const std::string& spec_text) {
  const MethodSpec spec = parse_method_spec(spec_text);
  const SamplerInfo* info = find_sampler(spec.name);
  if (!info) {
    std::string names;
    for (const auto& i : sampler_registry()) names += (names.empty() ? "" : ", ") + i.name;
    RF_THROW_INPUT("--method: unknown method '{}'; valid methods: {}", spec.name, names);
  }
  const ParamValues values = check_params(spec, info->params);
  return info->create(values, values.canonical(info->name));
}

MatrixRM numeric_features(const Table& t, const std::vector<size_t>& cols,
                          const std::string& method) {
  const size_t n = t.n_rows();
  MatrixRM m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(cols.size()));
  for (size_t c = 0; c < cols.size(); ++c) {
    const Column& col = t.column(cols[c]);
    RF_CHECK(col.is_numeric(), "column '{}' is not numeric", col.name());
    for (size_t i = 0; i < n; ++i) {
      const double v = col.num[i];
      RF_CHECK_INPUT(std::isfinite(v),
                     "{}: column '{}' has a missing value (row {}); {} cannot take missing "
                     "values: impute first (e.g. rareforge's preprocessing impute=median) or "
                     "drop those rows",
                     method, col.name(), i + 1, method);
      m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c)) = v;
    }
  }
  return m;
}

ResampleResult assemble(const Table& input, std::vector<size_t> kept, Table synthetic) {
  ResampleResult res;
  Table base = input.select(kept);
  // Kept rows: provenance of the input row, with parent = the input index for original rows.
  base.ensure_provenance();
  for (size_t i = 0; i < kept.size(); ++i)
    if (!base.provenance().synthetic[i])
      base.provenance().parent[i] = static_cast<int64_t>(kept[i]);
  const size_t nc = input.n_classes();
  res.removed.assign(nc, 0);
  res.made.assign(nc, 0);
  {
    std::vector<int64_t> before = input.class_counts(), after(nc, 0);
    for (int32_t y : base.labels()) ++after[y];
    for (size_t c = 0; c < nc; ++c) res.removed[c] = std::max<int64_t>(0, before[c] - after[c]);
  }
  if (synthetic.n_rows() > 0) {
    synthetic.ensure_provenance();
    for (int32_t y : synthetic.labels()) ++res.made[y];
    res.table = Table::concat(base, synthetic);
  } else {
    res.table = std::move(base);
  }
  res.kept = std::move(kept);
  return res;
}

}  // namespace rareforge::classical
