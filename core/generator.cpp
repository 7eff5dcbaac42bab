#include "core/generator.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <mutex>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/version.h"

namespace rareforge {

namespace {

std::vector<GeneratorInfo>& registry() {
  static std::vector<GeneratorInfo> r;
  return r;
}

std::string registered_names() {
  std::string names;
  for (const auto& i : registry()) names += (names.empty() ? "" : ", ") + i.name;
  return names;
}

}  // namespace

void register_generator(GeneratorInfo info) {
  auto& r = registry();
  for (auto& existing : r)
    if (existing.name == info.name) {
      existing = std::move(info);
      return;
    }
  r.push_back(std::move(info));
}

std::vector<GeneratorInfo> generator_registry() { return registry(); }

const GeneratorInfo* find_generator(const std::string& name) {
  for (const auto& info : registry())
    if (info.name == name) return &info;
  return nullptr;
}

std::unique_ptr<Generator> make_generator(const std::string& spec_text, const std::string& what) {
  const MethodSpec spec = parse_method_spec(spec_text, what);
  const GeneratorInfo* info = find_generator(spec.name);
  if (!info) {
    if (registry().empty())
      RF_THROW_INPUT("{}: unknown generator '{}'; no deep generators are available in this build",
                     what, spec.name);
    RF_THROW_INPUT("{}: unknown generator '{}'; valid generators: {}", what, spec.name,
                   registered_names());
  }
  const ParamValues values = check_params(spec, info->params);
  return info->create(values, values.canonical(info->name));
}

// --- schema JSON -------------------------------------------------------------------------------

nlohmann::json schema_to_json(const Schema& s) {
  nlohmann::json cols = nlohmann::json::array();
  for (const auto& c : s.columns) {
    nlohmann::json j = {{"name", c.name}, {"kind", to_string(c.kind)}};
    if (c.kind == ColumnKind::kCategorical) j["categories"] = c.categories;
    cols.push_back(std::move(j));
  }
  return {{"columns", std::move(cols)}, {"target", s.target}};
}

Schema schema_from_json(const nlohmann::json& j, const std::string& what) {
  Schema s;
  try {
    for (const auto& c : j.at("columns")) {
      ColumnSpec spec;
      spec.name = c.at("name").get<std::string>();
      const std::string kind = c.at("kind").get<std::string>();
      if (kind == to_string(ColumnKind::kNumeric)) {
        spec.kind = ColumnKind::kNumeric;
      } else if (kind == to_string(ColumnKind::kCategorical)) {
        spec.kind = ColumnKind::kCategorical;
        spec.categories = c.at("categories").get<std::vector<std::string>>();
      } else {
        RF_THROW_INPUT("{}: column '{}' has unknown kind '{}'", what, spec.name, kind);
      }
      s.columns.push_back(std::move(spec));
    }
    s.target = j.at("target").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("{}: malformed schema ({})", what, e.what());
  }
  if (!s.target.empty())
    RF_CHECK_INPUT(s.index_of(s.target) >= 0, "{}: target '{}' is not a column", what, s.target);
  return s;
}

// --- checkpoint header -------------------------------------------------------------------------

std::string checkpoint_header_line(const CheckpointHeader& h) {
  const nlohmann::json j = {{"format", h.format},
                            {"version", h.version},
                            {"method", h.method},
                            {"spec", h.spec},
                            {"rareforge_version", h.rareforge_version},
                            {"device", h.device},
                            {"schema", schema_to_json(h.schema)},
                            {"class_counts", h.class_counts}};
  return j.dump();  // no indentation: one line (dump escapes control characters in strings)
}

CheckpointHeader read_checkpoint_header(const std::string& path, size_t* payload_offset) {
  std::ifstream f(path, std::ios::binary);
  RF_CHECK_INPUT(f.good(), "cannot open model file '{}': does it exist?", path);
  std::string line;
  // The header is short; refuse to read a huge first "line" of some other binary file.
  constexpr size_t kMaxHeader = size_t(64) << 20;
  char ch;
  while (f.get(ch) && ch != '\n') {
    line.push_back(ch);
    RF_CHECK_INPUT(line.size() < kMaxHeader, "'{}' is not a rareforge model file", path);
  }
  RF_CHECK_INPUT(!line.empty() && line[0] == '{' && ch == '\n',
                 "'{}' is not a rareforge model file (written by `rareforge fit --model`)", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    RF_THROW_INPUT("'{}' is not a rareforge model file (its header is not JSON)", path);
  }
  CheckpointHeader h;
  const std::string what = "model file '" + path + "'";
  try {
    RF_CHECK_INPUT(j.value("format", "") == h.format, "'{}' is not a rareforge model file", path);
    h.version = j.at("version").get<int>();
    RF_CHECK_INPUT(h.version >= 1 && h.version <= CheckpointHeader{}.version,
                   "{} has format version {}; this rareforge ({}) reads version {}: upgrade it",
                   what, h.version, RAREFORGE_VERSION, CheckpointHeader{}.version);
    h.method = j.at("method").get<std::string>();
    h.spec = j.at("spec").get<std::string>();
    h.rareforge_version = j.at("rareforge_version").get<std::string>();
    h.device = j.value("device", "");
    h.class_counts = j.at("class_counts").get<std::vector<int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("{}: malformed header ({})", what, e.what());
  }
  h.schema = schema_from_json(j.at("schema"), what);
  if (payload_offset) *payload_offset = line.size() + 1;
  return h;
}

std::unique_ptr<Generator> load_generator(const std::string& path, const Context& ctx) {
  const CheckpointHeader h = read_checkpoint_header(path);
  RF_CHECK_INPUT(find_generator(h.method) != nullptr,
                 "model file '{}' holds a '{}' model, which this build cannot load{}", path,
                 h.method,
                 registry().empty() ? " (no deep generators available)"
                                    : "; available: " + registered_names());
  auto gen = make_generator(h.spec, "model file '" + path + "'");
  gen->load(path, ctx);
  return gen;
}

// --- resample through a generator --------------------------------------------------------------

Table resample_with_generator(Generator& gen, const Table& input, const std::string& strategy,
                              std::optional<double> max_ratio, const Context& ctx,
                              std::vector<int64_t>* made) {
  RF_CHECK_INPUT(input.has_target(), "{}: the table has no target column", gen.spec());
  const SamplingPlan plan = plan_sampling(strategy, input, SamplingKind::kOver, max_ratio);
  if (!gen.fitted()) gen.fit(input, ctx);
  Table out = input;
  out.ensure_provenance();
  for (size_t i = 0; i < input.n_rows(); ++i) out.provenance().parent[i] = static_cast<int64_t>(i);
  for (size_t c = 0; c < plan.n_classes(); ++c) {
    if (plan.n_add[c] <= 0) continue;
    // Each class draws from its own stream, so adding rows to one class does not change another.
    Context cctx = ctx;
    cctx.seed = Rng::derive(ctx.seed, streams::kGenerator * 1000003 + c).next();
    Table rows = gen.sample(plan.n_add[c], plan.class_names[c], {}, cctx);
    RF_CHECK(rows.n_rows() == static_cast<size_t>(plan.n_add[c]),
             "{} returned {} rows for class '{}' where {} were asked", gen.spec(), rows.n_rows(),
             plan.class_names[c], plan.n_add[c]);
    out = Table::concat(out, rows);
  }
  if (made) *made = plan.n_add;
  return out;
}

}  // namespace rareforge
